//! `oauth_client`: creation, tokens, requests, cancellation, freeing.

use std::ffi::{c_char, CStr};
use std::sync::Arc;

use bytes::Bytes;

use super::boundary::{FromArg, Out};
use super::handle::{Arced, Boxed, Castable, Owned};
use super::{oauth_error, oauth_response, oauth_result};
use crate::client::cancel::CancelToken;
use crate::client::options::CallOptions;
use crate::client::{Client, MAX_HEADERS};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

/// A client for one credential set: token cache, connection pool, retry policy. Thread-safe:
/// share one per credential set between all threads. Created by `oauth_client_new`; shut down
/// with `oauth_close` (safe at any time, from any thread); freed with `oauth_free` once no
/// other call on it is running.
//
// The handle is a `Box<oauth_client>`. Calls read it without any shared write (the lifetime
// contract, as in libcurl: `oauth_free` never overlaps another call on the same client);
// calls that may block take their own `Arc<Client>` so a host that frees too early still
// frees no memory under them.
pub struct oauth_client {
    pub(crate) client: Arc<Client>,
    /// Completion-callback calls whose `done` has not returned yet (`oauth_free` waits).
    pub(crate) pending: Arc<super::async_calls::Pending>,
}

impl Castable for oauth_client {
    type Ownership = Boxed;
}

/// Creates a client.
///
/// `config_json` is a JSON object (NULL, `""` or `"{}"`: everything from the environment); see
/// README for the keys. `"platform"` selects the server kind:
/// * `"genesys"` (default): URLs from `"region"`; missing values from
///   `GENESYSCLOUD_OAUTHCLIENT_ID`, `GENESYSCLOUD_OAUTHCLIENT_SECRET`, `GENESYSCLOUD_REGION`
///   (then `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET`);
/// * `"cxone"`: NICE CXone with `"issuer"` (default `https://cxone.niceincontact.com`, or
///   `"gov"`, `"sov1-au"`, `"sov1-eu"`), `"client_id"`, `"client_secret"`, `"access_key_id"`,
///   `"access_key_secret"` (or `CXONE_CLIENT_ID`, `CXONE_CLIENT_SECRET`,
///   `CXONE_ACCESS_KEY_ID`, `CXONE_ACCESS_KEY_SECRET`);
/// * `"generic"` (implied by `"issuer"`): any OAuth2 server by `"issuer"` (OpenID discovery) or
///   `"token_url"`, plus `"api_base"`.
///
/// Makes no network request: discovery happens on the first token request. On success writes
/// `*out_client`. Errors: `OAUTH_ERR_CONFIG` naming the key, `OAUTH_ERR_INVALID_ARGUMENT` for a
/// NULL `out_client` or a non-UTF-8 `config_json`.
#[no_mangle]
pub extern "C" fn oauth_client_new(
    config_json: *const c_char,
    out_client: *mut *mut oauth_client,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        out_client: Out<*mut oauth_client>,
        config_json: Option<&str>,
        => {
            // In the C library this std is the library's own: a panic is recorded, never
            // printed.
            crate::rt::panic::install_hook();
            let client = Client::new(Config::from_json(config_json)?)?;
            let handle = Owned::new(oauth_client {
                client: Arc::new(client),
                pending: Arc::default(),
            });
            out_client.write(handle.into_raw());
            Ok(())
        }
    }
}

/// Closes a client: every call in flight on it ends promptly with `OAUTH_ERR_CANCELLED`, a
/// token fetch in flight stops, and every call made afterwards fails at once with
/// `OAUTH_ERR_CLOSED`. Safe to call from any thread, concurrently with any other call on the
/// same client, any number of times (ABI 0.2). The handle stays valid (calls on it return
/// `OAUTH_ERR_CLOSED`) until `oauth_free`. This is the shutdown step for hosts whose threads
/// may still be inside calls: close, wait for those calls to return, then free.
/// A NULL client is `OAUTH_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn oauth_close(client: *mut oauth_client) -> oauth_result {
    ffi_body! { errors: none;
        client: &oauth_client,
        => {
            client.client.close();
            Ok(())
        }
    }
}

