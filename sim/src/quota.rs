//! The API rate limit as Genesys Cloud counts it: a number of requests per fixed window, per
//! access token (`client.credentials.token.rate.per.minute`, about 300 a minute) or, selectable,
//! per OAuth client. Every API reply of a known token carries where the caller stands
//! (`inin-ratelimit-allowed`, `inin-ratelimit-count`, `inin-ratelimit-reset`); a request over
//! the limit is answered 429 with `Retry-After` (the seconds left in the window) and is not
//! counted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::http::Response;

/// What the limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitScope {
    /// Per access token, as Genesys counts it (the default).
    #[default]
    Token,
    /// Per OAuth client: every token of a client shares one window.
    Client,
}

impl RateLimitScope {
    pub fn parse(s: &str) -> Option<RateLimitScope> {
        match s {
            "token" => Some(RateLimitScope::Token),
            "client" => Some(RateLimitScope::Client),
            _ => None,
        }
    }
}

/// Drop finished windows once the table grows beyond this size.
const PRUNE_THRESHOLD: usize = 10_000;

/// The limit's settings and the windows in progress.
pub struct Quota {
    /// Requests allowed per window; 0: no limit (and the constant headers of before).
    pub limit: u64,
    pub window: Duration,
    pub scope: RateLimitScope,
    windows: HashMap<String, (Instant, u64)>,
}

/// Where one request stands in its window.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub allowed: u64,
    /// Requests counted in the window, this one included (when it was let through).
    pub count: u64,
    /// Time left in the window.
    pub left: Duration,
    /// Over the limit: answered 429, not counted.
    pub limited: bool,
}

impl Quota {
    pub fn new(limit: u64, window: Duration, scope: RateLimitScope) -> Quota {
        Quota {
            limit,
            window: window.max(Duration::from_millis(1)),
            scope,
            windows: HashMap::new(),
        }
    }

    /// Counts one API request of `token` (issued to `client_id`); `None` when there is no
    /// limit.
    pub fn take(&mut self, token: &str, client_id: &str, now: Instant) -> Option<Standing> {
        if self.limit == 0 {
            return None;
        }
        let key = match self.scope {
            RateLimitScope::Token => format!("t:{token}"),
            RateLimitScope::Client => format!("c:{client_id}"),
        };
        let window = self.window;
        if self.windows.len() >= PRUNE_THRESHOLD {
            self.windows.retain(|_, (start, _)| now < *start + window);
        }
        let (start, count) = self.windows.entry(key).or_insert((now, 0));
        if now >= *start + window {
            *start = now;
            *count = 0;
        }
        let limited = *count >= self.limit;
        if !limited {
            *count += 1;
        }
        Some(Standing {
            allowed: self.limit,
            count: *count,
            left: (*start + window).saturating_duration_since(now),
            limited,
        })
    }
}

impl Standing {
    /// `inin-ratelimit-reset`: whole seconds left in the window, rounded up.
    pub fn reset_s(&self) -> u64 {
        self.left.as_millis().div_ceil(1000) as u64
    }

    /// Adds the `inin-ratelimit-*` headers to `resp`.
    pub fn headers(&self, resp: Response) -> Response {
        resp.header("inin-ratelimit-count", &self.count.to_string())
            .header("inin-ratelimit-allowed", &self.allowed.to_string())
            .header("inin-ratelimit-reset", &self.reset_s().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_per_token_or_client() {
        let t0 = Instant::now();
        let mut q = Quota::new(2, Duration::from_secs(10), RateLimitScope::Token);
        assert!(!q.take("a", "c", t0).unwrap().limited);
        assert_eq!(q.take("a", "c", t0).unwrap().count, 2);
        let s = q.take("a", "c", t0 + Duration::from_millis(1500)).unwrap();
        assert!(s.limited);
        assert_eq!((s.count, s.reset_s()), (2, 9));
        // another token of the same client has its own window
        assert!(!q.take("b", "c", t0).unwrap().limited);
        // the window ends: a new one starts
        let s = q.take("a", "c", t0 + Duration::from_secs(10)).unwrap();
        assert_eq!((s.count, s.limited, s.reset_s()), (1, false, 10));

        let mut q = Quota::new(2, Duration::from_secs(10), RateLimitScope::Client);
        q.take("a", "c", t0);
        q.take("b", "c", t0);
        assert!(q.take("z", "c", t0).unwrap().limited);
        assert!(!q.take("z", "other", t0).unwrap().limited);
        assert!(Quota::new(0, Duration::from_secs(1), RateLimitScope::Token)
            .take("a", "c", t0)
            .is_none());
    }
}
