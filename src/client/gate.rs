//! The client-wide API backoff gate: a 429 with `Retry-After` on one call closes the gate for
//! that long, and every call of the client that starts or retries meanwhile waits for it to
//! open (plus full jitter, so they do not all fire at once) instead of sending straight into
//! the rate limit — or, when it opens only after the call's deadline (or later than
//! `max_retry_after`), ends at once with that 429 as its final response.
//!
//! No server closes it for longer than `max_retry_after_s` (default 180 s): a longer
//! `Retry-After` (a WAF or CDN asking for a day) closes it for that cap — calls meanwhile end at
//! once with the 429 — and when the capped window ends one call goes out as a probe while the
//! others wait for its answer: a 429 closes the gate again, anything else opens it.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::http::retry::backoff;
use crate::http::transport::HttpResponse;

#[derive(Default)]
pub struct Gate {
    /// Nanoseconds after [`base`] until which the gate is closed; 0: open.
    until_ns: AtomicU64,
    /// The 429 that closed it, returned to calls that cannot wait.
    last: Mutex<Option<HttpResponse>>,
    /// [`PROBE_NONE`], [`PROBE_NEEDED`] (a capped window: the next call is a probe) or
    /// [`PROBE_OUT`].
    probe: AtomicU8,
    probe_answered: tokio::sync::Notify,
}

const PROBE_NONE: u8 = 0;
const PROBE_NEEDED: u8 = 1;
const PROBE_OUT: u8 = 2;

/// The call that probes a gate whose capped window ended: [`Probe::answered`] with the
/// reply's status; dropped without an answer (no reply), the next call probes.
pub struct Probe<'a> {
    gate: &'a Gate,
    answered: bool,
}

impl Probe<'_> {
    /// The probe's reply: a 429 (which closed the gate again) or anything else (open).
    pub fn answered(mut self, status: u16) {
        self.answered = true;
        if status != 429 {
            self.gate.probe.store(PROBE_NONE, Ordering::Release);
            self.gate.probe_answered.notify_waiters();
        } else {
            // close_for set PROBE_NEEDED again if the new window was capped too
            self.settle(PROBE_NONE);
        }
    }

    /// Ends this probe (unless close_for asked for another meanwhile) and wakes the waiters.
    fn settle(&self, to: u8) {
        let _ =
            self.gate
                .probe
                .compare_exchange(PROBE_OUT, to, Ordering::AcqRel, Ordering::Acquire);
        self.gate.probe_answered.notify_waiters();
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if !self.answered {
            // no reply: the next call probes
            self.settle(PROBE_NEEDED);
        }
    }
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn to_ns(t: Instant) -> u64 {
    t.saturating_duration_since(base()).as_nanos() as u64
}

impl Gate {
    /// Closes the gate for `d` from now, at most `cap` (never shortens a longer closure); a
    /// capped window ends with a probe.
    pub fn close_for(&self, d: Duration, cap: Duration, resp: &HttpResponse) {
        if d > cap {
            self.probe.store(PROBE_NEEDED, Ordering::Release);
        }
        let Some(until) = Instant::now().checked_add(d.min(cap)) else {
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

    /// Waits until the gate is open. `Err(429)` when it opens too late for this call. After a
    /// capped window, `Some(probe)` for the one call that probes; the others wait for its
    /// answer.
    pub async fn pass(
        &self,
        cfg: &Config,
        deadline: Instant,
    ) -> Result<Option<Probe<'_>>, HttpResponse> {
        loop {
            self.wait_open(cfg, deadline).await?;
            let answered = self.probe_answered.notified();
            match self.probe.compare_exchange(
                PROBE_NEEDED,
                PROBE_OUT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    crate::log_line!(
                        crate::logging::Level::Info,
                        "API rate limit window (capped at max_retry_after_s) ended: one probe request"
                    );
                    return Ok(Some(Probe {
                        gate: self,
                        answered: false,
                    }));
                }
                Err(PROBE_OUT) => {
                    if tokio::time::timeout_at(deadline.into(), answered)
                        .await
                        .is_err()
                    {
                        return Err(self.last());
                    }
                }
                Err(_) => return Ok(None),
            }
        }
    }

    fn last(&self) -> HttpResponse {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| HttpResponse {
                status: 429,
                headers: Default::default(),
                body: Vec::new(),
            })
    }

    async fn wait_open(&self, cfg: &Config, deadline: Instant) -> Result<(), HttpResponse> {
        let Some(until) = self.closed_until() else {
            return Ok(());
        };
        let now = Instant::now();
        let wait = until.saturating_duration_since(now);
        // a capped window (the server asked for longer than max_retry_after_s) is not waited
        // for: calls end with its 429 until the probe after it
        let capped = self.probe.load(Ordering::Acquire) == PROBE_NEEDED;
        if until >= deadline || wait > cfg.max_retry_after || capped {
            return Err(self.last());
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
