//! Errors of SGX DCAP quote verification: one variant per check that can
//! fail, each with a stable code (tests assert codes, the HTTP edge maps
//! them) and a message naming what failed.

use crate::error::{ErrorCode, ParseError};
use crate::pki::{CertificateError, Role};

/// Why an SGX quote or its collateral did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SgxError {
    #[error("the quote could not be decoded: {0}")]
    Parse(#[from] ParseError),
    #[error("SGX quote version {0} is not supported; versions 3 and 4 are")]
    UnsupportedQuoteVersion(u16),

    // --- trust anchor and certificate chains ---
    #[error(
        "the {0} chain does not end at a trusted Intel SGX Root CA; configure the root or use Intel's"
    )]
    UntrustedRoot(&'static str),
    #[error("the Intel SGX Root CA certificate is not valid at the verification time")]
    RootCaExpired,
    #[error("the PCK certificate chain in the quote is invalid: {0}")]
    PckChainInvalid(String),
    #[error(
        "the PCK certificate is not valid at the verification time (validity {not_before_t}..{not_after_t}, time {at_t})",
        not_before_t = crate::types::rfc3339(*not_before),
        not_after_t = crate::types::rfc3339(*not_after),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    PckCertificateExpired {
        not_before: i64,
        not_after: i64,
        at: u64,
    },
    #[error("the PCK certificate (serial {0}) is revoked by the PCK CRL")]
    PckCertificateRevoked(String),
    #[error("the PCK CA certificate is not valid at the verification time")]
    PckCaExpired,
    #[error("the PCK CA certificate (serial {0}) is revoked by the Intel SGX Root CA CRL")]
    PckCaRevoked(String),
    #[error(
        "the quote's PCK CA is not the issuer of the collateral's PCK CRL; fetch the CRL for {0}"
    )]
    PckCrlIssuerMismatch(String),
    #[error(
        "the PCK certificate's SGX extension (OID 1.2.840.113741.1.13.1) is missing or malformed: {0}"
    )]
    PckExtensionInvalid(String),
    #[error("the TCB signing certificate chain is invalid: {0}")]
    TcbSigningChainInvalid(String),
    #[error("the TCB signing certificate is not valid at the verification time")]
    TcbSigningCertExpired,
    #[error("the TCB signing certificate (serial {0}) is revoked by the Intel SGX Root CA CRL")]
    TcbSigningCertRevoked(String),

    // --- CRLs ---
    #[error("the Intel SGX Root CA CRL is invalid: {0}")]
    RootCaCrlInvalid(String),
    #[error(
        "the Intel SGX Root CA CRL is not current at the verification time (thisUpdate {this_update_t}, nextUpdate {next_update_t}, time {at_t})",
        this_update_t = crate::types::rfc3339(*this_update),
        next_update_t = crate::types::rfc3339(*next_update),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    RootCaCrlExpired {
        this_update: i64,
        next_update: i64,
        at: u64,
    },
    #[error(
        "the Intel SGX Root CA CRL is not yet valid at the verification time (thisUpdate {this_update_t}, nextUpdate {next_update_t}, time {at_t}); check the verification time or the clock",
        this_update_t = crate::types::rfc3339(*this_update),
        next_update_t = crate::types::rfc3339(*next_update),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    RootCaCrlNotYetValid {
        this_update: i64,
        next_update: i64,
        at: u64,
    },
    #[error("the PCK CRL is invalid: {0}")]
    PckCrlInvalid(String),
    #[error(
        "the PCK CRL is not current at the verification time (thisUpdate {this_update_t}, nextUpdate {next_update_t}, time {at_t}); fetch a fresh PCK CRL",
        this_update_t = crate::types::rfc3339(*this_update),
        next_update_t = crate::types::rfc3339(*next_update),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    PckCrlExpired {
        this_update: i64,
        next_update: i64,
        at: u64,
    },
    #[error(
        "the PCK CRL is not yet valid at the verification time (thisUpdate {this_update_t}, nextUpdate {next_update_t}, time {at_t}); check the verification time or the clock",
        this_update_t = crate::types::rfc3339(*this_update),
        next_update_t = crate::types::rfc3339(*next_update),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    PckCrlNotYetValid {
        this_update: i64,
        next_update: i64,
        at: u64,
    },

    // --- TCB info ---
    #[error("the TCB info document is malformed: {0}")]
    TcbInfoInvalid(String),
    #[error("the TCB info signature does not verify with the TCB signing certificate")]
    TcbInfoSignatureInvalid,
    #[error(
        "the TCB info is not current at the verification time (issueDate {issue_date_t}, nextUpdate {next_update_t}, time {at_t}); fetch fresh TCB info",
        next_update_t = crate::types::rfc3339(*next_update),
        issue_date_t = crate::types::rfc3339(*issue_date),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    TcbInfoExpired {
        issue_date: i64,
        next_update: i64,
        at: u64,
    },
    #[error(
        "the TCB info is not yet valid at the verification time (issueDate {issue_date_t}, nextUpdate {next_update_t}, time {at_t}); check the verification time or the clock",
        next_update_t = crate::types::rfc3339(*next_update),
        issue_date_t = crate::types::rfc3339(*issue_date),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    TcbInfoNotYetValid {
        issue_date: i64,
        next_update: i64,
        at: u64,
    },
    #[error(
        "the TCB info is for FMSPC {tcb_info}, the PCK certificate's FMSPC is {pck}; fetch TCB info for FMSPC {pck}"
    )]
    TcbInfoFmspcMismatch { tcb_info: String, pck: String },
    #[error("the TCB info is for PCE ID {tcb_info}, the PCK certificate's PCE ID is {pck}")]
    TcbInfoPceIdMismatch { tcb_info: String, pck: String },
    #[error(
        "the platform's TCB (CPUSVN components and PCESVN from the PCK certificate) matches no level of the TCB info"
    )]
    TcbLevelNotFound,
    #[error("the platform's TCB level is Revoked")]
    TcbRevoked,

    // --- QE identity ---
    #[error("the QE identity document is malformed: {0}")]
    QeIdentityInvalid(String),
    #[error("the QE identity signature does not verify with the TCB signing certificate")]
    QeIdentitySignatureInvalid,
    #[error(
        "the QE identity is not current at the verification time (issueDate {issue_date_t}, nextUpdate {next_update_t}, time {at_t}); fetch a fresh QE identity",
        next_update_t = crate::types::rfc3339(*next_update),
        issue_date_t = crate::types::rfc3339(*issue_date),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    QeIdentityExpired {
        issue_date: i64,
        next_update: i64,
        at: u64,
    },
    #[error(
        "the QE identity is not yet valid at the verification time (issueDate {issue_date_t}, nextUpdate {next_update_t}, time {at_t}); check the verification time or the clock",
        next_update_t = crate::types::rfc3339(*next_update),
        issue_date_t = crate::types::rfc3339(*issue_date),
        at_t = crate::types::rfc3339(*at as i64)
    )]
    QeIdentityNotYetValid {
        issue_date: i64,
        next_update: i64,
        at: u64,
    },
    #[error("the quoting enclave does not match Intel's QE identity: {0}")]
    QeIdentityMismatch(&'static str),
    #[error("the quoting enclave's ISVSVN {0} matches no TCB level of the QE identity")]
    QeTcbLevelNotFound(u16),
    #[error("the quoting enclave's TCB level is Revoked")]
    QeTcbRevoked,

    // --- quote signatures ---
    #[error("the QE report signature does not verify with the PCK certificate's key")]
    QeReportSignatureInvalid,
    #[error("the QE report data is not SHA-256(attestation key || QE auth data) || 32 zero bytes")]
    QeReportDataMismatch,
    #[error("the quote signature does not verify with the attestation key")]
    QuoteSignatureInvalid,
    #[error("the enclave is a debug enclave and debug enclaves are not allowed")]
    DebugEnclaveNotAllowed,

    /// A collateral item outside its validity window, with every other
    /// item that is not current at that time either, so one look names
    /// everything to refresh. The code is the first item's.
    #[error("{first}; also not current at that time: {}", others.join("; "))]
    NotCurrent {
        first: Box<SgxError>,
        others: Vec<String>,
    },
}

