//! The simulated NICE CXone services: OpenID discovery, the access-key (password) and
//! refresh-token grants on `/auth/token`, tenant discovery (`cxone-configuration`) and a small
//! authenticated API under `/cxone/`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::http::{Request, Response};
use crate::state::{ClientCheck, Shared};
use crate::token::decode_basic;
use crate::util::{form_param, parse_form};

/// A CXone-style OAuth error body.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
    .header("Cache-Control", "no-store")
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    let q = req.query.as_deref()?;
    parse_form(q.as_bytes())
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// `/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server`,
/// `/.well-known/cxone-configuration?tenantId=...`.
pub fn well_known(shared: &Shared, req: &Request) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "method not allowed\n").header("Allow", "GET, HEAD");
    }
    let base = shared.base_url();
    match req.path.as_str() {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
            Response::json(
                200,
                &json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/auth/authorize"),
                    "token_endpoint": format!("{base}/auth/token"),
                    "jwks_uri": format!("{base}/auth/jwks"),
                    "response_types_supported": ["code", "id_token", "token id_token"],
                    "grant_types_supported":
                        ["password", "refresh_token", "client_credentials", "authorization_code"],
                    "token_endpoint_auth_methods_supported":
                        ["client_secret_basic", "client_secret_post"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "scopes_supported": ["openid"],
                }),
            )
        }
        "/.well-known/cxone-configuration" => match query_param(req, "tenantId") {
            None => oauth_error(400, "invalid_request", "tenantId is required"),
            Some(t) if t == shared.tenant_id() => Response::json(
                200,
                &json!({
                    "tenantId": t,
                    "area": "na1",
                    "cluster": "sim1",
                    "api_endpoint": format!("{base}/cxone"),
                    "ui_endpoint": format!("{base}/ui"),
                    "auth_endpoint": base,
                }),
            ),
            Some(_) => oauth_error(404, "tenant_not_found", "no such tenant"),
        },
        _ => Response::text(404, "not found\n"),
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A JWT-shaped token (the signature is random: nobody verifies it here).
fn jwt(shared: &Shared, subject: &str, lifetime: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut sig = [0u8; 32];
    fastrand::fill(&mut sig);
    format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT", "kid": "cxoauth-sim"})),
        b64(&json!({
            "iss": shared.base_url(),
            "sub": subject,
            "aud": "cxone",
            "tenantId": shared.tenant_id(),
            "iat": now,
            "exp": now.saturating_add(lifetime),
            "jti": crate::util::uuid_v4(),
        })),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// `POST /auth/token`: client authentication by Basic header or form body (as the discovery
/// document advertises; a client registered for one method gets `invalid_client` with the
/// other); password grant with an access key, the refresh-token grant (rotating), or client
/// credentials.
pub fn token(shared: &Shared, req: &Request) -> Response {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "method not allowed").header("Allow", "POST");
    }
    let params = parse_form(&req.body);
    let param = |name: &str| form_param(&params, name);
    let basic = req
        .header("authorization")
        .and_then(|v| {
            v.trim()
                .strip_prefix("Basic ")
                .or(v.trim().strip_prefix("basic "))
        })
        .and_then(decode_basic);
    let body_auth = param("client_id").is_some() || param("client_secret").is_some();
    let (client_id, secret, method) = match (basic, body_auth) {
        (Some(_), true) => {
            return oauth_error(
                400,
                "invalid_request",
                "multiple client authentication methods",
            )
        }
        (Some((id, secret)), false) => (id, secret, "client_secret_basic"),
        (None, true) => (
            param("client_id").unwrap_or_default().to_string(),
            param("client_secret").unwrap_or_default().to_string(),
            "client_secret_post",
        ),
        (None, false) => {
            return oauth_error(401, "invalid_client", "client authentication required")
                .header("WWW-Authenticate", "Basic realm=\"cxoauth-sim\"")
        }
    };
    if shared.check_client(&client_id, &secret) != ClientCheck::Ok
        || !shared.auth_method_allowed(&client_id, method)
    {
        return oauth_error(401, "invalid_client", "client authentication failed");
    }
    let key_id = match param("grant_type") {
        Some("password") => {
            shared.count_grant(false);
            let (Some(user), Some(pass)) = (param("username"), param("password")) else {
                return oauth_error(400, "invalid_request", "username and password are required");
            };
            if !shared.check_access_key(user, pass) {
                return oauth_error(400, "invalid_grant", "Invalid access key");
            }
            user.to_string()
        }
        Some("refresh_token") => {
            shared.count_grant(true);
            match param("refresh_token").and_then(|rt| shared.take_refresh_token(rt, &client_id)) {
                Some(key) => key,
                None => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
            }
        }
        Some("client_credentials") => {
            // No refresh token for this grant (RFC 6749 section 4.4.3).
            let access = jwt(
                shared,
                &format!("client:{client_id}"),
                shared.cxone_lifetime(),
            );
            let (_, lifetime) = shared.issue_cxone(&access, &client_id, "");
            shared.revoke_refresh_for_key("");
            return Response::json(
                200,
                &json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime}),
            )
            .header("Cache-Control", "no-store");
        }
        Some(_) => return oauth_error(400, "unsupported_grant_type", "grant type not supported"),
        None => return oauth_error(400, "invalid_request", "missing grant_type"),
    };
    let subject = format!("user:{key_id}");
    let lifetime = shared.cxone_lifetime();
    let access = jwt(shared, &subject, lifetime);
    let (refresh, lifetime) = shared.issue_cxone(&access, &client_id, &key_id);
    Response::json(
        200,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
            "id_token": jwt(shared, &subject, lifetime),
        }),
    )
    .header("Cache-Control", "no-store")
}

