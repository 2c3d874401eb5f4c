//! Retry timing: `Retry-After` parsing (RFC 9110 section 10.2.3) and exponential backoff with
//! full jitter.

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

/// How long to wait before retry number `attempt` (from 0), or `None` when no retry is allowed:
/// retries used up, a `Retry-After` above `max_retry_after`, or the wait would end past the
/// deadline.
pub fn retry_wait(
    cfg: &Config,
    attempt: u32,
    retry_after: Option<Duration>,
    deadline: Instant,
) -> Option<Duration> {
    if attempt >= cfg.max_retries {
        return None;
    }
    let wait = match retry_after {
        Some(d) if d > cfg.max_retry_after => return None,
        Some(d) => d,
        None => backoff(attempt, cfg.backoff_base, cfg.backoff_max),
    };
    let ends = Instant::now().checked_add(wait)?;
    (ends < deadline).then_some(wait)
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
}
