//! private_key_jwt (RFC 7523) and tls_client_auth (RFC 8705) against a real third-party
//! authorization server: node oidc-provider 9 (tests/support/oidc.rs), keys made by openssl per
//! test; tls_client_auth with Debian's nginx terminating mTLS in front of it.

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/oidc.rs"]
mod oidc;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use cxoauth::{Client, Config, ErrorKind};
use nginx::{make_ca, make_leaf, Leaf, Mtls, Nginx, TempDir};
use oidc::{openssl, Oidc};
use serde_json::{json, Value};

/// Key files: `rsa.pem` (PKCS#8), `rsa-pkcs1.pem`, `ec.pem` (PKCS#8 P-256), `ec-sec1.pem`,
/// `other.pem` (another RSA key), and keys of types not supported: `p384.pem`, `ed25519.pem`,
/// `rsa1024.pem`.
fn keys() -> TempDir {
    let d = TempDir::new("jwtkeys");
    let g = |args: &[&str]| openssl(&d.0, args);
    g(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "rsa.pem",
    ]);
    g(&[
        "pkey",
        "-in",
        "rsa.pem",
        "-traditional",
        "-out",
        "rsa-pkcs1.pem",
    ]);
    g(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "ec.pem",
    ]);
    g(&[
        "pkey",
        "-in",
        "ec.pem",
        "-traditional",
        "-out",
        "ec-sec1.pem",
    ]);
    g(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "other.pem",
    ]);
    g(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-out",
        "p384.pem",
    ]);
    g(&["genpkey", "-algorithm", "ED25519", "-out", "ed25519.pem"]);
    g(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        "rsa1024.pem",
    ]);
    d
}

fn client_with(cfg: Value) -> cxoauth::Result<Arc<Client>> {
    Ok(Arc::new(Client::new(Config::from_json(Some(
        &cfg.to_string(),
    ))?)?))
}

/// A private_key_jwt configuration against the server's token endpoint (no secret).
fn jwt_config(server: &Oidc, client_id: &str, key: &Path, alg: &str) -> Value {
    json!({
        "platform": "generic",
        "token_url": format!("{}/token", server.url()),
        "api_base": server.url(),
        "client_id": client_id,
        "client_auth": "private_key_jwt",
        "client_assertion_key_file": key,
        "client_assertion_alg": alg,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
        "max_retries": 0,
    })
}

fn jwt_client(id: &str, keys: &[(&str, &Path)]) -> Value {
    json!({
        "client_id": id,
        "token_endpoint_auth_method": "private_key_jwt",
        "key_files": keys.iter().map(|(kid, p)| json!([kid, p])).collect::<Vec<_>>(),
    })
}

/// Two tokens in a row on one client (the first dropped after use): two assertions, both
/// accepted, so each carried a new jti (the server refuses a jti it has seen).
fn two_tokens(c: &Arc<Client>, server: &Oidc) -> (String, String) {
    let first = c
        .token_blocking(None)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", server.log()));
    let first = first.value.to_string();
    assert!(c.tokens().invalidate_value(&first));
    let second = c
        .token_blocking(None)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", server.log()));
    (first, second.value.to_string())
}

#[test]
fn tokens_with_rs256_ps256_and_es256_assertions() {
    let k = keys();
    let server = Oidc::start(json!({"clients": [
        jwt_client("rsa-client", &[("r1", &k.path("rsa.pem"))]),
        jwt_client("ec-client", &[("e1", &k.path("ec.pem"))]),
    ]}));
    for (id, file, alg) in [
        ("rsa-client", "rsa.pem", "RS256"),
        ("rsa-client", "rsa.pem", "PS256"),
        ("rsa-client", "rsa-pkcs1.pem", "RS256"),
        ("ec-client", "ec.pem", "ES256"),
        ("ec-client", "ec-sec1.pem", "ES256"),
    ] {
        let mut cfg = jwt_config(&server, id, &k.path(file), alg);
        cfg["client_assertion_kid"] = json!(if id == "rsa-client" { "r1" } else { "e1" });
        let c = client_with(cfg).unwrap();
        let (a, b) = two_tokens(&c, &server);
        assert!(!a.is_empty() && a != b, "{id} {file} {alg}");
        assert_eq!(c.tokens().fetch_count(), 2);
    }
}

