//! Assembling and signing the tokens the server issues: attestation tokens
//! and the control-plane result tokens (policy, certificates).
//!
//! Claims common to every attestation token follow MAA (reference §2.2):
//! `iss` is the provider base URL as the client addressed it, `iat == nbf`,
//! `exp`, a random 256-bit `jti` as 64 lowercase hex, `x-ms-ver`,
//! `x-ms-attestation-type`, `x-ms-policy-hash` and `nonce` when given.
//! Control-plane tokens live one hour, as MAA's do.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use attesta_evidence::UnixTime;

/// Lifetime of policy and certificate management result tokens.
pub const MANAGEMENT_TOKEN_SECS: u64 = 3600;

/// A fresh 256-bit token id, lowercase hex.
pub fn jti() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    hex::encode(bytes)
}

/// `iss`, `iat`, `nbf`, `exp` for a token issued now.
pub fn time_claims(issuer: &str, lifetime_secs: u64) -> Map<String, Value> {
    let now = UnixTime::now().0;
    let mut m = Map::new();
    m.insert("iss".into(), json!(issuer));
    m.insert("iat".into(), json!(now));
    m.insert("nbf".into(), json!(now));
    m.insert("exp".into(), json!(now + lifetime_secs));
    m
}

/// Sign `claims` with the provider's active key; `jku` points at the
/// provider's `/certs`. Every provider has keys of its own
/// ([`crate::signing`]), so a token names its provider's key whatever its
/// claims say.
pub fn sign(
    state: &AppState,
    ctx: &ProviderCtx,
    claims: &Map<String, Value>,
    cert: attesta_token::jwt::CertHeader,
) -> Result<String, ApiError> {
    let key = state
        .signing
        .active(ctx.name(), &state.canonical_base(ctx.name()))
        .map_err(ApiError::internal)?;
    Ok(attesta_token::jwt::sign_jwt_with(
        &key,
        &format!("{}/certs", ctx.base_url),
        claims,
        cert,
    ))
}

/// The claim that marks a control-plane result token, so that it can never
/// pass as an attestation result (`attesta token verify` and
/// `attesta_token::rp` refuse tokens that carry it or that carry no
/// `x-ms-attestation-type`).
pub const MANAGEMENT_CLAIM: &str = attesta_token::jwt::MANAGEMENT_TOKEN_CLAIM;

/// A control-plane result token: time claims + `body` + the management
/// marker, signed.
pub fn management_token(
    state: &AppState,
    ctx: &ProviderCtx,
    body: Map<String, Value>,
) -> Result<String, ApiError> {
    let mut claims = time_claims(&ctx.base_url, MANAGEMENT_TOKEN_SECS);
    claims.extend(body);
    claims.insert(MANAGEMENT_CLAIM.into(), json!(true));
    sign(state, ctx, &claims, attesta_token::jwt::CertHeader::None)
}
