//! Client certificates (mTLS) against Debian's nginx verifying them, in front of the
//! simulator through the gateway's path prefixes; certificates made by openssl per test.

mod common;
#[path = "support/nginx.rs"]
mod nginx;

use std::path::Path;
use std::sync::Arc;

use common::{sim, CLIENT_ID, SECRET};
use cxoauth::{Client, Config, ErrorKind};
use nginx::{make_ca, make_leaf, Leaf, Mtls, Nginx, TempDir};

/// CA `ca` (server + clients `client`, `client-ec`), CA `other` (client `stranger`).
fn pki() -> TempDir {
    let d = TempDir::new("pki");
    make_ca(&d.0, "ca");
    make_ca(&d.0, "other");
    make_leaf(&d.0, "ca", "server", "rsa:2048", Leaf::Server);
    make_leaf(&d.0, "ca", "client", "rsa:2048", Leaf::Client);
    make_leaf(&d.0, "ca", "client-ec", "ec", Leaf::Client);
    make_leaf(&d.0, "other", "stranger", "rsa:2048", Leaf::Client);
    d
}

fn config(port: u16, pki: &Path, extra: serde_json::Value) -> String {
    let mut cfg = serde_json::json!({
        "gateway": {"host": "127.0.0.1", "port": port,
                    "login_path_prefix": "/login", "api_path_prefix": "/api"},
        "ca_file": pki.join("ca.pem"),
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
        "max_retries": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg.to_string()
}

fn files(pki: &Path, name: &str) -> serde_json::Value {
    serde_json::json!({
        "client_cert_file": pki.join(format!("{name}.pem")),
        "client_key_file": pki.join(format!("{name}.key")),
    })
}

fn client(cfg: &str) -> Arc<Client> {
    Arc::new(Client::new(Config::from_json(Some(cfg)).unwrap()).unwrap())
}

/// A GET on this thread's connections after the first (blocking call), or on the
/// process-wide pool (an async call on the runtime).
fn get(c: &Arc<Client>, pool: bool) -> cxoauth::Result<cxoauth::HttpResponse> {
    let req = c.prepare("GET", "/api/v2/echo", &[], None)?;
    if pool {
        cxoauth::runtime::handle()?.block_on(c.request(req, None))
    } else {
        c.request_blocking(req, None)
    }
}

/// Refused by the gateway: a TLS error, or nginx's 400 as an answer.
fn refused(r: cxoauth::Result<cxoauth::HttpResponse>) -> bool {
    match r {
        Ok(resp) => resp.status == 400,
        Err(e) => e.kind == ErrorKind::Tls || e.http_status == 400,
    }
}

#[test]
fn the_right_certificate_passes_on_both_request_paths() {
    let pki = pki();
    let sim = sim();
    let gw = Nginx::start(
        sim.addr().port(),
        Some(Mtls {
            dir: &pki.0,
            client_ca: "ca",
        }),
    );
    for name in ["client", "client-ec"] {
        let c = client(&config(gw.port, &pki.0, files(&pki.0, name)));
        c.token_blocking(None).unwrap();
        for i in 0..4 {
            assert_eq!(get(&c, i % 2 == 0).unwrap().status, 200, "{name} {i}");
        }
    }
    // inline PEM, the same material
    let inline = serde_json::json!({
        "client_cert_pem": std::fs::read_to_string(pki.path("client.pem")).unwrap(),
        "client_key_pem": std::fs::read_to_string(pki.path("client.key")).unwrap(),
    });
    let c = client(&config(gw.port, &pki.0, inline));
    assert_eq!(get(&c, false).unwrap().status, 200);
    assert_eq!(get(&c, true).unwrap().status, 200);
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (3, 10), "{k:?}");
}

#[test]
fn no_certificate_or_one_from_another_ca_is_refused() {
    let pki = pki();
    let sim = sim();
    let gw = Nginx::start(
        sim.addr().port(),
        Some(Mtls {
            dir: &pki.0,
            client_ca: "ca",
        }),
    );
    for extra in [serde_json::json!({}), files(&pki.0, "stranger")] {
        let c = client(&config(gw.port, &pki.0, extra.clone()));
        let e = c.token_blocking(None).unwrap_err();
        assert!(
            e.kind == ErrorKind::Tls || e.http_status == 400,
            "{extra}: {e:?}"
        );
        assert!(refused(get(&c, true)), "{extra}");
    }
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (0, 0), "{k:?}");
}

