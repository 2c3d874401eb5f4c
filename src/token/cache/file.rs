//! The `file://` backend: one sealed file per entry in a directory that only its owner can
//! write; single-flight through an advisory `flock` on a lock file (the kernel releases it
//! when a holder dies); waiters poll the entry while they wait.
//!
//! Nobody else on the host is trusted. The directory is opened once per operation with
//! `O_DIRECTORY|O_NOFOLLOW` and must be owned by the effective uid (root included): one that
//! others may write is tightened with `fchmod` when it is ours, refused otherwise. Every file is
//! opened relative to it with `openat(O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC)` — no link is followed,
//! nothing is created outside it, a FIFO does not block — must be a regular file and is read
//! up to [`MAX_FILE`] bytes (larger, or not text: corrupt, and replaced by the next store).
//! Writes go to a temp file made `O_EXCL`, `fchmod` 0600, then `renameat` into place. All of it
//! runs on the runtime's blocking threads, never on an async worker.
//!
//! Lock waits are bounded by the caller (then it fetches without the lock). Lock descriptors
//! are `O_CLOEXEC` and closed in a forked child by an atfork handler, so a child forked during
//! a fetch never keeps the parent's lock.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use super::{Acquired, Entry, Lock, Seen};

/// How often a waiter looks again.
const POLL: Duration = Duration::from_millis(10);
/// The largest file read (an entry is a few hundred bytes): anything larger is corrupt.
const MAX_FILE: usize = 16 * 1024;

pub struct FileCache {
    files: Arc<Files>,
}

struct Files {
    dir: PathBuf,
    entry: CString,
    lock: CString,
    limit: CString,
    name: String,
}

/// A held `flock` (released when its descriptor is closed; never closed by a forked child's
/// copy of this value: the atfork handler closed the child's descriptor already).
pub struct FileLock {
    fd: Option<OwnedFd>,
    epoch: u64,
    slot: Option<usize>,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            HELD[slot].store(-1, Ordering::Release);
        }
        if let Some(fd) = self.fd.take() {
            if self.epoch != crate::rt::process::epoch() {
                std::mem::forget(fd); // closed in the child by the atfork handler
            }
        }
    }
}

/// Lock descriptors held now, closed in a forked child.
static HELD: [AtomicI32; 32] = [const { AtomicI32::new(-1) }; 32];
static ATFORK: Once = Once::new();

extern "C" fn close_held_in_child() {
    for h in HELD.iter() {
        let fd = h.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: async-signal-safe; the child's copy of a descriptor this library opened.
            unsafe { libc::close(fd) };
        }
    }
}

