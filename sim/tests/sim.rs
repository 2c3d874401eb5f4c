//! Integration tests of the simulator over raw std TCP (no HTTP client crate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cxoauth_sim::{Action, Counters, Fault, SimOptions, Simulator, Target};
use serde_json::Value;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A keep-alive connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(sim: &Simulator) -> Client {
        let stream = TcpStream::connect(sim.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// `GET path` with `Authorization: <bearer>` (the whole header value, "Bearer ...").
    fn get_bearer(&mut self, path: &str, bearer: &str) -> Resp {
        self.request("GET", path, &[("Authorization", bearer)], b"")
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
        self.read_response(method == "HEAD").expect("a response")
    }

    /// Reads one Content-Length-framed response; `None` on EOF before the status line.
    fn read_response(&mut self, head: bool) -> Option<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        if !head {
            resp.body = vec![0; len];
            self.reader.read_exact(&mut resp.body).unwrap();
        }
        Some(resp)
    }
}

fn form_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%20", "+")
}

fn basic(id: &str, secret: &str) -> String {
    let raw = format!("{}:{}", form_encode(id), form_encode(secret));
    format!("Basic {}", STANDARD.encode(raw))
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn get_token(sim: &Simulator) -> String {
    let mut c = Client::connect(sim);
    let auth = basic("demo-client", "demo-secret");
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=client_credentials",
    );
    assert_eq!(r.status, 200);
    r.json()["access_token"].as_str().unwrap().to_string()
}

#[test]
fn token_with_basic_auth_and_special_secret() {
    let secret = "s3:cr/e+t= %&x";
    let sim = Simulator::start(SimOptions {
        clients: vec![("my client".to_string(), secret.to_string())],
        token_lifetime_s: 1234,
        ..Default::default()
    })
    .unwrap();
    let mut c = Client::connect(&sim);
    let auth = basic("my client", secret);
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=client_credentials&scope=ignored",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["token_type"], "bearer");
    assert_eq!(j["expires_in"], 1234);
    let token = j["access_token"].as_str().unwrap();
    assert!(token.len() >= 64);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // The token works on the API and identifies the client.
    let bearer = format!("Bearer {token}");
    let r = c.get_bearer("/api/v2/tokens/me", &bearer);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["OAuthClient"]["id"], "my client");

    // The raw (not form-encoded) secret does not match once decoded.
    let raw = format!("Basic {}", STANDARD.encode(format!("my client:{secret}")));
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &raw)],
        b"grant_type=client_credentials",
    );
    assert_eq!(r.status, 401);
    assert_eq!(sim.counters().tokens_issued, 1);
}

#[test]
fn token_with_body_auth_and_errors() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let mut c = Client::connect(&sim);
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM],
        b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["expires_in"], 86400);

    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM],
        b"grant_type=client_credentials&client_id=nobody&client_secret=x",
    );
    assert_eq!(r.status, 401);
    let j = r.json();
    assert_eq!(j["error"], "invalid_client");
    assert_eq!(j["error_description"], "client not found");
    assert_eq!(j["description"], "client not found");

    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM],
        b"grant_type=client_credentials&client_id=demo-client&client_secret=wrong",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_description"], "bad credentials");

    let auth = basic("demo-client", "demo-secret");
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");

    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.json()["error"], "invalid_request");
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=password",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = c.request("GET", "/oauth/token", &[], b"");
    assert_eq!(r.status, 405);

    let n = sim.counters();
    assert_eq!(n.token_requests, 7);
    assert_eq!(n.tokens_issued, 1);
}

