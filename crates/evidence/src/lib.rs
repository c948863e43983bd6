//! # attesta-evidence
//!
//! The sans-I/O core of Attesta: parsers and verifiers for Trusted Execution
//! Environment evidence. Everything here is a pure function of
//!
//! ```text
//! (evidence bytes, collateral, trust roots, verification time) -> claims | typed error
//! ```
//!
//! Nothing in this crate opens a socket, reads a file or looks at the wall
//! clock. Fetching collateral lives in `attesta-collateral`, storage in
//! `attesta-store`, HTTP in `attesta-server`. Keeping the core pure makes it
//! testable against recorded vectors at a pinned time, fuzzable, and fast.
//!
//! ## Shape of a verifier
//!
//! Every TEE module (`sgx`, `tdx`, `openenclave`, `snp`, `tpm`, `azure_cvm`,
//! `vbs`) follows the same two steps, expressed by the [`Verifier`] trait:
//!
//! 1. **parse** — a total parser over a bounded [`reader::Reader`]: any byte
//!    string yields a typed value or a [`ParseError`], never a panic and never
//!    an out-of-bounds slice;
//! 2. **verify** — checks signatures, certificate chains, revocation and
//!    freshness against the given [`TrustRoots`] at the given [`UnixTime`],
//!    and returns [`Verified`] evidence: incoming [`Claims`] plus the
//!    `report_data` that binds runtime data to the hardware report.
//!
//! Each check that can fail has its own error variant with a stable code
//! (see [`ErrorCode`]); the HTTP edge maps codes to MAA error bodies once.
//!
//! ## Crypto boundary
//!
//! Protocol code never calls a crypto library directly: [`crypto`] is the one
//! module that talks to aws-lc-rs, so verifier logic reads as protocol.

pub mod azure_cvm;
pub mod binding;
pub mod claims;
pub mod crypto;
pub mod dcap;
pub mod error;
pub mod openenclave;
pub mod pki;
pub mod reader;
pub mod roots;
pub mod sgx;
pub mod signing_cert;
pub mod snp;
pub mod tdx;
pub mod tpm;
pub mod types;
pub mod vbs;

pub use claims::Claims;
pub use error::{ErrorCode, ParseError};
pub use roots::TrustRoots;
pub use types::{AttestationType, UnixTime};

/// Evidence that passed verification: the claims it yields and the bytes a
/// relying party's runtime data must be bound to.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Incoming claims (issuer `AttestationService`), named as MAA names them.
    pub claims: Claims,
    /// The report's REPORTDATA / REPORT_DATA field (64 bytes for SGX, TDX, SNP).
    pub report_data: Vec<u8>,
    /// Init-time data the hardware measured (SGX CONFIGID, SNP HOST_DATA), when the TEE has it.
    pub init_data: Option<Vec<u8>>,
}

/// The common shape of a TEE verifier.
///
/// `parse` is total; `verify` is a pure function of its arguments. A verifier
/// must fail closed: when any input it needs is missing, expired, revoked or
/// does not verify, it returns an error naming that input.
pub trait Verifier {
    /// The decoded evidence.
    type Evidence;
    /// What the verifier needs besides the evidence (vendor collateral).
    type Collateral;
    /// The verifier's error type; every variant has a stable code.
    type Error: ErrorCode + std::error::Error;

    /// Decode evidence bytes.
    fn parse(&self, bytes: &[u8]) -> Result<Self::Evidence, ParseError>;

    /// Verify decoded evidence against collateral and trust roots at a time.
    fn verify(
        &self,
        evidence: &Self::Evidence,
        collateral: &Self::Collateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, Self::Error>;
}
