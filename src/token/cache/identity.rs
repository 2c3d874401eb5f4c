//! What a shared cache entry is bound to when the client has no secret (private_key_jwt,
//! tls_client_auth): the key it authenticates with. The entry's name takes the public key's
//! fingerprint (clients with the same key share it, another key gets its own), and the
//! sealing key takes a value derived from the private key, so that reading the cache needs the
//! private key, as it needs the secret otherwise. Neither key is stored.

use crate::config::Config;

/// The key material behind a secret-less client: (public fingerprint, private-key-derived
/// sealing input). `None` when the client has a secret (the entry is bound to it, as before).
pub fn key_binding(cfg: &Config) -> Option<(&[u8; 32], &[u8; 32])> {
    if !cfg.client_secret.is_empty() {
        return None;
    }
    if let Some(k) = &cfg.assertion_key {
        return Some((k.public_key_fingerprint(), k.cache_secret()));
    }
    cfg.client_identity
        .as_deref()
        .map(|id| (id.public_key_fingerprint(), id.cache_secret()))
}

/// The sealing inputs: the configured secrets, and the private-key-derived value of a
/// secret-less client.
pub fn sealing_inputs(cfg: &Config) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = cfg.secrets().into_iter().map(str::as_bytes).collect();
    if let Some((_, secret)) = key_binding(cfg) {
        v.push(secret);
    }
    v
}

/// The name part of a secret-less client's entry: `\0key:<hex fingerprint>`, else empty.
pub fn name_part(cfg: &Config) -> String {
    match key_binding(cfg) {
        Some((fp, _)) => {
            let hex: String = fp.iter().map(|b| format!("{b:02x}")).collect();
            format!("\0key:{hex}")
        }
        None => String::new(),
    }
}
