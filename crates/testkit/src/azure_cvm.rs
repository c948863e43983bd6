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

use crate::snp::{SnpSample, SnpSampleBuilder};
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
    snp: SnpSampleBuilder,
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
            snp: SnpSample::builder(),
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
    /// The SNP sample's builder (CRL, generation, TCB …); its report_data
    /// is set to the variable data's hash at build time.
    pub fn snp(mut self, f: impl FnOnce(SnpSampleBuilder) -> SnpSampleBuilder) -> Self {
        self.snp = f(self.snp);
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
        let snp = self.snp.report_data(rd).build();
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

/// The object attributes of the ephemeral key Microsoft's client creates:
/// fixedTPM, fixedParent, sensitiveDataOrigin, noDA, decrypt (no
/// userWithAuth: only its PCR policy can authorise it).
pub const ENC_KEY_ATTRIBUTES: u32 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 10) | (1 << 17);

/// An ephemeral RSA-2048 encryption key as the guest's vTPM would hold it:
/// the private key (PKCS#8, for the test to open the sealed token) and
/// its `TPM2B_PUBLIC` with a chosen authPolicy and attributes.
#[derive(Debug, Clone)]
pub struct EphemeralKey {
    pub pkcs8: Vec<u8>,
    pub modulus: Vec<u8>,
    /// `TPM2B_PUBLIC`.
    pub public: Vec<u8>,
}

impl EphemeralKey {
    /// A fresh key with `attributes` and `auth_policy`.
    pub fn new(attributes: u32, auth_policy: &[u8]) -> Self {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PrivateDecryptingKey};
        use aws_lc_rs::signature::KeyPair as _;
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("RSA key");
        let pkcs8 = key.as_der().expect("PKCS#8").as_ref().to_vec();
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).expect("RSA key pair");
        let modulus = pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        let mut p = Vec::new();
        p.extend(0x0001u16.to_be_bytes()); // TPM_ALG_RSA
        p.extend(0x000bu16.to_be_bytes()); // nameAlg SHA-256
        p.extend(attributes.to_be_bytes());
        p.extend((auth_policy.len() as u16).to_be_bytes());
        p.extend_from_slice(auth_policy);
        p.extend(0x0010u16.to_be_bytes()); // symmetric NULL
        p.extend(0x0010u16.to_be_bytes()); // scheme NULL
        p.extend(2048u16.to_be_bytes());
        p.extend(0u32.to_be_bytes()); // exponent 65537
        p.extend((modulus.len() as u16).to_be_bytes());
        p.extend_from_slice(&modulus);
        let mut public = (p.len() as u16).to_be_bytes().to_vec();
        public.extend(p);
        Self {
            pkcs8,
            modulus,
            public,
        }
    }

    /// The key the client makes for `tpm`'s quote: sealed to PolicyPCR
    /// over its SHA-256 PCR values.
    pub fn for_quote(tpm: &TpmSample) -> Self {
        Self::new(ENC_KEY_ATTRIBUTES, &pcr_policy(tpm))
    }

    /// Open a sealed `AzureGuest` token (reference §5.3) as the guest
    /// would: unwrap the AES key with the private key (RSAES-PKCS1-v1_5),
    /// then AES-256-GCM with AAD `Transport Key`.
    pub fn open(&self, token: &str) -> Result<String, String> {
        use aws_lc_rs::{aead, rsa};
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let env: Value = serde_json::from_slice(&url.decode(token).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let field = |p: &str| -> Result<Vec<u8>, String> {
            let s = env
                .pointer(p)
                .and_then(Value::as_str)
                .ok_or(format!("{p} missing"))?;
            b64.decode(s).map_err(|e| format!("{p}: {e}"))
        };
        let wrapped = field("/EncryptedInnerKey")?;
        let iv: [u8; 12] = field("/EncryptionParams/Iv")?
            .try_into()
            .map_err(|_| "IV is not 12 bytes")?;
        let tag = field("/AuthenticationData")?;
        let mut ct = field("/Jwt")?;
        let private =
            rsa::PrivateDecryptingKey::from_pkcs8(&self.pkcs8).map_err(|e| e.to_string())?;
        let private = rsa::Pkcs1PrivateDecryptingKey::new(private).map_err(|e| e.to_string())?;
        let mut out = vec![0u8; private.min_output_size()];
        let aes = private
            .decrypt(&wrapped, &mut out)
            .map_err(|_| "RSAES-PKCS1-v1_5 decryption failed")?
            .to_vec();
        if aes.len() != 32 {
            return Err(format!("the inner key is {} bytes, not 32", aes.len()));
        }
        let key = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_256_GCM, &aes).map_err(|e| e.to_string())?,
        );
        ct.extend_from_slice(&tag);
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(iv),
                aead::Aad::from(b"Transport Key"),
                &mut ct,
            )
            .map_err(|_| "AES-256-GCM authentication failed")?;
        String::from_utf8(plain.to_vec()).map_err(|e| e.to_string())
    }
}

