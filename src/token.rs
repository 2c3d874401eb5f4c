//! The token cache: lock-free reads, single-flight fetches, proactive refresh, and
//! compare-and-invalidate after a 401.
//!
//! * A fresh token (before `refresh_at`) is read with one atomic load, no lock.
//! * Between `refresh_at` and `expires_at` callers still get the cached token while exactly one
//!   background fetch runs.
//! * With no usable token, every caller waits for the same single fetch (a spawned task, so a
//!   caller that gives up does not cancel it for the others).
//! * After a 401 the request path invalidates the token *it used*, by generation: a hundred
//!   concurrent 401s for one token cause one refetch, and a 401 for an already replaced token
//!   causes none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use reqwest::header::HeaderValue;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{Provider, TokenGrant};
use crate::runtime;
use crate::secret::{self, SecretBuf};
use crate::transport::Transport;

/// A cached access token. Its bytes are zeroized when the last reference goes.
pub struct CachedToken {
    pub value: Zeroizing<String>,
    /// Ready-made `Authorization: Bearer ...` value (marked sensitive).
    pub bearer: HeaderValue,
    /// Increases with every fetched token; used by [`TokenManager::invalidate`].
    pub generation: u64,
    pub refresh_at: Instant,
    pub expires_at: Instant,
    /// `refresh_at` on the coarse clock (see [`coarse_now_ns`]), for the lock-free read path.
    refresh_at_coarse_ns: u64,
}

