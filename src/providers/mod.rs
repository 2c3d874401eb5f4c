//! Token providers: how a token is obtained from the configured server.
//!
//! Genesys Cloud (region → URLs, see [`genesys`]), NICE CXone ([`cxone`]) and any generic
//! OAuth2 server share what is implemented here: OpenID discovery of the token endpoint
//! ([`discovery`]), token request building (client credentials, password, refresh token),
//! reply parsing and the token endpoint's retry policy. [`Provider`] holds what a client
//! learns along the way: the discovered endpoints, the refresh token, the CXone API base.

pub mod cxone;
pub mod discovery;
pub mod genesys;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{ClientAuth, Config, Grant};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::{parse_retry_after, retry_wait};
use crate::transport::{sensitive, Transport};
use discovery::Endpoints;
use url::Url;

/// Token replies larger than this are not tokens.
pub const MAX_TOKEN_REPLY_BYTES: usize = 1024 * 1024;
/// Longest lifetime believed from `expires_in` (a larger value is clamped to this).
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// A token as granted by the server.
pub struct TokenGrant {
    pub access_token: Zeroizing<String>,
    pub expires_in: Duration,
    /// Renews the token without the primary credentials (CXone).
    pub refresh_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What to do after a failed token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    No,
    /// Back off (full jitter); use the server's Retry-After when it gave one.
    Yes(Option<Duration>),
}

/// application/x-www-form-urlencoded as RFC 6749 appendix B asks: everything but unreserved
/// characters is percent-encoded (space as %20, which every server decodes).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string()
}

/// Headers and body of a token request: the grant's `params`, then `scope`, then the client's
/// authentication (Basic header or body parameters).
pub fn token_request(
    cfg: &Config,
    client_auth: ClientAuth,
    params: &[(&str, &str)],
) -> Result<(HeaderMap, Zeroizing<Vec<u8>>)> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut body = Zeroizing::new(String::new());
    for (k, v) in params {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(k);
        body.push('=');
        body.push_str(&form_encode(v));
    }
    if let Some(scope) = &cfg.scope {
        body.push_str("&scope=");
        body.push_str(&form_encode(scope));
    }
    match client_auth {
        ClientAuth::Basic => {
            let pair = Zeroizing::new(format!(
                "{}:{}",
                form_encode(&cfg.client_id),
                form_encode(&cfg.client_secret)
            ));
            let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
            let value = Zeroizing::new(format!("Basic {}", &*b64));
            headers.insert(AUTHORIZATION, sensitive(&value)?);
        }
        ClientAuth::Body => {
            body.push_str("&client_id=");
            body.push_str(&form_encode(&cfg.client_id));
            body.push_str("&client_secret=");
            body.push_str(&form_encode(&cfg.client_secret));
        }
    }
    Ok((headers, Zeroizing::new(body.as_bytes().to_vec())))
}

/// Replaces every occurrence of the secret in server-provided text.
pub fn scrub(text: &str, secret: &str) -> String {
    let mut t: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if !secret.is_empty() {
        t = t.replace(secret, "<redacted>");
    }
    t
}

/// Interprets a token endpoint reply.
pub fn parse_token_reply(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    host: &str,
    secret: &str,
) -> std::result::Result<TokenGrant, (Error, Retry)> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let obj = json.as_ref().and_then(Value::as_object);
    if (200..300).contains(&status) {
        let protocol = |what: &str| {
            (
                Error::new(
                    ErrorKind::Protocol,
                    format!("malformed token reply from {host}: {what}"),
                )
                .with_status(status),
                Retry::No,
            )
        };
        let Some(obj) = obj else {
            return Err(protocol("not a JSON object"));
        };
        let token = match obj.get("access_token") {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::String(_)) => return Err(protocol("empty access_token")),
            Some(_) => return Err(protocol("access_token is not a string")),
            None => return Err(protocol("no access_token")),
        };
        if !token.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(protocol(
                "access_token has characters not allowed in a header",
            ));
        }
        match obj.get("token_type") {
            None => {}
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
            Some(_) => return Err(protocol("token_type is not bearer")),
        }
        let expires_in = match obj.get("expires_in") {
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && v >= 1.0 => {
                    Duration::from_secs_f64(v.min(MAX_LIFETIME.as_secs_f64()))
                }
                _ => return Err(protocol("expires_in is not a positive number")),
            },
            Some(_) => return Err(protocol("expires_in is not a number")),
            None => return Err(protocol("no expires_in")),
        };
        let refresh_token = match obj.get("refresh_token") {
            Some(Value::String(r)) if !r.is_empty() => Some(Zeroizing::new(r.clone())),
            _ => None,
        };
        return Ok(TokenGrant {
            access_token: Zeroizing::new(token.clone()),
            expires_in,
            refresh_token,
        });
    }

    let field = |k: &str| obj.and_then(|o| o.get(k)).and_then(Value::as_str);
    let code = field("error").map(|s| scrub(s, secret));
    let description = field("error_description")
        .or_else(|| field("description"))
        .or_else(|| field("message"))
        .map(|s| scrub(s, secret));
    let retry_after = retry_after.and_then(|v| parse_retry_after(v, SystemTime::now()));
    let rate_limited = status == 429
        || (status == 400
            && code.as_deref() == Some("invalid_request")
            && description
                .as_deref()
                .is_some_and(|d| d.to_ascii_lowercase().contains("rate limit")));
    let (kind, retry) = if rate_limited {
        (ErrorKind::RateLimited, Retry::Yes(retry_after))
    } else if status >= 500 {
        (ErrorKind::Server, Retry::Yes(retry_after))
    } else if status == 401
        || status == 403
        || matches!(
            code.as_deref(),
            Some(
                "invalid_client"
                    | "unauthorized_client"
                    | "invalid_scope"
                    | "invalid_grant"
                    | "access_denied"
                    | "unsupported_grant_type"
            )
        )
    {
        (ErrorKind::Auth, Retry::No)
    } else {
        (ErrorKind::Protocol, Retry::No)
    };
    let mut message = format!(
        "token request to {host} failed: HTTP {status}{}",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
    );
    if let Some(d) = &description {
        message.push_str(": ");
        message.push_str(d);
    }
    Err((
        Error::new(kind, message)
            .with_status(status)
            .with_oauth_code(code),
        retry,
    ))
}

