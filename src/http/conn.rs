//! HTTP/1.1 on a calling thread's own connections: what a blocking call sends when it runs on
//! its thread's reactor ([`crate::rt::local`]).
//!
//! hyper's connection API directly (`hyper::client::conn::http1`), TLS through tokio-rustls on
//! the same rustls configuration (trust store, `ca_file`, versions) as the process-wide pool,
//! ALPN `http/1.1`. Compared with the process-wide reqwest client this skips, per request: the
//! pool's hash map, reqwest's redirect and retry layers (each re-parses the URL), and the
//! conversions between `Url` and `Uri`; the request goes out in origin form with the `Host` the
//! URL names. Redirects are never followed on either path; nothing else differs in what is sent.
//!
//! Each thread keeps at most [`MAX_IDLE`] idle connections per client, each for at most
//! [`IDLE_TIMEOUT`]. Before an idle connection is used its socket is looked at (see
//! [`looks_alive`]): one the server closed while it sat idle is dropped, not written to. A
//! connection whose request fails before any of it was written is replaced by a new one and the
//! request sent there, whatever its method. Used only without a proxy (configured or from the environment): proxied
//! requests go through the process-wide pool.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_LENGTH, HOST, USER_AGENT};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

use crate::error::{Error, ErrorKind};
use crate::http::outgoing::Outgoing;
use crate::http::transport::{root_cause, too_large, HttpResponse, SendError};

/// Most idle connections a thread keeps for one client.
pub(crate) const MAX_IDLE: usize = 4;
/// An idle connection older than this is closed instead of used.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(PartialEq, Eq, Clone, Debug)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Origin> {
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        Some(Origin {
            tls,
            host: url.host_str()?.to_string(),
            port: url.port_or_known_default()?,
        })
    }
}

struct Idle {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
    /// The connection's socket, to look at before it is used again.
    fd: RawFd,
    since: Instant,
}

/// A connection with its socket.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    fd: RawFd,
}

/// Whether an idle HTTP/1.1 connection's socket still looks usable: nothing to read and no
/// hang-up. An idle connection has no reply coming, so anything readable is the server closing
/// it (an end of stream, a reset, a parting `408`); libcurl makes the same check before it
/// reuses a connection. One `poll` with a zero timeout.
fn looks_alive(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout. `fd` is open: its connection task (the only one
    // that closes it) runs on this thread and has not ended (the sender is not closed).
    unsafe { libc::poll(&mut p, 1, 0) == 0 }
}

/// A thread's idle connections for one client.
#[derive(Default)]
pub(crate) struct ThreadPool {
    idle: Vec<Idle>,
}

impl ThreadPool {
    /// The most recently used idle connection to `origin` that still looks usable. Expired,
    /// closed and dead ones are dropped on the way (which closes them).
    fn take(&mut self, origin: &Origin) -> Option<Conn> {
        let now = Instant::now();
        self.idle
            .retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_TIMEOUT);
        while let Some(i) = self.idle.iter().rposition(|c| c.origin == *origin) {
            let c = self.idle.swap_remove(i);
            if looks_alive(c.fd) {
                return Some(Conn {
                    sender: c.sender,
                    fd: c.fd,
                });
            }
        }
        None
    }

    fn put(&mut self, origin: Origin, conn: Conn) {
        if self.idle.len() >= MAX_IDLE {
            self.idle.remove(0);
        }
        self.idle.push(Idle {
            origin,
            sender: conn.sender,
            fd: conn.fd,
            since: Instant::now(),
        });
    }
}

/// How this client's own connections are made. Not `Debug`-printed anywhere.
pub(crate) struct Dialer {
    tls: tokio_rustls::TlsConnector,
    user_agent: HeaderValue,
    connect_timeout: Duration,
}

impl Dialer {
    /// `tls`: the client's rustls configuration (its ALPN is narrowed to `http/1.1` here).
    pub fn new(
        tls: &rustls::ClientConfig,
        user_agent: &str,
        connect_timeout: Duration,
    ) -> Option<Dialer> {
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(Dialer {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            user_agent: HeaderValue::from_str(user_agent).ok()?,
            connect_timeout,
        })
    }

