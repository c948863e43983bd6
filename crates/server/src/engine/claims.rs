//! Claim assembly for the MAA-body evidence types, in one place for the
//! server and `attesta verify`: what the verifier proved, plus the caller's
//! runtime and init-time data once bound to the report, plus the
//! attestation type.
//!
//! Only proven data becomes claims: runtime data appears only after
//! `report_data` was checked to bind it, init-time data only after the
//! measured init field was; the per-TEE extras (SGX's `x-ms-sgx-ehd` and
//! the deprecated names older policies read) are decided by the type here,
//! not by the caller.

use serde_json::{Map, Value, json};

use crate::engine::request::{Data, DataType};
use attesta_evidence::claims::names;
use attesta_evidence::{AttestationType, ErrorCode, Verified, binding};

/// Why the caller's data did not become claims.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    /// The data is not bound to the report.
    #[error(transparent)]
    Binding(#[from] binding::BindingError),
    /// `dataType` JSON, but not JSON.
    #[error("{name} has dataType JSON but is not valid JSON: {reason}")]
    NotJson { name: &'static str, reason: String },
}

impl ErrorCode for ClaimsError {
    fn code(&self) -> &'static str {
        match self {
            ClaimsError::Binding(e) => e.code(),
            ClaimsError::NotJson { .. } => "InvalidParameter",
        }
    }
}

/// True for the types whose runtime data MAA reports as `x-ms-sgx-ehd` and
/// whose policies may use the deprecated `$`-names and the TCB baseline.
pub fn is_sgx_family(ty: AttestationType) -> bool {
    matches!(
        ty,
        AttestationType::SgxEnclave | AttestationType::OpenEnclave
    )
}

/// The service claims of a verified MAA-body attestation of type `ty`.
pub fn service_claims(
    ty: AttestationType,
    verified: &Verified,
    runtime: Option<&Data>,
    init: Option<&Data>,
) -> Result<Map<String, Value>, ClaimsError> {
    let mut service = verified.claims.clone().into_map();
    if let Some(rt) = runtime {
        binding::check_runtime_data(&verified.report_data, &rt.bytes)?;
        match rt.kind {
            DataType::Json => {
                service.insert(names::RUNTIME.into(), json_data("runtimeData", &rt.bytes)?);
            }
            DataType::Binary if is_sgx_family(ty) => {
                let ehd = json!(crate::codec::b64url(&rt.bytes));
                service.insert(names::SGX_EHD.into(), ehd.clone());
                // Deprecated aliases still read by older relying parties.
                service.insert(names::MAA_EHD.into(), ehd.clone());
                service.insert(names::AAS_EHD.into(), ehd);
            }
            DataType::Binary => {}
        }
    }
    if let Some(it) = init {
        binding::check_init_time_data(verified.init_data.as_deref(), &it.bytes)?;
        if it.kind == DataType::Json {
            service.insert(
                names::INITTIME.into(),
                json_data("initTimeData", &it.bytes)?,
            );
        }
    }
    service.insert(names::ATTESTATION_TYPE.into(), json!(ty.claim_value()));
    Ok(service)
}

fn json_data(name: &'static str, bytes: &[u8]) -> Result<Value, ClaimsError> {
    serde_json::from_slice(bytes).map_err(|e| ClaimsError::NotJson {
        name,
        reason: e.to_string(),
    })
}

/// The deprecated incoming SGX claim names older MAA policies use (reference
/// §2.3: `$is-debuggable`, `$product-id`, `$sgx-mrsigner`, `$sgx-mrenclave`,
/// `$svn`, `$tee`, `$maa-ehd`, `$aas-ehd`, `$maa-attestationcollateral`).
/// They are visible to policy only; the token keeps the current names.
pub fn legacy_sgx_claims(service: &Map<String, Value>) -> Map<String, Value> {
    const ALIASES: [(&str, &str); 9] = [
        ("x-ms-sgx-is-debuggable", "$is-debuggable"),
        ("x-ms-sgx-product-id", "$product-id"),
        ("x-ms-sgx-mrsigner", "$sgx-mrsigner"),
        ("x-ms-sgx-mrenclave", "$sgx-mrenclave"),
        ("x-ms-sgx-svn", "$svn"),
        (names::ATTESTATION_TYPE, "$tee"),
        (names::SGX_EHD, "$maa-ehd"),
        (names::SGX_EHD, "$aas-ehd"),
        (names::SGX_COLLATERAL, "$maa-attestationcollateral"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use attesta_evidence::Claims;

    fn verified(report_data: Vec<u8>) -> Verified {
        let mut claims = Claims::new();
        claims.insert("x-ms-sgx-mrenclave", "aa");
        Verified {
            claims,
            report_data,
            init_data: Some(vec![0u8; 32]),
        }
    }

    fn bound(data: &[u8]) -> Vec<u8> {
        let mut rd = attesta_evidence::crypto::sha256(data).to_vec();
        rd.resize(64, 0);
        rd
    }

    #[test]
    fn binary_runtime_data_is_ehd_only_for_the_sgx_family() {
        let data = Data {
            bytes: b"hello".to_vec(),
            kind: DataType::Binary,
        };
        let v = verified(bound(b"hello"));
        let sgx = service_claims(AttestationType::SgxEnclave, &v, Some(&data), None).unwrap();
        assert_eq!(sgx[names::SGX_EHD], "aGVsbG8");
        assert_eq!(sgx[names::MAA_EHD], "aGVsbG8");
        assert_eq!(sgx[names::ATTESTATION_TYPE], "sgx");
        let tdx = service_claims(AttestationType::TdxVm, &v, Some(&data), None).unwrap();
        assert!(!tdx.contains_key(names::SGX_EHD));
        assert_eq!(tdx[names::ATTESTATION_TYPE], "tdxvm");
    }

    #[test]
    fn unbound_data_never_becomes_a_claim() {
        let data = Data {
            bytes: br#"{"k":1}"#.to_vec(),
            kind: DataType::Json,
        };
        let e = service_claims(
            AttestationType::SevSnpVm,
            &verified(bound(b"other")),
            Some(&data),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code(), "RuntimeDataMismatch");
        let ok = service_claims(
            AttestationType::SevSnpVm,
            &verified(bound(br#"{"k":1}"#)),
            Some(&data),
            None,
        )
        .unwrap();
        assert_eq!(ok[names::RUNTIME], json!({"k": 1}));
        let bad_json = Data {
            bytes: b"{".to_vec(),
            kind: DataType::Json,
        };
        let e = service_claims(
            AttestationType::SevSnpVm,
            &verified(bound(b"{")),
            Some(&bad_json),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter");
    }
}
