//! The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI, versions 2, 3 and 5):
//! a total parser over [`Reader`] and the decoding of its packed fields
//! (guest policy, TCB_VERSION, processor generation).
//!
//! The report is a fixed 1184-byte (0x4A0) structure; anything else is a
//! [`ParseError`]. Reserved bytes are accepted whatever their value
//! (decision): every reserved byte before 0x2A0 is covered by the hardware
//! signature, so a non-zero value cannot be injected, and new ABI versions
//! have repeatedly turned reserved space into fields (v3 CPUID bytes, v5
//! mitigation vectors). The reserved tail after the signature is not signed
//! and is never read.

use crate::error::ParseError;
use crate::reader::Reader;

/// Size of an attestation report.
pub const REPORT_SIZE: usize = 0x4A0;
/// The signed region is `bytes[0..SIGNED_LEN]`.
pub const SIGNED_LEN: usize = 0x2A0;
/// Report versions this parser decodes.
pub const SUPPORTED_VERSIONS: [u32; 3] = [2, 3, 5];
/// SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only one AMD defines.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;

/// Which key signed the report (bits 2..4 of the word at 0x48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key (per chip and TCB).
    Vcek,
    /// Versioned Loaded Endorsement Key (per cloud provider).
    Vlek,
    /// The firmware did not sign the report.
    None,
}

impl SigningKey {
    /// `vcek`, `vlek` or `none`, as the claim renders it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vcek => "vcek",
            Self::Vlek => "vlek",
            Self::None => "none",
        }
    }
}

/// AMD EPYC generations that run SEV-SNP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    Milan,
    Genoa,
    Turin,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        }
    }

    /// From the CPUID family/model bytes of a v3+ report (AMD family 19h:
    /// Milan models 00h-0Fh, Genoa 10h-1Fh and A0h-AFh; family 1Ah: Turin
    /// models 00h-1Fh).
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Self::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Self::Genoa),
            (0x1A, 0x00..=0x1F) => Some(Self::Turin),
            _ => None,
        }
    }

    /// From a VCEK/VLEK `productName` such as `Milan-B0`, `Genoa`, `Turin`.
    pub fn from_product_name(name: &str) -> Option<Self> {
        match name.split('-').next().unwrap_or("") {
            "Milan" => Some(Self::Milan),
            "Genoa" => Some(Self::Genoa),
            "Turin" => Some(Self::Turin),
            _ => None,
        }
    }
}

/// A decoded TCB_VERSION. Milan and Genoa: byte 0 boot loader, 1 TEE,
/// 6 SNP, 7 microcode. Turin: byte 0 FMC, 1 boot loader, 2 TEE, 3 SNP,
/// 7 microcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcbVersion {
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
    /// Turin only.
    pub fmc: Option<u8>,
}

impl TcbVersion {
    /// Decode the raw little-endian u64 for a generation.
    pub fn decode(raw: u64, generation: Generation) -> Self {
        let b = raw.to_le_bytes();
        match generation {
            Generation::Turin => Self {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            },
            Generation::Milan | Generation::Genoa => Self {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            },
        }
    }

    /// As a JSON object `{bootloader, tee, snp, microcode[, fmc]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("bootloader".into(), self.bootloader.into());
        m.insert("tee".into(), self.tee.into());
        m.insert("snp".into(), self.snp.into());
        m.insert("microcode".into(), self.microcode.into());
        if let Some(f) = self.fmc {
            m.insert("fmc".into(), f.into());
        }
        serde_json::Value::Object(m)
    }
}

/// Guest policy bits (ABI "GUEST_POLICY").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy(pub u64);

impl Policy {
    pub fn abi_minor(self) -> u8 {
        (self.0 & 0xFF) as u8
    }
    pub fn abi_major(self) -> u8 {
        ((self.0 >> 8) & 0xFF) as u8
    }
    /// Bit 16: SMT allowed.
    pub fn smt_allowed(self) -> bool {
        self.0 & (1 << 16) != 0
    }
    /// Bit 18: association with a migration agent allowed.
    pub fn migrate_ma_allowed(self) -> bool {
        self.0 & (1 << 18) != 0
    }
    /// Bit 19: debugging allowed.
    pub fn debug_allowed(self) -> bool {
        self.0 & (1 << 19) != 0
    }
    /// Bit 20: single socket only.
    pub fn single_socket(self) -> bool {
        self.0 & (1 << 20) != 0
    }
}

