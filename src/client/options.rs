//! Per-call options (`oauth_request_ex`'s `options_json`): one call's overrides of the client's
//! configuration.
//!
//! Keys (every one optional; absent or `null` = the client's setting):
//! * `deadline_ms` — the whole call, retries and waits included (range as the config key);
//! * `timeout_ms` — per attempt (range as the config key);
//! * `max_retries` — retries after 429 / 5xx / connection failures (range as the config key);
//! * `idempotent` — `true`/`false`: whether 502-504 and failures after sending are retried,
//!   overriding the method's default (and `retry_non_idempotent`);
//! * `resend_after_401` — default `true`; `false`: a 401 is returned as the response, the token
//!   is neither dropped nor replaced and no token is requested;
//! * `pacing` — `"wait"` (default) or `"fail_fast"`: when pacing to the rate-limit headers
//!   would hold the call, it ends at once, unsent, with the client-made 429 (`Retry-After`,
//!   `X-Cxoauth-Paced: 1`) a call whose deadline comes first gets. No effect with
//!   `rate_limit_pacing` off.
//!
//! An unknown key or a bad value is [`ErrorKind::InvalidArgument`](crate::error::ErrorKind)
//! naming the key.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Map, Value};

use crate::config::schema::SCHEMA;
use crate::config::Config;
use crate::error::{Error, Result};

/// Longest accepted `options_json`.
const MAX_OPTIONS_BYTES: usize = 64 * 1024;

/// What pacing does with a call it would hold back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacingMode {
    /// Wait for the call's slot (never past its deadline or `max_retry_after_s`).
    #[default]
    Wait,
    /// End at once, unsent, with the client-made 429.
    FailFast,
}

/// One call's overrides of the client's configuration; the default overrides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallOptions {
    pub deadline: Option<Duration>,
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub idempotent: Option<bool>,
    /// `None`: `true`.
    pub resend_after_401: Option<bool>,
    pub pacing: PacingMode,
}

/// The option keys, in the order of the docs.
pub const OPTION_KEYS: &[&str] = &[
    "deadline_ms",
    "timeout_ms",
    "max_retries",
    "idempotent",
    "resend_after_401",
    "pacing",
];

impl CallOptions {
    /// Parses `options_json`: NULL, empty or `{}` is the default.
    pub fn from_json(json: Option<&str>) -> Result<CallOptions> {
        let text = json.map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Ok(CallOptions::default());
        }
        if text.len() > MAX_OPTIONS_BYTES {
            return Err(Error::invalid(format!(
                "options_json is larger than {MAX_OPTIONS_BYTES} bytes"
            )));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message has line/column only, never the input text
            Error::invalid(format!("options_json is not valid JSON: {e}"))
        })?;
        let Value::Object(obj) = value else {
            return Err(Error::invalid("options_json must be a JSON object"));
        };
        Self::from_object(&obj)
    }

    fn from_object(obj: &Map<String, Value>) -> Result<CallOptions> {
        if let Some(unknown) = obj.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "unknown option \"{}\" (known options: {})",
                unknown.chars().take(64).collect::<String>(),
                OPTION_KEYS.join(", ")
            )));
        }
        let ms = |key| ranged(obj, key).map(|v| v.map(Duration::from_millis));
        Ok(CallOptions {
            deadline: ms("deadline_ms")?,
            timeout: ms("timeout_ms")?,
            max_retries: ranged(obj, "max_retries")?.map(|v| v as u32),
            idempotent: boolean(obj, "idempotent")?,
            resend_after_401: boolean(obj, "resend_after_401")?,
            pacing: pacing(obj)?,
        })
    }

    /// The call's deadline.
    pub fn deadline(&self, cfg: &Config) -> Duration {
        self.deadline.unwrap_or(cfg.deadline)
    }

    /// The per-attempt timeout.
    pub fn timeout(&self, cfg: &Config) -> Duration {
        self.timeout.unwrap_or(cfg.timeout)
    }

    pub fn max_retries(&self, cfg: &Config) -> u32 {
        self.max_retries.unwrap_or(cfg.max_retries)
    }

    /// Whether `method` may be sent again after a 502-504 or a failure after sending.
    pub fn replayable(&self, method: &Method, cfg: &Config) -> bool {
        self.idempotent
            .unwrap_or_else(|| super::is_idempotent(method) || cfg.retry_non_idempotent)
    }

    /// Whether a 401 drops the token and sends the call again with a new one.
    pub fn resend_after_401(&self) -> bool {
        self.resend_after_401.unwrap_or(true)
    }

    /// Whether pacing ends a call it would hold instead of waiting.
    pub fn pacing_fail_fast(&self) -> bool {
        self.pacing == PacingMode::FailFast
    }

    /// The options as `options_json` text (only the keys set), e.g. for bindings and logs.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        if let Some(d) = self.deadline {
            put("deadline_ms", (d.as_millis() as u64).into());
        }
        if let Some(d) = self.timeout {
            put("timeout_ms", (d.as_millis() as u64).into());
        }
        if let Some(n) = self.max_retries {
            put("max_retries", n.into());
        }
        if let Some(b) = self.idempotent {
            put("idempotent", b.into());
        }
        if let Some(b) = self.resend_after_401 {
            put("resend_after_401", b.into());
        }
        if self.pacing == PacingMode::FailFast {
            put("pacing", "fail_fast".into());
        }
        Value::Object(m).to_string()
    }
}

