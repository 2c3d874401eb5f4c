//! Completion-callback calls: `oauth_request_async`, `oauth_get_token_async`. The call runs on
//! the runtime (no thread per call) under the same policy, deadline and errors as the blocking
//! calls; `done` runs on the completion thread ([`crate::rt::dispatch`]).

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::boundary::{FromArg, Required, UserData};
use super::client::{malloc_copy, RequestArgs};
use super::{
    oauth_cancel_token, oauth_client, oauth_error, oauth_response, oauth_result, OAUTH_OK,
};
use crate::client::options::CallOptions;
use crate::error::{Error, ErrorKind, Result};

/// Called once when an `oauth_request_async` call ends: `result` is `OAUTH_OK` with a
/// `response` (any HTTP status), or an error code with an `error`. Ownership of `response` and
/// `error` passes to the callback (free them with `oauth_response_free` / `oauth_error_free`).
pub type oauth_request_done = Option<
    extern "C" fn(
        userdata: *mut c_void,
        result: oauth_result,
        response: *mut oauth_response,
        error: *mut oauth_error,
    ),
>;

/// Called once when an `oauth_get_token_async` call ends: `result` is `OAUTH_OK` with a
/// `token` (free with `oauth_string_free`) and its expiry as Unix time in ms, or an error code
/// with an `error` (free with `oauth_error_free`).
pub type oauth_token_done = Option<
    extern "C" fn(
        userdata: *mut c_void,
        result: oauth_result,
        token: *mut c_char,
        expires_unix_ms: u64,
        error: *mut oauth_error,
    ),
>;

/// How many of a client's completion-callback calls have not finished their `done` yet.
#[derive(Default)]
pub(crate) struct Pending {
    /// (fork epoch, count): a forked child does not wait for its parent's calls.
    state: Mutex<(u64, usize)>,
    zero: Condvar,
}

