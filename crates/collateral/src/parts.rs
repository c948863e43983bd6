//! What this crate needs to *know* about a collateral set without trusting
//! it: which TEE and FMSPC it is for, which PCK CA's CRL it carries, when its
//! earliest part must be refreshed (`nextUpdate`), and a version digest.
//!
//! None of this verifies a signature — that is the verifiers' job in
//! `attesta-evidence`. These readings only decide where collateral is stored
//! and when it is refetched; a lie in them can at worst make us refetch early
//! or serve something the verifier then rejects.

use attesta_evidence::dcap::{DcapCollateral, DcapTee};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::CollateralError;

/// Which Intel PCK issuing CA a PCK certificate (and so its CRL) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PckCa {
    /// "Intel SGX PCK Processor CA".
    Processor,
    /// "Intel SGX PCK Platform CA" (multi-package platforms, most TDX hosts).
    Platform,
}

impl PckCa {
    /// The value of the PCS `ca` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            PckCa::Processor => "processor",
            PckCa::Platform => "platform",
        }
    }

    /// The CA named by an issuer common name, e.g. the issuer CN of the PCK
    /// certificate in a quote ("Intel SGX PCK Processor CA" /
    /// "Intel SGX PCK Platform CA").
    ///
    /// Intel names its CAs "Intel SGX PCK Processor CA" and "Intel SGX PCK
    /// Platform CA"; a test PKI that mirrors Intel's (the testkit's "Attesta
    /// Test SGX PCK Processor CA") keeps the same suffix. The name only files
    /// and finds collateral; trust comes from the signatures the verifier
    /// checks, so accepting the suffix loosens nothing.
    pub fn from_issuer_common_name(cn: &str) -> Option<PckCa> {
        if cn.ends_with("SGX PCK Processor CA") {
            Some(PckCa::Processor)
        } else if cn.ends_with("SGX PCK Platform CA") {
            Some(PckCa::Platform)
        } else {
            None
        }
    }
}

pub(crate) fn tee_str(tee: DcapTee) -> &'static str {
    match tee {
        DcapTee::Sgx => "sgx",
        DcapTee::Tdx => "tdx",
    }
}

/// Checks that `fmspc` is 6 bytes of hex and returns it upper-cased, the one
/// spelling used in cache keys (PCS accepts either case; bundles use both).
pub fn normalize_fmspc(fmspc: &str) -> Result<String, CollateralError> {
    if fmspc.len() == 12 && fmspc.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(fmspc.to_ascii_uppercase())
    } else {
        Err(CollateralError::InvalidFmspc {
            fmspc: fmspc.chars().take(64).collect(),
        })
    }
}

/// The root certificate a collateral set's issuer chains end at: its
/// SHA-256 fingerprint (what cache keys carry) and subject (for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRoot {
    pub fingerprint: [u8; 32],
    pub subject: String,
}

impl ChainRoot {
    /// Of a DER certificate. A DER that does not parse keeps its fingerprint
    /// and gets an empty subject.
    pub fn of_der(der: &[u8]) -> ChainRoot {
        let subject = x509_parser::parse_x509_certificate(der)
            .map(|(_, c)| c.subject().to_string())
            .unwrap_or_default();
        ChainRoot {
            fingerprint: sha256(der),
            subject,
        }
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    attesta_evidence::crypto::sha256(bytes)
}

/// SHA-256 fingerprint of Intel's SGX Root CA (the vendor root every
/// deployment trusts): where collateral from Intel PCS is filed.
pub fn intel_root_fingerprint() -> [u8; 32] {
    sha256(&attesta_evidence::sgx::intel_sgx_root_ca_der())
}

/// The last certificate of a PEM chain, DER.
fn last_pem_cert(part: &str, pem: &str) -> Result<Vec<u8>, CollateralError> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .last()
        .map(|p| p.contents)
        .ok_or_else(|| CollateralError::malformed(part, "no PEM CERTIFICATE block"))
}

/// The root the collateral's three issuer chains (TCB info, QE identity,
/// PCK CRL) end at: the last certificate of each, which must be the same
/// one. Nothing is verified here; the root only decides where the set is
/// filed, and the verifier later checks it is trusted and signs the chain.
pub fn root_of(c: &DcapCollateral) -> Result<ChainRoot, CollateralError> {
    let tcb = last_pem_cert("TCB info issuer chain", &c.tcb_info_issuer_chain)?;
    for (part, pem) in [
        ("QE identity issuer chain", &c.qe_identity_issuer_chain),
        ("PCK CRL issuer chain", &c.pck_crl_issuer_chain),
    ] {
        if last_pem_cert(part, pem)? != tcb {
            return Err(CollateralError::malformed(
                part,
                "it ends at another root certificate than the TCB info issuer chain; \
                 a collateral set must come from one PKI",
            ));
        }
    }
    Ok(ChainRoot::of_der(&tcb))
}

