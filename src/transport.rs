//! HTTP transport: one reqwest client (connection pool, keep-alive) per cxoauth client, one
//! attempt per call, replies read fully with a size cap, errors classified.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::Method;
use url::Url;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

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
    http: reqwest::Client,
}

/// The rustls configuration: ring provider (no cmake/nasm, faster build, smaller library than
/// aws-lc-rs), TLS 1.2/1.3, the OS trust store through rustls-platform-verifier, plus the PEM
/// certificates of `ca_file`. Built with an explicit provider, so the library never installs a
/// process-wide rustls default behind a host's back. Loading the OS store costs tens of
/// milliseconds, so the default configuration is built once per process and shared.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    static DEFAULT: OnceLock<std::result::Result<rustls::ClientConfig, String>> = OnceLock::new();
    let Some(path) = ca_file else {
        return DEFAULT
            .get_or_init(|| build_tls(Vec::new()).map_err(|e| e.to_string()))
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
    build_tls(certs)
        .map_err(|e| Error::config(format!("config key \"ca_file\": {}: {e}", path.display())))
}

fn build_tls(
    extra_roots: Vec<CertificateDer<'static>>,
) -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // the platform verifier *is* full verification; nothing is disabled
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

impl Transport {
    pub fn new(cfg: &Config) -> Result<Transport> {
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(cfg.ca_file.as_deref())?)
            // Never follow redirects: the token and the Authorization header must not travel
            // to a host the configuration did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true);
        if let Some(p) = &cfg.proxy {
            let proxy = reqwest::Proxy::all(p.as_str())
                .map_err(|_| Error::config("config key \"proxy\" is not usable"))?;
            b = b.proxy(proxy);
        }
        let http = b.build().map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("cannot set up the HTTP client: {}", root_cause(&e)),
            )
        })?;
        Ok(Transport { http })
    }

    /// Sends one request and reads the whole reply (at most `max_body` bytes) within `timeout`.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<bytes::Bytes>,
        timeout: Duration,
        max_body: usize,
    ) -> std::result::Result<HttpResponse, SendError> {
        let host = url.host_str().unwrap_or("?").to_string();
        let attempt = async {
            let mut req = self.http.request(method, url.as_str()).headers(headers);
            if let Some(b) = body {
                req = req.body(b);
            }
            let mut resp = req.send().await.map_err(|e| classify(&e, &host))?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            if let Some(len) = resp.content_length() {
                if len > max_body as u64 {
                    return Err(too_large(status, &headers, max_body));
                }
            }
            // Sized from Content-Length when given; growth wipes the old buffer (the body may
            // be a token reply).
            let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
            while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e, &host))? {
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
}

fn too_large(status: u16, headers: &HeaderMap, max: usize) -> SendError {
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
