//! The token cache: lock-free reads, single-flight fetches, proactive refresh on a timer,
//! remembered failures with backoff, and compare-and-invalidate after a 401.
//!
//! * A valid token is read with one atomic load and one clock read, no lock, until shortly
//!   before it expires ([`EXPIRY_GUARD`]) — also while a refresh runs or keeps failing.
//! * Each token arms a timer on the runtime at `refresh_at` (see `token_timing.rs`: a
//!   fraction of the lifetime, or expiry − margin if that comes first; fired up to a
//!   tenth of the margin early, at random, so a fleet does not refresh in lockstep): an idle
//!   client keeps a fresh token and no reader waits for a refresh. A failed refresh is tried
//!   again after the failure's backoff window, for as long as the token is valid.
//! * With no usable token, every caller waits for the same single fetch (a spawned task, so a
//!   caller that gives up does not cancel it for the others).
//! * A failed fetch is remembered for a window and handed to callers at once instead of a new
//!   request ([`FailureState`]): rejected credentials (`invalid_client`, `invalid_grant`,
//!   `unauthorized_client`) 1 s doubling to 60 s; other failures `backoff_base_ms` doubling to
//!   `backoff_max_ms`; both with full jitter; a success resets it. A `Retry-After` from the
//!   token endpoint is the window itself: no token request is sent before it ends; callers
//!   wait for it when their deadline (and `max_retry_after_s`) allow, else fail at once as
//!   rate limited.
//! * Lifetimes are measured on the boot clock ([`crate::rt::clock`]), which keeps running across
//!   suspend and VM pause.
//! * After a 401 the request path invalidates the token *it used*, by generation (or a host by
//!   value): a hundred concurrent 401s for one token cause one refetch, and a 401 for an
//!   already replaced token causes none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::token::hot::{HotMeta, HotToken};

use arc_swap::{ArcSwap, ArcSwapOption};
use reqwest::header::HeaderValue;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::config::{Config, Credentials};
use crate::error::{Error, ErrorKind, Result};
use crate::http::retry::backoff;
use crate::http::transport::Transport;
use crate::log_line;
use crate::logging::Level;
use crate::obs::stats::Stats;
use crate::rt::clock::{boot_after, boot_now_ns, boot_until, unix_ms_after};
use crate::rt::runtime;
use crate::secret::{self, SecretBuf};
use crate::token::cache::{Acquired, Entry, Seen, SharedCache};
use crate::token::providers::{Provider, TokenGrant};

/// A token is not handed out during the last part of its life: the lesser of 5 s and a tenth
/// of its lifetime (it would expire on the way).
pub const EXPIRY_GUARD: Duration = Duration::from_secs(5);

/// A cached access token. Its bytes are zeroized when the last reference goes.
pub struct CachedToken {
    pub value: Zeroizing<String>,
    /// Ready-made `Authorization: Bearer ...` value (marked sensitive, wiped when dropped).
    pub bearer: HeaderValue,
    /// Increases with every fetched token; used by [`TokenManager::invalidate`].
    pub generation: u64,
    pub refresh_at: Instant,
    pub expires_at: Instant,
    /// Expiry as Unix time in ms: the server's `expires_in` counted from when the reply
    /// arrived (not reduced by the margin).
    pub expires_unix_ms: u64,
    /// The same instants on the boot clock, which the checks use.
    refresh_boot_ns: u64,
    usable_until_boot_ns: u64,
    /// `usable_until` on the coarse wall clock, [`QUICK_SLACK`] earlier: what the hot path
    /// checks (see [`TokenManager::copy_usable`]). That clock is cheap (a quarter of the boot
    /// clock's cost in a VM) and also runs across suspend; a "no" from it sends the caller down
    /// the slow path, which asks the boot clock. A "yes" is right unless the wall clock was
    /// stepped back meanwhile, while the refresh timer (monotonic) normally replaces the token
    /// well before it expires.
    quick_until_wall_ms: u64,
    /// Idle revocation (`token_idle_timeout_s`, see [`super::timing`]).
    last_use: super::timing::LastUse,
}

/// How much earlier than the boot-clock answer the quick check gives up: more than the coarse
/// clock's lag (a tick, at most 10 ms).
const QUICK_SLACK: Duration = Duration::from_millis(50);

