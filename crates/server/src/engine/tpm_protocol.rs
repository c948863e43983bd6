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

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::codec::b64_lenient;
use crate::engine::request::TpmQuoteRequest;
use crate::engine::token::{TokenShape, issue_token, resolve_policy};
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::provider_config::ProviderConfig;
use crate::state::AppState;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::verify::BootEvidence;
use attesta_evidence::tpm::{Pcrs, QuoteParts, TpmEvidence, TpmSettings, TpmVerified};
use attesta_evidence::{AttestationType, ErrorCode, UnixTime};

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

/// `GET /attest/Tpm:challenge`: a fresh challenge and its sealed
/// `service_context`.
pub(crate) fn challenge(state: &AppState, ctx: &ProviderCtx) -> Result<Value, ApiError> {
    let (challenge, context) =
        crate::tpm::new_challenge(&state.tpm_context, ctx.name(), UnixTime::now().0)?;
    Ok(json!({ "challenge": challenge, "service_context": context }))
}

/// A message of the MAA TPM protocol: a request (`payload.request`, a JWS)
/// is verified; anything else is an init message answered with a
/// challenge. The reply goes back in the `{"data": …}` envelope.
pub(crate) async fn message(
    state: &AppState,
    ctx: &ProviderCtx,
    message: &Value,
) -> Result<Value, ApiError> {
    let reply = match message
        .get("payload")
        .and_then(|p| p.get("request"))
        .and_then(Value::as_str)
    {
        Some(request) => maa_request(state, ctx, request).await?,
        None => {
            crate::tpm::handle_init(&state.tpm_context, ctx.name(), message, UnixTime::now().0)?
        }
    };
    Ok(crate::tpm::encode_envelope(&reply))
}

/// The token's lifetime (`report_validity_in_minutes`, default one day, at
/// most one year) and header (`x5c` unless `omit_x5c`), from property claims.
fn token_shape(properties: &Map<String, Value>) -> TokenShape {
    let minutes = properties
        .get("report_validity_in_minutes")
        .and_then(Value::as_u64)
        .unwrap_or(1440)
        .clamp(1, 525_600);
    let omit_x5c = properties
        .get("omit_x5c")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    TokenShape {
        lifetime_secs: minutes * 60,
        // TPM tokens carry the signing certificate; `omit_x5c` puts its
        // SHA-1 thumbprint (`x5t`) there instead (reference §2.4).
        cert: if omit_x5c {
            attesta_token::jwt::CertHeader::X5t
        } else {
            attesta_token::jwt::CertHeader::X5c
        },
    }
}

