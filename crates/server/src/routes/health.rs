//! Probes and metrics for load balancers, Kubernetes and Prometheus:
//!
//! - `GET /healthz` (anonymous): 200 `{"status":"ok"}` while the process
//!   serves requests — a liveness probe, it checks nothing else;
//! - `GET /readyz` (anonymous): 200 `{"status":"ready"}` when the node can
//!   attest (the store answers, or providers are cached: then
//!   `"degraded":["store"]` while the change watcher cannot reach the
//!   store), the default provider's signing key is loaded and no collateral
//!   the node holds is past its `nextUpdate` plus `collateral.max_grace_secs`;
//!   otherwise 503 `{"status":"not_ready","failed":[…]}` naming the checks
//!   that failed (`store`, `signing_key`, `collateral`), nothing more;
//! - `GET /metrics`: Prometheus metrics ([`crate::metrics`]) behind the admin
//!   token, unless `metrics.listen` moves them to a listener of their own
//!   (then the main listener answers 404 here).
//!
//! MAA's `/servicehealth` stays in [`super::metadata`].

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::require_admin;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The readiness checks that fail now (empty: ready).
pub async fn readiness_failures(state: &AppState) -> Vec<&'static str> {
    let mut failed = Vec::new();
    let default = &state.config.default_provider.name;
    // Ready while the node can attest: the store answers, or it does not
    // but the node has providers cached (attestation goes on from caches;
    // `degraded` says so, from the change watcher's last contact). A node
    // with providers cached does not ask the store here: during an outage
    // every probe would wait the store's operation timeout, longer than a
    // load balancer's probe timeout, and the whole fleet would be taken out
    // of service while it can still attest; and an anonymous probe must
    // not cost a database round trip. A node started during an outage has
    // nothing cached and is not ready.
    if !state.has_cached_providers()
        && let Err(e) = state.store.get_provider(default).await
    {
        tracing::warn!(error = %e, "readiness: the store is not answering and nothing is cached");
        failed.push("store");
    }
    let subject = state.canonical_base(default);
    if let Err(e) = state.signing.active(default, &subject) {
        tracing::warn!(error = %e, "readiness: no signing key");
        failed.push("signing_key");
    }
    let now = attesta_evidence::UnixTime::now().0 as i64;
    let grace = i64::try_from(state.config.collateral.max_grace_secs).unwrap_or(i64::MAX);
    let expired: Vec<String> = state
        .collateral
        .held()
        .into_iter()
        .filter(|(_, next)| next.saturating_add(grace) <= now)
        .map(|(k, _)| k)
        .collect();
    if !expired.is_empty() {
        tracing::warn!(?expired, "readiness: collateral past nextUpdate and grace");
        failed.push("collateral");
    }
    failed
}

async fn readyz(State(state): State<AppState>) -> Response {
    let failed = readiness_failures(&state).await;
    if failed.is_empty() && !state.store_reachable() {
        Json(json!({"status": "ready", "degraded": ["store"]})).into_response()
    } else if failed.is_empty() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "failed": failed})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if state.config.metrics.listen.is_some() {
        return Err(ApiError::not_found(
            "metrics are served on the metrics listener (metrics.listen)",
        ));
    }
    require_admin(&state, &headers)?;
    Ok(crate::metrics::response(&state).await)
}
