//! The runtime layer, at the bottom: the process-wide tokio runtime ([`runtime`]), each calling
//! thread's own reactor ([`local`]), the completion thread ([`dispatch`]), thread setup
//! ([`threads`]), the fork epoch ([`process`]), clocks ([`clock`]) and the panic boundary of
//! spawned work ([`panic`]). Imports nothing above it: no HTTP, no tokens, no clients.

pub mod clock;
pub mod dispatch;
pub(crate) mod local;
pub mod panic;
pub mod process;
pub mod runtime;
pub mod threads;
