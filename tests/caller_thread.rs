//! Blocking calls on a host thread run on that thread's own connections (src/local.rs,
//! src/conn.rs): reuse, a connection the server closed while idle, thread exit, retries.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use cxoauth::ErrorKind;
use cxoauth_sim::{Action, Fault, SimOptions, Simulator, Target};

fn post(c: &Arc<cxoauth::Client>) -> cxoauth::Result<cxoauth::HttpResponse> {
    let req = c.prepare(
        "POST",
        "/api/v2/echo",
        &["Content-Type: application/json"],
        Some(bytes::Bytes::from_static(b"{\"n\":1}")),
    )?;
    c.request_blocking(req, None)
}

#[test]
fn each_thread_reuses_its_own_connection() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let k = sim.counters();
    assert_eq!(k.api_requests, 200);
    // Each thread's first request uses the process-wide pool (a few connections, shared with
    // the token fetch), then one connection of its own: 200 requests on at most 4 + 4.
    assert!(
        k.connections <= 8,
        "200 requests on {} connections",
        k.connections
    );
}

#[test]
fn a_connection_the_server_closed_while_idle_is_not_used() {
    let sim = Simulator::start(SimOptions {
        clients: vec![(CLIENT_ID.to_string(), SECRET.to_string())],
        keep_alive_idle_ms: 200,
        ..SimOptions::default()
    })
    .unwrap();
    let c = client(&sim, r#""max_retries":0"#);
    c.token_blocking(None).unwrap();
    for _ in 0..3 {
        assert_eq!(post(&c).unwrap().status, 200);
    }
    let before = sim.counters();
    // Readiness: every client connection (the process-wide pool's and this thread's) was
    // closed by the server for idleness.
    let closed = wait_counters(&sim, "idle connections closed by the server", |k| {
        k.open_connections == 0 && k.idle_closes >= 2
    });
    // A POST is never retried after it may have been sent: it must go on a fresh connection,
    // not into the closed one.
    let started = Instant::now();
    assert_eq!(post(&c).unwrap().status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    let after = sim.counters();
    assert_eq!(after.api_requests, before.api_requests + 1, "sent once");
    assert_eq!(
        after.connections,
        closed.connections + 1,
        "one new connection"
    );
}

#[test]
fn a_threads_connections_close_when_it_exits() {
    let sim = sim();
    let c = client(&sim, "");
    c.token_blocking(None).unwrap();
    let open_before = sim.counters().open_connections;
    let c2 = c.clone();
    std::thread::spawn(move || {
        for _ in 0..5 {
            assert_eq!(get(&c2, "/api/v2/echo").unwrap().status, 200);
        }
    })
    .join()
    .unwrap();
    // The thread's own connection closes with the thread; the process-wide pool keeps its own
    // (at most one more than before: the thread's first request may have opened it).
    let k = wait_counters(&sim, "the exited thread's connection closed", |k| {
        k.open_connections <= open_before + 1
    });
    assert!(
        k.connections >= 2,
        "the thread had a connection of its own: {k:?}"
    );
}

#[test]
fn freeing_a_client_closes_this_threads_connections_on_the_next_call() {
    let sim = sim();
    let a = client(&sim, "");
    for _ in 0..3 {
        assert_eq!(get(&a, "/api/v2/echo").unwrap().status, 200);
    }
    let open = sim.counters().open_connections;
    assert!(open >= 1);
    drop(a);
    // Another client's call on this thread drops the freed client's pool.
    let b = client(&sim, "");
    for _ in 0..3 {
        assert_eq!(get(&b, "/api/v2/echo").unwrap().status, 200);
    }
    wait_counters(&sim, "the freed client's connections closed", |k| {
        k.open_connections <= 2
    });
}

#[test]
fn faults_on_this_threads_connection_follow_the_one_retry_policy() {
    let sim = sim();
    let c = client(&sim, "");
    for _ in 0..3 {
        assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    }
    // a dropped connection: GET retried (on a new connection), POST not
    sim.inject(fault(Target::Api, 1, Action::Drop));
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    sim.inject(Fault {
        method: Some("POST".into()),
        ..fault(Target::Api, 1, Action::Drop)
    });
    let before = sim.counters().api_requests;
    assert_eq!(post(&c).unwrap_err().kind, ErrorKind::Network);
    assert_eq!(sim.counters().api_requests, before + 1, "POST sent once");
    // a body cut short, then a 503: retried, the reply arrives
    sim.inject(fault(Target::Api, 1, Action::DropMidBody));
    sim.inject(fault(Target::Api, 1, status(503, Some("0"))));
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    // and the connection works on afterwards
    assert_eq!(post(&c).unwrap().status, 200);
}

fn tls_sim() -> (Simulator, std::path::PathBuf) {
    let sim = Simulator::start(SimOptions {
        clients: vec![(CLIENT_ID.to_string(), SECRET.to_string())],
        tls: true,
        ..SimOptions::default()
    })
    .unwrap();
    let path = std::env::temp_dir().join(format!(
        "cxoauth-test-ca-{}-{}.pem",
        std::process::id(),
        sim.addr().port()
    ));
    std::fs::write(&path, sim.ca_pem().unwrap()).unwrap();
    (sim, path)
}

#[test]
fn https_on_this_threads_connections_with_the_configured_trust() {
    let (sim, ca) = tls_sim();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let c = client(&sim, &format!(r#""ca_file":"{}""#, ca.display()));
    c.token_blocking(None).unwrap();
    for _ in 0..10 {
        let r = get(&c, "/api/v2/echo").unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(post(&c).unwrap().status, 200);
    let k = sim.counters();
    assert_eq!(k.api_requests, 11);
    assert!(k.connections <= 3, "TLS connections reused: {k:?}");
    let _ = std::fs::remove_file(ca);
}

#[test]
fn https_to_an_untrusted_certificate_is_a_tls_error_on_every_path() {
    // token from a plain loopback server, API on an HTTPS server whose certificate is not
    // trusted: the first request (process-wide pool) and later ones (this thread's own
    // connections) all fail the handshake, and nothing reaches the API
    let plain = sim();
    let (api, ca) = tls_sim();
    let c = client(
        &plain,
        &format!(r#""api_base":"{}","max_retries":3"#, api.base_url()),
    );
    c.token_blocking(None).unwrap();
    for i in 0..3 {
        let e = get(&c, "/api/v2/echo").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls, "request {i}: {e:?}");
        assert!(e.message.contains("127.0.0.1"), "{}", e.message);
    }
    assert_eq!(api.counters().api_requests, 0);
    let _ = std::fs::remove_file(ca);
}

#[test]
fn host_names_are_looked_up_on_the_runtime_on_every_path() {
    // "localhost" is a name, not an address: the process-wide pool (first request, token) and
    // this thread's own connections (later requests) both resolve it through the runtime's
    // lookup threads, and reach the server
    let sim = sim();
    let base = format!("http://localhost:{}", sim.addr().port());
    let c = client(
        &sim,
        &format!(r#""token_url":"{base}/oauth/token","api_base":"{base}""#),
    );
    for _ in 0..4 {
        assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    }
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (1, 4));
}

#[test]
fn timeouts_and_deadlines_hold_on_this_threads_connections() {
    let sim = sim();
    let c = client(&sim, r#""timeout_ms":200,"deadline_ms":800"#);
    for _ in 0..3 {
        assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    }
    // every attempt hangs: each times out after 200 ms, the whole call ends by its deadline
    sim.inject(fault(Target::Api, 10, Action::Delay { ms: 5_000 }));
    let started = Instant::now();
    let e = get(&c, "/api/v2/echo").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
    // a body trickled slower than the timeout allows: the same
    sim.inject(fault(
        Target::Api,
        10,
        Action::Trickle {
            bytes_per_interval: 1,
            interval_ms: 100,
        },
    ));
    let started = Instant::now();
    assert_eq!(
        get(&c, "/api/v2/echo").unwrap_err().kind,
        ErrorKind::Timeout
    );
    assert!(started.elapsed() < Duration::from_millis(1_500));
    // the thread's next request works (on a new connection: the timed-out ones were closed)
    sim.reset();
    assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
}
