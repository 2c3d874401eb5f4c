//! HTTP transport: one reqwest client (connection pool, keep-alive) per cxoauth client, one
//! attempt per call, replies read fully with a size cap, errors classified.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use reqwest::header::{HeaderMap, HeaderName};
use url::Url;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http::outgoing::Outgoing;

/// A complete HTTP reply.
#[derive(Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Status, header names and the body's length only: bodies (tokens, personal data) and header
/// values (cookies) are never printed.
impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// Zeroizes the body (a token reply) before it is dropped.
    pub fn wipe_body(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.body);
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn correlation_id(&self) -> Option<String> {
        self.header("ININ-Correlation-Id").map(str::to_string)
    }
}

/// A failed attempt: the error, whether it is a connection-level failure that a retry may
/// cure, and whether any of the request may have reached the server (`sent: false` only when
/// it certainly did not: no connection, or the TLS handshake failed).
#[derive(Debug)]
pub struct SendError {
    pub error: Error,
    pub retryable: bool,
    pub sent: bool,
}

pub struct Transport {
    /// The process-wide pool: its connections are driven by the runtime's workers.
    http: reqwest::Client,
    /// This client's connections on calling threads ([`crate::rt::local`], [`crate::http::conn`]); also
    /// the key of their per-thread pools. `None` with a proxy: every request uses `http`.
    dialer: Option<Arc<crate::http::conn::Dialer>>,
    /// With a proxy (configured or from the environment): a client without any, for loopback
    /// targets. Plain http to loopback never goes through a proxy, which would receive the
    /// credential in clear (as Go's `ProxyFromEnvironment` bypasses loopback).
    direct: Option<reqwest::Client>,
}

/// The rustls configuration: ring provider (no cmake/nasm, faster build, smaller library than
/// aws-lc-rs), TLS 1.2/1.3, the OS trust store through rustls-platform-verifier, plus the PEM
/// certificates of `ca_file`. Built with an explicit provider, so the library never installs a
/// process-wide rustls default behind a host's back. Loading the OS store costs tens of
/// milliseconds, so the default configuration is built once per process and shared.
fn tls_config(
    ca_file: Option<&Path>,
    identity: Option<&Arc<crate::config::tls_identity::ClientIdentity>>,
) -> Result<rustls::ClientConfig> {
    static DEFAULT: OnceLock<std::result::Result<rustls::ClientConfig, String>> = OnceLock::new();
    let Some(path) = ca_file else {
        if let Some(id) = identity {
            // a client certificate: this client's own configuration
            return build_tls(Vec::new(), Some(id))
                .map_err(|e| Error::new(ErrorKind::Tls, format!("cannot set up TLS: {e}")));
        }
        return DEFAULT
            .get_or_init(|| build_tls(Vec::new(), None).map_err(|e| e.to_string()))
            .clone()
            .map_err(|m| Error::new(ErrorKind::Tls, format!("cannot set up TLS: {m}")));
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::config(format!(
            "config key \"ca_file\": cannot read {}: {e}",
            path.display()
        ))
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            Error::config(format!(
                "config key \"ca_file\": {} is not a PEM certificate bundle",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "config key \"ca_file\": {} holds no PEM certificate",
            path.display()
        )));
    }
    build_tls(certs, identity)
        .map_err(|e| Error::config(format!("config key \"ca_file\": {}: {e}", path.display())))
}