impl CachedToken {
    /// Before its refresh time.
    pub fn is_fresh(&self) -> bool {
        boot_now_ns() < self.refresh_boot_ns
    }

    /// Still worth handing out (before expiry minus [`EXPIRY_GUARD`]).
    #[inline]
    pub fn is_usable(&self) -> bool {
        boot_now_ns() < self.usable_until_boot_ns
    }
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("value", &"<redacted>")
            .field("generation", &self.generation)
            .field("refresh_at", &self.refresh_at)
            .field("expires_at", &self.expires_at)
            .field("expires_unix_ms", &self.expires_unix_ms)
            .finish()
    }
}

/// The refresh margin actually used for a token of `lifetime`: the configured margin, but never
/// more than half the lifetime (a 10 s token with a 60 s margin would otherwise never be
/// cached).
pub fn effective_margin(configured: Duration, lifetime: Duration) -> Duration {
    configured.min(lifetime / 2)
}

/// Backoff of rejected credentials: 1 s doubling to 60 s.
pub const AUTH_BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const AUTH_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The remembered failure of the last fetch.
#[derive(Debug, Clone)]
pub struct FailureState {
    pub error: Error,
    /// No token request before this (boot clock).
    pub until_boot_ns: u64,
    /// The window is the server's `Retry-After`, within `max_retry_after_s` (callers may wait
    /// for it; a longer one, capped, ends each call at once until the probe after it).
    pub server_window: bool,
    /// Consecutive failures.
    pub streak: u32,
}

impl FailureState {
    fn after(prev: Option<&FailureState>, error: Error, cfg: &Config) -> FailureState {
        let streak = prev.map_or(0, |p| p.streak + 1);
        let (window, server_window) = match error.retry_after {
            // a server-imposed window is never longer than max_retry_after_s: a longer one is
            // capped (calls meanwhile fail at once), then one request (this fetch is
            // single-flight) probes whether it still holds
            Some(d) => (d.min(cfg.max_retry_after), d <= cfg.max_retry_after),
            None => {
                let rejected = matches!(
                    error.oauth_code.as_deref(),
                    Some("invalid_client" | "invalid_grant" | "unauthorized_client")
                );
                let w = if rejected {
                    backoff(streak, AUTH_BACKOFF_BASE, AUTH_BACKOFF_MAX)
                } else {
                    backoff(streak, cfg.backoff_base, cfg.backoff_max)
                };
                (w, false)
            }
        };
        FailureState {
            error,
            until_boot_ns: boot_after(window),
            server_window,
            streak,
        }
    }

    fn active(&self) -> bool {
        boot_now_ns() < self.until_boot_ns
    }
}

type FetchResult = Option<Result<Arc<CachedToken>>>;

struct Inner {
    cfg: Arc<Config>,
    slot: ArcSwapOption<CachedToken>,
    /// `slot` as `oauth_get_token` reads it (see [`crate::token::hot`]); changed with `slot`, under
    /// its writer lock.
    hot: HotToken,
    generation: AtomicU64,
    stats: Arc<Stats>,
    /// Sticky: once `true` (the client is closed) no fetch starts, and a fetch that was spawned
    /// but not yet polled ends at its first poll (`send_replace` stores the value even when no
    /// task is subscribed yet).
    shutdown: watch::Sender<bool>,
    /// What only exists in this process (see [`Live`]); rebuilt in a forked child.
    live: ArcSwap<Live>,
    /// The shared (cross-process) cache, if configured; rebuilt on credential rotation.
    shared: ArcSwapOption<SharedCache>,
    /// The last token a 401 rejected: never taken back from the shared cache.
    rejected: Mutex<Option<Zeroizing<String>>>,
    /// The generation in `slot` (0: none): a refresh timer of a token that was replaced or
    /// dropped ends at once, instead of sleeping until its time.
    current: watch::Sender<u64>,
    /// The fork epoch `live` was built in, for the hot path's one comparison: the first call
    /// in a forked child — a cached read included — rebuilds `live` and arms the refresh.
    live_epoch: AtomicU64,
}

