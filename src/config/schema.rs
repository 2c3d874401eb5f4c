//! The configuration keys as data: name, type, default, range, allowed values, environment
//! variables, whether the value is a secret. The one source the bindings' typed configs are
//! tested against (`oauth_config_schema()`, and `include/cxoauth-config.schema.json`,
//! generated from this by `scripts/gen-header.sh` and drift-checked).

use serde_json::{json, Value};

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    /// A JSON object with the sub-keys of [`Key::fields`].
    Object,
    /// A fraction (JSON number); its range is `fmin`..=`fmax`.
    Number,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as JSON text (`None`: no default, or one derived from other keys).
    pub default: Option<&'static str>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    /// Range of a [`Kind::Number`] key.
    pub frange: Option<(f64, f64)>,
    /// Allowed values of a string key (empty: any).
    pub values: &'static [&'static str],
    /// Environment variables read when the key is absent (in order).
    pub env: &'static [&'static str],
    pub secret: bool,
    pub description: &'static str,
    /// The sub-keys of an object key (`"properties"` in the JSON schema).
    pub fields: &'static [Key],
}

const fn key(name: &'static str, kind: Kind, description: &'static str) -> Key {
    Key {
        name,
        kind,
        default: None,
        min: None,
        max: None,
        frange: None,
        values: &[],
        env: &[],
        secret: false,
        description,
        fields: &[],
    }
}

const fn int(
    name: &'static str,
    default: &'static str,
    min: u64,
    max: u64,
    description: &'static str,
) -> Key {
    Key {
        default: Some(default),
        min: Some(min),
        max: Some(max),
        ..key(name, Kind::Integer, description)
    }
}

use Kind::{Boolean, Object, String as Str};

