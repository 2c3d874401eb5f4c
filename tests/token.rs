//! Token manager behaviour against the real simulator.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use cxoauth::{Config, ErrorKind};
use cxoauth_sim::{Action, Target};

#[test]
fn token_is_cached_and_reused() {
    let sim = sim();
    let c = client(&sim, "");
    let t1 = c.token_blocking(None).unwrap();
    let t2 = c.token_blocking(None).unwrap();
    assert_eq!(t1.value.as_str(), t2.value.as_str());
    assert_eq!(sim.counters().token_requests, 1);
    assert_eq!(sim.counters().tokens_issued, 1);
    // the server's expires_in (86400) is used: refresh half-way (refresh_at_fraction 0.5)
    let life = t1.expires_at - Instant::now();
    assert!(life > Duration::from_secs(86_000) && life <= Duration::from_secs(86_400));
    assert_eq!(t1.expires_at - t1.refresh_at, Duration::from_secs(43_200));
}

#[test]
fn short_lifetime_from_expires_in_is_honoured() {
    let sim = sim();
    sim.set_token_lifetime(300);
    let c = client(&sim, "");
    let t = c.token_blocking(None).unwrap();
    let life = t.expires_at - Instant::now();
    assert!(life <= Duration::from_secs(300) && life > Duration::from_secs(290));
}

#[test]
fn idle_client_refreshes_before_expiry_on_its_own() {
    let sim = sim();
    // lifetime 4 s, margin 3 s clamped to half the lifetime: the refresh timer fires after
    // about 2 s (up to a tenth of the margin early), the token expires after 4 s
    sim.set_token_lifetime(4);
    let c = client(&sim, r#""refresh_margin_s":3"#);
    let t1 = c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().token_requests, 1);
    // no call at all: the timer refreshes
    wait_counters(&sim, "proactive refresh", |c| c.tokens_issued == 2);
    assert!(Instant::now() < t1.expires_at, "refreshed before expiry");
    assert!(
        Instant::now() + Duration::from_millis(300) > t1.refresh_at,
        "not too early"
    );
    // the reply is on its way to the client: wait (bounded) for it to be stored
    let until = Instant::now() + Duration::from_secs(5);
    while c.token_blocking(None).unwrap().value.as_str() == t1.value.as_str() {
        assert!(Instant::now() < until, "refreshed token never stored");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(Instant::now() < t1.expires_at);
    assert_eq!(sim.counters().token_requests, 2, "exactly one refresh");
}

#[test]
fn valid_token_is_served_while_refreshes_fail() {
    let sim = sim();
    sim.set_token_lifetime(6);
    let c = client(&sim, r#""refresh_margin_s":3,"max_retries":0"#);
    let t1 = c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Token, 1000, status(503, None)));
    // the timer's refresh fails (and is tried again after its backoff window)
    wait_counters(&sim, "failed refreshes", |c| c.token_requests >= 3);
    // readers still get the valid token, at once
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(
            c.token_blocking(None).unwrap().value.as_str(),
            t1.value.as_str()
        );
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(Instant::now() < t1.expires_at);
    // once the endpoint recovers, the next timer attempt renews it
    sim.reset();
    wait_counters(&sim, "renewed", |c| c.tokens_issued >= 1);
    let until = Instant::now() + Duration::from_secs(5);
    while c.token_blocking(None).unwrap().value.as_str() == t1.value.as_str() {
        assert!(Instant::now() < until, "not renewed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn stampede_of_64_threads_makes_one_token_request() {
    let sim = sim();
    // a slow token endpoint keeps the fetch in flight while all threads arrive
    sim.inject(fault(Target::Token, 1, Action::Delay { ms: 300 }));
    let c = client(&sim, "");
    let barrier = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let c = c.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                c.token_blocking(None).unwrap().value.to_string()
            })
        })
        .collect();
    let tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_eq!(sim.counters().token_requests, 1);
}

#[test]
fn basic_auth_with_special_characters_in_secret() {
    let sim = sim();
    let c = client(&sim, r#""client_auth":"basic""#);
    c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().tokens_issued, 1);
}

#[test]
fn body_auth() {
    let sim = sim();
    let c = client(&sim, r#""client_auth":"body""#);
    c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().tokens_issued, 1);
}

#[test]
fn invalid_client_is_auth_error_without_retry_or_secret() {
    let sim = sim();
    let json = config_json(&sim, r#""client_secret":"wrong-secret-value""#);
    let c = Arc::new(cxoauth::Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.oauth_code.as_deref(), Some("invalid_client"));
    assert_eq!(e.http_status, 401);
    assert!(!e.message.contains("wrong-secret-value"), "{}", e.message);
    assert!(!format!("{e:?}").contains("wrong-secret-value"));
    assert_eq!(sim.counters().token_requests, 1, "no retry");
}

#[test]
fn token_rate_limit_400_is_retried_then_succeeds() {
    let sim = sim();
    sim.inject(fault(Target::Token, 2, status(400, None)));
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().token_requests, 3);
}

#[test]
fn token_rate_limit_exhausting_retries_is_rate_limited() {
    let sim = sim();
    sim.inject(fault(Target::Token, 10, status(400, None)));
    let c = client(&sim, r#""max_retries":2"#);
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.http_status, 400);
    assert_eq!(e.oauth_code.as_deref(), Some("invalid_request"));
    assert_eq!(sim.counters().token_requests, 3);
}

