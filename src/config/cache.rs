//! The `token_cache` and `token_cache_prefix` settings, parsed with the rest of the
//! configuration (the caches themselves are in [`crate::token::cache`]).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Default key namespace (`token_cache_prefix`).
pub const DEFAULT_PREFIX: &str = "cxoauth";

/// The `token_cache` setting.
#[derive(Clone, PartialEq, Eq)]
pub enum CacheSetting {
    Memory,
    File(PathBuf),
    /// The URL (it may hold a password: never printed, wiped when dropped).
    Redis(zeroize::Zeroizing<String>),
}

impl std::fmt::Debug for CacheSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl CacheSetting {
    /// Parses `token_cache`: `memory`, `file:///absolute/dir`, `redis://...`, `rediss://...`.
    pub fn parse(text: &str) -> Result<CacheSetting> {
        let t = text.trim();
        if t.is_empty() || t == "memory" {
            return Ok(CacheSetting::Memory);
        }
        if let Some(path) = t.strip_prefix("file://") {
            let p = PathBuf::from(path);
            if !p.is_absolute() {
                return Err(Error::config(
                    "config key \"token_cache\": file:// needs an absolute directory (file:///var/cache/cxoauth)",
                ));
            }
            return Ok(CacheSetting::File(p));
        }
        if t.starts_with("redis://") || t.starts_with("rediss://") {
            let u = url::Url::parse(t).map_err(|_| {
                Error::config("config key \"token_cache\": not a valid redis:// URL")
            })?;
            if u.host_str().is_none_or(str::is_empty) {
                return Err(Error::config(
                    "config key \"token_cache\": the redis URL has no host",
                ));
            }
            let loopback = super::is_loopback(&u);
            if u.scheme() == "redis" && u.password().is_some() && !loopback {
                return Err(Error::config(
                    "config key \"token_cache\": a Redis password is never sent in clear to another host: use rediss:// (TLS)",
                ));
            }
            return Ok(CacheSetting::Redis(zeroize::Zeroizing::new(t.to_string())));
        }
        Err(Error::config(
            "config key \"token_cache\" must be \"memory\", \"file:///dir\", \"redis://...\" or \"rediss://...\"",
        ))
    }

    /// For messages: the setting without any password.
    pub fn describe(&self) -> String {
        match self {
            CacheSetting::Memory => "memory".into(),
            CacheSetting::File(p) => format!("file://{}", p.display()),
            CacheSetting::Redis(u) => match url::Url::parse(u.as_str()) {
                Ok(u) => format!(
                    "{}://{}:{}",
                    u.scheme(),
                    u.host_str().unwrap_or("?"),
                    u.port().unwrap_or(6379)
                ),
                Err(_) => "redis".into(),
            },
        }
    }
}

/// Checks a `token_cache_prefix`.
pub fn check_prefix(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "config key \"token_cache_prefix\" must be 1 to 64 of A-Z a-z 0-9 - _ . :",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_password_goes_in_clear_only_to_loopback() {
        for ok in [
            "redis://:pw@127.0.0.1:6379",
            "redis://:pw@localhost",
            "redis://:pw@[::1]:6379",
            "rediss://:pw@cache.example.com",
            "redis://cache.example.com",
        ] {
            assert!(CacheSetting::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "redis://:pw@cache.example.com",
            "redis://u:pw@10.1.2.3:6379",
        ] {
            let e = CacheSetting::parse(bad).unwrap_err();
            assert!(e.message.contains("rediss://"), "{bad}: {}", e.message);
            assert!(!e.message.contains("pw@"));
        }
    }

    #[test]
    fn debug_never_shows_the_redis_password() {
        let s = CacheSetting::parse("rediss://:Sekr1tPw@cache.example.com:6380").unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("Sekr1tPw"), "{d}");
        assert!(d.contains("cache.example.com:6380"), "{d}");
    }
}
