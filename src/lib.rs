//! # cxoauth
//!
//! OAuth2 client-credentials tokens and authenticated REST calls for Genesys Cloud CX and any
//! OAuth2 server, for Rust and — through the C ABI in [`ffi`] (header `include/cxoauth.h`) — for
//! C, C++, Go, .NET and Python hosts.
//!
//! Layers, top to bottom: [`ffi`] (ABI only: handles, result codes, panic boundary, argument
//! checks) → [`client`] (request + retry policy) → [`token`] (cache, single-flight, refresh) →
//! [`providers`] (Genesys regions, the client-credentials exchange) → [`transport`] (reqwest).

pub(crate) mod abi;
pub mod client;
pub mod config;
pub mod encode;
pub mod error;
pub(crate) mod http;
pub(crate) mod obs;
pub(crate) mod rt;
pub mod secret;
pub(crate) mod token;

pub use client::cancel::CancelToken;
pub use client::{ApiRequest, Client};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use http::transport::HttpResponse;
/// `retry::backoff`, `retry::parse_retry_after`, `transport::Transport` (used by the CLI,
/// the fuzz targets and the tests).
pub use http::{retry, transport};
/// `runtime::run_blocking` and `runtime::handle` (used by the CLI and the tests).
pub use rt::runtime;
/// `providers::form_encode`, `providers::parse_token_reply` (used by the fuzz targets and the
/// tests).
pub use token::providers;
