//! SEV-SNP attestation at the HTTP edge: decode the MAA `report` document,
//! get the VCEK/VLEK chain (from the request, else the AMD KDS endorsement
//! service and its cache), verify the chain once per certificate set and
//! trust-root set, then the report's own signature per request.
//!
//! AMD's CRL for the hierarchy is required (from KDS, the cache, or an
//! import through `POST /admin/collateral/snp`): without one the request
//! fails closed with `AmdCrlMissing`, so a revoked VCEK, VLEK, ASK or ASVK
//! is never accepted for want of a CRL. A CRL past its `nextUpdate` that
//! cannot be refreshed is used only within the provider's
//! `collateral_grace_secs`, verified at its last current second, and the
//! token carries `x-attesta-collateral-expired-for`, as for DCAP collateral.
//! A provider with a grace period also accepts a chain when no CRL can be
//! had at all; its tokens then carry `x-attesta-snp-revocation-checked:
//! false`.
//!
//! The chain check (three RSA-PSS signatures and the certificates' AMD
//! extensions) is cached by SHA-256 over the VCEK/VLEK, the ASK/ASVK, the
//! CRL if any, and the provider's configured AMD roots, so an entry
//! accepted under one provider's test root is never reused for a provider
//! that does not trust it. A warm request costs one P-384 verify.

use std::sync::Arc;

use attesta_collateral::{
    CollateralError, SnpCrl, SnpEndorsementService, SnpKeyKind, SnpProduct, SnpTcb,
};
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
}

