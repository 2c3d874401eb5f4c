//! Minimal HTTP/1.1 server side: request parsing (httparse + Content-Length / chunked bodies)
//! and response encoding, with byte-level control over what is written.

use std::io;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A connection's byte stream: plain TCP or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Largest accepted request body (413 beyond).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Largest accepted request head (431 beyond).
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 8 * 1024;
const MAX_TRAILERS: usize = 64;

/// A fully read request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: Option<String>,
    pub http10: bool,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the connection must be closed after the response (HTTP/1.0, or
    /// `Connection: close`).
    pub fn wants_close(&self) -> bool {
        self.http10
            || self
                .header_values("connection")
                .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// Peer closed or I/O error (also EOF in the middle of a request): close silently.
    Io,
    /// Malformed request: 400, then close.
    Bad(&'static str),
    /// Request head too large / too many headers: 431, then close.
    HeadTooLarge,
    /// Body above [`MAX_BODY`]: 413, then close.
    BodyTooLarge,
    /// Unsupported transfer coding: 501, then close.
    NotImplemented,
}

impl ReadError {
    /// The response to send before closing, if any.
    pub fn response(&self) -> Option<Response> {
        match self {
            ReadError::Io => None,
            ReadError::Bad(msg) => Some(Response::text(400, &format!("bad request: {msg}\n"))),
            ReadError::HeadTooLarge => Some(Response::text(431, "request header too large\n")),
            ReadError::BodyTooLarge => Some(Response::text(
                413,
                &format!("request body larger than {MAX_BODY} bytes\n"),
            )),
            ReadError::NotImplemented => {
                Some(Response::text(501, "unsupported transfer-encoding\n"))
            }
        }
    }
}

/// One accepted connection with its read buffer.
pub struct Conn {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: impl Stream + 'static) -> Conn {
        Conn {
            stream: Box::new(stream),
            buf: Vec::with_capacity(8192),
        }
    }

    /// Reads more bytes into the buffer; returns how many (0 = EOF).
    async fn fill(&mut self) -> Result<usize, ReadError> {
        self.buf.reserve(16 * 1024);
        self.stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|_| ReadError::Io)
    }

    /// Like `fill`, but EOF is an error (we are in the middle of a request).
    async fn fill_more(&mut self) -> Result<(), ReadError> {
        match self.fill().await? {
            0 => Err(ReadError::Io),
            _ => Ok(()),
        }
    }

    /// Reads the next request. `Ok(None)` on a clean EOF between requests.
    pub async fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let (head_len, mut req) = loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = parse_head(&self.buf)? {
                    break parsed;
                }
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(ReadError::HeadTooLarge);
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::Io)
                };
            }
        };
        self.buf.drain(..head_len);

        let chunked = is_chunked(&req)?;
        let content_length = content_length(&req)?;
        if chunked && content_length.is_some() {
            return Err(ReadError::Bad("both Content-Length and Transfer-Encoding"));
        }
        let expects_continue = !req.http10
            && req
                .header("expect")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));

        if chunked {
            if expects_continue && self.buf.is_empty() {
                self.send_continue().await?;
            }
            req.body = self.read_chunked().await?;
        } else if let Some(len) = content_length {
            if len > MAX_BODY {
                return Err(ReadError::BodyTooLarge);
            }
            if expects_continue && len > self.buf.len() {
                self.send_continue().await?;
            }
            while self.buf.len() < len {
                self.fill_more().await?;
            }
            req.body = self.buf.drain(..len).collect();
        }
        Ok(Some(req))
    }

    async fn send_continue(&mut self) -> Result<(), ReadError> {
        self.stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| ReadError::Io)
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| ReadError::Bad("invalid chunk size"))?;
            if size == 0 {
                for _ in 0..MAX_TRAILERS {
                    if self.read_line().await?.is_empty() {
                        return Ok(body);
                    }
                }
                return Err(ReadError::Bad("too many trailers"));
            }
            if size > MAX_BODY - body.len() {
                return Err(ReadError::BodyTooLarge);
            }
            while self.buf.len() < size + 2 {
                self.fill_more().await?;
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(ReadError::Bad("chunk not terminated by CRLF"));
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    async fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(ReadError::Bad("line too long"));
            }
            self.fill_more().await?;
        }
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Writes `bytes` a few at a time, sleeping `interval` between pieces.
    pub async fn write_trickle(
        &mut self,
        bytes: &[u8],
        per_interval: usize,
        interval: Duration,
    ) -> io::Result<()> {
        let mut pieces = bytes.chunks(per_interval.max(1)).peekable();
        while let Some(piece) = pieces.next() {
            self.write_all(piece).await?;
            if pieces.peek().is_some() {
                tokio::time::sleep(interval).await;
            }
        }
        Ok(())
    }

    /// Graceful close: send FIN, then discard whatever the peer still sends for a short while
    /// so that unread request bytes do not turn the close into a reset (which could destroy the
    /// response in flight).
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut scratch = vec![0u8; 16 * 1024];
        let mut discarded = 0usize;
        while discarded < 4 * MAX_BODY {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Ok(Ok(n)) if n > 0 => discarded += n,
                _ => break,
            }
        }
    }
}

/// Parses the request head; `Ok(None)` when incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Request)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
        Err(_) => return Err(ReadError::Bad("malformed request head")),
    };
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default();
    if !target.starts_with('/') {
        return Err(ReadError::Bad("request target must be origin-form"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Some((
        head_len,
        Request {
            method,
            path,
            query,
            http10: parsed.version == Some(0),
            headers,
            body: Vec::new(),
        },
    )))
}

/// True for `Transfer-Encoding: chunked`, false when absent; other codings are refused.
fn is_chunked(req: &Request) -> Result<bool, ReadError> {
    let codings: Vec<String> = req
        .header_values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    match codings.as_slice() {
        [] => Ok(false),
        [only] if only == "chunked" => Ok(true),
        _ => Err(ReadError::NotImplemented),
    }
}

fn content_length(req: &Request) -> Result<Option<usize>, ReadError> {
    let mut result: Option<usize> = None;
    for value in req
        .header_values("content-length")
        .flat_map(|v| v.split(','))
    {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Bad("invalid Content-Length"));
        }
        // Overflowing values are certainly too large.
        let len = value.parse::<usize>().unwrap_or(usize::MAX);
        match result {
            Some(prev) if prev != len => {
                return Err(ReadError::Bad("conflicting Content-Length values"))
            }
            _ => result = Some(len),
        }
    }
    Ok(result)
}

/// A response to encode. `Content-Length`, `Date`, `Server` and `Connection: close` are
/// added by [`Response::encode`].
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::json_raw(status, value.to_string())
    }

    pub fn json_raw(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body)
    }

    /// Adds a header. CR and LF are removed from the value so that injected values (fault
    /// `Retry-After`, redirect `Location`) cannot break the framing.
    pub fn header(mut self, name: &str, value: &str) -> Response {
        let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        self.headers.push((name.to_string(), value));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Serializes the response. `head_only` omits the body (keeping its Content-Length);
    /// `close` adds `Connection: close`. An explicit Content-Length header is kept as is
    /// (used to announce more bytes than are sent).
    pub fn encode(&self, head_only: bool, close: bool) -> Vec<u8> {
        let bodyless = self.status < 200 || self.status == 204 || self.status == 304;
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        let date = httpdate::fmt_http_date(SystemTime::now());
        out.extend_from_slice(format!("Date: {date}\r\nServer: cxoauth-sim\r\n").as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !bodyless && !self.has_header("content-length") {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && !bodyless {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
