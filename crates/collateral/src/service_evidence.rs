//! Collateral for a service's own TEE evidence (the evidence an Attesta
//! node, or MAA, puts into its token-signing certificates;
//! `attesta_evidence::signing_cert`): the references a node writes into
//! Attesta's extension, and the fetching a relying party does with them.
//!
//! * [`collateral_refs`] — what the node writes: the identifiers the
//!   evidence gives ([`attesta_evidence::signing_cert::collateral_ids`]:
//!   FMSPC and PCK CA of a DCAP quote, product and signing key of an
//!   SEV-SNP report) and the vendor's URLs for them (Intel's PCS, AMD's
//!   KDS: public, so any relying party can reach them).
//! * [`fetch_service_collateral`] — what a relying party does
//!   (`attesta token verify --require-tee --tee-fetch`): the DCAP
//!   collateral of the referenced FMSPC and CA from a PCS-compatible
//!   service; for SEV-SNP, the ARK's CRL of the report's hierarchy, and the
//!   VCEK and ASK when the evidence carries none, from a KDS-compatible
//!   service. The services are the relying party's (by default the
//!   vendors'); the URLs in the references are never followed. References
//!   are hints: everything fetched is verified by the evidence crate
//!   against the vendor roots, so a wrong reference makes verification
//!   fail, never pass. Evidence without references (version-1 extensions,
//!   MAA's) is fetched for by the identifiers it gives itself.

use attesta_evidence::dcap::DcapTee;
use attesta_evidence::signing_cert::{
    AmdCrl, CertEvidence, CollateralRefs, EvidenceKind, ServiceCollateral, collateral_ids,
};
use attesta_evidence::snp::{SigningKey, SnpCertificates};

use crate::error::CollateralError;
use crate::kds::{self, KdsClient};
use crate::parts::PckCa;
use crate::pcs::{self, PcsClient};
use crate::snp_certs::{SnpKeyKind, SnpProduct, SnpTcb};
use crate::source::CollateralSource;

/// The references for `evidence` of `kind` (with `certs_pem`, the VCEK
/// chain of an SEV-SNP report): its identifiers and the URLs under
/// `pcs_base` / `kds_base` (pass [`crate::INTEL_PCS_BASE_URL`] and
/// [`crate::AMD_KDS_BASE_URL`] for references any relying party can use).
pub fn collateral_refs(
    kind: EvidenceKind,
    evidence: &[u8],
    certs_pem: Option<&[u8]>,
    pcs_base: &str,
    kds_base: &str,
) -> CollateralRefs {
    let mut r = collateral_ids(kind, evidence, certs_pem);
    let tee = match r.tee.as_deref() {
        Some("tdx") => Some(DcapTee::Tdx),
        Some("sgx") => Some(DcapTee::Sgx),
        _ => None,
    };
    if let Some(tee) = tee {
        if let Some(fmspc) = &r.fmspc {
            r.tcb_info_url = pcs::tcb_info_url(pcs_base, tee, fmspc).ok();
        }
        r.qe_identity_url = Some(pcs::qe_identity_url(pcs_base, tee));
        r.pck_crl_url =
            r.ca.as_deref()
                .and_then(pck_ca)
                .map(|ca| pcs::pck_crl_url(pcs_base, ca));
    }
    let product = r.product.as_deref().and_then(SnpProduct::from_name);
    let key = r.signing_key.as_deref().and_then(snp_key_kind);
    if let (Some(product), Some(key)) = (product, key) {
        r.cert_chain_url = Some(kds::cert_chain_url(kds_base, product, key));
        r.crl_url = Some(kds::crl_url(kds_base, product, key));
        if key == SnpKeyKind::Vcek
            && let Ok(report) = attesta_evidence::snp::parse_report(evidence)
        {
            r.vcek_url = kds::vcek_url(
                kds_base,
                product,
                &report.chip_id,
                SnpTcb::from_tcb_version(product, &report.reported_tcb.to_le_bytes()),
            )
            .ok();
        }
    }
    r
}

