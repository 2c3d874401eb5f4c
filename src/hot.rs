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
//! grows, doubling, so a handful at most); all are wiped and freed with the mirror.

use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// Writers' lock, and every buffer ever used (the current one last). Boxed: `words`
    /// points at them, so they must not move when the list grows.
    #[allow(clippy::vec_box)]
    buffers: Mutex<Vec<Box<Words>>>,
}

impl Default for HotToken {
    fn default() -> Self {
        let first = Words::with_bytes(64);
        HotToken {
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            until_wall_ms: AtomicU64::new(0),
            expires_unix_ms: AtomicU64::new(0),
            words: AtomicPtr::new(&*first as *const Words as *mut Words),
            buffers: Mutex::new(vec![first]),
        }
    }
}

/// A writer's hold on the mirror (its lock): the token slot is changed and mirrored under it.
pub struct HotWriter<'a> {
    hot: &'a HotToken,
    #[allow(clippy::vec_box)]
    buffers: std::sync::MutexGuard<'a, Vec<Box<Words>>>,
}

impl HotToken {
    /// Locks out other writers; the caller changes the token slot, then [`HotWriter::publish`].
    pub fn writer(&self) -> HotWriter<'_> {
        HotWriter {
            hot: self,
            buffers: self.buffers.lock().unwrap_or_else(|p| p.into_inner()),
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
    /// Mirrors the slot's new content: a token's bytes and meta, or none.
    pub fn publish(&mut self, token: Option<(&[u8], HotMeta)>) {
        let hot = self.hot;
        let s = hot.seq.load(Ordering::Relaxed);
        hot.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        match token {
            None => hot.len.store(0, Ordering::Relaxed),
            Some((bytes, meta)) => {
                let mut current = self.buffers.last().expect("one buffer at least");
                if bytes.len() > current.capacity() {
                    current.wipe();
                    let bigger = Words::with_bytes(bytes.len());
                    hot.words
                        .store(&*bigger as *const Words as *mut Words, Ordering::Release);
                    self.buffers.push(bigger);
                    current = self.buffers.last().expect("just pushed");
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
        for b in self
            .buffers
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
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
