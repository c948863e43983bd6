//! Policy routes: `GET /policies/{type}`, `PUT /policies/{type}` (set) and
//! `POST /policies/{type}:reset`.
//!
//! Bodies are JWS texts (reference §1.8, §3.11): unsigned (`alg: none`) or
//! signed with a certificate in the header (`x5c`, or `jwk.x5c` with the
//! Python SDK's `RSA256` label). Isolated providers accept only JWS signed by
//! one of their policy-management certificates; aad providers accept both and
//! record the signer when there is one. `x-ms-policy-token-hash` is computed
//! over the JWS text as received (surrounding whitespace removed), never over
//! a re-serialisation. For aad providers a raw policy text body (starting
//! with `version` or a Rego `package`) is accepted too, as MAA's tooling
//! wraps it; it is stored as the unsigned JWS of that text.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::audit;
use crate::auth::require_control_plane;
use crate::codec::{b64_lenient, b64url};
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::replay;
use crate::routes::attest::path_param;
use crate::state::{AppState, unsigned_policy_jws};
use crate::tokens;
use attesta_evidence::crypto::sha256;
use attesta_evidence::{AttestationType, UnixTime};
use attesta_store::{PolicyRecord, TrustModel};
use attesta_token::jws::{Jws, Signer, parse_jws, signer_is_trusted};

/// The request body as text: a raw JWS, or a JSON string literal holding one.
pub(crate) fn body_text(body: &Bytes) -> Result<String, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_operation("the request body is not UTF-8 text"))?
        .trim();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text)
            .map(|s| s.trim().to_string())
            .map_err(|e| {
                ApiError::invalid_operation(format!("the body is not a valid JSON string: {e}"))
            });
    }
    Ok(text.to_string())
}

fn parse_type(params: &RawPathParams, suffix: Option<&str>) -> Result<AttestationType, ApiError> {
    let raw = path_param(params, "attestation_type").unwrap_or_default();
    let name = match suffix {
        Some(s) => raw.strip_suffix(s).ok_or_else(|| {
            ApiError::not_found(format!(
                "no such operation on /policies/{raw}; did you mean /policies/{raw}:reset?"
            ))
        })?,
        None => raw.as_str(),
    };
    name.parse::<AttestationType>()
        .map_err(|e| ApiError::invalid_parameter(e.to_string()))
}

/// The certificates trusted to sign for a provider (DER).
pub(crate) async fn trusted_certs(
    state: &AppState,
    provider: &str,
) -> Result<Vec<Vec<u8>>, ApiError> {
    Ok(state
        .store
        .list_policy_certs(provider)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|c| c.der)
        .collect())
}

/// Parse a JWS body and verify its signature (if any).
pub(crate) fn verified_jws(text: &str) -> Result<(Jws, Option<Signer>), ApiError> {
    let jws =
        parse_jws(text).map_err(|e| ApiError::invalid_operation(format!("Malformed JWT: {e}")))?;
    let signer = jws.verify_signer().map_err(|e| {
        ApiError::invalid_operation(format!("the JWS signature does not verify: {e}"))
    })?;
    Ok((jws, signer))
}

/// Require that an isolated provider's write is signed by a trusted signer.
pub(crate) async fn authorise_signer(
    state: &AppState,
    ctx: &ProviderCtx,
    signer: Option<&Signer>,
    what: &str,
    required_for_all: bool,
) -> Result<(), ApiError> {
    let must_sign = required_for_all || ctx.record.trust_model == TrustModel::Isolated;
    let Some(signer) = signer else {
        if must_sign {
            return Err(ApiError::invalid_operation(format!(
                "{what} must be a JWS signed by one of provider '{}''s policy management certificates; an unsigned JWS was sent",
                ctx.name()
            )));
        }
        return Ok(());
    };
    if !must_sign {
        // aad providers accept any valid signature and record the signer.
        return Ok(());
    }
    let trusted = trusted_certs(state, ctx.name()).await?;
    if trusted.is_empty() {
        return Err(ApiError::invalid_operation(format!(
            "provider '{}' has no policy management certificates, so no signer is trusted",
            ctx.name()
        )));
    }
    signer_is_trusted(signer, &trusted, UnixTime::now().0).map_err(|e| {
        ApiError::invalid_operation(format!(
            "{what} is signed by a certificate that is not one of provider '{}''s policy management certificates: {e}",
            ctx.name()
        ))
    })
}

