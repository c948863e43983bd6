//! `POST /attest/{type}` and `GET /attest/{type}`: decode → engine →
//! encode. Everything that depends on the TEE lives in [`crate::engine`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use serde_json::Value;

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;

pub(crate) fn path_param(params: &RawPathParams, name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `POST /attest/{type}`.
pub async fn attest(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    crate::metrics::note_provider(ctx.name());
    let raw_type = path_param(&params, "attestation_type").unwrap_or_default();
    crate::engine::attest(state, ctx, &raw_type, &body)
        .await
        .map(Json)
}

/// `GET /attest/{type}` (only `Tpm:challenge`).
pub async fn challenge(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
) -> Result<Json<Value>, ApiError> {
    crate::metrics::note_provider(ctx.name());
    let raw_type = path_param(&params, "attestation_type").unwrap_or_default();
    crate::engine::challenge(&state, &ctx, &raw_type).map(Json)
}
