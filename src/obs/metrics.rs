//! Metrics in the forms operations teams scrape (`oauth_client_metrics`): Prometheus text
//! exposition 0.0.4 and the same families as JSON, with OpenTelemetry's name for the API
//! latency histogram (`http.client.request.duration` → `http_client_request_duration_seconds`).
//!
//! Recording is lock-free: relaxed atomic adds (the cache-hit counter sharded per thread, see
//! [`crate::obs::stats`]); the latency series of a new label set (method, status or error type,
//! server) is added once, copy-on-write with a compare-and-swap (`ArcSwap::rcu`), and found
//! afterwards with one `ArcSwap` load and a short scan.
//!
//! `--cfg bench_no_metrics` (set only by `scripts/bench-metrics.sh` for its comparison build)
//! compiles the recording out, to measure what it costs on the request path. Rendering reads the atomics; it takes no lock the request
//! path takes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::events::{Event, EventKind, EventSink};
use crate::error::{ErrorKind, Result};

/// Upper bounds (seconds) of the latency histograms' buckets: OpenTelemetry's advice for
/// `http.client.request.duration`, plus `+Inf`. Fixed: part of the documented output.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
pub(crate) const BUCKETS_NS: [u64; 14] = [
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    75_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    750_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    7_500_000_000,
    10_000_000_000,
];

/// A histogram: per-bucket (not cumulative) counts, the last one `+Inf`, and the sum in ns.
#[derive(Default)]
pub struct Histogram {
    pub(crate) counts: [AtomicU64; 15],
    pub(crate) sum_ns: AtomicU64,
}

impl Histogram {
    #[inline]
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = BUCKETS_NS.iter().position(|&b| ns <= b).unwrap_or(14);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Cumulative counts (the last is the total) and the sum in seconds.
    pub(crate) fn snapshot(&self) -> ([u64; 15], f64) {
        let mut out = [0u64; 15];
        let mut acc = 0;
        for (o, c) in out.iter_mut().zip(&self.counts) {
            acc += c.load(Relaxed);
            *o = acc;
        }
        (out, self.sum_ns.load(Relaxed) as f64 / 1e9)
    }
}

/// The labels of one API latency series.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey {
    pub(crate) method: &'static str,
    /// The HTTP status, or 0 with `error_type`.
    pub(crate) status: u16,
    pub(crate) error_type: &'static str,
    pub(crate) server: Arc<str>,
}

pub(crate) struct ApiSeries {
    pub(crate) key: ApiKey,
    pub(crate) hist: Histogram,
}

/// More label sets than this go to one `_OTHER` series.
pub(crate) const MAX_API_SERIES: usize = 256;

/// `cxoauth_http_attempts_total{cause}`.
pub const CAUSES: [&str; 5] = ["first", "429", "5xx", "network", "401"];
pub const CAUSE_FIRST: u8 = 0;
pub const CAUSE_401: u8 = 4;

/// `cxoauth_token_fetches_total{outcome}`: the six of the issue, then the rest.
pub(crate) const OUTCOMES: [&str; 9] = [
    "ok",
    "auth",
    "rate_limited",
    "server",
    "network",
    "timeout",
    "protocol",
    "cancelled",
    "other",
];

pub(crate) const BACKENDS: [&str; 2] = ["file", "redis"];
pub(crate) const CACHE_OUTCOMES: [&str; 2] = ["ok", "error"];

/// A client's metrics and its event sink (a part of [`crate::obs::stats::Stats`]).
#[derive(Default)]
pub struct Metrics {
    pub(crate) api: ArcSwap<Vec<Arc<ApiSeries>>>,
    pub(crate) attempts: [AtomicU64; 5],
    pub(crate) fetches: [AtomicU64; 9],
    pub(crate) fetch_duration: Histogram,
    pub(crate) shared: [[AtomicU64; 2]; 2],
    pub events: EventSink,
}

impl Metrics {
    /// One sent API attempt (`cause` an index of [`CAUSES`]).
    #[inline]
    pub fn attempt(&self, cause: u8) {
        if cfg!(bench_no_metrics) {
            return; // the bench's comparison build (scripts/bench-metrics.sh)
        }
        self.attempts[usize::from(cause).min(4)].fetch_add(1, Relaxed);
    }