/// Every key, in the order of the README's table.
pub const SCHEMA: &[Key] = &[
    Key {
        values: &["genesys", "cxone", "generic"],
        ..key("platform", Str, "server kind; default genesys, or generic when issuer is set")
    },
    Key {
        env: &["GENESYSCLOUD_REGION"],
        ..key("region", Str, "Genesys region: AWS name (eu-central-1) or domain (mypurecloud.de)")
    },
    key("issuer", Str, "OpenID issuer for discovery (CXone: default https://cxone.niceincontact.com, or global/gov/sov1-au/sov1-eu)"),
    key("token_url", Str, "token endpoint (https, or http to loopback)"),
    key("api_base", Str, "API base URL"),
    Key {
        env: &["GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYS_CLIENT_ID", "CXONE_CLIENT_ID"],
        ..key("client_id", Str, "OAuth client id")
    },
    Key {
        env: &["GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYS_CLIENT_SECRET", "CXONE_CLIENT_SECRET"],
        secret: true,
        ..key("client_secret", Str, "OAuth client secret")
    },
    Key {
        env: &["CXONE_ACCESS_KEY_ID"],
        ..key("access_key_id", Str, "CXone access key id")
    },
    Key {
        env: &["CXONE_ACCESS_KEY_SECRET"],
        secret: true,
        ..key("access_key_secret", Str, "CXone access key secret")
    },
    Key {
        default: Some("\"password\""),
        values: &["password", "access_key_legacy"],
        ..key("cxone_grant", Str, "CXone grant: password (back-end application) or the legacy access-key endpoint")
    },
    key("cxone_area", Str, "CXone area (na1, eu1, au1, ...) for the legacy access-key endpoint"),
    Key {
        values: &["basic", "body", "private_key_jwt", "tls_client_auth"],
        ..key("client_auth", Str, "client authentication; default basic, or from discovery (basic, then post on invalid_client); private_key_jwt when client_assertion_key_file is set and no client_secret")
    },
    key("scope", Str, "sent as scope"),
    int("refresh_margin_s", "60", 0, 86_400, "refresh this long before expiry (at most half the lifetime)"),
    Key {
        default: Some("0.5"),
        frange: Some((0.1, 0.95)),
        ..key("refresh_at_fraction", Kind::Number, "proactive refresh starts at this fraction of the token's lifetime (refresh_margin_s still bounds it from the end)")
    },
    int("token_idle_timeout_s", "0", 0, 86_400, "a cached token unused this long is treated as revoked (the org's inactivity timeout; 0: off)"),
    int("timeout_ms", "10000", 1, 3_600_000, "per attempt: connect, send, whole reply"),
    int("deadline_ms", "60000", 1, 86_400_000, "whole call, retries and waits included"),
    int("max_retries", "3", 0, 100, "retries after 429 / 5xx / connection failures"),
    Key {
        default: Some("false"),
        ..key("retry_non_idempotent", Boolean, "also retry POST/PATCH after 502-504 or a failure after sending")
    },
    int("max_retry_after_s", "180", 0, 86_400, "a longer Retry-After is not waited for"),
    Key {
        default: Some("true"),
        ..key("rate_limit_pacing", Boolean, "pace API calls to the replies' rate-limit headers (inin-ratelimit-*, RateLimit, X-RateLimit-*)")
    },
    int("token_pool_size", "1", 1, 20, "access tokens this client holds, each with its own API quota; more are fetched as load needs them"),
    int("token_pool_fill_interval_ms", "1000", 0, 3_600_000, "another pool token is fetched at most this often"),
    int("backoff_base_ms", "200", 1, 600_000, "exponential backoff base (full jitter)"),
    int("backoff_max_ms", "10000", 1, 3_600_000, "exponential backoff cap"),
    int("max_body_bytes", "16777216", 1024, 1 << 32, "larger replies are OAUTH_ERR_PROTOCOL"),
    key("user_agent", Str, "User-Agent; default cxoauth/<version>"),
    key("proxy", Str, "http://, https:// or socks5:// proxy URL; default the system proxy variables"),
    key("token_proxy", Str, "proxy URL for the login side (token endpoint, discovery); overrides proxy there"),
    key("api_proxy", Str, "proxy URL for the API requests; overrides proxy there"),
    key("ca_file", Str, "extra PEM CA certificates, added to the OS trust store"),
    key("env_file", Str, "a .env file read for the environment variables (never exported)"),
    Key {
        default: Some("\"memory\""),
        env: &["CXOAUTH_TOKEN_CACHE"],
        secret: true,
        ..key("token_cache", Str, "share tokens between processes: memory, file:///absolute/dir, redis://[user:password@]host:port[/db] or rediss://...")
    },
    Key {
        default: Some("\"cxoauth\""),
        env: &["CXOAUTH_TOKEN_CACHE_PREFIX"],
        ..key("token_cache_prefix", Str, "key namespace in the shared token cache")
    },
    key("metrics_name", Str, "the client label of oauth_client_metrics (1 to 64 of A-Z a-z 0-9 - _ . :); default: a hash of the client id"),
    key("client_cert_file", Str, "PEM client certificate (chain) presented on every TLS connection (mTLS); re-read when it changes (checked at most once a minute)"),
    key("client_key_file", Str, "PEM private key of client_cert_file (PKCS#8, RSA or EC)"),
    key("client_cert_pem", Str, "the client certificate as inline PEM text (instead of client_cert_file)"),
    Key {
        secret: true,
        ..key("client_key_pem", Str, "the client certificate's private key as inline PEM text (instead of client_key_file)")
    },
    Key {
        env: &["CXOAUTH_CLIENT_ASSERTION_KEY_FILE"],
        ..key("client_assertion_key_file", Str, "PEM private key (RSA, or EC P-256; PKCS#8, PKCS#1 or SEC1) signing the private_key_jwt client assertions; re-read when it changes (checked at most once a minute)")
    },
    Key {
        default: Some("\"RS256\""),
        values: &["RS256", "PS256", "ES256"],
        env: &["CXOAUTH_CLIENT_ASSERTION_ALG"],
        ..key("client_assertion_alg", Str, "JWS algorithm of the client assertion (RS256/PS256: RSA key, ES256: EC P-256 key)")
    },
    Key {
        env: &["CXOAUTH_CLIENT_ASSERTION_KID"],
        ..key("client_assertion_kid", Str, "kid header of the client assertion (the key's id in the client's registered JWKS)")
    },
    Key {
        fields: GATEWAY_FIELDS,
        ..key("gateway", Object, "route the token endpoint and the API through an egress gateway: {host, protocol, port, login_path_prefix, api_path_prefix}; token endpoint protocol://host:port{login_path_prefix}/oauth/token, API base protocol://host:port{api_path_prefix}")
    },
];

