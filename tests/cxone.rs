//! NICE CXone and generic OpenID discovery against the simulator's CXone mode.

mod common;

use std::sync::Arc;

use common::*;
use cxoauth::{Client, Config, ErrorKind};
use cxoauth_sim::{Action, Fault, Target};

const AGENTS: &str = "/incontactapi/services/v31.0/agents";

fn cxone_json(sim: &cxoauth_sim::Simulator, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"platform":"cxone","issuer":"{}","client_id":"{CLIENT_ID}","client_secret":"{SECRET}","access_key_id":"demo-key","access_key_secret":"demo-key-secret","backoff_base_ms":20,"backoff_max_ms":200{sep}{extra}}}"#,
        sim.issuer()
    )
}

fn cxone(sim: &cxoauth_sim::Simulator, extra: &str) -> Arc<Client> {
    Arc::new(Client::new(Config::from_json(Some(&cxone_json(sim, extra))).unwrap()).unwrap())
}

#[test]
fn discovery_access_key_grant_and_tenant_api_base() {
    let sim = sim();
    let c = cxone(&sim, "");
    let r = get(&c, AGENTS).unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["totalRecords"], 1);
    // token lifetime from expires_in (3600), refreshed half-way (refresh_at_fraction 0.5)
    let t = c.token_blocking(None).unwrap();
    assert!(t.expires_at - t.refresh_at == std::time::Duration::from_secs(1800));
    let k = sim.counters();
    assert_eq!(k.password_grants, 1);
    assert_eq!(
        k.discovery_requests, 2,
        "openid-configuration + cxone-configuration, once"
    );
    // both documents are cached for the client's lifetime
    for _ in 0..5 {
        assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    }
    assert_eq!(sim.counters().discovery_requests, 2);
    // absolute URLs must be on the discovered API host
    let url = format!("{}/cxone{AGENTS}", sim.base_url());
    assert_eq!(get(&c, &url).unwrap().status, 200);
    assert_eq!(
        get(&c, "https://evil.example/cxone/x").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn renewal_uses_the_refresh_token() {
    let sim = sim();
    let c = cxone(&sim, "");
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    sim.revoke_all(); // access tokens die, refresh tokens live
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    let k = sim.counters();
    assert_eq!((k.password_grants, k.refresh_grants), (1, 1));
    // the rotated refresh token is used next time
    sim.revoke_all();
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    let k = sim.counters();
    assert_eq!((k.password_grants, k.refresh_grants), (1, 2));
}

#[test]
fn rejected_refresh_token_falls_back_to_the_access_key() {
    let sim = sim();
    let c = cxone(&sim, "");
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    sim.revoke_refresh_tokens();
    sim.revoke_all();
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    let k = sim.counters();
    assert_eq!((k.password_grants, k.refresh_grants), (2, 1));
}

#[test]
fn wrong_access_key_is_auth_error_without_secret() {
    let sim = sim();
    let json = cxone_json(&sim, "").replace("demo-key-secret", "wrong-key-secret");
    let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.oauth_code.as_deref(), Some("invalid_grant"));
    assert_eq!(e.http_status, 400);
    assert!(!e.message.contains("wrong-key-secret"));
    // a wrong client secret: invalid_client
    let json = cxone_json(&sim, "").replace(SECRET, "wrong-app-secret");
    let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(
        (e.kind, e.oauth_code.as_deref()),
        (ErrorKind::Auth, Some("invalid_client"))
    );
}

#[test]
fn retry_policy_applies_to_cxone_api_and_token() {
    let sim = sim();
    let c = cxone(&sim, "");
    sim.inject(fault(Target::Token, 1, status(503, None)));
    sim.inject(fault(Target::Api, 1, status(429, Some("0"))));
    sim.inject(fault(Target::Api, 1, status(401, None)));
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    let k = sim.counters();
    // 503 then password grant; after the 401 the refresh grant
    assert_eq!((k.password_grants, k.refresh_grants), (1, 1));
    assert_eq!(k.api_requests, 3);
}

#[test]
fn tenant_discovery_failure_is_reported_and_api_base_overrides_it() {
    let sim = sim();
    sim.inject(Fault {
        path_prefix: Some("/.well-known/cxone-configuration".into()),
        ..fault(Target::Discovery, 1, status(404, None))
    });
    let c = cxone(&sim, "");
    let e = get(&c, AGENTS).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("tenant"), "{}", e.message);
    // not cached: the next call discovers it
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);

    let c = cxone(&sim, &format!(r#""api_base":"{}/cxone""#, sim.base_url()));
    let before = sim.counters().discovery_requests;
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    assert_eq!(
        sim.counters().discovery_requests,
        before + 1,
        "openid-configuration only"
    );
}

#[test]
fn generic_issuer_discovery_with_rfc8414_fallback() {
    let sim = sim();
    let json = format!(
        r#"{{"issuer":"{}","api_base":"{}/cxone","client_id":"{CLIENT_ID}","client_secret":"{SECRET}"}}"#,
        sim.issuer(),
        sim.base_url()
    );
    let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    sim.inject(Fault {
        path_prefix: Some("/.well-known/openid-configuration".into()),
        ..fault(Target::Discovery, 1, status(404, None))
    });
    assert_eq!(get(&c, AGENTS).unwrap().status, 200);
    assert_eq!(
        sim.counters().discovery_requests,
        2,
        "openid 404, then RFC 8414"
    );
    // discovery that keeps failing names both documents
    let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    sim.inject(fault(Target::Discovery, 2, status(404, None)));
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(
        e.message.contains("openid-configuration")
            && e.message.contains("oauth-authorization-server")
    );
    // 5xx on discovery is retried (a new client: the failed one repeats its failure for
    // backoff_base_ms)
    let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
    sim.inject(fault(Target::Discovery, 1, status(503, None)));
    c.token_blocking(None).unwrap();
}

#[test]
fn discovery_document_is_validated() {
    let sim = sim();
    let json = format!(
        r#"{{"issuer":"{}","api_base":"{}","client_id":"{CLIENT_ID}","client_secret":"{SECRET}"}}"#,
        sim.issuer(),
        sim.base_url()
    );
    for body in [
        r#"{"issuer":"ISSUER"}"#.to_string(),
        r#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/t"}"#
            .to_string(),
        r#"{"issuer":"ISSUER","token_endpoint":"http://example.com/t"}"#.to_string(),
        "not json".to_string(),
    ] {
        let body = body.replace("ISSUER", &sim.issuer());
        let c = Arc::new(Client::new(Config::from_json(Some(&json)).unwrap()).unwrap());
        sim.inject(fault(
            Target::Discovery,
            1,
            Action::Status {
                status: 200,
                retry_after: None,
                body: Some(body.clone()),
            },
        ));
        let e = c.token_blocking(None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{body}: {e:?}");
    }
}
