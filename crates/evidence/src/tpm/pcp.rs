//! Windows' platform attestation blob: what the Platform Crypto Provider
//! (NCrypt) produces for a platform claim, and what MAA's TPM request
//! message v1 carries as `tpm_att_data.current_claim` / `boot_claim`.
//!
//! Layout (little-endian header, then the parts in order):
//!
//! | field | size | meaning |
//! |---|---|---|
//! | `Magic` | 4 | `PADS` (v1, SHA-1 PCRs) or `PAD2` (v2, PCRs of `PcrAlgorithmId`) |
//! | `Platform` | 4 | TPM version: 2 for TPM 2.0 (1.2 blobs are refused) |
//! | `HeaderSize` | 4 | 28 for v1, 32 for v2 (anything larger is skipped) |
//! | `cbPcrValues` | 4 | 24 PCR values of the bank, concatenated |
//! | `cbQuote` | 4 | the `TPMS_ATTEST` of the quote |
//! | `cbSignature` | 4 | the raw signature over it (RSASSA; no `TPMT_SIGNATURE` wrapper) |
//! | `cbLog` | 4 | the TCG log, filtered to the quoted PCRs |
//! | `PcrAlgorithmId` | 4 | v2 only: the PCR bank (`TPM_ALG_ID`) |
//!
//! [`PlatformAttestation::parse`] is total; the parts are checked by the
//! TPM verifier like any other quote once [`PlatformAttestation::pcrs`] and
//! [`PlatformAttestation::rsassa_signature`] put them in its shapes.

use super::eventlog::Pcrs;
use super::structures::{TPM_ALG_RSASSA, TPM_ALG_SHA1, TPM_ALG_SHA256, digest_size};
use crate::error::ParseError;
use crate::reader::Reader;

/// `'SDAP'` as a little-endian u32: the bytes `PADS`.
pub const MAGIC_V1: u32 = 0x5344_4150;
/// `'2DAP'`: the bytes `PAD2`.
pub const MAGIC_V2: u32 = 0x3244_4150;
/// PCRs a platform attestation holds values for.
pub const PLATFORM_PCRS: u32 = 24;
const TPM_VERSION_20: u32 = 2;

/// A parsed platform attestation blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAttestation<'a> {
    /// The PCR bank (`TPM_ALG_ID`).
    pub pcr_alg: u16,
    /// The values of PCRs 0–23 in that bank.
    pub pcr_values: Vec<&'a [u8]>,
    /// `TPMS_ATTEST` of the quote.
    pub quote: &'a [u8],
    /// Raw RSASSA signature over `quote`.
    pub signature: &'a [u8],
    /// The TCG log.
    pub log: &'a [u8],
}

