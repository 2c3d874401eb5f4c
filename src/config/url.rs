//! URL checks of the configuration: https only, plain http only to loopback.

use url::Url;

use crate::error::{Error, Result};

pub fn parse_api_base(text: &str) -> Result<Url> {
    let url = parse_url("api_base", text)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            "config key \"api_base\" must not have a query or fragment",
        ));
    }
    Ok(url)
}

/// Parses an endpoint URL: https anywhere, plain http only to loopback.
pub fn parse_url(key: &str, text: &str) -> Result<Url> {
    let url = Url::parse(text)
        .map_err(|e| Error::config(format!("config key \"{key}\" is not a valid URL: {e}")))?;
    if url.username() != "" || url.password().is_some() {
        return Err(Error::config(format!(
            "config key \"{key}\" must not contain credentials"
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::config(format!(
                "config key \"{key}\": plain http is only allowed to loopback (127.0.0.0/8, ::1, localhost); use https"
            )))
        }
        _ => {
            return Err(Error::config(format!(
                "config key \"{key}\" must be an https URL"
            )))
        }
    }
    if url.host().is_none() {
        return Err(Error::config(format!("config key \"{key}\" has no host")));
    }
    Ok(url)
}

/// Whether `url` names this machine (localhost, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // (in a URL of a scheme that is not special, redis://, an address stays a "domain")
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
        }
        None => false,
    }
}

pub(crate) fn redact_url(u: &Url) -> String {
    let mut u = u.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("redacted"));
    }
    u.to_string()
}
