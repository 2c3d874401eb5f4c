//! The client: authenticated API requests with the retry policy, and the blocking entry points
//! the C ABI calls.
//!
//! Retry policy of [`Client::request`]:
//! * 401: invalidate the token that was used (by generation), fetch a new one, retry once; a
//!   second 401 is returned as the response.
//! * 429: wait for `Retry-After` (delta-seconds or HTTP-date) or, without it, exponential
//!   backoff with full jitter; at most `max_retries` times; never past the deadline and never
//!   longer than `max_retry_after` — then the 429 response is returned.
//! * 502/503/504, connection failures and attempt timeouts: the same, but only for idempotent
//!   methods (GET, HEAD, PUT, DELETE, OPTIONS).
//! * The whole call, token fetch included, ends by `deadline`.
//!
//! A request's [`CallOptions`](super::options::CallOptions) override `deadline`, `timeout`,
//! `max_retries`, the method's idempotency, the 401 resend and what pacing does, for that call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use tokio::sync::watch;
use url::Url;

use crate::client::cancel::CancelToken;
use crate::client::gate::Gate;
use crate::client::options::CallOptions;
use crate::client::pool::TokenPool;
use crate::config::{Config, Credentials};
use crate::error::{Error, ErrorKind, Result};
use crate::http::outgoing::Outgoing;
use crate::http::retry::{drive_observed, parse_retry_after, Attempt, Policy, Verdict};
use crate::http::transport::{header_name, HttpResponse, SendError};
use crate::log_line;
use crate::logging::Level;
use crate::obs::stats::{RetryCause, Stats};
use crate::rt::runtime;
use crate::token::providers::{deadline_error, deadline_error_after};
use crate::token::{CachedToken, TokenManager};

/// Most header lines one request may carry.
pub const MAX_HEADERS: usize = 256;
/// Longest accepted `path_or_url` and header line.
pub const MAX_TARGET_BYTES: usize = 64 * 1024;

/// A validated API request. The target is resolved against the API base when the request is
/// sent (with CXone the base is only known after the first token).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub target: String,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// `target` resolved against the API base, when the base was known at [`Client::prepare`]
    /// (parsed once per request, not once per attempt).
    pub url: Option<Url>,
    /// This call's overrides of the client's configuration (default: none).
    pub options: CallOptions,
}

impl ApiRequest {
    /// This request with the per-call `options` (`oauth_request_ex`'s `options_json`).
    pub fn with_options(mut self, options: CallOptions) -> ApiRequest {
        self.options = options;
        self
    }
}

/// One API call in progress: what every attempt of the retry policy shares.
struct Call<'a> {
    req: &'a ApiRequest,
    /// The whole call, token fetch and waits included, ends by then.
    deadline: Instant,
    /// May be sent again after a reply or failure that followed sending it.
    replayable: bool,
    /// A 401 was already answered with a new token (at most once per call).
    retried_401: AtomicBool,
    /// Why the next attempt is sent (`crate::obs::metrics::CAUSES`), set by `note_retry`.
    next_cause: AtomicU8,
}

pub fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

pub struct Client {
    cfg: Arc<Config>,
    /// The access tokens (one unless `token_pool_size` says more), each with its pacer.
    pool: TokenPool,
    /// Bumped by [`Client::cancel`] and [`Client::close`]: every call in flight at that moment
    /// stops.
    cancel: watch::Sender<u64>,
    /// Set once by [`Client::close`]; every call that starts afterwards fails with
    /// [`ErrorKind::Closed`].
    closed: AtomicBool,
    /// Client-wide "rate limited until" from the API's 429 + Retry-After.
    gate: Gate,
    stats: Arc<Stats>,
}

/// Dropping a client (Rust users) stops its refresh timer and any fetch in flight, as
/// `oauth_free` does.
impl Drop for Client {
    fn drop(&mut self) {
        self.pool.shutdown();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.cfg).finish()
    }
}

