//! The client certificate (mTLS): `client_cert_file` + `client_key_file`, or the same PEM
//! material inline as `client_cert_pem` / `client_key_pem`. Presented on every TLS
//! connection of the client (token, discovery, API; the process-wide pool and the calling
//! threads' own connections share the rustls configuration that holds it).
//!
//! Files are re-read when they change (certificate rotation without a restart), checked at
//! most once a minute, on the next handshake. A rotation that does not load (half written,
//! key and certificate not matching yet, expired) keeps the previous identity and is tried
//! again at the next check.
//!
//! Key material: the PEM text and the DER key are wiped when dropped; the signing key parsed
//! by ring lives in ring's own structure (not zeroized by ring). Nothing of a key is logged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::config::opt_string;
use crate::error::{Error, Result};

/// How often the files are looked at (milliseconds); tests shorten it.
static RECHECK_MS: AtomicU64 = AtomicU64::new(60_000);

/// Shortens the rotation check interval (tests only; the default is one minute).
#[doc(hidden)]
pub fn set_recheck_interval_for_tests(d: std::time::Duration) {
    RECHECK_MS.store(d.as_millis() as u64, Ordering::Relaxed);
}

/// How often key and certificate files are looked at (also the assertion key's).
pub(crate) fn recheck_interval() -> std::time::Duration {
    std::time::Duration::from_millis(RECHECK_MS.load(Ordering::Relaxed))
}

/// Where the identity comes from.
#[derive(Clone)]
enum Source {
    Files { cert: PathBuf, key: PathBuf },
    Inline,
}

/// A loaded certificate chain and key, with what `cxoauth check` shows.
struct Loaded {
    key: Arc<CertifiedKey>,
    subject: String,
    not_after: SystemTime,
    /// (cert, key) file stamps: modification time and length.
    stamps: Option<(Stamp, Stamp)>,
    checked: Instant,
}

type Stamp = (Option<SystemTime>, u64);

/// The public key's fingerprint and the private key's derived secret.
type Fingerprints = ([u8; 32], Zeroizing<[u8; 32]>);

fn stamp(p: &Path) -> Stamp {
    match std::fs::metadata(p) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

/// The client's TLS identity (shared by its rustls configurations).
pub struct ClientIdentity {
    source: Source,
    state: Mutex<Loaded>,
    /// Derived from the public key: a stable, non-secret fingerprint (SHA-256 of the
    /// certificate's SubjectPublicKeyInfo), for shared-cache keys without a client secret.
    spki_sha256: [u8; 32],
    /// SHA-256 over a label and the private key (at configuration time, wiped): input of the
    /// shared cache's sealing key when the client has no secret.
    key_secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Files { cert, key } => f
                .debug_struct("ClientIdentity")
                .field("cert_file", cert)
                .field("key_file", key)
                .finish(),
            Source::Inline => f.write_str("ClientIdentity(inline PEM)"),
        }
    }
}

fn read(key: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::config(format!(
            "config key \"{key}\": cannot read {}: {}",
            path.display(),
            e.kind()
        ))
    })
}

/// Parses and checks a certificate chain and its key. `ck`/`kk` name the keys in errors.
fn load(cert_pem: &[u8], key_pem: &[u8], ck: &str, kk: &str) -> Result<(Loaded, Fingerprints)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::config(format!("config key \"{ck}\" is not a PEM certificate")))?;
    let Some(leaf) = certs.first() else {
        return Err(Error::config(format!(
            "config key \"{ck}\" holds no PEM certificate"
        )));
    };
    let (subject, not_before, not_after, spki) = {
        let (_, x) = x509_parser::parse_x509_certificate(leaf).map_err(|_| {
            Error::config(format!(
                "config key \"{ck}\": the certificate cannot be parsed"
            ))
        })?;
        let v = x.validity();
        let t = |t: &x509_parser::time::ASN1Time| {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.timestamp().max(0) as u64)
        };
        (
            x.subject().to_string(),
            t(&v.not_before),
            t(&v.not_after),
            ring::digest::digest(&ring::digest::SHA256, x.public_key().raw),
        )
    };
    let now = SystemTime::now();
    if now > not_after {
        return Err(Error::config(format!(
            "config key \"{ck}\": the certificate ({subject}) expired at {}",
            httpdate::fmt_http_date(not_after)
        )));
    }
    if now < not_before {
        return Err(Error::config(format!(
            "config key \"{ck}\": the certificate ({subject}) is not valid before {}",
            httpdate::fmt_http_date(not_before)
        )));
    }
    let mut der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        Error::config(format!(
            "config key \"{kk}\" holds no PEM private key (PKCS#8, RSA or EC)"
        ))
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der);
    let mut key_secret = Zeroizing::new([0u8; 32]);
    {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"cxoauth client key\0");
        ctx.update(der.secret_der());
        key_secret.copy_from_slice(ctx.finish().as_ref());
    }
    der.zeroize();
    let signing = signing.map_err(|_| {
        Error::config(format!(
            "config key \"{kk}\": unsupported key type (RSA, or EC P-256/P-384, expected)"
        ))
    })?;
    let key = CertifiedKey::new(certs, signing);
    match key.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(Error::config(format!(
                "config key \"{kk}\": the key does not match the certificate of \"{ck}\""
            )))
        }
    }
    let mut fp = [0u8; 32];
    fp.copy_from_slice(spki.as_ref());
    Ok((
        Loaded {
            key: Arc::new(key),
            subject,
            not_after,
            stamps: None,
            checked: Instant::now(),
        },
        (fp, key_secret),
    ))
}

