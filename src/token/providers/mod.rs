//! Token providers: how a token is obtained from the configured server.
//!
//! Genesys Cloud (region → URLs, see [`crate::config::genesys`]), NICE CXone ([`cxone`]) and any generic
//! OAuth2 server share what is implemented here: OpenID discovery of the token endpoint
//! ([`discovery`]), token request building (client credentials, password, refresh token),
//! reply parsing and the token endpoint's retry policy. [`Provider`] holds what a client
//! learns along the way: the discovered endpoints, the refresh token, the CXone API base.

pub mod assertion;
pub mod cxone;
pub mod discovery;
pub mod form;
pub mod reply;

pub use form::{form_encode, token_request};
pub use reply::parse_token_reply;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use zeroize::Zeroizing;

use crate::config::{ClientAuth, Config, Credentials, Grant};
use crate::error::{Error, ErrorKind, Result};
use crate::http::outgoing::Outgoing;
use crate::http::retry::{drive, Attempt, Policy, Verdict};
use crate::http::transport::Transport;
use discovery::Endpoints;
use reqwest::header::HeaderMap;
use url::Url;

/// Token replies larger than this are not tokens.
pub const MAX_TOKEN_REPLY_BYTES: usize = 1024 * 1024;
/// Longest lifetime believed from `expires_in` (a larger value is clamped to this).
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// A token as granted by the server.
pub struct TokenGrant {
    pub access_token: Zeroizing<String>,
    pub expires_in: Duration,
    /// Renews the token without the primary credentials (CXone).
    pub refresh_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// One token exchange under the retry policy ([`crate::http::retry::Policy`]): rate limits, 5xx and
/// connection errors back off and retry; rejected credentials and malformed replies do not.
/// `build` makes each attempt's headers and body (fresh, wiped buffers every time).
pub async fn exchange(
    transport: &Transport,
    cfg: &Config,
    token_url: &Url,
    secrets: &[&str],
    build: impl Fn() -> Result<(HeaderMap, bytes::Bytes)>,
    deadline: Instant,
) -> Result<TokenGrant> {
    let host = token_url.host_str().unwrap_or("?").to_string();
    let mut policy = Policy::new(cfg, deadline);
    drive(&mut policy, |_| async {
        let (headers, body) = match build() {
            Ok(hb) => hb,
            Err(e) => return Attempt::done(Err(e)),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Attempt::done(Err(deadline_error(cfg)));
        }
        let sent = transport
            .send(Outgoing {
                method: Method::POST,
                url: token_url.clone(),
                headers,
                body: Some(body),
                timeout: cfg.timeout.min(remaining),
                max_body: MAX_TOKEN_REPLY_BYTES,
            })
            .await;
        match sent {
            Ok(mut resp) => {
                let corr = resp.correlation_id();
                let parsed = reply::parse_token_reply(
                    resp.status,
                    resp.header("Retry-After"),
                    &resp.body,
                    &host,
                    secrets,
                );
                resp.wipe_body();
                match parsed {
                    Ok(grant) => Attempt::done(Ok(grant)),
                    Err((e, verdict)) => Attempt {
                        value: Err(e.with_correlation_id(corr)),
                        verdict,
                    },
                }
            }
            Err(se) => Attempt {
                verdict: if se.retryable {
                    Verdict::Backoff
                } else {
                    Verdict::Final
                },
                value: Err(se.error),
            },
        }
    })
    .await
}

/// A form-encoded token exchange (RFC 6749) with `params` and the client's authentication.
pub async fn form_exchange(
    transport: &Transport,
    cfg: &Config,
    ep: &Endpoints,
    params: &[(&str, &str)],
    deadline: Instant,
) -> Result<TokenGrant> {
    let secrets = secrets_of(cfg, params);
    exchange(
        transport,
        cfg,
        &ep.token_url,
        &secrets,
        || form::token_request(cfg, ep.client_auth, &ep.token_url, params),
        deadline,
    )
    .await
}

/// Every secret a token request carries: the configured ones and secret grant parameters
/// (a refresh token, a password), for scrubbing server text.
fn secrets_of<'a>(cfg: &'a Config, params: &'a [(&'a str, &'a str)]) -> Vec<&'a str> {
    let mut s = cfg.secrets();
    s.extend(
        params
            .iter()
            .filter(|(k, _)| matches!(*k, "refresh_token" | "password"))
            .map(|(_, v)| *v),
    );
    s
}

/// Which client authentication worked, per (token endpoint, client id), for the life of the
/// process.
mod auth_choice {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use crate::config::ClientAuth;

