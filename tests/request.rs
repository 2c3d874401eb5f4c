//! Request path and retry policy against the real simulator.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use cxoauth::ErrorKind;
use cxoauth_sim::{Action, Fault, Target};

fn json(resp: &cxoauth::HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&resp.body).expect("JSON body")
}

#[test]
fn organizations_me_and_tokens_me() {
    let sim = sim();
    let c = client(&sim, "");
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["name"], "Simulated Org");
    assert!(r.correlation_id().is_some());
    let r = get(&c, "/api/v2/tokens/me").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["OAuthClient"]["id"], CLIENT_ID);
    // users/me needs a user context: the API's 400 is a response, not a library error
    let r = get(&c, "/api/v2/users/me").unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(json(&r)["code"], "bad.request");
}

#[test]
fn bearer_headers_and_body_reach_the_api() {
    let sim = sim();
    let c = client(&sim, r#""user_agent":"test-agent/1.0""#);
    let req = c
        .prepare(
            "post",
            "/api/v2/echo/things?x=1",
            &["Content-Type: application/json", "X-Custom: a b"],
            Some(bytes::Bytes::from_static(b"{\"k\":1}")),
        )
        .unwrap();
    let r = c.request_blocking(req, None).unwrap();
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/api/v2/echo/things");
    assert_eq!(v["query"], "x=1");
    assert_eq!(v["body"], "{\"k\":1}");
    assert_eq!(v["headers"]["x-custom"], "a b");
    assert_eq!(v["headers"]["user-agent"], "test-agent/1.0");
    assert!(v["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Bearer"));
    // absolute URL on the API host is fine
    let url = format!("{}/api/v2/echo", sim.base_url());
    assert_eq!(get(&c, &url).unwrap().status, 200);
}

#[test]
fn token_never_goes_to_another_host() {
    let sim = sim();
    let other = common::sim();
    let c = client(&sim, "");
    let e = get(&c, &format!("{}/api/v2/echo", other.base_url())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(other.counters().api_requests, 0);
    // redirects are not followed either
    sim.inject(fault(
        Target::Api,
        1,
        Action::Redirect {
            location: format!("{}/api/v2/echo", other.base_url()),
        },
    ));
    let r = get(&c, "/api/v2/echo").unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(other.counters().api_requests, 0);
}

#[test]
fn revoked_token_causes_one_refetch_and_the_request_succeeds() {
    let sim = sim();
    let c = client(&sim, "");
    assert_eq!(get(&c, "/api/v2/organizations/me").unwrap().status, 200);
    sim.revoke_all();
    assert_eq!(get(&c, "/api/v2/organizations/me").unwrap().status, 200);
    let k = sim.counters();
    assert_eq!(k.token_requests, 2);
    assert_eq!(k.api_requests, 3);
}

#[test]
fn concurrent_401s_cause_one_refetch() {
    let sim = sim();
    let c = client(&sim, "");
    get(&c, "/api/v2/organizations/me").unwrap();
    sim.revoke_all();
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                get(&c, "/api/v2/organizations/me").unwrap().status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(sim.counters().token_requests, 2, "one refetch for all 401s");
}

#[test]
fn second_401_is_returned_as_the_response() {
    let sim = sim();
    let c = client(&sim, "");
    sim.inject(fault(Target::Api, 5, status(401, None)));
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(json(&r)["code"], "bad.credentials");
    let k = sim.counters();
    assert_eq!(k.api_requests, 2, "one retry only");
    assert_eq!(k.token_requests, 2, "one refetch only");
}

#[test]
fn retry_after_seconds_is_honoured() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, status(429, Some("1"))));
    let started = Instant::now();
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(sim.counters().api_requests, 2);
}

#[test]
fn retry_after_http_date_is_honoured() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    sim.inject(fault(Target::Api, 1, status(429, Some(&when))));
    let started = Instant::now();
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 200);
    // the date has whole seconds: the wait is between 1 and 2 s
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    assert_eq!(sim.counters().api_requests, 2);
}

#[test]
fn too_many_429s_return_the_429_response() {
    let sim = sim();
    let c = client(&sim, r#""max_retries":2"#);
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 10, status(429, Some("0"))));
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(json(&r)["code"], "too.many.requests.retry.after");
    assert!(r.correlation_id().is_some());
    assert_eq!(sim.counters().api_requests, 3);
}

