//! `oauth_response`: an immutable HTTP response.

use std::ffi::{c_char, CStr};
use std::ptr;

use super::{guard_value, oauth_result, OAUTH_ERR_INVALID_ARGUMENT, OAUTH_OK};
use crate::transport::HttpResponse;

/// A complete HTTP response from `oauth_request`. Immutable: safe to read from any thread.
/// Freed with `oauth_response_free`.
pub struct oauth_response {
    status: u16,
    /// The body followed by one NUL byte (not counted in its length), so text bodies can be
    /// used as C strings.
    body: Vec<u8>,
    /// One entry per header line (a repeated header such as `Set-Cookie` is several): the
    /// offsets in `text` of its lower-cased name and of its value, each NUL-terminated.
    headers: Vec<(u32, u32)>,
    /// Every header name and value, each followed by a NUL (values as UTF-8, invalid bytes
    /// replaced): one allocation for all headers.
    text: Vec<u8>,
}

impl oauth_response {
    pub(crate) fn boxed(r: HttpResponse) -> *mut oauth_response {
        let size: usize = r
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 2)
            .sum();
        let mut text = Vec::with_capacity(size);
        let mut headers = Vec::with_capacity(r.headers.len());
        for (name, value) in r.headers.iter() {
            let at = text.len() as u32;
            text.extend_from_slice(name.as_str().as_bytes());
            text.push(0);
            let value_at = text.len() as u32;
            // header values never hold NUL (hyper refuses them); obs-text is not UTF-8
            match std::str::from_utf8(value.as_bytes()) {
                Ok(v) => text.extend_from_slice(v.as_bytes()),
                Err(_) => text.extend_from_slice(
                    String::from_utf8_lossy(value.as_bytes())
                        .replace('\0', "?")
                        .as_bytes(),
                ),
            }
            text.push(0);
            headers.push((at, value_at));
        }
        let mut body = r.body;
        body.push(0);
        Box::into_raw(Box::new(oauth_response {
            status: r.status,
            body,
            headers,
            text,
        }))
    }

    /// The NUL-terminated string at `offset` of `text`.
    fn text_at(&self, offset: u32) -> &CStr {
        CStr::from_bytes_until_nul(&self.text[offset as usize..]).unwrap_or_default()
    }
}

/// The HTTP status code, or 0 for a NULL response.
#[no_mangle]
pub extern "C" fn oauth_response_status(response: *const oauth_response) -> u16 {
    guard_value(0, || {
        // SAFETY: NULL or a live response from this library.
        unsafe { response.as_ref() }.map_or(0, |r| r.status)
    })
}

/// The body bytes, owned by `response`. The body is always followed by a NUL byte that is not
/// counted in `*out_len`, so a text body can be printed directly. Never NULL for a valid
/// response (an empty body is ""). For a NULL response: returns NULL and sets `*out_len` to 0.
/// `out_len` may be NULL.
#[no_mangle]
pub extern "C" fn oauth_response_body(
    response: *const oauth_response,
    out_len: *mut usize,
) -> *const u8 {
    guard_value(ptr::null(), || {
        // SAFETY: NULL or a live response from this library.
        let r = unsafe { response.as_ref() };
        let (p, len) = r.map_or((ptr::null(), 0), |r| (r.body.as_ptr(), r.body.len() - 1));
        if !out_len.is_null() {
            // SAFETY: non-NULL out-param by contract.
            unsafe { *out_len = len };
        }
        p
    })
}

/// The value of header `name` (case-insensitive), owned by `response`; of a repeated header,
/// the first value (all of them: `oauth_response_header_count`/`_at`). NULL when absent, or
/// when `response` or `name` is NULL or `name` is not UTF-8.
#[no_mangle]
pub extern "C" fn oauth_response_header(
    response: *const oauth_response,
    name: *const c_char,
) -> *const c_char {
    guard_value(ptr::null(), || {
        // SAFETY: NULL or a live response from this library.
        let Some(r) = (unsafe { response.as_ref() }) else {
            return ptr::null();
        };
        if name.is_null() {
            return ptr::null();
        }
        // SAFETY: a NUL-terminated string by contract.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            return ptr::null();
        };
        r.headers
            .iter()
            .find(|(n, _)| {
                r.text_at(*n)
                    .to_bytes()
                    .eq_ignore_ascii_case(name.as_bytes())
            })
            .map_or(ptr::null(), |(_, v)| r.text_at(*v).as_ptr())
    })
}

/// The number of header lines in the response (0 for a NULL response): a repeated header
/// such as `Set-Cookie` counts once per line. Use with `oauth_response_header_at` to enumerate
/// them.
#[no_mangle]
pub extern "C" fn oauth_response_header_count(response: *const oauth_response) -> usize {
    guard_value(0, || {
        // SAFETY: NULL or a live response from this library.
        unsafe { response.as_ref() }.map_or(0, |r| r.headers.len())
    })
}

/// Header line number `index` (from 0): writes its lower-cased name and its value, both owned
/// by `response`. Lines come grouped by name, names in the order first received, the values
/// of a repeated name in the order received (each its own entry, never joined). Returns
/// `OAUTH_ERR_INVALID_ARGUMENT` (writing nothing) for a NULL argument or an index out of range.
#[no_mangle]
pub extern "C" fn oauth_response_header_at(
    response: *const oauth_response,
    index: usize,
    out_name: *mut *const c_char,
    out_value: *mut *const c_char,
) -> oauth_result {
    guard_value(OAUTH_ERR_INVALID_ARGUMENT, || {
        // SAFETY: NULL or a live response from this library.
        let Some(r) = (unsafe { response.as_ref() }) else {
            return OAUTH_ERR_INVALID_ARGUMENT;
        };
        match r.headers.get(index) {
            Some((name, value)) if !out_name.is_null() && !out_value.is_null() => {
                // SAFETY: non-NULL out-params by contract.
                unsafe {
                    *out_name = r.text_at(*name).as_ptr();
                    *out_value = r.text_at(*value).as_ptr();
                }
                OAUTH_OK
            }
            _ => OAUTH_ERR_INVALID_ARGUMENT,
        }
    })
}

/// Frees a response. NULL is a no-op.
#[no_mangle]
pub extern "C" fn oauth_response_free(response: *mut oauth_response) {
    guard_value((), || {
        if !response.is_null() {
            // SAFETY: a pointer this library returned, freed once.
            drop(unsafe { Box::from_raw(response) });
        }
    })
}
