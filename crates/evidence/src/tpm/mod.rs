//! TPM 2.0 attestation: quotes, AK certificates and TCG event logs →
//! verified claims.
//!
//! - [`structures`]: `TPMS_ATTEST`, `TPMT_SIGNATURE`, `TPMT_PUBLIC`,
//!   `TPML_PCR_SELECTION` (total parsers);
//! - [`eventlog`]: TCG event logs in the SHA-1 and crypto-agile formats,
//!   replay to PCR values, UEFI variable decoding;
//! - [`verify`]: the checks that make a quote trustworthy, and the claims
//!   derived from it (see [`verify::TpmVerified::claims`]).
//!
//! The MAA TPM protocol (challenge, request messages, key binding) lives at
//! the HTTP edge; this module takes its decoded parts.

pub mod devicepath;
pub mod eventlog;
pub mod eventtypes;
pub mod pcp;
pub mod structures;
pub mod verify;
pub mod windows;

pub use eventlog::{EventLog, LogFormat, Pcrs};
pub use verify::{
    AkPublic, CertifiedKey, CertifyParts, QuoteParts, TpmError, TpmEvidence, TpmOptions,
    TpmSettings, TpmVerified, VerifiedAkChain, verify, verify_with_chain, verify_with_options,
};
