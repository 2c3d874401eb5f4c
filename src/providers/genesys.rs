//! Genesys Cloud CX: regions and the URLs derived from them.
//!
//! Login is `https://login.<domain>/oauth/token`, the API is `https://api.<domain>`.

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
