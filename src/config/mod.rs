//! Configuration: a JSON object from the caller, completed from the environment.
//!
//! Precedence for every value: the JSON key, then the process environment, then the opt-in
//! `env_file` (which is read, never exported: the library never calls `setenv`, which is not
//! thread-safe in a multi-threaded host).

pub mod assertion_key;
mod build;
mod cache;
mod client_auth;
mod credentials;
pub mod cxone;
mod env;
pub mod gateway;
mod generic;
pub mod genesys;
mod json;
pub mod proxy;
pub mod schema;
pub mod tls_identity;
mod url;

pub use self::cache::{check_prefix, CacheSetting, DEFAULT_PREFIX};
pub use self::credentials::Credentials;
pub(crate) use self::env::{credential, Layered, WipedMap};
pub use self::env::{parse_env_text, read_env_file, Env, ProcessEnv};
pub use self::json::MAX_CONFIG_BYTES;
pub(crate) use self::json::{opt_bool, opt_string, opt_u64, parse_object, truncate};
use self::url::redact_url;
pub use self::url::{is_loopback, parse_api_base, parse_url};

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ::url::Url;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How the client authenticates at the token endpoint (RFC 6749 section 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
    /// A signed JWT assertion (RFC 7523 section 2.2) and `client_id` in the body.
    PrivateKeyJwt,
    /// The TLS client certificate (RFC 8705 section 2.1) and `client_id` in the body.
    TlsClientAuth,
}

/// Which kind of server the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Genesys Cloud CX: URLs from the region; client-credentials grant.
    Genesys,
    /// NICE CXone: OpenID discovery from the issuer, access-key (password) grant with refresh
    /// tokens, API base from the tenant's cxone-configuration.
    Cxone,
    /// Any OAuth2 server: `token_url` or `issuer` discovery, `api_base`; client credentials.
    Generic,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Genesys => "genesys",
            Platform::Cxone => "cxone",
            Platform::Generic => "generic",
        }
    }
}

/// The OAuth grant used to obtain tokens.
#[derive(Clone)]
pub enum Grant {
    ClientCredentials,
    /// RFC 6749 section 4.3 (CXone access keys: username = key id, password = key secret).
    Password {
        username: String,
        password: Zeroizing<String>,
    },
    /// NICE CXone's legacy access-key grant (tenants without a registered back-end
    /// application): `POST {token_url}` with JSON `{"accessKeyId","accessKeySecret"}` and no
    /// client authentication; renewals repeat it.
    AccessKeyLegacy {
        key_id: String,
        key_secret: Zeroizing<String>,
    },
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
            Grant::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Grant::AccessKeyLegacy { key_id, .. } => f
                .debug_struct("AccessKeyLegacy")
                .field("key_id", key_id)
                .field("key_secret", &"<redacted>")
                .finish(),
        }
    }
}

