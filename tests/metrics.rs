//! `oauth_client_metrics` (Rust side) and token events against the simulator: counts agree
//! with what the simulator saw after a fault scenario, histogram counts equal the calls made,
//! the exposition passes `promtool check metrics` (Debian's `prometheus` package: required,
//! scripts/test.sh and .ci/run install it), events arrive once each and in order, and no
//! label or event holds a secret, a token, the client id or a query string.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use cxoauth::events::{Event, EventKind};
use cxoauth::metrics::Format;
use cxoauth_sim::Target;

/// The value of the one sample of `name` whose labels include every `k="v"` of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let hits: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(hits.len(), 1, "{name} {labels:?} in:\n{text}");
    hits[0]
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is required (apt-get install --no-install-recommends prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // promtool exits 0 without lint problems, 3 with lint problems only, 1 on parse errors
    assert!(
        out.status.success(),
        "promtool check metrics: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn counts_agree_with_the_simulator_and_events_arrive_in_order() {
    let sim = sim();
    let c = client(&sim, r#""metrics_name":"pbx-1""#);
    let (tx, rx) = mpsc::channel::<Event>();
    let tx = std::sync::Mutex::new(tx);
    c.stats()
        .metrics
        .events
        .set(Some(Box::new(move |e: &Event| {
            let _ = tx.lock().unwrap().send(e.clone());
        })));
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("an event");

    // fetch
    assert_eq!(get(&c, "/api/v2/echo?q=1").unwrap().status, 200);
    let e = next();
    assert_eq!(e.kind, EventKind::TokenFetched);
    assert!(e.expires_unix_ms > e.time_unix_ms);
    // 429 then fine
    sim.inject(fault(Target::Api, 1, status(429, None)));
    assert_eq!(get(&c, "/api/v2/echo?q=1").unwrap().status, 200);
    let e = next();
    assert_eq!((e.kind, e.http_status), (EventKind::RateLimited, 429));
    assert_eq!(next().kind, EventKind::RateLimitCleared);
    // 503 then fine
    sim.inject(fault(Target::Api, 1, status(503, None)));
    assert_eq!(get(&c, "/api/v2/echo?q=1").unwrap().status, 200);
    // revocation: 401 → invalidated + fetched
    sim.revoke_all();
    assert_eq!(get(&c, "/api/v2/echo?q=1").unwrap().status, 200);
    let e = next();
    assert_eq!((e.kind, e.http_status), (EventKind::TokenInvalidated, 401));
    assert_eq!(next().kind, EventKind::TokenFetched);
    // a final 404 and a call that fails without a status (POST, connection dropped)
    sim.inject(fault(Target::Api, 1, status(404, None)));
    assert_eq!(get(&c, "/api/v2/echo?q=1").unwrap().status, 404);
    sim.inject(fault(Target::Api, 1, cxoauth_sim::Action::Drop));
    let req = c.prepare("POST", "/api/v2/echo", &[], None).unwrap();
    assert!(c.request_blocking(req, None).is_err());
    let token = c.token_blocking(None).unwrap();

    let seen = sim.counters();
    let text = c.metrics(Format::Prometheus);
    let total = |cause| value(&text, "cxoauth_http_attempts_total", &[("cause", cause)]);
    let attempts: f64 = ["first", "429", "5xx", "network", "401"]
        .into_iter()
        .map(total)
        .sum();
    assert_eq!(attempts, seen.api_requests as f64, "{text}");
    assert_eq!(total("first"), 6.0);
    assert_eq!(total("429"), 1.0);
    assert_eq!(total("5xx"), 1.0);
    assert_eq!(total("401"), 1.0);
    let ok = value(&text, "cxoauth_token_fetches_total", &[("outcome", "ok")]);
    assert_eq!(ok, seen.token_requests as f64);
    assert_eq!(ok, 2.0);
    assert_eq!(
        value(&text, "cxoauth_token_fetch_duration_seconds_count", &[]),
        2.0
    );
    let server = url::Url::parse(&sim.base_url())
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    let api = |code: &str| {
        value(
            &text,
            "http_client_request_duration_seconds_count",
            &[
                ("http_request_method", "GET"),
                ("http_response_status_code", code),
                ("server_address", &server),
            ],
        )
    };
    assert_eq!(api("200"), 4.0);
    assert_eq!(api("404"), 1.0);
    let failed = value(
        &text,
        "http_client_request_duration_seconds_count",
        &[("http_request_method", "POST"), ("error_type", "network")],
    );
    assert_eq!(failed, 1.0);
    let inf = value(
        &text,
        "http_client_request_duration_seconds_bucket",
        &[("http_response_status_code", "200"), ("le", "+Inf")],
    );
    assert_eq!(inf, 4.0);
    assert!(value(&text, "cxoauth_token_cache_hits_total", &[]) >= 1.0);
    assert!(value(&text, "cxoauth_token_remaining_lifetime_seconds", &[]) > 0.0);
    assert_eq!(
        value(&text, "cxoauth_rate_limited_until_timestamp_seconds", &[]),
        0.0
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("client=\"pbx-1\""), "{line}");
    }
    for forbidden in [CLIENT_ID, SECRET, token.value.as_str(), "?"] {
        assert!(!text.contains(forbidden), "{forbidden:?} in the metrics");
    }
    assert_eq!(
        text.matches("# TYPE ").count(),
        text.matches("# HELP ").count()
    );
    promtool_check(&text);

    let json: serde_json::Value = serde_json::from_str(&c.metrics(Format::Json)).unwrap();
    let fams = json["families"].as_array().unwrap();
    assert_eq!(fams.len(), text.matches("# TYPE ").count());
    let samples: usize = fams
        .iter()
        .map(|f| f["samples"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        samples,
        text.lines().filter(|l| !l.starts_with('#')).count()
    );

    // nothing else arrived, and no event holds a secret
    c.stats().metrics.events.set(None);
    assert!(rx.try_recv().is_err(), "an unexpected event");
}

#[test]
fn default_client_label_is_a_hash_and_events_carry_no_secret() {
    let sim = sim();
    let c = client(&sim, r#""max_retries":0"#);
    let (tx, rx) = mpsc::channel::<Event>();
    let tx = std::sync::Mutex::new(tx);
    c.stats()
        .metrics
        .events
        .set(Some(Box::new(move |e: &Event| {
            let _ = tx.lock().unwrap().send(e.clone());
        })));
    sim.inject(fault(Target::Token, 1, status(401, None)));
    assert!(c.token_blocking(None).is_err());
    let e = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(e.kind, EventKind::TokenRefreshFailed);
    assert_eq!(e.result, cxoauth::ErrorKind::Auth as u32);
    assert!(!e.message.contains(SECRET) && !e.message.contains(CLIENT_ID));
    let text = c.metrics(Format::Prometheus);
    let name = cxoauth::metrics::default_name(CLIENT_ID);
    assert!(text.contains(&format!("client=\"{name}\"")));
    assert!(!text.contains(CLIENT_ID));
    assert_eq!(
        value(&text, "cxoauth_token_fetches_total", &[("outcome", "auth")]),
        1.0
    );
    assert_eq!(sim.counters().token_requests, 1);
    promtool_check(&text);
}

/// A paced run under the simulator's per-token quota: `cxoauth_pacing_wait_seconds_total` is
/// the time the calls spent held back (the calls' own time less the simulator's quick replies)
/// and `cxoauth_rate_limit_remaining` is what the simulator left in the window.
#[test]
fn pacing_families_agree_with_a_paced_run() {
    use std::time::Instant;
    let sim = sim();
    let (limit, calls) = (10u64, 8u64);
    sim.set_rate_limit(
        limit,
        Duration::from_secs(4),
        cxoauth_sim::RateLimitScope::Token,
    );
    let c = client(&sim, r#""max_retries":0"#);
    c.token_blocking(None).unwrap();
    let before = c.metrics(Format::Prometheus);
    assert_eq!(
        value(&before, "cxoauth_pacing_wait_seconds_total", &[]),
        0.0
    );
    // no API reply yet: no window known, no sample
    assert!(
        !before.contains("cxoauth_rate_limit_remaining{"),
        "{before}"
    );
    let started = Instant::now();
    for _ in 0..calls {
        assert_eq!(get(&c, "/api/v2/tokens/me").unwrap().status, 200);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let seen = sim.counters();
    assert_eq!(seen.api_requests, calls);
    assert_eq!(seen.api_429s, 0);

    let text = c.metrics(Format::Prometheus);
    promtool_check(&text);
    let waited = value(&text, "cxoauth_pacing_wait_seconds_total", &[]);
    let stats = c.stats_json();
    assert_eq!(
        waited,
        stats["pacing_wait_ms"].as_u64().unwrap() as f64 / 1000.0
    );
    // the first half of the window's quota goes out at once, the rest is spread: some waits,
    // within the run's time, and the run's time is mostly those waits
    assert!(stats["pacing_waits"].as_u64().unwrap() >= 2, "{stats}");
    assert!(
        waited > 0.5 && waited <= elapsed,
        "waited {waited} s of {elapsed} s"
    );
    assert!(elapsed - waited < 1.0, "waited {waited} s of {elapsed} s");
    // one window: the simulator counted every call in it
    assert_eq!(
        value(
            &text,
            "cxoauth_rate_limit_remaining",
            &[("client", &c.metrics_name())]
        ),
        (limit - seen.api_requests) as f64,
        "{text}"
    );
    assert_eq!(stats["rate_limit"]["remaining"], limit - seen.api_requests);

    // JSON: the same samples
    let json: serde_json::Value = serde_json::from_str(&c.metrics(Format::Json)).unwrap();
    let family = |name: &str| {
        json["families"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {json}"))
            .clone()
    };
    let f = family("cxoauth_pacing_wait_seconds_total");
    assert_eq!(f["type"], "counter");
    assert_eq!(f["samples"][0]["value"].as_f64().unwrap(), waited);
    let f = family("cxoauth_rate_limit_remaining");
    assert_eq!(f["type"], "gauge");
    assert_eq!(
        f["samples"][0]["value"].as_f64().unwrap(),
        (limit - seen.api_requests) as f64
    );
}