thread_local! {
    /// The `Pending` of the `done` running on this thread (the completion thread).
    static RUNNING_FOR: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Pending {
    fn add(&self) {
        let epoch = crate::rt::process::epoch();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.0 != epoch {
            *st = (epoch, 0);
        }
        st.1 += 1;
    }

    fn done(&self) {
        let epoch = crate::rt::process::epoch();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.0 == epoch {
            st.1 = st.1.saturating_sub(1);
        }
        drop(st);
        self.zero.notify_all();
    }

    fn count(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.0 == crate::rt::process::epoch() {
            st.1
        } else {
            0
        }
    }

    /// Waits until every call's `done` has returned — except the one running on this thread,
    /// when `oauth_free` is called from inside a `done` (whose client's other completions are
    /// then run here, as they are queued behind it).
    pub(crate) fn wait_until_done(self: &Arc<Self>) {
        let me = Arc::as_ptr(self) as usize;
        let own = usize::from(RUNNING_FOR.with(|r| r.get()) == me);
        if crate::rt::dispatch::on_dispatch_thread() {
            crate::rt::dispatch::run_queued_until(
                || self.count() <= own,
                Duration::from_millis(10),
            );
            return;
        }
        let epoch = crate::rt::process::epoch();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.0 == epoch && st.1 > own {
            st = self.zero.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The error of a call whose task panicked (the panic hook recorded it).
fn internal_panic() -> Error {
    Error::new(ErrorKind::Internal, "internal error during the call")
}

/// The job that runs `call_done` (inside the panic boundary), then marks the call finished.
fn complete(
    pending: Arc<Pending>,
    call_done: impl FnOnce() + Send + 'static,
) -> impl FnOnce() + Send + 'static {
    move || {
        let me = Arc::as_ptr(&pending) as usize;
        let prev = RUNNING_FOR.with(|r| r.replace(me));
        super::boundary::value(|| (), call_done);
        RUNNING_FOR.with(|r| r.set(prev));
        pending.done();
    }
}

/// Runs `call_done` on the completion thread, then marks the call finished.
fn deliver(pending: Arc<Pending>, call_done: impl FnOnce() + Send + 'static) {
    let job = complete(pending, call_done);
    if let Err(job) = submit_or_return(Box::new(job)) {
        // No completion thread could be started: still a library thread (a runtime worker).
        job();
    }
}

fn submit_or_return(
    job: crate::rt::dispatch::Job,
) -> std::result::Result<(), crate::rt::dispatch::Job> {
    // `submit` consumes the job only on success; keep a way to run it otherwise.
    let slot = Arc::new(Mutex::new(Some(job)));
    let taken = Arc::clone(&slot);
    let wrapper: crate::rt::dispatch::Job = Box::new(move || {
        if let Some(j) = taken.lock().unwrap_or_else(|p| p.into_inner()).take() {
            j();
        }
    });
    match crate::rt::dispatch::submit(wrapper) {
        Ok(()) => Ok(()),
        Err(_) => {
            let j = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            match j {
                Some(j) => Err(j),
                None => Ok(()),
            }
        }
    }
}

/// A call accepted before `oauth_close` ends CANCELLED, whenever the runtime gets to it.
fn accepted(e: Error) -> Error {
    if e.kind == ErrorKind::Closed {
        Error::new(
            ErrorKind::Cancelled,
            "call cancelled: the client was closed",
        )
    } else {
        e
    }
}

/// The arguments every completion-callback call has — `client`, `done`, `cancel` and
/// `userdata` — checked in that order, with the closed check after `done`: a client that
/// accepts new calls (`OAUTH_ERR_CLOSED` after `oauth_close`), its shared parts for the call,
/// the host's callback and a clone of the cancel token.
struct Submission<'a, F> {
    c: &'a oauth_client,
    client: Arc<crate::client::Client>,
    pending: Arc<Pending>,
    done: F,
    cancel: Option<crate::client::cancel::CancelToken>,
    userdata: UserData,
}

type RawSubmission<F> = (
    *mut oauth_client,
    Option<F>,
    *const oauth_cancel_token,
    *mut c_void,
);

impl<'a, F> FromArg<RawSubmission<F>> for Submission<'a, F> {
    unsafe fn from_arg(raw: RawSubmission<F>, _: &'static str) -> Result<Self> {
        let (client, done, cancel, userdata) = raw;
        let c = <&oauth_client>::from_arg(client, "client")?;
        let Required(done) = Required::from_arg(done, "done")?;
        if c.client.is_closed() {
            return Err(Error::new(
                ErrorKind::Closed,
                "client is closed (oauth_close)",
            ));
        }
        let cancel: Option<Arc<oauth_cancel_token>> = FromArg::from_arg(cancel, "cancel")?;
        Ok(Submission {
            c,
            client: Arc::clone(&c.client),
            pending: Arc::clone(&c.pending),
            done,
            cancel: cancel.map(|t| t.token.clone()),
            userdata: UserData::from_arg(userdata, "userdata")?,
        })
    }
}

/// Starts an authenticated API request and returns at once. Arguments as for
/// `oauth_request_cancellable` (copied before this returns), plus `done` and `userdata`.
///
/// `OAUTH_OK`: accepted — `done(userdata, ...)` is called exactly once, later, on a library
/// thread (the completion thread `cxoauth-cb`, never the calling thread, never inside this
/// call), with the same results and errors as `oauth_request`. Any other code: rejected now
/// (NULL or invalid argument, closed client) and `done` is never called.
///
/// The cancel token, `oauth_cancel` and `oauth_close` end a pending call with
/// `OAUTH_ERR_CANCELLED` through `done`; calls still pending at `oauth_free` are completed
/// before it returns. `done` may call the library, blocking calls included, without deadlock,
/// but completions run one after another on one thread: hand work off quickly (e.g. write to a
/// pipe or eventfd your event loop watches). Many calls may be in flight at once on the
/// runtime's threads; none takes a thread of its own.
#[no_mangle]
pub extern "C" fn oauth_request_async(
    client: *mut oauth_client,
    method: *const c_char,
    path_or_url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    cancel: *const oauth_cancel_token,
    done: oauth_request_done,
    userdata: *mut c_void,
) -> oauth_result {
    ffi_body! { errors: none;
        call: Submission<'_, _> = (client, done, cancel, userdata),
        req: RequestArgs = (method, path_or_url, headers, body, body_len),
        => { request_async(call, req, CallOptions::default()) }
    }
}

/// `oauth_request_async` with per-call options (ABI 0.3): `options_json` as for
/// `oauth_request_ex` (NULL, `""` or `"{}"`: the client's settings). A bad option is
/// `OAUTH_ERR_INVALID_ARGUMENT`, returned now: `done` is never called. Everything else as for
/// `oauth_request_async`.
#[no_mangle]
pub extern "C" fn oauth_request_async_ex(
    client: *mut oauth_client,
    method: *const c_char,
    path_or_url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    options_json: *const c_char,
    cancel: *const oauth_cancel_token,
    done: oauth_request_done,
    userdata: *mut c_void,
) -> oauth_result {
    ffi_body! { errors: none;
        call: Submission<'_, _> = (client, done, cancel, userdata),
        req: RequestArgs = (method, path_or_url, headers, body, body_len),
        options_json: CallOptions,
        => { request_async(call, req, options_json) }
    }
}

/// `oauth_request_async*` once its arguments are checked: the request is started on the
/// runtime, `done` called once on the completion thread.
fn request_async(
    call: Submission<
        '_,
        extern "C" fn(*mut c_void, oauth_result, *mut oauth_response, *mut oauth_error),
    >,
    req: RequestArgs,
    options: CallOptions,
) -> Result<()> {
    let req = req.prepare(call.c)?.with_options(options);
    let handle = crate::rt::runtime::handle()?;
    let Submission {
        client,
        pending,
        done,
        cancel,
        userdata,
        ..
    } = call;
    pending.add();
    handle.spawn(async move {
        let result = crate::rt::panic::CatchUnwind::new(client.request(req, cancel.as_ref()))
            .await
            .unwrap_or_else(|()| Err(internal_panic()))
            .map_err(accepted)
            .inspect_err(|e| client.stats().record_error(e));
        deliver(pending, move || {
            let user = userdata;
            match result {
                Ok(resp) => done(
                    user.0,
                    OAUTH_OK,
                    oauth_response::boxed(resp),
                    std::ptr::null_mut(),
                ),
                Err(e) => done(
                    user.0,
                    e.kind.code(),
                    std::ptr::null_mut(),
                    oauth_error::boxed(e),
                ),
            }
        });
    });
    Ok(())
}

/// Starts getting a valid token and returns at once; `done(userdata, result, token,
/// expires_unix_ms, error)` is called exactly once, later, on the completion thread — also when
/// the token is cached (then without any I/O; if no completion thread can be started then, the
/// call is refused with `OAUTH_ERR_INTERNAL` rather than `done` run on the calling thread).
/// Acceptance, cancellation, `oauth_free` and the rules for `done` as for `oauth_request_async`.
#[no_mangle]
pub extern "C" fn oauth_get_token_async(
    client: *mut oauth_client,
    cancel: *const oauth_cancel_token,
    done: oauth_token_done,
    userdata: *mut c_void,
) -> oauth_result {
    ffi_body! { errors: none;
        call: Submission<'_, _> = (client, done, cancel, userdata),
        => {
            let Submission { client, pending, done, cancel, userdata, .. } = call;
            let finish = move |result: Result<Arc<crate::token::CachedToken>>| {
                move || {
                    let user = userdata;
                    let copied = result.and_then(|t| {
                        let p = malloc_copy(&t.value);
                        if p.is_null() {
                            Err(Error::new(ErrorKind::Internal, "out of memory"))
                        } else {
                            Ok((p, t.expires_unix_ms))
                        }
                    });
                    match copied {
                        Ok((p, exp)) => done(user.0, OAUTH_OK, p, exp, std::ptr::null_mut()),
                        Err(e) => done(
                            user.0,
                            e.kind.code(),
                            std::ptr::null_mut(),
                            0,
                            oauth_error::boxed(e),
                        ),
                    }
                }
            };
            let cancelled = cancel.as_ref().is_some_and(|t| t.is_cancelled());
            let cached = if cancelled {
                None
            } else {
                client.best_tokens().usable()?
            };
            if let Some(t) = cached {
                client.stats().token_cache_hits.add();
                // Never run `done` here, on the submitting thread: without a completion
                // thread the call is refused.
                pending.add();
                let job = complete(Arc::clone(&pending), finish(Ok(t)));
                if crate::rt::dispatch::submit(Box::new(job)).is_err() {
                    pending.done();
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "cannot start the completion thread: call refused",
                    ));
                }
                return Ok(());
            }
            let handle = crate::rt::runtime::handle()?;
            pending.add();
            handle.spawn(async move {
                let result = crate::rt::panic::CatchUnwind::new(client.token(cancel.as_ref()))
                    .await
                    .unwrap_or_else(|()| Err(internal_panic()))
                    .map_err(accepted)
                    .inspect_err(|e| client.stats().record_error(e));
                deliver(pending, finish(result));
            });
            Ok(())
        }
    }
}
