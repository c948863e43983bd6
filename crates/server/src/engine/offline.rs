//! The engine over offline collateral, for `attesta verify`: the server's
//! own attesters and claim assembly, with a collateral directory as the
//! collateral source instead of the fetching service, and the verification
//! context (trust roots, pinned time) built from a provider configuration
//! exactly as the server builds it from a provider record. What the CLI
//! prints is what a token of the server would carry as service claims.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::dcap::{DcapKind, DcapVerifier, VerifiedCache};
use crate::engine::claims;
use crate::engine::request::{Data, DataType};
use crate::error::ApiError;
use crate::evidence::{AttestInput, EvidenceVerifier};
use crate::provider_config::ProviderConfig;
use attesta_collateral::{
    CollateralOptions, CollateralService, ImportedSnpCrl, MemoryCache, OfflineSource, SnpBundle,
    SnpEndorsementService, SnpKeyKind,
};
use attesta_evidence::azure_cvm::{AzureGuestSettings, HclReportType};
use attesta_evidence::{AttestationType, UnixTime};
use attesta_store::{ProviderRecord, TrustModel};

/// An offline verification: what `attesta verify` was given.
pub struct OfflineInput<'a> {
    /// The evidence (quote or report bytes).
    pub evidence: Vec<u8>,
    /// Binary runtime data to bind, if any.
    pub runtime_data: Option<Vec<u8>>,
    /// The verification context, as a provider would configure it (trust
    /// roots, pinned time, grace).
    pub config: ProviderConfig,
    /// A directory of collateral bundles (one bundle or several).
    pub collateral_dir: &'a Path,
}

/// A provider record holding `config`, for the attesters.
pub fn provider(config: &ProviderConfig) -> Result<ProviderRecord, ApiError> {
    Ok(ProviderRecord {
        name: "offline".into(),
        trust_model: TrustModel::Isolated,
        token_hashes: Vec::new(),
        config: serde_json::to_value(config).map_err(ApiError::internal)?,
        created_at: 0,
        version: 0,
        key_epoch: 0,
    })
}

/// Verifies DCAP evidence (`ty` one of SgxEnclave, OpenEnclave, TdxVm)
/// with the server's attester and returns the service claims.
pub async fn verify_dcap(
    ty: AttestationType,
    input: OfflineInput<'_>,
) -> Result<Map<String, Value>, ApiError> {
    let kind = match ty {
        AttestationType::SgxEnclave => DcapKind::Sgx,
        AttestationType::OpenEnclave => DcapKind::OpenEnclave,
        AttestationType::TdxVm => DcapKind::Tdx,
        other => {
            return Err(ApiError::invalid_operation(format!(
                "{other} is not DCAP evidence"
            )));
        }
    };
    let attester = DcapVerifier {
        kind,
        collateral: Arc::new(CollateralService::new(
            Box::new(OfflineSource::new(input.collateral_dir)),
            Arc::new(MemoryCache::default()),
            CollateralOptions::default(),
        )),
        verified: Arc::new(VerifiedCache::default()),
    };
    service_claims(
        &attester,
        ty,
        &input.config,
        input.evidence,
        input.runtime_data,
        UnixTime::now(),
    )
    .await
}

/// `attester`'s verification of `evidence` (the MAA evidence member of
/// `ty`) under `config` at `now`, and the service claims with the binary
/// runtime data bound: what the server's MAA flow does before policy.
async fn service_claims(
    attester: &dyn EvidenceVerifier,
    ty: AttestationType,
    config: &ProviderConfig,
    evidence: Vec<u8>,
    runtime_data: Option<Vec<u8>>,
    now: UnixTime,
) -> Result<Map<String, Value>, ApiError> {
    let input = AttestInput {
        evidence,
        body: Value::Null,
    };
    let verified = attester.verify(&provider(config)?, &input, now).await?;
    let runtime = runtime_data.map(|bytes| Data {
        bytes,
        kind: DataType::Binary,
    });
    claims::service_claims(ty, &verified, runtime.as_ref(), None)
        .map_err(crate::engine::maa::claims_error)
}

/// Offline SEV-SNP evidence: what `attesta verify snp` was given.
pub struct OfflineSnp {
    /// The attestation report.
    pub report: Vec<u8>,
    /// The VCEK or VLEK (DER).
    pub vek: Vec<u8>,
    /// The ASK or ASVK and the ARK (DER), in any order.
    pub ca_chain: Vec<Vec<u8>>,
    /// AMD's CRL for the hierarchy (DER), when given.
    pub crl: Option<Vec<u8>>,
    /// Binary runtime data to bind, if any.
    pub runtime_data: Option<Vec<u8>>,
    /// The verification context (AMD test roots, pinned time, grace).
    pub config: ProviderConfig,
}