#[test]
fn fault_applies_exactly_count_times() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    sim.inject(
        Fault::new(
            Target::Token,
            Action::Status {
                status: 429,
                retry_after: Some("7".into()),
                body: None,
            },
        )
        .with_count(2),
    );
    sim.inject(Fault::token(Action::TokenReply {
        status: 200,
        body: "{not json".into(),
    }));
    let mut c = Client::connect(&sim);
    let auth = basic("demo-client", "demo-secret");
    let mut send = || {
        c.request(
            "POST",
            "/oauth/token",
            &[FORM, ("Authorization", &auth)],
            b"grant_type=client_credentials",
        )
    };
    for _ in 0..2 {
        let r = send();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.json()["error_description"], "rate limit exceeded;");
    }
    let r = send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{not json");
    assert_eq!(send().status, 200);
    assert!(sim.pending_faults().is_empty());
    let n = sim.counters();
    assert_eq!((n.token_requests, n.tokens_issued), (4, 1));

    // API faults answer before authentication and carry the correlation id.
    sim.inject(
        Fault::api(Action::Status {
            status: 503,
            retry_after: None,
            body: None,
        })
        .with_method("GET")
        .with_path_prefix("/api/v2/organizations"),
    );
    let r = c.request("GET", "/api/v2/tokens/me", &[], b"");
    assert_eq!(r.status, 401);
    let j = r.json();
    assert_eq!(j["code"], "bad.credentials");
    assert_eq!(j["contextId"], r.header("inin-correlation-id").unwrap());
    let r = c.request("GET", "/api/v2/organizations/me", &[], b"");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "service.unavailable");
    assert_eq!(
        r.json()["contextId"],
        r.header("inin-correlation-id").unwrap()
    );
    assert_eq!(sim.counters().api_requests, 2);
}

#[test]
fn keep_alive_is_one_connection() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    let mut c = Client::connect(&sim);
    for _ in 0..5 {
        let r = c.get_bearer("/api/v2/organizations/me", &bearer);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["state"], "active");
    }
    assert_eq!(
        sim.counters(),
        Counters {
            token_requests: 1,
            tokens_issued: 1,
            api_requests: 5,
            connections: 2,
            // the kept-alive connection is still open (the token's closed, or about to)
            open_connections: sim.counters().open_connections,
            ..Counters::default()
        }
    );
    assert!((1..=2).contains(&sim.counters().open_connections));
    // Connection: close is honoured.
    let r = c.request("GET", "/__admin/health", &[("Connection", "close")], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    assert!(c.read_response(false).is_none());

    sim.revoke_all();
    let mut c = Client::connect(&sim);
    let r = c.get_bearer("/api/v2/organizations/me", &bearer);
    assert_eq!(r.status, 401);
}

#[test]
fn echo_redacts_authorization() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    let mut c = Client::connect(&sim);
    let r = c.request(
        "PUT",
        "/api/v2/echo/x?a=1&b=2",
        &[("Authorization", &bearer), ("X-Custom", "yes")],
        "héllo".as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert!(!String::from_utf8_lossy(&r.body).contains(&token));
    let j = r.json();
    assert_eq!(j["method"], "PUT");
    assert_eq!(j["path"], "/api/v2/echo/x");
    assert_eq!(j["query"], "a=1&b=2");
    assert_eq!(j["headers"]["authorization"], "Bearer <redacted>");
    assert_eq!(j["headers"]["x-custom"], "yes");
    assert_eq!(j["body"], "héllo");
    assert_eq!(j["body_len"], 6);

    let r = c.request("HEAD", "/api/v2/echo", &[("Authorization", &bearer)], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 0
    );
    // The connection is still usable: no body was sent for HEAD.
    let r = c.get_bearer("/api/v2/users/me", &bearer);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "bad.request");
}

#[test]
fn chunked_request_body() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let token = get_token(&sim);
    let mut c = Client::connect(&sim);
    c.send_raw(
        format!(
            "POST /api/v2/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        .as_bytes(),
    );
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "hello, world");
    assert_eq!(r.json()["body_len"], 12);

    // Malformed chunk size: 400 and close.
    c.send_raw(b"POST /api/v2/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 400);
    assert!(c.read_response(false).is_none());
}

#[test]
fn drop_faults_and_admin_api() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let mut admin = Client::connect(&sim);
    let r = admin.request(
        "POST",
        "/__admin/faults",
        &[],
        br#"[{"target":"token","action":{"kind":"drop"}},{"target":"token","action":{"kind":"drop_mid_body"}}]"#,
    );
    assert_eq!(r.status, 204);
    assert_eq!(sim.pending_faults().len(), 2);
    let r = admin.request("POST", "/__admin/faults", &[], b"{\"target\":\"nope\"}");
    assert_eq!(r.status, 400);

    let mut c = Client::connect(&sim);
    c.send_raw(b"POST /oauth/token HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(c.read_response(false).is_none());

    let mut c = Client::connect(&sim);
    c.send_raw(b"POST /oauth/token HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    let mut all = Vec::new();
    c.reader.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("Content-Length: 1000\r\n"));
    assert_eq!(text.split("\r\n\r\n").nth(1).unwrap().len(), 10);

    let r = admin.request(
        "POST",
        "/__admin/clients",
        &[],
        br#"{"client_id":"c2","client_secret":"s2"}"#,
    );
    assert_eq!(r.status, 204);
    let r = admin.request("POST", "/__admin/config", &[], br#"{"token_lifetime_s":5}"#);
    assert_eq!(r.status, 204);
    let auth = basic("c2", "s2");
    let r = admin.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=client_credentials",
    );
    assert_eq!(r.json()["expires_in"], 5);

    let r = admin.request("GET", "/__admin/counters", &[], b"");
    let counters: Counters = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(counters.token_requests, 3);
    assert_eq!(counters.connections, 3);
    assert_eq!(
        admin.request("POST", "/__admin/reset", &[], b"").status,
        204
    );
    // reset zeroes the counters; the open-connections gauge is state, not a counter
    let after = sim.counters();
    assert_eq!(
        after,
        Counters {
            open_connections: after.open_connections,
            ..Counters::default()
        }
    );
}

