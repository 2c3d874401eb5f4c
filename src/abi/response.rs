//! `oauth_response`: an immutable HTTP response.

use std::ffi::{c_char, CStr};
use std::ptr;

use super::boundary::Out;
use super::handle::{Boxed, Castable, Owned};
use super::{oauth_result, OAUTH_ERR_INVALID_ARGUMENT, OAUTH_OK};
use crate::http::transport::HttpResponse;

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

impl Castable for oauth_response {
    type Ownership = Boxed;
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
        Owned::new(oauth_response {
            status: r.status,
            body,
            headers,
            text,
        })
        .into_raw()
    }

    /// The NUL-terminated string at `offset` of `text`.
    fn text_at(&self, offset: u32) -> &CStr {
        CStr::from_bytes_until_nul(&self.text[offset as usize..]).unwrap_or_default()
    }
}

/// The HTTP status code, or 0 for a NULL response.
#[no_mangle]
pub extern "C" fn oauth_response_status(response: *const oauth_response) -> u16 {
    ffi_body! { or: 0;
        response: &oauth_response,
        => { response.status }
    }
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
    ffi_body! { or: ptr::null();
        response: Option<&oauth_response>,
        out_len: Option<Out<usize>>,
        => {
            let (p, len) = response
                .map_or((ptr::null(), 0), |r| (r.body.as_ptr(), r.body.len() - 1));
            if let Some(out_len) = out_len {
                out_len.write(len);
            }
            p
        }
    }
}

/// The value of header `name` (case-insensitive), owned by `response`; of a repeated header,
/// the first value (all of them: `oauth_response_header_count`/`_at`). NULL when absent, or
/// when `response` or `name` is NULL or `name` is not UTF-8.
#[no_mangle]
pub extern "C" fn oauth_response_header(
    response: *const oauth_response,
    name: *const c_char,
) -> *const c_char {
    ffi_body! { or: ptr::null();
        response: &oauth_response,
        name: &str,
        => {
            let r = response;
            r.headers
                .iter()
                .find(|(n, _)| r.text_at(*n).to_bytes().eq_ignore_ascii_case(name.as_bytes()))
                .map_or(ptr::null(), |(_, v)| r.text_at(*v).as_ptr())
        }
    }
}

/// The number of header lines in the response (0 for a NULL response): a repeated header
/// such as `Set-Cookie` counts once per line. Use with `oauth_response_header_at` to enumerate
/// them.
#[no_mangle]
pub extern "C" fn oauth_response_header_count(response: *const oauth_response) -> usize {
    ffi_body! { or: 0;
        response: &oauth_response,
        => { response.headers.len() }
    }
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
    ffi_body! { or: OAUTH_ERR_INVALID_ARGUMENT;
        response: &oauth_response,
        out_name: Out<*const c_char>,
        out_value: Out<*const c_char>,
        => {
            let r = response;
            match r.headers.get(index) {
                Some((name, value)) => {
                    out_name.write(r.text_at(*name).as_ptr());
                    out_value.write(r.text_at(*value).as_ptr());
                    OAUTH_OK
                }
                None => OAUTH_ERR_INVALID_ARGUMENT,
            }
        }
    }
}

/// Frees a response. NULL is a no-op.
#[no_mangle]
pub extern "C" fn oauth_response_free(response: *mut oauth_response) {
    ffi_body! { or: ();
        response: Option<Owned<oauth_response>>,
        => { drop(response) }
    }
}
