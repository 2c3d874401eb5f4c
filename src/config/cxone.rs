//! NICE CXone configuration: the issuers (short names), the legacy access-key endpoint of an
//! area, the variables that complete a configuration, the endpoints a configuration names.

use serde_json::{Map, Value};

use crate::config::{opt_string, parse_api_base, parse_url, ConfiguredEndpoints};
use crate::error::{Error, Result};

pub const DEFAULT_ISSUER: &str = "https://cxone.niceincontact.com";

/// Short names of the CXone issuers.
pub const ISSUERS: &[(&str, &str)] = &[
    ("global", DEFAULT_ISSUER),
    ("gov", "https://cxone-gov.niceincontact.com"),
    ("sov1-au", "https://nicecxone-sov1.au"),
    ("sov1-eu", "https://nicecxone-sov1.eu"),
];

/// The issuer URL for a short name (`global`, `gov`, `sov1-au`, `sov1-eu`), or `None` when
/// `name` is not one (then it is taken as a URL).
pub fn issuer_url(name: &str) -> Option<String> {
    ISSUERS
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name.trim()))
        .map(|(_, url)| url.to_string())
}

/// The legacy access-key endpoint of a CXone area (`na1`, `eu1`, `au1`, ...):
/// `https://{area}.nice-incontact.com/authentication/v1/token/access-key`.
pub fn legacy_token_url(area: Option<String>) -> Result<url::Url> {
    let Some(area) = area else {
        return Err(Error::config(
            "\"cxone_grant\": \"access_key_legacy\" needs \"cxone_area\" (na1, eu1, au1, ...) or \"token_url\"",
        ));
    };
    let ok = !area.is_empty()
        && area.len() <= 16
        && area
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !ok {
        return Err(Error::config(
            "config key \"cxone_area\" must be a CXone area such as na1, eu1 or au1",
        ));
    }
    parse_url(
        "cxone_area",
        &format!("https://{area}.nice-incontact.com/authentication/v1/token/access-key"),
    )
}

/// The variables that complete a CXone configuration.
pub const ID_VARS: &[&str] = &["CXONE_CLIENT_ID"];
pub const SECRET_VARS: &[&str] = &["CXONE_CLIENT_SECRET"];

/// NICE CXone: the issuer (default global, or a short name), token endpoint and API base
/// discovered unless given.
pub fn endpoints(obj: &Map<String, Value>) -> Result<ConfiguredEndpoints> {
    let issuer = match opt_string(obj, "issuer")? {
        None => DEFAULT_ISSUER.to_string(),
        Some(i) => issuer_url(&i).unwrap_or(i),
    };
    Ok(ConfiguredEndpoints {
        issuer: Some(parse_url("issuer", &issuer)?),
        token_url: opt_string(obj, "token_url")?
            .map(|u| parse_url("token_url", &u))
            .transpose()?,
        api_base: opt_string(obj, "api_base")?
            .map(|u| parse_api_base(&u))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(
            issuer_url("gov").unwrap(),
            "https://cxone-gov.niceincontact.com"
        );
        assert_eq!(issuer_url("SOV1-EU").unwrap(), "https://nicecxone-sov1.eu");
        assert_eq!(issuer_url("https://x.example"), None);
    }
}
