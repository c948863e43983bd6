//! The admin API: providers and signing keys. Every route needs the admin
//! token (`Authorization: Bearer <token>`).
//!
//! - `GET /admin/providers` — list
//! - `POST /admin/providers` — create: `{"name", "trust_model": "aad"|"isolated",
//!   "aad_tokens": [..], "policy_certificates": ["<PEM>", ..]}`; an isolated
//!   provider needs at least one policy-management certificate
//! - `GET /admin/providers/{name}`, `DELETE /admin/providers/{name}`,
//!   `PATCH /admin/providers/{name}` (`{"config"?, "aad_tokens"?}`)
//! - `GET /admin/keys`, `POST /admin/keys:rotate`
//! - `POST /admin/collateral` (a DCAP bundle), `POST /admin/collateral/snp`
//!   (SEV-SNP endorsement files)
//! - `GET /admin/audit?after=SEQ&limit=N`, `GET /admin/audit/checkpoints?after=SEQ&limit=N`
//!   (the audit log, see [`crate::audit`]); every change above is recorded there
//! - `GET /admin/collateral` (`?after=ID&limit=N`: a page of cached
//!   collateral), `GET /admin/collateral/{id}`, `DELETE /admin/collateral/{id}`

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Event, op};
use crate::auth::{require_admin, token_hash};
use crate::error::ApiError;
use crate::provider::validate_name;
use crate::provider_config::ProviderConfig;
use crate::routes::certificates::thumbprint;
use crate::state::AppState;
use attesta_evidence::UnixTime;
use attesta_store::{PolicyCertRecord, ProviderRecord, StoreError, TrustModel};

/// The caller of every admin route: the admin token is the only credential.
const ADMIN: &str = "admin";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers", get(list).post(create))
        .route(
            "/admin/providers/{name}",
            get(show).delete(delete).patch(update),
        )
        .route("/admin/keys", get(keys))
        .route("/admin/keys:rotate", post(rotate))
        .route(
            "/admin/collateral",
            get(list_collateral).post(import_collateral),
        )
        .route("/admin/collateral/snp", post(import_snp))
        .route(
            "/admin/collateral/{id}",
            get(show_collateral).delete(delete_collateral),
        )
        .route("/admin/audit", get(audit_records))
        .route("/admin/audit/checkpoints", get(audit_checkpoints))
}

