//! `"gateway"`: the token endpoint and the API through nginx with path prefixes, in front of
//! the simulator. The token goes only under the API prefix.

mod common;
#[path = "support/nginx.rs"]
mod nginx;

use std::sync::Arc;

use common::{get, sim, CLIENT_ID, SECRET};
use cxoauth::{Client, Config, ErrorKind};
use nginx::Nginx;

fn gateway_client(port: u16, extra: serde_json::Value) -> Arc<Client> {
    let mut cfg = serde_json::json!({
        "gateway": {"host": "127.0.0.1", "protocol": "http", "port": port,
                    "login_path_prefix": "/login", "api_path_prefix": "/api"},
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
        "backoff_base_ms": 20,
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    Arc::new(Client::new(Config::from_json(Some(&cfg.to_string())).unwrap()).unwrap())
}

#[test]
fn token_and_api_go_through_the_gateway_prefixes() {
    let sim = sim();
    let gw = Nginx::start(sim.addr().port(), None);
    let c = gateway_client(gw.port, serde_json::json!({}));
    assert_eq!(
        c.config().token_url.as_ref().unwrap().as_str(),
        format!("http://127.0.0.1:{}/login/oauth/token", gw.port)
    );
    for _ in 0..3 {
        assert_eq!(get(&c, "/api/v2/echo").unwrap().status, 200);
    }
    // the pool path too (an async call on the runtime)
    let req = c.prepare("GET", "/api/v2/echo", &[], None).unwrap();
    let r = cxoauth::runtime::handle()
        .unwrap()
        .block_on(c.request(req, None))
        .unwrap();
    assert_eq!(r.status, 200);
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (1, 4), "{k:?}");
    let log = gw.access_log();
    assert!(
        log.contains(&"/login/oauth/token basic 200".to_string()),
        "{log:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| *l == "/api/api/v2/echo bearer 200")
            .count(),
        4,
        "{log:?}"
    );
}

#[test]
fn the_token_never_leaves_the_api_prefix() {
    let sim = sim();
    let gw = Nginx::start(sim.addr().port(), None);
    let c = gateway_client(gw.port, serde_json::json!({}));
    c.token_blocking(None).unwrap();
    let outside = [
        format!("http://127.0.0.1:{}/login/oauth/token", gw.port),
        format!("http://127.0.0.1:{}/other", gw.port),
        format!("http://127.0.0.1:{}/apix/v2/echo", gw.port),
        "/../login/oauth/token".to_string(),
        "/%2e%2e/login/x".to_string(),
    ];
    for target in &outside {
        let e = get(&c, target).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{target}: {e:?}");
    }
    // an absolute URL under the prefix is fine
    let inside = format!("http://127.0.0.1:{}/api/api/v2/echo", gw.port);
    assert_eq!(get(&c, &inside).unwrap().status, 200);
    for line in gw.access_log() {
        let mut f = line.split(' ');
        let (uri, auth) = (f.next().unwrap(), f.next().unwrap());
        assert!(
            auth != "bearer" || uri.starts_with("/api/"),
            "a token reached {uri}"
        );
    }
}

#[test]
fn gateway_configuration_errors_name_the_key() {
    for (json, needle) in [
        (
            r#"{"gateway":{"host":"gw.example"},"token_url":"https://x.y/t","client_id":"a","client_secret":"b"}"#,
            "\"token_url\"",
        ),
        (
            r#"{"gateway":{"host":"gw.example"},"region":"eu-west-1","client_id":"a","client_secret":"b"}"#,
            "\"region\"",
        ),
        (
            r#"{"gateway":{"host":"gw.example","protocol":"http"},"client_id":"a","client_secret":"b"}"#,
            "loopback",
        ),
        (
            r#"{"gateway":"gw.example","client_id":"a","client_secret":"b"}"#,
            "\"gateway\"",
        ),
    ] {
        let e = Config::from_json(Some(json)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{json}");
        assert!(e.message.contains(needle), "{json}: {}", e.message);
    }
    // Genesys without a region: the gateway gives both endpoints
    let c = Config::from_json(Some(
        r#"{"gateway":{"host":"gw.example","login_path_prefix":"/login","api_path_prefix":"/api"},"client_id":"a","client_secret":"b"}"#,
    ))
    .unwrap();
    assert_eq!(
        c.token_url.as_ref().unwrap().as_str(),
        "https://gw.example/login/oauth/token"
    );
    assert_eq!(
        c.api_base.as_ref().unwrap().as_str(),
        "https://gw.example/api"
    );
}
