//! Azure confidential VM guest verification: a pure function of the HCL
//! report, the vTPM quote with its PCR values and event log, the hardware
//! collateral, the expected nonce, the trust roots and the time.
//!
//! The chain of trust, each link its own error:
//! 1. the hardware report verifies with its vendor's verifier — the SNP
//!    report in the HCL report with its VCEK chain ([`crate::snp`]); for
//!    TDX the TD quote with its DCAP collateral ([`crate::tdx`]), since the
//!    TDREPORT in the HCL report is MAC'd for the local platform only, and
//!    the TDREPORT must then agree with the quote's body;
//! 2. the report-data hash the HCL names (SHA-256, -384 or -512) of the
//!    variable data equals the first bytes of the verified report_data, so
//!    the variable data — and the `HCLAkPub` in it — is what the hardware
//!    attested;
//! 3. the vTPM quote is signed by `HCLAkPub`, is a TPM-made quote, carries
//!    the expected nonce in extraData, and its PCR digest is the digest of
//!    the PCR values sent; the quoted PCRs cover the required mask;
//! 4. the TCG log, when sent, replays to the quoted values ([`crate::tpm`]);
//!    log claims come only from events so proven.
//!
//! The AK needs no certificate: it is trusted because the hardware report
//! binds it (step 2), which is how MAA and the HCL design trust it.
//!
//! Trusted Launch VMs have no isolation report: [`verify_trusted_launch`]
//! trusts the AK only through its certificate, which must chain to a
//! configured vTPM CA (`RootKind::Tpm` roots; none configured is its own
//! error), then checks the quote, PCRs and log as in steps 3–4.

use serde_json::Value;

use super::error::AzureGuestError;
use super::hcl::{HclReport, HclReportType, HclTdReport, ReportDataHashType};
use super::runtime::RuntimeData;
use crate::claims::Claims;
use crate::crypto;
use crate::dcap::DcapCollateral;
use crate::roots::TrustRoots;
use crate::snp::{self, SnpCollateral, SnpVerified, VerifiedChain};
use crate::tdx::{self, TdxVerified, TdxVerifiedCollateral};
use crate::tpm::structures::{PublicKey, TPM_ALG_RSASSA, TPM_ALG_SHA256, TPM_ALG_SHA512, hash};
use crate::tpm::{AkPublic, Pcrs, QuoteParts, TpmEvidence, TpmSettings, TpmVerified};
use crate::types::UnixTime;

/// The hardware collateral for the isolation report.
#[derive(Debug, Clone, Copy)]
pub enum IsolationCollateral<'a> {
    /// SEV-SNP: the VCEK (or VLEK) and ASK, verified here.
    Snp(SnpCollateral<'a>),
    /// SEV-SNP: a VCEK chain verified earlier (a cache's copy).
    SnpChain(&'a VerifiedChain),
    /// TDX: the TD quote made from the HCL report's TDREPORT, and its
    /// collateral, verified here.
    Tdx {
        td_quote: &'a [u8],
        collateral: &'a DcapCollateral,
    },
    /// TDX: the TD quote and collateral verified earlier.
    TdxVerified {
        td_quote: &'a [u8],
        collateral: &'a TdxVerifiedCollateral,
    },
}

impl IsolationCollateral<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::Snp(_) | Self::SnpChain(_) => "SNP",
            Self::Tdx { .. } | Self::TdxVerified { .. } => "TDX",
        }
    }
}

/// What the guest sends besides the hardware collateral.
#[derive(Debug, Clone)]
pub struct AzureGuestEvidence<'a> {
    /// The HCL report as read from the vTPM NV index.
    pub hcl_report: &'a [u8],
    /// The vTPM quote's `TPMS_ATTEST`.
    pub quote: &'a [u8],
    /// Its signature: a `TPMT_SIGNATURE`, or the bare RSASSA-PKCS1-v1_5
    /// signature (as long as the AK modulus) that `tpm2_quote` and the Azure
    /// tools write — see [`normalize_signature`].
    pub signature: &'a [u8],
    /// The PCR values sent with the quote: bank → index → value.
    pub pcrs: Pcrs,
    /// The TCG event log, when sent.
    pub event_log: Option<&'a [u8]>,
}

