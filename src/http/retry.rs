//! Retry timing: `Retry-After` parsing (RFC 9110 section 10.2.3), exponential backoff with
//! full jitter, and the one retry [`Policy`] every path of the library runs.

use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now" (zero). Garbage, negative
/// numbers and empty values are `None` (the caller falls back to backoff). Huge delta-seconds
/// saturate rather than overflow.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        // "1*DIGIT"; anything longer than u64 saturates (it will exceed every cap anyway)
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Full-jitter exponential backoff: a uniformly random delay in `[0, min(max, base * 2^attempt)]`
/// (attempt counts from 0).
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let cap = base
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let cap_ms = cap.as_millis() as u64;
    Duration::from_millis(fastrand::u64(0..=cap_ms))
}

/// What one attempt came to, as the retry policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Final: success, or a failure no retry can cure.
    Final,
    /// Worth another attempt after a backoff (5xx, connection failures).
    Backoff,
    /// The server asked to wait this long (`Retry-After`).
    After(Duration),
}

/// The one retry policy of the library, for every path (API requests, token exchanges,
/// discovery), without any I/O: it is told how each attempt went and answers whether and how
/// long to wait before the next one. Drivers ([`drive`] here; the blocking and callback entry
/// points both run it) do the sending and the sleeping.
///
/// * at most `max_retries` retries;
/// * a `Retry-After` is waited for plus full jitter (a uniform random extra in the backoff
///   window of that attempt), so waiters do not fire in lockstep; one longer than
///   `max_retry_after` is not waited for;
/// * otherwise exponential backoff with full jitter: uniform in `[0, min(backoff_max,
///   backoff_base * 2^attempt)]`;
/// * never a wait that would end past the deadline.
#[derive(Debug, Clone)]
pub struct Policy {
    max_retries: u32,
    max_retry_after: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    deadline: Instant,
    retries: u32,
}

/// The policy's answer after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Return this attempt's outcome.
    Done,
    /// Wait this long, then send again.
    Wait(Duration),
}

impl Policy {
    pub fn new(cfg: &Config, deadline: Instant) -> Policy {
        Policy {
            max_retries: cfg.max_retries,
            max_retry_after: cfg.max_retry_after,
            backoff_base: cfg.backoff_base,
            backoff_max: cfg.backoff_max,
            deadline,
            retries: 0,
        }
    }

    /// This policy with another retry count (a call's `max_retries` option).
    pub fn with_max_retries(mut self, max_retries: u32) -> Policy {
        self.max_retries = max_retries;
        self
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Retries granted so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Decides after an attempt whose outcome was `verdict`, at time `now`.
    pub fn decide(&mut self, verdict: Verdict, now: Instant) -> Decision {
        let wait = match verdict {
            Verdict::Final => return Decision::Done,
            _ if self.retries >= self.max_retries => return Decision::Done,
            Verdict::After(d) if d > self.max_retry_after => return Decision::Done,
            Verdict::After(d) => d + self.jitter(),
            Verdict::Backoff => self.jitter(),
        };
        match now.checked_add(wait) {
            Some(ends) if ends < self.deadline => {
                self.retries += 1;
                Decision::Wait(wait)
            }
            _ => Decision::Done,
        }
    }

    /// Full jitter in this attempt's backoff window.
    fn jitter(&self) -> Duration {
        backoff(self.retries, self.backoff_base, self.backoff_max)
    }
}

/// One attempt's result for [`drive`]: the value to return if no retry follows, and its
/// verdict.
pub struct Attempt<T> {
    pub value: T,
    pub verdict: Verdict,
}

impl<T> Attempt<T> {
    pub fn done(value: T) -> Self {
        Attempt {
            value,
            verdict: Verdict::Final,
        }
    }
}

/// Runs `attempt` under `policy` until the policy says done; returns the last value.
pub async fn drive<T, F, Fut>(policy: &mut Policy, attempt: F) -> T
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Attempt<T>>,
{
    drive_observed(policy, |_, _, _| {}, attempt).await
}

/// [`drive`], telling `on_wait` (the outcome being retried, the wait, the retry's number from
/// 1) before each wait — for counters and log lines.
pub async fn drive_observed<T, F, Fut>(
    policy: &mut Policy,
    mut on_wait: impl FnMut(&T, Duration, u32),
    mut attempt: F,
) -> T
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Attempt<T>>,
{
    loop {
        let a = attempt(policy.retries()).await;
        match policy.decide(a.verdict, Instant::now()) {
            Decision::Done => return a.value,
            Decision::Wait(d) => {
                on_wait(&a.value, d, policy.retries());
                tokio::time::sleep(d).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-1", "1.5", "soon", "1s", "0x10"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        // obsolete RFC 850 and asctime forms are accepted too
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:02 GMT", now),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn backoff_bounds() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for attempt in 0..40 {
            for _ in 0..50 {
                let d = backoff(attempt, base, max);
                let cap = (100u64 << attempt.min(10)).min(1000);
                assert!(d <= Duration::from_millis(cap), "{attempt}: {d:?}");
            }
        }
    }

    fn policy(max_retries: u32, deadline_in: Duration) -> Policy {
        let cfg = crate::config::Config::from_json(Some(&format!(
            r#"{{"token_url":"http://127.0.0.1:9/t","api_base":"http://127.0.0.1:9","client_id":"a","client_secret":"b","max_retries":{max_retries},"max_retry_after_s":10,"backoff_base_ms":100,"backoff_max_ms":1000}}"#
        )))
        .unwrap();
        Policy::new(&cfg, Instant::now() + deadline_in)
    }

    #[test]
    fn policy_counts_retries_and_stops() {
        let mut p = policy(2, Duration::from_secs(60));
        let now = Instant::now();
        assert!(
            matches!(p.decide(Verdict::Backoff, now), Decision::Wait(d) if d <= Duration::from_millis(100))
        );
        assert!(
            matches!(p.decide(Verdict::Backoff, now), Decision::Wait(d) if d <= Duration::from_millis(200))
        );
        assert_eq!(p.decide(Verdict::Backoff, now), Decision::Done);
        assert_eq!(p.retries(), 2);
        let mut p = policy(2, Duration::from_secs(60));
        assert_eq!(p.decide(Verdict::Final, now), Decision::Done);
    }

    #[test]
    fn retry_after_is_waited_for_with_jitter_on_top() {
        let now = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut p = policy(3, Duration::from_secs(60));
            match p.decide(Verdict::After(Duration::from_secs(2)), now) {
                Decision::Wait(d) => {
                    assert!(
                        d >= Duration::from_secs(2) && d <= Duration::from_millis(2100),
                        "{d:?}"
                    );
                    seen.insert(d);
                }
                Decision::Done => panic!("should wait"),
            }
        }
        assert!(seen.len() > 1, "jitter spreads the waiters");
        // longer than max_retry_after (10 s): not waited for
        let mut p = policy(3, Duration::from_secs(60));
        assert_eq!(
            p.decide(Verdict::After(Duration::from_secs(11)), now),
            Decision::Done
        );
        // past the deadline: not waited for
        let mut p = policy(3, Duration::from_secs(1));
        assert_eq!(
            p.decide(Verdict::After(Duration::from_secs(2)), now),
            Decision::Done
        );
    }
}
