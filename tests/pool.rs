//! The token pool (`token_pool_size`, issue 21): more than one token's API quota, filled
//! lazily and no faster than `token_pool_fill_interval_ms`, each token with its own 401
//! handling — against the simulator counting its quota per access token.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use cxoauth::Client;
use cxoauth_sim::RateLimitScope;

/// `threads` blocking callers for `run`; (200s, 429s).
fn load(c: &Arc<Client>, threads: usize, run: Duration) -> (u64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + run;
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (c, ok, limited) = (c.clone(), ok.clone(), limited.clone());
            std::thread::spawn(move || {
                while Instant::now() < end {
                    match get(&c, "/api/v2/tokens/me").unwrap().status {
                        200 => ok.fetch_add(1, Relaxed),
                        429 => limited.fetch_add(1, Relaxed),
                        s => panic!("HTTP {s}"),
                    };
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    (ok.load(Relaxed), limited.load(Relaxed))
}

/// Four tokens, each with its own window of 20 requests per 2 s: paced calls from 4 threads
/// over 3 s get more than two tokens' worth of the quota (one token allows at most 40 in that
/// time), at most 1% of the requests sent get a 429, and exactly 4 token requests are made.
#[test]
fn a_pool_of_four_serves_more_than_twice_one_tokens_quota_with_four_token_requests() {
    let sim = sim();
    let (limit, window) = (20u64, Duration::from_secs(2));
    sim.set_rate_limit(limit, window, RateLimitScope::Token);
    let c = client(
        &sim,
        r#""token_pool_size":4,"token_pool_fill_interval_ms":100,"max_retries":0"#,
    );
    let (ok, limited) = load(&c, 4, Duration::from_secs(3));
    let k = sim.counters();
    let stats = c.stats_json();
    eprintln!(
        "pool of 4: {ok} ok, {limited} x 429, sim {k:?}, pool {}",
        stats["pool"]
    );
    assert_eq!(k.token_requests, 4, "{k:?}");
    assert!(ok > 2 * 2 * limit, "{ok} successful requests");
    assert!(k.api_429s * 100 <= k.api_requests, "{k:?}");
    let pool = stats["pool"].as_array().unwrap();
    assert_eq!(pool.len(), 4);
    let sent: u64 = pool.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(sent, k.api_requests);
    assert!(
        pool.iter().all(|s| s["requests"].as_u64().unwrap() > 0),
        "{pool:?}"
    );
    assert!(pool.iter().all(|s| s["expires_unix_ms"].as_u64().is_some()));
}

/// However hard the load, no second token is fetched before the fill interval has passed.
#[test]
fn the_pool_is_filled_no_faster_than_the_fill_interval() {
    let sim = sim();
    sim.set_rate_limit(10, Duration::from_secs(60), RateLimitScope::Token);
    let c = client(
        &sim,
        r#""token_pool_size":4,"token_pool_fill_interval_ms":60000,"rate_limit_pacing":false,"max_retries":0"#,
    );
    // past the limit: the one token is spent, 429s come back, and still no second token
    let (ok, limited) = load(&c, 2, Duration::from_millis(500));
    let k = sim.counters();
    assert_eq!(ok, 10, "{k:?}");
    assert!(limited > 0);
    assert_eq!(k.token_requests, 1, "{k:?}");
    assert_eq!(c.stats_json()["pool"].as_array().unwrap().len(), 1);
}

/// A 401 on one pool token drops that token only: one new token for it, the other pool token
/// stays, and every call succeeds. `oauth_get_token` hands out the token with most headroom.
#[test]
fn a_401_on_one_pool_token_leaves_the_others_alone() {
    let sim = sim();
    sim.set_rate_limit(10, Duration::from_secs(60), RateLimitScope::Token);
    // pacing off: calls are not held back; the pool still follows each token's window
    let c = client(
        &sim,
        r#""token_pool_size":2,"token_pool_fill_interval_ms":0,"rate_limit_pacing":false,"max_retries":0"#,
    );
    // 5 calls take the first token to half of its window: the next one opens the second
    for _ in 0..6 {
        assert_eq!(get(&c, "/api/v2/tokens/me").unwrap().status, 200);
    }
    let pool = c.stats_json()["pool"].clone();
    assert_eq!(pool.as_array().unwrap().len(), 2, "{pool}");
    assert_eq!(pool[1]["requests"], 1, "{pool}");
    let first = c.tokens().current().unwrap().value.to_string();
    // the second token has more headroom: it is the one handed out
    let handed = c.token_blocking(None).unwrap().value.to_string();
    // (tokens compared without printing them)
    assert!(handed != first, "the first token was handed out");
    let second_expiry = pool[1]["expires_unix_ms"].clone();

    assert!(sim.revoke_token(&first));
    let before = sim.counters();
    // calls go to the second token until it has less headroom than the first; then one meets
    // the 401 (and is sent again), which drops the first token: a call that takes its slot
    // again fetches a new one
    let mut calls = 0;
    while sim.counters().tokens_issued == before.tokens_issued {
        assert_eq!(get(&c, "/api/v2/tokens/me").unwrap().status, 200);
        calls += 1;
        assert!(calls <= 10, "the revoked token was never replaced");
    }
    assert_eq!(c.stats().retries_401.load(Relaxed), 1);
    let k = sim.counters();
    assert_eq!(k.tokens_issued - before.tokens_issued, 1, "{k:?}");
    let pool = c.stats_json()["pool"].clone();
    assert_eq!(pool[1]["expires_unix_ms"], second_expiry, "{pool}");
    let renewed = c.tokens().current().unwrap().value.to_string();
    assert!(
        renewed != first && renewed != handed,
        "the first slot was not renewed"
    );
    // a new token's window is unknown, which counts as full: it is the one handed out now
    assert!(c.token_blocking(None).unwrap().value.as_str() == renewed);
}

#[test]
fn pool_keys_are_checked() {
    let sim = sim();
    for bad in [
        r#""token_pool_size":0"#,
        r#""token_pool_size":21"#,
        r#""token_pool_size":"4""#,
        r#""token_pool_fill_interval_ms":-1"#,
    ] {
        let e = cxoauth::Config::from_json(Some(&config_json(&sim, bad))).unwrap_err();
        assert_eq!(e.kind, cxoauth::ErrorKind::Config, "{bad}");
        assert!(e.message.contains("token_pool"), "{bad}: {}", e.message);
    }
    let one = client(&sim, "");
    assert!(one.stats_json()["pool"].is_null());
}
