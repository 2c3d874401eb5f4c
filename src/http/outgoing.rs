//! One outgoing request, the value [`crate::http::transport::Transport::send`] passes down to
//! the process-wide pool's attempt or to the calling thread's own connections.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use url::Url;

/// No `Debug`: the headers may carry the bearer token or a client's Basic credentials.
pub struct Outgoing {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// The whole exchange, connecting included, ends within it.
    pub timeout: Duration,
    /// The longest reply body read; a longer one is an error.
    pub max_body: usize,
}

impl Outgoing {
    /// The host named in error messages ("?" when the URL has none).
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or("?").to_string()
    }
}
