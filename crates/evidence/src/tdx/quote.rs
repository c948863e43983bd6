//! Total parser for Intel TDX ECDSA quotes, versions 4 and 5.
//!
//! Layout (Intel TDX DCAP Quoting Library API, "Quote Format"):
//!
//! ```text
//! v4: header (48) | TD report body 1.0 (584)                         | u32 sig len | signature data
//! v5: header (48) | u16 body type | u32 body size | body (584 or 648) | u32 sig len | signature data
//! signature data: quote signature (64) | attestation key (64) | u16 cert type (6) | u32 len |
//!                 QE report (384) | QE report signature (64) | u16 len | QE auth data |
//!                 u16 cert type (5) | u32 len | PEM PCK chain
//! ```
//!
//! The attestation key signs header ‖ body in v4 and header ‖ body
//! descriptor ‖ body in v5: [`TdQuote::signed_bytes`] is that region exactly
//! as received. Body type 2 is TD report 1.0 and 3 is TD report 1.5 (adds
//! TEE_TCB_SVN2 and MRSERVICETD); a v4 quote always carries 1.0.
//!
//! ## Trailing bytes (decision)
//!
//! Real TD quotes arrive inside fixed-size buffers: the Azure sample has 70
//! zero bytes after the signature data, the GCP one 3065, trustee's 70. No
//! signature covers them, so they must never reach a claim. The parser
//! accepts trailing bytes only when every one is zero (buffer padding) and
//! drops them from everything but [`TdQuote::raw`]; a non-zero trailing byte
//! is [`ParseError::TrailingBytes`], since data outside the signed region is
//! either a framing bug or an attempt to smuggle something past the verifier.
//! SGX quotes follow the same rule (`crate::sgx::quote`), though no real
//! SGX quote in the shared vectors carries padding.

use crate::error::ParseError;
use crate::reader::Reader;
use crate::sgx::quote::{
    ATT_KEY_TYPE_ECDSA_P256, HEADER_LEN, REPORT_BODY_LEN, ReportBody, SignatureData,
};

/// TEE type of a TDX quote header.
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Size of a TD report body 1.0.
pub const TD_REPORT10_LEN: usize = 584;
/// Size of a TD report body 1.5.
pub const TD_REPORT15_LEN: usize = 648;
/// v5 body type of a TD report 1.0.
pub const BODY_TYPE_TD10: u16 = 2;
/// v5 body type of a TD report 1.5.
pub const BODY_TYPE_TD15: u16 = 3;
/// Upper bound on a quote's size (with padding); real quotes are under 8 KiB.
pub const MAX_QUOTE_LEN: usize = 64 * 1024;

/// TDATTRIBUTES bit 0: the TD is debuggable.
pub const TD_ATTR_DEBUG: u64 = 1 << 0;
/// TDATTRIBUTES bit 28: EPT violations are not converted to #VE.
pub const TD_ATTR_SEPT_VE_DISABLE: u64 = 1 << 28;
/// TDATTRIBUTES bit 30: supervisor protection keys.
pub const TD_ATTR_PKS: u64 = 1 << 30;
/// TDATTRIBUTES bit 31: Key Locker.
pub const TD_ATTR_KL: u64 = 1 << 31;
/// TDATTRIBUTES bit 63: performance monitoring.
pub const TD_ATTR_PERFMON: u64 = 1 << 63;

/// The 48-byte quote header of a TD quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdQuoteHeader {
    pub version: u16,
    pub att_key_type: u16,
    pub tee_type: u32,
    pub qe_vendor_id: [u8; 16],
    pub user_data: [u8; 20],
}

/// A TD report body (1.0, or 1.5 when the two 1.5 fields are present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdReport {
    pub tee_tcb_svn: [u8; 16],
    pub mr_seam: [u8; 48],
    pub mr_signer_seam: [u8; 48],
    pub seam_attributes: [u8; 8],
    pub td_attributes: [u8; 8],
    pub xfam: [u8; 8],
    pub mr_td: [u8; 48],
    pub mr_config_id: [u8; 48],
    pub mr_owner: [u8; 48],
    pub mr_owner_config: [u8; 48],
    pub rtmr: [[u8; 48]; 4],
    pub report_data: [u8; 64],
    /// TD report 1.5: the TCB the TD runs on now (after a TD-preserving update).
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// TD report 1.5: measurement of the service TD bound to this TD.
    pub mr_service_td: Option<[u8; 48]>,
}

