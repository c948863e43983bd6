//! A token-signing certificate that carries its service's own TEE evidence,
//! bound to the certificate's key — as Microsoft Azure Attestation's do, and
//! as Attesta nodes' do.
//!
//! ## Where the evidence is
//!
//! | OID | value | source |
//! |---|---|---|
//! | `1.2.840.113556.10.1.1` | OCTET STRING holding a raw SGX ECDSA quote v3 | MAA on SGX (2020) |
//! | `1.2.840.113556.10.1.2` | INTEGER (1 in every certificate seen) | MAA on SGX (2020), shown, not judged |
//! | `1.3.6.1.4.1.311.105.1` | Open Enclave remote report (16-byte header + SGX quote) | MAA on SGX (2021+) |
//! | `1.3.6.1.4.1.311.105.1000.1` | UTF8String JSON `{"SnpReport","VcekCertChain","Endorsements"}` (base64url members) | MAA on SEV-SNP |
//! | `1.3.6.1.4.1.311.105.1000.2` | UTF8String TEE kind (`acisevsnp`) | MAA on SEV-SNP |
//! | [`OID_ATTESTA_EVIDENCE`] | UTF8String JSON [`AttestaEvidence`] | Attesta nodes |
//!
//! An extension value that holds bytes is accepted either as the bare
//! payload (what DER allows for an extnValue) or wrapped in one more OCTET
//! STRING (what MAA writes); both decode to the same evidence.
//!
//! ## Key binding
//!
//! `report_data[0..32]` = SHA-256( the certificate's SubjectPublicKeyInfo as
//! PEM text — `-----BEGIN PUBLIC KEY-----\n`, standard base64 in lines of 64
//! characters each ending in `\n`, `-----END PUBLIC KEY-----\n` — followed by
//! one 0x00 byte ), and `report_data[32..64]` = 0. MAA's token `kid` for such
//! a key is the standard base64 of those 32 bytes. Verified against MAA's
//! 2020 UK South production certificate (a test reads it from the shared
//! vectors).
//!
//! ## What is checked
//!
//! [`verify`] checks, in order: the certificate is within its validity at
//! the given time; it is self-signed by its own key (informational for MAA's
//! 1024-bit RSA keys, see [`SelfSignature`]); one piece of evidence is
//! present; its report data binds the key (above). Then, for SGX quotes
//! (bare, in an OE report, or in Attesta's extension): without collateral,
//! the PCK chain up to a trusted Intel SGX root and the quote's three
//! signatures (QE report by the PCK key, QE report data over the attestation
//! key, ISV report by the attestation key) — no CRL, no TCB status; with
//! collateral, the full DCAP verification ([`crate::sgx`]), whose claims
//! become the service's claims. TDX TD quotes the same way ([`crate::tdx`]).
//! SEV-SNP reports with their VCEK and ASK (PEM, MAA's `VcekCertChain` or
//! Attesta's `certs`; or DER from [`ServiceCollateral::snp_certificates`]):
//! the chain to a trusted AMD ARK, the report's signature, its reported TCB
//! against the VCEK's and its chip id; with an AMD CRL
//! ([`ServiceCollateral::amd_crls`]) also revocation, which makes the check
//! [`VerifyLevel::Full`]. Without certificates only the binding is checked
//! ([`VerifyLevel::BindingOnly`], which no relying-party policy accepts).
//!
//! ## Collateral references
//!
//! Attesta's extension (version 2) may say where the evidence's collateral
//! is ([`CollateralRefs`]): FMSPC and PCK CA for DCAP quotes, product and
//! signing key for SEV-SNP reports, with the vendor's URLs. Fetching stays
//! outside this crate (the collateral crate's PCS and KDS clients);
//! [`collateral_ids`] reads the identifiers from the evidence itself.
//! Version 1 (no references) is still read; other versions are refused.
//!
//! Everything is sans-I/O: the caller passes the certificate bytes,
//! collateral, roots and the time.

use base64::Engine;
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::claims::Claims;
use crate::crypto;
use crate::dcap::DcapCollateral;
use crate::error::{ErrorCode, ParseError};
use crate::openenclave::OeReport;
use crate::roots::{RootKind, TrustRoots};
use crate::sgx::{self, Quote, SgxError};
use crate::types::UnixTime;

/// MAA (SGX, 2020): OCTET STRING with a raw SGX quote v3.
pub const OID_MAA_SGX_QUOTE: &str = "1.2.840.113556.10.1.1";
/// MAA (SGX, 2020): an INTEGER next to the quote (1 in every certificate seen).
pub const OID_MAA_SGX_QUOTE_VERSION: &str = "1.2.840.113556.10.1.2";
/// MAA (SGX, 2021+): an Open Enclave remote report.
pub const OID_MAA_OE_REPORT: &str = "1.3.6.1.4.1.311.105.1";
/// MAA (SEV-SNP in Confidential ACI): JSON with the SNP report and VCEK chain.
pub const OID_MAA_SNP_EVIDENCE: &str = "1.3.6.1.4.1.311.105.1000.1";
/// MAA (SEV-SNP): the TEE kind, a UTF8String.
pub const OID_MAA_TEE_KIND: &str = "1.3.6.1.4.1.311.105.1000.2";
/// Attesta: UTF8String JSON [`AttestaEvidence`]. An OID under the UUID arc
/// `2.25` (ITU-T X.667), so no registration is needed.
pub const OID_ATTESTA_EVIDENCE: &str = "2.25.241710523177038228075099025818189155247";
/// DER content octets of [`OID_ATTESTA_EVIDENCE`] (its arcs do not fit in 64 bits).
pub const OID_ATTESTA_EVIDENCE_DER: [u8; 20] = [
    0x69, 0x82, 0xeb, 0xd7, 0xe0, 0xb8, 0xba, 0xe8, 0xfa, 0x99, 0x87, 0xbd, 0x82, 0x9e, 0xa2, 0x85,
    0xdc, 0xb7, 0x97, 0x2f,
];
/// Upper bound on a certificate's size (MAA's with a quote is about 5 KiB).
pub const MAX_CERT_LEN: usize = 64 * 1024;

/// What kind of evidence a certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// A raw SGX ECDSA quote (v3 or v4).
    SgxQuote,
    /// An Open Enclave remote report (header + SGX quote).
    OeReport,
    /// An SEV-SNP attestation report (1184 bytes).
    SnpReport,
    /// A TDX TD quote (v4 or v5).
    TdxQuote,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SgxQuote => "sgx-quote",
            Self::OeReport => "oe-report",
            Self::SnpReport => "snp-report",
            Self::TdxQuote => "tdx-quote",
        }
    }
}

