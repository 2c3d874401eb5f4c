//! `cxoauth check`: what configuration was found, and whether it works.
//!
//! Network checks, in order:
//! 1. one plain, unauthenticated `GET` of the token endpoint (with OpenID discovery and no
//!    `token_url`: of `{issuer}/.well-known/openid-configuration`). Any HTTP reply, whatever
//!    its status, means "reachable"; its `Date` header gives the clock skew;
//! 2. a token fetch with the configured credentials (the library's normal path), which gives
//!    "credentials accepted" and the token lifetime.
//!
//! Nothing secret is printed: secrets are "set"/"unset", the token never appears, proxy
//! passwords are redacted.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cxoauth::config::{Grant, Platform};
use cxoauth::transport::Transport;
use cxoauth::{Client, Config, Error, ErrorKind};
use serde_json::{Map, Value};
use url::Url;

use crate::describe_error;
use crate::source::Source;

/// A skew larger than this is flagged (it is not a failure: the library times tokens by the
/// server's `expires_in` on the local monotonic clock, but JWT-validating APIs may care).
const SKEW_WARN_S: i64 = 60;

/// Proxy variables, in reqwest's order of preference for https URLs.
const PROXY_VARS: &[&str] = &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/// Prints the report; `Ok(true)` when every check passed.
pub fn run(source: &Source, out: &mut dyn Write) -> io::Result<bool> {
    writeln!(out, "config sources: {}", source.describe())?;
    let cfg = match source.config() {
        Ok(cfg) => cfg,
        Err(e) => {
            writeln!(out, "config: INVALID: {}", describe_error(&e))?;
            report_raw_secrets(&source.object(), source, out)?;
            writeln!(out, "check: FAILED")?;
            return Ok(false);
        }
    };
    report_config(&cfg, out)?;
    writeln!(out, "proxy: {}", proxy_in_use(&cfg))?;
    for (key, p) in [
        ("token_proxy", &cfg.token_proxy),
        ("api_proxy", &cfg.api_proxy),
    ] {
        if let Some(p) = p {
            writeln!(out, "{key}: {} (config key \"{key}\")", redact(p))?;
        }
    }

    match probe(&cfg) {
        Ok(p) => {
            writeln!(
                out,
                "token endpoint reachable: yes (plain GET {} answered HTTP {} in {} ms)",
                p.url,
                p.status,
                p.elapsed.as_millis()
            )?;
            match p.skew_s {
                Some(s) if s.abs() > SKEW_WARN_S => writeln!(
                    out,
                    "clock skew: {s:+} s (server Date minus local clock) WARNING: more than {SKEW_WARN_S} s"
                )?,
                Some(s) => writeln!(out, "clock skew: {s:+} s (server Date minus local clock)")?,
                None => writeln!(out, "clock skew: unknown (no valid Date header in the reply)")?,
            }
        }
        Err(e) => {
            writeln!(out, "token endpoint reachable: NO: {}", describe_error(&e))?;
            writeln!(out, "credentials accepted: not checked")?;
            writeln!(out, "check: FAILED")?;
            return Ok(false);
        }
    }

    let client = Client::new(cfg).map(Arc::new);
    let token = match &client {
        Ok(c) => c.token_blocking(None),
        Err(e) => Err(e.clone()),
    };
    let ok = token.is_ok();
    match token {
        Ok(t) => {
            writeln!(out, "credentials accepted: yes")?;
            let left = t.expires_at.saturating_duration_since(Instant::now());
            writeln!(out, "token lifetime: {} s", left.as_secs())?;
            let used = client
                .as_ref()
                .ok()
                .and_then(|c| c.tokens().live().ok())
                .and_then(|l| l.provider.client_auth_in_use());
            if let Some(a) = used {
                writeln!(out, "client authentication in use: {}", a.name())?;
            }
        }
        Err(e) => {
            let verdict = if e.kind == ErrorKind::Auth {
                match &e.oauth_code {
                    Some(code) => format!("NO ({code})"),
                    None => "NO".to_string(),
                }
            } else {
                "unknown (no answer from the token endpoint)".to_string()
            };
            writeln!(
                out,
                "credentials accepted: {verdict}: {}",
                describe_error(&e)
            )?;
        }
    }
    writeln!(out, "check: {}", if ok { "OK" } else { "FAILED" })?;
    Ok(ok)
}

