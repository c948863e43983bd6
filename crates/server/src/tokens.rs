//! Assembling and signing the tokens the server issues: attestation tokens
//! and the control-plane result tokens (policy, certificates).
//!
//! Claims common to every attestation token follow MAA (reference §2.2):
//! `iss` is the provider base URL as the client addressed it, `iat == nbf`,
//! `exp`, a random 256-bit `jti` as 64 lowercase hex, `x-ms-ver`,
//! `x-ms-attestation-type`, `x-ms-policy-hash` and `nonce` when given.
//! Control-plane tokens live one hour, as MAA's do.

use serde_json::{Map, Value, json};

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

/// Sign `claims` with the node's active key; `jku` points at the provider's
/// `/certs`.
pub fn sign(
    state: &AppState,
    base_url: &str,
    claims: &Map<String, Value>,
    include_x5c: bool,
) -> String {
    let key = state.keys.read().expect("key ring lock").active();
    attesta_token::jwt::sign_jwt(&key, &format!("{base_url}/certs"), claims, include_x5c)
}

/// A control-plane result token: time claims + `body`, signed.
pub fn management_token(state: &AppState, base_url: &str, body: Map<String, Value>) -> String {
    let mut claims = time_claims(base_url, MANAGEMENT_TOKEN_SECS);
    claims.extend(body);
    sign(state, base_url, &claims, false)
}
