//! The `file://` backend: one sealed file per entry in a 0700 directory, written to a temp
//! file (0600) and renamed into place; single-flight through an advisory `flock` on a lock
//! file (the kernel releases it when a holder dies); waiters poll the entry while they wait.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Acquired, Entry, Lock};

/// How often a waiter looks again.
const POLL: Duration = Duration::from_millis(10);

pub struct FileCache {
    dir: PathBuf,
    entry: PathBuf,
    lock: PathBuf,
    limit: PathBuf,
}

/// An held `flock` (released when the file is closed).
pub struct FileLock(#[allow(dead_code)] File);

fn err(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

impl FileCache {
    pub fn new(dir: &Path, name: &str) -> FileCache {
        FileCache {
            dir: dir.to_path_buf(),
            entry: dir.join(format!("{name}.token")),
            lock: dir.join(format!("{name}.lock")),
            limit: dir.join(format!("{name}.ratelimit")),
        }
    }

    /// The directory, created 0700 if missing; an existing one that others can read or write
    /// is tightened when it is ours, else refused.
    fn ensure_dir(&self) -> Result<(), String> {
        if !self.dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| err("cannot create", &self.dir, e))?;
        }
        let meta = fs::metadata(&self.dir).map_err(|e| err("cannot read", &self.dir, e))?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", self.dir.display()));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(|_| {
                format!(
                    "{} is open to other users and cannot be made 0700",
                    self.dir.display()
                )
            })?;
        }
        Ok(())
    }

    pub fn load(&self) -> Result<Option<String>, String> {
        match fs::read_to_string(&self.entry) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.ensure_dir()?;
                Ok(None)
            }
            Err(e) => Err(err("cannot read", &self.entry, e)),
        }
    }

    fn try_lock(&self) -> Result<Option<FileLock>, String> {
        self.ensure_dir()?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&self.lock)
            .map_err(|e| err("cannot open", &self.lock, e))?;
        // SAFETY: flock on an fd we own.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(FileLock(f)));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(err("cannot lock", &self.lock, e))
        }
    }

    pub async fn acquire(
        &self,
        deadline: Instant,
        fresh: impl Fn(&str) -> Option<Entry>,
    ) -> Result<Acquired, String> {
        loop {
            if let Some(e) = self.load()?.as_deref().and_then(&fresh) {
                return Ok(Acquired::Entry(e));
            }
            if let Some(l) = self.try_lock()? {
                return Ok(Acquired::Lock(Lock::File(l)));
            }
            if Instant::now() + POLL >= deadline {
                return Err("timed out waiting for another process's token fetch".into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Writes `text` to a temp file (0600) and renames it into place.
    fn write_atomically(&self, target: &Path, text: &str) -> Result<(), String> {
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(
            ".{}.{}.{:x}.tmp",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("entry"),
            std::process::id(),
            fastrand::u64(..)
        ));
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| err("cannot create", &tmp, e))?;
        let written = f.write_all(text.as_bytes()).and_then(|_| f.sync_data());
        drop(f);
        if let Err(e) = written.and_then(|_| fs::rename(&tmp, target)) {
            let _ = fs::remove_file(&tmp);
            return Err(err("cannot write", target, e));
        }
        Ok(())
    }

    pub fn store(&self, text: &str) -> Result<(), String> {
        self.write_atomically(&self.entry, text)
    }

    pub fn invalidate(&self, matches: impl Fn(&str) -> bool) -> Result<(), String> {
        // under the lock, so a token stored meanwhile by another process is not removed
        let start = Instant::now();
        let lock = loop {
            if let Some(l) = self.try_lock()? {
                break l;
            }
            if start.elapsed() > Duration::from_secs(2) {
                return Err("lock held too long".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if let Ok(t) = fs::read_to_string(&self.entry) {
            if matches(&t) {
                let _ = fs::remove_file(&self.entry);
            }
        }
        drop(lock);
        Ok(())
    }

    pub fn note_rate_limit(&self, until_unix_ms: u64) -> Result<(), String> {
        self.write_atomically(&self.limit, &until_unix_ms.to_string())
    }

    pub fn rate_limited_until(&self) -> Result<Option<u64>, String> {
        match fs::read_to_string(&self.limit) {
            Ok(t) => Ok(t.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err("cannot read", &self.limit, e)),
        }
    }
}
