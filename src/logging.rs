//! The library's log lines: sent to the `log` facade (target `cxoauth`, for Rust programs that
//! install a logger) and to the one process-wide C callback set by `oauth_set_log_callback`.
//! Off by default; never stdout or stderr. Lines never contain a secret or a token: they are
//! built from error messages (scrubbed) and numbers only.

use std::ffi::c_void;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// Levels as the ABI numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    fn to_log(self) -> log::Level {
        match self {
            Level::Error => log::Level::Error,
            Level::Warn => log::Level::Warn,
            Level::Info => log::Level::Info,
            Level::Debug => log::Level::Debug,
        }
    }
}

/// A C log sink: `fn(userdata, level, message)`.
pub type Callback = extern "C" fn(*mut c_void, u32, *const std::ffi::c_char);

struct Sink {
    min_level: u32,
    fn_: Callback,
    userdata: *mut c_void,
}

// SAFETY: the host promises (header docs) that the callback may be called from any thread
// with its userdata.
unsafe impl Send for Sink {}
unsafe impl Sync for Sink {}

static SINK: ArcSwapOption<Sink> = ArcSwapOption::const_empty();

/// Sets (or with `None` / level 0 clears) the C callback.
pub fn set_callback(min_level: u32, cb: Option<(Callback, *mut c_void)>) {
    match cb {
        Some((fn_, userdata)) if min_level > 0 => SINK.store(Some(Arc::new(Sink {
            min_level,
            fn_,
            userdata,
        }))),
        _ => SINK.store(None),
    }
}

/// Whether a line at `level` goes anywhere (to skip formatting otherwise).
pub fn enabled(level: Level) -> bool {
    SINK.load()
        .as_ref()
        .is_some_and(|s| level as u32 <= s.min_level)
        || log::log_enabled!(target: "cxoauth", level.to_log())
}

/// Emits one line.
pub fn emit(level: Level, message: std::fmt::Arguments<'_>) {
    log::log!(target: "cxoauth", level.to_log(), "{message}");
    let sink = SINK.load_full();
    if let Some(s) = sink.filter(|s| level as u32 <= s.min_level) {
        let text = std::ffi::CString::new(message.to_string().replace('\0', "?"))
            .expect("NULs were replaced");
        (s.fn_)(s.userdata, level as u32, text.as_ptr());
    }
}

/// `log_line!(Level::Warn, "...", args)`: formats only when someone listens.
#[macro_export]
macro_rules! log_line {
    ($level:expr, $($arg:tt)+) => {
        if $crate::logging::enabled($level) {
            $crate::logging::emit($level, format_args!($($arg)+));
        }
    };
}

/// A line built under a lock and emitted after it is released (a log callback may call back
/// into the library, e.g. `oauth_client_stats`, which takes the same locks).
#[must_use]
pub struct Deferred(Option<(Level, String)>);

impl Deferred {
    pub fn new(level: Level, line: String) -> Deferred {
        Deferred(enabled(level).then_some((level, line)))
    }

    pub fn none() -> Deferred {
        Deferred(None)
    }

    pub fn emit(self) {
        if let Some((level, line)) = self.0 {
            emit(level, format_args!("{line}"));
        }
    }
}
