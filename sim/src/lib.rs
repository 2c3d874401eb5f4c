//! Loopback-only simulator of the Genesys Cloud CX login service (`POST /oauth/token`,
//! client-credentials grant) and a small slice of its REST API, with fault injection.
//!
//! It is used by cxoauth's Rust tests, C tests and demo. HTTP/1.1 is hand-rolled on top of
//! tokio's `TcpStream` so that faults (dropped connections, truncated bodies, trickled bytes)
//! can be injected at the byte level.
//!
//! ```no_run
//! use cxoauth_sim::{Action, Fault, SimOptions, Simulator, Target};
//!
//! let sim = Simulator::start(SimOptions::default()).unwrap();
//! sim.inject(Fault::new(Target::Token, Action::Status { status: 429, retry_after: Some("2".into()), body: None }));
//! println!("token URL: {}", sim.token_url());
//! ```
//!
//! Admin HTTP API (same port, never counted, never faulted): `GET /__admin/health`,
//! `GET /__admin/counters`, `GET /__admin/faults`, `POST /__admin/faults` (one [`Fault`] or an
//! array), `POST /__admin/reset`, `POST /__admin/revoke`, `POST /__admin/config`
//! (`{"token_lifetime_s":N, "token_prefix":"...", "keep_alive_idle_ms":N, "rate_limit":N,
//! "rate_limit_window_ms":N, "rate_limit_scope":"token"|"client", "token_idle_timeout_ms":N,
//! "token_outage_ms":N}`, all optional), `POST /__admin/clients` (`{"client_id":..,"client_secret":..}`).

mod admin;
mod api;
mod cxone;
mod http;
mod quota;
mod routes;
mod server;
mod state;
mod token;
mod util;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use crate::quota::RateLimitScope;
use crate::state::Shared;

/// Start-up options of a [`Simulator`].
#[derive(Clone)]
pub struct SimOptions {
    /// TCP port on 127.0.0.1; 0 (the default) picks a free port.
    pub port: u16,
    /// Registered OAuth clients as `(client_id, client_secret)`.
    /// Default: `[("demo-client", "demo-secret")]`.
    pub clients: Vec<(String, String)>,
    /// `expires_in` of issued tokens, in seconds. Default 86400 (Genesys' default).
    pub token_lifetime_s: u64,
    /// CXone access keys as `(access_key_id, access_key_secret)` for the password grant on
    /// `/auth/token`. Default: `[("demo-key", "demo-key-secret")]`.
    pub access_keys: Vec<(String, String)>,
    /// The CXone tenant put into access tokens and served by cxone-configuration.
    pub tenant_id: String,
    /// `expires_in` of CXone tokens. Default 3600.
    pub cxone_token_lifetime_s: u64,
    /// Close a client connection that waits longer than this for its next request, as
    /// servers and load balancers do (nginx: 75 s, AWS load balancers: 60 s). 0 (the default):
    /// never. Also set at run time with `POST /__admin/config {"keep_alive_idle_ms": N}`.
    pub keep_alive_idle_ms: u64,
    /// Serve HTTPS instead of HTTP, with a self-signed certificate for `127.0.0.1` and
    /// `localhost` made at start-up ([`Simulator::ca_pem`] is what a client must trust).
    pub tls: bool,
    /// Further DNS names of the HTTPS certificate (tests that reach the simulator under other
    /// host names, through a proxy). Default none.
    pub tls_names: Vec<String>,
    /// API requests allowed per window (`rate_limit_window_ms`) and per `rate_limit_scope`,
    /// as Genesys Cloud counts them (about 300 a minute per access token); over it the API
    /// answers 429 with `Retry-After`. With a limit every API reply of a valid token carries
    /// `inin-ratelimit-allowed/-count/-reset` computed from the window. 0 (the default): no
    /// limit (only `/api/v2/organizations/me` carries constant rate-limit headers). Also
    /// `POST /__admin/config {"rate_limit": N}`.
    pub rate_limit: u64,
    /// Length of the rate-limit window (default 60000: Genesys' minute; tests use seconds).
    pub rate_limit_window_ms: u64,
    /// What the limit is counted per: each access token (default, as Genesys) or each client.
    pub rate_limit_scope: RateLimitScope,
    /// A token unused for longer than this is revoked: the API answers 401 (Genesys revokes
    /// tokens idle longer than the organisation's inactivity timeout). 0 (the default): never.
    pub token_idle_timeout_ms: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            port: 0,
            clients: vec![("demo-client".to_string(), "demo-secret".to_string())],
            token_lifetime_s: 86400,
            access_keys: vec![("demo-key".to_string(), "demo-key-secret".to_string())],
            tenant_id: "11111111-2222-3333-4444-555555555555".to_string(),
            cxone_token_lifetime_s: 3600,
            keep_alive_idle_ms: 0,
            tls: false,
            tls_names: Vec::new(),
            rate_limit: 0,
            rate_limit_window_ms: 60_000,
            rate_limit_scope: RateLimitScope::Token,
            token_idle_timeout_ms: 0,
        }
    }
}

