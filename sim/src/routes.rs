//! Request dispatch: admin, token endpoint, API; counting and fault application.

use std::time::Duration;

use crate::http::{Request, Response};
use crate::state::Shared;
use crate::{admin, api, cxone, token, util, Action, Target};

/// What the connection loop must do with a request.
pub enum Outcome {
    /// Write this response (then keep the connection unless the request asked to close).
    Respond(Response, Delivery),
    /// Close the connection without any response.
    Drop,
    /// Write this response (which announces more body than it has), then close.
    DropMidBody(Response),
}

/// How to write a response.
pub enum Delivery {
    Whole,
    Trickle {
        bytes_per_interval: usize,
        interval: Duration,
    },
}

/// Header carrying the per-request correlation id on every `/api/` response.
const CORRELATION_HEADER: &str = "ININ-Correlation-Id";

fn target_of(path: &str) -> Option<Target> {
    if path == "/oauth/token"
        || path == "/auth/token"
        || path == "/authentication/v1/token/access-key"
    {
        Some(Target::Token)
    } else if path.starts_with("/api/") || path.starts_with("/cxone/") {
        Some(Target::Api)
    } else if path.starts_with("/.well-known/") {
        Some(Target::Discovery)
    } else {
        None
    }
}

pub async fn handle(shared: &Shared, req: &Request) -> Outcome {
    if req.path.starts_with("/__admin/") {
        return Outcome::Respond(admin::handle(shared, req), Delivery::Whole);
    }
    let Some(target) = target_of(&req.path) else {
        return Outcome::Respond(Response::text(404, "not found\n"), Delivery::Whole);
    };
    shared.count_request(target);
    let correlation = match target {
        Target::Api => Some(util::uuid_v4()),
        Target::Token | Target::Discovery => None,
    };
    let corr = correlation.as_deref();

    let mut delivery = Delivery::Whole;
    let resp = match shared.take_fault(target, &req.method, &req.path) {
        None if target == Target::Token && shared.token_outage() => {
            status_fault(target, 503, None, None, corr)
        }
        None => normal(shared, req, target, corr),
        Some(Action::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            normal(shared, req, target, corr)
        }
        Some(Action::Trickle {
            bytes_per_interval,
            interval_ms,
        }) => {
            delivery = Delivery::Trickle {
                bytes_per_interval: bytes_per_interval.max(1),
                interval: Duration::from_millis(interval_ms),
            };
            normal(shared, req, target, corr)
        }
        Some(Action::Drop) => return Outcome::Drop,
        Some(Action::DropMidBody) => {
            let resp = Response::new(200)
                .header("Content-Type", "application/json")
                .header("Content-Length", "1000")
                .body(&b"{\"message\""[..]);
            return Outcome::DropMidBody(with_correlation(resp, corr));
        }
        Some(Action::Status {
            status,
            retry_after,
            body,
        }) => status_fault(target, status, retry_after.as_deref(), body, corr),
        Some(Action::TokenReply { status, body }) => Response::json_raw(status, body),
        Some(Action::LargeBody { bytes }) => Response::json_raw(200, large_body(bytes)),
        Some(Action::Redirect { location }) => Response::new(302).header("Location", &location),
    };
    if target == Target::Api && resp.status == 429 {
        shared.count_429();
    }
    Outcome::Respond(with_correlation(resp, corr), delivery)
}

fn normal(shared: &Shared, req: &Request, target: Target, corr: Option<&str>) -> Response {
    match target {
        Target::Token if req.path == "/auth/token" => cxone::token(shared, req),
        Target::Token if req.path == "/authentication/v1/token/access-key" => {
            cxone::access_key_token(shared, req)
        }
        Target::Token => token::handle(shared, req),
        Target::Api if req.path.starts_with("/cxone/") => cxone::api(shared, req),
        Target::Api => api::handle(shared, req, corr.unwrap_or_default()),
        Target::Discovery => cxone::well_known(shared, req),
    }
}

fn with_correlation(resp: Response, corr: Option<&str>) -> Response {
    match corr {
        Some(id) => resp.header(CORRELATION_HEADER, id),
        None => resp,
    }
}

/// Response of an `Action::Status` fault.
fn status_fault(
    target: Target,
    status: u16,
    retry_after: Option<&str>,
    body: Option<String>,
    corr: Option<&str>,
) -> Response {
    let resp = match (body, target) {
        (Some(body), _) => Response::json_raw(status, body),
        (None, Target::Token) => token_fault(status),
        (None, Target::Api) => api_fault(status, retry_after, corr.unwrap_or_default()),
        (None, Target::Discovery) => Response::text(status, "simulated discovery failure\n"),
    };
    match retry_after {
        Some(value) => resp.header("Retry-After", value),
        None => resp,
    }
}

/// Generated login-service body for a status fault.
fn token_fault(status: u16) -> Response {
    match status {
        // Genesys answers its token rate limit with 400 (and sometimes 429) and this body.
        400 | 429 => token::oauth_error(status, "invalid_request", "rate limit exceeded;"),
        401 => token::oauth_error(401, "invalid_client", "client not found"),
        500..=599 => token::oauth_error(
            status,
            "server_error",
            &format!(
                "{} (simulated)",
                crate::http::reason(status).to_ascii_lowercase()
            ),
        ),
        s if s >= 400 => token::oauth_error(
            status,
            "invalid_request",
            &crate::http::reason(status).to_ascii_lowercase(),
        ),
        _ => Response::json_raw(status, "{}"),
    }
}

/// Generated Genesys API error body for a status fault.
fn api_fault(status: u16, retry_after: Option<&str>, corr: &str) -> Response {
    if status < 400 {
        return Response::json_raw(status, "{}");
    }
    let (code, message) = match status {
        429 => {
            let secs = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            (
                "too.many.requests.retry.after".to_string(),
                format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds"),
            )
        }
        _ => {
            let (code, message) = api::code_for(status);
            (code.to_string(), message.to_string())
        }
    };
    api::error(status, &code, &message, corr)
}

/// A JSON-ish body of exactly `bytes` bytes.
fn large_body(bytes: usize) -> Vec<u8> {
    const PREFIX: &[u8] = b"{\"data\":\"";
    const SUFFIX: &[u8] = b"\"}";
    if bytes < PREFIX.len() + SUFFIX.len() {
        return vec![b' '; bytes];
    }
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(PREFIX);
    body.resize(bytes - SUFFIX.len(), b'x');
    body.extend_from_slice(SUFFIX);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_body_is_exact() {
        for n in [0, 5, 11, 12, 1000] {
            assert_eq!(large_body(n).len(), n);
        }
        let b = large_body(20);
        assert!(serde_json::from_slice::<serde_json::Value>(&b).is_ok());
    }
}