/// `GET /policies/{type}`.
pub async fn get_policy(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_control_plane(&state, &ctx, &headers)?;
    let ty = parse_type(&params, None)?;
    let jws = match state.policy(ctx.name(), ty).await? {
        Some(p) => p.jws.clone(),
        // No policy and no default (TPM): the empty unsecured JWS exactly as
        // live MAA returns it (header, empty payload, empty signature).
        None => format!("{}..", attesta_token::jws::UNSIGNED_HEADER_B64),
    };
    let mut body = Map::new();
    body.insert("x-ms-policy".into(), json!(jws));
    Ok(Json(
        json!({ "token": tokens::management_token(&state, &ctx, body)? }),
    ))
}

fn looks_like_policy_text(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("version") || lower.starts_with("package")
}

/// The policy text inside a `StoredAttestationPolicy` JWS payload (parsed
/// strictly: a duplicate member is refused, not resolved).
fn policy_from_payload(payload: Option<&Map<String, Value>>) -> Result<String, ApiError> {
    let v = payload.ok_or_else(|| {
        ApiError::invalid_operation(
            "the JWS payload is empty; a policy is a JSON object with an AttestationPolicy member",
        )
    })?;
    // `text` is the payload member of 2020 preview-era signed policies.
    let b64 = v
        .get("AttestationPolicy")
        .or_else(|| v.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::invalid_operation("the JWS payload has no AttestationPolicy member")
        })?;
    let bytes = b64_lenient(b64).map_err(|e| {
        ApiError::invalid_operation(format!("AttestationPolicy is not base64url: {e}"))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid_operation("the policy text is not UTF-8"))
}

/// The strictly parsed payload object of a JWS, if it has one.
pub(crate) fn payload_object(jws: &Jws) -> Result<Option<Map<String, Value>>, ApiError> {
    jws.payload_object()
        .map_err(|e| ApiError::invalid_operation(format!("Malformed JWT: {e}")))
}

/// Members that make a payload some other operation's.
const OPERATION_MEMBERS: [&str; 6] = [
    "AttestationPolicy",
    "text",
    "policyCertificate",
    "x-ms-policyCertificate",
    "maa-policyCertificate",
    "aas-policyCertificate",
];

/// The audit event of a policy operation, its target the attestation type
/// as the path names it.
fn policy_event(
    state: &AppState,
    ctx: &ProviderCtx,
    params: &RawPathParams,
    headers: &HeaderMap,
    operation: &'static str,
) -> audit::Event {
    let raw = path_param(params, "attestation_type").unwrap_or_default();
    let raw = raw.strip_suffix(":reset").unwrap_or(&raw).to_string();
    audit::Event::new(operation, crate::auth::caller(state, headers), ctx.name()).target(raw)
}

/// Notes who signed a policy operation: for an isolated provider the signer
/// is the caller (the signature authorised it), for aad a detail.
fn note_signer(event: &mut audit::Event, ctx: &ProviderCtx, signer: Option<&Signer>) {
    let Some(leaf) = signer.and_then(|s| s.chain_der.first()) else {
        return;
    };
    if ctx.record.trust_model == TrustModel::Isolated {
        event.signed_by(leaf);
    } else {
        event.detail("signer", audit::signer_identity(leaf));
    }
}

/// `PUT /policies/{type}`.
pub async fn set_policy(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_control_plane(&state, &ctx, &headers)?;
    let mut event = policy_event(&state, &ctx, &params, &headers, audit::op::SET_POLICY);
    let result = set_policy_checked(&state, &ctx, &params, &body, &mut event).await;
    audit::finish(&state, event, result).await
}

