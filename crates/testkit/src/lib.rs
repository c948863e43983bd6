//! # attesta-testkit
//!
//! Synthetic evidence and a test PKI for Attesta's tests, fuzz seeds and
//! benchmarks. Its CA hierarchy mirrors Intel's (root → PCK processor CA →
//! PCK leaf with the SGX extension; root → TCB signing certificate; CRLs),
//! so tests reach the failure branches real data cannot. Its root is only
//! ever trusted through `TrustRoots::with_configured`.

pub mod azure_cvm;
pub mod bundle;

pub use bundle::{read_bundle, write_bundle};
pub mod sgx;
pub mod signing_cert;
pub mod snp;
pub mod tdx;
pub mod tpm;
pub mod vbs;

pub use sgx::{SgxSample, SgxSampleBuilder};
pub use snp::{SnpSample, SnpSampleBuilder};
pub use tdx::{TdxSample, TdxSampleBuilder};
pub use tpm::{AkKind, LogEvent, TpmCa, TpmSample, TpmSampleBuilder, tpm_crl};
pub use vbs::{VbsReportBuilder, VbsSigner};
