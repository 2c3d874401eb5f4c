//! Debian's nginx as an egress gateway in front of the simulator: path prefixes (`/login/`,
//! `/api/`, each stripped), optionally TLS with client-certificate verification (mTLS).
//! Started per test on a free loopback port, waited on by connecting, stopped by its pid.
//! Certificates are made with openssl in a per-test directory.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn nginx_bin() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    // Not a skip: the suite needs it (scripts/test.sh installs nginx-light where missing).
    panic!("nginx is needed for the gateway tests: apt-get install nginx-light");
}

/// A per-test scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cxoauth-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
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

/// A CA (`{name}.pem`, `{name}.key`) in `dir`.
pub fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=cxoauth test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// What a leaf certificate is for.
pub enum Leaf {
    Server,
    Client,
}

/// A leaf `{name}.pem` / `{name}.key` (PKCS#8) signed by CA `ca`; `key` is an openssl
/// `-newkey` argument (`rsa:2048`, `ec` with P-256).
pub fn make_leaf(dir: &Path, ca: &str, name: &str, key: &str, leaf: Leaf) {
    let ext = match leaf {
        Leaf::Server => "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        Leaf::Client => "extendedKeyUsage=clientAuth\n",
    };
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    let mut newkey = vec!["req", "-new", "-nodes", "-subj"];
    let subj = format!("/CN=cxoauth {name}");
    newkey.push(&subj);
    let keyout = format!("{name}.key");
    let csr = format!("{name}.csr");
    if key == "ec" {
        newkey.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    } else {
        newkey.extend(["-newkey", key]);
    }
    newkey.extend(["-keyout", &keyout, "-out", &csr]);
    openssl(dir, &newkey);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// A free loopback port (bound and released: nginx has no port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

pub struct Mtls<'a> {
    /// Directory with `server.pem`/`server.key` and the client CA `client_ca` (`{}.pem`).
    pub dir: &'a Path,
    pub client_ca: &'a str,
}

impl Nginx {
    /// nginx on 127.0.0.1 with `/login/` and `/api/` proxied (prefix stripped) to
    /// `127.0.0.1:upstream`, every other path 404. Each request on a new connection
    /// (`keepalive_timeout 0`), so every request shows the certificate of its own handshake.
    /// The access log records each request's URI and its Authorization kind (none, basic, bearer).
    pub fn start(upstream: u16, mtls: Option<Mtls<'_>>) -> Nginx {
        let locations = format!(
            "location /login/ {{ proxy_pass http://127.0.0.1:{upstream}/; }}\n\
             location /api/ {{ proxy_pass http://127.0.0.1:{upstream}/; }}\n\
             location / {{ return 404; }}\n"
        );
        Nginx::start_on(free_port(), &locations, mtls)
    }

    /// nginx on 127.0.0.1:`port` with these `location` blocks (see [`Nginx::start`]).
    pub fn start_on(port: u16, locations: &str, mtls: Option<Mtls<'_>>) -> Nginx {
        let bin = nginx_bin();
        let dir = TempDir::new("nginx");
        let tls = match &mtls {
            Some(m) => format!(
                "listen 127.0.0.1:{port} ssl;\n ssl_certificate {d}/server.pem;\n ssl_certificate_key {d}/server.key;\n ssl_client_certificate {d}/{ca}.pem;\n ssl_verify_client on;\n",
                d = m.dir.display(),
                ca = m.client_ca
            ),
            None => format!("listen 127.0.0.1:{port};\n"),
        };
        let d = dir.0.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
              fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
              map $http_authorization $auth {{ \"\" none; \"~^Bearer \" bearer; default basic; }}\n\
              log_format gw '$uri $auth $status';\n access_log {d}/access.log gw;\n\
              server {{\n {tls} keepalive_timeout 0;\n {locations} }}\n}}\n"
        );
        std::fs::write(dir.path("nginx.conf"), conf).unwrap();
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.path("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        // readiness: the port accepts connections (and nginx has not exited)
        let until = Instant::now() + Duration::from_secs(20);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.path("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            assert!(Instant::now() < until, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        }
        Nginx { child, port, dir }
    }

    /// The access log: one `uri auth status` line per request.
    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
