//! The private_key_jwt signing key (RFC 7523 §2.2): `client_assertion_key_file` (PEM: PKCS#8,
//! PKCS#1 RSA or SEC1 EC P-256), `client_assertion_alg` (`RS256` default, `PS256`, `ES256`) and
//! `client_assertion_kid`. Loaded and checked at configuration time; the file is re-read when
//! it changes (checked at most once a minute, as the client certificate is). The JWT itself is
//! built and signed in `token::providers::assertion`.
//!
//! Key material: the PEM text and the DER key are wiped when dropped; the key pair parsed by
//! ring lives in ring's own structure (not zeroized by ring). Nothing of the key is logged or
//! shown by `Debug`. For the shared token cache the key gives two derived values, computed
//! once at configuration time and never stored: the public key's SHA-256 fingerprint (the
//! cache entry's name) and a SHA-256 of the private key (the sealing key's input, wiped).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::config::{opt_string, Env};
use crate::error::{Error, Result};

const FILE_KEY: &str = "client_assertion_key_file";
const ALG_KEY: &str = "client_assertion_alg";
const KID_KEY: &str = "client_assertion_kid";

/// The JWS algorithm of the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA P-256 with SHA-256 (the signature is r‖s, 64 bytes).
    Es256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
        }
    }

    fn parse(s: &str) -> Result<Alg> {
        match s {
            "RS256" => Ok(Alg::Rs256),
            "PS256" => Ok(Alg::Ps256),
            "ES256" => Ok(Alg::Es256),
            _ => Err(Error::config(format!(
                "config key \"{ALG_KEY}\" must be \"RS256\", \"PS256\" or \"ES256\""
            ))),
        }
    }
}

/// A parsed signing key (ring's types).
pub enum SigningPair {
    Rsa(RsaKeyPair),
    EcP256(EcdsaKeyPair),
}

impl SigningPair {
    fn kind(&self) -> &'static str {
        match self {
            SigningPair::Rsa(_) => "RSA",
            SigningPair::EcP256(_) => "EC P-256",
        }
    }

    fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (SigningPair::Rsa(_), Alg::Rs256 | Alg::Ps256) | (SigningPair::EcP256(_), Alg::Es256)
        )
    }

    fn public_key(&self) -> &[u8] {
        match self {
            SigningPair::Rsa(k) => k.public_key().as_ref(),
            SigningPair::EcP256(k) => k.public_key().as_ref(),
        }
    }
}

type Stamp = (Option<SystemTime>, u64);

fn stamp(p: &Path) -> Stamp {
    match std::fs::metadata(p) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

struct Loaded {
    pair: Arc<SigningPair>,
    stamp: Stamp,
    checked: Instant,
}

/// The client's assertion signing key.
pub struct AssertionKey {
    path: PathBuf,
    alg: Alg,
    kid: Option<String>,
    state: Mutex<Loaded>,
    /// SHA-256 of the public key (at configuration time): names the shared-cache entry.
    fingerprint: [u8; 32],
    /// SHA-256 of the private key (at configuration time): the shared cache's sealing input.
    cache_secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKey")
            .field("file", &self.path)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

/// DER `tag` + length + `content` (the lengths here stay below 64 KiB).
fn der_wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    match n {
        0..=0x7f => out.push(n as u8),
        0x80..=0xff => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A SEC1 `EC PRIVATE KEY` put into a PKCS#8 envelope for P-256 (what ring parses), as rustls
/// does for client certificates' keys.
fn sec1_p256_to_pkcs8(sec1: &[u8]) -> Zeroizing<Vec<u8>> {
    // INTEGER 0, SEQUENCE { id-ecPublicKey, prime256v1 }
    const PREFIX: &[u8] = b"\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07";
    let octets = Zeroizing::new(der_wrap(0x04, sec1));
    let mut body = Zeroizing::new(PREFIX.to_vec());
    body.extend_from_slice(&octets);
    Zeroizing::new(der_wrap(0x30, &body))
}

/// Parses a PEM private key into ring's key pair; `Err` is the reason (no key material).
fn parse(pem: &[u8]) -> std::result::Result<(SigningPair, Zeroizing<[u8; 32]>), String> {
    let mut der = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| "holds no PEM private key (PKCS#8, RSA or EC)".to_string())?;
    let parsed = pair_of(&der).map(|pair| {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"cxoauth assertion key\0");
        ctx.update(der.secret_der());
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(ctx.finish().as_ref());
        (pair, secret)
    });
    der.zeroize();
    parsed
}

/// ring's key pair of a DER private key; `Err` is the reason (no key material).
fn pair_of(der: &PrivateKeyDer<'_>) -> std::result::Result<SigningPair, String> {
    let unsupported = |why: &str| format!("unsupported key type (RSA or EC P-256 expected{why})");
    let rng = SystemRandom::new();
    Ok(match der {
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
            .map(SigningPair::Rsa)
            .map_err(|e| unsupported(&format!("; RSA key refused: {e}")))?,
        PrivateKeyDer::Pkcs8(k) => {
            let d = k.secret_pkcs8_der();
            match RsaKeyPair::from_pkcs8(d) {
                Ok(r) => SigningPair::Rsa(r),
                Err(rsa_err) => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, d, &rng)
                    .map(SigningPair::EcP256)
                    .map_err(|_| match rsa_err.to_string().as_str() {
                        // not RSA at all; an RSA key ring does not take (too small) says why
                        "WrongAlgorithm" | "InvalidEncoding" => unsupported(""),
                        why => unsupported(&format!("; RSA key refused: {why}")),
                    })?,
            }
        }
        PrivateKeyDer::Sec1(k) => {
            let p8 = sec1_p256_to_pkcs8(k.secret_sec1_der());
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &p8, &rng)
                .map(SigningPair::EcP256)
                .map_err(|_| unsupported(""))?
        }
        _ => return Err(unsupported("")),
    })
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::config(format!(
            "config key \"{FILE_KEY}\": cannot read {}: {}",
            path.display(),
            e.kind()
        ))
    })
}

