//! Metrics in the forms operations teams scrape (`oauth_client_metrics`): Prometheus text
//! exposition 0.0.4 and the same families as JSON, with OpenTelemetry's name for the API
//! latency histogram (`http.client.request.duration` → `http_client_request_duration_seconds`).
//!
//! Recording is lock-free: relaxed atomic adds (the cache-hit counter sharded per thread, see
//! [`crate::stats`]); the latency series of a new label set (method, status or error type,
//! server) is added copy-on-write under a mutex once, and found afterwards with one
//! `ArcSwap` load and a short scan. Rendering reads the atomics; it takes no lock the request
//! path takes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind, EventSink};
use crate::token::CachedToken;

/// Upper bounds (seconds) of the latency histograms' buckets: OpenTelemetry's advice for
/// `http.client.request.duration`, plus `+Inf`. Fixed: part of the documented output.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const BUCKETS_NS: [u64; 14] = [
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
    counts: [AtomicU64; 15],
    sum_ns: AtomicU64,
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
    fn snapshot(&self) -> ([u64; 15], f64) {
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
struct ApiKey {
    method: &'static str,
    /// The HTTP status, or 0 with `error_type`.
    status: u16,
    error_type: &'static str,
    server: Arc<str>,
}

struct ApiSeries {
    key: ApiKey,
    hist: Histogram,
}

/// More label sets than this go to one `_OTHER` series.
const MAX_API_SERIES: usize = 256;

/// `cxoauth_http_attempts_total{cause}`.
pub const CAUSES: [&str; 5] = ["first", "429", "5xx", "network", "401"];
pub const CAUSE_FIRST: u8 = 0;
pub const CAUSE_401: u8 = 4;

/// `cxoauth_token_fetches_total{outcome}`: the six of the issue, then the rest.
const OUTCOMES: [&str; 9] = [
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

const BACKENDS: [&str; 2] = ["file", "redis"];
const CACHE_OUTCOMES: [&str; 2] = ["ok", "error"];

/// A client's metrics and its event sink (a part of [`crate::stats::Stats`]).
#[derive(Default)]
pub struct Metrics {
    api: ArcSwap<Vec<Arc<ApiSeries>>>,
    api_grow: Mutex<()>,
    attempts: [AtomicU64; 5],
    fetches: [AtomicU64; 9],
    fetch_duration: Histogram,
    shared: [[AtomicU64; 2]; 2],
    pub events: EventSink,
}

impl Metrics {
    /// One sent API attempt (`cause` an index of [`CAUSES`]).
    #[inline]
    pub fn attempt(&self, cause: u8) {
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
            None => {
                let _g = self.api_grow.lock().unwrap_or_else(|p| p.into_inner());
                let cur = self.api.load_full();
                match found(&cur) {
                    Some(s) => s,
                    None => {
                        let key = if cur.len() < MAX_API_SERIES {
                            ApiKey {
                                method,
                                status,
                                error_type,
                                server: server.into(),
                            }
                        } else {
                            ApiKey {
                                method: "_OTHER",
                                status: 0,
                                error_type: "_OTHER",
                                server: "".into(),
                            }
                        };
                        let s = match cur.iter().find(|s| s.key == key) {
                            Some(s) => Arc::clone(s),
                            None => {
                                let s = Arc::new(ApiSeries {
                                    key,
                                    hist: Histogram::default(),
                                });
                                let mut v = (*cur).clone();
                                v.push(Arc::clone(&s));
                                self.api.store(Arc::new(v));
                                s
                            }
                        };
                        s
                    }
                }
            }
        };
        series.hist.observe(elapsed);
    }

    /// A token fetch ended: its outcome, its duration, and its event (not for one ended by
    /// `oauth_close`/cancellation).
    pub fn fetch_done(&self, result: &Result<Arc<CachedToken>>, elapsed: Duration) {
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
            Ok(t) => {
                self.events.not_rate_limited();
                let mut e = Event::new(
                    EventKind::TokenFetched,
                    format!(
                        "token fetched: expires in {} s",
                        Duration::from_millis(t.expires_unix_ms.saturating_sub(now_ms())).as_secs()
                    ),
                );
                e.expires_unix_ms = t.expires_unix_ms;
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
        self.shared[usize::from(redis)][usize::from(!ok)].fetch_add(1, Relaxed);
    }
}

fn now_ms() -> u64 {
    crate::clock::unix_ms_after(Duration::ZERO)
}

/// OpenTelemetry's `http.request.method`: the known methods, else `_OTHER` (bounded labels).
fn method_label(m: &reqwest::Method) -> &'static str {
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
fn error_type(kind: ErrorKind) -> &'static str {
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

/// Checks a `metrics_name`: 1 to 64 of `A-Z a-z 0-9 - _ . :`.
pub fn check_name(n: &str) -> Result<()> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "config key \"metrics_name\" must be 1 to 64 of A-Z a-z 0-9 - _ . :",
        ))
    }
}