/// A decoded attestation report. Raw TCB words are kept undecoded because
/// their layout depends on the processor generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpReport {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: Policy,
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub vmpl: u32,
    pub signature_algo: u32,
    pub current_tcb: u64,
    pub platform_info: u64,
    pub author_key_en: bool,
    pub mask_chip_key: bool,
    pub signing_key: SigningKey,
    pub report_data: [u8; 64],
    pub measurement: [u8; 48],
    pub host_data: [u8; 32],
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub report_id: [u8; 32],
    pub report_id_ma: [u8; 32],
    pub reported_tcb: u64,
    /// CPUID family, model, stepping (v3+; zero in v2).
    pub cpuid_fam_id: u8,
    pub cpuid_mod_id: u8,
    pub cpuid_step: u8,
    pub chip_id: [u8; 64],
    pub committed_tcb: u64,
    /// (build, minor, major) of the current firmware.
    pub current_version: (u8, u8, u8),
    pub committed_version: (u8, u8, u8),
    pub launch_tcb: u64,
    /// v5+.
    pub launch_mitigation_vector: Option<u64>,
    pub current_mitigation_vector: Option<u64>,
    /// ECDSA r and s, 72-byte little-endian fields.
    pub signature_r: [u8; 72],
    pub signature_s: [u8; 72],
}

/// Decode a report. Total: any input gives a report or a [`ParseError`].
pub fn parse_report(bytes: &[u8]) -> Result<SnpReport, ParseError> {
    if bytes.len() != REPORT_SIZE {
        return Err(ParseError::Malformed {
            what: "SEV-SNP report",
            reason: format!("is {} bytes, a report is {REPORT_SIZE}", bytes.len()),
        });
    }
    let mut r = Reader::new(bytes, "SEV-SNP report");
    let version = r.u32_le()?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(ParseError::Unsupported {
            what: "SEV-SNP report version",
            value: version.to_string(),
        });
    }
    let guest_svn = r.u32_le()?;
    let policy = Policy(r.u64_le()?);
    let family_id = r.array()?;
    let image_id = r.array()?;
    let vmpl = r.u32_le()?;
    let signature_algo = r.u32_le()?;
    if signature_algo != SIG_ALGO_ECDSA_P384_SHA384 {
        return Err(ParseError::Unsupported {
            what: "SEV-SNP report signature algorithm",
            value: signature_algo.to_string(),
        });
    }
    let current_tcb = r.u64_le()?;
    let platform_info = r.u64_le()?;
    let flags = r.u32_le()?;
    let signing_key = match (flags >> 2) & 0x7 {
        0 => SigningKey::Vcek,
        1 => SigningKey::Vlek,
        7 => SigningKey::None,
        other => {
            return Err(ParseError::Unsupported {
                what: "SEV-SNP report signing key",
                value: other.to_string(),
            });
        }
    };
    r.take(4)?; // reserved
    let report_data = r.array()?;
    let measurement = r.array()?;
    let host_data = r.array()?;
    let id_key_digest = r.array()?;
    let author_key_digest = r.array()?;
    let report_id = r.array()?;
    let report_id_ma = r.array()?;
    let reported_tcb = r.u64_le()?;
    let (cpuid_fam_id, cpuid_mod_id, cpuid_step) = if version >= 3 {
        (r.u8()?, r.u8()?, r.u8()?)
    } else {
        r.take(3)?;
        (0, 0, 0)
    };
    r.take(0x1A0 - 0x18B)?; // reserved
    let chip_id = r.array()?;
    let committed_tcb = r.u64_le()?;
    let current_version = (r.u8()?, r.u8()?, r.u8()?);
    r.u8()?;
    let committed_version = (r.u8()?, r.u8()?, r.u8()?);
    r.u8()?;
    let launch_tcb = r.u64_le()?;
    let (launch_mitigation_vector, current_mitigation_vector) = if version >= 5 {
        (Some(r.u64_le()?), Some(r.u64_le()?))
    } else {
        r.take(16)?;
        (None, None)
    };
    r.take(SIGNED_LEN - 0x208)?; // reserved
    let signature_r = r.array()?;
    let signature_s = r.array()?;
    Ok(SnpReport {
        version,
        guest_svn,
        policy,
        family_id,
        image_id,
        vmpl,
        signature_algo,
        current_tcb,
        platform_info,
        author_key_en: flags & 1 != 0,
        mask_chip_key: flags & 2 != 0,
        signing_key,
        report_data,
        measurement,
        host_data,
        id_key_digest,
        author_key_digest,
        report_id,
        report_id_ma,
        reported_tcb,
        cpuid_fam_id,
        cpuid_mod_id,
        cpuid_step,
        chip_id,
        committed_tcb,
        current_version,
        committed_version,
        launch_tcb,
        launch_mitigation_vector,
        current_mitigation_vector,
        signature_r,
        signature_s,
    })
}

