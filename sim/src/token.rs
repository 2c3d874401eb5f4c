//! `POST /oauth/token`: the client-credentials grant of the Genesys Cloud login service.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::json;

use crate::http::Request;
use crate::http::Response;
use crate::state::{ClientCheck, Shared};
use crate::util::{form_decode, form_param, parse_form};

/// Standard alphabet, padding optional.
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An OAuth error body in Genesys' shape (`description` and `error_description`).
pub fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({
            "error": error,
            "description": description,
            "error_description": description,
        }),
    )
    .header("Cache-Control", "no-store")
    .header("Pragma", "no-cache")
}

fn invalid_client(description: &str, basic_used: bool) -> Response {
    let resp = oauth_error(401, "invalid_client", description);
    if basic_used {
        resp.header("WWW-Authenticate", "Basic realm=\"cxoauth-sim\"")
    } else {
        resp
    }
}

/// Client credentials from an `Authorization: Basic` header: base64 of
/// `form-urlencode(id) ":" form-urlencode(secret)` (RFC 6749 section 2.3.1).
pub fn decode_basic(value: &str) -> Option<(String, String)> {
    let decoded = BASIC_B64.decode(value.trim()).ok()?;
    let colon = decoded.iter().position(|&c| c == b':')?;
    Some((
        form_decode(&decoded[..colon]),
        form_decode(&decoded[colon + 1..]),
    ))
}

pub fn handle(shared: &Shared, req: &Request) -> Response {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "method not allowed").header("Allow", "POST");
    }
    let params = parse_form(&req.body);
    let param = |name: &str| form_param(&params, name);
    for name in ["grant_type", "client_id", "client_secret", "scope"] {
        if params.iter().filter(|(n, _)| n == name).count() > 1 {
            return oauth_error(
                400,
                "invalid_request",
                &format!("parameter {name} given more than once"),
            );
        }
    }

    // Client authentication method(s) used.
    let basic = match req.header("authorization") {
        None => None,
        Some(value) => {
            let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return invalid_client("unsupported authorization scheme", false);
            }
            match decode_basic(rest) {
                Some(creds) => Some(creds),
                None => return invalid_client("malformed basic credentials", true),
            }
        }
    };
    let body_auth = param("client_id").is_some() || param("client_secret").is_some();
    if basic.is_some() && body_auth {
        return oauth_error(
            400,
            "invalid_request",
            "multiple client authentication methods",
        );
    }

    match param("grant_type") {
        None => return oauth_error(400, "invalid_request", "missing grant_type"),
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "grant type not supported for this client",
            )
        }
    }

    let basic_used = basic.is_some();
    let (client_id, secret) = match basic {
        Some(creds) => creds,
        None if body_auth => (
            param("client_id").unwrap_or_default().to_string(),
            param("client_secret").unwrap_or_default().to_string(),
        ),
        None => return invalid_client("client authentication required", false),
    };
    match shared.check_client(&client_id, &secret) {
        ClientCheck::Ok => {}
        ClientCheck::UnknownClient => return invalid_client("client not found", basic_used),
        ClientCheck::BadSecret => return invalid_client("bad credentials", basic_used),
    }

    let (access_token, expires_in) = shared.issue_token(&client_id);
    Response::json(
        200,
        &json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": expires_in,
        }),
    )
    .header("Cache-Control", "no-store")
    .header("Pragma", "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_decoding() {
        let enc = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%3A%2F%2B%3D%25%26+x");
        assert_eq!(
            decode_basic(&enc),
            Some(("my:id".to_string(), "s:/+=%& x".to_string()))
        );
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode("a:b");
        assert_eq!(decode_basic(&unpadded), Some(("a".into(), "b".into())));
        assert_eq!(decode_basic("!!!"), None);
    }
}
