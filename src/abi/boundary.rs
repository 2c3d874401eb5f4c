//! The one wrapper every export goes through: [`ffi_body!`] puts the panic boundary, the
//! argument checks and the result-code / `*out_err` rule around an export's body. The
//! conventions it implements are stated in `docs/ABI.md`.
//!
//! The export itself stays a plain `#[no_mangle] pub extern "C" fn` with its doc comment (so
//! cbindgen, which does not expand macros, still sees it); its body is one `ffi_body!`. Every
//! pointer argument is named in the macro's list with the type it is checked into (a
//! [`FromArg`] conversion) and shadowed by it, so the body never sees an unchecked pointer; a
//! unit test (`abi::tests`) fails for an export that does not go through `ffi_body!` or leaves
//! a pointer or callback argument out of its list.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use super::{oauth_error, oauth_result, OAUTH_OK};
use crate::error::{Error, ErrorKind, Result};

/// The body of an export.
///
/// ```ignore
/// ffi_body! { errors: out_err;          // or `errors: none` (no out_err parameter)
///     client: &oauth_client,            // checked in this order, each shadowing its argument
///     out_token: Out<*mut c_char>,
///     req: RequestArgs = (method, path_or_url, headers, body, body_len),
///     => { ...; Ok(()) }                // Result<()>: Ok is OAUTH_OK, Err its code + *out_err
/// }
/// ffi_body! { or: 0;                    // an accessor: a failed check or a panic gives 0
///     response: &oauth_response,
///     => { response.status }
/// }
/// ```
///
/// `errors:` form: a panic becomes `OAUTH_ERR_INTERNAL` naming the export; a failed check or
/// an `Err` of the body is returned as its code, and written to `*out_err` as a new
/// `oauth_error` when `out_err` is not NULL; nothing else is written on failure (out-params
/// are [`Out`]s the body writes only on its way to `Ok`). `or:` form: a failed check or a
/// panic gives the fallback value.
macro_rules! ffi_body {
    (@out_err none) => {
        ::std::ptr::null_mut()
    };
    (@out_err $out_err:ident) => {
        $out_err
    };
    (@arg $arg:ident) => {
        // SAFETY: the argument is what the header documents for it (NULL or a valid pointer
        // of its kind); the conversion checks the rest.
        unsafe { $crate::abi::boundary::FromArg::from_arg($arg, stringify!($arg)) }
    };
    (@arg $arg:ident = $raw:expr) => {
        // SAFETY: as above, for each argument in `$raw`.
        unsafe { $crate::abi::boundary::FromArg::from_arg($raw, stringify!($arg)) }
    };
    (errors: $out_err:ident; $($arg:ident : $ty:ty $(= $raw:expr)?),* $(,)? => $body:block) => {{
        fn here() {}
        $crate::abi::boundary::call(
            ::std::any::type_name_of_val(&here),
            ffi_body!(@out_err $out_err),
            || -> $crate::error::Result<()> {
                $( let $arg: $ty = ffi_body!(@arg $arg $(= $raw)?)?; )*
                $body
            },
        )
    }};
    // A `void` export (the `_free`s, `oauth_cancel_token_cancel`): nothing to fall back to.
    (or: (); $($arg:ident : $ty:ty $(= $raw:expr)?),* $(,)? => $body:block) => {{
        $crate::abi::boundary::value(
            || {},
            || {
                $( let Ok($arg): $crate::error::Result<$ty> = ffi_body!(@arg $arg $(= $raw)?)
                    else { return; }; )*
                $body
            },
        )
    }};
    (or: $fallback:expr; $($arg:ident : $ty:ty $(= $raw:expr)?),* $(,)? => $body:block) => {{
        $crate::abi::boundary::value(
            || $fallback,
            || {
                $( let Ok($arg): $crate::error::Result<$ty> = ffi_body!(@arg $arg $(= $raw)?)
                    else { return $fallback; }; )*
                $body
            },
        )
    }};
}

/// Runs a fallible export's body behind the panic boundary and reports its error. `here` is
/// the type name of a fn item inside the export (`cxoauth::abi::client::oauth_close::here`):
/// the export's name, for the message of a caught panic.
pub(crate) fn call(
    here: &'static str,
    out_err: *mut *mut oauth_error,
    f: impl FnOnce() -> Result<()>,
) -> oauth_result {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            format!(
                "internal error: a panic was caught in {}",
                export_name(here)
            ),
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

/// Runs an accessor's body behind the panic boundary; a panic gives `fallback()`.
pub(crate) fn value<T>(fallback: impl FnOnce() -> T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| fallback())
}