impl Client {
    pub fn new(cfg: Config) -> Result<Client> {
        let cfg = Arc::new(cfg);
        let stats = Arc::new(Stats::default());
        Ok(Client {
            pool: TokenPool::new(&cfg, &stats)?,
            stats,
            cfg,
            cancel: watch::channel(0).0,
            closed: AtomicBool::new(false),
            gate: Gate::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The first token of the pool (diagnostics; with a pool of one: the token).
    pub fn tokens(&self) -> &TokenManager {
        &self.pool.first().tokens
    }

    /// The pool token with the most API headroom: the one handed out by `oauth_get_token`.
    pub fn best_tokens(&self) -> &TokenManager {
        &self.pool.best().tokens
    }

    /// Drops `token` (rejected by the host's own request) wherever the pool caches it.
    pub fn invalidate_value(&self, token: &str) {
        self.pool.invalidate_value(token)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Time calls waited for their pacing slot, over every pool token (metrics).
    pub(crate) fn pacing_wait_total(&self) -> Duration {
        Duration::from_millis(self.pool.pacing_totals().1)
    }

    /// Requests left in the current rate-limit window of the pool token with most of them,
    /// `None` while no window is known (metrics; lock-free).
    pub(crate) fn rate_limit_remaining(&self) -> Option<u64> {
        self.pool.open().filter_map(|s| s.pacer.remaining()).max()
    }

    /// Rotates the client credentials (with an access key: also the CXone access key); takes
    /// effect on the next token fetch, the cached token stays until then.
    pub fn set_credentials(&self, creds: &Credentials) -> Result<()> {
        self.check_open()?;
        self.pool.set_credentials(creds)
    }

    /// The counters and state of `oauth_client_stats`, as JSON.
    pub fn stats_json(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        let st = &self.stats;
        let to_ms = |t: SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64
        };
        let token_window = self.tokens().last_failure().and_then(|f| {
            (f.server_window && crate::rt::clock::boot_now_ns() < f.until_boot_ns)
                .then(|| SystemTime::now() + crate::rt::clock::boot_until(f.until_boot_ns))
        });
        let limited = [self.rate_limited_until(), token_window]
            .into_iter()
            .flatten()
            .max();
        let (pacing_waits, pacing_wait_ms) = self.pool.pacing_totals();
        serde_json::json!({
            "token_fetches": st.token_fetches.load(Relaxed),
            "token_fetch_failures": st.token_fetch_failures.load(Relaxed),
            "token_cache_hits": st.token_cache_hits.get(),
            "requests": st.requests.load(Relaxed),
            "retries": {
                "429": st.retries_429.load(Relaxed),
                "5xx": st.retries_5xx.load(Relaxed),
                "network": st.retries_network.load(Relaxed),
                "401": st.retries_401.load(Relaxed),
            },
            "rate_limited_until_unix_ms": limited.map(to_ms),
            "pacing_waits": pacing_waits,
            "pacing_wait_ms": pacing_wait_ms,
            "rate_limit": self.pool.best().pacer.rate_limit_json(),
            "pool": self.pool.stats_json(),
            "token_expires_unix_ms": self.tokens().current().map(|t| t.expires_unix_ms),
            "last_error": st.last_error().map(|e| serde_json::json!({
                "code": e.code,
                "message": e.message,
                "time_unix_ms": e.unix_ms,
            })),
        })
    }

    /// When the client's API gate opens, if it is closed (diagnostics).
    pub fn rate_limited_until(&self) -> Option<SystemTime> {
        self.gate.closed_until_system()
    }

    /// Aborts every call on this client that is in flight now with [`ErrorKind::Cancelled`].
    /// Later calls run normally.
    pub fn cancel(&self) {
        self.cancel.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Closes the client: calls in flight end with [`ErrorKind::Cancelled`], the token fetch
    /// in flight (even one not yet started) stops, and every later call fails at once with
    /// [`ErrorKind::Closed`]. Safe concurrently with any call, any number of times; memory
    /// stays valid until the client is dropped.
    pub fn close(&self) {
        // `closed` first, then the wake-up: a call that subscribed before the wake-up is woken;
        // one that subscribes after it sees `closed` (see `guarded`).
        self.closed.store(true, Ordering::SeqCst);
        self.cancel();
        self.pool.shutdown();
        self.stats.metrics.events.clear();
    }

    /// Whether [`Client::close`] was called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            Err(closed_error())
        } else {
            Ok(())
        }
    }

    /// Runs `fut` under the client's deadline, the client's cancellation and the call's own
    /// cancel token.
    async fn guarded<T>(
        &self,
        fut: impl Future<Output = Result<T>>,
        cancel: Option<&CancelToken>,
        deadline: Duration,
    ) -> Result<T> {
        let mut client_cancelled = self.cancel.subscribe();
        // Checked after subscribing: a close that came first is seen here, a later one wakes
        // `changed()` below.
        self.check_open()?;
        // A token cancelled already ends the call at once, whatever the work would do.
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled_error());
        }
        let call_cancelled = async {
            match cancel {
                Some(c) => c.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let ends = tokio::time::Instant::now() + deadline;
        tokio::select! {
            biased;
            _ = client_cancelled.changed() => Err(cancelled_error()),
            _ = call_cancelled => Err(cancelled_error()),
            r = tokio::time::timeout_at(ends, fut) => r.unwrap_or_else(|_| Err(deadline_error_after(deadline))),
        }
    }

    /// A valid token: from the cache, or fetched (single-flight).
    pub async fn token(&self, cancel: Option<&CancelToken>) -> Result<Arc<CachedToken>> {
        let deadline = Instant::now() + self.cfg.deadline;
        self.guarded(self.best_tokens().get(deadline), cancel, self.cfg.deadline)
            .await
    }

    /// Builds an [`ApiRequest`]: checks the method, resolves `path_or_url` against the API base
    /// (refusing any other host), parses `Name: value` header lines.
    pub fn prepare(
        &self,
        method: &str,
        path_or_url: &str,
        headers: &[&str],
        body: Option<Bytes>,
    ) -> Result<ApiRequest> {
        let method = parse_method(method)?;
        // Refuse a foreign host before any I/O when the API base is already known.
        let url = match self.tokens().live()?.provider.known_api_base() {
            Some(base) => Some(resolve_target(base, path_or_url)?),
            None => {
                check_target(path_or_url)?;
                None
            }
        };
        let headers = parse_headers(headers)?;
        Ok(ApiRequest {
            method,
            target: path_or_url.to_string(),
            headers,
            body,
            url,
            options: CallOptions::default(),
        })
    }

    /// Sends an authenticated request with the retry policy; any HTTP status the API produced
    /// is a successful result.
    pub async fn request(
        &self,
        req: ApiRequest,
        cancel: Option<&CancelToken>,
    ) -> Result<HttpResponse> {
        // compiled out only for the bench's comparison (scripts/bench-metrics.sh)
        #[cfg(not(bench_no_metrics))]
        let (started, method) = (Instant::now(), req.method.clone());
        let deadline = req.options.deadline(&self.cfg);
        let r = self
            .guarded(self.request_inner(req), cancel, deadline)
            .await;
        #[cfg(not(bench_no_metrics))]
        self.record_call(&method, started.elapsed(), &r);
        r
    }

    /// One observation of `http_client_request_duration_seconds`.
    #[cfg(not(bench_no_metrics))]
    fn record_call(&self, method: &reqwest::Method, elapsed: Duration, r: &Result<HttpResponse>) {
        let live = self.tokens().live().ok();
        let server = live
            .as_ref()
            .and_then(|l| l.provider.known_api_base().and_then(|u| u.host_str()));
        self.stats.metrics.api_call(method, server, elapsed, r);
    }

    async fn request_inner(&self, req: ApiRequest) -> Result<HttpResponse> {
        let cfg = &self.cfg;
        let opts = &req.options;
        let deadline = Instant::now() + opts.deadline(cfg);
        let call = Call {
            req: &req,
            deadline,
            replayable: opts.replayable(&req.method, cfg),
            retried_401: AtomicBool::new(false),
            next_cause: AtomicU8::new(crate::obs::metrics::CAUSE_FIRST),
        };
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut policy = Policy::new(cfg, deadline).with_max_retries(opts.max_retries(cfg));
        let on_wait = |value: &Result<HttpResponse>, wait: Duration, retry: u32| {
            self.note_retry(&call, value, wait, retry)
        };
        drive_observed(&mut policy, on_wait, |_| self.attempt(&call)).await
    }

    /// Counts and logs the wait before a retry, and remembers its cause for the next attempt.
    fn note_retry(&self, call: &Call<'_>, value: &Result<HttpResponse>, wait: Duration, n: u32) {
        let (cause, why) = match value {
            Ok(r) if r.status == 429 => (RetryCause::RateLimited, "HTTP 429".to_string()),
            Ok(r) => (RetryCause::Server, format!("HTTP {}", r.status)),
            Err(e) => (RetryCause::Network, e.message.clone()),
        };
        self.stats.retry(cause);
        call.next_cause.store(1 + cause as u8, Ordering::Relaxed);
        log_line!(
            Level::Info,
            "{} {}: retry {n} in {} ms after {why}",
            call.req.method,
            path_of(&call.req.target),
            wait.as_millis()
        );
    }

    /// One attempt of the retry policy: through the API gate, then sent (a 401 resent once
    /// with a new token), then judged.
    async fn attempt(&self, call: &Call<'_>) -> Attempt<Result<HttpResponse>> {
        let probe = match self.gate.pass(&self.cfg, call.deadline).await {
            Ok(p) => p,
            Err(last) => return Attempt::done(Ok(last)),
        };
        match self.send_authenticated(call).await {
            Ok(Ok(resp)) => {
                let verdict = self.judge(call, &resp);
                if let Some(p) = probe {
                    p.answered(resp.status);
                }
                Attempt {
                    value: Ok(resp),
                    verdict,
                }
            }
            // A request that never left (connection refused, TLS handshake failed) is safe to
            // send again whatever its method.
            Ok(Err(se)) => Attempt {
                verdict: if se.retryable && (call.replayable || !se.sent) {
                    Verdict::Backoff
                } else {
                    Verdict::Final
                },
                value: Err(se.error),
            },
            Err(done) => Attempt::done(done),
        }
    }

    /// Sends the request with a valid token, paced; a 401 drops that token and sends once more
    /// with a new one. `Err`: the call's final outcome without a reply to judge (no token, a
    /// paced refusal, a request that cannot be sent).
    async fn send_authenticated(
        &self,
        call: &Call<'_>,
    ) -> std::result::Result<std::result::Result<HttpResponse, SendError>, Result<HttpResponse>>
    {
        let cfg = &self.cfg;
        let mut cause = call.next_cause.load(Ordering::Relaxed);
        loop {
            let slot = self.pool.for_call();
            let token = slot.tokens.get(call.deadline).await.map_err(Err)?;
            let permit = match cfg.rate_limit_pacing {
                true => slot
                    .pacer
                    .acquire(
                        cfg,
                        token.generation,
                        call.deadline,
                        call.req.options.pacing_fail_fast(),
                    )
                    .await
                    .map_err(Ok)?,
                false => slot.pacer.track(token.generation),
            };
            let sent = self
                .send_once(call.req, &token, call.deadline)
                .await
                .map_err(Err)?;
            self.stats.metrics.attempt(cause);
            slot.requests.fetch_add(1, Ordering::Relaxed);
            if let Ok(resp) = &sent {
                permit.observe(cfg, resp);
            }
            match sent {
                // the token died early (revoked, idle timeout): one new token, one resend
                // (resend_after_401 false: the 401 is the answer, the token stays)
                Ok(resp)
                    if resp.status == 401
                        && call.req.options.resend_after_401()
                        && !call.retried_401.swap(true, Ordering::Relaxed) =>
                {
                    self.drop_unauthorized(call, &slot.tokens, token.generation);
                    cause = crate::obs::metrics::CAUSE_401;
                }
                other => return Ok(other),
            }
        }
    }

    fn drop_unauthorized(&self, call: &Call<'_>, tokens: &TokenManager, generation: u64) {
        if tokens.invalidate(generation) {
            self.stats.metrics.invalidated(401);
        }
        self.stats.retry(RetryCause::Unauthorized);
        log_line!(
            Level::Info,
            "{} {}: HTTP 401, the token was dropped: sending again with a new one",
            call.req.method,
            path_of(&call.req.target)
        );
    }

    /// Whether to retry after this reply: a 429 (which also closes the API gate for its
    /// Retry-After) always, a 502/503/504 when the request may be sent again.
    fn judge(&self, call: &Call<'_>, resp: &HttpResponse) -> Verdict {
        let retry_after = resp
            .header("Retry-After")
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        self.stats.metrics.api_status(resp.status, retry_after);
        match resp.status {
            429 => {
                if let Some(d) = retry_after {
                    self.gate.close_for(d, self.cfg.max_retry_after, resp);
                }
                retry_after.map_or(Verdict::Backoff, Verdict::After)
            }
            502..=504 if call.replayable => retry_after.map_or(Verdict::Backoff, Verdict::After),
            _ => Verdict::Final,
        }
    }

    /// One attempt of `req` with `token`: the URL resolved against the API base (discovered on
    /// first use with CXone), the bearer header added.
    async fn send_once(
        &self,
        req: &ApiRequest,
        token: &CachedToken,
        deadline: Instant,
    ) -> Result<std::result::Result<HttpResponse, SendError>> {
        let live = self.tokens().live()?;
        let base = live
            .provider
            .api_base(&live.login_transport, &token.value, deadline)
            .await?;
        let url = match &req.url {
            Some(url) if resolved_against(url, base, &req.target) => url.clone(),
            _ => resolve_target(base, &req.target)?,
        };
        let mut headers = req.headers.clone();
        headers.insert(AUTHORIZATION, token.bearer.clone());
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(deadline_error(&self.cfg));
        }
        Ok(live
            .transport
            .send(Outgoing {
                method: req.method.clone(),
                url,
                headers,
                body: req.body.clone(),
                timeout: req.options.timeout(&self.cfg).min(remaining),
                max_body: self.cfg.max_body_bytes,
            })
            .await)
    }

    // ---- blocking entry points (for the C ABI and other synchronous callers) ----

    /// The token as a string, blocking. A fresh cached token is returned on the calling thread
    /// without touching the runtime.
    /// A token already cancelled makes the call fail at once.
    pub fn token_blocking(
        self: &Arc<Self>,
        cancel: Option<&CancelToken>,
    ) -> Result<Arc<CachedToken>> {
        self.check_open()?;
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled_error());
        }
        if let Some(t) = self.best_tokens().usable()? {
            self.stats.token_cache_hits.add();
            return Ok(t);
        }
        let me = Arc::clone(self);
        let cancel = cancel.cloned();
        // Waiting for a token needs no connection of this thread's: the fetch runs on the
        // runtime (single-flight), so no reactor is made for this thread.
        runtime::wait_blocking(async move { me.token(cancel.as_ref()).await })
            .inspect_err(|e| self.stats.record_error(e))
    }

    pub fn request_blocking(
        self: &Arc<Self>,
        req: ApiRequest,
        cancel: Option<&CancelToken>,
    ) -> Result<HttpResponse> {
        self.check_open()?;
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled_error());
        }
        let me = Arc::clone(self);
        let cancel = cancel.cloned();
        runtime::run_blocking(async move { me.request(req, cancel.as_ref()).await })
            .inspect_err(|e| self.stats.record_error(e))
    }
}

