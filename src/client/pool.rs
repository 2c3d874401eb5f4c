//! The token pool (`token_pool_size`, 1-20): more than one access token's API quota for one
//! integration.
//!
//! Genesys Cloud counts its API quota per access token. A pool holds up to N tokens, each in
//! its own slot with its own token manager (refresh, single-flight fetch, 401
//! compare-and-invalidate, shared-cache entry) and its own pacer (the window its replies
//! report). A call takes the slot with the most headroom (what is left of its window; a slot
//! whose window is unknown counts as full). Slots are filled lazily: a new one is opened only
//! when every open slot is below half of its window (where pacing starts spreading calls), and
//! never sooner than `token_pool_fill_interval_ms` after the previous one, so filling the pool
//! cannot trip the token endpoint's own limit. With one slot (the default) this is the client
//! as it always was.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::client::pacing::Pacer;
use crate::config::{Config, Credentials};
use crate::error::Result;
use crate::obs::stats::Stats;
use crate::token::TokenManager;

/// One pool token: its manager, its window, its use.
pub struct Slot {
    pub tokens: TokenManager,
    pub pacer: Pacer,
    /// API requests sent with this slot's tokens.
    pub requests: AtomicU64,
}

pub struct TokenPool {
    /// The first slot, made with the client (all there is of a pool of one).
    first: Slot,
    /// The other `token_pool_size - 1` places, filled when opened.
    more: Vec<OnceLock<Slot>>,
    /// Slots open, the first included (at least 1); only grows.
    open: AtomicUsize,
    /// When the last slot was opened (the client's creation for the first), under which lock
    /// a slot is opened, the credentials are rotated and the pool is shut down.
    last_open: Mutex<Instant>,
    /// Shut down (the client is closed): no slot is opened any more.
    closed: AtomicBool,
    cfg: Arc<Config>,
    stats: Arc<Stats>,
}

impl TokenPool {
    pub fn new(cfg: &Arc<Config>, stats: &Arc<Stats>) -> Result<TokenPool> {
        Ok(TokenPool {
            first: Slot::new(Arc::clone(cfg), stats)?,
            more: (1..cfg.token_pool_size.max(1))
                .map(|_| OnceLock::new())
                .collect(),
            open: AtomicUsize::new(1),
            last_open: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            cfg: Arc::clone(cfg),
            stats: Arc::clone(stats),
        })
    }

    /// The first slot: the one a pool of one is, and the one diagnostics describe.
    pub fn first(&self) -> &Slot {
        &self.first
    }

    /// Places in the pool (`token_pool_size`).
    fn size(&self) -> usize {
        1 + self.more.len()
    }

    /// The open slots, in order.
    pub fn open(&self) -> impl Iterator<Item = &Slot> {
        let n = self.open.load(Ordering::Acquire);
        std::iter::once(&self.first).chain(self.more[..n - 1].iter().filter_map(OnceLock::get))
    }

    /// The open slot with the most headroom (ties: the first), for a token handed out. Reads
    /// no lock (it is on `oauth_get_token`'s hot path); a pool of one is its first slot.
    pub fn best(&self) -> &Slot {
        if self.more.is_empty() || self.open.load(Ordering::Acquire) == 1 {
            return &self.first;
        }
        self.open()
            .enumerate()
            .max_by_key(|(i, s)| (headroom(s), std::cmp::Reverse(*i)))
            .map_or_else(|| self.first(), |(_, s)| s)
    }

    /// The slot for an API call: the one with the most headroom, or a newly opened one when
    /// all open slots are below half of their window and the fill interval has passed.
    pub fn for_call(&self) -> &Slot {
        let best = self.best();
        if self.open.load(Ordering::Acquire) < self.size() && is_low(best) {
            if let Some(s) = self.open_next() {
                return s;
            }
        }
        best
    }

    /// Opens the next slot if the fill interval allows; `None` otherwise, while another call
    /// is opening one (no call waits for that), after shutdown, or when the slot's token
    /// manager cannot be made.
    fn open_next(&self) -> Option<&Slot> {
        let mut last = match self.last_open.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let n = self.open.load(Ordering::Acquire);
        if n >= self.size()
            || self.closed.load(Ordering::Acquire)
            || last.elapsed() < self.cfg.token_pool_fill_interval
        {
            return None;
        }
        // The credentials now in use (after any rotation), this slot's shared-cache entry.
        let mut cfg = (*self.first().tokens.live().ok()?.provider.config()).clone();
        cfg.pool_slot = n;
        let slot = Slot::new(Arc::new(cfg), &self.stats).ok()?;
        let _ = self.more[n - 1].set(slot);
        *last = Instant::now();
        self.open.store(n + 1, Ordering::Release);
        drop(last); // no lock held while logging (the host's callback)
        crate::log_line!(
            crate::logging::Level::Info,
            "token pool: every token is past half of its API quota window: token {} of {} opened",
            n + 1,
            self.size()
        );
        self.more[n - 1].get()
    }

    /// Rotates the credentials of every open slot (slots opened later take them from the
    /// first).
    pub fn set_credentials(&self, creds: &Credentials) -> Result<()> {
        if self.more.is_empty() {
            return self.first.tokens.set_credentials(creds); // nothing to open: no lock
        }
        let _opening = self.last_open.lock().unwrap_or_else(|p| p.into_inner());
        self.open()
            .try_for_each(|s| s.tokens.set_credentials(creds))
    }

    /// Drops `token` wherever it is cached (compare-and-invalidate).
    pub fn invalidate_value(&self, token: &str) {
        for s in self.open() {
            s.tokens.invalidate_value(token);
        }
    }

    /// Stops every slot's refresh timer and fetch in flight (the client is closed).
    pub fn shutdown(&self) {
        let _opening = self.last_open.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::Release);
        for s in self.open() {
            s.tokens.shutdown();
        }
    }

    /// Calls that waited for their pacing slot, and how long in all (ms), over every slot.
    pub fn pacing_totals(&self) -> (u64, u64) {
        self.open().fold((0, 0), |(n, ms), s| {
            (
                n + s.pacer.waits.load(Ordering::Relaxed),
                ms + s.pacer.wait_ms.load(Ordering::Relaxed),
            )
        })
    }

    /// One entry per open slot, for `oauth_client_stats` (`null` with a pool of one).
    pub fn stats_json(&self) -> serde_json::Value {
        if self.more.is_empty() {
            return serde_json::Value::Null;
        }
        self.open()
            .map(|s| {
                serde_json::json!({
                    "expires_unix_ms": s.tokens.current().map(|t| t.expires_unix_ms),
                    "remaining": s.pacer.left().map(|(r, _)| r),
                    "requests": s.requests.load(Ordering::Relaxed),
                })
            })
            .collect()
    }
}

impl Slot {
    fn new(cfg: Arc<Config>, stats: &Arc<Stats>) -> Result<Slot> {
        Ok(Slot {
            tokens: TokenManager::new(cfg, Arc::clone(stats))?,
            pacer: Pacer::default(),
            requests: AtomicU64::new(0),
        })
    }
}

/// What is left of the slot's window (lock-free); an unknown window counts as full.
fn headroom(s: &Slot) -> u64 {
    s.pacer.remaining().unwrap_or(u64::MAX)
}

/// Below half of its window: where pacing starts spreading calls.
fn is_low(s: &Slot) -> bool {
    s.pacer
        .left()
        .is_some_and(|(remaining, allowed)| remaining <= allowed / 2)
}
