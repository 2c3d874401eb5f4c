//! # cxoauth
//!
//! OAuth2 client-credentials tokens and authenticated REST calls for Genesys Cloud CX and any
//! OAuth2 server, for Rust and — through the C ABI in [`ffi`] (header `include/cxoauth.h`) — for
//! C, C++, Go, .NET and Python hosts.
//!
//! Layers, top to bottom: [`ffi`] (ABI only: handles, result codes, panic boundary, argument
//! checks) → [`client`] (request + retry policy) → [`token`] (cache, single-flight, refresh) →
//! [`providers`] (Genesys regions, the client-credentials exchange) → [`transport`] (reqwest).

pub mod cache;
pub mod cancel;
pub mod client;
pub mod clock;
pub mod config;
pub(crate) mod conn;
pub mod dispatch;
pub mod error;
pub mod ffi;
pub mod gate;
pub(crate) mod hot;
pub(crate) mod local;
pub mod logging;
pub mod pacing;
pub mod panic;
pub mod process;
pub mod providers;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod stats;
pub mod threads;
pub mod token;
pub(crate) mod token_timing;
pub mod transport;

pub use cancel::CancelToken;
pub use client::{ApiRequest, Client};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use transport::HttpResponse;
