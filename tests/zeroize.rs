//! Every copy of a secret or token that the library owns is wiped before its memory is freed.
//!
//! This test binary's global allocator scans every block as it is freed (or moved by realloc)
//! for the secrets and tokens of the run, while the library works against the simulator (run
//! as a separate process, so that none of the server's own copies are in this process). The
//! only blocks exempt are hyper's read and write buffers (see [`hyper_buffer`]), which hyper
//! frees without wiping (documented in docs/SECURITY.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxoauth::{Client, Config};
use zeroize::Zeroizing;

const MAX_NEEDLES: usize = 8;
const NEEDLE_CAP: usize = 128;

struct Needles {
    bytes: [[u8; NEEDLE_CAP]; MAX_NEEDLES],
    lens: [usize; MAX_NEEDLES],
    count: usize,
}

static SCANNING: AtomicBool = AtomicBool::new(false);
static HITS: [AtomicUsize; MAX_NEEDLES] = [const { AtomicUsize::new(0) }; MAX_NEEDLES];
static EXEMPT_BLOCKS: AtomicUsize = AtomicUsize::new(0);
// Written only while SCANNING is false (before the scanned phase), read by the allocator.
static mut NEEDLES: Needles = Needles {
    bytes: [[0; NEEDLE_CAP]; MAX_NEEDLES],
    lens: [0; MAX_NEEDLES],
    count: 0,
};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// hyper's I/O buffers, which it frees without wiping: its write buffer (the request line and
/// headers, so "HTTP/1.1") and its read buffer (at least 8 KiB, where a reply's framing may
/// already be overwritten by the next read on the connection). The library's own copies of a
/// secret or token are all far smaller.
fn hyper_buffer(block: &[u8]) -> bool {
    block.len() >= 8192 || contains(block, b"HTTP/1.1")
}

