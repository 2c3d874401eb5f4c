//! Pacing to the API's rate-limit headers (`rate_limit_pacing`, on by default).
//!
//! Every API reply says where the caller stands in the current window: Genesys'
//! `inin-ratelimit-allowed` / `-count` / `-reset` (seconds left), the IETF draft's
//! `RateLimit: r=..;t=..` with `RateLimit-Policy: q=..` (or the older `RateLimit-Limit` /
//! `-Remaining` / `-Reset`), or the common `X-RateLimit-Limit` / `-Remaining` / `-Reset`.
//! The pacer spreads what is left of the window over the time left, across every call of the
//! client (blocking and callback alike): a token bucket for the access token in use, corrected
//! by every reply. While more than half of the window's quota is left calls go out at once;
//! below that each call takes the next slot `time left / requests left` after the previous
//! one, so the quota lasts until the window resets (no 429, no wait for the rest of the
//! window). A spent window (a count at or above the limit) holds calls until it resets, and
//! the next one is taken to be like it until its first reply. Calls in flight are counted as used (the server counts them when they
//! arrive). A window whose reset has passed is unknown: calls go out and the next reply says.
//!
//! A call whose slot comes later than its deadline, or later than `max_retry_after_s` from
//! now, is not sent: it ends at once with a 429 made by the client (no body, `Retry-After`:
//! the seconds until its slot, and `X-Cxoauth-Paced: 1`), the same outcome as a call that
//! cannot wait for the client's 429 gate. Headers that lie (a count above the limit, a
//! negative, garbage or huge reset) cannot hold a call longer than `max_retry_after_s` or its
//! deadline: the window is taken as at most `max_retry_after_s` long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};

use crate::config::Config;
use crate::http::transport::HttpResponse;

/// What one reply said about the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub allowed: u64,
    pub remaining: u64,
    /// Until the window resets.
    pub reset: Duration,
}

/// Reads the rate-limit headers of a reply (`None`: it has none, or they are unreadable).
pub fn standing(headers: &HeaderMap) -> Option<Standing> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let num = |n: &str| get(n).and_then(|v| v.parse::<f64>().ok());
    let secs = |v: f64| {
        // X-RateLimit-Reset is sometimes a Unix time
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let v = if v > 1_000_000_000.0 { v - now_unix } else { v };
        if v.is_finite() && v > 0.0 {
            Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        }
    };
    let whole = |v: f64| {
        if v.is_finite() && v > 0.0 {
            v as u64
        } else {
            0
        }
    };
    if let (Some(allowed), Some(count)) =
        (num("inin-ratelimit-allowed"), num("inin-ratelimit-count"))
    {
        let allowed = whole(allowed);
        return Some(Standing {
            allowed,
            remaining: allowed.saturating_sub(whole(count)),
            reset: secs(num("inin-ratelimit-reset").unwrap_or(0.0)),
        });
    }
    if let Some(rl) = get("ratelimit") {
        let param = |s: &str, k: &str| {
            s.split([';', ','])
                .filter_map(|p| p.trim().split_once('='))
                .find(|(n, _)| n.trim() == k)
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        };
        let remaining = param(rl, "r").or_else(|| param(rl, "remaining"));
        let reset = param(rl, "t").or_else(|| param(rl, "reset"));
        let allowed = get("ratelimit-policy")
            .and_then(|p| param(p, "q"))
            .or_else(|| param(rl, "limit"));
        if let (Some(r), Some(t)) = (remaining, reset) {
            let remaining = whole(r);
            return Some(Standing {
                allowed: allowed.map_or(remaining, whole),
                remaining,
                reset: secs(t),
            });
        }
    }
    for prefix in ["ratelimit-", "x-ratelimit-"] {
        let h = |s: &str| num(&format!("{prefix}{s}"));
        if let (Some(l), Some(r)) = (h("limit"), h("remaining")) {
            return Some(Standing {
                allowed: whole(l),
                remaining: whole(r),
                reset: secs(h("reset").unwrap_or(0.0)),
            });
        }
    }
    None
}