/// One token exchange with the token endpoint's retry policy: rate limits, 5xx and connection
/// errors back off and retry; rejected credentials and malformed replies do not.
pub async fn exchange(
    transport: &Transport,
    cfg: &Config,
    ep: &Endpoints,
    params: &[(&str, &str)],
    deadline: Instant,
) -> Result<TokenGrant> {
    let host = ep.token_url.host_str().unwrap_or("?").to_string();
    let mut attempt: u32 = 0;
    loop {
        let (headers, body) = token_request(cfg, ep.client_auth, params)?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(deadline_error(cfg));
        }
        let sent = transport
            .send(
                Method::POST,
                &ep.token_url,
                headers,
                Some(bytes::Bytes::from(body.to_vec())),
                cfg.timeout.min(remaining),
                MAX_TOKEN_REPLY_BYTES,
            )
            .await;
        let (err, retry) = match sent {
            Ok(resp) => {
                let corr = resp.correlation_id();
                match parse_token_reply(
                    resp.status,
                    resp.header("Retry-After"),
                    &resp.body,
                    &host,
                    &cfg.client_secret,
                ) {
                    Ok(grant) => return Ok(grant),
                    Err((e, r)) => (e.with_correlation_id(corr), r),
                }
            }
            Err(se) => {
                let r = if se.retryable {
                    Retry::Yes(None)
                } else {
                    Retry::No
                };
                (se.error, r)
            }
        };
        let Retry::Yes(after) = retry else {
            return Err(err);
        };
        match retry_wait(cfg, attempt, after, deadline) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Err(err),
        }
        attempt += 1;
    }
}

/// The per-client token source: the configured grant against the configured or discovered
/// token endpoint, refresh tokens when the server gives them, and the API base.
pub struct Provider {
    cfg: Arc<Config>,
    endpoints: tokio::sync::OnceCell<Endpoints>,
    refresh_token: Mutex<Option<Zeroizing<String>>>,
    api_base: tokio::sync::OnceCell<Url>,
}

impl Provider {
    pub fn new(cfg: Arc<Config>) -> Provider {
        let api_base = tokio::sync::OnceCell::new_with(cfg.api_base.clone());
        Provider {
            cfg,
            endpoints: tokio::sync::OnceCell::new(),
            refresh_token: Mutex::new(None),
            api_base,
        }
    }

    /// The token endpoint and client authentication: configured, or discovered once from the
    /// issuer and kept for the client's lifetime (a failed discovery is tried again next time).
    async fn endpoints(&self, transport: &Transport, deadline: Instant) -> Result<&Endpoints> {
        self.endpoints
            .get_or_try_init(|| async {
                let cfg = &self.cfg;
                match (&cfg.token_url, &cfg.issuer) {
                    (Some(url), _) => Ok(Endpoints {
                        token_url: url.clone(),
                        client_auth: cfg.client_auth.unwrap_or(ClientAuth::Basic),
                    }),
                    (None, Some(issuer)) => {
                        discovery::discover(transport, cfg, issuer, deadline).await
                    }
                    (None, None) => Err(Error::config("no token endpoint configured")),
                }
            })
            .await
    }