impl TdReport {
    /// Parse exactly 584 (1.0) or 648 (1.5) bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let v15 = match bytes.len() {
            TD_REPORT10_LEN => false,
            TD_REPORT15_LEN => true,
            n => {
                return Err(ParseError::Malformed {
                    what: "TD report body",
                    reason: format!(
                        "{n} bytes; a TD report is {TD_REPORT10_LEN} or {TD_REPORT15_LEN}"
                    ),
                });
            }
        };
        let mut r = Reader::new(bytes, "TD report body");
        let mut rep = TdReport {
            tee_tcb_svn: r.array()?,
            mr_seam: r.array()?,
            mr_signer_seam: r.array()?,
            seam_attributes: r.array()?,
            td_attributes: r.array()?,
            xfam: r.array()?,
            mr_td: r.array()?,
            mr_config_id: r.array()?,
            mr_owner: r.array()?,
            mr_owner_config: r.array()?,
            rtmr: [r.array()?, r.array()?, r.array()?, r.array()?],
            report_data: r.array()?,
            tee_tcb_svn2: None,
            mr_service_td: None,
        };
        if v15 {
            rep.tee_tcb_svn2 = Some(r.array()?);
            rep.mr_service_td = Some(r.array()?);
        }
        r.finish()?;
        Ok(rep)
    }

    /// TDATTRIBUTES as an integer (little-endian in the report).
    pub fn td_attributes_u64(&self) -> u64 {
        u64::from_le_bytes(self.td_attributes)
    }

    /// True when the TD has the DEBUG attribute.
    pub fn is_debug(&self) -> bool {
        self.td_attributes_u64() & TD_ATTR_DEBUG != 0
    }
}

/// A parsed TD quote that borrows the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdQuote<'a> {
    /// The whole input, trailing zero padding included.
    pub raw: &'a [u8],
    pub header: TdQuoteHeader,
    /// v5 body type (2 = TD 1.0, 3 = TD 1.5); `None` for v4.
    pub body_type: Option<u16>,
    pub report: TdReport,
    /// The attestation-key-signed region as received.
    pub signed_bytes: &'a [u8],
    pub signature: [u8; 64],
    pub attestation_key: [u8; 64],
    pub qe_report_bytes: &'a [u8],
    pub qe_report: ReportBody,
    pub qe_report_signature: [u8; 64],
    pub qe_auth_data: &'a [u8],
    pub pck_chain_pem: &'a [u8],
    /// Number of zero bytes after the signature data (ignored, see the module doc).
    pub padding: usize,
}

