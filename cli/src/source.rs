//! Where the configuration comes from: `--config FILE|JSON`, else `CXOAUTH_CONFIG`, else
//! nothing (the library then reads its environment variables); `--env-file` is added as the
//! config's `env_file` key.

use std::path::PathBuf;

use cxoauth::{Config, Error};
use serde_json::{Map, Value};

/// The environment variable holding a JSON config when `--config` is not given.
pub const CONFIG_VAR: &str = "CXOAUTH_CONFIG";

/// Every environment variable the library reads for a missing endpoint or credential, from the
/// library's own lists: the region, each platform's client id and secret variables (pairwise),
/// the CXone access key.
pub fn library_vars() -> Vec<&'static str> {
    use cxoauth::config::{cxone, genesys, schema};
    let mut vars = schema::env_vars("region").to_vec();
    for (ids, secrets) in [
        (genesys::ID_VARS, genesys::SECRET_VARS),
        (cxone::ID_VARS, cxone::SECRET_VARS),
    ] {
        for (id, secret) in ids.iter().zip(secrets) {
            vars.extend([*id, *secret]);
        }
    }
    vars.extend(schema::env_vars("access_key_id"));
    vars.extend(schema::env_vars("access_key_secret"));
    vars
}

/// Where the JSON text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--config PATH`.
    File(PathBuf),
    /// `--config '{...}'`.
    Inline,
    /// `CXOAUTH_CONFIG`.
    EnvVar,
    /// No JSON at all: environment variables only.
    Nothing,
}

/// Where the `env_file` came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFileOrigin {
    Flag,
    Key,
}

/// The resolved configuration text and a description of its sources (no values, so it can
/// be printed).
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: Origin,
    /// The JSON object handed to [`Config::from_json`].
    pub json: String,
    /// The `.env` file the library will read, if any.
    pub env_file: Option<(String, EnvFileOrigin)>,
    /// The library's environment variables that are set (names only).
    pub env_vars: Vec<&'static str>,
}

impl Source {
    /// Resolves `--config` / `CXOAUTH_CONFIG` and `--env-file`.
    pub fn resolve(config: Option<&str>, env_file: Option<&str>) -> Result<Source, Error> {
        let (origin, text) = match config {
            Some(c) if c.trim_start().starts_with('{') => (Origin::Inline, c.to_string()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::config(format!("--config: cannot read config file {path}: {e}"))
                })?;
                (Origin::File(PathBuf::from(path)), text)
            }
            None => match std::env::var(CONFIG_VAR) {
                Ok(v) if !v.trim().is_empty() => (Origin::EnvVar, v),
                _ => (Origin::Nothing, String::new()),
            },
        };
        let mut obj = parse_object(&text)?;
        let env_file = match env_file {
            Some(path) => {
                obj.insert("env_file".to_string(), Value::String(path.to_string()));
                Some((path.to_string(), EnvFileOrigin::Flag))
            }
            None => match obj.get("env_file") {
                Some(Value::String(p)) => Some((p.clone(), EnvFileOrigin::Key)),
                _ => None,
            },
        };
        let env_vars = library_vars()
            .into_iter()
            .filter(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
            .collect();
        Ok(Source {
            origin,
            json: Value::Object(obj).to_string(),
            env_file,
            env_vars,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> Result<Config, Error> {
        Config::from_json(Some(&self.json))
    }

    /// The JSON object (already known to parse).
    pub fn object(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.json) {
            Ok(Value::Object(o)) => o,
            _ => Map::new(),
        }
    }

    /// One line naming every source used, values left out.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match &self.origin {
            Origin::File(p) => parts.push(format!("--config file {}", p.display())),
            Origin::Inline => parts.push("--config inline JSON".to_string()),
            Origin::EnvVar => parts.push(CONFIG_VAR.to_string()),
            Origin::Nothing => {}
        }
        if !self.env_vars.is_empty() {
            parts.push(format!(
                "environment variables ({})",
                self.env_vars.join(", ")
            ));
        }
        match &self.env_file {
            Some((p, EnvFileOrigin::Flag)) => parts.push(format!("env file {p} (--env-file)")),
            Some((p, EnvFileOrigin::Key)) => {
                parts.push(format!("env file {p} (config key \"env_file\")"))
            }
            None => {}
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The config text as a JSON object; anything else gets the library's own error message
/// (which never quotes the input, so an inline secret is not echoed).
fn parse_object(text: &str) -> Result<Map<String, Value>, Error> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(match Config::from_json(Some(text)) {
            Err(e) => e,
            Ok(_) => Error::config("config must be a JSON object"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_env_file_flag() {
        let s = Source::resolve(Some(r#" {"region":"eu-west-1"}"#), Some("/x/.env")).unwrap();
        assert_eq!(s.origin, Origin::Inline);
        let o = s.object();
        assert_eq!(o["region"], "eu-west-1");
        assert_eq!(o["env_file"], "/x/.env");
        assert!(s.describe().contains("--config inline JSON"));
        assert!(s.describe().contains("env file /x/.env (--env-file)"));
    }

    #[test]
    fn bad_json_never_echoes_the_input() {
        let e = Source::resolve(Some(r#"{"client_secret":"hunter2"#), None).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        assert!(!e.message.contains("hunter2"));
        let e = Source::resolve(Some("/nonexistent/cxoauth.json"), None).unwrap_err();
        assert!(e.message.contains("/nonexistent/cxoauth.json"));
    }
}
