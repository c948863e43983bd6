//! Anonymous metadata routes: OpenID configuration, the JWKS at `/certs`,
//! and `/servicehealth`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;

/// `GET /.well-known/openid-configuration`.
pub async fn openid(ctx: ProviderCtx) -> Response {
    Json(attesta_token::jwks::openid_metadata(&ctx.base_url)).into_response()
}

/// `GET /certs`: the provider's published signing keys (active and within
/// overlap), this node's and every other live node's. Each provider
/// publishes only its own keys.
pub async fn certs(State(state): State<AppState>, ctx: ProviderCtx) -> Result<Response, ApiError> {
    let jwks = state
        .signing
        .certs(
            state.store.as_ref(),
            ctx.name(),
            &state.canonical_base(ctx.name()),
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(jwks).into_response())
}

/// `GET /servicehealth`: 204 when the store answers, 503 otherwise.
pub async fn health(
    State(state): State<AppState>,
    ctx: ProviderCtx,
) -> Result<StatusCode, ApiError> {
    match state.store.get_provider(ctx.name()).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unavailable");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the store is not answering",
            ))
        }
    }
}
