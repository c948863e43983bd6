//! MAA's `AzureGuest` request (reference §1.3, §5.3): the `AttestationInfo`
//! member — base64url of a JSON document with the OS facts, the TCG log,
//! the client payload, the vTPM's `TpmInfo` (AK, quote, PCR values, the
//! ephemeral encryption key and its TPM2_Certify) and the `IsolationInfo`
//! (SEV-SNP report with its VCEK chain, or TD quote, and the HCL variable
//! data) — decoded into typed, bounded parts. Pure and total: any input
//! gives a [`GuestRequest`] or a [`ParseError`] naming the member at fault.
//!
//! Encodings are taken leniently where real clients differ (reference
//! §5.3): byte members in standard base64 or base64url, padded or not;
//! `OSVersionMajor`/`Minor` as a string (Python client) or a number (Rust
//! SDK). Nothing here is trusted: every part is verified afterwards by
//! [`super::verify_guest`] and [`super::enc_key`].

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use super::hcl::HclReportType;
use crate::error::ParseError;

/// The largest `AttestationInfo` accepted (decoded): far above a real one
/// (tens of KiB with a Windows TCG log), far below what could hurt.
pub const MAX_ATTESTATION_INFO_LEN: usize = 4 << 20;
/// The largest OS string member (`OSType`, `OSDistro`, `OSBuild`), decoded.
pub const MAX_OS_STRING_LEN: usize = 256;
/// At most this many `ClientPayload` members, each value at most
/// [`MAX_CLIENT_PAYLOAD_VALUE_LEN`] characters as sent.
pub const MAX_CLIENT_PAYLOAD_MEMBERS: usize = 64;
pub const MAX_CLIENT_PAYLOAD_VALUE_LEN: usize = 8192;
/// A TPM 2.0 has 24 PCRs per bank.
pub const MAX_PCRS: usize = 24;

const WHAT: &str = "AzureGuest AttestationInfo";

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

/// The vTPM's part (`TpmInfo`), bytes decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TpmInfo {
    /// `AikCert` (DER; empty when the vTPM has none).
    pub aik_cert: Vec<u8>,
    /// `AikPub`: the AK's `TPM2B_PUBLIC` (empty when not sent).
    pub aik_pub: Vec<u8>,
    /// `PcrQuote`: the quote's `TPMS_ATTEST`.
    pub pcr_quote: Vec<u8>,
    /// `PcrSignature`: bare RSASSA signature or `TPMT_SIGNATURE`.
    pub pcr_signature: Vec<u8>,
    /// `PcrSet`: the PCR indices the client quoted.
    pub pcr_set: Vec<u32>,
    /// `PCRs`: the SHA-256 PCR values, by index, ascending and unique.
    pub pcrs: Vec<(u32, Vec<u8>)>,
    /// `EncKeyPub`: the ephemeral key's `TPM2B_PUBLIC` (empty when not sent).
    pub enc_key_pub: Vec<u8>,
    /// `EncKeyCertifyInfo`: `TPMS_ATTEST` of TPM2_Certify by the AK.
    pub enc_key_certify_info: Vec<u8>,
    /// `EncKeyCertifyInfoSignature`.
    pub enc_key_certify_info_signature: Vec<u8>,
}

/// The isolation TEE's evidence (`IsolationInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// `SevSnp`: `proof` is the decoded `Proof` — the JSON document
    /// `{SnpReport, VcekCertChain}` of MAA's SevSnpVm `report` member
    /// ([`crate::snp::maa::parse_report_json`] reads it).
    SevSnp {
        proof: Vec<u8>,
        runtime_data: Vec<u8>,
    },
    /// `Tdx`: the TD quote and the variable data.
    Tdx {
        td_quote: Vec<u8>,
        runtime_data: Vec<u8>,
    },
    /// `TrustedLaunch`: no hardware evidence.
    TrustedLaunch,
}

impl Isolation {
    /// The HCL report type this isolation stands for.
    pub fn report_type(&self) -> HclReportType {
        match self {
            Self::SevSnp { .. } => HclReportType::Snp,
            Self::Tdx { .. } => HclReportType::Tdx,
            Self::TrustedLaunch => HclReportType::TrustedLaunch,
        }
    }

    /// The HCL variable data, for SNP and TDX.
    pub fn runtime_data(&self) -> Option<&[u8]> {
        match self {
            Self::SevSnp { runtime_data, .. } | Self::Tdx { runtime_data, .. } => {
                Some(runtime_data)
            }
            Self::TrustedLaunch => None,
        }
    }
}