/// The client authentication the configuration asks for (the one in use is reported after
/// the token fetch, as discovery may choose it).
fn client_auth(cfg: &Config) -> String {
    if let Grant::AccessKeyLegacy { .. } = cfg.grant {
        return "none (the legacy access-key grant)".to_string();
    }
    match cfg.client_auth {
        Some(a) => format!("{} (config key \"client_auth\")", a.name()),
        None if cfg.assertion_by_default() => {
            "private_key_jwt (an assertion key and no secret)".to_string()
        }
        None if cfg.token_url.is_none() => "chosen by discovery".to_string(),
        None => "client_secret_basic (default)".to_string(),
    }
}

fn set(present: bool) -> &'static str {
    if present {
        "set"
    } else {
        "unset"
    }
}

fn report_config(cfg: &Config, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "platform: {}", cfg.platform.name())?;
    match (&cfg.token_url, &cfg.issuer) {
        (Some(u), _) => writeln!(out, "token endpoint: {u}")?,
        (None, Some(i)) => writeln!(out, "token endpoint: discovered from issuer {i}")?,
        (None, None) => writeln!(out, "token endpoint: none")?,
    }
    match &cfg.api_base {
        Some(u) => writeln!(out, "API base: {u}")?,
        None => writeln!(
            out,
            "API base: discovered after the first token (cxone-configuration)"
        )?,
    }
    if let (Some(i), Some(_)) = (&cfg.issuer, &cfg.token_url) {
        writeln!(out, "issuer: {i}")?;
    }
    writeln!(out, "client_id: {}", cfg.client_id)?;
    writeln!(out, "client_secret: {}", set(!cfg.client_secret.is_empty()))?;
    writeln!(out, "client authentication: {}", client_auth(cfg))?;
    if let Some(k) = &cfg.assertion_key {
        let kid = k.kid().map(|k| format!(", kid {k}")).unwrap_or_default();
        writeln!(
            out,
            "client assertion key: {} ({}{kid})",
            k.path().display(),
            k.alg().name()
        )?;
    }
    if let Some(id) = &cfg.client_identity {
        writeln!(
            out,
            "client certificate: {} (expires {})",
            id.subject(),
            httpdate::fmt_http_date(id.not_after())
        )?;
    }
    if let Some(g) = &cfg.gateway {
        writeln!(out, "gateway: {}", g.describe())?;
    }
    if let Grant::Password { username, password } = &cfg.grant {
        writeln!(out, "access_key_id: {username}")?;
        writeln!(out, "access_key_secret: {}", set(!password.is_empty()))?;
    }
    if let Some(scope) = &cfg.scope {
        writeln!(out, "scope: {scope}")?;
    }
    Ok(())
}

/// With an invalid config there is no [`Config`]: tell from the raw sources whether the
/// secrets would have been found, so a missing one is obvious.
fn report_raw_secrets(
    obj: &Map<String, Value>,
    source: &Source,
    out: &mut dyn Write,
) -> io::Result<()> {
    let file = source
        .env_file
        .as_ref()
        .and_then(|(p, _)| cxoauth::config::read_env_file(p).ok())
        .unwrap_or_default();
    let found = |key: &str, vars: &[&str]| {
        obj.get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
            || vars.iter().any(|v| {
                std::env::var(v).is_ok_and(|x| !x.is_empty())
                    || file.get(*v).is_some_and(|x| !x.is_empty())
            })
    };
    let platform = match obj.get("platform").and_then(Value::as_str) {
        Some("cxone") => Platform::Cxone,
        Some("generic") => Platform::Generic,
        None if obj.contains_key("issuer") => Platform::Generic,
        _ => Platform::Genesys,
    };
    let secret_vars: &[&str] = match platform {
        Platform::Genesys => cxoauth::config::genesys::SECRET_VARS,
        Platform::Cxone => cxoauth::config::cxone::SECRET_VARS,
        Platform::Generic => &[],
    };
    writeln!(
        out,
        "client_secret: {}",
        set(found("client_secret", secret_vars))
    )?;
    if platform == Platform::Cxone {
        writeln!(
            out,
            "access_key_secret: {}",
            set(found(
                "access_key_secret",
                cxoauth::config::schema::env_vars("access_key_secret")
            ))
        )?;
    }
    Ok(())
}

