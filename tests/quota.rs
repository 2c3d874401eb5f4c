//! Living within the real API quota (issue 21): idle revocation and outage-proof refresh
//! against the simulator.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn idle_token_is_replaced_before_the_call_instead_of_a_401() {
    let sim = sim();
    sim.set_token_idle_timeout(Duration::from_millis(1500));
    let aware = client(&sim, r#""token_idle_timeout_s":1"#);
    let unaware = client(&sim, "");
    assert_eq!(get(&aware, "/api/v2/tokens/me").unwrap().status, 200);
    assert_eq!(get(&unaware, "/api/v2/tokens/me").unwrap().status, 200);
    assert_eq!(sim.counters().tokens_issued, 2);
    // both idle for longer than either timeout (the clock has to pass: no readiness to wait for)
    std::thread::sleep(Duration::from_millis(1700));
    let before = sim.counters();
    // the aware client fetches a new token first: one API request, no 401
    assert_eq!(get(&aware, "/api/v2/tokens/me").unwrap().status, 200);
    let k = sim.counters();
    assert_eq!(k.api_requests - before.api_requests, 1, "{k:?}");
    assert_eq!(k.tokens_issued - before.tokens_issued, 1, "{k:?}");
    assert_eq!(k.idle_revocations, 0, "{k:?}");
    assert_eq!(
        aware
            .stats()
            .retries_401
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // the other one sends into the 401 and recovers with a resend (today's behaviour)
    assert_eq!(get(&unaware, "/api/v2/tokens/me").unwrap().status, 200);
    let k2 = sim.counters();
    assert_eq!(k2.api_requests - k.api_requests, 2, "{k2:?}");
    assert_eq!(k2.idle_revocations, 1, "{k2:?}");
    // used more often than the timeout, a token stays
    let t = aware.token_blocking(None).unwrap();
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(get(&aware, "/api/v2/tokens/me").unwrap().status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        aware.token_blocking(None).unwrap().value.as_str(),
        t.value.as_str()
    );
}

/// A 20 s token refreshed from 40% of its life (and 2 s of expiry guard at the end) and an
/// 8 s outage of the login service starting at several points of its life, before and after
/// the refresh time: every API call succeeds, served with the still-valid token while the
/// refresh attempts fail, then with the renewed one.
#[test]
fn login_service_outage_of_8_s_is_invisible_to_callers() {
    let runs: Vec<_> = [2.0f64, 6.5, 9.0]
        .into_iter()
        .map(|start| std::thread::spawn(move || outage_run(Duration::from_secs_f64(start))))
        .collect();
    for r in runs {
        r.join().unwrap();
    }
}

fn outage_run(start: Duration) {
    let sim = sim();
    sim.set_token_lifetime(20);
    let c = client(
        &sim,
        r#""refresh_at_fraction":0.4,"backoff_base_ms":50,"backoff_max_ms":500"#,
    );
    let t0 = Instant::now();
    let first = c.token_blocking(None).unwrap();
    let outage = (t0 + start, t0 + start + Duration::from_secs(8));
    let end = outage.1 + Duration::from_secs(4);
    let mut calls = 0;
    let mut during = 0;
    let mut outage_started = false;
    while Instant::now() < end {
        let now = Instant::now();
        if !outage_started && now >= outage.0 {
            sim.token_outage(outage.1.saturating_duration_since(now));
            outage_started = true;
        }
        let r = get(&c, "/api/v2/tokens/me");
        match r {
            Ok(resp) => assert_eq!(resp.status, 200, "at {:?}", t0.elapsed()),
            Err(e) => panic!("call failed at {:?}: {e}", t0.elapsed()),
        }
        calls += 1;
        if outage_started && Instant::now() < outage.1 {
            during += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let k = sim.counters();
    assert!(during > 40, "{during} calls during the outage");
    assert!(calls > 100);
    // the refresh ran into the outage (503s), and renewed the token once it ended
    assert!(k.token_requests > k.tokens_issued, "{k:?}");
    assert!(k.tokens_issued >= 2, "{k:?}");
    assert_ne!(
        c.token_blocking(None).unwrap().value.as_str(),
        first.value.as_str()
    );
    assert_eq!(k.api_requests, calls, "no 401 resend, no retry: {k:?}");
}

/// Blocking and callback (async) calls of one client, more than the per-token limit allows:
/// paced to the simulator's `inin-ratelimit-*` headers, they get no 429 (at most 1%) and at
/// least 90% of the allowed requests.
#[test]
fn pacing_mixed_blocking_and_callback_calls_stay_within_the_limit() {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    let sim = sim();
    let (limit, window) = (50u64, Duration::from_secs(3));
    sim.set_rate_limit(limit, window, cxoauth_sim::RateLimitScope::Token);
    let c = client(&sim, r#""deadline_ms":20000,"max_retries":0"#);
    c.token_blocking(None).unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + window * 3 - Duration::from_millis(100);
    let count = |status: u16, ok: &AtomicU64, limited: &AtomicU64| match status {
        200 => ok.fetch_add(1, Relaxed),
        429 => limited.fetch_add(1, Relaxed),
        s => panic!("HTTP {s}"),
    };
    let blocking: Vec<_> = (0..3)
        .map(|_| {
            let (c, ok, limited) = (c.clone(), ok.clone(), limited.clone());
            std::thread::spawn(move || {
                while Instant::now() < end {
                    let r = get(&c, "/api/v2/tokens/me").unwrap();
                    count(r.status, &ok, &limited);
                }
            })
        })
        .collect();
    let rt = cxoauth::runtime::handle().unwrap();
    let callbacks: Vec<_> = (0..3)
        .map(|_| {
            let (c, ok, limited) = (c.clone(), ok.clone(), limited.clone());
            rt.spawn(async move {
                while Instant::now() < end {
                    let req = c.prepare("GET", "/api/v2/tokens/me", &[], None).unwrap();
                    let r = c.request(req, None).await.unwrap();
                    count(r.status, &ok, &limited);
                }
            })
        })
        .collect();
    for t in blocking {
        t.join().unwrap();
    }
    for t in callbacks {
        cxoauth::runtime::wait_blocking(async move { Ok(t.await) })
            .unwrap()
            .unwrap();
    }
    let k = sim.counters();
    let (ok, limited) = (ok.load(Relaxed), limited.load(Relaxed));
    let stats = c.stats_json();
    eprintln!(
        "pacing: {ok} ok, {limited} x 429, sim {k:?}, waits {} ({} ms)",
        stats["pacing_waits"], stats["pacing_wait_ms"]
    );
    // three windows (the first starts with the first API request)
    let allowed = limit * 3;
    assert!(ok * 10 >= allowed * 9, "{ok} of {allowed} allowed requests");
    assert!(k.api_429s * 100 <= k.api_requests, "{k:?}");
    assert!(stats["pacing_waits"].as_u64().unwrap() > 0);
    assert_eq!(stats["rate_limit"]["allowed"], limit);
}
