//! The `redis://` / `rediss://` backend (Redis or Valkey, through redis-rs on tokio): the
//! sealed entry under `{prefix}:token:{key}` with a time to live; single-flight through a lease
//! (`SET {prefix}:lease:{key} owner NX PX` [`LEASE_TTL`], renewed while its holder works,
//! released by compare-and-delete — also when the holder's fetch is dropped: client closed,
//! freed or the call cancelled); waiters woken by pub/sub on `{prefix}:ready:{key}` with
//! polling as a fallback; a lease whose holder died expires within [`LEASE_TTL`].
//!
//! Nobody with access to Redis is trusted: values are read through a script that refuses
//! anything over [`MAX_VALUE`] (read as corrupt, then replaced); a lease with no time to live
//! or a longer one than ours is not ours to respect (it is removed by compare-and-delete);
//! notifications cost nothing extra (re-checks at most every [`MIN_RECHECK`]); a waiter waits
//! for at most its wait bound and then fetches itself, storing under compare-and-set.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use zeroize::Zeroizing;

use super::{Acquired, Entry, Lock, Seen};
use crate::config::Config;
use crate::error::{Error, Result};

/// Every Redis round trip (and connecting) must answer within this.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// A waiter looks again at least this often (pub/sub usually wakes it first).
const POLL: Duration = Duration::from_millis(100);
/// A waiter looks again at most this often, however many notifications arrive.
const MIN_RECHECK: Duration = Duration::from_millis(25);
/// The lease's time to live; its holder renews it every third of that while it works.
const LEASE_TTL: Duration = Duration::from_millis(3000);
/// The largest value read (an entry is a few hundred bytes): anything larger is corrupt.
const MAX_VALUE: usize = 16 * 1024;

const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;
const RENEW: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end"#;
/// The value if it is at most ARGV[1] bytes; -1 if larger; nil if absent.
const GET_CAPPED: &str = r#"local n = redis.call("STRLEN", KEYS[1]) if n == 0 then return redis.call("GET", KEYS[1]) end if n > tonumber(ARGV[1]) then return -1 end return redis.call("GET", KEYS[1])"#;
/// SET (and PUBLISH) only if the value is still what the caller saw: ARGV[3] "absent" (none),
/// "any" (unconditional: the caller saw a corrupt value) or "value" (equal to ARGV[4]).
const STORE_IF: &str = r#"local cur = redis.call("GET", KEYS[1])
local ok = ARGV[3] == "any" or (ARGV[3] == "absent" and cur == false) or (ARGV[3] == "value" and cur == ARGV[4])
if not ok then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("PUBLISH", KEYS[2], "1")
return 1"#;
/// The lease's owner and time to live (ms; -1 none, -2 absent).
const LEASE_STATE: &str = r#"return {redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}"#;

pub struct RedisCache {
    client: redis::Client,
    entry: String,
    lease: String,
    channel: String,
    limit: String,
    /// One multiplexed connection per process (fork epoch), made on first use.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Scrubs the URL's password out of redis-rs messages (wiped when dropped).
    password: Option<Zeroizing<String>>,
}

/// This process's lease on the entry: renewed while held, released by compare-and-delete when
/// dropped (on the runtime, so a fetch dropped mid-way — client closed or freed — releases it
/// too).
pub struct Lease {
    owner: String,
    cache: Arc<RedisCache>,
    renew: tokio::task::JoinHandle<()>,
    released: bool,
}

impl Lease {
    /// Releases the lease now (compare-and-delete), waiting for Redis's answer.
    pub async fn release(mut self) {
        self.renew.abort();
        self.released = true;
        self.cache.release(&self.owner).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        if self.released {
            return;
        }
        let (cache, owner) = (Arc::clone(&self.cache), std::mem::take(&mut self.owner));
        if let Ok(h) = crate::rt::runtime::handle() {
            h.spawn(async move { cache.release(&owner).await });
        }
    }
}

/// What one look at the entry found.
enum Value {
    Absent,
    Text(String),
    TooLarge,
}