/// Reads and checks the key file against `alg`.
fn load(path: &Path, alg: Alg) -> Result<(SigningPair, Zeroizing<[u8; 32]>)> {
    let pem = read(path)?;
    let (pair, secret) =
        parse(&pem).map_err(|why| Error::config(format!("config key \"{FILE_KEY}\" {why}")))?;
    if !pair.fits(alg) {
        let fitting = match pair {
            SigningPair::Rsa(_) => "RS256 or PS256",
            SigningPair::EcP256(_) => "ES256",
        };
        return Err(Error::config(format!(
            "config key \"{ALG_KEY}\" is \"{}\", which does not fit the {} key of \"{FILE_KEY}\" ({fitting})",
            alg.name(),
            pair.kind()
        )));
    }
    Ok((pair, secret))
}

impl AssertionKey {
    /// The key the configuration names, if any, loaded and checked now.
    /// Each key is read from the JSON, else from its environment variable (see the schema).
    pub fn from_config(
        obj: &Map<String, Value>,
        env: &dyn Env,
    ) -> Result<Option<Arc<AssertionKey>>> {
        let value = |key: &str| -> Result<Option<String>> {
            Ok(match opt_string(obj, key)? {
                Some(v) => Some(v),
                None => crate::config::schema::env_vars(key)
                    .iter()
                    .find_map(|v| env.get(v)),
            })
        };
        let file = value(FILE_KEY)?;
        let alg = value(ALG_KEY)?;
        let kid = value(KID_KEY)?;
        let Some(file) = file else {
            if let Some(k) = [(ALG_KEY, alg.is_some()), (KID_KEY, kid.is_some())]
                .iter()
                .find(|(_, given)| *given)
            {
                return Err(Error::config(format!(
                    "config key \"{}\" needs \"{FILE_KEY}\"",
                    k.0
                )));
            }
            return Ok(None);
        };
        let alg = match alg.as_deref() {
            None => Alg::Rs256,
            Some(a) => Alg::parse(a)?,
        };
        if let Some(k) = &kid {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(Error::config(format!(
                    "config key \"{KID_KEY}\" must be non-empty without control characters"
                )));
            }
        }
        let path = PathBuf::from(file);
        let st = stamp(&path);
        let (pair, cache_secret) = load(&path, alg)?;
        let d = ring::digest::digest(&ring::digest::SHA256, pair.public_key());
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(d.as_ref());
        Ok(Some(Arc::new(AssertionKey {
            path,
            alg,
            kid,
            state: Mutex::new(Loaded {
                pair: Arc::new(pair),
                stamp: st,
                checked: Instant::now(),
            }),
            fingerprint,
            cache_secret,
        })))
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current key: the file re-read first when it changed and the last check is at least
    /// the check interval ago. A new file that does not load (half written, another key
    /// type) keeps the previous key and is tried again at the next check.
    pub fn current(&self) -> Arc<SigningPair> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.checked.elapsed() >= crate::config::tls_identity::recheck_interval() {
            st.checked = Instant::now();
            let now = stamp(&self.path);
            if now != st.stamp {
                match load(&self.path, self.alg) {
                    Ok((pair, _)) => {
                        log::info!("client assertion key reloaded from {}", self.path.display());
                        st.pair = Arc::new(pair);
                        st.stamp = now;
                    }
                    Err(e) => log::warn!(
                        "client assertion key not reloaded, the previous one stays: {}",
                        e.message
                    ),
                }
            }
        }
        st.pair.clone()
    }

    /// SHA-256 of the public key at configuration time (not secret).
    pub fn public_key_fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// A value only the private key's holder can derive (SHA-256 over a label and the
    /// private key, at configuration time): input of the shared cache's sealing key.
    pub fn cache_secret(&self) -> &[u8; 32] {
        &self.cache_secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der_wrap(4, &[1, 2]), vec![4, 2, 1, 2]);
        assert_eq!(&der_wrap(4, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&der_wrap(4, &[0; 300])[..4], &[4, 0x82, 1, 44]);
    }

    #[test]
    fn keys_alone_are_refused() {
        let obj = |j: &str| serde_json::from_str::<Map<String, Value>>(j).unwrap();
        let none = std::collections::HashMap::<String, String>::new();
        let e = AssertionKey::from_config(&obj(r#"{"client_assertion_alg":"ES256"}"#), &none)
            .unwrap_err();
        assert!(e.message.contains(FILE_KEY), "{}", e.message);
        let e = AssertionKey::from_config(&obj(
            r#"{"client_assertion_key_file":"/nonexistent/k.pem","client_assertion_alg":"HS256"}"#,
        ), &none)
        .unwrap_err();
        assert!(e.message.contains(ALG_KEY), "{}", e.message);
        let e = AssertionKey::from_config(
            &obj(r#"{"client_assertion_key_file":"/nonexistent/k.pem"}"#),
            &none,
        )
        .unwrap_err();
        assert!(
            e.message.contains("cannot read /nonexistent/k.pem"),
            "{}",
            e.message
        );
        assert!(AssertionKey::from_config(&obj("{}"), &none)
            .unwrap()
            .is_none());
    }
}
