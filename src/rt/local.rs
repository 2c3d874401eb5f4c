//! The calling thread's own reactor: blocking calls made on a host thread run there, with that
//! thread's own connections, as libcurl runs a transfer on the thread that asked for it.
//!
//! A blocking call from an ordinary host thread is driven by a current-thread tokio runtime
//! that belongs to that thread (created on its first blocking call, dropped when the thread
//! exits). The runtime has no threads of its own: it runs only inside the blocking call, on the
//! caller's thread, so the request, its connection (TLS, HTTP framing, the socket) and the
//! reply never cross threads. Measured against the process-wide runtime doing the I/O on its
//! workers while the caller waits (two thread hand-offs per request), see bench/RESULTS.md.
//!
//! Connections driven by this thread's reactor can only make progress while this thread is in
//! a blocking call, so each thread has its own pool per client (`crate::http::pool`, with the
//! connections); connections in the process-wide pool are driven by the runtime's workers and
//! serve every other caller (callback calls, token fetches, refresh timers, callers inside
//! another tokio runtime).
//!
//! What the runtime does is unchanged: the same futures (retry policy, token single-flight,
//! cancellation, deadlines) run here, only polled on this thread. Name lookups are sent to the
//! process-wide runtime's blocking threads (see [`crate::http::transport`]), so this runtime never
//! starts a thread. After `fork()` the child's copy of a parent's thread state (its reactor
//! shares the parent's epoll instance) is recognised by its fork epoch and leaked, never used
//! or closed.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use tokio::runtime::{Builder, Runtime};

use crate::error::{Error, ErrorKind, Result};

struct Local {
    epoch: u64,
    rt: Rc<Runtime>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    /// Set while this thread is inside [`block_on`].
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is inside [`block_on`] (its reactor drives what it polls).
#[inline]
pub(crate) fn inside() -> bool {
    INSIDE.try_with(Cell::get).unwrap_or(false)
}

/// Whether this thread's reactor can be used: not once its thread-locals are destroyed (a
/// call from a pthread-key destructor at thread exit, which runs after them).
pub(crate) fn available() -> bool {
    LOCAL.try_with(|_| ()).is_ok()
}

/// Drives `fut` to completion on this thread's own reactor.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    let rt = runtime()?;
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = INSIDE.try_with(|f| f.set(false));
        }
    }
    let _ = INSIDE.try_with(|f| f.set(true));
    let _reset = Reset;
    Ok(rt.block_on(fut))
}

fn runtime() -> Result<Rc<Runtime>> {
    let epoch = crate::rt::process::epoch();
    let gone = |_| Error::new(ErrorKind::Internal, "this thread's storage is gone");
    LOCAL
        .try_with(|cell| {
            let mut local = cell.borrow_mut();
            if let Some(l) = local.as_ref() {
                if l.epoch == epoch {
                    return Ok(Rc::clone(&l.rt));
                }
            }
            if let Some(parent) = local.take() {
                // A forked child's copy of the parent's thread state: the reactor shares the
                // parent's epoll instance. Never touched again (the connection pools, which
                // share the parent's sockets, are left the same way: see crate::http::pool).
                std::mem::forget(parent);
            }
            let rt = Builder::new_current_thread()
                .enable_all()
                // Nothing here uses blocking threads (name lookups go to the process-wide
                // runtime); one is the least tokio accepts.
                .max_blocking_threads(1)
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("cannot start this thread's reactor: {e}"),
                    )
                })?;
            let rt = Rc::new(rt);
            *local = Some(Local {
                epoch,
                rt: Rc::clone(&rt),
            });
            Ok(rt)
        })
        .map_err(gone)?
}
