//! Intel TDX: TD quotes v4 and v5 → verified `tdxvm` claims, on the SGX DCAP
//! machinery (PCK chain, CRLs, TCB signing chain, QE report checks).
//!
//! The flow: [`parse_td_quote`] (total; zero padding after the signature
//! data is accepted and ignored, see [`quote`]) →
//! [`TdxVerifiedCollateral::verify`] (once per collateral version; cacheable
//! until [`TdxVerifiedCollateral::valid_window`] ends) → [`verify_td_quote`]
//! (per quote) → [`TdxVerified::claims`]. [`TdxVerifier`] is the one-shot
//! path through the crate's [`Verifier`] trait. Trust roots are the SGX ones
//! ([`crate::sgx::intel_trust_roots`]).
//!
//! ## Claims
//!
//! MAA's names (reference §2.5): `x-ms-attestation-type` `"tdxvm"`,
//! `eat_profile`, `dbgstat` (`"enabled"` / `"disabled"` from the DEBUG TD
//! attribute), `intuse` `"generic"`, `attester_tcb_status`, the body fields
//! as lowercase hex (`tdx_mrsignerseam`, `tdx_mrseam`, `tdx_mrtd`,
//! `tdx_rtmr0`..`3`, `tdx_mrconfigid`, `tdx_mrowner`, `tdx_mrownerconfig`,
//! `tdx_report_data`, `tdx_seam_attributes`, `tdx_tee_tcb_svn`, `tdx_xfam`,
//! `tdx_td_attributes`), `tdx_seamsvn` and the decoded TDATTRIBUTES booleans
//! `tdx_td_attributes_debug` (bit 0), `_septve_disable` (28),
//! `_protection_keys` (30), `_key_locker` (31), `_perfmon` (63).
//!
//! \[inferred\] `tdx_seamsvn` is TEE_TCB_SVN\[0..2\] read as a little-endian
//! u16 (module major version × 256 + minor SVN): MAA documents it only as
//! "TDX module SVN".
//!
//! Attesta's own: `x-attesta-tcb-status` (= `attester_tcb_status`),
//! `x-attesta-tcb-advisory-ids`, `x-attesta-qe-tcb-status`,
//! `x-attesta-tdx-module-tcb-status` (when a module identity applies),
//! `x-attesta-tcb-date`, `x-attesta-test-root`, and for TD 1.5 bodies
//! `x-attesta-tdx-current-tcb-status`, `x-attesta-tdx-tee-tcb-svn2`,
//! `x-attesta-tdx-mrservicetd`.
//!
//! ## Binding
//!
//! [`Verified::report_data`] is REPORTDATA (MAA binds runtimeData as
//! SHA-256 in its first 32 bytes). \[inferred\] [`Verified::init_data`] is
//! MRCONFIGID: the only TD field the host sets at TD creation for the TD's
//! configuration, so `initTimeData` binds as SHA-256 in its first 32 bytes,
//! as SNP's HOST_DATA does.
//!
//! ## Decisions
//!
//! * The DEBUG attribute is a claim, not an error, in [`verify_td_quote`]
//!   (MAA leaves it to policy); the one-shot [`TdxVerifier`] rejects debug TDs
//!   unless `allow_debug`, as [`crate::sgx::SgxVerifier`] does.
//! * A non-zero MRSERVICETD is reported, not rejected: binding to a service
//!   TD is a policy question.
//! * SEAMATTRIBUTES are compared under the module identity's mask only, as
//!   Intel's QVL does (dcap-qvl 0.7.1 also rejects bits outside the mask).

pub mod error;
pub mod quote;
pub mod tcb;
pub mod verify;

pub use error::TdxError;
pub use quote::{TdQuote, TdQuoteHeader, TdReport};
pub use tcb::{TdxModule, TdxModuleIdentity, TdxModuleTcbLevel, TdxTcbInfo, TdxTcbLevel};
pub use verify::{
    EAT_PROFILE_TDXVM, TdxTcbStatus, TdxVerified, TdxVerifiedCollateral, check_module_identity,
    verify_td_quote,
};

use crate::dcap::DcapCollateral;
use crate::error::ParseError;
use crate::roots::TrustRoots;
use crate::types::UnixTime;
use crate::{Verified, Verifier};

/// Parse a TD quote, naming an unsupported version as such.
pub fn parse_td_quote(bytes: &[u8]) -> Result<TdQuote<'_>, TdxError> {
    TdQuote::parse(bytes).map_err(|e| match &e {
        ParseError::Unsupported { what, value } if *what == "TD quote version" => {
            TdxError::UnsupportedQuoteVersion(value.parse().unwrap_or(u16::MAX))
        }
        _ => TdxError::Parse(e),
    })
}

/// A TD quote that parsed, kept as the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxEvidence {
    bytes: Vec<u8>,
}

impl TdxEvidence {
    /// Parse and keep `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        TdQuote::parse(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed quote.
    pub fn quote(&self) -> Result<TdQuote<'_>, ParseError> {
        TdQuote::parse(&self.bytes)
    }
}

/// The one-shot TDX verifier: verifies the collateral and the quote in one
/// call. Services that see many quotes cache [`TdxVerifiedCollateral`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TdxVerifier {
    /// Accept TDs with the DEBUG attribute (MAA does, and leaves them to
    /// policy via `tdx_td_attributes_debug`). Off by default: fail closed.
    pub allow_debug: bool,
}

impl TdxVerifier {
    /// Verify quote bytes in one call.
    pub fn verify_bytes(
        &self,
        bytes: &[u8],
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, TdxError> {
        let quote = parse_td_quote(bytes)?;
        if quote.report.is_debug() && !self.allow_debug {
            return Err(TdxError::DebugTdNotAllowed);
        }
        let vc = TdxVerifiedCollateral::verify(collateral, roots, at)?;
        Ok(verify_td_quote(&quote, &vc, roots, at)?.to_verified())
    }
}

impl Verifier for TdxVerifier {
    type Evidence = TdxEvidence;
    type Collateral = DcapCollateral;
    type Error = TdxError;

    fn parse(&self, bytes: &[u8]) -> Result<TdxEvidence, ParseError> {
        TdxEvidence::parse(bytes)
    }

    fn verify(
        &self,
        evidence: &TdxEvidence,
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, TdxError> {
        self.verify_bytes(&evidence.bytes, collateral, roots, at)
    }
}
