//! Token events for the shared cache: a real redis-server (Debian's `redis-server`, required:
//! scripts/test.sh installs it) stopped then started again under a client that uses it as its
//! `token_cache`: `SHARED_CACHE_DOWN` then `SHARED_CACHE_UP`, once each, in order, and neither
//! message holds the Redis password.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use cxoauth::events::{Event, EventKind};

const REDIS_PASSWORD: &str = "Rd1sPassw0rd-event-secret";

/// A redis-server of this test (killed when dropped).
struct Redis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    /// Starts redis-server on `port` (0: a free one) and waits until it answers PING.
    fn start(port: u16) -> Redis {
        let port = if port == 0 {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        } else {
            port
        };
        let dir = std::env::temp_dir().join(format!(
            "cxoauth-redis-events-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--requirepass", REDIS_PASSWORD])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is required (apt-get install --no-install-recommends redis-server)",
            );
        let mut r = Redis { child, port, dir };
        let until = Instant::now() + Duration::from_secs(10);
        while !r.answers() {
            assert!(r.child.try_wait().unwrap().is_none(), "redis-server exited");
            assert!(Instant::now() < until, "redis-server did not answer PING");
            std::thread::sleep(Duration::from_millis(10));
        }
        r
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let cmd = format!(
            "*2\r\n$4\r\nAUTH\r\n${}\r\n{REDIS_PASSWORD}\r\n*1\r\n$4\r\nPING\r\n",
            REDIS_PASSWORD.len()
        );
        if s.write_all(cmd.as_bytes()).is_err() {
            return false;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !String::from_utf8_lossy(&got).contains("PONG") {
            match s.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
        true
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn shared_cache_down_then_up_once_each_in_order() {
    let sim = sim();
    let mut redis = Redis::start(0);
    let port = redis.port;
    let c = client(
        &sim,
        &format!(r#""token_cache":"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}""#),
    );
    let (tx, rx) = mpsc::channel::<Event>();
    let tx = std::sync::Mutex::new(tx);
    c.stats()
        .metrics
        .events
        .set(Some(Box::new(move |e: &Event| {
            let _ = tx.lock().unwrap().send(e.clone());
        })));
    let mut seen: Vec<Event> = Vec::new();
    // every event up to and including the next TOKEN_FETCHED (delivery is in order)
    let mut until_fetched = |seen: &mut Vec<Event>| loop {
        let e = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
        let fetched = e.kind == EventKind::TokenFetched;
        seen.push(e);
        if fetched {
            break;
        }
    };
    // drop the process's token and get one again: the fetch goes through the shared cache
    let refetch = |seen: &mut Vec<Event>, until_fetched: &mut dyn FnMut(&mut Vec<Event>)| {
        let t = c.token_blocking(None).unwrap();
        assert!(c.tokens().invalidate_value(&t.value));
        c.token_blocking(None).unwrap();
        until_fetched(seen);
    };

    c.token_blocking(None).unwrap();
    until_fetched(&mut seen);
    redis.stop();
    refetch(&mut seen, &mut until_fetched);
    assert!(
        seen.iter().any(|e| e.kind == EventKind::SharedCacheDown),
        "{seen:?}"
    );
    // Redis back on the same port: the cache is used again after its cool-down (1 s after a
    // first failure); each try costs one token fetch
    let mut redis = Redis::start(port);
    let until = Instant::now() + Duration::from_secs(15);
    while !seen.iter().any(|e| e.kind == EventKind::SharedCacheUp) {
        assert!(Instant::now() < until, "no SHARED_CACHE_UP: {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
        refetch(&mut seen, &mut until_fetched);
    }
    // and a few more operations on the working cache: no further down/up
    for _ in 0..3 {
        refetch(&mut seen, &mut until_fetched);
    }
    let shared: Vec<EventKind> = seen
        .iter()
        .map(|e| e.kind)
        .filter(|k| matches!(k, EventKind::SharedCacheDown | EventKind::SharedCacheUp))
        .collect();
    assert_eq!(
        shared,
        [EventKind::SharedCacheDown, EventKind::SharedCacheUp],
        "{seen:?}"
    );
    for e in &seen {
        assert!(!e.message.contains(REDIS_PASSWORD), "{e:?}");
        assert!(
            !e.message.contains(SECRET) && !e.message.contains(CLIENT_ID),
            "{e:?}"
        );
    }
    let text = c.metrics(cxoauth::metrics::Format::Prometheus);
    let sample = |outcome: &str| {
        let prefix = "cxoauth_shared_cache_operations_total{";
        text.lines()
            .find(|l| {
                l.starts_with(prefix)
                    && l.contains("backend=\"redis\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{outcome} in {text}"))
    };
    assert!(sample("error") >= 1.0 && sample("ok") >= 1.0, "{text}");
    redis.stop();
}
