//! The Azure HCL attestation report (reference §5.2): a total parser over
//! the bytes the paravisor (HCL) writes to the vTPM NV index, and the
//! TDREPORT it carries on TDX.
//!
//! Layout (little-endian), as Microsoft's `cvm-attestation-tools`
//! `report_parser.py` and the OpenHCL IGVM attestation definitions give it:
//!
//! ```text
//! 0      header (32): "HCLA", version, report_size, request_type, status, reserved[12]
//! 32     hardware report area (1184): SNP ATTESTATION_REPORT, or a 1024-byte TDREPORT + padding
//! 1216   IGVM request data (20): data_size, version, report_type, report_data_hash_type, variable_data_size
//! 1236   variable data (variable_data_size bytes): the HCL runtime JSON
//! ```
//!
//! Decisions:
//! * `report_size` must equal 32 + 1184 + `data_size` and `data_size` must
//!   equal 20 + `variable_data_size`: the fields are not signed, so any
//!   disagreement between them is refused rather than resolved.
//! * The NV index is larger than the report; bytes after `report_size` must
//!   be zero (real captures pad with zeros), so nothing can hide there.
//! * The variable data is kept as raw bytes here. Its JSON is decoded by
//!   [`super::runtime::RuntimeData::parse`] only after the verifier has
//!   checked its hash against the hardware report, so a changed byte is
//!   reported as the hash mismatch it is, not as malformed JSON.
//! * The header and IGVM fields are not covered by any signature: the
//!   verifier trusts only what the hardware report and the variable-data
//!   hash prove, and checks the report type against the hardware evidence
//!   it actually verified.

use crate::error::ParseError;
use crate::reader::Reader;

/// "HCLA" read as a little-endian u32.
pub const HCL_SIGNATURE: [u8; 4] = *b"HCLA";
/// Header versions seen in real reports (1: older Milan images, 2: current).
pub const SUPPORTED_HEADER_VERSIONS: [u32; 2] = [1, 2];
/// Size of the header.
pub const HEADER_LEN: usize = 32;
/// Size of the hardware report area (an SNP report's size; a TDREPORT is padded to it).
pub const HW_REPORT_LEN: usize = 1184;
/// Size of the IGVM request data fields before the variable data.
pub const IGVM_FIXED_LEN: usize = 20;
/// Offset of the variable data.
pub const VAR_DATA_OFFSET: usize = HEADER_LEN + HW_REPORT_LEN + IGVM_FIXED_LEN;
/// Size of a TDREPORT_STRUCT.
pub const TDREPORT_LEN: usize = 1024;
/// Upper bound on the variable data: real ones are about 1.2 KiB; the JSON
/// decoder must never be handed an unbounded document.
pub const MAX_VAR_DATA_LEN: usize = 64 * 1024;

/// What kind of hardware report the HCL report carries (IGVM
/// `report_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HclReportType {
    /// 1: a VBS VM report.
    Vbs,
    /// 2: an AMD SEV-SNP attestation report.
    Snp,
    /// 3: Trusted Launch (no hardware isolation report).
    TrustedLaunch,
    /// 4: an Intel TDX TDREPORT.
    Tdx,
}

impl HclReportType {
    fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Vbs),
            2 => Some(Self::Snp),
            3 => Some(Self::TrustedLaunch),
            4 => Some(Self::Tdx),
            _ => None,
        }
    }

    /// `VBS`, `SNP`, `TVM` or `TDX`, as the IGVM definitions name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vbs => "VBS",
            Self::Snp => "SNP",
            Self::TrustedLaunch => "TVM",
            Self::Tdx => "TDX",
        }
    }
}

/// The hash the HCL put in the hardware report's report-data field over the
/// variable data (IGVM `report_data_hash_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportDataHashType {
    Sha256,
    Sha384,
    Sha512,
}

impl ReportDataHashType {
    fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Sha256),
            2 => Some(Self::Sha384),
            3 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }
}

/// The 32-byte HCL header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HclHeader {
    pub version: u32,
    /// Bytes from the header's start to the end of the variable data.
    pub report_size: u32,
    pub request_type: u32,
    pub status: u32,
}

