//! TPM attestation in one round trip, for clients other than Windows'
//! attestation client (documented in the README):
//!
//! 1. `GET /attest/Tpm:challenge?api-version=…` → `{"challenge",
//!    "service_context"}` (the same challenge the MAA protocol's `aikcert`
//!    init gives);
//! 2. `POST /attest/Tpm:quote?api-version=…` with
//!    `{"service_context", "quotes": [{"attest", "signature"}], "ak_public",
//!    "ak_certificate"?, "ak_intermediates"?, "pcrs": {"sha256": {"0": "hex"}},
//!    "event_log"?, "nonce"?, "draftPolicyForAttestation"?}` (byte fields
//!    base64url; `attest` a `TPMS_ATTEST` from TPM2_Quote whose
//!    qualifyingData is the challenge, `signature` its `TPMT_SIGNATURE`,
//!    `ak_public` the AK's `TPMT_PUBLIC`, `ak_certificate` DER)
//!    → `{"token"}`.
//!
//! The provider's TPM policy decides (TPM has no default policy), with its
//! configuration rules `require_valid_aik_cert` and `required_pcr_mask`;
//! the token lives `report_validity_in_minutes` (default 1440) and carries
//! `x5c` unless `omit_x5c` (reference §3.8). Evidence claims (`aikValidated`,
//! `secureBootEnabled`, `pcrs`, `events`, …) are incoming claims for the
//! policy; the token holds what the policy issues, as MAA's TPM tokens do.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::codec::b64_lenient;
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::provider_config::ProviderConfig;
use crate::routes::attest::{TokenShape, issue_token, path_param, policy_error, resolve_policy};
use crate::state::AppState;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::{Pcrs, QuoteParts, TpmEvidence, TpmSettings};
use attesta_evidence::{AttestationType, ErrorCode, UnixTime};

#[derive(Debug, Deserialize)]
struct QuoteB64 {
    attest: String,
    signature: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneShot {
    service_context: String,
    #[serde(default)]
    challenge: Option<String>,
    quotes: Vec<QuoteB64>,
    ak_public: String,
    #[serde(default)]
    ak_certificate: Option<String>,
    #[serde(default)]
    ak_intermediates: Vec<String>,
    pcrs: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    event_log: Option<String>,
    #[serde(default)]
    nonce: Option<Value>,
    #[serde(default, rename = "draftPolicyForAttestation")]
    draft_policy: Option<String>,
}

fn bytes(name: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    b64_lenient(s)
        .map_err(|e| ApiError::invalid_parameter(format!("'{name}' is not base64url: {e}")))
}

fn bank(name: &str) -> Result<u16, ApiError> {
    use attesta_evidence::tpm::structures::*;
    match name.to_ascii_lowercase().as_str() {
        "sha1" => Ok(TPM_ALG_SHA1),
        "sha256" => Ok(TPM_ALG_SHA256),
        "sha384" => Ok(TPM_ALG_SHA384),
        "sha512" => Ok(TPM_ALG_SHA512),
        other => Err(ApiError::invalid_parameter(format!(
            "unknown PCR bank '{other}'"
        ))),
    }
}

/// `GET /attest/{type}`: only `Tpm:challenge` exists.
pub async fn challenge(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
) -> Result<Json<Value>, ApiError> {
    let raw = path_param(&params, "attestation_type").unwrap_or_default();
    if !raw.eq_ignore_ascii_case("Tpm:challenge") {
        return Err(ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "attestation is a POST; GET exists only for /attest/Tpm:challenge",
        ));
    }
    let (challenge, context) =
        crate::tpm::new_challenge(&state.tpm_context, ctx.name(), UnixTime::now().0)?;
    Ok(Json(
        json!({ "challenge": challenge, "service_context": context }),
    ))
}

/// Policy settings for TPM verification from configuration rules.
fn settings(config: &Map<String, Value>) -> TpmSettings {
    let mut s = TpmSettings::default();
    if let Some(v) = config
        .get("require_valid_aik_cert")
        .and_then(Value::as_bool)
    {
        s.require_valid_aik_cert = v;
    }
    if let Some(v) = config.get("required_pcr_mask").and_then(Value::as_u64) {
        s.required_pcr_mask = v;
    }
    s
}