impl ErrorCode for SgxError {
    fn code(&self) -> &'static str {
        use SgxError::*;
        match self {
            Parse(e) => e.code(),
            UnsupportedQuoteVersion(_) => "UnsupportedQuoteVersion",
            UntrustedRoot(_) => "UntrustedRoot",
            RootCaExpired => "RootCaExpired",
            PckChainInvalid(_) => "PckChainInvalid",
            PckCertificateExpired { .. } => "PckCertificateExpired",
            PckCertificateRevoked(_) => "PckCertificateRevoked",
            PckCaExpired => "PckCaExpired",
            PckCaRevoked(_) => "PckCaRevoked",
            PckCrlIssuerMismatch(_) => "PckCrlIssuerMismatch",
            PckExtensionInvalid(_) => "PckExtensionInvalid",
            TcbSigningChainInvalid(_) => "TcbSigningChainInvalid",
            TcbSigningCertExpired => "TcbSigningCertExpired",
            TcbSigningCertRevoked(_) => "TcbSigningCertRevoked",
            RootCaCrlInvalid(_) => "RootCaCrlInvalid",
            RootCaCrlExpired { .. } => "RootCaCrlExpired",
            RootCaCrlNotYetValid { .. } => "RootCaCrlNotYetValid",
            PckCrlInvalid(_) => "PckCrlInvalid",
            PckCrlExpired { .. } => "PckCrlExpired",
            PckCrlNotYetValid { .. } => "PckCrlNotYetValid",
            TcbInfoInvalid(_) => "TcbInfoInvalid",
            TcbInfoSignatureInvalid => "TcbInfoSignatureInvalid",
            TcbInfoExpired { .. } => "TcbInfoExpired",
            TcbInfoNotYetValid { .. } => "TcbInfoNotYetValid",
            TcbInfoFmspcMismatch { .. } => "TcbInfoFmspcMismatch",
            TcbInfoPceIdMismatch { .. } => "TcbInfoPceIdMismatch",
            TcbLevelNotFound => "TcbLevelNotFound",
            TcbRevoked => "TcbRevoked",
            QeIdentityInvalid(_) => "QeIdentityInvalid",
            QeIdentitySignatureInvalid => "QeIdentitySignatureInvalid",
            QeIdentityExpired { .. } => "QeIdentityExpired",
            QeIdentityNotYetValid { .. } => "QeIdentityNotYetValid",
            QeIdentityMismatch(_) => "QeIdentityMismatch",
            QeTcbLevelNotFound(_) => "QeTcbLevelNotFound",
            QeTcbRevoked => "QeTcbRevoked",
            QeReportSignatureInvalid => "QeReportSignatureInvalid",
            QeReportDataMismatch => "QeReportDataMismatch",
            QuoteSignatureInvalid => "QuoteSignatureInvalid",
            DebugEnclaveNotAllowed => "DebugEnclaveNotAllowed",
            NotCurrent { first, .. } => first.code(),
        }
    }
}

