//! Rendering of the recorded metrics ([`crate::obs::metrics`]) for `oauth_client_metrics`:
//! Prometheus text exposition 0.0.4 and the same families as JSON.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::obs::metrics::*;

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

        fams.push(Family {
            name: "cxoauth_pacing_wait_seconds_total",
            kind: "counter",
            help: "Time API calls waited for their slot when pacing to the rate-limit headers (rate_limit_pacing), in all.",
            samples: vec![sample(base(), self.pacing_wait_total().as_secs_f64())],
        });

        fams.push(Family {
            name: "cxoauth_rate_limit_remaining",
            kind: "gauge",
            help: "API requests left in the current rate-limit window, as the last reply's headers said less the calls sent since; absent while no window is known.",
            samples: self
                .rate_limit_remaining()
                .map(|r| sample(base(), r as f64))
                .into_iter()
                .collect(),
        });
        fams
    }

    /// As `rate_limited_until_unix_ms` of `oauth_client_stats`, in seconds; 0 when open.
    fn limited_until_unix_s(&self) -> f64 {
        let token_window = self.tokens().last_failure().and_then(|f| {
            (f.server_window && crate::rt::clock::boot_now_ns() < f.until_boot_ns)
                .then(|| SystemTime::now() + crate::rt::clock::boot_until(f.until_boot_ns))
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
    fn labels_and_numbers() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