/// The version [`AttestaEvidence::new`] writes. Version 1 (2025) had no
/// `collateral` member; version 2 adds it. Readers accept both and refuse
/// any other.
pub const ATTESTA_EVIDENCE_VERSION: u32 = 2;

/// The value of Attesta's extension ([`OID_ATTESTA_EVIDENCE`]): compact JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestaEvidence {
    /// Format version: 1 or 2 ([`ATTESTA_EVIDENCE_VERSION`]).
    pub version: u32,
    /// The evidence kind.
    pub kind: EvidenceKind,
    /// The evidence bytes, base64url without padding.
    pub evidence: String,
    /// The binding rule; always [`BINDING_RULE`].
    pub binding: String,
    /// Where the node obtained the evidence (`configfs-tsm`, `test`, …); informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Certificates the evidence needs, base64url; optional. For SEV-SNP:
    /// the VCEK (or VLEK), then the ASK (or ASVK), optionally the ARK, as PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certs: Option<String>,
    /// Version 2: what a relying party needs to fetch the evidence's
    /// collateral ([`CollateralRefs`]); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral: Option<CollateralRefs>,
}

/// Where the collateral of a node's evidence is: identifiers a relying
/// party fetches it by (the collateral crate's PCS and KDS clients take
/// them), and the vendor's URLs for them. Hints, not trust: whatever is
/// fetched is verified against the vendor roots, so a wrong reference
/// only makes verification fail. Members depend on the kind: `tee`,
/// `fmspc`, `ca` and the three PCS URLs for SGX and TDX quotes; `product`,
/// `signing_key` and the KDS URLs for SEV-SNP reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollateralRefs {
    /// DCAP: `sgx` or `tdx` (which PCS API family serves the TCB info and QE identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tee: Option<String>,
    /// DCAP: the platform's FMSPC, 12 upper-case hex digits (from the PCK certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmspc: Option<String>,
    /// DCAP: the PCK CA, `processor` or `platform` (names the PCK CRL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// DCAP: TCB info at Intel's PCS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcb_info_url: Option<String>,
    /// DCAP: QE (TDX: TD QE) identity at Intel's PCS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qe_identity_url: Option<String>,
    /// DCAP: the PCK CRL at Intel's PCS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pck_crl_url: Option<String>,
    /// SEV-SNP: the product, `Milan`, `Genoa` or `Turin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// SEV-SNP: the key that signed the report, `vcek` or `vlek`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// SEV-SNP: the VCEK for the report's chip and reported TCB at AMD's KDS (VCEK only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcek_url: Option<String>,
    /// SEV-SNP: the ASK (ASVK) and ARK at AMD's KDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_chain_url: Option<String>,
    /// SEV-SNP: the product's ARK-signed CRL at AMD's KDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_url: Option<String>,
}

/// The binding rule in use, named in [`AttestaEvidence::binding`].
pub const BINDING_RULE: &str = "sha256(spki-pem || 0x00)";

impl AttestaEvidence {
    /// The extension value for `evidence` of `kind` (version
    /// [`ATTESTA_EVIDENCE_VERSION`], no certificates, no references).
    pub fn new(kind: EvidenceKind, evidence: &[u8], source: Option<&str>) -> Self {
        Self {
            version: ATTESTA_EVIDENCE_VERSION,
            kind,
            evidence: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(evidence),
            binding: BINDING_RULE.into(),
            source: source.map(str::to_string),
            certs: None,
            collateral: None,
        }
    }

    /// The DER extension value: a UTF8String holding the JSON.
    pub fn to_extension_value(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        der_wrap(0x0c, &json)
    }
}

/// The identifiers of [`CollateralRefs`] that the evidence itself gives
/// (no URLs: those are the fetching side's, see the collateral crate): for
/// SGX quotes, OE reports and TD quotes the FMSPC and PCK CA of the quote's
/// PCK certificate; for SEV-SNP reports the product (from the VCEK/VLEK in
/// `certs_pem` when given, else the report's CPUID, v3+) and the signing
/// key. A piece that cannot be read is left out.
pub fn collateral_ids(
    kind: EvidenceKind,
    evidence: &[u8],
    certs_pem: Option<&[u8]>,
) -> CollateralRefs {
    let mut r = CollateralRefs::default();
    let pck_chain = match kind {
        EvidenceKind::SgxQuote => Quote::parse(evidence)
            .ok()
            .map(|q| q.pck_chain_pem.to_vec()),
        EvidenceKind::OeReport => OeReport::parse(evidence)
            .ok()
            .map(|o| o.quote.pck_chain_pem.to_vec()),
        EvidenceKind::TdxQuote => crate::tdx::TdQuote::parse(evidence)
            .ok()
            .map(|q| q.pck_chain_pem.to_vec()),
        EvidenceKind::SnpReport => None,
    };
    if let Some(chain) = pck_chain {
        r.tee = Some(
            if kind == EvidenceKind::TdxQuote {
                "tdx"
            } else {
                "sgx"
            }
            .into(),
        );
        let leaf = sgx::pki::pem_certificates(&chain)
            .ok()
            .and_then(|c| c.into_iter().next());
        if let Some(leaf) = leaf
            && let Ok(cert) = sgx::pki::parse_cert(&leaf)
        {
            if let Ok(ext) = sgx::pki::pck_extension(&cert) {
                r.fmspc = Some(hex::encode_upper(ext.fmspc));
            }
            let cn = cert
                .issuer()
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok())
                .unwrap_or_default()
                .to_string();
            if cn.ends_with("SGX PCK Processor CA") {
                r.ca = Some("processor".into());
            } else if cn.ends_with("SGX PCK Platform CA") {
                r.ca = Some("platform".into());
            }
        }
    }
    if kind == EvidenceKind::SnpReport
        && let Ok(report) = crate::snp::parse_report(evidence)
    {
        if report.signing_key != crate::snp::SigningKey::None {
            r.signing_key = Some(report.signing_key.as_str().into());
        }
        let from_cert = certs_pem
            .and_then(|pem| sgx::pki::pem_certificates(pem).ok())
            .and_then(|c| c.into_iter().next())
            .and_then(|der| {
                let cert = sgx::pki::parse_cert(&der).ok()?;
                crate::snp::vek_facts(&cert).ok().map(|f| f.generation)
            });
        r.product = from_cert
            .or_else(|| report.cpuid_generation())
            .map(|g| g.as_str().to_string());
    }
    r
}

/// The value of MAA's SGX extension (`1.2.840.113556.10.1.1`) for `quote`:
/// an OCTET STRING holding it, as MAA writes it.
pub fn maa_sgx_extension_value(quote: &[u8]) -> Vec<u8> {
    der_wrap(0x04, quote)
}

