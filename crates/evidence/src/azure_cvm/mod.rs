//! Azure confidential VM guest attestation (MAA `AzureGuest`, reference
//! §1.3, §2.6, §5.2, §5.3): the HCL report from the vTPM, the SEV-SNP
//! report or TD quote it leads to, and the vTPM quote signed by the key the
//! hardware report binds → verified `azurevm` claims.
//!
//! - [`hcl`]: the HCL report and its TDREPORT (total parsers);
//! - [`runtime`]: the variable data (the HCL runtime JSON with `HCLAkPub`,
//!   `HCLEkPub`, `vm-configuration`, `user-data`), bounded;
//! - [`verify`]: the chain hardware report → variable data → AK → quote →
//!   PCRs → event log, each link its own error ([`AzureGuestError`]);
//! - [`request`]: MAA's `AttestationInfo` request document, decoded (total,
//!   bounded);
//! - [`enc_key`]: the ephemeral encryption key the sealed response goes to,
//!   certified by the AK and bound to the quoted PCRs.
//!
//! Hardware verification is the SEV-SNP and TDX modules' own
//! ([`crate::snp::verify_report`], [`crate::tdx::verify_td_quote`]), the
//! quote checks the TPM module's ([`crate::tpm::verify`]); this module adds
//! only what ties them together.
//!
//! ## Claims
//!
//! | claim | from |
//! |---|---|
//! | `x-ms-attestation-type` | `"azurevm"` |
//! | `x-ms-azurevm-vmid` | `vm-configuration.vmUniqueId` (hardware-bound through the variable-data hash) |
//! | `x-ms-azurevm-attested-pcrs` | the PCR indices the verified quote covers |
//! | `secureboot` | the `SecureBoot` variable event in PCR 7, only from a log that replayed to the quote |
//! | `x-ms-azurevm-bootdebug-enabled`, `-kerneldebug-enabled`, `-testsigning-enabled`, `-flightsigning-enabled` | Windows boot configuration (SIPA) events the log proves, when it has them |
//! | `x-ms-isolation-tee` | the `sevsnpvm` or `tdxvm` claim set of the verified hardware report (measurement, report data, TCB …) plus `x-ms-runtime` = the variable data JSON (keys, `vm-configuration`, `user-data`) |
//! | `x-attesta-azurevm-hcl-report-type` | `SNP`, `TDX`, or `TVM` (Trusted Launch) |
//! | `x-attesta-azurevm-report-data-hash` | `SHA256`, `SHA384` or `SHA512` (the HCL's hash of the variable data; CVMs only) |
//! | `x-attesta-azurevm-ak-certified` | Trusted Launch: the AK certificate chained to a configured vTPM CA (no `x-ms-isolation-tee`) |
//! | `x-attesta-azurevm-pcrs` | the quoted PCR values, `{"PCRs":[{"Index","Digests":{"SHA256":…}}]}` |
//! | `x-attesta-azurevm-log-verified-pcrs` | PCRs whose log events replayed (empty without a log) |
//! | `x-attesta-tpm-reset-count`, `-restart-count` | the quote's clock info |
//! | `x-attesta-test-root` | the hardware chain (Trusted Launch: the AK chain) ended at a configured (test) root |
//!
//! Not emitted offline: the request-derived claims (`x-ms-azurevm-ostype`,
//! `-osdistro`, `-osversion-*`, `-osbuild`, `-is-windows`,
//! `-attestation-protocol-ver`, top-level `x-ms-runtime`) come from the
//! `AttestationInfo` envelope at the HTTP edge; `x-ms-azurevm-dbvalidated`,
//! `-dbxvalidated`, `-default-securebootkeysvalidated` and
//! `x-ms-compliance-status` need Microsoft's reference values, which Attesta
//! does not have; they are absent, so a policy that requires them fails
//! closed.

pub mod enc_key;
pub mod error;
pub mod hcl;
pub mod request;
pub mod runtime;
pub mod verify;

pub use error::AzureGuestError;
pub use hcl::{
    HclHeader, HclReport, HclReportType, HclTdReport, IgvmRequestData, ReportDataHashType,
};
pub use runtime::RuntimeData;
pub use verify::{
    AzureGuestEvidence, AzureGuestSettings, AzureGuestVerified, GuestReport, IsolationCollateral,
    IsolationVerified, VtpmQuote, normalize_signature, verify, verify_guest, verify_trusted_launch,
};
