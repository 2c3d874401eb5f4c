//! NICE CXone: issuers, the tenant id inside the access token, and API base discovery.
//!
//! Back-end applications authenticate with an access key: the client (id and secret of the
//! registered application) authenticates with HTTP Basic, and the grant is `password` with the
//! access key id as username and the access key secret as password. Replies carry a
//! `refresh_token` that renews the token; the API base comes from
//! `{issuer}/.well-known/cxone-configuration?tenantId=...`.

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

pub const DEFAULT_ISSUER: &str = "https://cxone.niceincontact.com";

/// Short names of the CXone issuers.
pub const ISSUERS: &[(&str, &str)] = &[
    ("global", DEFAULT_ISSUER),
    ("gov", "https://cxone-gov.niceincontact.com"),
    ("sov1-au", "https://nicecxone-sov1.au"),
    ("sov1-eu", "https://nicecxone-sov1.eu"),
];

/// The issuer URL for a short name (`global`, `gov`, `sov1-au`, `sov1-eu`), or `None` when
/// `name` is not one (then it is taken as a URL).
pub fn issuer_url(name: &str) -> Option<String> {
    ISSUERS
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name.trim()))
        .map(|(_, url)| url.to_string())
}

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

    #[test]
    fn short_names() {
        assert_eq!(
            issuer_url("gov").unwrap(),
            "https://cxone-gov.niceincontact.com"
        );
        assert_eq!(issuer_url("SOV1-EU").unwrap(), "https://nicecxone-sov1.eu");
        assert_eq!(issuer_url("https://x.example"), None);
    }
}