impl fmt::Debug for SimOptions {
    // Secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.clients.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SimOptions")
            .field("port", &self.port)
            .field("clients", &ids)
            .field("token_lifetime_s", &self.token_lifetime_s)
            .field(
                "access_keys",
                &self
                    .access_keys
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .field("tenant_id", &self.tenant_id)
            .field("cxone_token_lifetime_s", &self.cxone_token_lifetime_s)
            .field("keep_alive_idle_ms", &self.keep_alive_idle_ms)
            .field("tls", &self.tls)
            .field("tls_names", &self.tls_names)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_window_ms", &self.rate_limit_window_ms)
            .field("rate_limit_scope", &self.rate_limit_scope)
            .field("token_idle_timeout_ms", &self.token_idle_timeout_ms)
            .finish()
    }
}

/// Request counters. Admin requests (`/__admin/...`) are never counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Every request on `/oauth/token` (any method), including ones answered by a fault.
    pub token_requests: u64,
    /// Access tokens successfully issued.
    pub tokens_issued: u64,
    /// Every request on a path under `/api/`, including ones answered by a fault.
    pub api_requests: u64,
    /// TCP connections that carried at least one non-admin request, so tests can assert
    /// connection reuse.
    pub connections: u64,
    /// CXone password-grant requests on `/auth/token` that passed client authentication.
    #[serde(default)]
    pub password_grants: u64,
    /// CXone refresh-token-grant requests on `/auth/token` that passed client authentication.
    #[serde(default)]
    pub refresh_grants: u64,
    /// Every request under `/.well-known/`.
    #[serde(default)]
    pub discovery_requests: u64,
    /// Client connections the simulator closed because they sat idle longer than the
    /// keep-alive timeout (`keep_alive_idle_ms`), as real servers and load balancers do.
    #[serde(default)]
    pub idle_closes: u64,
    /// Client connections open now (a gauge, not reset by `/__admin/reset`).
    #[serde(default)]
    pub open_connections: u64,
    /// 429 replies sent on the API (the rate limit's and injected faults' alike).
    #[serde(default)]
    pub api_429s: u64,
    /// Tokens revoked for being idle longer than `token_idle_timeout_ms`.
    #[serde(default)]
    pub idle_revocations: u64,
}

/// A fault to inject. It applies to the next `count` requests matching `target` (and the
/// optional `method` / `path_prefix`), then is removed. Faults queue per target, FIFO: a
/// request gets the first matching fault of its target's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub target: Target,
    /// Number of matching requests this fault answers (default 1). A count of 0 is ignored.
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests with this method (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path (without query) starts with this prefix.
    #[serde(default)]
    pub path_prefix: Option<String>,
    pub action: Action,
}

fn one() -> u32 {
    1
}

fn ok200() -> u16 {
    200
}

impl Fault {
    /// A fault answering the next matching request of `target`.
    pub fn new(target: Target, action: Action) -> Fault {
        Fault {
            target,
            count: 1,
            method: None,
            path_prefix: None,
            action,
        }
    }

    /// Shorthand for `Fault::new(Target::Token, action)`.
    pub fn token(action: Action) -> Fault {
        Fault::new(Target::Token, action)
    }

    /// Shorthand for `Fault::new(Target::Api, action)`.
    pub fn api(action: Action) -> Fault {
        Fault::new(Target::Api, action)
    }

    /// Sets `count`.
    pub fn with_count(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }

    /// Sets `method`.
    pub fn with_method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }

    /// Sets `path_prefix`.
    pub fn with_path_prefix(mut self, prefix: &str) -> Fault {
        self.path_prefix = Some(prefix.to_string());
        self
    }
}

/// Which endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Any request on `/oauth/token` (Genesys) or `/auth/token` (CXone).
    Token,
    /// Any request on a path under `/api/` (Genesys) or `/cxone/` (CXone).
    Api,
    /// Any request under `/.well-known/` (discovery documents).
    Discovery,
}

/// What a fault does. JSON form: `{"kind":"status","status":503}`, `{"kind":"drop"}`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Answer with this status. `retry_after` is sent verbatim as `Retry-After` (seconds,
    /// HTTP-date or garbage). `body: None` generates a realistic Genesys body for the target.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        body: Option<String>,
    },
    /// Sleep, then handle the request normally.
    Delay { ms: u64 },
    /// Read the request, then close the connection without any response.
    Drop,
    /// Send the status line and headers with `Content-Length: 1000`, 10 body bytes, then close.
    DropMidBody,
    /// Reply with this raw body as `application/json` (malformed JSON, missing fields, ...).
    TokenReply {
        #[serde(default = "ok200")]
        status: u16,
        body: String,
    },
    /// Handle the request normally but write the response a few bytes at a time.
    Trickle {
        bytes_per_interval: usize,
        interval_ms: u64,
    },
    /// Answer 200 with a JSON-ish body of exactly this many bytes.
    LargeBody { bytes: usize },
    /// Answer 302 with this `Location`.
    Redirect { location: String },
}