fn build_tls(
    extra_roots: Vec<CertificateDer<'static>>,
    identity: Option<&Arc<crate::config::tls_identity::ClientIdentity>>,
) -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // the platform verifier *is* full verification; nothing is disabled
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut cfg = match identity {
        // asked at each handshake: a rotated certificate file is picked up there
        Some(id) => builder
            .with_client_cert_resolver(Arc::new(crate::config::tls_identity::Resolver(id.clone()))),
        None => builder.with_no_client_auth(),
    };
    if identity.is_some() {
        // No session resumption with a client certificate: a resumed session would carry the
        // identity of its first handshake past a certificate rotation.
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The process-wide pool's client. `proxy` may carry a password: never printed.
fn shared_client(
    tls: rustls::ClientConfig,
    user_agent: &str,
    connect_timeout: Duration,
    proxy: Option<(&Url, &'static str)>,
    direct: bool,
) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // Never follow redirects: the token and the Authorization header must not travel to a
        // host the configuration did not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .dns_resolver(Resolver)
        .tcp_nodelay(true);
    if direct {
        b = b.no_proxy();
    } else if let Some((p, key)) = proxy {
        // NO_PROXY / no_proxy (read when the client is made) exempt hosts from a configured
        // proxy too, as from one named in the environment (curl does the same).
        let proxy = reqwest::Proxy::all(p.as_str())
            .map_err(|_| Error::config(format!("config key \"{key}\" is not usable")))?
            .no_proxy(reqwest::NoProxy::from_env());
        b = b.proxy(proxy);
    }
    b.build().map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("cannot set up the HTTP client: {}", root_cause(&e)),
        )
    })
}

/// Looks `host` up (`getaddrinfo` blocks) on the process-wide runtime's few blocking threads,
/// whichever reactor asks: a calling thread's own reactor never starts a thread.
pub(crate) async fn lookup(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    let handle = crate::rt::runtime::handle().map_err(std::io::Error::other)?;
    let host = host.to_string();
    handle
        .spawn_blocking(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                .map(|a| a.collect::<Vec<_>>())
        })
        .await
        .map_err(|_| std::io::Error::other("name lookup task failed"))?
}

/// [`lookup`] for reqwest.
struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = lookup(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether the environment names a proxy (reqwest's "system proxy": these variables), so
/// requests must go through reqwest, which honours it.
fn proxy_in_environment() -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// Aborts a spawned attempt whose caller gave up (cancelled, deadline).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Transport {
    /// The connections of one side of the client (its proxy: see [`Config::proxy_for`]).
    pub fn new(cfg: &Config, side: crate::config::proxy::Side) -> Result<Transport> {
        let tls = tls_config(cfg.ca_file.as_deref(), cfg.client_identity.as_ref())?;
        let connect_timeout = cfg.timeout.min(Duration::from_secs(10));
        let proxy = cfg.proxy_for(side);
        let proxied = proxy.is_some() || proxy_in_environment();
        let dialer = if proxied {
            None
        } else {
            crate::http::conn::Dialer::new(&tls, &cfg.user_agent, connect_timeout).map(Arc::new)
        };
        let direct = if proxied {
            Some(shared_client(
                tls.clone(),
                &cfg.user_agent,
                connect_timeout,
                None,
                true,
            )?)
        } else {
            None
        };
        Ok(Transport {
            http: shared_client(tls, &cfg.user_agent, connect_timeout, proxy, false)?,
            dialer,
            direct,
        })
    }

    /// Sends one request and reads the whole reply (at most `max_body` bytes) within `timeout`:
    /// on this thread's own connections inside a blocking call (see [`crate::rt::local`]), else on
    /// the process-wide pool.
    pub async fn send(&self, req: Outgoing) -> std::result::Result<HttpResponse, SendError> {
        match crate::http::pool::route(self.dialer.as_ref()) {
            crate::http::pool::Route::Local(dialer) => {
                let (host, timeout) = (req.host(), req.timeout);
                // Boxed, as the other arms: the futures are large and the caller's future moves.
                let fut = Box::pin(dialer.send(req));
                with_timeout(&host, timeout, fut).await
            }
            crate::http::pool::Route::Here => {
                let http = self.client_for(&req.url);
                Box::pin(attempt(http, req)).await
            }
            crate::http::pool::Route::Runtime => {
                let handle = crate::rt::runtime::handle().map_err(|error| SendError {
                    error,
                    retryable: false,
                    sent: false,
                })?;
                let http = self.client_for(&req.url).clone();
                let mut task = AbortOnDrop(handle.spawn(async move { attempt(&http, req).await }));
                let joined = (&mut task.0).await;
                joined.unwrap_or_else(|_| {
                    Err(SendError {
                        error: Error::new(
                            ErrorKind::Internal,
                            "internal error: the request task failed",
                        ),
                        retryable: false,
                        sent: true,
                    })
                })
            }
        }
    }
}

impl Transport {
    /// The pool a request to `url` goes through: never a proxy for loopback.
    fn client_for(&self, url: &Url) -> &reqwest::Client {
        match &self.direct {
            Some(direct) if crate::config::is_loopback(url) => direct,
            _ => &self.http,
        }
    }
}

/// One request on `http`, the whole reply read (at most `out.max_body` bytes) within
/// `out.timeout`.
async fn attempt(
    http: &reqwest::Client,
    out: Outgoing,
) -> std::result::Result<HttpResponse, SendError> {
    let host = out.host();
    let host = host.as_str();
    let (timeout, max_body) = (out.timeout, out.max_body);
    let attempt = async {
        let mut req = http.request(out.method, out.url).headers(out.headers);
        if let Some(b) = out.body {
            req = req.body(b);
        }
        let mut resp = req.send().await.map_err(|e| classify(&e, host))?;
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        if let Some(len) = resp.content_length() {
            if len > max_body as u64 {
                return Err(too_large(status, &headers, max_body));
            }
        }
        // Sized from Content-Length when given; growth wipes the old buffer (the body may
        // be a token reply).
        // One byte more: the C ABI appends a NUL.
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize + 1);
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e, host))? {
            if body.len() + chunk.len() > max_body {
                zeroize::Zeroize::zeroize(&mut body);
                return Err(too_large(status, &headers, max_body));
            }
            crate::secret::append_wiping(&mut body, &chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    };
    with_timeout(host, timeout, attempt).await
}

