//! Intel SGX DCAP: ECDSA quotes v3 and v4 → verified claims.
//!
//! The flow: [`parse_quote`] (total, over the received bytes) →
//! [`VerifiedCollateral::verify`] (once per collateral set; cacheable until
//! [`VerifiedCollateral::valid_window`] ends) → [`verify_quote`] (per quote)
//! → [`SgxVerified::claims`]. [`SgxVerifier`] is the one-shot path through
//! the crate's [`Verifier`] trait.
//!
//! Trust: the Intel SGX Root CA is embedded ([`INTEL_SGX_ROOT_CA_PEM`],
//! SHA-256 `44a0196b…74d3`, checked by a test) and added with
//! [`intel_trust_roots`]. Other roots (the testkit's) only come in through
//! `TrustRoots::with_configured`, and a chain ending at one is reported by
//! the `x-attesta-test-root` claim.
//!
//! ## Claims
//!
//! MAA's names (reference §2.3):
//!
//! | claim | value |
//! |---|---|
//! | `x-ms-attestation-type` | `"sgx"` |
//! | `x-ms-sgx-is-debuggable` | ATTRIBUTES.FLAGS DEBUG bit |
//! | `x-ms-sgx-product-id` | ISVPRODID (number) |
//! | `x-ms-sgx-mrenclave`, `x-ms-sgx-mrsigner` | lowercase hex |
//! | `x-ms-sgx-svn` | ISVSVN (number) |
//! | `x-ms-sgx-report-data` | the 64-byte REPORTDATA, hex |
//! | `x-ms-sgx-config-id`, `x-ms-sgx-config-svn`, `x-ms-sgx-isv-extended-product-id`, `x-ms-sgx-isv-family-id` | KSS fields; emitted only when the KSS attribute is set or any of them is non-zero (decision: MAA documents them for KSS enclaves only) |
//! | `x-ms-sgx-collateral` | object of lowercase-hex SHA-256 digests, below |
//!
//! `x-ms-sgx-collateral` members. `quotehash` is confirmed by recorded MAA
//! tokens: SHA-256 of the quote for `/attest/SgxEnclave`, of the whole OE
//! report (header included) for `/attest/OpenEnclave`. The others are
//! \[inferred\] — the recorded token has `tcbinfocertshash == qeidcertshash`
//! and `tcbinfocrlhash == qeidcrlhash`, consistent with both documents being
//! signed by one TCB signing chain checked against one Root CA CRL:
//! `tcbinfohash` / `qeidhash` = SHA-256 of the PCS response body as received;
//! `tcbinfocertshash` / `qeidcertshash` = SHA-256 of the issuer-chain PEM as
//! received; `tcbinfocrlhash` / `qeidcrlhash` = SHA-256 of the Root CA CRL DER.
//!
//! Attesta's own claims:
//!
//! | claim | value |
//! |---|---|
//! | `x-attesta-tcb-status` | platform status converged with the QE's, as Intel's QVL does ([`TcbStatus::converge`]) |
//! | `x-attesta-tcb-advisory-ids` | array: platform level advisories, then QE level advisories not already listed |
//! | `x-attesta-qe-tcb-status` | the QE identity level's status |
//! | `x-attesta-tcb-date` | the matched platform level's `tcbDate` |
//! | `x-attesta-test-root` | true only when the chain ended at a configured, non-embedded root |
//!
//! `Revoked` (platform or QE) is an error, never a claim; every other status
//! verifies and is left to policy.

pub mod error;
pub mod pki;
pub mod quote;
pub mod tcb;
pub mod verify;

pub use error::SgxError;
pub use pki::PckExtension;
pub use quote::{Quote, QuoteHeader, ReportBody};
pub use tcb::{QeIdentity, TcbInfo, TcbLevel, TcbStatus};
pub use verify::{
    CollateralHashes, SgxVerified, TcbEvaluation, VerifiedCollateral, check_quote_signatures,
    evaluate_tcb, verify_quote,
};

