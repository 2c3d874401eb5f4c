//! The cached token as `oauth_get_token` reads it: a sequence lock over a buffer of atomic
//! words, so that a reader makes no shared write and no fence (an x86 reader is plain loads).
//!
//! The token manager keeps the token in an `ArcSwapOption` (reference-counted, for requests and
//! the refresh timer); its guard costs a SeqCst fence and a thread-local lookup per read. This
//! mirror of it — updated under one lock by every writer of that slot, in the same order — lets
//! the hottest call copy the token out with: a sequence load, the length, the words, the
//! sequence again. A reader that overlapped a write sees the sequence change and copies again.
//! Every access to the shared buffer is atomic (relaxed words between an acquire load and an
//! acquire fence, as in Boehm's "Can seqlocks get along with programming language memory
//! models?"), so there is no data race.
//!
//! Buffers are never freed while the mirror lives: a reader may still be copying from the old
//! buffer when a longer token needs a bigger one. The old one is wiped and kept (capacity only
//! grows, doubling, so a handful at most); all are wiped and freed with the mirror. Clearing
//! the mirror wipes the bytes too.
//!
//! The writers' lock is a word holding the fork epoch of its holder: a child forked while a
//! parent thread was writing (that thread does not exist in the child) takes the lock over,
//! and ends the half-done write as "no token" instead of waiting forever.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// A token's bytes in atomic words.
struct Words(Box<[AtomicU64]>);

impl Words {
    fn with_bytes(bytes: usize) -> Box<Words> {
        let n = bytes.div_ceil(8).max(8).next_power_of_two();
        Box::new(Words((0..n).map(|_| AtomicU64::new(0)).collect()))
    }

    fn capacity(&self) -> usize {
        self.0.len() * 8
    }

    fn wipe(&self) {
        for w in self.0.iter() {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// What the mirror holds besides the bytes.
#[derive(Clone, Copy)]
pub struct HotMeta {
    /// Unix ms on the coarse wall clock until which the token may be handed out.
    pub until_wall_ms: u64,
    /// The token's expiry (Unix ms), for `oauth_get_token_ex`.
    pub expires_unix_ms: u64,
}

pub struct HotToken {
    seq: AtomicU64,
    /// Token length in bytes; 0: no token.
    len: AtomicUsize,
    until_wall_ms: AtomicU64,
    expires_unix_ms: AtomicU64,
    words: AtomicPtr<Words>,
    /// Writers' lock: 0 free, else the holder's fork epoch + 1.
    lock: AtomicU64,
    /// Every buffer ever used (the current one last), changed only under `lock`. Boxed:
    /// `words` points at them, so they must not move when the list grows.
    #[allow(clippy::vec_box)]
    buffers: UnsafeCell<Vec<Box<Words>>>,
}

// SAFETY: `buffers` is only touched under `lock` (or with `&mut self`); everything else is
// atomic.
unsafe impl Sync for HotToken {}

impl Default for HotToken {
    fn default() -> Self {
        let first = Words::with_bytes(64);
        HotToken {
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            until_wall_ms: AtomicU64::new(0),
            expires_unix_ms: AtomicU64::new(0),
            words: AtomicPtr::new(&*first as *const Words as *mut Words),
            lock: AtomicU64::new(0),
            buffers: UnsafeCell::new(vec![first]),
        }
    }
}

/// A writer's hold on the mirror (its lock): the token slot is changed and mirrored under it.
pub struct HotWriter<'a> {
    hot: &'a HotToken,
}

impl Drop for HotWriter<'_> {
    fn drop(&mut self) {
        self.hot.lock.store(0, Ordering::Release);
    }
}

impl HotToken {
    /// Locks out other writers; the caller changes the token slot, then [`HotWriter::publish`].
    pub fn writer(&self) -> HotWriter<'_> {
        let me = crate::rt::process::epoch() + 1;
        let mut spins = 0u32;
        loop {
            match self
                .lock
                .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return HotWriter { hot: self },
                Err(holder) if holder != me => {
                    // held by a thread of the process this one was forked from: take it over
                    if self
                        .lock
                        .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        let mut w = HotWriter { hot: self };
                        w.repair();
                        return w;
                    }
                }
                Err(_) => {}
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Copies the token out if there is one that `usable(meta)` accepts: `alloc(len)` gives a
    /// buffer of at least `len + 1` bytes (NULL: out of memory), which is returned NUL-terminated;
    /// `release(buf, len)` takes back one that a concurrent write spoiled. `None`: no usable
    /// token (or out of memory): take the slow path.
    #[inline]
    pub fn copy_out(
        &self,
        usable: impl Fn(&HotMeta) -> bool,
        alloc: impl Fn(usize) -> *mut u8,
        release: impl Fn(*mut u8, usize),
    ) -> Option<(*mut u8, HotMeta)> {
        for _ in 0..64 {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let len = self.len.load(Ordering::Relaxed);
            let meta = HotMeta {
                until_wall_ms: self.until_wall_ms.load(Ordering::Relaxed),
                expires_unix_ms: self.expires_unix_ms.load(Ordering::Relaxed),
            };
            // SAFETY: `words` always points at a buffer in `buffers`, which lives as long as
            // `self` (buffers are only added, never freed before drop).
            let words = unsafe { &*self.words.load(Ordering::Acquire) };
            if len == 0 || len > words.capacity() || !usable(&meta) {
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s1 {
                    return None;
                }
                continue;
            }
            let out = alloc(len);
            if out.is_null() {
                return None;
            }
            let full = len / 8;
            for (i, w) in words.0[..full].iter().enumerate() {
                let word = w.load(Ordering::Relaxed).to_le();
                // SAFETY: `out` holds at least len + 1 bytes; (i + 1) * 8 <= len.
                unsafe { out.add(i * 8).cast::<u64>().write_unaligned(word) };
            }
            let rest = len % 8;
            if rest > 0 {
                let bytes = words.0[full].load(Ordering::Relaxed).to_le_bytes();
                // SAFETY: full * 8 + rest == len <= the buffer's size.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.add(full * 8), rest) };
            }
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                // SAFETY: as above; byte `len` is the terminator.
                unsafe { *out.add(len) = 0 };
                return Some((out, meta));
            }
            release(out, len);
        }
        None
    }
}

