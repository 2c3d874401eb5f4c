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
//! a blocking call, so each thread has its own pool per client ([`route`]); connections in the
//! process-wide pool are driven by the runtime's workers and serve every other caller (callback
//! calls, token fetches, refresh timers, callers inside another tokio runtime). A thread gets a
//! pool of its own from its [`LOCAL_AFTER`]th request on a client: a host that starts a thread
//! per request keeps reusing the process-wide pool's warm connections instead of opening one
//! per thread.
//!
//! What the runtime does is unchanged: the same futures (retry policy, token single-flight,
//! cancellation, deadlines) run here, only polled on this thread. Name lookups are sent to the
//! process-wide runtime's blocking threads (see [`crate::transport`]), so this runtime never
//! starts a thread. After `fork()` the child's copy of a parent's thread state (its reactor
//! shares the parent's epoll instance, its connections the parent's sockets) is recognised by
//! its fork epoch and leaked, never used or closed.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use tokio::runtime::{Builder, Runtime};

use crate::conn::ThreadPool;
use crate::error::{Error, ErrorKind, Result};

/// A thread gets its own connection pool for a client from this many requests on that client
/// on; before that its requests use the process-wide pool.
pub(crate) const LOCAL_AFTER: u32 = 2;

/// One client's state on this thread.
pub(crate) struct Pool {
    owner: Weak<dyn Any + Send + Sync>,
    /// Requests this thread made on the client.
    requests: u32,
    /// This thread's idle connections for the client.
    pub conns: ThreadPool,
}

struct Local {
    epoch: u64,
    rt: Rc<Runtime>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    static POOLS: RefCell<Vec<Pool>> = const { RefCell::new(Vec::new()) };
    /// Set while this thread is inside [`block_on`].
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Which connections send a request.
pub(crate) enum Route<'a, K> {
    /// This thread's own for `owner`, driven by this thread's reactor (we are inside
    /// [`block_on`]): see [`crate::conn`].
    Local(&'a Arc<K>),
    /// The process-wide pool, from here: we are on the process-wide runtime.
    Here,
    /// The process-wide pool, whose connections must be driven by the process-wide runtime:
    /// the request is spawned there.
    Runtime,
}

/// Whether the current thread is inside [`block_on`] (its reactor drives what it polls).
#[inline]
pub(crate) fn inside() -> bool {
    INSIDE.try_with(Cell::get).unwrap_or(false)
}

/// Whether this thread's reactor can be used: not once its thread-locals are destroyed (a
/// call from a pthread-key destructor at thread exit, which runs after them).
pub(crate) fn available() -> bool {
    LOCAL.try_with(|_| ()).is_ok() && POOLS.try_with(|_| ()).is_ok()
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
    let epoch = crate::process::epoch();
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
                // parent's epoll instance and the pools the parent's sockets. Never touched again.
                std::mem::forget(parent);
                POOLS.with(|p| std::mem::forget(std::mem::take(&mut *p.borrow_mut())));
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

/// Where to send a request of `owner`'s: this thread's own connections when inside
/// [`block_on`], there is an `owner` (the client can use them: no proxy) and this thread made
/// [`LOCAL_AFTER`] requests on it; else the process-wide pool.
pub(crate) fn route<K: Send + Sync + 'static>(owner: Option<&Arc<K>>) -> Route<'_, K> {
    if !inside() {
        return Route::Here;
    }
    let Some(owner) = owner else {
        return Route::Runtime;
    };
    let requests = with_pool(owner, |p| {
        p.requests = p.requests.saturating_add(1);
        p.requests
    });
    match requests {
        Some(n) if n >= LOCAL_AFTER => Route::Local(owner),
        _ => Route::Runtime,
    }
}

/// Runs `f` on this thread's pool for `owner` (made if needed); `None` when this thread's
/// storage is gone (the thread is exiting).
pub(crate) fn with_pool<K: Send + Sync + 'static, R>(
    owner: &Arc<K>,
    f: impl FnOnce(&mut Pool) -> R,
) -> Option<R> {
    POOLS
        .try_with(|cell| {
            let mut pools = cell.borrow_mut();
            // Pools of freed clients go (their connections close) at this thread's next
            // request, whichever client it is for.
            pools.retain(|p| p.owner.strong_count() > 0);
            let key = Arc::as_ptr(owner) as *const ();
            let found = pools
                .iter()
                .position(|p| p.owner.as_ptr() as *const () == key);
            let i = match found {
                Some(i) => i,
                None => {
                    let owner: Arc<dyn Any + Send + Sync> = owner.clone();
                    pools.push(Pool {
                        owner: Arc::downgrade(&owner),
                        requests: 0,
                        conns: ThreadPool::default(),
                    });
                    pools.len() - 1
                }
            };
            f(&mut pools[i])
        })
        .ok()
}
