//! Total parser for Intel SGX ECDSA quotes, versions 3 and 4.
//!
//! Layout (Intel SGX ECDSA Quote Library Reference, "Quote Format"):
//!
//! ```text
//! header (48) | ISV enclave report body (384) | u32 signature data length | signature data
//! v3 signature data: ISV report signature (64) | attestation key (64) | QE report (384)
//!                    | QE report signature (64) | u16 QE auth data len | QE auth data
//!                    | u16 certification data type (5) | u32 len | PEM PCK chain
//! v4 signature data: ISV report signature (64) | attestation key (64)
//!                    | u16 certification data type (6) | u32 len | QE report certification data:
//!                      QE report (384) | QE report signature (64) | u16 len | QE auth data
//!                      | u16 type (5) | u32 len | PEM PCK chain
//! ```
//!
//! The parser keeps the exact received bytes of the signed region
//! (header ‖ report body) and of the QE report, so verification checks the
//! bytes that arrived, never a re-serialisation. Anything unexpected
//! (another attestation key type, a TDX body, a certification data type other
//! than the PEM chain, non-zero trailing bytes) is a [`ParseError`].
//!
//! ## Trailing bytes (decision, the same as for TDX quotes)
//!
//! Bytes after the signature data are accepted only when every one is zero
//! (a quote handed over in a fixed-size buffer; no real SGX quote in the
//! shared vectors has any, while real TD quotes carry 70 or 3065) and are
//! dropped from everything but [`Quote::raw`] (the `quotehash` claim hashes
//! [`Quote::unpadded`]). A non-zero trailing byte is
//! [`ParseError::TrailingBytes`]: no signature covers it, so it is a framing
//! bug or something smuggled past the verifier. One rule for both TEEs, so
//! the same buffer handling works for either.

use crate::error::ParseError;
use crate::reader::Reader;

/// Size of the quote header.
pub const HEADER_LEN: usize = 48;
/// Size of an SGX (ISV or QE) report body.
pub const REPORT_BODY_LEN: usize = 384;
/// Attestation key type 2: ECDSA-256 with P-256.
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
/// Certification data type 5: PEM PCK leaf ‖ intermediate ‖ root.
pub const CERT_DATA_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data (wraps type 5).
pub const CERT_DATA_QE_REPORT: u16 = 6;
/// Intel's QE vendor ID for its ECDSA quoting enclave.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];
/// Upper bound on a quote's size; real quotes are under 8 KiB.
pub const MAX_QUOTE_LEN: usize = 64 * 1024;

/// The 48-byte quote header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteHeader {
    pub version: u16,
    pub att_key_type: u16,
    /// TEE type (v4) / reserved (v3); 0 for SGX.
    pub tee_type: u32,
    pub qe_svn: u16,
    pub pce_svn: u16,
    pub qe_vendor_id: [u8; 16],
    pub user_data: [u8; 20],
}

/// SGX report body (`sgx_report_body_t`), used for the ISV enclave report
/// and the QE report alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBody {
    pub cpu_svn: [u8; 16],
    pub misc_select: u32,
    pub isv_ext_prod_id: [u8; 16],
    /// ATTRIBUTES: FLAGS (u64 LE) ‖ XFRM (u64 LE).
    pub attributes: [u8; 16],
    pub mr_enclave: [u8; 32],
    pub mr_signer: [u8; 32],
    pub config_id: [u8; 64],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    pub config_svn: u16,
    pub isv_family_id: [u8; 16],
    pub report_data: [u8; 64],
}

/// ATTRIBUTES.FLAGS bit 1: the enclave was launched in debug mode.
pub const ATTRIBUTE_DEBUG: u64 = 0x2;

impl ReportBody {
    /// Parse exactly 384 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "SGX report body");
        let cpu_svn = r.array()?;
        let misc_select = r.u32_le()?;
        r.take(12)?;
        let isv_ext_prod_id = r.array()?;
        let attributes = r.array()?;
        let mr_enclave = r.array()?;
        r.take(32)?;
        let mr_signer = r.array()?;
        r.take(32)?;
        let config_id = r.array()?;
        let isv_prod_id = r.u16_le()?;
        let isv_svn = r.u16_le()?;
        let config_svn = r.u16_le()?;
        r.take(42)?;
        let isv_family_id = r.array()?;
        let report_data = r.array()?;
        r.finish()?;
        Ok(Self {
            cpu_svn,
            misc_select,
            isv_ext_prod_id,
            attributes,
            mr_enclave,
            mr_signer,
            config_id,
            isv_prod_id,
            isv_svn,
            config_svn,
            isv_family_id,
            report_data,
        })
    }

    /// ATTRIBUTES.FLAGS as an integer.
    pub fn flags(&self) -> u64 {
        let mut f = [0u8; 8];
        f.copy_from_slice(&self.attributes[..8]);
        u64::from_le_bytes(f)
    }

    /// True when the DEBUG attribute is set.
    pub fn is_debug(&self) -> bool {
        self.flags() & ATTRIBUTE_DEBUG != 0
    }
}

