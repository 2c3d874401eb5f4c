//! When a cached token is renewed before its time: proactive refresh at a fraction of its
//! lifetime (`refresh_at_fraction`, bounded from the end by `refresh_margin_s`), and idle
//! revocation (`token_idle_timeout_s`: Genesys revokes a token unused for longer than the
//! organisation's inactivity timeout, so one idle that long is treated as revoked and replaced
//! before the next call instead of sending into a 401).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::Config;
use crate::rt::clock::boot_now_ns;
use crate::token::effective_margin;

/// How long before expiry a token of `lifetime` is refreshed: the configured margin (at most
/// half the lifetime), or more when `refresh_at_fraction` of the lifetime comes first. The
/// refresh time, counted from the start, is `min(fraction × lifetime, lifetime − margin)`:
/// a long-lived token is renewed early, so an outage of the login service that starts at any
/// moment has the rest of the lifetime to end before callers notice. With the default 0.5
/// and a margin of at least half the lifetime (short test tokens) it is the same as before.
pub fn refresh_margin(cfg: &Config, lifetime: Duration) -> Duration {
    let by_fraction = lifetime.saturating_sub(lifetime.mul_f64(cfg.refresh_at_fraction));
    effective_margin(cfg.refresh_margin, lifetime).max(by_fraction)
}

/// When a token was last used (boot clock, ns), for [`idle_too_long`].
#[derive(Debug)]
pub struct LastUse(AtomicU64);

impl LastUse {
    /// Now: a token is "used" from when it is stored.
    pub fn now() -> LastUse {
        LastUse(AtomicU64::new(boot_now_ns()))
    }

    /// Marks a use (only when idle revocation is on: the store is not free under contention).
    #[inline]
    pub fn touch(&self, cfg: &Config) {
        if !cfg.token_idle_timeout.is_zero() {
            self.0.store(boot_now_ns(), Ordering::Relaxed);
        }
    }

    /// Unused for longer than `token_idle_timeout_s` (never when it is 0).
    #[inline]
    pub fn idle_too_long(&self, cfg: &Config) -> bool {
        let idle = cfg.token_idle_timeout;
        !idle.is_zero()
            && boot_now_ns().saturating_sub(self.0.load(Ordering::Relaxed)) > idle.as_nanos() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        Config::from_json(Some(&format!(
            r#"{{"token_url":"http://127.0.0.1:9/t","api_base":"http://127.0.0.1:9","client_id":"a","client_secret":"b"{extra}}}"#
        )))
        .unwrap()
    }

    #[test]
    fn refresh_at_fraction_bounded_by_the_margin() {
        let s = Duration::from_secs;
        let c = cfg("");
        // default 0.5: a day-long token is renewed half-way, not a minute before expiry
        assert_eq!(refresh_margin(&c, s(86_400)), s(43_200));
        assert_eq!(refresh_margin(&c, s(3600)), s(1800));
        // short tokens (margin clamped to half the lifetime): as before, half-way
        assert_eq!(refresh_margin(&c, s(4)), s(2));
        assert_eq!(refresh_margin(&c, s(100)), s(50));
        assert_eq!(refresh_margin(&c, s(300)), s(150));
        let c = cfg(r#","refresh_at_fraction":0.95,"refresh_margin_s":60"#);
        // 0.95 of an hour: renewed 180 s before expiry (more than the 60 s margin)
        assert_eq!(refresh_margin(&c, s(3600)), s(180));
        let c = cfg(r#","refresh_at_fraction":0.95,"refresh_margin_s":600"#);
        assert_eq!(refresh_margin(&c, s(3600)), s(600));
        let c = cfg(r#","refresh_at_fraction":0.4,"refresh_margin_s":0"#);
        assert_eq!(refresh_margin(&c, s(20)), s(12));
        for bad in ["0.05", "0.99", "\"half\"", "1"] {
            let e = Config::from_json(Some(&format!(
                r#"{{"token_url":"http://127.0.0.1:9/t","api_base":"http://127.0.0.1:9","client_id":"a","client_secret":"b","refresh_at_fraction":{bad}}}"#
            )))
            .unwrap_err();
            assert!(e.message.contains("refresh_at_fraction"), "{}", e.message);
        }
    }

    #[test]
    fn idle_only_when_configured() {
        let off = cfg("");
        let on = cfg(r#","token_idle_timeout_s":1"#);
        let u = LastUse(AtomicU64::new(boot_now_ns().saturating_sub(2_000_000_000)));
        assert!(!u.idle_too_long(&off));
        assert!(u.idle_too_long(&on));
        u.touch(&off);
        assert!(u.idle_too_long(&on));
        u.touch(&on);
        assert!(!u.idle_too_long(&on));
    }
}
