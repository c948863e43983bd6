//! Control-plane and admin authentication.
//!
//! The data plane (attest, `/certs`, metadata) is anonymous and ignores any
//! `Authorization` header, as Microsoft's SDKs always send one.
//!
//! Control plane (policies, policy-management certificates), reads and
//! writes alike, on every trust model, as MAA authenticates them:
//! `Authorization: Bearer <token>` where the token's SHA-256 is one of the
//! provider's configured token hashes (tokens are never stored in clear), or
//! the admin token. Without it: 401. An isolated provider created without
//! tokens is managed with the admin token only.
//!
//! `isolated` providers additionally authorise writes by signature: every
//! policy set or reset and every certificate change must be signed by a
//! policy-management certificate, and each signed request is applied once
//! ([`crate::replay`]).
//!
//! The admin API (`/admin/…`) needs the admin token.

use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use attesta_evidence::crypto::{constant_time_eq, sha256};

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Hex SHA-256 of a bearer token, the form in which tokens are stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha256(token.as_bytes()))
}

fn is_admin(state: &AppState, token: &str) -> bool {
    constant_time_eq(&sha256(token.as_bytes()), state.admin_token_hash.as_slice())
}

/// Who an authenticated request comes from, as the audit log names it:
/// `admin`, or `token:` and the first 16 hex digits of the bearer token's
/// SHA-256 (enough to tell tokens apart, never enough to use one).
pub fn caller(state: &AppState, headers: &HeaderMap) -> String {
    match bearer(headers) {
        Some(t) if is_admin(state, t) => "admin".into(),
        Some(t) => format!("token:{}", &token_hash(t)[..16]),
        None => "anonymous".into(),
    }
}

/// Require the admin token.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(t) if is_admin(state, t) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "the bearer token is not the admin token",
        )),
        None => Err(ApiError::unauthorized(
            "the admin API needs `Authorization: Bearer <admin token>` (see <data dir>/admin-token)",
        )),
    }
}

/// Require what the provider's trust model asks of a control-plane caller.
pub fn require_control_plane(
    state: &AppState,
    ctx: &ProviderCtx,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let record = &ctx.record;
    let Some(token) = bearer(headers) else {
        return Err(ApiError::unauthorized(format!(
            "provider '{}' needs a bearer token for control-plane calls",
            record.name
        )));
    };
    if is_admin(state, token) {
        return Ok(());
    }
    let hash = token_hash(token);
    if record
        .token_hashes
        .iter()
        .any(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
    {
        Ok(())
    } else {
        Err(ApiError::unauthorized(format!(
            "the bearer token is not accepted by provider '{}'",
            record.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  x "),
        );
        assert_eq!(bearer(&h), Some("x"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