/// With an assertion key, no secret and no `client_auth`, discovery's
/// `token_endpoint_auth_methods_supported` (which lists private_key_jwt) selects it.
#[test]
fn private_key_jwt_is_chosen_from_discovery() {
    let k = keys();
    let server =
        Oidc::start(json!({"clients": [jwt_client("ec-client", &[("e1", &k.path("ec.pem"))])]}));
    let c = client_with(json!({
        "issuer": server.url(),
        "api_base": server.url(),
        "client_id": "ec-client",
        "client_assertion_key_file": k.path("ec.pem"),
        "client_assertion_alg": "ES256",
        "timeout_ms": 5000,
    }))
    .unwrap();
    let t = c
        .token_blocking(None)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", server.log()));
    assert!(!t.value.is_empty());
}

/// A key the server does not know: OAUTH_ERR_AUTH with the server's invalid_client, and
/// nothing of the key in the message.
#[test]
fn a_wrong_key_is_invalid_client() {
    let k = keys();
    let server =
        Oidc::start(json!({"clients": [jwt_client("rsa-client", &[("r1", &k.path("rsa.pem"))])]}));
    let c = client_with(jwt_config(
        &server,
        "rsa-client",
        &k.path("other.pem"),
        "RS256",
    ))
    .unwrap();
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
    assert_eq!(e.oauth_code.as_deref(), Some("invalid_client"), "{e:?}");
    assert_no_key_material(&e.message, &k.path("other.pem"));
}

/// An assertion is accepted once: the same one posted again is refused (`jti` replay), so
/// the client's consecutive accepted fetches (above) never reused one.
#[test]
fn a_replayed_assertion_is_refused() {
    let k = keys();
    let server =
        Oidc::start(json!({"clients": [jwt_client("ec-client", &[("e1", &k.path("ec.pem"))])]}));
    let obj =
        json!({"client_assertion_key_file": k.path("ec.pem"), "client_assertion_alg": "ES256"});
    let key = cxoauth::config::assertion_key::AssertionKey::from_config(
        obj.as_object().unwrap(),
        &std::collections::HashMap::<String, String>::new(),
    )
    .unwrap()
    .unwrap();
    let token_url = url::Url::parse(&format!("{}/token", server.url())).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = cxoauth::providers::assertion::client_assertion(&key, "ec-client", &token_url, now)
        .unwrap();
    let body = format!(
        "grant_type=client_credentials&client_id=ec-client&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
        &*jwt
    );
    let (status, _) = post_form(server.port, "/token", &body);
    assert_eq!(status, 200);
    let (status, reply) = post_form(server.port, "/token", &body);
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("invalid_client"), "{reply}");
    assert!(
        server.log().contains("must only be used once"),
        "{}",
        server.log()
    );
}

fn post_form(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, reply)
}

/// No line of the key file's PEM body appears in `text`.
fn assert_no_key_material(text: &str, key: &Path) {
    let pem = std::fs::read_to_string(key).unwrap_or_default();
    for line in pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 8)
    {
        assert!(!text.contains(line), "key material in: {text}");
    }
}