    type Key = (String, String);
    static CHOICE: Mutex<Option<HashMap<Key, ClientAuth>>> = Mutex::new(None);

    pub fn get(key: &Key) -> Option<ClientAuth> {
        let g = CHOICE.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().and_then(|m| m.get(key).copied())
    }

    pub fn set(key: Key, auth: ClientAuth) {
        let mut g = CHOICE.lock().unwrap_or_else(|p| p.into_inner());
        g.get_or_insert_with(HashMap::new).insert(key, auth);
    }
}

/// The per-client token source: the configured grant against the configured or discovered
/// token endpoint, refresh tokens when the server gives them, and the API base.
pub struct Provider {
    /// The configuration, replaced whole by [`Provider::set_credentials`] (credential rotation):
    /// each fetch works with the one it loaded.
    cfg: arc_swap::ArcSwap<Config>,
    endpoints: tokio::sync::OnceCell<Endpoints>,
    refresh_token: Mutex<Option<Zeroizing<String>>>,
    api_base: tokio::sync::OnceCell<Url>,
}

impl Provider {
    /// A copy for a forked child (see `token::Live`): what was learnt (endpoints, API base,
    /// refresh token) is kept; a discovery that was in progress on a parent thread is not.
    pub fn fork_copy(&self) -> Provider {
        let refresh = match self.refresh_token.try_lock() {
            Ok(g) => g.clone(),
            Err(_) => None, // held by a thread that does not exist in the child
        };
        Provider {
            cfg: arc_swap::ArcSwap::new(self.cfg.load_full()),
            endpoints: match self.endpoints.get() {
                Some(e) => tokio::sync::OnceCell::new_with(Some(e.clone())),
                None => tokio::sync::OnceCell::new(),
            },
            refresh_token: Mutex::new(refresh),
            api_base: match self.api_base.get() {
                Some(u) => tokio::sync::OnceCell::new_with(Some(u.clone())),
                None => tokio::sync::OnceCell::new(),
            },
        }
    }

    pub fn new(cfg: Arc<Config>) -> Provider {
        let api_base = tokio::sync::OnceCell::new_with(cfg.api_base.clone());
        Provider {
            cfg: arc_swap::ArcSwap::new(cfg),
            endpoints: tokio::sync::OnceCell::new(),
            refresh_token: Mutex::new(None),
            api_base,
        }
    }

    /// The token endpoint and client authentication: configured, or discovered once from the
    /// issuer and kept for the client's lifetime (a failed discovery is tried again next time).
    async fn endpoints(&self, transport: &Transport, deadline: Instant) -> Result<&Endpoints> {
        self.endpoints
            .get_or_try_init(|| async {
                let cfg = &*self.cfg.load_full();
                match (&cfg.token_url, &cfg.issuer) {
                    (Some(url), _) => Ok(Endpoints {
                        token_url: url.clone(),
                        client_auth: cfg.client_auth.unwrap_or(if cfg.assertion_by_default() {
                            ClientAuth::PrivateKeyJwt
                        } else {
                            ClientAuth::Basic
                        }),
                        fallback_auth: None,
                    }),
                    (None, Some(issuer)) => {
                        let mut ep = discovery::discover(transport, cfg, issuer, deadline).await?;
                        if let Some(g) = &cfg.gateway {
                            ep.token_url = g.login_url(&ep.token_url);
                        }
                        Ok(ep)
                    }
                    (None, None) => Err(Error::config("no token endpoint configured")),
                }
            })
            .await
    }

    /// Obtains a new token. With a refresh token from an earlier reply, the refresh grant is
    /// tried first; if the server rejects it, the primary grant is used.
    pub async fn fetch(&self, transport: &Transport, deadline: Instant) -> Result<TokenGrant> {
        let ep = self.endpoints(transport, deadline).await?;
        let cfg = self.cfg.load_full();
        let stored = self.lock_refresh().take();
        if let Some(rt) = stored {
            let params = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            match form_exchange(transport, &cfg, ep, &params, deadline).await {
                Ok(grant) => return Ok(self.keep_refresh(grant)),
                // rejected (expired, revoked, rotated): fall back to the primary grant
                Err(e) if matches!(e.kind, ErrorKind::Auth | ErrorKind::Protocol) => {}
                Err(e) => {
                    // transient: keep the refresh token for the next attempt
                    *self.lock_refresh() = Some(rt);
                    return Err(e);
                }
            }
        }
        let grant = match &cfg.grant {
            Grant::ClientCredentials => {
                let params = [("grant_type", "client_credentials")];
                self.form_grant(&cfg, transport, ep, &params, deadline)
                    .await?
            }
            Grant::Password { username, password } => {
                let params = [
                    ("grant_type", "password"),
                    ("username", username.as_str()),
                    ("password", password.as_str()),
                ];
                self.form_grant(&cfg, transport, ep, &params, deadline)
                    .await?
            }
            Grant::AccessKeyLegacy { key_id, key_secret } => {
                // Renewal repeats this request: a refresh token in the reply is not used.
                let mut g = exchange(
                    transport,
                    &cfg,
                    &ep.token_url,
                    &cfg.secrets(),
                    || Ok(cxone::legacy_request(key_id, key_secret)),
                    deadline,
                )
                .await?;
                g.refresh_token = None;
                return Ok(g);
            }
        };
        Ok(self.keep_refresh(grant))
    }