/// The path of a target, without its query (which may carry personal data), for log lines.
fn path_of(target: &str) -> &str {
    let t = target.split(['?', '#']).next().unwrap_or(target);
    match t.find("://") {
        Some(i) => t[i + 3..].find('/').map_or("/", |j| &t[i + 3 + j..]),
        None => t,
    }
}

fn cancelled_error() -> Error {
    Error::new(ErrorKind::Cancelled, "call cancelled")
}

fn closed_error() -> Error {
    Error::new(ErrorKind::Closed, "client is closed (oauth_close)")
}

/// An HTTP method: a token (RFC 9110 section 5.6.2), upper-cased for the well-known ones.
pub fn parse_method(m: &str) -> Result<Method> {
    if m.is_empty() || m.len() > 32 || !m.bytes().all(is_tchar) {
        return Err(Error::invalid(
            "method must be an HTTP token such as GET or POST",
        ));
    }
    let upper = m.to_ascii_uppercase();
    let known = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    let m = if known.contains(&upper.as_str()) {
        upper.as_str()
    } else {
        m
    };
    Method::from_bytes(m.as_bytes()).map_err(|_| Error::invalid("method is not valid"))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks `path_or_url` on its own: non-empty, bounded, no spaces or control characters, a
/// path or an absolute http(s) URL.
pub fn check_target(path_or_url: &str) -> Result<()> {
    static DUMMY_BASE: std::sync::LazyLock<Url> =
        std::sync::LazyLock::new(|| Url::parse("https://api.invalid").expect("static URL"));
    if path_or_url.starts_with('/') {
        return resolve_target(&DUMMY_BASE, path_or_url).map(|_| ());
    }
    let url = Url::parse(path_or_url).map_err(|_| {
        Error::invalid("path_or_url must be a path starting with '/' or an absolute https URL")
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid("path_or_url must be an http(s) URL"));
    }
    // length, control characters and credentials are checked by resolve_target
    resolve_target(&url, path_or_url).map(|_| ())
}

/// Resolves `path_or_url`: a path (`/api/v2/...`, query allowed) is joined to the API base; an
/// absolute URL must be on the API base's origin (scheme, host, port), so the token is never
/// sent to another host.
pub fn resolve_target(api_base: &Url, path_or_url: &str) -> Result<Url> {
    if path_or_url.is_empty() {
        return Err(Error::invalid("path_or_url is empty"));
    }
    if path_or_url.len() > MAX_TARGET_BYTES {
        return Err(Error::invalid(format!(
            "path_or_url is longer than {MAX_TARGET_BYTES} bytes"
        )));
    }
    if path_or_url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ')
    {
        return Err(Error::invalid(
            "path_or_url must not contain spaces or control characters",
        ));
    }
    let url = if path_or_url.starts_with('/') {
        if path_or_url.starts_with("//") {
            return Err(Error::invalid(
                "path_or_url must not start with \"//\" (a host-relative URL)",
            ));
        }
        let base = api_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path_or_url}"))
            .map_err(|e| Error::invalid(format!("path_or_url is not a valid path: {e}")))?
    } else {
        let url = Url::parse(path_or_url).map_err(|_| {
            Error::invalid("path_or_url must be a path starting with '/' or an absolute https URL")
        })?;
        if url.origin() != api_base.origin() {
            return Err(Error::invalid(format!(
                "refusing to send the token to {}: only the API host {} is allowed",
                url.host_str().unwrap_or("(no host)"),
                api_base.host_str().unwrap_or("?")
            )));
        }
        if url.username() != "" || url.password().is_some() {
            return Err(Error::invalid("path_or_url must not contain credentials"));
        }
        url
    };
    // An API base with a path (a gateway's API prefix) confines the token to that path: no
    // absolute URL elsewhere on the host, no `..` climbing out of it.
    if !under_base_path(&url, api_base) {
        return Err(Error::invalid(format!(
            "refusing to send the token to {}: only paths under {} are allowed",
            url.path(),
            api_base.path().trim_end_matches('/')
        )));
    }
    Ok(url)
}