/// A monotonic clock that is cheaper to read than `Instant::now()` (a few ns on Linux:
/// `CLOCK_MONOTONIC_COARSE`, a few milliseconds of resolution). Only the cached-token read path
/// uses it, with a safety margin larger than its resolution.
pub fn coarse_now_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer; CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Margin kept on the coarse clock: more than its resolution (jiffies, at most 10 ms).
const COARSE_SLACK_NS: u64 = 20_000_000;

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("value", &"<redacted>")
            .field("generation", &self.generation)
            .field("refresh_at", &self.refresh_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The refresh margin actually used for a token of `lifetime`: the configured margin, but never
/// more than half the lifetime (a 10 s token with a 60 s margin would otherwise never be
/// cached).
pub fn effective_margin(configured: Duration, lifetime: Duration) -> Duration {
    configured.min(lifetime / 2)
}

type FetchResult = Option<Result<Arc<CachedToken>>>;

struct Inner {
    cfg: Arc<Config>,
    slot: ArcSwapOption<CachedToken>,
    generation: AtomicU64,
    fetches: AtomicU64,
    /// Sticky: once `true` (the client is closed) no fetch starts, and a fetch that was spawned
    /// but not yet polled ends at its first poll (`send_replace` stores the value even when no
    /// task is subscribed yet).
    shutdown: watch::Sender<bool>,
    /// What only exists in this process (see [`Live`]); rebuilt in a forked child.
    live: ArcSwap<Live>,
}

/// The per-process part of a client: its connection pool and the state of token fetches,
/// tagged with the fork epoch it was built in. A forked child inherits connections registered
/// with the parent's runtime, maybe a fetch in flight on a parent thread that does not exist in
/// the child, maybe a lock held by such a thread: the first call in the child sees another
/// epoch and replaces all of it (the cached token and what discovery learnt are kept), while
/// the parent goes on using its own.
pub struct Live {
    epoch: u64,
    pub transport: Arc<Transport>,
    pub provider: Provider,
    inflight: Mutex<Option<watch::Receiver<FetchResult>>>,
    /// The last failed fetch, repeated to callers for `backoff_base` instead of a new request:
    /// a misconfigured client under load must not hammer the token endpoint.
    last_failure: Mutex<Option<(Instant, Error)>>,
}

impl Live {
    fn new(cfg: &Arc<Config>, provider: Provider) -> Result<Live> {
        Ok(Live {
            epoch: crate::process::epoch(),
            transport: Arc::new(Transport::new(cfg)?),
            provider,
            inflight: Mutex::new(None),
            last_failure: Mutex::new(None),
        })
    }
}

#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl TokenManager {
    pub fn new(cfg: Arc<Config>) -> Result<Self> {
        let live = Live::new(&cfg, Provider::new(Arc::clone(&cfg)))?;
        Ok(TokenManager {
            inner: Arc::new(Inner {
                cfg,
                slot: ArcSwapOption::const_empty(),
                generation: AtomicU64::new(0),
                fetches: AtomicU64::new(0),
                shutdown: watch::channel(false).0,
                live: ArcSwap::from_pointee(live),
            }),
        })
    }

    /// This process's connection pool and fetch state, rebuilt first if this is a forked child.
    pub fn live(&self) -> Result<Arc<Live>> {
        let live = self.inner.live.load_full();
        let epoch = crate::process::epoch();
        if live.epoch == epoch {
            return Ok(live);
        }
        let fresh = Arc::new(Live::new(&self.inner.cfg, live.provider.fork_copy())?);
        // Several child threads may get here at once: the first store wins, the others use it.
        let prev = self.inner.live.compare_and_swap(&live, Arc::clone(&fresh));
        if Arc::ptr_eq(&*prev, &live) {
            Ok(fresh)
        } else {
            Ok(self.inner.live.load_full())
        }
    }

    /// Runs `f` on the cached token if it is fresh, without taking a reference count or a
    /// lock: one atomic load (arc-swap's guard) and a coarse clock read. The hot path of
    /// `oauth_get_token`.
    pub fn with_fresh<R>(&self, f: impl FnOnce(&CachedToken) -> R) -> Option<R> {
        let guard = self.inner.slot.load();
        let t = guard.as_ref()?;
        (coarse_now_ns() < t.refresh_at_coarse_ns).then(|| f(t))
    }

    /// The cached token if it is fresh (before its refresh time). Lock-free.
    pub fn fresh(&self) -> Option<Arc<CachedToken>> {
        let t = self.inner.slot.load_full()?;
        (Instant::now() < t.refresh_at).then_some(t)
    }

    /// The cached token if it is still valid; inside the refresh margin this also starts the
    /// one background refresh. No waiting.
    pub fn usable(&self) -> Result<Option<Arc<CachedToken>>> {
        let Some(t) = self.inner.slot.load_full() else {
            return Ok(None);
        };
        let now = Instant::now();
        if now < t.refresh_at {
            return Ok(Some(t));
        }
        if now < t.expires_at {
            self.start_fetch()?;
            return Ok(Some(t));
        }
        Ok(None)
    }

    /// A valid token, fetching one if needed (shared with every concurrent caller).
    pub async fn get(&self) -> Result<Arc<CachedToken>> {
        if let Some(t) = self.usable()? {
            return Ok(t);
        }
        let mut rx = self.start_fetch()?;
        let result = rx.wait_for(Option::is_some).await.map_err(|_| {
            Error::new(ErrorKind::Internal, "token fetch task ended without result")
        })?;
        result.clone().expect("wait_for guarantees Some")
    }

    /// Drops the cached token if it is still the one with `generation` (the token a request
    /// just got a 401 with).
    pub fn invalidate(&self, generation: u64) {
        let slot = &self.inner.slot;
        let current = slot.load();
        if current.as_ref().is_some_and(|t| t.generation == generation) {
            // Compare-and-swap so a token stored meanwhile is not thrown away.
            let _ = slot.compare_and_swap(&*current, None);
        }
    }

    /// How many token fetches this manager started (for tests and diagnostics).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Stops the fetch in flight, even one spawned but not yet polled, and every later one
    /// (the client is closed). Sticky.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Returns the receiver of the fetch in flight, starting one if there is none.
    fn start_fetch(&self) -> Result<watch::Receiver<FetchResult>> {
        if *self.inner.shutdown.borrow() {
            return Err(Error::new(ErrorKind::Closed, "client is closed"));
        }
        let live = self.live()?;
        let inner = &self.inner;
        let mut slot = live.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = slot.as_ref() {
            // A task that died (panicked) leaves a closed channel: start a new fetch then.
            if rx.has_changed().is_ok() {
                return Ok(rx.clone());
            }
        }
        // Re-check under the lock: a fetch that just finished stored its token before it cleared
        // the in-flight slot.
        if let Some(t) = self.fresh() {
            return Ok(watch::channel(Some(Ok(t))).1);
        }
        if let Some((at, err)) = &*live.last_failure.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < inner.cfg.backoff_base {
                return Ok(watch::channel(Some(Err(err.clone()))).1);
            }
        }
        let handle = runtime::handle()?;
        let (tx, rx) = watch::channel(None);
        *slot = Some(rx.clone());
        drop(slot);

        inner.fetches.fetch_add(1, Ordering::Relaxed);
        let task = Arc::clone(inner);
        let live = Arc::clone(&live);
        handle.spawn(async move {
            let mut shutdown = task.shutdown.subscribe();
            let started = Instant::now();
            let deadline = started + task.cfg.deadline;
            let result = tokio::select! {
                biased;
                _ = shutdown.wait_for(|closed| *closed) => {
                    Err(Error::new(ErrorKind::Cancelled, "client closed during token fetch"))
                }
                r = live.provider.fetch(&live.transport, deadline) => r,
            };
            let result = result.and_then(|grant| task.store(grant, started));
            *live.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = match &result {
                Err(e) if e.kind != ErrorKind::Cancelled => Some((Instant::now(), e.clone())),
                _ => None,
            };
            *live.inflight.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let _ = tx.send(Some(result));
        });
        Ok(rx)
    }
}