/// Frees a client (implies `oauth_close`). NULL is a no-op. Completion-callback calls still
/// pending end with `OAUTH_ERR_CANCELLED`, and their `done` has returned before this does
/// (also when called from inside a `done`).
///
/// Must not overlap any other call on this client, as with libcurl's `curl_easy_cleanup`: a
/// host whose threads may still be inside calls uses `oauth_close` first and frees once they
/// have returned. The secret and the cached token are zeroized when the last internal
/// reference goes. The handle must not be used afterwards.
#[no_mangle]
pub extern "C" fn oauth_free(client: *mut oauth_client) {
    ffi_body! { or: ();
        // Released once; no other call overlaps (contract).
        client: Option<Owned<oauth_client>>,
        => {
            if let Some(handle) = client {
                handle.client.close();
                // no event delivery of this client runs after this returns
                handle.client.stats().metrics.events.set(None);
                // Completion-callback calls end CANCELLED; their `done` has run before this
                // returns.
                handle.pending.wait_until_done();
                drop(handle);
            }
        }
    }
}

/// Aborts every call in flight on `client` with `OAUTH_ERR_CANCELLED`, promptly. Calls
/// started afterwards run normally (to shut a client down for good, use `oauth_close`). Safe
/// concurrently with any call. A NULL client is `OAUTH_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn oauth_cancel(client: *mut oauth_client) -> oauth_result {
    ffi_body! { errors: none;
        client: &oauth_client,
        => {
            client.client.cancel();
            Ok(())
        }
    }
}

/// Gets a valid access token (without the "Bearer " prefix) into `*out_token`; free it with
/// `oauth_string_free`.
///
/// A cached token is returned without any I/O or lock, until shortly before it expires: a
/// timer refreshes it in the background at expiry minus the refresh margin, and the still-valid
/// token keeps being returned while that refresh runs or fails. Without a valid token,
/// concurrent callers share one token request (and, with `token_cache`, other processes too).
/// With a token pool (`token_pool_size`), the pool token with the most API headroom.
/// After `oauth_close` it fails with `OAUTH_ERR_CLOSED`. Errors: `OAUTH_ERR_AUTH` (credentials rejected, see
/// `oauth_error_oauth_code`), `OAUTH_ERR_RATE_LIMITED`, `OAUTH_ERR_SERVER`,
/// `OAUTH_ERR_PROTOCOL`, `OAUTH_ERR_NETWORK`, `OAUTH_ERR_TLS`, `OAUTH_ERR_TIMEOUT`,
/// `OAUTH_ERR_CANCELLED`, `OAUTH_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn oauth_get_token(
    client: *mut oauth_client,
    out_token: *mut *mut c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        out_token: Out<*mut c_char>,
        => { get_token(client, None, out_token, None) }
    }
}

/// `oauth_get_token` that `cancel` can abort (`OAUTH_ERR_CANCELLED`): see
/// `oauth_cancel_token_new`. A NULL `cancel` is the same as `oauth_get_token`.
#[no_mangle]
pub extern "C" fn oauth_get_token_cancellable(
    client: *mut oauth_client,
    cancel: *const oauth_cancel_token,
    out_token: *mut *mut c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        cancel: Option<Arc<oauth_cancel_token>>,
        out_token: Out<*mut c_char>,
        => { get_token(client, cancel.as_deref(), out_token, None) }
    }
}

/// `oauth_get_token_cancellable`, plus the token's expiry into `*out_expires_unix_ms` (may be
/// NULL): Unix time in milliseconds, the server's `expires_in` counted from when its reply
/// arrived, not reduced by the refresh margin — for hosts and bindings that send their own
/// HTTP and cache the token themselves (e.g. Go's `oauth2.Token.Expiry`). Written only on
/// success, like `*out_token`.
#[no_mangle]
pub extern "C" fn oauth_get_token_ex(
    client: *mut oauth_client,
    cancel: *const oauth_cancel_token,
    out_token: *mut *mut c_char,
    out_expires_unix_ms: *mut u64,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        cancel: Option<Arc<oauth_cancel_token>>,
        out_token: Out<*mut c_char>,
        out_expires_unix_ms: Option<Out<u64>>,
        => { get_token(client, cancel.as_deref(), out_token, out_expires_unix_ms) }
    }
}

