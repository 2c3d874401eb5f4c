//! The JSON side of the configuration: the object, its typed keys.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

use super::schema::SCHEMA;

/// Longest accepted config text.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

pub(crate) fn parse_object(json: Option<&str>) -> Result<Map<String, Value>> {
    let text = json.map(str::trim).unwrap_or("");
    if text.len() > MAX_CONFIG_BYTES {
        return Err(Error::config(format!(
            "config is larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    if text.is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json's message has line/column only, never the input text.
        Error::config(format!("config is not valid JSON: {e}"))
    })?;
    let Value::Object(obj) = value else {
        return Err(Error::config("config must be a JSON object"));
    };
    let known = |k: &str| SCHEMA.iter().any(|key| key.name == k);
    if let Some(unknown) = obj.keys().find(|k| !known(k)) {
        return Err(Error::config(format!(
            "unknown config key \"{}\" (known keys: {})",
            truncate(unknown, 64),
            SCHEMA.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(obj)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "..."
    }
}

pub(crate) fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::config(format!(
            "config key \"{key}\" must be a string"
        ))),
    }
}

pub(crate) fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::config(format!(
            "config key \"{key}\" must be true or false"
        ))),
    }
}

/// A JSON number from `min` to `max` (a fraction such as `refresh_at_fraction`).
pub(crate) fn opt_fraction(
    obj: &Map<String, Value>,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(Error::config(format!(
                "config key \"{key}\" must be a number from {min} to {max}"
            ))),
        },
        Some(_) => Err(Error::config(format!(
            "config key \"{key}\" must be a number"
        ))),
    }
}

pub(crate) fn opt_u64(
    obj: &Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(Error::config(format!(
                "config key \"{key}\" must be a whole number from {min} to {max}"
            ))),
        },
        Some(_) => Err(Error::config(format!(
            "config key \"{key}\" must be a number"
        ))),
    }
}
