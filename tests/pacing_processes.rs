//! Pacing shared by two processes (issue 21): two OS processes with the same configuration
//! and one `file://` token cache share one access token, and the simulator counts its API
//! quota per access token (see below), so each process's pacer learns of
//! the other's use only from the `inin-ratelimit-*` headers of its own replies.
//!
//! The quota is 300 requests per 3 s window (Genesys' 300 a minute, in a shorter window).
//! Two pacers that each see the other only in the replies' count send about one request
//! per process into the last slot of a window another process just took: a few 429s per
//! window, whatever the limit (measured: 9 of 164 requests, 5.5%, with 50 per window; 4-5
//! of ~590 with 200; 1 of 905 with 300). So the 1% bound below needs a quota of a few hundred per
//! window, as real ones are.
//!
//! Outcome: over 3 windows (about 9 s of sending, the only time bound, set by the quota), with
//! 3 blocking threads per process calling as fast as the pacers let them,
//! - the two processes make exactly 1 token request between them (the file cache's
//!   single-flight hands the other process the same token),
//! - at most 1% of the API requests sent are answered 429,
//! - together they get at least 85% of the 900 requests the quota allows (measured: all of them, and a few calls that waited past the end went into a 4th window),
//! - nothing is lost: every call ends with 200 or 429 (no error, no 429 made by the pacer
//!   for a call it could not send in time), and the 200s and the 429s
//!   the processes saw add up to exactly the API requests the simulator counted (no retry,
//!   no 401 resend, no call that never reached the server).
//!
//! The processes are this test binary run again (`--ignored --exact child_process --nocapture`) with
//! `CXOAUTH_PACING_CHILD` holding the configuration: a child fetches its token, says `READY`
//! on stdout, waits for `GO <ms>` on stdin (sent when both are ready) and then calls for
//! `<ms>` milliseconds, printing its counts as one `RESULT` line.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const CHILD_ENV: &str = "CXOAUTH_PACING_CHILD";
/// Starts the lines a child prints for the parent.
const MARKER: &str = "CXOAUTH-CHILD";
const LIMIT: u64 = 300;
const WINDOW: Duration = Duration::from_secs(3);
const THREADS: usize = 3;
/// Generous, for a loaded 2-core machine: how long a child may take to start and fetch its
/// token, and to report after its sending time.
const PATIENCE: Duration = Duration::from_secs(120);

/// What one child process counted.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    ok: u64,
    /// 429s from the server.
    limited: u64,
    /// 429s made by the client's pacer (`X-Cxoauth-Paced`): never sent.
    paced: u64,
    pacing_waits: u64,
}

