//! The attestation engine: everything between HTTP and the core crates.
//!
//! ```text
//! request bytes ─ request::decode ─▶ Request ─▶ flow of its kind:
//!   MAA body   (maa)          verify (attester: collateral, roots, time)
//!   Tpm:quote  (tpm_protocol)   → claims::service_claims (binding, extras)
//!   Tpm        (tpm_protocol)   → incoming claims → policy (token::resolve_policy)
//!   AzureGuest (azure_guest)    → outgoing claims → token::issue_token
//! ```
//!
//! Route handlers are decode → [`attest`] → encode and know nothing of any
//! TEE; `attesta verify` runs the same attesters ([`crate::dcap`],
//! [`crate::snp`], …) with an offline collateral source and the same
//! [`claims::service_claims`], so it prints the claims a token would carry.
//!
//! * **Decoding** ([`request`]) is typed and total: any bytes give a
//!   [`request::Request`] or an error naming what is wrong (fuzz target
//!   `attest_request`), before anything is verified.
//! * **The verification context** is built once per request from the
//!   provider's configuration ([`crate::provider_config::ProviderConfig`]:
//!   time or pinned time, trust roots, collateral grace).
//! * **Attesters** ([`crate::evidence::EvidenceVerifier`]) take the
//!   context and a collateral source — the fetching, caching service in the
//!   server, an imported bundle in the CLI — and call the sans-I/O verifiers
//!   of the evidence crate.
//! * **Claims** are assembled in one place per TEE: the evidence crate's
//!   verifier names what it proved ([`attesta_evidence::claims::names`] for
//!   the shared names), [`claims`] adds the bound caller data.
//! * **Errors** are one type, [`crate::error::ApiError`], mapped once to
//!   MAA's error body.
//!
//! # Adding a TEE (say Arm CCA)
//! 1. Evidence crate: a total parser (with a fuzz target in `fuzz/`) and a
//!    pure verifier returning [`attesta_evidence::Verified`] with its claims,
//!    report data and init data; an [`attesta_evidence::AttestationType`]
//!    variant with its path name and `x-ms-attestation-type` value; its
//!    roots kind in [`attesta_evidence::roots`].
//! 2. Engine: an attester implementing
//!    [`crate::evidence::EvidenceVerifier`] that fetches the type's
//!    collateral through its source, registered in `lib.rs` where the
//!    verifiers are built; its evidence member in
//!    [`request::evidence_member`] if it is not `report`; any type-specific
//!    claim rule in [`claims`]; a default policy in the policy crate.
//! 3. `attesta verify <tee>` builds the same attester over an offline
//!    source and prints [`claims::service_claims`]; the one-path test
//!    (`crates/cli/tests/one_path/`) gains the type's vectors.
//!
//! Nothing under `routes/` changes.

pub mod claims;
pub(crate) mod maa;
pub mod offline;
pub mod request;
pub mod token;
pub mod tpm_protocol;

use serde_json::Value;

use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use request::Request;

/// `POST /attest/{raw_type}`: decodes `body` and runs the flow of its kind.
pub async fn attest(
    state: AppState,
    ctx: ProviderCtx,
    raw_type: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let decode_started = std::time::Instant::now();
    match request::decode(raw_type, body)? {
        Request::Maa { ty, body } => maa::attest(state, ctx, ty, body, decode_started).await,
        Request::TpmQuote(req) => tpm_protocol::quote(&state, &ctx, *req).await,
        Request::TpmProtocol(message) => tpm_protocol::message(&state, &ctx, &message).await,
        Request::AzureGuest(doc) => crate::azure_guest::attest(state, ctx, doc.into())
            .await
            .map(|axum::Json(v)| v),
    }
}

/// `GET /attest/{raw_type}`: only `Tpm:challenge` exists; attestation
/// itself is a POST.
pub fn challenge(state: &AppState, ctx: &ProviderCtx, raw_type: &str) -> Result<Value, ApiError> {
    if !raw_type.eq_ignore_ascii_case("Tpm:challenge") {
        return Err(ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "attestation is a POST; GET exists only for /attest/Tpm:challenge",
        ));
    }
    tpm_protocol::challenge(state, ctx)
}