impl SnpReport {
    /// The generation from the CPUID bytes (v3+), if they name one.
    pub fn cpuid_generation(&self) -> Option<Generation> {
        if self.version >= 3 {
            Generation::from_cpuid(self.cpuid_fam_id, self.cpuid_mod_id)
        } else {
            None
        }
    }

    /// The signature as 96 bytes big-endian r ‖ s, or `None` when r or s
    /// does not fit 48 bytes (their upper 24 bytes must be zero).
    pub fn signature_fixed(&self) -> Option<[u8; 96]> {
        if self.signature_r[48..].iter().any(|&b| b != 0)
            || self.signature_s[48..].iter().any(|&b| b != 0)
        {
            return None;
        }
        let mut out = [0u8; 96];
        for i in 0..48 {
            out[i] = self.signature_r[47 - i];
            out[48 + i] = self.signature_s[47 - i];
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_sizes_and_versions_are_errors() {
        assert!(matches!(
            parse_report(&[0u8; REPORT_SIZE - 1]),
            Err(ParseError::Malformed { .. })
        ));
        let mut b = [0u8; REPORT_SIZE];
        b[0] = 4;
        assert!(matches!(
            parse_report(&b),
            Err(ParseError::Unsupported {
                what: "SEV-SNP report version",
                ..
            })
        ));
        b[0] = 2;
        b[0x34] = 2;
        assert!(matches!(
            parse_report(&b),
            Err(ParseError::Unsupported {
                what: "SEV-SNP report signature algorithm",
                ..
            })
        ));
        b[0x34] = 1;
        b[0x48] = 2 << 2;
        assert!(matches!(
            parse_report(&b),
            Err(ParseError::Unsupported {
                what: "SEV-SNP report signing key",
                ..
            })
        ));
        b[0x48] = 1 << 2;
        assert_eq!(parse_report(&b).unwrap().signing_key, SigningKey::Vlek);
    }

    #[test]
    fn tcb_layouts_differ_for_turin() {
        let raw = u64::from_le_bytes([1, 2, 3, 4, 0, 0, 6, 7]);
        let m = TcbVersion::decode(raw, Generation::Milan);
        assert_eq!(
            (m.bootloader, m.tee, m.snp, m.microcode, m.fmc),
            (1, 2, 6, 7, None)
        );
        let t = TcbVersion::decode(raw, Generation::Turin);
        assert_eq!(
            (t.bootloader, t.tee, t.snp, t.microcode, t.fmc),
            (2, 3, 4, 7, Some(1))
        );
    }

    #[test]
    fn generations_from_cpuid_and_product() {
        assert_eq!(Generation::from_cpuid(0x19, 0x01), Some(Generation::Milan));
        assert_eq!(Generation::from_cpuid(0x19, 0x11), Some(Generation::Genoa));
        assert_eq!(Generation::from_cpuid(0x1A, 0x02), Some(Generation::Turin));
        assert_eq!(Generation::from_cpuid(0x17, 0x31), None);
        assert_eq!(
            Generation::from_product_name("Milan-B0"),
            Some(Generation::Milan)
        );
        assert_eq!(Generation::from_product_name("Siena"), None);
    }
}
