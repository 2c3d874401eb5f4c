//! `cxoauth`: OAuth2 tokens and authenticated REST calls from the shell, on top of the cxoauth
//! library's Rust API.
//!
//! Exit status: 0 success, 1 error (usage, configuration, network, rejected credentials, a
//! failed `check`), 2 an HTTP reply outside 2xx from `cxoauth request` (its body is still
//! printed).
//!
//! Secrets (client secret, access-key secret) are never printed; the access token only by
//! `cxoauth token`, on stdout.

mod check;
mod metrics;
mod source;

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use cxoauth::Client;
use serde_json::Value;

use crate::source::Source;

const AFTER_HELP: &str = "\
Configuration: --config FILE|JSON (a JSON file, or inline JSON when it starts with '{'), else
the JSON object in $CXOAUTH_CONFIG, else the library's environment variables
(GENESYSCLOUD_REGION, GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, CXONE_...).
--env-file PATH adds a .env file read for those variables (config key \"env_file\").

Exit status: 0 success, 1 error, 2 HTTP status outside 2xx (cxoauth request).

Example:
  TOKEN=$(cxoauth token)
  curl -H \"Authorization: Bearer $TOKEN\" https://api.mypurecloud.de/api/v2/organizations/me
  cxoauth request GET /api/v2/organizations/me";

#[derive(Parser, Debug)]
#[command(
    name = "cxoauth",
    version,
    about = "OAuth2 client-credentials tokens and authenticated REST calls for Genesys Cloud CX, NICE CXone and generic OAuth2 servers",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Config: path of a JSON file, or inline JSON text (starting with '{'). Default:
    /// $CXOAUTH_CONFIG, else the environment variables.
    #[arg(long, global = true, value_name = "FILE|JSON")]
    config: Option<String>,

    /// A .env file to read the environment variables from (never exported).
    #[arg(long, global = true, value_name = "PATH")]
    env_file: Option<String>,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print an access token (only the token and a newline).
    ///
    /// For shells: TOKEN=$(cxoauth token), or
    /// curl -H "Authorization: Bearer $(cxoauth token)" ...
    Token,
    /// Send an authenticated API request and print the response body.
    ///
    /// The body goes to stdout: pretty-printed when it is JSON and stdout is a terminal, the
    /// raw bytes otherwise. Exit status 0 on 2xx, 2 on any other HTTP status, 1 when no
    /// response could be had (the error, with its OAuth code and correlation id, on stderr).
    Request(RequestArgs),
    /// Send the request(s) given (or only get a token), then print the client's metrics.
    ///
    /// Prometheus text exposition (default) or JSON, as oauth_client_metrics renders them:
    /// latency histogram, attempts, token fetches, cache, rate limits. The response bodies
    /// are not printed. Exit status 1 when a request got no response (the error on stderr,
    /// the metrics still printed), else 0.
    Metrics(metrics::MetricsArgs),
    /// List the Genesys Cloud regions: AWS region name and domain, one per line.
    Regions,
    /// Show the configuration found and test it: endpoint reachable, credentials accepted,
    /// token lifetime, clock skew, proxy.
    ///
    /// Secrets are shown only as "set"/"unset". Reachability and clock skew come from one
    /// plain, unauthenticated GET of the token endpoint (with OpenID discovery: of the
    /// issuer's discovery document), whatever its status; the skew is the server's Date
    /// header minus the local clock (1 s resolution). Exit status 1 if any check fails.
    Check,
    /// Print the library's configuration keys as JSON (name, type, default, range, allowed
    /// values, environment variables, whether secret).
    ConfigSchema,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to generate the script for.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct RequestArgs {
    /// HTTP method (GET, POST, PUT, PATCH, DELETE, ...).
    method: String,
    /// A path on the API base (/api/v2/organizations/me, query allowed) or an absolute URL on
    /// the API host.
    path: String,
    /// A request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Request body: literal text, @FILE for a file's contents, @- for stdin. Sent with
    /// Content-Type: application/json unless -H gives another one.
    #[arg(short = 'd', long = "data", value_name = "BODY|@FILE|@-")]
    data: Option<String>,
    /// Print the status line and the response headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// This call's deadline in ms, retries and waits included (overrides deadline_ms).
    #[arg(long = "deadline", value_name = "MS")]
    deadline: Option<u64>,
    /// Per-attempt timeout in ms (overrides timeout_ms).
    #[arg(long = "timeout", value_name = "MS")]
    timeout: Option<u64>,
    /// Retries after 429 / 5xx / connection failures for this call (overrides max_retries).
    #[arg(long = "max-retries", value_name = "N")]
    max_retries: Option<u64>,
    /// Retry this call after 502-504 and failures after sending whatever its method (e.g. a
    /// POST the API treats as idempotent).
    #[arg(long = "idempotent")]
    idempotent: bool,
    /// On a 401, print it (exit 2) instead of dropping the token and sending again with a new
    /// one.
    #[arg(long = "no-resend-401")]
    no_resend_401: bool,
    /// When pacing to the API's rate-limit headers would hold the call, end at once with the
    /// client-made 429 (exit 2) instead of waiting.
    #[arg(long = "fail-fast")]
    fail_fast: bool,
}

impl RequestArgs {
    /// The per-call options the flags give, each checked on its own so an error names its
    /// flag.
    fn options(&self) -> Result<cxoauth::CallOptions, cxoauth::Error> {
        let mut all = serde_json::Map::new();
        let given = [
            ("--deadline", "deadline_ms", self.deadline.map(Value::from)),
            ("--timeout", "timeout_ms", self.timeout.map(Value::from)),
            (
                "--max-retries",
                "max_retries",
                self.max_retries.map(Value::from),
            ),
            (
                "--idempotent",
                "idempotent",
                self.idempotent.then_some(Value::Bool(true)),
            ),
            (
                "--no-resend-401",
                "resend_after_401",
                self.no_resend_401.then_some(Value::Bool(false)),
            ),
            (
                "--fail-fast",
                "pacing",
                self.fail_fast.then_some(Value::from("fail_fast")),
            ),
        ];
        for (flag, key, value) in given {
            let Some(value) = value else { continue };
            let one = serde_json::json!({ key: value.clone() }).to_string();
            cxoauth::CallOptions::from_json(Some(&one))
                .map_err(|e| cxoauth::Error::invalid(format!("{flag}: {}", e.message)))?;
            all.insert(key.to_string(), value);
        }
        cxoauth::CallOptions::from_json(Some(&Value::Object(all).to_string()))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // 2 is reserved for "HTTP status outside 2xx"; usage errors are 1.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Failure::Lib(e)) => {
            eprintln!("cxoauth: {}", describe_error(&e));
            ExitCode::from(1)
        }
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(1),
        Err(Failure::Io(e)) => {
            eprintln!("cxoauth: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}

#[derive(Debug)]
pub enum Failure {
    Lib(cxoauth::Error),
    Io(io::Error),
}

impl From<cxoauth::Error> for Failure {
    fn from(e: cxoauth::Error) -> Self {
        Failure::Lib(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// The library's message (never a secret or token) plus its kind, OAuth code, HTTP status
/// and correlation id.
pub fn describe_error(e: &cxoauth::Error) -> String {
    let mut details = vec![e.kind.name().to_string()];
    if let Some(code) = &e.oauth_code {
        details.push(format!("OAuth error: {code}"));
    }
    if e.http_status != 0 {
        details.push(format!("HTTP status: {}", e.http_status));
    }
    if let Some(id) = &e.correlation_id {
        details.push(format!("correlation id: {id}"));
    }
    format!("{} ({})", e.message, details.join("; "))
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Cmd::Regions => {
            let mut out = io::stdout().lock();
            for (aws, domain) in cxoauth::config::genesys::REGIONS {
                writeln!(out, "{aws:<16}{domain}")?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::ConfigSchema => {
            let mut out = io::stdout().lock();
            out.write_all(cxoauth::config::schema::schema_text().as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "cxoauth", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Token => {
            let client = client(&cli)?;
            let token = client.token_blocking(None)?;
            let mut out = io::stdout().lock();
            out.write_all(token.value.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Request(ref args) => request(&cli, args),
        Cmd::Metrics(ref args) => metrics::run(&cli, args),
        Cmd::Check => {
            let source = Source::resolve(cli.config.as_deref(), cli.env_file.as_deref())?;
            let ok = check::run(&source, &mut io::stdout().lock())?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The request body of `-d` (literal, @FILE, @-) and the `-H` headers, with
/// `Content-Type: application/json` added for a body without one.
fn body_and_headers(
    data: Option<&str>,
    headers: &[String],
) -> Result<(Option<Vec<u8>>, Vec<String>), Failure> {
    let body = match data {
        None => None,
        Some("@-") => {
            let mut buf = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| cxoauth::Error::invalid(format!("-d @-: cannot read stdin: {e}")))?;
            Some(buf)
        }
        Some(d) if d.starts_with('@') => {
            let path = &d[1..];
            Some(std::fs::read(path).map_err(|e| {
                cxoauth::Error::invalid(format!("-d @{path}: cannot read the file: {e}"))
            })?)
        }
        Some(d) => Some(d.as_bytes().to_vec()),
    };
    let mut headers = headers.to_vec();
    let has_content_type = headers.iter().any(|h| {
        h.split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("content-type"))
    });
    if body.is_some() && !has_content_type {
        headers.push("Content-Type: application/json".to_string());
    }
    Ok((body, headers))
}

fn client(cli: &Cli) -> Result<Arc<Client>, cxoauth::Error> {
    let source = Source::resolve(cli.config.as_deref(), cli.env_file.as_deref())?;
    Ok(Arc::new(Client::new(source.config()?)?))
}

fn request(cli: &Cli, args: &RequestArgs) -> Result<ExitCode, Failure> {
    let (body, headers) = body_and_headers(args.data.as_deref(), &args.headers)?;
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let options = args.options()?;
    let client = client(cli)?;
    let req = client
        .prepare(
            &args.method,
            &args.path,
            &headers,
            body.map(bytes::Bytes::from),
        )?
        .with_options(options);
    let resp = client.request_blocking(req, None)?;

    let mut out = io::stdout().lock();
    if args.include {
        writeln!(out, "HTTP {}", resp.status)?;
        for (name, value) in &resp.headers {
            out.write_all(name.as_str().as_bytes())?;
            out.write_all(b": ")?;
            out.write_all(value.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.write_all(b"\n")?;
    }
    let terminal = io::stdout().is_terminal();
    out.write_all(&render_body(&resp.body, terminal))?;
    out.flush()?;
    Ok(if (200..300).contains(&resp.status) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The body as written to stdout: on a terminal JSON is pretty-printed and a final newline
/// added; otherwise the bytes are left exactly as received.
fn render_body(body: &[u8], terminal: bool) -> Vec<u8> {
    if !terminal || body.is_empty() {
        return body.to_vec();
    }
    let mut out = if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        reindent_json(body)
    } else {
        body.to_vec()
    };
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Re-indents valid JSON text (two spaces, like `jq`), keeping the server's key order and
/// number spelling exactly (no parse-and-reserialise round trip).
fn reindent_json(json: &[u8]) -> Vec<u8> {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
    let mut out = Vec::with_capacity(json.len() * 2);
    let (mut depth, mut in_string, mut escaped, mut after_open) = (0usize, false, false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if after_open {
            after_open = false;
            if matches!(b, b'}' | b']') {
                // empty object or array stays on one line
                depth = depth.saturating_sub(1);
                out.push(b);
                continue;
            }
            newline(&mut out, depth);
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                depth += 1;
                after_open = true;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_rendering() {
        let json = br#"{"a":1,"b":[true]}"#;
        assert_eq!(render_body(json, false), json.to_vec());
        let pretty = String::from_utf8(render_body(json, true)).unwrap();
        assert_eq!(pretty, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}\n");
        // key order and number spelling as sent; strings untouched
        let odd = br#"{"z":1.50,"a":{},"s":"x, {y}: \"q\" \\","e":[ ]}"#;
        assert_eq!(
            String::from_utf8(render_body(odd, true)).unwrap(),
            "{\n  \"z\": 1.50,\n  \"a\": {},\n  \"s\": \"x, {y}: \\\"q\\\" \\\\\",\n  \"e\": []\n}\n"
        );
        assert_eq!(render_body(b"plain", true), b"plain\n".to_vec());
        assert_eq!(render_body(b"", true), b"".to_vec());
    }

    #[test]
    fn error_details() {
        let e = cxoauth::Error::new(cxoauth::ErrorKind::Auth, "token request failed")
            .with_status(401)
            .with_oauth_code(Some("invalid_client".into()))
            .with_correlation_id(Some("corr-1".into()));
        let s = describe_error(&e);
        assert!(s.contains("OAuth error: invalid_client"), "{s}");
        assert!(s.contains("HTTP status: 401"), "{s}");
        assert!(s.contains("correlation id: corr-1"), "{s}");
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
