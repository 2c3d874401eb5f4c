//! The `redis://` / `rediss://` backend (Redis or Valkey, through redis-rs on tokio): the
//! sealed entry under `{prefix}:token:{key}` with a time to live; single-flight through a lease
//! (`SET {prefix}:lease:{key} owner NX PX lease`, longer than a fetch's deadline, released by
//! compare-and-delete), waiters woken by pub/sub on `{prefix}:ready:{key}` with polling as a
//! fallback; a lease whose holder died expires and is taken over.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

use super::{Acquired, Entry, Lock};
use crate::config::Config;
use crate::error::{Error, Result};

/// Every Redis round trip (and connecting) must answer within this.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// A waiter looks again at least this often (pub/sub usually wakes it first).
const POLL: Duration = Duration::from_millis(100);

const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

pub struct RedisCache {
    client: redis::Client,
    entry: String,
    lease: String,
    channel: String,
    limit: String,
    lease_ttl: Duration,
    /// One multiplexed connection per process (fork epoch), made on first use.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Scrubs the URL's password out of redis-rs messages.
    password: Option<String>,
}

/// This process's lease on the entry.
pub struct Lease {
    owner: String,
}

impl RedisCache {
    pub fn new(url: &str, prefix: &str, key: &str, cfg: &Config) -> Result<RedisCache> {
        let parsed = url::Url::parse(url)
            .map_err(|_| Error::config("config key \"token_cache\": not a valid redis:// URL"))?;
        let password = parsed.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        });
        let client = if parsed.scheme() == "rediss" {
            // redis-rs builds its rustls configuration with the process-default provider.
            let _ = rustls::crypto::ring::default_provider().install_default();
            match &cfg.ca_file {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        Error::config(format!(
                            "config key \"ca_file\": cannot read {}: {e}",
                            path.display()
                        ))
                    })?;
                    redis::Client::build_with_tls(
                        url,
                        redis::TlsCertificates {
                            client_tls: None,
                            root_cert: Some(pem),
                        },
                    )
                }
                None => redis::Client::open(url),
            }
        } else {
            redis::Client::open(url)
        }
        .map_err(|_| Error::config("config key \"token_cache\": not a usable redis URL"))?;
        Ok(RedisCache {
            client,
            entry: format!("{prefix}:token:{key}"),
            lease: format!("{prefix}:lease:{key}"),
            channel: format!("{prefix}:ready:{key}"),
            limit: format!("{prefix}:ratelimit:{key}"),
            lease_ttl: cfg.deadline + Duration::from_secs(5),
            conn: Mutex::new(None),
            password,
        })
    }

    fn scrub(&self, e: &dyn std::fmt::Display) -> String {
        let text = e.to_string();
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "<redacted>"),
            _ => text,
        }
    }

    async fn connection(&self) -> std::result::Result<MultiplexedConnection, String> {
        let epoch = crate::process::epoch();
        if let Some((e, c)) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if *e == epoch {
                return Ok(c.clone());
            }
        }
        let c = tokio::time::timeout(OP_TIMEOUT, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| self.scrub(&e))?;
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some((epoch, c.clone()));
        Ok(c)
    }

    /// Runs one command with a timeout; a failure drops the connection (made again next time).
    async fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    ) -> std::result::Result<T, String> {
        let mut c = self.connection().await?;
        let r = tokio::time::timeout(OP_TIMEOUT, f(&mut c)).await;
        let r = match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.scrub(&e)),
            Err(_) => Err("no answer in time".to_string()),
        };
        if r.is_err() {
            *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        r
    }

    pub async fn load(&self) -> std::result::Result<Option<String>, String> {
        let key = self.entry.clone();
        self.run(async move |c| c.get::<_, Option<String>>(key).await)
            .await
    }

    pub async fn acquire(
        &self,
        deadline: Instant,
        fresh: impl Fn(&str) -> Option<Entry>,
    ) -> std::result::Result<Acquired, String> {
        let owner = format!(
            "{}-{}-{:016x}",
            std::process::id(),
            crate::process::epoch(),
            fastrand::u64(..)
        );
        // Subscribed before looking, so a store between the look and the wait still wakes us.
        let mut sub = match tokio::time::timeout(OP_TIMEOUT, self.client.get_async_pubsub()).await {
            Ok(Ok(mut p)) => match p.subscribe(&self.channel).await {
                Ok(()) => Some(p),
                Err(_) => None,
            },
            _ => None,
        };
        loop {
            if let Some(e) = self.load().await?.as_deref().and_then(&fresh) {
                return Ok(Acquired::Entry(e));
            }
            let (lease, who, ttl) = (self.lease.clone(), owner.clone(), self.lease_ttl);
            let got: Option<String> = self
                .run(async move |c| {
                    redis::cmd("SET")
                        .arg(lease)
                        .arg(who)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl.as_millis() as u64)
                        .query_async(c)
                        .await
                })
                .await?;
            if got.is_some() {
                return Ok(Acquired::Lock(Lock::Redis(Lease { owner })));
            }
            if Instant::now() + POLL >= deadline {
                return Err("timed out waiting for another process's token fetch".into());
            }
            // Wait for the holder's "ready", or poll (a holder that died leaves a lease that
            // expires: the next SET NX takes over).
            match sub.as_mut() {
                Some(p) => {
                    let _ = tokio::time::timeout(POLL, p.on_message().next()).await;
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    pub async fn store(&self, text: &str, ttl: Duration) -> std::result::Result<(), String> {
        let (key, val, ch) = (self.entry.clone(), text.to_string(), self.channel.clone());
        let ms = ttl.as_millis().max(1) as u64;
        self.run(async move |c| {
            redis::pipe()
                .cmd("SET")
                .arg(key)
                .arg(val)
                .arg("PX")
                .arg(ms)
                .ignore()
                .cmd("PUBLISH")
                .arg(ch)
                .arg("1")
                .ignore()
                .query_async::<()>(c)
                .await
        })
        .await
    }

    pub async fn release(&self, lease: Lease) {
        let key = self.lease.clone();
        let _ = self
            .run(async move |c| {
                redis::Script::new(RELEASE)
                    .key(key)
                    .arg(lease.owner)
                    .invoke_async::<i64>(c)
                    .await
            })
            .await;
    }

    pub async fn invalidate(
        &self,
        matches: impl Fn(&str) -> bool,
    ) -> std::result::Result<(), String> {
        let Some(stored) = self.load().await? else {
            return Ok(());
        };
        if !matches(&stored) {
            return Ok(());
        }
        // compare-and-delete: only if it still holds the rejected token's entry
        let key = self.entry.clone();
        self.run(async move |c| {
            redis::Script::new(RELEASE)
                .key(key)
                .arg(stored)
                .invoke_async::<i64>(c)
                .await
        })
        .await
        .map(|_| ())
    }

    pub async fn note_rate_limit(&self, until_unix_ms: u64) -> std::result::Result<(), String> {
        let now = crate::clock::unix_ms_after(Duration::ZERO);
        let ms = until_unix_ms.saturating_sub(now).max(1);
        let key = self.limit.clone();
        self.run(async move |c| {
            c.set_options::<_, _, ()>(
                key,
                until_unix_ms,
                redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ms)),
            )
            .await
        })
        .await
    }

    pub async fn rate_limited_until(&self) -> std::result::Result<Option<u64>, String> {
        let key = self.limit.clone();
        self.run(async move |c| c.get::<_, Option<u64>>(key).await)
            .await
    }
}
