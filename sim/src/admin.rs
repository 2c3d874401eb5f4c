//! Admin HTTP API under `/__admin/` (never counted, never faulted).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{Request, Response};
use crate::state::Shared;
use crate::{Action, Fault, RateLimitScope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    token_lifetime_s: Option<u64>,
    /// Prefix of every token issued from now on (until reset).
    token_prefix: Option<String>,
    /// Close connections idle longer than this (0: never), until reset.
    keep_alive_idle_ms: Option<u64>,
    /// API requests per window (0: no limit).
    rate_limit: Option<u64>,
    rate_limit_window_ms: Option<u64>,
    /// `token` (default) or `client`.
    rate_limit_scope: Option<String>,
    /// Revoke tokens unused for longer than this (0: never).
    token_idle_timeout_ms: Option<u64>,
    /// The token endpoint answers 503 for this long from now (0: the outage ends).
    token_outage_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessKeyBody {
    access_key_id: String,
    access_key_secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientBody {
    client_id: String,
    client_secret: String,
    /// Register the client for this method only (`client_secret_basic`, `client_secret_post`).
    auth_method: Option<String>,
}

fn bad(message: &str) -> Response {
    Response::text(400, &format!("{message}\n"))
}

fn no_content() -> Response {
    Response::new(204)
}

pub fn handle(shared: &Shared, req: &Request) -> Response {
    let method = req.method.as_str();
    let allowed = match req.path.as_str() {
        "/__admin/health" | "/__admin/counters" => "GET, HEAD",
        "/__admin/faults" => "GET, HEAD, POST",
        "/__admin/reset"
        | "/__admin/revoke"
        | "/__admin/revoke_refresh"
        | "/__admin/config"
        | "/__admin/clients"
        | "/__admin/access_keys" => "POST",
        _ => return Response::text(404, "unknown admin endpoint\n"),
    };
    let get = method == "GET" || method == "HEAD";
    match (req.path.as_str(), get, method == "POST") {
        ("/__admin/health", true, _) => Response::text(200, "ok"),
        ("/__admin/counters", true, _) => Response::json(200, &json!(shared.counters())),
        ("/__admin/faults", true, _) => Response::json(200, &json!(shared.pending_faults())),
        ("/__admin/faults", _, true) => match parse_faults(&req.body) {
            Ok(faults) => {
                faults.into_iter().for_each(|f| shared.inject(f));
                no_content()
            }
            Err(message) => bad(&message),
        },
        ("/__admin/reset", _, true) => {
            shared.reset();
            no_content()
        }
        ("/__admin/revoke", _, true) => {
            shared.revoke_all();
            no_content()
        }
        ("/__admin/revoke_refresh", _, true) => {
            shared.revoke_refresh_tokens();
            no_content()
        }
        ("/__admin/access_keys", _, true) => {
            match serde_json::from_slice::<AccessKeyBody>(&req.body) {
                Ok(k) => {
                    shared.add_access_key(&k.access_key_id, &k.access_key_secret);
                    no_content()
                }
                // The serde message could quote the secret: keep it generic.
                Err(_) => bad("invalid access key JSON: expected {\"access_key_id\": string, \"access_key_secret\": string}"),
            }
        }
        ("/__admin/config", _, true) => match serde_json::from_slice::<ConfigBody>(&req.body) {
            Ok(c) => {
                if let Some(l) = c.token_lifetime_s {
                    shared.set_lifetime(l);
                }
                if let Some(ms) = c.keep_alive_idle_ms {
                    shared.set_keep_alive_idle_ms(ms);
                }
                let scope = match c.rate_limit_scope.as_deref().map(RateLimitScope::parse) {
                    Some(None) => return bad("rate_limit_scope must be token or client"),
                    Some(s) => s,
                    None => None,
                };
                if c.rate_limit.is_some() || c.rate_limit_window_ms.is_some() || scope.is_some() {
                    shared.set_rate_limit(
                        c.rate_limit,
                        c.rate_limit_window_ms.map(std::time::Duration::from_millis),
                        scope,
                    );
                }
                if let Some(ms) = c.token_idle_timeout_ms {
                    shared.set_token_idle_timeout_ms(ms);
                }
                if let Some(ms) = c.token_outage_ms {
                    shared.set_token_outage(std::time::Duration::from_millis(ms));
                }
                if let Some(p) = &c.token_prefix {
                    if !p
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        return bad("token_prefix must be URL-safe (A-Z a-z 0-9 - _)");
                    }
                    shared.set_token_prefix(p);
                }
                no_content()
            }
            Err(e) => bad(&format!("invalid config JSON: {e}")),
        },
        ("/__admin/clients", _, true) => match serde_json::from_slice::<ClientBody>(&req.body) {
            Ok(c) => {
                shared.add_client(&c.client_id, &c.client_secret);
                match c.auth_method.as_deref() {
                    None => {}
                    Some(m @ ("client_secret_basic" | "client_secret_post")) => {
                        shared.set_client_auth_method(&c.client_id, m)
                    }
                    Some(_) => {
                        return bad("auth_method must be client_secret_basic or client_secret_post")
                    }
                }
                no_content()
            }
            // The serde message could quote the secret: keep it generic.
            Err(_) => bad(
                "invalid client JSON: expected {\"client_id\": string, \"client_secret\": string}",
            ),
        },
        _ => Response::text(405, "method not allowed\n").header("Allow", allowed),
    }
}

/// One fault object or an array of them; all are validated before any is injected.
fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid fault JSON: {e}"))?;
    let faults = if value.is_array() {
        serde_json::from_value::<Vec<Fault>>(value)
    } else {
        serde_json::from_value::<Fault>(value).map(|f| vec![f])
    }
    .map_err(|e| format!("invalid fault: {e}"))?;
    for f in &faults {
        validate(f)?;
    }
    Ok(faults)
}

fn validate(f: &Fault) -> Result<(), String> {
    let status = match &f.action {
        Action::Status { status, .. } | Action::TokenReply { status, .. } => Some(*status),
        _ => None,
    };
    match status {
        Some(s) if !(200..=599).contains(&s) => {
            Err(format!("invalid fault: status {s} outside 200..=599"))
        }
        _ => Ok(()),
    }
}
