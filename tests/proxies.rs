//! Per-endpoint proxies: `token_proxy` and `api_proxy` override `proxy` for the login side
//! (token endpoint) and for the API requests. Two small loopback CONNECT proxies
//! (tests/support/proxy.rs) count the tunnels they open; they map the non-loopback host names
//! the client is configured with (`login.test`, `api.test`) to the simulator, which serves
//! HTTPS with a certificate for those names.

mod common;
#[path = "support/proxy.rs"]
mod proxy;

use std::sync::Arc;

use cxoauth::{Client, Config};
use proxy::{client, https_sim, CountingProxy};

/// A token and API calls on both request paths (blocking, and async on the shared pool).
fn exercise(c: &Arc<Client>) {
    c.token_blocking(None).unwrap();
    for _ in 0..2 {
        let r = c
            .request_blocking(c.prepare("GET", "/api/v2/echo", &[], None).unwrap(), None)
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let req = c.prepare("GET", "/api/v2/echo", &[], None).unwrap();
    let r = cxoauth::runtime::handle()
        .unwrap()
        .block_on(c.request(req, None))
        .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn token_proxy_and_api_proxy_each_carry_their_side() {
    let (sim, ca) = https_sim();
    let (login, api) = (
        CountingProxy::start(sim.addr()),
        CountingProxy::start(sim.addr()),
    );
    let port = sim.addr().port();
    let c = client(
        &sim,
        &ca,
        serde_json::json!({"token_proxy": login.url(), "api_proxy": api.url()}),
    );
    exercise(&c);
    let (l, a) = (login.seen(), api.seen());
    assert!(
        !l.is_empty() && l.iter().all(|h| *h == format!("login.test:{port}")),
        "{l:?}"
    );
    assert!(
        !a.is_empty() && a.iter().all(|h| *h == format!("api.test:{port}")),
        "{a:?}"
    );
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (1, 3), "{k:?}");
    let _ = std::fs::remove_file(ca);
}

/// `proxy` stays the default of the side without its own: here the login side, while the
/// API goes through `api_proxy`; and `token_proxy` alone leaves the API on `proxy`.
#[test]
fn proxy_is_the_default_of_the_other_side() {
    let (sim, ca) = https_sim();
    let port = sim.addr().port();
    let (general, api) = (
        CountingProxy::start(sim.addr()),
        CountingProxy::start(sim.addr()),
    );
    let c = client(
        &sim,
        &ca,
        serde_json::json!({"proxy": general.url(), "api_proxy": api.url()}),
    );
    exercise(&c);
    let (g, a) = (general.seen(), api.seen());
    assert!(
        !g.is_empty() && g.iter().all(|h| *h == format!("login.test:{port}")),
        "{g:?}"
    );
    assert!(
        !a.is_empty() && a.iter().all(|h| *h == format!("api.test:{port}")),
        "{a:?}"
    );

    let (general, login) = (
        CountingProxy::start(sim.addr()),
        CountingProxy::start(sim.addr()),
    );
    let c = client(
        &sim,
        &ca,
        serde_json::json!({"proxy": general.url(), "token_proxy": login.url()}),
    );
    exercise(&c);
    let (g, l) = (general.seen(), login.seen());
    assert!(
        !l.is_empty() && l.iter().all(|h| *h == format!("login.test:{port}")),
        "{l:?}"
    );
    assert!(
        !g.is_empty() && g.iter().all(|h| *h == format!("api.test:{port}")),
        "{g:?}"
    );
    let _ = std::fs::remove_file(ca);
}

#[test]
fn a_bad_per_endpoint_proxy_is_a_config_error_naming_it() {
    for (key, value, needle) in [
        ("token_proxy", "not a url", "\"token_proxy\" is not a URL"),
        (
            "api_proxy",
            "ftp://127.0.0.1:1",
            "\"api_proxy\" must be an http",
        ),
    ] {
        let cfg = serde_json::json!({
            "token_url": "http://127.0.0.1:9/t", "api_base": "http://127.0.0.1:9",
            "client_id": "a", "client_secret": "b", key: value,
        });
        let e = Config::from_json(Some(&cfg.to_string())).unwrap_err();
        assert!(e.message.contains(needle), "{}", e.message);
    }
}