impl ClientIdentity {
    /// The identity the configuration names, if any: loaded and checked now (a missing file,
    /// a key that does not match, an unsupported key type is `OAUTH_ERR_CONFIG` naming the key).
    pub fn from_config(obj: &Map<String, Value>) -> Result<Option<Arc<ClientIdentity>>> {
        let cert_file = opt_string(obj, "client_cert_file")?;
        let key_file = opt_string(obj, "client_key_file")?;
        let cert_pem = opt_string(obj, "client_cert_pem")?.map(Zeroizing::new);
        let key_pem = opt_string(obj, "client_key_pem")?.map(Zeroizing::new);
        if cert_file.is_some() && cert_pem.is_some() {
            return Err(Error::config(
                "config keys \"client_cert_file\" and \"client_cert_pem\" exclude each other",
            ));
        }
        if key_file.is_some() && key_pem.is_some() {
            return Err(Error::config(
                "config keys \"client_key_file\" and \"client_key_pem\" exclude each other",
            ));
        }
        match (cert_file, key_file, cert_pem, key_pem) {
            (None, None, None, None) => Ok(None),
            (Some(c), Some(k), None, None) => {
                let (cert, key) = (PathBuf::from(c), PathBuf::from(k));
                let stamps = (stamp(&cert), stamp(&key));
                let cert_pem = read("client_cert_file", &cert)?;
                let key_pem = read("client_key_file", &key)?;
                let (mut loaded, (fp, ks)) =
                    load(&cert_pem, &key_pem, "client_cert_file", "client_key_file")?;
                loaded.stamps = Some(stamps);
                Ok(Some(Arc::new(ClientIdentity {
                    source: Source::Files { cert, key },
                    state: Mutex::new(loaded),
                    spki_sha256: fp,
                    key_secret: ks,
                })))
            }
            (None, None, Some(c), Some(k)) => {
                let (loaded, (fp, ks)) = load(
                    c.as_bytes(),
                    k.as_bytes(),
                    "client_cert_pem",
                    "client_key_pem",
                )?;
                Ok(Some(Arc::new(ClientIdentity {
                    source: Source::Inline,
                    state: Mutex::new(loaded),
                    spki_sha256: fp,
                    key_secret: ks,
                })))
            }
            (c, k, cp, kp) => {
                let missing = match (c.is_some(), k.is_some(), cp.is_some(), kp.is_some()) {
                    (true, false, _, false) => "\"client_key_file\" is missing",
                    (false, true, false, _) => "\"client_cert_file\" is missing",
                    (_, false, true, false) => "\"client_key_pem\" is missing",
                    (false, _, false, true) => "\"client_cert_pem\" is missing",
                    _ => "give both as files or both inline",
                };
                Err(Error::config(format!(
                    "a client certificate needs both the certificate and the key: {missing} (files: client_cert_file + client_key_file; inline: client_cert_pem + client_key_pem)"
                )))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current certificate and key: the files re-read first when they changed and the
    /// last check is at least the check interval ago.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut st = self.lock();
        if let Source::Files { cert, key } = &self.source {
            let every = recheck_interval();
            if st.checked.elapsed() >= every {
                st.checked = Instant::now();
                let stamps = (stamp(cert), stamp(key));
                if st.stamps.as_ref() != Some(&stamps) {
                    let reloaded = read("client_cert_file", cert).and_then(|c| {
                        let k = read("client_key_file", key)?;
                        load(&c, &k, "client_cert_file", "client_key_file")
                    });
                    match reloaded {
                        Ok((mut l, _)) => {
                            l.stamps = Some(stamps);
                            log::info!("client certificate reloaded: {}", l.subject);
                            *st = l;
                        }
                        Err(e) => {
                            // kept: the previous identity; tried again at the next check
                            log::warn!(
                                "client certificate not reloaded, the previous one stays: {}",
                                e.message
                            );
                        }
                    }
                }
            }
        }
        st.key.clone()
    }

    /// The certificate's subject (as loaded last).
    pub fn subject(&self) -> String {
        self.lock().subject.clone()
    }

    /// The certificate's expiry (as loaded last).
    pub fn not_after(&self) -> SystemTime {
        self.lock().not_after
    }

    /// SHA-256 of the certificate's public key (SubjectPublicKeyInfo) at configuration time.
    pub fn public_key_fingerprint(&self) -> &[u8; 32] {
        &self.spki_sha256
    }

    /// A value only the private key's holder can derive (configuration time): the shared
    /// cache's sealing input when the client has no secret.
    pub fn cache_secret(&self) -> &[u8; 32] {
        &self.key_secret
    }
}

/// rustls asks this for the certificate at each handshake that requests one.
#[derive(Debug)]
pub struct Resolver(pub Arc<ClientIdentity>);

impl rustls::client::ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
