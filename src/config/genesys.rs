//! Genesys Cloud CX: regions and the URLs derived from them.
//!
//! Login is `https://login.<domain>/oauth/token`, the API is `https://api.<domain>`.

use serde_json::{Map, Value};

use crate::config::{opt_string, parse_api_base, parse_url, truncate, ConfiguredEndpoints, Env};
use crate::error::{Error, Result};

/// (AWS region name, Genesys domain) for every public Genesys Cloud region.
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
    ("eusc-de-east-1", "edee1.eusc-pure.cloud"),
];

/// Resolves a region given either as its AWS name (`eu-central-1`) or as its domain
/// (`mypurecloud.de`, also with a `login.`/`api.` prefix or a trailing dot). A domain that is not
/// in the table is accepted when it is a plausible DNS name (private and future regions, test
/// organisations); anything else is `None`.
pub fn resolve_domain(region: &str) -> Option<String> {
    let r = region.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some((_, domain)) = REGIONS.iter().find(|(aws, _)| *aws == r) {
        return Some((*domain).to_string());
    }
    let r = r
        .strip_prefix("login.")
        .or_else(|| r.strip_prefix("api."))
        .unwrap_or(&r)
        .to_string();
    if REGIONS.iter().any(|(_, d)| *d == r) || plausible_domain(&r) {
        Some(r)
    } else {
        None
    }
}

fn plausible_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // the top-level label is never all digits (rules out IP addresses)
        && !labels.last().unwrap().bytes().all(|b| b.is_ascii_digit())
}

pub fn token_url(domain: &str) -> String {
    format!("https://login.{domain}/oauth/token")
}

pub fn api_base(domain: &str) -> String {
    format!("https://api.{domain}")
}

/// The variables that complete a Genesys configuration: client id, then secret.
pub const ID_VARS: &[&str] = &["GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYS_CLIENT_ID"];
pub const SECRET_VARS: &[&str] = &["GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYS_CLIENT_SECRET"];

/// Genesys Cloud: URLs from the region (JSON, then GENESYSCLOUD_REGION), each overridable.
pub fn endpoints(obj: &Map<String, Value>, env: &dyn Env) -> Result<ConfiguredEndpoints> {
    let json_region = opt_string(obj, "region")?;
    let token_url = opt_string(obj, "token_url")?;
    let api_base = opt_string(obj, "api_base")?;

    // The region is only needed for what token_url/api_base do not give.
    let region_domain = if token_url.is_some() && api_base.is_some() {
        None
    } else {
        let (region, key) = match json_region {
            Some(r) => (Some(r), "region"),
            None => (env.get("GENESYSCLOUD_REGION"), "GENESYSCLOUD_REGION"),
        };
        match region {
            Some(r) => Some(resolve_domain(&r).ok_or_else(|| {
                Error::config(format!(
                    "{key} \"{}\" is neither a Genesys Cloud region (e.g. eu-central-1) nor a domain (e.g. mypurecloud.de)",
                    truncate(&r, 64)
                ))
            })?),
            None => None,
        }
    };
    let token_url = match (token_url, &region_domain) {
        (Some(u), _) => parse_url("token_url", &u)?,
        (None, Some(d)) => parse_url("region", &self::token_url(d))?,
        (None, None) => {
            return Err(Error::config(
                "no token endpoint: set \"region\" (or GENESYSCLOUD_REGION) or \"token_url\"",
            ))
        }
    };
    let api_base = match (api_base, &region_domain) {
        (Some(u), _) => parse_api_base(&u)?,
        (None, Some(d)) => parse_url("region", &self::api_base(d))?,
        (None, None) => {
            return Err(Error::config(
                "no API base: set \"region\" (or GENESYSCLOUD_REGION) or \"api_base\"",
            ))
        }
    };
    Ok(ConfiguredEndpoints {
        token_url: Some(token_url),
        api_base: Some(api_base),
        issuer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_by_both_names() {
        assert_eq!(REGIONS.len(), 18);
        for (aws, domain) in REGIONS {
            assert_eq!(resolve_domain(aws).as_deref(), Some(*domain));
            assert_eq!(resolve_domain(domain).as_deref(), Some(*domain));
            assert_eq!(
                resolve_domain(&domain.to_uppercase()).as_deref(),
                Some(*domain)
            );
        }
        assert_eq!(
            resolve_domain("login.mypurecloud.de").as_deref(),
            Some("mypurecloud.de")
        );
        assert_eq!(
            resolve_domain("api.usw2.pure.cloud.").as_deref(),
            Some("usw2.pure.cloud")
        );
    }

    #[test]
    fn implausible_regions_rejected() {
        for bad in [
            "",
            "eu-central-9",
            "mars",
            "https://mypurecloud.de",
            "my purecloud.de",
            "127.0.0.1",
            "a..b",
            "-x.com",
            "mypurecloud.de/path",
        ] {
            assert_eq!(resolve_domain(bad), None, "{bad:?}");
        }
        assert_eq!(
            resolve_domain("inindca.com").as_deref(),
            Some("inindca.com")
        );
    }
}
