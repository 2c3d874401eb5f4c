//! Token events (`oauth_set_event_callback`): what happened to a client's token and its rate
//! limits, queued from where it happens to the completion thread ([`crate::rt::dispatch`]) and
//! delivered there one after another, in the order they were queued, never with a lock of the
//! library held.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// Event kinds: stable numbers, new kinds appended (the `OAUTH_EVENT_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum EventKind {
    TokenFetched = 1,
    TokenRefreshFailed = 2,
    TokenInvalidated = 3,
    RateLimited = 4,
    RateLimitCleared = 5,
    SharedCacheDown = 6,
    SharedCacheUp = 7,
}

/// One event. `message` never holds a secret or a token.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    /// The `oauth_result` of what failed, else 0.
    pub result: u32,
    /// 0 when none.
    pub http_status: u16,
    pub time_unix_ms: u64,
    /// The token's expiry for [`EventKind::TokenFetched`], else 0.
    pub expires_unix_ms: u64,
    pub message: String,
}

impl Event {
    pub fn new(kind: EventKind, message: impl Into<String>) -> Event {
        Event {
            kind,
            result: 0,
            http_status: 0,
            time_unix_ms: crate::rt::clock::unix_ms_after(std::time::Duration::ZERO),
            expires_unix_ms: 0,
            message: message.into(),
        }
    }
}

/// The host's handler (the C callback with its user data, or a Rust closure).
pub type Handler = Box<dyn Fn(&Event) + Send + Sync + 'static>;

/// A client's event handler. Cheap when none is set: [`EventSink::emit`] is one atomic load.
#[derive(Default)]
pub struct EventSink {
    inner: Arc<Slot>,
}

#[derive(Default)]
struct Slot {
    handler: ArcSwapOption<Handler>,
    /// Deliveries running now (see [`EventSink::set`]).
    delivering: AtomicUsize,
    /// Whether the API or the token endpoint is rate limiting (for the
    /// limited/cleared transitions).
    pub(crate) limited: AtomicBool,
}

impl EventSink {
    /// Replaces the handler (`None`: events off). When it returns, the old handler is not
    /// running (unless this is called on the completion thread, where a delivery in progress
    /// is the caller's own) and is never called again.
    pub fn set(&self, handler: Option<Handler>) {
        self.inner.handler.store(handler.map(Arc::new));
        if crate::rt::dispatch::on_dispatch_thread() {
            return;
        }
        // A delivery that started before the store may still run the old handler: wait for
        // it (a delivery that starts after the store sees the new one: both SeqCst).
        while self.inner.delivering.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }

    /// Turns events off without waiting (`oauth_close`, which must not block).
    pub fn clear(&self) {
        self.inner.handler.store(None);
    }

    pub fn is_on(&self) -> bool {
        self.inner.handler.load().is_some()
    }

    /// Queues `event` for the handler, if one is set. Never blocks on the host.
    pub fn emit(&self, event: Event) {
        if !self.is_on() {
            return;
        }
        let slot = Arc::clone(&self.inner);
        let _ = crate::rt::dispatch::submit(Box::new(move || {
            slot.delivering.fetch_add(1, Ordering::SeqCst);
            if let Some(h) = slot.handler.load_full() {
                // a panicking Rust handler must not end the completion thread
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&event)));
            }
            slot.delivering.fetch_sub(1, Ordering::SeqCst);
        }));
    }

    /// A 429 (from the API or the token endpoint) was seen: `RATE_LIMITED` once per episode.
    pub fn rate_limited(&self, message: impl FnOnce() -> String, result: u32) {
        if !self.inner.limited.swap(true, Ordering::Relaxed) {
            let mut e = Event::new(EventKind::RateLimited, message());
            e.http_status = 429;
            e.result = result;
            self.emit(e);
        }
    }

    /// A reply that was not a 429 after a 429 episode: `RATE_LIMIT_CLEARED`.
    pub fn not_rate_limited(&self) {
        if self.inner.limited.load(Ordering::Relaxed)
            && self.inner.limited.swap(false, Ordering::Relaxed)
        {
            self.emit(Event::new(
                EventKind::RateLimitCleared,
                "requests are answered again (no more 429)",
            ));
        }
    }
}