#[test]
fn token_5xx_and_dropped_connections_are_retried() {
    let sim = sim();
    sim.inject(fault(Target::Token, 1, status(503, None)));
    sim.inject(fault(Target::Token, 1, Action::Drop));
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().token_requests, 3);

    let sim = common::sim();
    sim.inject(fault(Target::Token, 10, status(500, None)));
    let c = client(&sim, r#""max_retries":1"#);
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(e.http_status, 500);
}

#[test]
fn malformed_token_replies_are_protocol_errors() {
    for body in [
        "not json at all",
        r#"{"token_type":"bearer","expires_in":86400}"#,
        r#"{"access_token":"abc","token_type":"bearer","expires_in":"86400"}"#,
        r#"{"access_token":"abc","token_type":"bearer","expires_in":0}"#,
        r#"{"access_token":"abc","token_type":"bearer","expires_in":-1}"#,
        r#"{"access_token":"abc","token_type":"bearer""#,
    ] {
        let sim = sim();
        sim.inject(fault(
            Target::Token,
            1,
            Action::TokenReply {
                status: 200,
                body: body.to_string(),
            },
        ));
        let c = client(&sim, "");
        let e = c.token_blocking(None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{body}: {e:?}");
        assert_eq!(sim.counters().token_requests, 1, "{body}: not retried");
        // the client stays usable once the failure cache (backoff_base_ms) has passed
        std::thread::sleep(Duration::from_millis(25));
        c.token_blocking(None).unwrap();
    }
}

#[test]
fn slow_token_endpoint_times_out_within_deadline() {
    let sim = sim();
    sim.inject(fault(Target::Token, 10, Action::Delay { ms: 3_000 }));
    let c = client(&sim, r#""timeout_ms":200,"deadline_ms":700"#);
    let started = Instant::now();
    let e = c.token_blocking(None).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(took < Duration::from_millis(1_500), "took {took:?}");
}

#[test]
fn failed_fetch_is_not_repeated_by_every_caller() {
    let sim = sim();
    let json = config_json(&sim, r#""backoff_base_ms":60000,"client_secret":"wrong""#);
    let c = Arc::new(cxoauth::Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    for _ in 0..20 {
        assert_eq!(c.token_blocking(None).unwrap_err().kind, ErrorKind::Auth);
    }
    assert_eq!(sim.counters().token_requests, 1);
}

/// `close` during a token fetch: the waiting caller ends Cancelled within a second (the
/// server would answer after 5 s), every later call is Closed at once, the cached-token path
/// included, and no further token request is sent.
#[test]
fn close_ends_the_fetch_and_every_later_call_is_closed() {
    let sim = sim();
    let c = client(&sim, "");
    let first = c.token_blocking(None).unwrap();
    c.tokens().invalidate(first.generation);
    sim.inject(fault(Target::Token, 1, Action::Delay { ms: 5000 }));
    let waiter = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || c.token_blocking(None).map(|_| ()).unwrap_err().kind)
    };
    let t0 = Instant::now();
    while sim.counters().token_requests < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "fetch never started"
        );
        std::thread::yield_now();
    }
    let closed_at = Instant::now();
    c.close();
    assert_eq!(waiter.join().unwrap(), ErrorKind::Cancelled);
    assert!(closed_at.elapsed() < Duration::from_secs(1));
    assert_eq!(c.token_blocking(None).unwrap_err().kind, ErrorKind::Closed);
    let req = c.prepare("GET", "/api/v2/echo", &[], None).unwrap();
    assert_eq!(
        c.request_blocking(req, None).unwrap_err().kind,
        ErrorKind::Closed
    );
    c.close(); // idempotent
    assert_eq!(c.tokens().fetch_count(), 2);
    assert_eq!(sim.counters().token_requests, 2);
}

/// A token endpoint's `Retry-After` longer than `max_retry_after_s` (a WAF asking for a day)
/// holds token requests back for that cap only: calls meanwhile fail at once as rate limited
/// without a request, then one request probes and the token comes. Within 5 s, 2 token
/// requests.
#[test]
fn token_endpoint_retry_after_is_capped_then_probed() {
    let sim = sim();
    sim.inject(fault(Target::Token, 1, status(429, Some("86400"))));
    let c = client(&sim, r#""max_retry_after_s":1"#);
    let t0 = Instant::now();
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(sim.counters().token_requests, 1);
    // the capped window ends after 1 s: then a probe, which gets the token
    loop {
        match c.token_blocking(None) {
            Ok(_) => break,
            Err(e) => assert_eq!(e.kind, ErrorKind::RateLimited),
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "never probed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sim.counters().token_requests, 2);
}

/// A token that was replaced (after a 401 here) is dropped at once with its refresh timer,
/// not kept until the timer would have fired (a day later).
#[test]
fn a_replaced_token_and_its_refresh_timer_are_dropped() {
    let sim = sim();
    let c = client(&sim, "");
    let t1 = c.token_blocking(None).unwrap();
    let old = Arc::downgrade(&t1);
    assert!(c.tokens().invalidate(t1.generation));
    drop(t1);
    let t2 = c.token_blocking(None).unwrap();
    assert_eq!(sim.counters().token_requests, 2);
    drop(t2);
    let until = Instant::now() + Duration::from_secs(5);
    while old.upgrade().is_some() {
        assert!(Instant::now() < until, "the replaced token is still held");
        std::thread::sleep(Duration::from_millis(5));
    }
}