/// The service-emitted claims of a TPM token: the attestation type and
/// Attesta's own; evidence claims stay incoming (the policy issues what the
/// token says, as MAA's TPM tokens do).
fn service_claims(incoming: Map<String, Value>) -> Map<String, Value> {
    incoming
        .into_iter()
        .filter(|(k, _)| {
            k == attesta_evidence::claims::names::ATTESTATION_TYPE || k.starts_with("x-attesta-")
        })
        .collect()
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
pub(crate) async fn quote(
    state: &AppState,
    ctx: &ProviderCtx,
    req: TpmQuoteRequest,
) -> Result<Value, ApiError> {
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
    // The policy configures verification, so it is resolved before the
    // quote is checked, but after the cheap checks (sealed challenge, field
    // decoding): a draft policy costs a compile on the policy pool.
    let policy = resolve_policy(
        state,
        ctx,
        AttestationType::Tpm,
        req.draft_policy.as_deref(),
    )
    .await?;
    let (config, _) = state
        .policy_configuration(&policy.lane, &policy.compiled, Vec::new())
        .await?;
    let evidence = TpmEvidence {
        quotes: quotes
            .iter()
            .map(|(a, s)| QuoteParts {
                attest: a,
                signature: s,
            })
            .collect(),
        ak_public: attesta_evidence::tpm::AkPublic::Tpmt(&ak_public),
        ak_cert: ak_cert.as_deref(),
        intermediates,
        pcrs,
        event_log: log.as_deref(),
    };
    let Checked {
        incoming: incoming_map,
        at,
        pinned,
        ..
    } = check(
        state,
        ctx,
        &policy.compiled,
        &settings(&config),
        &evidence,
        None,
        &challenge,
        now,
    )?;
    let incoming = attesta_policy::incoming_claims(&incoming_map, &Map::new());
    let evaluation = state
        .evaluate_policy(&policy.lane, &policy.compiled, incoming)
        .await?;

    // Service-emitted claims in the token: the type and Attesta's own.
    let mut service = service_claims(incoming_map);
    if pinned {
        service.insert("x-attesta-verification-time".into(), json!(at.0));
    }
    let token = issue_token(
        state,
        ctx,
        &policy,
        service,
        evaluation.outgoing,
        req.nonce,
        token_shape(&evaluation.properties),
    )?;
    Ok(json!({ "token": token }))
}

/// One request's TPM evidence, verified for its provider, and the incoming
/// claims of it the provider's policy can read.
pub(crate) struct Checked {
    pub verified: TpmVerified,
    pub incoming: Map<String, Value>,
    pub at: UnixTime,
    /// The verification time is the provider's pinned one.
    pub pinned: bool,
}

/// The checks both TPM requests share: the evidence at the provider's
/// verification time against its TPM roots (AK chains remembered per
/// certificate set), its trusted AKs (`tpm_trusted_aks`), the boot
/// attestation of a resumed machine when one was sent; then the incoming
/// claims, with the log's events rendered only if the policy can read them.
#[allow(clippy::too_many_arguments)]
fn check(
    state: &AppState,
    ctx: &ProviderCtx,
    policy: &attesta_policy::CompiledPolicy,
    settings: &TpmSettings,
    evidence: &TpmEvidence<'_>,
    boot: Option<&BootEvidence<'_>>,
    nonce: &[u8],
    now: UnixTime,
) -> Result<Checked, ApiError> {
    let pcfg = ProviderConfig::of(&ctx.record)?;
    check_evidence(
        &state.tpm_chains,
        &pcfg,
        &|name| policy.may_read_claim(name),
        settings,
        evidence,
        boot,
        nonce,
        now,
    )
}

/// [`check`] without the server: the AK chain cache, the provider's
/// configuration and which claims the reader (a policy, or `attesta
/// verify`, which reads them all) may read. `attesta verify tpm` runs this.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_evidence(
    chains: &crate::cache::VersionCache<attesta_evidence::tpm::VerifiedAkChain>,
    pcfg: &ProviderConfig,
    may_read: &dyn Fn(&str) -> bool,
    settings: &TpmSettings,
    evidence: &TpmEvidence<'_>,
    boot: Option<&BootEvidence<'_>>,
    nonce: &[u8],
    now: UnixTime,
) -> Result<Checked, ApiError> {
    let evidence_error = |e: attesta_evidence::tpm::TpmError| ApiError::evidence(e.code(), &e);
    let (at, pinned) = pcfg.time(now)?;
    let roots = pcfg.roots(TrustRoots::empty(), RootKind::Tpm)?;
    let mut verified = crate::tpm::verify_cached(
        chains,
        evidence,
        nonce,
        &roots,
        settings,
        &pcfg.tpm_options(),
        at,
    )
    .map_err(evidence_error)?;
    let ak_trusted_by_config = crate::tpm::check_trusted_ak(pcfg, &verified)?;
    if let Some(boot) = boot {
        verified.verify_boot(boot).map_err(evidence_error)?;
    }
    let mut incoming = verified.claims_where(may_read).into_map();
    incoming.insert(
        attesta_evidence::claims::names::ATTESTATION_TYPE.into(),
        json!(AttestationType::Tpm.claim_value()),
    );
    if ak_trusted_by_config {
        incoming.insert("x-attesta-ak-trusted-by-configuration".into(), json!(true));
    }
    Ok(Checked {
        verified,
        incoming,
        at,
        pinned,
    })
}

/// The request key object of a v2 request (`request_key`), with its JWK
/// kept as the exact text received (the key binding hashes it).
#[derive(Debug, Deserialize)]
struct KeyObject {
    jwk: Box<serde_json::value::RawValue>,
    #[serde(default)]
    info: Option<Value>,
}