#[test]
fn retry_after_beyond_limits_returns_429_at_once() {
    let sim = sim();
    let c = client(&sim, r#""max_retry_after_s":5"#);
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, status(429, Some("1000000000"))));
    let started = Instant::now();
    let r = get(&c, "/api/v2/organizations/me").unwrap();
    assert_eq!(r.status, 429);
    assert!(started.elapsed() < Duration::from_secs(2));
    // a Retry-After past the deadline is not waited for either
    let c = client(&sim, r#""deadline_ms":1500"#);
    sim.inject(fault(Target::Api, 1, status(429, Some("3"))));
    let started = Instant::now();
    assert_eq!(get(&c, "/api/v2/organizations/me").unwrap().status, 429);
    assert!(started.elapsed() < Duration::from_millis(1500));
    // that 429 closed the client's gate for 3 s: the next call gets the 429 at once, unsent
    let before = sim.counters().api_requests;
    let started = Instant::now();
    assert_eq!(get(&c, "/api/v2/organizations/me").unwrap().status, 429);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(sim.counters().api_requests, before);
    // garbage Retry-After falls back to backoff (and closes no gate)
    let c = client(&sim, "");
    sim.inject(fault(Target::Api, 1, status(429, Some("soon-ish"))));
    assert_eq!(get(&c, "/api/v2/organizations/me").unwrap().status, 200);
}

#[test]
fn server_errors_retried_for_get_not_for_post() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    for s in [502, 503, 504] {
        sim.inject(fault(Target::Api, 1, status(s, None)));
    }
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    assert_eq!(sim.counters().api_requests, 4);

    sim.reset();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, status(503, None)));
    let req = c.prepare("POST", "/api/v2/echo", &[], None).unwrap();
    assert_eq!(c.request_blocking(req, None).unwrap().status, 503);
    assert_eq!(sim.counters().api_requests, 1);
}

#[test]
fn dropped_connection_retried_for_get_error_for_post() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, Action::Drop));
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);

    sim.inject(Fault {
        method: Some("POST".into()),
        ..fault(Target::Api, 1, Action::Drop)
    });
    let req = c.prepare("POST", "/api/v2/echo", &[], None).unwrap();
    assert_eq!(
        c.request_blocking(req, None).unwrap_err().kind,
        ErrorKind::Network
    );
}

#[test]
fn slow_api_times_out_within_deadline() {
    let sim = sim();
    let c = client(&sim, r#""timeout_ms":200,"deadline_ms":800"#);
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 10, Action::Delay { ms: 5_000 }));
    let started = Instant::now();
    let e = get(&c, "/api/v2/echo").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
}

#[test]
fn connections_are_reused() {
    let sim = sim();
    let c = client(&sim, "");
    // hyper hands a finished connection back to the pool from its connection task, a moment
    // after the reply was read; a call starting within that moment (the token fetch's
    // connection, or on a loaded machine any connection) opens another one. Keep-alive means a
    // handful of connections for 20 calls, not 20.
    for _ in 0..20 {
        assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    }
    let k = sim.counters();
    assert_eq!(k.api_requests, 20);
    assert!(
        (1..=3).contains(&k.connections),
        "20 calls reuse kept-alive connections: {k:?}"
    );
}

#[test]
fn cancel_aborts_calls_in_flight() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.inject(fault(Target::Api, 1, Action::Delay { ms: 10_000 }));
    let c2 = c.clone();
    let t = std::thread::spawn(move || get(&c2, "/api/v2/echo"));
    wait_counters(&sim, "request in flight", |k| k.api_requests == 1);
    let started = Instant::now();
    c.cancel();
    let e = t.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(1));
    // later calls work
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
}

#[test]
fn body_above_cap_is_protocol_error() {
    let sim = sim();
    let c = client(&sim, r#""max_body_bytes":65536"#);
    sim.inject(fault(Target::Api, 1, Action::LargeBody { bytes: 1 << 20 }));
    let e = get(&c, "/api/v2/echo").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
}

#[test]
fn call_cancel_token_aborts_only_its_own_call() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    sim.inject(Fault {
        path_prefix: Some("/api/v2/echo/slow".into()),
        ..fault(Target::Api, 2, Action::Delay { ms: 1_500 })
    });
    let token = cxoauth::CancelToken::new();
    let (c1, t1) = (c.clone(), token.clone());
    let cancelled = std::thread::spawn(move || {
        let req = c1.prepare("GET", "/api/v2/echo/slow", &[], None).unwrap();
        c1.request_blocking(req, Some(&t1))
    });
    let c2 = c.clone();
    let other = std::thread::spawn(move || get(&c2, "/api/v2/echo/slow"));
    wait_counters(&sim, "both requests in flight", |k| k.api_requests == 2);
    let started = Instant::now();
    token.cancel();
    let e = cancelled.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    assert!(started.elapsed() < Duration::from_millis(500));
    // the other call on the same client was not affected
    assert_eq!(other.join().unwrap().unwrap().status, 200);
    // a cancelled token fails later calls at once, without I/O
    let req = c.prepare("GET", "/api/v2/echo", &[], None).unwrap();
    let before = sim.counters().api_requests;
    assert_eq!(
        c.request_blocking(req, Some(&token)).unwrap_err().kind,
        ErrorKind::Cancelled
    );
    assert_eq!(
        c.token_blocking(Some(&token)).unwrap_err().kind,
        ErrorKind::Cancelled
    );
    assert_eq!(sim.counters().api_requests, before);
}