/// `oauth_get_token*` once its arguments are checked.
fn get_token(
    c: &oauth_client,
    cancel: Option<&oauth_cancel_token>,
    out_token: Out<*mut c_char>,
    out_expires: Option<Out<u64>>,
) -> Result<()> {
    let cancel = cancel.map(|t| &t.token);
    let not_cancelled = cancel.is_none_or(|t| !t.is_cancelled());
    // Hot path: a usable cached token is copied out without a shared write, a lock or the
    // runtime.
    let copied = if not_cancelled && !c.client.is_closed() {
        c.client
            .best_tokens()
            .copy_usable(malloc_bytes, wipe_and_free)
            .map(|(p, expires)| {
                c.client.stats().token_cache_hits.add();
                (p.cast::<c_char>(), expires)
            })
    } else {
        None
    };
    let (copied, expires) = match copied {
        Some(pe) => pe,
        None => {
            let client = Arc::clone(&c.client);
            let t = client.token_blocking(cancel)?;
            (malloc_copy(&t.value), t.expires_unix_ms)
        }
    };
    if copied.is_null() {
        return Err(Error::new(ErrorKind::Internal, "out of memory"));
    }
    out_token.write(copied);
    if let Some(out_expires) = out_expires {
        out_expires.write(expires);
    }
    Ok(())
}

/// The host saw `token` rejected (its own request got a 401): if it is still the cached token
/// it is dropped, and the next call fetches a new one; an older token does nothing
/// (compare-and-invalidate, as the library's own 401 path does), so many threads reporting the
/// same rejected token cause one new fetch. A NULL `token` is `OAUTH_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn oauth_invalidate_token(
    client: *mut oauth_client,
    token: *const c_char,
) -> oauth_result {
    ffi_body! { errors: none;
        client: &oauth_client,
        token: &str,
        => {
            if client.client.is_closed() {
                return Err(Error::new(ErrorKind::Closed, "client is closed"));
            }
            client.client.invalidate_value(token);
            Ok(())
        }
    }
}

/// Sends an authenticated API request and returns the final response.
///
/// * `method`: an HTTP method token (`"GET"`, `"POST"`, ...).
/// * `path_or_url`: a path joined to the API base (`"/api/v2/organizations/me?x=1"`), or an
///   absolute URL on the API base's own scheme, host and port (anything else is refused:
///   the token is never sent to another host).
/// * `headers`: NULL, or a NULL-terminated array of `"Name: value"` strings (at most 256;
///   `Authorization`, `Host`, `Content-Length`, `Transfer-Encoding`, `Connection` are the
///   library's own). CR/LF in a value is refused.
/// * `body`/`body_len`: request body; `body` may be NULL only when `body_len` is 0.
///
/// Returns `OAUTH_OK` with `*out_response` for any HTTP status the API produced after the retry
/// policy (401 → one token refresh and retry; 429 → Retry-After/backoff up to `max_retries`;
/// 502/503/504 and connection failures → retried for idempotent methods only). An error is
/// returned only when no response or no token could be obtained.
///
/// Runs on the calling thread, as libcurl's `curl_easy_perform` does: from its second request
/// on a client, a thread sends on connections of its own (kept alive, at most 4 idle per client
/// for 90 s, closed when the thread exits), driven by that thread while it is inside the call;
/// its first request and every request through a proxy use the client's shared pool, driven by
/// the library's runtime threads.
#[no_mangle]
pub extern "C" fn oauth_request(
    client: *mut oauth_client,
    method: *const c_char,
    path_or_url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    out_response: *mut *mut oauth_response,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        out_response: Out<*mut oauth_response>,
        req: RequestArgs = (method, path_or_url, headers, body, body_len),
        => { request(client, None, req, CallOptions::default(), out_response) }
    }
}

/// `oauth_request` that `cancel` can abort (`OAUTH_ERR_CANCELLED`): see
/// `oauth_cancel_token_new`. A NULL `cancel` is the same as `oauth_request`.
#[no_mangle]
pub extern "C" fn oauth_request_cancellable(
    client: *mut oauth_client,
    cancel: *const oauth_cancel_token,
    method: *const c_char,
    path_or_url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    out_response: *mut *mut oauth_response,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        cancel: Option<Arc<oauth_cancel_token>>,
        out_response: Out<*mut oauth_response>,
        req: RequestArgs = (method, path_or_url, headers, body, body_len),
        => { request(client, cancel.as_deref(), req, CallOptions::default(), out_response) }
    }
}