/// The proxy the library will use: the config's `proxy`, else the standard variables
/// (reqwest's system proxy); password redacted.
pub fn proxy_in_use(cfg: &Config) -> String {
    if let Some(p) = &cfg.proxy {
        return format!("{} (config key \"proxy\")", redact(p));
    }
    for var in PROXY_VARS {
        if let Ok(v) = std::env::var(var) {
            if v.trim().is_empty() {
                continue;
            }
            return format!("{} (from {var})", redact_text(&v));
        }
    }
    "none".to_string()
}

fn redact(u: &Url) -> String {
    let mut u = u.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("redacted"));
    }
    u.to_string()
}

/// A proxy variable's value with its password hidden. A value without a scheme is read as
/// `http://` (as reqwest does); one that is not a URL at all is not shown.
fn redact_text(v: &str) -> String {
    let v = v.trim();
    let parsed = if v.contains("://") {
        Url::parse(v)
    } else {
        Url::parse(&format!("http://{v}"))
    };
    match parsed {
        Ok(u) if u.host().is_some() => redact(&u),
        _ => "set, but not a URL (value not shown)".to_string(),
    }
}

struct Probe {
    url: Url,
    status: u16,
    elapsed: Duration,
    skew_s: Option<i64>,
}

/// One plain GET (no credentials, no token) of the token endpoint.
fn probe(cfg: &Config) -> Result<Probe, Error> {
    let url = match (&cfg.token_url, &cfg.issuer) {
        (Some(u), _) => u.clone(),
        (None, Some(issuer)) => {
            let base = issuer.as_str().trim_end_matches('/');
            Url::parse(&format!("{base}/.well-known/openid-configuration"))
                .map_err(|e| Error::config(format!("issuer: {e}")))?
        }
        (None, None) => return Err(Error::config("no token endpoint configured")),
    };
    let transport = Transport::new(cfg, cxoauth::config::proxy::Side::Login)?;
    let method = cxoauth::client::parse_method("GET")?;
    let headers = cxoauth::client::parse_headers(&["Accept: application/json"])?;
    let (timeout, max_body) = (cfg.timeout, cfg.max_body_bytes);
    let sent_at = SystemTime::now();
    let started = Instant::now();
    let target = url.clone();
    let reply = cxoauth::runtime::run_blocking(async move {
        transport
            .send(cxoauth::outgoing::Outgoing {
                method,
                url: target,
                headers,
                body: None,
                timeout,
                max_body,
            })
            .await
            .map_err(|e| e.error)
    });
    let elapsed = started.elapsed();
    let (status, date) = match reply {
        Ok(r) => (r.status, r.header("date").map(str::to_string)),
        // a reply too large to keep was still a reply
        Err(e) if e.http_status != 0 => (e.http_status, None),
        Err(e) => return Err(e),
    };
    // The server stamped Date (whole seconds, truncated) somewhere between sending and
    // receiving: compare it with the midpoint, truncated the same way.
    let unix_s = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let local_s = unix_s(sent_at + elapsed / 2);
    let skew_s = date
        .and_then(|d| httpdate::parse_http_date(&d).ok())
        .map(|server| unix_s(server) - local_s);
    Ok(Probe {
        url,
        status,
        elapsed,
        skew_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_redacted() {
        assert_eq!(
            redact_text("http://bob:hunter2@proxy.example:3128"),
            "http://bob:redacted@proxy.example:3128/"
        );
        assert_eq!(
            redact_text("bob:hunter2@proxy.example:3128"),
            "http://bob:redacted@proxy.example:3128/"
        );
        assert!(!redact_text("::hunter2::").contains("hunter2"));
        assert_eq!(
            redact_text("socks5://proxy.example:1080"),
            "socks5://proxy.example:1080"
        );
    }
}