#[test]
fn many_concurrent_connections() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let token = get_token(&sim);
    std::thread::scope(|s| {
        for _ in 0..64 {
            s.spawn(|| {
                let bearer = format!("Bearer {token}");
                let mut c = Client::connect(&sim);
                for _ in 0..10 {
                    let r = c.get_bearer("/api/v2/tokens/me", &bearer);
                    assert_eq!(r.status, 200);
                }
            });
        }
    });
    let n = sim.counters();
    assert_eq!((n.api_requests, n.connections), (640, 65));
}

#[test]
fn trickle_large_body_redirect() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    sim.inject(Fault::api(Action::Trickle {
        bytes_per_interval: 50,
        interval_ms: 5,
    }));
    sim.inject(Fault::api(Action::LargeBody { bytes: 100_000 }));
    sim.inject(Fault::api(Action::Redirect {
        location: "http://127.0.0.1:1/elsewhere".into(),
    }));
    let mut c = Client::connect(&sim);
    let started = std::time::Instant::now();
    let r = c.get_bearer("/api/v2/organizations/me", &bearer);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Simulated Org");
    assert!(started.elapsed() >= Duration::from_millis(25));
    let r = c.request("GET", "/api/v2/anything", &[], b"");
    assert_eq!((r.status, r.body.len()), (200, 100_000));
    let r = c.request("GET", "/api/v2/anything", &[], b"");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:1/elsewhere"));
    assert!(r.header("inin-correlation-id").is_some());
    let r = c.get_bearer("/api/v2/anything", &bearer);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "not.found");
    let r = c.request("GET", "/elsewhere", &[], b"");
    assert_eq!(r.status, 404);
}

#[test]
fn drop_does_not_hang_on_pending_requests() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    sim.inject(Fault::token(Action::Delay { ms: 60_000 }));
    let mut c = Client::connect(&sim);
    c.send_raw(b"POST /oauth/token HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    let _idle = Client::connect(&sim);
    while sim.counters().token_requests == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = std::time::Instant::now();
    drop(sim);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(c.read_response(false).is_none());
}

#[test]
fn token_expiry_and_lifetime() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    sim.set_token_lifetime(0);
    let token = get_token(&sim);
    let mut c = Client::connect(&sim);
    let bearer = format!("Bearer {token}");
    let r = c.get_bearer("/api/v2/tokens/me", &bearer);
    assert_eq!(r.status, 401);
    sim.reset();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    let r = c.get_bearer("/api/v2/tokens/me", &bearer);
    assert_eq!(r.status, 200);
}

