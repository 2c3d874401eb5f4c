//! Any OAuth2 server: a token endpoint from `token_url` or OpenID/RFC 8414 discovery from
//! `issuer`, and an explicit `api_base`; client credentials.

use serde_json::{Map, Value};

use crate::config::{opt_string, parse_api_base, parse_url, ConfiguredEndpoints};
use crate::error::{Error, Result};

/// Any OAuth2 server: `token_url` or `issuer` (discovery), and `api_base`.
pub fn endpoints(obj: &Map<String, Value>) -> Result<ConfiguredEndpoints> {
    let issuer = opt_string(obj, "issuer")?
        .map(|u| parse_url("issuer", &u))
        .transpose()?;
    let token_url = opt_string(obj, "token_url")?
        .map(|u| parse_url("token_url", &u))
        .transpose()?;
    if issuer.is_none() && token_url.is_none() {
        return Err(Error::config(
            "no token endpoint: set \"issuer\" (OpenID discovery) or \"token_url\"",
        ));
    }
    let api_base = match opt_string(obj, "api_base")? {
        Some(u) => parse_api_base(&u)?,
        None => return Err(Error::config("missing \"api_base\" (the API's base URL)")),
    };
    Ok(ConfiguredEndpoints {
        token_url,
        api_base: Some(api_base),
        issuer,
    })
}