/// A TLS acceptor with a new self-signed certificate for 127.0.0.1, localhost and `names`
/// (ring), and that certificate as PEM.
fn tls_acceptor(names: &[String]) -> io::Result<(tokio_rustls::TlsAcceptor, String)> {
    let mut all = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    all.extend(names.iter().cloned());
    let key = rcgen::generate_simple_self_signed(all).map_err(io::Error::other)?;
    let pem = key.cert.pem();
    let cert = key.cert.der().clone();
    let private = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der())
        .map_err(io::Error::other)?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .map_err(io::Error::other)?;
    let mut cfg = cfg;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(cfg)), pem))
}

/// A running simulator. Dropping it stops the listener and its runtime.
pub struct Simulator {
    addr: SocketAddr,
    /// The self-signed certificate (PEM) in HTTPS mode.
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds 127.0.0.1:`opts.port` and serves on a dedicated thread running its own tokio
    /// runtime. Returns once the listener is bound.
    pub fn start(opts: SimOptions) -> io::Result<Simulator> {
        let shared = Arc::new(Shared::new(&opts));
        let (acceptor, ca_pem) = if opts.tls {
            let (a, pem) = tls_acceptor(&opts.tls_names)?;
            (Some(a), Some(pem))
        } else {
            (None, None)
        };
        let scheme = if opts.tls { "https" } else { "http" };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<SocketAddr>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let port = opts.port;
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cxoauth-sim".to_string())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("cxoauth-sim-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match server::bind(port) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    if let Ok(addr) = listener.local_addr() {
                        server_shared.set_base_url(format!("{scheme}://{addr}"));
                    }
                    let _ = ready_tx.send(listener.local_addr());
                    server::accept_loop(listener, server_shared, acceptor, stop_rx).await;
                });
                // Cancels connection tasks still running (idle keep-alive, delays, trickles).
                rt.shutdown_timeout(Duration::from_millis(200));
            })?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("simulator thread exited during start-up")));
        match ready {
            Ok(addr) => Ok(Simulator {
                addr,
                ca_pem,
                shared,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Err(e) => {
                let _ = thread.join();
                Err(e)
            }
        }
    }

    /// The bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` in HTTPS mode)
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// In HTTPS mode: the simulator's self-signed certificate, PEM (a client's `ca_file`).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `http://127.0.0.1:PORT/oauth/token`
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url())
    }

    /// Queues a fault (FIFO per target).
    pub fn inject(&self, f: Fault) {
        self.shared.inject(f);
    }

    /// Faults not yet used up, token queue first.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.pending_faults()
    }

    /// Current counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// Clears faults, counters and tokens; the token lifetime goes back to its start value.
    /// Registered clients (including ones added later) are kept.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Invalidates every issued token (the API then answers 401).
    pub fn revoke_all(&self) {
        self.shared.revoke_all();
    }

    /// Invalidates one issued token (the API then answers 401 to it); whether it was live.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.shared.revoke_token(token)
    }

    /// Sets the API rate limit: `limit` requests per `window` (0: no limit). Windows in
    /// progress are forgotten.
    pub fn set_rate_limit(&self, limit: u64, window: Duration, scope: RateLimitScope) {
        self.shared
            .set_rate_limit(Some(limit), Some(window), Some(scope));
    }

    /// Tokens unused for longer than `idle` are revoked (`Duration::ZERO`: never).
    pub fn set_token_idle_timeout(&self, idle: Duration) {
        self.shared
            .set_token_idle_timeout_ms(idle.as_millis() as u64);
    }

    /// The token endpoint answers 503 for `d` from now (a login-service outage; a zero `d`
    /// ends one). API requests with valid tokens are not affected.
    pub fn token_outage(&self, d: Duration) {
        self.shared.set_token_outage(d);
    }

    /// Lifetime (`expires_in`) of tokens issued from now on, Genesys and CXone alike.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.set_lifetime(secs);
    }

    /// The OpenID issuer (= [`Simulator::base_url`]): discovery documents live under it.
    pub fn issuer(&self) -> String {
        self.base_url()
    }

    /// The CXone tenant id carried by CXone access tokens.
    pub fn tenant_id(&self) -> String {
        self.shared.tenant_id().to_string()
    }

    /// Registers (or replaces the secret of) a CXone access key.
    pub fn add_access_key(&self, id: &str, secret: &str) {
        self.shared.add_access_key(id, secret);
    }

    /// Invalidates every CXone refresh token (access tokens stay valid).
    pub fn revoke_refresh_tokens(&self) {
        self.shared.revoke_refresh_tokens();
    }

    /// Registers (or replaces the secret of) a client.
    pub fn add_client(&self, id: &str, secret: &str) {
        self.shared.add_client(id, secret);
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
