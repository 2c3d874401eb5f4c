//! Replacement client credentials (rotation without a restart): one value, checked once where
//! it is made, passed unchanged through the client and the token layer and applied to a copy
//! of the configuration by the provider.

use zeroize::Zeroizing;

use crate::config::{Config, Grant};
use crate::error::{Error, Result};

/// New client id and secret and, for NICE CXone's access-key grants, a new access key.
/// `Debug` shows the client id only.
pub struct Credentials {
    client_id: String,
    client_secret: Zeroizing<String>,
    access_key: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// `access_key`: (id, secret) of the CXone access key, both non-empty.
    pub fn new(
        client_id: &str,
        client_secret: &str,
        access_key: Option<(&str, &str)>,
    ) -> Result<Credentials> {
        if client_id.is_empty() || client_id.chars().any(char::is_control) {
            return Err(Error::invalid(
                "client_id must be non-empty without control characters",
            ));
        }
        let access_key = match access_key {
            Some((id, secret)) if id.is_empty() || secret.is_empty() => {
                return Err(Error::invalid("access key id and secret must be non-empty"))
            }
            Some((id, secret)) => Some((id.to_string(), Zeroizing::new(secret.to_string()))),
            None => None,
        };
        Ok(Credentials {
            client_id: client_id.to_string(),
            client_secret: Zeroizing::new(client_secret.to_string()),
            access_key,
        })
    }

    /// `cfg` with these credentials in place of its own; an access key for a grant that uses
    /// none (Genesys, generic) is an invalid argument.
    pub fn apply(&self, cfg: &Config) -> Result<Config> {
        let mut cfg = cfg.clone();
        cfg.client_id = self.client_id.clone();
        cfg.client_secret = self.client_secret.clone();
        let Some((id, secret)) = &self.access_key else {
            return Ok(cfg);
        };
        match &mut cfg.grant {
            Grant::Password { username, password } => {
                *username = id.clone();
                *password = secret.clone();
            }
            Grant::AccessKeyLegacy { key_id, key_secret } => {
                *key_id = id.clone();
                *key_secret = secret.clone();
            }
            Grant::ClientCredentials => {
                return Err(Error::invalid(
                    "this client's grant uses no access key (CXone only)",
                ))
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_where_made() {
        assert!(Credentials::new("", "s", None).is_err());
        assert!(Credentials::new("a\nb", "s", None).is_err());
        assert!(Credentials::new("id", "s", Some(("", "k"))).is_err());
        assert!(Credentials::new("id", "s", Some(("k", ""))).is_err());
        let c = Credentials::new("id", "very-secret", Some(("kid", "key-secret"))).unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("id") && !shown.contains("very-secret"));
        assert!(!shown.contains("key-secret") && !shown.contains("kid"));
    }
}
