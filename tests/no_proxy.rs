//! `NO_PROXY` / `no_proxy` with the per-endpoint proxies (issue 22): a host the variables name
//! bypasses a configured proxy (`token_proxy`, `api_proxy` or `proxy`), as it bypasses one
//! named in the environment; the other side keeps its proxy. The variables are read when a
//! client is made and are process-wide, hence this file (its own test process) with its one
//! test, which sets them before any client exists.
//!
//! The proxies (tests/support/proxy.rs) map `login.test` and `api.test` to the simulator;
//! outside them neither name resolves (`.test` is reserved, RFC 6761). So an API call that
//! bypasses `api_proxy` shows as a direct attempt on `api.test` that fails with a network
//! error naming it, with no tunnel opened by the API proxy and no API request at the
//! simulator, while the token still comes through `token_proxy`.

mod common;
#[path = "support/proxy.rs"]
mod proxy;

use cxoauth::ErrorKind;
use proxy::{client, https_sim, CountingProxy};

#[test]
fn no_proxy_naming_the_api_host_bypasses_api_proxy_but_not_token_proxy() {
    // before any client (and any thread of the library) exists
    std::env::set_var("NO_PROXY", "example.invalid,api.test");
    std::env::set_var("no_proxy", "example.invalid,api.test");
    let (sim, ca) = https_sim();
    let port = sim.addr().port();
    let (login, api) = (
        CountingProxy::start(sim.addr()),
        CountingProxy::start(sim.addr()),
    );
    let c = client(
        &sim,
        &ca,
        serde_json::json!({"token_proxy": login.url(), "api_proxy": api.url(), "max_retries": 0}),
    );
    c.token_blocking(None).unwrap();
    // blocking, and async on the shared pool
    let blocking = c
        .request_blocking(c.prepare("GET", "/api/v2/echo", &[], None).unwrap(), None)
        .unwrap_err();
    let req = c.prepare("GET", "/api/v2/echo", &[], None).unwrap();
    let pooled = cxoauth::runtime::handle()
        .unwrap()
        .block_on(c.request(req, None))
        .unwrap_err();
    for e in [&blocking, &pooled] {
        assert_eq!(e.kind, ErrorKind::Network, "{e}");
        assert!(e.message.contains("api.test"), "{e}");
    }
    let (l, a) = (login.seen(), api.seen());
    assert_eq!(
        l,
        vec![format!("login.test:{port}")],
        "token through token_proxy"
    );
    assert!(a.is_empty(), "the API proxy opened tunnels: {a:?}");
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (1, 0), "{k:?}");
    let _ = std::fs::remove_file(ca);
}
