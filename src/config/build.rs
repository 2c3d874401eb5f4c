//! Building a [`Config`] from the caller's JSON object and the environment: one small function
//! per group of keys, called in the order their errors are reported (typed keys first, so a
//! wrong value is reported even when endpoints are missing too).

use std::path::PathBuf;
use std::time::Duration;

use ::url::Url;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::*;
use crate::error::{Error, Result};

type Obj = Map<String, Value>;

pub(super) fn build(obj: &Obj, env: &dyn Env) -> Result<Config> {
    let client_auth = client_auth(obj)?;
    let scope = opt_string(obj, "scope")?.filter(|s| !s.is_empty());
    let timing = Timing::parse(obj)?;
    let net = Network::parse(obj)?;
    let sharing = Sharing::parse(obj, env)?;
    let platform = platform(obj)?;
    check_platform_keys(obj, platform)?;
    let gateway = gateway::Gateway::parse(obj)?;
    let client_identity = tls_identity::ClientIdentity::from_config(obj)?;
    let assertion_key = assertion_key::AssertionKey::from_config(obj, env)?;
    let secret_needed = client_auth::secret_needed(
        client_auth,
        assertion_key.is_some(),
        client_identity.is_some(),
    )?;
    check_gateway_keys(obj, platform, gateway.as_ref())?;
    let legacy = cxone_legacy(obj)?;
    let ep = endpoints(obj, env, platform, gateway.as_ref(), legacy)?;
    let (client_id, client_secret) = client_credentials(obj, env, platform, legacy, secret_needed)?;
    let grant = grant(obj, env, platform, legacy)?;
    Ok(Config {
        platform,
        token_url: ep.token_url,
        api_base: ep.api_base,
        issuer: ep.issuer,
        client_id,
        client_secret,
        client_auth,
        grant,
        scope,
        refresh_margin: timing.refresh_margin,
        refresh_at_fraction: timing.refresh_at_fraction,
        token_idle_timeout: timing.token_idle_timeout,
        rate_limit_pacing: timing.rate_limit_pacing,
        token_pool_size: timing.token_pool_size,
        token_pool_fill_interval: timing.token_pool_fill_interval,
        pool_slot: 0,
        timeout: timing.timeout,
        deadline: timing.deadline,
        max_retries: timing.max_retries,
        retry_non_idempotent: timing.retry_non_idempotent,
        max_retry_after: timing.max_retry_after,
        backoff_base: timing.backoff_base,
        backoff_max: timing.backoff_max,
        max_body_bytes: timing.max_body_bytes,
        user_agent: net.user_agent,
        proxy: net.proxy,
        token_proxy: net.token_proxy,
        api_proxy: net.api_proxy,
        ca_file: net.ca_file,
        token_cache: sharing.token_cache,
        token_cache_prefix: sharing.token_cache_prefix,
        metrics_name: sharing.metrics_name,
        gateway,
        client_identity,
        assertion_key,
    })
}

fn client_auth(obj: &Obj) -> Result<Option<ClientAuth>> {
    match opt_string(obj, "client_auth")?.as_deref() {
        None => Ok(None),
        Some("basic") => Ok(Some(ClientAuth::Basic)),
        Some("body") => Ok(Some(ClientAuth::Body)),
        Some("private_key_jwt") => Ok(Some(ClientAuth::PrivateKeyJwt)),
        Some("tls_client_auth") => Ok(Some(ClientAuth::TlsClientAuth)),
        Some(_) => Err(Error::config(
            "config key \"client_auth\" must be \"basic\", \"body\", \"private_key_jwt\" or \"tls_client_auth\"",
        )),
    }
}

/// Token timing, timeouts, retries and limits.
struct Timing {
    refresh_margin: Duration,
    refresh_at_fraction: f64,
    token_idle_timeout: Duration,
    rate_limit_pacing: bool,
    token_pool_size: usize,
    token_pool_fill_interval: Duration,
    timeout: Duration,
    deadline: Duration,
    max_retries: u32,
    retry_non_idempotent: bool,
    max_retry_after: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    max_body_bytes: usize,
}

