//! Synthetic Azure confidential VM guest evidence: an HCL report (the
//! layout of `attesta_evidence::azure_cvm::hcl`) around a testkit SEV-SNP
//! report whose REPORT_DATA holds the chosen hash of the variable data, the
//! variable data naming the testkit TPM AK as `HCLAkPub`, and that AK's
//! quote with its event log.
//!
//! The real captures in `../shared/vectors/azure-cvm` carry no event log
//! and only SHA-256 report-data hashes; this reaches the branches they
//! cannot (claims from a proven log, SHA-384/512, a missing AK, malformed
//! variable data under a correct hash, unsupported isolation types).

use serde_json::{Value, json};

use crate::snp::SnpSample;
use crate::tpm::{TpmSample, TpmSampleBuilder};
use attesta_evidence::crypto;
use attesta_evidence::tpm::structures::{TPM_ALG_SHA512, hash};

/// IGVM report types.
pub const REPORT_TYPE_VBS: u32 = 1;
pub const REPORT_TYPE_SNP: u32 = 2;
pub const REPORT_TYPE_TVM: u32 = 3;
pub const REPORT_TYPE_TDX: u32 = 4;
/// IGVM report-data hash types.
pub const HASH_SHA256: u32 = 1;
pub const HASH_SHA384: u32 = 2;
pub const HASH_SHA512: u32 = 3;

/// An HCL report: header (version 2), the hardware area (`hw_report`
/// zero-padded to 1184 bytes), the IGVM request data and `var_data`, then
/// zero padding to `total_len` (no padding when it is smaller).
pub fn hcl_report(
    report_type: u32,
    hash_type: u32,
    hw_report: &[u8],
    var_data: &[u8],
    total_len: usize,
) -> Vec<u8> {
    let var_len = var_data.len() as u32;
    let mut b = Vec::with_capacity(total_len.max(1236 + var_data.len()));
    b.extend_from_slice(b"HCLA");
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&(1236 + var_len).to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes()); // request type
    b.extend_from_slice(&0u32.to_le_bytes()); // status
    b.extend_from_slice(&[0; 12]);
    let mut hw = hw_report.to_vec();
    hw.resize(1184, 0);
    b.extend_from_slice(&hw);
    b.extend_from_slice(&(20 + var_len).to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&report_type.to_le_bytes());
    b.extend_from_slice(&hash_type.to_le_bytes());
    b.extend_from_slice(&var_len.to_le_bytes());
    b.extend_from_slice(var_data);
    if b.len() < total_len {
        b.resize(total_len, 0);
    }
    b
}

/// REPORT_DATA with `hash_type`'s digest of `var_data` first, zeros after.
pub fn report_data_for(hash_type: u32, var_data: &[u8]) -> [u8; 64] {
    let digest = match hash_type {
        HASH_SHA384 => crypto::sha384(var_data).to_vec(),
        HASH_SHA512 => hash(TPM_ALG_SHA512, var_data).unwrap_or_default(),
        _ => crypto::sha256(var_data).to_vec(),
    };
    let mut rd = [0u8; 64];
    rd[..digest.len()].copy_from_slice(&digest);
    rd
}

/// A synthetic SEV-SNP Azure guest attestation.
#[derive(Debug, Clone)]
pub struct AzureGuestSample {
    pub hcl_report: Vec<u8>,
    pub var_data: Vec<u8>,
    /// The SNP report (inside `hcl_report`) and its test VCEK chain.
    pub snp: SnpSample,
    /// The vTPM quote, PCR values and event log.
    pub tpm: TpmSample,
}

impl AzureGuestSample {
    pub fn builder() -> AzureGuestSampleBuilder {
        AzureGuestSampleBuilder::default()
    }
}

/// Builder for [`AzureGuestSample`]; the defaults verify (SHA-256 hash,
/// `HCLAkPub` present, the TPM sample's defaults: PCRs 0–23, secure boot on).
#[derive(Debug, Clone)]
pub struct AzureGuestSampleBuilder {
    tpm: TpmSampleBuilder,
    hash_type: u32,
    hashed_as: Option<u32>,
    report_type: u32,
    with_ak: bool,
    var_data: Option<Vec<u8>>,
    vm_id: String,
}

impl Default for AzureGuestSampleBuilder {
    fn default() -> Self {
        Self {
            tpm: TpmSample::builder(),
            hash_type: HASH_SHA256,
            hashed_as: None,
            report_type: REPORT_TYPE_SNP,
            with_ak: true,
            var_data: None,
            vm_id: "6A1B2C3D-0000-4000-8000-00000000A2E7".into(),
        }
    }
}

impl AzureGuestSampleBuilder {
    /// The TPM sample's builder (nonce, PCRs, log events, secure boot).
    pub fn tpm(mut self, f: impl FnOnce(TpmSampleBuilder) -> TpmSampleBuilder) -> Self {
        self.tpm = f(self.tpm);
        self
    }
    /// The report-data hash type the HCL report names (and uses).
    pub fn hash_type(mut self, t: u32) -> Self {
        self.hash_type = t;
        self
    }
    /// Hash the variable data with another type than the one named.
    pub fn hashed_as(mut self, t: u32) -> Self {
        self.hashed_as = Some(t);
        self
    }
    /// The IGVM report type written (the hardware area is still an SNP report).
    pub fn report_type(mut self, t: u32) -> Self {
        self.report_type = t;
        self
    }
    /// Leave `HCLAkPub` out of the variable data.
    pub fn without_ak(mut self) -> Self {
        self.with_ak = false;
        self
    }
    /// Use these bytes as the variable data (still correctly hashed).
    pub fn var_data(mut self, bytes: &[u8]) -> Self {
        self.var_data = Some(bytes.to_vec());
        self
    }

    pub fn build(self) -> AzureGuestSample {
        let tpm = self.tpm.build();
        let var_data = self.var_data.unwrap_or_else(|| {
            let mut keys = Vec::new();
            if self.with_ak {
                let mut ak = tpm.ak_jwk();
                ak["kid"] = json!("HCLAkPub");
                ak["key_ops"] = json!(["sign"]);
                keys.push(ak);
            }
            keys.push(json!({"kid": "HCLEkPub", "key_ops": ["encrypt"], "kty": "RSA", "e": "AQAB", "n": "AQAB"}));
            let doc: Value = json!({
                "keys": keys,
                "vm-configuration": {
                    "console-enabled": false,
                    "secure-boot": true,
                    "tpm-enabled": true,
                    "vmUniqueId": self.vm_id,
                },
                "user-data": "00".repeat(64),
            });
            doc.to_string().into_bytes()
        });
        let rd = report_data_for(self.hashed_as.unwrap_or(self.hash_type), &var_data);
        let snp = SnpSample::builder().report_data(rd).build();
        let hcl_report = hcl_report(
            self.report_type,
            self.hash_type,
            &snp.report,
            &var_data,
            2600,
        );
        AzureGuestSample {
            hcl_report,
            var_data,
            snp,
            tpm,
        }
    }
}
