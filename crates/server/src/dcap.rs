//! SGX and Open Enclave attestation at the HTTP edge: find the quote's
//! collateral, verify it once per collateral version, then verify the quote.
//!
//! The sans-I/O verifier (`attesta_evidence::sgx`) splits its work in two:
//! `VerifiedCollateral::verify` checks every collateral signature, CRL and
//! intermediate certificate; `verify_quote` does only the quote's own work.
//! This module keeps verified collateral by its content version (SHA-256 of
//! all its parts, from `attesta-collateral`), so a warm request costs the
//! quote's signature checks and TCB matching only. A cached entry is never
//! trusted past its validity window: `verify_quote` re-checks the window and
//! that its root is in the provider's root set on every call.

use std::sync::Arc;

use attesta_collateral::{CollateralCache, CollateralError, CollateralService, PckCa};
use attesta_evidence::dcap::DcapTee;
use attesta_evidence::openenclave::OeReport;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::sgx::{self, SgxError, VerifiedCollateral};
use attesta_evidence::tdx::{self, TdxError, TdxVerifiedCollateral};
use attesta_evidence::{ErrorCode, UnixTime, Verified};
use attesta_store::{CacheEntry, ProviderRecord, Store};
use serde_json::json;

use crate::cache::VersionCache;
use crate::error::ApiError;
use crate::evidence::{AttestInput, EvidenceVerifier};
use crate::provider_config::ProviderConfig;

/// The `tcbEvaluationDataNumber` of the TCB info the evidence was judged
/// against (Attesta's claim; policies select a minimum with
/// `x-ms-sgx-tcbidentifier`).
pub const TCB_EVALUATION_CLAIM: &str = attesta_evidence::claims::names::TCB_EVALUATION_DATA_NUMBER;

/// Apply the `x-ms-sgx-tcbidentifier` configuration property (reference
/// §1.10, §3.8): the TCB baseline evidence is judged against.
///
/// Attesta judges evidence against the newest collateral it has, so
/// honouring a baseline means refusing evidence judged against collateral
/// older than it: a numeric identifier N (the TCB evaluation data number of
/// Intel's baseline) requires `tcbEvaluationDataNumber >= N`. `azuredefault`
/// (MAA's default, baseline 10) and absence impose nothing beyond that
/// default. Any other value is refused rather than ignored.
pub fn check_tcb_baseline(
    properties: &serde_json::Map<String, serde_json::Value>,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    let Some(id) = properties.get("x-ms-sgx-tcbidentifier") else {
        return Ok(());
    };
    let id = match id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let required: u64 = if id.eq_ignore_ascii_case("azuredefault") {
        10
    } else {
        id.parse().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "PolicyEvaluationError",
                format!("x-ms-sgx-tcbidentifier '{id}' is not a known TCB baseline; use azuredefault or a TCB evaluation data number such as 15"),
            )
        })?
    };
    let have = claims
        .get(TCB_EVALUATION_CLAIM)
        .and_then(serde_json::Value::as_u64);
    match have {
        Some(n) if n >= required => Ok(()),
        Some(n) => Err(ApiError::evidence(
            "TcbBaselineNotMet",
            format!(
                "the collateral's tcbEvaluationDataNumber {n} is older than the policy's TCB baseline {required}"
            ),
        )),
        None => Err(ApiError::evidence(
            "TcbBaselineNotMet",
            format!(
                "the collateral has no tcbEvaluationDataNumber to compare with the policy's TCB baseline {required}"
            ),
        )),
    }
}

/// The store as the collateral crate's persistent cache.
pub struct StoreCollateralCache(pub Arc<dyn Store>);

const CACHE_NAMESPACE: &str = "collateral";

#[async_trait::async_trait]
impl CollateralCache for StoreCollateralCache {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>, String> {
        self.0
            .cache_get(CACHE_NAMESPACE, key)
            .await
            .map(|e| e.map(|e| (e.value, e.fetched_at)))
            .map_err(|e| e.to_string())
    }

