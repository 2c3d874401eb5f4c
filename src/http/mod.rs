//! The HTTP layer: one request attempt and its reply ([`transport`]: the process-wide reqwest
//! pool, TLS, the reply type), the calling thread's own HTTP/1.1 connections ([`conn`]) and
//! their per-thread pools ([`pool`]), and the one retry policy ([`retry`]). Below it only the
//! runtime layer and the leaves.

pub(crate) mod conn;
pub mod outgoing;
pub(crate) mod pool;
pub mod retry;
pub mod transport;
