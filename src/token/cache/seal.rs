//! Sealing cache entries: the token is stored encrypted (AES-256-GCM) under a key derived
//! with HKDF-SHA256 from the client's secrets, bound to the entry's cache key, so someone who
//! can read the cache but lacks the secret gets nothing usable. The secret is never stored.
//! A client without a secret (private_key_jwt, tls_client_auth) seals under a value derived
//! from its private key instead (`identity.rs`).

use base64::Engine as _;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// The format version in front of every sealed entry.
const PREFIX: &str = "cxo1.";
/// What is sealed, bound into the AAD after the cache key (a token entry keeps the plain key,
/// as before).
const KIND_TOKEN: &str = "";
const KIND_RATE_LIMIT: &str = "\0ratelimit";

/// A token read from the shared cache.
#[derive(Clone)]
pub struct Entry {
    pub token: Zeroizing<String>,
    /// The server's expiry (Unix ms).
    pub expires_unix_ms: u64,
    /// When processes should stop taking it and refresh (expiry − margin, Unix ms).
    pub stale_unix_ms: u64,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("token", &"<redacted>")
            .field("expires_unix_ms", &self.expires_unix_ms)
            .field("stale_unix_ms", &self.stale_unix_ms)
            .finish()
    }
}

/// The key of one cache entry's encryption.
pub struct Sealer {
    key: LessSafeKey,
    aad: String,
}

impl Sealer {
    /// `secrets`: the client secret and, for access-key grants, the access-key secret; for a
    /// client without a secret, a value derived from its private key (see `identity.rs`);
    /// `cache_key`: the entry's (hashed) name, bound into the key (as HKDF salt and info) and
    /// the AAD.
    pub fn new(secrets: &[&[u8]], cache_key: &str) -> Sealer {
        let mut ikm = Zeroizing::new(Vec::new());
        for s in secrets {
            ikm.extend_from_slice(&(s.len() as u64).to_be_bytes());
            ikm.extend_from_slice(s);
        }
        let salt_text = format!("cxoauth token cache v1\0{cache_key}");
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, salt_text.as_bytes());
        let prk = salt.extract(&ikm);
        let info = [cache_key.as_bytes()];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("AES-256-GCM key length is valid for HKDF-SHA256");
        Sealer {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            aad: cache_key.to_string(),
        }
    }

    /// The sealed text of `entry`.
    pub fn seal(&self, entry: &Entry) -> Option<String> {
        let mut plain = Zeroizing::new(
            json!({"t": entry.token.as_str(), "e": entry.expires_unix_ms, "s": entry.stale_unix_ms})
                .to_string()
                .into_bytes(),
        );
        let sealed = self.seal_bytes(KIND_TOKEN, &plain);
        zeroize::Zeroize::zeroize(&mut *plain);
        sealed
    }

    /// The entry sealed in `text`, or `None` when it is not ours: corrupt, foreign (another
    /// key or secret), or of another format.
    pub fn open(&self, text: &str) -> Option<Entry> {
        let plain = self.open_bytes(KIND_TOKEN, text)?;
        let v: Value = serde_json::from_slice(&plain).ok()?;
        let token = v.get("t")?.as_str()?;
        let entry = Entry {
            token: Zeroizing::new(token.to_string()),
            expires_unix_ms: v.get("e")?.as_u64()?,
            stale_unix_ms: v.get("s")?.as_u64()?,
        };
        crate::secret::wipe_json(v);
        let ok = !entry.token.is_empty() && entry.token.bytes().all(|b| (0x21..0x7f).contains(&b));
        ok.then_some(entry)
    }

    /// A number (the shared rate-limit window) sealed like an entry, under its own AAD: someone
    /// who can write the cache but lacks the secret cannot make one up, nor pass a token entry
    /// off as one.
    pub fn seal_number(&self, n: u64) -> Option<String> {
        self.seal_bytes(KIND_RATE_LIMIT, n.to_string().as_bytes())
    }

    /// The number sealed in `text` by [`Sealer::seal_number`], if it is ours.
    pub fn open_number(&self, text: &str) -> Option<u64> {
        let plain = self.open_bytes(KIND_RATE_LIMIT, text)?;
        std::str::from_utf8(&plain).ok()?.parse().ok()
    }

    fn aad(&self, kind: &str) -> Vec<u8> {
        let mut aad = self.aad.as_bytes().to_vec();
        aad.extend_from_slice(kind.as_bytes());
        aad
    }

    fn seal_bytes(&self, kind: &str, plain: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut buf = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plain.len() + 16));
        buf.extend_from_slice(plain);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(kind)),
                &mut *buf,
            )
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Some(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        ))
    }

    fn open_bytes(&self, kind: &str, text: &str) -> Option<Zeroizing<Vec<u8>>> {
        let body = text.trim().strip_prefix(PREFIX)?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        if raw.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = Zeroizing::new(sealed.to_vec());
        let n = self
            .key
            .open_in_place(nonce, Aad::from(self.aad(kind)), &mut sealed)
            .ok()?
            .len();
        sealed.truncate(n);
        Some(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            token: Zeroizing::new("tok-abc".into()),
            expires_unix_ms: 1_900_000_000_000,
            stale_unix_ms: 1_899_999_940_000,
        }
    }

    #[test]
    fn round_trip_and_nothing_in_clear() {
        let s = Sealer::new(&[b"sekret"], "k1");
        let text = s.seal(&entry()).unwrap();
        assert!(!text.contains("tok-abc") && !text.contains("sekret"));
        let e = s.open(&text).unwrap();
        assert_eq!(e.token.as_str(), "tok-abc");
        assert_eq!(e.expires_unix_ms, 1_900_000_000_000);
        // a fresh nonce each time
        assert_ne!(text, s.seal(&entry()).unwrap());
    }

    #[test]
    fn foreign_corrupt_and_other_keys_are_not_opened() {
        let s = Sealer::new(&[b"sekret"], "k1");
        let text = s.seal(&entry()).unwrap();
        assert!(Sealer::new(&[b"other"], "k1").open(&text).is_none());
        assert!(Sealer::new(&[b"sekret"], "k2").open(&text).is_none());
        let mut bad = text.clone();
        bad.pop();
        bad.push(if text.ends_with('A') { 'B' } else { 'A' });
        assert!(s.open(&bad).is_none());
        for junk in ["", "cxo1.", "cxo1.!!!", "{\"t\":\"x\"}", "cxo2.AAAA"] {
            assert!(s.open(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn numbers_are_sealed_apart_from_entries() {
        let s = Sealer::new(&[b"sekret"], "k1");
        let n = s.seal_number(1_900_000_000_000).unwrap();
        assert_eq!(s.open_number(&n), Some(1_900_000_000_000));
        assert!(s.open(&n).is_none());
        let e = s.seal(&entry()).unwrap();
        assert!(s.open_number(&e).is_none());
        assert!(
            s.open_number("1900000000000").is_none(),
            "a plain number is refused"
        );
        assert!(Sealer::new(&[b"other"], "k1").open_number(&n).is_none());
    }
}
