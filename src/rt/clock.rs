//! The clock token lifetimes are measured on: `CLOCK_BOOTTIME` on Linux, which keeps running
//! while the machine is suspended or the VM paused (`CLOCK_MONOTONIC`, behind `Instant` and
//! tokio's timers, stops then, so a token would look valid for as long as the pause lasted
//! after it expired). Elsewhere the monotonic clock.

use std::time::{Duration, Instant};

/// Nanoseconds on Linux clock `id` (`None` if the kernel lacks it).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn linux_clock_ns(id: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    (unsafe { libc::clock_gettime(id, &mut ts) } == 0)
        .then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Unix time in milliseconds from the kernel's coarse wall clock: as of its last tick (at
/// most a few milliseconds behind), read without the timer hardware (here ~6 ns against ~25 ns
/// for a precise clock in a VM). Like the boot clock, it keeps running across suspend and VM
/// pause; unlike it, an administrator or NTP may step it.
#[inline]
pub fn wall_coarse_ms() -> u64 {
    // CLOCK_REALTIME_COARSE: since Linux 2.6.32, in the vDSO.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(ns) = linux_clock_ns(libc::CLOCK_REALTIME_COARSE) {
        return ns / 1_000_000;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Nanoseconds on the boot clock (an arbitrary origin; only differences mean anything).
#[inline]
pub fn boot_now_ns() -> u64 {
    // CLOCK_BOOTTIME: since Linux 2.6.39, in the vDSO since 5.3.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(ns) = linux_clock_ns(libc::CLOCK_BOOTTIME) {
        return ns;
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// `d` from now on the boot clock.
pub fn boot_after(d: Duration) -> u64 {
    boot_now_ns().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64)
}

/// How long until boot-clock time `at` (zero if past).
pub fn boot_until(at: u64) -> Duration {
    Duration::from_nanos(at.saturating_sub(boot_now_ns()))
}

/// Unix time in milliseconds, `d` from now.
pub fn unix_ms_after(d: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_add(d).as_millis().min(u64::MAX as u128) as u64
}

/// `at + d`, saturating far in the future instead of overflowing (a server's or a user's
/// duration may be anything).
pub fn instant_after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Durations from a server (Retry-After: 99999999999999999999 saturates to u64::MAX
    /// seconds) or a user never overflow.
    #[test]
    fn huge_durations_saturate() {
        let huge = Duration::from_secs(u64::MAX);
        assert_eq!(unix_ms_after(huge), u64::MAX);
        assert_eq!(boot_after(huge), u64::MAX);
        let now = Instant::now();
        assert!(instant_after(now, huge) > now + Duration::from_secs(86_400 * 365));
        assert_eq!(
            instant_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
