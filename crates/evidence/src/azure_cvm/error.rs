//! Errors of Azure confidential VM guest attestation: one variant per check
//! the guest path adds, and the SEV-SNP, TDX and TPM verifiers' own errors
//! wrapped with their codes unchanged (a bad VCEK is `ReportSignatureInvalid`
//! whichever route the report came by).

use crate::error::{ErrorCode, ParseError};
use crate::snp::SnpError;
use crate::tdx::TdxError;
use crate::tpm::TpmError;

/// Why Azure guest evidence did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AzureGuestError {
    #[error("the HCL report could not be decoded: {0}")]
    HclReport(ParseError),
    #[error(
        "the HCL report carries a {0} report; only SEV-SNP and TDX confidential VMs are supported (VBS and Trusted Launch have no hardware report to verify)"
    )]
    UnsupportedIsolation(&'static str),
    #[error(
        "the HCL report carries a {report} report but {collateral} collateral was supplied; supply the VCEK chain for SNP or the TD quote and its collateral for TDX"
    )]
    CollateralMismatch {
        report: &'static str,
        collateral: &'static str,
    },
    #[error("the SEV-SNP report in the HCL report did not verify: {0}")]
    Snp(SnpError),
    #[error("the TD quote did not verify: {0}")]
    Tdx(TdxError),
    #[error(
        "the HCL report's TDREPORT does not match the verified TD quote ({0} differs): the quote was made for another TD report; request the TD quote for this HCL report"
    )]
    TdReportMismatch(&'static str),
    #[error(
        "{hash} of the HCL variable data is {actual}, but the hardware report's report_data starts with {expected}: the variable data (AK, EK, VM configuration) is not the one the hardware attested"
    )]
    VarDataHashMismatch {
        hash: &'static str,
        expected: String,
        actual: String,
    },
    #[error("the HCL variable data is not the runtime JSON: {0}")]
    VarDataInvalid(ParseError),
    #[error(
        "the HCL variable data has no HCLAkPub key: without it the vTPM quote cannot be tied to the hardware report"
    )]
    AkPubMissing,
    #[error("the HCL variable data's HCLAkPub is not a usable key: {0}")]
    AkPubInvalid(String),
    #[error("the vTPM quote did not verify: {0}")]
    Tpm(TpmError),
    #[error("the AzureGuest request could not be decoded: {0}")]
    Request(ParseError),
    #[error(
        "TpmInfo.AikPub is not the HCLAkPub the hardware report binds: the request mixes evidence from two vTPMs"
    )]
    AkPubMismatch,
    #[error(
        "the request has no EncKeyPub: the token is sealed to the vTPM's ephemeral encryption key, so it is required"
    )]
    EncKeyMissing,
    #[error(
        "this Trusted Launch VM (no isolation report) can only be trusted through its AK certificate, and the provider has no vTPM CA configured; configure the CA that issues the vTPM AK certificates (provider config vtpm_roots)"
    )]
    VtpmCaNotConfigured,
    #[error(
        "a Trusted Launch request must carry TpmInfo.AikPub: its AK certificate is checked against that key"
    )]
    AikPubRequired,
    #[error("EncKeyPub is not a usable encryption key: {0}")]
    EncKeyInvalid(String),
    #[error(
        "EncKeyPub is not certified by the vTPM's attestation key ({0}); send the TPM2_Certify of the key by the AK as EncKeyCertifyInfo and EncKeyCertifyInfoSignature"
    )]
    EncKeyNotCertified(String),
    #[error(
        "EncKeyPub has object attributes {attributes:#010x} (missing: [{missing}], forbidden: [{forbidden}]); the ephemeral key must be a TPM-generated decryption key usable only through its PCR policy"
    )]
    EncKeyAttributesInvalid {
        attributes: u32,
        missing: String,
        forbidden: String,
    },
    #[error(
        "EncKeyPub is not sealed to the attested PCR state: {0}; create the key with a PolicyPCR policy over the quoted PCRs"
    )]
    EncKeyPolicyMismatch(String),
}

impl ErrorCode for AzureGuestError {
    fn code(&self) -> &'static str {
        use AzureGuestError::*;
        match self {
            HclReport(e) => match e {
                ParseError::Truncated { .. } => "HclReportTruncated",
                ParseError::Unsupported { .. } => "HclReportUnsupported",
                ParseError::TrailingBytes { .. } => "HclReportTrailingBytes",
                ParseError::Malformed { .. } => "HclReportMalformed",
            },
            UnsupportedIsolation(_) => "HclIsolationUnsupported",
            CollateralMismatch { .. } => "HclCollateralMismatch",
            Snp(e) => e.code(),
            Tdx(e) => e.code(),
            TdReportMismatch(_) => "TdReportQuoteMismatch",
            VarDataHashMismatch { .. } => "VarDataHashMismatch",
            VarDataInvalid(_) => "HclVarDataInvalid",
            AkPubMissing => "HclAkPubMissing",
            AkPubInvalid(_) => "HclAkPubInvalid",
            Tpm(e) => e.code(),
            Request(_) => "AzureGuestRequestInvalid",
            AkPubMismatch => "AikPubMismatch",
            EncKeyMissing => "EncKeyMissing",
            EncKeyInvalid(_) => "EncKeyInvalid",
            VtpmCaNotConfigured => "VtpmCaNotConfigured",
            AikPubRequired => "AikPubRequired",
            EncKeyNotCertified(_) => "EncKeyNotCertified",
            EncKeyAttributesInvalid { .. } => "EncKeyAttributesInvalid",
            EncKeyPolicyMismatch(_) => "EncKeyPolicyMismatch",
        }
    }
}
