//! The library's error type. Every failure carries a stable [`ErrorKind`] (mapped 1:1 to the C
//! result codes), a human readable message that never contains a secret or a token, and the
//! HTTP details the server gave (status, OAuth error code, Genesys correlation id).

use std::fmt;

/// Failure classes. The numeric values are the C ABI's result codes and are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    /// A NULL pointer, invalid UTF-8, a malformed header line, a foreign host, ...
    InvalidArgument = 1,
    /// The configuration is incomplete or wrong; the message names the key.
    Config = 2,
    /// No connection could be made or it broke before a complete reply.
    Network = 3,
    /// The per-attempt timeout or the whole-call deadline passed.
    Timeout = 4,
    /// TLS handshake or certificate verification failed.
    Tls = 5,
    /// The token endpoint rejected the credentials (`invalid_client`, `unauthorized_client`,
    /// `invalid_scope`, ...). Not retried.
    Auth = 6,
    /// The token endpoint kept rate limiting until retries or the deadline ran out.
    RateLimited = 7,
    /// The token endpoint kept answering 5xx until retries or the deadline ran out.
    Server = 8,
    /// The server's reply could not be understood (malformed token JSON, bad expires_in, ...).
    Protocol = 9,
    /// The call was aborted by `oauth_cancel`, a cancel token or `oauth_close`.
    Cancelled = 10,
    /// A bug: a panic was caught at the ABI boundary, or a call came from a library thread.
    Internal = 11,
    /// The client was closed (`oauth_close` / `oauth_free`): every later call fails with this.
    Closed = 12,
}

impl ErrorKind {
    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Config => "configuration error",
            ErrorKind::Network => "network error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Auth => "authentication rejected",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Server => "server error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
            ErrorKind::Closed => "client closed",
        }
    }
}

/// An error with its details. Cloneable so that one failed token fetch can be handed to every
/// caller that was waiting for it.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// HTTP status of the reply that caused the error, 0 when there was none.
    pub http_status: u16,
    /// The OAuth `error` field (e.g. `invalid_client`) or the Genesys API `code`.
    pub oauth_code: Option<String>,
    /// `ININ-Correlation-Id` of the failing reply, when the server sent one.
    pub correlation_id: Option<String>,
    /// The server's `Retry-After` on a rate-limited or failing reply.
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: 0,
            oauth_code: None,
            correlation_id: None,
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = status;
        self
    }

    pub fn with_oauth_code(mut self, code: Option<String>) -> Self {
        self.oauth_code = code;
        self
    }

    pub fn with_correlation_id(mut self, id: Option<String>) -> Self {
        self.correlation_id = id;
        self
    }

    pub fn with_retry_after(mut self, d: Option<std::time::Duration>) -> Self {
        self.retry_after = d;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("http_status", &self.http_status)
            .field("oauth_code", &self.oauth_code)
            .field("correlation_id", &self.correlation_id)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl std::error::Error for Error {}

/// Longest server-provided text kept in an error message, in characters.
pub const MAX_SERVER_TEXT: usize = 300;

/// Server-provided text made fit for an error message. Control characters are dropped
/// *first* (so dropping them cannot join two halves of a secret into a whole one), then every
/// occurrence of each secret (as given, without its control characters, and form-encoded, as a
/// server may echo a request body) is replaced by `<redacted>`, and only then is the text cut to
/// [`MAX_SERVER_TEXT`] characters, so no prefix of a secret that crosses the cut survives.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    use zeroize::Zeroizing;
    let longest = secrets.iter().map(|s| 3 * s.len()).max().unwrap_or(0);
    // Look at enough text that any secret starting before the cut is seen whole. Every
    // intermediate copy may hold a secret the server echoed: all are wiped.
    let mut t: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_control())
            .take(MAX_SERVER_TEXT + longest)
            .collect(),
    );
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let plain: Zeroizing<String> =
            Zeroizing::new(s.chars().filter(|c| !c.is_control()).collect());
        let encoded = Zeroizing::new(crate::encode::form_encode(s));
        for form in [*s, plain.as_str(), encoded.as_str()] {
            if !form.is_empty() && t.contains(form) {
                t = Zeroizing::new(t.replace(form, "<redacted>"));
            }
            // as a server may echo the Basic credential: base64(urlencode(id):urlencode(secret))
            for core in base64_cores(form) {
                if t.contains(core.as_str()) {
                    t = Zeroizing::new(t.replace(core.as_str(), "<redacted>"));
                }
            }
        }
    }
    t.chars().take(MAX_SERVER_TEXT).collect()
}

/// The characters of `secret`'s Base64 encoding that do not depend on what surrounds it, at each
/// of the three alignments it can have inside a longer encoded text (standard and URL-safe
/// alphabets); none for secrets too short to give at least 6 such characters.
fn base64_cores(secret: &str) -> Vec<zeroize::Zeroizing<String>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; shift]);
        bytes.extend_from_slice(secret.as_bytes());
        // characters wholly inside the secret's bits: [ceil(8*shift/6), floor(8*(shift+len)/6))
        let from = (8 * shift).div_ceil(6);
        let to = 8 * (shift + secret.len()) / 6;
        if to < from + 6 {
            continue;
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let enc = zeroize::Zeroizing::new(engine.encode(&*bytes));
            out.push(zeroize::Zeroizing::new(enc[from..to].to_string()));
        }
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::scrub;

    /// The Basic credential as a server might echo it: no part of the secret's encoding that
    /// identifies it survives, whatever the client id's length (and so the alignment).
    #[test]
    fn scrub_covers_the_base64_basic_credential() {
        use base64::Engine as _;
        let secret = "s3cr:/+=%&et value";
        for id in ["a", "ab", "abc", "test-client"] {
            let basic = format!(
                "{}:{}",
                crate::encode::form_encode(id),
                crate::encode::form_encode(secret)
            );
            let b64 = base64::engine::general_purpose::STANDARD.encode(basic);
            let out = scrub(&format!("bad header: Basic {b64}"), &[secret]);
            assert!(out.contains("<redacted>"), "{id}: {out}");
            let core = &b64[b64.len() / 2 - 3..b64.len() / 2 + 3];
            assert!(!out.contains(core), "{id}: {out}");
        }
    }

    #[test]
    fn scrub_replaces_every_secret_before_cutting() {
        let secret = "Sup3rS3cretValue";
        // the secret straddles the cut at MAX_SERVER_TEXT characters
        let text = format!("{}{secret} tail", "x".repeat(super::MAX_SERVER_TEXT - 4));
        let out = scrub(&text, &[secret]);
        assert!(!out.contains("Sup3"), "{out}");
        assert_eq!(out.chars().count(), super::MAX_SERVER_TEXT);
        let out = scrub(
            "a=key s/ecret&b=refresh-tok\n",
            &["key s/ecret", "refresh-tok"],
        );
        assert_eq!(out, "a=<redacted>&b=<redacted>");
        let out = scrub("echo key%20s%2Fecret", &["key s/ecret"]);
        assert_eq!(out, "echo <redacted>");
        assert_eq!(scrub("line\nbreak", &[]), "linebreak");
        // dropping control characters must not join two halves into the secret (found by the
        // token_reply fuzz target)
        let out = scrub("x fuzz\u{7f}\u{7f}-secret y", &["fuzz-secret"]);
        assert_eq!(out, "x <redacted> y");
        let out = scrub("a sec\tret b", &["sec\tret"]);
        assert_eq!(out, "a <redacted> b");
    }
}
