//! Policy and token, shared by every flow of the engine: the policy an
//! attestation is judged by (the provider's stored policy for the type, or
//! the request's draft, compiled only after the evidence verified), and the
//! token assembled from the common MAA claims, the service's claims and the
//! policy's outgoing claims, where a policy can never overwrite or
//! impersonate a claim the service vouches for.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use crate::tokens;
use attesta_evidence::AttestationType;

/// The policy an attestation is judged by.
pub(crate) struct PolicyInUse {
    pub compiled: attesta_policy::CompiledPolicy,
    pub hash: String,
    pub signer: Option<Value>,
    /// A draft policy: the token is unsecured.
    pub draft: bool,
    /// Whose policy time it runs on: the provider's, or for a draft the
    /// sender's (see [`crate::policy_pool`]).
    pub lane: crate::policy_pool::Lane,
}

/// The draft policy when given, else the provider's policy for `ty`.
pub(crate) async fn resolve_policy(
    state: &AppState,
    ctx: &ProviderCtx,
    ty: AttestationType,
    draft: Option<&str>,
) -> Result<PolicyInUse, ApiError> {
    match draft {
        // Compiled off the async workers within the policy time budget;
        // callers resolve a draft only after the evidence has verified.
        Some(text) => {
            let lane = crate::policy_pool::Lane::Draft {
                provider: ctx.name().to_string(),
                client: crate::forwarded::current_client(),
            };
            Ok(PolicyInUse {
                compiled: state.compile_policy(&lane, text).await?,
                hash: attesta_policy::policy_hash(text),
                signer: None,
                draft: true,
                lane,
            })
        }
        None => {
            let active = state.policy(ctx.name(), ty).await?.ok_or_else(|| {
                ApiError::invalid_operation(format!(
                    "provider '{}' has no {ty} policy; {ty} has no default policy, set one with `attesta policy set {ty}`",
                    ctx.name()
                ))
            })?;
            Ok(PolicyInUse {
                compiled: active.compiled.clone(),
                hash: active.hash.clone(),
                signer: active.signer.clone(),
                draft: false,
                lane: crate::policy_pool::Lane::Provider(ctx.name().to_string()),
            })
        }
    }
}

/// Token lifetime and header shape.
pub(crate) struct TokenShape {
    pub lifetime_secs: u64,
    /// The certificate reference in the header (`x5c`, `x5t` or neither).
    pub cert: attesta_token::jwt::CertHeader,
}

impl TokenShape {
    /// `lifetime_secs`, no certificate in the header.
    pub(crate) fn plain(lifetime_secs: u64) -> Self {
        Self {
            lifetime_secs,
            cert: attesta_token::jwt::CertHeader::None,
        }
    }
}

/// Assemble and sign the attestation token: the common MAA claims, the
/// service-emitted claims, and the policy's outgoing claims at top level.
pub(crate) fn issue_token(
    state: &AppState,
    ctx: &ProviderCtx,
    policy: &PolicyInUse,
    service: Map<String, Value>,
    outgoing: Map<String, Value>,
    nonce: Option<Value>,
    shape: TokenShape,
) -> Result<String, ApiError> {
    let mut claims = tokens::time_claims(&ctx.base_url, shape.lifetime_secs);
    claims.insert("jti".into(), json!(tokens::jti()));
    claims.insert("x-ms-ver".into(), json!("1.0"));
    claims.insert("x-ms-policy-hash".into(), json!(policy.hash));
    if let Some(signer) = &policy.signer {
        claims.insert("x-ms-policy-signer".into(), signer.clone());
    }
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce);
    }
    claims.extend(service);
    // Only proven data becomes claims: a policy's output never replaces or
    // impersonates a claim the service vouches for. The policy crate refuses
    // reserved names when a policy is set and when it is evaluated; this is
    // the last line, whatever produced `outgoing`.
    for (name, value) in outgoing {
        if claims.contains_key(&name) || attesta_policy::reserved::is_reserved_output_claim(&name) {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "PolicyEvaluationError",
                format!(
                    "the policy issued claim '{name}', a name reserved for claims the service vouches for; issue it under another name"
                ),
            ));
        }
        claims.insert(name, value);
    }
    if policy.draft {
        // Draft-policy results are unsecured tokens: they must not be usable
        // as attestation results.
        Ok(attesta_token::jwt::unsecured_jwt(&claims))
    } else {
        tokens::sign(state, ctx, &claims, shape.cert)
    }
}

pub(crate) fn policy_error(e: attesta_policy::PolicyError) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, e.code, e.to_string())
}
