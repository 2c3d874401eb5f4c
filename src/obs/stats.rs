//! Per-client counters for `oauth_client_stats`: relaxed atomics, the hot-path one sharded per
//! thread so that threads reading cached tokens never write the same cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::Error;

const SHARDS: usize = 16;

#[repr(align(64))]
#[derive(Default)]
struct Shard(AtomicU64);

/// A counter incremented from many threads at once, each on its own cache line.
#[derive(Default)]
pub struct Sharded([Shard; SHARDS]);

/// A shard for the calling thread without a thread-local (in a shared library every
/// thread-local access is a `__tls_get_addr` call): threads' stacks lie at least 64 KiB apart,
/// so the address of a local, in 64 KiB units, spreads them. Two threads may share a shard;
/// the counts stay exact (atomic adds), only the cache line is shared then.
#[inline]
fn shard_index() -> usize {
    let marker = 0u8;
    let addr = std::ptr::addr_of!(marker) as u64;
    // Thread stacks lie a whole stack size apart (8 MiB + a guard page with glibc): plain
    // address bits would put every thread on one shard. A multiplicative hash of the 64 KiB
    // region spreads them.
    ((addr >> 16).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

impl Sharded {
    #[inline]
    pub fn add(&self) {
        self.0[shard_index()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Why a request or token exchange was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    // in the order of `crate::obs::metrics::CAUSES` after "first"
    RateLimited,
    Server,
    Network,
    Unauthorized,
}

/// The last error a call of the client returned.
#[derive(Debug, Clone)]
pub struct LastError {
    pub code: u32,
    pub message: String,
    pub unix_ms: u64,
}

#[derive(Default)]
pub struct Stats {
    pub token_fetches: AtomicU64,
    pub token_fetch_failures: AtomicU64,
    pub token_cache_hits: Sharded,
    pub requests: AtomicU64,
    pub retries_429: AtomicU64,
    pub retries_5xx: AtomicU64,
    pub retries_network: AtomicU64,
    pub retries_401: AtomicU64,
    /// The families of `oauth_client_metrics` and the token events.
    pub metrics: crate::obs::metrics::Metrics,
    last_error: Mutex<Option<LastError>>,
}

impl Stats {
    pub fn retry(&self, cause: RetryCause) {
        let c = match cause {
            RetryCause::RateLimited => &self.retries_429,
            RetryCause::Server => &self.retries_5xx,
            RetryCause::Network => &self.retries_network,
            RetryCause::Unauthorized => &self.retries_401,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_error(&self, e: &Error) {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastError {
            code: e.kind.code(),
            message: format!("{}: {}", e.kind.name(), e.message),
            unix_ms,
        });
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