/// The per-process part of a client: its connection pool and the state of token fetches,
/// tagged with the fork epoch it was built in. A forked child inherits connections registered
/// with the parent's runtime, maybe a fetch in flight on a parent thread that does not exist in
/// the child, maybe a lock held by such a thread: the first call in the child sees another
/// epoch and replaces all of it (the cached token and what discovery learnt are kept), while
/// the parent goes on using its own.
pub struct Live {
    epoch: u64,
    /// API requests.
    pub transport: Arc<Transport>,
    /// Token endpoint and discovery: the same as `transport` unless `token_proxy` /
    /// `api_proxy` give the two sides different proxies.
    pub login_transport: Arc<Transport>,
    pub provider: Provider,
    inflight: Mutex<Option<watch::Receiver<FetchResult>>>,
    failure: Mutex<Option<FailureState>>,
    /// Generation of the token whose refresh timer runs in this process (0: none).
    timer_for: AtomicU64,
}

impl Live {
    fn new(cfg: &Arc<Config>, provider: Provider) -> Result<Live> {
        use crate::config::proxy::Side;
        let transport = Arc::new(Transport::new(cfg, Side::Api)?);
        let login_transport = if cfg.split_proxies() {
            Arc::new(Transport::new(cfg, Side::Login)?)
        } else {
            Arc::clone(&transport)
        };
        Ok(Live {
            epoch: crate::rt::process::epoch(),
            transport,
            login_transport,
            provider,
            inflight: Mutex::new(None),
            failure: Mutex::new(None),
            timer_for: AtomicU64::new(0),
        })
    }

