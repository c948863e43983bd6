//! Errors of TDX quote verification. Every check the TDX path shares with
//! SGX DCAP (PCK chain, CRLs, TCB info and QE identity signatures, QE report,
//! quote signature, platform TCB level) reports the SGX variant, wrapped, with
//! the SGX code; the checks only TDX has get variants of their own.

use crate::error::{ErrorCode, ParseError};
use crate::sgx::SgxError;

/// Why a TD quote or its collateral did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TdxError {
    #[error("the TD quote could not be decoded: {0}")]
    Parse(#[from] ParseError),
    #[error("TD quote version {0} is not supported; versions 4 and 5 are")]
    UnsupportedQuoteVersion(u16),
    /// A check shared with SGX DCAP failed; its code is the SGX one.
    #[error("{0}")]
    Dcap(#[from] SgxError),
    #[error(
        "the collateral's TCB info is not Intel's TDX TCB info (id 'TDX', version 3): {0}; fetch the TDX TCB info for this FMSPC"
    )]
    TdxTcbInfoExpected(String),
    #[error(
        "the collateral's QE identity is not the TD quoting enclave's (id 'TD_QE'): {0}; fetch the TDX QE identity"
    )]
    TdQeIdentityExpected(String),
    #[error(
        "the TDX members of the TCB info (tdxModule, tdxModuleIdentities, tdxtcbcomponents) are malformed: {0}"
    )]
    TdxTcbInfoInvalid(String),
    #[error("the TCB info has no TDX module identity {0} for the quote's TEE_TCB_SVN[1]")]
    TdxModuleIdentityNotFound(String),
    #[error("the TDX module does not match the TCB info's module identity: {0}")]
    TdxModuleIdentityMismatch(&'static str),
    #[error("the TDX module's ISVSVN {isv_svn} matches no TCB level of module identity {id}")]
    TdxModuleTcbNotFound { id: String, isv_svn: u8 },
    #[error("the TDX module's TCB level is Revoked")]
    TdxModuleTcbRevoked,
    #[error("the TD's current TCB (TEE_TCB_SVN2 of a TD 1.5 report) cannot be appraised: {0}")]
    TdxCurrentTcbInvalid(Box<TdxError>),
    #[error("the TD has the DEBUG attribute and debug TDs are not allowed")]
    DebugTdNotAllowed,
}

impl ErrorCode for TdxError {
    fn code(&self) -> &'static str {
        use TdxError::*;
        match self {
            Parse(e) => e.code(),
            UnsupportedQuoteVersion(_) => "UnsupportedQuoteVersion",
            Dcap(e) => e.code(),
            TdxTcbInfoExpected(_) => "TdxTcbInfoExpected",
            TdQeIdentityExpected(_) => "TdQeIdentityExpected",
            TdxTcbInfoInvalid(_) => "TdxTcbInfoInvalid",
            TdxModuleIdentityNotFound(_) => "TdxModuleIdentityNotFound",
            TdxModuleIdentityMismatch(_) => "TdxModuleIdentityMismatch",
            TdxModuleTcbNotFound { .. } => "TdxModuleTcbNotFound",
            TdxModuleTcbRevoked => "TdxModuleTcbRevoked",
            TdxCurrentTcbInvalid(_) => "TdxCurrentTcbInvalid",
            DebugTdNotAllowed => "DebugTdNotAllowed",
        }
    }
}