#[test]
fn cxone_discovery_grants_and_tenant() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let mut c = Client::connect(&sim);
    let doc = c.request("GET", "/.well-known/openid-configuration", &[], b"");
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["issuer"], sim.issuer().as_str());
    assert_eq!(
        doc.json()["token_endpoint"],
        format!("{}/auth/token", sim.issuer())
    );

    let auth = basic("demo-client", "demo-secret");
    let grant = |c: &mut Client, body: &str| {
        c.request(
            "POST",
            "/auth/token",
            &[FORM, ("Authorization", &auth)],
            body.as_bytes(),
        )
    };
    let bad = grant(
        &mut c,
        "grant_type=password&username=demo-key&password=wrong",
    );
    assert_eq!(
        (bad.status, bad.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let ok = grant(
        &mut c,
        "grant_type=password&username=demo-key&password=demo-key-secret",
    );
    assert_eq!(ok.status, 200);
    let body = ok.json();
    assert_eq!(body["expires_in"], 3600);
    let access = body["access_token"].as_str().unwrap().to_string();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["tenantId"], sim.tenant_id().as_str());

    // refresh tokens rotate: the used one is rejected afterwards
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let refreshed = grant(
        &mut c,
        &format!("grant_type=refresh_token&refresh_token={rt}"),
    );
    assert_eq!(refreshed.status, 200);
    let again = grant(
        &mut c,
        &format!("grant_type=refresh_token&refresh_token={rt}"),
    );
    assert_eq!(again.status, 400);
    let rt2 = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    sim.revoke_refresh_tokens();
    let revoked = grant(
        &mut c,
        &format!("grant_type=refresh_token&refresh_token={rt2}"),
    );
    assert_eq!(revoked.status, 400);

    // tenant discovery and the API
    let cfg = c.request(
        "GET",
        &format!(
            "/.well-known/cxone-configuration?tenantId={}",
            sim.tenant_id()
        ),
        &[],
        b"",
    );
    assert_eq!(
        cfg.json()["api_endpoint"],
        format!("{}/cxone", sim.issuer())
    );
    let unknown = c.request(
        "GET",
        "/.well-known/cxone-configuration?tenantId=nope",
        &[],
        b"",
    );
    assert_eq!(unknown.status, 404);
    let path = "/cxone/incontactapi/services/v31.0/agents";
    assert_eq!(c.request("GET", path, &[], b"").status, 401);
    let bearer = format!("Bearer {access}");
    let agents = c.get_bearer(path, &bearer);
    assert_eq!(agents.json()["totalRecords"], 1);

    let k = sim.counters();
    assert_eq!((k.password_grants, k.refresh_grants), (2, 3));
    assert_eq!(k.discovery_requests, 3);
    assert_eq!(k.token_requests, 5);
    assert_eq!(k.api_requests, 2);
}

