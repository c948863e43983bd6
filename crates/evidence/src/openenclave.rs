//! Open Enclave remote reports: a 16-byte header around an SGX ECDSA quote.
//!
//! Header (little-endian): `u32 version = 1`, `u32 report_type = 2` (SGX
//! remote), `u64 report_size` = the length of the quote that follows. MAA's
//! `/attest/OpenEnclave` takes the whole blob; verification is the SGX one
//! ([`crate::sgx`]) on the embedded quote, and the `quotehash` member of
//! `x-ms-sgx-collateral` is SHA-256 of the whole report (as MAA's recorded
//! tokens show). Claims are otherwise the SGX claims.

use crate::dcap::DcapCollateral;
use crate::error::ParseError;
use crate::reader::Reader;
use crate::roots::TrustRoots;
use crate::sgx::{self, Quote, SgxError, SgxVerifier};
use crate::types::UnixTime;
use crate::{Verified, Verifier};

/// OE report header version.
pub const OE_REPORT_VERSION: u32 = 1;
/// OE report type: SGX remote (ECDSA quote).
pub const OE_REPORT_TYPE_SGX_REMOTE: u32 = 2;
/// Size of the OE report header.
pub const OE_HEADER_LEN: usize = 16;

/// A parsed Open Enclave report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OeReport<'a> {
    /// The whole report as received.
    pub raw: &'a [u8],
    pub version: u32,
    pub report_type: u32,
    pub report_size: u64,
    /// The embedded SGX quote.
    pub quote: Quote<'a>,
}

impl<'a> OeReport<'a> {
    /// Parse an OE report. Total.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "Open Enclave report");
        let version = r.u32_le()?;
        let report_type = r.u32_le()?;
        let report_size = r.u64_le()?;
        if version != OE_REPORT_VERSION {
            return Err(ParseError::Unsupported {
                what: "Open Enclave report version",
                value: version.to_string(),
            });
        }
        if report_type != OE_REPORT_TYPE_SGX_REMOTE {
            return Err(ParseError::Unsupported {
                what: "Open Enclave report type (2 = SGX remote is supported)",
                value: report_type.to_string(),
            });
        }
        let size = usize::try_from(report_size).map_err(|_| ParseError::Malformed {
            what: "Open Enclave report",
            reason: format!("report size {report_size} does not fit in memory"),
        })?;
        let quote_bytes = r.take(size)?;
        r.finish()?;
        Ok(Self {
            raw: bytes,
            version,
            report_type,
            report_size,
            quote: Quote::parse(quote_bytes)?,
        })
    }
}

/// Received OE report bytes that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OeEvidence {
    bytes: Vec<u8>,
}

impl OeEvidence {
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        OeReport::parse(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The embedded SGX quote's bytes.
    pub fn quote_bytes(&self) -> &[u8] {
        self.bytes.get(OE_HEADER_LEN..).unwrap_or_default()
    }
}

/// Verifier for `/attest/OpenEnclave`: the SGX verification of the embedded
/// quote, with `quotehash` over the whole report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenEnclaveVerifier {
    pub sgx: SgxVerifier,
}

impl Verifier for OpenEnclaveVerifier {
    type Evidence = OeEvidence;
    type Collateral = DcapCollateral;
    type Error = SgxError;

    fn parse(&self, bytes: &[u8]) -> Result<OeEvidence, ParseError> {
        OeEvidence::parse(bytes)
    }

    fn verify(
        &self,
        evidence: &OeEvidence,
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Verified, SgxError> {
        let hash = crate::crypto::sha256(&evidence.bytes);
        self.sgx
            .verify_bytes(evidence.quote_bytes(), &hash, collateral, roots, at)
    }
}

/// Verify a parsed OE report against verified collateral (the warm path).
pub fn verify_report(
    report: &OeReport<'_>,
    collateral: &sgx::VerifiedCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<Verified, SgxError> {
    let v = sgx::verify_quote(&report.quote, collateral, roots, at)?;
    Ok(v.to_verified(&crate::crypto::sha256(report.raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_checked() {
        assert!(matches!(
            OeReport::parse(&[1, 0, 0]),
            Err(ParseError::Truncated { .. })
        ));
        let mut h = vec![2u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            OeReport::parse(&h),
            Err(ParseError::Unsupported { .. })
        ));
        h[0] = 1;
        h[8] = 0xff;
        h[15] = 0xff;
        assert!(OeReport::parse(&h).is_err());
    }
}
