//! Signed control-plane requests of isolated providers are applied once.
//!
//! An isolated provider's policies and policy-management certificates change
//! only by a JWS signed by one of its certificates. A signature proves who
//! made a request, not when or for what, and Microsoft's SDKs sign nothing
//! that says so: a policy JWS names no attestation type or provider, a reset
//! JWS has an empty payload, and an add-certificate JWS is byte for byte the
//! remove-certificate JWS for the same certificate (RSA PKCS#1 v1.5 is
//! deterministic). So every applied signed request is remembered in the store
//! by the SHA-256 of its exact text, with the provider, operation and
//! attestation type it was applied to, and a request seen before is refused
//! unless sending it again changes nothing:
//!
//! * applied to another provider, operation or attestation type → refused
//!   (`ReplayedRequest`): a policy JWS for SgxEnclave cannot become the
//!   OpenEnclave or Tpm policy, nor another provider's; an add-certificate
//!   JWS cannot remove the certificate;
//! * the same operation again → the same answer when the state already is
//!   what the request asks for (MAA clients repeat adds and removes and
//!   expect `IsPresent`/`IsAbsent`), refused otherwise: re-putting a policy
//!   that has since been replaced (rollback), re-adding a removed
//!   certificate, resetting a policy set since.
//!
//! Where a client does put times in the header or payload (`iat`, `nbf`,
//! `exp`, as `attesta policy set` does), they are checked as well: an
//! expired request, one not yet valid, or one issued more than
//! [`MAX_REQUEST_AGE_SECS`] ago is refused.
//!
//! Requests to aad providers are authorised by the caller's bearer token, not
//! by the signature, and are not recorded.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::codec::b64url;
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use attesta_evidence::crypto::sha256;
use attesta_evidence::{AttestationType, UnixTime};
use attesta_store::AppliedRequest;
use attesta_token::jws::Jws;

/// Oldest `iat` accepted on a signed request.
pub const MAX_REQUEST_AGE_SECS: u64 = 3600;
/// Clock skew allowed on `nbf` and `iat` in the future.
const SKEW_SECS: u64 = 300;

/// What a signed control-plane request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    PolicySet(AttestationType),
    PolicyReset(AttestationType),
    CertificateAdd,
    CertificateRemove,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::PolicySet(_) => "policy:set",
            Operation::PolicyReset(_) => "policy:reset",
            Operation::CertificateAdd => "certificates:add",
            Operation::CertificateRemove => "certificates:remove",
        }
    }

    fn attestation_type(self) -> &'static str {
        match self {
            Operation::PolicySet(t) | Operation::PolicyReset(t) => t.as_str(),
            _ => "",
        }
    }
}

/// Whether a signed request was applied before, to this very operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Never applied: apply it, then [`record`] it.
    New,
    /// Applied before to the same provider, operation and type: answer as
    /// before only if the state already is what it asks for.
    Again,
}

/// The identity of a request: base64url SHA-256 of its text as received.
pub fn request_hash(jws_text: &str) -> String {
    b64url(&sha256(jws_text.as_bytes()))
}

fn replayed(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ReplayedRequest", message)
}

/// A NumericDate in the header or payload, if the client sent one.
fn time_member(
    jws: &Jws,
    payload: Option<&Map<String, Value>>,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    let v = payload
        .and_then(|p| p.get(name))
        .or_else(|| jws.header.get(name));
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid_operation(format!(
                "'{name}' in the signed request is not a non-negative whole number of seconds"
            ))
        }),
        Some(_) => Err(ApiError::invalid_operation(format!(
            "'{name}' in the signed request is not a number"
        ))),
    }
}

/// Check `iat`/`nbf`/`exp` where the client sent them.
pub fn check_times(
    jws: &Jws,
    payload: Option<&Map<String, Value>>,
    now: u64,
) -> Result<(), ApiError> {
    if let Some(exp) = time_member(jws, payload, "exp")?
        && now >= exp
    {
        return Err(replayed(format!(
            "the signed request expired at {exp} (now {now}); sign a new one"
        )));
    }
    if let Some(nbf) = time_member(jws, payload, "nbf")?
        && nbf > now + SKEW_SECS
    {
        return Err(replayed(format!(
            "the signed request is not valid before {nbf} (now {now}); check the signer's clock"
        )));
    }
    if let Some(iat) = time_member(jws, payload, "iat")? {
        if iat > now + SKEW_SECS {
            return Err(replayed(format!(
                "the signed request was issued in the future ({iat}, now {now}); check the signer's clock"
            )));
        }
        if now.saturating_sub(iat) > MAX_REQUEST_AGE_SECS {
            return Err(replayed(format!(
                "the signed request was issued at {iat}, more than {MAX_REQUEST_AGE_SECS} s ago; sign a new one"
            )));
        }
    }
    Ok(())
}

/// Look a signed request up before applying it to an isolated provider.
pub async fn check(
    state: &AppState,
    ctx: &ProviderCtx,
    jws_text: &str,
    op: Operation,
) -> Result<Seen, ApiError> {
    let hash = request_hash(jws_text);
    let Some(prior) = state
        .store
        .get_applied_request(&hash)
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(Seen::New);
    };
    let what = |r: &AppliedRequest| {
        if r.attestation_type.is_empty() {
            format!("{} on provider '{}'", r.operation, r.provider)
        } else {
            format!(
                "{} {} on provider '{}'",
                r.operation, r.attestation_type, r.provider
            )
        }
    };
    if prior.provider != ctx.name()
        || prior.operation != op.name()
        || prior.attestation_type != op.attestation_type()
    {
        return Err(replayed(format!(
            "this signed request was already applied as {}; a signed request is applied once, to one provider, operation and attestation type: sign a new request for this one (with the same RSA key and content the signature comes out the same, so change the content or add an iat)",
            what(&prior)
        )));
    }
    Ok(Seen::Again)
}

/// Refuse a request seen before whose repetition would change the state.
pub fn refuse_repeat(op: Operation) -> ApiError {
    let consequence = match op {
        Operation::PolicySet(_) => {
            "the policy it set has been replaced since; re-applying it would roll the policy back"
        }
        Operation::PolicyReset(_) => {
            "a policy has been set since; re-applying the reset would undo that"
        }
        Operation::CertificateAdd => {
            "the certificate has been removed since; re-adding it needs a new signed request"
        }
        Operation::CertificateRemove => {
            "the certificate has been added again since; removing it needs a new signed request"
        }
    };
    replayed(format!(
        "this signed request was applied before and {consequence}; sign a new request"
    ))
}

/// Remember a signed request once it has been applied.
pub async fn record(
    state: &AppState,
    ctx: &ProviderCtx,
    jws_text: &str,
    op: Operation,
) -> Result<(), ApiError> {
    state
        .store
        .record_applied_request(&AppliedRequest {
            hash: request_hash(jws_text),
            provider: ctx.name().to_string(),
            operation: op.name().to_string(),
            attestation_type: op.attestation_type().to_string(),
            applied_at: UnixTime::now().0 as i64,
        })
        .await
        .map(|_| ())
        .map_err(ApiError::internal)
}
