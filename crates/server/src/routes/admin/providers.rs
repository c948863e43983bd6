//! `/admin/providers`: list, create, show, update and delete providers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
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
use super::ADMIN;

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

pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
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
pub(super) struct CreateProvider {
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

pub(super) async fn create(
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

pub(super) async fn create_checked(
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
    check_config(state, &req.config)?;
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

pub(super) async fn show(
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
pub(super) struct UpdateProvider {
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
pub(super) async fn update(
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

pub(super) async fn update_checked(
    state: &AppState,
    name: String,
    req: UpdateProvider,
) -> Result<Json<Value>, ApiError> {
    if let Some(config) = &req.config {
        check_config(state, config)?;
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

pub(super) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&state, &headers)?;
    let event = Event::new(op::DELETE_PROVIDER, ADMIN.into(), &name).target(&name);
    let result = delete_checked(&state, &name).await;
    audit::finish(&state, event, result).await
}

pub(super) async fn delete_checked(state: &AppState, name: &str) -> Result<StatusCode, ApiError> {
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

/// A provider configuration as given in a create or update: every field
/// well-formed, and a collateral grace within the node's bound (stored as
/// given and silently capped, it would promise more than the node does).
fn check_config(state: &AppState, config: &ProviderConfig) -> Result<(), ApiError> {
    config
        .validate()
        .map_err(|e| ApiError::invalid_parameter(format!("config: {e}")))?;
    let max = state.config.collateral.max_grace_secs;
    if let Some(grace) = config.collateral_grace_secs
        && grace > max
    {
        return Err(ApiError::invalid_parameter(format!(
            "config: collateral_grace_secs {grace} exceeds this service's collateral.max_grace_secs ({max}); ask for at most {max} or have the operator raise the bound"
        )));
    }
    Ok(())
}
