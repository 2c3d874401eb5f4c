//! Panics stay inside the library and are never printed: spawned task bodies run inside
//! [`CatchUnwind`] (so their bookkeeping still runs), and the C ABI installs [`install_hook`],
//! which records a panic (a counter and a log line with its location) instead of writing to the
//! host's stderr. In the C library, Rust's standard library is the library's own copy, so the
//! hook changes nothing for the host; a Rust program linking the crate keeps its own hook.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::task::{Context, Poll};

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// How many panics the hook recorded in this process (read by the tests only).
#[cfg(test)]
pub(crate) fn count() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Replaces the panic hook with one that records silently (once per process).
pub fn install_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            // The location only: a panic message might quote data.
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            crate::log_line!(
                crate::logging::Level::Error,
                "internal error (panic at {at}): the call ends with OAUTH_ERR_INTERNAL"
            );
        }));
    });
}

/// A future whose panics are caught: `Err(())` instead of unwinding into the runtime.
pub struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> CatchUnwind<F> {
    pub fn new(f: F) -> Self {
        CatchUnwind(Box::pin(f))
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let f = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| f.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_future_ends_with_err() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(CatchUnwind::new(async {
            tokio::task::yield_now().await;
            if count() < u64::MAX {
                panic!("boom");
            }
            1
        }));
        assert_eq!(r, Err(()));
        assert_eq!(rt.block_on(CatchUnwind::new(async { 2 })), Ok(2));
    }
}