    /// Sends one request on one of this thread's connections to the URL's origin (made if
    /// none is idle) and reads the whole reply, at most `max_body` bytes. The dialer is the key
    /// of its client's per-thread pools. Must run inside [`crate::rt::local::block_on`].
    pub async fn send(self: &Arc<Self>, out: Outgoing) -> Result<HttpResponse, SendError> {
        let host = out.host();
        let host = host.as_str();
        let max_body = out.max_body;
        let origin = Origin::of(&out.url).ok_or_else(|| SendError {
            error: Error::invalid("only http and https URLs can be sent"),
            retryable: false,
            sent: false,
        })?;
        let mut req = self.request(out)?;
        let mut idle = crate::http::pool::with_pool(self, |p| p.conns.take(&origin)).flatten();
        loop {
            let reused = idle.is_some();
            let mut conn = match idle.take() {
                Some(c) => c,
                None => self.connect(&origin, host).await?,
            };
            let sender = &mut conn.sender;
            if sender.ready().await.is_err() {
                if reused {
                    continue; // closed while idle: a new connection
                }
                return Err(not_sent(host));
            }
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let reply = read_reply(resp, host, max_body).await?;
                    if !conn.sender.is_closed() {
                        crate::http::pool::with_pool(self, |p| p.conns.put(origin, conn));
                    }
                    return Ok(reply);
                }
                Err(mut e) => match e.take_message() {
                    // Nothing of it was written: safe on a new connection, whatever the method.
                    Some(again) if reused => req = again,
                    Some(_) => return Err(not_sent(host)),
                    None => return Err(classify(e.error(), host)),
                },
            }
        }
    }

    fn request(&self, out: Outgoing) -> Result<Request<Full<Bytes>>, SendError> {
        let Outgoing {
            method,
            url,
            mut headers,
            body,
            ..
        } = out;
        let invalid = |what: &str| SendError {
            error: Error::invalid(format!("cannot send this URL: {what}")),
            retryable: false,
            sent: false,
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let uri = http::Uri::try_from(target).map_err(|_| invalid("bad path"))?;
        // host[:port] as the URL has it (no default port, IPv6 in brackets)
        let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let host = HeaderValue::from_str(authority).map_err(|_| invalid("bad host"))?;
        headers.insert(HOST, host);
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
    }

    /// A new connection to `origin`: TCP (with `connect_timeout`), TLS for https, the HTTP/1
    /// handshake; its task runs on this thread's reactor.
    async fn connect(&self, origin: &Origin, host: &str) -> Result<Conn, SendError> {
        let tcp = self
            .in_time(
                tcp_connect(origin),
                host,
                ErrorKind::Network,
                "cannot connect to",
            )
            .await?;
        let _ = tcp.set_nodelay(true);
        let fd = tcp.as_raw_fd();
        if !origin.tls {
            let sender = handshake(tcp, host).await?;
            return Ok(Conn { sender, fd });
        }
        let name = rustls::pki_types::ServerName::try_from(origin.host.trim_matches(['[', ']']))
            .map_err(|_| not_connected(ErrorKind::Tls, format!("{host} is not a TLS server name")))?
            .to_owned();
        let tls = self
            .in_time(
                self.tls.connect(name, tcp),
                host,
                ErrorKind::Tls,
                "TLS failure with",
            )
            .await?;
        let sender = handshake(tls, host).await?;
        Ok(Conn { sender, fd })
    }

    /// A step of making a connection (nothing of the request is sent yet), within
    /// `connect_timeout`: its failure is `kind`, "`what` `host`: cause".
    async fn in_time<T>(
        &self,
        step: impl std::future::Future<Output = std::io::Result<T>>,
        host: &str,
        kind: ErrorKind,
        what: &str,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.connect_timeout, step).await {
            Err(_) => Err(not_connected(
                ErrorKind::Timeout,
                format!("timeout talking to {host}"),
            )),
            Ok(Err(e)) => Err(not_connected(
                kind,
                format!("{what} {host}: {}", root_cause(&e)),
            )),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

async fn tcp_connect(origin: &Origin) -> std::io::Result<tokio::net::TcpStream> {
    let literal = origin.host.trim_matches(['[', ']']).parse::<IpAddr>();
    let addrs: Vec<SocketAddr> = match literal {
        Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
        Err(_) => crate::http::transport::lookup(&origin.host, origin.port).await?,
    };
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the name has no address")))
}

async fn handshake<IO>(io: IO, host: &str) -> Result<SendRequest<Full<Bytes>>, SendError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| SendError {
            error: Error::new(
                ErrorKind::Network,
                format!("cannot connect to {host}: {}", root_cause(&e)),
            ),
            retryable: true,
            sent: false,
        })?;
    // The connection's task: on this thread's reactor (we are inside its block_on), so it
    // only runs while this thread is in a blocking call; it ends when its sender is dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn read_reply(
    resp: http::Response<hyper::body::Incoming>,
    host: &str,
    max_body: usize,
) -> Result<HttpResponse, SendError> {
    let (parts, mut incoming) = resp.into_parts();
    let status = parts.status.as_u16();
    let length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > max_body as u64) {
        return Err(too_large(status, &parts.headers, max_body));
    }
    // One byte more: the C ABI appends a NUL.
    let mut body = Vec::with_capacity(length.unwrap_or(0) as usize + 1);
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| {
            zeroize::Zeroize::zeroize(&mut body);
            classify(&e, host)
        })?;
        if let Ok(chunk) = frame.into_data() {
            if body.len() + chunk.len() > max_body {
                zeroize::Zeroize::zeroize(&mut body);
                return Err(too_large(status, &parts.headers, max_body));
            }
            crate::secret::append_wiping(&mut body, &chunk);
        }
    }
    Ok(HttpResponse {
        status,
        headers: parts.headers,
        body,
    })
}

/// A connection that could not be made: nothing was sent; retryable unless TLS failed.
fn not_connected(kind: ErrorKind, message: String) -> SendError {
    SendError {
        error: Error::new(kind, message),
        retryable: kind != ErrorKind::Tls,
        sent: false,
    }
}

/// A new connection that closed before any of the request was written: safe to send again,
/// whatever the method.
fn not_sent(host: &str) -> SendError {
    SendError {
        error: Error::new(
            ErrorKind::Network,
            format!("connection to {host} closed before the request was sent"),
        ),
        retryable: true,
        sent: false,
    }
}

/// A failure after the connection was made: part of the request may have been sent.
fn classify(e: &hyper::Error, host: &str) -> SendError {
    if e.is_timeout() {
        return SendError {
            error: Error::new(ErrorKind::Timeout, format!("timeout talking to {host}")),
            retryable: true,
            sent: true,
        };
    }
    let what = if e.is_incomplete_message() || e.is_body_write_aborted() || e.is_canceled() {
        "reply broke off from"
    } else {
        "request failed to"
    };
    SendError {
        error: Error::new(
            ErrorKind::Network,
            format!("{what} {host}: {}", root_cause(e)),
        ),
        retryable: true,
        sent: true,
    }
}
