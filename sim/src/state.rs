//! Shared simulator state: clients, issued tokens, counters and fault queues.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::quota::{Quota, RateLimitScope, Standing};
use crate::{Action, Counters, Fault, SimOptions, Target};

/// Prune expired tokens once the table grows beyond this size.
const TOKEN_PRUNE_THRESHOLD: usize = 10_000;

pub struct Shared {
    start_lifetime: u64,
    start_keep_alive_idle_ms: u64,
    /// 0: connections may stay idle for ever.
    keep_alive_idle_ms: std::sync::atomic::AtomicU64,
    open_connections: std::sync::atomic::AtomicU64,
    start_cxone_lifetime: u64,
    tenant_id: String,
    base_url: OnceLock<String>,
    inner: Mutex<Inner>,
    /// The API rate limit (see [`crate::quota`]) and its start-up settings.
    quota: Mutex<Quota>,
    start_quota: (u64, Duration, RateLimitScope),
    /// A token unused for longer than this is revoked (answers 401); 0: never.
    token_idle_ms: std::sync::atomic::AtomicU64,
    start_token_idle_ms: u64,
    /// The token endpoint answers 503 until then (a login-service outage).
    token_outage_until: Mutex<Option<Instant>>,
}

struct Inner {
    counters: Counters,
    clients: HashMap<String, String>,
    /// Clients registered for one client authentication method only
    /// (`client_secret_basic` / `client_secret_post`); others accept both.
    client_auth_methods: HashMap<String, String>,
    tokens: HashMap<String, TokenInfo>,
    lifetime: u64,
    cxone_lifetime: u64,
    /// Put in front of every issued access and refresh token (tests that scan memory for
    /// tokens need a pattern known in advance). Empty by default.
    token_prefix: String,
    access_keys: HashMap<String, String>,
    /// CXone refresh token -> (client id, access key id); removed when used (rotation).
    refresh_tokens: HashMap<String, (String, String)>,
    token_faults: VecDeque<Fault>,
    api_faults: VecDeque<Fault>,
    discovery_faults: VecDeque<Fault>,
}

struct TokenInfo {
    client_id: String,
    /// `None` when the lifetime is too large to represent (never expires).
    expires: Option<Instant>,
    /// Issued or last presented to the API (idle revocation).
    last_used: Instant,
}

