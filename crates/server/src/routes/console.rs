//! The web console and the three admin routes only it needs.
//!
//! The console is a static page built into the binary (HTML, CSS and one
//! script under `crates/server/assets/console/`, no CDN, no build step),
//! served anonymously at `GET /console` with `/console/app.js` and
//! `/console/app.css` (and its icon, `/console/favicon.svg`). It holds no data: it asks for the admin token, keeps
//! it in the tab's `sessionStorage`, and reads and writes everything through
//! the authenticated admin and control-plane API. Its Content-Security-Policy
//! allows scripts, styles and requests from this origin only (no inline
//! script or style, no framing).
//!
//! Admin routes (admin token):
//! - `POST /admin/policies:check` `{"policy": TEXT}`: compiles the text as
//!   a policy is compiled when it is set; answers 200 with `valid` and, when
//!   it does not compile, the error with its 1-based `line` and `column`.
//! - `POST /admin/policies:dryrun` `{"policy": TEXT, "claims": {TYPE: VALUE}
//!   | [{"type","value","issuer"?}]}`: evaluates the policy over the given
//!   incoming claims (as `attesta policy eval` does) and answers
//!   `{"permit", "claims", "properties", "reason"?}`; nothing is signed or
//!   stored. A policy that does not compile is 400 `PolicyParsingError`.
//! - `POST /admin/tokens:inspect` `{"token": JWT}`: the token's header and
//!   claims, and whether its signature verifies with a key this server
//!   publishes (which provider, which `kid`), with its time validity.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::require_admin;
use crate::error::ApiError;
use crate::state::AppState;
use attesta_evidence::UnixTime;
use attesta_token::error::TokenError;
use attesta_token::jwt::{VerifyOptions, decode_unverified, verify_jwt};

const INDEX_HTML: &str = include_str!("../../assets/console/index.html");
const APP_JS: &str = include_str!("../../assets/console/app.js");
const APP_CSS: &str = include_str!("../../assets/console/app.css");
const FAVICON_SVG: &str = include_str!("../../assets/console/favicon.svg");

/// Scripts, styles and API calls from this origin only; no inline code, no
/// plugins, no framing, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The pool key under which console compilations and dry runs are
/// accounted (a colon never appears in a provider name).
const POOL_KEY: &str = "admin:console";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/app.js", get(script))
        .route("/console/app.css", get(style))
        .route("/console/favicon.svg", get(icon))
        .route("/admin/policies:check", post(check))
        .route("/admin/policies:dryrun", post(dry_run))
        .route("/admin/tokens:inspect", post(inspect))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn icon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

/// A JSON request body of type `T`, with a 400 that says what is expected.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes, expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_parameter(format!("the body must be a JSON object {expected}: {e}"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    policy: String,
}

/// A policy crate error as the console shows it.
fn error_view(e: &attesta_policy::PolicyError) -> Value {
    json!({
        "code": e.code,
        "message": e.message,
        "line": e.line,
        "column": e.column,
    })
}

/// A policy error as a 400 with the policy crate's code
/// (`PolicyParsingError`, `PolicyEvaluationError`) and `line:column: ` in
/// front of the message when the error has a position.
fn policy_error(e: attesta_policy::PolicyError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, e.code, e.to_string())
}