impl Timing {
    fn parse(obj: &Obj) -> Result<Timing> {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let (lo, hi) = REFRESH_AT_FRACTION_RANGE;
        Ok(Timing {
            refresh_margin: secs(
                opt_u64(obj, "refresh_margin_s", 0, 86_400)?.unwrap_or(DEFAULT_REFRESH_MARGIN_S),
            ),
            refresh_at_fraction: json::opt_fraction(obj, "refresh_at_fraction", lo, hi)?
                .unwrap_or(DEFAULT_REFRESH_AT_FRACTION),
            token_idle_timeout: secs(opt_u64(obj, "token_idle_timeout_s", 0, 86_400)?.unwrap_or(0)),
            rate_limit_pacing: opt_bool(obj, "rate_limit_pacing")?.unwrap_or(true),
            token_pool_size: opt_u64(obj, "token_pool_size", 1, MAX_TOKEN_POOL_SIZE)?.unwrap_or(1)
                as usize,
            token_pool_fill_interval: ms(opt_u64(
                obj,
                "token_pool_fill_interval_ms",
                0,
                3_600_000,
            )?
            .unwrap_or(DEFAULT_TOKEN_POOL_FILL_INTERVAL_MS)),
            timeout: ms(opt_u64(obj, "timeout_ms", 1, 3_600_000)?.unwrap_or(DEFAULT_TIMEOUT_MS)),
            deadline: ms(opt_u64(obj, "deadline_ms", 1, 86_400_000)?.unwrap_or(DEFAULT_DEADLINE_MS)),
            max_retries: opt_u64(obj, "max_retries", 0, 100)?.unwrap_or(DEFAULT_MAX_RETRIES) as u32,
            retry_non_idempotent: opt_bool(obj, "retry_non_idempotent")?.unwrap_or(false),
            max_retry_after: secs(
                opt_u64(obj, "max_retry_after_s", 0, 86_400)?.unwrap_or(DEFAULT_MAX_RETRY_AFTER_S),
            ),
            backoff_base: ms(
                opt_u64(obj, "backoff_base_ms", 1, 600_000)?.unwrap_or(DEFAULT_BACKOFF_BASE_MS)
            ),
            backoff_max: ms(
                opt_u64(obj, "backoff_max_ms", 1, 3_600_000)?.unwrap_or(DEFAULT_BACKOFF_MAX_MS)
            ),
            max_body_bytes: opt_u64(obj, "max_body_bytes", 1024, 1 << 32)?
                .unwrap_or(DEFAULT_MAX_BODY_BYTES) as usize,
        })
    }
}

/// How the client reaches the servers.
struct Network {
    user_agent: String,
    proxy: Option<Url>,
    /// Override `proxy` for the login and discovery requests, and for the API requests.
    token_proxy: Option<Url>,
    api_proxy: Option<Url>,
    ca_file: Option<PathBuf>,
}

impl Network {
    fn parse(obj: &Obj) -> Result<Network> {
        let user_agent = opt_string(obj, "user_agent")?
            .unwrap_or_else(|| format!("cxoauth/{}", env!("CARGO_PKG_VERSION")));
        if user_agent.is_empty() || user_agent.chars().any(char::is_control) {
            return Err(Error::config(
                "config key \"user_agent\" must be non-empty without control characters",
            ));
        }
        let proxy = opt_string(obj, "proxy")?
            .map(|p| proxy_url(&p))
            .transpose()?;
        let (token_proxy, api_proxy) = (
            proxy::parse(obj, "token_proxy")?,
            proxy::parse(obj, "api_proxy")?,
        );
        let ca_file = opt_string(obj, "ca_file")?.map(PathBuf::from);
        if let Some(p) = &ca_file {
            if !p.is_file() {
                return Err(Error::config(format!(
                    "config key \"ca_file\": {} is not a readable file",
                    p.display()
                )));
            }
        }
        Ok(Network {
            user_agent,
            proxy,
            token_proxy,
            api_proxy,
            ca_file,
        })
    }
}

