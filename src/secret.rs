//! Buffers that hold secrets (client secret, access-key secret, refresh token, access token):
//! every copy the library owns is wiped when it is freed.
//!
//! * [`SecretBuf`]: an owned byte buffer zeroized on drop, with a fixed capacity (it never
//!   reallocates, so no unwiped copy is left behind by growth).
//! * [`header_value`] / [`body`]: `HeaderValue` / `Bytes` that *share* a `SecretBuf` instead of
//!   copying it (`Bytes::from_owner`), so the last clone dropped — ours, reqwest's or hyper's —
//!   wipes it.
//! * [`wipe_json`]: wipes every string of a parsed JSON value (token replies, config objects).
//!
//! What cannot be wiped is stated in docs/SECURITY.md: the buffers inside hyper (the HTTP/1
//! write buffer that copies small requests, the read buffer that replies arrive in) and rustls
//! (TLS records), which are freed without zeroizing.

use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::Value;
use zeroize::Zeroize;

use crate::error::{Error, ErrorKind, Result};

/// A byte buffer that is zeroized on drop and never reallocates: it is created with the
/// capacity it will need, and [`SecretBuf::push`] refuses to grow past it.
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    pub fn with_capacity(n: usize) -> SecretBuf {
        SecretBuf(Vec::with_capacity(n))
    }

    /// Appends `bytes`. Panics (a bug) if the capacity chosen up front is too small, rather
    /// than reallocating and leaving an unwiped copy behind.
    pub fn push(&mut self, bytes: &[u8]) {
        assert!(
            self.0.len() + bytes.len() <= self.0.capacity(),
            "SecretBuf capacity chosen too small"
        );
        self.0.extend_from_slice(bytes);
    }

    pub fn push_str(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AsRef<[u8]> for SecretBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        // zeroizes the whole capacity, not only the length
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBuf(<{} bytes redacted>)", self.0.len())
    }
}

/// A header value sharing `buf` (no copy), marked sensitive (kept out of Debug output and
/// HPACK tables). The buffer is wiped when the last clone of the value is dropped.
pub fn header_value(buf: SecretBuf) -> Result<HeaderValue> {
    if !buf
        .as_bytes()
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(Error::new(
            ErrorKind::Protocol,
            "credential is not a valid header value",
        ));
    }
    let mut v = HeaderValue::from_maybe_shared(Bytes::from_owner(buf)).map_err(|_| {
        Error::new(
            ErrorKind::Protocol,
            "credential is not a valid header value",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A request body sharing `buf` (no copy); wiped when the last clone is dropped.
pub fn body(buf: SecretBuf) -> Bytes {
    Bytes::from_owner(buf)
}

/// Wipes every string (and object key) inside `v`, then drops it.
pub fn wipe_json(mut v: Value) {
    fn wipe(v: &mut Value) {
        match v {
            Value::String(s) => s.zeroize(),
            Value::Array(a) => a.iter_mut().for_each(wipe),
            Value::Object(o) => {
                let map = std::mem::take(o);
                for (mut k, mut val) in map {
                    k.zeroize();
                    wipe(&mut val);
                }
            }
            _ => {}
        }
    }
    wipe(&mut v);
}

/// Appends `chunk` to `buf`; when `buf` must grow, the old allocation is wiped before it is
/// freed (a reply body may hold a token).
pub fn append_wiping(buf: &mut Vec<u8>, chunk: &[u8]) {
    if buf.len() + chunk.len() > buf.capacity() {
        let mut bigger = Vec::with_capacity((buf.len() + chunk.len()).max(buf.capacity() * 2));
        bigger.extend_from_slice(buf);
        buf.zeroize();
        *buf = bigger;
    }
    buf.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_body_share_the_buffer() {
        let mut b = SecretBuf::with_capacity(16);
        b.push_str("Bearer abc");
        let v = header_value(b).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.as_bytes(), b"Bearer abc");
        assert!(!format!("{v:?}").contains("abc"));
        let mut bad = SecretBuf::with_capacity(4);
        bad.push(b"a\nb");
        assert!(header_value(bad).is_err());
    }

    #[test]
    #[should_panic(expected = "capacity")]
    fn never_grows() {
        let mut b = SecretBuf::with_capacity(2);
        b.push(b"abc");
    }

    #[test]
    fn append_keeps_content() {
        let mut v = Vec::with_capacity(1);
        for i in 0..100u8 {
            append_wiping(&mut v, &[i]);
        }
        assert_eq!(v, (0..100u8).collect::<Vec<_>>());
    }
}
