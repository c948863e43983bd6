//! `POST /attest/{type}`: the whole attestation flow, in order:
//!
//! request bytes → decode → verify (collateral, roots, time) → bind runtime
//! and init-time data → incoming claims → policy → outgoing claims → signed
//! token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::codec::{b64_lenient, b64url};
use crate::error::ApiError;
use crate::evidence::AttestInput;
use crate::provider::ProviderCtx;
use crate::state::AppState;
use crate::tokens;
use attesta_evidence::binding;
use attesta_evidence::{AttestationType, ErrorCode, UnixTime};

/// `RuntimeData` / `InitTimeData`.
#[derive(Debug, Deserialize)]
struct DataParam {
    data: Option<String>,
    #[serde(rename = "dataType")]
    data_type: Option<String>,
}

/// The MAA attest body (SgxEnclave, OpenEnclave, SevSnpVm, TdxVm).
#[derive(Debug, Deserialize)]
struct AttestBody {
    #[serde(alias = "Quote")]
    quote: Option<String>,
    report: Option<String>,
    #[serde(rename = "runtimeData")]
    runtime_data: Option<DataParam>,
    #[serde(rename = "initTimeData")]
    init_time_data: Option<DataParam>,
    #[serde(
        rename = "draftPolicyForAttestation",
        alias = "DraftPolicyForAttestation"
    )]
    draft_policy: Option<String>,
    nonce: Option<Value>,
    /// 2018-09-01-preview name of binary runtime data.
    #[serde(rename = "EnclaveHeldData")]
    enclave_held_data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataType {
    Binary,
    Json,
}

struct Data {
    bytes: Vec<u8>,
    kind: DataType,
}

fn decode_data(name: &str, p: Option<DataParam>) -> Result<Option<Data>, ApiError> {
    let Some(p) = p else { return Ok(None) };
    // Microsoft's Python client sends `{"dataType":"JSON"}` without `data`
    // for inittime_json; there is nothing to bind then.
    let Some(data) = p.data else { return Ok(None) };
    let bytes = b64_lenient(&data)
        .map_err(|e| ApiError::invalid_parameter(format!("{name}.data is not base64url: {e}")))?;
    let kind = match p.data_type.as_deref() {
        None => DataType::Binary,
        Some(t) if t.eq_ignore_ascii_case("binary") => DataType::Binary,
        Some(t) if t.eq_ignore_ascii_case("json") => DataType::Json,
        Some(t) => {
            return Err(ApiError::invalid_parameter(format!(
                "{name}.dataType '{t}' is not supported; use Binary or JSON"
            )));
        }
    };
    Ok(Some(Data { bytes, kind }))
}

fn parse_json_data(name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "{name} has dataType JSON but is not valid JSON: {e}"
        ))
    })
}