    /// A form-encoded grant with the client authentication that works for this client: the
    /// configured or discovered one first — or the one remembered for this token endpoint and
    /// client id. When discovery advertised both `client_secret_basic` and
    /// `client_secret_post` and the first is answered `invalid_client`, the other is tried
    /// once, and remembered (process-wide) if it works.
    async fn form_grant(
        &self,
        cfg: &Config,
        transport: &Transport,
        ep: &Endpoints,
        params: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<TokenGrant> {
        let key = (ep.token_url.to_string(), cfg.client_id.clone());
        let first = auth_choice::get(&key).unwrap_or(ep.client_auth);
        let with = |auth| Endpoints {
            client_auth: auth,
            ..ep.clone()
        };
        let r = form_exchange(transport, cfg, &with(first), params, deadline).await;
        let other = ep.alternative_to(first);
        match (r, other) {
            (Err(e), Some(other)) if e.oauth_code.as_deref() == Some("invalid_client") => {
                let r = form_exchange(transport, cfg, &with(other), params, deadline).await;
                if r.is_ok() {
                    auth_choice::set(key, other);
                }
                r
            }
            (r, _) => r,
        }
    }

    /// The client authentication in use, once the token endpoint is known (configured, or
    /// after discovery): the one remembered as working, else the configured or discovered one.
    pub fn client_auth_in_use(&self) -> Option<ClientAuth> {
        let ep = self.endpoints.get()?;
        let key = (ep.token_url.to_string(), self.cfg.load().client_id.clone());
        Some(auth_choice::get(&key).unwrap_or(ep.client_auth))
    }

    /// The configuration now in use (after any credential rotation).
    pub fn config(&self) -> Arc<Config> {
        self.cfg.load_full()
    }

    /// Rotates the client credentials (and the CXone access key they may carry): the next
    /// fetch uses them; the refresh token of the old ones is dropped.
    pub fn set_credentials(&self, creds: &Credentials) -> Result<()> {
        let cfg = creds.apply(&self.cfg.load_full())?;
        self.cfg.store(Arc::new(cfg));
        *self.lock_refresh() = None;
        Ok(())
    }

    fn lock_refresh(&self) -> std::sync::MutexGuard<'_, Option<Zeroizing<String>>> {
        self.refresh_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep_refresh(&self, mut grant: TokenGrant) -> TokenGrant {
        if let Some(rt) = grant.refresh_token.take() {
            *self.lock_refresh() = Some(rt);
        }
        grant
    }

    /// The API base, if already known (configured or discovered).
    pub fn known_api_base(&self) -> Option<&Url> {
        self.api_base.get()
    }

    /// The API base: configured, or (CXone) discovered once from the tenant in `access_token`.
    pub async fn api_base(
        &self,
        transport: &Transport,
        access_token: &str,
        deadline: Instant,
    ) -> Result<&Url> {
        self.api_base
            .get_or_try_init(|| async {
                let cfg = self.cfg.load_full();
                let Some(issuer) = &cfg.issuer else {
                    return Err(Error::config("no API base configured (\"api_base\")"));
                };
                let tenant = cxone::tenant_from_jwt(access_token)?;
                let base =
                    discovery::cxone_api_base(transport, &cfg, issuer, &tenant, deadline).await?;
                Ok(match &cfg.gateway {
                    Some(g) => g.api_url(&base),
                    None => base,
                })
            })
            .await
    }
}

pub fn deadline_error(cfg: &Config) -> Error {
    deadline_error_after(cfg.deadline)
}

/// The error of a call whose deadline (the client's, or the call's own `deadline_ms` option)
/// of `deadline` passed.
pub fn deadline_error_after(deadline: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "deadline of {} ms exceeded (deadline_ms)",
            deadline.as_millis()
        ),
    )
}
