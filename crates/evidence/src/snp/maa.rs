//! The `report` member of MAA's `AttestSevSnpVmRequest` (reference §5.1):
//! base64url of a JSON object `{SnpReport, VcekCertChain, Endorsements?}`,
//! decoded here into report bytes and DER certificates. Pure; typed errors.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use crate::error::ErrorCode;
use crate::sgx::pki;

/// Why the `report` member could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaaReportError {
    #[error("the report member is not base64url: {0}")]
    NotBase64(&'static str),
    #[error("the report member is not the SEV-SNP JSON document: {0}")]
    NotJson(String),
    #[error("the report JSON has no {0} member")]
    Missing(&'static str),
    #[error("the report JSON's VcekCertChain holds no usable PEM certificates: {0}")]
    BadCertChain(String),
    #[error("the report JSON's Endorsements member is not base64url JSON: {0}")]
    BadEndorsements(String),
}

impl ErrorCode for MaaReportError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotBase64(_) => "SnpReportNotBase64",
            Self::NotJson(_) => "SnpReportNotJson",
            Self::Missing(_) => "SnpReportMemberMissing",
            Self::BadCertChain(_) => "SnpCertChainInvalid",
            Self::BadEndorsements(_) => "SnpEndorsementsInvalid",
        }
    }
}

/// The decoded `report` member.
#[derive(Debug, Clone, PartialEq)]
pub struct MaaSnpReport {
    /// The raw attestation report bytes (not yet parsed).
    pub report: Vec<u8>,
    /// DER certificates of VcekCertChain in order (VCEK, ASK, ARK); empty when
    /// the request sent none.
    pub cert_chain: Vec<Vec<u8>>,
    /// The decoded Endorsements JSON (`{"Uvm": [...]}`), when present.
    pub endorsements: Option<serde_json::Value>,
}

/// base64url with or without padding; standard alphabet is accepted too
/// because samples in the wild mix them.
fn b64(s: &str, what: &'static str) -> Result<Vec<u8>, MaaReportError> {
    let s = s.trim();
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(s))
        .map_err(|_| MaaReportError::NotBase64(what))
}

/// Decode the `report` member as sent (a base64url string).
pub fn parse_report_member(member: &str) -> Result<MaaSnpReport, MaaReportError> {
    let json = b64(member, "report")?;
    parse_report_json(&json)
}

/// Decode the JSON document inside the `report` member.
pub fn parse_report_json(json: &[u8]) -> Result<MaaSnpReport, MaaReportError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| MaaReportError::NotJson(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| MaaReportError::NotJson("not a JSON object".into()))?;
    let str_member = |k: &'static str| -> Result<Option<&str>, MaaReportError> {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(MaaReportError::NotJson(format!("{k} is not a string"))),
        }
    };
    let report = b64(
        str_member("SnpReport")?.ok_or(MaaReportError::Missing("SnpReport"))?,
        "SnpReport",
    )?;
    // VcekCertChain is optional: without it the service fetches the chain
    // (AMD KDS or imported endorsements). Present, it must hold certificates.
    let cert_chain = match str_member("VcekCertChain")? {
        None => Vec::new(),
        Some(s) => {
            let chain_pem = b64(s, "VcekCertChain")?;
            let certs = pki::pem_certificates(&chain_pem)
                .map_err(|e| MaaReportError::BadCertChain(e.to_string()))?;
            if certs.is_empty() {
                return Err(MaaReportError::BadCertChain("no CERTIFICATE block".into()));
            }
            certs
        }
    };
    let endorsements = match str_member("Endorsements")? {
        None => None,
        Some(s) => {
            let raw = b64(s, "Endorsements")?;
            Some(
                serde_json::from_slice(&raw)
                    .map_err(|e| MaaReportError::BadEndorsements(e.to_string()))?,
            )
        }
    };
    Ok(MaaSnpReport {
        report,
        cert_chain,
        endorsements,
    })
}

/// Encodes the SEV-SNP JSON document `{"SnpReport", "VcekCertChain"}`
/// that [`parse_report_json`] reads: the report base64url, the chain (DER,
/// VCEK or VLEK first, then ASK or ASVK, then ARK) as concatenated PEM,
/// base64url.
pub fn encode_report_json(report: &[u8], cert_chain: &[Vec<u8>]) -> Vec<u8> {
    let pem: String = cert_chain.iter().map(|d| pki::certificate_pem(d)).collect();
    let mut doc = serde_json::Map::new();
    doc.insert("SnpReport".into(), URL_SAFE_NO_PAD.encode(report).into());
    if !cert_chain.is_empty() {
        doc.insert("VcekCertChain".into(), URL_SAFE_NO_PAD.encode(pem).into());
    }
    serde_json::Value::Object(doc).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_then_parse_round_trips() {
        let chain = vec![vec![0x30, 0x03, 0x02, 0x01, 0x01], vec![0x30, 0x00]];
        let doc = super::encode_report_json(&[7u8; 100], &chain);
        let back = super::parse_report_json(&doc).unwrap();
        assert_eq!(back.report, vec![7u8; 100]);
        assert_eq!(back.cert_chain, chain);
        let bare = super::parse_report_json(&super::encode_report_json(&[1], &[])).unwrap();
        assert!(bare.cert_chain.is_empty());
    }

    use super::*;

    #[test]
    fn missing_members_and_garbage_are_typed() {
        assert_eq!(
            parse_report_member("!!!").unwrap_err().code(),
            "SnpReportNotBase64"
        );
        let j = URL_SAFE_NO_PAD.encode(b"[1]");
        assert_eq!(
            parse_report_member(&j).unwrap_err().code(),
            "SnpReportNotJson"
        );
        let j = URL_SAFE_NO_PAD.encode(br#"{ "VcekCertChain": "" }"#);
        assert_eq!(
            parse_report_member(&j).unwrap_err(),
            MaaReportError::Missing("SnpReport")
        );
        let j = URL_SAFE_NO_PAD.encode(br#"{ "SnpReport": "AAAA", "VcekCertChain": "AAAA" }"#);
        assert_eq!(
            parse_report_member(&j).unwrap_err().code(),
            "SnpCertChainInvalid"
        );
    }
}