/// The value of MAA's SEV-SNP extension (`1.3.6.1.4.1.311.105.1000.1`): a
/// UTF8String holding `{"SnpReport": b64url(report), "VcekCertChain":
/// b64url(PEM chain)}` (MAA adds `Endorsements`, the Confidential ACI UVM
/// endorsement, which other hosts do not have).
pub fn maa_snp_extension_value(report: &[u8], vcek_chain_pem: &[u8]) -> Vec<u8> {
    let b = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    let json = serde_json::json!({"SnpReport": b(report), "VcekCertChain": b(vcek_chain_pem)});
    der_wrap(0x0c, json.to_string().as_bytes())
}

/// Which extension the evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceSource {
    MaaSgxQuote,
    MaaOeReport,
    MaaSnp,
    Attesta,
}

impl EvidenceSource {
    /// The extension's OID.
    pub fn oid(self) -> &'static str {
        match self {
            Self::MaaSgxQuote => OID_MAA_SGX_QUOTE,
            Self::MaaOeReport => OID_MAA_OE_REPORT,
            Self::MaaSnp => OID_MAA_SNP_EVIDENCE,
            Self::Attesta => OID_ATTESTA_EVIDENCE,
        }
    }
}

/// One piece of evidence found in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEvidence {
    pub source: EvidenceSource,
    pub kind: EvidenceKind,
    /// The evidence bytes (quote, OE report or SNP report).
    pub bytes: Vec<u8>,
    /// Certificates shipped with the evidence (SNP VCEK chain), PEM.
    pub certs: Option<Vec<u8>>,
    /// Attesta's `source` member, when present.
    pub origin: Option<String>,
    /// Attesta's `collateral` member (version 2), when present.
    pub refs: Option<CollateralRefs>,
}

impl CertEvidence {
    /// The report data field of the evidence (parses it).
    pub fn report_data(&self) -> Result<[u8; 64], ParseError> {
        match self.kind {
            EvidenceKind::SgxQuote => Ok(Quote::parse(&self.bytes)?.report.report_data),
            EvidenceKind::OeReport => Ok(OeReport::parse(&self.bytes)?.quote.report.report_data),
            EvidenceKind::SnpReport => Ok(crate::snp::parse_report(&self.bytes)?.report_data),
            EvidenceKind::TdxQuote => {
                Ok(crate::tdx::TdQuote::parse(&self.bytes)?.report.report_data)
            }
        }
    }

    /// The SGX quote bytes inside, for SGX quotes and OE reports.
    pub fn sgx_quote_bytes(&self) -> Option<&[u8]> {
        match self.kind {
            EvidenceKind::SgxQuote => Some(&self.bytes),
            EvidenceKind::OeReport => self.bytes.get(crate::openenclave::OE_HEADER_LEN..),
            _ => None,
        }
    }
}

/// A decoded signing certificate and the evidence it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCert {
    /// The certificate, DER.
    pub der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// Every piece of evidence found, in extension order.
    pub evidence: Vec<CertEvidence>,
    /// MAA's TEE-kind extension (`1.3.6.1.4.1.311.105.1000.2`), when present.
    pub tee_kind: Option<String>,
    /// MAA's INTEGER extension `1.2.840.113556.10.1.2`, when present.
    pub maa_quote_version: Option<u64>,
}

impl SigningCert {
    /// Decode a certificate given as DER, PEM, or bare base64 of the DER
    /// (MAA's `.cer` samples). Total: a value or a [`ParseError`].
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        if input.len() > MAX_CERT_LEN * 2 {
            return Err(malformed(format!(
                "{} bytes is larger than the {}-byte limit",
                input.len(),
                MAX_CERT_LEN
            )));
        }
        let der = certificate_der(input)?;
        if der.len() > MAX_CERT_LEN {
            return Err(malformed(format!(
                "{} bytes of DER is larger than the {MAX_CERT_LEN}-byte limit",
                der.len()
            )));
        }
        let cert = match X509Certificate::from_der(&der) {
            Ok(([], c)) => c,
            Ok((rest, _)) => {
                return Err(ParseError::TrailingBytes {
                    what: "signing certificate",
                    count: rest.len(),
                });
            }
            Err(e) => return Err(malformed(format!("not a DER X.509 certificate: {e}"))),
        };
        let mut evidence = Vec::new();
        let mut tee_kind = None;
        let mut maa_quote_version = None;
        for ext in cert.extensions() {
            let oid = ext.oid.as_bytes();
            if oid == OID_ATTESTA_EVIDENCE_DER {
                evidence.push(parse_attesta(ext.value)?);
                continue;
            }
            match ext.oid.to_id_string().as_str() {
                OID_MAA_SGX_QUOTE => evidence.push(CertEvidence {
                    source: EvidenceSource::MaaSgxQuote,
                    kind: EvidenceKind::SgxQuote,
                    bytes: octets(ext.value).to_vec(),
                    certs: None,
                    origin: None,
                    refs: None,
                }),
                OID_MAA_OE_REPORT => evidence.push(CertEvidence {
                    source: EvidenceSource::MaaOeReport,
                    kind: EvidenceKind::OeReport,
                    bytes: octets(ext.value).to_vec(),
                    certs: None,
                    origin: None,
                    refs: None,
                }),
                OID_MAA_SNP_EVIDENCE => evidence.push(parse_maa_snp(ext.value)?),
                OID_MAA_TEE_KIND => {
                    let text = der_unwrap(ext.value, 0x0c, "TEE kind extension")?;
                    tee_kind = Some(
                        std::str::from_utf8(text)
                            .map_err(|_| malformed("the TEE kind extension is not UTF-8".into()))?
                            .to_string(),
                    );
                }
                OID_MAA_SGX_QUOTE_VERSION => {
                    let int = der_unwrap(ext.value, 0x02, "extension 1.2.840.113556.10.1.2")?;
                    if int.is_empty() || int.len() > 8 {
                        return Err(malformed(
                            "extension 1.2.840.113556.10.1.2 is not a small INTEGER".into(),
                        ));
                    }
                    maa_quote_version =
                        Some(int.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)));
                }
                _ => {}
            }
        }
        let v = cert.validity();
        let out = Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: hex::encode(cert.raw_serial()),
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
            spki_der: cert.public_key().raw.to_vec(),
            evidence,
            tee_kind,
            maa_quote_version,
            der: Vec::new(),
        };
        Ok(Self { der, ..out })
    }

    /// The SPKI as the PEM text the binding hashes.
    pub fn spki_pem(&self) -> String {
        spki_pem(&self.spki_der)
    }

    /// SHA-256(SPKI PEM ‖ 0x00): what `report_data[0..32]` must hold.
    pub fn binding_digest(&self) -> [u8; 32] {
        key_binding_digest(&self.spki_der)
    }

    /// MAA's `kid` for this key: standard base64 of [`Self::binding_digest`].
    pub fn maa_kid(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.binding_digest())
    }

    /// The one piece of evidence to judge: Attesta's own when present, else
    /// MAA's. Two pieces from the same family are ambiguous and refused.
    pub fn primary_evidence(&self) -> Result<&CertEvidence, SigningCertError> {
        let attesta: Vec<_> = self
            .evidence
            .iter()
            .filter(|e| e.source == EvidenceSource::Attesta)
            .collect();
        let maa: Vec<_> = self
            .evidence
            .iter()
            .filter(|e| e.source != EvidenceSource::Attesta)
            .collect();
        match (attesta.as_slice(), maa.as_slice()) {
            ([one], _) => Ok(one),
            ([], [one]) => Ok(one),
            ([], []) => Err(SigningCertError::NoEvidence),
            _ => Err(SigningCertError::AmbiguousEvidence(self.evidence.len())),
        }
    }
}