/// A parsed SGX ECDSA quote (v3 or v4) that borrows the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote<'a> {
    /// The whole quote as received.
    pub raw: &'a [u8],
    pub header: QuoteHeader,
    pub report: ReportBody,
    /// header ‖ report body: the bytes the attestation key signed.
    pub signed_bytes: &'a [u8],
    /// ISV report signature, raw r ‖ s.
    pub signature: [u8; 64],
    /// Attestation public key, raw x ‖ y (P-256).
    pub attestation_key: [u8; 64],
    /// The QE report body as received (the bytes the PCK key signed).
    pub qe_report_bytes: &'a [u8],
    pub qe_report: ReportBody,
    /// QE report signature by the PCK key, raw r ‖ s.
    pub qe_report_signature: [u8; 64],
    pub qe_auth_data: &'a [u8],
    /// The PEM PCK certificate chain (certification data type 5) as received.
    pub pck_chain_pem: &'a [u8],
    /// The outermost certification data type (5 in v3, 6 in v4).
    pub cert_data_type: u16,
    /// Zero bytes after the signature data (see the module doc).
    pub padding: usize,
}

impl<'a> Quote<'a> {
    /// Parse a quote. Total: any input gives a value or a [`ParseError`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() > MAX_QUOTE_LEN {
            return Err(ParseError::Malformed {
                what: "SGX quote",
                reason: format!(
                    "{} bytes is larger than the {MAX_QUOTE_LEN}-byte limit",
                    bytes.len()
                ),
            });
        }
        let mut r = Reader::new(bytes, "SGX quote");
        let signed_bytes = r.take(HEADER_LEN + REPORT_BODY_LEN)?;
        let header = parse_header(&signed_bytes[..HEADER_LEN])?;
        let report = ReportBody::parse(&signed_bytes[HEADER_LEN..])?;
        let sig_len = r.u32_le()? as usize;
        let mut s = r.sub(sig_len, "SGX quote signature data")?;
        let trailing = r.rest();
        if trailing.iter().any(|&b| b != 0) {
            return Err(ParseError::TrailingBytes {
                what: "SGX quote (non-zero bytes after the signature data)",
                count: trailing.len(),
            });
        }
        let sd = SignatureData::parse(&mut s, header.version == 3)?;
        Ok(Self {
            raw: bytes,
            header,
            report,
            signed_bytes,
            signature: sd.signature,
            attestation_key: sd.attestation_key,
            qe_report_bytes: sd.qe_report_bytes,
            qe_report: sd.qe_report,
            qe_report_signature: sd.qe_report_signature,
            qe_auth_data: sd.qe_auth_data,
            pck_chain_pem: sd.pck_chain_pem,
            cert_data_type: sd.cert_data_type,
            padding: trailing.len(),
        })
    }

    /// The quote without its trailing zero padding.
    pub fn unpadded(&self) -> &'a [u8] {
        &self.raw[..self.raw.len() - self.padding]
    }

    /// Byte range of the attestation-key-signed region (header ‖ report body) in [`Quote::raw`].
    pub fn signed_range(&self) -> std::ops::Range<usize> {
        0..HEADER_LEN + REPORT_BODY_LEN
    }

    /// Byte range of the PCK-signed QE report in [`Quote::raw`].
    pub fn qe_report_range(&self) -> std::ops::Range<usize> {
        let start = self.qe_report_bytes.as_ptr() as usize - self.raw.as_ptr() as usize;
        start..start + REPORT_BODY_LEN
    }
}