/// A decoded `AttestationInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestRequest {
    /// `AttestationProtocolVersion` (e.g. `2.0`).
    pub protocol_version: String,
    pub os_type: String,
    pub os_distro: String,
    pub os_version_major: String,
    pub os_version_minor: String,
    pub os_build: String,
    /// `TcgLogs`: the TCG event log (empty when the client had none).
    pub tcg_logs: Vec<u8>,
    /// `ClientPayload`, values as sent (base64 strings).
    pub client_payload: Map<String, Value>,
    pub tpm: TpmInfo,
    pub isolation: Isolation,
}

/// Standard base64 or base64url, padded or not (clients differ, §5.3).
fn bytes(s: &str, member: &str) -> Result<Vec<u8>, ParseError> {
    let t = s.trim().trim_end_matches('=');
    let r = if t.contains(['+', '/']) {
        STANDARD_NO_PAD.decode(t)
    } else {
        URL_SAFE_NO_PAD.decode(t)
    };
    r.map_err(|e| malformed(format!("{member} is not base64: {e}")))
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
}

fn string_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, ParseError> {
    match member(obj, name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(format!("{name} is not a string"))),
        None => Err(malformed(format!("{name} is missing"))),
    }
}

fn bytes_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, ParseError> {
    bytes(string_member(obj, name)?, name)
}

/// A byte member that may be absent or empty (an empty vector then).
fn optional_bytes(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, ParseError> {
    match member(obj, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => bytes(s, name),
        Some(_) => Err(malformed(format!("{name} is not a string"))),
    }
}

/// A base64 OS string member, decoded to UTF-8 text.
fn os_string(obj: &Map<String, Value>, name: &str) -> Result<String, ParseError> {
    let raw = match member(obj, name) {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::String(s)) => bytes(s, name)?,
        Some(_) => return Err(malformed(format!("{name} is not a string"))),
    };
    if raw.len() > MAX_OS_STRING_LEN {
        return Err(malformed(format!(
            "{name} is {} bytes, more than the {MAX_OS_STRING_LEN} allowed",
            raw.len()
        )));
    }
    String::from_utf8(raw).map_err(|_| malformed(format!("{name} is not UTF-8 text")))
}

/// `OSVersionMajor`/`Minor`: a number or a short string.
fn version(obj: &Map<String, Value>, name: &str) -> Result<String, ParseError> {
    match member(obj, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if s.len() <= MAX_OS_STRING_LEN => Ok(s.clone()),
        Some(_) => Err(malformed(format!("{name} is not a number or short string"))),
    }
}

fn pcr_index(v: &Value, what: &str) -> Result<u32, ParseError> {
    v.as_u64()
        .filter(|&i| i < MAX_PCRS as u64)
        .map(|i| i as u32)
        .ok_or_else(|| malformed(format!("{what} is not a PCR index (0-23)")))
}

fn tpm_info(obj: &Map<String, Value>) -> Result<TpmInfo, ParseError> {
    let pcr_set = match member(obj, "PcrSet") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_PCRS => a
            .iter()
            .map(|v| pcr_index(v, "TpmInfo.PcrSet[]"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("TpmInfo.PcrSet is not an array of PCR indices")),
    };
    let entries = match member(obj, "PCRs") {
        Some(Value::Array(a)) if a.len() <= MAX_PCRS => a,
        Some(_) => {
            return Err(malformed(format!(
                "TpmInfo.PCRs is not an array of at most {MAX_PCRS} entries"
            )));
        }
        None => return Err(malformed("TpmInfo.PCRs is missing")),
    };
    let mut pcrs: Vec<(u32, Vec<u8>)> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let Value::Object(e) = e else {
            return Err(malformed(format!("TpmInfo.PCRs[{i}] is not an object")));
        };
        let index = pcr_index(
            member(e, "Index").unwrap_or(&Value::Null),
            &format!("TpmInfo.PCRs[{i}].Index"),
        )?;
        let digest = bytes_member(e, "Digest")?;
        if digest.len() != 32 {
            return Err(malformed(format!(
                "TpmInfo.PCRs[{i}].Digest is {} bytes; SHA-256 PCR values are 32",
                digest.len()
            )));
        }
        if pcrs.iter().any(|(j, _)| *j == index) {
            return Err(malformed(format!("TpmInfo.PCRs has PCR {index} twice")));
        }
        pcrs.push((index, digest));
    }
    pcrs.sort_by_key(|(i, _)| *i);
    Ok(TpmInfo {
        aik_cert: optional_bytes(obj, "AikCert")?,
        aik_pub: optional_bytes(obj, "AikPub")?,
        pcr_quote: bytes_member(obj, "PcrQuote")?,
        pcr_signature: bytes_member(obj, "PcrSignature")?,
        pcr_set,
        pcrs,
        enc_key_pub: optional_bytes(obj, "EncKeyPub")?,
        enc_key_certify_info: optional_bytes(obj, "EncKeyCertifyInfo")?,
        enc_key_certify_info_signature: optional_bytes(obj, "EncKeyCertifyInfoSignature")?,
    })
}