/// `POST /admin/policies:check`.
async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let req: CheckRequest = parse_body(&body, r#"{"policy": "<policy text>"}"#)?;
    let outcome = state
        .policy_pool
        .run(POOL_KEY, "check", move || {
            Ok(attesta_policy::check(&req.policy))
        })
        .await?;
    Ok(Json(match outcome {
        Ok(p) => json!({
            "valid": true,
            "language": match p.language() {
                attesta_policy::PolicyLanguage::Maa => "maa",
                attesta_policy::PolicyLanguage::Rego => "rego",
            },
            "version": p.version(),
        }),
        Err(e) => json!({ "valid": false, "error": error_view(&e) }),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DryRunRequest {
    policy: String,
    claims: Value,
}

/// `POST /admin/policies:dryrun`.
async fn dry_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let req: DryRunRequest = parse_body(
        &body,
        r#"{"policy": "<policy text>", "claims": {"<type>": <value>, ...} or [{"type", "value", "issuer"?}, ...]}"#,
    )?;
    let result = state
        .policy_pool
        .run(POOL_KEY, "dry run", move || {
            let policy = attesta_policy::check(&req.policy).map_err(policy_error)?;
            attesta_policy::eval_json(&policy, &req.claims).map_err(policy_error)
        })
        .await?;
    Ok(Json(result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectRequest {
    token: String,
}

/// `POST /admin/tokens:inspect`.
async fn inspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let req: InspectRequest = parse_body(&body, r#"{"token": "<JWT>"}"#)?;
    let token = req.token.trim();
    let (header, claims) = decode_unverified(token).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("{e}; paste the whole token (three dot-separated base64url parts)"),
        )
        .with_inner(e.code())
    })?;
    let signature = signature_status(&state, token, &header).await?;
    Ok(Json(json!({
        "header": header,
        "claims": claims,
        "signature": signature,
    })))
}

/// Which of this server's published keys verifies `token`, if any. The
/// token's own `jku`, `x5c` or `iss` are never trusted: only keys this
/// server publishes at some provider's `/certs` count.
async fn signature_status(
    state: &AppState,
    token: &str,
    header: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let now = UnixTime::now().0;
    let opts = VerifyOptions {
        issuer: None,
        now,
        leeway_secs: 0,
    };
    let providers = state
        .store
        .list_providers()
        .await
        .map_err(ApiError::internal)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let mut last = None;
    for p in &providers {
        let jwks = state
            .signing
            .certs(
                state.store.as_ref(),
                &p.name,
                &state.canonical_base(&p.name),
            )
            .await
            .map_err(ApiError::internal)?;
        // With a kid, only the provider publishing that key is asked.
        if kid.is_some_and(|k| !jwks.keys.iter().any(|j| j.kid.as_deref() == Some(k))) {
            continue;
        }
        let outcome = verify_jwt(token, &jwks, &opts);
        let (valid, time_valid, problem) = match &outcome {
            Ok(_) => (true, true, None),
            // The signature is checked before the times: a time error
            // means the signature verified.
            Err(
                e @ (TokenError::Expired { .. }
                | TokenError::NotYetValid { .. }
                | TokenError::MissingExpiry),
            ) => (true, false, Some(e)),
            Err(e) => (false, false, Some(e)),
        };
        if valid {
            let used_kid = match &outcome {
                Ok(v) => v.kid.clone(),
                Err(_) => kid.map(str::to_string),
            };
            return Ok(json!({
                "valid": true,
                "provider": p.name,
                "kid": used_kid,
                "time_valid": time_valid,
                "code": problem.map(TokenError::code),
                "message": match problem {
                    Some(e) => format!("the signature verifies with provider '{}''s key, but {e}", p.name),
                    None => format!("the signature verifies with provider '{}''s key and the token is within its validity period", p.name),
                },
            }));
        }
        last = problem.cloned();
    }
    let (code, message) = match (last, kid) {
        (Some(e), _) => (e.code(), e.to_string()),
        (None, Some(k)) => (
            TokenError::UnknownKey(k.to_string()).code(),
            format!(
                "no key this server publishes has kid {k:?}: the token was not issued by this server, or by a key rotated out of /certs"
            ),
        ),
        (None, None) => (
            TokenError::BadSignature.code(),
            "the signature verifies with no key this server publishes".to_string(),
        ),
    };
    Ok(json!({
        "valid": false,
        "provider": null,
        "kid": kid,
        "time_valid": false,
        "code": code,
        "message": message,
    }))
}