    /// One API call as the caller saw it.
    pub fn api_call(
        &self,
        method: &reqwest::Method,
        server: Option<&str>,
        elapsed: Duration,
        result: &Result<crate::HttpResponse>,
    ) {
        let (status, error_type) = match result {
            Ok(r) => (r.status, ""),
            Err(e) => (0, error_type(e.kind)),
        };
        let method = method_label(method);
        let server = server.unwrap_or("");
        let found = |v: &Vec<Arc<ApiSeries>>| {
            v.iter()
                .find(|s| {
                    s.key.status == status
                        && s.key.method == method
                        && s.key.error_type == error_type
                        && &*s.key.server == server
                })
                .cloned()
        };
        let series = match found(&self.api.load()) {
            Some(s) => s,
            None => self.add_series(ApiKey {
                method,
                status,
                error_type,
                server: server.into(),
            }),
        };
        series.hist.observe(elapsed);
    }

    /// The series of `key` (the first call with a new label set): added copy-on-write with a
    /// compare-and-swap, retried if another thread added one meanwhile (lock-free). Past
    /// [`MAX_API_SERIES`] label sets, the `_OTHER` series.
    #[cold]
    fn add_series(&self, key: ApiKey) -> Arc<ApiSeries> {
        let mut made: Option<Arc<ApiSeries>> = None;
        let mut pick: Option<Arc<ApiSeries>> = None;
        self.api.rcu(|cur| {
            let key = if cur.len() < MAX_API_SERIES || cur.iter().any(|s| s.key == key) {
                key.clone()
            } else {
                other_key()
            };
            if let Some(s) = cur.iter().find(|s| s.key == key) {
                pick = Some(Arc::clone(s));
                return Arc::clone(cur);
            }
            // a series made in an attempt that lost the race is reused (nothing observed yet)
            let s = match made.take() {
                Some(s) if s.key == key => s,
                _ => Arc::new(ApiSeries {
                    key,
                    hist: Histogram::default(),
                }),
            };
            let mut v = (**cur).clone();
            v.push(Arc::clone(&s));
            made = Some(Arc::clone(&s));
            pick = Some(s);
            Arc::new(v)
        });
        // `rcu` runs the closure at least once: `pick` is set
        pick.unwrap_or_else(|| {
            Arc::new(ApiSeries {
                key: other_key(),
                hist: Histogram::default(),
            })
        })
    }

    /// A token fetch ended: its outcome, its duration, and its event (not for one ended by
    /// `oauth_close`/cancellation).
    /// `result`: the token's expiry (Unix ms) or the failure.
    pub fn fetch_done(&self, result: &Result<u64>, elapsed: Duration) {
        if cfg!(bench_no_metrics) {
            return; // the bench's comparison build (scripts/bench-metrics.sh)
        }
        let i = match result {
            Ok(_) => 0,
            Err(e) => match e.kind {
                ErrorKind::Auth => 1,
                ErrorKind::RateLimited => 2,
                ErrorKind::Server => 3,
                ErrorKind::Network | ErrorKind::Tls => 4,
                ErrorKind::Timeout => 5,
                ErrorKind::Protocol => 6,
                ErrorKind::Cancelled | ErrorKind::Closed => 7,
                _ => 8,
            },
        };
        self.fetches[i].fetch_add(1, Relaxed);
        self.fetch_duration.observe(elapsed);
        match result {
            Ok(expires_unix_ms) => {
                let expires_unix_ms = *expires_unix_ms;
                self.events.not_rate_limited();
                let mut e = Event::new(
                    EventKind::TokenFetched,
                    format!(
                        "token fetched: expires in {} s",
                        Duration::from_millis(expires_unix_ms.saturating_sub(now_ms())).as_secs()
                    ),
                );
                e.expires_unix_ms = expires_unix_ms;
                self.events.emit(e);
            }
            Err(_) if i == 7 => {}
            Err(err) => {
                if err.http_status == 429 || err.kind == ErrorKind::RateLimited {
                    self.events.rate_limited(
                        || "the token endpoint is rate limiting".to_string(),
                        err.kind.code(),
                    );
                }
                let mut e = Event::new(
                    EventKind::TokenRefreshFailed,
                    format!("token fetch failed: {}: {}", err.kind.name(), err.message),
                );
                e.result = err.kind.code();
                e.http_status = err.http_status;
                self.events.emit(e);
            }
        }
    }