/// The client's pacer (one per client; its window belongs to one access token).
#[derive(Default)]
pub struct Pacer {
    state: Mutex<State>,
    /// Calls that waited for their slot, and how long in all (ms).
    pub waits: AtomicU64,
    pub wait_ms: AtomicU64,
    /// The window's standing as last set under the lock, for metrics read without it:
    /// requests left ([`UNKNOWN`] while none is known) and when the window resets (boot ns).
    published_remaining: AtomicU64,
    published_reset_ns: AtomicU64,
}

/// [`Pacer::published_remaining`] while no window is known.
const UNKNOWN: u64 = u64::MAX;

#[derive(Default)]
struct State {
    /// The access token the window is of (generation; 0: none yet).
    generation: u64,
    window: Option<Window>,
    /// Calls sent and not answered yet.
    in_flight: u64,
}

#[derive(Clone, Copy)]
struct Window {
    allowed: u64,
    /// Left to send in this window (the last reply's count, less what was sent since).
    remaining: u64,
    reset_at: Instant,
    /// The window's length, as far as the replies tell (the longest reset seen).
    length: Duration,
    /// The next free slot (once calls are spread).
    next: Instant,
    /// No call before this (the start of a window assumed to follow a spent one).
    not_before: Instant,
    /// Whether calls are being held back (for the log line when that starts and stops).
    holding: bool,
}

/// A call's place: answer it with [`Permit::observe`] (dropped without: no reply).
pub struct Permit<'a> {
    pacer: &'a Pacer,
    generation: u64,
}