#[test]
fn rotated_certificate_files_are_picked_up() {
    cxoauth::config::tls_identity::set_recheck_interval_for_tests(std::time::Duration::ZERO);
    let pki = pki();
    let sim = sim();
    let gw = Nginx::start(
        sim.addr().port(),
        Some(Mtls {
            dir: &pki.0,
            client_ca: "ca",
        }),
    );
    let live = TempDir::new("rotate");
    let put = |name: &str| {
        // key first, then the certificate: a half-done rotation keeps the old identity
        for ext in ["key", "pem"] {
            let tmp = live.path(&format!("tmp.{ext}"));
            std::fs::copy(pki.path(&format!("{name}.{ext}")), &tmp).unwrap();
            std::fs::rename(&tmp, live.path(&format!("id.{ext}"))).unwrap();
        }
    };
    put("client");
    let c = client(&config(gw.port, &pki.0, files(&live.0, "id")));
    c.token_blocking(None).unwrap();
    for pool in [false, true, false] {
        assert_eq!(get(&c, pool).unwrap().status, 200);
    }
    put("stranger"); // another CA: the gateway refuses the new handshakes
    for pool in [false, true] {
        assert!(refused(get(&c, pool)), "pool={pool}");
    }
    put("client-ec"); // back to a certificate of the right CA (another key type too)
    for pool in [false, true] {
        assert_eq!(get(&c, pool).unwrap().status, 200, "pool={pool}");
    }
}

#[test]
fn bad_certificate_configuration_is_a_config_error_naming_the_key() {
    let pki = pki();
    let d = &pki.0;
    // an EC P-521 key (ring signs with P-256 and P-384 only)
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-out",
        ])
        .arg(d.join("p521.key"))
        .output()
        .unwrap();
    assert!(out.status.success());
    // an expired certificate (and its key)
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.self_signed(&kp).unwrap();
    std::fs::write(d.join("expired.pem"), expired.pem()).unwrap();
    std::fs::write(d.join("expired.key"), kp.serialize_pem()).unwrap();
    std::fs::write(d.join("garbage.pem"), "not a certificate").unwrap();

    let p = |n: &str| d.join(n).display().to_string();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!({"client_cert_file": 7, "client_key_file": p("client.key")}),
            "\"client_cert_file\" must be a string",
        ),
        (
            serde_json::json!({"client_key_pem": true}),
            "\"client_key_pem\" must be a string",
        ),
        (
            serde_json::json!({"client_cert_file": p("missing.pem"), "client_key_file": p("client.key")}),
            "\"client_cert_file\": cannot read",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem"), "client_key_file": p("missing.key")}),
            "\"client_key_file\": cannot read",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem")}),
            "\"client_key_file\" is missing",
        ),
        (
            serde_json::json!({"client_key_pem": "x"}),
            "\"client_cert_pem\" is missing",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem"), "client_key_file": p("client-ec.key")}),
            "does not match",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem"), "client_key_file": p("stranger.key")}),
            "does not match",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem"), "client_key_file": p("p521.key")}),
            "unsupported key type",
        ),
        (
            serde_json::json!({"client_cert_file": p("client.pem"), "client_key_file": p("client.pem")}),
            "\"client_key_file\" holds no PEM private key",
        ),
        (
            serde_json::json!({"client_cert_file": p("garbage.pem"), "client_key_file": p("client.key")}),
            "\"client_cert_file\" holds no PEM certificate",
        ),
        (
            serde_json::json!({"client_cert_file": p("expired.pem"), "client_key_file": p("expired.key")}),
            "expired",
        ),
    ];
    let secrets: Vec<String> = [
        "client.key",
        "client-ec.key",
        "stranger.key",
        "p521.key",
        "expired.key",
    ]
    .iter()
    .map(|n| std::fs::read_to_string(d.join(n)).unwrap())
    .collect();
    for (extra, needle) in cases {
        let e = Config::from_json(Some(&config(1, d, extra.clone()))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{extra}");
        assert!(e.message.contains(needle), "{extra}: {}", e.message);
        for s in &secrets {
            let body: String = s.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(
                !e.message.contains(&body[..40]),
                "key material in: {}",
                e.message
            );
        }
    }
}
