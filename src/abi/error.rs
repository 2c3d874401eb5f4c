//! `oauth_error`: the per-call error object, and the library's string functions.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
use zeroize::Zeroize;

use super::boundary::FromArg;
use super::handle::{Boxed, Castable, Owned};
use super::{c_string, oauth_result, OAUTH_ERR_INVALID_ARGUMENT};
use crate::error::{Error, Result};

/// Details of one failed call. Created by the library, owned by the caller, freed with
/// `oauth_error_free`. Immutable: safe to read from any thread.
pub struct oauth_error {
    code: oauth_result,
    message: CString,
    http_status: u16,
    oauth_code: Option<CString>,
    correlation_id: Option<CString>,
}

impl Castable for oauth_error {
    type Ownership = Boxed;
}

impl oauth_error {
    pub(crate) fn boxed(e: Error) -> *mut oauth_error {
        Owned::new(oauth_error {
            code: e.kind.code(),
            message: c_string(&format!("{}: {}", e.kind.name(), e.message)),
            http_status: e.http_status,
            oauth_code: e.oauth_code.as_deref().map(c_string),
            correlation_id: e.correlation_id.as_deref().map(c_string),
        })
        .into_raw()
    }
}

/// The error's result code (never `OAUTH_OK`). `OAUTH_ERR_INVALID_ARGUMENT` for a NULL `err`.
#[no_mangle]
pub extern "C" fn oauth_error_code(err: *const oauth_error) -> oauth_result {
    ffi_body! { or: OAUTH_ERR_INVALID_ARGUMENT;
        err: &oauth_error,
        => { err.code }
    }
}

/// Human readable description: class, then details ("authentication rejected: token request to
/// login.mypurecloud.de failed: HTTP 401 invalid_client: client not found"). Never contains a
/// secret or a token. Owned by `err` (valid until `oauth_error_free`); a static string for a
/// NULL `err`.
#[no_mangle]
pub extern "C" fn oauth_error_message(err: *const oauth_error) -> *const c_char {
    const NULL_ERR: &CStr = c"invalid argument: err is NULL";
    ffi_body! { or: NULL_ERR.as_ptr();
        err: &oauth_error,
        => { err.message.as_ptr() }
    }
}

/// HTTP status of the reply that caused the error, or 0 when there was none (or `err` is NULL).
#[no_mangle]
pub extern "C" fn oauth_error_http_status(err: *const oauth_error) -> u16 {
    ffi_body! { or: 0;
        err: &oauth_error,
        => { err.http_status }
    }
}

/// The server's error code: the OAuth `error` field of a token endpoint reply (e.g.
/// `"invalid_client"`), or NULL when there is none (or `err` is NULL). Owned by `err`.
#[no_mangle]
pub extern "C" fn oauth_error_oauth_code(err: *const oauth_error) -> *const c_char {
    ffi_body! { or: ptr::null();
        err: &oauth_error,
        => { err.oauth_code.as_ref().map_or(ptr::null(), |s| s.as_ptr()) }
    }
}

/// The `ININ-Correlation-Id` header of the failing reply (quote it to Genesys support), or NULL.
/// Owned by `err`.
#[no_mangle]
pub extern "C" fn oauth_error_correlation_id(err: *const oauth_error) -> *const c_char {
    ffi_body! { or: ptr::null();
        err: &oauth_error,
        => { err.correlation_id.as_ref().map_or(ptr::null(), |s| s.as_ptr()) }
    }
}

/// Frees an error. NULL is a no-op.
#[no_mangle]
pub extern "C" fn oauth_error_free(err: *mut oauth_error) {
    ffi_body! { or: ();
        err: Option<Owned<oauth_error>>,
        => { drop(err) }
    }
}

/// Frees a string the library returned (e.g. by `oauth_get_token`), overwriting its bytes
/// first. NULL is a no-op. Never pass it memory from anywhere else.
#[no_mangle]
pub extern "C" fn oauth_string_free(s: *mut c_char) {
    ffi_body! { or: ();
        s: Option<LibString>,
        => { drop(s) }
    }
}

/// A string this library `malloc`ed and handed out (`oauth_get_token`, `oauth_client_stats`),
/// given back by the host to be freed: dropping it overwrites its bytes, then frees it.
pub(crate) struct LibString(*mut c_char);

impl FromArg<*mut c_char> for Option<LibString> {
    unsafe fn from_arg(s: *mut c_char, _: &'static str) -> Result<Self> {
        Ok((!s.is_null()).then(|| LibString(s)))
    }
}

impl Drop for LibString {
    fn drop(&mut self) {
        // SAFETY: a NUL-terminated buffer this library malloc'ed, freed once (the host's
        // contract). explicit_bzero is never optimised away.
        unsafe {
            let len = libc::strlen(self.0);
            explicit_zero(self.0.cast(), len);
            libc::free(self.0.cast());
        }
    }
}

/// Overwrites `len` bytes at `p` in a way the compiler may not remove.
///
/// # Safety
/// `p` is valid for `len` bytes of writes.
pub(crate) unsafe fn explicit_zero(p: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    libc::explicit_bzero(p.cast(), len);
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    std::slice::from_raw_parts_mut(p, len).zeroize();
}

/// The configuration keys the library accepts, as a JSON document:
/// `{"version": "...", "keys": [{"name", "type" ("string"|"integer"|"boolean"), "default",
/// "minimum", "maximum", "enum", "env" (variables read when the key is absent), "secret",
/// "description"}]}` — the same as `include/cxoauth-config.schema.json`. Bindings check their
/// typed configurations against it. Static: never free it.
#[no_mangle]
pub extern "C" fn oauth_config_schema() -> *const c_char {
    static SCHEMA: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    ffi_body! { or: c"{}".as_ptr();
        => {
            SCHEMA
                .get_or_init(|| c_string(&crate::config::schema::schema_text()))
                .as_ptr()
        }
    }
}

/// The library version, e.g. `"0.2.0"`. Static: never free it.
#[no_mangle]
pub extern "C" fn oauth_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    ffi_body! { or: VERSION.as_ptr().cast();
        => { VERSION.as_ptr().cast() }
    }
}