impl<'a> PlatformAttestation<'a> {
    /// Parse a blob. Total: wrong magic, a TPM 1.2 blob, sizes that do not
    /// add up to the blob's length, or PCR values of the wrong size are errors.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        const WHAT: &str = "platform attestation blob";
        let mut r = Reader::new(bytes, WHAT);
        let magic = r.u32_le()?;
        if magic != MAGIC_V1 && magic != MAGIC_V2 {
            return Err(ParseError::Malformed {
                what: WHAT,
                reason: format!("magic {magic:#010x} is neither PADS nor PAD2"),
            });
        }
        let platform = r.u32_le()?;
        if platform != TPM_VERSION_20 {
            return Err(ParseError::Unsupported {
                what: "platform attestation TPM version",
                value: platform.to_string(),
            });
        }
        let header_size = r.u32_le()? as usize;
        let sizes = [r.u32_le()?, r.u32_le()?, r.u32_le()?, r.u32_le()?].map(|s| s as usize);
        let pcr_alg = if magic == MAGIC_V2 {
            let alg = r.u32_le()?;
            u16::try_from(alg).map_err(|_| ParseError::Unsupported {
                what: "platform attestation PCR algorithm",
                value: format!("{alg:#x}"),
            })?
        } else {
            TPM_ALG_SHA1
        };
        let fixed = if magic == MAGIC_V2 { 32 } else { 28 };
        if header_size < fixed {
            return Err(ParseError::Malformed {
                what: WHAT,
                reason: format!("header size {header_size} is below {fixed}"),
            });
        }
        r.take(header_size - fixed)?;
        let [cb_pcrs, cb_quote, cb_sig, cb_log] = sizes;
        let size = digest_size(pcr_alg).ok_or_else(|| ParseError::Unsupported {
            what: "platform attestation PCR algorithm",
            value: format!("{pcr_alg:#06x}"),
        })?;
        if cb_pcrs != size * PLATFORM_PCRS as usize {
            return Err(ParseError::Malformed {
                what: WHAT,
                reason: format!(
                    "{cb_pcrs} bytes of PCR values; 24 PCRs of {size} bytes are {}",
                    size * 24
                ),
            });
        }
        let pcrs = r.take(cb_pcrs)?;
        let quote = r.take(cb_quote)?;
        let signature = r.take(cb_sig)?;
        let log = r.take(cb_log)?;
        r.finish()?;
        Ok(Self {
            pcr_alg,
            pcr_values: pcrs.chunks_exact(size).collect(),
            quote,
            signature,
            log,
        })
    }

    /// The PCR values as the verifier takes them (one bank).
    pub fn pcrs(&self) -> Pcrs {
        let mut out = Pcrs::new();
        let bank = out.entry(self.pcr_alg).or_default();
        for (i, v) in self.pcr_values.iter().enumerate() {
            bank.insert(i as u32, v.to_vec());
        }
        out
    }

    /// The raw signature as a `TPMT_SIGNATURE` (RSASSA with SHA-256): the
    /// only form accepted from a blob. Windows' older PCP attestation
    /// identity keys sign with SHA-1; such quotes fail the signature check
    /// rather than being accepted with a weak hash.
    pub fn rsassa_signature(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.signature.len());
        out.extend_from_slice(&TPM_ALG_RSASSA.to_be_bytes());
        out.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
        // A signature longer than a TPM2B can hold would not parse back;
        // cap the size field so the verifier reports it as malformed.
        let len = u16::try_from(self.signature.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.signature);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(magic: u32, alg: Option<u32>, pcr_size: usize) -> Vec<u8> {
        let header = if alg.is_some() { 32u32 } else { 28 };
        let mut b = Vec::new();
        for v in [
            magic,
            2,
            header,
            (pcr_size * 24) as u32,
            3, // quote
            2, // signature
            1, // log
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(a) = alg {
            b.extend_from_slice(&a.to_le_bytes());
        }
        for i in 0..24u8 {
            b.extend(std::iter::repeat_n(i, pcr_size));
        }
        b.extend_from_slice(&[0xA1, 0xA2, 0xA3, 0x51, 0x52, 0x4C]);
        b
    }

    #[test]
    fn v1_and_v2_blobs_parse() {
        let b = blob(MAGIC_V1, None, 20);
        let p = PlatformAttestation::parse(&b).unwrap();
        assert_eq!(p.pcr_alg, TPM_ALG_SHA1);
        assert_eq!(p.pcr_values.len(), 24);
        assert_eq!(p.pcr_values[5], &[5u8; 20][..]);
        assert_eq!(p.quote, &[0xA1, 0xA2, 0xA3]);
        assert_eq!(p.signature, &[0x51, 0x52]);
        assert_eq!(p.log, &[0x4C]);
        assert_eq!(&b[..4], b"PADS");

        let b = blob(MAGIC_V2, Some(TPM_ALG_SHA256 as u32), 32);
        let p = PlatformAttestation::parse(&b).unwrap();
        assert_eq!(&b[..4], b"PAD2");
        assert_eq!(p.pcr_alg, TPM_ALG_SHA256);
        assert_eq!(p.pcrs()[&TPM_ALG_SHA256][&23], vec![23u8; 32]);
        assert_eq!(
            p.rsassa_signature(),
            vec![0x00, 0x14, 0x00, 0x0b, 0x00, 0x02, 0x51, 0x52]
        );
    }

    #[test]
    fn bad_blobs_are_errors_never_panics() {
        let good = blob(MAGIC_V2, Some(TPM_ALG_SHA256 as u32), 32);
        for n in 0..good.len() {
            assert!(
                PlatformAttestation::parse(&good[..n]).is_err(),
                "prefix {n}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(PlatformAttestation::parse(&trailing).is_err());
        let mut tpm12 = good.clone();
        tpm12[4] = 1;
        assert!(matches!(
            PlatformAttestation::parse(&tpm12),
            Err(ParseError::Unsupported { .. })
        ));
        // SHA-256 PCR values under a v1 (SHA-1) magic do not add up.
        let wrong = blob(MAGIC_V1, None, 32);
        assert!(PlatformAttestation::parse(&wrong).is_err());
        let mut lying = good.clone();
        lying[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PlatformAttestation::parse(&lying).is_err());
    }
}
