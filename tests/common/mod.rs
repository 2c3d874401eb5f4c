//! Shared test setup: a real simulator on 127.0.0.1 and clients configured for it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cxoauth::{Client, Config};
use cxoauth_sim::{Action, Counters, Fault, SimOptions, Simulator, Target};

pub const CLIENT_ID: &str = "test-client";
/// Contains every character that needs form-urlencoding in Basic auth.
pub const SECRET: &str = "s3cr:/+=%&et value";

pub fn sim() -> Simulator {
    Simulator::start(SimOptions {
        clients: vec![(CLIENT_ID.to_string(), SECRET.to_string())],
        ..SimOptions::default()
    })
    .expect("simulator starts")
}

/// JSON config for `sim` with small backoffs; `extra` holds further `"key":value` pairs that
/// override these defaults (e.g. `"max_retries":1`).
pub fn config_json(sim: &Simulator, extra: &str) -> String {
    let mut base = serde_json::json!({
        "token_url": sim.token_url(),
        "api_base": sim.base_url(),
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "backoff_base_ms": 20,
        "backoff_max_ms": 200,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
    });
    let extra: serde_json::Value = serde_json::from_str(&format!("{{{extra}}}")).unwrap();
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base.to_string()
}

pub fn client(sim: &Simulator, extra: &str) -> Arc<Client> {
    Arc::new(Client::new(Config::from_json(Some(&config_json(sim, extra))).unwrap()).unwrap())
}

pub fn fault(target: Target, count: u32, action: Action) -> Fault {
    Fault {
        target,
        count,
        method: None,
        path_prefix: None,
        action,
    }
}

pub fn status(status: u16, retry_after: Option<&str>) -> Action {
    Action::Status {
        status,
        retry_after: retry_after.map(str::to_string),
        body: None,
    }
}

/// Waits (bounded) until the simulator's counters satisfy `pred`; readiness, not luck.
pub fn wait_counters(sim: &Simulator, what: &str, pred: impl Fn(&Counters) -> bool) -> Counters {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let c = sim.counters();
        if pred(&c) {
            return c;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn get(c: &Arc<Client>, path: &str) -> cxoauth::Result<cxoauth::HttpResponse> {
    let req = c.prepare("GET", path, &[], None)?;
    c.request_blocking(req, None)
}