impl HotWriter<'_> {
    #[allow(clippy::vec_box)]
    fn buffers(&mut self) -> &mut Vec<Box<Words>> {
        // SAFETY: this writer holds the lock.
        unsafe { &mut *self.hot.buffers.get() }
    }

    /// After taking over a forked-away writer's lock: a write it left half done (odd
    /// sequence) ends as "no token".
    fn repair(&mut self) {
        let s = self.hot.seq.load(Ordering::Relaxed);
        if s & 1 == 1 {
            self.hot.len.store(0, Ordering::Relaxed);
            self.hot.seq.store(s.wrapping_add(1), Ordering::Release);
            self.publish(None);
        }
    }

    /// Mirrors the slot's new content: a token's bytes and meta, or none (the bytes wiped).
    pub fn publish(&mut self, token: Option<(&[u8], HotMeta)>) {
        let hot = self.hot;
        let s = hot.seq.load(Ordering::Relaxed);
        hot.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        match token {
            None => {
                hot.len.store(0, Ordering::Relaxed);
                self.buffers().last().expect("one buffer at least").wipe();
            }
            Some((bytes, meta)) => {
                let buffers = self.buffers();
                let mut current = buffers.last().expect("one buffer at least");
                if bytes.len() > current.capacity() {
                    current.wipe();
                    let bigger = Words::with_bytes(bytes.len());
                    hot.words
                        .store(&*bigger as *const Words as *mut Words, Ordering::Release);
                    buffers.push(bigger);
                    current = buffers.last().expect("just pushed");
                }
                for (i, w) in current.0.iter().enumerate() {
                    let mut word = [0u8; 8];
                    let from = (i * 8).min(bytes.len());
                    let to = (i * 8 + 8).min(bytes.len());
                    word[..to - from].copy_from_slice(&bytes[from..to]);
                    w.store(u64::from_le_bytes(word), Ordering::Relaxed);
                }
                hot.until_wall_ms
                    .store(meta.until_wall_ms, Ordering::Relaxed);
                hot.expires_unix_ms
                    .store(meta.expires_unix_ms, Ordering::Relaxed);
                hot.len.store(bytes.len(), Ordering::Relaxed);
            }
        }
        hot.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

impl Drop for HotToken {
    fn drop(&mut self) {
        for b in self.buffers.get_mut().iter() {
            b.wipe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(len: usize) -> *mut u8 {
        Box::into_raw(vec![0u8; len + 1].into_boxed_slice()).cast()
    }

    fn take(p: *mut u8, len: usize) -> Vec<u8> {
        // SAFETY: from `alloc(len)` above.
        let b = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len + 1)) };
        b.into_vec()
    }

    fn meta(until: u64) -> HotMeta {
        HotMeta {
            until_wall_ms: until,
            expires_unix_ms: 7,
        }
    }

    #[test]
    fn copies_what_was_published_and_nothing_else() {
        let hot = HotToken::default();
        let never = |_: *mut u8, _: usize| unreachable!();
        assert!(hot.copy_out(|_| true, alloc, never).is_none());
        hot.writer().publish(Some((b"tok-1", meta(100))));
        let (p, m) = hot
            .copy_out(|m| m.until_wall_ms > 50, alloc, never)
            .unwrap();
        assert_eq!(take(p, 5), b"tok-1\0");
        assert_eq!(m.expires_unix_ms, 7);
        assert!(hot
            .copy_out(|m| m.until_wall_ms > 500, alloc, never)
            .is_none());
        // longer than the first buffer: a bigger one
        let long = vec![b'x'; 1500];
        hot.writer().publish(Some((&long, meta(100))));
        let (p, _) = hot.copy_out(|_| true, alloc, never).unwrap();
        assert_eq!(&take(p, 1500)[..1500], &long[..]);
        // shorter again: no bytes of the longer one after the terminator matter, the
        // copy is exactly the new token
        hot.writer().publish(Some((b"short", meta(100))));
        let (p, _) = hot.copy_out(|_| true, alloc, never).unwrap();
        assert_eq!(take(p, 5), b"short\0");
        hot.writer().publish(None);
        assert!(hot.copy_out(|_| true, alloc, never).is_none());
    }

    /// Clearing the mirror wipes the token's bytes, not only its length.
    #[test]
    fn clearing_wipes_the_bytes() {
        let hot = HotToken::default();
        hot.writer()
            .publish(Some((b"secret-token-bytes", meta(100))));
        hot.writer().publish(None);
        // SAFETY: `words` points at a live buffer; read with the lock free.
        let words = unsafe { &*hot.words.load(Ordering::Acquire) };
        assert!(words.0.iter().all(|w| w.load(Ordering::Relaxed) == 0));
    }

    /// A fork while another thread holds the writers' lock mid-update: the child takes the
    /// lock over, sees no token (not a torn one) and can publish a new one.
    #[test]
    fn a_forked_child_can_write_after_a_fork_during_an_update() {
        let hot = HotToken::default();
        hot.writer().publish(Some((b"first", meta(100))));
        // a writer "of another thread" stopped mid-update: lock held, sequence odd
        let w = hot.writer();
        let s = hot.seq.load(Ordering::Relaxed);
        hot.seq.store(s + 1, Ordering::Relaxed);
        // SAFETY: the child only uses the mirror (atomics, one allocation) and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe { libc::alarm(10) };
            let never = |_: *mut u8, _: usize| {};
            let none = hot.copy_out(|_| true, alloc, never).is_none();
            hot.writer().publish(Some((b"child", meta(100))));
            let ok = match hot.copy_out(|_| true, alloc, never) {
                Some((p, _)) => take(p, 5) == b"child\0",
                None => false,
            };
            unsafe { libc::_exit(if none && ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "the child hung or crashed");
        assert_eq!(libc::WEXITSTATUS(status), 0);
        hot.seq.store(s + 2, Ordering::Relaxed);
        drop(w);
    }

    #[test]
    fn readers_never_see_a_torn_token() {
        let hot = std::sync::Arc::new(HotToken::default());
        let a = vec![b'a'; 300];
        let b = vec![b'b'; 700];
        hot.writer().publish(Some((&a, meta(1))));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (hot, stop) = (hot.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let release = |p: *mut u8, len: usize| drop(take(p, len));
                        if let Some((p, _)) = hot.copy_out(|_| true, alloc, release) {
                            // SAFETY: NUL-terminated buffer from `alloc`.
                            let len = unsafe { std::ffi::CStr::from_ptr(p.cast()) }
                                .to_bytes()
                                .len();
                            let v = take(p, len);
                            let first = v[0];
                            assert!(len == 300 || len == 700, "{len}");
                            assert!(v[..len].iter().all(|&c| c == first), "torn");
                            assert_eq!(len, if first == b'a' { 300 } else { 700 });
                            seen += 1;
                        }
                    }
                    seen
                })
            })
            .collect();
        for i in 0..20_000 {
            let t = if i % 2 == 0 { &b } else { &a };
            hot.writer().publish(Some((t, meta(1))));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    }
}
