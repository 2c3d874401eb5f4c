//! Per-call cancellation: a token the caller can trip from any thread to abort the calls that
//! were given it (Go's context, .NET's CancellationToken map onto this).

use std::sync::Arc;

use tokio::sync::watch;

/// Cloneable; all clones share one state. Once cancelled it stays cancelled.
#[derive(Clone, Debug)]
pub struct CancelToken(Arc<watch::Sender<bool>>);

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken(Arc::new(watch::channel(false).0))
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every call using this token, now and later. Idempotent, thread-safe.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the token is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`: wait_for only ends by cancellation.
        let _ = rx.wait_for(|c| *c).await;
    }
}