    fn failure(&self) -> Option<FailureState> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl TokenManager {
    pub fn new(cfg: Arc<Config>, stats: Arc<Stats>) -> Result<Self> {
        let live = Live::new(&cfg, Provider::new(Arc::clone(&cfg)))?;
        let shared = ArcSwapOption::new(SharedCache::new(&cfg, &stats)?.map(Arc::new));
        Ok(TokenManager {
            inner: Arc::new(Inner {
                cfg,
                slot: ArcSwapOption::const_empty(),
                hot: HotToken::default(),
                generation: AtomicU64::new(0),
                stats,
                shutdown: watch::channel(false).0,
                live: ArcSwap::from_pointee(live),
                shared,
                rejected: Mutex::new(None),
                current: watch::channel(0).0,
                live_epoch: AtomicU64::new(crate::rt::process::epoch()),
            }),
        })
    }

    /// This process's connection pool and fetch state, rebuilt first if this is a forked child
    /// (where the refresh timer of the cached token is armed again).
    pub fn live(&self) -> Result<Arc<Live>> {
        let live = self.inner.live.load_full();
        let epoch = crate::rt::process::epoch();
        if live.epoch == epoch {
            return Ok(live);
        }
        let fresh = Arc::new(Live::new(&self.inner.cfg, live.provider.fork_copy())?);
        // Several child threads may get here at once: the first store wins, the others use it.
        let prev = self.inner.live.compare_and_swap(&live, Arc::clone(&fresh));
        if !Arc::ptr_eq(&*prev, &live) {
            return Ok(self.inner.live.load_full());
        }
        self.inner.live_epoch.store(epoch, Ordering::Relaxed);
        log_line!(
            Level::Info,
            "fork detected: new connection pool and token fetch state in this process"
        );
        if let Some(t) = self.inner.slot.load_full() {
            self.inner.arm_timer(&fresh, &t);
        }
        Ok(fresh)
    }

    /// Copies the cached token out if it is usable, without a reference count, a lock, a
    /// shared write or a fence: a coarse clock read and a sequence-locked copy (see
    /// [`crate::token::hot`]). `alloc(len)` gives a buffer of `len + 1` bytes (NULL: out of memory),
    /// `release(buf, len)` takes back one a concurrent change spoiled. Returns the
    /// NUL-terminated copy and the token's expiry (Unix ms); `None`: take the slow path. The
    /// hot path of `oauth_get_token`.
    #[inline]
    pub fn copy_usable(
        &self,
        alloc: impl Fn(usize) -> *mut u8,
        release: impl Fn(*mut u8, usize),
    ) -> Option<(*mut u8, u64)> {
        if crate::rt::process::epoch() != self.inner.live_epoch.load(Ordering::Relaxed) {
            // a forked child's first call: its own fetch state and refresh timer
            let _ = self.live();
        }
        if !self.inner.cfg.token_idle_timeout.is_zero() {
            return None; // every use is marked, and an idle token replaced: the slow path
        }
        let now = crate::rt::clock::wall_coarse_ms();
        self.inner
            .hot
            .copy_out(|m| now < m.until_wall_ms, alloc, release)
            .map(|(p, m)| (p, m.expires_unix_ms))
    }

    /// The cached token if it is fresh (before its refresh time). Lock-free.
    pub fn fresh(&self) -> Option<Arc<CachedToken>> {
        self.inner.slot.load_full().filter(|t| t.is_fresh())
    }

    /// The cached token if it is usable. Past its refresh time without a refresh timer in this
    /// process (a forked child), this starts the one background refresh. No waiting.
    pub fn usable(&self) -> Result<Option<Arc<CachedToken>>> {
        let Some(t) = self.inner.slot.load_full() else {
            return Ok(None);
        };
        if !t.is_usable() {
            return Ok(None);
        }
        if t.last_use.idle_too_long(&self.inner.cfg) {
            // the server revoked it by now: a new token before the next request, not a 401
            if self.invalidate(t.generation) {
                log_line!(
                    Level::Info,
                    "token unused for longer than token_idle_timeout_s: treated as revoked, fetching a new one"
                );
            }
            return Ok(None);
        }
        t.last_use.touch(&self.inner.cfg);
        if !t.is_fresh() {
            let live = self.live()?;
            if live.timer_for.load(Ordering::Acquire) != t.generation {
                let _ = self.start_fetch();
            }
        }
        Ok(Some(t))
    }

    /// A valid token, fetching one if needed (shared with every concurrent caller). Inside a
    /// remembered failure's window the failure is returned at once — or, for a `Retry-After`
    /// window that ends before `deadline` and within `max_retry_after`, waited out.
    pub async fn get(&self, deadline: Instant) -> Result<Arc<CachedToken>> {
        loop {
            if let Some(t) = self.usable()? {
                return Ok(t);
            }
            let live = self.live()?;
            if let Some(f) = live.failure().filter(FailureState::active) {
                let wait = boot_until(f.until_boot_ns);
                let can_wait = f.server_window
                    && wait <= self.inner.cfg.max_retry_after
                    && Instant::now() + wait < deadline;
                if !can_wait {
                    return Err(f.error);
                }
                let jitter = backoff(0, self.inner.cfg.backoff_base, self.inner.cfg.backoff_max);
                let wake = (Instant::now() + wait + jitter).min(deadline);
                tokio::time::sleep_until(wake.into()).await;
                continue;
            }
            let mut rx = self.start_fetch()?;
            let result = rx.wait_for(Option::is_some).await.map_err(|_| {
                Error::new(ErrorKind::Internal, "token fetch task ended without result")
            })?;
            return result.clone().expect("wait_for guarantees Some");
        }
    }

    /// Drops the cached token if it is still the one with `generation` (the token a request
    /// just got a 401 with).
    pub fn invalidate(&self, generation: u64) -> bool {
        let slot = &self.inner.slot;
        let current = slot.load();
        if current.as_ref().is_some_and(|t| t.generation == generation) {
            let mut hot = self.inner.hot.writer();
            // Compare-and-swap so a token stored meanwhile is not thrown away.
            let prev = slot.compare_and_swap(&*current, None);
            if let Some(t) = prev.as_ref().filter(|t| t.generation == generation) {
                hot.publish(None);
                self.inner.current.send_replace(0);
                drop(hot);
                if self.inner.shared.load().is_some() {
                    *self
                        .inner
                        .rejected
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(t.value.clone());
                }
                return true;
            }
        }
        false
    }

    /// Drops the cached token if its value is `token` (a host saw it rejected); an older
    /// token does nothing. Returns whether it was dropped.
    pub fn invalidate_value(&self, token: &str) -> bool {
        let generation = {
            let current = self.inner.slot.load();
            match current.as_ref() {
                Some(t) if constant_time_eq(t.value.as_bytes(), token.as_bytes()) => t.generation,
                _ => return false,
            }
        };
        let dropped = self.invalidate(generation);
        if dropped {
            self.inner.stats.metrics.invalidated(0);
        }
        dropped
    }

    /// Rotates the credentials: the next fetch uses them (the cached token stays until then);
    /// a remembered failure of the old ones no longer holds requests back.
    pub fn set_credentials(&self, creds: &Credentials) -> Result<()> {
        let live = self.live()?;
        live.provider.set_credentials(creds)?;
        *live.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if self.inner.shared.load().is_some() {
            // the entry's name and key derive from the credentials
            let cfg = live.provider.config();
            self.inner
                .shared
                .store(SharedCache::new(&cfg, &self.inner.stats)?.map(Arc::new));
        }
        log_line!(
            Level::Info,
            "credentials replaced: the next token fetch uses them"
        );
        Ok(())
    }

    /// The cached token, whatever its state (diagnostics).
    pub fn current(&self) -> Option<Arc<CachedToken>> {
        self.inner.slot.load_full()
    }

    /// The remembered failure of the last fetch in this process, if any (diagnostics).
    pub fn last_failure(&self) -> Option<FailureState> {
        self.inner.live.load().failure()
    }

    /// How many token fetches this manager started (for tests and diagnostics).
    pub fn fetch_count(&self) -> u64 {
        self.inner.stats.token_fetches.load(Ordering::Relaxed)
    }

    /// Stops the fetch in flight, even one spawned but not yet polled, every later one, and
    /// the refresh timer (the client is closed). Sticky.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Returns the receiver of the fetch in flight, starting one if there is none (inside a
    /// failure window: that failure).
    fn start_fetch(&self) -> Result<watch::Receiver<FetchResult>> {
        Inner::start_fetch(&self.inner, None)
    }
}

impl Inner {
    /// `replacing`: the generation a refresh timer renews (fetched even while it is fresh,
    /// unless another token replaced it meanwhile).
    fn start_fetch(
        self: &Arc<Self>,
        replacing: Option<u64>,
    ) -> Result<watch::Receiver<FetchResult>> {
        if *self.shutdown.borrow() {
            return Err(Error::new(ErrorKind::Closed, "client is closed"));
        }
        let live = TokenManager {
            inner: Arc::clone(self),
        }
        .live()?;
        let mut slot = live.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = self.no_fetch_needed(&live, slot.as_ref(), replacing) {
            return Ok(rx);
        }
        let handle = runtime::handle()?;
        let (tx, rx) = watch::channel(None);
        *slot = Some(rx.clone());
        drop(slot);

        self.stats.token_fetches.fetch_add(1, Ordering::Relaxed);
        let replacing = replacing.and_then(|g| {
            self.slot
                .load()
                .as_ref()
                .filter(|t| t.generation == g)
                .map(|t| t.value.clone())
        });
        handle.spawn(Arc::clone(self).run_fetch(live, tx, replacing));
        Ok(rx)
    }