    async fn put(
        &self,
        key: &str,
        value: &[u8],
        fetched_at: i64,
        expires_at: i64,
    ) -> Result<(), String> {
        let entry = CacheEntry {
            value: value.to_vec(),
            fetched_at,
            expires_at,
        };
        self.0
            .cache_put(CACHE_NAMESPACE, key, &entry)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Verified collateral by content version, shared by the SGX, OE and TDX
/// verifiers. An entry is reused only while its validity window holds at
/// the request's time and its root is in the request's root set.
pub struct VerifiedCache {
    sgx: VersionCache<VerifiedCollateral>,
    tdx: VersionCache<TdxVerifiedCollateral>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        // Far more than any realistic number of platforms (FMSPCs).
        Self {
            sgx: VersionCache::new(4096),
            tdx: VersionCache::new(4096),
        }
    }
}

impl VerifiedCache {
    fn sgx(
        &self,
        version: [u8; 32],
        raw: &attesta_evidence::dcap::DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Arc<VerifiedCollateral>, SgxError> {
        self.sgx.get_or_verify(
            version,
            |vc| {
                vc.check_time(at).is_ok() && roots.find(RootKind::IntelSgx, &vc.root_der).is_some()
            },
            || VerifiedCollateral::verify(raw, roots, at),
        )
    }

    fn tdx(
        &self,
        version: [u8; 32],
        raw: &attesta_evidence::dcap::DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Arc<TdxVerifiedCollateral>, TdxError> {
        self.tdx.get_or_verify(
            version,
            |vc| {
                vc.check_time(at).is_ok()
                    && roots.find(RootKind::IntelSgx, &vc.dcap.root_der).is_some()
            },
            || TdxVerifiedCollateral::verify(raw, roots, at),
        )
    }
}

/// Which DCAP evidence a verifier takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcapKind {
    /// `/attest/SgxEnclave`: a bare SGX quote.
    Sgx,
    /// `/attest/OpenEnclave`: an OE report wrapping an SGX quote.
    OpenEnclave,
    /// `/attest/TdxVm`: a TD quote (v4 or v5).
    Tdx,
}

/// The SGX / Open Enclave evidence verifier.
pub struct DcapVerifier {
    pub kind: DcapKind,
    pub collateral: Arc<CollateralService>,
    pub verified: Arc<VerifiedCache>,
}

pub(crate) fn sgx_error(e: SgxError) -> ApiError {
    ApiError::evidence(e.code(), &e)
}

pub(crate) fn tdx_error(e: TdxError) -> ApiError {
    ApiError::evidence(e.code(), &e)
}

/// 503 + `Retry-After` when the collateral service is down, else 400 with
/// the collateral's code (see [`ApiError::collateral`]).
fn collateral_error(e: CollateralError) -> ApiError {
    ApiError::collateral(
        &e,
        "; import the collateral for this platform with `attesta collateral import DIR` or check the collateral service",
    )
}

/// FMSPC (upper-case hex) and PCK CA of the quote's PCK leaf certificate,
/// and the fingerprint of the root to look its collateral up under, used
/// only to find collateral: nothing is trusted until verification.
///
/// The root is the provider-trusted root the PCK chain ends at (the same
/// certificate, or a re-issued copy with its subject and key, as quotes
/// from 2020-21 carry), else Intel's when the chain carries no root: only
/// entries under roots the provider trusts are ever looked at, so a
/// provider that trusts only Intel never gets collateral filed under a test
/// root, whatever was imported for the same FMSPC. A chain ending at a
/// self-signed root the provider does not trust is `UntrustedRoot`, as the
/// verifier would find.
fn pck_identity(
    pck_chain_pem: &[u8],
    roots: &TrustRoots,
) -> Result<(String, PckCa, [u8; 32]), ApiError> {
    let bad = |m: String| ApiError::evidence("PckChainInvalid", m);
    let certs = sgx::pki::pem_certificates(pck_chain_pem).map_err(|e| bad(e.to_string()))?;
    let mut root = attesta_collateral::intel_root_fingerprint();
    if let Some(last_der) = certs.last().filter(|_| certs.len() > 1) {
        let last = sgx::pki::parse_cert(last_der).map_err(|e| bad(e.to_string()))?;
        if last.subject().as_raw() == last.issuer().as_raw() {
            let key = sgx::pki::public_key(&last);
            let trusted = roots.of_kind(RootKind::IntelSgx).find(|r| {
                r.der == *last_der
                    || sgx::pki::parse_cert(&r.der).is_ok_and(|c| {
                        c.subject().as_raw() == last.subject().as_raw()
                            && sgx::pki::public_key(&c) == key
                    })
            });
            match trusted {
                Some(r) => root = attesta_evidence::crypto::sha256(&r.der),
                None => return Err(sgx_error(SgxError::UntrustedRoot("PCK"))),
            }
        }
    }
    let leaf_der = certs
        .first()
        .ok_or_else(|| bad("the quote carries no PCK certificate".into()))?;
    let leaf = sgx::pki::parse_cert(leaf_der).map_err(|e| bad(e.to_string()))?;
    let ext =
        sgx::pki::pck_extension(&leaf).map_err(|e| ApiError::evidence("PckExtensionInvalid", e))?;
    let cn = leaf
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let ca = PckCa::from_issuer_common_name(&cn).ok_or_else(|| {
        bad(format!(
            "the PCK certificate's issuer '{cn}' is not an Intel PCK CA"
        ))
    })?;
    Ok((hex::encode_upper(ext.fmspc), ca, root))
}

impl DcapVerifier {
    /// The collateral for a PCK chain's platform, and the time to check it
    /// at: `at`, or — for expired collateral inside the provider's grace —
    /// the last second of its validity.
    async fn collateral(
        &self,
        tee: DcapTee,
        pck_chain_pem: &[u8],
        pcfg: &ProviderConfig,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<(attesta_collateral::Fetched, UnixTime), ApiError> {
        let (fmspc, ca, root) = pck_identity(pck_chain_pem, roots)?;
        let fetched = self
            .collateral
            .get_under(&root, tee, &fmspc, ca, at.0 as i64)
            .await
            .map_err(collateral_error)?;
        let verify_at = match fetched.stale_for {
            None => at,
            Some(stale) => {
                let grace = pcfg.collateral_grace_secs.unwrap_or(0);
                if stale > grace {
                    return Err(ApiError::evidence(
                        "CollateralExpired",
                        format!(
                            "the collateral for FMSPC {fmspc} expired {stale} s ago and no fresh collateral could be fetched; this provider's grace period is {grace} s"
                        ),
                    ));
                }
                UnixTime(fetched.next_update.saturating_sub(1).max(0) as u64)
            }
        };
        Ok((fetched, verify_at))
    }
}

impl DcapVerifier {
    /// The verified collateral for a TD quote's platform (from the cache
    /// when its version was verified before), the time to verify the quote
    /// at, and how stale the collateral is when served under grace: the
    /// TDX steps of [`EvidenceVerifier::verify`], for the Azure guest
    /// route's TD quotes.
    pub(crate) async fn tdx_collateral(
        &self,
        quote: &tdx::TdQuote<'_>,
        pcfg: &ProviderConfig,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<(Arc<TdxVerifiedCollateral>, UnixTime, Option<u64>), ApiError> {
        let (fetched, verify_at) = self
            .collateral(DcapTee::Tdx, quote.pck_chain_pem, pcfg, roots, at)
            .await?;
        let vc = self
            .verified
            .tdx(fetched.version, &fetched.collateral, roots, verify_at)
            .map_err(tdx_error)?;
        Ok((vc, verify_at, fetched.stale_for))
    }
}

#[async_trait::async_trait]
impl EvidenceVerifier for DcapVerifier {
    async fn verify(
        &self,
        provider: &ProviderRecord,
        input: &AttestInput,
        now: UnixTime,
    ) -> Result<Verified, ApiError> {
        let pcfg = ProviderConfig::of(provider)?;
        let (at, pinned) = pcfg.time(now)?;
        let roots = pcfg.roots(
            sgx::intel_trust_roots(TrustRoots::empty()),
            RootKind::IntelSgx,
        )?;
        let (mut verified, stale_for) = match self.kind {
            DcapKind::Sgx | DcapKind::OpenEnclave => {
                let evidence_hash = attesta_evidence::crypto::sha256(&input.evidence);
                let quote_bytes: &[u8] = if self.kind == DcapKind::Sgx {
                    &input.evidence
                } else {
                    OeReport::parse(&input.evidence)
                        .map_err(|e| ApiError::evidence(e.code(), &e))?
                        .quote
                        .raw
                };
                let quote = sgx::parse_quote(quote_bytes).map_err(sgx_error)?;
                let collateral_started = std::time::Instant::now();
                let (fetched, verify_at) = self
                    .collateral(DcapTee::Sgx, quote.pck_chain_pem, &pcfg, &roots, at)
                    .await?;
                crate::metrics::stage("collateral", collateral_started);
                let vc = self
                    .verified
                    .sgx(fetched.version, &fetched.collateral, &roots, verify_at)
                    .map_err(sgx_error)?;
                let v = sgx::verify_quote(&quote, &vc, &roots, verify_at).map_err(sgx_error)?;
                let mut verified = v.to_verified(&evidence_hash);
                if let Some(n) = vc.tcb_info.tcb_evaluation_data_number {
                    verified.claims.insert(TCB_EVALUATION_CLAIM, json!(n));
                }
                // Deprecated alias still read by older relying parties.
                if let Some(c) = verified.claims.get("x-ms-sgx-collateral").cloned() {
                    verified.claims.insert("maa-attestationcollateral", c);
                }
                (verified, fetched.stale_for)
            }
            DcapKind::Tdx => {
                let quote = tdx::parse_td_quote(&input.evidence).map_err(tdx_error)?;
                let collateral_started = std::time::Instant::now();
                let (fetched, verify_at) = self
                    .collateral(DcapTee::Tdx, quote.pck_chain_pem, &pcfg, &roots, at)
                    .await?;
                crate::metrics::stage("collateral", collateral_started);
                let vc = self
                    .verified
                    .tdx(fetched.version, &fetched.collateral, &roots, verify_at)
                    .map_err(tdx_error)?;
                let v = tdx::verify_td_quote(&quote, &vc, &roots, verify_at).map_err(tdx_error)?;
                let mut verified = v.to_verified();
                if let Some(n) = vc.dcap.tcb_info.tcb_evaluation_data_number {
                    verified.claims.insert(TCB_EVALUATION_CLAIM, json!(n));
                }
                (verified, fetched.stale_for)
            }
        };
        if let Some(stale) = stale_for {
            verified
                .claims
                .insert("x-attesta-collateral-expired-for", json!(stale));
        }
        if pinned {
            verified
                .claims
                .insert("x-attesta-verification-time", json!(at.0));
        }
        Ok(verified)
    }
}

/// A collateral source for air-gapped installs: nothing upstream, so only
/// imported collateral (`attesta collateral import`) is used.
pub struct NoUpstream;

#[async_trait::async_trait]
impl attesta_collateral::CollateralSource for NoUpstream {
    async fn fetch(
        &self,
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<attesta_evidence::dcap::DcapCollateral, CollateralError> {
        self.fetch_under(
            tee,
            &attesta_collateral::intel_root_fingerprint(),
            fmspc,
            ca,
        )
        .await
    }

    async fn fetch_under(
        &self,
        tee: DcapTee,
        root: &[u8; 32],
        fmspc: &str,
        ca: PckCa,
    ) -> Result<attesta_evidence::dcap::DcapCollateral, CollateralError> {
        Err(CollateralError::NoOfflineBundle {
            dir: std::path::PathBuf::from("(imported collateral)"),
            key: attesta_collateral::cache_key(tee, root, fmspc, ca),
        })
    }

    fn describe(&self) -> String {
        "no upstream (imported collateral only)".into()
    }
}
