//! Typed, total decoding of every attest request body: any bytes give a
//! [`Request`] or an [`ApiError`] naming what is wrong, before anything is
//! verified (fuzz target `attest_request`).
//!
//! Which decoder runs depends only on the path's `{attestation_type}`
//! segment: the MAA body (`SgxEnclave`, `OpenEnclave`, `SevSnpVm`,
//! `TdxVm`), Attesta's one-round-trip TPM body (`Tpm:quote`), the MAA TPM
//! protocol's `{"data": …}` envelope (`Tpm`), and the Azure guest document
//! (`AzureGuest`, decoded by its own parser in the evidence crate, which
//! has its own fuzz target).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::codec::b64_lenient;
use crate::error::ApiError;
use attesta_evidence::AttestationType;

/// A decoded attest request.
#[derive(Debug)]
pub enum Request {
    /// The MAA attest body of an evidence type.
    Maa {
        ty: AttestationType,
        body: AttestRequest,
    },
    /// `POST /attest/Tpm:quote`.
    TpmQuote(Box<TpmQuoteRequest>),
    /// A message of the MAA TPM protocol (`POST /attest/Tpm`), the JSON
    /// inside its `{"data": …}` envelope.
    TpmProtocol(Value),
    /// `POST /attest/AzureGuest`: the raw document, parsed by
    /// `attesta_evidence::azure_cvm::request`.
    AzureGuest(Vec<u8>),
}

/// Whether runtime or init-time data is bytes or JSON (`dataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Binary,
    Json,
}

/// `runtimeData` / `initTimeData`, decoded.
#[derive(Debug, Clone)]
pub struct Data {
    pub bytes: Vec<u8>,
    pub kind: DataType,
}

/// The MAA attest body, decoded.
#[derive(Debug, Clone)]
pub struct AttestRequest {
    /// The evidence member (`quote` or `report`), decoded from base64url.
    pub evidence: Vec<u8>,
    pub runtime: Option<Data>,
    pub init: Option<Data>,
    /// `draftPolicyForAttestation`.
    pub draft_policy: Option<String>,
    /// `nonce`, echoed into the token.
    pub nonce: Option<Value>,
    /// The whole body, for types whose evidence member is structured.
    pub body: Value,
}

/// `RuntimeData` / `InitTimeData` on the wire.
#[derive(Debug, Deserialize)]
struct DataParam {
    data: Option<String>,
    #[serde(rename = "dataType")]
    data_type: Option<String>,
}

/// The MAA attest body on the wire.
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

/// One quote of a `Tpm:quote` request (base64url).
#[derive(Debug, Deserialize)]
pub struct TpmQuoteB64 {
    pub attest: String,
    pub signature: String,
}

/// The `Tpm:quote` body (see [`crate::engine::tpm_protocol`]); byte fields
/// stay base64url until the flow decodes them, naming the member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmQuoteRequest {
    pub service_context: String,
    #[serde(default)]
    pub challenge: Option<String>,
    pub quotes: Vec<TpmQuoteB64>,
    pub ak_public: String,
    #[serde(default)]
    pub ak_certificate: Option<String>,
    #[serde(default)]
    pub ak_intermediates: Vec<String>,
    pub pcrs: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub event_log: Option<String>,
    #[serde(default)]
    pub nonce: Option<Value>,
    #[serde(default, rename = "draftPolicyForAttestation")]
    pub draft_policy: Option<String>,
}

/// Decodes the body of `POST /attest/{raw_type}`.
///
/// An unknown type is 404 (the route does not exist); a body that does not
/// decode is 400 `InvalidParameter` (or `TpmProtocolError` for a TPM
/// protocol message that is not JSON).
pub fn decode(raw_type: &str, body: &[u8]) -> Result<Request, ApiError> {
    if raw_type.eq_ignore_ascii_case("Tpm:quote") {
        let req: TpmQuoteRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid_parameter(format!("the body is not a TPM quote request: {e}"))
        })?;
        return Ok(Request::TpmQuote(Box::new(req)));
    }
    let ty = raw_type
        .parse::<AttestationType>()
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    match ty {
        AttestationType::Tpm => Ok(Request::TpmProtocol(crate::tpm::decode_envelope(body)?)),
        AttestationType::AzureGuest => Ok(Request::AzureGuest(body.to_vec())),
        _ => Ok(Request::Maa {
            ty,
            body: decode_maa(ty, body)?,
        }),
    }
}