/// A member of the request payload, at its root or inside `att_data`.
fn member<'a>(payload: &'a Value, name: &str) -> Option<&'a Value> {
    payload
        .get(name)
        .or_else(|| payload.get("att_data").and_then(|a| a.get(name)))
}

/// A request field: for a VBS request only from `report_signed` (what the
/// enclave report binds), otherwise from the payload ([`member`]).
fn field<'a>(payload: &'a Value, vbs: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    match vbs {
        Some(signed) => signed.get(name),
        None => member(payload, name),
    }
}

fn tpm_error(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter(message).with_inner("TpmProtocolError")
}

/// Digest bytes sent as hex or base64url.
fn digest_bytes(s: &str) -> Result<Vec<u8>, ApiError> {
    if s.len().is_multiple_of(2) && s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).map_err(|_| tpm_error("a PCR digest is not hex"));
    }
    b64_lenient(s).map_err(|_| tpm_error("a PCR digest is neither hex nor base64url"))
}

/// One attestation of a request's `tpm_att_data`: in v2
/// `current_attestation` or `boot_attestation`, `{logs: [{type, log}],
/// aik_cert, aik_pub (JWK), pcrs: [{algorithm, values: [{index, digest}]}],
/// quote, signature}`; in v1 `current_claim` or `boot_claim`, a Windows
/// platform attestation blob beside `aik_cert` and `aik_pub`.
struct Attestation {
    quote: Vec<u8>,
    signature: Vec<u8>,
    aik_pub: Option<Value>,
    aik_cert: Option<Vec<u8>>,
    pcrs: Pcrs,
    /// The TCG log (an IMA log, if sent, is not replayed).
    log: Option<Vec<u8>>,
}

impl Attestation {
    /// A v1 platform claim (`current_claim` or `boot_claim`): the blob's
    /// quote, its raw RSASSA/SHA-256 signature, its 24 PCR values and log.
    fn decode_v1(tpm_att: &Value, claim: &str) -> Result<Self, ApiError> {
        let blob = bytes(
            claim,
            tpm_att
                .get(claim)
                .and_then(Value::as_str)
                .ok_or_else(|| tpm_error(format!("{claim} is not a string")))?,
        )?;
        let parsed = attesta_evidence::tpm::pcp::PlatformAttestation::parse(&blob)
            .map_err(|e| ApiError::evidence(e.code(), &e))?;
        let aik_cert = tpm_att
            .get("aik_cert")
            .and_then(Value::as_str)
            .map(|c| bytes("aik_cert", c))
            .transpose()?;
        Ok(Self {
            quote: parsed.quote.to_vec(),
            signature: parsed.rsassa_signature(),
            aik_pub: tpm_att.get("aik_pub").cloned(),
            aik_cert,
            pcrs: parsed.pcrs(),
            log: (!parsed.log.is_empty()).then(|| parsed.log.to_vec()),
        })
    }

    fn decode(v: &Value) -> Result<Self, ApiError> {
        let s = |name: &str| v.get(name).and_then(Value::as_str);
        let quote = bytes("quote", s("quote").ok_or_else(|| tpm_error("no quote"))?)?;
        let signature = bytes(
            "signature",
            s("signature").ok_or_else(|| tpm_error("no signature"))?,
        )?;
        let aik_cert = s("aik_cert").map(|c| bytes("aik_cert", c)).transpose()?;
        // pcrs: [{algorithm, values: [{index, digest}]}]
        let number = |v: &Value, name: &str| v.get(name).and_then(Value::as_u64);
        let mut pcrs: Pcrs = Default::default();
        for bank_entry in json_list(v, "pcrs") {
            let alg = number(bank_entry, "algorithm")
                .and_then(|a| u16::try_from(a).ok())
                .ok_or_else(|| tpm_error("a pcrs entry has no algorithm"))?;
            for pv in json_list(bank_entry, "values") {
                let idx = number(pv, "index")
                    .and_then(|i| u32::try_from(i).ok())
                    .ok_or_else(|| tpm_error("a PCR value has no index"))?;
                let digest =
                    digest_bytes(pv.get("digest").and_then(Value::as_str).unwrap_or_default())?;
                pcrs.entry(alg).or_default().insert(idx, digest);
            }
        }
        let log = v
            .get("logs")
            .and_then(Value::as_array)
            .and_then(|logs| {
                logs.iter()
                    .find(|l| l.get("type").and_then(Value::as_str) == Some("TCG"))
            })
            .and_then(|l| l.get("log").and_then(Value::as_str))
            .map(|l| bytes("log", l))
            .transpose()?;
        Ok(Self {
            quote,
            signature,
            aik_pub: v.get("aik_pub").cloned(),
            aik_cert,
            pcrs,
            log,
        })
    }
}