/// `a::b::oauth_close::here` → `oauth_close`.
fn export_name(here: &'static str) -> &'static str {
    let path = here.strip_suffix("::here").unwrap_or(here);
    path.rsplit("::").next().unwrap_or(path)
}

/// A C argument checked into a Rust value. Implemented for each kind of argument the ABI has:
/// handles (in [`super::handle`]), strings, out-params, callbacks, user data, and the request
/// arguments.
pub(crate) trait FromArg<R>: Sized {
    /// The checked value, or `OAUTH_ERR_INVALID_ARGUMENT` naming the argument (`name`).
    ///
    /// # Safety
    /// `raw` is NULL or a valid pointer of the kind the header documents for that argument.
    unsafe fn from_arg(raw: R, name: &'static str) -> Result<Self>;
}

/// A required string: NULL or non-UTF-8 is `OAUTH_ERR_INVALID_ARGUMENT`.
impl FromArg<*const c_char> for &str {
    unsafe fn from_arg(p: *const c_char, name: &'static str) -> Result<Self> {
        if p.is_null() {
            return Err(Error::invalid(format!("{name} is NULL")));
        }
        CStr::from_ptr(p)
            .to_str()
            .map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
    }
}

/// An optional string: NULL is `None`; non-UTF-8 is still `OAUTH_ERR_INVALID_ARGUMENT`.
impl FromArg<*const c_char> for Option<&str> {
    unsafe fn from_arg(p: *const c_char, name: &'static str) -> Result<Self> {
        if p.is_null() {
            Ok(None)
        } else {
            <&str as FromArg<*const c_char>>::from_arg(p, name).map(Some)
        }
    }
}

/// A required out-param (NULL is `OAUTH_ERR_INVALID_ARGUMENT`): written only by
/// [`Out::write`], which a body calls on its way to success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    pub(crate) fn write(self, v: T) {
        // SAFETY: a non-NULL slot the caller passed for this out-param.
        unsafe { self.0.as_ptr().write(v) }
    }
}

impl<T> FromArg<*mut T> for Out<T> {
    unsafe fn from_arg(p: *mut T, name: &'static str) -> Result<Self> {
        NonNull::new(p)
            .map(Out)
            .ok_or_else(|| Error::invalid(format!("{name} is NULL")))
    }
}

/// An optional out-param: NULL is `None` (nothing is written).
impl<T> FromArg<*mut T> for Option<Out<T>> {
    unsafe fn from_arg(p: *mut T, _: &'static str) -> Result<Self> {
        Ok(NonNull::new(p).map(Out))
    }
}

/// A required callback: NULL is `OAUTH_ERR_INVALID_ARGUMENT`.
#[derive(Clone, Copy)]
pub(crate) struct Required<F>(pub(crate) F);

impl<F> FromArg<Option<F>> for Required<F> {
    unsafe fn from_arg(f: Option<F>, name: &'static str) -> Result<Self> {
        f.map(Required)
            .ok_or_else(|| Error::invalid(format!("{name} is NULL")))
    }
}

/// An optional callback (NULL turns its feature off).
impl<F> FromArg<Option<F>> for Option<F> {
    unsafe fn from_arg(f: Option<F>, _: &'static str) -> Result<Self> {
        Ok(f)
    }
}

/// A host pointer handed back to the host's callback, possibly on another thread; never
/// dereferenced by the library.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: the header documents on which threads a callback runs with its `userdata`.
unsafe impl Send for UserData {}

impl FromArg<*mut c_void> for UserData {
    unsafe fn from_arg(p: *mut c_void, _: &'static str) -> Result<Self> {
        Ok(UserData(p))
    }
}

#[cfg(test)]
mod tests {
    use super::export_name;

    #[test]
    fn export_name_from_type_name() {
        fn here() {}
        let name = std::any::type_name_of_val(&here);
        assert_eq!(export_name(name), "export_name_from_type_name");
        assert_eq!(
            export_name("cxoauth::ffi::client::oauth_close::here"),
            "oauth_close"
        );
    }
}
