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
use attesta_collateral::{CollateralOptions, CollateralService, MemoryCache, OfflineSource};
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
    use attesta_collateral::{ImportedSnpCrl, SnpBundle, SnpEndorsementService, SnpKeyKind};
    use attesta_evidence::ErrorCode;
    use attesta_evidence::snp;

    let now = UnixTime::now();
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::default());
    if let Some(der) = input.crl {
        let kind = x509_parser::parse_x509_certificate(&input.vek)
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
    let endorsements = SnpEndorsementService::new(None, cache, Default::default());
    let attester = crate::snp::SnpVerifier::new(Arc::new(endorsements));
    // VCEK/VLEK, then the intermediate (the chain file's certificate that
    // is not self-signed), then the rest: the order of VcekCertChain.
    let mut chain = vec![input.vek];
    let (ask, rest): (Vec<_>, Vec<_>) = input
        .ca_chain
        .into_iter()
        .partition(|d| snp::verify::check_self_signed(d).is_err());
    chain.extend(ask);
    chain.extend(rest);
    let doc = snp::maa::encode_report_json(&input.report, &chain);
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
