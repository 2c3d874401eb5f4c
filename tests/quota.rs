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
