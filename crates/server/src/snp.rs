//! SEV-SNP attestation at the HTTP edge: decode the MAA `report` document,
//! get the VCEK/VLEK chain (from the request, else the AMD KDS endorsement
//! service and its cache), verify the chain once per certificate set and
//! trust-root set, then the report's own signature per request.
//!
//! AMD's CRL for the hierarchy is checked whenever the endorsement service
//! has one (from KDS or its cache); without KDS access and no cached CRL the
//! chain is checked without it, as the "when available" allows.
//!
//! The chain check (three RSA-PSS signatures and the certificates' AMD
//! extensions) is cached by SHA-256 over the VCEK/VLEK, the ASK/ASVK, the
//! CRL if any, and the provider's configured AMD roots, so an entry
//! accepted under one provider's test root is never reused for a provider
//! that does not trust it. A warm request costs one P-384 verify.

use std::sync::Arc;

use attesta_collateral::{SnpEndorsementService, SnpKeyKind, SnpProduct, SnpTcb};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::snp::{self, Generation, SigningKey, SnpCollateral, SnpError, VerifiedChain};
use attesta_evidence::{ErrorCode, UnixTime, Verified};
use attesta_store::ProviderRecord;
use serde_json::json;

use crate::cache::VersionCache;
use crate::error::ApiError;
use crate::evidence::{AttestInput, EvidenceVerifier};
use crate::provider_config::ProviderConfig;

/// The `/attest/SevSnpVm` verifier.
pub struct SnpVerifier {
    pub endorsements: Arc<SnpEndorsementService>,
    chains: VersionCache<VerifiedChain>,
}

impl SnpVerifier {
    pub fn new(endorsements: Arc<SnpEndorsementService>) -> Self {
        Self {
            endorsements,
            chains: VersionCache::new(16_384),
        }
    }

    fn chain(
        &self,
        key: [u8; 32],
        collateral: &SnpCollateral<'_>,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Arc<VerifiedChain>, SnpError> {
        self.chains.get_or_verify(
            key,
            |c| c.check_time(at).is_ok(),
            || VerifiedChain::verify(collateral, roots, at),
        )
    }
}

fn snp_error(e: SnpError) -> ApiError {
    ApiError::evidence(e.code(), &e)
}

fn product(g: Generation) -> SnpProduct {
    match g {
        Generation::Milan => SnpProduct::Milan,
        Generation::Genoa => SnpProduct::Genoa,
        Generation::Turin => SnpProduct::Turin,
    }
}

#[async_trait::async_trait]
impl EvidenceVerifier for SnpVerifier {
    async fn verify(
        &self,
        provider: &ProviderRecord,
        input: &AttestInput,
        now: UnixTime,
    ) -> Result<Verified, ApiError> {
        let pcfg = ProviderConfig::of(provider)?;
        let (at, pinned) = pcfg.time(now)?;
        let doc = snp::maa::parse_report_json(&input.evidence)
            .map_err(|e| ApiError::evidence(e.code(), &e))?;
        let report =
            snp::parse_report(&doc.report).map_err(|e| ApiError::evidence(e.code(), &e))?;
        // The chain from the request (VcekCertChain), else from KDS / the cache.
        let (vek, ask) = match snp::SnpCertificates::from_chain(&doc.cert_chain) {
            Some(c) => (c.vek_der, c.ask_der),
            None => {
                let generation = report.cpuid_generation().ok_or_else(|| {
                    ApiError::evidence(
                        "SnpEndorsementMissing",
                        "the request carries no VcekCertChain and the report (version 2) does not name its processor; send the chain",
                    )
                })?;
                let product = product(generation);
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&report.reported_tcb.to_le_bytes());
                let tcb = SnpTcb::from_tcb_version(product, &raw);
                let coll =
                    |e: attesta_collateral::CollateralError| ApiError::evidence(e.code(), &e);
                let (kind, vek) = match report.signing_key {
                    SigningKey::Vlek => {
                        let v = self
                            .endorsements
                            .cached_vlek(product, tcb)
                            .await
                            .map_err(coll)?
                            .ok_or_else(|| {
                                ApiError::evidence(
                                    "SnpEndorsementMissing",
                                    "the report is signed by a VLEK that was neither sent nor imported",
                                )
                            })?;
                        (SnpKeyKind::Vlek, v)
                    }
                    _ => (
                        SnpKeyKind::Vcek,
                        self.endorsements
                            .vcek(product, &report.chip_id, tcb, at.0 as i64)
                            .await
                            .map_err(coll)?,
                    ),
                };
                let chain = self
                    .endorsements
                    .cert_chain(product, kind, at.0 as i64)
                    .await
                    .map_err(coll)?;
                (vek.as_ref().clone(), chain.intermediate.clone())
            }
        };
        // AMD's CRL for the chain's hierarchy, when the endorsement service
        // has one (fetched from KDS or cached); it is checked when present.
        let crl = match x509_parser::parse_x509_certificate(&vek)
            .ok()
            .and_then(|(_, c)| snp::vek_facts(&c).ok())
        {
            Some(f) => {
                let kind = if f.kind == SigningKey::Vlek {
                    SnpKeyKind::Vlek
                } else {
                    SnpKeyKind::Vcek
                };
                self.endorsements
                    .crl(product(f.generation), kind, at.0 as i64)
                    .await
                    .ok()
                    .map(|c| c.der.clone())
            }
            None => None,
        };
        let roots = pcfg.roots(snp::with_amd_roots(TrustRoots::empty()), RootKind::AmdArk)?;
        let mut key_input = vek.clone();
        key_input.extend_from_slice(&ask);
        if let Some(c) = &crl {
            key_input.extend_from_slice(c);
        }
        for r in roots.of_kind(RootKind::AmdArk).filter(|r| r.configured) {
            key_input.extend_from_slice(&r.der);
        }
        let key = attesta_evidence::crypto::sha256(&key_input);
        let collateral = SnpCollateral {
            vek_der: &vek,
            ask_der: &ask,
            crl_der: None,
        };
        let chain = self
            .chain(key, &collateral, &roots, at)
            .map_err(snp_error)?;
        let v = snp::verify_report(&doc.report, &chain, at).map_err(snp_error)?;
        let mut verified = v.to_verified();
        if pinned {
            verified
                .claims
                .insert("x-attesta-verification-time", json!(at.0));
        }
        Ok(verified)
    }
}
