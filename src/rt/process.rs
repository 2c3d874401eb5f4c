//! Which process this is: a fork epoch that changes in every child created by `fork()`.
//!
//! State that only exists in the process that created it (the runtime's threads, connections
//! registered with its reactor, a token fetch running on one of its threads, locks held by
//! threads that do not exist in a child) is tagged with the epoch it was built in. A caller that
//! sees another epoch knows it is in a forked child and rebuilds that state; the parent is never
//! affected.
//!
//! The epoch is bumped by a `pthread_atfork` child handler (registered once, on first use), so
//! checking it is one atomic load: no `getpid` system call per call (glibc no longer caches the
//! pid). A child made by a raw `clone` without the atfork handlers (as `vfork`/`posix_spawn` do)
//! always `exec`s, so it never runs this library's code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static EPOCH: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

#[cfg(unix)]
extern "C" fn in_child() {
    // Async-signal-safe: one atomic add.
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// The current fork epoch: 0 in the process that first used the library, different in every
/// child forked after that (and in their children).
#[inline]
pub fn epoch() -> u64 {
    REGISTER.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only bumps an atomic; the library stays mapped for
        // the life of the process (linked with -z nodelete), so the handler stays valid.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
    EPOCH.load(Ordering::Acquire)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn a_forked_child_sees_a_new_epoch() {
        let parent = super::epoch();
        // SAFETY: the child only reads an atomic and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if super::epoch() != parent { 0 } else { 1 };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 0);
        assert_eq!(super::epoch(), parent, "the parent's epoch never changes");
    }
}