impl Permit<'_> {
    /// The reply's headers correct the window.
    pub fn observe(self, cfg: &Config, resp: &HttpResponse) {
        let Some(s) = standing(&resp.headers) else {
            return;
        };
        let mut st = self.pacer.lock();
        if st.generation != self.generation {
            return;
        }
        let now = Instant::now();
        // in flight besides this one: sent, not yet counted in what this reply says
        let others = st.in_flight.saturating_sub(1);
        // a window longer than max_retry_after_s is not believed
        let reset = s.reset.min(cfg.max_retry_after);
        let holding = st.window.is_some_and(|w| w.holding);
        let next = st.window.map_or(now, |w| w.next).min(now + reset);
        let length = st.window.map_or(reset, |w| w.length.max(reset));
        st.window = Some(Window {
            allowed: s.allowed,
            remaining: s.remaining.saturating_sub(others),
            reset_at: now + reset,
            length,
            next,
            not_before: now,
            holding,
        });
        self.pacer.publish(&st);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.pacer.lock();
        if st.generation == self.generation {
            st.in_flight = st.in_flight.saturating_sub(1);
        }
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state, locked, of the token of `generation`: a new token starts afresh (its own
    /// quota, unknown until its first reply).
    fn lock_for(&self, generation: u64) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.lock();
        if st.generation != generation {
            *st = State {
                generation,
                ..State::default()
            };
        }
        st
    }

    /// Waits for this call's slot with the token of `generation`. `Err`: the slot comes after
    /// the deadline or later than `max_retry_after_s` — or, with `fail_fast` (the call's
    /// `pacing` option), later than now: the 429 to end the call with, unsent.
    pub async fn acquire(
        &self,
        cfg: &Config,
        generation: u64,
        deadline: Instant,
        fail_fast: bool,
    ) -> Result<Permit<'_>, HttpResponse> {
        let slot = {
            let mut st = self.lock_for(generation);
            let now = Instant::now();
            let slot = match st.window.as_mut() {
                Some(w) if now < w.reset_at => {
                    if w.remaining == 0 {
                        // nothing left in this window: spread the next one, taken to be like
                        // this one, until a reply in it says better
                        w.next = w.next.max(w.reset_at);
                        w.not_before = w.reset_at;
                        w.reset_at += w.length.max(Duration::from_millis(1));
                        w.remaining = w.allowed.max(1);
                    }
                    // the first half of a window's quota goes out at once; what is left below
                    // that is spread over the time left
                    let slot = if w.remaining > w.allowed / 2 {
                        now.max(w.not_before)
                    } else {
                        w.next.max(now)
                    };
                    let wait = slot.saturating_duration_since(now);
                    if slot >= deadline
                        || wait > cfg.max_retry_after
                        || (fail_fast && !wait.is_zero())
                    {
                        return Err(paced_429(wait));
                    }
                    let left = w.reset_at.saturating_duration_since(slot);
                    let interval = left / (w.remaining.min(u32::MAX as u64) as u32).max(1);
                    w.remaining -= 1;
                    w.next = slot + interval;
                    slot
                }
                _ => now,
            };
            st.in_flight += 1;
            self.publish(&st);
            slot
        };
        let permit = Permit {
            pacer: self,
            generation,
        };
        let wait = slot.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            self.note_holding(true, wait);
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.wait_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        } else {
            self.note_holding(false, wait);
        }
        Ok(permit)
    }

    /// Counts a call sent without pacing (`rate_limit_pacing` off): never waits, but the
    /// window is still followed, so that a token pool knows each token's headroom.
    pub fn track(&self, generation: u64) -> Permit<'_> {
        let mut st = self.lock_for(generation);
        let now = Instant::now();
        if let Some(w) = st.window.as_mut().filter(|w| now < w.reset_at) {
            w.remaining = w.remaining.saturating_sub(1);
        }
        st.in_flight += 1;
        self.publish(&st);
        Permit {
            pacer: self,
            generation,
        }
    }

    /// What is left of the current window: `(remaining, allowed)`, `None` while unknown (no
    /// reply yet, or the window has reset since the last one).
    pub fn left(&self) -> Option<(u64, u64)> {
        let st = self.lock();
        st.window
            .filter(|w| Instant::now() < w.reset_at)
            .map(|w| (w.remaining, w.allowed))
    }

    /// Copies the window's standing to the atomics the metrics read (under the lock).
    fn publish(&self, st: &State) {
        let (remaining, reset_ns) = match st.window {
            Some(w) => (
                w.remaining,
                crate::rt::clock::boot_after(w.reset_at.saturating_duration_since(Instant::now())),
            ),
            None => (UNKNOWN, 0),
        };
        self.published_remaining.store(remaining, Ordering::Relaxed);
        self.published_reset_ns.store(reset_ns, Ordering::Relaxed);
    }

    /// Requests left in the current window as the replies' rate-limit headers (less the calls
    /// sent since) say; `None` while no window is known or after it reset. Lock-free.
    pub fn remaining(&self) -> Option<u64> {
        let remaining = self.published_remaining.load(Ordering::Relaxed);
        let reset_ns = self.published_reset_ns.load(Ordering::Relaxed);
        (remaining != UNKNOWN && crate::rt::clock::boot_now_ns() < reset_ns).then_some(remaining)
    }

    /// Logs when pacing starts holding calls back and when it stops.
    fn note_holding(&self, holding: bool, wait: Duration) {
        let changed = {
            let mut st = self.lock();
            match st.window.as_mut() {
                Some(w) if w.holding != holding => {
                    w.holding = holding;
                    true
                }
                None if holding => true,
                _ => false,
            }
        };
        if changed {
            if holding {
                crate::log_line!(
                    crate::logging::Level::Info,
                    "API rate limit: pacing calls to the rate-limit headers (waiting {} ms)",
                    wait.as_millis()
                );
            } else {
                crate::log_line!(
                    crate::logging::Level::Info,
                    "API rate limit: pacing no longer holds calls back"
                );
            }
        }
    }

    /// `{"allowed","remaining","reset_unix_ms"}` of the current window, if known.
    pub fn rate_limit_json(&self) -> serde_json::Value {
        let st = self.lock();
        match st.window {
            Some(w) if Instant::now() < w.reset_at => {
                let left = w.reset_at.saturating_duration_since(Instant::now());
                serde_json::json!({
                    "allowed": w.allowed,
                    "remaining": w.remaining,
                    "reset_unix_ms": crate::rt::clock::unix_ms_after(left),
                })
            }
            _ => serde_json::Value::Null,
        }
    }
}