async fn set_policy_checked(
    state: &AppState,
    ctx: &ProviderCtx,
    params: &RawPathParams,
    body: &Bytes,
    event: &mut audit::Event,
) -> Result<Json<Value>, ApiError> {
    let ty = parse_type(params, None)?;
    event.target = ty.as_str().to_string();
    let text = body_text(body)?;
    let isolated = ctx.record.trust_model == TrustModel::Isolated;
    let op = replay::Operation::PolicySet(ty);
    let (policy_text, jws_text, signer) = if looks_like_policy_text(&text) {
        authorise_signer(state, ctx, None, "the policy", false).await?;
        let jws = unsigned_policy_jws(&text);
        (text.clone(), jws, None)
    } else {
        let (jws, signer) = verified_jws(&text)?;
        note_signer(event, ctx, signer.as_ref());
        authorise_signer(state, ctx, signer.as_ref(), "the policy", false).await?;
        let payload = payload_object(&jws)?;
        if isolated {
            replay::check_times(&jws, payload.as_ref(), UnixTime::now().0)?;
        }
        (policy_from_payload(payload.as_ref())?, text.clone(), signer)
    };
    // Compiled on the bounded policy pool, like every other compilation.
    state
        .compile_policy(
            &crate::policy_pool::Lane::Provider(ctx.name().to_string()),
            &policy_text,
        )
        .await?;
    if isolated && replay::check(state, ctx, &jws_text, op).await? == replay::Seen::Again {
        let current = state
            .store
            .get_policy(ctx.name(), ty.as_str())
            .await
            .map_err(ApiError::internal)?;
        if current.is_none_or(|c| c.jws != jws_text) {
            return Err(replay::refuse_repeat(op));
        }
    }
    let signer_jwk = signer
        .as_ref()
        .map(|s| serde_json::to_value(&s.jwk).unwrap_or(Value::Null));
    let record = PolicyRecord {
        attestation_type: ty.as_str().to_string(),
        policy_text,
        jws: jws_text.clone(),
        signer: signer_jwk.clone(),
        updated_at: UnixTime::now().0 as i64,
    };
    state
        .store
        .put_policy(ctx.name(), &record)
        .await
        .map_err(ApiError::internal)?;
    state.invalidate_policies(ctx.name());
    if isolated {
        replay::record(state, ctx, &jws_text, op).await?;
    }
    tracing::info!(provider = ctx.name(), attestation_type = %ty, signed = signer.is_some(), "policy set");
    event.detail("policy_token_hash", b64url(&sha256(text.as_bytes())));

    let mut out = Map::new();
    out.insert("x-ms-policy-result".into(), json!("Updated"));
    out.insert(
        "x-ms-policy-token-hash".into(),
        json!(b64url(&sha256(text.as_bytes()))),
    );
    if let Some(jwk) = signer_jwk {
        out.insert("x-ms-policy-signer".into(), jwk);
    }
    Ok(Json(
        json!({ "token": tokens::management_token(state, ctx, out)? }),
    ))
}

/// `POST /policies/{type}:reset`.
pub async fn reset_policy(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_control_plane(&state, &ctx, &headers)?;
    let mut event = policy_event(&state, &ctx, &params, &headers, audit::op::RESET_POLICY);
    let result = reset_policy_checked(&state, &ctx, &params, &body, &mut event).await;
    audit::finish(&state, event, result).await
}

async fn reset_policy_checked(
    state: &AppState,
    ctx: &ProviderCtx,
    params: &RawPathParams,
    body: &Bytes,
    event: &mut audit::Event,
) -> Result<Json<Value>, ApiError> {
    let ty = parse_type(params, Some(":reset"))?;
    event.target = ty.as_str().to_string();
    let text = body_text(body)?;
    let isolated = ctx.record.trust_model == TrustModel::Isolated;
    let op = replay::Operation::PolicyReset(ty);
    let signer = if text.is_empty() {
        None
    } else {
        let (jws, signer) = verified_jws(&text)?;
        // The reset form: an empty payload (what the SDKs sign), or an
        // object of times only — never another operation's payload, so a
        // signed policy or certificate change cannot double as a reset.
        let payload = payload_object(&jws)?;
        if let Some(member) = payload
            .as_ref()
            .and_then(|p| OPERATION_MEMBERS.iter().find(|m| p.contains_key(**m)))
        {
            return Err(ApiError::invalid_operation(format!(
                "a reset request's JWS payload must be empty; this one carries '{member}', which belongs to another operation"
            )));
        }
        if isolated {
            replay::check_times(&jws, payload.as_ref(), UnixTime::now().0)?;
        }
        signer
    };
    note_signer(event, ctx, signer.as_ref());
    authorise_signer(state, ctx, signer.as_ref(), "the reset request", false).await?;
    let signed_isolated = isolated && signer.is_some();
    if signed_isolated
        && replay::check(state, ctx, &text, op).await? == replay::Seen::Again
        && state
            .store
            .get_policy(ctx.name(), ty.as_str())
            .await
            .map_err(ApiError::internal)?
            .is_some()
    {
        return Err(replay::refuse_repeat(op));
    }
    state
        .store
        .delete_policy(ctx.name(), ty.as_str())
        .await
        .map_err(ApiError::internal)?;
    state.invalidate_policies(ctx.name());
    if signed_isolated {
        replay::record(state, ctx, &text, op).await?;
    }
    tracing::info!(provider = ctx.name(), attestation_type = %ty, "policy reset");
    let mut out = Map::new();
    out.insert("x-ms-policy-result".into(), json!("Removed"));
    Ok(Json(
        json!({ "token": tokens::management_token(state, ctx, out)? }),
    ))
}
