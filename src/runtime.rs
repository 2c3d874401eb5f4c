//! The one process-wide tokio runtime, created lazily on first use, with at most two worker
//! threads whatever the number of clients: two on machines with four or more CPUs, one below
//! that (on a two-core host a second worker only adds cross-thread wake-ups: measured
//! 6200 -> 7600 requests/s single-threaded, 9200 -> 10800 with two host threads).
//!
//! A blocking C call from an ordinary host thread polls its future on that thread
//! (`Handle::block_on`) while the workers drive sockets and timers; from a thread that is itself
//! inside some other tokio runtime the future is spawned onto this runtime and waited for on a
//! plain channel, so such calls work too. A call from one of this runtime's own threads would
//! wait on itself; it is refused with an internal error instead.
//!
//! After `fork()` the child has none of the parent's threads: the runtime is recognised as the
//! parent's by its pid and a fresh one is created (the parent's is leaked, never touched).

use std::cell::Cell;
use std::future::Future;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind, Result};

/// The most worker threads the runtime ever has.
pub(crate) const MAX_WORKER_THREADS: usize = 2;

/// Worker threads for this machine: [`MAX_WORKER_THREADS`] with 4 or more CPUs, else 1.
pub fn worker_threads() -> usize {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 4 => MAX_WORKER_THREADS,
        _ => 1,
    }
}

pub const THREAD_NAME: &str = "cxoauth-rt";

struct Entry {
    pid: u32,
    rt: Runtime,
}

static CURRENT: ArcSwapOption<Entry> = ArcSwapOption::const_empty();
static CREATE: Mutex<()> = Mutex::new(());

thread_local! {
    static ON_RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn current() -> Result<Arc<Entry>> {
    let pid = std::process::id();
    if let Some(e) = CURRENT.load_full() {
        if e.pid == pid {
            return Ok(e);
        }
    }
    let _g = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = CURRENT.load_full() {
        if e.pid == pid {
            return Ok(e);
        }
        // The parent's runtime (we are a forked child): its threads do not exist here, so
        // dropping it would wait forever. Leak it.
        std::mem::forget(e);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .max_blocking_threads(4)
        .thread_name(THREAD_NAME)
        .on_thread_start(|| ON_RUNTIME_THREAD.with(|f| f.set(true)))
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start runtime: {e}")))?;
    let entry = Arc::new(Entry { pid, rt });
    if let Some(old) = CURRENT.swap(Some(entry.clone())) {
        std::mem::forget(old);
    }
    Ok(entry)
}

/// A handle to the runtime, creating it if needed.
pub fn handle() -> Result<Handle> {
    Ok(current()?.rt.handle().clone())
}

/// Runs `fut` and blocks the calling thread until it finishes.
///
/// From an ordinary host thread the future is polled right here (`Handle::block_on`) while the
/// runtime's workers drive sockets and timers: one thread hand-off per I/O event instead of
/// two. From a thread that is inside some other tokio runtime (where `block_on` would panic)
/// the future is spawned onto our runtime and waited for on a plain channel.
pub fn run_blocking<T, F>(fut: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    if ON_RUNTIME_THREAD.with(|f| f.get()) {
        return Err(Error::new(
            ErrorKind::Internal,
            "blocking cxoauth call made from a cxoauth runtime thread",
        ));
    }
    let handle = handle()?;
    if Handle::try_current().is_err() {
        return handle.block_on(fut);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    // A panic inside the task drops `tx`: report it instead of hanging.
    rx.recv().unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            "internal error: the request task panicked",
        ))
    })
}
