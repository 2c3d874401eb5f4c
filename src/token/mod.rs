//! The token layer: the token slot of a client ([`manager`]: lock-free reads through the
//! mirror in [`hot`], single-flight fetches, the refresh timer, remembered failures), the
//! providers that obtain tokens from the configured server ([`providers`]) and the caches that
//! share them between processes ([`cache`]). Below it only HTTP, the runtime and the leaves.

pub mod cache;
pub(crate) mod hot;
pub mod manager;
pub mod providers;
pub(crate) mod timing;

pub use manager::*;
