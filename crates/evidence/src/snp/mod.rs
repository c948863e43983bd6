//! AMD SEV-SNP: attestation reports v2, v3 and v5 → verified claims.
//!
//! The flow: [`parse_report`] (total, over the received 1184 bytes) →
//! [`VerifiedChain::verify`] (ARK → ASK → VCEK or ARK → ASVK → VLEK, the
//! VCEK's AMD extensions and the optional AMD CRL; once per VCEK, cacheable
//! by [`VerifiedChain::vek_sha256`]) → [`verify_report`] (per report: one
//! ECDSA P-384 verification over bytes `0x000..0x2A0` as received, the
//! signing-key kind, reported_tcb against the certified SPLs, chip_id
//! against hwID) → [`SnpVerified::claims`]. [`SnpVerifier`] is the one-shot
//! path through the crate's [`Verifier`] trait; [`maa::parse_report_member`]
//! decodes MAA's `report` request member.
//!
//! Trust: the AMD ARKs for Milan, Genoa and Turin are embedded
//! ([`AMD_ARKS`], SHA-256 pinned by a test) and added with
//! [`amd_trust_roots`]. Other roots come in only through
//! `TrustRoots::with_configured` and are reported by `x-attesta-test-root`.
//!
//! The processor generation (which decides the TCB_VERSION layout) comes
//! from the VCEK/VLEK `productName`; for v3+ reports the CPUID family/model
//! must name the same generation.
//!
//! Decision: a debug policy (POLICY.DEBUG) is a claim, not an error — MAA
//! issues `x-ms-sevsnpvm-is-debuggable` and leaves the verdict to policy.
//!
//! ## Claims
//!
//! MAA's names (reference §2.4), TCB fields from REPORTED_TCB:
//! `x-ms-attestation-type` = `"sevsnpvm"`, `x-ms-sevsnpvm-authorkeydigest`,
//! `-bootloader-svn`, `-familyId`, `-guestsvn`, `-hostdata`, `-idkeydigest`,
//! `-imageId`, `-is-debuggable`, `-launchmeasurement`, `-microcode-svn`,
//! `-migration-allowed`, `-reportdata`, `-reportid`, `-smt-allowed`,
//! `-snpfw-svn`, `-tee-svn`, `-vmpl`.
//!
//! Attesta's own:
//!
//! | claim | value |
//! |---|---|
//! | `x-attesta-snp-reported-tcb`, `-committed-tcb`, `-launch-tcb`, `-current-tcb` | `{bootloader, tee, snp, microcode[, fmc]}` numbers (`fmc` on Turin) |
//! | `x-attesta-snp-policy` | the policy word, hex |
//! | `x-attesta-snp-policy-debug-allowed`, `-migration-agent-allowed`, `-smt-allowed`, `-single-socket` | policy bits |
//! | `x-attesta-snp-policy-abi-major`, `-abi-minor` | numbers |
//! | `x-attesta-snp-processor` | `Milan`, `Genoa` or `Turin` |
//! | `x-attesta-snp-signing-key` | `vcek` or `vlek` |
//! | `x-attesta-snp-report-version`, `x-attesta-snp-platform-info` | numbers |
//! | `x-attesta-test-root` | true only when the chain ended at a configured root |
//!
//! [`crate::Verified`]: `report_data` = REPORT_DATA (64 bytes),
//! `init_data` = HOST_DATA (32 bytes; MAA binds initTimeData to it).

pub mod error;
pub mod maa;
pub mod report;
pub mod verify;

pub use error::SnpError;
pub use maa::{MaaReportError, MaaSnpReport, parse_report_json, parse_report_member};
pub use report::{Generation, Policy, SigningKey, SnpReport, TcbVersion, parse_report};
pub use verify::{SnpCollateral, SnpVerified, VekFacts, VerifiedChain, vek_facts, verify_report};

use crate::error::ParseError;
use crate::roots::{RootKind, TrustRoots};
use crate::sgx::pki;
use crate::types::UnixTime;
use crate::{Verified, Verifier};

