//! Loopback CONNECT proxies that count their tunnels, and the HTTPS simulator and clients
//! they lead to (tests/proxies.rs, tests/no_proxy.rs). The proxies map the non-loopback host
//! names the client is configured with (`login.test`, `api.test`; loopback targets never go
//! through a proxy) to the simulator, which serves HTTPS with a certificate for those names.
//! Included with `#[path]` next to `mod common;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{CLIENT_ID, SECRET};
use cxoauth::{Client, Config};
use cxoauth_sim::{SimOptions, Simulator};

/// A CONNECT proxy on 127.0.0.1 that tunnels every request to `target` and records the
/// `host:port` each CONNECT asked for.
pub struct CountingProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    pub fn start(target: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let seen = Arc::clone(&seen2);
                std::thread::spawn(move || tunnel(conn, target, &seen));
            }
        });
        CountingProxy { port, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

/// One proxied connection: the CONNECT head read and recorded, then bytes copied both ways.
fn tunnel(mut client: TcpStream, target: SocketAddr, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut words = head.split_whitespace();
    if words.next() != Some("CONNECT") {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    seen.lock()
        .unwrap()
        .push(words.next().unwrap_or("").to_string());
    let Ok(upstream) = TcpStream::connect(target) else {
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let (mut u, mut c) = (upstream, client);
    let _ = std::io::copy(&mut u, &mut c);
    let _ = c.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

pub fn https_sim() -> (Simulator, std::path::PathBuf) {
    let sim = Simulator::start(SimOptions {
        clients: vec![(CLIENT_ID.to_string(), SECRET.to_string())],
        tls: true,
        tls_names: vec!["login.test".to_string(), "api.test".to_string()],
        ..SimOptions::default()
    })
    .unwrap();
    let ca = std::env::temp_dir().join(format!(
        "cxoauth-proxies-ca-{}-{}.pem",
        std::process::id(),
        sim.addr().port()
    ));
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    (sim, ca)
}

pub fn client(sim: &Simulator, ca: &std::path::Path, proxies: serde_json::Value) -> Arc<Client> {
    let port = sim.addr().port();
    let mut cfg = serde_json::json!({
        "token_url": format!("https://login.test:{port}/oauth/token"),
        "api_base": format!("https://api.test:{port}"),
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "ca_file": ca,
        "timeout_ms": 5000,
        "deadline_ms": 20000,
    });
    for (k, v) in proxies.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    Arc::new(Client::new(Config::from_json(Some(&cfg.to_string())).unwrap()).unwrap())
}
