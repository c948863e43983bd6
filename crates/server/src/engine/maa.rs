//! The MAA-body flow (`SgxEnclave`, `OpenEnclave`, `SevSnpVm`, `TdxVm`):
//! verify with the type's attester at the request's time → bind the
//! caller's data and assemble the service claims ([`super::claims`]) →
//! incoming claims → policy → outgoing claims → signed token.

use serde_json::{Map, Value, json};

use crate::engine::claims::{self, ClaimsError};
use crate::engine::request::AttestRequest;
use crate::engine::token::{TokenShape, issue_token, resolve_policy};
use crate::error::ApiError;
use crate::evidence::AttestInput;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use attesta_evidence::claims::names;
use attesta_evidence::{AttestationType, ErrorCode, UnixTime};

/// Maps a claim-assembly failure to MAA's error body.
pub(crate) fn claims_error(e: ClaimsError) -> ApiError {
    match e {
        ClaimsError::NotJson { .. } => ApiError::invalid_parameter(e.to_string()),
        ClaimsError::Binding(_) => ApiError::evidence(e.code(), &e),
    }
}

/// Attests `req`, evidence of `ty`, for the provider of `ctx`.
pub(crate) async fn attest(
    state: AppState,
    ctx: ProviderCtx,
    ty: AttestationType,
    req: AttestRequest,
    decode_started: std::time::Instant,
) -> Result<Value, ApiError> {
    // The body is well-formed; only now does it matter whether this build
    // can verify the type.
    let Some(verifier) = state.verifiers.get(ty) else {
        return Err(ApiError::not_implemented(format!(
            "{ty} attestation is not available in this build of Attesta yet"
        )));
    };
    crate::metrics::stage("decode", decode_started);

    // Verify, at the request's time.
    let input = AttestInput {
        evidence: req.evidence,
        body: req.body,
    };
    let verify_started = std::time::Instant::now();
    let verified = verifier
        .verify(&ctx.record, &input, UnixTime::now())
        .await?;
    crate::metrics::stage("verify", verify_started);
    if let Some(status) = verified
        .claims
        .get(names::TCB_STATUS)
        .and_then(Value::as_str)
    {
        crate::metrics::note_tcb_status(status);
    }

    // Bind the caller's data to the report; the service's claims.
    let service = claims::service_claims(ty, &verified, req.runtime.as_ref(), req.init.as_ref())
        .map_err(claims_error)?;

    // Policy: incoming claims → outgoing claims.
    let policy_started = std::time::Instant::now();
    let policy = resolve_policy(&state, &ctx, ty, req.draft_policy.as_deref()).await?;
    let mut incoming = attesta_policy::incoming_claims(&service, &Map::new());
    if claims::is_sgx_family(ty) {
        incoming.extend(attesta_policy::incoming_claims(
            &claims::legacy_sgx_claims(&service),
            &Map::new(),
        ));
        let config;
        (config, incoming) = state
            .policy_configuration(&policy.lane, &policy.compiled, incoming)
            .await?;
        crate::dcap::check_tcb_baseline(&config, &service)?;
    }
    let evaluation = state
        .evaluate_policy(&policy.lane, &policy.compiled, incoming)
        .await?;
    crate::metrics::stage("policy", policy_started);

    // Token.
    let sign_started = std::time::Instant::now();
    let token = issue_token(
        &state,
        &ctx,
        &policy,
        service,
        evaluation.outgoing,
        req.nonce,
        TokenShape::plain(state.config.token_lifetime_secs),
    )?;
    crate::metrics::stage("sign", sign_started);
    Ok(json!({ "token": token }))
}
