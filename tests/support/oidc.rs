//! node `oidc-provider` (tests/oidc/server.mjs) as a real third-party authorization server:
//! installed with npm into a cache directory when missing (`CXOAUTH_NPM_CACHE`, default
//! `~/.cache/cxoauth/oidc-provider`; the versions pinned by tests/oidc/package-lock.json),
//! started per test on 127.0.0.1 (port chosen by the system), ready when it prints
//! `READY <port>`, stopped by its pid.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CXOAUTH_NPM_CACHE") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/cxoauth/oidc-provider")
}

/// The directory holding server.mjs and node_modules (npm ci there when the lock changed).
fn installed() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read(Path::new(SOURCES).join("package-lock.json")).unwrap();
    let current = std::fs::read(dir.join("package-lock.json")).ok();
    let have = dir.join("node_modules/oidc-provider/package.json").exists();
    if !have || current.as_deref() != Some(&lock[..]) {
        std::fs::copy(
            Path::new(SOURCES).join("package.json"),
            dir.join("package.json"),
        )
        .unwrap();
        std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("npm runs (scripts/test.sh installs node and npm)");
        assert!(
            out.status.success(),
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // the server file next to its node_modules (ES modules resolve from their own path)
    std::fs::copy(
        Path::new(SOURCES).join("server.mjs"),
        dir.join("server.mjs"),
    )
    .unwrap();
    dir
}

pub struct Oidc {
    child: Child,
    pub port: u16,
    stderr: PathBuf,
}

impl Oidc {
    /// Starts the server with this configuration (see tests/oidc/server.mjs).
    pub fn start(config: serde_json::Value) -> Oidc {
        let dir = installed();
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr =
            std::env::temp_dir().join(format!("cxoauth-oidc-{}-{n}.stderr", std::process::id()));
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .env("OIDC_TEST_CONFIG", config.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // readiness: the line it prints once listening (EOF if it exits first)
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(port) = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "oidc-provider did not start: {line:?} {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        Oidc {
            child,
            port,
            stderr,
        }
    }

    /// `http://127.0.0.1:PORT` (the issuer unless a `public_url` was given).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server wrote on stderr (its client-authentication failures among it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// Runs openssl in `dir` (the key files of the tests).
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