/// `attempt`, or a timeout error naming `host` when it takes longer than `timeout`.
async fn with_timeout(
    host: &str,
    timeout: Duration,
    attempt: impl std::future::Future<Output = std::result::Result<HttpResponse, SendError>>,
) -> std::result::Result<HttpResponse, SendError> {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(SendError {
            error: Error::new(
                ErrorKind::Timeout,
                format!(
                    "no complete reply from {host} within {} ms",
                    timeout.as_millis()
                ),
            ),
            retryable: true,
            sent: true,
        }),
    }
}

pub(crate) fn too_large(status: u16, headers: &HeaderMap, max: usize) -> SendError {
    SendError {
        error: Error::new(
            ErrorKind::Protocol,
            format!("reply body is larger than the limit of {max} bytes (max_body_bytes)"),
        )
        .with_status(status)
        .with_correlation_id(
            headers
                .get("ININ-Correlation-Id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ),
        retryable: false,
        sent: true,
    }
}

/// The innermost error's text: the useful part ("connection refused"), without reqwest's URL
/// decoration.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = next_source(cur) {
        cur = next;
    }
    cur.to_string()
}

fn next_source<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    // io::Error::source() skips the wrapped error itself; look inside explicitly.
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if let Some(inner) = io.get_ref() {
            return Some(inner);
        }
    }
    e.source()
}

fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        cur = next_source(c);
    }
    false
}

fn classify(e: &reqwest::Error, host: &str) -> SendError {
    let cause = root_cause(e);
    // reqwest marks errors before a connection existed (refused, unreachable, DNS, TLS
    // handshake) as connect errors: nothing of the request was written.
    let sent = !e.is_connect();
    if e.is_timeout() {
        return SendError {
            error: Error::new(ErrorKind::Timeout, format!("timeout talking to {host}")),
            retryable: true,
            sent,
        };
    }
    if is_tls(e) {
        return SendError {
            error: Error::new(ErrorKind::Tls, format!("TLS failure with {host}: {cause}")),
            retryable: false,
            sent,
        };
    }
    let what = if e.is_connect() {
        "cannot connect to"
    } else if e.is_body() || e.is_decode() {
        "reply broke off from"
    } else {
        "request failed to"
    };
    SendError {
        error: Error::new(ErrorKind::Network, format!("{what} {host}: {cause}")),
        retryable: true,
        sent,
    }
}

pub fn header_name(name: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(name.as_bytes()).ok()
}