    /// The cached token was dropped (`status` 401: the API rejected it; 0: the host).
    pub fn invalidated(&self, status: u16) {
        if cfg!(bench_no_metrics) {
            return; // the bench's comparison build (scripts/bench-metrics.sh)
        }
        let mut e = Event::new(
            EventKind::TokenInvalidated,
            if status == 401 {
                "the API rejected the token (HTTP 401): it was dropped"
            } else {
                "the token was invalidated by the host"
            },
        );
        e.http_status = status;
        self.events.emit(e);
    }

    /// The API answered: a 429 starts a rate-limit episode, anything else ends one.
    pub fn api_status(&self, status: u16, retry_after: Option<Duration>) {
        if cfg!(bench_no_metrics) {
            return; // the bench's comparison build (scripts/bench-metrics.sh)
        }
        if status == 429 {
            self.events.rate_limited(
                || match retry_after {
                    Some(d) => format!(
                        "the API is rate limiting (Retry-After {} ms)",
                        d.as_millis()
                    ),
                    None => "the API is rate limiting".to_string(),
                },
                0,
            );
        } else {
            self.events.not_rate_limited();
        }
    }

    /// One shared-cache operation (`redis`: the backend is Redis, else the file cache).
    pub fn shared_cache_op(&self, redis: bool, ok: bool) {
        if cfg!(bench_no_metrics) {
            return; // the bench's comparison build (scripts/bench-metrics.sh)
        }
        self.shared[usize::from(redis)][usize::from(!ok)].fetch_add(1, Relaxed);
    }
}

/// The one series of every label set past [`MAX_API_SERIES`].
fn other_key() -> ApiKey {
    ApiKey {
        method: "_OTHER",
        status: 0,
        error_type: "_OTHER",
        server: "".into(),
    }
}

pub(crate) fn now_ms() -> u64 {
    crate::rt::clock::unix_ms_after(Duration::ZERO)
}

/// OpenTelemetry's `http.request.method`: the known methods, else `_OTHER` (bounded labels).
pub(crate) fn method_label(m: &reqwest::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|k| **k == m.as_str())
        .copied()
        .unwrap_or("_OTHER")
}

/// OpenTelemetry's `error.type` for a call without an HTTP status: the error class.
pub(crate) fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "invalid_argument",
        ErrorKind::Config => "config",
        ErrorKind::Network => "network",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Tls => "tls",
        ErrorKind::Auth => "auth",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Server => "server",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Internal => "internal",
        ErrorKind::Closed => "closed",
    }
}

/// The default `client` label: the first 12 hex digits of SHA-256 over the client id (never
/// the id itself).
pub fn default_name(client_id: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("cxoauth-metrics\0{client_id}").as_bytes(),
    );
    d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(crate) fn buckets_agree() {
        for (s, ns) in BUCKETS.iter().zip(BUCKETS_NS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
        let h = Histogram::default();
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(6));
        h.observe(Duration::from_secs(11));
        let (cum, sum) = h.snapshot();
        assert_eq!(cum[0], 1);
        assert_eq!(cum[1], 2);
        assert_eq!(cum[13], 2);
        assert_eq!(cum[14], 3);
        assert!((sum - 11.011).abs() < 1e-9);
    }

    /// Threads adding label sets at once (lock-free, compare-and-swap): no observation is
    /// lost, every label set has one series, past the cap they go to `_OTHER`.
    #[test]
    fn series_added_concurrently() {
        let m = Metrics::default();
        let ok: Result<crate::HttpResponse> = Ok(crate::HttpResponse {
            status: 200,
            headers: Default::default(),
            body: Vec::new(),
        });
        std::thread::scope(|sc| {
            for t in 0..4 {
                let (m, ok) = (&m, &ok);
                sc.spawn(move || {
                    for i in 0..300 {
                        let server = format!("h{}", (i + t * 7) % 300);
                        m.api_call(&reqwest::Method::GET, Some(&server), Duration::ZERO, ok);
                    }
                });
            }
        });
        let v = m.api.load();
        assert_eq!(v.len(), MAX_API_SERIES + 1);
        let total: u64 = v.iter().map(|s| s.hist.snapshot().0[14]).sum();
        assert_eq!(total, 1200);
        let other = v.iter().filter(|s| s.key == other_key()).count();
        assert_eq!(other, 1);
        for s in v.iter().filter(|s| s.key != other_key()) {
            assert_eq!(s.hist.snapshot().0[14], 4, "{}", s.key.server);
        }
    }

    #[test]
    pub(crate) fn names() {
        assert_eq!(default_name("test-client").len(), 12);
        assert!(!default_name("test-client").contains("test"));
    }
}
