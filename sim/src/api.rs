//! The simulated Genesys Cloud REST API (paths under `/api/`).

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::state::Shared;

/// Fixed id of the simulated organization.
pub const ORG_ID: &str = "5f2b7f1e-3c4d-4a8b-9e6f-1a2b3c4d5e6f";
const ORG_NAME: &str = "Simulated Org";

const MSG_BAD_CREDENTIALS: &str = "Invalid login credentials.";
const MSG_USER_CONTEXT: &str = "This request requires a user context. Client credentials cannot be used for requests to this resource.";

/// A Genesys API error body; `contextId` is the request's correlation id.
pub fn error(status: u16, code: &str, message: &str, corr: &str) -> Response {
    Response::json(
        status,
        &json!({
            "message": message,
            "code": code,
            "status": status,
            "contextId": corr,
            "details": [],
            "errors": [],
        }),
    )
}

/// Genesys error code and message for a status (429 is built by the caller, which knows the
/// retry delay).
pub fn code_for(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("bad.request", "The request could not be understood by the server due to malformed syntax."),
        401 => ("bad.credentials", MSG_BAD_CREDENTIALS),
        403 => ("not.authorized", "You are not authorized to perform the requested action."),
        404 => ("not.found", "The requested resource was not found."),
        405 => ("method.not.allowed", "The requested method is not allowed for this resource."),
        408 => ("request.timeout", "The client did not produce a request within the time that the server was prepared to wait."),
        409 => ("conflict", "The request could not be completed due to a conflict with the current state of the resource."),
        413 => ("request.entity.too.large", "The request entity is larger than the server is willing or able to process."),
        415 => ("unsupported.media.type", "The request entity has a media type which the server or resource does not support."),
        429 => ("too.many.requests", "Rate limit exceeded the maximum."),
        500 => ("internal.server.error", "The server encountered an unexpected condition which prevented it from fulfilling the request."),
        501 => ("not.implemented", "The server does not support the functionality required to fulfill the request."),
        502 => ("bad.gateway", "The server, while acting as a gateway or proxy, received an invalid response from the upstream server."),
        503 => ("service.unavailable", "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance)."),
        504 => ("gateway.timeout", "The server, while acting as a gateway or proxy, did not receive a timely response from the upstream server."),
        s if s < 500 => ("bad.request", "The request could not be processed."),
        _ => ("internal.server.error", "The server encountered an unexpected condition."),
    }
}

pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub fn handle(shared: &Shared, req: &Request, corr: &str) -> Response {
    let Some((token, client_id)) =
        bearer_token(req).and_then(|t| Some((t, shared.token_client(t)?)))
    else {
        return error(401, "bad.credentials", MSG_BAD_CREDENTIALS, corr);
    };
    let Some(standing) = shared.rate_limit(token, &client_id) else {
        return route(req, &client_id, corr, true);
    };
    if standing.limited {
        let secs = standing.reset_s().max(1);
        let resp = error(
            429,
            "too.many.requests.retry.after",
            &format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds"),
            corr,
        )
        .header("Retry-After", &secs.to_string());
        return standing.headers(resp);
    }
    standing.headers(route(req, &client_id, corr, false))
}

/// The reply to an authenticated request. `constant_limit_headers`: no rate limit is
/// configured, `/api/v2/organizations/me` carries constant rate-limit headers as before.
fn route(req: &Request, client_id: &str, corr: &str, constant_limit_headers: bool) -> Response {
    let path = req.path.as_str();
    if path == "/api/v2/echo" || path.starts_with("/api/v2/echo/") {
        return echo(req);
    }
    let read_only = |body: Value| {
        if req.method == "GET" || req.method == "HEAD" {
            Response::json(200, &body)
        } else {
            let (code, message) = code_for(405);
            error(405, code, message, corr).header("Allow", "GET, HEAD")
        }
    };
    match path {
        "/api/v2/tokens/me" => read_only(tokens_me(client_id)),
        // Like the real service behind its AWS load balancer: two Set-Cookie headers whose
        // dates contain commas, and the rate-limit headers.
        "/api/v2/organizations/me" => {
            with_lb_headers(read_only(organization()), constant_limit_headers)
        }
        "/api/v2/users/me" => error(400, "bad.request", MSG_USER_CONTEXT, corr),
        _ => {
            let (code, message) = code_for(404);
            error(404, code, message, corr)
        }
    }
}

fn with_lb_headers(r: Response, constant_limit_headers: bool) -> Response {
    let r = if constant_limit_headers {
        r.header("inin-ratelimit-count", "1")
            .header("inin-ratelimit-allowed", "300")
            .header("inin-ratelimit-reset", "60")
    } else {
        r
    };
    let expires = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 86400),
    );
    r.header(
        "Set-Cookie",
        &format!(
            "AWSALB=sim{}; Expires={expires}; Path=/",
            crate::util::uuid_v4()
        ),
    )
    .header(
        "Set-Cookie",
        &format!(
            "AWSALBCORS=sim{}; Expires={expires}; Path=/; SameSite=None; Secure",
            crate::util::uuid_v4()
        ),
    )
}

fn org_ref() -> Value {
    json!({
        "id": ORG_ID,
        "name": ORG_NAME,
        "selfUri": format!("/api/v2/organizations/{ORG_ID}"),
    })
}

fn tokens_me(client_id: &str) -> Value {
    json!({
        "organization": org_ref(),
        "homeOrganization": org_ref(),
        "authorizedGrantType": "CLIENT_CREDENTIALS",
        "OAuthClient": {
            "id": client_id,
            "name": "Simulated client",
            "organization": { "id": ORG_ID },
        },
    })
}

fn organization() -> Value {
    json!({
        "id": ORG_ID,
        "name": ORG_NAME,
        "defaultLanguage": "en-us",
        "thirdPartyOrgName": "simulated-org",
        "domain": "simulated-org",
        "version": 1,
        "state": "active",
        "deletable": false,
        "selfUri": format!("/api/v2/organizations/{ORG_ID}"),
    })
}

/// Echoes the request back. The Authorization value is never echoed.
pub fn echo(req: &Request) -> Response {
    let mut headers = Map::new();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        let value = if name == "authorization" || name == "proxy-authorization" {
            redact(value)
        } else {
            value.clone()
        };
        match headers.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name, Value::String(value));
            }
        }
    }
    Response::json(
        200,
        &json!({
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "headers": headers,
            "body": String::from_utf8_lossy(&req.body),
            "body_len": req.body.len(),
        }),
    )
}

fn redact(value: &str) -> String {
    match value.trim().split_once(' ') {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => {
            "Bearer <redacted>".to_string()
        }
        _ => "<redacted>".to_string(),
    }
}
