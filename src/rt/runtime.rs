//! The one process-wide tokio runtime, created lazily on first use, with at most two worker
//! threads whatever the number of clients: two on machines with four or more CPUs, one below
//! that (on a two-core host a second worker only adds cross-thread wake-ups: measured
//! 6200 -> 7600 requests/s single-threaded, 9200 -> 10800 with two host threads).
//!
//! A blocking C call from an ordinary host thread runs on that thread's own reactor
//! ([`crate::rt::local`]) while the workers drive token fetches, refresh timers and callback calls;
//! from a thread that is itself
//! inside some other tokio runtime the future is spawned onto this runtime and waited for on a
//! plain channel, so such calls work too. A call from one of this runtime's own threads would
//! wait on itself; it is refused with an internal error instead.
//!
//! Threads: at most [`MAX_WORKER_THREADS`] long-lived workers process-wide, plus at most
//! [`MAX_BLOCKING_THREADS`] short-lived threads for DNS lookups (`getaddrinfo` blocks), which
//! exit after [`BLOCKING_KEEP_ALIVE`] without work; IP-literal hosts need none. Every one of
//! them is named `cxoauth-rt`, blocks all signals, runs `SCHED_OTHER` at nice 0 on the process's
//! CPU set (see [`crate::rt::threads`]).
//!
//! After `fork()` the child has none of the parent's threads: the runtime is recognised as the
//! parent's by its fork epoch ([`crate::rt::process`]) and a fresh one is created (the parent's is
//! leaked, never touched).

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
/// The most threads for blocking work (DNS lookups) the runtime ever has at once.
pub const MAX_BLOCKING_THREADS: usize = 2;
/// An idle blocking (DNS) thread exits after this long.
pub const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(10);

struct Entry {
    epoch: u64,
    rt: Runtime,
}

static CURRENT: ArcSwapOption<Entry> = ArcSwapOption::const_empty();
static CREATE: Mutex<()> = Mutex::new(());

thread_local! {
    static ON_RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn current() -> Result<Arc<Entry>> {
    let epoch = crate::rt::process::epoch();
    if let Some(e) = CURRENT.load_full() {
        if e.epoch == epoch {
            return Ok(e);
        }
    }
    let _g = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = CURRENT.load_full() {
        if e.epoch == epoch {
            return Ok(e);
        }
        // The parent's runtime (we are a forked child): its threads do not exist here, so
        // dropping it would wait forever. Leak it.
        std::mem::forget(e);
    }
    // Workers are spawned while the runtime is built: with all signals blocked here they start
    // with every signal blocked, and harden_current_thread fixes the rest in each thread.
    let rt = crate::rt::threads::with_signals_blocked(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            .thread_keep_alive(BLOCKING_KEEP_ALIVE)
            .thread_name(THREAD_NAME)
            .on_thread_start(|| {
                crate::rt::threads::harden_current_thread();
                ON_RUNTIME_THREAD.with(|f| f.set(true));
            })
            .enable_all()
            .build()
    })
    .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start runtime: {e}")))?;
    let entry = Arc::new(Entry { epoch, rt });
    if let Some(old) = CURRENT.swap(Some(entry.clone())) {
        std::mem::forget(old);
    }
    Ok(entry)
}

/// A handle to the runtime, creating it if needed.
pub fn handle() -> Result<Handle> {
    Ok(current()?.rt.handle().clone())
}

/// Runs `fut`, which sends nothing itself (it waits for work done on the runtime: a token
/// fetch), blocking the calling thread until it finishes: polled right here while the
/// runtime's threads do the work, without making a reactor for this thread (256 threads
/// waiting for one token fetch make no 256 reactors).
pub fn wait_blocking<T, F>(fut: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    block(fut, false)
}

/// Runs `fut` and blocks the calling thread until it finishes.
///
/// From an ordinary host thread the future, and the connection its request uses, are polled
/// right here on this thread's own reactor ([`crate::rt::local`]): no thread hand-off per request.
/// From a thread that is inside some other tokio runtime (where blocking would stall that
/// runtime's own tasks), and from inside such a call on this thread (a host callback that makes
/// a blocking call), the future is spawned onto the process-wide runtime and waited for on a
/// plain channel.
pub fn run_blocking<T, F>(fut: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    block(fut, true)
}

/// `on_this_thread`: on this thread's own reactor, else polled here while the runtime works.
fn block<T, F>(fut: F, on_this_thread: bool) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    if ON_RUNTIME_THREAD.try_with(|f| f.get()).unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::Internal,
            "blocking cxoauth call made from a cxoauth runtime thread",
        ));
    }
    if Handle::try_current().is_err() && crate::rt::local::available() {
        if on_this_thread {
            // Boxed: moved into the reactor as a pointer, not as a large future.
            return crate::rt::local::block_on(Box::pin(fut))?;
        }
        return handle()?.block_on(fut);
    }
    // From inside another runtime, or from a thread whose thread-locals are gone (a call made
    // by a pthread-key destructor at thread exit): spawned onto ours, waited for on a lock and
    // condition variable (no thread-local of any kind).
    let handle = handle()?;
    let done = Arc::new((Mutex::new(None), std::sync::Condvar::new()));
    let tx = Arc::clone(&done);
    handle.spawn(async move {
        let r = crate::rt::panic::CatchUnwind::new(fut)
            .await
            .unwrap_or_else(|()| {
                Err(Error::new(
                    ErrorKind::Internal,
                    "internal error: the request task panicked",
                ))
            });
        *tx.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        tx.1.notify_one();
    });
    let mut slot = done.0.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(r) = slot.take() {
            return r;
        }
        slot = done.1.wait(slot).unwrap_or_else(|p| p.into_inner());
    }
}
