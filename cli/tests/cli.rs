//! Runs the built `cxoauth` binary against the project's simulator, started in-process on
//! 127.0.0.1 (ready when `Simulator::start` returns).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cxoauth_sim::{SimOptions, Simulator};
use serde_json::Value;

const CLIENT_ID: &str = "test-client";
/// Contains every character that needs form-urlencoding in Basic auth (as tests/common does).
const SECRET: &str = "s3cr:/+=%&et value";
const WRONG_SECRET: &str = "wr0ng:/+=%&secret value";

/// Every variable that could leak configuration or a proxy into the child from the test
/// runner's environment.
const SCRUBBED_VARS: &[&str] = &[
    "CXOAUTH_CONFIG",
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "CXONE_CLIENT_ID",
    "CXONE_CLIENT_SECRET",
    "CXONE_ACCESS_KEY_ID",
    "CXONE_ACCESS_KEY_SECRET",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn sim() -> Simulator {
    Simulator::start(SimOptions {
        clients: vec![(CLIENT_ID.to_string(), SECRET.to_string())],
        ..SimOptions::default()
    })
    .expect("simulator starts")
}

/// Endpoints of `sim` plus short timeouts; `creds` adds client_id/client_secret.
fn config_value(sim: &Simulator, creds: Option<&str>) -> Value {
    let mut v = serde_json::json!({
        "token_url": sim.token_url(),
        "api_base": sim.base_url(),
        "backoff_base_ms": 20,
        "backoff_max_ms": 200,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
    });
    if let Some(secret) = creds {
        v["client_id"] = CLIENT_ID.into();
        v["client_secret"] = secret.into();
    }
    v
}

fn config(sim: &Simulator) -> String {
    config_value(sim, Some(SECRET)).to_string()
}

fn wrong_config(sim: &Simulator) -> String {
    config_value(sim, Some(WRONG_SECRET)).to_string()
}

/// The binary with a clean environment (no config or proxy variables from outside).
fn cxoauth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cxoauth"));
    for v in SCRUBBED_VARS {
        c.env_remove(v);
    }
    c
}

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {:?}", self.text());
        })
    }

    /// Neither stream contains any of the secrets.
    fn assert_no_secret(&self) {
        let stdout = String::from_utf8_lossy(&self.stdout);
        for s in [SECRET, WRONG_SECRET] {
            assert!(!stdout.contains(s), "secret on stdout: {stdout}");
            assert!(
                !self.stderr.contains(s),
                "secret on stderr: {}",
                self.stderr
            );
        }
    }
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cxoauth starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
        // dropping the pipe closes it: the child sees EOF
    }
    let out = child.wait_with_output().unwrap();
    let res = Out {
        code: out.status.code().expect("exited normally"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    res.assert_no_secret();
    res
}

fn run_args(config: &str, args: &[&str]) -> Out {
    run(cxoauth().arg("--config").arg(config).args(args), None)
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "cxoauth-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A plain HTTP/1.1 GET on the simulator with a bearer token, independent of the CLI and
/// the library: (status, body).
fn raw_api_get(sim: &Simulator, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
        sim.addr()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

// ---- token ----

#[test]
fn token_prints_exactly_one_line_that_the_api_accepts() {
    let sim = sim();
    let out = run_args(&config(&sim), &["token"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stderr, "");
    let text = out.text();
    assert!(text.ends_with('\n'), "{text:?}");
    let token = text.strip_suffix('\n').unwrap();
    assert!(!token.is_empty());
    assert!(!token.contains(char::is_whitespace), "{text:?}");
    assert_eq!(sim.counters().tokens_issued, 1);

    let (status, body) = raw_api_get(&sim, "/api/v2/organizations/me", token);
    assert_eq!(status, 200, "{body}");
    let org: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(org["name"], "Simulated Org");
    // and a made-up token is not accepted
    assert_eq!(
        raw_api_get(&sim, "/api/v2/organizations/me", "not-a-token").0,
        401
    );
}

// ---- request ----

#[test]
fn request_get_prints_the_json_body() {
    let sim = sim();
    let out = run_args(
        &config(&sim),
        &["request", "GET", "/api/v2/organizations/me"],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let org = out.json();
    assert_eq!(org["id"], "5f2b7f1e-3c4d-4a8b-9e6f-1a2b3c4d5e6f");
    assert_eq!(org["name"], "Simulated Org");
    assert_eq!(sim.counters().api_requests, 1);
}

#[test]
fn include_prints_status_line_and_headers_first() {
    let sim = sim();
    let out = run_args(
        &config(&sim),
        &["request", "-i", "GET", "/api/v2/organizations/me"],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let text = out.text();
    let (head, body) = text.split_once("\n\n").expect("blank line after headers");
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("HTTP 200"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap_or_else(|| panic!("header {l:?}"));
            (n.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("content-type"), Some("application/json"));
    assert_eq!(get("content-length"), Some(body.len().to_string().as_str()));
    assert_eq!(get("inin-correlation-id").map(str::len), Some(36));
    let org: Value = serde_json::from_str(body).unwrap();
    assert_eq!(org["name"], "Simulated Org");
}

#[test]
fn not_found_exits_2_and_still_prints_the_body() {
    let sim = sim();
    let out = run_args(&config(&sim), &["request", "GET", "/api/v2/does/not/exist"]);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    let err = out.json();
    assert_eq!(err["status"], 404);
    assert_eq!(err["code"], "not.found");

    let out = run_args(
        &config(&sim),
        &["request", "-i", "DELETE", "/api/v2/organizations/me"],
    );
    assert_eq!(out.code, 2);
    assert!(out.text().starts_with("HTTP 405\n"), "{}", out.text());
}

#[test]
fn post_body_from_file() {
    let sim = sim();
    let dir = TempDir::new();
    let body = "{\"name\":\"from a file\",\"n\":[1,2,3]}\n";
    let file = dir.write("body.json", body.as_bytes());
    let data = format!("@{}", path_str(&file));
    let out = run_args(
        &config(&sim),
        &["request", "POST", "/api/v2/echo", "-d", &data],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let echo = out.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], body);
    assert_eq!(echo["body_len"], body.len());
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["authorization"], "Bearer <redacted>");

    let out = run_args(
        &config(&sim),
        &[
            "request",
            "POST",
            "/api/v2/echo",
            "-d",
            "@/nonexistent/body.json",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/nonexistent/body.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn post_body_from_stdin_with_headers() {
    let sim = sim();
    let body: &[u8] = b"line one\nline two: \"quoted\" \xc3\xa9\n";
    let out = run(
        cxoauth().arg("--config").arg(config(&sim)).args([
            "request",
            "PUT",
            "/api/v2/echo/sub?x=1",
            "-d",
            "@-",
            "-H",
            "Content-Type: text/plain",
            "-H",
            "X-Test: one",
        ]),
        Some(body),
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let echo = out.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/api/v2/echo/sub");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["body"], std::str::from_utf8(body).unwrap());
    assert_eq!(echo["headers"]["content-type"], "text/plain");
    assert_eq!(echo["headers"]["x-test"], "one");
}

#[test]
fn literal_body_and_bad_arguments() {
    let sim = sim();
    let out = run_args(
        &config(&sim),
        &["request", "PATCH", "/api/v2/echo", "-d", "{\"a\":1}"],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.json()["body"], "{\"a\":1}");

    // the token never goes to another host; a bad header is refused before any I/O
    let before = sim.counters();
    for args in [
        &["request", "GET", "https://evil.example/api/v2/x"][..],
        &[
            "request",
            "GET",
            "/api/v2/echo",
            "-H",
            "Authorization: Bearer mine",
        ][..],
        &["request", "GET", "/api/v2/echo", "-H", "NoColon"][..],
    ] {
        let out = run_args(&config(&sim), args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains("invalid argument"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    assert_eq!(sim.counters().api_requests, before.api_requests);
}

#[test]
fn per_call_option_flags_take_effect() {
    use cxoauth_sim::{Action, Fault};
    let sim = sim();
    let status = |status| Action::Status {
        status,
        retry_after: None,
        body: None,
    };
    // --max-retries 0: one 503, printed, exit 2
    sim.inject(Fault::api(status(503)).with_count(3));
    let before = sim.counters();
    let out = run_args(
        &config(&sim),
        &["request", "--max-retries", "0", "GET", "/api/v2/echo"],
    );
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert_eq!(sim.counters().api_requests - before.api_requests, 1);
    sim.reset();
    // --idempotent: a POST retried after a 503
    sim.inject(Fault::api(status(503)).with_count(1));
    let out = run_args(
        &config(&sim),
        &[
            "request",
            "--idempotent",
            "POST",
            "/api/v2/echo",
            "-d",
            "{}",
        ],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(sim.counters().api_requests, 2);
    // --no-resend-401: the 401 is the answer, no second token
    sim.reset();
    sim.inject(Fault::api(status(401)).with_count(1));
    let out = run_args(
        &config(&sim),
        &["request", "-i", "--no-resend-401", "GET", "/api/v2/echo"],
    );
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert!(out.text().starts_with("HTTP 401\n"), "{}", out.text());
    let k = sim.counters();
    assert_eq!((k.token_requests, k.api_requests), (1, 1), "{k:?}");
    // without it: a new token and a resend
    sim.inject(Fault::api(status(401)).with_count(1));
    let out = run_args(&config(&sim), &["request", "GET", "/api/v2/echo"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    // --deadline: the call ends by it, well before the server's delayed reply
    sim.inject(Fault::api(Action::Delay { ms: 3000 }).with_count(1));
    let started = std::time::Instant::now();
    let out = run_args(
        &config(&sim),
        &[
            "request",
            "--deadline",
            "300",
            "--timeout",
            "2000",
            "GET",
            "/api/v2/echo",
        ],
    );
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("timeout"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_millis(2500));
    // out of range: refused before any I/O, naming the flag
    let before = sim.counters();
    for args in [
        &["request", "--deadline", "0", "GET", "/api/v2/echo"][..],
        &["request", "--max-retries", "101", "GET", "/api/v2/echo"][..],
        &["request", "--timeout", "3600001", "GET", "/api/v2/echo"][..],
    ] {
        let out = run_args(&config(&sim), args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains(args[1]), "{}", out.stderr);
    }
    let k = sim.counters();
    assert_eq!(k.api_requests, before.api_requests);
    assert_eq!(k.token_requests, before.token_requests);
}

// ---- errors ----

#[test]
fn wrong_secret_exits_1_with_invalid_client_and_no_secret() {
    let sim = sim();
    for args in [
        &["token"][..],
        &["request", "GET", "/api/v2/organizations/me"][..],
    ] {
        let out = run_args(&wrong_config(&sim), args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.text());
        assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
        assert!(out.stderr.contains("HTTP status: 401"), "{}", out.stderr);
        // assert_no_secret ran in run()
    }
    assert_eq!(sim.counters().tokens_issued, 0);
    assert_eq!(sim.counters().api_requests, 0);
}

#[test]
fn unusable_config_exits_1_naming_the_key() {
    let out = run(
        cxoauth().args([
            "--config",
            r#"{"region":"eu-west-1","client_id":"x"}"#,
            "token",
        ]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("\"client_secret\""), "{}", out.stderr);

    let out = run(
        cxoauth().args([
            "--config",
            r#"{"region":"eu-west-1","client_secret":"s3cr:/+=%&et value""#,
            "token",
        ]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not valid JSON"), "{}", out.stderr);

    let out = run(
        cxoauth().args(["--config", "/nonexistent/cxoauth.json", "token"]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/nonexistent/cxoauth.json"),
        "{}",
        out.stderr
    );
}

// ---- regions ----

#[test]
fn regions_lists_all_18() {
    let out = run(cxoauth().arg("regions"), None);
    assert_eq!(out.code, 0);
    let text = out.text();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 18, "{text}");
    assert!(rows.iter().all(|r| r.len() == 2), "{text}");
    assert!(
        rows.contains(&vec!["eu-central-1", "mypurecloud.de"]),
        "{text}"
    );
    assert!(
        rows.contains(&vec!["us-east-1", "mypurecloud.com"]),
        "{text}"
    );
}

// ---- check ----

#[test]
fn check_good_config() {
    let sim = sim();
    let out = run_args(&config(&sim), &["check"]);
    assert_eq!(
        out.code,
        0,
        "stdout: {}\nstderr: {}",
        out.text(),
        out.stderr
    );
    let text = out.text();
    for line in [
        "config sources: --config inline JSON",
        "platform: genesys",
        &format!("token endpoint: {}", sim.token_url()),
        &format!("API base: {}/", sim.base_url()),
        "client_id: test-client",
        "client_secret: set",
        "proxy: none",
        "client authentication: client_secret_basic (default)",
        "credentials accepted: yes",
        "client authentication in use: client_secret_basic",
        "clock skew: ",
        "check: OK",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("token endpoint reachable: yes"), "{text}");
    // the sim's default lifetime is 86400 s
    let lifetime: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("token lifetime: "))
        .and_then(|v| v.strip_suffix(" s"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no token lifetime in:\n{text}"));
    assert!((86_000..=86_400).contains(&lifetime), "{lifetime}");
    // sim and CLI share this machine's clock
    let skew: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("clock skew: "))
        .and_then(|v| v.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no clock skew in:\n{text}"));
    assert!(skew.abs() <= 1, "{skew}");
    let c = sim.counters();
    assert_eq!(c.tokens_issued, 1);
    // one plain probe plus one token request
    assert_eq!(c.token_requests, 2);
}

#[test]
fn check_wrong_secret_fails() {
    let sim = sim();
    let out = run_args(&wrong_config(&sim), &["check"]);
    assert_eq!(out.code, 1);
    let text = out.text();
    assert!(text.contains("client_secret: set"), "{text}");
    assert!(text.contains("token endpoint reachable: yes"), "{text}");
    assert!(
        text.contains("credentials accepted: NO (invalid_client)"),
        "{text}"
    );
    assert!(text.contains("check: FAILED"), "{text}");
    assert!(!text.contains("token lifetime"), "{text}");
}

#[test]
fn check_unreachable_endpoint_and_missing_secret() {
    // a port nobody listens on
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = serde_json::json!({
        "token_url": format!("http://127.0.0.1:{port}/oauth/token"),
        "api_base": format!("http://127.0.0.1:{port}"),
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "timeout_ms": 2000,
        "deadline_ms": 4000,
    });
    let out = run_args(&cfg.to_string(), &["check"]);
    assert_eq!(out.code, 1);
    let text = out.text();
    assert!(text.contains("token endpoint reachable: NO"), "{text}");
    assert!(text.contains("check: FAILED"), "{text}");

    let out = run_args(
        r#"{"token_url":"http://127.0.0.1:9/oauth/token","api_base":"http://127.0.0.1:9","client_id":"a"}"#,
        &["check"],
    );
    assert_eq!(out.code, 1);
    let text = out.text();
    assert!(text.contains("config: INVALID"), "{text}");
    assert!(text.contains("client_secret: unset"), "{text}");
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs")
        .status
        .success();
    assert!(ok, "openssl {args:?}");
}

/// `check` reports the gateway, the client certificate's subject and expiry, the assertion
/// key (file, alg, kid; never its content) and the client authentication asked for.
#[test]
fn check_reports_gateway_certificate_and_client_authentication() {
    let sim = sim();
    let dir = std::env::temp_dir().join(format!("cxoauth-cli-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=cxoauth cli",
            "-keyout",
            "client.key",
            "-out",
            "client.pem",
        ],
    );
    let port = sim.addr().port();
    let cfg = serde_json::json!({
        "gateway": {"host": "127.0.0.1", "protocol": "http", "port": port,
                    "login_path_prefix": "/login", "api_path_prefix": "/api"},
        "client_id": CLIENT_ID,
        "client_auth": "tls_client_auth",
        "client_cert_file": dir.join("client.pem"),
        "client_key_file": dir.join("client.key"),
        "timeout_ms": 2000,
        "max_retries": 0,
    });
    let text = run_args(&cfg.to_string(), &["check"]).text();
    for line in [
        &format!("gateway: http://127.0.0.1:{port} (login prefix \"/login\", API prefix \"/api\")"),
        "client certificate: CN=cxoauth cli (expires ",
        "client authentication: tls_client_auth (config key \"client_auth\")",
        "client_secret: unset",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let key = std::fs::read_to_string(dir.join("client.key")).unwrap();
    let cfg = serde_json::json!({
        "token_url": sim.token_url(),
        "api_base": sim.base_url(),
        "client_id": CLIENT_ID,
        "client_assertion_key_file": dir.join("client.key"),
        "client_assertion_alg": "ES256",
        "client_assertion_kid": "k1",
        "timeout_ms": 2000,
        "max_retries": 0,
    });
    let out = run_args(&cfg.to_string(), &["check"]);
    let text = out.text();
    for line in [
        &format!(
            "client assertion key: {} (ES256, kid k1)",
            dir.join("client.key").display()
        ),
        "client authentication: private_key_jwt (an assertion key and no secret)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    for l in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !text.contains(l) && !out.stderr.contains(l),
            "key material in:\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_shows_the_proxy_with_its_password_redacted() {
    let sim = sim();
    let mut cfg = config_value(&sim, Some(SECRET));
    cfg["proxy"] = "http://proxyuser:pr0xy-pw@127.0.0.1:9".into();
    let out = run_args(&cfg.to_string(), &["check"]);
    let text = out.text();
    assert!(
        text.contains("proxy: http://proxyuser:redacted@127.0.0.1:9/ (config key \"proxy\")"),
        "{text}"
    );
    assert!(!text.contains("pr0xy-pw") && !out.stderr.contains("pr0xy-pw"));
    // nothing listens on the proxy port, and nothing needs to: the simulator is on loopback,
    // which never goes through a proxy (the credential would travel in clear to it)
    assert_eq!(out.code, 0, "{text}");

    let out = run(
        cxoauth()
            .env("HTTPS_PROXY", "envuser:env-pw@proxy.invalid:3128")
            .args(["--config", &config(&sim), "check"]),
        None,
    );
    let text = out.text();
    assert!(
        text.contains("proxy: http://envuser:redacted@proxy.invalid:3128/ (from HTTPS_PROXY)"),
        "{text}"
    );
    assert!(!text.contains("env-pw"));
}

// ---- config sources ----

#[test]
fn config_from_a_file() {
    let sim = sim();
    let dir = TempDir::new();
    let file = dir.write("cxoauth.json", config(&sim).as_bytes());
    let out = run(
        cxoauth().args([
            "--config",
            path_str(&file),
            "request",
            "GET",
            "/api/v2/tokens/me",
        ]),
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.json()["OAuthClient"]["id"], CLIENT_ID);

    // global option after the subcommand
    let out = run(cxoauth().args(["check", "--config", path_str(&file)]), None);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.text().contains(&format!(
            "config sources: --config file {}\n",
            file.display()
        )),
        "{}",
        out.text()
    );
}

#[test]
fn config_from_cxoauth_config_variable() {
    let sim = sim();
    let out = run(
        cxoauth().env("CXOAUTH_CONFIG", config(&sim)).arg("token"),
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.text().lines().count(), 1);

    let out = run(
        cxoauth().env("CXOAUTH_CONFIG", config(&sim)).arg("check"),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.text().contains("config sources: CXOAUTH_CONFIG\n"),
        "{}",
        out.text()
    );

    // --config wins over CXOAUTH_CONFIG
    let out = run(
        cxoauth().env("CXOAUTH_CONFIG", wrong_config(&sim)).args([
            "--config",
            &config(&sim),
            "token",
        ]),
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let out = run(
        cxoauth().env("CXOAUTH_CONFIG", config(&sim)).args([
            "--config",
            &wrong_config(&sim),
            "token",
        ]),
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
}

#[test]
fn credentials_from_an_env_file() {
    let sim = sim();
    let dir = TempDir::new();
    let env_file = dir.write(
        "creds.env",
        format!(
            "# test credentials\nexport GENESYSCLOUD_OAUTHCLIENT_ID={CLIENT_ID}\nGENESYSCLOUD_OAUTHCLIENT_SECRET=\"{SECRET}\"\n"
        )
        .as_bytes(),
    );
    let endpoints = config_value(&sim, None).to_string();
    let out = run(
        cxoauth().env("CXOAUTH_CONFIG", &endpoints).args([
            "--env-file",
            path_str(&env_file),
            "request",
            "GET",
            "/api/v2/tokens/me",
        ]),
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.json()["OAuthClient"]["id"], CLIENT_ID);

    let out = run(
        cxoauth().args([
            "--config",
            &endpoints,
            "--env-file",
            path_str(&env_file),
            "check",
        ]),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.text());
    let text = out.text();
    assert!(
        text.contains(&format!(
            "config sources: --config inline JSON, env file {} (--env-file)\n",
            env_file.display()
        )),
        "{text}"
    );
    assert!(text.contains("client_secret: set"), "{text}");

    // without the env file the secret is missing
    let out = run(cxoauth().args(["--config", &endpoints, "check"]), None);
    assert_eq!(out.code, 1);
    assert!(
        out.text().contains("client_secret: unset"),
        "{}",
        out.text()
    );
}

#[test]
fn credentials_from_environment_variables() {
    let sim = sim();
    let endpoints = config_value(&sim, None).to_string();
    let out = run(
        cxoauth()
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", SECRET)
            .args(["--config", &endpoints, "check"]),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.text().contains(
            "config sources: --config inline JSON, environment variables (GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET)\n"
        ),
        "{}",
        out.text()
    );
}

// ---- help and completions ----

#[test]
fn help_usage_errors_and_completions() {
    for cmd in ["token", "request", "regions", "check", "completions"] {
        let out = run(cxoauth().args([cmd, "--help"]), None);
        assert_eq!(out.code, 0, "{cmd}");
        assert!(
            out.text().contains("Usage: cxoauth"),
            "{cmd}: {}",
            out.text()
        );
    }
    let out = run(cxoauth().arg("--help"), None);
    assert_eq!(out.code, 0);
    assert!(
        out.text().contains("TOKEN=$(cxoauth token)"),
        "{}",
        out.text()
    );

    // usage errors are 1; 2 means an HTTP status outside 2xx
    for args in [&["bogus"][..], &[][..], &["request", "GET"][..]] {
        let out = run(cxoauth().args(args), None);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains("Usage"), "{args:?}: {}", out.stderr);
    }

    let out = run(cxoauth().args(["completions", "bash"]), None);
    assert_eq!(out.code, 0);
    let script = out.text();
    assert!(script.contains("_cxoauth()"), "{script}");
    assert!(script.contains("regions"));
    let out = run(cxoauth().args(["completions", "zsh"]), None);
    assert_eq!(out.code, 0);
    assert!(out.text().contains("#compdef cxoauth"));
}

// ---- metrics ----

/// The value of the one sample line starting with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> f64 {
    let hits: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(hits.len(), 1, "{prefix} in:\n{text}");
    hits[0].rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn metrics_after_requests_agree_with_the_simulator() {
    let sim = sim();
    let mut cfg = config_value(&sim, Some(SECRET));
    cfg["metrics_name"] = "cli-test".into();
    let out = run_args(
        &cfg.to_string(),
        &["metrics", "-n", "3", "GET", "/api/v2/organizations/me?x=1"],
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let text = out.text();
    let seen = sim.counters();
    assert_eq!(seen.api_requests, 3);
    assert!(
        text.contains("# TYPE cxoauth_http_attempts_total counter\n"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "cxoauth_http_attempts_total{client=\"cli-test\",cause=\"first\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            "http_client_request_duration_seconds_count{client=\"cli-test\",http_request_method=\"GET\",http_response_status_code=\"200\","
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            "cxoauth_token_fetches_total{client=\"cli-test\",outcome=\"ok\"}"
        ),
        seen.token_requests as f64
    );
    // no response body, no query string, no client id
    assert!(
        !text.contains("Simulated Org") && !text.contains("x=1"),
        "{text}"
    );
    assert!(!text.contains(CLIENT_ID), "{text}");

    // JSON, without a request: a token only
    let out = run_args(&config(&sim), &["metrics", "--format", "json"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let json = out.json();
    let fetches = json["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "cxoauth_token_fetches_total")
        .unwrap();
    assert_eq!(fetches["type"], "counter");
    assert!(fetches["samples"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["labels"]["outcome"] == "ok" && s["value"] == 1.0));
    assert_eq!(sim.counters().api_requests, 3);

    // a bad format is a usage error (1)
    assert_eq!(
        run_args(&config(&sim), &["metrics", "--format", "xml"]).code,
        1
    );
}

#[test]
fn metrics_still_printed_when_the_request_fails() {
    let sim = sim();
    let out = run_args(
        &wrong_config(&sim),
        &["metrics", "GET", "/api/v2/organizations/me"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
    let text = out.text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("cxoauth_token_fetches_total{")
                && l.contains("outcome=\"auth\"")
                && l.ends_with(" 1")),
        "{text}"
    );
}