fn pck_ca(s: &str) -> Option<PckCa> {
    match s {
        "processor" => Some(PckCa::Processor),
        "platform" => Some(PckCa::Platform),
        _ => None,
    }
}

fn snp_key_kind(s: &str) -> Option<SnpKeyKind> {
    match s {
        "vcek" => Some(SnpKeyKind::Vcek),
        "vlek" => Some(SnpKeyKind::Vlek),
        _ => None,
    }
}

fn unreferenced(what: &str) -> CollateralError {
    CollateralError::CollateralReferenceMissing { what: what.into() }
}

/// Fetch the collateral of a signing certificate's evidence `ev` (see the
/// module doc): DCAP collateral through `pcs`, AMD's CRL (and, when the
/// evidence carries no certificates, the VCEK and ASK) through `kds`.
pub async fn fetch_service_collateral(
    ev: &CertEvidence,
    pcs: &PcsClient,
    kds: &KdsClient,
) -> Result<ServiceCollateral, CollateralError> {
    let given = ev.refs.clone().unwrap_or_default();
    let own = collateral_ids(ev.kind, &ev.bytes, ev.certs.as_deref());
    match ev.kind {
        EvidenceKind::SgxQuote | EvidenceKind::OeReport | EvidenceKind::TdxQuote => {
            let tee = if ev.kind == EvidenceKind::TdxQuote {
                DcapTee::Tdx
            } else {
                DcapTee::Sgx
            };
            let fmspc = given
                .fmspc
                .or(own.fmspc)
                .ok_or_else(|| unreferenced("FMSPC"))?;
            let ca = given
                .ca
                .or(own.ca)
                .as_deref()
                .and_then(pck_ca)
                .ok_or_else(|| unreferenced("PCK CA"))?;
            let dcap = pcs.fetch(tee, &fmspc, ca).await?;
            Ok(ServiceCollateral {
                dcap: Some(dcap),
                ..ServiceCollateral::default()
            })
        }
        EvidenceKind::SnpReport => {
            let report = attesta_evidence::snp::parse_report(&ev.bytes).map_err(|e| {
                CollateralError::InvalidSnpRequest {
                    reason: format!("the service's SEV-SNP report does not parse: {e}"),
                }
            })?;
            let product = given
                .product
                .or(own.product)
                .as_deref()
                .and_then(SnpProduct::from_name)
                .ok_or_else(|| unreferenced("SEV-SNP product"))?;
            // The hierarchy is the one of the key that signed the report.
            let (key, signing_key) = match report.signing_key {
                SigningKey::Vcek => (SnpKeyKind::Vcek, SigningKey::Vcek),
                SigningKey::Vlek => (SnpKeyKind::Vlek, SigningKey::Vlek),
                SigningKey::None => {
                    return Err(CollateralError::InvalidSnpRequest {
                        reason: "the service's SEV-SNP report is not signed by a VCEK or VLEK"
                            .into(),
                    });
                }
            };
            let (crl, _) = kds.fetch_crl(product, key).await?;
            let snp_certificates = match (&ev.certs, key) {
                (Some(_), _) => None,
                (None, SnpKeyKind::Vcek) => {
                    let tcb = SnpTcb::from_tcb_version(product, &report.reported_tcb.to_le_bytes());
                    let vcek = kds.fetch_vcek(product, &report.chip_id, tcb).await?;
                    let chain = kds.fetch_cert_chain(product, key).await?;
                    Some(SnpCertificates {
                        vek_der: vcek,
                        ask_der: chain.intermediate,
                        crl_der: None,
                    })
                }
                (None, SnpKeyKind::Vlek) => {
                    return Err(CollateralError::InvalidSnpRequest {
                        reason: "the service's report is signed by a VLEK and its certificate \
                                 carries no VLEK; KDS does not serve VLEKs by chip, so the \
                                 evidence cannot be checked"
                            .into(),
                    });
                }
            };
            Ok(ServiceCollateral {
                amd_crls: vec![AmdCrl {
                    signing_key,
                    der: crl,
                }],
                snp_certificates,
                ..ServiceCollateral::default()
            })
        }
    }
}
