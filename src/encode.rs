//! application/x-www-form-urlencoded as RFC 6749 appendix B asks: a leaf, used by the token
//! requests ([`crate::token::providers::form`]) and by error scrubbing ([`crate::error::scrub`], which
//! also looks for a secret in the form a server may echo it).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but unreserved characters is percent-encoded (space as %20, which every server
/// decodes).
pub(crate) const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` form-encoded (for values that are not secret).
pub fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string()
}
