//! `/admin/keys` and `/admin/keys:rotate`: each provider's signing keys
//! on this node, and their rotation.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Event, op};
use crate::auth::require_admin;
use crate::error::ApiError;
use crate::provider::validate_name;
use crate::state::AppState;
use attesta_evidence::UnixTime;

/// The caller of every admin route: the admin token is the only credential.
use super::ADMIN;

/// `?provider=NAME` on the key routes.
#[derive(Debug, Deserialize)]
pub(super) struct KeyQuery {
    provider: Option<String>,
}

/// The providers a key route acts on: the named one (which must exist), or
/// every provider.
pub(super) async fn key_providers(state: &AppState, q: &KeyQuery) -> Result<Vec<String>, ApiError> {
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

pub(super) async fn keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<KeyQuery>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&state, &headers)?;
    let providers = key_providers(&state, &q).await?;
    key_lists(&state, &providers)
}

pub(super) async fn rotate(
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
pub(super) async fn rotate_one(
    state: &AppState,
    provider: &str,
) -> Result<(i64, String), ApiError> {
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