/// AMD ARK-Milan (valid 2020-10-22..2045-10-22).
pub const ARK_MILAN_PEM: &str = include_str!("ark_milan.pem");
/// AMD ARK-Genoa.
pub const ARK_GENOA_PEM: &str = include_str!("ark_genoa.pem");
/// AMD ARK-Turin.
pub const ARK_TURIN_PEM: &str = include_str!("ark_turin.pem");

/// The embedded ARKs with their SHA-256 fingerprints (of the DER).
pub const AMD_ARKS: [(Generation, &str, &str); 3] = [
    (
        Generation::Milan,
        ARK_MILAN_PEM,
        "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    ),
    (
        Generation::Genoa,
        ARK_GENOA_PEM,
        "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    ),
    (
        Generation::Turin,
        ARK_TURIN_PEM,
        "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    ),
];

/// DER of the embedded ARK for a generation.
pub fn ark_der(generation: Generation) -> Vec<u8> {
    let pem = AMD_ARKS
        .iter()
        .find(|(g, _, _)| *g == generation)
        .map(|(_, p, _)| *p)
        .unwrap_or(ARK_MILAN_PEM);
    // The embedded PEMs are constants checked by a test; an empty vector
    // would simply never match.
    pki::pem_certificates(pem.as_bytes())
        .ok()
        .and_then(|mut v| v.pop())
        .unwrap_or_default()
}

/// `roots` plus the three embedded AMD ARKs.
pub fn with_amd_roots(mut roots: TrustRoots) -> TrustRoots {
    for (g, _, _) in AMD_ARKS {
        roots = roots.with_embedded(RootKind::AmdArk, ark_der(g));
    }
    roots
}

/// The embedded AMD ARKs alone.
pub fn amd_trust_roots() -> TrustRoots {
    with_amd_roots(TrustRoots::empty())
}

/// Parsed evidence for the [`Verifier`] trait: the received bytes and their decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpEvidence {
    pub bytes: Vec<u8>,
    pub report: SnpReport,
}

/// Owned collateral for the [`Verifier`] trait.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnpCertificates {
    pub vek_der: Vec<u8>,
    pub ask_der: Vec<u8>,
    pub crl_der: Option<Vec<u8>>,
}

impl SnpCertificates {
    /// From a PEM/DER chain as MAA's VcekCertChain carries it: VCEK, ASK[, ARK].
    pub fn from_chain(chain: &[Vec<u8>]) -> Option<Self> {
        match chain {
            [vek, ask, ..] => Some(Self {
                vek_der: vek.clone(),
                ask_der: ask.clone(),
                crl_der: None,
            }),
            _ => None,
        }
    }

    pub fn as_collateral(&self) -> SnpCollateral<'_> {
        SnpCollateral {
            vek_der: &self.vek_der,
            ask_der: &self.ask_der,
            crl_der: self.crl_der.as_deref(),
        }
    }
}

/// The one-shot verifier (no caching).
#[derive(Debug, Clone, Copy, Default)]
pub struct SnpVerifier;

impl Verifier for SnpVerifier {
    type Evidence = SnpEvidence;
    type Collateral = SnpCertificates;
    type Error = SnpError;

    fn parse(&self, bytes: &[u8]) -> Result<SnpEvidence, ParseError> {
        Ok(SnpEvidence {
            report: parse_report(bytes)?,
            bytes: bytes.to_vec(),
        })
    }

    fn verify(
        &self,
        evidence: &SnpEvidence,
        collateral: &SnpCertificates,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, SnpError> {
        let chain = VerifiedChain::verify(&collateral.as_collateral(), roots, at)?;
        Ok(verify_report(&evidence.bytes, &chain, at)?.to_verified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_arks_are_pinned_and_self_signed() {
        for (g, _, fp) in AMD_ARKS {
            let der = ark_der(g);
            assert_eq!(hex::encode(crate::crypto::sha256(&der)), fp, "{g:?}");
            let cert = pki::parse_cert(&der).unwrap();
            assert_eq!(
                cert.subject()
                    .iter_common_name()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap(),
                format!("ARK-{}", g.as_str())
            );
            assert_eq!(verify::check_self_signed(&der), Ok(()), "{g:?}");
        }
    }
}
