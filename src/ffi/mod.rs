//! The C ABI, and nothing else: opaque handles, result codes, the panic boundary and argument
//! checks. All behaviour lives in the layers below.
//!
//! Rules every export follows:
//! * it returns an `oauth_result` (or, for accessors, a value with a documented "none" value);
//! * out-params are written only on success; `*out_err` only on failure (when `out_err` is not
//!   NULL) with a new `oauth_error` the caller frees with `oauth_error_free`;
//! * a panic never crosses the boundary: it becomes `OAUTH_ERR_INTERNAL`;
//! * NULL or non-UTF-8 strings are `OAUTH_ERR_INVALID_ARGUMENT`, never a crash.
#![allow(non_camel_case_types)]
// These are C entry points: pointer arguments are the ABI. Their safety contract (NULL or a
// valid pointer of the documented kind) is stated in the header, and NULL is checked.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod async_calls;
mod client;
mod error;
mod observe;
mod response;

pub use async_calls::*;
pub use client::*;
pub use error::*;
pub use observe::*;
pub use response::*;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};

/// Result code of every fallible call. `OAUTH_OK` is 0; failure codes are stable and never
/// reused for another meaning.
pub type oauth_result = u32;

/// Success.
pub const OAUTH_OK: oauth_result = 0;
/// A NULL pointer, a string that is not UTF-8, a malformed header line, a method that is not
/// an HTTP token, a URL on another host than the API base, ...
pub const OAUTH_ERR_INVALID_ARGUMENT: oauth_result = 1;
/// The configuration is wrong or incomplete; the message names the key.
pub const OAUTH_ERR_CONFIG: oauth_result = 2;
/// No connection could be made, or it broke before a complete reply.
pub const OAUTH_ERR_NETWORK: oauth_result = 3;
/// The per-attempt timeout (`timeout_ms`) or the whole-call deadline (`deadline_ms`) passed.
pub const OAUTH_ERR_TIMEOUT: oauth_result = 4;
/// TLS handshake or certificate verification failed.
pub const OAUTH_ERR_TLS: oauth_result = 5;
/// The token endpoint rejected the credentials (`invalid_client`, `unauthorized_client`,
/// `invalid_scope`, ...); see `oauth_error_oauth_code`. Not retried.
pub const OAUTH_ERR_AUTH: oauth_result = 6;
/// The token endpoint kept rate limiting (Genesys: HTTP 400 "rate limit exceeded", or 429)
/// until `max_retries` or the deadline ran out.
pub const OAUTH_ERR_RATE_LIMITED: oauth_result = 7;
/// The token endpoint kept failing with 5xx until `max_retries` or the deadline ran out.
pub const OAUTH_ERR_SERVER: oauth_result = 8;
/// A reply could not be understood: malformed token JSON, missing `access_token`, bad
/// `expires_in`, a reply body above `max_body_bytes`.
pub const OAUTH_ERR_PROTOCOL: oauth_result = 9;
/// The call was aborted while in flight: by `oauth_cancel`, by its cancel token, or by
/// `oauth_close` / `oauth_free` of its client.
pub const OAUTH_ERR_CANCELLED: oauth_result = 10;
/// A bug in the library (a panic was caught), or a blocking call from a library thread.
pub const OAUTH_ERR_INTERNAL: oauth_result = 11;
/// The client was closed by `oauth_close` before this call started: every call on it fails
/// with this code from then on (ABI 0.2).
pub const OAUTH_ERR_CLOSED: oauth_result = 12;

const _: () = {
    assert!(ErrorKind::InvalidArgument as u32 == OAUTH_ERR_INVALID_ARGUMENT);
    assert!(ErrorKind::Config as u32 == OAUTH_ERR_CONFIG);
    assert!(ErrorKind::Network as u32 == OAUTH_ERR_NETWORK);
    assert!(ErrorKind::Timeout as u32 == OAUTH_ERR_TIMEOUT);
    assert!(ErrorKind::Tls as u32 == OAUTH_ERR_TLS);
    assert!(ErrorKind::Auth as u32 == OAUTH_ERR_AUTH);
    assert!(ErrorKind::RateLimited as u32 == OAUTH_ERR_RATE_LIMITED);
    assert!(ErrorKind::Server as u32 == OAUTH_ERR_SERVER);
    assert!(ErrorKind::Protocol as u32 == OAUTH_ERR_PROTOCOL);
    assert!(ErrorKind::Cancelled as u32 == OAUTH_ERR_CANCELLED);
    assert!(ErrorKind::Internal as u32 == OAUTH_ERR_INTERNAL);
    assert!(ErrorKind::Closed as u32 == OAUTH_ERR_CLOSED);
};

/// Runs `f` behind the panic boundary and reports its error through `out_err`.
pub(crate) fn guard(
    what: &str,
    out_err: *mut *mut oauth_error,
    f: impl FnOnce() -> Result<()>,
) -> oauth_result {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            format!("internal error: a panic was caught in {what}"),
        ))
    });
    match result {
        Ok(()) => OAUTH_OK,
        Err(e) => {
            let code = e.kind.code();
            if !out_err.is_null() {
                // SAFETY: the caller passes either NULL or a writable `oauth_error *` slot.
                unsafe { *out_err = oauth_error::boxed(e) };
            }
            code
        }
    }
}

/// Runs an accessor behind the panic boundary; a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// A required C string argument as `&str`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
}

/// Checks that an out-param is not NULL.
pub(crate) fn out_arg<T>(p: *mut T, name: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// A NUL-terminated copy of `s` for C (interior NULs, which never occur in our strings,
/// become '?').
pub(crate) fn c_string(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "?")).expect("NULs were replaced")
}