/// An `AttestationInfo` document (reference §5.3) for `tpm`'s quote and
/// log, its AK (`AikPub`, a `TPM2B_PUBLIC`) with `aik_cert` (DER, empty for
/// none), `key` certified by the AK with empty qualifyingData, and
/// `isolation` as `IsolationInfo`.
fn guest_document(tpm: &TpmSample, key: &EphemeralKey, aik_cert: &[u8], isolation: Value) -> Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (certify, certify_sig) = tpm.certify(&key.public, &[]);
    let bank = tpm
        .pcrs
        .get(&attesta_evidence::tpm::structures::TPM_ALG_SHA256)
        .cloned()
        .unwrap_or_default();
    let pcrs: Vec<Value> = bank
        .iter()
        .map(|(i, v)| json!({"Index": i, "Digest": b64.encode(v)}))
        .collect();
    let mut ak_pub = (tpm.ak_public.len() as u16).to_be_bytes().to_vec();
    ak_pub.extend_from_slice(&tpm.ak_public);
    json!({
        "AttestationProtocolVersion": "2.0",
        "OSType": b64.encode("Linux"),
        "OSDistro": b64.encode("Ubuntu"),
        "OSVersionMajor": 24,
        "OSVersionMinor": 4,
        "OSBuild": b64.encode("NotApplication"),
        "TcgLogs": b64.encode(&tpm.event_log),
        "ClientPayload": {"nonce": b64.encode("client nonce")},
        "TpmInfo": {
            "AikCert": b64.encode(aik_cert),
            "AikPub": b64.encode(ak_pub),
            "PcrQuote": b64.encode(&tpm.attest),
            "PcrSignature": b64.encode(&tpm.signature),
            "PcrSet": tpm.pcr_selection,
            "PCRs": pcrs,
            "EncKeyPub": b64.encode(&key.public),
            "EncKeyCertifyInfo": b64.encode(certify),
            "EncKeyCertifyInfoSignature": b64.encode(certify_sig),
        },
        "IsolationInfo": isolation,
    })
}

/// The `AttestationInfo` of a Trusted Launch VM: no isolation evidence
/// (`IsolationInfo.Type` `TrustedLaunch`), the AK trusted only through its
/// certificate (`tpm.ak_cert` as `AikCert`; build `tpm` with
/// `.intermediate(false)`, since the document carries no intermediates).
pub fn trusted_launch_info(tpm: &TpmSample, key: &EphemeralKey) -> Value {
    guest_document(tpm, key, &tpm.ak_cert, json!({"Type": "TrustedLaunch"}))
}

/// PolicyPCR over `tpm`'s quoted SHA-256 PCR values.
pub fn pcr_policy(tpm: &TpmSample) -> Vec<u8> {
    let bank = tpm
        .pcrs
        .get(&attesta_evidence::tpm::structures::TPM_ALG_SHA256)
        .cloned()
        .unwrap_or_default();
    attesta_evidence::azure_cvm::enc_key::pcr_policy_digest(
        bank.iter()
            .filter(|(i, _)| tpm.pcr_selection.contains(i))
            .map(|(i, v)| (*i, v.as_slice())),
    )
}

impl AzureGuestSample {
    /// A sample whose quote is SHA-256 only (MAA's request carries the
    /// SHA-256 bank) over PCRs 0–23 with `nonce`, the rest as the builder's
    /// defaults.
    pub fn for_request(nonce: &[u8]) -> Self {
        Self::request_builder(nonce).build()
    }

    /// The builder [`AzureGuestSample::for_request`] uses, with AMD's test
    /// CRL, for further changes.
    pub fn request_builder(nonce: &[u8]) -> AzureGuestSampleBuilder {
        let n = nonce.to_vec();
        Self::builder()
            .tpm(|t| {
                t.banks(&[attesta_evidence::tpm::structures::TPM_ALG_SHA256])
                    .nonce(&n)
            })
            .snp(|s| s.crl(true))
    }

    /// The `AttestationInfo` document (reference §5.3) Microsoft's clients
    /// send for this evidence, with `key` as the ephemeral key, certified
    /// by the AK with empty qualifyingData (as the Rust SDK does).
    pub fn attestation_info(&self, key: &EphemeralKey) -> Value {
        use base64::Engine;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        guest_document(
            &self.tpm,
            key,
            &[],
            json!({
                "Type": "SevSnp",
                "Evidence": {
                    "Proof": self.snp.maa_report_member(),
                    "RunTimeData": url.encode(&self.var_data),
                }
            }),
        )
    }

    /// The request body `{"AttestationInfo": base64url(document)}`.
    pub fn request_body(doc: &Value) -> Value {
        use base64::Engine;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        json!({"AttestationInfo": url.encode(doc.to_string())})
    }
}