/// The array member `name` of `v`, or nothing.
fn json_list<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// At most this many `other_keys` (reference §4.3).
const MAX_OTHER_KEYS: usize = 2;

/// A key object (`request_key` or an `other_keys` entry) as policies see it
/// (reference §4.3): the JWK unchanged and its `info` — empty for an unbound
/// key, `tpm_quote` as sent (the quote's qualifyingData already proved it),
/// or `tpm_certify` replaced by the certified object's `name_alg`,
/// `obj_attr` and `auth_policy` after checking that the verified AK
/// certified exactly this key over the challenge. `tpm_quote` binding is
/// only allowed for the request key.
fn key_object(
    verified: &attesta_evidence::tpm::TpmVerified,
    jwk: &Value,
    info: Option<&Value>,
    challenge: &[u8],
    is_request_key: bool,
) -> Result<Value, ApiError> {
    let info = match info {
        None | Some(Value::Null) => return Ok(json!({ "jwk": jwk, "info": {} })),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(tpm_error("a key object's info is not a JSON object")),
    };
    if info.is_empty() {
        return Ok(json!({ "jwk": jwk, "info": {} }));
    }
    if info.len() > 1 {
        return Err(tpm_error(
            "a key object's info names more than one key binding",
        ));
    }
    if let Some(q) = info.get("tpm_quote") {
        if !is_request_key {
            return Err(tpm_error(
                "tpm_quote key binding is only allowed for the request key, not in other_keys",
            ));
        }
        return Ok(json!({ "jwk": jwk, "info": { "tpm_quote": q } }));
    }
    if let Some(c) = info.get("tpm_certify") {
        let field = |name: &str| -> Result<Vec<u8>, ApiError> {
            let s = c
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| tpm_error(format!("tpm_certify has no '{name}'")))?;
            bytes(name, s)
        };
        let public = field("public")?;
        let certification = field("certification")?;
        let signature = field("signature")?;
        let certified = verified
            .certify(
                &attesta_evidence::tpm::CertifyParts {
                    public: &public,
                    certification: &certification,
                    signature: &signature,
                },
                challenge,
            )
            .map_err(|e| ApiError::evidence(e.code(), &e))?;
        let key = attesta_evidence::tpm::structures::PublicKey::from_jwk(jwk).map_err(tpm_error)?;
        if !certified.key.same_key(&key) {
            return Err(ApiError::evidence(
                "CertifiedKeyMismatch",
                "the key the TPM certified (tpm_certify.public) is not the key in the jwk",
            ));
        }
        return Ok(json!({
            "jwk": jwk,
            "info": { "tpm_certify": {
                "name_alg": certified.name_alg,
                "obj_attr": certified.object_attributes,
                "auth_policy": crate::codec::b64url(&certified.auth_policy),
            }},
        }));
    }
    let name = info.keys().next().cloned().unwrap_or_default();
    Err(ApiError::not_implemented(format!(
        "key binding '{name}' is not supported; use tpm_quote, tpm_certify or none"
    )))
}