impl TokenInfo {
    fn is_valid(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// Result of a client authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCheck {
    Ok,
    UnknownClient,
    BadSecret,
}

impl Shared {
    pub fn new(opts: &SimOptions) -> Shared {
        Shared {
            start_lifetime: opts.token_lifetime_s,
            start_keep_alive_idle_ms: opts.keep_alive_idle_ms,
            keep_alive_idle_ms: opts.keep_alive_idle_ms.into(),
            open_connections: 0.into(),
            start_cxone_lifetime: opts.cxone_token_lifetime_s,
            tenant_id: opts.tenant_id.clone(),
            base_url: OnceLock::new(),
            quota: Mutex::new(Quota::new(
                opts.rate_limit,
                Duration::from_millis(opts.rate_limit_window_ms),
                opts.rate_limit_scope,
            )),
            start_quota: (
                opts.rate_limit,
                Duration::from_millis(opts.rate_limit_window_ms),
                opts.rate_limit_scope,
            ),
            token_idle_ms: opts.token_idle_timeout_ms.into(),
            start_token_idle_ms: opts.token_idle_timeout_ms,
            token_outage_until: Mutex::new(None),
            inner: Mutex::new(Inner {
                counters: Counters::default(),
                clients: opts.clients.iter().cloned().collect(),
                client_auth_methods: HashMap::new(),
                tokens: HashMap::new(),
                lifetime: opts.token_lifetime_s,
                cxone_lifetime: opts.cxone_token_lifetime_s,
                token_prefix: String::new(),
                access_keys: opts.access_keys.iter().cloned().collect(),
                refresh_tokens: HashMap::new(),
                token_faults: VecDeque::new(),
                api_faults: VecDeque::new(),
                discovery_faults: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters to a test simulator.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn counters(&self) -> Counters {
        let mut c = self.lock().counters;
        c.open_connections = self
            .open_connections
            .load(std::sync::atomic::Ordering::SeqCst);
        c
    }

    /// How long a connection may wait for its next request (`None`: for ever).
    pub fn keep_alive_idle(&self) -> Option<std::time::Duration> {
        match self
            .keep_alive_idle_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            ms => Some(std::time::Duration::from_millis(ms)),
        }
    }

    pub fn set_keep_alive_idle_ms(&self, ms: u64) {
        self.keep_alive_idle_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn count_idle_close(&self) {
        self.lock().counters.idle_closes += 1;
    }

    /// A client connection opened (`true`) or closed (`false`).
    pub fn connection_open(&self, open: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        if open {
            self.open_connections.fetch_add(1, SeqCst);
        } else {
            self.open_connections.fetch_sub(1, SeqCst);
        }
    }

    pub fn count_connection(&self) {
        self.lock().counters.connections += 1;
    }

    pub fn count_request(&self, target: Target) {
        let mut inner = self.lock();
        match target {
            Target::Token => inner.counters.token_requests += 1,
            Target::Api => inner.counters.api_requests += 1,
            Target::Discovery => inner.counters.discovery_requests += 1,
        }
    }

    pub fn inject(&self, fault: Fault) {
        if fault.count == 0 {
            return;
        }
        let mut inner = self.lock();
        match fault.target {
            Target::Token => inner.token_faults.push_back(fault),
            Target::Api => inner.api_faults.push_back(fault),
            Target::Discovery => inner.discovery_faults.push_back(fault),
        }
    }

    pub fn pending_faults(&self) -> Vec<Fault> {
        let inner = self.lock();
        inner
            .token_faults
            .iter()
            .chain(inner.api_faults.iter())
            .chain(inner.discovery_faults.iter())
            .cloned()
            .collect()
    }

    /// Consumes one use of the first fault of `target`'s queue matching the request.
    pub fn take_fault(&self, target: Target, method: &str, path: &str) -> Option<Action> {
        let mut inner = self.lock();
        let queue = match target {
            Target::Token => &mut inner.token_faults,
            Target::Api => &mut inner.api_faults,
            Target::Discovery => &mut inner.discovery_faults,
        };
        let index = queue.iter().position(|f| {
            f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let fault = &mut queue[index];
        let action = fault.action.clone();
        fault.count -= 1;
        if fault.count == 0 {
            queue.remove(index);
        }
        Some(action)
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.counters = Counters::default();
        inner.tokens.clear();
        inner.token_faults.clear();
        inner.api_faults.clear();
        inner.discovery_faults.clear();
        inner.refresh_tokens.clear();
        inner.lifetime = self.start_lifetime;
        inner.cxone_lifetime = self.start_cxone_lifetime;
        inner.token_prefix.clear();
        drop(inner);
        self.set_keep_alive_idle_ms(self.start_keep_alive_idle_ms);
        let (limit, window, scope) = self.start_quota;
        *self.quota.lock().unwrap_or_else(|e| e.into_inner()) = Quota::new(limit, window, scope);
        self.set_token_idle_timeout_ms(self.start_token_idle_ms);
        *self
            .token_outage_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Changes the API rate limit (what is `None` stays); windows in progress are forgotten.
    pub fn set_rate_limit(
        &self,
        limit: Option<u64>,
        window: Option<Duration>,
        scope: Option<RateLimitScope>,
    ) {
        let mut q = self.quota.lock().unwrap_or_else(|e| e.into_inner());
        *q = Quota::new(
            limit.unwrap_or(q.limit),
            window.unwrap_or(q.window),
            scope.unwrap_or(q.scope),
        );
    }

    /// Counts one API request of an authenticated token (`None`: no limit configured).
    pub fn rate_limit(&self, token: &str, client_id: &str) -> Option<Standing> {
        self.quota
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(token, client_id, Instant::now())
    }

    pub fn count_429(&self) {
        self.lock().counters.api_429s += 1;
    }

    pub fn set_token_idle_timeout_ms(&self, ms: u64) {
        self.token_idle_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The token endpoint answers 503 for `d` from now (`Duration::ZERO`: the outage ends).
    pub fn set_token_outage(&self, d: Duration) {
        *self
            .token_outage_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Instant::now().checked_add(d);
    }

    /// Whether the login service is out now (see [`Shared::set_token_outage`]).
    pub fn token_outage(&self) -> bool {
        self.token_outage_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    pub fn set_token_prefix(&self, prefix: &str) {
        self.lock().token_prefix = prefix.to_string();
    }

    pub fn revoke_all(&self) {
        self.lock().tokens.clear();
    }

    /// Revokes one issued token; whether it was live.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.lock().tokens.remove(token).is_some()
    }

    pub fn set_lifetime(&self, secs: u64) {
        let mut inner = self.lock();
        inner.lifetime = secs;
        inner.cxone_lifetime = secs;
    }

    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    /// `http://127.0.0.1:PORT` once listening.
    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn add_access_key(&self, id: &str, secret: &str) {
        self.lock()
            .access_keys
            .insert(id.to_string(), secret.to_string());
    }

    pub fn check_access_key(&self, id: &str, secret: &str) -> bool {
        self.lock()
            .access_keys
            .get(id)
            .is_some_and(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
    }

    pub fn count_grant(&self, refresh: bool) {
        let mut inner = self.lock();
        if refresh {
            inner.counters.refresh_grants += 1;
        } else {
            inner.counters.password_grants += 1;
        }
    }

    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh_tokens.clear();
    }

    /// Registers a CXone access token (`token` chosen by the caller) and a fresh refresh
    /// token; returns the refresh token and the lifetime.
    pub fn issue_cxone(&self, token: &str, client_id: &str, key_id: &str) -> (String, u64) {
        let mut inner = self.lock();
        let refresh = format!("{}{}", inner.token_prefix, crate::util::random_token());
        let now = Instant::now();
        let lifetime = inner.cxone_lifetime;
        inner.tokens.insert(
            token.to_string(),
            TokenInfo {
                client_id: client_id.to_string(),
                expires: now.checked_add(Duration::from_secs(lifetime)),
                last_used: now,
            },
        );
        inner
            .refresh_tokens
            .insert(refresh.clone(), (client_id.to_string(), key_id.to_string()));
        inner.counters.tokens_issued += 1;
        (refresh, lifetime)
    }

    /// Drops the refresh tokens of one access key ("" for client-credentials tokens).
    pub fn revoke_refresh_for_key(&self, key_id: &str) {
        self.lock().refresh_tokens.retain(|_, (_, k)| k != key_id);
    }

    pub fn cxone_lifetime(&self) -> u64 {
        self.lock().cxone_lifetime
    }

    /// Uses up a refresh token issued to `client_id`; returns its access key id.
    pub fn take_refresh_token(&self, token: &str, client_id: &str) -> Option<String> {
        let mut inner = self.lock();
        match inner.refresh_tokens.get(token) {
            Some((c, _)) if c == client_id => inner.refresh_tokens.remove(token).map(|(_, k)| k),
            _ => None,
        }
    }

    pub fn add_client(&self, id: &str, secret: &str) {
        self.lock()
            .clients
            .insert(id.to_string(), secret.to_string());
    }

    /// Registers `id` for one client authentication method only.
    pub fn set_client_auth_method(&self, id: &str, method: &str) {
        self.lock()
            .client_auth_methods
            .insert(id.to_string(), method.to_string());
    }

    /// Whether `id` may authenticate with `method` (`client_secret_basic`/`_post`).
    pub fn auth_method_allowed(&self, id: &str, method: &str) -> bool {
        self.lock()
            .client_auth_methods
            .get(id)
            .is_none_or(|m| m == method)
    }

    pub fn check_client(&self, id: &str, secret: &str) -> ClientCheck {
        match self.lock().clients.get(id) {
            None => ClientCheck::UnknownClient,
            Some(expected) if constant_time_eq(expected.as_bytes(), secret.as_bytes()) => {
                ClientCheck::Ok
            }
            Some(_) => ClientCheck::BadSecret,
        }
    }

    /// Issues a token for `client_id`; returns it with its `expires_in`.
    pub fn issue_token(&self, client_id: &str) -> (String, u64) {
        let mut inner = self.lock();
        let token = format!("{}{}", inner.token_prefix, crate::util::random_token());
        let now = Instant::now();
        let lifetime = inner.lifetime;
        if inner.tokens.len() >= TOKEN_PRUNE_THRESHOLD {
            inner.tokens.retain(|_, t| t.is_valid(now));
        }
        inner.tokens.insert(
            token.clone(),
            TokenInfo {
                client_id: client_id.to_string(),
                expires: now.checked_add(Duration::from_secs(lifetime)),
                last_used: now,
            },
        );
        inner.counters.tokens_issued += 1;
        (token, lifetime)
    }

    /// The client id of a known, unexpired, unrevoked token. A token unused for longer than
    /// the idle timeout is revoked here (as Genesys does after the organisation's inactivity
    /// timeout); any other is marked used.
    pub fn token_client(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        let idle = match self
            .token_idle_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        let mut inner = self.lock();
        let t = inner.tokens.get_mut(token).filter(|t| t.is_valid(now))?;
        if idle.is_some_and(|idle| now.saturating_duration_since(t.last_used) > idle) {
            inner.tokens.remove(token);
            inner.counters.idle_revocations += 1;
            return None;
        }
        t.last_used = now;
        Some(t.client_id.clone())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
