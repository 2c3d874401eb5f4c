//! Per-endpoint proxies: `token_proxy` (token endpoint and discovery) and `api_proxy` (API
//! requests) override `proxy` on their side. Loopback targets bypass every proxy, and so do
//! the hosts `NO_PROXY` / `no_proxy` name (read when the client is made), configured proxies
//! included; a proxy from the environment (`HTTPS_PROXY`) applies where none is configured,
//! as for `proxy`.

use serde_json::{Map, Value};
use url::Url;

use crate::config::{opt_string, Config};
use crate::error::{Error, Result};

/// A proxy URL under `key` (http, https or socks5), if given.
pub(crate) fn parse(obj: &Map<String, Value>, key: &str) -> Result<Option<Url>> {
    let Some(p) = opt_string(obj, key)?.map(zeroize::Zeroizing::new) else {
        return Ok(None);
    };
    // the URL may hold a password: the parser's error text is not repeated
    let u =
        Url::parse(&p).map_err(|_| Error::config(format!("config key \"{key}\" is not a URL")))?;
    if !matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(Error::config(format!(
            "config key \"{key}\" must be an http, https or socks5 URL"
        )));
    }
    Ok(Some(u))
}

/// Which side of the client a connection serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Token endpoint and discovery documents.
    Login,
    /// API requests.
    Api,
}

impl Config {
    /// The configured proxy for `side` (`token_proxy` / `api_proxy`, else `proxy`) and the
    /// configuration key it came from.
    pub fn proxy_for(&self, side: Side) -> Option<(&Url, &'static str)> {
        let own = match side {
            Side::Login => self.token_proxy.as_ref().map(|u| (u, "token_proxy")),
            Side::Api => self.api_proxy.as_ref().map(|u| (u, "api_proxy")),
        };
        own.or(self.proxy.as_ref().map(|u| (u, "proxy")))
    }

    /// Whether the two sides use different proxies (then each has its own connections).
    pub fn split_proxies(&self) -> bool {
        self.proxy_for(Side::Login).map(|p| p.0) != self.proxy_for(Side::Api).map(|p| p.0)
    }
}
