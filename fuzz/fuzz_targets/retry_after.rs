//! Retry-After parsing: never panics, and the backoff stays within its cap.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cxoauth::retry::parse_retry_after(text, SystemTime::now());
    }
    if let Some(&b) = data.first() {
        let d = cxoauth::retry::backoff(b as u32, Duration::from_millis(200), Duration::from_secs(10));
        assert!(d <= Duration::from_secs(10));
    }
});