    /// With the in-flight slot locked: the receiver to wait on instead of a new fetch — the
    /// fetch in flight, the token a fetch that just finished stored, or the failure that still
    /// holds fetches back.
    fn no_fetch_needed(
        &self,
        live: &Live,
        inflight: Option<&watch::Receiver<FetchResult>>,
        replacing: Option<u64>,
    ) -> Option<watch::Receiver<FetchResult>> {
        if let Some(rx) = inflight {
            // A task that died (panicked) leaves a closed channel: start a new fetch then.
            if rx.has_changed().is_ok() {
                return Some(rx.clone());
            }
        }
        // Re-check under the lock: a fetch that just finished stored its token before it cleared
        // the in-flight slot.
        let done = self.slot.load_full().filter(|t| match replacing {
            Some(generation) => t.generation != generation,
            None => t.is_fresh(),
        });
        if let Some(t) = done {
            return Some(watch::channel(Some(Ok(t))).1);
        }
        live.failure()
            .filter(FailureState::active)
            .map(|f| watch::channel(Some(Err(f.error))).1)
    }

    /// The spawned fetch: fetch, bookkeeping, the result to the waiters, then this task goes
    /// on as the new token's refresh timer (no task spawned while the reply's connection goes
    /// back to the pool).
    async fn run_fetch(
        self: Arc<Self>,
        live: Arc<Live>,
        tx: watch::Sender<FetchResult>,
        replacing: Option<Zeroizing<String>>,
    ) {
        let started = Instant::now();
        let result = self.fetch_once(&live, started, replacing).await;
        let note = self.record_outcome(&live, &result, started);
        let outcome = result
            .as_ref()
            .map(|t| t.expires_unix_ms)
            .map_err(Clone::clone);
        self.stats.metrics.fetch_done(&outcome, started.elapsed());
        *live.inflight.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // Logged before the callers get the result (a caller may be about to exit), with no lock
        // held and the fetch no longer in flight: a log callback that calls the library gets
        // the stored token or the remembered failure, never a wait on itself.
        note.emit();
        let timer = match &result {
            Ok(t) => Some(self.refresh_timer(&live, t)),
            Err(_) => None,
        };
        let _ = tx.send(Some(result));
        // the result (a token) is held by the receivers only: no copy stays with the timer
        drop(tx);
        drop(self);
        if let Some(timer) = timer {
            timer.await;
        }
    }

