//! Shared token caches: one token for every process on a host (`file://`) or in a fleet
//! (`redis://`, `rediss://`), with single-flight across processes.
//!
//! The in-process cache stays in front (a cached `oauth_get_token` never touches the shared
//! cache); the shared one is consulted by the token fetch: when the process has no usable
//! token, when its token is due for refresh, and after a 401 (compare-and-invalidate, so a
//! rejected token is refetched once for the whole host or fleet). Entries are sealed
//! ([`seal`]) under a key derived from the client's secrets; their time to live is the
//! token's lifetime minus the refresh margin, so the shared store is the clock.
//!
//! Faults never fail a call: a corrupt, foreign, expired or undecryptable entry is ignored
//! and replaced; an unwritable directory or an unreachable Redis falls back to the process
//! cache, is logged, and is tried again after a cool-down (not on every call): 1 s after the
//! first failure, doubling with each failure in a row up to [`COOL_DOWN`], so a restarted
//! Redis is used again within about a second while one that stays down costs a try every 30 s.

mod file;
mod identity;
mod redis_cache;
pub mod seal;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::digest;

use crate::config::{CacheSetting, Config, Grant};
use crate::error::Result;
use crate::log_line;
use crate::logging::Level;
use crate::rt::clock::{boot_after, boot_now_ns};
pub use seal::Entry;
use seal::Sealer;

/// After backend failures in a row, the process cache alone is used for at most this long.
pub const COOL_DOWN: Duration = Duration::from_secs(30);
/// The cool-down after the first failure (doubled with each further one).
pub const FIRST_COOL_DOWN: Duration = Duration::from_secs(1);

/// The cool-down after `failures` failures in a row (1: the first).
pub fn cool_down(failures: u32) -> Duration {
    FIRST_COOL_DOWN
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(COOL_DOWN)
}
/// What a waiter for the cross-process lock got.
pub enum Acquired {
    /// Another process stored a token meanwhile.
    Entry(Entry),
    /// This process holds the lock: fetch, store, then release it.
    Lock(Lock),
    /// Another holder was still busy when the wait bound came (contention, not a fault): fetch
    /// without the lock and store under compare-and-set against what was seen.
    Busy(Seen),
    /// The backend did not answer (it is now cooling down): fetch without it.
    Unavailable,
}

/// What a reader last saw under the entry's name: a store after fetching without the lock
/// only replaces that (compare-and-set), so a token another process stored meanwhile stays.
pub enum Seen {
    /// Store whatever is there (the file backend, or the caller holds the lock).
    Any,
    /// Nothing.
    Absent,
    /// A value too large or not text (corrupt): replaced.
    Corrupt,
    /// This text.
    Text(zeroize::Zeroizing<String>),
}

/// The cross-process lock of one entry (released by [`SharedCache::release`] or on drop).
pub enum Lock {
    File(file::FileLock),
    Redis(redis_cache::Lease),
}

enum Backend {
    File(file::FileCache),
    Redis(Arc<redis_cache::RedisCache>),
}

/// A client's shared cache entry: where, under which name, sealed with which key.
pub struct SharedCache {
    backend: Backend,
    sealer: Arc<Sealer>,
    setting: CacheSetting,
    /// Boot-clock time until which the backend is not used (after a failure).
    down_until: AtomicU64,
    /// The longest server-imposed wait taken from the cache (`max_retry_after_s`).
    max_wait: Duration,
    /// The client's counters and events (operations, down/up).
    stats: Arc<crate::obs::stats::Stats>,
    /// The last operation failed (for the down/up events).
    down: std::sync::atomic::AtomicBool,
    /// Failures in a row (for the cool-down).
    failures: std::sync::atomic::AtomicU32,
}

