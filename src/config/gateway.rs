//! `"gateway"`: an enterprise egress gateway in front of the login and API hosts.
//!
//! `{"host": "gw.example", "protocol": "https", "port": 443, "login_path_prefix": "/login",
//! "api_path_prefix": "/api"}`: the token endpoint becomes
//! `protocol://host:port{login_path_prefix}/oauth/token`, the API base
//! `protocol://host:port{api_path_prefix}`. Discovered endpoints (CXone, generic with an
//! issuer) are rewritten onto the gateway: their path is kept under the prefix.

use serde_json::{Map, Value};
use url::Url;

use super::json::{opt_string, opt_u64};
use super::url::parse_url;
use crate::error::{Error, Result};

/// The sub-keys of `"gateway"`.
pub const FIELDS: &[&str] = &[
    "host",
    "protocol",
    "port",
    "login_path_prefix",
    "api_path_prefix",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// `protocol://host:port/`
    origin: Url,
    /// `""` or `/seg/...` without a trailing slash.
    login_prefix: String,
    api_prefix: String,
}

fn prefix(obj: &Map<String, Value>, key: &str) -> Result<String> {
    let p = opt_string(obj, key)
        .map_err(|_| Error::config(format!("config key \"gateway.{key}\" must be a string")))?
        .unwrap_or_default();
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    let ok = p.starts_with('/')
        && !p.contains("//")
        && p.split('/').all(|s| s != "." && s != "..")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'));
    if !ok {
        return Err(Error::config(format!(
            "config key \"gateway.{key}\" must be a path like \"/api\" (letters, digits, - _ . ~)"
        )));
    }
    Ok(p.to_string())
}

impl Gateway {
    /// Parses the `"gateway"` key, if present.
    pub fn parse(obj: &Map<String, Value>) -> Result<Option<Gateway>> {
        let g = match obj.get("gateway") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(g)) => g,
            Some(_) => {
                return Err(Error::config(
                    "config key \"gateway\" must be an object {\"host\", \"protocol\", \"port\", \"login_path_prefix\", \"api_path_prefix\"}",
                ))
            }
        };
        if let Some(k) = g.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(Error::config(format!(
                "unknown key \"gateway.{}\" (known: {})",
                super::truncate(k, 64),
                FIELDS.join(", ")
            )));
        }
        let host = opt_string(g, "host")
            .map_err(|_| Error::config("config key \"gateway.host\" must be a string"))?
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config("config key \"gateway\" needs \"host\""))?;
        if host.contains(['/', '@', '?', '#', ' ']) || host.chars().any(char::is_control) {
            return Err(Error::config(
                "config key \"gateway.host\" must be a host name or address, not a URL",
            ));
        }
        let protocol = opt_string(g, "protocol")
            .map_err(|_| Error::config("config key \"gateway.protocol\" must be a string"))?
            .unwrap_or_else(|| "https".to_string());
        if !matches!(protocol.as_str(), "https" | "http") {
            return Err(Error::config(
                "config key \"gateway.protocol\" must be \"https\" (or \"http\" to loopback)",
            ));
        }
        let port = opt_u64(g, "port", 1, 65_535).map_err(|_| {
            Error::config("config key \"gateway.port\" must be a whole number from 1 to 65535")
        })?;
        let host_text = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]") // IPv6 literal
        } else {
            host
        };
        let text = match port {
            Some(p) => format!("{protocol}://{host_text}:{p}/"),
            None => format!("{protocol}://{host_text}/"),
        };
        // https anywhere, plain http only to loopback, no credentials
        let origin = parse_url("gateway", &text)?;
        Ok(Some(Gateway {
            origin,
            login_prefix: prefix(g, "login_path_prefix")?,
            api_prefix: prefix(g, "api_path_prefix")?,
        }))
    }

    fn join(&self, prefix: &str, path: &str) -> Url {
        let mut u = self.origin.clone();
        let path = if path.is_empty() || path == "/" {
            if prefix.is_empty() {
                "/".to_string()
            } else {
                prefix.to_string()
            }
        } else {
            format!("{prefix}{path}")
        };
        u.set_path(&path);
        u
    }

    /// `protocol://host:port{login_path_prefix}/oauth/token`
    pub fn token_url(&self) -> Url {
        self.join(&self.login_prefix, "/oauth/token")
    }

    /// `protocol://host:port{api_path_prefix}`
    pub fn api_base(&self) -> Url {
        self.join(&self.api_prefix, "")
    }

    /// A discovered login-side URL (token endpoint, discovery document) on the gateway: its
    /// path (and query) kept under the login prefix.
    pub fn login_url(&self, discovered: &Url) -> Url {
        let mut u = self.join(&self.login_prefix, discovered.path());
        u.set_query(discovered.query());
        u
    }

    /// A discovered API base on the gateway, under the API prefix.
    pub fn api_url(&self, discovered: &Url) -> Url {
        self.join(&self.api_prefix, discovered.path().trim_end_matches('/'))
    }

    /// `protocol://host:port` and both prefixes, for `cxoauth check`.
    pub fn describe(&self) -> String {
        format!(
            "{} (login prefix \"{}\", API prefix \"{}\")",
            self.origin.as_str().trim_end_matches('/'),
            self.login_prefix,
            self.api_prefix
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(json: &str) -> Result<Option<Gateway>> {
        let v: Value = serde_json::from_str(&format!("{{\"gateway\":{json}}}")).unwrap();
        Gateway::parse(v.as_object().unwrap())
    }

    #[test]
    fn urls() {
        let g = gw(r#"{"host":"gw.example","port":8443,"login_path_prefix":"/login","api_path_prefix":"/api/"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            g.token_url().as_str(),
            "https://gw.example:8443/login/oauth/token"
        );
        assert_eq!(g.api_base().as_str(), "https://gw.example:8443/api");
        let d = Url::parse("https://cxone.niceincontact.com/auth/token?x=1").unwrap();
        assert_eq!(
            g.login_url(&d).as_str(),
            "https://gw.example:8443/login/auth/token?x=1"
        );
        let a = Url::parse("https://api-na1.niceincontact.com/").unwrap();
        assert_eq!(g.api_url(&a).as_str(), "https://gw.example:8443/api");
        let g = gw(r#"{"host":"127.0.0.1","protocol":"http","port":80}"#)
            .unwrap()
            .unwrap();
        assert_eq!(g.token_url().as_str(), "http://127.0.0.1/oauth/token");
        assert_eq!(g.api_base().as_str(), "http://127.0.0.1/");
    }

    #[test]
    fn errors_name_the_key() {
        for (json, needle) in [
            ("1", "\"gateway\" must be an object"),
            ("{}", "\"host\""),
            (r#"{"host":"a.b","x":1}"#, "gateway.x"),
            (r#"{"host":"a.b","protocol":"ftp"}"#, "gateway.protocol"),
            (r#"{"host":"a.b","port":0}"#, "gateway.port"),
            (r#"{"host":"a.b","port":"443"}"#, "gateway.port"),
            (r#"{"host":"a.b","protocol":"http"}"#, "loopback"),
            (r#"{"host":"https://a.b"}"#, "gateway.host"),
            (
                r#"{"host":"a.b","api_path_prefix":"api"}"#,
                "gateway.api_path_prefix",
            ),
            (
                r#"{"host":"a.b","login_path_prefix":"/../x"}"#,
                "gateway.login_path_prefix",
            ),
            (
                r#"{"host":"a.b","login_path_prefix":7}"#,
                "gateway.login_path_prefix",
            ),
        ] {
            let e = gw(json).unwrap_err();
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
    }
}