/// `oauth_request_cancellable` with per-call options (ABI 0.3): `options_json` is NULL, `""`
/// or `"{}"` for the client's settings, or a JSON object overriding them for this call only:
/// * `"deadline_ms"`: the whole call, retries and waits included (1–86400000);
/// * `"timeout_ms"`: per attempt (1–3600000);
/// * `"max_retries"`: retries after 429 / 5xx / connection failures (0–100);
/// * `"idempotent"`: `true`/`false`, overriding the method's default (and
///   `retry_non_idempotent`): whether 502/503/504 and failures after sending are retried;
/// * `"resend_after_401"`: default `true`; `false` returns a 401 as the response, without
///   dropping the token or requesting a new one;
/// * `"pacing"`: `"wait"` (default) or `"fail_fast"`: when pacing to the rate-limit headers
///   would hold the call, it ends at once, unsent, with `OAUTH_OK` and the client-made 429
///   (`Retry-After`, `X-Cxoauth-Paced: 1`) a call whose deadline comes first gets.
///
/// An unknown key or a bad value (wrong type, out of range), text that is not JSON or not an
/// object is `OAUTH_ERR_INVALID_ARGUMENT` naming the key, before any I/O; `*out_response` is
/// then not written. Everything else as for `oauth_request_cancellable` (NULL `cancel`: not
/// cancellable).
#[no_mangle]
pub extern "C" fn oauth_request_ex(
    client: *mut oauth_client,
    method: *const c_char,
    path_or_url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    options_json: *const c_char,
    cancel: *const oauth_cancel_token,
    out_response: *mut *mut oauth_response,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        cancel: Option<Arc<oauth_cancel_token>>,
        out_response: Out<*mut oauth_response>,
        req: RequestArgs = (method, path_or_url, headers, body, body_len),
        options_json: CallOptions,
        => { request(client, cancel.as_deref(), req, options_json, out_response) }
    }
}

/// `oauth_request*` once its arguments are checked.
fn request(
    c: &oauth_client,
    cancel: Option<&oauth_cancel_token>,
    req: RequestArgs,
    options: CallOptions,
    out_response: Out<*mut oauth_response>,
) -> Result<()> {
    let req = req.prepare(c)?.with_options(options);
    let client = Arc::clone(&c.client);
    let resp = client.request_blocking(req, cancel.map(|t| &t.token))?;
    out_response.write(oauth_response::boxed(resp));
    Ok(())
}

/// The request arguments of `oauth_request*`, checked and copied: `method`, `path_or_url`,
/// `headers`, `body` and `body_len`, in that order.
pub(crate) struct RequestArgs<'a> {
    method: &'a str,
    target: &'a str,
    lines: Vec<&'a str>,
    body: Option<Bytes>,
}

type RawRequest = (
    *const c_char,
    *const c_char,
    *const *const c_char,
    *const u8,
    usize,
);

/// As documented for `oauth_request`: NUL-terminated strings, NULL or a NULL-terminated header
/// array, `body_len` readable bytes at `body`.
impl<'a> FromArg<RawRequest> for RequestArgs<'a> {
    unsafe fn from_arg(raw: RawRequest, _: &'static str) -> Result<Self> {
        let (method, path_or_url, headers, body, body_len) = raw;
        let method = <&str>::from_arg(method, "method")?;
        let target = <&str>::from_arg(path_or_url, "path_or_url")?;
        let lines = header_lines(headers)?;
        if body_len > isize::MAX as usize {
            return Err(Error::invalid("body_len is larger than isize::MAX"));
        }
        let body = match (body.is_null(), body_len) {
            (_, 0) => None,
            (true, _) => return Err(Error::invalid("body is NULL but body_len is not 0")),
            (false, n) => Some(Bytes::copy_from_slice(std::slice::from_raw_parts(body, n))),
        };
        Ok(RequestArgs {
            method,
            target,
            lines,
            body,
        })
    }
}

/// `options_json`: NULL is the client's settings; otherwise as documented for
/// `oauth_request_ex` (non-UTF-8 or a bad option is `OAUTH_ERR_INVALID_ARGUMENT`).
impl FromArg<*const c_char> for CallOptions {
    unsafe fn from_arg(p: *const c_char, name: &'static str) -> Result<Self> {
        CallOptions::from_json(<Option<&str>>::from_arg(p, name)?)
    }
}