/// The output format of [`Client::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "prometheus" => Ok(Format::Prometheus),
            "json" => Ok(Format::Json),
            _ => Err(Error::invalid("format must be \"prometheus\" or \"json\"")),
        }
    }
}

/// One sample of a family: name suffix (`_bucket`, ...), labels, value.
struct Sample {
    suffix: &'static str,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<Sample>,
}

fn sample(labels: Vec<(&'static str, String)>, value: f64) -> Sample {
    Sample {
        suffix: "",
        labels,
        value,
    }
}

fn histogram_samples(out: &mut Vec<Sample>, labels: Vec<(&'static str, String)>, hist: &Histogram) {
    let (cum, sum) = hist.snapshot();
    for (i, c) in cum.iter().enumerate() {
        let mut l = labels.clone();
        let le = BUCKETS
            .get(i)
            .map_or("+Inf".to_string(), |b| format!("{b}"));
        l.push(("le", le));
        out.push(Sample {
            suffix: "_bucket",
            labels: l,
            value: *c as f64,
        });
    }
    out.push(Sample {
        suffix: "_sum",
        labels: labels.clone(),
        value: sum,
    });
    out.push(Sample {
        suffix: "_count",
        labels,
        value: cum[14] as f64,
    });
}

impl Client {
    /// The client's metrics as Prometheus text exposition (0.0.4) or JSON.
    pub fn metrics(&self, format: Format) -> String {
        let fams = self.families();
        match format {
            Format::Prometheus => prometheus_text(&fams),
            Format::Json => json_text(&fams),
        }
    }

    /// The `client` label of every sample.
    pub fn metrics_name(&self) -> String {
        self.config()
            .metrics_name
            .clone()
            .unwrap_or_else(|| default_name(&self.config().client_id))
    }

    fn families(&self) -> Vec<Family> {
        let m = &self.stats().metrics;
        let client = self.metrics_name();
        let base = || vec![("client", client.clone())];
        let mut fams = Vec::new();

        let mut s = Vec::new();
        for series in self.stats().metrics.api.load().iter() {
            let k = &series.key;
            let mut l = base();
            l.push(("http_request_method", k.method.to_string()));
            if k.status != 0 {
                l.push(("http_response_status_code", k.status.to_string()));
            } else {
                l.push(("error_type", k.error_type.to_string()));
            }
            l.push(("server_address", k.server.to_string()));
            histogram_samples(&mut s, l, &series.hist);
        }
        fams.push(Family {
            name: "http_client_request_duration_seconds",
            kind: "histogram",
            help: "Duration of API calls as the caller saw them, retries and waits included (OpenTelemetry http.client.request.duration).",
            samples: s,
        });

        let attempts = CAUSES
            .iter()
            .zip(&m.attempts)
            .map(|(c, n)| {
                let mut l = base();
                l.push(("cause", c.to_string()));
                sample(l, n.load(Relaxed) as f64)
            })
            .collect();
        fams.push(Family {
            name: "cxoauth_http_attempts_total",
            kind: "counter",
            help: "API requests sent, by cause: first, 429, 5xx, network (resent after a failure), 401 (resent with a new token).",
            samples: attempts,
        });

        let fetches = OUTCOMES
            .iter()
            .zip(&m.fetches)
            .map(|(o, n)| {
                let mut l = base();
                l.push(("outcome", o.to_string()));
                sample(l, n.load(Relaxed) as f64)
            })
            .collect();
        fams.push(Family {
            name: "cxoauth_token_fetches_total",
            kind: "counter",
            help: "Token fetches that ended, by outcome.",
            samples: fetches,
        });

        let mut s = Vec::new();
        histogram_samples(&mut s, base(), &m.fetch_duration);
        fams.push(Family {
            name: "cxoauth_token_fetch_duration_seconds",
            kind: "histogram",
            help: "Duration of token fetches (token endpoint or shared cache), retries included.",
            samples: s,
        });

        fams.push(Family {
            name: "cxoauth_token_cache_hits_total",
            kind: "counter",
            help: "Token reads answered from the process cache.",
            samples: vec![sample(base(), self.stats().token_cache_hits.get() as f64)],
        });

        let remaining = self
            .tokens()
            .current()
            .filter(|t| t.is_usable())
            .map_or(0.0, |t| {
                t.expires_unix_ms.saturating_sub(now_ms()) as f64 / 1000.0
            });
        fams.push(Family {
            name: "cxoauth_token_remaining_lifetime_seconds",
            kind: "gauge",
            help: "Seconds until the cached token expires; 0 without a usable token.",
            samples: vec![sample(base(), remaining)],
        });

        let mut s = Vec::new();
        for (b, row) in BACKENDS.iter().zip(&m.shared) {
            for (o, n) in CACHE_OUTCOMES.iter().zip(row) {
                let mut l = base();
                l.push(("backend", b.to_string()));
                l.push(("outcome", o.to_string()));
                s.push(sample(l, n.load(Relaxed) as f64));
            }
        }
        fams.push(Family {
            name: "cxoauth_shared_cache_operations_total",
            kind: "counter",
            help: "Operations on the shared token cache (token_cache), by backend and outcome.",
            samples: s,
        });

        fams.push(Family {
            name: "cxoauth_rate_limited_until_timestamp_seconds",
            kind: "gauge",
            help: "Unix time until which the client holds requests back after a 429 with Retry-After (API or token endpoint); 0 when open.",
            samples: vec![sample(base(), self.limited_until_unix_s())],
        });
        fams
    }

    /// As `rate_limited_until_unix_ms` of `oauth_client_stats`, in seconds; 0 when open.
    fn limited_until_unix_s(&self) -> f64 {
        let token_window = self.tokens().last_failure().and_then(|f| {
            (f.server_window && crate::clock::boot_now_ns() < f.until_boot_ns)
                .then(|| SystemTime::now() + crate::clock::boot_until(f.until_boot_ns))
        });
        [self.rate_limited_until(), token_window]
            .into_iter()
            .flatten()
            .max()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_millis() as f64 / 1000.0)
    }
}

fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn prometheus_text(fams: &[Family]) -> String {
    let mut out = String::new();
    for f in fams {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for s in &f.samples {
            out.push_str(f.name);
            out.push_str(s.suffix);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", label_value(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(s.value));
        }
    }
    out
}

fn json_text(fams: &[Family]) -> String {
    let families: Vec<serde_json::Value> = fams
        .iter()
        .map(|f| {
            let samples: Vec<serde_json::Value> = f
                .samples
                .iter()
                .map(|s| {
                    let labels: serde_json::Map<String, serde_json::Value> = s
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v.as_str())))
                        .collect();
                    serde_json::json!({
                        "name": format!("{}{}", f.name, s.suffix),
                        "labels": labels,
                        "value": s.value,
                    })
                })
                .collect();
            serde_json::json!({
                "name": f.name,
                "type": f.kind,
                "help": f.help,
                "samples": samples,
            })
        })
        .collect();
    serde_json::json!({ "families": families }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_agree() {
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

    #[test]
    fn names_and_labels() {
        assert_eq!(default_name("test-client").len(), 12);
        assert!(!default_name("test-client").contains("test"));
        assert!(check_name("pbx-1.eu:a_b").is_ok());
        for bad in ["", "a b", "a\"b", "x\n", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