/// `POST /attest/Tpm:quote`.
pub async fn quote(
    state: AppState,
    ctx: ProviderCtx,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: OneShot = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid_parameter(format!("the body is not a TPM quote request: {e}"))
    })?;
    let now = UnixTime::now();
    let challenge_b64 = crate::tpm::open_context(
        &state.tpm_context,
        ctx.name(),
        &json!({ "service_context": req.service_context }),
        now.0,
    )?;
    if let Some(c) = &req.challenge
        && c != &challenge_b64
    {
        return Err(ApiError::invalid_parameter(
            "'challenge' is not the one sealed in 'service_context'",
        )
        .with_inner("TpmProtocolError"));
    }
    let challenge = bytes("challenge", &challenge_b64)?;

    let policy = resolve_policy(
        &state,
        &ctx,
        AttestationType::Tpm,
        req.draft_policy.as_deref(),
    )
    .await?;
    let config = policy
        .compiled
        .configuration_properties(&[])
        .map_err(policy_error)?;

    let quotes: Vec<(Vec<u8>, Vec<u8>)> = req
        .quotes
        .iter()
        .map(|q| {
            Ok((
                bytes("attest", &q.attest)?,
                bytes("signature", &q.signature)?,
            ))
        })
        .collect::<Result<_, ApiError>>()?;
    let ak_public = bytes("ak_public", &req.ak_public)?;
    let ak_cert = req
        .ak_certificate
        .as_deref()
        .map(|c| bytes("ak_certificate", c))
        .transpose()?;
    let intermediates = req
        .ak_intermediates
        .iter()
        .map(|c| bytes("ak_intermediates", c))
        .collect::<Result<Vec<_>, _>>()?;
    let log = req
        .event_log
        .as_deref()
        .map(|l| bytes("event_log", l))
        .transpose()?;
    let mut pcrs: Pcrs = Default::default();
    for (name, values) in &req.pcrs {
        let b = bank(name)?;
        for (idx, hexv) in values {
            let i: u32 = idx
                .parse()
                .map_err(|_| ApiError::invalid_parameter(format!("'{idx}' is not a PCR index")))?;
            let v = hex::decode(hexv)
                .map_err(|_| ApiError::invalid_parameter(format!("PCR {name}/{idx} is not hex")))?;
            pcrs.entry(b).or_default().insert(i, v);
        }
    }
    let evidence = TpmEvidence {
        quotes: quotes
            .iter()
            .map(|(a, s)| QuoteParts {
                attest: a,
                signature: s,
            })
            .collect(),
        ak_public: &ak_public,
        ak_cert: ak_cert.as_deref(),
        intermediates,
        pcrs,
        event_log: log.as_deref(),
    };
    let pcfg = ProviderConfig::of(&ctx.record)?;
    let (at, pinned) = pcfg.time(now)?;
    let roots = pcfg.roots(TrustRoots::empty(), RootKind::Tpm)?;
    let verified =
        attesta_evidence::tpm::verify(&evidence, &challenge, &roots, &settings(&config), at)
            .map_err(|e| ApiError::evidence(e.code(), &e))?;

    let mut incoming_map = verified.claims().into_map();
    incoming_map.insert(
        "x-ms-attestation-type".into(),
        json!(AttestationType::Tpm.claim_value()),
    );
    let incoming = attesta_policy::incoming_claims(&incoming_map, &Map::new());
    let evaluation = policy.compiled.evaluate(&incoming).map_err(policy_error)?;

    // Service-emitted claims in the token: the type and Attesta's own.
    let mut service: Map<String, Value> = incoming_map
        .into_iter()
        .filter(|(k, _)| k == "x-ms-attestation-type" || k.starts_with("x-attesta-"))
        .collect();
    if pinned {
        service.insert("x-attesta-verification-time".into(), json!(at.0));
    }
    let minutes = evaluation
        .properties
        .get("report_validity_in_minutes")
        .and_then(Value::as_u64)
        .unwrap_or(1440)
        .clamp(1, 525_600);
    let omit_x5c = evaluation
        .properties
        .get("omit_x5c")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let token = issue_token(
        &state,
        &ctx,
        &policy,
        service,
        evaluation.outgoing,
        req.nonce,
        TokenShape {
            lifetime_secs: minutes * 60,
            include_x5c: !omit_x5c,
        },
    );
    Ok(Json(json!({ "token": token })))
}
