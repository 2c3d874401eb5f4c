//! Which client authentications a configuration can use, and what they need: a secret
//! (`basic`, `body`), the assertion key (`private_key_jwt`), the client certificate
//! (`tls_client_auth`).

use serde_json::{Map, Value};

use crate::config::{credential, ClientAuth, Config, Env};
use crate::error::{Error, Result};

impl Config {
    /// private_key_jwt without being named: an assertion key, no secret, no `client_auth`
    /// (used when the token endpoint is configured, or discovery does not list methods).
    pub fn assertion_by_default(&self) -> bool {
        self.client_auth.is_none() && self.assertion_key.is_some() && self.client_secret.is_empty()
    }
}

/// The client secret where none is needed: empty when absent, checked when given.
pub(crate) fn optional_secret(
    obj: &Map<String, Value>,
    env: &dyn Env,
    vars: &[&str],
) -> Result<String> {
    match credential(obj, env, "client_secret", vars) {
        Ok(s) => Ok(s),
        Err(_) if !obj.contains_key("client_secret") => Ok(String::new()),
        Err(e) => Err(e),
    }
}

impl ClientAuth {
    /// The name used in the configuration and by discovery (`token_endpoint_auth_methods_supported`).
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Body => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
            ClientAuth::TlsClientAuth => "tls_client_auth",
        }
    }

    /// Whether it sends the client secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, ClientAuth::Basic | ClientAuth::Body)
    }
}

/// Checks the configured `client_auth` against the key material configured with it, and says
/// whether a client secret is needed: not for private_key_jwt, tls_client_auth, nor when an
/// assertion key is configured and `client_auth` is not (then private_key_jwt is chosen
/// unless a secret is given too).
pub(crate) fn secret_needed(
    auth: Option<ClientAuth>,
    has_assertion_key: bool,
    has_client_cert: bool,
) -> Result<bool> {
    match auth {
        Some(ClientAuth::PrivateKeyJwt) if !has_assertion_key => Err(Error::config(
            "config key \"client_auth\" is \"private_key_jwt\": \"client_assertion_key_file\" is missing",
        )),
        Some(ClientAuth::TlsClientAuth) if !has_client_cert => Err(Error::config(
            "config key \"client_auth\" is \"tls_client_auth\": a client certificate is missing (\"client_cert_file\" + \"client_key_file\", or \"client_cert_pem\" + \"client_key_pem\")",
        )),
        Some(a) => Ok(a.uses_secret()),
        None => Ok(!has_assertion_key),
    }
}

#[test]
fn needs() {
    use ClientAuth::*;
    assert!(secret_needed(Some(PrivateKeyJwt), false, true).is_err());
    assert!(secret_needed(Some(TlsClientAuth), true, false).is_err());
    assert!(!secret_needed(Some(PrivateKeyJwt), true, false).unwrap());
    assert!(!secret_needed(Some(TlsClientAuth), false, true).unwrap());
    assert!(secret_needed(Some(Basic), true, true).unwrap());
    assert!(secret_needed(None, false, true).unwrap());
    assert!(!secret_needed(None, true, false).unwrap());
}