/// Decodes the MAA attest body of `ty`.
pub fn decode_maa(ty: AttestationType, body: &[u8]) -> Result<AttestRequest, ApiError> {
    let body_json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_parameter(format!("the request body is not valid JSON: {e}"))
    })?;
    let req = AttestBody::deserialize(&body_json).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "the request body does not match the {ty} request: {e}"
        ))
    })?;
    let (member, value) = match evidence_member(ty) {
        "quote" => ("quote", req.quote.as_deref()),
        _ => ("report", req.report.as_deref()),
    };
    let evidence_b64 = value.ok_or_else(|| {
        ApiError::invalid_parameter(format!("the request has no '{member}' member"))
    })?;
    let evidence = b64_lenient(evidence_b64)
        .map_err(|e| ApiError::invalid_parameter(format!("'{member}' is not base64url: {e}")))?;
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
    Ok(AttestRequest {
        evidence,
        runtime,
        init,
        draft_policy: req.draft_policy,
        nonce: req.nonce,
        body: body_json,
    })
}

/// The member of the MAA body that holds `ty`'s evidence.
pub fn evidence_member(ty: AttestationType) -> &'static str {
    match ty {
        AttestationType::SgxEnclave | AttestationType::TdxVm => "quote",
        _ => "report",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Request, ApiError>) -> (u16, String) {
        let e = r.expect_err("an error");
        (e.status.as_u16(), e.code.to_string())
    }

    #[test]
    fn each_type_gets_its_decoder() {
        let q = br#"{"quote":"AAEC","runtimeData":{"data":"eyJhIjoxfQ","dataType":"JSON"},"nonce":"n"}"#;
        match decode("sgxenclave", q).unwrap() {
            Request::Maa { ty, body } => {
                assert_eq!(ty, AttestationType::SgxEnclave);
                assert_eq!(body.evidence, [0, 1, 2]);
                let rt = body.runtime.unwrap();
                assert_eq!(
                    (rt.bytes.as_slice(), rt.kind),
                    (&b"{\"a\":1}"[..], DataType::Json)
                );
                assert_eq!(body.nonce, Some(Value::from("n")));
            }
            other => panic!("{other:?}"),
        }
        // SNP and OE take `report`; a quote member is not evidence for them.
        assert_eq!(
            code(decode("SevSnpVm", br#"{"quote":"AAEC"}"#)),
            (400, "InvalidParameter".into())
        );
        assert!(matches!(
            decode("AzureGuest", b"anything").unwrap(),
            Request::AzureGuest(b) if b == b"anything"
        ));
        assert!(matches!(
            decode("Tpm", br#"{"data":"eyJwYXlsb2FkIjp7fX0"}"#).unwrap(),
            Request::TpmProtocol(_)
        ));
        assert_eq!(code(decode("Nope", b"{}")), (404, "NotFound".into()));
    }

    #[test]
    fn enclave_held_data_is_binary_runtime_data() {
        let body = br#"{"Quote":"AAEC","EnclaveHeldData":"AQID"}"#;
        let Request::Maa { body, .. } = decode("SgxEnclave", body).unwrap() else {
            panic!()
        };
        let rt = body.runtime.unwrap();
        assert_eq!((rt.bytes, rt.kind), (vec![1, 2, 3], DataType::Binary));
    }

    #[test]
    fn malformed_bodies_name_what_is_wrong() {
        for (ty, body, needle) in [
            ("SgxEnclave", &b"not json"[..], "not valid JSON"),
            ("SgxEnclave", b"{}", "no 'quote' member"),
            (
                "SgxEnclave",
                br#"{"quote":"%%"}"#,
                "'quote' is not base64url",
            ),
            ("OpenEnclave", br#"{"report":5}"#, "does not match"),
            (
                "TdxVm",
                br#"{"quote":"AA","runtimeData":{"data":"AA","dataType":"xml"}}"#,
                "dataType 'xml'",
            ),
            (
                "Tpm:quote",
                br#"{"service_context":"x"}"#,
                "not a TPM quote request",
            ),
        ] {
            let e = decode(ty, body).expect_err(ty);
            assert_eq!(e.status.as_u16(), 400, "{ty}");
            assert!(e.message.contains(needle), "{ty}: {}", e.message);
        }
    }
}