/// The IGVM request data fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgvmRequestData {
    /// 20 + `variable_data_size`.
    pub data_size: u32,
    pub version: u32,
    pub report_type: HclReportType,
    pub report_data_hash_type: ReportDataHashType,
    pub variable_data_size: u32,
}

/// A decoded HCL report borrowing the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclReport<'a> {
    pub header: HclHeader,
    /// The whole hardware report area (1184 bytes).
    pub hw_report: &'a [u8],
    pub igvm: IgvmRequestData,
    /// The variable data (the HCL runtime JSON), exactly as hashed into the
    /// hardware report.
    pub var_data: &'a [u8],
}

impl<'a> HclReport<'a> {
    /// Decode an HCL report (with or without the NV index's zero padding).
    /// Total: any input gives a report or a [`ParseError`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "HCL report");
        let sig: [u8; 4] = r.array()?;
        if sig != HCL_SIGNATURE {
            return Err(ParseError::Malformed {
                what: "HCL report",
                reason: format!(
                    "signature is {}, not \"HCLA\"; is this the vTPM NV index 0x01400001?",
                    hex::encode(sig)
                ),
            });
        }
        let version = r.u32_le()?;
        if !SUPPORTED_HEADER_VERSIONS.contains(&version) {
            return Err(ParseError::Unsupported {
                what: "HCL report header version",
                value: version.to_string(),
            });
        }
        let report_size = r.u32_le()?;
        let request_type = r.u32_le()?;
        let status = r.u32_le()?;
        r.take(12)?;
        let header = HclHeader {
            version,
            report_size,
            request_type,
            status,
        };
        let hw_report = r.take(HW_REPORT_LEN)?;

        let data_size = r.u32_le()?;
        let igvm_version = r.u32_le()?;
        let raw_type = r.u32_le()?;
        let report_type =
            HclReportType::from_u32(raw_type).ok_or_else(|| ParseError::Unsupported {
                what: "HCL report type",
                value: raw_type.to_string(),
            })?;
        let raw_hash = r.u32_le()?;
        let report_data_hash_type =
            ReportDataHashType::from_u32(raw_hash).ok_or_else(|| ParseError::Unsupported {
                what: "HCL report-data hash type",
                value: raw_hash.to_string(),
            })?;
        let variable_data_size = r.u32_le()?;
        let var_len = variable_data_size as usize;
        if var_len > MAX_VAR_DATA_LEN {
            return Err(ParseError::Malformed {
                what: "HCL variable data",
                reason: format!("{var_len} bytes is more than the {MAX_VAR_DATA_LEN} allowed"),
            });
        }
        if data_size as usize != IGVM_FIXED_LEN + var_len {
            return Err(ParseError::Malformed {
                what: "HCL IGVM request data",
                reason: format!(
                    "data_size {data_size} is not {IGVM_FIXED_LEN} + variable_data_size {variable_data_size}"
                ),
            });
        }
        if report_size as usize != VAR_DATA_OFFSET + var_len {
            return Err(ParseError::Malformed {
                what: "HCL report header",
                reason: format!(
                    "report_size {report_size} is not {} (header, hardware report, IGVM data and {var_len} bytes of variable data)",
                    VAR_DATA_OFFSET + var_len
                ),
            });
        }
        let var_data = r.take(var_len)?;
        let padding = r.rest();
        if padding.iter().any(|&b| b != 0) {
            return Err(ParseError::TrailingBytes {
                what: "HCL report (non-zero bytes after report_size)",
                count: padding.len(),
            });
        }
        Ok(Self {
            header,
            hw_report,
            igvm: IgvmRequestData {
                data_size,
                version: igvm_version,
                report_type,
                report_data_hash_type,
                variable_data_size,
            },
            var_data,
        })
    }

    /// The SNP report (the whole hardware area) when the report type is SNP.
    pub fn snp_report(&self) -> Option<&'a [u8]> {
        (self.igvm.report_type == HclReportType::Snp).then_some(self.hw_report)
    }

    /// The TDREPORT (the area's first 1024 bytes) when the report type is TDX.
    pub fn td_report_bytes(&self) -> Option<&'a [u8]> {
        (self.igvm.report_type == HclReportType::Tdx).then(|| &self.hw_report[..TDREPORT_LEN])
    }
}