/// PEM text of a SubjectPublicKeyInfo, in the exact form the binding hashes.
pub fn spki_pem(spki_der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki_der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    out.push_str("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// SHA-256(SPKI PEM ‖ 0x00).
pub fn key_binding_digest(spki_der: &[u8]) -> [u8; 32] {
    let mut text = spki_pem(spki_der).into_bytes();
    text.push(0);
    crypto::sha256(&text)
}

/// The 64-byte report data that binds `spki_der`: the digest, then 32 zeros.
pub fn key_binding_report_data(spki_der: &[u8]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    rd[..32].copy_from_slice(&key_binding_digest(spki_der));
    rd
}

/// Check that `report_data` binds `spki_der` (see the module doc).
pub fn check_key_binding(report_data: &[u8], spki_der: &[u8]) -> Result<(), SigningCertError> {
    let digest = key_binding_digest(spki_der);
    let field = report_data
        .get(..32)
        .ok_or(SigningCertError::KeyBindingMismatch {
            report_data: hex::encode(report_data),
            expected: hex::encode(digest),
        })?;
    if !crypto::constant_time_eq(field, &digest) {
        return Err(SigningCertError::KeyBindingMismatch {
            report_data: hex::encode(field),
            expected: hex::encode(digest),
        });
    }
    if report_data[32..].iter().any(|&b| b != 0) {
        return Err(SigningCertError::ReportDataUpperHalfNotZero);
    }
    Ok(())
}

/// The result of checking the certificate's own signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfSignature {
    /// Issuer = subject and the signature verifies with the certificate's key.
    Valid,
    /// Valid, with an RSA key shorter than 2048 bits (MAA's 2019–2021 SGX keys).
    ValidLegacyKey,
    /// Issuer ≠ subject: not self-signed (a CA-issued certificate).
    NotSelfSigned,
    /// Self-signed, but the signature does not verify.
    Invalid,
    /// An algorithm this check does not know.
    Unsupported,
}

impl SelfSignature {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::ValidLegacyKey => "valid (RSA key under 2048 bits)",
            Self::NotSelfSigned => "not self-signed",
            Self::Invalid => "invalid",
            Self::Unsupported => "unsupported algorithm",
        }
    }
}

/// Check the certificate's self-signature ([`crate::pki::issued_by`] with
/// the certificate as its own issuer; an RSA PKCS#1 SHA-256 signature by a
/// key under 2048 bits is reported as [`SelfSignature::ValidLegacyKey`]).
pub fn check_self_signature(der: &[u8]) -> SelfSignature {
    use crate::pki::{self, CertificateError, SignatureAlgorithm};
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return SelfSignature::Invalid;
    };
    match pki::issued_by(&cert, &cert) {
        Ok(()) => SelfSignature::Valid,
        Err(CertificateError::IssuerMismatch { .. }) => SelfSignature::NotSelfSigned,
        Err(CertificateError::UnsupportedSignatureAlgorithm { .. }) => SelfSignature::Unsupported,
        Err(_)
            if pki::signature_algorithm(&cert.signature_algorithm)
                == Some(SignatureAlgorithm::RsaPkcs1Sha256)
                && crypto::verify_rsa_sha256_legacy(
                    &cert.public_key().subject_public_key.data,
                    cert.tbs_certificate.as_ref(),
                    &cert.signature_value.data,
                )
                .is_ok() =>
        {
            SelfSignature::ValidLegacyKey
        }
        Err(_) => SelfSignature::Invalid,
    }
}

/// How far verification of the evidence went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyLevel {
    /// Only the key binding (evidence kinds whose chain is not checked here).
    BindingOnly,
    /// Binding, PCK chain to a trusted root and the quote's signatures; no
    /// CRLs, no TCB status (no collateral given).
    Signatures,
    /// The full verification with collateral: chain, CRLs, TCB status.
    Full,
}

impl VerifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BindingOnly => "binding-only",
            Self::Signatures => "signatures",
            Self::Full => "full",
        }
    }
}

/// A signing certificate whose evidence verified.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningCertVerified {
    pub source: EvidenceSource,
    pub kind: EvidenceKind,
    pub level: VerifyLevel,
    pub self_signature: SelfSignature,
    /// SHA-256(SPKI PEM ‖ 0x00) — equal to report_data[0..32].
    pub binding_digest: [u8; 32],
    /// The service's claims: MAA's names for the evidence kind (with
    /// collateral, everything the verifier emits; without, what the report
    /// body says) plus `x-attesta-service-evidence-level`.
    pub claims: Claims,
    /// Subject of the PCK leaf the quote chains through (SGX), when checked.
    pub pck_subject: Option<String>,
    /// True when the chain ended at a configured (test) root.
    pub test_root: bool,
}