/// `{"payload": {"request": JWS}}` of the MAA TPM protocol (reference §4.3,
/// request message v1 and v2), answered with `{"payload": {"report": JWT}}`.
///
/// Supported: `att_type` `basic`; the JWS signed (PS256 or RS256) by the
/// request key (`request_key.jwk` in v2, `attest_key` in v1); key binding by
/// `tpm_quote` (qualifyingData = SHA-256(JWK text as sent ‖ 0x00 ‖
/// challenge)), `tpm_certify` (a TPM2_Certify of the key by the AK over the
/// challenge; the quote's qualifyingData is then the challenge) or none;
/// up to two `other_keys` (unbound or `tpm_certify`); `custom_claims` (as
/// `CustomClaim`s); `rp_data` and `rp_id`; v2's `boot_attestation` and v1's
/// `current_claim`/`boot_claim` platform attestation blobs (SHA-256-signed
/// only). `att_type` `vbs` (reference §4.3): every field read from
/// `att_data.report_signed`, the TPM part verified as for `basic`, then the
/// enclave's report (`vsm_report`) against the VSM signing key the verified
/// boot log records and bound to `report_signed` (`crate::tpm::VbsRequest`);
/// its claims (`enclaveAuthorId`, `enclaveSvn`, …, `vbsReportPresent`) are
/// incoming claims for the policy, and the enclave's key (v1 `attest_key`,
/// v2 `request_key`) is bound by the report, so the token confirms it (`cnf`).
pub async fn maa_request(
    state: &AppState,
    ctx: &ProviderCtx,
    request: &str,
) -> Result<Value, ApiError> {
    let jws = attesta_token::jws::parse_jws(request)
        .map_err(|e| tpm_error(format!("the request is not a JWS: {e}")))?;
    let alg = jws
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let typ = jws
        .header
        .get("typ")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let payload: Value = serde_json::from_slice(&jws.payload)
        .map_err(|e| tpm_error(format!("the request payload is not JSON: {e}")))?;
    let now = UnixTime::now();
    let vbs = match member(&payload, "att_type").and_then(Value::as_str) {
        Some("basic") | None => None,
        Some("vbs") => Some(crate::tpm::VbsRequest::from_payload(&jws.payload)?),
        Some(other) => {
            return Err(ApiError::not_implemented(format!(
                "TPM att_type '{other}' is not supported; use basic or vbs"
            )));
        }
    };
    let signed = vbs.as_ref().map(|v| &v.report_signed);
    let context = field(&payload, signed, "service_context")
        .cloned()
        .unwrap_or(Value::Null);
    let challenge_b64 = crate::tpm::open_context(
        &state.tpm_context,
        ctx.name(),
        &json!({ "service_context": context }),
        now.0,
    )?;
    if field(&payload, signed, "challenge").and_then(Value::as_str) != Some(challenge_b64.as_str())
    {
        return Err(tpm_error(
            "the request's challenge is not the one issued with its service_context",
        ));
    }
    let challenge = bytes("challenge", &challenge_b64)?;

    // The request key signs the JWS. v2: request_key {jwk, info}; v1: attest_key (a JWK).
    #[derive(Deserialize)]
    struct Keys {
        #[serde(default)]
        request_key: Option<KeyObject>,
        #[serde(default)]
        attest_key: Option<Box<serde_json::value::RawValue>>,
        #[serde(default)]
        att_data: Option<Box<serde_json::value::RawValue>>,
    }
    // A VBS request's keys are those in report_signed (the enclave's).
    let keys: Keys = match &vbs {
        Some(v) => serde_json::from_str(&v.report_signed_text),
        None => serde_json::from_slice(&jws.payload),
    }
    .map_err(|e| tpm_error(format!("request keys: {e}")))?;
    let inner_keys: Option<Keys> = keys
        .att_data
        .as_ref()
        .filter(|_| vbs.is_none())
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let (jwk_text, info) = match (keys.request_key, keys.attest_key, inner_keys) {
        (Some(k), _, _) => (k.jwk.get().to_string(), k.info),
        (None, Some(k), _) => (k.get().to_string(), None),
        (
            None,
            None,
            Some(Keys {
                request_key: Some(k),
                ..
            }),
        ) => (k.jwk.get().to_string(), k.info),
        (
            None,
            None,
            Some(Keys {
                attest_key: Some(k),
                ..
            }),
        ) => (k.get().to_string(), None),
        _ => {
            return Err(tpm_error(
                "the request has no request_key (v2) or attest_key (v1)",
            ));
        }
    };
    let jwk: Value =
        serde_json::from_str(&jwk_text).map_err(|e| tpm_error(format!("request key: {e}")))?;
    let request_key =
        attesta_evidence::tpm::structures::PublicKey::from_jwk(&jwk).map_err(tpm_error)?;
    let scheme = match (alg.as_str(), &request_key) {
        ("PS256", attesta_evidence::tpm::structures::PublicKey::Rsa { .. }) => {
            attesta_evidence::crypto::Scheme::RsaPssSha256
        }
        ("RS256", attesta_evidence::tpm::structures::PublicKey::Rsa { .. }) => {
            attesta_evidence::crypto::Scheme::RsaPkcs1Sha256
        }
        ("ES256", attesta_evidence::tpm::structures::PublicKey::Ecc { .. }) => {
            attesta_evidence::crypto::Scheme::EcdsaP256Sha256Fixed
        }
        (a, _) => {
            return Err(tpm_error(format!(
                "request JWS alg '{a}' does not fit the request key"
            )));
        }
    };
    let key_bytes = request_key
        .verification_key()
        .ok_or_else(|| tpm_error("unsupported request key"))?;
    attesta_evidence::crypto::verify(
        scheme,
        &key_bytes,
        jws.signing_input().as_bytes(),
        &jws.signature,
    )
    .map_err(|_| {
        ApiError::evidence(
            "RequestSignatureInvalid",
            "the request JWS is not signed by its request key",
        )
    })?;

    // Key binding decides what the quote's qualifyingData must be.
    let binding = info
        .as_ref()
        .and_then(|i| i.as_object())
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let nonce = if binding.iter().any(|k| k == "tpm_quote") {
        let mut input = jwk_text.as_bytes().to_vec();
        input.push(0);
        input.extend_from_slice(&challenge);
        attesta_evidence::crypto::sha256(&input).to_vec()
    } else {
        challenge.clone()
    };

    // The TPM evidence: the current attestation and, for a resumed
    // machine, the attestation of the boot it resumed from.
    let tpm_att = field(&payload, signed, "tpm_att_data")
        .ok_or_else(|| tpm_error("the request has no tpm_att_data"))?;
    let (mut current, mut boot) = if tpm_att.get("current_claim").is_some() {
        // v1: Windows platform attestation blobs.
        (
            Attestation::decode_v1(tpm_att, "current_claim")?,
            tpm_att
                .get("boot_claim")
                .filter(|b| !b.is_null())
                .map(|_| Attestation::decode_v1(tpm_att, "boot_claim"))
                .transpose()?,
        )
    } else {
        (
            Attestation::decode(tpm_att.get("current_attestation").unwrap_or(tpm_att))?,
            tpm_att
                .get("boot_attestation")
                .filter(|b| !b.is_null())
                .map(Attestation::decode)
                .transpose()?,
        )
    };
    let ak_pub = current
        .aik_pub
        .as_ref()
        .ok_or_else(|| tpm_error("no aik_pub"))?;
    let ak_key =
        attesta_evidence::tpm::structures::PublicKey::from_jwk(ak_pub).map_err(tpm_error)?;
    // The request key is the AK itself: the TPM holds it.
    let request_key_is_ak = request_key == ak_key;

    let policy = resolve_policy(state, ctx, AttestationType::Tpm, None).await?;
    let (config, _) = state
        .policy_configuration(&policy.lane, &policy.compiled, Vec::new())
        .await?;
    let evidence = TpmEvidence {
        quotes: vec![QuoteParts {
            attest: &current.quote,
            signature: &current.signature,
        }],
        ak_public: attesta_evidence::tpm::AkPublic::Key(ak_key),
        ak_cert: current.aik_cert.as_deref(),
        intermediates: Vec::new(),
        pcrs: std::mem::take(&mut current.pcrs),
        event_log: current.log.as_deref(),
    };
    let boot = boot.as_mut().map(|boot| BootEvidence {
        quotes: vec![QuoteParts {
            attest: &boot.quote,
            signature: &boot.signature,
        }],
        pcrs: std::mem::take(&mut boot.pcrs),
        event_log: boot.log.as_deref(),
    });
    let Checked {
        verified,
        incoming: mut incoming_map,
        at,
        pinned,
    } = check(
        state,
        ctx,
        &policy.compiled,
        &settings(&config),
        &evidence,
        boot.as_ref(),
        &nonce,
        now,
    )?;
    // The enclave report: signed by the VSM key the verified log records,
    // over report_signed (challenge, TPM evidence, the enclave's key).
    let vbs_claims = vbs.as_ref().map(|v| v.verify(&verified)).transpose()?;
    // `cnf` vouches that the TPM (or, for VBS, the attested enclave) holds
    // the request key: only a proven binding earns it (the quote over the
    // key, TPM2_Certify by the AK, the AK itself, or a verified VBS report
    // over report_signed, which holds the key). An unbound key (`info`
    // absent or empty, v1's `attest_key` without VBS) is refused rather
    // than confirmed.
    if !(request_key_is_ak
        || vbs_claims.is_some()
        || binding
            .iter()
            .any(|k| k == "tpm_quote" || k == "tpm_certify"))
    {
        return Err(ApiError::evidence(
            "RequestKeyNotBound",
            "the request key is not bound to the TPM, so the token could not confirm it (cnf): bind it with info.tpm_quote (the quote over the key) or info.tpm_certify (TPM2_Certify by the AK)",
        ));
    }
    let request_key_claim = key_object(&verified, &jwk, info.as_ref(), &challenge, true)?;
    incoming_map.insert("x-ms-tpm-request-key".into(), request_key_claim);
    if let Some(claims) = vbs_claims {
        incoming_map.extend(claims);
    }
    if let Some(others) = field(&payload, signed, "other_keys") {
        let list = others
            .as_array()
            .ok_or_else(|| tpm_error("other_keys is not an array"))?;
        if list.len() > MAX_OTHER_KEYS {
            return Err(tpm_error(format!(
                "other_keys holds {} keys; at most {MAX_OTHER_KEYS} are accepted",
                list.len()
            )));
        }
        let mut claims = Vec::with_capacity(list.len());
        for k in list {
            let jwk = k
                .get("jwk")
                .ok_or_else(|| tpm_error("an other_keys entry has no jwk"))?;
            claims.push(key_object(
                &verified,
                jwk,
                k.get("info"),
                &challenge,
                false,
            )?);
        }
        incoming_map.insert("x-ms-tpm-other-keys".into(), Value::Array(claims));
    }
    let mut custom = Map::new();
    for c in field(&payload, signed, "custom_claims")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        if let (Some(name), Some(value)) = (c.get("name").and_then(Value::as_str), c.get("value")) {
            custom.insert(name.to_string(), value.clone());
        }
    }
    // Attester-supplied claims keep issuer CustomClaim and may not take a
    // name the service vouches for (`aikValidated`, `secureBootEnabled`, …):
    // a condition written without `issuer==` must never match them.
    let incoming = attesta_policy::incoming_claims_checked(&incoming_map, &custom)
        .map_err(crate::engine::token::policy_error)?;
    let evaluation = state
        .evaluate_policy(&policy.lane, &policy.compiled, incoming)
        .await?;
    let mut service = service_claims(incoming_map);
    // RFC 7800 confirmation: the attested request key.
    service.insert("cnf".into(), json!({ "jwk": jwk }));
    if let Some(rp) = field(&payload, signed, "rp_data") {
        service.insert("rp_data".into(), rp.clone());
    }
    if pinned {
        service.insert("x-attesta-verification-time".into(), json!(at.0));
    }
    tracing::debug!(typ = %typ, "TPM request verified");
    let token = issue_token(
        state,
        ctx,
        &policy,
        service,
        evaluation.outgoing,
        None,
        token_shape(&evaluation.properties),
    )?;
    Ok(json!({ "payload": { "report": token } }))
}