/// Verifies SEV-SNP evidence with the server's attester: the report and
/// chain as the MAA `report` document the server receives, the CRL
/// imported into an endorsement service that has no KDS (so a missing CRL
/// is `AmdCrlMissing` unless the configuration grants a grace), and the
/// service claims.
pub async fn verify_snp(input: OfflineSnp) -> Result<Map<String, Value>, ApiError> {
    let now = UnixTime::now();
    let endorsements = snp_endorsements(input.crl, &input.vek, now).await?;
    let attester = crate::snp::SnpVerifier::new(Arc::new(endorsements));
    let chain = snp_chain(input.vek, input.ca_chain);
    let doc = attesta_evidence::snp::maa::encode_report_json(&input.report, &chain);
    service_claims(
        &attester,
        AttestationType::SevSnpVm,
        &input.config,
        doc,
        input.runtime_data,
        now,
    )
    .await
}

/// An endorsement service with no KDS that holds `crl` (AMD's CRL for the
/// hierarchy of `vek`, DER) when given: a missing CRL is then
/// `AmdCrlMissing` unless the configuration grants a grace, as on a server
/// that cannot reach KDS.
async fn snp_endorsements(
    crl: Option<Vec<u8>>,
    vek: &[u8],
    now: UnixTime,
) -> Result<SnpEndorsementService, ApiError> {
    use attesta_evidence::ErrorCode;
    use attesta_evidence::snp;

    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::default());
    if let Some(der) = crl {
        let kind = x509_parser::parse_x509_certificate(vek)
            .ok()
            .and_then(|(_, c)| snp::vek_facts(&c).ok())
            .map_or(SnpKeyKind::Vcek, |f| match f.kind {
                snp::SigningKey::Vlek => SnpKeyKind::Vlek,
                _ => SnpKeyKind::Vcek,
            });
        let crl = ImportedSnpCrl::from_der(der, kind).map_err(|e| {
            let e = snp::SnpError::CrlInvalid(e.to_string());
            ApiError::evidence(e.code(), &e)
        })?;
        let bundle = SnpBundle {
            crls: vec![crl],
            ..Default::default()
        };
        attesta_collateral::store_snp_bundle(cache.as_ref(), &bundle, now.0 as i64)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(SnpEndorsementService::new(None, cache, Default::default()))
}

/// The VCEK/VLEK, then the intermediate (the chain file's certificate that
/// is not self-signed), then the rest: the order of MAA's `VcekCertChain`.
fn snp_chain(vek: Vec<u8>, ca_chain: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut chain = vec![vek];
    let (ask, rest): (Vec<_>, Vec<_>) = ca_chain
        .into_iter()
        .partition(|d| attesta_evidence::snp::verify::check_self_signed(d).is_err());
    chain.extend(ask);
    chain.extend(rest);
    chain
}

/// The hardware half of offline Azure guest evidence.
pub enum OfflineGuestHardware {
    /// SEV-SNP: the VCEK (DER), the ASK and ARK (DER, any order), and
    /// AMD's CRL for the hierarchy (DER) when given.
    Snp {
        vek: Vec<u8>,
        ca_chain: Vec<Vec<u8>>,
        crl: Option<Vec<u8>>,
    },
    /// TDX: the TD quote made from the HCL report's TDREPORT, and a
    /// directory of collateral bundles for it.
    Tdx {
        td_quote: Vec<u8>,
        collateral_dir: std::path::PathBuf,
    },
}

/// Offline Azure confidential VM guest evidence: what `attesta verify
/// azure-guest` was given.
pub struct OfflineAzureGuest {
    /// The HCL report as read from the vTPM NV index.
    pub hcl_report: Vec<u8>,
    /// The vTPM quote's `TPMS_ATTEST` and its signature.
    pub quote: Vec<u8>,
    pub signature: Vec<u8>,
    /// The PCR values sent with the quote.
    pub pcrs: attesta_evidence::tpm::Pcrs,
    /// The TCG event log, when given.
    pub event_log: Option<Vec<u8>>,
    pub hardware: OfflineGuestHardware,
    /// The quote's expected extraData.
    pub nonce: Vec<u8>,
    /// The PCRs the quote must cover.
    pub settings: AzureGuestSettings,
    /// The verification context (AMD or Intel test roots, pinned time,
    /// grace).
    pub config: ProviderConfig,
}

