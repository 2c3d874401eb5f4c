//! The environment side of the configuration: the process environment, the opt-in env file
//! (read, never exported), and credentials looked up in them. The env file's values are wiped
//! when dropped.
//!
//! Reading the process environment (`getenv`) races with a host thread calling `setenv` or
//! `putenv` at the same moment, as any `getenv` does: hosts set their environment before
//! creating clients, or pass every key in the JSON.

use std::collections::HashMap;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

use super::json::opt_string;

/// Where missing values come from. `Process` reads the real environment.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned().filter(|v| !v.is_empty())
    }
}

pub(crate) struct Layered<'a> {
    pub(crate) first: &'a dyn Env,
    pub(crate) file: WipedMap,
}

impl Env for Layered<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.first
            .get(name)
            .or_else(|| Env::get(&self.file.0, name))
    }
}

/// The env file's variables (secrets among them), wiped when dropped.
pub(crate) struct WipedMap(pub(crate) HashMap<String, String>);

impl Drop for WipedMap {
    fn drop(&mut self) {
        for (_, mut v) in self.0.drain() {
            zeroize::Zeroize::zeroize(&mut v);
        }
    }
}

/// A credential from its JSON key or, failing that, the first set environment variable.
pub(crate) fn credential(
    obj: &Map<String, Value>,
    env: &dyn Env,
    key: &str,
    vars: &[&str],
) -> Result<String> {
    let value = match opt_string(obj, key)? {
        Some(v) => Some(v),
        None => vars.iter().find_map(|v| env.get(v)),
    };
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(Error::config(format!(
            "config key \"{key}\" must not be empty"
        ))),
        None if vars.is_empty() => Err(Error::config(format!("missing \"{key}\""))),
        None => Err(Error::config(format!(
            "missing \"{key}\": set it or {}",
            vars.join(" or ")
        ))),
    }
}

/// Reads a `.env` file: `KEY=VALUE` lines, `export ` prefixes, `#` comments, single or double
/// quotes. Values are returned, never put into the process environment.
pub fn read_env_file(path: &str) -> Result<HashMap<String, String>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("config key \"env_file\": cannot read {path}: {e}"))
        })?);
    Ok(parse_env_text(&text))
}

pub fn parse_env_text(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].to_string()
        } else {
            // unquoted: a " #" starts a comment
            match v.find(" #") {
                Some(i) => v[..i].trim_end().to_string(),
                None => v.to_string(),
            }
        };
        out.insert(k.to_string(), v);
    }
    out
}