/// A complete, validated configuration.
#[derive(Clone)]
pub struct Config {
    pub platform: Platform,
    /// `None`: discovered from `issuer`.
    pub token_url: Option<Url>,
    /// `None`: discovered after the first token (CXone).
    pub api_base: Option<Url>,
    /// OpenID issuer for discovery (CXone, generic).
    pub issuer: Option<Url>,
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
    /// `None`: chosen from the discovery document, else Basic.
    pub client_auth: Option<ClientAuth>,
    pub grant: Grant,
    pub scope: Option<String>,
    /// Wanted refresh margin; the effective one is clamped per token (see `token.rs`).
    pub refresh_margin: Duration,
    /// Proactive refresh starts at this fraction of a token's lifetime (`refresh_at_fraction`;
    /// `refresh_margin` still bounds it from the end, see `token.rs`).
    pub refresh_at_fraction: f64,
    /// A cached token unused this long is treated as revoked (`token_idle_timeout_s`); zero:
    /// off.
    pub token_idle_timeout: Duration,
    /// Pace API calls to the replies' rate-limit headers (`rate_limit_pacing`, see
    /// `pacing.rs`).
    pub rate_limit_pacing: bool,
    /// Access tokens this client may hold, each with its own quota (`token_pool_size`, 1-20).
    pub token_pool_size: usize,
    /// Another pool token is fetched at most this often (`token_pool_fill_interval_ms`).
    pub token_pool_fill_interval: Duration,
    /// Which token of the pool a token manager keeps (0: the first); not a configuration key:
    /// set by the client for each pool slot, part of the shared-cache entry's name.
    pub pool_slot: usize,
    /// Per-attempt timeout (connect + send + whole reply).
    pub timeout: Duration,
    /// Whole call, retries and waits included.
    pub deadline: Duration,
    pub max_retries: u32,
    /// Also retry POST/PATCH (and other non-idempotent methods) after a 502/503/504 or a
    /// failure after sending. Off by default: a request that certainly never left (no
    /// connection, TLS handshake failed) is retried whatever its method.
    pub retry_non_idempotent: bool,
    pub max_retry_after: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_body_bytes: usize,
    pub user_agent: String,
    pub proxy: Option<Url>,
    /// Overrides `proxy` for the token endpoint and discovery (`token_proxy`).
    pub token_proxy: Option<Url>,
    /// Overrides `proxy` for the API requests (`api_proxy`).
    pub api_proxy: Option<Url>,
    pub ca_file: Option<PathBuf>,
    /// Where tokens are shared between processes (`token_cache`).
    pub token_cache: CacheSetting,
    /// Key namespace of the shared cache (`token_cache_prefix`).
    pub token_cache_prefix: String,
    /// The `client` label of the metrics (`metrics_name`); `None`: a hash of the client id.
    pub metrics_name: Option<String>,
    /// The egress gateway the endpoints are routed through (`gateway`).
    pub gateway: Option<gateway::Gateway>,
    /// The client certificate presented on every TLS connection (`client_cert_file` +
    /// `client_key_file`, or `client_cert_pem` + `client_key_pem`).
    pub client_identity: Option<std::sync::Arc<crate::config::tls_identity::ClientIdentity>>,
    /// The private_key_jwt signing key (`client_assertion_key_file`, `_alg`, `_kid`).
    pub assertion_key: Option<std::sync::Arc<assertion_key::AssertionKey>>,
}

impl Config {
    /// The configured secrets (client secret, access-key secret), for scrubbing server text.
    pub fn secrets(&self) -> Vec<&str> {
        let mut s = vec![self.client_secret.as_str()];
        match &self.grant {
            Grant::Password { password, .. } => s.push(password.as_str()),
            Grant::AccessKeyLegacy { key_secret, .. } => s.push(key_secret.as_str()),
            Grant::ClientCredentials => {}
        }
        s.retain(|s| !s.is_empty());
        s
    }
}

/// Checks a `metrics_name` (the `client` label of the metrics).
pub fn check_metrics_name(n: &str) -> Result<()> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "config key \"metrics_name\" must be 1 to 64 of A-Z a-z 0-9 - _ . :",
        ))
    }
}

#[test]
fn metrics_names_are_checked() {
    assert!(check_metrics_name("pbx-1.eu:a_b").is_ok());
    for bad in ["", "a b", "a\"b", "x\n", &"a".repeat(65)] {
        assert!(check_metrics_name(bad).is_err(), "{bad:?}");
    }
}

