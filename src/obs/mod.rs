//! Observability: the per-client counters ([`stats`]), the metrics recorded for
//! `oauth_client_metrics` ([`metrics`]) and token events ([`events`], delivered on the
//! completion thread of [`crate::rt`]). Log lines are the leaf [`crate::logging`].

pub mod events;
pub mod metrics;
pub mod stats;