fn register_held(fd: RawFd) -> Option<usize> {
    ATFORK.call_once(|| {
        // SAFETY: the handler only closes descriptors listed above; the library stays mapped.
        unsafe { libc::pthread_atfork(None, None, Some(close_held_in_child)) };
    });
    HELD.iter().position(|h| {
        h.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

/// What one read of a file found.
enum Read {
    Absent,
    Text(String),
    Corrupt,
}

fn os_err(what: &str, path: &Path, name: Option<&CString>) -> String {
    let e = std::io::Error::last_os_error();
    match name {
        Some(n) => format!("{what} {}/{}: {e}", path.display(), n.to_string_lossy()),
        None => format!("{what} {}: {e}", path.display()),
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn fstat(fd: RawFd) -> Option<libc::stat> {
    // SAFETY: a valid descriptor and out-pointer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st)
}

fn is_regular(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

impl Files {
    /// The directory, created 0700 if missing, opened without following a link, required to be
    /// ours; one that others may write or read is tightened (ours) with `fchmod`.
    fn open_dir(&self) -> Result<OwnedFd, String> {
        let path = CString::new(self.dir.as_os_str().as_bytes())
            .map_err(|_| "the cache directory's path holds a NUL".to_string())?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated path.
        let mut fd = unsafe { libc::open(path.as_ptr(), flags) };
        if fd < 0 && errno() == libc::ENOENT {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
            // SAFETY: as above.
            fd = unsafe { libc::open(path.as_ptr(), flags) };
        }
        if fd < 0 {
            return Err(match errno() {
                libc::ELOOP => format!("{} is a symbolic link: refused", self.dir.display()),
                libc::ENOTDIR => format!("{} is not a directory", self.dir.display()),
                _ => os_err("cannot open", &self.dir, None),
            });
        }
        // SAFETY: just opened, owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = fstat(fd.as_raw_fd()).ok_or_else(|| os_err("cannot stat", &self.dir, None))?;
        // SAFETY: no arguments.
        let euid = unsafe { libc::geteuid() };
        if st.st_uid != euid {
            return Err(format!(
                "{} is owned by uid {}, not by this process's uid {euid}: refused",
                self.dir.display(),
                st.st_uid
            ));
        }
        if st.st_mode & 0o077 != 0 {
            // SAFETY: our descriptor.
            if unsafe { libc::fchmod(fd.as_raw_fd(), 0o700) } != 0 {
                return Err(format!(
                    "{} is open to other users and cannot be made 0700",
                    self.dir.display()
                ));
            }
        }
        Ok(fd)
    }

    fn open_at(&self, dir: &OwnedFd, name: &CString, flags: i32) -> RawFd {
        let flags = flags | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: a directory descriptor and a NUL-terminated relative name.
        unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o600 as libc::c_uint) }
    }

    /// Reads `name`: at most [`MAX_FILE`] bytes of a regular file; a link, a FIFO, a device,
    /// a larger file or one that is not text is corrupt.
    fn read(&self, dir: &OwnedFd, name: &CString) -> Result<Read, String> {
        let fd = self.open_at(dir, name, libc::O_RDONLY);
        if fd < 0 {
            return match errno() {
                libc::ENOENT => Ok(Read::Absent),
                libc::ELOOP | libc::ENXIO | libc::EISDIR => Ok(Read::Corrupt),
                _ => Err(os_err("cannot read", &self.dir, Some(name))),
            };
        }
        // SAFETY: just opened, owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match fstat(fd.as_raw_fd()) {
            Some(st) if is_regular(&st) && st.st_size as u64 <= MAX_FILE as u64 => {}
            Some(_) => return Ok(Read::Corrupt),
            None => return Err(os_err("cannot stat", &self.dir, Some(name))),
        }
        let mut buf = vec![0u8; MAX_FILE + 1];
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: reads into the rest of `buf`.
            let n = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    buf[got..].as_mut_ptr().cast(),
                    buf.len() - got,
                )
            };
            match n {
                0 => break,
                n if n > 0 => got += n as usize,
                _ if errno() == libc::EINTR => continue,
                _ => return Ok(Read::Corrupt), // EAGAIN and the like: not a plain file
            }
        }
        if got > MAX_FILE {
            return Ok(Read::Corrupt);
        }
        buf.truncate(got);
        Ok(String::from_utf8(buf).map_or(Read::Corrupt, Read::Text))
    }

    fn load(&self) -> Result<Option<String>, String> {
        let dir = self.open_dir()?;
        Ok(match self.read(&dir, &self.entry)? {
            Read::Text(t) => Some(t),
            Read::Absent | Read::Corrupt => None,
        })
    }

    fn unlink(&self, dir: &OwnedFd, name: &CString) {
        // SAFETY: a directory descriptor and a relative name.
        unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
    }

    /// Opens the lock file (a regular file; anything else planted under its name is removed
    /// once) and tries to lock it without waiting.
    fn try_lock(&self) -> Result<Option<FileLock>, String> {
        let dir = self.open_dir()?;
        for attempt in 0..2 {
            let fd = self.open_at(&dir, &self.lock, libc::O_RDWR | libc::O_CREAT);
            if fd < 0 {
                if errno() == libc::ELOOP && attempt == 0 {
                    self.unlink(&dir, &self.lock);
                    continue;
                }
                return Err(os_err("cannot open", &self.dir, Some(&self.lock)));
            }
            // SAFETY: just opened, owned here.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if !fstat(fd.as_raw_fd()).is_some_and(|st| is_regular(&st)) {
                drop(fd);
                self.unlink(&dir, &self.lock);
                continue;
            }
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                return if errno() == libc::EWOULDBLOCK {
                    Ok(None)
                } else {
                    Err(os_err("cannot lock", &self.dir, Some(&self.lock)))
                };
            }
            let slot = register_held(fd.as_raw_fd());
            return Ok(Some(FileLock {
                fd: Some(fd),
                epoch: crate::rt::process::epoch(),
                slot,
            }));
        }
        Err(format!(
            "{}/{} is not a regular file",
            self.dir.display(),
            self.lock.to_string_lossy()
        ))
    }

    /// Writes `text` to a new temp file (0600) and renames it onto `target`, all inside the
    /// opened directory.
    fn write_atomically(&self, target: &CString, text: &str) -> Result<(), String> {
        let dir = self.open_dir()?;
        let tmp = cstr(&format!(
            ".{}.{}.{:x}.tmp",
            target.to_string_lossy(),
            std::process::id(),
            fastrand::u64(..)
        ));
        let fd = self.open_at(&dir, &tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL);
        if fd < 0 {
            return Err(os_err("cannot create", &self.dir, Some(&tmp)));
        }
        // SAFETY: just opened, owned here.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let written = (|| {
            use std::io::Write;
            // SAFETY: our descriptor.
            if unsafe { libc::fchmod(file.as_raw_fd(), 0o600) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            (&file).write_all(text.as_bytes())?;
            file.sync_data()
        })();
        drop(file);
        let renamed = written.and_then(|_| {
            // SAFETY: both names relative to the same directory descriptor.
            let rc = unsafe {
                libc::renameat(
                    dir.as_raw_fd(),
                    tmp.as_ptr(),
                    dir.as_raw_fd(),
                    target.as_ptr(),
                )
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
        if let Err(e) = renamed {
            self.unlink(&dir, &tmp);
            return Err(format!(
                "cannot write {}/{}: {e}",
                self.dir.display(),
                target.to_string_lossy()
            ));
        }
        Ok(())
    }

    /// Removes the entry if `matches` its text (the caller holds the lock).
    fn remove_entry_if(&self, matches: impl Fn(&str) -> bool) -> Result<(), String> {
        let dir = self.open_dir()?;
        if let Read::Text(t) = self.read(&dir, &self.entry)? {
            if matches(&t) {
                self.unlink(&dir, &self.entry);
            }
        }
        Ok(())
    }
}

impl FileCache {
    pub fn new(dir: &Path, name: &str) -> FileCache {
        FileCache {
            files: Arc::new(Files {
                dir: dir.to_path_buf(),
                entry: cstr(&format!("{name}.token")),
                lock: cstr(&format!("{name}.lock")),
                limit: cstr(&format!("{name}.ratelimit")),
                name: name.to_string(),
            }),
        }
    }

    /// Runs `f` on the runtime's blocking threads (never on an async worker).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Files) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let files = Arc::clone(&self.files);
        tokio::task::spawn_blocking(move || f(&files))
            .await
            .unwrap_or_else(|_| Err(format!("file operation on {} failed", self.files.name)))
    }

    pub async fn load(&self) -> Result<Option<String>, String> {
        self.blocking(Files::load).await
    }

    async fn try_lock(&self) -> Result<Option<FileLock>, String> {
        self.blocking(Files::try_lock).await
    }

    /// Takes the lock or waits for a token (`fresh` accepts it) until `wait_until`; after that
    /// [`Acquired::Busy`] (the caller fetches without the lock).
    pub async fn acquire(
        &self,
        wait_until: Instant,
        fresh: impl Fn(&str) -> Option<Entry>,
    ) -> Result<Acquired, String> {
        loop {
            if let Some(e) = self.load().await?.as_deref().and_then(&fresh) {
                return Ok(Acquired::Entry(e));
            }
            if let Some(l) = self.try_lock().await? {
                return Ok(Acquired::Lock(Lock::File(l)));
            }
            if Instant::now() + POLL >= wait_until {
                return Ok(Acquired::Busy(Seen::Any));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn store(&self, text: &str) -> Result<(), String> {
        let text = zeroize::Zeroizing::new(text.to_string());
        self.blocking(move |f| f.write_atomically(&f.entry, &text))
            .await
    }

    /// Removes the entry if it still holds what `matches` (under the lock, so a token another
    /// process stored meanwhile stays). The lock is waited for until `wait_until`; a holder
    /// still busy then is fetching a new token anyway, and the old entry is skipped by the
    /// caller: nothing to do.
    pub async fn invalidate(
        &self,
        matches: impl Fn(&str) -> bool + Send + 'static,
        wait_until: Instant,
    ) -> Result<(), String> {
        let lock = loop {
            if let Some(l) = self.try_lock().await? {
                break l;
            }
            if Instant::now() + POLL >= wait_until {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        };
        let r = self.blocking(move |f| f.remove_entry_if(matches)).await;
        drop(lock);
        r
    }

    pub async fn note_rate_limit(&self, text: &str) -> Result<(), String> {
        let text = text.to_string();
        self.blocking(move |f| f.write_atomically(&f.limit, &text))
            .await
    }

    /// The rate-limit file's text, if any (corrupt: none).
    pub async fn rate_limited_until(&self) -> Result<Option<String>, String> {
        self.blocking(|f| {
            let dir = f.open_dir()?;
            Ok(match f.read(&dir, &f.limit)? {
                Read::Text(t) => Some(t),
                _ => None,
            })
        })
        .await
    }
}