impl Drop for Config {
    /// The proxy URL may hold credentials: its text is wiped (the client secret and the other
    /// secrets are wiped by their own types).
    fn drop(&mut self) {
        for p in [&mut self.proxy, &mut self.token_proxy, &mut self.api_proxy] {
            if let Some(u) = p.take() {
                drop(zeroize::Zeroizing::new(String::from(u)));
            }
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("platform", &self.platform)
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("api_base", &self.api_base.as_ref().map(Url::as_str))
            .field("issuer", &self.issuer.as_ref().map(Url::as_str))
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("client_auth", &self.client_auth)
            .field("grant", &self.grant)
            .field("scope", &self.scope)
            .field("refresh_margin", &self.refresh_margin)
            .field("refresh_at_fraction", &self.refresh_at_fraction)
            .field("token_idle_timeout", &self.token_idle_timeout)
            .field("rate_limit_pacing", &self.rate_limit_pacing)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("max_retries", &self.max_retries)
            .field("retry_non_idempotent", &self.retry_non_idempotent)
            .field("max_retry_after", &self.max_retry_after)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_ref().map(redact_url))
            .field("token_proxy", &self.token_proxy.as_ref().map(redact_url))
            .field("api_proxy", &self.api_proxy.as_ref().map(redact_url))
            .field("ca_file", &self.ca_file)
            .field("token_cache", &self.token_cache.describe())
            .field("token_cache_prefix", &self.token_cache_prefix)
            .field("gateway", &self.gateway)
            .field("client_identity", &self.client_identity)
            .field("assertion_key", &self.assertion_key)
            .finish()
    }
}

pub const DEFAULT_REFRESH_MARGIN_S: u64 = 60;
pub const DEFAULT_REFRESH_AT_FRACTION: f64 = 0.5;
pub const REFRESH_AT_FRACTION_RANGE: (f64, f64) = (0.1, 0.95);
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Most access tokens one client holds (`token_pool_size`).
pub const MAX_TOKEN_POOL_SIZE: u64 = 20;
pub const DEFAULT_TOKEN_POOL_FILL_INTERVAL_MS: u64 = 1_000;
pub const DEFAULT_DEADLINE_MS: u64 = 60_000;
pub const DEFAULT_MAX_RETRIES: u64 = 3;
pub const DEFAULT_MAX_RETRY_AFTER_S: u64 = 180;
pub const DEFAULT_BACKOFF_BASE_MS: u64 = 200;
pub const DEFAULT_BACKOFF_MAX_MS: u64 = 10_000;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

impl Config {
    /// Parses `json` (`None`, empty or `{}`: everything from the environment) and completes it
    /// from the process environment.
    pub fn from_json(json: Option<&str>) -> Result<Config> {
        Self::from_json_with_env(json, &ProcessEnv)
    }

    pub fn from_json_with_env(json: Option<&str>, env: &dyn Env) -> Result<Config> {
        let obj = parse_object(json)?;
        let built = (|| {
            let file = match opt_string(&obj, "env_file")? {
                Some(path) => WipedMap(read_env_file(&path)?),
                None => WipedMap(HashMap::new()),
            };
            let env = Layered { first: env, file };
            build::build(&obj, &env)
        })();
        // The parsed object holds the secrets as given: wipe it.
        crate::secret::wipe_json(Value::Object(obj));
        built
    }
}

/// The endpoints a configuration names (or the platform derives).
pub struct ConfiguredEndpoints {
    pub token_url: Option<Url>,
    pub api_base: Option<Url>,
    pub issuer: Option<Url>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cfg(json: &str, e: &[(&str, &str)]) -> Result<Config> {
        Config::from_json_with_env(Some(json), &env(e))
    }

    #[test]
    fn region_and_credentials_from_json() {
        let c = cfg(
            r#"{"region":"eu-central-1","client_id":"id","client_secret":"s"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(
            c.token_url.as_ref().unwrap().as_str(),
            "https://login.mypurecloud.de/oauth/token"
        );
        assert_eq!(
            c.api_base.as_ref().unwrap().as_str(),
            "https://api.mypurecloud.de/"
        );
        assert_eq!(c.client_auth, None);
        assert_eq!(c.timeout, Duration::from_millis(10_000));
        assert_eq!(c.max_retries, 3);
    }