impl Inner {
    fn store(&self, grant: TokenGrant, requested_at: Instant) -> Result<Arc<CachedToken>> {
        let mut buf = SecretBuf::with_capacity(7 + grant.access_token.len());
        buf.push_str("Bearer ");
        buf.push_str(&grant.access_token);
        let bearer = secret::header_value(buf)?;
        // Lifetimes count from when the request was sent: never later than the server's clock.
        let expires_at = requested_at + grant.expires_in;
        let refresh_at = expires_at - effective_margin(self.cfg.refresh_margin, grant.expires_in);
        let until_refresh = refresh_at
            .saturating_duration_since(Instant::now())
            .as_nanos() as u64;
        let refresh_at_coarse_ns =
            (coarse_now_ns() + until_refresh).saturating_sub(COARSE_SLACK_NS);
        let token = Arc::new(CachedToken {
            value: grant.access_token,
            bearer,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            refresh_at,
            expires_at,
            refresh_at_coarse_ns,
        });
        self.slot.store(Some(Arc::clone(&token)));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shutdown before any fetch task has subscribed is still seen by a task that starts
    /// later (a plain `watch::Sender::send` without receivers would drop it), and no new fetch
    /// starts.
    #[test]
    fn shutdown_is_sticky_without_subscribers() {
        let cfg = Arc::new(
            Config::from_json(Some(
                r#"{"token_url":"http://127.0.0.1:9/oauth/token","api_base":"http://127.0.0.1:9","client_id":"a","client_secret":"b"}"#,
            ))
            .unwrap(),
        );
        let m = TokenManager::new(cfg).unwrap();
        m.shutdown();
        assert!(*m.inner.shutdown.subscribe().borrow());
        assert_eq!(m.start_fetch().unwrap_err().kind, ErrorKind::Closed);
        assert_eq!(m.fetch_count(), 0);
    }

    #[test]
    fn margin_is_clamped_for_short_lifetimes() {
        let m = Duration::from_secs(60);
        assert_eq!(effective_margin(m, Duration::from_secs(86400)), m);
        assert_eq!(effective_margin(m, Duration::from_secs(300)), m);
        assert_eq!(
            effective_margin(m, Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        assert_eq!(
            effective_margin(Duration::ZERO, Duration::from_secs(10)),
            Duration::ZERO
        );
    }
}
