//! `/admin/collateral`: import DCAP bundles and SEV-SNP endorsements,
//! list, show and delete cached collateral.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Event, op};
use crate::auth::require_admin;
use crate::error::ApiError;
use crate::state::AppState;
use attesta_evidence::UnixTime;

/// The caller of every admin route: the admin token is the only credential.
use super::ADMIN;

/// `POST /admin/collateral`: import one DCAP collateral bundle (the JSON of
/// `attesta_collateral::serialize`), as `attesta collateral import` sends it.
/// Nothing in it is trusted: verifiers check every signature when it is used.
pub(super) async fn import_collateral(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let mut event = Event::new(op::IMPORT_COLLATERAL, ADMIN.into(), "");
    event.detail("kind", "dcap");
    let result = import_collateral_checked(&state, &body, &mut event).await;
    audit::finish(&state, event, result).await
}

pub(super) async fn import_collateral_checked(
    state: &AppState,
    body: &[u8],
    event: &mut Event,
) -> Result<Json<Value>, ApiError> {
    let collateral = attesta_collateral::deserialize(body)
        .map_err(|e| ApiError::invalid_parameter(format!("not a collateral bundle: {e}")))?;
    let (tee, fmspc) = attesta_collateral::fmspc_of(&collateral)
        .map_err(|e| ApiError::invalid_parameter(e.to_string()).with_inner(e.code()))?;
    event.target = format!("{}:{fmspc}", format!("{tee:?}").to_lowercase());
    let imported = state
        .collateral
        .import(collateral, UnixTime::now().0 as i64)
        .await
        .map_err(|e| ApiError::invalid_parameter(e.to_string()).with_inner(e.code()))?;
    let next_update = imported.fetched.next_update;
    tracing::info!(key = %imported.key, fmspc = %imported.fmspc, next_update, "collateral imported");
    event.detail("version", hex::encode(imported.fetched.version));
    event.detail("id", attesta_collateral::entry_id(&imported.key));
    if let Some(old) = imported.replaced_next_update {
        event.detail("replaced_next_update", old);
    }
    let mut out = json!({
        "id": attesta_collateral::entry_id(&imported.key),
        "tee": format!("{:?}", imported.tee).to_lowercase(),
        "fmspc": imported.fmspc,
        "pckCa": imported.ca.as_str(),
        "root": {
            "sha256": hex::encode(imported.root.fingerprint),
            "subject": imported.root.subject,
        },
        "next_update": next_update,
        "nextUpdate": attesta_evidence::types::rfc3339(next_update),
        "version": hex::encode(imported.fetched.version),
        "replaced": imported.replaced_next_update.is_some(),
    });
    if let Some(old) = imported.replaced_next_update
        && old > next_update
    {
        out["warning"] = json!(format!(
            "the imported collateral (nextUpdate {}) is older than the entry it replaced (nextUpdate {}); it is used until the next refresh",
            attesta_evidence::types::rfc3339(next_update),
            attesta_evidence::types::rfc3339(old)
        ));
    }
    Ok(Json(out))
}

/// The store namespace the collateral caches share.
const COLLATERAL_NAMESPACE: &str = "collateral";

/// Most entries one list page returns.
const MAX_LIST_PAGE: usize = 1000;

/// `?after=ID&limit=N` on `GET /admin/collateral`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
}

fn no_entry(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no cached collateral has the id '{}'; list the ids with GET /admin/collateral or `attesta collateral list`",
        id.chars().take(80).collect::<String>()
    ))
}

fn key_of(id: &str) -> Result<String, ApiError> {
    attesta_collateral::key_of_id(id).ok_or_else(|| no_entry(id))
}

/// `GET /admin/collateral`: one page of the cached collateral (DCAP sets,
/// SEV-SNP endorsements), ordered by id, with dates in RFC 3339. `next` is
/// the `after` of the following page, `null` on the last.
pub(super) async fn list_collateral(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::invalid_parameter(format!("query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > MAX_LIST_PAGE {
        return Err(ApiError::invalid_parameter(format!(
            "limit must be between 1 and {MAX_LIST_PAGE}"
        )));
    }
    let after = match &q.after {
        Some(id) => Some(attesta_collateral::key_of_id(id).ok_or_else(|| {
            ApiError::invalid_parameter("after must be an id from an earlier page")
        })?),
        None => None,
    };
    let page = state
        .store
        .cache_list(COLLATERAL_NAMESPACE, after.as_deref(), limit)
        .await
        .map_err(ApiError::internal)?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|(k, _)| attesta_collateral::entry_id(k)))
        .flatten();
    let entries: Vec<Value> = page
        .iter()
        .map(|(key, e)| attesta_collateral::describe(key, &e.value, e.fetched_at, false))
        .collect();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

