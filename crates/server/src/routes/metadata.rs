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

/// `GET /servicehealth`: 204 while this node can attest for the provider
/// (its record is at hand: from the store, or cached while the database is
/// unreachable, as attestation itself is), 503 otherwise.
pub async fn health(
    State(state): State<AppState>,
    ctx: ProviderCtx,
) -> Result<StatusCode, ApiError> {
    match state.provider(ctx.name()).await {
        Ok(Some(_)) => Ok(StatusCode::NO_CONTENT),
        Ok(None) | Err(_) => {
            tracing::warn!(
                provider = ctx.name(),
                "health check: the provider is neither in the store nor cached"
            );
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "this node cannot attest for the provider now: the store is not answering and nothing is cached",
            ))
        }
    }
}