fn proxy_url(p: &str) -> Result<Url> {
    let u = Url::parse(p)
        .map_err(|e| Error::config(format!("config key \"proxy\" is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(Error::config(
            "config key \"proxy\" must be an http, https or socks5 URL",
        ));
    }
    Ok(u)
}

/// Sharing tokens with other processes, and the name the metrics carry.
struct Sharing {
    token_cache: CacheSetting,
    token_cache_prefix: String,
    metrics_name: Option<String>,
}

impl Sharing {
    fn parse(obj: &Obj, env: &dyn Env) -> Result<Sharing> {
        let token_cache = match opt_string(obj, "token_cache")? {
            Some(t) => CacheSetting::parse(&t)?,
            None => match env.get("CXOAUTH_TOKEN_CACHE") {
                Some(t) => CacheSetting::parse(&t).map_err(|_| {
                    Error::config(
                        "CXOAUTH_TOKEN_CACHE must be \"memory\", \"file:///dir\", \"redis://...\" or \"rediss://...\"",
                    )
                })?,
                None => CacheSetting::Memory,
            },
        };
        let token_cache_prefix = match opt_string(obj, "token_cache_prefix")? {
            Some(p) => p,
            None => env
                .get("CXOAUTH_TOKEN_CACHE_PREFIX")
                .unwrap_or_else(|| DEFAULT_PREFIX.to_string()),
        };
        check_prefix(&token_cache_prefix)?;
        let metrics_name = opt_string(obj, "metrics_name")?;
        if let Some(n) = &metrics_name {
            check_metrics_name(n)?;
        }
        Ok(Sharing {
            token_cache,
            token_cache_prefix,
            metrics_name,
        })
    }
}

fn platform(obj: &Obj) -> Result<Platform> {
    match opt_string(obj, "platform")?.as_deref() {
        Some("genesys") => Ok(Platform::Genesys),
        Some("cxone") => Ok(Platform::Cxone),
        Some("generic") => Ok(Platform::Generic),
        Some(_) => Err(Error::config(
            "config key \"platform\" must be \"genesys\", \"cxone\" or \"generic\"",
        )),
        None if obj.contains_key("issuer") => Ok(Platform::Generic),
        None => Ok(Platform::Genesys),
    }
}

/// Keys of another platform are refused, not ignored.
fn check_platform_keys(obj: &Obj, platform: Platform) -> Result<()> {
    let forbidden: &[&str] = match platform {
        Platform::Genesys => &[
            "issuer",
            "access_key_id",
            "access_key_secret",
            "cxone_grant",
            "cxone_area",
        ],
        Platform::Generic => &[
            "region",
            "access_key_id",
            "access_key_secret",
            "cxone_grant",
            "cxone_area",
        ],
        Platform::Cxone => &["region"],
    };
    match forbidden.iter().find(|k| obj.contains_key(**k)) {
        Some(k) => Err(Error::config(format!(
            "config key \"{k}\" is not used with platform \"{}\"",
            platform.name()
        ))),
        None => Ok(()),
    }
}

/// With a gateway, the keys that name endpoints are refused: the gateway gives them.
fn check_gateway_keys(
    obj: &Obj,
    platform: Platform,
    gateway: Option<&gateway::Gateway>,
) -> Result<()> {
    if gateway.is_none() {
        return Ok(());
    }
    let replaced: &[&str] = match platform {
        Platform::Cxone => &["token_url", "api_base"],
        _ => &["region", "token_url", "api_base", "issuer"],
    };
    match replaced.iter().find(|k| obj.contains_key(**k)) {
        Some(k) => Err(Error::config(format!(
            "config key \"{k}\" is not used with \"gateway\" (the gateway gives the endpoints)"
        ))),
        None => Ok(()),
    }
}