/// Bad input is OAUTH_ERR_CONFIG at client creation, naming the key, with nothing of the key
/// in the message: a missing file, a file that is no key, unsupported key types, an alg that
/// does not fit the key, private_key_jwt without a key, tls_client_auth without a certificate.
#[test]
fn bad_assertion_configuration_is_a_config_error() {
    let k = keys();
    std::fs::write(k.path("not-a-key.pem"), "hello\n").unwrap();
    let base = |extra: Value| {
        let mut cfg = json!({
            "token_url": "http://127.0.0.1:9/token",
            "api_base": "http://127.0.0.1:9",
            "client_id": "c",
        });
        for (key, v) in extra.as_object().unwrap() {
            cfg[key] = v.clone();
        }
        cfg
    };
    let file = |f: &str| json!(k.path(f));
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"client_assertion_key_file": "/nonexistent/key.pem"}),
            "\"client_assertion_key_file\": cannot read /nonexistent/key.pem",
            None,
        ),
        (
            json!({"client_assertion_key_file": file("not-a-key.pem")}),
            "\"client_assertion_key_file\" holds no PEM private key",
            None,
        ),
        (
            json!({"client_assertion_key_file": file("p384.pem"), "client_assertion_alg": "ES256"}),
            "unsupported key type",
            Some("p384.pem"),
        ),
        (
            json!({"client_assertion_key_file": file("ed25519.pem")}),
            "unsupported key type",
            Some("ed25519.pem"),
        ),
        (
            json!({"client_assertion_key_file": file("rsa1024.pem")}),
            "unsupported key type",
            Some("rsa1024.pem"),
        ),
        (
            json!({"client_assertion_key_file": file("rsa.pem"), "client_assertion_alg": "ES256"}),
            "\"client_assertion_alg\" is \"ES256\", which does not fit the RSA key",
            Some("rsa.pem"),
        ),
        (
            json!({"client_assertion_key_file": file("ec.pem")}),
            "\"client_assertion_alg\" is \"RS256\", which does not fit the EC P-256 key",
            Some("ec.pem"),
        ),
        (
            json!({"client_assertion_key_file": file("ec.pem"), "client_assertion_alg": "HS256"}),
            "\"client_assertion_alg\" must be",
            None,
        ),
        (
            json!({"client_assertion_key_file": 7}),
            "\"client_assertion_key_file\" must be a string",
            None,
        ),
        (
            json!({"client_assertion_alg": "RS256"}),
            "\"client_assertion_alg\" needs \"client_assertion_key_file\"",
            None,
        ),
        (
            json!({"client_auth": "private_key_jwt", "client_secret": "s"}),
            "\"client_assertion_key_file\" is missing",
            None,
        ),
        (
            json!({"client_auth": "tls_client_auth"}),
            "a client certificate is missing",
            None,
        ),
        (
            json!({"client_auth": "basic", "client_assertion_key_file": file("rsa.pem")}),
            "\"client_secret\"",
            None,
        ),
    ];
    for (extra, needle, key) in cases {
        let e = Config::from_json(Some(&base(extra.clone()).to_string())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{extra}: {e:?}");
        assert!(e.message.contains(needle), "{extra}: {}", e.message);
        if let Some(f) = key {
            assert_no_key_material(&e.message, &k.path(f));
            assert_no_key_material(&format!("{e:?}"), &k.path(f));
        }
    }
    // a good key: Debug of the configuration shows the file, not the key
    let c = Config::from_json(Some(
        &base(
            json!({"client_assertion_key_file": file("ec.pem"), "client_assertion_alg": "ES256"}),
        )
        .to_string(),
    ))
    .unwrap();
    assert_no_key_material(&format!("{c:?}"), &k.path("ec.pem"));
    assert!(format!("{c:?}").contains("ec.pem"));
}

