//! Observability and credential rotation: `oauth_set_log_callback`, `oauth_client_stats`,
//! `oauth_client_set_credentials`, `oauth_client_set_access_key`.

use std::ffi::{c_char, c_void};

use super::boundary::{Out, UserData};
use super::client::malloc_copy;
use super::{oauth_client, oauth_error, oauth_result};
use crate::config::Credentials;
use crate::error::{Error, ErrorKind};

/// A log sink: `level` 1 error, 2 warn, 3 info, 4 debug; `message` is valid during the call
/// only (copy it to keep it).
pub type oauth_log_fn =
    Option<extern "C" fn(userdata: *mut c_void, level: u32, message: *const c_char)>;

/// Sets the process-wide log callback: lines at `min_level` and more severe (1 error, 2 warn,
/// 3 info, 4 debug) go to `fn(userdata, level, message)`; `min_level` 0 or a NULL `fn` turns
/// logging off (the default: the library never writes to stdout or stderr). Lines tell of
/// token fetches (lifetime, never the token), failed refreshes and their cause, 401 → new
/// token, 429 waits (how long, why), retries (cause, attempt), fork detection; never a secret
/// or a token. `fn` may be called from any thread, also concurrently: keep it short and
/// thread-safe, and do not call back into the library from it. Replacing the callback is safe
/// at any time; a line being delivered may still reach the old one.
#[no_mangle]
pub extern "C" fn oauth_set_log_callback(
    min_level: u32,
    r#fn: oauth_log_fn,
    userdata: *mut c_void,
) -> oauth_result {
    ffi_body! { errors: none;
        r#fn: Option<_>,
        userdata: UserData,
        => {
            if min_level > 4 {
                return Err(Error::invalid("min_level must be 0 to 4"));
            }
            crate::logging::set_callback(min_level, r#fn.map(|f| (f, userdata.0)));
            Ok(())
        }
    }
}

/// The client's counters and state as a JSON object into `*out_json` (free with
/// `oauth_string_free`):
/// * `token_fetches`, `token_fetch_failures`: token requests started, and failed;
/// * `token_cache_hits`: token reads answered from the cache;
/// * `requests`: API calls (`oauth_request*`), each counted once however often it was sent;
/// * `retries`: API attempts sent again, by cause: `"429"`, `"5xx"` (502/503/504),
///   `"network"` (connection failures, timeouts), `"401"` (new token after a 401);
/// * `rate_limited_until_unix_ms`: until when the client holds requests back after a 429 with
///   Retry-After (API gate or token endpoint), or null;
/// * `pacing_waits`, `pacing_wait_ms`: calls that waited for their slot under pacing
///   (`rate_limit_pacing`), and how long in all;
/// * `rate_limit`: `{"allowed", "remaining", "reset_unix_ms"}` of the current API rate-limit
///   window of the token with most headroom, or null while unknown;
/// * `pool`: with `token_pool_size` above 1, one entry per pool token in use:
///   `{"expires_unix_ms", "remaining", "requests"}` (remaining: null while unknown), else null;
/// * `token_expires_unix_ms`: expiry of the cached token (the pool's first), or null;
/// * `last_error`: `{"code", "message", "time_unix_ms"}` of the last failed call, or null.
#[no_mangle]
pub extern "C" fn oauth_client_stats(
    client: *mut oauth_client,
    out_json: *mut *mut c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        out_json: Out<*mut c_char>,
        => {
            let p = malloc_copy(&client.client.stats_json().to_string());
            if p.is_null() {
                return Err(Error::new(ErrorKind::Internal, "out of memory"));
            }
            out_json.write(p);
            Ok(())
        }
    }
}

/// Replaces the client id and secret (secret rotation): the next token fetch uses them; the
/// cached token stays valid until then (call `oauth_invalidate_token` to switch at once). A
/// remembered failure of the old credentials no longer holds fetches back. NULL `client_id` or
/// `client_secret` is `OAUTH_ERR_INVALID_ARGUMENT`; a closed client `OAUTH_ERR_CLOSED`.
#[no_mangle]
pub extern "C" fn oauth_client_set_credentials(
    client: *mut oauth_client,
    client_id: *const c_char,
    client_secret: *const c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        client_id: &str,
        client_secret: &str,
        => {
            let creds = Credentials::new(client_id, client_secret, None)?;
            client.client.set_credentials(&creds)
        }
    }
}

/// NICE CXone: replaces the client id and secret and the access key (id and secret) used by
/// the access-key grant, as `oauth_client_set_credentials` does. `OAUTH_ERR_INVALID_ARGUMENT`
/// for a NULL or empty argument, or a client whose grant uses no access key (Genesys, generic).
#[no_mangle]
pub extern "C" fn oauth_client_set_access_key(
    client: *mut oauth_client,
    client_id: *const c_char,
    client_secret: *const c_char,
    access_key_id: *const c_char,
    access_key_secret: *const c_char,
    out_err: *mut *mut oauth_error,
) -> oauth_result {
    ffi_body! { errors: out_err;
        client: &oauth_client,
        client_id: &str,
        client_secret: &str,
        access_key_id: &str,
        access_key_secret: &str,
        => {
            let key = Some((access_key_id, access_key_secret));
            let creds = Credentials::new(client_id, client_secret, key)?;
            client.client.set_credentials(&creds)
        }
    }
}