#[test]
fn two_processes_on_one_file_cache_share_the_token_and_its_quota() {
    let sim = sim();
    sim.set_rate_limit(LIMIT, WINDOW, cxoauth_sim::RateLimitScope::Token);
    let dir = std::env::temp_dir().join(format!(
        "cxoauth-pacing-processes-{}-{}",
        std::process::id(),
        sim.addr().port()
    ));
    let cache = format!("file://{}", dir.display());
    let cfg = config_json(
        &sim,
        &format!(r#""token_cache":"{cache}","max_retries":0,"deadline_ms":30000"#),
    );
    let mut children: Vec<ChildProcess> = (0..2).map(|_| ChildProcess::start(&cfg)).collect();
    for c in &mut children {
        c.expect_line("READY");
    }
    assert_eq!(sim.counters().token_requests, 1, "{:?}", sim.counters());
    // three windows (the first starts with the first API request, after GO), less a margin
    let sending = WINDOW * 3 - Duration::from_millis(100);
    for c in &mut children {
        writeln!(c.stdin, "GO {}", sending.as_millis()).unwrap();
        c.stdin.flush().unwrap();
    }
    let counts: Vec<Counts> = children.iter_mut().map(ChildProcess::result).collect();
    for c in children {
        c.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);

    let k = sim.counters();
    eprintln!("pacing across processes: {counts:?}, sim {k:?}");
    let ok: u64 = counts.iter().map(|c| c.ok).sum();
    let limited: u64 = counts.iter().map(|c| c.limited).sum();
    assert_eq!(k.token_requests, 1, "one token for both processes: {k:?}");
    assert_eq!(k.tokens_issued, 1, "{k:?}");
    assert_eq!(
        ok + limited,
        k.api_requests,
        "nothing lost: {counts:?} {k:?}"
    );
    assert_eq!(limited, k.api_429s, "{counts:?} {k:?}");
    assert!(
        counts.iter().all(|c| c.paced == 0),
        "no call held past its deadline: {counts:?}"
    );
    assert!(k.api_429s * 100 <= k.api_requests, "{k:?}");
    let allowed = LIMIT * 3;
    assert!(
        ok * 100 >= allowed * 85,
        "{ok} of {allowed} allowed requests: {counts:?}"
    );
    // both processes sent, and both were held back by what the other used
    for c in &counts {
        assert!(c.ok > 0 && c.pacing_waits > 0, "{counts:?}");
    }
}

/// The child's role, run only by the parent test (ignored in the ordinary run, not counted
/// as a pass).
#[test]
#[ignore = "the child process of two_processes_*: started by that test"]
fn child_process() {
    let cfg = std::env::var(CHILD_ENV).expect("started by the parent test with its config");
    let c =
        Arc::new(cxoauth::Client::new(cxoauth::Config::from_json(Some(&cfg)).unwrap()).unwrap());
    c.token_blocking(None).unwrap();
    println!("{MARKER} READY");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let ms: u64 = line
        .trim()
        .strip_prefix("GO ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("expected GO <ms>, got {line:?}"));
    let end = Instant::now() + Duration::from_millis(ms);
    let (ok, limited, paced) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (c, ok, limited, paced) = (c.clone(), ok.clone(), limited.clone(), paced.clone());
            std::thread::spawn(move || {
                while Instant::now() < end {
                    let r = get(&c, "/api/v2/tokens/me").unwrap();
                    match r.status {
                        200 => ok.fetch_add(1, Relaxed),
                        429 if r.header("X-Cxoauth-Paced").is_some() => paced.fetch_add(1, Relaxed),
                        429 => limited.fetch_add(1, Relaxed),
                        s => panic!("HTTP {s}"),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = c.stats_json();
    println!(
        "{MARKER} RESULT ok={} limited={} paced={} pacing_waits={}",
        ok.load(Relaxed),
        limited.load(Relaxed),
        paced.load(Relaxed),
        stats["pacing_waits"].as_u64().unwrap_or(0)
    );
}

/// A child process: its stdin, and its stdout's lines arriving on a channel (so the parent
/// waits with a bound, and a child that dies shows as a closed channel).
struct ChildProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl ChildProcess {
    fn start(cfg: &str) -> ChildProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, cfg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test binary runs again as a child");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildProcess {
            child,
            stdin,
            lines,
        }
    }

    /// From the first line holding `CXOAUTH-CHILD <word>`: what follows `<word>` (libtest's own
    /// lines are skipped; its "test child_process ... " may precede the marker on one line).
    fn expect_line(&mut self, word: &str) -> String {
        let marker = format!("{MARKER} {word}");
        let until = Instant::now() + PATIENCE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(at) = l.find(&marker) {
                        return l[at + marker.len()..].to_string();
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "child process: no {word} line ({e}): {:?}",
                        self.child.wait()
                    );
                }
            }
        }
    }

    fn result(&mut self) -> Counts {
        let line = self.expect_line("RESULT");
        let mut c = Counts::default();
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=').unwrap();
            let v: u64 = v.parse().unwrap();
            match k {
                "ok" => c.ok = v,
                "limited" => c.limited = v,
                "paced" => c.paced = v,
                "pacing_waits" => c.pacing_waits = v,
                _ => panic!("unknown field in {line:?}"),
            }
        }
        c
    }

    /// Waits for the child's exit (it ends after its RESULT line) and checks its status.
    fn finish(mut self) {
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "child process: {status}");
    }
}