/// The fields of a TDREPORT_STRUCT (Intel TDX module ABI) that the TD quote
/// body repeats. The TDREPORT is MAC'd for the local platform, not signed,
/// so nothing here is trusted: the verifier compares it with the verified
/// TD quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclTdReport {
    /// REPORTTYPE: type (0x81 for TDX), subtype, version, reserved.
    pub report_type: [u8; 4],
    pub cpu_svn: [u8; 16],
    pub report_data: [u8; 64],
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
}

/// TDREPORT type byte for TDX.
pub const TDREPORT_TYPE_TDX: u8 = 0x81;

impl HclTdReport {
    /// Decode a 1024-byte TDREPORT_STRUCT. Total.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() != TDREPORT_LEN {
            return Err(ParseError::Malformed {
                what: "TDREPORT",
                reason: format!("{} bytes; a TDREPORT is {TDREPORT_LEN}", bytes.len()),
            });
        }
        let mut r = Reader::new(bytes, "TDREPORT");
        // REPORTMACSTRUCT (256).
        let report_type: [u8; 4] = r.array()?;
        if report_type[0] != TDREPORT_TYPE_TDX {
            return Err(ParseError::Unsupported {
                what: "TDREPORT type",
                value: format!("{:#04x}", report_type[0]),
            });
        }
        r.take(12)?;
        let cpu_svn = r.array()?;
        r.take(48 + 48)?; // TEE_TCB_INFO_HASH, TEE_INFO_HASH
        let report_data = r.array()?;
        r.take(32 + 32)?; // reserved, MAC
        // TEE_TCB_INFO (239) + reserved (17).
        let mut tcb = r.sub(256, "TDREPORT TEE_TCB_INFO")?;
        tcb.take(8)?; // VALID
        let tee_tcb_svn = tcb.array()?;
        let mr_seam = tcb.array()?;
        let mr_signer_seam = tcb.array()?;
        let seam_attributes = tcb.array()?;
        // TDINFO (512).
        let mut info = r.sub(512, "TDREPORT TDINFO")?;
        let td_attributes = info.array()?;
        let xfam = info.array()?;
        let mr_td = info.array()?;
        let mr_config_id = info.array()?;
        let mr_owner = info.array()?;
        let mr_owner_config = info.array()?;
        let rtmr = [info.array()?, info.array()?, info.array()?, info.array()?];
        r.finish()?;
        Ok(Self {
            report_type,
            cpu_svn,
            report_data,
            tee_tcb_svn,
            mr_seam,
            mr_signer_seam,
            seam_attributes,
            td_attributes,
            xfam,
            mr_td,
            mr_config_id,
            mr_owner,
            mr_owner_config,
            rtmr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formed report of `report_type` with `var` as variable data.
    pub(crate) fn synthetic(report_type: u32, hash_type: u32, var: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"HCLA");
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&((VAR_DATA_OFFSET + var.len()) as u32).to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&[0; 16]);
        let mut hw = vec![0u8; HW_REPORT_LEN];
        hw[0] = TDREPORT_TYPE_TDX;
        b.extend_from_slice(&hw);
        b.extend_from_slice(&((IGVM_FIXED_LEN + var.len()) as u32).to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&report_type.to_le_bytes());
        b.extend_from_slice(&hash_type.to_le_bytes());
        b.extend_from_slice(&(var.len() as u32).to_le_bytes());
        b.extend_from_slice(var);
        b
    }

    #[test]
    fn a_well_formed_report_decodes_with_and_without_padding() {
        let mut b = synthetic(2, 1, b"{}");
        let r = HclReport::parse(&b).unwrap();
        assert_eq!(r.igvm.report_type, HclReportType::Snp);
        assert_eq!(r.igvm.report_data_hash_type, ReportDataHashType::Sha256);
        assert_eq!(r.var_data, b"{}");
        assert_eq!(r.snp_report().map(<[u8]>::len), Some(HW_REPORT_LEN));
        assert_eq!(r.td_report_bytes(), None);
        b.resize(2600, 0);
        assert_eq!(HclReport::parse(&b).unwrap().var_data, b"{}");
    }

    #[test]
    fn every_inconsistency_is_a_typed_error() {
        let good = synthetic(4, 2, b"{\"a\":1}");
        let r = HclReport::parse(&good).unwrap();
        assert_eq!(r.igvm.report_type, HclReportType::Tdx);
        assert_eq!(r.igvm.report_data_hash_type, ReportDataHashType::Sha384);

        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert!(matches!(
            HclReport::parse(&bad_magic),
            Err(ParseError::Malformed {
                what: "HCL report",
                ..
            })
        ));
        let mut bad_version = good.clone();
        bad_version[4] = 9;
        assert!(matches!(
            HclReport::parse(&bad_version),
            Err(ParseError::Unsupported { .. })
        ));
        let mut bad_type = good.clone();
        bad_type[1216 + 8] = 7;
        assert_eq!(
            HclReport::parse(&bad_type).unwrap_err(),
            ParseError::Unsupported {
                what: "HCL report type",
                value: "7".into()
            }
        );
        let mut bad_hash = good.clone();
        bad_hash[1216 + 12] = 0;
        assert!(matches!(
            HclReport::parse(&bad_hash),
            Err(ParseError::Unsupported {
                what: "HCL report-data hash type",
                ..
            })
        ));
        let mut lying_size = good.clone();
        lying_size[1216 + 16] = 200;
        assert!(matches!(
            HclReport::parse(&lying_size),
            Err(ParseError::Malformed { .. })
        ));
        let mut lying_report_size = good.clone();
        lying_report_size[8] = lying_report_size[8].wrapping_add(1);
        assert!(matches!(
            HclReport::parse(&lying_report_size),
            Err(ParseError::Malformed {
                what: "HCL report header",
                ..
            })
        ));
        let mut junk = good.clone();
        junk.extend_from_slice(&[0, 0, 1]);
        assert_eq!(
            HclReport::parse(&junk).unwrap_err().to_string(),
            "HCL report (non-zero bytes after report_size) has 3 unexpected trailing bytes"
        );
        for n in 0..good.len() {
            assert!(HclReport::parse(&good[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn a_huge_variable_data_size_is_refused_before_reading() {
        let mut b = synthetic(2, 1, b"{}");
        b[1216 + 16..1216 + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            HclReport::parse(&b),
            Err(ParseError::Malformed {
                what: "HCL variable data",
                ..
            })
        ));
    }

    #[test]
    fn tdreport_fields_are_at_their_abi_offsets() {
        let mut t = vec![0u8; TDREPORT_LEN];
        t[0] = TDREPORT_TYPE_TDX;
        t[128] = 0xAA; // REPORTDATA
        t[264] = 0x11; // TEE_TCB_SVN
        t[280] = 0x22; // MRSEAM
        t[512] = 0x33; // TDINFO.ATTRIBUTES
        t[528] = 0x44; // MRTD
        t[720] = 0x55; // RTMR0
        t[864] = 0x66; // RTMR3
        let r = HclTdReport::parse(&t).unwrap();
        assert_eq!(r.report_data[0], 0xAA);
        assert_eq!(r.tee_tcb_svn[0], 0x11);
        assert_eq!(r.mr_seam[0], 0x22);
        assert_eq!(r.td_attributes[0], 0x33);
        assert_eq!(r.mr_td[0], 0x44);
        assert_eq!(r.rtmr[0][0], 0x55);
        assert_eq!(r.rtmr[3][0], 0x66);
        t[0] = 0;
        assert!(matches!(
            HclTdReport::parse(&t),
            Err(ParseError::Unsupported { .. })
        ));
        assert!(HclTdReport::parse(&t[..1000]).is_err());
    }
}
