//! The router: MAA routes (at the root and under `/providers/{provider}`),
//! admin routes, `/openapi.json` (the document describing them all; see
//! [`openapi`]), and the layers every request passes through.
//!
//! Layers, outermost first: `Connection: close` when an HTTP/1 answer
//! leaves the request body unread ([`crate::unread_body`]), request id
//! (`x-ms-request-id` taken or made, and echoed on every response;
//! [`crate::metrics::request_id`]), panic catcher (a panic becomes a 500 MAA
//! body, no stack trace), tracing, the attest observer (metrics and one
//! `attestation` event per attest request; [`crate::metrics::observe_attest`]),
//! the error-body rewriter that turns any plain error response produced by a
//! layer, an extractor or by routing (400, 404, 405, 408, 413, 415; an
//! extractor's 422 becomes 400) into MAA's `{"error":{"code","message"}}`,
//! keeping an extractor's explanation, throttling and load shedding (429,
//! 503; [`crate::throttle`]), header checks (one host, declared body size:
//! 400, 413; [`crate::hygiene`]), request timeout (408), body-size limit
//! (413).

pub mod admin;
pub mod attest;
pub mod certificates;
pub mod console;
pub mod health;
pub mod metadata;
pub mod openapi;
pub mod policy;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, code_for_status, message_for_status};
use crate::state::AppState;

/// Every api-version the MAA REST API has published (reference §1.2).
pub const API_VERSIONS: &[&str] = &[
    "2018-09-01-preview",
    "2020-10-01",
    "2022-08-01",
    "2022-09-01-preview",
    "2023-04-01-preview",
    "2025-06-01",
    "2026-03-11-preview",
];

/// The MAA data- and control-plane routes of one provider.
fn maa_routes(state: &AppState) -> Router<AppState> {
    // Routes whose swagger declares api-version required.
    let versioned = Router::new()
        .route(
            "/attest/{attestation_type}",
            post(attest::attest).get(attest::challenge),
        )
        .route(
            "/policies/{attestation_type}",
            get(policy::get_policy)
                .put(policy::set_policy)
                .post(policy::reset_policy),
        )
        .route("/certificates", get(certificates::list))
        .route("/certificates:add", post(certificates::add))
        .route("/certificates:remove", post(certificates::remove))
        .route_layer(middleware::from_fn(require_api_version));
    // Anonymous metadata: Microsoft's clients send no api-version here.
    let unversioned = Router::new()
        .route("/.well-known/openid-configuration", get(metadata::openid))
        .route("/certs", get(metadata::certs))
        .route("/servicehealth", get(metadata::health))
        .route_layer(middleware::from_fn(check_optional_api_version));
    let _ = state;
    versioned.merge(unversioned)
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let maa = maa_routes(&state);
    Router::new()
        .merge(maa.clone())
        .nest("/providers/{provider}", maa)
        .merge(admin::routes())
        .merge(console::routes())
        .merge(health::routes())
        .route("/openapi.json", get(openapi::serve))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::hygiene::check_request,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::throttle::throttle,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            maa_error_bodies,
        ))
        .layer(middleware::from_fn(crate::metrics::observe_attest))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::forwarded::resolve_client,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a request handler panicked").into_response()
        }))
        .layer(middleware::from_fn(crate::metrics::request_id))
        .layer(middleware::from_fn(crate::unread_body::close_if_unread))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see the MAA REST API for the supported paths")
}

fn api_version(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k.eq_ignore_ascii_case("api-version").then(|| v.to_string())
    })
}

fn check_version(v: &str) -> Result<(), ApiError> {
    if API_VERSIONS.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!(
                "api-version '{v}' is not supported; use one of {}",
                API_VERSIONS.join(", ")
            ),
        ))
    }
}

async fn require_api_version(req: Request, next: Next) -> Response {
    match api_version(&req) {
        None => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            format!(
                "the api-version query parameter is required, e.g. ?api-version=2022-08-01; supported: {}",
                API_VERSIONS.join(", ")
            ),
        )
        .into_response(),
        Some(v) => match check_version(&v) {
            Ok(()) => next.run(req).await,
            Err(e) => e.into_response(),
        },
    }
}

async fn check_optional_api_version(req: Request, next: Next) -> Response {
    match api_version(&req).map(|v| check_version(&v)) {
        Some(Err(e)) => e.into_response(),
        _ => next.run(req).await,
    }
}

/// The longest plain-text explanation of an extractor's rejection that is
/// carried into the MAA error body.
const MAX_REJECTION_TEXT: usize = 1024;

/// Rewrite error responses that did not come from our handlers (their bodies
/// are not JSON) into MAA's error body. A rejection by one of axum's
/// extractors (a JSON body of the wrong shape, a bad query string or path
/// segment) keeps its explanation as the message, and its 422 becomes 400
/// `InvalidParameter`, the status MAA gives every malformed request.
async fn maa_error_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let explained = matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let (parts, body) = resp.into_parts();
    let text = if explained {
        axum::body::to_bytes(body, MAX_REJECTION_TEXT)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    } else {
        None
    };
    let mut rewritten = ApiError::new(
        status,
        code_for_status(status),
        text.unwrap_or_else(|| message_for_status(status, state.config.max_body_bytes)),
    )
    .into_response();
    // A 405 names the methods the route has (RFC 9110 §15.5.6).
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}