fn isolation(obj: &Map<String, Value>) -> Result<Isolation, ParseError> {
    let kind = string_member(obj, "Type")
        .map_err(|_| malformed("IsolationInfo.Type is missing or not a string"))?;
    if kind.eq_ignore_ascii_case("TrustedLaunch") {
        return Ok(Isolation::TrustedLaunch);
    }
    let evidence = match member(obj, "Evidence") {
        Some(Value::Object(e)) => e,
        _ => {
            return Err(malformed(format!(
                "IsolationInfo.Evidence is missing or not an object for type {kind}"
            )));
        }
    };
    let proof = bytes_member(evidence, "Proof")?;
    let runtime_data = bytes_member(evidence, "RunTimeData")?;
    if kind.eq_ignore_ascii_case("SevSnp") {
        Ok(Isolation::SevSnp {
            proof,
            runtime_data,
        })
    } else if kind.eq_ignore_ascii_case("Tdx") {
        Ok(Isolation::Tdx {
            td_quote: proof,
            runtime_data,
        })
    } else {
        Err(ParseError::Unsupported {
            what: "AzureGuest IsolationInfo.Type",
            value: kind.chars().take(64).collect(),
        })
    }
}

impl GuestRequest {
    /// Decode the `AttestationInfo` member as sent (base64url of JSON).
    pub fn from_member(member: &str) -> Result<Self, ParseError> {
        if member.len() > MAX_ATTESTATION_INFO_LEN / 3 * 4 + 4 {
            return Err(malformed(format!(
                "{} characters is more than the {MAX_ATTESTATION_INFO_LEN} bytes allowed",
                member.len()
            )));
        }
        Self::parse(&bytes(member, "AttestationInfo")?)
    }

