//! Token endpoint replies: the grant from a success, the error class and retry advice from a
//! failure (RFC 6749 section 5, the Genesys "rate limit exceeded" 400).

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{TokenGrant, MAX_LIFETIME};
use crate::error::{scrub, Error, ErrorKind};
use crate::http::retry::parse_retry_after;
use crate::http::retry::Verdict;
use crate::secret;

/// Interprets a token endpoint reply.
pub fn parse_token_reply(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    host: &str,
    secrets: &[&str],
) -> std::result::Result<TokenGrant, (Error, Verdict)> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let result = interpret(status, retry_after, json.as_ref(), host, secrets);
    // The reply may hold the token (and a refresh token): wipe the parsed copy.
    if let Some(v) = json {
        secret::wipe_json(v);
    }
    result
}

type Failure = (Error, Verdict);

fn interpret(
    status: u16,
    retry_after: Option<&str>,
    json: Option<&Value>,
    host: &str,
    secrets: &[&str],
) -> std::result::Result<TokenGrant, Failure> {
    let obj = json.and_then(Value::as_object);
    if (200..300).contains(&status) {
        let protocol = |what: &str| {
            (
                Error::new(
                    ErrorKind::Protocol,
                    format!("malformed token reply from {host}: {what}"),
                )
                .with_status(status),
                Verdict::Final,
            )
        };
        return obj
            .ok_or("not a JSON object")
            .and_then(grant_from)
            .map_err(protocol);
    }
    Err(failure(status, retry_after, obj, host, secrets))
}

/// The grant of a success reply; `Err`: what is malformed.
fn grant_from(obj: &Map<String, Value>) -> std::result::Result<TokenGrant, &'static str> {
    let token = access_token(obj)?;
    match obj.get("token_type") {
        None => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return Err("token_type is not bearer"),
    }
    let refresh_token = match obj.get("refresh_token") {
        Some(Value::String(r)) if !r.is_empty() => Some(Zeroizing::new(r.clone())),
        _ => None,
    };
    Ok(TokenGrant {
        access_token: Zeroizing::new(token.to_string()),
        expires_in: expires_in(obj)?,
        refresh_token,
    })
}

/// A non-empty token of the characters a header value allows.
fn access_token(obj: &Map<String, Value>) -> std::result::Result<&str, &'static str> {
    let token = match obj.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::String(_)) => return Err("empty access_token"),
        Some(_) => return Err("access_token is not a string"),
        None => return Err("no access_token"),
    };
    if !token.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("access_token has characters not allowed in a header");
    }
    Ok(token)
}

/// The lifetime, capped at [`MAX_LIFETIME`].
fn expires_in(obj: &Map<String, Value>) -> std::result::Result<Duration, &'static str> {
    match obj.get("expires_in") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && v >= 1.0 => {
                Ok(Duration::from_secs_f64(v.min(MAX_LIFETIME.as_secs_f64())))
            }
            _ => Err("expires_in is not a positive number"),
        },
        Some(_) => Err("expires_in is not a number"),
        None => Err("no expires_in"),
    }
}

/// The error of a failure reply (server text scrubbed of the secrets) and whether to retry.
fn failure(
    status: u16,
    retry_after: Option<&str>,
    obj: Option<&Map<String, Value>>,
    host: &str,
    secrets: &[&str],
) -> Failure {
    let field = |k: &str| obj.and_then(|o| o.get(k)).and_then(Value::as_str);
    let code = field("error").map(|s| scrub(s, secrets));
    let description = field("error_description")
        .or_else(|| field("description"))
        .or_else(|| field("message"))
        .map(|s| scrub(s, secrets));
    let retry_after = retry_after.and_then(|v| parse_retry_after(v, SystemTime::now()));
    let (kind, retry) = match classify(status, code.as_deref(), description.as_deref()) {
        k @ (ErrorKind::RateLimited | ErrorKind::Server) => (k, verdict_after(retry_after)),
        k => (k, Verdict::Final),
    };
    let mut message = format!(
        "token request to {host} failed: HTTP {status}{}",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
    );
    if let Some(d) = &description {
        message.push_str(": ");
        message.push_str(d);
    }
    (
        Error::new(kind, message)
            .with_status(status)
            .with_oauth_code(code)
            .with_retry_after(retry_after),
        retry,
    )
}

/// The error class of a failure: Genesys throttles the token endpoint with a 400
/// `invalid_request` "rate limit exceeded;".
fn classify(status: u16, code: Option<&str>, description: Option<&str>) -> ErrorKind {
    let rate_limited = status == 429
        || (status == 400
            && code == Some("invalid_request")
            && description.is_some_and(|d| d.to_ascii_lowercase().contains("rate limit")));
    let auth_code = matches!(
        code,
        Some(
            "invalid_client"
                | "unauthorized_client"
                | "invalid_scope"
                | "invalid_grant"
                | "access_denied"
                | "unsupported_grant_type"
        )
    );
    if rate_limited {
        ErrorKind::RateLimited
    } else if status >= 500 {
        ErrorKind::Server
    } else if status == 401 || status == 403 || auth_code {
        ErrorKind::Auth
    } else {
        ErrorKind::Protocol
    }
}

fn verdict_after(retry_after: Option<Duration>) -> Verdict {
    match retry_after {
        Some(d) => Verdict::After(d),
        None => Verdict::Backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> std::result::Result<TokenGrant, (Error, Verdict)> {
        parse_token_reply(status, None, body.as_bytes(), "login.example", &["s3cret"])
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
            assert_eq!(r, Verdict::Final);
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
        assert_eq!(r, Verdict::Final);

        let (e, r) = parse(
            400,
            r#"{"error":"invalid_request","description":"rate limit exceeded;","error_description":"rate limit exceeded;"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(r, Verdict::Backoff);

        let (e, _) = parse(
            400,
            r#"{"error":"invalid_request","error_description":"missing grant"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);

        let (e, r) = parse_token_reply(429, Some("2"), b"", "h", &["s"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(r, Verdict::After(Duration::from_secs(2)));

        let (e, r) = parse(503, "<html>").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(r, Verdict::Backoff);
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
}