/// `?after=SEQ&limit=N` on the audit routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
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
async fn audit_records(
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
async fn audit_checkpoints(
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

/// What the admin API shows of a provider (never token hashes).
pub(crate) async fn view(state: &AppState, p: &ProviderRecord) -> Result<Value, ApiError> {
    let certs = state
        .store
        .list_policy_certs(&p.name)
        .await
        .map_err(ApiError::internal)?;
    Ok(json!({
        "name": p.name,
        "trust_model": p.trust_model.to_string(),
        "created_at": p.created_at,
        "path": format!("/providers/{}", p.name),
        "control_plane_tokens": p.token_hashes.len(),
        "policy_certificates": certs.iter().map(|c| c.thumbprint.clone()).collect::<Vec<_>>(),
        "default": p.name == state.config.default_provider.name,
        "config": p.config,
    }))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let providers = state
        .store
        .list_providers()
        .await
        .map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for p in &providers {
        out.push(view(&state, p).await?);
    }
    Ok(Json(json!({ "providers": out })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProvider {
    name: String,
    #[serde(default = "default_trust")]
    trust_model: String,
    #[serde(default)]
    aad_tokens: Vec<String>,
    #[serde(default)]
    policy_certificates: Vec<String>,
    /// Verification settings (test roots, collateral grace, pinned time).
    #[serde(default)]
    config: ProviderConfig,
}

fn default_trust() -> String {
    "aad".into()
}

/// DER certificates from PEM text (one or more blocks), each parsed as X.509.
pub(crate) fn certs_from_pem(pem: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    crate::provider_config::pem_to_der(pem)
        .map_err(|e| ApiError::invalid_parameter(format!("a policy_certificates entry: {e}")))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<CreateProvider>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_admin(&state, &headers)?;
    let mut event = Event::new(op::CREATE_PROVIDER, ADMIN.into(), &req.name).target(&req.name);
    event.detail("trust_model", req.trust_model.as_str());
    event.detail("control_plane_tokens", req.aad_tokens.len());
    let result = create_checked(&state, req, &mut event).await;
    audit::finish(&state, event, result).await
}

async fn create_checked(
    state: &AppState,
    req: CreateProvider,
    event: &mut Event,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    validate_name(&req.name).map_err(ApiError::invalid_parameter)?;
    let trust_model: TrustModel = req
        .trust_model
        .parse()
        .map_err(|_| ApiError::invalid_parameter("trust_model must be 'aad' or 'isolated'"))?;
    let now = UnixTime::now().0 as i64;
    let mut certs = Vec::new();
    for pem in &req.policy_certificates {
        for der in certs_from_pem(pem)? {
            certs.push(PolicyCertRecord {
                thumbprint: thumbprint(&der),
                der,
                added_at: now,
            });
        }
    }
    event.detail(
        "policy_certificates",
        certs
            .iter()
            .map(|c| c.thumbprint.clone())
            .collect::<Vec<_>>(),
    );
    if trust_model == TrustModel::Isolated && certs.is_empty() {
        return Err(ApiError::invalid_parameter(
            "an isolated provider needs at least one policy management certificate (policy_certificates)",
        ));
    }
    if req.aad_tokens.iter().any(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid_parameter(
            "aad_tokens may not contain empty tokens",
        ));
    }
    req.config
        .validate()
        .map_err(|e| ApiError::invalid_parameter(format!("config: {e}")))?;
    let record = ProviderRecord {
        name: req.name.clone(),
        trust_model,
        token_hashes: req.aad_tokens.iter().map(|t| token_hash(t)).collect(),
        config: serde_json::to_value(&req.config).map_err(ApiError::internal)?,
        created_at: now,
        version: 0,
        key_epoch: 0,
    };
    match state.store.create_provider(&record, &certs).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("a provider named '{}' already exists", req.name),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    state.invalidate_provider(&record.name);
    // The provider's own signing keys, made now (RSA key generation) rather
    // than on its first attest; keys left by an earlier provider of the same
    // name are discarded so no token of that one verifies for this one.
    let (signing, name, subject) = (
        state.signing.clone(),
        record.name.clone(),
        state.canonical_base(&record.name),
    );
    tokio::task::spawn_blocking(move || {
        signing.remove(&name)?;
        signing.ring(&name, &subject).map(|_| ())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    // Published for the other nodes now; the change watcher retries if
    // this fails.
    if let Err(e) = state
        .signing
        .sync_provider(
            state.store.as_ref(),
            &record.name,
            record.key_epoch,
            &state.canonical_base(&record.name),
        )
        .await
    {
        tracing::warn!(provider = %record.name, error = %e, "signing certificate not yet published");
    }
    tracing::info!(provider = %record.name, trust_model = %record.trust_model, "provider created");
    Ok((StatusCode::CREATED, Json(view(state, &record).await?)))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let p = state
        .provider(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no attestation provider is named '{name}'")))?;
    Ok(Json(view(&state, &p).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProvider {
    /// Replaces the verification settings when given.
    #[serde(default)]
    config: Option<ProviderConfig>,
    /// Replaces the control-plane tokens when given.
    #[serde(default)]
    aad_tokens: Option<Vec<String>>,
}

/// `PATCH /admin/providers/{name}`: replace a provider's configuration
/// (test roots, collateral grace, pinned time) and/or its control-plane
/// tokens. Trust model and policy-management certificates do not change here.
async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(req): Json<UpdateProvider>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let mut event = Event::new(op::UPDATE_PROVIDER, ADMIN.into(), &name).target(&name);
    let mut changed = Vec::new();
    if req.config.is_some() {
        changed.push("config");
    }
    if let Some(tokens) = &req.aad_tokens {
        changed.push("aad_tokens");
        event.detail("control_plane_tokens", tokens.len());
    }
    event.detail("changed", changed);
    let result = update_checked(&state, name, req).await;
    audit::finish(&state, event, result).await
}

async fn update_checked(
    state: &AppState,
    name: String,
    req: UpdateProvider,
) -> Result<Json<Value>, ApiError> {
    if let Some(config) = &req.config {
        config
            .validate()
            .map_err(|e| ApiError::invalid_parameter(format!("config: {e}")))?;
    }
    if let Some(tokens) = &req.aad_tokens
        && tokens.iter().any(|t| t.trim().is_empty())
    {
        return Err(ApiError::invalid_parameter(
            "aad_tokens may not contain empty tokens",
        ));
    }
    let missing = || ApiError::not_found(format!("no attestation provider is named '{name}'"));
    // Read, modify, compare-and-swap: a concurrent PATCH (on any node) makes
    // this one re-read and re-apply its fields, so neither is lost; a
    // concurrent delete ends in 404.
    let mut attempts: u64 = 0;
    let record = loop {
        let mut record = state
            .store
            .get_provider(&name)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(missing)?;
        if let Some(config) = &req.config {
            record.config = serde_json::to_value(config).map_err(ApiError::internal)?;
        }
        if let Some(tokens) = &req.aad_tokens {
            record.token_hashes = tokens.iter().map(|t| token_hash(t)).collect();
        }
        match state
            .store
            .update_provider_if(&record, record.version)
            .await
        {
            Ok(version) => {
                record.version = version;
                break record;
            }
            Err(StoreError::NotFound(_)) => return Err(missing()),
            // Another writer won the compare-and-swap: read again and
            // retry after a short jittered pause, so many racing writers
            // on several nodes all get through instead of starving.
            Err(StoreError::Conflict(_)) if attempts < 200 => {
                attempts += 1;
                let mut jitter = [0u8; 1];
                let _ = aws_lc_rs::rand::fill(&mut jitter);
                tokio::time::sleep(std::time::Duration::from_millis(
                    1 + u64::from(jitter[0] % 8) * attempts.min(4),
                ))
                .await;
            }
            Err(e) => return Err(ApiError::internal(e)),
        }
    };
    state.invalidate_provider(&name);
    tracing::info!(provider = %name, "provider updated");
    Ok(Json(view(state, &record).await?))
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&state, &headers)?;
    let event = Event::new(op::DELETE_PROVIDER, ADMIN.into(), &name).target(&name);
    let result = delete_checked(&state, &name).await;
    audit::finish(&state, event, result).await
}

async fn delete_checked(state: &AppState, name: &str) -> Result<StatusCode, ApiError> {
    if name == state.config.default_provider.name {
        return Err(ApiError::invalid_operation(
            "the default provider cannot be deleted",
        ));
    }
    let deleted = state
        .store
        .delete_provider(name)
        .await
        .map_err(ApiError::internal)?;
    if !deleted {
        return Err(ApiError::not_found(format!(
            "no attestation provider is named '{name}'"
        )));
    }
    state.invalidate_policies(name);
    state.invalidate_provider(name);
    state.signing.remove(name).map_err(ApiError::internal)?;
    tracing::info!(provider = %name, "provider deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `?provider=NAME` on the key routes.
#[derive(Debug, Deserialize)]
struct KeyQuery {
    provider: Option<String>,
}

/// The providers a key route acts on: the named one (which must exist), or
/// every provider.
async fn key_providers(state: &AppState, q: &KeyQuery) -> Result<Vec<String>, ApiError> {
    match &q.provider {
        Some(name) => {
            validate_name(name).map_err(ApiError::invalid_parameter)?;
            if state
                .store
                .get_provider(name)
                .await
                .map_err(ApiError::internal)?
                .is_none()
            {
                return Err(ApiError::not_found(format!(
                    "no attestation provider is named '{name}'"
                )));
            }
            Ok(vec![name.clone()])
        }
        None => Ok(state
            .store
            .list_providers()
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|p| p.name)
            .collect()),
    }
}

fn key_list(state: &AppState, provider: &str) -> Result<Value, ApiError> {
    let now = UnixTime::now().0;
    let ring = state
        .signing
        .ring(provider, &state.canonical_base(provider))
        .map_err(ApiError::internal)?;
    let ring = ring.read().expect("key ring lock");
    let active = ring.active();
    let published: Vec<Value> = ring
        .published(now)
        .iter()
        .map(|k| json!({ "kid": k.kid(), "active": k.kid() == active.kid() }))
        .collect();
    Ok(json!({
        "provider": provider,
        "node": state.signing.node_id(),
        "active": active.kid(),
        "published": published,
    }))
}

/// Each provider has its own keys: one entry per provider.
fn key_lists(state: &AppState, providers: &[String]) -> Result<Json<Value>, ApiError> {
    let lists = providers
        .iter()
        .map(|p| key_list(state, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "providers": lists })))
}

async fn keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<KeyQuery>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let providers = key_providers(&state, &q).await?;
    key_lists(&state, &providers)
}

async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<KeyQuery>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let providers = match key_providers(&state, &q).await {
        Ok(p) => p,
        Err(e) => {
            let event = Event::new(
                op::ROTATE_KEY,
                ADMIN.into(),
                q.provider.as_deref().unwrap_or(""),
            );
            return audit::finish(&state, event, Err(e)).await;
        }
    };
    // Through the store: the provider's key epoch moves, this node rotates
    // and publishes now, every other node at its next sync. One audit record
    // per provider, its target this node's new kid; after the last, a
    // checkpoint signed with the default provider's (possibly new) key, so
    // the newest checkpoint is always the newest key's.
    let mut last = None;
    for provider in &providers {
        let event = Event::new(op::ROTATE_KEY, ADMIN.into(), provider);
        let (epoch, kid) = match rotate_one(&state, provider).await {
            Ok(r) => r,
            Err(e) => return audit::finish(&state, event, Err(e)).await,
        };
        tracing::info!(provider = %provider, epoch, kid = %kid, "signing key rotation requested");
        let mut event = event.target(kid);
        event.detail("epoch", epoch);
        last = Some(audit::record(&state, event, Ok(())).await?);
    }
    if let Some(r) = last {
        audit::checkpoint(&state, &r).await;
    }
    key_lists(&state, &providers)
}

/// Raises one provider's key epoch and rotates this node's key for it;
/// the new epoch and this node's new kid.
async fn rotate_one(state: &AppState, provider: &str) -> Result<(i64, String), ApiError> {
    let epoch = state
        .store
        .request_key_rotation(provider)
        .await
        .map_err(ApiError::internal)?;
    let base = state.canonical_base(provider);
    state
        .signing
        .sync_provider(state.store.as_ref(), provider, epoch, &base)
        .await
        .map_err(ApiError::internal)?;
    let kid = state
        .signing
        .active(provider, &base)
        .map_err(ApiError::internal)?
        .kid()
        .to_string();
    Ok((epoch, kid))
}

/// `POST /admin/collateral`: import one DCAP collateral bundle (the JSON of
/// `attesta_collateral::serialize`), as `attesta collateral import` sends it.
/// Nothing in it is trusted: verifiers check every signature when it is used.
async fn import_collateral(
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

async fn import_collateral_checked(
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
struct ListQuery {
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
async fn list_collateral(
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
async fn show_collateral(
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
async fn delete_collateral(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&state, &headers)?;
    let event = Event::new(op::DELETE_COLLATERAL, ADMIN.into(), "").target(id.as_str());
    let result = delete_collateral_checked(&state, &id).await;
    audit::finish(&state, event, result).await
}

async fn delete_collateral_checked(state: &AppState, id: &str) -> Result<StatusCode, ApiError> {
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
async fn import_snp(
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

async fn import_snp_checked(
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