impl<'a> TdQuote<'a> {
    /// Parse a TD quote. Total: any input gives a value or a [`ParseError`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() > MAX_QUOTE_LEN {
            return Err(ParseError::Malformed {
                what: "TD quote",
                reason: format!(
                    "{} bytes is larger than the {MAX_QUOTE_LEN}-byte limit",
                    bytes.len()
                ),
            });
        }
        let mut r = Reader::new(bytes, "TD quote");
        let header = parse_header(r.take(HEADER_LEN)?)?;
        let (body_type, body) = if header.version == 4 {
            (None, r.take(TD_REPORT10_LEN)?)
        } else {
            let ty = r.u16_le()?;
            let size = r.u32_le()? as usize;
            let want = match ty {
                BODY_TYPE_TD10 => TD_REPORT10_LEN,
                BODY_TYPE_TD15 => TD_REPORT15_LEN,
                other => {
                    return Err(ParseError::Unsupported {
                        what: "TD quote v5 body type (2 = TD 1.0, 3 = TD 1.5)",
                        value: other.to_string(),
                    });
                }
            };
            if size != want {
                return Err(ParseError::Malformed {
                    what: "TD quote v5 body descriptor",
                    reason: format!("body type {ty} has size {want}, the descriptor says {size}"),
                });
            }
            (Some(ty), r.take(size)?)
        };
        let signed_len = r.offset();
        let report = TdReport::parse(body)?;
        let sig_len = r.u32_le()? as usize;
        let mut s = r.sub(sig_len, "TD quote signature data")?;
        let trailing = r.rest();
        if trailing.iter().any(|&b| b != 0) {
            return Err(ParseError::TrailingBytes {
                what: "TD quote (non-zero bytes after the signature data)",
                count: trailing.len(),
            });
        }
        let sd = SignatureData::parse(&mut s, false)?;
        Ok(Self {
            raw: bytes,
            header,
            body_type,
            report,
            signed_bytes: &bytes[..signed_len],
            signature: sd.signature,
            attestation_key: sd.attestation_key,
            qe_report_bytes: sd.qe_report_bytes,
            qe_report: sd.qe_report,
            qe_report_signature: sd.qe_report_signature,
            qe_auth_data: sd.qe_auth_data,
            pck_chain_pem: sd.pck_chain_pem,
            padding: trailing.len(),
        })
    }

    /// Byte range of the attestation-key-signed region in [`TdQuote::raw`].
    pub fn signed_range(&self) -> std::ops::Range<usize> {
        0..self.signed_bytes.len()
    }

    /// Byte range of the PCK-signed QE report in [`TdQuote::raw`].
    pub fn qe_report_range(&self) -> std::ops::Range<usize> {
        let start = self.qe_report_bytes.as_ptr() as usize - self.raw.as_ptr() as usize;
        start..start + REPORT_BODY_LEN
    }

    /// The quote without its trailing padding.
    pub fn unpadded(&self) -> &'a [u8] {
        &self.raw[..self.raw.len() - self.padding]
    }
}

fn parse_header(bytes: &[u8]) -> Result<TdQuoteHeader, ParseError> {
    let mut r = Reader::new(bytes, "TD quote header");
    let version = r.u16_le()?;
    let att_key_type = r.u16_le()?;
    let tee_type = r.u32_le()?;
    r.take(4)?; // reserved (QE SVN / PCE SVN slots of the SGX header)
    let qe_vendor_id = r.array()?;
    let user_data = r.array()?;
    r.finish()?;
    if version != 4 && version != 5 {
        return Err(ParseError::Unsupported {
            what: "TD quote version",
            value: version.to_string(),
        });
    }
    if att_key_type != ATT_KEY_TYPE_ECDSA_P256 {
        return Err(ParseError::Unsupported {
            what: "TD quote attestation key type",
            value: att_key_type.to_string(),
        });
    }
    if tee_type != TEE_TYPE_TDX {
        return Err(ParseError::Unsupported {
            what: "TD quote TEE type (0x81 is TDX; SGX quotes go to the sgx module)",
            value: format!("{tee_type:#x}"),
        });
    }
    Ok(TdQuoteHeader {
        version,
        att_key_type,
        tee_type,
        qe_vendor_id,
        user_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_are_truncation_errors() {
        assert!(matches!(
            TdQuote::parse(&[]),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            TdQuote::parse(&[4, 0, 2, 0, 0x81, 0, 0, 0]),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn sgx_tee_type_and_unknown_versions_are_unsupported() {
        let mut q = vec![0u8; 48 + 584 + 4];
        q[0] = 4;
        q[2] = 2;
        match TdQuote::parse(&q) {
            Err(ParseError::Unsupported { what, value }) => {
                assert!(what.contains("TEE type"));
                assert_eq!(value, "0x0");
            }
            other => panic!("unexpected {other:?}"),
        }
        q[0] = 3;
        q[4] = 0x81;
        assert!(matches!(
            TdQuote::parse(&q),
            Err(ParseError::Unsupported {
                what: "TD quote version",
                ..
            })
        ));
    }

    #[test]
    fn report_body_sizes() {
        assert!(TdReport::parse(&[0u8; 584]).unwrap().tee_tcb_svn2.is_none());
        let r = TdReport::parse(&[1u8; 648]).unwrap();
        assert_eq!(r.mr_service_td, Some([1u8; 48]));
        assert!(TdReport::parse(&[0u8; 600]).is_err());
    }
}