impl RedisCache {
    pub fn new(url: &str, prefix: &str, key: &str, cfg: &Config) -> Result<RedisCache> {
        let parsed = url::Url::parse(url)
            .map_err(|_| Error::config("config key \"token_cache\": not a valid redis:// URL"))?;
        let password = parsed.password().map(|p| {
            Zeroizing::new(
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
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
        let epoch = crate::rt::process::epoch();
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

    /// `key`'s value, at most [`MAX_VALUE`] bytes of it.
    async fn get_capped(&self, key: &str) -> std::result::Result<Value, String> {
        let key = key.to_string();
        let v: redis::Value = self
            .run(async move |c| {
                redis::Script::new(GET_CAPPED)
                    .key(key)
                    .arg(MAX_VALUE)
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(match v {
            redis::Value::Nil => Value::Absent,
            redis::Value::Int(_) => Value::TooLarge,
            redis::Value::BulkString(b) => match String::from_utf8(b) {
                Ok(s) => Value::Text(s),
                Err(_) => Value::TooLarge, // not text: corrupt all the same
            },
            _ => Value::TooLarge,
        })
    }

    /// The entry's text (`None`: absent or corrupt) and what was seen, for compare-and-set.
    pub async fn load(&self) -> std::result::Result<(Option<String>, Seen), String> {
        Ok(match self.get_capped(&self.entry).await? {
            Value::Absent => (None, Seen::Absent),
            Value::TooLarge => (None, Seen::Corrupt),
            Value::Text(t) => (Some(t.clone()), Seen::Text(Zeroizing::new(t))),
        })
    }

    /// Takes the lease or waits for a token (`fresh` accepts it) until `wait_until`; after that
    /// [`Acquired::Busy`] (the caller fetches itself).
    pub async fn acquire(
        self: &Arc<Self>,
        wait_until: Instant,
        fresh: impl Fn(&str) -> Option<Entry>,
    ) -> std::result::Result<Acquired, String> {
        let owner = format!(
            "{}-{}-{:016x}",
            std::process::id(),
            crate::rt::process::epoch(),
            fastrand::u64(..)
        );
        // Subscribed before looking, so a store between the look and the wait still wakes us.
        let mut sub = tokio::time::timeout(OP_TIMEOUT, async {
            let mut p = self.client.get_async_pubsub().await.ok()?;
            p.subscribe(&self.channel).await.ok()?;
            Some(p)
        })
        .await
        .ok()
        .flatten();
        loop {
            let checked = Instant::now();
            let (text, seen) = self.load().await?;
            if let Some(e) = text.as_deref().and_then(&fresh) {
                return Ok(Acquired::Entry(e));
            }
            if self.try_lease(&owner).await? {
                let renew = tokio::spawn(Arc::clone(self).renew(owner.clone()));
                return Ok(Acquired::Lock(Lock::Redis(Lease {
                    owner,
                    cache: Arc::clone(self),
                    renew,
                    released: false,
                })));
            }
            if Instant::now() + MIN_RECHECK >= wait_until {
                return Ok(Acquired::Busy(seen));
            }
            // Wait for the holder's "ready", or poll (a holder that died leaves a lease that
            // expires: the next SET NX takes over); never look again sooner than MIN_RECHECK.
            let next = (checked + POLL).min(wait_until);
            match sub.as_mut() {
                Some(p) => {
                    let _ = tokio::time::timeout_at(next.into(), p.on_message().next()).await;
                }
                None => tokio::time::sleep_until(next.into()).await,
            }
            tokio::time::sleep_until((checked + MIN_RECHECK).into()).await;
        }
    }

    /// `SET lease owner NX PX`; a lease someone else left without a time to live, or with a
    /// longer one than any holder of ours sets, is removed (compare-and-delete) and not waited
    /// for.
    async fn try_lease(&self, owner: &str) -> std::result::Result<bool, String> {
        let (lease, who, ttl) = (self.lease.clone(), owner.to_string(), LEASE_TTL);
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
            return Ok(true);
        }
        let lease = self.lease.clone();
        let (holder, pttl): (Option<Vec<u8>>, i64) = self
            .run(async move |c| {
                redis::Script::new(LEASE_STATE)
                    .key(lease)
                    .invoke_async(c)
                    .await
            })
            .await?;
        let squatted = pttl == -1 || pttl > LEASE_TTL.as_millis() as i64;
        if let (true, Some(holder)) = (squatted, holder) {
            crate::log_line!(
                crate::logging::Level::Warn,
                "token cache: a lease without a valid time to live (not set by this library) was removed"
            );
            self.compare_and_delete(&self.lease, holder).await?;
        }
        Ok(false)
    }

    /// Keeps `owner`'s lease alive while it is held (aborted when the lease goes).
    async fn renew(self: Arc<Self>, owner: String) {
        loop {
            tokio::time::sleep(LEASE_TTL / 3).await;
            let (key, who) = (self.lease.clone(), owner.clone());
            let renewed = self
                .run(async move |c| {
                    redis::Script::new(RENEW)
                        .key(key)
                        .arg(who)
                        .arg(LEASE_TTL.as_millis() as u64)
                        .invoke_async::<i64>(c)
                        .await
                })
                .await;
            if !matches!(renewed, Ok(1)) {
                return; // lost (expired and taken) or Redis gone: nothing to keep
            }
        }
    }

    /// Stores `text` with `ttl` and wakes the waiters; unless `seen` is [`Seen::Any`], only if
    /// the entry is still what the caller saw (compare-and-set).
    pub async fn store(
        &self,
        text: &str,
        ttl: Duration,
        seen: &Seen,
    ) -> std::result::Result<(), String> {
        let (key, ch) = (self.entry.clone(), self.channel.clone());
        let val = Zeroizing::new(text.to_string());
        let ms = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        let (mode, expected): (&str, &str) = match seen {
            Seen::Any | Seen::Corrupt => ("any", ""),
            Seen::Absent => ("absent", ""),
            Seen::Text(t) => ("value", t.as_str()),
        };
        let expected = Zeroizing::new(expected.to_string());
        self.run(async move |c| {
            redis::Script::new(STORE_IF)
                .key(key)
                .key(ch)
                .arg(val.as_str())
                .arg(ms)
                .arg(mode)
                .arg(expected.as_str())
                .invoke_async::<i64>(c)
                .await
        })
        .await
        .map(|_| ())
    }

    async fn release(&self, owner: &str) {
        let _ = self
            .compare_and_delete(&self.lease, owner.as_bytes().to_vec())
            .await;
    }

    /// Deletes `key` only if it still holds `value`.
    async fn compare_and_delete(
        &self,
        key: &str,
        value: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let key = key.to_string();
        let value = Zeroizing::new(value);
        self.run(async move |c| {
            redis::Script::new(RELEASE)
                .key(key)
                .arg(value.as_slice())
                .invoke_async::<i64>(c)
                .await
        })
        .await
        .map(|_| ())
    }

    pub async fn invalidate(
        &self,
        matches: impl Fn(&str) -> bool,
    ) -> std::result::Result<(), String> {
        let (Some(stored), _) = self.load().await? else {
            return Ok(());
        };
        if !matches(&stored) {
            return Ok(());
        }
        // compare-and-delete: only if it still holds the rejected token's entry
        self.compare_and_delete(&self.entry, stored.into_bytes())
            .await
    }

    /// Stores the sealed rate-limit window `text` for `ttl`.
    pub async fn note_rate_limit(
        &self,
        text: &str,
        ttl: Duration,
    ) -> std::result::Result<(), String> {
        let ms = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        let (key, val) = (self.limit.clone(), text.to_string());
        self.run(async move |c| {
            c.set_options::<_, _, ()>(
                key,
                val,
                redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ms)),
            )
            .await
        })
        .await
    }

    /// The sealed rate-limit window's text, if any (larger than [`MAX_VALUE`]: none).
    pub async fn rate_limited_until(&self) -> std::result::Result<Option<String>, String> {
        Ok(match self.get_capped(&self.limit).await? {
            Value::Text(t) => Some(t),
            _ => None,
        })
    }
}