/// AMD's CRL for the hierarchy of `vek_der`, and how many seconds past
/// its `nextUpdate` it is when served under the provider's grace.
///
/// No CRL at all (KDS unreachable or offline and none cached or
/// imported) is `AmdCrlMissing` unless the provider grants a collateral
/// grace (`Ok(None)`: verify without revocation, and the token says so
/// with `x-attesta-snp-revocation-checked: false`); one stale beyond
/// the provider's grace is `AmdCrlExpired`.
async fn crl(
    endorsements: &SnpEndorsementService,
    vek_der: &[u8],
    pcfg: &ProviderConfig,
    at: UnixTime,
) -> Result<Option<(Arc<SnpCrl>, Option<u64>)>, ApiError> {
    let cert = x509_parser::parse_x509_certificate(vek_der)
        .map_err(|e| {
            snp_error(SnpError::VcekChainInvalid(format!(
                "VCEK/VLEK: not an X.509 certificate: {e}"
            )))
        })?
        .1;
    let facts = snp::vek_facts(&cert).map_err(snp_error)?;
    let kind = if facts.kind == SigningKey::Vlek {
        SnpKeyKind::Vlek
    } else {
        SnpKeyKind::Vcek
    };
    let product = product(facts.generation);
    let grace = pcfg.collateral_grace_secs.unwrap_or(0);
    let hierarchy = format!("{product} {}", kind.as_str().to_uppercase());
    match endorsements
        .crl_within_grace(product, kind, at.0 as i64, grace)
        .await
    {
        Ok(v) => Ok(Some(v)),
        Err(CollateralError::Expired {
            next_update,
            expired_for,
            cause,
            ..
        }) => Err(upstream_or_evidence(
            cause.as_deref(),
            "AmdCrlExpired",
            format!(
                "AMD's CRL for the {hierarchy} hierarchy expired {expired_for} s ago (nextUpdate {}) and no fresh one could be fetched{}; this provider's grace period is {grace} s. Restore access to AMD KDS or import a current CRL with `attesta collateral import`",
                attesta_evidence::types::rfc3339(next_update),
                cause
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        )),
        // The provider's grace also covers a CRL that cannot be had at
        // all (KDS unreachable, nothing imported): the token then says
        // revocation was not checked.
        Err(e) if grace > 0 => {
            tracing::warn!(provider_grace = grace, error = %e, "no AMD CRL for the {hierarchy} hierarchy; verifying without revocation under the provider's collateral grace");
            Ok(None)
        }
        Err(e) => {
            let missing = SnpError::CrlMissing(hierarchy);
            Err(upstream_or_evidence(
                Some(&e),
                missing.code(),
                format!("{missing} ({e}); or grant the provider a collateral grace period"),
            ))
        }
    }
}

/// A required CRL that could not be had: still refused (fail closed), but
/// when AMD KDS was unreachable or overloaded the answer is 503 with
/// `Retry-After`, so clients retry instead of giving up on good evidence.
fn upstream_or_evidence(
    cause: Option<&CollateralError>,
    code: &'static str,
    message: String,
) -> ApiError {
    match cause.and_then(crate::error::upstream_retry_after) {
        Some(secs) => ApiError::service_unavailable(
            format!("{code}: {message}; AMD KDS is unavailable, retry later"),
            secs,
        )
        .with_inner(code),
        None => ApiError::evidence(code, message),
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

/// A VCEK/VLEK chain verified for one report, and how it was judged.
pub(crate) struct SnpChain {
    pub chain: Arc<VerifiedChain>,
    /// The time to verify the report at: the request's, or the last
    /// second AMD's CRL was current when it is served under grace.
    pub verify_at: UnixTime,
    /// Seconds past its `nextUpdate` of a CRL served under grace.
    pub crl_stale_for: Option<u64>,
    /// Whether revocation was checked (a CRL was had).
    pub revocation_checked: bool,
}

impl SnpChain {
    /// The claims that say how the chain was judged
    /// (`x-attesta-collateral-expired-for`, `x-attesta-snp-revocation-checked`).
    pub fn annotate(&self, claims: &mut attesta_evidence::Claims) {
        if let Some(stale) = self.crl_stale_for {
            claims.insert("x-attesta-collateral-expired-for", json!(stale));
        }
        if !self.revocation_checked {
            claims.insert("x-attesta-snp-revocation-checked", json!(false));
        }
    }
}

impl SnpVerifier {
    /// The verified chain for `report`: from `cert_chain` (the request's
    /// VcekCertChain, DER, VCEK first) when it has one, else from KDS or
    /// the endorsement cache; AMD's CRL required as the module doc says;
    /// verified once per certificate set, CRL and configured roots in
    /// `chains`.
    pub(crate) async fn verified_chain(
        endorsements: &SnpEndorsementService,
        chains: &VersionCache<VerifiedChain>,
        report: &snp::SnpReport,
        cert_chain: &[Vec<u8>],
        pcfg: &ProviderConfig,
        at: UnixTime,
    ) -> Result<SnpChain, ApiError> {
        // The chain from the request (VcekCertChain), else from KDS / the cache.
        let (vek, ask) = match snp::SnpCertificates::from_chain(cert_chain) {
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
                // KDS outages are 503 + Retry-After; bad data stays 400.
                let coll = |e: attesta_collateral::CollateralError| ApiError::collateral(&e, "");
                let (kind, vek) = match report.signing_key {
                    SigningKey::Vlek => {
                        let v = endorsements
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
                        endorsements
                            .vcek(product, &report.chip_id, tcb, at.0 as i64)
                            .await
                            .map_err(coll)?,
                    ),
                };
                let chain = endorsements
                    .cert_chain(product, kind, at.0 as i64)
                    .await
                    .map_err(coll)?;
                (vek.as_ref().clone(), chain.intermediate.clone())
            }
        };
        // AMD's CRL for the chain's hierarchy is required: revocation is
        // part of the chain check. It comes from KDS, the cache or an
        // import; a stale one is used only inside the provider's grace.
        let crl = crl(endorsements, &vek, pcfg, at).await?;
        let stale_for = crl.as_ref().and_then(|(_, s)| *s);
        let verify_at = match &crl {
            // As for DCAP collateral in grace: verify at the last second the
            // CRL was current; the token says how stale it was.
            Some((c, Some(_))) => UnixTime(c.next_update.saturating_sub(1).max(0) as u64),
            _ => at,
        };
        let crl_der = crl.as_ref().map(|(c, _)| c.der.as_slice());
        let roots = pcfg.roots(snp::with_amd_roots(TrustRoots::empty()), RootKind::AmdArk)?;
        let mut key_input = vek.clone();
        key_input.extend_from_slice(&ask);
        if let Some(der) = crl_der {
            key_input.extend_from_slice(der);
        }
        for r in roots.of_kind(RootKind::AmdArk).filter(|r| r.configured) {
            key_input.extend_from_slice(&r.der);
        }
        let key = attesta_evidence::crypto::sha256(&key_input);
        let collateral = SnpCollateral {
            vek_der: &vek,
            ask_der: &ask,
            crl_der,
        };
        let chain = chains
            .get_or_verify(
                key,
                |c| c.check_time(verify_at).is_ok(),
                || VerifiedChain::verify(&collateral, &roots, verify_at),
            )
            .map_err(snp_error)?;
        Ok(SnpChain {
            chain,
            verify_at,
            crl_stale_for: stale_for,
            revocation_checked: crl_der.is_some(),
        })
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
        let chain = Self::verified_chain(
            &self.endorsements,
            &self.chains,
            &report,
            &doc.cert_chain,
            &pcfg,
            at,
        )
        .await?;
        let v =
            snp::verify_report(&doc.report, &chain.chain, chain.verify_at).map_err(snp_error)?;
        let mut verified = v.to_verified();
        chain.annotate(&mut verified.claims);
        if pinned {
            verified
                .claims
                .insert("x-attesta-verification-time", json!(at.0));
        }
        Ok(verified)
    }
}
