//! The client-wide API backoff gate: a 429 with `Retry-After` on one call closes the gate for
//! that long, and every call of the client that starts or retries meanwhile waits for it to
//! open (plus full jitter, so they do not all fire at once) instead of sending straight into
//! the rate limit — or, when it opens only after the call's deadline (or later than
//! `max_retry_after`), ends at once with that 429 as its final response.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::retry::backoff;
use crate::transport::HttpResponse;

#[derive(Default)]
pub struct Gate {
    /// Nanoseconds after [`base`] until which the gate is closed; 0: open.
    until_ns: AtomicU64,
    /// The 429 that closed it, returned to calls that cannot wait.
    last: Mutex<Option<HttpResponse>>,
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn to_ns(t: Instant) -> u64 {
    t.saturating_duration_since(base()).as_nanos() as u64
}

impl Gate {
    /// Closes the gate for `d` from now (never shortens a longer closure).
    pub fn close_for(&self, d: Duration, resp: &HttpResponse) {
        let Some(until) = Instant::now().checked_add(d) else {
            return;
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(resp.clone());
        self.until_ns
            .fetch_max(to_ns(until).max(1), Ordering::AcqRel);
    }

    /// When the gate opens, if it is closed now.
    pub fn closed_until(&self) -> Option<Instant> {
        let ns = self.until_ns.load(Ordering::Acquire);
        let until = base() + Duration::from_nanos(ns);
        (ns != 0 && until > Instant::now()).then_some(until)
    }

    /// The same as wall-clock time, for diagnostics.
    pub fn closed_until_system(&self) -> Option<SystemTime> {
        let until = self.closed_until()?;
        Some(SystemTime::now() + until.saturating_duration_since(Instant::now()))
    }

    /// Waits until the gate is open. `Err(429)` when it opens too late for this call.
    pub async fn pass(&self, cfg: &Config, deadline: Instant) -> Result<(), HttpResponse> {
        let Some(until) = self.closed_until() else {
            return Ok(());
        };
        let now = Instant::now();
        let last = || {
            self.last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| HttpResponse {
                    status: 429,
                    headers: Default::default(),
                    body: Vec::new(),
                })
        };
        let wait = until - now;
        if until >= deadline || wait > cfg.max_retry_after {
            return Err(last());
        }
        let jitter = backoff(0, cfg.backoff_base, cfg.backoff_max)
            .min(deadline.saturating_duration_since(until) / 2);
        crate::log_line!(
            crate::logging::Level::Info,
            "API rate limited (429 with Retry-After): waiting {} ms for the client's gate",
            (wait + jitter).as_millis()
        );
        tokio::time::sleep(wait + jitter).await;
        Ok(())
    }
}