    /// Decode the JSON document (the `AttestationInfo` member's bytes).
    pub fn parse(json: &[u8]) -> Result<Self, ParseError> {
        if json.len() > MAX_ATTESTATION_INFO_LEN {
            return Err(malformed(format!(
                "{} bytes is more than the {MAX_ATTESTATION_INFO_LEN} allowed",
                json.len()
            )));
        }
        let v: Value =
            serde_json::from_slice(json).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let Value::Object(doc) = v else {
            return Err(malformed("not a JSON object"));
        };
        let protocol_version = match member(&doc, "AttestationProtocolVersion") {
            Some(Value::String(s)) if s.len() <= 16 => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(malformed(
                    "AttestationProtocolVersion is missing or not a short string",
                ));
            }
        };
        let client_payload = match member(&doc, "ClientPayload") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => {
                if m.len() > MAX_CLIENT_PAYLOAD_MEMBERS {
                    return Err(malformed(format!(
                        "ClientPayload has {} members, more than the {MAX_CLIENT_PAYLOAD_MEMBERS} allowed",
                        m.len()
                    )));
                }
                for (k, v) in m {
                    match v {
                        Value::String(s) if s.len() <= MAX_CLIENT_PAYLOAD_VALUE_LEN => {}
                        _ => {
                            return Err(malformed(format!(
                                "ClientPayload.{} is not a string of at most {MAX_CLIENT_PAYLOAD_VALUE_LEN} characters",
                                k.chars().take(64).collect::<String>()
                            )));
                        }
                    }
                }
                m.clone()
            }
            Some(_) => return Err(malformed("ClientPayload is not an object")),
        };
        let tpm = match member(&doc, "TpmInfo") {
            Some(Value::Object(t)) => tpm_info(t)?,
            _ => return Err(malformed("TpmInfo is missing or not an object")),
        };
        let isolation = match member(&doc, "IsolationInfo") {
            Some(Value::Object(i)) => isolation(i)?,
            _ => return Err(malformed("IsolationInfo is missing or not an object")),
        };
        Ok(Self {
            protocol_version,
            os_type: os_string(&doc, "OSType")?,
            os_distro: os_string(&doc, "OSDistro")?,
            os_version_major: version(&doc, "OSVersionMajor")?,
            os_version_minor: version(&doc, "OSVersionMinor")?,
            os_build: os_string(&doc, "OSBuild")?,
            tcg_logs: optional_bytes(&doc, "TcgLogs")?,
            client_payload,
            tpm,
            isolation,
        })
    }

    /// The PCR values as the TPM verifier takes them (SHA-256 bank).
    pub fn pcrs(&self) -> crate::tpm::Pcrs {
        let mut bank = std::collections::BTreeMap::new();
        for (i, d) in &self.tpm.pcrs {
            bank.insert(*i, d.clone());
        }
        let mut pcrs = crate::tpm::Pcrs::new();
        pcrs.insert(crate::tpm::structures::TPM_ALG_SHA256, bank);
        pcrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "AttestationProtocolVersion": "2.0",
            "OSType": STANDARD.encode("Linux"),
            "OSDistro": STANDARD.encode("Ubuntu"),
            "OSVersionMajor": 22,
            "OSVersionMinor": "04",
            "OSBuild": STANDARD.encode("NotApplication"),
            "TcgLogs": "",
            "ClientPayload": {"nonce": STANDARD.encode("abc")},
            "TpmInfo": {
                "AikCert": "", "AikPub": STANDARD.encode([1, 2]),
                "PcrQuote": STANDARD.encode([3]), "PcrSignature": STANDARD.encode([4]),
                "PcrSet": [0, 1],
                "PCRs": [{"Index": 1, "Digest": STANDARD.encode([1u8; 32])}, {"Index": 0, "Digest": STANDARD.encode([0u8; 32])}],
                "EncKeyPub": STANDARD.encode([5]), "EncKeyCertifyInfo": STANDARD.encode([6]),
                "EncKeyCertifyInfoSignature": STANDARD.encode([7])
            },
            "IsolationInfo": {"Type": "SevSnp", "Evidence": {"Proof": URL_SAFE_NO_PAD.encode(b"{}"), "RunTimeData": URL_SAFE_NO_PAD.encode(b"{\"keys\":[]}")}}
        })
    }

    #[test]
    fn decodes_the_sdk_shape() {
        let member = URL_SAFE_NO_PAD.encode(sample().to_string());
        let r = GuestRequest::from_member(&member).unwrap();
        assert_eq!(r.protocol_version, "2.0");
        assert_eq!(r.os_type, "Linux");
        assert_eq!(r.os_version_major, "22");
        assert_eq!(r.os_version_minor, "04");
        assert_eq!(r.tpm.pcrs[0].0, 0, "sorted by index");
        assert_eq!(r.tpm.enc_key_pub, [5]);
        assert_eq!(
            r.isolation,
            Isolation::SevSnp {
                proof: b"{}".to_vec(),
                runtime_data: b"{\"keys\":[]}".to_vec()
            }
        );
        assert_eq!(r.pcrs()[&0x000b].len(), 2);
    }

    #[test]
    fn refuses_malformed_members() {
        let cases: [(&str, Value); 7] = [
            ("/TpmInfo/PCRs/0/Index", json!(24)),
            ("/TpmInfo/PCRs/0/Digest", json!(STANDARD.encode([0u8; 20]))),
            ("/TpmInfo/PcrQuote", json!("*")),
            ("/IsolationInfo/Type", json!("Sgx")),
            ("/ClientPayload", json!({"a": 1})),
            ("/OSType", json!(STANDARD.encode([0xff, 0xfe]))),
            ("/AttestationProtocolVersion", json!(null)),
        ];
        for (path, value) in cases {
            let mut doc = sample();
            *doc.pointer_mut(path).unwrap() = value;
            assert!(
                GuestRequest::parse(doc.to_string().as_bytes()).is_err(),
                "{path} accepted"
            );
        }
        let mut doc = sample();
        doc["TpmInfo"]["PCRs"][1]["Index"] = json!(1);
        assert!(GuestRequest::parse(doc.to_string().as_bytes()).is_err());
        assert!(GuestRequest::parse(b"[]").is_err());
        assert!(GuestRequest::from_member("!!").is_err());
    }

    #[test]
    fn trusted_launch_has_no_evidence() {
        let mut doc = sample();
        doc["IsolationInfo"] = json!({"Type": "TrustedLaunch"});
        let r = GuestRequest::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(r.isolation, Isolation::TrustedLaunch);
        assert_eq!(r.isolation.runtime_data(), None);
    }
}