/// The sub-keys of `"gateway"` (see `config/gateway.rs`).
pub const GATEWAY_FIELDS: &[Key] = &[
    key("host", Str, "gateway host name or address"),
    Key {
        default: Some("\"https\""),
        values: &["https", "http"],
        ..key("protocol", Str, "https (http only to loopback)")
    },
    Key {
        min: Some(1),
        max: Some(65_535),
        ..key("port", Kind::Integer, "default 443 (https) or 80 (http)")
    },
    key(
        "login_path_prefix",
        Str,
        "path prefix of the login (token) side, e.g. /login",
    ),
    key(
        "api_path_prefix",
        Str,
        "path prefix of the API side, e.g. /api",
    ),
];

/// The schema as a JSON document: `{"version", "keys": [{name, type, default, ...}]}`.
/// The environment variables read for `key` when it is absent (in order); none for an unknown
/// key.
pub fn env_vars(key: &str) -> &'static [&'static str] {
    SCHEMA.iter().find(|k| k.name == key).map_or(&[], |k| k.env)
}

pub fn schema_json() -> Value {
    json!({ "version": env!("CARGO_PKG_VERSION"), "keys": keys_json(SCHEMA) })
}

fn keys_json(keys: &[Key]) -> Vec<Value> {
    keys.iter()
        .map(|k| {
            let mut o = json!({
                "name": k.name,
                "type": match k.kind {
                    Kind::String => "string",
                    Kind::Integer => "integer",
                    Kind::Boolean => "boolean",
                    Kind::Object => "object",
                    Kind::Number => "number",
                },
                "default": k.default.map(|d| serde_json::from_str::<Value>(d).expect("default is JSON")),
                "secret": k.secret,
                "env": k.env,
                "description": k.description,
            });
            if let Some(m) = k.min {
                o["minimum"] = json!(m);
            }
            if let Some(m) = k.max {
                o["maximum"] = json!(m);
            }
            if let Some((lo, hi)) = k.frange {
                o["minimum"] = json!(lo);
                o["maximum"] = json!(hi);
            }
            if !k.values.is_empty() {
                o["enum"] = json!(k.values);
            }
            if !k.fields.is_empty() {
                o["properties"] = json!(keys_json(k.fields));
            }
            o
        })
        .collect()
}

/// [`schema_json`] as pretty-printed text with a final newline (the committed file's form).
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema_json()).expect("serialisable");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_file_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/include/cxoauth-config.schema.json"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == schema_text(),
            "include/cxoauth-config.schema.json is out of date: run scripts/gen-header.sh"
        );
    }

    #[test]
    fn defaults_match_the_parser() {
        use crate::config::*;
        let d = |name: &str| -> u64 {
            SCHEMA
                .iter()
                .find(|k| k.name == name)
                .and_then(|k| k.default)
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(d("refresh_margin_s"), DEFAULT_REFRESH_MARGIN_S);
        assert_eq!(d("token_idle_timeout_s"), 0);
        let f = SCHEMA
            .iter()
            .find(|k| k.name == "refresh_at_fraction")
            .unwrap();
        assert_eq!(
            f.default.unwrap().parse::<f64>().unwrap(),
            DEFAULT_REFRESH_AT_FRACTION
        );
        assert_eq!(f.frange, Some(REFRESH_AT_FRACTION_RANGE));
        assert_eq!(d("timeout_ms"), DEFAULT_TIMEOUT_MS);
        assert_eq!(d("deadline_ms"), DEFAULT_DEADLINE_MS);
        assert_eq!(d("max_retries"), DEFAULT_MAX_RETRIES);
        assert_eq!(d("max_retry_after_s"), DEFAULT_MAX_RETRY_AFTER_S);
        assert_eq!(d("backoff_base_ms"), DEFAULT_BACKOFF_BASE_MS);
        assert_eq!(d("backoff_max_ms"), DEFAULT_BACKOFF_MAX_MS);
        assert_eq!(d("max_body_bytes"), DEFAULT_MAX_BODY_BYTES);
    }
}