/// The HCL's part of the evidence, however it arrived: cut out of an HCL
/// report ([`GuestReport::from_hcl`]), or as MAA's `AzureGuest` request
/// carries it (`IsolationInfo.Evidence`: the SNP report or TD quote as
/// `Proof`, the variable data as `RunTimeData`, hashed with SHA-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestReport<'a> {
    pub report_type: HclReportType,
    pub hash_type: ReportDataHashType,
    /// SNP: the attestation report (required). TDX: the TDREPORT when the
    /// caller has it — the HCL report does, MAA's request does not; when
    /// present it must agree with the TD quote.
    pub hw_report: Option<&'a [u8]>,
    /// The variable data (the HCL runtime JSON), exactly as hashed.
    pub var_data: &'a [u8],
}

impl<'a> GuestReport<'a> {
    /// The parts of a decoded HCL report.
    pub fn from_hcl(hcl: &HclReport<'a>) -> Self {
        Self {
            report_type: hcl.igvm.report_type,
            hash_type: hcl.igvm.report_data_hash_type,
            hw_report: match hcl.igvm.report_type {
                HclReportType::Tdx => hcl.td_report_bytes(),
                _ => Some(hcl.hw_report),
            },
            var_data: hcl.var_data,
        }
    }
}

/// The vTPM's part of the evidence.
#[derive(Debug, Clone)]
pub struct VtpmQuote<'a> {
    /// The quote's `TPMS_ATTEST`.
    pub quote: &'a [u8],
    /// A `TPMT_SIGNATURE` or a bare RSASSA signature ([`normalize_signature`]).
    pub signature: &'a [u8],
    /// The PCR values sent with the quote: bank → index → value.
    pub pcrs: Pcrs,
    /// The TCG event log, when sent.
    pub event_log: Option<&'a [u8]>,
}

/// Settings of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AzureGuestSettings {
    /// PCRs the quote must cover (bit n = PCR n).
    pub required_pcr_mask: u64,
}

impl Default for AzureGuestSettings {
    /// PCRs 0–7: the firmware, its configuration and the Secure Boot
    /// policy — the least MAA's guest clients quote (`[0..7]`).
    fn default() -> Self {
        Self {
            required_pcr_mask: 0xFF,
        }
    }
}

/// The isolation TEE's verified report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolationVerified {
    Snp(Box<SnpVerified>),
    Tdx(Box<TdxVerified>),
    /// Trusted Launch: no isolation TEE; the AK certificate chained to a
    /// configured vTPM CA ([`verify_trusted_launch`]).
    TrustedLaunch,
}

/// Verified Azure guest evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureGuestVerified {
    pub report_type: HclReportType,
    pub hash_type: ReportDataHashType,
    pub isolation: IsolationVerified,
    /// The verified hardware report_data (64 bytes).
    pub report_data: Vec<u8>,
    pub runtime: RuntimeData,
    pub tpm: TpmVerified,
}

/// A bare RSA signature becomes the `TPMT_SIGNATURE` it stands for
/// (RSASSA-PKCS1-v1_5 with SHA-256, the scheme of the Azure vTPM AK
/// template); anything else is taken as a `TPMT_SIGNATURE` as it is.
///
/// Decided by length, which is unambiguous: a bare signature is exactly as
/// long as the modulus, a `TPMT_SIGNATURE` over it six bytes longer.
pub fn normalize_signature(signature: &[u8], ak: &PublicKey) -> Vec<u8> {
    if let PublicKey::Rsa { modulus, .. } = ak {
        let n = modulus.iter().skip_while(|&&b| b == 0).count();
        if signature.len() == n && n <= usize::from(u16::MAX) {
            let mut out = Vec::with_capacity(n + 6);
            out.extend_from_slice(&TPM_ALG_RSASSA.to_be_bytes());
            out.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.extend_from_slice(signature);
            return out;
        }
    }
    signature.to_vec()
}

fn hash_var_data(t: ReportDataHashType, data: &[u8]) -> Vec<u8> {
    match t {
        ReportDataHashType::Sha256 => crypto::sha256(data).to_vec(),
        ReportDataHashType::Sha384 => crypto::sha384(data).to_vec(),
        // The TPM module's digest helper knows SHA-512; `crypto` has no
        // other caller for it.
        ReportDataHashType::Sha512 => hash(TPM_ALG_SHA512, data).unwrap_or_default(),
    }
}