#[test]
fn blocking_calls_work_from_inside_another_tokio_runtime() {
    let sim = sim();
    let c = client(&sim, "");
    let host_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = host_rt.block_on(async { get(&c, "/api/v2/organizations/me").unwrap().status });
    assert_eq!(status, 200);
}

#[test]
fn blocking_call_from_a_library_thread_is_refused_not_deadlocked() {
    let sim = sim();
    let c = client(&sim, "");
    let (tx, rx) = std::sync::mpsc::channel();
    let c2 = c.clone();
    cxoauth::runtime::handle().unwrap().spawn(async move {
        let _ = tx.send(c2.token_blocking(None).map(|_| ()));
    });
    let e = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
}

#[test]
fn connection_refused_is_network_error() {
    // a port that was just free: bind, note it, close it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let json = format!(
        r#"{{"token_url":"http://127.0.0.1:{port}/oauth/token","api_base":"http://127.0.0.1:{port}","client_id":"a","client_secret":"b","max_retries":1,"backoff_base_ms":10}}"#
    );
    let c =
        Arc::new(cxoauth::Client::new(cxoauth::Config::from_json(Some(&json)).unwrap()).unwrap());
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e:?}");
}

#[test]
fn tls_to_a_plain_http_server_is_tls_error() {
    let sim = sim();
    let port = sim.addr().port();
    let json = format!(
        r#"{{"token_url":"https://127.0.0.1:{port}/oauth/token","api_base":"https://127.0.0.1:{port}","client_id":"a","client_secret":"b","max_retries":0}}"#
    );
    let c =
        Arc::new(cxoauth::Client::new(cxoauth::Config::from_json(Some(&json)).unwrap()).unwrap());
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
}

#[test]
fn ca_file_is_loaded_and_validated() {
    let sim = sim();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-ca.pem");
    let c = client(&sim, &format!(r#""ca_file":"{ca}""#));
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);

    let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let json = config_json(&sim, &format!(r#""ca_file":"{not_pem}""#));
    let e = cxoauth::Client::new(cxoauth::Config::from_json(Some(&json)).unwrap()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("ca_file"), "{}", e.message);

    let json = config_json(&sim, r#""ca_file":"/nonexistent/ca.pem""#);
    let e = cxoauth::Config::from_json(Some(&json)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
}

/// An API `Retry-After` longer than `max_retry_after_s` closes the client's gate for the cap
/// only, and calls meanwhile end at once with that 429 (no request). When the window ends, one
/// call probes while the others wait for its answer: a second 429 closes it again (4 callers at
/// once: 1 request, 4 × 429), and the next probe's 200 opens it (4 callers: 4 × 200). 6 API
/// requests in all, within 10 s.
#[test]
fn api_gate_capped_window_ends_with_one_probe() {
    let sim = sim();
    let c = client(&sim, r#""max_retry_after_s":1,"max_retries":0"#);
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200); // token fetched
    let base = sim.counters().api_requests;
    sim.inject(fault(Target::Api, 2, status(429, Some("86400"))));
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 429);
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 429); // closed: no request
    assert_eq!(sim.counters().api_requests, base + 1);
    let t0 = Instant::now();
    let burst = |c: &Arc<cxoauth::Client>| -> Vec<u16> {
        // once the capped window has ended, 4 callers at once
        while c.rate_limited_until().is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the gate never opened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let go = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (c, go) = (Arc::clone(c), Arc::clone(&go));
                std::thread::spawn(move || {
                    go.wait();
                    get(&c, "/api/v2/echo").unwrap().status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    };
    assert_eq!(burst(&c), vec![429; 4]);
    assert_eq!(sim.counters().api_requests, base + 2, "one probe");
    assert_eq!(burst(&c), vec![200; 4]);
    assert_eq!(sim.counters().api_requests, base + 6);
}

/// With a proxy configured, a loopback target is reached directly: the proxy (a listener that
/// would get the Basic credential in clear) sees no connection, and the calls succeed.
#[test]
fn loopback_never_goes_through_a_proxy() {
    let sim = sim();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let port = proxy.local_addr().unwrap().port();
    let c = client(
        &sim,
        &format!(r#""proxy":"http://127.0.0.1:{port}","timeout_ms":2000,"deadline_ms":4000"#),
    );
    assert!(c.token_blocking(None).is_ok());
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    let reached = proxy.accept().is_ok();
    assert!(!reached, "a request went to the proxy");
    assert_eq!(sim.counters().token_requests, 1);
}