/// The assertion key file is re-read when it changes: the server knows only the second key; a
/// client whose key file holds the first is refused, and gets tokens once the file is replaced
/// by the second (check interval shortened for the test).
#[test]
fn a_rotated_assertion_key_is_picked_up() {
    let k = keys();
    cxoauth::config::tls_identity::set_recheck_interval_for_tests(std::time::Duration::ZERO);
    // the server knows only the second key: the first fails, the rotated file works
    let server = Oidc::start(
        json!({"clients": [jwt_client("rsa-client", &[("r2", &k.path("other.pem"))])]}),
    );
    let live = k.path("live.pem");
    std::fs::copy(k.path("rsa.pem"), &live).unwrap();
    let c = client_with(jwt_config(&server, "rsa-client", &live, "RS256")).unwrap();
    assert_eq!(c.token_blocking(None).unwrap_err().kind, ErrorKind::Auth);
    std::fs::copy(k.path("other.pem"), &live).unwrap();
    // the rejected credentials are not asked again before the auth backoff (1 s) ends: calls
    // until then end with the remembered error
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let t = loop {
        match c.token_blocking(None) {
            Ok(t) => break t,
            Err(e) if std::time::Instant::now() < until => {
                assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("{e:?}\n{}", server.log()),
        }
    };
    assert!(!t.value.is_empty());
}

/// tls_client_auth: nginx terminates mTLS in front of oidc-provider and passes the verified
/// certificate on ($ssl_client_escaped_cert); the client registered with the certificate's
/// subject gets tokens with no secret, another certificate of the same CA is invalid_client.
#[test]
fn tls_client_auth_through_an_mtls_proxy() {
    let pki = TempDir::new("oidc-pki");
    make_ca(&pki.0, "ca");
    make_leaf(&pki.0, "ca", "server", "rsa:2048", Leaf::Server);
    make_leaf(&pki.0, "ca", "client", "rsa:2048", Leaf::Client);
    make_leaf(&pki.0, "ca", "client-ec", "ec", Leaf::Client);
    let port = nginx::free_port();
    let public = format!("https://127.0.0.1:{port}");
    let server = Oidc::start(json!({
        "public_url": public,
        "clients": [{"client_id": "mtls-client", "token_endpoint_auth_method": "tls_client_auth",
                     "subject_dn": "CN=cxoauth client"}],
    }));
    let locations = format!(
        "location / {{ proxy_pass http://127.0.0.1:{};\n\
           proxy_set_header Host $host:$server_port;\n\
           proxy_set_header X-Forwarded-Proto https;\n\
           proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;\n\
           proxy_set_header X-SSL-Client-Verify $ssl_client_verify; }}\n",
        server.port
    );
    let _gw = Nginx::start_on(
        port,
        &locations,
        Some(Mtls {
            dir: &pki.0,
            client_ca: "ca",
        }),
    );
    let cfg = |leaf: &str| {
        json!({
            "issuer": public,
            "api_base": public,
            "client_id": "mtls-client",
            "client_auth": "tls_client_auth",
            "client_cert_file": pki.path(&format!("{leaf}.pem")),
            "client_key_file": pki.path(&format!("{leaf}.key")),
            "ca_file": pki.path("ca.pem"),
            "timeout_ms": 5000,
            "max_retries": 0,
        })
    };
    let c = client_with(cfg("client")).unwrap();
    let (a, b) = two_tokens(&c, &server);
    assert!(!a.is_empty() && a != b);
    let c = client_with(cfg("client-ec")).unwrap();
    let e = c.token_blocking(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e:?}");
    assert_eq!(e.oauth_code.as_deref(), Some("invalid_client"), "{e:?}");
}

/// Shared caches without a client secret: two clients with the same assertion key share the
/// file cache (the second takes the first's token, no fetch of its own); a client with another
/// key registered for the same client id does not read that entry (it fetches its own).
#[test]
fn assertion_key_clients_share_the_file_cache_by_key() {
    let k = keys();
    let cache = TempDir::new("jwtcache");
    let server = Oidc::start(json!({"clients": [jwt_client(
        "rsa-client",
        &[("r1", &k.path("rsa.pem")), ("r2", &k.path("other.pem"))]
    )]}));
    let cfg = |file: &str, kid: &str| {
        let mut c = jwt_config(&server, "rsa-client", &k.path(file), "RS256");
        c["client_assertion_kid"] = json!(kid);
        c["token_cache"] = json!(format!("file://{}", cache.0.display()));
        c
    };
    let a = client_with(cfg("rsa.pem", "r1")).unwrap();
    let ta = a.token_blocking(None).unwrap().value.to_string();
    let b = client_with(cfg("rsa.pem", "r1")).unwrap();
    let tb = b.token_blocking(None).unwrap().value.to_string();
    assert_eq!(ta, tb, "same key: the shared entry");
    let entries = |cache: &TempDir| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&cache.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "token"))
            .collect()
    };
    assert_eq!(entries(&cache).len(), 1);
    let other = client_with(cfg("other.pem", "r2")).unwrap();
    let to = other.token_blocking(None).unwrap().value.to_string();
    assert_ne!(to, ta, "another key: its own token");
    assert_eq!(entries(&cache).len(), 2, "another key: another entry");
    // nothing of a key nor a token in clear in the cache directory
    for p in entries(&cache) {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        assert_no_key_material(&text, &k.path("rsa.pem"));
        assert!(!text.contains(&ta) && !text.contains(&to));
    }
}

/// The example configurations (examples/config) use only known keys with valid values: each
/// fails only because its key files do not exist on this machine.
#[test]
fn example_configurations_are_valid_but_for_their_files() {
    for name in ["private_key_jwt.json", "gateway_mtls.json"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/config")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let e = Config::from_json(Some(&text)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        let missing_file =
            e.message.contains("cannot read") || e.message.contains("not a readable file");
        assert!(
            e.message.contains("/etc/cxoauth/") && missing_file,
            "{name}: {}",
            e.message
        );
    }
}