#[test]
fn idle_connections_are_closed_after_the_keep_alive_time() {
    let sim = Simulator::start(SimOptions {
        keep_alive_idle_ms: 100,
        ..SimOptions::default()
    })
    .unwrap();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    let mut c = Client::connect(&sim);
    assert_eq!(
        c.get_bearer("/api/v2/organizations/me", &bearer).status,
        200
    );
    assert!(sim.counters().open_connections >= 1);
    // the server closes it: the client reads the end of the stream (bounded by the socket's
    // read timeout), and the gauge and counter say so
    assert!(c.read_response(false).is_none());
    let k = sim.counters();
    assert!(k.idle_closes >= 1, "{k:?}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while sim.counters().open_connections != 0 {
        assert!(std::time::Instant::now() < until, "{:?}", sim.counters());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn https_mode_serves_with_its_own_certificate() {
    let sim = Simulator::start(SimOptions {
        tls: true,
        ..SimOptions::default()
    })
    .unwrap();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let pem = sim.ca_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    // a plain-HTTP client gets no HTTP answer from the TLS port (a TLS alert at most)
    let mut c = Client::connect(&sim);
    c.send_raw(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(c.reader.get_mut(), &mut got);
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
}

#[test]
fn rate_limit_per_token_with_headers_from_the_window() {
    let sim = Simulator::start(SimOptions {
        rate_limit: 3,
        rate_limit_window_ms: 1500,
        ..SimOptions::default()
    })
    .unwrap();
    let (t1, t2) = (get_token(&sim), get_token(&sim));
    let (b1, b2) = (format!("Bearer {t1}"), format!("Bearer {t2}"));
    let mut c = Client::connect(&sim);
    let started = std::time::Instant::now();
    for n in 1..=3 {
        let r = c.get_bearer("/api/v2/echo", &b1);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("inin-ratelimit-allowed"), Some("3"));
        assert_eq!(
            r.header("inin-ratelimit-count"),
            Some(n.to_string().as_str())
        );
        let reset: u64 = r.header("inin-ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=2).contains(&reset), "{reset}");
    }
    let r = c.get_bearer("/api/v2/organizations/me", &b1);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["code"], "too.many.requests.retry.after");
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.header("inin-ratelimit-count"), Some("3"));
    // the other token has its own window
    let r = c.get_bearer("/api/v2/tokens/me", &b2);
    assert_eq!(
        (r.status, r.header("inin-ratelimit-count")),
        (200, Some("1"))
    );
    assert_eq!(sim.counters().api_429s, 1);
    // an injected 429 is counted too
    sim.inject(Fault::api(Action::Status {
        status: 429,
        retry_after: Some("1".into()),
        body: None,
    }));
    assert_eq!(c.get_bearer("/api/v2/echo", &b2).status, 429);
    assert_eq!(sim.counters().api_429s, 2);
    // once the window has passed (bounded wait for the clock), a new one starts
    while started.elapsed() < Duration::from_millis(1600) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = c.get_bearer("/api/v2/echo", &b1);
    assert_eq!(
        (r.status, r.header("inin-ratelimit-count")),
        (200, Some("1"))
    );
    // reset goes back to the start-up settings and forgets the windows
    sim.reset();
    let t3 = get_token(&sim);
    let r = c.get_bearer("/api/v2/echo", &format!("Bearer {t3}"));
    assert_eq!(r.header("inin-ratelimit-count"), Some("1"));
}

#[test]
fn rate_limit_per_client_and_admin_config() {
    let sim = Simulator::start(SimOptions::default()).unwrap();
    let t1 = get_token(&sim);
    let mut c = Client::connect(&sim);
    // no limit: only organizations/me carries (constant) rate-limit headers
    let r = c.get_bearer("/api/v2/echo", &format!("Bearer {t1}"));
    assert_eq!(r.header("inin-ratelimit-count"), None);
    let r = c.get_bearer("/api/v2/organizations/me", &format!("Bearer {t1}"));
    assert_eq!(r.header("inin-ratelimit-allowed"), Some("300"));
    let mut admin = Client::connect(&sim);
    let bad = admin.request(
        "POST",
        "/__admin/config",
        &[],
        br#"{"rate_limit_scope":"nope"}"#,
    );
    assert_eq!(bad.status, 400);
    let r = admin.request(
        "POST",
        "/__admin/config",
        &[],
        br#"{"rate_limit":2,"rate_limit_window_ms":60000,"rate_limit_scope":"client"}"#,
    );
    assert_eq!(r.status, 204);
    let t2 = get_token(&sim);
    // two tokens of one client share its window
    let r = c.get_bearer("/api/v2/echo", &format!("Bearer {t1}"));
    assert_eq!(r.header("inin-ratelimit-count"), Some("1"));
    let r = c.get_bearer("/api/v2/echo", &format!("Bearer {t2}"));
    assert_eq!(
        (r.status, r.header("inin-ratelimit-count")),
        (200, Some("2"))
    );
    let r = c.get_bearer("/api/v2/echo", &format!("Bearer {t2}"));
    assert_eq!(r.status, 429);
    let reset: u64 = r.header("inin-ratelimit-reset").unwrap().parse().unwrap();
    assert!((59..=60).contains(&reset), "{reset}");
    // an unknown token is 401 without rate-limit headers and is not counted
    let r = c.get_bearer("/api/v2/echo", "Bearer nope");
    assert_eq!((r.status, r.header("inin-ratelimit-count")), (401, None));
    assert_eq!(sim.counters().api_429s, 1);
}

#[test]
fn idle_tokens_are_revoked_and_outages_end() {
    let sim = Simulator::start(SimOptions {
        token_idle_timeout_ms: 300,
        ..SimOptions::default()
    })
    .unwrap();
    let token = get_token(&sim);
    let bearer = format!("Bearer {token}");
    let mut c = Client::connect(&sim);
    // used more often than the idle timeout: stays valid for longer than it
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(700) {
        assert_eq!(c.get_bearer("/api/v2/tokens/me", &bearer).status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    // unused for longer: revoked
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.get_bearer("/api/v2/tokens/me", &bearer).status, 401);
    assert_eq!(sim.counters().idle_revocations, 1);

    // admin config: off again; a login-service outage answers 503 until it ends
    let mut admin = Client::connect(&sim);
    let r = admin.request(
        "POST",
        "/__admin/config",
        &[],
        br#"{"token_idle_timeout_ms":0,"token_outage_ms":60000}"#,
    );
    assert_eq!(r.status, 204);
    let auth = basic("demo-client", "demo-secret");
    let r = c.request(
        "POST",
        "/oauth/token",
        &[FORM, ("Authorization", &auth)],
        b"grant_type=client_credentials",
    );
    assert_eq!(
        (r.status, &r.json()["error"]),
        (503, &Value::from("server_error"))
    );
    sim.token_outage(Duration::ZERO);
    let token = get_token(&sim);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        c.get_bearer("/api/v2/tokens/me", &format!("Bearer {token}"))
            .status,
        200
    );
}
