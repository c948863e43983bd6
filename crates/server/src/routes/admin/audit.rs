//! `GET /admin/audit` and `GET /admin/audit/checkpoints`: the audit log
//! and its signed checkpoints, paged.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::require_admin;
use crate::error::ApiError;
use crate::state::AppState;

/// `?after=SEQ&limit=N` on the audit routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_audit_limit")]
    limit: u32,
}

fn default_audit_limit() -> u32 {
    100
}

fn audit_query(
    q: Result<axum::extract::Query<AuditQuery>, QueryRejection>,
) -> Result<AuditQuery, ApiError> {
    let axum::extract::Query(q) = q.map_err(|e| {
        ApiError::invalid_parameter(format!(
            "the query takes after (a record number, default 0) and limit (1-{}, default 100): {e}",
            attesta_store::audit::MAX_PAGE
        ))
    })?;
    if q.after < 0 || !(1..=attesta_store::audit::MAX_PAGE).contains(&q.limit) {
        return Err(ApiError::invalid_parameter(format!(
            "after must be 0 or more and limit between 1 and {}",
            attesta_store::audit::MAX_PAGE
        )));
    }
    Ok(q)
}

/// `GET /admin/audit?after=SEQ&limit=N`: records with `seq > after`, oldest
/// first; `next` is the `after` of the next page, `null` after the last.
pub(super) async fn audit_records(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<axum::extract::Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let q = audit_query(q)?;
    let records = state
        .store
        .list_audit(q.after, q.limit)
        .await
        .map_err(ApiError::internal)?;
    let next = (records.len() == q.limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(json!({ "records": records, "next": next })))
}

/// `GET /admin/audit/checkpoints?after=SEQ&limit=N`: signed checkpoints
/// with `seq > after`, oldest first, paged like the records.
pub(super) async fn audit_checkpoints(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<axum::extract::Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let q = audit_query(q)?;
    let checkpoints = state
        .store
        .list_audit_checkpoints(q.after, q.limit)
        .await
        .map_err(ApiError::internal)?;
    let next = (checkpoints.len() == q.limit as usize)
        .then(|| checkpoints.last().map(|c| c.seq))
        .flatten();
    Ok(Json(json!({ "checkpoints": checkpoints, "next": next })))
}
