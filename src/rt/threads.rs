//! What every thread the library starts must be, whoever happened to make the first call:
//! all signals blocked (process-directed signals go to the host's threads), `SCHED_OTHER` at
//! nice 0, and the process's CPU set (the thread-group leader's affinity, what `taskset -p`
//! shows for the process) rather than the affinity of a pinned media thread that triggered the
//! start. Threads are named `cxoauth-*` by the runtime.
//!
//! New threads inherit the creating thread's signal mask, policy and affinity, so
//! [`with_signals_blocked`] wraps thread creation and [`harden_current_thread`] runs first thing
//! in each new thread. Failures are ignored: an unprivileged process may be unable to lower a
//! nice value it inherited, and that must not stop the library from working.

/// Runs `f` with every signal blocked on the calling thread, then restores the caller's mask,
/// so threads created inside `f` start with all signals blocked.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        // SAFETY: sigset_t values are plain data, initialised by sigfillset/pthread_sigmask.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let blocked = libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) == 0;
            let out = f();
            if blocked {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
            out
        }
    }
    #[cfg(not(unix))]
    f()
}

/// Makes the calling (library-created) thread independent of whoever created it.
pub fn harden_current_thread() {
    #[cfg(unix)]
    // SAFETY: plain libc calls on the calling thread with valid, initialised arguments.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
    #[cfg(target_os = "linux")]
    // SAFETY: as above; pid/tid 0 means the calling thread for the sched_* calls.
    unsafe {
        if libc::sched_getscheduler(0) != libc::SCHED_OTHER {
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
        }
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
        if nice != 0 && *libc::__errno_location() == 0 {
            libc::setpriority(libc::PRIO_PROCESS, tid, 0);
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let leader = libc::getpid();
        if libc::sched_getaffinity(leader, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}