/// Scans a block that is about to be freed. Allocation-free.
unsafe fn scan(ptr: *const u8, size: usize) {
    if !SCANNING.load(Ordering::SeqCst) || size == 0 {
        return;
    }
    let block = std::slice::from_raw_parts(ptr, size);
    #[allow(static_mut_refs)]
    let n = &*std::ptr::addr_of!(NEEDLES);
    let mut hit = false;
    for ((needle, len), hits) in n.bytes.iter().zip(n.lens).zip(&HITS).take(n.count) {
        if contains(block, &needle[..len]) {
            hit = true;
            if !hyper_buffer(block) {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    if hit && hyper_buffer(block) {
        EXEMPT_BLOCKS.fetch_add(1, Ordering::SeqCst);
    }
}

struct ScanningAlloc;

unsafe impl GlobalAlloc for ScanningAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        scan(ptr, layout.size());
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // alloc + copy + free, so the old block is scanned like any freed block
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            scan(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOC: ScanningAlloc = ScanningAlloc;

fn set_needles(list: &[&[u8]]) {
    assert!(!SCANNING.load(Ordering::SeqCst));
    assert!(list.len() <= MAX_NEEDLES);
    // SAFETY: not scanning, so the allocator does not read NEEDLES now.
    unsafe {
        #[allow(static_mut_refs)]
        let n = &mut *std::ptr::addr_of_mut!(NEEDLES);
        for (i, s) in list.iter().enumerate() {
            assert!(s.len() <= NEEDLE_CAP);
            n.bytes[i][..s.len()].copy_from_slice(s);
            n.lens[i] = s.len();
        }
        n.count = list.len();
    }
    for h in &HITS {
        h.store(0, Ordering::SeqCst);
    }
}

// ---- the simulator as a separate process ----

const CLIENT_ID: &str = "zero-client";
const SECRET: &str = "zS3cr3t:/+=% value-ZZ";
const KEY_SECRET: &str = "zK3ySecretValue-QQ";
const TOKEN_PREFIX: &str = "ZTOKPREFIXzt0k3n";

struct Sim {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim_binary() -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/cxoauth-sim
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("cxoauth-sim");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "cxoauth-sim", "--bin", "cxoauth-sim"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build the simulator");
    }
    assert!(bin.exists(), "no simulator binary at {}", bin.display());
    bin
}

fn start_sim() -> Sim {
    let dir = std::env::temp_dir().join(format!("cxoauth-zeroize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new(sim_binary())
        .arg("--port")
        .arg("0")
        .arg("--port-file")
        .arg(&port_file)
        .arg("--client")
        .arg(format!("{CLIENT_ID}:{SECRET}"))
        .arg("--access-key")
        .arg(format!("zero-key:{KEY_SECRET}"))
        .arg("--cxone-token-lifetime")
        .arg("2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulator starts");
    // readiness: the simulator writes its port once it listens
    let t0 = Instant::now();
    let port = loop {
        if let Ok(s) = std::fs::read_to_string(&port_file) {
            if let Ok(p) = s.trim().parse::<u16>() {
                break p;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "simulator not ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Sim {
        child,
        port,
        _dir: dir,
    }
}

/// A plain HTTP/1.1 POST to the simulator's admin API; returns the status.
fn admin_post(port: u16, path: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The simulator, issuing tokens that start with [`TOKEN_PREFIX`] (the scan's needle).
fn start_sim_with_token_prefix() -> Sim {
    let sim = start_sim();
    let body = format!("{{\"token_prefix\":\"{TOKEN_PREFIX}\"}}");
    assert_eq!(admin_post(sim.port, "/__admin/config", &body), 204);
    sim
}

// One test at a time: the allocator's state is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn run_scanned(needles: &[&[u8]], work: impl FnOnce()) -> Vec<usize> {
    set_needles(needles);
    SCANNING.store(true, Ordering::SeqCst);
    // positive control: the scan sees a freed copy of the first needle
    drop(needles[0].to_vec());
    let control = HITS[0].swap(0, Ordering::SeqCst);
    work();
    SCANNING.store(false, Ordering::SeqCst);
    assert_eq!(control, 1, "the scanning allocator does not work");
    HITS[..needles.len()]
        .iter()
        .map(|h| h.load(Ordering::SeqCst))
        .collect()
}

#[test]
fn genesys_client_credentials_leaves_no_unwiped_copy() {
    let _g = serial();
    let sim = start_sim_with_token_prefix();
    let base = format!("http://127.0.0.1:{}", sim.port);
    let encoded_secret = cxoauth::providers::form_encode(SECRET);
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            cxoauth::providers::form_encode(CLIENT_ID),
            encoded_secret
        ))
    };
    let configs: Vec<Zeroizing<String>> = ["basic", "body"]
        .iter()
        .map(|auth| {
            Zeroizing::new(format!(
                r#"{{"token_url":"{base}/oauth/token","api_base":"{base}","client_id":"{CLIENT_ID}","client_secret":"{}","client_auth":"{auth}"}}"#,
                SECRET.replace('\\', "\\\\")
            ))
        })
        .collect();
    let hits = run_scanned(
        &[
            SECRET.as_bytes(),
            encoded_secret.as_bytes(),
            basic.as_bytes(),
            TOKEN_PREFIX.as_bytes(),
        ],
        || {
            for cfg in &configs {
                let client = Arc::new(Client::new(Config::from_json(Some(cfg)).unwrap()).unwrap());
                let t = client.token_blocking(None).unwrap();
                assert!(t.value.starts_with(TOKEN_PREFIX));
                let req = client
                    .prepare("GET", "/api/v2/organizations/me", &[], None)
                    .unwrap();
                let r = client.request_blocking(req, None).unwrap();
                assert_eq!(r.status, 200);
                drop(r);
                drop(t);
                client.close();
                drop(client);
            }
            // the runtime's workers drop the last references to finished tasks
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(200) {
                std::thread::yield_now();
            }
        },
    );
    assert_eq!(
        hits,
        vec![0, 0, 0, 0],
        "freed blocks held [secret, encoded secret, Basic credential, token] (exempt hyper buffers: {})",
        EXEMPT_BLOCKS.load(Ordering::SeqCst)
    );
}

#[test]
fn cxone_access_key_and_refresh_token_leave_no_unwiped_copy() {
    let _g = serial();
    let sim = start_sim_with_token_prefix();
    let cfg = Zeroizing::new(format!(
        r#"{{"platform":"cxone","issuer":"http://127.0.0.1:{}","client_id":"{CLIENT_ID}","client_secret":"{SECRET}","access_key_id":"zero-key","access_key_secret":"{KEY_SECRET}"}}"#,
        sim.port
    ));
    let hits = run_scanned(
        &[
            KEY_SECRET.as_bytes(),
            SECRET.as_bytes(),
            TOKEN_PREFIX.as_bytes(),
        ],
        || {
            let client = Arc::new(Client::new(Config::from_json(Some(&cfg)).unwrap()).unwrap());
            let first = client.token_blocking(None).unwrap();
            // the 2 s token is refreshed by its timer after about 1 s (with the refresh token,
            // which the simulator prefixes): wait for the renewed token
            let mut renewed = client.token_blocking(None).unwrap();
            let t0 = Instant::now();
            while renewed.generation == first.generation {
                assert!(t0.elapsed() < Duration::from_secs(10), "no refresh");
                std::thread::sleep(Duration::from_millis(20));
                renewed = client.token_blocking(None).unwrap();
            }
            drop(first);
            drop(renewed);
            client.close();
            drop(client);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(200) {
                std::thread::yield_now();
            }
        },
    );
    let counters = admin_get_counters(sim.port);
    assert!(
        !counters.contains("\"refresh_grants\":0"),
        "the refresh grant was used: {counters}"
    );
    assert_eq!(
        hits,
        vec![0, 0, 0],
        "freed blocks held [access-key secret, client secret, refresh/access token]"
    );
}

fn admin_get_counters(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /__admin/counters HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}