/// Whether the CXone legacy access-key grant is chosen (`cxone_grant`).
fn cxone_legacy(obj: &Obj) -> Result<bool> {
    match opt_string(obj, "cxone_grant")?.as_deref() {
        None | Some("password") => Ok(false),
        Some("access_key_legacy") => Ok(true),
        Some(_) => Err(Error::config(
            "config key \"cxone_grant\" must be \"password\" or \"access_key_legacy\"",
        )),
    }
}

fn endpoints(
    obj: &Obj,
    env: &dyn Env,
    platform: Platform,
    gateway: Option<&gateway::Gateway>,
    legacy: bool,
) -> Result<ConfiguredEndpoints> {
    let mut ep = match (platform, gateway) {
        (Platform::Genesys | Platform::Generic, Some(g)) => ConfiguredEndpoints {
            token_url: Some(g.token_url()),
            api_base: Some(g.api_base()),
            issuer: None,
        },
        (Platform::Genesys, None) => genesys::endpoints(obj, env)?,
        (Platform::Generic, None) => generic::endpoints(obj)?,
        (Platform::Cxone, _) => cxone::endpoints(obj)?,
    };
    if !legacy {
        if obj.contains_key("cxone_area") {
            return Err(Error::config(
                "config key \"cxone_area\" is only used with \"cxone_grant\": \"access_key_legacy\"",
            ));
        }
        return Ok(ep);
    }
    if ep.token_url.is_none() {
        let url = cxone::legacy_token_url(opt_string(obj, "cxone_area")?)?;
        ep.token_url = Some(match gateway {
            Some(g) => g.login_url(&url),
            None => url,
        });
    }
    Ok(ep)
}

/// The client id and secret: from the JSON, else from the platform's environment variables.
fn client_credentials(
    obj: &Obj,
    env: &dyn Env,
    platform: Platform,
    legacy: bool,
    secret_needed: bool,
) -> Result<(String, Zeroizing<String>)> {
    let (id_vars, secret_vars): (&[&str], &[&str]) = match platform {
        Platform::Genesys => (genesys::ID_VARS, genesys::SECRET_VARS),
        Platform::Cxone => (cxone::ID_VARS, cxone::SECRET_VARS),
        Platform::Generic => (&[], &[]),
    };
    // The legacy access-key grant authenticates no client: id and secret are optional there;
    // a client authenticating with a key or a certificate may have no secret.
    let (client_id, client_secret) = if legacy {
        (
            opt_string(obj, "client_id")?.unwrap_or_default(),
            Zeroizing::new(opt_string(obj, "client_secret")?.unwrap_or_default()),
        )
    } else if !secret_needed {
        (
            credential(obj, env, "client_id", id_vars)?,
            Zeroizing::new(client_auth::optional_secret(obj, env, secret_vars)?),
        )
    } else {
        (
            credential(obj, env, "client_id", id_vars)?,
            Zeroizing::new(credential(obj, env, "client_secret", secret_vars)?),
        )
    };
    if client_id.chars().any(char::is_control) {
        return Err(Error::config(
            "config key \"client_id\" must not contain control characters",
        ));
    }
    Ok((client_id, client_secret))
}

fn grant(obj: &Obj, env: &dyn Env, platform: Platform, legacy: bool) -> Result<Grant> {
    if platform != Platform::Cxone {
        return Ok(Grant::ClientCredentials);
    }
    let username = credential(obj, env, "access_key_id", &["CXONE_ACCESS_KEY_ID"])?;
    let password = Zeroizing::new(credential(
        obj,
        env,
        "access_key_secret",
        &["CXONE_ACCESS_KEY_SECRET"],
    )?);
    Ok(if legacy {
        Grant::AccessKeyLegacy {
            key_id: username,
            key_secret: password,
        }
    } else {
        Grant::Password { username, password }
    })
}
