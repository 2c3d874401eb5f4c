//! OpenID Connect / OAuth 2.0 authorization server metadata discovery, and CXone's API base
//! discovery.
//!
//! `{issuer}/.well-known/openid-configuration` is read first, then (RFC 8414)
//! `{issuer}/.well-known/oauth-authorization-server`. From it: `token_endpoint` (https, or http
//! to loopback) and `token_endpoint_auth_methods_supported`, which picks Basic or body client
//! authentication when the configuration does not say.

use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::config::{parse_url, ClientAuth, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::http::outgoing::Outgoing;
use crate::http::transport::{HttpResponse, Transport};

use super::deadline_error;
use crate::error::scrub;
use crate::http::retry::{drive, parse_retry_after, Attempt, Policy, Verdict};
use std::time::SystemTime;

/// Discovery documents larger than this are not discovery documents.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Where and how to ask for tokens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub token_url: Url,
    pub client_auth: ClientAuth,
    /// The other method the server advertised, when `client_auth` was not configured and
    /// both `client_secret_basic` and `client_secret_post` are offered.
    pub fallback_auth: Option<ClientAuth>,
}

impl Endpoints {
    /// The other advertised method than `used`, if there is one.
    pub fn alternative_to(&self, used: ClientAuth) -> Option<ClientAuth> {
        let f = self.fallback_auth?;
        if used == self.client_auth {
            Some(f)
        } else if used == f {
            Some(self.client_auth)
        } else {
            None
        }
    }
}

/// Joins a well-known path to the issuer (keeping an issuer path, without doubling slashes).
fn well_known(issuer: &Url, suffix: &str) -> Result<Url> {
    let base = issuer.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/{suffix}"))
        .map_err(|e| Error::config(format!("config key \"issuer\" cannot be used: {e}")))
}

/// GETs a JSON document under the retry policy: 5xx and connection failures back off, 429 is
/// rate limiting (its `Retry-After` is waited for, or the call fails as rate limited).
/// `Ok(None)` for 404 and 410 (the document does not exist there).
pub async fn get_json(
    transport: &Transport,
    cfg: &Config,
    url: &Url,
    deadline: Instant,
) -> Result<Option<Value>> {
    let mut policy = Policy::new(cfg, deadline);
    drive(&mut policy, |_| async {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Attempt::done(Err(deadline_error(cfg)));
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let sent = transport
            .send(Outgoing {
                method: Method::GET,
                url: url.clone(),
                headers,
                body: None,
                timeout: cfg.timeout.min(remaining),
                max_body: MAX_DOCUMENT_BYTES,
            })
            .await;
        match sent {
            Ok(r) => judge_document(cfg, url, &r),
            Err(se) => Attempt {
                verdict: if se.retryable {
                    Verdict::Backoff
                } else {
                    Verdict::Final
                },
                value: Err(se.error),
            },
        }
    })
    .await
}

/// A document reply: the JSON object, none (404, 410), or the error and whether to retry.
fn judge_document(cfg: &Config, url: &Url, r: &HttpResponse) -> Attempt<Result<Option<Value>>> {
    let retry_after = r
        .header("Retry-After")
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let after = |d: Option<std::time::Duration>| d.map_or(Verdict::Backoff, Verdict::After);
    match r.status {
        404 | 410 => Attempt::done(Ok(None)),
        200..=299 => Attempt::done(
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .filter(Value::is_object)
                .map(Some)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        format!("{url} did not return a JSON object"),
                    )
                    .with_status(r.status)
                }),
        ),
        429 => Attempt {
            value: Err(Error::new(
                ErrorKind::RateLimited,
                format!("{url} answered HTTP 429 (rate limited)"),
            )
            .with_status(429)
            .with_retry_after(retry_after)),
            verdict: after(retry_after),
        },
        500..=599 => Attempt {
            value: Err(Error::new(
                ErrorKind::Server,
                format!("{url} answered HTTP {}", r.status),
            )
            .with_status(r.status)
            .with_retry_after(retry_after)),
            verdict: after(retry_after),
        },
        status => Attempt::done(Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{url} answered HTTP {status}: {}",
                scrub(&String::from_utf8_lossy(&r.body), &cfg.secrets())
            ),
        )
        .with_status(status))),
    }
}

