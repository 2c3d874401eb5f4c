//! Token request building: application/x-www-form-urlencoded bodies and client
//! authentication (RFC 6749 section 2.3.1), written straight into wiped buffers.

use base64::Engine as _;
use percent_encoding::utf8_percent_encode;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};

use crate::config::{ClientAuth, Config};
pub use crate::encode::form_encode;
use crate::encode::FORM;
use crate::error::Result;
use crate::secret::{self, SecretBuf};

/// The most bytes `s` can take form-encoded.
fn encoded_max(s: &str) -> usize {
    3 * s.len()
}

/// Appends `s` form-encoded to `buf` (which has room: see [`encoded_max`]).
fn push_encoded(buf: &mut SecretBuf, s: &str) {
    for piece in utf8_percent_encode(s, FORM) {
        buf.push_str(piece);
    }
}

/// Headers and body of a token request: the grant's `params`, then `scope`, then the client's
/// authentication (Basic header or body parameters; private_key_jwt: a fresh assertion for
/// `token_url`; tls_client_auth: the client id alone). The body and the Basic header value are
/// [`SecretBuf`]s shared (not copied) by the request, wiped when it is dropped.
pub fn token_request(
    cfg: &Config,
    client_auth: ClientAuth,
    token_url: &url::Url,
    params: &[(&str, &str)],
) -> Result<(HeaderMap, bytes::Bytes)> {
    let assertion = match client_auth {
        ClientAuth::PrivateKeyJwt => {
            let key = cfg.assertion_key.as_deref().ok_or_else(|| {
                crate::error::Error::config("private_key_jwt needs \"client_assertion_key_file\"")
            })?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Some(super::assertion::client_assertion(
                key,
                &cfg.client_id,
                token_url,
                now,
            )?)
        }
        _ => None,
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let scope = cfg.scope.as_deref();
    let mut cap = params
        .iter()
        .map(|(k, v)| k.len() + 2 + encoded_max(v))
        .sum::<usize>()
        + scope.map_or(0, |s| 7 + encoded_max(s));
    cap += 30 + encoded_max(&cfg.client_id) + encoded_max(&cfg.client_secret);
    if let Some(a) = &assertion {
        cap += 100 + encoded_max(a);
    }
    let mut body = SecretBuf::with_capacity(cap);
    for (k, v) in params {
        if !body.is_empty() {
            body.push_str("&");
        }
        body.push_str(k);
        body.push_str("=");
        push_encoded(&mut body, v);
    }
    if let Some(scope) = scope {
        body.push_str("&scope=");
        push_encoded(&mut body, scope);
    }
    match client_auth {
        ClientAuth::Basic => {
            let mut pair = SecretBuf::with_capacity(
                encoded_max(&cfg.client_id) + 1 + encoded_max(&cfg.client_secret),
            );
            push_encoded(&mut pair, &cfg.client_id);
            pair.push_str(":");
            push_encoded(&mut pair, &cfg.client_secret);
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut value = SecretBuf::with_capacity(6 + pair.len().div_ceil(3) * 4);
            value.push_str("Basic ");
            let mut enc = vec![0u8; pair.len().div_ceil(3) * 4];
            let n = b64
                .encode_slice(pair.as_bytes(), &mut enc)
                .expect("buffer sized for base64");
            value.push(&enc[..n]);
            zeroize::Zeroize::zeroize(&mut enc);
            headers.insert(AUTHORIZATION, secret::header_value(value)?);
        }
        ClientAuth::Body => {
            body.push_str("&client_id=");
            push_encoded(&mut body, &cfg.client_id);
            body.push_str("&client_secret=");
            push_encoded(&mut body, &cfg.client_secret);
        }
        ClientAuth::PrivateKeyJwt | ClientAuth::TlsClientAuth => {
            body.push_str("&client_id=");
            push_encoded(&mut body, &cfg.client_id);
            if let Some(a) = &assertion {
                body.push_str("&client_assertion_type=");
                push_encoded(&mut body, super::assertion::ASSERTION_TYPE);
                body.push_str("&client_assertion=");
                push_encoded(&mut body, a);
            }
        }
    }
    Ok((headers, secret::body(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_per_rfc6749() {
        assert_eq!(form_encode("a:/+=%& b"), "a%3A%2F%2B%3D%25%26%20b");
        assert_eq!(form_encode("Az09-._~"), "Az09-._~");
        let mut b = SecretBuf::with_capacity(encoded_max("é a"));
        push_encoded(&mut b, "é a");
        assert_eq!(b.as_bytes(), b"%C3%A9%20a");
    }

    #[test]
    fn basic_and_body_auth() {
        let cfg = crate::config::Config::from_json(Some(
            r#"{"token_url":"https://login.example/oauth/token","api_base":"https://api.example","client_id":"id:1","client_secret":"s e/c","scope":"a b"}"#,
        ))
        .unwrap();
        let url = cfg.token_url.clone().unwrap();
        let (h, body) = token_request(
            &cfg,
            ClientAuth::Basic,
            &url,
            &[("grant_type", "client_credentials")],
        )
        .unwrap();
        assert_eq!(&body[..], b"grant_type=client_credentials&scope=a%20b");
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id%3A1:s%20e%2Fc")
        );
        assert_eq!(h[AUTHORIZATION].as_bytes(), want.as_bytes());
        assert!(h[AUTHORIZATION].is_sensitive());
        let (h, body) = token_request(
            &cfg,
            ClientAuth::Body,
            &url,
            &[("grant_type", "client_credentials")],
        )
        .unwrap();
        assert!(h.get(AUTHORIZATION).is_none());
        assert_eq!(
            &body[..],
            b"grant_type=client_credentials&scope=a%20b&client_id=id%3A1&client_secret=s%20e%2Fc"
        );
    }
}
