//! Typed handles: how each handle type is owned on the C side (a `Box` or an `Arc`), and the
//! only code in the ABI layer that turns pointers back into Rust ownership.
//!
//! A handle type names its ownership once, in its [`Castable`] impl; every creation
//! ([`Owned::new`] + [`Owned::into_raw`]), release ([`Owned`] from a pointer, then dropped) and
//! new reference (`Option<Arc<T>>`, only for [`ArcCastable`] types) follows from it. A `Box`
//! handle therefore cannot be released as an `Arc`, nor the other way round: the call site
//! does not choose.

use std::ops::Deref;
use std::sync::Arc;

use super::boundary::FromArg;
use crate::error::{Error, Result};

/// How a handle's memory is owned while the C side holds the pointer.
pub(crate) trait Ownership {
    /// The owning smart pointer: `Box<T>` or `Arc<T>`.
    type Ptr<T>: Deref<Target = T>;
    fn new<T>(v: T) -> Self::Ptr<T>;
    fn into_raw<T>(p: Self::Ptr<T>) -> *mut T;
    /// # Safety
    /// `p` came from [`Ownership::into_raw`] of this ownership and is released once.
    unsafe fn from_raw<T>(p: *mut T) -> Self::Ptr<T>;
}

/// The C side holds a `Box<T>`: one owner, released once by its `_free` function.
pub(crate) enum Boxed {}

/// The C side holds one strong reference of an `Arc<T>`: calls that use the handle take their
/// own reference, so a `_free` during such a call frees nothing under it.
pub(crate) enum Arced {}

impl Ownership for Boxed {
    type Ptr<T> = Box<T>;
    fn new<T>(v: T) -> Box<T> {
        Box::new(v)
    }
    fn into_raw<T>(p: Box<T>) -> *mut T {
        Box::into_raw(p)
    }
    unsafe fn from_raw<T>(p: *mut T) -> Box<T> {
        Box::from_raw(p)
    }
}

impl Ownership for Arced {
    type Ptr<T> = Arc<T>;
    fn new<T>(v: T) -> Arc<T> {
        Arc::new(v)
    }
    fn into_raw<T>(p: Arc<T>) -> *mut T {
        Arc::into_raw(p).cast_mut()
    }
    unsafe fn from_raw<T>(p: *mut T) -> Arc<T> {
        Arc::from_raw(p.cast_const())
    }
}

/// A handle type of the C ABI and its one ownership. A type implements it once, so it is
/// either [`BoxCastable`] or [`ArcCastable`], never both.
pub(crate) trait Castable: Sized {
    type Ownership: Ownership;
}

/// A handle the C side holds as a `Box`.
pub(crate) trait BoxCastable: Castable<Ownership = Boxed> {}
impl<T: Castable<Ownership = Boxed>> BoxCastable for T {}

/// A handle the C side holds as an `Arc`.
pub(crate) trait ArcCastable: Castable<Ownership = Arced> {}
impl<T: Castable<Ownership = Arced>> ArcCastable for T {}

/// A handle owned by Rust: before it is handed out ([`Owned::into_raw`]), or after the C side
/// gave it back to be freed (`Option<Owned<T>>` from the pointer; dropping it releases it the
/// way its type says).
pub(crate) struct Owned<T: Castable>(<T::Ownership as Ownership>::Ptr<T>);

impl<T: Castable> Owned<T> {
    pub(crate) fn new(v: T) -> Self {
        Owned(T::Ownership::new(v))
    }

    /// The pointer the C side holds from now on.
    pub(crate) fn into_raw(self) -> *mut T {
        T::Ownership::into_raw(self.0)
    }
}

impl<T: Castable> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A required handle: NULL is `OAUTH_ERR_INVALID_ARGUMENT` ("client is NULL").
impl<T: Castable> FromArg<*const T> for &T {
    unsafe fn from_arg(p: *const T, name: &'static str) -> Result<Self> {
        p.as_ref()
            .ok_or_else(|| Error::invalid(format!("{name} is NULL")))
    }
}

impl<T: Castable> FromArg<*mut T> for &T {
    unsafe fn from_arg(p: *mut T, name: &'static str) -> Result<Self> {
        <&T as FromArg<*const T>>::from_arg(p.cast_const(), name)
    }
}

/// An optional handle (accessors: NULL gives their "none" value).
impl<T: Castable> FromArg<*const T> for Option<&T> {
    unsafe fn from_arg(p: *const T, _: &'static str) -> Result<Self> {
        Ok(p.as_ref())
    }
}

impl<T: Castable> FromArg<*mut T> for Option<&T> {
    unsafe fn from_arg(p: *mut T, _: &'static str) -> Result<Self> {
        Ok(p.as_ref())
    }
}

/// An optional `Arc` handle, with a reference of the call's own (NULL: none).
impl<T: ArcCastable> FromArg<*const T> for Option<Arc<T>> {
    unsafe fn from_arg(p: *const T, _: &'static str) -> Result<Self> {
        if p.is_null() {
            return Ok(None);
        }
        // The C side keeps its reference; this call gets one more.
        Arc::increment_strong_count(p);
        Ok(Some(Arc::from_raw(p)))
    }
}

/// A handle given back to be freed (NULL: nothing to free).
impl<T: Castable> FromArg<*mut T> for Option<Owned<T>> {
    unsafe fn from_arg(p: *mut T, _: &'static str) -> Result<Self> {
        if p.is_null() {
            return Ok(None);
        }
        Ok(Some(Owned(T::Ownership::from_raw(p))))
    }
}