    /// One fetch: ended by `oauth_close`, bounded by the deadline as a whole (shared-cache
    /// waits included), and inside a panic boundary, so that whatever happens the bookkeeping
    /// after it runs.
    async fn fetch_once(
        self: &Arc<Self>,
        live: &Arc<Live>,
        started: Instant,
        replacing: Option<Zeroizing<String>>,
    ) -> Result<Arc<CachedToken>> {
        let mut shutdown = self.shutdown.subscribe();
        let deadline = crate::rt::clock::instant_after(started, self.cfg.deadline);
        let bounded =
            tokio::time::timeout_at(deadline.into(), self.obtain(live, deadline, replacing));
        let result = tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => {
                Err(Error::new(ErrorKind::Cancelled, "client closed during token fetch"))
            }
            r = crate::rt::panic::CatchUnwind::new(bounded) => match r {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(Error::new(ErrorKind::Timeout, "token fetch: deadline reached")),
                Err(()) => Err(Error::new(ErrorKind::Internal, "internal error during the token fetch")),
            },
        };
        result.and_then(|grant| self.store(grant, started))
    }

    /// Remembers the fetch's outcome (a failure with its window, or none); the log line is
    /// returned to be emitted after the lock is released (a log callback may call the library).
    fn record_outcome(
        &self,
        live: &Live,
        result: &Result<Arc<CachedToken>>,
        started: Instant,
    ) -> crate::logging::Deferred {
        let mut f = live.failure.lock().unwrap_or_else(|p| p.into_inner());
        let (next, note) = match result {
            Ok(t) => (
                None,
                crate::logging::Deferred::new(
                    Level::Info,
                    format!(
                        "token fetched: lifetime {} s, refresh in {} s",
                        t.expires_at.saturating_duration_since(started).as_secs(),
                        t.refresh_at
                            .saturating_duration_since(Instant::now())
                            .as_secs()
                    ),
                ),
            ),
            Err(e) if e.kind == ErrorKind::Cancelled || e.kind == ErrorKind::Closed => {
                (f.take(), crate::logging::Deferred::none())
            }
            Err(e) => {
                self.stats
                    .token_fetch_failures
                    .fetch_add(1, Ordering::Relaxed);
                let next = FailureState::after(f.as_ref(), e.clone(), &self.cfg);
                let refreshing = self.slot.load().as_ref().is_some_and(|t| t.is_usable());
                let note = crate::logging::Deferred::new(
                    if refreshing {
                        Level::Warn
                    } else {
                        Level::Error
                    },
                    format!(
                        "token {} failed ({}): {}; no new request for {} ms{}",
                        if refreshing { "refresh" } else { "fetch" },
                        e.kind.name(),
                        e.message,
                        boot_until(next.until_boot_ns).as_millis(),
                        if next.server_window {
                            " (Retry-After)"
                        } else {
                            ""
                        }
                    ),
                );
                (Some(next), note)
            }
        };
        *f = next;
        note
    }