    #[test]
    fn everything_from_environment_with_fallback_names() {
        let c = Config::from_json_with_env(
            None,
            &env(&[
                ("GENESYSCLOUD_REGION", "mypurecloud.jp"),
                ("GENESYS_CLIENT_ID", "old-id"),
                ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "new-secret"),
                ("GENESYS_CLIENT_SECRET", "old-secret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.client_id, "old-id");
        assert_eq!(c.client_secret.as_str(), "new-secret");
        assert_eq!(
            c.api_base.as_ref().unwrap().as_str(),
            "https://api.mypurecloud.jp/"
        );
        // JSON wins over the environment
        let c = cfg(
            r#"{"client_id":"json-id"}"#,
            &[
                ("GENESYSCLOUD_REGION", "ap-south-1"),
                ("GENESYSCLOUD_OAUTHCLIENT_ID", "env-id"),
                ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.client_id, "json-id");
        assert_eq!(
            c.token_url.as_ref().unwrap().as_str(),
            "https://login.aps1.pure.cloud/oauth/token"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (r#"{"bogus":1}"#, "\"bogus\""),
            (r#"{"region":"nowhere"}"#, "region"),
            (r#"{"region":7}"#, "\"region\" must be a string"),
            (r#"{"timeout_ms":-5}"#, "\"timeout_ms\""),
            (r#"{"timeout_ms":"5"}"#, "\"timeout_ms\" must be a number"),
            (r#"{"max_retries":1e30}"#, "\"max_retries\""),
            (r#"{"client_auth":"digest"}"#, "\"client_auth\""),
            (
                r#"{"token_url":"http://example.com/t","api_base":"https://a.b"}"#,
                "loopback",
            ),
            (
                r#"{"token_url":"ftp://x.y/t","api_base":"https://a.b"}"#,
                "\"token_url\"",
            ),
            (r#"[1,2]"#, "JSON object"),
            (r#"{"region":"#, "not valid JSON"),
            (r#"{"region":"eu-west-1"}"#, "\"client_id\""),
            (
                r#"{"region":"eu-west-1","client_id":"a"}"#,
                "\"client_secret\"",
            ),
            (r#"{"platform":"saas"}"#, "\"platform\""),
            (
                r#"{"region":"eu-west-1","issuer":"https://x.y"}"#,
                "\"region\"",
            ),
            (
                r#"{"platform":"genesys","issuer":"https://x.y"}"#,
                "\"issuer\"",
            ),
            (r#"{"platform":"cxone","region":"eu-west-1"}"#, "\"region\""),
            (
                r#"{"issuer":"https://x.y","client_id":"a","client_secret":"b"}"#,
                "\"api_base\"",
            ),
            (
                r#"{"platform":"generic","api_base":"https://a.b","client_id":"a","client_secret":"b"}"#,
                "issuer",
            ),
            (
                r#"{"platform":"cxone","client_id":"a","client_secret":"b"}"#,
                "\"access_key_id\"",
            ),
            (
                r#"{"platform":"cxone","client_id":"a","client_secret":"b","access_key_id":"k"}"#,
                "CXONE_ACCESS_KEY_SECRET",
            ),
            (
                r#"{"platform":"cxone","issuer":"http://idp.example"}"#,
                "loopback",
            ),
            (
                r#"{"region":"eu-west-1","client_id":"a","client_secret":"b","access_key_id":"k"}"#,
                "\"access_key_id\"",
            ),
            (r#"{"client_id":"a","client_secret":"b"}"#, "token endpoint"),
        ];
        for (json, needle) in cases {
            let e = cfg(json, &[]).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Config, "{json}");
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
    }

    #[test]
    fn cxone_platform() {
        let c = cfg(
            r#"{"platform":"cxone","client_id":"app","client_secret":"s","access_key_id":"key","access_key_secret":"ks"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(c.platform, Platform::Cxone);
        assert_eq!(
            c.issuer.as_ref().unwrap().as_str(),
            "https://cxone.niceincontact.com/"
        );
        assert!(c.token_url.is_none() && c.api_base.is_none());
        assert!(matches!(&c.grant, Grant::Password { username, .. } if username == "key"));
        assert!(!format!("{c:?}").contains("ks"));
        // short issuer names and environment variables
        let c = Config::from_json_with_env(
            Some(r#"{"platform":"cxone","issuer":"sov1-eu"}"#),
            &env(&[
                ("CXONE_CLIENT_ID", "app"),
                ("CXONE_CLIENT_SECRET", "s"),
                ("CXONE_ACCESS_KEY_ID", "key"),
                ("CXONE_ACCESS_KEY_SECRET", "ks"),
                ("GENESYSCLOUD_OAUTHCLIENT_ID", "not-this-one"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.issuer.as_ref().unwrap().as_str(),
            "https://nicecxone-sov1.eu/"
        );
        assert_eq!(c.client_id, "app");
        // generic: issuer alone selects discovery
        let c = cfg(
            r#"{"issuer":"https://idp.example","api_base":"https://api.example","client_id":"a","client_secret":"b"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(c.platform, Platform::Generic);
        assert!(c.token_url.is_none());
    }

    #[test]
    fn loopback_http_allowed() {
        let c = cfg(
            r#"{"token_url":"http://127.0.0.1:9/oauth/token","api_base":"http://localhost:9","client_id":"a","client_secret":"b","client_auth":"body"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(c.client_auth, Some(ClientAuth::Body));
        assert!(cfg(
            r#"{"token_url":"http://[::1]:9/t","api_base":"http://127.8.9.1","client_id":"a","client_secret":"b"}"#,
            &[]
        )
        .is_ok());
    }

    #[test]
    fn debug_redacts_secret() {
        let c = cfg(
            r#"{"region":"eu-west-1","client_id":"a","client_secret":"hunter2-secret"}"#,
            &[],
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn env_file_fills_missing_values_without_touching_the_environment() {
        let path = std::env::temp_dir().join(format!("cxoauth-env-{}", std::process::id()));
        std::fs::write(
            &path,
            "GENESYSCLOUD_REGION=eu-west-2\nGENESYSCLOUD_OAUTHCLIENT_ID=file-id\nGENESYSCLOUD_OAUTHCLIENT_SECRET='file secret'\n",
        )
        .unwrap();
        let json = format!(r#"{{"env_file":"{}"}}"#, path.display());
        let region_before = std::env::var("GENESYSCLOUD_REGION").ok();
        // the process environment wins over the file
        let c = cfg(&json, &[("GENESYSCLOUD_OAUTHCLIENT_ID", "env-id")]).unwrap();
        assert_eq!(c.client_id, "env-id");
        assert_eq!(c.client_secret.as_str(), "file secret");
        assert_eq!(
            c.api_base.as_ref().unwrap().as_str(),
            "https://api.euw2.pure.cloud/"
        );
        // read, never exported
        assert_eq!(std::env::var("GENESYSCLOUD_REGION").ok(), region_before);
        std::fs::remove_file(&path).unwrap();
        let e = cfg(r#"{"env_file":"/nonexistent/.env"}"#, &[]).unwrap_err();
        assert!(e.message.contains("env_file"));
    }

    #[test]
    fn env_file_parsing() {
        let m = parse_env_text(
            "# comment\nexport GENESYS_CLIENT_ID=abc\nGENESYS_CLIENT_SECRET=\"a b#c\"\nX='q' \nY=v # trailing\nbad line\n",
        );
        assert_eq!(m["GENESYS_CLIENT_ID"], "abc");
        assert_eq!(m["GENESYS_CLIENT_SECRET"], "a b#c");
        assert_eq!(m["X"], "q");
        assert_eq!(m["Y"], "v");
        assert_eq!(m.len(), 4);
    }
}
