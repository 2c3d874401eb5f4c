//! private_key_jwt client assertions (RFC 7523 section 2.2, OpenID Connect Core section 9): a
//! JWT with `iss` = `sub` = the client id, `aud` = the token endpoint, a random `jti`, `iat`
//! and `exp` 60 s later, signed by ring with the configured key (RS256: RSASSA-PKCS1-v1_5
//! SHA-256, PS256: RSASSA-PSS SHA-256, ES256: ECDSA P-256 SHA-256 as r‖s). A new assertion is
//! made for every token request attempt, so none is ever sent twice.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256};
use serde_json::json;
use url::Url;
use zeroize::Zeroizing;

use crate::config::assertion_key::{Alg, AssertionKey, SigningPair};
use crate::error::{Error, ErrorKind, Result};

/// The `client_assertion_type` of a JWT bearer assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid (RFC 7523 wants a short `exp`; at most 60 s here).
const LIFETIME_S: u64 = 60;

fn internal(what: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("client assertion: {what} failed"),
    )
}

/// A fresh signed assertion for `client_id` at `token_url`, at Unix time `now_s`.
pub fn client_assertion(
    key: &AssertionKey,
    client_id: &str,
    token_url: &Url,
    now_s: u64,
) -> Result<Zeroizing<String>> {
    let rng = SystemRandom::new();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti).map_err(|_| internal("random jti"))?;
    let alg = key.alg();
    let mut header = json!({"alg": alg.name(), "typ": "JWT"});
    if let Some(kid) = key.kid() {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url.as_str(),
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "iat": now_s,
        "exp": now_s + LIFETIME_S,
    });
    let mut jwt = Zeroizing::new(String::with_capacity(1024));
    jwt.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = sign(&key.current(), alg, jwt.as_bytes(), &rng)?;
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(jwt)
}

/// The JWS signature of `input` (ring; the key fits `alg`, checked when it was loaded).
fn sign(pair: &SigningPair, alg: Alg, input: &[u8], rng: &SystemRandom) -> Result<Vec<u8>> {
    match (pair, alg) {
        (SigningPair::Rsa(k), Alg::Rs256 | Alg::Ps256) => {
            let padding: &dyn ring::signature::RsaEncoding = if alg == Alg::Rs256 {
                &RSA_PKCS1_SHA256
            } else {
                &RSA_PSS_SHA256
            };
            let mut sig = vec![0u8; k.public().modulus_len()];
            k.sign(padding, rng, input, &mut sig)
                .map_err(|_| internal("RSA signing"))?;
            Ok(sig)
        }
        (SigningPair::EcP256(k), Alg::Es256) => k
            .sign(rng, input)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| internal("ECDSA signing")),
        _ => Err(internal("signing (key and algorithm differ)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pem: &str, alg: &str) -> std::sync::Arc<AssertionKey> {
        let path = std::env::temp_dir().join(format!(
            "cxoauth-assertion-{}-{alg}.pem",
            std::process::id()
        ));
        std::fs::write(&path, pem).unwrap();
        let obj = serde_json::json!({
            "client_assertion_key_file": path,
            "client_assertion_alg": alg,
            "client_assertion_kid": "k1",
        });
        let k = AssertionKey::from_config(
            obj.as_object().unwrap(),
            &std::collections::HashMap::<String, String>::new(),
        )
        .unwrap()
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        k
    }

    fn verify(jwt: &str, alg: &'static dyn ring::signature::VerificationAlgorithm, pk: &[u8]) {
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        ring::signature::UnparsedPublicKey::new(alg, pk)
            .verify(input.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn es256_assertions_verify_and_differ() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let k = key(&ec.serialize_pem(), "ES256");
        let url = Url::parse("https://idp.example/token").unwrap();
        let a = client_assertion(&k, "c1", &url, 1_000).unwrap();
        let b = client_assertion(&k, "c1", &url, 1_000).unwrap();
        assert_ne!(*a, *b, "a new jti each time");
        verify(
            &a,
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            ec.public_key_raw(),
        );
        let mut parts = a.split('.');
        let h: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(h, json!({"alg":"ES256","typ":"JWT","kid":"k1"}));
        let c: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(c["iss"], "c1");
        assert_eq!(c["sub"], "c1");
        assert_eq!(c["aud"], "https://idp.example/token");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
    }
}