/// A whole number in the range of the configuration key of the same name.
fn ranged(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>> {
    let k = SCHEMA
        .iter()
        .find(|k| k.name == key)
        .expect("option keys with a range are config keys");
    let (min, max) = (k.min.unwrap_or(0), k.max.unwrap_or(u64::MAX));
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(Error::invalid(format!(
                "option \"{key}\" must be a whole number from {min} to {max}"
            ))),
        },
        Some(_) => Err(Error::invalid(format!("option \"{key}\" must be a number"))),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::invalid(format!(
            "option \"{key}\" must be true or false"
        ))),
    }
}

fn pacing(obj: &Map<String, Value>) -> Result<PacingMode> {
    match obj.get("pacing") {
        None | Some(Value::Null) => Ok(PacingMode::Wait),
        Some(Value::String(s)) if s == "wait" => Ok(PacingMode::Wait),
        Some(Value::String(s)) if s == "fail_fast" => Ok(PacingMode::FailFast),
        Some(_) => Err(Error::invalid(
            "option \"pacing\" must be \"wait\" or \"fail_fast\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn empty_is_default() {
        for text in [
            None,
            Some(""),
            Some("  "),
            Some("{}"),
            Some(r#"{"pacing":null}"#),
        ] {
            assert_eq!(
                CallOptions::from_json(text).unwrap(),
                CallOptions::default()
            );
        }
    }

    #[test]
    fn every_key() {
        let o = CallOptions::from_json(Some(
            r#"{"deadline_ms":1500,"timeout_ms":200,"max_retries":0,"idempotent":true,
                "resend_after_401":false,"pacing":"fail_fast"}"#,
        ))
        .unwrap();
        assert_eq!(o.deadline, Some(Duration::from_millis(1500)));
        assert_eq!(o.timeout, Some(Duration::from_millis(200)));
        assert_eq!(o.max_retries, Some(0));
        assert_eq!(o.idempotent, Some(true));
        assert!(!o.resend_after_401());
        assert!(o.pacing_fail_fast());
        assert_eq!(CallOptions::from_json(Some(&o.to_json())).unwrap(), o);
    }

    #[test]
    fn bad_input_names_the_key() {
        for (text, names) in [
            (r#"{"deadline":5}"#, "\"deadline\""),
            (r#"{"deadline_ms":0}"#, "\"deadline_ms\""),
            (r#"{"deadline_ms":-1}"#, "\"deadline_ms\""),
            (r#"{"deadline_ms":1.5}"#, "\"deadline_ms\""),
            (r#"{"timeout_ms":"5"}"#, "\"timeout_ms\""),
            (r#"{"timeout_ms":3600001}"#, "\"timeout_ms\""),
            (r#"{"max_retries":101}"#, "\"max_retries\""),
            (r#"{"idempotent":"yes"}"#, "\"idempotent\""),
            (r#"{"resend_after_401":1}"#, "\"resend_after_401\""),
            (r#"{"pacing":"never"}"#, "\"pacing\""),
            (r#"{"pacing":true}"#, "\"pacing\""),
            ("[1]", "options_json"),
            ("not json", "options_json"),
        ] {
            let e = CallOptions::from_json(Some(text)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{text}");
            assert!(e.message.contains(names), "{text}: {}", e.message);
        }
    }
}