fn parse_header(bytes: &[u8]) -> Result<QuoteHeader, ParseError> {
    let mut r = Reader::new(bytes, "SGX quote header");
    let version = r.u16_le()?;
    let att_key_type = r.u16_le()?;
    let tee_type = r.u32_le()?;
    let qe_svn = r.u16_le()?;
    let pce_svn = r.u16_le()?;
    let qe_vendor_id = r.array()?;
    let user_data = r.array()?;
    r.finish()?;
    if version != 3 && version != 4 {
        return Err(ParseError::Unsupported {
            what: "SGX quote version",
            value: version.to_string(),
        });
    }
    if att_key_type != ATT_KEY_TYPE_ECDSA_P256 {
        return Err(ParseError::Unsupported {
            what: "SGX quote attestation key type",
            value: att_key_type.to_string(),
        });
    }
    if tee_type != 0 {
        return Err(ParseError::Unsupported {
            what: "SGX quote TEE type (0x81 is TDX, verified by the tdx module)",
            value: format!("{tee_type:#x}"),
        });
    }
    Ok(QuoteHeader {
        version,
        att_key_type,
        tee_type,
        qe_svn,
        pce_svn,
        qe_vendor_id,
        user_data,
    })
}

/// The ECDSA quote signature data SGX (v3, v4) and TDX quotes share: the
/// attestation key's signature and key, then the QE report block (report,
/// its PCK signature, QE auth data) with the PCK chain as certification data
/// type 5 — directly in v3, wrapped in certification data type 6 in v4 and
/// TDX.
pub(crate) struct SignatureData<'a> {
    pub(crate) signature: [u8; 64],
    pub(crate) attestation_key: [u8; 64],
    pub(crate) qe_report_bytes: &'a [u8],
    pub(crate) qe_report: ReportBody,
    pub(crate) qe_report_signature: [u8; 64],
    pub(crate) qe_auth_data: &'a [u8],
    pub(crate) pck_chain_pem: &'a [u8],
    /// The outermost certification data type (5 in v3, 6 otherwise).
    pub(crate) cert_data_type: u16,
}

impl<'a> SignatureData<'a> {
    /// Parse the whole of `s` (it must hold nothing else); `v3_layout` for
    /// SGX v3 quotes, whose QE block is not wrapped.
    pub(crate) fn parse(s: &mut Reader<'a>, v3_layout: bool) -> Result<Self, ParseError> {
        let signature = s.array()?;
        let attestation_key = s.array()?;
        let (block, cert_data_type) = if v3_layout {
            (QeBlock::parse(s)?, CERT_DATA_PCK_CHAIN)
        } else {
            let ty = s.u16_le()?;
            let len = s.u32_le()? as usize;
            let mut inner = s.sub(len, "QE report certification data")?;
            s.finish()?;
            if ty != CERT_DATA_QE_REPORT {
                return Err(ParseError::Unsupported {
                    what: "quote certification data type (6 expected)",
                    value: ty.to_string(),
                });
            }
            let block = QeBlock::parse(&mut inner)?;
            inner.finish()?;
            (block, ty)
        };
        s.finish()?;
        if block.cert_data_type != CERT_DATA_PCK_CHAIN {
            return Err(ParseError::Unsupported {
                what: "QE report certification data type (5, the PCK chain, expected)",
                value: block.cert_data_type.to_string(),
            });
        }
        Ok(Self {
            signature,
            attestation_key,
            qe_report_bytes: block.report,
            qe_report: ReportBody::parse(block.report)?,
            qe_report_signature: block.signature,
            qe_auth_data: block.auth_data,
            pck_chain_pem: block.cert_data,
            cert_data_type,
        })
    }
}

/// QE report ‖ signature ‖ auth data ‖ certification data (type, len, data).
struct QeBlock<'a> {
    report: &'a [u8],
    signature: [u8; 64],
    auth_data: &'a [u8],
    cert_data_type: u16,
    cert_data: &'a [u8],
}

impl<'a> QeBlock<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let report = r.take(REPORT_BODY_LEN)?;
        let signature = r.array()?;
        let auth_len = r.u16_le()? as usize;
        let auth_data = r.take(auth_len)?;
        let cert_data_type = r.u16_le()?;
        let len = r.u32_le()? as usize;
        let cert_data = r.take(len)?;
        Ok(Self {
            report,
            signature,
            auth_data,
            cert_data_type,
            cert_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_inputs_are_truncation_errors() {
        assert!(matches!(
            Quote::parse(&[]),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            Quote::parse(&[3, 0, 2, 0]),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn unknown_version_is_unsupported() {
        let mut q = vec![0u8; 436];
        q[0] = 5;
        q[2] = 2;
        match Quote::parse(&q) {
            Err(ParseError::Unsupported { what, value }) => {
                assert_eq!(what, "SGX quote version");
                assert_eq!(value, "5");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