/// Verifies Azure guest evidence with the server's guest flow
/// ([`crate::azure_guest::verify_evidence`]): the HCL report cut into the
/// parts MAA's request carries (the hardware report, the variable data),
/// the VCEK chain and CRL through an endorsement service with no KDS (as
/// for [`verify_snp`]) or the TD quote's collateral through the offline
/// bundle directory (as for [`verify_dcap`]); the claims are the server's
/// [`crate::azure_guest::evidence_claims`]: what a token carries but for
/// what only a request states (OS facts, the ephemeral key, the client
/// payload).
pub async fn verify_azure_guest(input: OfflineAzureGuest) -> Result<Map<String, Value>, ApiError> {
    use crate::azure_guest::{
        GuestEvidence, GuestIsolation, GuestSources, evidence_claims, verify_evidence,
    };
    use attesta_evidence::ErrorCode;
    use attesta_evidence::azure_cvm::{AzureGuestError, GuestReport, HclReport, VtpmQuote};

    let now = UnixTime::now();
    let guest_error = |e: AzureGuestError| ApiError::evidence(e.code(), &e);
    let hcl = HclReport::parse(&input.hcl_report)
        .map_err(|e| guest_error(AzureGuestError::HclReport(e)))?;
    let report = GuestReport::from_hcl(&hcl);
    let (endorsements, chain, td_quote, collateral_dir) = match input.hardware {
        OfflineGuestHardware::Snp { vek, ca_chain, crl } => (
            snp_endorsements(crl, &vek, now).await?,
            snp_chain(vek, ca_chain),
            None,
            std::path::PathBuf::new(),
        ),
        OfflineGuestHardware::Tdx {
            td_quote,
            collateral_dir,
        } => (
            snp_endorsements(None, &[], now).await?,
            Vec::new(),
            Some(td_quote),
            collateral_dir,
        ),
    };
    let isolation = match (report.report_type, &td_quote) {
        (HclReportType::Snp, None) => GuestIsolation::Snp {
            report,
            cert_chain: &chain,
        },
        (HclReportType::Tdx, Some(td_quote)) => GuestIsolation::Tdx { report, td_quote },
        (t @ (HclReportType::Snp | HclReportType::Tdx), _) => {
            return Err(guest_error(AzureGuestError::CollateralMismatch {
                report: t.as_str(),
                collateral: if td_quote.is_some() { "TDX" } else { "SNP" },
            }));
        }
        (other, _) => {
            return Err(guest_error(AzureGuestError::UnsupportedIsolation(
                other.as_str(),
            )));
        }
    };
    let chains = crate::cache::VersionCache::new(4);
    let sources = GuestSources {
        snp_endorsements: &endorsements,
        snp_chains: &chains,
        tdx: DcapVerifier {
            kind: DcapKind::Tdx,
            collateral: Arc::new(CollateralService::new(
                Box::new(OfflineSource::new(collateral_dir)),
                Arc::new(MemoryCache::default()),
                CollateralOptions::default(),
            )),
            verified: Arc::new(VerifiedCache::default()),
        },
    };
    let evidence = GuestEvidence {
        isolation,
        vtpm: VtpmQuote {
            quote: &input.quote,
            signature: &input.signature,
            pcrs: input.pcrs,
            event_log: input.event_log.as_deref(),
        },
        aik_pub: &[],
        aik_cert: &[],
    };
    let verified = verify_evidence(
        &sources,
        &input.config,
        &evidence,
        Some(&input.nonce),
        &input.settings,
        now,
    )
    .await?;
    Ok(evidence_claims(&verified))
}

/// Verifies TPM evidence with the server's TPM checks
/// ([`crate::engine::tpm_protocol`]): the AK chain against the
/// configuration's TPM roots (`test_roots.tpm`), SHA-1 only when
/// `tpm_allow_sha1`, the nonce as the quote's qualifying data, the PCRs and
/// the log's proven events. Returns the claims a TPM policy reads (all of
/// them, with the attestation type), plus the pinned time when pinned.
pub fn verify_tpm(
    evidence: &attesta_evidence::tpm::TpmEvidence<'_>,
    nonce: &[u8],
    config: &ProviderConfig,
    settings: &attesta_evidence::tpm::TpmSettings,
) -> Result<Map<String, Value>, ApiError> {
    let chains = crate::cache::VersionCache::new(16);
    let checked = crate::engine::tpm_protocol::check_evidence(
        &chains,
        config,
        &|_| true,
        settings,
        evidence,
        None,
        nonce,
        UnixTime::now(),
    )?;
    let mut claims = checked.incoming;
    if checked.pinned {
        claims.insert(
            attesta_evidence::claims::names::VERIFICATION_TIME.into(),
            checked.at.0.into(),
        );
    }
    Ok(claims)
}