use crate::dcap::DcapCollateral;
use crate::error::ParseError;
use crate::roots::{RootKind, TrustRoots};
use crate::types::UnixTime;
use crate::{Verified, Verifier};

/// Intel SGX Root CA (CN=Intel SGX Root CA, valid 2018-05-21..2049-12-31),
/// as in every PCK chain Intel issues.
pub const INTEL_SGX_ROOT_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
";

/// SHA-256 of the Intel SGX Root CA's DER, as Intel publishes it.
pub const INTEL_SGX_ROOT_CA_SHA256: &str =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

/// The Intel SGX Root CA certificate, DER.
pub fn intel_sgx_root_ca_der() -> Vec<u8> {
    pki::pem_certificates(INTEL_SGX_ROOT_CA_PEM.as_bytes())
        .ok()
        .and_then(|mut v| v.pop())
        .unwrap_or_default()
}

/// `roots` plus the embedded Intel SGX Root CA.
pub fn intel_trust_roots(roots: TrustRoots) -> TrustRoots {
    roots.with_embedded(RootKind::IntelSgx, intel_sgx_root_ca_der())
}

/// Parse a quote, naming an unsupported version as such.
pub fn parse_quote(bytes: &[u8]) -> Result<Quote<'_>, SgxError> {
    Quote::parse(bytes).map_err(|e| match &e {
        ParseError::Unsupported { what, value } if *what == "SGX quote version" => {
            SgxError::UnsupportedQuoteVersion(value.parse().unwrap_or(u16::MAX))
        }
        _ => SgxError::Parse(e),
    })
}

/// A quote that parsed, kept as the received bytes (the parsed form borrows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgxEvidence {
    bytes: Vec<u8>,
}

impl SgxEvidence {
    /// Parse and keep `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Quote::parse(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed quote.
    pub fn quote(&self) -> Result<Quote<'_>, ParseError> {
        Quote::parse(&self.bytes)
    }
}

/// The one-shot SGX verifier: verifies the collateral and the quote in one
/// call. Services that see many quotes cache [`VerifiedCollateral`] instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SgxVerifier {
    /// Accept enclaves with the DEBUG attribute (MAA does, and leaves them to
    /// policy via `x-ms-sgx-is-debuggable`). Off by default: fail closed.
    pub allow_debug: bool,
}

impl SgxVerifier {
    /// Verify parsed quote bytes, with `quote_hash` for the claim.
    pub(crate) fn verify_bytes(
        &self,
        bytes: &[u8],
        quote_hash: &[u8; 32],
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, SgxError> {
        let quote = parse_quote(bytes)?;
        if quote.report.is_debug() && !self.allow_debug {
            return Err(SgxError::DebugEnclaveNotAllowed);
        }
        let vc = VerifiedCollateral::verify(collateral, roots, at)?;
        let v = verify_quote(&quote, &vc, roots, at)?;
        Ok(v.to_verified(quote_hash))
    }
}

impl Verifier for SgxVerifier {
    type Evidence = SgxEvidence;
    type Collateral = DcapCollateral;
    type Error = SgxError;

    fn parse(&self, bytes: &[u8]) -> Result<SgxEvidence, ParseError> {
        SgxEvidence::parse(bytes)
    }

    fn verify(
        &self,
        evidence: &SgxEvidence,
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, SgxError> {
        let hash = crate::crypto::sha256(&evidence.bytes);
        self.verify_bytes(&evidence.bytes, &hash, collateral, roots, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_root_has_intels_fingerprint() {
        let der = intel_sgx_root_ca_der();
        assert_eq!(
            hex::encode(crate::crypto::sha256(&der)),
            INTEL_SGX_ROOT_CA_SHA256
        );
        let cert = pki::parse_cert(&der).unwrap();
        assert!(cert.subject().to_string().contains("Intel SGX Root CA"));
    }
}