/// The kind of a DCAP cache entry: a whole collateral set (TCB info, QE
/// identity, PCK CRL, root CA CRL) for one platform.
pub(crate) fn dcap_type(tee: DcapTee) -> &'static str {
    match tee {
        DcapTee::Sgx => "sgx-collateral",
        DcapTee::Tdx => "tdx-collateral",
    }
}

/// The key under which collateral for `(tee, root, fmspc, ca)` is cached,
/// both in process and in the persistent [`crate::CollateralCache`]:
/// `{sgx|tdx}-collateral.{root SHA-256 hex}.{FMSPC}.{processor|platform}`.
/// Keys name what the entry is, including the root its chains end at, so
/// collateral under a test root never takes the place of Intel's for the
/// same platform. Keys are URL-safe and double as the admin API's ids.
///
/// `fmspc` is upper-cased; pass a value checked by [`normalize_fmspc`].
pub fn cache_key(tee: DcapTee, root: &[u8; 32], fmspc: &str, ca: PckCa) -> String {
    format!(
        "{}.{}.{}.{}",
        dcap_type(tee),
        hex::encode(root),
        fmspc.to_ascii_uppercase(),
        ca.as_str()
    )
}

fn json_member<'a>(
    doc: &'a serde_json::Value,
    part: &str,
    outer: &str,
) -> Result<&'a serde_json::Map<String, serde_json::Value>, CollateralError> {
    doc.get(outer)
        .and_then(|v| v.as_object())
        .ok_or_else(|| CollateralError::malformed(part, format!("no `{outer}` object")))
}

fn parse_json(part: &str, text: &str) -> Result<serde_json::Value, CollateralError> {
    serde_json::from_str(text).map_err(|e| CollateralError::malformed(part, e.to_string()))
}

fn str_field<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    part: &str,
    name: &str,
) -> Result<&'a str, CollateralError> {
    obj.get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| CollateralError::malformed(part, format!("no `{name}` string")))
}

fn rfc3339(part: &str, s: &str) -> Result<i64, CollateralError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| CollateralError::malformed(part, format!("bad date {s:?}: {e}")))
}

/// Reads `tcbInfo.fmspc` and the TEE the TCB info is for (`tcbInfo.id`:
/// "SGX" or "TDX"; version 2 documents carry no id and are SGX only).
/// Returns the FMSPC upper-cased.
pub fn fmspc_of(c: &DcapCollateral) -> Result<(DcapTee, String), CollateralError> {
    const PART: &str = "TCB info";
    let doc = parse_json(PART, &c.tcb_info_json)?;
    let info = json_member(&doc, PART, "tcbInfo")?;
    let tee = match info.get("id").and_then(|v| v.as_str()) {
        Some("SGX") => DcapTee::Sgx,
        Some("TDX") => DcapTee::Tdx,
        Some(other) => {
            return Err(CollateralError::malformed(
                PART,
                format!("unknown tcbInfo.id {other:?}"),
            ));
        }
        None => match info.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v < 3 => DcapTee::Sgx,
            _ => {
                return Err(CollateralError::malformed(
                    PART,
                    "tcbInfo has no `id` and is not a version 2 (SGX) document",
                ));
            }
        },
    };
    let fmspc = normalize_fmspc(str_field(info, PART, "fmspc")?)
        .map_err(|e| CollateralError::malformed(PART, e.to_string()))?;
    Ok((tee, fmspc))
}

/// A CRL's issuer common name and `nextUpdate`.
struct CrlFacts {
    issuer_cn: String,
    next_update: i64,
}

fn crl_facts(part: &str, der: &[u8]) -> Result<CrlFacts, CollateralError> {
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| CollateralError::malformed(part, format!("not a DER X.509 CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(CollateralError::malformed(
            part,
            format!("{} bytes after the CRL", rest.len()),
        ));
    }
    let issuer_cn = crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let next_update = crl
        .next_update()
        .ok_or_else(|| CollateralError::malformed(part, "CRL has no nextUpdate"))?
        .timestamp();
    Ok(CrlFacts {
        issuer_cn,
        next_update,
    })
}

/// Which PCK CA issued the bundle's PCK CRL, from the CRL's issuer name.
pub fn pck_ca_of(c: &DcapCollateral) -> Result<PckCa, CollateralError> {
    let facts = crl_facts("PCK CRL", &c.pck_crl)?;
    PckCa::from_issuer_common_name(&facts.issuer_cn).ok_or_else(|| {
        CollateralError::malformed(
            "PCK CRL",
            format!(
                "issuer {:?} is neither the Intel SGX PCK Processor CA nor the Platform CA",
                facts.issuer_cn
            ),
        )
    })
}

