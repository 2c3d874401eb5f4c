//! The calling thread's own connection pools, one per client: a blocking call that runs on its
//! thread's reactor ([`crate::rt::local`]) sends on them (see [`crate::http::conn`]).
//!
//! Connections driven by a thread's reactor can only make progress while that thread is in a
//! blocking call, so each thread has its own pool per client ([`route`]); connections in the
//! process-wide pool are driven by the runtime's workers and serve every other caller (callback
//! calls, token fetches, refresh timers, callers inside another tokio runtime). A thread gets a
//! pool of its own from its [`LOCAL_AFTER`]th request on a client: a host that starts a thread
//! per request keeps reusing the process-wide pool's warm connections instead of opening one
//! per thread. After `fork()` the child's copy of a parent's pools (their connections are the
//! parent's sockets) is recognised by its fork epoch and leaked, never used or closed.

use std::any::Any;
use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::http::conn::ThreadPool;

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

/// This thread's pools, with the fork epoch they were made in.
struct Pools {
    epoch: u64,
    list: Vec<Pool>,
}

thread_local! {
    static POOLS: RefCell<Pools> = const {
        RefCell::new(Pools {
            epoch: 0,
            list: Vec::new(),
        })
    };
}

/// Which connections send a request.
pub(crate) enum Route<'a, K> {
    /// This thread's own for `owner`, driven by this thread's reactor (we are inside
    /// [`crate::rt::local::block_on`]): see [`crate::http::conn`].
    Local(&'a Arc<K>),
    /// The process-wide pool, from here: we are on the process-wide runtime.
    Here,
    /// The process-wide pool, whose connections must be driven by the process-wide runtime:
    /// the request is spawned there.
    Runtime,
}

/// Where to send a request of `owner`'s: this thread's own connections when inside
/// [`crate::rt::local::block_on`], there is an `owner` (the client can use them: no proxy) and this thread made
/// [`LOCAL_AFTER`] requests on it; else the process-wide pool.
pub(crate) fn route<K: Send + Sync + 'static>(owner: Option<&Arc<K>>) -> Route<'_, K> {
    if !crate::rt::local::inside() {
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
    let epoch = crate::rt::process::epoch();
    POOLS
        .try_with(|cell| {
            let mut pools = cell.borrow_mut();
            if pools.epoch != epoch {
                // A forked child's copy of the parent's pools: their connections are the
                // parent's sockets. Never touched again.
                std::mem::forget(std::mem::take(&mut pools.list));
                pools.epoch = epoch;
            }
            let pools = &mut pools.list;
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