/// Why a signing certificate's evidence did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningCertError {
    #[error("the signing certificate could not be decoded: {0}")]
    Parse(#[from] ParseError),
    #[error(
        "the certificate carries no TEE evidence (none of MAA's extensions nor Attesta's {OID_ATTESTA_EVIDENCE}); it was not issued by a service running in a TEE"
    )]
    NoEvidence,
    #[error(
        "the certificate carries {0} pieces of evidence of one family; which one binds its key is ambiguous"
    )]
    AmbiguousEvidence(usize),
    #[error(
        "the evidence does not bind the certificate's key: report_data[0..32] is {report_data}, SHA-256(SPKI PEM || 0x00) is {expected} (was the evidence taken from another key's certificate?)"
    )]
    KeyBindingMismatch {
        report_data: String,
        expected: String,
    },
    #[error("report_data[32..64] is not zero, as the binding rule requires")]
    ReportDataUpperHalfNotZero,
    #[error(
        "the signing certificate is not valid at the verification time (validity {nb}..{na}, time {t}); pass the time the token was issued with --at",
        nb = crate::types::rfc3339(*not_before),
        na = crate::types::rfc3339(*not_after),
        t = crate::types::rfc3339(*at as i64)
    )]
    CertificateExpired {
        not_before: i64,
        not_after: i64,
        at: u64,
    },
    #[error("the signing certificate's self-signature does not verify")]
    SelfSignatureInvalid,
    #[error("the service's SGX evidence did not verify: {0}")]
    Sgx(SgxError),
    #[error("the service's TDX evidence did not verify: {1}")]
    Tdx(&'static str, String),
    #[error("the service's SEV-SNP evidence did not verify: {1}")]
    Snp(&'static str, String),
    #[error("verifying {0} evidence in a signing certificate is not supported yet")]
    UnsupportedKind(&'static str),
}

impl ErrorCode for SigningCertError {
    fn code(&self) -> &'static str {
        match self {
            Self::Parse(e) => e.code(),
            Self::NoEvidence => "ServiceEvidenceMissing",
            Self::AmbiguousEvidence(_) => "ServiceEvidenceAmbiguous",
            Self::KeyBindingMismatch { .. } => "ServiceKeyBindingMismatch",
            Self::ReportDataUpperHalfNotZero => "ServiceKeyBindingMismatch",
            Self::CertificateExpired { .. } => "SigningCertificateExpired",
            Self::SelfSignatureInvalid => "SigningCertificateSignatureInvalid",
            Self::Sgx(e) => e.code(),
            Self::Tdx(code, _) | Self::Snp(code, _) => code,
            Self::UnsupportedKind(_) => "ServiceEvidenceUnsupported",
        }
    }
}

/// Collateral for the full check of a certificate's evidence, whatever its
/// kind: the relying party passes what it has (`attesta token verify
/// --tee-collateral`, or fetched with `--tee-fetch`); the verifier takes
/// the part that fits the evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceCollateral {
    /// DCAP collateral of the quote's platform (SGX quotes, OE reports, TD quotes).
    pub dcap: Option<DcapCollateral>,
    /// AMD CRLs (SEV-SNP). The one for the report's hierarchy (VCEK or
    /// VLEK) issued by the ARK the chain ends at is checked; when CRLs are
    /// given but none is that one, verification fails (`AmdCrlMissing`).
    pub amd_crls: Vec<AmdCrl>,
    /// The VCEK (or VLEK) and ASK (or ASVK), DER, for an SEV-SNP report
    /// whose evidence carries no certificates (fetched from KDS). Evidence
    /// that carries its own is verified with those.
    pub snp_certificates: Option<crate::snp::SnpCertificates>,
}

/// An AMD CRL and the hierarchy it revokes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdCrl {
    /// [`crate::snp::SigningKey::Vcek`] (KDS `/vcek/v1/{product}/crl`) or
    /// [`crate::snp::SigningKey::Vlek`] (`/vlek/v1/{product}/crl`).
    pub signing_key: crate::snp::SigningKey,
    /// The CRL, DER.
    pub der: Vec<u8>,
}

impl ServiceCollateral {
    /// Only DCAP collateral (or none).
    pub fn dcap(collateral: Option<&DcapCollateral>) -> Self {
        Self {
            dcap: collateral.cloned(),
            ..Self::default()
        }
    }
}

