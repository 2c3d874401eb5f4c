//! # cxoauth
//!
//! OAuth2 client-credentials tokens and authenticated REST calls for Genesys Cloud CX and any
//! OAuth2 server, for Rust and — through the C ABI in `abi` (header `include/cxoauth.h`) — for
//! C, C++, Go, .NET and Python hosts.
//!
//! The top-level modules are the layers; every dependency points down (checked by
//! `scripts/check-layers.sh`):
//!
//! ```text
//! abi      the C ABI only: handles, result codes, panic boundary, argument checks
//!  -> client   entry points, request validation, the API gate, cancellation
//!  -> token    the token slot, lock-free mirror, refresh timer, providers, shared caches
//!  -> http     transport (TLS, the reply type), the calling thread's connections, retry
//!  -> obs      per-client counters, recorded metrics, token events (used by client, token)
//!  -> rt       the runtime, the calling thread's reactor, dispatch, threads, fork, clocks
//! leaves:  config (incl. platform data), logging, secret, error, encode
//! ```

pub(crate) mod abi;
pub mod client;
pub mod config;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod http;
pub mod logging;
pub(crate) mod obs;
pub(crate) mod rt;
pub(crate) mod secret;
pub(crate) mod token;

// The Rust API (the CLI, the fuzz targets and the tests use these paths).
pub use client::cancel::CancelToken;
pub use client::options::{CallOptions, PacingMode};
pub use client::{ApiRequest, Client};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use http::transport::HttpResponse;
/// `retry::backoff`, `retry::parse_retry_after`, `transport::Transport`.
pub use http::{outgoing, retry, transport};
/// `runtime::run_blocking`, `runtime::handle`.
pub use obs::events;
pub use rt::runtime;

/// The metrics of `oauth_client_metrics` ([`Client::metrics`]): the output formats and the
/// default `client` label.
pub mod metrics {
    pub use crate::client::metrics::Format;
    pub use crate::obs::metrics::default_name;
}
/// `providers::form_encode`, `providers::parse_token_reply`.
pub use token::providers;
