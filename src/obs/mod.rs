//! Observability, a leaf: log lines and the host's log callback ([`logging`], with the
//! crate-root `log_line!` macro) and the per-client counters ([`stats`]).

pub mod logging;
pub mod stats;