/// Verify a signing certificate's evidence at `at`: validity, self-signature,
/// key binding, then the evidence itself — fully with DCAP `collateral`, its
/// signatures and chain without (see the module doc). [`verify_with`] takes
/// collateral of every kind.
pub fn verify(
    cert: &SigningCert,
    collateral: Option<&DcapCollateral>,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<SigningCertVerified, SigningCertError> {
    verify_with(cert, &ServiceCollateral::dcap(collateral), roots, at)
}

/// [`verify`] with collateral for any evidence kind: DCAP collateral makes
/// an SGX or TDX check full (CRLs, TCB status); an AMD CRL for the report's
/// hierarchy makes an SEV-SNP check full (revocation of the VCEK/VLEK and
/// ASK/ASVK).
pub fn verify_with(
    cert: &SigningCert,
    collateral: &ServiceCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<SigningCertVerified, SigningCertError> {
    if !sgx::pki::within(at.0, cert.not_before, cert.not_after) {
        return Err(SigningCertError::CertificateExpired {
            not_before: cert.not_before,
            not_after: cert.not_after,
            at: at.0,
        });
    }
    let self_signature = check_self_signature(&cert.der);
    if self_signature == SelfSignature::Invalid {
        return Err(SigningCertError::SelfSignatureInvalid);
    }
    let ev = cert.primary_evidence()?;
    let report_data = ev.report_data()?;
    check_key_binding(&report_data, &cert.spki_der)?;
    let binding_digest = cert.binding_digest();
    let dcap = collateral.dcap.as_ref();
    let (level, mut claims, pck_subject, test_root) = match ev.kind {
        EvidenceKind::TdxQuote => verify_tdx(&ev.bytes, dcap, roots, at)?,
        EvidenceKind::SnpReport => verify_snp(ev, collateral, roots, at)?,
        EvidenceKind::SgxQuote | EvidenceKind::OeReport => {
            let quote_bytes = ev
                .sgx_quote_bytes()
                .ok_or(SigningCertError::UnsupportedKind(ev.kind.as_str()))?;
            verify_sgx(quote_bytes, dcap, roots, at)?
        }
    };
    claims.insert("x-attesta-service-evidence-level", level.as_str());
    Ok(SigningCertVerified {
        source: ev.source,
        kind: ev.kind,
        level,
        self_signature,
        binding_digest,
        claims,
        pck_subject,
        test_root,
    })
}

/// An SGX quote: with collateral the full DCAP verification; without, the
/// PCK chain and the quote's signatures, and the claims the report says.
fn verify_sgx(
    quote_bytes: &[u8],
    collateral: Option<&DcapCollateral>,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<Outcome, SigningCertError> {
    let quote = sgx::parse_quote(quote_bytes).map_err(SigningCertError::Sgx)?;
    Ok(match collateral {
        Some(c) => {
            let vc =
                sgx::VerifiedCollateral::verify(c, roots, at).map_err(SigningCertError::Sgx)?;
            let sv = sgx::verify_quote(&quote, &vc, roots, at).map_err(SigningCertError::Sgx)?;
            (VerifyLevel::Full, sv.claims(), None, sv.test_root)
        }
        None => {
            let (subject, test_root) =
                check_quote_chain(&quote, roots, at).map_err(SigningCertError::Sgx)?;
            (
                VerifyLevel::Signatures,
                report_claims(&quote),
                Some(subject),
                test_root,
            )
        }
    })
}

type Outcome = (VerifyLevel, Claims, Option<String>, bool);

/// A TD quote: with collateral the full TDX verification; without, the PCK
/// chain and the quote's signatures, and the claims the TD report says.
fn verify_tdx(
    bytes: &[u8],
    collateral: Option<&DcapCollateral>,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<Outcome, SigningCertError> {
    let tdx_err = |e: crate::tdx::TdxError| SigningCertError::Tdx(e.code(), e.to_string());
    let quote = crate::tdx::parse_td_quote(bytes).map_err(tdx_err)?;
    match collateral {
        Some(c) => {
            let vc = crate::tdx::TdxVerifiedCollateral::verify(c, roots, at).map_err(tdx_err)?;
            let v = crate::tdx::verify_td_quote(&quote, &vc, roots, at).map_err(tdx_err)?;
            Ok((VerifyLevel::Full, v.claims(), None, v.test_root))
        }
        None => {
            let (leaf_key, subject, test_root) =
                check_pck_chain(quote.pck_chain_pem, roots, at).map_err(SigningCertError::Sgx)?;
            crate::sgx::verify::check_signature_parts(
                &crate::sgx::verify::SignatureParts {
                    qe_report_bytes: quote.qe_report_bytes,
                    qe_report_signature: &quote.qe_report_signature,
                    qe_report_data: &quote.qe_report.report_data,
                    attestation_key: &quote.attestation_key,
                    qe_auth_data: quote.qe_auth_data,
                    signed_bytes: quote.signed_bytes,
                    signature: &quote.signature,
                },
                &leaf_key,
            )
            .map_err(SigningCertError::Sgx)?;
            let r = &quote.report;
            let mut c = Claims::new();
            c.insert("x-ms-attestation-type", "tdxvm");
            c.insert("dbgstat", if r.is_debug() { "enabled" } else { "disabled" });
            c.insert_hex("tdx_mrseam", &r.mr_seam);
            c.insert_hex("tdx_mrtd", &r.mr_td);
            for (i, m) in r.rtmr.iter().enumerate() {
                c.insert_hex(format!("tdx_rtmr{i}"), m);
            }
            c.insert_hex("tdx_mrconfigid", &r.mr_config_id);
            c.insert_hex("tdx_mrowner", &r.mr_owner);
            c.insert_hex("tdx_report_data", &r.report_data);
            Ok((VerifyLevel::Signatures, c, Some(subject), test_root))
        }
    }
}

/// An SEV-SNP report: with its VCEK (or VLEK) and ASK — PEM in the
/// evidence's `certs` (MAA's `VcekCertChain`), else DER in
/// [`ServiceCollateral::snp_certificates`] — the chain to a trusted ARK,
/// the report's signature, its reported TCB against the VCEK's and its chip
/// id ([`crate::snp`]); with an AMD CRL for the report's hierarchy also
/// revocation ([`VerifyLevel::Full`]), else [`VerifyLevel::Signatures`].
/// Without certificates, only the binding was checked
/// ([`VerifyLevel::BindingOnly`]) and the claims are the report's.
fn verify_snp(
    ev: &CertEvidence,
    collateral: &ServiceCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<Outcome, SigningCertError> {
    let snp_err = |e: crate::snp::SnpError| SigningCertError::Snp(e.code(), e.to_string());
    let chain_err =
        |e: String| SigningCertError::Snp("SnpChainInvalid", format!("the VCEK chain: {e}"));
    let (vek, ask) = match (&ev.certs, &collateral.snp_certificates) {
        (Some(pem), _) => {
            let certs = sgx::pki::pem_certificates(pem).map_err(|e| chain_err(e.to_string()))?;
            let [vek, ask, ..] = certs.as_slice() else {
                return Err(chain_err(
                    "it needs the VCEK (or VLEK) and the ASK (or ASVK)".into(),
                ));
            };
            (vek.clone(), ask.clone())
        }
        (None, Some(c)) => (c.vek_der.clone(), c.ask_der.clone()),
        (None, None) => {
            let r = crate::snp::parse_report(&ev.bytes)?;
            let mut claims = Claims::new();
            claims.insert("x-ms-attestation-type", "sevsnpvm");
            claims.insert_hex("x-ms-sevsnpvm-launchmeasurement", &r.measurement);
            claims.insert_hex("x-ms-sevsnpvm-reportdata", &r.report_data);
            return Ok((VerifyLevel::BindingOnly, claims, None, false));
        }
    };
    let crl = amd_crl_for(&ev.bytes, &ask, &collateral.amd_crls)?;
    let chain = crate::snp::VerifiedChain::verify(
        &crate::snp::SnpCollateral {
            vek_der: &vek,
            ask_der: &ask,
            crl_der: crl,
        },
        roots,
        at,
    )
    .map_err(snp_err)?;
    let v = crate::snp::verify_report(&ev.bytes, &chain, at).map_err(snp_err)?;
    let level = if chain.crl_window.is_some() {
        VerifyLevel::Full
    } else {
        VerifyLevel::Signatures
    };
    Ok((level, v.claims(), None, chain.test_root))
}

/// The AMD CRL among `crls` for a report's hierarchy: the one for its
/// signing key (VCEK or VLEK) whose issuer is the ASK's issuer (the ARK),
/// the most recent when several are. `None` when no CRLs were given at
/// all; `AmdCrlMissing` when CRLs were given but none fits.
fn amd_crl_for<'a>(
    report: &[u8],
    ask_der: &[u8],
    crls: &'a [AmdCrl],
) -> Result<Option<&'a [u8]>, SigningCertError> {
    if crls.is_empty() {
        return Ok(None);
    }
    let kind = crate::snp::parse_report(report)?.signing_key;
    let ask = sgx::pki::parse_cert(ask_der)
        .map_err(|e| SigningCertError::Snp("VcekChainInvalid", format!("ASK/ASVK: {e}")))?;
    let mut best: Option<(i64, &[u8])> = None;
    for c in crls.iter().filter(|c| c.signing_key == kind) {
        let Ok(crl) = sgx::pki::parse_crl(&c.der) else {
            continue;
        };
        if crl.issuer().as_raw() != ask.issuer().as_raw() {
            continue;
        }
        let this_update = crl.last_update().timestamp();
        if best.is_none_or(|(t, _)| this_update > t) {
            best = Some((this_update, &c.der));
        }
    }
    match best {
        Some((_, der)) => Ok(Some(der)),
        None => {
            let e = crate::snp::SnpError::CrlMissing(format!(
                "{} ({}, issued by '{}')",
                kind.as_str().to_uppercase(),
                ask.subject(),
                ask.issuer()
            ));
            Err(SigningCertError::Snp(e.code(), e.to_string()))
        }
    }
}

/// MAA's SGX claims that come from the report body alone.
fn report_claims(quote: &Quote<'_>) -> Claims {
    let r = &quote.report;
    let mut c = Claims::new();
    c.insert("x-ms-attestation-type", "sgx");
    c.insert("x-ms-sgx-is-debuggable", r.is_debug());
    c.insert_hex("x-ms-sgx-mrenclave", &r.mr_enclave);
    c.insert_hex("x-ms-sgx-mrsigner", &r.mr_signer);
    c.insert("x-ms-sgx-product-id", r.isv_prod_id);
    c.insert("x-ms-sgx-svn", r.isv_svn);
    c.insert_hex("x-ms-sgx-report-data", &r.report_data);
    c
}

/// Without collateral: the quote's PCK leaf and CA up to a trusted Intel SGX
/// root (signatures, CA flag, validity at `at`; no CRLs), then the quote's
/// signatures. Returns the leaf's subject and whether the root is configured.
pub fn check_quote_chain(
    quote: &Quote<'_>,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<(String, bool), SgxError> {
    let (leaf_key, subject, test_root) = check_pck_chain(quote.pck_chain_pem, roots, at)?;
    sgx::check_quote_signatures(quote, &leaf_key)?;
    Ok((subject, test_root))
}

/// A DCAP PCK chain (PEM, leaf first) up to a trusted Intel SGX root,
/// without CRLs: the leaf's key, its subject, and whether the root is a
/// configured one. The chain is leaf, PCK CA and optionally a copy of the
/// root; the walk ([`crate::pki::walk`]) goes from the leaf through the CA
/// to a trusted root (signatures, CA flags, validity of all three at `at`).
fn check_pck_chain(
    pck_chain_pem: &[u8],
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<(Vec<u8>, String, bool), SgxError> {
    let certs = sgx::pki::pem_certificates(pck_chain_pem).map_err(SgxError::pck_chain)?;
    if certs.len() < 2 || certs.len() > 3 {
        return Err(SgxError::PckChainInvalid(format!(
            "expected PCK leaf, PCK CA and root, found {} certificates",
            certs.len()
        )));
    }
    let anchors: Vec<&crate::roots::TrustRoot> = roots.of_kind(RootKind::IntelSgx).collect();
    let anchor_ders: Vec<&[u8]> = anchors.iter().map(|r| r.der.as_slice()).collect();
    let path = crate::pki::walk(
        &certs[0],
        &certs[1..2],
        &anchor_ders,
        at,
        &crate::pki::Options {
            max_depth: 2,
            ..Default::default()
        },
    )
    .map_err(SgxError::pck_chain)?;
    let leaf = sgx::pki::parse_cert(&certs[0]).map_err(SgxError::pck_chain)?;
    sgx::pki::pck_extension(&leaf).map_err(SgxError::PckExtensionInvalid)?;
    Ok((
        sgx::pki::public_key(&leaf),
        leaf.subject().to_string(),
        anchors[path.anchor].configured,
    ))
}

// ---------------------------------------------------------------- decoding
/// Arcs of a placeholder OID whose DER content has the same length (20
/// bytes) as [`OID_ATTESTA_EVIDENCE_DER`]: certificate builders that only
/// take 64-bit arcs (rcgen) write the extension under it, and
/// [`substitute_attesta_oid`] swaps in the real OID and re-signs.
pub const ATTESTA_OID_PLACEHOLDER_ARCS: [u64; 4] = [2, 25, 1 << 63, 1 << 56];

fn placeholder_tlv() -> Vec<u8> {
    let mut content = vec![105u8];
    for arc in &ATTESTA_OID_PLACEHOLDER_ARCS[2..] {
        let mut groups = Vec::new();
        let mut x = *arc;
        loop {
            groups.push((x & 0x7f) as u8);
            x >>= 7;
            if x == 0 {
                break;
            }
        }
        groups.reverse();
        let last = groups.len() - 1;
        for g in &mut groups[..last] {
            *g |= 0x80;
        }
        content.extend(groups);
    }
    der_wrap(0x06, &content)
}

/// Replace the placeholder OID ([`ATTESTA_OID_PLACEHOLDER_ARCS`]) in a DER
/// certificate with [`OID_ATTESTA_EVIDENCE`] and re-sign its TBS with
/// `sign` (which returns the signature the certificate's algorithm names).
/// The placeholder must occur exactly once.
pub fn substitute_attesta_oid(
    cert_der: &[u8],
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<Vec<u8>, ParseError> {
    let placeholder = placeholder_tlv();
    let real = der_wrap(0x06, &OID_ATTESTA_EVIDENCE_DER);
    debug_assert_eq!(placeholder.len(), real.len());
    let outer = der_unwrap(cert_der, 0x30, "certificate")?;
    let tbs_len = tlv_len(outer)?;
    let alg_len = tlv_len(&outer[tbs_len..])?;
    let mut tbs = outer[..tbs_len].to_vec();
    let alg = &outer[tbs_len..tbs_len + alg_len];
    let hits: Vec<usize> = tbs
        .windows(placeholder.len())
        .enumerate()
        .filter(|(_, w)| *w == placeholder.as_slice())
        .map(|(i, _)| i)
        .collect();
    let [at] = hits.as_slice() else {
        return Err(malformed(format!(
            "the placeholder OID occurs {} times in the TBS certificate, not once",
            hits.len()
        )));
    };
    tbs[*at..*at + real.len()].copy_from_slice(&real);
    let sig = sign(&tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    let mut content = tbs;
    content.extend_from_slice(alg);
    content.extend(der_wrap(0x03, &bits));
    Ok(der_wrap(0x30, &content))
}

/// Total length (header and content) of the DER TLV at the start of `bytes`.
fn tlv_len(bytes: &[u8]) -> Result<usize, ParseError> {
    let l = *bytes
        .get(1)
        .ok_or_else(|| malformed("truncated DER".into()))?;
    let (header, len) = if l < 0x80 {
        (2, usize::from(l))
    } else {
        let n = usize::from(l & 0x7f);
        let b = bytes
            .get(2..2 + n)
            .filter(|_| (1..=4).contains(&n))
            .ok_or_else(|| malformed("bad DER length".into()))?;
        (
            2 + n,
            b.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)),
        )
    };
    let total = header + len;
    if total > bytes.len() {
        return Err(malformed("truncated DER".into()));
    }
    Ok(total)
}

fn malformed(reason: String) -> ParseError {
    ParseError::Malformed {
        what: "signing certificate",
        reason,
    }
}

/// DER from DER, PEM (the first CERTIFICATE block) or bare base64 text.
fn certificate_der(input: &[u8]) -> Result<Vec<u8>, ParseError> {
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text: Vec<u8> = if input.windows(5).any(|w| w == b"-----") {
        return sgx::pki::pem_certificates(input)
            .map_err(|e| malformed(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| malformed("no PEM certificate found".into()));
    } else {
        input
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect()
    };
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|_| malformed("neither DER, PEM nor base64 of a DER certificate".into()))
}

/// The bytes of an extension that carries bytes: the content of one OCTET
/// STRING wrapping the whole value when there is one (MAA), else the value.
fn octets(value: &[u8]) -> &[u8] {
    der_unwrap(value, 0x04, "").unwrap_or(value)
}

/// DER TLV with `tag` that fills `bytes` exactly; its content.
fn der_unwrap<'a>(bytes: &'a [u8], tag: u8, what: &'static str) -> Result<&'a [u8], ParseError> {
    let bad = |reason: &str| ParseError::Malformed {
        what: if what.is_empty() {
            "certificate extension"
        } else {
            what
        },
        reason: reason.to_string(),
    };
    let (&t, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    if t != tag {
        return Err(bad("unexpected DER tag"));
    }
    let (&l, rest) = rest.split_first().ok_or_else(|| bad("no length"))?;
    let (len, rest) = if l < 0x80 {
        (usize::from(l), rest)
    } else {
        let n = usize::from(l & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad("bad DER length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() != len {
        return Err(bad("DER length does not match the value"));
    }
    Ok(rest)
}

/// DER TLV of `content` with `tag`.
pub(crate) fn der_wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
    out
}

fn b64url_member(v: &serde_json::Value, name: &str) -> Result<Option<Vec<u8>>, ParseError> {
    match v.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let s = s.trim_end_matches('=');
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .map(Some)
                .map_err(|_| malformed(format!("member {name} is not base64url")))
        }
        Some(_) => Err(malformed(format!("member {name} is not a string"))),
    }
}

fn parse_maa_snp(value: &[u8]) -> Result<CertEvidence, ParseError> {
    let text = der_unwrap(value, 0x0c, "MAA SEV-SNP evidence extension")?;
    let v: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| malformed(format!("the SEV-SNP evidence extension is not JSON: {e}")))?;
    let report = b64url_member(&v, "SnpReport")?
        .ok_or_else(|| malformed("the SEV-SNP evidence extension has no SnpReport".into()))?;
    Ok(CertEvidence {
        source: EvidenceSource::MaaSnp,
        kind: EvidenceKind::SnpReport,
        bytes: report,
        certs: b64url_member(&v, "VcekCertChain")?,
        origin: None,
        refs: None,
    })
}

fn parse_attesta(value: &[u8]) -> Result<CertEvidence, ParseError> {
    let text = der_unwrap(value, 0x0c, "Attesta evidence extension")?;
    let a: AttestaEvidence = serde_json::from_slice(text)
        .map_err(|e| malformed(format!("the Attesta evidence extension is invalid: {e}")))?;
    match a.version {
        2 => {}
        // Version 1 had no collateral references.
        1 if a.collateral.is_none() => {}
        1 => {
            return Err(malformed(
                "version 1 of the Attesta evidence extension has no collateral member".into(),
            ));
        }
        other => {
            return Err(ParseError::Unsupported {
                what: "Attesta evidence extension version (1 and 2 are known; update attesta)",
                value: other.to_string(),
            });
        }
    }
    if a.binding != BINDING_RULE {
        return Err(ParseError::Unsupported {
            what: "Attesta evidence binding rule",
            value: a.binding,
        });
    }
    let v = serde_json::json!({"e": a.evidence, "c": a.certs});
    Ok(CertEvidence {
        source: EvidenceSource::Attesta,
        kind: a.kind,
        bytes: b64url_member(&v, "e")?.unwrap_or_default(),
        certs: b64url_member(&v, "c")?,
        origin: a.source,
        refs: a.collateral,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attesta_oid_der_matches_the_dotted_form() {
        // 2.25.N: first octet 2*40+25 = 105, then N in base 128.
        let n: u128 = OID_ATTESTA_EVIDENCE
            .strip_prefix("2.25.")
            .and_then(|s| s.parse().ok())
            .expect("a 2.25 OID");
        let mut arcs = Vec::new();
        let mut x = n;
        loop {
            arcs.push((x & 0x7f) as u8);
            x >>= 7;
            if x == 0 {
                break;
            }
        }
        arcs.reverse();
        let last = arcs.len() - 1;
        for b in &mut arcs[..last] {
            *b |= 0x80;
        }
        let mut der = vec![105u8];
        der.extend(arcs);
        assert_eq!(der, OID_ATTESTA_EVIDENCE_DER);
    }

    #[test]
    fn spki_pem_wraps_at_64_and_ends_with_a_newline() {
        let pem = spki_pem(&[0xAB; 100]);
        let lines: Vec<&str> = pem.split('\n').collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 136 - 128);
        assert_eq!(lines[4], "-----END PUBLIC KEY-----");
        assert_eq!(lines[5], "");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn binding_check_names_both_sides() {
        let spki = [1u8, 2, 3];
        let rd = key_binding_report_data(&spki);
        assert_eq!(check_key_binding(&rd, &spki), Ok(()));
        let err = check_key_binding(&rd, &[1u8, 2, 4]).unwrap_err();
        assert_eq!(err.code(), "ServiceKeyBindingMismatch");
        let mut upper = rd;
        upper[40] = 1;
        assert_eq!(
            check_key_binding(&upper, &spki),
            Err(SigningCertError::ReportDataUpperHalfNotZero)
        );
        assert!(check_key_binding(&rd[..10], &spki).is_err());
    }

    #[test]
    fn der_helpers_round_trip_and_reject_bad_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let w = der_wrap(0x04, &content);
            assert_eq!(der_unwrap(&w, 0x04, "x").unwrap(), content.as_slice());
            assert!(der_unwrap(&w[..w.len() - 1], 0x04, "x").is_err());
            assert!(der_unwrap(&w, 0x0c, "x").is_err());
        }
        assert!(der_unwrap(&[0x04, 0x85, 1, 1, 1, 1, 1], 0x04, "x").is_err());
        assert!(der_unwrap(&[], 0x04, "x").is_err());
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(SigningCert::parse(b"").is_err());
        assert!(SigningCert::parse(b"\x30\x03\x02\x01\x01").is_err());
        assert!(
            SigningCert::parse(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert!(SigningCert::parse(&vec![b'A'; 300_000]).is_err());
    }
}