impl RequestArgs<'_> {
    /// The [`ApiRequest`](crate::client::ApiRequest) for `c`: the method, target and headers
    /// checked against the client's API base.
    pub(crate) fn prepare(self, c: &oauth_client) -> Result<crate::client::ApiRequest> {
        c.client
            .prepare(self.method, self.target, &self.lines, self.body)
    }
}

/// A per-call cancellation token: pass it to `oauth_get_token_cancellable` or
/// `oauth_request_cancellable`, and call `oauth_cancel_token_cancel` from any thread to abort
/// those calls (e.g. when a Go context or a .NET CancellationToken fires). Once cancelled it
/// stays cancelled: calls given it later fail at once. Thread-safe.
pub struct oauth_cancel_token {
    pub(crate) token: CancelToken,
}

impl Castable for oauth_cancel_token {
    type Ownership = Arced;
}

/// Creates a cancellation token into `*out_token`; free it with `oauth_cancel_token_free`.
#[no_mangle]
pub extern "C" fn oauth_cancel_token_new(
    out_token: *mut *mut oauth_cancel_token,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        out_token: Out<*mut oauth_cancel_token>,
        => {
            let t = Owned::new(oauth_cancel_token {
                token: CancelToken::new(),
            });
            out_token.write(t.into_raw());
            Ok(())
        }
    }
}

/// Cancels every call given `token`, now and later; those calls return `OAUTH_ERR_CANCELLED`
/// promptly. Idempotent. NULL is a no-op.
#[no_mangle]
pub extern "C" fn oauth_cancel_token_cancel(token: *const oauth_cancel_token) {
    ffi_body! { or: ();
        token: Option<Arc<oauth_cancel_token>>,
        => {
            if let Some(t) = token {
                t.token.cancel();
            }
        }
    }
}

/// Frees a cancellation token. Calls still using it keep their own reference. NULL is a no-op.
#[no_mangle]
pub extern "C" fn oauth_cancel_token_free(token: *mut oauth_cancel_token) {
    ffi_body! { or: ();
        // The host's reference; calls using the token hold their own.
        token: Option<Owned<oauth_cancel_token>>,
        => { drop(token) }
    }
}

/// A `malloc`ed NUL-terminated copy of `s` (NULL when out of memory), freed by
/// `oauth_string_free`. `s` has no NUL: tokens are checked to be visible ASCII.
/// `malloc(len + 1)`: the hot path's copy of the token, freed by the host with
/// `oauth_string_free`.
fn malloc_bytes(len: usize) -> *mut u8 {
    // SAFETY: plain malloc; NULL is handled by the caller.
    unsafe { libc::malloc(len + 1).cast() }
}

/// Takes back a [`malloc_bytes`] buffer a concurrent token change spoiled: wiped, freed.
fn wipe_and_free(p: *mut u8, len: usize) {
    // SAFETY: a buffer of len + 1 bytes from malloc_bytes, not handed out.
    unsafe {
        super::error::explicit_zero(p, len);
        libc::free(p.cast());
    }
}

pub(crate) fn malloc_copy(s: &str) -> *mut c_char {
    // SAFETY: malloc of len + 1 bytes, then exactly that many bytes written.
    unsafe {
        let p = libc::malloc(s.len() + 1).cast::<u8>();
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
        }
        p.cast()
    }
}

/// # Safety
/// `headers` is NULL or a NULL-terminated array of NUL-terminated strings.
pub(crate) unsafe fn header_lines<'a>(headers: *const *const c_char) -> Result<Vec<&'a str>> {
    let mut out = Vec::new();
    if headers.is_null() {
        return Ok(out);
    }
    for i in 0.. {
        // Element MAX_HEADERS is the last one ever read: it must be the terminator.
        let p = *headers.add(i);
        if p.is_null() {
            break;
        }
        if i == MAX_HEADERS {
            return Err(Error::invalid(format!(
                "too many headers (at most {MAX_HEADERS}), or the list is not NULL-terminated"
            )));
        }
        out.push(
            CStr::from_ptr(p)
                .to_str()
                .map_err(|_| Error::invalid(format!("header {i} is not valid UTF-8")))?,
        );
    }
    Ok(out)
}