impl SgxError {
    /// A certificate check of a quote's PCK chain (leaf, PCK CA, Intel
    /// root) as an SGX error: the one place the PCK chain's
    /// [`CertificateError`]s become SGX codes. Validity and revocation keep
    /// their per-certificate codes; a CA or root that does not lead to a
    /// trusted Intel root is `UntrustedRoot`; anything else about the chain
    /// is `PckChainInvalid`.
    pub fn pck_chain(e: CertificateError) -> SgxError {
        use CertificateError::*;
        match (&e, e.role()) {
            (
                Expired {
                    not_before,
                    not_after,
                    at,
                    ..
                }
                | NotYetValid {
                    not_before,
                    not_after,
                    at,
                    ..
                },
                Role::Leaf,
            ) => SgxError::PckCertificateExpired {
                not_before: *not_before,
                not_after: *not_after,
                at: u64::try_from(*at).unwrap_or(0),
            },
            (Expired { .. } | NotYetValid { .. }, Role::Intermediate) => SgxError::PckCaExpired,
            (Expired { .. } | NotYetValid { .. }, Role::Anchor) => SgxError::RootCaExpired,
            (Revoked { serial, .. }, Role::Leaf) => SgxError::PckCertificateRevoked(serial.clone()),
            (Revoked { serial, .. }, Role::Intermediate) => SgxError::PckCaRevoked(serial.clone()),
            (
                UnknownIssuer { .. }
                | BadSignature { .. }
                | UnsupportedSignatureAlgorithm { .. }
                | ChainTooLong { .. },
                Role::Intermediate,
            ) => SgxError::UntrustedRoot("PCK"),
            _ => SgxError::PckChainInvalid(e.to_string()),
        }
    }
}