    /// A new token: from the shared cache when another process already has one (never the
    /// token being replaced or one a 401 rejected), else from the token endpoint while holding
    /// the cross-process lock, storing it for the others. A holder still busy when this
    /// caller's wait bound comes ([`lock_wait_until`]) does not stop it: it fetches itself.
    async fn obtain(
        &self,
        live: &Live,
        deadline: Instant,
        replacing: Option<Zeroizing<String>>,
    ) -> Result<TokenGrant> {
        let Some(cache) = self.shared.load_full() else {
            return live.provider.fetch(&live.login_transport, deadline).await;
        };
        let wait_until = lock_wait_until(&self.cfg, deadline);
        let rejected = self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = &rejected {
            // one 401 storm across the fleet: the first drops the entry, the others find a
            // new token or nothing
            cache.invalidate(r, wait_until).await;
        }
        let usable = |e: &Entry| {
            let old = |t: &Option<Zeroizing<String>>| {
                t.as_ref().is_some_and(|t| t.as_str() == e.token.as_str())
            };
            !old(&replacing) && !old(&rejected)
        };
        if let Some(e) = cache.load().await.filter(&usable) {
            log_line!(Level::Debug, "token taken from the shared cache");
            return Ok(grant_of(e));
        }
        if let Some(until) = cache.rate_limited_until().await {
            let wait = Duration::from_millis(until.saturating_sub(unix_ms_after(Duration::ZERO)));
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "the token endpoint asked to wait {} ms (Retry-After, seen by another process)",
                    wait.as_millis()
                ),
            )
            .with_status(429)
            .with_retry_after(Some(wait)));
        }
        match cache.acquire(wait_until, &usable).await {
            Acquired::Entry(e) => Ok(grant_of(e)),
            Acquired::Lock(lock) => {
                let r = match cache.load().await.filter(&usable) {
                    Some(e) => Ok(grant_of(e)),
                    None => {
                        self.fetch_and_share(&cache, live, deadline, &Seen::Any)
                            .await
                    }
                };
                cache.release(lock).await;
                r
            }
            Acquired::Busy(seen) => {
                log_line!(
                    Level::Info,
                    "another process's token fetch is still running: fetching without waiting longer"
                );
                self.fetch_and_share(&cache, live, deadline, &seen).await
            }
            Acquired::Unavailable => live.provider.fetch(&live.login_transport, deadline).await,
        }
    }

    /// Fetches from the token endpoint and shares the outcome: the token (stored over what
    /// `seen` describes), or the endpoint's Retry-After window.
    async fn fetch_and_share(
        &self,
        cache: &SharedCache,
        live: &Live,
        deadline: Instant,
        seen: &Seen,
    ) -> Result<TokenGrant> {
        let r = live.provider.fetch(&live.login_transport, deadline).await;
        match &r {
            Ok(g) => cache.store(&self.entry_of(g), seen).await,
            Err(e) => {
                if let Some(d) = e.retry_after {
                    cache.note_rate_limit(unix_ms_after(d)).await;
                }
            }
        }
        r
    }

    fn entry_of(&self, g: &TokenGrant) -> Entry {
        // the shared entry stays until expiry − margin (as before refresh_at_fraction): a
        // process starting during a login-service outage still finds it
        let margin = effective_margin(self.cfg.refresh_margin, g.expires_in);
        Entry {
            token: g.access_token.clone(),
            expires_unix_ms: unix_ms_after(g.expires_in),
            stale_unix_ms: unix_ms_after(g.expires_in.saturating_sub(margin)),
        }
    }

    fn store(
        self: &Arc<Self>,
        grant: TokenGrant,
        requested_at: Instant,
    ) -> Result<Arc<CachedToken>> {
        let mut buf = SecretBuf::with_capacity(7 + grant.access_token.len());
        buf.push_str("Bearer ");
        buf.push_str(&grant.access_token);
        let bearer = secret::header_value(buf)?;
        // Lifetimes count from when the request was sent: never later than the server's clock.
        let lifetime = grant.expires_in;
        let margin = super::timing::refresh_margin(&self.cfg, lifetime);
        let expires_at = crate::rt::clock::instant_after(requested_at, lifetime);
        let refresh_at = expires_at.checked_sub(margin).unwrap_or(requested_at);
        let elapsed = requested_at.elapsed();
        let left = lifetime.saturating_sub(elapsed);
        let guard = EXPIRY_GUARD.min(lifetime / 10);
        let usable_for = left.saturating_sub(guard);
        let quick_until_wall_ms = crate::rt::clock::wall_coarse_ms()
            .saturating_add(usable_for.saturating_sub(QUICK_SLACK).as_millis() as u64);
        let token = Arc::new(CachedToken {
            value: grant.access_token,
            bearer,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            refresh_at,
            expires_at,
            expires_unix_ms: unix_ms_after(lifetime),
            refresh_boot_ns: boot_after(left.saturating_sub(margin)),
            usable_until_boot_ns: boot_after(usable_for),
            quick_until_wall_ms,
            last_use: super::timing::LastUse::now(),
        });
        let mut hot = self.hot.writer();
        self.slot.store(Some(Arc::clone(&token)));
        self.current.send_replace(token.generation);
        hot.publish(Some((
            token.value.as_bytes(),
            HotMeta {
                until_wall_ms: token.quick_until_wall_ms,
                expires_unix_ms: token.expires_unix_ms,
            },
        )));
        Ok(token)
    }

    /// Spawns [`Inner::refresh_timer`] (for a token whose timer does not run in this process).
    fn arm_timer(self: &Arc<Self>, live: &Live, token: &Arc<CachedToken>) {
        if let Ok(handle) = runtime::handle() {
            handle.spawn(self.refresh_timer(live, token));
        }
    }

    /// Refreshes `token` shortly before its refresh time (up to a tenth of the margin early, at
    /// random), and after a failure again once the failure's window has passed, while the
    /// token is valid and still the cached one. Holds the manager weakly: dropping the client
    /// ends it; closing it too.
    fn refresh_timer(
        self: &Arc<Self>,
        live: &Live,
        token: &Arc<CachedToken>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        live.timer_for.store(token.generation, Ordering::Release);
        let weak: Weak<Inner> = Arc::downgrade(self);
        let generation = token.generation;
        let margin = token.expires_at.saturating_duration_since(token.refresh_at);
        let early = Duration::from_nanos(fastrand::u64(0..=(margin.as_nanos() as u64 / 10)));
        let mut wait = boot_until(token.refresh_boot_ns).saturating_sub(early);
        let mut shutdown = self.shutdown.subscribe();
        let mut current = self.current.subscribe();
        async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait_for(|c| *c) => return,
                    // replaced or dropped: its new token (if any) has a timer of its own
                    _ = current.wait_for(|g| *g != generation) => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let current = inner.slot.load_full();
                let Some(t) = current.filter(|t| t.generation == generation && t.is_usable())
                else {
                    return; // replaced (its own timer runs), invalidated, or expired
                };
                drop(t);
                let Ok(mut rx) = inner.start_fetch(Some(generation)) else {
                    return;
                };
                drop(inner);
                let ok = matches!(
                    rx.wait_for(Option::is_some).await.as_deref(),
                    Ok(Some(Ok(_)))
                );
                if ok {
                    return; // the new token armed its own timer
                }
                // failed: again when the remembered failure's window has passed
                let Some(inner) = weak.upgrade() else { return };
                let until = inner.live.load().failure().map(|f| f.until_boot_ns);
                wait = until
                    .map_or(Duration::from_millis(100), boot_until)
                    .max(Duration::from_millis(10));
            }
        }
    }
}

/// Until when a fetch waits for another process's fetch (the cross-process lock or lease):
/// at most `timeout_ms`, and never so long that less than `timeout_ms` (or half of what is
/// left) of its own deadline remains to fetch itself.
fn lock_wait_until(cfg: &Config, deadline: Instant) -> Instant {
    let now = Instant::now();
    let left = deadline.saturating_duration_since(now);
    let keep = cfg.timeout.min(left / 2);
    crate::rt::clock::instant_after(now, cfg.timeout).min(now + (left - keep))
}

/// A grant made of a shared-cache entry (its remaining lifetime).
fn grant_of(e: Entry) -> TokenGrant {
    let now = unix_ms_after(Duration::ZERO);
    TokenGrant {
        expires_in: Duration::from_millis(e.expires_unix_ms.saturating_sub(now).max(1)),
        access_token: e.token,
        refresh_token: None,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        let m = TokenManager::new(cfg, Arc::default()).unwrap();
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