/// Reads the issuer's metadata and picks the token endpoint and client authentication.
pub async fn discover(
    transport: &Transport,
    cfg: &Config,
    issuer: &Url,
    deadline: Instant,
) -> Result<Endpoints> {
    let oidc = well_known(issuer, "openid-configuration")?;
    let (doc_url, doc) = match get_json(transport, cfg, &oidc, deadline).await? {
        Some(doc) => (oidc, doc),
        None => {
            let rfc8414 = well_known(issuer, "oauth-authorization-server")?;
            match get_json(transport, cfg, &rfc8414, deadline).await? {
                Some(doc) => (rfc8414, doc),
                None => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!("no discovery document at {oidc} nor at {rfc8414}"),
                    )
                    .with_status(404))
                }
            }
        }
    };
    endpoints_from(cfg, issuer, &doc_url, &doc)
}

/// Validates a discovery document and derives the endpoints from it.
pub fn endpoints_from(cfg: &Config, issuer: &Url, doc_url: &Url, doc: &Value) -> Result<Endpoints> {
    let protocol = |what: String| Error::new(ErrorKind::Protocol, format!("{doc_url}: {what}"));
    if let Some(i) = doc.get("issuer").and_then(Value::as_str) {
        if i.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
            return Err(protocol(format!(
                "issuer \"{}\" does not match the configured issuer",
                scrub(i, &[])
            )));
        }
    }
    let token_url = match doc.get("token_endpoint").and_then(Value::as_str) {
        Some(t) => parse_url("token_endpoint", t).map_err(|e| protocol(e.message))?,
        None => return Err(protocol("no token_endpoint".into())),
    };
    let (client_auth, fallback_auth) = match cfg.client_auth {
        Some(a) => (a, None),
        None if cfg.assertion_by_default() => {
            // an assertion key and no secret: private_key_jwt, when the server offers it (or
            // lists no methods)
            match doc.get("token_endpoint_auth_methods_supported") {
                Some(Value::Array(m))
                    if !m.iter().any(|v| v.as_str() == Some("private_key_jwt")) =>
                {
                    return Err(protocol(
                        "token_endpoint_auth_methods_supported does not list private_key_jwt (an assertion key and no client secret are configured)".into(),
                    ));
                }
                _ => (ClientAuth::PrivateKeyJwt, None),
            }
        }
        None => match doc.get("token_endpoint_auth_methods_supported") {
            // absent: RFC 8414 says the default is client_secret_basic
            None => (ClientAuth::Basic, None),
            Some(Value::Array(methods)) => {
                let has = |m: &str| methods.iter().any(|v| v.as_str() == Some(m));
                match (has("client_secret_basic"), has("client_secret_post")) {
                    // Basic first; a client registered for post only gets invalid_client and
                    // is retried with post (see Provider::form_grant)
                    (true, true) => (ClientAuth::Basic, Some(ClientAuth::Body)),
                    (true, false) => (ClientAuth::Basic, None),
                    (false, true) => (ClientAuth::Body, None),
                    (false, false) => {
                        return Err(protocol(
                            "token_endpoint_auth_methods_supported has neither client_secret_basic nor client_secret_post".into(),
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(protocol(
                    "token_endpoint_auth_methods_supported is not a list".into(),
                ))
            }
        },
    };
    Ok(Endpoints {
        token_url,
        client_auth,
        fallback_auth,
    })
}

/// CXone: the API base of `tenant` from `{issuer}/.well-known/cxone-configuration`.
pub async fn cxone_api_base(
    transport: &Transport,
    cfg: &Config,
    issuer: &Url,
    tenant: &str,
    deadline: Instant,
) -> Result<Url> {
    let mut url = well_known(issuer, "cxone-configuration")?;
    url.query_pairs_mut().append_pair("tenantId", tenant);
    let doc = get_json(transport, cfg, &url, deadline)
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!("{url}: tenant not found (HTTP 404)"),
            )
            .with_status(404)
        })?;
    let api = doc
        .get("api_endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("{url}: no api_endpoint")))?;
    let base = parse_url("api_endpoint", api)
        .map_err(|e| Error::new(ErrorKind::Protocol, format!("{url}: {}", e.message)))?;
    check_cxone_api_base(&base, issuer).map_err(|why| {
        Error::new(
            ErrorKind::Protocol,
            format!("{url}: api_endpoint {base} refused ({why}): the token is not sent there"),
        )
    })?;
    Ok(base)
}

/// A discovered CXone API base is held to the rules of a configured one, and more: https to a
/// host under the CXone domains or the issuer's own host; loopback (plain http allowed) only
/// when the issuer itself is loopback.
fn check_cxone_api_base(base: &Url, issuer: &Url) -> std::result::Result<(), &'static str> {
    use crate::config::is_loopback;
    if is_loopback(base) {
        return if is_loopback(issuer) {
            Ok(())
        } else {
            Err("loopback, while the issuer is not")
        };
    }
    if base.scheme() != "https" {
        return Err("not https");
    }
    let host = base.host_str().unwrap_or("").to_ascii_lowercase();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    let issuer_host = issuer.host_str().unwrap_or("").to_ascii_lowercase();
    if host == issuer_host || super::cxone::API_DOMAINS.iter().any(|d| under(d)) {
        Ok(())
    } else {
        Err("not a CXone host nor the issuer's")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_cxone_api_bases_are_checked() {
        let u = |s: &str| Url::parse(s).unwrap();
        let global = u("https://cxone.niceincontact.com");
        for ok in [
            "https://api-na1.niceincontact.com",
            "https://api-b32.nice-incontact.com/inContactAPI",
            "https://cxone.niceincontact.com",
            "https://api.nicecxone-sov1.eu",
        ] {
            assert!(check_cxone_api_base(&u(ok), &global).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "https://niceincontact.com.evil.example",
            "https://evilniceincontact.com",
            "http://api-na1.niceincontact.com",
            "http://127.0.0.1:8080",
            "https://localhost",
        ] {
            assert!(check_cxone_api_base(&u(bad), &global).is_err(), "{bad}");
        }
        let local = u("http://127.0.0.1:9000");
        assert!(check_cxone_api_base(&u("http://127.0.0.1:9001"), &local).is_ok());
        assert!(check_cxone_api_base(&u("https://evil.example"), &local).is_err());
        let custom = u("https://idp.corp.example");
        assert!(check_cxone_api_base(&u("https://idp.corp.example/api"), &custom).is_ok());
        assert!(check_cxone_api_base(&u("https://api.corp.example"), &custom).is_err());
    }

    fn cfg(client_auth: Option<ClientAuth>) -> Config {
        let mut c = Config::from_json(Some(
            r#"{"platform":"generic","issuer":"https://idp.example","api_base":"https://api.example","client_id":"a","client_secret":"b"}"#,
        ))
        .unwrap();
        c.client_auth = client_auth;
        c
    }

    #[test]
    fn auth_method_choice() {
        let issuer = Url::parse("https://idp.example").unwrap();
        let doc_url = well_known(&issuer, "openid-configuration").unwrap();
        assert_eq!(
            doc_url.as_str(),
            "https://idp.example/.well-known/openid-configuration"
        );
        let doc = |methods: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"issuer":"https://idp.example/","token_endpoint":"https://idp.example/token"{methods}}}"#
            ))
            .unwrap()
        };
        let pick = |c: Option<ClientAuth>, d: &Value| endpoints_from(&cfg(c), &issuer, &doc_url, d);
        assert_eq!(pick(None, &doc("")).unwrap().client_auth, ClientAuth::Basic);
        let post = doc(r#","token_endpoint_auth_methods_supported":["client_secret_post"]"#);
        assert_eq!(pick(None, &post).unwrap().client_auth, ClientAuth::Body);
        assert_eq!(
            pick(Some(ClientAuth::Basic), &post).unwrap().client_auth,
            ClientAuth::Basic
        );
        let jwt_only = doc(r#","token_endpoint_auth_methods_supported":["private_key_jwt"]"#);
        assert!(pick(None, &jwt_only)
            .unwrap_err()
            .message
            .contains("client_secret_basic"));

        let no_token: Value = serde_json::from_str(r#"{"issuer":"https://idp.example"}"#).unwrap();
        assert!(pick(None, &no_token)
            .unwrap_err()
            .message
            .contains("token_endpoint"));
        let plain_http: Value = serde_json::from_str(
            r#"{"issuer":"https://idp.example","token_endpoint":"http://idp.example/token"}"#,
        )
        .unwrap();
        assert!(pick(None, &plain_http)
            .unwrap_err()
            .message
            .contains("loopback"));
        let other_issuer: Value = serde_json::from_str(
            r#"{"issuer":"https://evil.example","token_endpoint":"https://idp.example/token"}"#,
        )
        .unwrap();
        assert!(pick(None, &other_issuer)
            .unwrap_err()
            .message
            .contains("issuer"));
    }
}
