//! The completion thread: callbacks of completion-callback calls run here, one after another,
//! never on the runtime's workers (so a callback that makes a blocking call into the library
//! cannot starve the runtime, and cannot deadlock it) and never on the thread that submitted
//! the call.
//!
//! One thread (`cxoauth-cb`), started on first use and gone after [`IDLE_EXIT`] without work,
//! with all signals blocked like every library thread. After `fork()` the child gets its own
//! (the parent's queue belongs to calls that do not exist in the child).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;

/// An idle completion thread exits after this long.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);
pub const THREAD_NAME: &str = "cxoauth-cb";

pub type Job = Box<dyn FnOnce() + Send + 'static>;

struct Queue {
    epoch: u64,
    state: Mutex<State>,
    ready: Condvar,
}

struct State {
    jobs: VecDeque<Job>,
    thread_alive: bool,
}

static CURRENT: ArcSwapOption<Queue> = ArcSwapOption::const_empty();
static CREATE: Mutex<()> = Mutex::new(());

thread_local! {
    static ON_DISPATCH_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn queue() -> Arc<Queue> {
    let epoch = crate::rt::process::epoch();
    if let Some(q) = CURRENT.load_full().filter(|q| q.epoch == epoch) {
        return q;
    }
    let _g = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(q) = CURRENT.load_full().filter(|q| q.epoch == epoch) {
        return q;
    }
    let q = Arc::new(Queue {
        epoch,
        state: Mutex::new(State {
            jobs: VecDeque::new(),
            thread_alive: false,
        }),
        ready: Condvar::new(),
    });
    if let Some(old) = CURRENT.swap(Some(Arc::clone(&q))) {
        // the parent's queue: its thread does not exist here, its lock may be held
        std::mem::forget(old);
    }
    q
}

/// Whether the calling thread is the completion thread.
pub fn on_dispatch_thread() -> bool {
    ON_DISPATCH_THREAD.with(|f| f.get())
}

/// Queues `job` to run on the completion thread (starting it if needed). Errors only when no
/// thread can be started.
pub fn submit(job: Job) -> std::io::Result<()> {
    let q = queue();
    let mut st = q.state.lock().unwrap_or_else(|p| p.into_inner());
    st.jobs.push_back(job);
    if !st.thread_alive {
        let worker = Arc::clone(&q);
        crate::rt::threads::with_signals_blocked(|| {
            std::thread::Builder::new()
                .name(THREAD_NAME.into())
                .spawn(move || run(worker))
        })
        .inspect_err(|_| {
            st.jobs.pop_back();
        })?;
        st.thread_alive = true;
    }
    drop(st);
    q.ready.notify_one();
    Ok(())
}

fn run(q: Arc<Queue>) {
    crate::rt::threads::harden_current_thread();
    ON_DISPATCH_THREAD.with(|f| f.set(true));
    loop {
        let job = {
            let mut st = q.state.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(j) = st.jobs.pop_front() {
                    break j;
                }
                let (g, timeout) = q
                    .ready
                    .wait_timeout(st, IDLE_EXIT)
                    .unwrap_or_else(|p| p.into_inner());
                st = g;
                if timeout.timed_out() && st.jobs.is_empty() {
                    st.thread_alive = false;
                    return;
                }
            }
        };
        job();
    }
}

/// On the completion thread: runs queued jobs until `done()` holds, waiting for new ones up to
/// `poll` at a time (used by `oauth_free` called from inside a callback, whose client's other
/// completions are queued behind it). Elsewhere: returns at once.
pub fn run_queued_until(done: impl Fn() -> bool, poll: Duration) {
    if !on_dispatch_thread() {
        return;
    }
    let q = queue();
    while !done() {
        let job = {
            let st = q.state.lock().unwrap_or_else(|p| p.into_inner());
            let (mut st, _) = q
                .ready
                .wait_timeout_while(st, poll, |s| s.jobs.is_empty())
                .unwrap_or_else(|p| p.into_inner());
            st.jobs.pop_front()
        };
        if let Some(j) = job {
            j();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_run_in_order_on_the_completion_thread() {
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            submit(Box::new(move || {
                let name = std::thread::current().name().map(str::to_string);
                tx.send((i, name, on_dispatch_thread())).unwrap();
            }))
            .unwrap();
        }
        for i in 0..10 {
            let (n, name, flag) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(n, i);
            assert_eq!(name.as_deref(), Some(THREAD_NAME));
            assert!(flag);
        }
        assert!(!on_dispatch_thread());
    }
}