/// The outcome of a call that cannot wait for its slot: a 429 made by the client.
fn paced_429(wait: Duration) -> HttpResponse {
    let mut headers = HeaderMap::new();
    let secs = wait.as_millis().div_ceil(1000).max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        headers.insert("retry-after", v);
    }
    headers.insert("x-cxoauth-paced", HeaderValue::from_static("1"));
    HttpResponse {
        status: 429,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.insert(*n, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn header_flavours() {
        let s = standing(&h(&[
            ("inin-ratelimit-allowed", "300"),
            ("inin-ratelimit-count", "120"),
            ("inin-ratelimit-reset", "30"),
        ]))
        .unwrap();
        assert_eq!(
            (s.allowed, s.remaining, s.reset),
            (300, 180, Duration::from_secs(30))
        );
        let s = standing(&h(&[
            ("ratelimit", "\"default\";r=50;t=30"),
            ("ratelimit-policy", "\"default\";q=100;w=60"),
        ]))
        .unwrap();
        assert_eq!(
            (s.allowed, s.remaining, s.reset),
            (100, 50, Duration::from_secs(30))
        );
        let s = standing(&h(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "7"),
            ("x-ratelimit-reset", "12"),
        ]))
        .unwrap();
        assert_eq!(
            (s.allowed, s.remaining, s.reset),
            (60, 7, Duration::from_secs(12))
        );
        // lies: count above allowed, negative or garbage reset
        let s = standing(&h(&[
            ("inin-ratelimit-allowed", "10"),
            ("inin-ratelimit-count", "99"),
            ("inin-ratelimit-reset", "-5"),
        ]))
        .unwrap();
        assert_eq!((s.remaining, s.reset), (0, Duration::ZERO));
        let s = standing(&h(&[
            ("inin-ratelimit-allowed", "10"),
            ("inin-ratelimit-count", "1"),
            ("inin-ratelimit-reset", "1e300"),
        ]))
        .unwrap();
        assert_eq!(s.remaining, 9);
        assert!(s.reset > Duration::from_secs(86_400));
        assert_eq!(standing(&HeaderMap::new()), None);
    }

    fn reply(pairs: &[(&'static str, &'static str)]) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: h(pairs),
            body: Vec::new(),
        }
    }

    /// A server whose headers lie (count above the limit, a huge or negative reset) cannot
    /// hold a call longer than `max_retry_after_s` or past its deadline.
    #[test]
    fn lying_headers_are_bounded() {
        let cfg = Config::from_json(Some(
            r#"{"token_url":"http://127.0.0.1:9/t","api_base":"http://127.0.0.1:9","client_id":"a","client_secret":"b","max_retry_after_s":1}"#,
        ))
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let p = Pacer::default();
            let far = Instant::now() + Duration::from_secs(30);
            // the first call has nothing to go by
            let first = p.acquire(&cfg, 1, far, false).await.ok().unwrap();
            first.observe(
                &cfg,
                &reply(&[
                    ("inin-ratelimit-allowed", "10"),
                    ("inin-ratelimit-count", "99"),
                    ("inin-ratelimit-reset", "99999999999999"),
                ]),
            );
            // a deadline before the (capped) reset: ends at once, unsent, with a 429
            let started = Instant::now();
            let soon = started + Duration::from_millis(300);
            let r = p.acquire(&cfg, 1, soon, false).await.err().unwrap();
            assert_eq!(r.status, 429);
            assert_eq!(r.headers.get("x-cxoauth-paced").unwrap(), "1");
            assert!(started.elapsed() < Duration::from_millis(100));
            // fail_fast (the call's pacing option): a call that would be held ends at once
            let r = p.acquire(&cfg, 1, far, true).await.err().unwrap();
            assert_eq!(r.headers.get("x-cxoauth-paced").unwrap(), "1");
            assert!(started.elapsed() < Duration::from_millis(100));
            // a far deadline: waits at most max_retry_after_s (1 s), not the claimed reset
            let permit = p.acquire(&cfg, 1, far, false).await.ok().unwrap();
            assert!(
                started.elapsed() <= Duration::from_millis(1200),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(p.waits.load(Ordering::Relaxed), 1);
            // a negative reset: the window is over, nothing holds calls back
            permit.observe(
                &cfg,
                &reply(&[
                    ("inin-ratelimit-allowed", "10"),
                    ("inin-ratelimit-count", "10"),
                    ("inin-ratelimit-reset", "-3"),
                ]),
            );
            let t = Instant::now();
            drop(p.acquire(&cfg, 1, far, false).await.ok().unwrap());
            assert!(t.elapsed() < Duration::from_millis(100));
            // a new token has its own window
            let t = Instant::now();
            drop(p.acquire(&cfg, 2, far, false).await.ok().unwrap());
            assert!(t.elapsed() < Duration::from_millis(100));
        });
    }
}