/// The hashed name of a client's entry: token endpoint (or issuer), client id, grant and access
/// key id, scope; without a client secret, the fingerprint of the public key the client
/// authenticates with ([`identity`]); past the first, the token's place in the client's pool
/// (processes with the same configuration share each pool token). Never the secret, never a key.
pub fn cache_key(cfg: &Config) -> String {
    let endpoint = cfg
        .token_url
        .as_ref()
        .or(cfg.issuer.as_ref())
        .map(|u| u.as_str().to_string())
        .unwrap_or_default();
    let grant = match &cfg.grant {
        Grant::ClientCredentials => "client_credentials".to_string(),
        Grant::Password { username, .. } => format!("password:{username}"),
        Grant::AccessKeyLegacy { key_id, .. } => format!("access_key:{key_id}"),
    };
    let mut material = format!(
        "cxoauth-v1\0{endpoint}\0{}\0{grant}\0{}{}",
        cfg.client_id,
        cfg.scope.as_deref().unwrap_or(""),
        identity::name_part(cfg)
    );
    if cfg.pool_slot > 0 {
        material.push_str(&format!("\0pool-slot:{}", cfg.pool_slot));
    }
    let d = digest::digest(&digest::SHA256, material.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl SharedCache {
    /// The shared cache `cfg` asks for, or `None` for the process cache only.
    pub fn new(cfg: &Config, stats: &Arc<crate::obs::stats::Stats>) -> Result<Option<SharedCache>> {
        let setting = cfg.token_cache.clone();
        let key = cache_key(cfg);
        let name = format!("{}-{key}", cfg.token_cache_prefix);
        let backend = match &setting {
            CacheSetting::Memory => return Ok(None),
            CacheSetting::File(dir) => Backend::File(file::FileCache::new(dir, &name)),
            CacheSetting::Redis(url) => Backend::Redis(Arc::new(redis_cache::RedisCache::new(
                url,
                &cfg.token_cache_prefix,
                &key,
                cfg,
            )?)),
        };
        Ok(Some(SharedCache {
            backend,
            sealer: Arc::new(Sealer::new(&identity::sealing_inputs(cfg), &key)),
            setting,
            down_until: AtomicU64::new(0),
            max_wait: cfg.max_retry_after,
            stats: Arc::clone(stats),
            down: Default::default(),
            failures: Default::default(),
        }))
    }

    fn usable(&self) -> bool {
        boot_now_ns() >= self.down_until.load(Ordering::Relaxed)
    }

    /// An operation succeeded: counted; after a failure, `SHARED_CACHE_UP`.
    fn ok(&self) {
        let redis = matches!(self.backend, Backend::Redis(_));
        self.stats.metrics.shared_cache_op(redis, true);
        self.failures.store(0, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            self.stats
                .metrics
                .events
                .emit(crate::obs::events::Event::new(
                    crate::obs::events::EventKind::SharedCacheUp,
                    format!("token cache {} is answering again", self.setting.describe()),
                ));
        }
    }

    fn failed(&self, what: &str, e: &str) {
        let redis = matches!(self.backend, Backend::Redis(_));
        self.stats.metrics.shared_cache_op(redis, false);
        if !self.down.swap(true, Ordering::Relaxed) {
            self.stats
                .metrics
                .events
                .emit(crate::obs::events::Event::new(
                    crate::obs::events::EventKind::SharedCacheDown,
                    format!(
                        "token cache {} unavailable ({what}): using the process cache",
                        self.setting.describe()
                    ),
                ));
        }
        let wait = cool_down(
            self.failures
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1),
        );
        self.down_until.store(boot_after(wait), Ordering::Relaxed);
        log_line!(
            Level::Warn,
            "token cache {} unavailable ({what}: {e}): using the process cache, trying again in {} s",
            self.setting.describe(),
            wait.as_secs()
        );
    }

    /// A stored token that is still fresh (before its refresh time), if any.
    pub async fn load(&self) -> Option<Entry> {
        if !self.usable() {
            return None;
        }
        let text = match &self.backend {
            Backend::File(f) => f.load().await,
            Backend::Redis(r) => r.load().await.map(|(t, _)| t),
        };
        if text.is_ok() {
            self.ok();
        }
        match text {
            Ok(Some(t)) => self.open_fresh(&t),
            Ok(None) => None,
            Err(e) => {
                self.failed("read", &e);
                None
            }
        }
    }

    fn open_fresh(&self, text: &str) -> Option<Entry> {
        let e = self.sealer.open(text)?;
        (e.stale_unix_ms > crate::rt::clock::unix_ms_after(Duration::ZERO)).then_some(e)
    }

    /// Waits for the cross-process lock of the entry, or for another process to store a
    /// token that `accept` takes (not the one being replaced), until `wait_until`.
    pub async fn acquire(&self, wait_until: Instant, accept: impl Fn(&Entry) -> bool) -> Acquired {
        if !self.usable() {
            return Acquired::Unavailable;
        }
        let fresh = |t: &str| self.open_fresh(t).filter(|e| accept(e));
        let r = match &self.backend {
            Backend::File(f) => f.acquire(wait_until, fresh).await,
            Backend::Redis(r) => r.acquire(wait_until, fresh).await,
        };
        match r {
            Ok(a) => {
                self.ok();
                a
            }
            Err(e) => {
                self.failed("lock", &e);
                Acquired::Unavailable
            }
        }
    }

    /// Stores `entry` (fresh until `entry.stale_unix_ms`), waking waiters; only over what
    /// `seen` describes (see [`Seen`]).
    pub async fn store(&self, entry: &Entry, seen: &Seen) {
        if !self.usable() {
            return;
        }
        let Some(text) = self.sealer.seal(entry) else {
            return;
        };
        let ttl = Duration::from_millis(
            entry
                .stale_unix_ms
                .saturating_sub(crate::rt::clock::unix_ms_after(Duration::ZERO)),
        );
        if ttl.is_zero() {
            return;
        }
        let r = match &self.backend {
            Backend::File(f) => f.store(&text).await,
            Backend::Redis(r) => r.store(&text, ttl, seen).await,
        };
        match r {
            Ok(()) => self.ok(),
            Err(e) => self.failed("write", &e),
        }
    }

    /// Releases a lock from [`SharedCache::acquire`].
    pub async fn release(&self, lock: Lock) {
        match lock {
            Lock::File(l) => drop(l),
            Lock::Redis(l) => l.release().await,
        }
    }

    /// Drops the stored entry if it still holds `token` (a 401 saw it rejected). The file lock
    /// is waited for until `wait_until` at most.
    pub async fn invalidate(&self, token: &str, wait_until: Instant) {
        if !self.usable() {
            return;
        }
        let sealer = Arc::clone(&self.sealer);
        let token = zeroize::Zeroizing::new(token.to_string());
        let matches = move |text: &str| {
            sealer
                .open(text)
                .is_some_and(|e| e.token.as_str() == token.as_str())
        };
        let r = match &self.backend {
            Backend::File(f) => f.invalidate(matches, wait_until).await,
            Backend::Redis(r) => r.invalidate(matches).await,
        };
        match r {
            Ok(()) => self.ok(),
            Err(e) => self.failed("invalidate", &e),
        }
    }

    /// Shares the token endpoint's Retry-After window (Unix ms; capped at `max_retry_after_s`
    /// from now) with other processes, sealed.
    pub async fn note_rate_limit(&self, until_unix_ms: u64) {
        if !self.usable() {
            return;
        }
        let now = crate::rt::clock::unix_ms_after(Duration::ZERO);
        let cap = crate::rt::clock::unix_ms_after(self.max_wait);
        let until = until_unix_ms.min(cap);
        let Some(text) = self.sealer.seal_number(until) else {
            return;
        };
        let ttl = Duration::from_millis(until.saturating_sub(now).max(1));
        let r = match &self.backend {
            Backend::File(f) => f.note_rate_limit(&text).await,
            Backend::Redis(r) => r.note_rate_limit(&text, ttl).await,
        };
        match r {
            Ok(()) => self.ok(),
            Err(e) => self.failed("write", &e),
        }
    }

    /// Until when another process saw the token endpoint rate limit (Unix ms), if later than
    /// now: only a window sealed with this client's key counts, and none longer than
    /// `max_retry_after_s` from now.
    pub async fn rate_limited_until(&self) -> Option<u64> {
        if !self.usable() {
            return None;
        }
        let r = match &self.backend {
            Backend::File(f) => f.rate_limited_until().await,
            Backend::Redis(r) => r.rate_limited_until().await,
        };
        let now = crate::rt::clock::unix_ms_after(Duration::ZERO);
        let cap = crate::rt::clock::unix_ms_after(self.max_wait);
        if r.is_ok() {
            self.ok();
        }
        match r {
            Ok(Some(text)) => self
                .sealer
                .open_number(&text)
                .map(|t| t.min(cap))
                .filter(|&t| t > now),
            Ok(None) => None,
            Err(e) => {
                self.failed("read", &e);
                None
            }
        }
    }
}
