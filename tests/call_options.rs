//! Per-call options (issue 21 point 5: `oauth_request_ex`'s `options_json`, the Rust
//! `ApiRequest::with_options`) against the simulator: each key overrides the client's setting
//! for one call, and bad input is refused naming the key.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use cxoauth::{CallOptions, Client, ErrorKind, HttpResponse, PacingMode};
use cxoauth_sim::{Action, RateLimitScope, Target};

fn opts(json: &str) -> CallOptions {
    CallOptions::from_json(Some(json)).unwrap()
}

fn call(
    c: &Arc<Client>,
    method: &str,
    path: &str,
    o: CallOptions,
) -> cxoauth::Result<HttpResponse> {
    let req = c.prepare(method, path, &[], None)?.with_options(o);
    c.request_blocking(req, None)
}

fn stat(c: &Client, key: &str) -> u64 {
    c.stats_json()[key].as_u64().unwrap()
}

#[test]
fn deadline_ms_shorter_than_the_clients_ends_the_call_by_it() {
    let sim = sim();
    let c = client(&sim, r#""deadline_ms":20000"#);
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, Action::Delay { ms: 3000 }));
    let started = Instant::now();
    let e = call(&c, "GET", "/api/v2/echo", opts(r#"{"deadline_ms":300}"#)).unwrap_err();
    // the last attempt is cut to what is left of the deadline: "no complete reply ... within
    // 29x ms" (or "deadline of 300 ms exceeded")
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    // ended by its own deadline, not by the server's reply 3 s later or the client's 20 s
    assert!(started.elapsed() < Duration::from_millis(2500));
    // the client's own deadline is untouched for the next call
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
}

#[test]
fn timeout_ms_bounds_each_attempt() {
    let sim = sim();
    let c = client(&sim, r#""timeout_ms":10000"#);
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, Action::Delay { ms: 3000 }));
    let e = call(
        &c,
        "POST",
        "/api/v2/echo",
        opts(r#"{"timeout_ms":200,"max_retries":0}"#),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("within 200 ms"), "{}", e.message);
    // a GET with an attempt timeout is retried (idempotent): the second attempt answers
    sim.inject(fault(Target::Api, 1, Action::Delay { ms: 3000 }));
    let before = sim.counters().api_requests;
    let r = call(&c, "GET", "/api/v2/echo", opts(r#"{"timeout_ms":500}"#)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(sim.counters().api_requests - before, 2);
}

#[test]
fn max_retries_zero_and_n_as_counted_by_the_simulator() {
    let sim = sim();
    let c = client(&sim, r#""max_retries":3"#);
    c.token_blocking(None).unwrap();
    // 1 + 6 + 4 attempts below, each answered 503
    sim.inject(fault(Target::Api, 11, status(503, None)));
    let before = sim.counters().api_requests;
    let r = call(&c, "GET", "/api/v2/echo", opts(r#"{"max_retries":0}"#)).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(sim.counters().api_requests - before, 1);
    let before = sim.counters().api_requests;
    let r = call(&c, "GET", "/api/v2/echo", opts(r#"{"max_retries":5}"#)).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(sim.counters().api_requests - before, 6);
    // the client's 3 without options
    let before = sim.counters().api_requests;
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 503);
    assert_eq!(sim.counters().api_requests - before, 4);
}

#[test]
fn idempotent_overrides_the_methods_default() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    // a POST is not retried on 503 by default ...
    sim.inject(fault(Target::Api, 1, status(503, None)));
    let before = sim.counters().api_requests;
    assert_eq!(
        call(&c, "POST", "/api/v2/echo", CallOptions::default())
            .unwrap()
            .status,
        503
    );
    assert_eq!(sim.counters().api_requests - before, 1);
    // ... but is when the caller says it is idempotent
    sim.inject(fault(Target::Api, 1, status(503, None)));
    let before = sim.counters().api_requests;
    let r = call(&c, "POST", "/api/v2/echo", opts(r#"{"idempotent":true}"#)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(sim.counters().api_requests - before, 2);
    // a GET declared not idempotent is not retried
    sim.inject(fault(Target::Api, 1, status(503, None)));
    let before = sim.counters().api_requests;
    let r = call(&c, "GET", "/api/v2/echo", opts(r#"{"idempotent":false}"#)).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(sim.counters().api_requests - before, 1);
}

#[test]
fn resend_after_401_false_returns_the_401_without_a_new_token() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.revoke_all();
    let before = sim.counters();
    let r = call(
        &c,
        "GET",
        "/api/v2/echo",
        opts(r#"{"resend_after_401":false}"#),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    let k = sim.counters();
    assert_eq!(k.token_requests, before.token_requests, "{k:?}");
    assert_eq!(k.api_requests - before.api_requests, 1, "{k:?}");
    // the token was left alone: the next call (default: resend) sends into the 401 itself,
    // then gets one new token and succeeds
    let r = get(&c, "/api/v2/echo").unwrap();
    assert_eq!(r.status, 200);
    let k2 = sim.counters();
    assert_eq!(k2.token_requests - k.token_requests, 1, "{k2:?}");
    assert_eq!(k2.api_requests - k.api_requests, 2, "{k2:?}");
}

#[test]
fn pacing_fail_fast_ends_unsent_while_wait_waits() {
    let sim = sim();
    // 4 requests per 3 s per token: after two calls pacing spreads the other two over the
    // rest of the window
    sim.set_rate_limit(4, Duration::from_millis(3000), RateLimitScope::Token);
    let c = client(&sim, r#""max_retry_after_s":10"#);
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    assert_eq!(stat(&c, "pacing_waits"), 0);
    let before = sim.counters();
    let fast = CallOptions {
        pacing: PacingMode::FailFast,
        ..CallOptions::default()
    };
    assert_eq!(fast, opts(r#"{"pacing":"fail_fast"}"#));
    let r = call(&c, "GET", "/api/v2/echo", fast).unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("X-Cxoauth-Paced"), Some("1"));
    assert!(r.header("Retry-After").is_some());
    let k = sim.counters();
    assert_eq!(k.api_requests, before.api_requests, "not sent: {k:?}");
    assert_eq!(stat(&c, "pacing_waits"), 0);
    // "wait" (the default) waits for the slot, then sends
    let r = call(&c, "GET", "/api/v2/echo", opts(r#"{"pacing":"wait"}"#)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(stat(&c, "pacing_waits"), 1);
    let k = sim.counters();
    assert_eq!(k.api_requests - before.api_requests, 1, "{k:?}");
    assert_eq!(k.api_429s, 0, "{k:?}");
}

#[test]
fn bad_options_are_invalid_argument_naming_the_key() {
    for (text, names) in [
        (r#"{"retries":1}"#, "\"retries\""),
        (r#"{"deadline_ms":"100"}"#, "\"deadline_ms\""),
        (r#"{"deadline_ms":0}"#, "\"deadline_ms\""),
        (r#"{"timeout_ms":99999999}"#, "\"timeout_ms\""),
        (r#"{"max_retries":-1}"#, "\"max_retries\""),
        (r#"{"max_retries":1000}"#, "\"max_retries\""),
        (r#"{"idempotent":1}"#, "\"idempotent\""),
        (r#"{"resend_after_401":"no"}"#, "\"resend_after_401\""),
        (r#"{"pacing":"later"}"#, "\"pacing\""),
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("42", "must be a JSON object"),
    ] {
        let e = CallOptions::from_json(Some(text)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{text}");
        assert!(e.message.contains(names), "{text}: {}", e.message);
    }
    for empty in [None, Some(""), Some("{}")] {
        assert_eq!(
            CallOptions::from_json(empty).unwrap(),
            CallOptions::default()
        );
    }
}