/// The TDREPORT's fields against the verified quote's body.
fn check_td_report(bytes: &[u8], quote: &tdx::TdReport) -> Result<(), AzureGuestError> {
    let t = HclTdReport::parse(bytes).map_err(AzureGuestError::HclReport)?;
    let pairs: [(&'static str, &[u8], &[u8]); 15] = [
        ("report_data", &t.report_data, &quote.report_data),
        ("tee_tcb_svn", &t.tee_tcb_svn, &quote.tee_tcb_svn),
        ("mrseam", &t.mr_seam, &quote.mr_seam),
        ("mrsignerseam", &t.mr_signer_seam, &quote.mr_signer_seam),
        (
            "seam_attributes",
            &t.seam_attributes,
            &quote.seam_attributes,
        ),
        ("td_attributes", &t.td_attributes, &quote.td_attributes),
        ("xfam", &t.xfam, &quote.xfam),
        ("mrtd", &t.mr_td, &quote.mr_td),
        ("mrconfigid", &t.mr_config_id, &quote.mr_config_id),
        ("mrowner", &t.mr_owner, &quote.mr_owner),
        ("mrownerconfig", &t.mr_owner_config, &quote.mr_owner_config),
        ("rtmr0", &t.rtmr[0], &quote.rtmr[0]),
        ("rtmr1", &t.rtmr[1], &quote.rtmr[1]),
        ("rtmr2", &t.rtmr[2], &quote.rtmr[2]),
        ("rtmr3", &t.rtmr[3], &quote.rtmr[3]),
    ];
    for (field, a, b) in pairs {
        if a != b {
            return Err(AzureGuestError::TdReportMismatch(field));
        }
    }
    Ok(())
}

/// Step 1: the hardware report, verified; returns it and its report_data.
fn verify_isolation(
    hcl: &GuestReport<'_>,
    collateral: &IsolationCollateral<'_>,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<(IsolationVerified, Vec<u8>), AzureGuestError> {
    let mismatch = || AzureGuestError::CollateralMismatch {
        report: hcl.report_type.as_str(),
        collateral: collateral.kind(),
    };
    match hcl.report_type {
        HclReportType::Snp => {
            let owned;
            let chain = match collateral {
                IsolationCollateral::Snp(c) => {
                    owned = VerifiedChain::verify(c, roots, at).map_err(AzureGuestError::Snp)?;
                    &owned
                }
                IsolationCollateral::SnpChain(c) => *c,
                _ => return Err(mismatch()),
            };
            let report = hcl.hw_report.ok_or_else(|| {
                AzureGuestError::HclReport(crate::error::ParseError::Malformed {
                    what: "Azure guest evidence",
                    reason: "no SEV-SNP report".into(),
                })
            })?;
            let v = snp::verify_report(report, chain, at).map_err(AzureGuestError::Snp)?;
            let rd = v.report.report_data.to_vec();
            Ok((IsolationVerified::Snp(Box::new(v)), rd))
        }
        HclReportType::Tdx => {
            let (td_quote, owned);
            let verified = match collateral {
                IsolationCollateral::Tdx {
                    td_quote: q,
                    collateral,
                } => {
                    td_quote = *q;
                    owned = TdxVerifiedCollateral::verify(collateral, roots, at)
                        .map_err(AzureGuestError::Tdx)?;
                    &owned
                }
                IsolationCollateral::TdxVerified {
                    td_quote: q,
                    collateral,
                } => {
                    td_quote = *q;
                    collateral.check_time(at).map_err(AzureGuestError::Tdx)?;
                    *collateral
                }
                _ => return Err(mismatch()),
            };
            let quote = tdx::parse_td_quote(td_quote).map_err(AzureGuestError::Tdx)?;
            let v =
                tdx::verify_td_quote(&quote, verified, roots, at).map_err(AzureGuestError::Tdx)?;
            if let Some(td_report) = hcl.hw_report {
                check_td_report(td_report, &v.report)?;
            }
            let rd = v.report.report_data.to_vec();
            Ok((IsolationVerified::Tdx(Box::new(v)), rd))
        }
        other => Err(AzureGuestError::UnsupportedIsolation(other.as_str())),
    }
}

/// Verify Azure guest evidence (see the module doc for the checks, in the
/// order they run).
pub fn verify(
    ev: &AzureGuestEvidence<'_>,
    collateral: &IsolationCollateral<'_>,
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &AzureGuestSettings,
    at: UnixTime,
) -> Result<AzureGuestVerified, AzureGuestError> {
    let hcl = HclReport::parse(ev.hcl_report).map_err(AzureGuestError::HclReport)?;
    let vtpm = VtpmQuote {
        quote: ev.quote,
        signature: ev.signature,
        pcrs: ev.pcrs.clone(),
        event_log: ev.event_log,
    };
    verify_guest(
        &GuestReport::from_hcl(&hcl),
        &vtpm,
        collateral,
        expected_nonce,
        roots,
        settings,
        at,
    )
}

/// [`verify`] on evidence already in parts (MAA's request sends the
/// hardware evidence and the variable data, not the HCL report).
pub fn verify_guest(
    report: &GuestReport<'_>,
    vtpm: &VtpmQuote<'_>,
    collateral: &IsolationCollateral<'_>,
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &AzureGuestSettings,
    at: UnixTime,
) -> Result<AzureGuestVerified, AzureGuestError> {
    // 1. Hardware.
    let (isolation, report_data) = verify_isolation(report, collateral, roots, at)?;

    // 2. The variable data is what the hardware attested.
    let hash_type = report.hash_type;
    let digest = hash_var_data(hash_type, report.var_data);
    let field = report_data.get(..digest.len()).unwrap_or_default();
    // An empty digest would compare equal to an empty prefix: fail closed.
    if digest.is_empty() || !crypto::constant_time_eq(field, &digest) {
        return Err(AzureGuestError::VarDataHashMismatch {
            hash: hash_type.as_str(),
            expected: hex::encode(field),
            actual: hex::encode(&digest),
        });
    }
    let runtime = RuntimeData::parse(report.var_data).map_err(AzureGuestError::VarDataInvalid)?;
    let ak = runtime
        .ak_pub()
        .map_err(AzureGuestError::AkPubInvalid)?
        .ok_or(AzureGuestError::AkPubMissing)?;

    // 3–4. The vTPM quote, its PCRs and the log.
    let signature = normalize_signature(vtpm.signature, &ak);
    let tpm_ev = TpmEvidence {
        quotes: vec![QuoteParts {
            attest: vtpm.quote,
            signature: &signature,
        }],
        ak_public: AkPublic::Key(ak),
        ak_cert: None,
        intermediates: Vec::new(),
        pcrs: vtpm.pcrs.clone(),
        event_log: vtpm.event_log,
    };
    let tpm_settings = TpmSettings {
        // Trusted through the hardware report (step 2), not a certificate.
        require_valid_aik_cert: false,
        required_pcr_mask: settings.required_pcr_mask,
    };
    let tpm = crate::tpm::verify(&tpm_ev, expected_nonce, roots, &tpm_settings, at)
        .map_err(AzureGuestError::Tpm)?;

    Ok(AzureGuestVerified {
        report_type: report.report_type,
        hash_type,
        isolation,
        report_data,
        runtime,
        tpm,
    })
}

/// Verify a Trusted Launch VM's evidence (no isolation report): the AK
/// (`ak_public`, the request's `TPM2B_PUBLIC`/`TPMT_PUBLIC`, a restricted
/// signing key) is trusted only through `ak_cert` chaining to one of the
/// `RootKind::Tpm` roots (the provider's vTPM CAs) at `at`; then the quote,
/// its nonce, the PCR digest and coverage, and the log, as for a CVM.
pub fn verify_trusted_launch(
    vtpm: &VtpmQuote<'_>,
    ak_public: &[u8],
    ak_cert: &[u8],
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &AzureGuestSettings,
    at: UnixTime,
) -> Result<AzureGuestVerified, AzureGuestError> {
    if roots.of_kind(crate::roots::RootKind::Tpm).next().is_none() {
        return Err(AzureGuestError::VtpmCaNotConfigured);
    }
    if ak_public.is_empty() {
        return Err(AzureGuestError::AikPubRequired);
    }
    let ak = crate::tpm::structures::Public::parse(ak_public)
        .map_err(|e| AzureGuestError::Tpm(e.into()))?
        .key;
    let signature = normalize_signature(vtpm.signature, &ak);
    let tpm_ev = TpmEvidence {
        quotes: vec![QuoteParts {
            attest: vtpm.quote,
            signature: &signature,
        }],
        ak_public: AkPublic::Tpmt(ak_public),
        ak_cert: (!ak_cert.is_empty()).then_some(ak_cert),
        intermediates: Vec::new(),
        pcrs: vtpm.pcrs.clone(),
        event_log: vtpm.event_log,
    };
    let tpm_settings = TpmSettings {
        // The certificate is the only thing that vouches for this AK.
        require_valid_aik_cert: true,
        required_pcr_mask: settings.required_pcr_mask,
    };
    let tpm = crate::tpm::verify(&tpm_ev, expected_nonce, roots, &tpm_settings, at)
        .map_err(AzureGuestError::Tpm)?;
    if !tpm.aik_validated {
        // verify() with require_valid_aik_cert refuses this already.
        return Err(AzureGuestError::Tpm(
            crate::tpm::TpmError::AkChainUntrusted(crate::pki::CertificateError::UnknownIssuer {
                cert: crate::pki::Named::new(crate::pki::Role::Leaf, "AK certificate"),
                issuer: "a configured vTPM CA".into(),
            }),
        ));
    }
    Ok(AzureGuestVerified {
        report_type: HclReportType::TrustedLaunch,
        hash_type: ReportDataHashType::Sha256,
        isolation: IsolationVerified::TrustedLaunch,
        report_data: Vec::new(),
        runtime: RuntimeData {
            json: serde_json::Map::new(),
            keys: Vec::new(),
            vm_configuration: None,
            user_data: None,
        },
        tpm,
    })
}

impl AzureGuestVerified {
    /// The isolation TEE's claim set, as MAA nests it in `x-ms-isolation-tee`:
    /// the `sevsnpvm` or `tdxvm` claims plus `x-ms-runtime` (the variable
    /// data). `None` for Trusted Launch, which has no isolation TEE.
    pub fn isolation_claims(&self) -> Option<Claims> {
        let mut c = match &self.isolation {
            IsolationVerified::Snp(v) => v.claims(),
            IsolationVerified::Tdx(v) => v.claims(),
            IsolationVerified::TrustedLaunch => return None,
        };
        c.insert("x-ms-runtime", Value::Object(self.runtime.json.clone()));
        Some(c)
    }

    /// Whether the hardware chain (Trusted Launch: the AK chain) ended at a
    /// configured (test) root.
    pub fn test_root(&self) -> bool {
        match &self.isolation {
            IsolationVerified::Snp(v) => v.test_root,
            IsolationVerified::Tdx(v) => v.test_root,
            IsolationVerified::TrustedLaunch => self.tpm.test_root,
        }
    }

    /// The incoming claims (see the module doc of [`super`]).
    pub fn claims(&self) -> Claims {
        let mut c = Claims::new();
        c.insert(crate::claims::names::ATTESTATION_TYPE, "azurevm");
        if let Some(id) = self.runtime.vm_unique_id() {
            c.insert("x-ms-azurevm-vmid", id);
        }
        let attested: Vec<u32> = self
            .tpm
            .quoted
            .values()
            .flat_map(|b| b.keys().copied())
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .collect();
        c.insert("x-ms-azurevm-attested-pcrs", attested);
        if let Some(sb) = self.tpm.secure_boot() {
            c.insert("secureboot", sb);
        }
        if let Some(w) = self.tpm.windows_boot_state() {
            let mut flag = |name: &str, v: Option<bool>| {
                if let Some(v) = v {
                    c.insert(name, v);
                }
            };
            flag("x-ms-azurevm-bootdebug-enabled", w.boot_debugging);
            flag("x-ms-azurevm-kerneldebug-enabled", w.kernel_debugging);
            flag("x-ms-azurevm-testsigning-enabled", w.test_signing);
            flag("x-ms-azurevm-flightsigning-enabled", w.flight_signing);
        }
        if let Some(tee) = self.isolation_claims() {
            c.insert("x-ms-isolation-tee", Value::Object(tee.into_map()));
            c.insert(
                "x-attesta-azurevm-report-data-hash",
                self.hash_type.as_str(),
            );
        } else {
            // Trusted Launch: the AK certificate chained to a vTPM CA.
            c.insert("x-attesta-azurevm-ak-certified", true);
        }
        c.insert(
            "x-attesta-azurevm-hcl-report-type",
            self.report_type.as_str(),
        );
        c.insert("x-attesta-azurevm-pcrs", self.tpm.pcrs_json());
        c.insert(
            "x-attesta-azurevm-log-verified-pcrs",
            self.tpm
                .verified_log_pcrs
                .iter()
                .copied()
                .collect::<Vec<u32>>(),
        );
        c.insert("x-attesta-tpm-reset-count", self.tpm.reset_count);
        c.insert("x-attesta-tpm-restart-count", self.tpm.restart_count);
        c.insert("x-attesta-test-root", self.test_root());
        c
    }

    /// The generic verified form: claims and the hardware report_data.
    pub fn to_verified(&self) -> crate::Verified {
        crate::Verified {
            claims: self.claims(),
            report_data: self.report_data.clone(),
            init_data: match &self.isolation {
                IsolationVerified::Snp(v) => Some(v.report.host_data.to_vec()),
                IsolationVerified::Tdx(v) => Some(v.report.mr_config_id.to_vec()),
                IsolationVerified::TrustedLaunch => None,
            },
        }
    }
}
