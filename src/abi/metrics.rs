//! Metrics and token events (ABI 0.3): `oauth_client_metrics`, `oauth_set_event_callback`.

use std::ffi::{c_char, c_void};

use super::boundary::{Out, UserData};
use super::client::malloc_copy;
use super::{oauth_client, oauth_error, oauth_result};
use crate::client::metrics::Format;
use crate::error::{Error, ErrorKind};
use crate::obs::events::{Event, EventKind};

/// A token was fetched (`expires_unix_ms` is its expiry).
pub const OAUTH_EVENT_TOKEN_FETCHED: u32 = 1;
/// A token fetch or refresh failed (`result`, `http_status`: why).
pub const OAUTH_EVENT_TOKEN_REFRESH_FAILED: u32 = 2;
/// The cached token was dropped: the API answered 401 (`http_status` 401), or the host called
/// `oauth_invalidate_token` (`http_status` 0).
pub const OAUTH_EVENT_TOKEN_INVALIDATED: u32 = 3;
/// The API or the token endpoint answered 429: once per episode.
pub const OAUTH_EVENT_RATE_LIMITED: u32 = 4;
/// The first reply that is not a 429 after `OAUTH_EVENT_RATE_LIMITED`.
pub const OAUTH_EVENT_RATE_LIMIT_CLEARED: u32 = 5;
/// The shared token cache (`token_cache`) failed: the process cache is used alone.
pub const OAUTH_EVENT_SHARED_CACHE_DOWN: u32 = 6;
/// The shared token cache answered again after `OAUTH_EVENT_SHARED_CACHE_DOWN`.
pub const OAUTH_EVENT_SHARED_CACHE_UP: u32 = 7;

const _: () = {
    assert!(EventKind::TokenFetched as u32 == OAUTH_EVENT_TOKEN_FETCHED);
    assert!(EventKind::TokenRefreshFailed as u32 == OAUTH_EVENT_TOKEN_REFRESH_FAILED);
    assert!(EventKind::TokenInvalidated as u32 == OAUTH_EVENT_TOKEN_INVALIDATED);
    assert!(EventKind::RateLimited as u32 == OAUTH_EVENT_RATE_LIMITED);
    assert!(EventKind::RateLimitCleared as u32 == OAUTH_EVENT_RATE_LIMIT_CLEARED);
    assert!(EventKind::SharedCacheDown as u32 == OAUTH_EVENT_SHARED_CACHE_DOWN);
    assert!(EventKind::SharedCacheUp as u32 == OAUTH_EVENT_SHARED_CACHE_UP);
};

/// A token event (see `oauth_set_event_callback`). Kinds are the `OAUTH_EVENT_*` numbers:
/// stable, new kinds appended (ignore a kind you do not know).
#[repr(C)]
pub struct oauth_event {
    /// `OAUTH_EVENT_*`.
    pub kind: u32,
    /// The `oauth_result` of what failed, else `OAUTH_OK`.
    pub result: u32,
    /// The HTTP status involved; 0 when none.
    pub http_status: u16,
    /// When it happened (Unix time, ms).
    pub time_unix_ms: u64,
    /// The token's expiry for `OAUTH_EVENT_TOKEN_FETCHED`, else 0.
    pub expires_unix_ms: u64,
    /// What happened, for a log line; valid during the call only; never a secret or a token.
    pub message: *const c_char,
}

/// `userdata` of the event callback: handed back to the host's callback on the completion
/// thread, never dereferenced by the library.
struct HostPointer(UserData);
// SAFETY: the pointer is only passed back to the host's callback (one thread at a time, the
// completion thread), as the header documents; the library never reads through it.
unsafe impl Sync for HostPointer {}

impl HostPointer {
    fn get(&self) -> *mut c_void {
        self.0 .0
    }
}

/// An event sink: `event` and its `message` are valid during the call only.
pub type oauth_event_fn = Option<extern "C" fn(userdata: *mut c_void, event: *const oauth_event)>;