pub(crate) fn path_param(params: &RawPathParams, name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Parse the `{attestation_type}` segment, case-insensitively.
pub(crate) fn attestation_type(params: &RawPathParams) -> Result<AttestationType, ApiError> {
    let raw = path_param(params, "attestation_type").unwrap_or_default();
    raw.parse::<AttestationType>()
        .map_err(|e| ApiError::not_found(e.to_string()))
}

/// `POST /attest/{type}`.
pub async fn attest(
    State(state): State<AppState>,
    ctx: ProviderCtx,
    params: RawPathParams,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    crate::metrics::note_provider(ctx.name());
    let raw_type = path_param(&params, "attestation_type").unwrap_or_default();
    if raw_type.eq_ignore_ascii_case("Tpm:quote") {
        return crate::routes::tpm::quote(state, ctx, body).await;
    }
    let decode_started = std::time::Instant::now();
    let ty = attestation_type(&params)?;
    if ty == AttestationType::Tpm {
        // The TPM protocol has its own `{"data": …}` envelope.
        let message = crate::tpm::decode_envelope(&body)?;
        if let Some(request) = message
            .get("payload")
            .and_then(|p| p.get("request"))
            .and_then(Value::as_str)
        {
            let reply = crate::routes::tpm::maa_request(&state, &ctx, request).await?;
            return Ok(Json(crate::tpm::encode_envelope(&reply)));
        }
        let reply =
            crate::tpm::handle_init(&state.tpm_context, ctx.name(), &message, UnixTime::now().0)?;
        return Ok(Json(crate::tpm::encode_envelope(&reply)));
    }
    if ty == AttestationType::AzureGuest {
        // Its own request document and a sealed response.
        return crate::azure_guest::attest(state, ctx, body).await;
    }

    // Decode.
    let body_json: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid_parameter(format!("the request body is not valid JSON: {e}"))
    })?;
    let req: AttestBody = serde_json::from_value(body_json.clone()).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "the request body does not match the {ty} request: {e}"
        ))
    })?;
    let member = match ty {
        AttestationType::SgxEnclave | AttestationType::TdxVm => ("quote", req.quote.as_deref()),
        _ => ("report", req.report.as_deref()),
    };
    let evidence_b64 = member.1.ok_or_else(|| {
        ApiError::invalid_parameter(format!("the request has no '{}' member", member.0))
    })?;
    let evidence = b64_lenient(evidence_b64).map_err(|e| {
        ApiError::invalid_parameter(format!("'{}' is not base64url: {e}", member.0))
    })?;
    let mut runtime = decode_data("runtimeData", req.runtime_data)?;
    if runtime.is_none()
        && let Some(ehd) = req.enclave_held_data.as_deref()
    {
        let bytes = b64_lenient(ehd).map_err(|e| {
            ApiError::invalid_parameter(format!("EnclaveHeldData is not base64url: {e}"))
        })?;
        runtime = Some(Data {
            bytes,
            kind: DataType::Binary,
        });
    }
    let init = decode_data("initTimeData", req.init_time_data)?;
    let draft = req.draft_policy;
    // The body is well-formed; only now does it matter whether this build
    // can verify the type.
    let Some(verifier) = state.verifiers.get(ty) else {
        return Err(ApiError::not_implemented(format!(
            "{ty} attestation is not available in this build of Attesta yet"
        )));
    };

    crate::metrics::stage("decode", decode_started);

    // Verify, at the request's time.
    let at = UnixTime::now();
    let input = AttestInput {
        evidence,
        body: body_json,
    };
    let verify_started = std::time::Instant::now();
    let verified = verifier.verify(&ctx.record, &input, at).await?;
    crate::metrics::stage("verify", verify_started);
    if let Some(status) = verified
        .claims
        .get("x-attesta-tcb-status")
        .and_then(Value::as_str)
    {
        crate::metrics::note_tcb_status(status);
    }

    // Bind caller data to the report.
    let mut service = verified.claims.clone().into_map();
    if let Some(rt) = &runtime {
        binding::check_runtime_data(&verified.report_data, &rt.bytes).map_err(binding_error)?;
        match rt.kind {
            DataType::Json => {
                service.insert(
                    "x-ms-runtime".into(),
                    parse_json_data("runtimeData", &rt.bytes)?,
                );
            }
            DataType::Binary => {
                if matches!(
                    ty,
                    AttestationType::SgxEnclave | AttestationType::OpenEnclave
                ) {
                    let ehd = b64url(&rt.bytes);
                    service.insert("x-ms-sgx-ehd".into(), json!(ehd));
                    // Deprecated aliases still read by older relying parties.
                    service.insert("maa-ehd".into(), json!(ehd));
                    service.insert("aas-ehd".into(), json!(ehd));
                }
            }
        }
    }
    if let Some(it) = &init {
        binding::check_init_time_data(verified.init_data.as_deref(), &it.bytes)
            .map_err(binding_error)?;
        if it.kind == DataType::Json {
            service.insert(
                "x-ms-inittime".into(),
                parse_json_data("initTimeData", &it.bytes)?,
            );
        }
    }
    service.insert("x-ms-attestation-type".into(), json!(ty.claim_value()));

    let policy_started = std::time::Instant::now();
    let policy = resolve_policy(&state, &ctx, ty, draft.as_deref()).await?;
    let mut incoming = attesta_policy::incoming_claims(&service, &Map::new());
    if matches!(
        ty,
        AttestationType::SgxEnclave | AttestationType::OpenEnclave
    ) {
        incoming.extend(attesta_policy::incoming_claims(
            &legacy_sgx_claims(&service),
            &Map::new(),
        ));
    }
    if matches!(
        ty,
        AttestationType::SgxEnclave | AttestationType::OpenEnclave
    ) {
        let config;
        (config, incoming) = state
            .policy_configuration(ctx.name(), &policy.compiled, incoming)
            .await?;
        crate::dcap::check_tcb_baseline(&config, &service)?;
    }
    let evaluation = state
        .evaluate_policy(ctx.name(), &policy.compiled, incoming)
        .await?;
    crate::metrics::stage("policy", policy_started);
    let sign_started = std::time::Instant::now();
    let token = issue_token(
        &state,
        &ctx,
        &policy,
        service,
        evaluation.outgoing,
        req.nonce,
        TokenShape {
            lifetime_secs: state.config.token_lifetime_secs,
            cert: attesta_token::jwt::CertHeader::None,
        },
    )?;
    crate::metrics::stage("sign", sign_started);
    Ok(Json(json!({ "token": token })))
}

/// The deprecated incoming SGX claim names older MAA policies use (reference
/// §2.3: `$is-debuggable`, `$product-id`, `$sgx-mrsigner`, `$sgx-mrenclave`,
/// `$svn`, `$tee`, `$maa-ehd`, `$aas-ehd`, `$maa-attestationcollateral`).
/// They are visible to policy only; the token keeps the current names.
fn legacy_sgx_claims(service: &Map<String, Value>) -> Map<String, Value> {
    const ALIASES: [(&str, &str); 9] = [
        ("x-ms-sgx-is-debuggable", "$is-debuggable"),
        ("x-ms-sgx-product-id", "$product-id"),
        ("x-ms-sgx-mrsigner", "$sgx-mrsigner"),
        ("x-ms-sgx-mrenclave", "$sgx-mrenclave"),
        ("x-ms-sgx-svn", "$svn"),
        ("x-ms-attestation-type", "$tee"),
        ("x-ms-sgx-ehd", "$maa-ehd"),
        ("x-ms-sgx-ehd", "$aas-ehd"),
        ("x-ms-sgx-collateral", "$maa-attestationcollateral"),
    ];
    ALIASES
        .iter()
        .filter_map(|(current, legacy)| {
            service
                .get(*current)
                .map(|v| (legacy.to_string(), v.clone()))
        })
        .collect()
}

/// The policy an attestation is judged by.
pub(crate) struct PolicyInUse {
    pub compiled: attesta_policy::CompiledPolicy,
    pub hash: String,
    pub signer: Option<Value>,
    /// A draft policy: the token is unsecured.
    pub draft: bool,
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
        Some(text) => Ok(PolicyInUse {
            compiled: state.compile_policy(ctx.name(), text).await?,
            hash: attesta_policy::policy_hash(text),
            signer: None,
            draft: true,
        }),
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

fn binding_error(e: binding::BindingError) -> ApiError {
    ApiError::evidence(e.code(), &e)
}

pub(crate) fn policy_error(e: attesta_policy::PolicyError) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, e.code, e.to_string())
}
