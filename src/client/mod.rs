//! The client layer: the blocking and callback entry points and request validation
//! ([`request`]: [`Client`], [`ApiRequest`], the retry loop of an API call), the API
//! rate-limit gate ([`gate`]), pacing to the rate-limit headers ([`pacing`]), the token pool
//! ([`pool`]), per-call options ([`options`]) and cancellation ([`cancel`]). Below it the token layer, HTTP,
//! the runtime and the leaves.

pub mod cancel;
pub(crate) mod gate;
pub mod metrics;
pub mod options;
pub(crate) mod pacing;
pub(crate) mod pool;
pub mod request;

pub use request::*;