/// `/cxone/...`: bearer-protected; an agents list and an echo.
pub fn api(shared: &Shared, req: &Request) -> Response {
    let valid = crate::api::bearer_token(req).and_then(|t| shared.token_client(t));
    if valid.is_none() {
        return oauth_error(
            401,
            "invalid_token",
            "The access token is invalid or has expired",
        )
        .header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    }
    if req.path == "/cxone/incontactapi/services/v31.0/agents" && req.method == "GET" {
        return Response::json(
            200,
            &json!({
                "totalRecords": 1,
                "agents": [{"agentId": 1, "firstName": "Sim", "lastName": "Agent", "isActive": true}],
            }),
        );
    }
    crate::api::echo(req)
}

/// `POST /authentication/v1/token/access-key`: the legacy CXone access-key grant for tenants
/// without a registered back-end application. JSON `{"accessKeyId","accessKeySecret"}`, no
/// client authentication; the reply carries a JWT with `tenantId` and no refresh token that
/// the client would need (renewal repeats this request).
pub fn access_key_token(shared: &Shared, req: &Request) -> Response {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "method not allowed").header("Allow", "POST");
    }
    if !req
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
    {
        return oauth_error(
            415,
            "invalid_request",
            "Content-Type must be application/json",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return oauth_error(400, "invalid_request", "body is not JSON");
    };
    let (Some(id), Some(secret)) = (
        body.get("accessKeyId").and_then(Value::as_str),
        body.get("accessKeySecret").and_then(Value::as_str),
    ) else {
        return oauth_error(
            400,
            "invalid_request",
            "accessKeyId and accessKeySecret are required",
        );
    };
    shared.count_grant(false);
    if !shared.check_access_key(id, secret) {
        return oauth_error(401, "invalid_grant", "Invalid access key");
    }
    let subject = format!("user:{id}");
    let lifetime = shared.cxone_lifetime();
    let access = jwt(shared, &subject, lifetime);
    let (_, lifetime) = shared.issue_cxone(&access, "", id);
    Response::json(
        200,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "id_token": jwt(shared, &subject, lifetime),
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }),
    )
    .header("Cache-Control", "no-store")
}
