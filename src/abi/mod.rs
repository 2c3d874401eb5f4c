//! The C ABI, and nothing else: opaque handles, result codes, the panic boundary and argument
//! checks. All behaviour lives in the layers below.
//!
//! The conventions every export follows (NULL, out-params, the error object, threads, what
//! frees what, close/free, callbacks, fork) are stated once, in `docs/ABI.md`; the code that
//! implements them is [`boundary`] (`ffi_body!`, the wrapper of every export) and [`handle`]
//! (how each handle type is owned).
#![allow(non_camel_case_types)]
// These are C entry points: pointer arguments are the ABI. Their safety contract (NULL or a
// valid pointer of the documented kind) is stated in the header, and NULL is checked.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
pub(crate) mod boundary;
mod async_calls;
mod client;
mod error;
pub(crate) mod handle;
mod metrics;
mod observe;
mod response;

pub use client::*;
pub use error::*;
pub use response::*;

use crate::error::ErrorKind;

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

/// A NUL-terminated copy of `s` for C (interior NULs, which never occur in our strings,
/// become '?').
pub(crate) fn c_string(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "?")).expect("NULs were replaced")
}

// How each handle type is owned on the C side, as docs/ABI.md states it: a compile error here
// means a handle changed its ownership, which is an ABI change (what frees what).
const _: () = {
    const fn boxed<T: handle::BoxCastable>() {}
    const fn arced<T: handle::ArcCastable>() {}
    boxed::<oauth_client>();
    boxed::<oauth_response>();
    boxed::<oauth_error>();
    arced::<oauth_cancel_token>();
};

#[cfg(test)]
mod tests {
    //! Every export goes through `ffi_body!`, and names each pointer and callback argument in
    //! its list (so none reaches the body unchecked); only `handle.rs` turns pointers back into
    //! `Box`/`Arc` ownership, and only `boundary.rs` catches panics.

    const SOURCES: &[(&str, &str)] = &[
        ("async_calls.rs", include_str!("async_calls.rs")),
        ("boundary.rs", include_str!("boundary.rs")),
        ("client.rs", include_str!("client.rs")),
        ("error.rs", include_str!("error.rs")),
        ("handle.rs", include_str!("handle.rs")),
        ("metrics.rs", include_str!("metrics.rs")),
        ("mod.rs", include_str!("mod.rs")),
        ("observe.rs", include_str!("observe.rs")),
        ("response.rs", include_str!("response.rs")),
    ];

    /// One `#[no_mangle]` function as its source shows it.
    struct Export {
        file: &'static str,
        name: String,
        /// (name, type) of each parameter.
        params: Vec<(String, String)>,
        /// The lines between the signature and the fn's closing brace.
        body: Vec<&'static str>,
    }

    fn exports() -> Vec<Export> {
        let mut out = Vec::new();
        for (file, text) in SOURCES {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim() != "#[no_mangle]" {
                    continue;
                }
                // The signature runs from the next line to the line ending in `{`.
                let end = (i + 1..lines.len())
                    .find(|&j| lines[j].ends_with('{'))
                    .expect("a signature");
                let sig = lines[i + 1..=end].join(" ");
                let rest = sig
                    .strip_prefix("pub extern \"C\" fn ")
                    .unwrap_or_else(|| panic!("{file}: not `pub extern \"C\" fn`: {sig}"));
                let open = rest.find('(').expect("(");
                let close = rest.rfind(')').expect(")");
                let name = rest[..open].to_string();
                let params = rest[open + 1..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (n, t) = p.split_once(':').expect("name: type");
                        (n.trim().to_string(), t.trim().to_string())
                    })
                    .collect();
                // The body ends at the fn's closing `}` in column 0.
                let last = (end + 1..lines.len())
                    .find(|&j| lines[j] == "}")
                    .expect("the end of the fn");
                out.push(Export {
                    file,
                    name,
                    params,
                    body: lines[end + 1..last].to_vec(),
                });
            }
        }
        out
    }

    #[test]
    fn every_export_goes_through_ffi_body() {
        let exports = exports();
        assert_eq!(exports.len(), 38, "exports found: {}", exports.len());
        for Export {
            file,
            name,
            params,
            body,
        } in &exports
        {
            assert!(name.starts_with("oauth_"), "{file}: {name}");
            // Statements of the fn body are indented by 4: the first is `ffi_body! {` (after
            // any `const`/`static` items it uses), the last its closing `}`, nothing between.
            let top: Vec<&str> = body
                .iter()
                .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
                .map(|l| l.trim())
                .filter(|l| !l.starts_with("//"))
                .collect();
            let start = top
                .iter()
                .position(|l| l.starts_with("ffi_body! {"))
                .unwrap_or_else(|| panic!("{file}: {name} does not go through ffi_body!"));
            assert!(
                top[..start]
                    .iter()
                    .all(|l| l.starts_with("const ") || l.starts_with("static ")),
                "{file}: {name} runs code before ffi_body!: {:?}",
                &top[..start]
            );
            assert_eq!(
                &top[start + 1..],
                &["}"],
                "{file}: {name}: ffi_body! must be the whole body"
            );
            // Every pointer and callback argument is named in the checked list.
            let text = body.join("\n");
            let list = &text[..text.find("=>").expect("=> in ffi_body!")];
            let named = |n: &str| {
                list.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
                    .any(|w| w == n)
            };
            for (param, ty) in params {
                let checked = ty.starts_with('*') || ty.ends_with("_done") || ty.ends_with("_fn");
                if checked {
                    assert!(
                        named(param),
                        "{file}: {name}: `{param}` is not in the ffi_body! list"
                    );
                }
            }
        }
    }

    #[test]
    fn ownership_and_panics_in_one_place_each() {
        for (file, text) in SOURCES {
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            // The test itself names what it looks for.
            let code = code.split("#[cfg(test)]").next().unwrap_or("");
            for word in [
                "Box::from_raw",
                "Box::into_raw",
                "Arc::from_raw",
                "Arc::into_raw",
                "strong_count",
            ] {
                if *file != "handle.rs" {
                    assert!(!code.contains(word), "{file}: `{word}` outside handle.rs");
                }
            }
            if *file != "boundary.rs" {
                assert!(
                    !code.contains("catch_unwind"),
                    "{file}: catch_unwind outside boundary.rs"
                );
            }
        }
    }
}
