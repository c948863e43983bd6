//! Policy-management certificates: `GET /certificates`,
//! `POST /certificates:add`, `POST /certificates:remove` (reference §1.9).
//!
//! Changes are JWS bodies (a JSON string literal, the 2025-06-01 object form,
//! or raw text) signed by a key whose certificate is already one of the
//! provider's policy-management certificates, whatever the trust model.
//! Repeating an add or a remove gives the same answer (`IsPresent` /
//! `IsAbsent`). The last certificate cannot be removed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::audit;
use crate::auth::require_control_plane;
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::replay;
use crate::routes::policy::{authorise_signer, body_text, payload_object, verified_jws};
use crate::state::AppState;
use crate::tokens;
use attesta_evidence::UnixTime;
use attesta_evidence::crypto::sha1;
use attesta_store::{PolicyCertRecord, StoreError, TrustModel};

/// The JWK MAA lists for a policy-management certificate.
pub(crate) fn cert_jwk(der: &[u8]) -> Value {
    let kty = match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) if c.public_key().algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1" => {
            "EC"
        }
        _ => "RSA",
    };
    json!({ "kty": kty, "use": "sig", "x5c": [STANDARD.encode(der)] })
}

/// Lowercase hex SHA-1 of a certificate's DER.
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode(sha1(der))
}

/// `GET /certificates`.
pub async fn list(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_control_plane(&state, &ctx, &headers)?;
    let certs = state
        .store
        .list_policy_certs(ctx.name())
        .await
        .map_err(ApiError::internal)?;
    let keys: Vec<Value> = certs.iter().map(|c| cert_jwk(&c.der)).collect();
    let mut body = Map::new();
    // Present even when empty: both SDKs read `.keys` unconditionally.
    body.insert("x-ms-policy-certificates".into(), json!({ "keys": keys }));
    Ok(Json(
        json!({ "token": tokens::management_token(&state, &ctx, body)? }),
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// The JWS text of a certificate change body.
fn change_jws(body: &Bytes, change: Change) -> Result<String, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_operation("the request body is not UTF-8 text"))?
        .trim();
    if text.starts_with('{') {
        let member = match change {
            Change::Add => "policyCertificateToAdd",
            Change::Remove => "policyCertificateToRemove",
        };
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid_operation(format!("the body is not valid JSON: {e}")))?;
        return v
            .get(member)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::invalid_operation(format!("the body has no '{member}' member"))
            });
    }
    body_text(body)
}

/// The certificate DER a change names (the payload parsed strictly).
fn certificate_of(payload: Option<&Map<String, Value>>) -> Result<Vec<u8>, ApiError> {
    let v = payload.ok_or_else(|| {
        ApiError::invalid_operation(
            "the JWS payload is empty; a certificate change names a policyCertificate",
        )
    })?;
    if v.contains_key("AttestationPolicy") {
        return Err(ApiError::invalid_operation(
            "the JWS payload is a policy, not a certificate change",
        ));
    }
    let cert = [
        "policyCertificate",
        "x-ms-policyCertificate",
        "maa-policyCertificate",
        "aas-policyCertificate",
    ]
    .iter()
    .find_map(|k| v.get(*k))
    .ok_or_else(|| {
        ApiError::invalid_operation("the JWS payload has no policyCertificate member")
    })?;
    let b64 = cert
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_operation("policyCertificate has no x5c certificate"))?;
    let der = STANDARD
        .decode(b64)
        .or_else(|_| crate::codec::b64_lenient(b64))
        .map_err(|e| {
            ApiError::invalid_operation(format!("policyCertificate.x5c[0] is not base64: {e}"))
        })?;
    x509_parser::parse_x509_certificate(&der).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "policyCertificate.x5c[0] is not an X.509 certificate: {e}"
        ))
    })?;
    Ok(der)
}

async fn change(
    state: AppState,
    ctx: ProviderCtx,
    headers: HeaderMap,
    body: Bytes,
    change: Change,
) -> Result<Json<Value>, ApiError> {
    require_control_plane(&state, &ctx, &headers)?;
    let operation = match change {
        Change::Add => audit::op::ADD_CERTIFICATE,
        Change::Remove => audit::op::REMOVE_CERTIFICATE,
    };
    let mut event = audit::Event::new(operation, crate::auth::caller(&state, &headers), ctx.name());
    let result = change_checked(&state, &ctx, &body, change, &mut event).await;
    audit::finish(&state, event, result).await
}

async fn change_checked(
    state: &AppState,
    ctx: &ProviderCtx,
    body: &Bytes,
    change: Change,
    event: &mut audit::Event,
) -> Result<Json<Value>, ApiError> {
    let text = change_jws(body, change)?;
    let (jws, signer) = verified_jws(&text)?;
    // Certificate changes are always authorised by their signature.
    if let Some(leaf) = signer.as_ref().and_then(|s| s.chain_der.first()) {
        event.signed_by(leaf);
    }
    authorise_signer(
        state,
        ctx,
        signer.as_ref(),
        "a policy management certificate change",
        true,
    )
    .await?;
    let payload = payload_object(&jws)?;
    let der = certificate_of(payload.as_ref())?;
    let thumb = thumbprint(&der);
    event.target = thumb.clone();
    let isolated = ctx.record.trust_model == TrustModel::Isolated;
    let op = match change {
        Change::Add => replay::Operation::CertificateAdd,
        Change::Remove => replay::Operation::CertificateRemove,
    };
    if isolated {
        replay::check_times(&jws, payload.as_ref(), UnixTime::now().0)?;
        if replay::check(state, ctx, &text, op).await? == replay::Seen::Again {
            let present = state
                .store
                .list_policy_certs(ctx.name())
                .await
                .map_err(ApiError::internal)?
                .iter()
                .any(|c| c.thumbprint == thumb);
            if present != (change == Change::Add) {
                return Err(replay::refuse_repeat(op));
            }
        }
    }
    let result = match change {
        Change::Add => {
            let rec = PolicyCertRecord {
                thumbprint: thumb.clone(),
                der,
                added_at: UnixTime::now().0 as i64,
            };
            state
                .store
                .add_policy_cert(ctx.name(), &rec)
                .await
                .map_err(ApiError::internal)?;
            "IsPresent"
        }
        Change::Remove => {
            match state.store.remove_policy_cert(ctx.name(), &thumb).await {
                Ok(_) => {}
                Err(StoreError::LastCertificate) => {
                    return Err(ApiError::invalid_operation(
                        "the last policy management certificate cannot be removed; add its replacement first",
                    ));
                }
                Err(e) => return Err(ApiError::internal(e)),
            }
            "IsAbsent"
        }
    };
    if isolated {
        replay::record(state, ctx, &text, op).await?;
    }
    tracing::info!(provider = ctx.name(), thumbprint = %thumb, result, "policy management certificates changed");
    event.detail("outcome", result);
    let mut out = Map::new();
    out.insert("x-ms-certificate-thumbprint".into(), json!(thumb));
    out.insert("x-ms-policycertificates-result".into(), json!(result));
    Ok(Json(
        json!({ "token": tokens::management_token(state, ctx, out)? }),
    ))
}

/// `POST /certificates:add`.
pub async fn add(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(state, ctx, headers, body, Change::Add).await
}

/// `POST /certificates:remove`.
pub async fn remove(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(state, ctx, headers, body, Change::Remove).await
}