/// `GET /admin/collateral/{id}`: one entry with its details (TCB levels, QE
/// identity, CRLs, the raw documents).
pub(super) async fn show_collateral(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let key = key_of(&id)?;
    let entry = state
        .store
        .cache_get(COLLATERAL_NAMESPACE, &key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| no_entry(&id))?;
    Ok(Json(attesta_collateral::describe(
        &key,
        &entry.value,
        entry.fetched_at,
        true,
    )))
}

/// `DELETE /admin/collateral/{id}`: removes the entry from the shared cache
/// and from this node's memory. The next attestation that needs it fetches
/// it again, or fails as without it (`NoOfflineBundle` when no collateral
/// service is configured). Other nodes drop their in-memory copy when they
/// next refresh it. Recorded in the audit log.
pub(super) async fn delete_collateral(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&state, &headers)?;
    let event = Event::new(op::DELETE_COLLATERAL, ADMIN.into(), "").target(id.as_str());
    let result = delete_collateral_checked(&state, &id).await;
    audit::finish(&state, event, result).await
}

pub(super) async fn delete_collateral_checked(
    state: &AppState,
    id: &str,
) -> Result<StatusCode, ApiError> {
    let key = key_of(id)?;
    let deleted = state
        .store
        .cache_delete(COLLATERAL_NAMESPACE, &key)
        .await
        .map_err(ApiError::internal)?;
    state.collateral.forget(&key);
    state.snp_endorsements.forget(&key);
    if !deleted {
        return Err(no_entry(id));
    }
    tracing::info!(id = %id, "cached collateral deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The longest file name accepted in an endorsement import (`NAME_MAX`).
const MAX_FILE_NAME: usize = 255;

/// `name` as a file name inside the import directory: one path component,
/// no control characters (NUL among them), not hidden, at most
/// [`MAX_FILE_NAME`] bytes. Anything else is the client's error (400), not
/// a file-system failure.
fn plain_file_name(name: &str) -> Result<&std::path::Path, ApiError> {
    let plain = !name.is_empty()
        && name.len() <= MAX_FILE_NAME
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\');
    let path = std::path::Path::new(name);
    if plain && path.file_name().is_some_and(|n| n == name) {
        Ok(path)
    } else {
        Err(ApiError::invalid_parameter(format!(
            "'{}' is not a plain file name: use at most {MAX_FILE_NAME} bytes, no path separator or control character, not starting with '.'",
            name.chars().take(64).collect::<String>().escape_debug()
        )))
    }
}

/// `POST /admin/collateral/snp`: import SEV-SNP endorsements (VCEK/VLEK,
/// ASK/ASVK, ARK; DER or PEM) as `{"files": {"name": base64, …}}`, the
/// files of a directory as `attesta collateral import` sends them. Nothing in
/// them is trusted: the verifier checks every signature when they are used.
pub(super) async fn import_snp(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let mut event = Event::new(op::IMPORT_COLLATERAL, ADMIN.into(), "").target("snp");
    event.detail("kind", "snp");
    let result = import_snp_checked(&state, &body, &mut event).await;
    audit::finish(&state, event, result).await
}

pub(super) async fn import_snp_checked(
    state: &AppState,
    body: &Value,
    event: &mut Event,
) -> Result<Json<Value>, ApiError> {
    let files = body
        .get("files")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::invalid_parameter("the body needs a 'files' object of name -> base64 content")
        })?;
    let dir = std::env::temp_dir().join(format!("attesta-snp-import-{}", crate::tokens::jti()));
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let result = async {
        for (name, content) in files {
            let safe = plain_file_name(name)?;
            let bytes = content
                .as_str()
                .and_then(|c| crate::codec::b64_lenient(c).ok())
                .ok_or_else(|| ApiError::invalid_parameter(format!("'{name}' is not base64")))?;
            std::fs::write(dir.join(safe), bytes).map_err(ApiError::internal)?;
        }
        state
            .snp_endorsements
            .import_dir(&dir, UnixTime::now().0 as i64)
            .await
            .map_err(|e| ApiError::invalid_parameter(e.to_string()).with_inner(e.code()))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let keys = result?;
    tracing::info!(count = keys.len(), "SEV-SNP endorsements imported");
    event.detail("imported", keys.len());
    Ok(Json(json!({ "imported": keys })))
}