/// Whether `url`'s path is under the path of `api_base` (always, for a base at `/`).
fn under_base_path(url: &Url, api_base: &Url) -> bool {
    let prefix = api_base.path().trim_end_matches('/');
    prefix.is_empty()
        || url
            .path()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `url`, resolved from `target` earlier, is what [`resolve_target`] makes of it
/// against `api_base` now.
fn resolved_against(url: &Url, api_base: &Url, target: &str) -> bool {
    if target.starts_with('/') {
        url.as_str()
            .strip_prefix(api_base.as_str().trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
    } else {
        url.origin() == api_base.origin()
    }
}

/// Parses `Name: value` lines. Names must be tokens, values must not hold CR, LF or NUL, and
/// `Authorization` / `Host` / framing headers are the library's own.
pub fn parse_headers(lines: &[&str]) -> Result<HeaderMap> {
    if lines.len() > MAX_HEADERS {
        return Err(Error::invalid(format!(
            "too many headers (at most {MAX_HEADERS})"
        )));
    }
    let mut map = HeaderMap::new();
    for (i, line) in lines.iter().enumerate() {
        if line.len() > MAX_TARGET_BYTES {
            return Err(Error::invalid(format!(
                "header {i} is longer than {MAX_TARGET_BYTES} bytes"
            )));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Error::invalid(format!(
                "header {i} has no ':' (expected \"Name: value\")"
            )));
        };
        let name_ok = !name.is_empty() && name.bytes().all(is_tchar);
        let hname = header_name(name)
            .filter(|_| name_ok)
            .ok_or_else(|| Error::invalid(format!("header {i} has an invalid name")))?;
        if matches!(
            hname.as_str(),
            "authorization" | "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            return Err(Error::invalid(format!(
                "header {i}: {} is set by the library",
                hname.as_str()
            )));
        }
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Error::invalid(format!(
                "header {i} value contains CR, LF or NUL"
            )));
        }
        let hvalue = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid(format!("header {i} has an invalid value")))?;
        map.append(hname, hvalue);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.mypurecloud.de").unwrap()
    }

    #[test]
    fn targets() {
        assert_eq!(
            resolve_target(&base(), "/api/v2/organizations/me?x=1")
                .unwrap()
                .as_str(),
            "https://api.mypurecloud.de/api/v2/organizations/me?x=1"
        );
        assert!(resolve_target(&base(), "https://api.mypurecloud.de/api/v2/x").is_ok());
        for bad in [
            "https://evil.example/api",
            "http://api.mypurecloud.de/api",
            "https://api.mypurecloud.de:8443/api",
            "//evil.example/x",
            "api/v2",
            "",
            "/a b",
            "/a\r\nX: y",
            "https://user:pw@api.mypurecloud.de/x",
        ] {
            let e = resolve_target(&base(), bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad:?}");
        }
        let with_prefix = Url::parse("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(
            resolve_target(&with_prefix, "/api/v2/x").unwrap().as_str(),
            "http://127.0.0.1:8080/prefix/api/v2/x"
        );
        // a gateway's API prefix confines the token to it
        for bad in [
            "http://127.0.0.1:8080/login/oauth/token",
            "http://127.0.0.1:8080/prefixed/x",
            "/../login/x",
            "/%2e%2e/login/x",
        ] {
            let e = resolve_target(&with_prefix, bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad:?}");
        }
        assert!(resolve_target(&with_prefix, "http://127.0.0.1:8080/prefix/api/v2/x").is_ok());
    }

    #[test]
    fn headers() {
        let h = parse_headers(&["Accept: application/json", "X-A:  b ", "X-A: c"]).unwrap();
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        assert_eq!(h["accept"], "application/json");
        for bad in [
            "NoColon",
            ": empty name",
            "Bad Name: x",
            "X: a\r\nInjected: yes",
            "X: a\nb",
            "Authorization: Bearer mine",
            "host: other",
        ] {
            assert_eq!(
                parse_headers(&[bad]).unwrap_err().kind,
                ErrorKind::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn methods() {
        assert_eq!(parse_method("get").unwrap(), Method::GET);
        assert_eq!(parse_method("PATCH").unwrap(), Method::PATCH);
        assert_eq!(parse_method("PROPFIND").unwrap().as_str(), "PROPFIND");
        for bad in ["", "GET /", "G\r\nET", "GÉT", "(GET)"] {
            assert!(parse_method(bad).is_err(), "{bad:?}");
        }
        assert!(is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
