//! `cxoauth-sim`: runs the simulator until SIGTERM / SIGINT.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cxoauth_sim::{SimOptions, Simulator};

const USAGE: &str = "\
Usage: cxoauth-sim [--port N] [--port-file PATH] [--client ID:SECRET]... [--token-lifetime SECS]
                   [--access-key ID:SECRET]... [--tenant-id ID] [--cxone-token-lifetime SECS]
                   [--keep-alive-idle-ms MS] [--tls-cert-file PATH]
                   [--rate-limit N] [--rate-limit-window-ms MS] [--rate-limit-scope token|client]
                   [--token-idle-timeout-ms MS]

Loopback-only simulator of the Genesys Cloud CX login service and REST API (and of NICE CXone's
OpenID discovery, access-key grant and tenant discovery), with fault
injection, for cxoauth's tests and demo. Listens on 127.0.0.1 only.

Options:
  --port N               TCP port (default 0: pick a free port)
  --port-file PATH       once listening, write the port number to PATH (atomically)
  --client ID:SECRET     register a client (split at the first ':'); repeatable.
                         The default client demo-client:demo-secret is always registered.
  --token-lifetime SECS  expires_in of issued tokens (default 86400)
  --access-key ID:SECRET register a CXone access key; repeatable (demo-key:demo-key-secret
                         is always registered)
  --tenant-id ID         CXone tenant id (default 11111111-2222-3333-4444-555555555555)
  --cxone-token-lifetime SECS  expires_in of CXone tokens (default 3600)
  --keep-alive-idle-ms MS close connections idle longer than MS, as servers and load
                         balancers do (default 0: never)
  --rate-limit N         API requests allowed per window and per access token (as Genesys
                         counts them; about 300 a minute there): over it 429 + Retry-After;
                         every API reply carries inin-ratelimit-* (default 0: no limit)
  --rate-limit-window-ms MS  length of the rate-limit window (default 60000)
  --rate-limit-scope token|client  count the limit per access token (default) or per client
  --token-idle-timeout-ms MS  revoke tokens unused for longer than MS: the API answers 401
                         (default 0: never)
  --tls-cert-file PATH   serve HTTPS with a new self-signed certificate for 127.0.0.1 and
                         localhost, written (PEM) to PATH before the port file
  -h, --help             print this help

Endpoints: POST /oauth/token, GET /api/v2/tokens/me, GET /api/v2/organizations/me,
GET /api/v2/users/me, ANY /api/v2/echo[/...]; CXone: GET /.well-known/openid-configuration,
GET /.well-known/cxone-configuration?tenantId=.., POST /auth/token, /cxone/....
Admin: GET /__admin/health, GET /__admin/counters, GET|POST /__admin/faults,
POST /__admin/reset, POST /__admin/revoke, POST /__admin/config {\"token_lifetime_s\":N,
\"keep_alive_idle_ms\":N, \"rate_limit\":N, \"rate_limit_window_ms\":N, \"rate_limit_scope\":..,
\"token_idle_timeout_ms\":N, \"token_outage_ms\":N} (any of them),
POST /__admin/clients {\"client_id\":..,\"client_secret\":..}, POST /__admin/revoke_refresh,
POST /__admin/access_keys {\"access_key_id\":..,\"access_key_secret\":..}.
";

struct Args {
    opts: SimOptions,
    port_file: Option<PathBuf>,
    tls_cert_file: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut opts = SimOptions::default();
    let mut port_file = None;
    let mut tls_cert_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // Accept both "--opt value" and "--opt=value".
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value()?;
                opts.port = v.parse().map_err(|_| format!("invalid port: {v}"))?;
            }
            "--port-file" => port_file = Some(PathBuf::from(value()?)),
            "--client" => {
                let v = value()?;
                let (id, secret) = v.split_once(':').ok_or("--client expects ID:SECRET")?;
                if id.is_empty() {
                    return Err("--client: empty client id".to_string());
                }
                opts.clients.push((id.to_string(), secret.to_string()));
            }
            "--token-lifetime" => {
                let v = value()?;
                opts.token_lifetime_s = v
                    .parse()
                    .map_err(|_| format!("invalid token lifetime: {v}"))?;
            }
            "--access-key" => {
                let v = value()?;
                let (id, secret) = v.split_once(':').ok_or("--access-key expects ID:SECRET")?;
                opts.access_keys.push((id.to_string(), secret.to_string()));
            }
            "--tenant-id" => opts.tenant_id = value()?,
            "--cxone-token-lifetime" => {
                let v = value()?;
                opts.cxone_token_lifetime_s = v
                    .parse()
                    .map_err(|_| format!("invalid token lifetime: {v}"))?;
            }
            "--tls-cert-file" => {
                opts.tls = true;
                tls_cert_file = Some(PathBuf::from(value()?));
            }
            "--keep-alive-idle-ms" => {
                let v = value()?;
                opts.keep_alive_idle_ms =
                    v.parse().map_err(|_| format!("invalid idle time: {v}"))?;
            }
            "--rate-limit" => {
                let v = value()?;
                opts.rate_limit = v.parse().map_err(|_| format!("invalid rate limit: {v}"))?;
            }
            "--rate-limit-window-ms" => {
                let v = value()?;
                opts.rate_limit_window_ms = v
                    .parse()
                    .ok()
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| format!("invalid rate-limit window: {v}"))?;
            }
            "--rate-limit-scope" => {
                let v = value()?;
                opts.rate_limit_scope = cxoauth_sim::RateLimitScope::parse(&v)
                    .ok_or_else(|| format!("--rate-limit-scope must be token or client: {v}"))?;
            }
            "--token-idle-timeout-ms" => {
                let v = value()?;
                opts.token_idle_timeout_ms = v
                    .parse()
                    .map_err(|_| format!("invalid idle timeout: {v}"))?;
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(Args {
        opts,
        port_file,
        tls_cert_file,
    }))
}

fn write_port_file(path: &PathBuf, port: u16) -> std::io::Result<()> {
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Waits for SIGTERM or SIGINT. The handlers are installed by `install_signals`, before the
/// simulator announces readiness, so an early signal is not lost.
struct Signals {
    rt: tokio::runtime::Runtime,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

fn install_signals() -> std::io::Result<Signals> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = rt.enter();
        let term = signal(SignalKind::terminate())?;
        let int = signal(SignalKind::interrupt())?;
        drop(_guard);
        Ok(Signals { rt, term, int })
    }
    #[cfg(not(unix))]
    Ok(Signals { rt })
}

impl Signals {
    fn wait(mut self) {
        #[cfg(unix)]
        self.rt.block_on(async {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        });
        #[cfg(not(unix))]
        self.rt.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cxoauth-sim: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let signals = match install_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cxoauth-sim: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sim = match Simulator::start(args.opts) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cxoauth-sim: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "cxoauth-sim listening on {}", sim.base_url());
    let _ = stdout.flush();
    if let (Some(path), Some(pem)) = (&args.tls_cert_file, sim.ca_pem()) {
        if let Err(e) = std::fs::write(path, pem) {
            eprintln!("cxoauth-sim: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.port_file {
        if let Err(e) = write_port_file(path, sim.addr().port()) {
            eprintln!("cxoauth-sim: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    signals.wait();
    drop(sim);
    ExitCode::SUCCESS
}
