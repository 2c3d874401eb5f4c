//! NICE CXone: the tenant id inside the access token, the legacy access-key request, and
//! where a discovered API base may be (the issuers and areas are configuration:
//! [`crate::config::cxone`]).
//!
//! Back-end applications authenticate with an access key: the client (id and secret of the
//! registered application) authenticates with HTTP Basic, and the grant is `password` with the
//! access key id as username and the access key secret as password. Replies carry a
//! `refresh_token` that renews the token; the API base comes from
//! `{issuer}/.well-known/cxone-configuration?tenantId=...`.

use crate::secret::{self, SecretBuf};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// The domains a discovered CXone API base may be under (besides the issuer's own host).
pub const API_DOMAINS: &[&str] = &[
    "niceincontact.com",
    "nice-incontact.com",
    "nicecxone-sov1.au",
    "nicecxone-sov1.eu",
];

/// Reads the tenant id from a JWT access token's claims (`tenantId`, `tenant_id` or `tenant`).
///
/// The signature is NOT checked: the value only selects which public discovery document to
/// read, and the API itself validates the token on every call.
pub fn tenant_from_jwt(token: &str) -> Result<String> {
    let protocol = |what: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("cannot read the CXone tenant from the access token: {what}"),
        )
    };
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(protocol("it is not a JWT"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| protocol("claims are not base64url"))?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|_| protocol("claims are not JSON"))?;
    ["tenantId", "tenant_id", "tenant"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .map(str::to_string)
        .ok_or_else(|| protocol("no tenantId claim"))
}

/// The legacy access-key request: JSON `{"accessKeyId","accessKeySecret"}`, no client
/// authentication; the body is a wiped buffer.
pub fn legacy_request(key_id: &str, key_secret: &str) -> (HeaderMap, bytes::Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let mut body = SecretBuf::with_capacity(40 + 6 * (key_id.len() + key_secret.len()));
    body.push_str("{\"accessKeyId\":\"");
    push_json_escaped(&mut body, key_id);
    body.push_str("\",\"accessKeySecret\":\"");
    push_json_escaped(&mut body, key_secret);
    body.push_str("\"}");
    (headers, secret::body(body))
}

/// Appends `s` as the inside of a JSON string (RFC 8259 escapes; at most 6 bytes a byte).
fn push_json_escaped(buf: &mut SecretBuf, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in s.as_bytes() {
        match b {
            b'"' => buf.push(b"\\\""),
            b'\\' => buf.push(b"\\\\"),
            0..=0x1f => buf.push(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
            _ => buf.push(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{}", e(r#"{"alg":"RS256"}"#), e(claims), e("sig"))
    }

    #[test]
    fn tenant_claim() {
        assert_eq!(
            tenant_from_jwt(&jwt(r#"{"tenantId":"t-1"}"#)).unwrap(),
            "t-1"
        );
        assert_eq!(
            tenant_from_jwt(&jwt(r#"{"tenant_id":"t-2"}"#)).unwrap(),
            "t-2"
        );
        for bad in [
            "opaque-token".to_string(),
            "a.b".to_string(),
            "a.!!!.c".to_string(),
            jwt(r#"{"sub":"x"}"#),
            jwt(r#"{"tenantId":7}"#),
            jwt("not json"),
        ] {
            let e = tenant_from_jwt(&bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol);
            assert!(!e.message.contains(&bad) || bad.len() < 4);
        }
    }
}