    /// Obtains a new token. With a refresh token from an earlier reply, the refresh grant is
    /// tried first; if the server rejects it, the primary grant is used.
    pub async fn fetch(&self, transport: &Transport, deadline: Instant) -> Result<TokenGrant> {
        let ep = self.endpoints(transport, deadline).await?;
        let stored = self.lock_refresh().take();
        if let Some(rt) = stored {
            let params = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            match exchange(transport, &self.cfg, ep, &params, deadline).await {
                Ok(grant) => return Ok(self.keep_refresh(grant)),
                // rejected (expired, revoked, rotated): fall back to the primary grant
                Err(e) if matches!(e.kind, ErrorKind::Auth | ErrorKind::Protocol) => {}
                Err(e) => {
                    // transient: keep the refresh token for the next attempt
                    *self.lock_refresh() = Some(rt);
                    return Err(e);
                }
            }
        }
        let grant = match &self.cfg.grant {
            Grant::ClientCredentials => {
                let params = [("grant_type", "client_credentials")];
                exchange(transport, &self.cfg, ep, &params, deadline).await?
            }
            Grant::Password { username, password } => {
                let params = [
                    ("grant_type", "password"),
                    ("username", username.as_str()),
                    ("password", password.as_str()),
                ];
                exchange(transport, &self.cfg, ep, &params, deadline).await?
            }
        };
        Ok(self.keep_refresh(grant))
    }

    fn lock_refresh(&self) -> std::sync::MutexGuard<'_, Option<Zeroizing<String>>> {
        self.refresh_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep_refresh(&self, mut grant: TokenGrant) -> TokenGrant {
        if let Some(rt) = grant.refresh_token.take() {
            *self.lock_refresh() = Some(rt);
        }
        grant
    }

    /// The API base, if already known (configured or discovered).
    pub fn known_api_base(&self) -> Option<&Url> {
        self.api_base.get()
    }

    /// The API base: configured, or (CXone) discovered once from the tenant in `access_token`.
    pub async fn api_base(
        &self,
        transport: &Transport,
        access_token: &str,
        deadline: Instant,
    ) -> Result<&Url> {
        self.api_base
            .get_or_try_init(|| async {
                let Some(issuer) = &self.cfg.issuer else {
                    return Err(Error::config("no API base configured (\"api_base\")"));
                };
                let tenant = cxone::tenant_from_jwt(access_token)?;
                discovery::cxone_api_base(transport, &self.cfg, issuer, &tenant, deadline).await
            })
            .await
    }
}

pub fn deadline_error(cfg: &Config) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "deadline of {} ms exceeded (deadline_ms)",
            cfg.deadline.as_millis()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> std::result::Result<TokenGrant, (Error, Retry)> {
        parse_token_reply(status, None, body.as_bytes(), "login.example", "s3cret")
    }

    #[test]
    fn good_reply() {
        let g = parse(
            200,
            r#"{"access_token":"abc","token_type":"bearer","expires_in":86400}"#,
        )
        .unwrap();
        assert_eq!(g.access_token.as_str(), "abc");
        assert_eq!(g.expires_in, Duration::from_secs(86400));
        assert!(!format!("{g:?}").contains("abc"));
        let g = parse(200, r#"{"access_token":"abc","expires_in":1e12}"#).unwrap();
        assert_eq!(g.expires_in, MAX_LIFETIME);
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        for body in [
            "",
            "not json",
            r#"{"access_token":"abc","expires_in":"3600"}"#,
            r#"{"access_token":"abc","expires_in":0}"#,
            r#"{"access_token":"abc","expires_in":-5}"#,
            r#"{"access_token":"abc"}"#,
            r#"{"expires_in":60}"#,
            r#"{"access_token":"","expires_in":60}"#,
            r#"{"access_token":12,"expires_in":60}"#,
            r#"{"access_token":"a b","expires_in":60}"#,
            r#"{"access_token":"abc","token_type":"mac","expires_in":60}"#,
            r#"{"access_token":"abc","expires_in":60"#,
            "[1]",
        ] {
            let (e, r) = parse(200, body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{body}");
            assert_eq!(r, Retry::No);
        }
    }

    #[test]
    fn error_classes() {
        let (e, r) = parse(
            401,
            r#"{"error":"invalid_client","description":"client not found","error_description":"client not found"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.oauth_code.as_deref(), Some("invalid_client"));
        assert_eq!(e.http_status, 401);
        assert_eq!(r, Retry::No);

        let (e, r) = parse(
            400,
            r#"{"error":"invalid_request","description":"rate limit exceeded;","error_description":"rate limit exceeded;"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(r, Retry::Yes(None));

        let (e, _) = parse(
            400,
            r#"{"error":"invalid_request","error_description":"missing grant"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);

        let (e, r) = parse_token_reply(429, Some("2"), b"", "h", "s").unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(r, Retry::Yes(Some(Duration::from_secs(2))));

        let (e, r) = parse(503, "<html>").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(r, Retry::Yes(None));
    }

    #[test]
    fn server_text_is_scrubbed_of_the_secret() {
        let (e, _) = parse(
            401,
            r#"{"error":"invalid_client","error_description":"bad secret s3cret\n"}"#,
        )
        .unwrap_err();
        assert!(!e.message.contains("s3cret"), "{}", e.message);
        assert!(e.message.contains("<redacted>"));
    }

    #[test]
    fn form_encoding_per_rfc6749() {
        assert_eq!(form_encode("a:/+=%& b"), "a%3A%2F%2B%3D%25%26%20b");
        assert_eq!(form_encode("Az09-._~"), "Az09-._~");
    }
}