/// The client's metrics as text into `*out_text` (free with `oauth_string_free`). `format`
/// `"prometheus"`: Prometheus text exposition format 0.0.4, one `# HELP`/`# TYPE` per family;
/// `"json"`: `{"families": [{"name", "type", "help", "samples": [{"name", "labels",
/// "value"}]}]}` with the same samples. Families (every sample also carries `client`, the
/// config key `metrics_name`, default a hash prefix of the client id):
/// * `http_client_request_duration_seconds` histogram (OpenTelemetry
///   `http.client.request.duration`), labels `http_request_method`,
///   `http_response_status_code` or `error_type`, `server_address`: one observation per
///   `oauth_request*` call as the caller saw it, retries and waits included;
/// * `cxoauth_http_attempts_total{cause}`: API requests sent, `cause` `first`, `429`, `5xx`,
///   `network`, `401`;
/// * `cxoauth_token_fetches_total{outcome}` (`ok`, `auth`, `rate_limited`, `server`,
///   `network`, `timeout`, `protocol`, `cancelled`, `other`) and the
///   `cxoauth_token_fetch_duration_seconds` histogram;
/// * `cxoauth_token_cache_hits_total`, `cxoauth_token_remaining_lifetime_seconds` (gauge, 0
///   without a usable token), `cxoauth_shared_cache_operations_total{backend,outcome}`;
/// * `cxoauth_rate_limited_until_timestamp_seconds` (gauge, 0 when open).
///
/// Histogram buckets (seconds): 0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10
/// +Inf. No label holds a secret, a token, the client id or a query string. Another `format`
/// is `OAUTH_ERR_INVALID_ARGUMENT`. Works on a closed client too (ABI 0.3).
#[no_mangle]
pub extern "C" fn oauth_client_metrics(
    client: *mut oauth_client,
    format: *const c_char,
    out_text: *mut *mut c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        format: &str,
        out_text: Out<*mut c_char>,
        => {
            let text = client.client.metrics(Format::parse(format)?);
            let p = malloc_copy(&text);
            if p.is_null() {
                return Err(Error::new(ErrorKind::Internal, "out of memory"));
            }
            out_text.write(p);
            Ok(())
        }
    }
}

/// Sets the client's event callback: `fn(userdata, event)` is called for each token event
/// (`OAUTH_EVENT_*`) on the library's completion thread (`cxoauth-cb`, as the `done` of the
/// completion-callback calls), one at a time, in the order the events happened, never with a
/// lock of the library held; it may call the library (blocking calls included). A NULL `fn`
/// turns events off. When this returns, the previous callback is not running and is not
/// called again (unless this is called on the completion thread itself), so its `userdata` may
/// be freed; `oauth_close` turns events off, `oauth_free` also waits for a delivery in
/// progress. Keep it short: completions of the completion-callback calls wait behind it
/// (ABI 0.3).
#[no_mangle]
pub extern "C" fn oauth_set_event_callback(
    client: *mut oauth_client,
    r#fn: oauth_event_fn,
    userdata: *mut c_void,
) -> oauth_result {
    ffi_body! { errors: none;
        client: &oauth_client,
        r#fn: Option<_>,
        userdata: UserData,
        => {
            if client.client.is_closed() {
                return Err(Error::new(ErrorKind::Closed, "client is closed (oauth_close)"));
            }
            let handler = r#fn.map(|f| {
                let ud = HostPointer(userdata);
                Box::new(move |e: &Event| {
                    let message = super::c_string(&e.message);
                    let ev = oauth_event {
                        kind: e.kind as u32,
                        result: e.result,
                        http_status: e.http_status,
                        time_unix_ms: e.time_unix_ms,
                        expires_unix_ms: e.expires_unix_ms,
                        message: message.as_ptr(),
                    };
                    f(ud.get(), &ev);
                }) as crate::obs::events::Handler
            });
            client.client.stats().metrics.events.set(handler);
            Ok(())
        }
    }
}
