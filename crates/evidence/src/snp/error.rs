//! Errors of SEV-SNP report verification: one variant per check that can
//! fail, each with a stable code (tests assert codes, the HTTP edge maps
//! them) and a message naming what failed and what to do next.

use crate::error::{ErrorCode, ParseError};
use crate::types::rfc3339;

/// Why an SEV-SNP report or its certificate chain did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnpError {
    #[error("the SEV-SNP report could not be decoded: {0}")]
    Parse(#[from] ParseError),
    #[error("SEV-SNP report version {0} is not supported; versions 2, 3 and 5 are")]
    UnsupportedReportVersion(u32),
    #[error(
        "SEV-SNP report signature algorithm {0} is not supported; only 1 (ECDSA P-384 with SHA-384) is"
    )]
    UnsupportedSignatureAlgorithm(u32),
    #[error(
        "the SEV-SNP report is not signed (signing key field {0}, or MASK_CHIP_KEY set); request a report signed by the VCEK or VLEK"
    )]
    ReportNotSigned(u8),
    #[error(
        "the report says it is signed by the {report}, but the certificate supplied is a {chain}; supply the matching endorsement key certificate"
    )]
    SigningKeyMismatch {
        report: &'static str,
        chain: &'static str,
    },
    #[error("the SEV-SNP report signature does not verify with the VCEK/VLEK public key")]
    ReportSignatureInvalid,

    // --- certificate chain ---
    #[error(
        "the AMD certificate chain does not end at a trusted AMD root key (ARK); use AMD's certificates or configure the root"
    )]
    UntrustedArk,
    #[error("the ARK certificate is not valid at the verification time")]
    ArkExpired,
    #[error("the VCEK/VLEK certificate chain is invalid: {0}")]
    VcekChainInvalid(String),
    #[error("the ASK/ASVK certificate is not valid at the verification time")]
    AskExpired,
    #[error(
        "the VCEK certificate is not valid at the verification time (valid {} to {}, time {}); fetch the VCEK for the report's TCB",
        rfc3339(*.not_before), rfc3339(*.not_after), rfc3339(*.at as i64)
    )]
    VcekExpired {
        not_before: i64,
        not_after: i64,
        at: u64,
    },
    #[error(
        "the VLEK certificate is not valid at the verification time (valid {} to {}, time {}); ask the cloud provider for a current VLEK",
        rfc3339(*.not_before), rfc3339(*.not_after), rfc3339(*.at as i64)
    )]
    VlekExpired {
        not_before: i64,
        not_after: i64,
        at: u64,
    },
    #[error("the VCEK/VLEK certificate's AMD extensions are missing or malformed: {0}")]
    VekExtensionInvalid(String),

    // --- CRL ---
    #[error(
        "AMD's CRL for the {0} hierarchy is not available, so revocation cannot be checked; fetch it from AMD KDS (crl endpoint) or import it with `attesta collateral import`"
    )]
    CrlMissing(String),
    #[error("the AMD CRL is invalid: {0}")]
    CrlInvalid(String),
    #[error(
        "the AMD CRL is not current at the verification time (thisUpdate {}, nextUpdate {}, time {}); fetch a fresh CRL",
        rfc3339(*.this_update), rfc3339(*.next_update), rfc3339(*.at as i64)
    )]
    CrlExpired {
        this_update: i64,
        next_update: i64,
        at: u64,
    },
    #[error("the ASK/ASVK certificate (serial {0}) is revoked by AMD's CRL")]
    AskRevoked(String),
    #[error("the VCEK/VLEK certificate (serial {0}) is revoked by AMD's CRL")]
    VcekRevoked(String),

    // --- report vs certificate ---
    #[error(
        "the report's reported_tcb {field} is {report}, the VCEK/VLEK certifies {cert}; fetch the VCEK for the report's reported_tcb"
    )]
    TcbMismatch {
        field: &'static str,
        report: u8,
        cert: u8,
    },
    #[error(
        "the report's chip_id does not match the VCEK's hwID: the VCEK belongs to another processor"
    )]
    ChipIdMismatch,
    #[error("the report comes from a {report} processor but the VCEK/VLEK is for {cert}")]
    ProcessorMismatch { report: String, cert: String },
    #[error(
        "the processor generation could not be determined (CPUID family {family:#x} model {model:#x}, certificate product '{product}')"
    )]
    UnknownProcessor {
        family: u8,
        model: u8,
        product: String,
    },
}

impl ErrorCode for SnpError {
    fn code(&self) -> &'static str {
        use SnpError::*;
        match self {
            Parse(e) => e.code(),
            UnsupportedReportVersion(_) => "UnsupportedReportVersion",
            UnsupportedSignatureAlgorithm(_) => "UnsupportedSignatureAlgorithm",
            ReportNotSigned(_) => "ReportNotSigned",
            SigningKeyMismatch { .. } => "SigningKeyMismatch",
            ReportSignatureInvalid => "ReportSignatureInvalid",
            UntrustedArk => "UntrustedArk",
            ArkExpired => "ArkExpired",
            VcekChainInvalid(_) => "VcekChainInvalid",
            AskExpired => "AskExpired",
            VcekExpired { .. } => "VcekExpired",
            VlekExpired { .. } => "VlekExpired",
            VekExtensionInvalid(_) => "VekExtensionInvalid",
            CrlMissing(_) => "AmdCrlMissing",
            CrlInvalid(_) => "AmdCrlInvalid",
            CrlExpired { .. } => "AmdCrlExpired",
            AskRevoked(_) => "AskRevoked",
            VcekRevoked(_) => "VcekRevoked",
            TcbMismatch { .. } => "TcbMismatch",
            ChipIdMismatch => "ChipIdMismatch",
            ProcessorMismatch { .. } => "ProcessorMismatch",
            UnknownProcessor { .. } => "UnknownProcessor",
        }
    }
}