/// The earliest `nextUpdate` of the four dated parts (TCB info, QE identity,
/// PCK CRL, root CA CRL), in Unix seconds: the collateral set is only as
/// fresh as its stalest part.
pub fn next_update_of(c: &DcapCollateral) -> Result<i64, CollateralError> {
    let tcb = parse_json("TCB info", &c.tcb_info_json)?;
    let tcb = json_member(&tcb, "TCB info", "tcbInfo")?;
    let tcb_next = rfc3339("TCB info", str_field(tcb, "TCB info", "nextUpdate")?)?;
    let qe = parse_json("QE identity", &c.qe_identity_json)?;
    let qe = json_member(&qe, "QE identity", "enclaveIdentity")?;
    let qe_next = rfc3339("QE identity", str_field(qe, "QE identity", "nextUpdate")?)?;
    let pck = crl_facts("PCK CRL", &c.pck_crl)?.next_update;
    let root = crl_facts("root CA CRL", &c.root_ca_crl)?.next_update;
    Ok(tcb_next.min(qe_next).min(pck).min(root))
}

/// Checks that a collateral set is what was asked for: TCB info for this TEE
/// and FMSPC, the matching QE identity (`QE` for SGX, `TD_QE` for TDX), a PCK
/// CRL from the asked CA, PEM issuer chains. Returns the earliest
/// `nextUpdate`. Signatures are left to the verifiers.
pub fn check_matches(
    c: &DcapCollateral,
    tee: DcapTee,
    fmspc: &str,
    ca: PckCa,
) -> Result<i64, CollateralError> {
    let (got_tee, got_fmspc) = fmspc_of(c)?;
    if got_tee != tee || !got_fmspc.eq_ignore_ascii_case(fmspc) {
        return Err(CollateralError::malformed(
            "TCB info",
            format!(
                "it is for {} FMSPC {got_fmspc}, but {} FMSPC {} was asked",
                tee_str(got_tee),
                tee_str(tee),
                fmspc.to_ascii_uppercase()
            ),
        ));
    }
    let qe = parse_json("QE identity", &c.qe_identity_json)?;
    let qe_id = str_field(
        json_member(&qe, "QE identity", "enclaveIdentity")?,
        "QE identity",
        "id",
    )?;
    let want_id = match tee {
        DcapTee::Sgx => "QE",
        DcapTee::Tdx => "TD_QE",
    };
    if qe_id != want_id {
        return Err(CollateralError::malformed(
            "QE identity",
            format!("identity {qe_id:?} where {want_id:?} was expected"),
        ));
    }
    let got_ca = pck_ca_of(c)?;
    if got_ca != ca {
        return Err(CollateralError::malformed(
            "PCK CRL",
            format!(
                "CRL of the {} CA where the {} CA was asked",
                got_ca.as_str(),
                ca.as_str()
            ),
        ));
    }
    check_pem_chain("TCB info issuer chain", &c.tcb_info_issuer_chain)?;
    check_pem_chain("QE identity issuer chain", &c.qe_identity_issuer_chain)?;
    check_pem_chain("PCK CRL issuer chain", &c.pck_crl_issuer_chain)?;
    next_update_of(c)
}

/// A PEM issuer chain must at least hold one certificate block.
pub(crate) fn check_pem_chain(part: &str, pem: &str) -> Result<(), CollateralError> {
    if pem.contains("-----BEGIN CERTIFICATE-----") && pem.contains("-----END CERTIFICATE-----") {
        Ok(())
    } else {
        Err(CollateralError::malformed(part, "no PEM CERTIFICATE block"))
    }
}

/// Brings a CRL to DER. Services differ: Intel PCS sends DER (with
/// `encoding=der`) or PEM, Intel's PCCS sends the root CA CRL as hex text.
/// The result must parse as a CRL.
pub(crate) fn crl_to_der(part: &str, body: &[u8]) -> Result<Vec<u8>, CollateralError> {
    let der = if body.first() == Some(&0x30) {
        body.to_vec()
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|_| CollateralError::malformed(part, "neither DER, PEM nor hex"))?
            .trim();
        if let Some(rest) = text.strip_prefix("-----BEGIN X509 CRL-----") {
            let b64 = rest
                .split("-----END X509 CRL-----")
                .next()
                .unwrap_or_default();
            let b64: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| CollateralError::malformed(part, format!("bad PEM CRL: {e}")))?
        } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text)
                .map_err(|e| CollateralError::malformed(part, format!("bad hex CRL: {e}")))?
        } else {
            return Err(CollateralError::malformed(part, "neither DER, PEM nor hex"));
        }
    };
    crl_facts(part, &der)?;
    Ok(der)
}

/// SHA-256 over every part, each length-prefixed, under a domain label: two
/// collateral sets have the same version exactly when all their bytes agree.
/// Verifiers key their cache of verified (parsed, signature-checked) forms
/// by this value.
pub fn version_of(c: &DcapCollateral) -> [u8; 32] {
    let mut ctx = attesta_evidence::crypto::Sha256::new();
    ctx.update(b"attesta/dcap-collateral/v1");
    for part in [
        c.tcb_info_json.as_bytes(),
        c.tcb_info_issuer_chain.as_bytes(),
        c.qe_identity_json.as_bytes(),
        c.qe_identity_issuer_chain.as_bytes(),
        &c.pck_crl,
        c.pck_crl_issuer_chain.as_bytes(),
        &c.root_ca_crl,
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    ctx.finish()
}
