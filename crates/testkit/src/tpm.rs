//! Synthetic TPM 2.0 evidence: byte-exact `TPMS_ATTEST` quotes and
//! certifications, `TPMT_SIGNATURE`s and `TPMT_PUBLIC`s (TCG TPM 2.0 Library,
//! Part 2), signed by a software attestation key (AK) whose certificate
//! chains to a test TPM CA, with a crypto-agile TCG event log (TCG PC Client
//! Platform Firmware Profile) whose replay gives exactly the quoted PCRs.
//!
//! ```text
//! Attesta Test TPM Root CA ── Attesta Test TPM Intermediate CA ── AK certificate
//!                          └──────────────────────────────────── AK certificate (.intermediate(false))
//! ```
//!
//! Real swtpm evidence comes from `tests/tpm-sim`; this is the fast, fully
//! controllable equivalent for failure branches, the server's non-swtpm tests
//! and benchmarks. The CA keys and the AK keys (one RSA-2048, one P-256) are
//! generated once per process, so every sample of a process chains to the
//! same root and a server configured with [`TpmSample::roots`] once accepts
//! them all. The root is only ever trusted through
//! `TrustRoots::with_configured`, so verified samples carry
//! `x-attesta-test-root`.
//!
//! The TPM structures are assembled here by hand: no crate writes them for a
//! software key, and the layouts are a few fixed big-endian fields (a test
//! compares them byte for byte with a real GCE vTPM's). The AK is a primary
//! key in the endorsement hierarchy, as go-tpm-tools makes it on GCE: the
//! quotes' `qualifiedSigner` is its qualified name,
//! nameAlg ‖ H(TPM_RH_ENDORSEMENT ‖ Name).
//!
//! SHA-1 quotes ([`TpmSampleBuilder::sha1_signature`]) are signed with
//! RSASSA-PKCS1-v1_5 by hand (`EM^d mod n` with `num-bigint`): aws-lc-rs
//! verifies SHA-1 RSA signatures but does not make them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use attesta_evidence::UnixTime;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::structures::{
    PublicKey, TPM_ALG_ECC, TPM_ALG_ECDSA, TPM_ALG_NULL, TPM_ALG_RSA, TPM_ALG_RSAPSS,
    TPM_ALG_RSASSA, TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ECC_NIST_P256,
    TPM_ECC_NIST_P384, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY, TPM_ST_ATTEST_QUOTE,
    digest_size, hash,
};
use attesta_evidence::tpm::{AkPublic, Pcrs, QuoteParts, TpmEvidence};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PSS_SHA256, RSA_PSS_SHA384,
};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber, SubjectPublicKeyInfo,
};

/// Default verification time of samples: 2026-01-01T00:00:00Z.
pub const DEFAULT_AT: u64 = 1_767_225_600;
const DAY: u64 = 86_400;
/// The test CAs are valid 2020-01-01 .. 2045-01-01, whatever `at` a sample uses.
const CA_WINDOW: (u64, u64) = (1_577_836_800, 2_366_841_600);

/// objectAttributes of an AK: fixedTPM | fixedParent | sensitiveDataOrigin |
/// userWithAuth | restricted | sign (what `tpm2_createak` and go-tpm-tools set).
pub const AK_ATTRIBUTES: u32 = 0x0005_0072;

/// Event types the default log uses (TCG PC Client PFP, section 10.4.1).
pub const EV_NO_ACTION: u32 = 0x3;
pub const EV_SEPARATOR: u32 = 0x4;
pub const EV_EVENT_TAG: u32 = 0x6;
pub const EV_S_CRTM_VERSION: u32 = 0x8;
pub const EV_IPL: u32 = 0xd;
pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
pub const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
pub const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
pub const EV_EFI_ACTION: u32 = 0x8000_0007;
pub const EV_EFI_PLATFORM_FIRMWARE_BLOB: u32 = 0x8000_0008;
pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00e0;

/// The EFI global variable GUID (SecureBoot, PK, KEK, BootOrder …).
pub const EFI_GLOBAL_VARIABLE: &str = "8BE4DF61-93CA-11D2-AA0D-00E098032B8C";
/// The image-security database GUID (db, dbx).
pub const EFI_IMAGE_SECURITY_DATABASE: &str = "D719B2CB-3D3A-4596-A3BC-DAD00E67656F";

/// The attestation key's type and signing scheme. All sign with SHA-256
/// (P-384 with SHA-384; RSA with SHA-384 or SHA-1 on request);
/// both RSA kinds use the process's one RSA key (their `TPMT_PUBLIC`s, and
/// so their names, differ in the scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkKind {
    /// RSA-2048, RSASSA-PKCS1-v1_5.
    Rsa2048Rsassa,
    /// RSA-2048, RSASSA-PSS (salt length = digest length).
    Rsa2048Pss,
    /// ECC NIST P-256, ECDSA.
    EccP256,
    /// ECC NIST P-384, ECDSA with SHA-384.
    EccP384,
}

/// One event to add to the log (after the default firmware events).
///
/// By default the TPM is extended with, and the log records, the hash of
/// `data` in every bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub pcr: u32,
    pub event_type: u32,
    pub data: Vec<u8>,
    /// What was really measured, when it is not `data` (firmware blobs,
    /// images): the TPM and the log both carry its hash. Setting it to
    /// something else than `data` forges an event whose data lies about what
    /// was measured while the log still replays.
    pub measured: Option<Vec<u8>>,
    /// The log records the hash of these bytes (every bank) while the TPM was
    /// extended with the hash of the measured bytes: the log no longer
    /// replays to the quoted PCR (`EventLogMismatch`).
    pub digest_override: Option<Vec<u8>>,
}

impl LogEvent {
    /// An event whose digest is the hash of its data.
    pub fn new(pcr: u32, event_type: u32, data: &[u8]) -> Self {
        Self {
            pcr,
            event_type,
            data: data.to_vec(),
            measured: None,
            digest_override: None,
        }
    }

    /// See [`LogEvent::measured`].
    pub fn measuring(mut self, measured: &[u8]) -> Self {
        self.measured = Some(measured.to_vec());
        self
    }

    /// See [`LogEvent::digest_override`].
    pub fn with_digest_override(mut self, logged: &[u8]) -> Self {
        self.digest_override = Some(logged.to_vec());
        self
    }

    fn measured_bytes(&self) -> &[u8] {
        self.measured.as_deref().unwrap_or(&self.data)
    }
}

/// A synthetic TPM attestation: one quote over every bank, the AK and its
/// chain, the PCR values and the event log.
#[derive(Debug, Clone)]
pub struct TpmSample {
    /// `TPMS_ATTEST` of the quote.
    pub attest: Vec<u8>,
    /// `TPMT_SIGNATURE` by the AK over `attest`.
    pub signature: Vec<u8>,
    /// `TPMT_PUBLIC` of the AK.
    pub ak_public: Vec<u8>,
    /// The AK's TPM name: nameAlg (SHA-256) ‖ SHA-256(`ak_public`).
    pub ak_name: Vec<u8>,
    /// The AK's qualified name as a primary key in the endorsement
    /// hierarchy: what the quotes carry as `qualifiedSigner`.
    pub ak_qualified_name: Vec<u8>,
    /// The hash the AK signs with (SHA-256, or SHA-1 for
    /// [`TpmSampleBuilder::sha1_signature`]).
    pub sig_hash: u16,
    /// The AK certificate (DER).
    pub ak_cert: Vec<u8>,
    /// Certificates between the AK certificate and the root (DER), leaf side first.
    pub intermediates: Vec<Vec<u8>>,
    /// The root the chain ends at (DER); for `.wrong_root(true)` samples a
    /// root that [`TpmSample::roots`] does not hold.
    pub root: Vec<u8>,
    pub root_pem: String,
    /// The quoted PCR values, as sent with the quote: bank → index → value.
    pub pcrs: Pcrs,
    /// The crypto-agile TCG event log.
    pub event_log: Vec<u8>,
    /// The quote's extraData.
    pub nonce: Vec<u8>,
    pub ak_kind: AkKind,
    /// PCR banks (hash algorithm ids), in quote selection order.
    pub banks: Vec<u16>,
    /// Quoted PCR indices, ascending.
    pub pcr_selection: Vec<u32>,
    /// What the default SecureBoot event in PCR 7 says (`None`: the builder
    /// left it out; events added with [`TpmSampleBuilder::event`] may say otherwise).
    pub secure_boot: Option<bool>,
    pub reset_count: u32,
    pub restart_count: u32,
    /// `TPMS_CLOCK_INFO.clock` (milliseconds) of every attest the sample makes.
    pub clock: u64,
    pub firmware_version: u64,
    /// The sample's verification time.
    pub at: UnixTime,
}

/// `TPMS_CLOCK_INFO` and firmwareVersion, shared by every attest of a sample.
#[derive(Debug, Clone, Copy)]
struct Clock {
    clock: u64,
    reset_count: u32,
    restart_count: u32,
    firmware_version: u64,
}

impl TpmSample {
    pub fn builder() -> TpmSampleBuilder {
        TpmSampleBuilder::default()
    }

    /// The evidence as `attesta_evidence::tpm::verify` takes it: the quote,
    /// the AK as a `TPMT_PUBLIC`, its chain, the PCR values and the log.
    pub fn evidence(&self) -> TpmEvidence<'_> {
        TpmEvidence {
            quotes: vec![QuoteParts {
                attest: &self.attest,
                signature: &self.signature,
            }],
            ak_public: AkPublic::Tpmt(&self.ak_public),
            ak_cert: Some(&self.ak_cert),
            intermediates: self.intermediates.clone(),
            pcrs: self.pcrs.clone(),
            event_log: Some(&self.event_log),
        }
    }

    /// The process's test TPM root, configured (never embedded).
    pub fn roots(&self) -> TrustRoots {
        TrustRoots::empty().with_configured(RootKind::Tpm, test_root_der())
    }

    /// The builder's verification time (inside the default AK certificate
    /// validity; a custom [`TpmSampleBuilder::ak_cert_validity`] decides
    /// whether it still is).
    pub fn verify_at(&self) -> UnixTime {
        self.at
    }

    /// A `TPMT_SIGNATURE` by the AK over `msg` (SHA-256, the AK's scheme):
    /// re-sign a mutated attest to get past the signature check.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        sign(self.ak_kind, self.sig_hash, msg)
    }

    fn clock_info(&self) -> Clock {
        Clock {
            clock: self.clock,
            reset_count: self.reset_count,
            restart_count: self.restart_count,
            firmware_version: self.firmware_version,
        }
    }

    /// A fresh quote of the same PCRs (same clock) with `nonce` as extraData,
    /// and its signature.
    pub fn quote_over(&self, nonce: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let attest = quote_attest(
            &self.ak_qualified_name,
            self.sig_hash,
            nonce,
            self.clock_info(),
            &self.banks,
            &self.pcr_selection,
            &self.pcrs,
        );
        let sig = self.sign(&attest);
        (attest, sig)
    }

    /// A TPM2_Certify-shaped `TPMS_ATTEST` over `object_public` (a
    /// `TPMT_PUBLIC` or `TPM2B_PUBLIC`) with `qualifying` as extraData, and
    /// the AK's signature. The certified name is the object's TPM name; its
    /// qualified name is that of a primary key in the owner hierarchy.
    ///
    /// Panics if `object_public` does not parse or has an unknown nameAlg;
    /// use [`TpmSample::certify_named`] to certify arbitrary names.
    pub fn certify(&self, object_public: &[u8], qualifying: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let public = attesta_evidence::tpm::structures::Public::parse(object_public)
            .expect("certify: object_public is not a TPMT_PUBLIC");
        let name = public
            .name()
            .expect("certify: object_public has an unknown nameAlg");
        let qualified = qualified_name(public.name_alg, &name);
        self.certify_named(&name, &qualified, qualifying)
    }

    /// A TPM2_Certify-shaped `TPMS_ATTEST` stating any name and qualified
    /// name (to forge a certification of another object), and its signature.
    pub fn certify_named(
        &self,
        name: &[u8],
        qualified_name: &[u8],
        qualifying: &[u8],
    ) -> (Vec<u8>, Vec<u8>) {
        let mut body = Vec::new();
        tpm2b(&mut body, name);
        tpm2b(&mut body, qualified_name);
        let attest = attest(
            TPM_ST_ATTEST_CERTIFY,
            &self.ak_qualified_name,
            qualifying,
            self.clock_info(),
            &body,
        );
        let sig = self.sign(&attest);
        (attest, sig)
    }

    /// The AK public key as a JWK (what the MAA TPM protocol sends).
    pub fn ak_jwk(&self) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        match ak_key(self.ak_kind) {
            PublicKey::Rsa { modulus, exponent } => serde_json::json!({
                "kty": "RSA",
                "n": b64.encode(modulus),
                "e": b64.encode(trim_zeros(&exponent.to_be_bytes())),
            }),
            PublicKey::Ecc { x, y, .. } => serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64.encode(x),
                "y": b64.encode(y),
            }),
        }
    }
}

/// Builder for [`TpmSample`]; the defaults give a quote that verifies with
/// `TpmSettings::default()` (PCRs 0–23 in the SHA-1 and SHA-256 banks, RSA
/// AK under the intermediate, secure boot on).
#[derive(Debug, Clone)]
pub struct TpmSampleBuilder {
    ak: AkKind,
    banks: Vec<u16>,
    pcrs: Vec<u32>,
    nonce: Vec<u8>,
    secure_boot: Option<bool>,
    events: Vec<LogEvent>,
    log_size_at_least: usize,
    intermediate: bool,
    validity: Option<(UnixTime, UnixTime)>,
    reset_count: u32,
    restart_count: u32,
    clock: Option<u64>,
    firmware_version: u64,
    at: u64,
    wrong_root: bool,
    sha1: bool,
    sha384: bool,
    untouched: Vec<u32>,
}

impl Default for TpmSampleBuilder {
    fn default() -> Self {
        Self {
            ak: AkKind::Rsa2048Rsassa,
            banks: vec![TPM_ALG_SHA1, TPM_ALG_SHA256],
            pcrs: (0..24).collect(),
            nonce: (0u8..32).collect(),
            secure_boot: Some(true),
            events: Vec::new(),
            log_size_at_least: 0,
            intermediate: true,
            validity: None,
            reset_count: 7,
            restart_count: 0,
            clock: None,
            firmware_version: 0x2023_0101_0001_0000,
            at: DEFAULT_AT,
            wrong_root: false,
            sha1: false,
            sha384: false,
            untouched: Vec::new(),
        }
    }
}

impl TpmSampleBuilder {
    /// The AK's key type and scheme (default RSA-2048 RSASSA).
    pub fn ak(mut self, kind: AkKind) -> Self {
        self.ak = kind;
        self
    }
    /// PCR banks as TPM hash algorithm ids (SHA-1, -256, -384, -512), in
    /// selection order; default SHA-1 and SHA-256. Panics at build on an
    /// unknown algorithm or an empty list.
    pub fn banks(mut self, banks: &[u16]) -> Self {
        self.banks = banks.to_vec();
        self
    }
    /// Quoted PCR indices (default 0–23, what `TpmSettings::default()` requires).
    pub fn pcrs(mut self, pcrs: &[u32]) -> Self {
        let mut p = pcrs.to_vec();
        p.sort_unstable();
        p.dedup();
        self.pcrs = p;
        self
    }
    /// The quote's extraData (default the bytes 0..32).
    pub fn nonce(mut self, nonce: &[u8]) -> Self {
        self.nonce = nonce.to_vec();
        self
    }
    /// Log a SecureBoot variable event in PCR 7 holding 1 (`Some(true)`,
    /// the default) or 0, or none at all.
    pub fn secure_boot(mut self, on: Option<bool>) -> Self {
        self.secure_boot = on;
        self
    }
    /// An extra event, measured and logged after the default ones (in order).
    pub fn event(mut self, e: LogEvent) -> Self {
        self.events.push(e);
        self
    }
    /// Pad the log with boot-application (PCR 4) and IPL (PCR 8/9) events,
    /// all measured, until it is at least `bytes` long.
    pub fn log_size_at_least(mut self, bytes: usize) -> Self {
        self.log_size_at_least = bytes;
        self
    }
    /// Issue the AK certificate under the intermediate CA (default) or
    /// directly under the root.
    pub fn intermediate(mut self, on: bool) -> Self {
        self.intermediate = on;
        self
    }
    /// The AK certificate's validity (default `at` − 1 year .. `at` + 5 years).
    pub fn ak_cert_validity(mut self, not_before: UnixTime, not_after: UnixTime) -> Self {
        self.validity = Some((not_before, not_after));
        self
    }
    /// `TPMS_CLOCK_INFO.resetCount` (default 7).
    pub fn reset_count(mut self, n: u32) -> Self {
        self.reset_count = n;
        self
    }
    /// `TPMS_CLOCK_INFO.restartCount` (default 0).
    pub fn restart_count(mut self, n: u32) -> Self {
        self.restart_count = n;
        self
    }
    /// `TPMS_CLOCK_INFO.clock` in milliseconds (default one day plus one
    /// second per reset): an earlier clock with the same reset count makes a
    /// quote from earlier in the same power cycle.
    pub fn clock(mut self, ms: u64) -> Self {
        self.clock = Some(ms);
        self
    }
    /// `TPMS_ATTEST.firmwareVersion` (default 0x2023_0101_0001_0000).
    pub fn firmware_version(mut self, v: u64) -> Self {
        self.firmware_version = v;
        self
    }
    /// The sample's verification time (default [`DEFAULT_AT`]).
    pub fn at(mut self, t: UnixTime) -> Self {
        self.at = t.0;
        self
    }
    /// Chain the AK certificate to a second test root with the same names
    /// but another key, which [`TpmSample::roots`] does not hold (`AkChainUntrusted`).
    pub fn wrong_root(mut self, on: bool) -> Self {
        self.wrong_root = on;
        self
    }

    /// Sign the quote with SHA-1 (RSASSA-PKCS1-v1_5; the PCR digest is
    /// SHA-1 too), as Windows PCP AKs do: refused unless the verifier allows
    /// SHA-1. Panics at build with an AK other than
    /// [`AkKind::Rsa2048Rsassa`].
    pub fn sha1_signature(mut self, on: bool) -> Self {
        self.sha1 = on;
        self
    }

    /// Leave PCR `pcr` out of the firmware's measurements: neither the TPM
    /// nor the log gets its default events (it stays at its reset value).
    pub fn untouched_pcr(mut self, pcr: u32) -> Self {
        self.untouched.push(pcr);
        self
    }

    /// Sign the quote with SHA-384 (an RSA AK's scheme with SHA-384; a
    /// P-384 AK always signs with SHA-384).
    pub fn sha384_signature(mut self, on: bool) -> Self {
        self.sha384 = on;
        self
    }

    pub fn build(self) -> TpmSample {
        build(self)
    }
}

// ------------------------------------------------------------------ keys

fn rsa_ak() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 keygen"))
}

fn ecc384_ak() -> &'static EcdsaKeyPair {
    static K: OnceLock<EcdsaKeyPair> = OnceLock::new();
    K.get_or_init(|| {
        EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("P-384 keygen")
    })
}

fn ecc_ak() -> &'static EcdsaKeyPair {
    static K: OnceLock<EcdsaKeyPair> = OnceLock::new();
    K.get_or_init(|| {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 keygen")
    })
}

fn ak_key(kind: AkKind) -> PublicKey {
    match kind {
        AkKind::Rsa2048Rsassa | AkKind::Rsa2048Pss => {
            let pk = rsa_ak().public_key();
            let e = pk.exponent();
            let exponent = e
                .big_endian_without_leading_zero()
                .iter()
                .fold(0u32, |a, &b| (a << 8) | u32::from(b));
            PublicKey::Rsa {
                modulus: pk.modulus().big_endian_without_leading_zero().to_vec(),
                exponent,
            }
        }
        AkKind::EccP256 => {
            let point = ecc_ak().public_key().as_ref();
            PublicKey::Ecc {
                curve: TPM_ECC_NIST_P256,
                x: point[1..33].to_vec(),
                y: point[33..65].to_vec(),
            }
        }
        AkKind::EccP384 => {
            let point = ecc384_ak().public_key().as_ref();
            PublicKey::Ecc {
                curve: TPM_ECC_NIST_P384,
                x: point[1..49].to_vec(),
                y: point[49..97].to_vec(),
            }
        }
    }
}

fn sign(kind: AkKind, sig_hash: u16, msg: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    let mut out = Vec::new();
    match kind {
        AkKind::Rsa2048Rsassa if sig_hash == TPM_ALG_SHA1 => {
            out.extend(TPM_ALG_RSASSA.to_be_bytes());
            out.extend(TPM_ALG_SHA1.to_be_bytes());
            tpm2b(&mut out, &rsa_pkcs1_sha1_sign(rsa_ak(), msg));
        }
        AkKind::Rsa2048Rsassa | AkKind::Rsa2048Pss => {
            let sha384 = sig_hash == TPM_ALG_SHA384;
            let (alg, padding) = match (kind == AkKind::Rsa2048Pss, sha384) {
                (true, false) => (TPM_ALG_RSAPSS, &RSA_PSS_SHA256),
                (true, true) => (TPM_ALG_RSAPSS, &RSA_PSS_SHA384),
                (false, false) => (TPM_ALG_RSASSA, &RSA_PKCS1_SHA256),
                (false, true) => (TPM_ALG_RSASSA, &RSA_PKCS1_SHA384),
            };
            let k = rsa_ak();
            let mut sig = vec![0u8; k.public_modulus_len()];
            k.sign(padding, &rng, msg, &mut sig).expect("RSA sign");
            out.extend(alg.to_be_bytes());
            out.extend(
                if sha384 {
                    TPM_ALG_SHA384
                } else {
                    TPM_ALG_SHA256
                }
                .to_be_bytes(),
            );
            tpm2b(&mut out, &sig);
        }
        AkKind::EccP384 => {
            let sig = ecc384_ak().sign(&rng, msg).expect("P-384 sign");
            let sig = sig.as_ref();
            out.extend(TPM_ALG_ECDSA.to_be_bytes());
            out.extend(TPM_ALG_SHA384.to_be_bytes());
            tpm2b(&mut out, &sig[..48]);
            tpm2b(&mut out, &sig[48..96]);
        }
        AkKind::EccP256 => {
            let sig = ecc_ak().sign(&rng, msg).expect("P-256 sign");
            let sig = sig.as_ref();
            out.extend(TPM_ALG_ECDSA.to_be_bytes());
            out.extend(TPM_ALG_SHA256.to_be_bytes());
            tpm2b(&mut out, &sig[..32]);
            tpm2b(&mut out, &sig[32..64]);
        }
    }
    out
}

/// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017, 8.2.1): EM = 00 01 FF… 00 ‖
/// DigestInfo(SHA-1, H(msg)), signature = EM^d mod n, with n and d read
/// from the key's PKCS#8 (RFC 8017 A.1.2 `RSAPrivateKey`).
fn rsa_pkcs1_sha1_sign(key: &RsaKeyPair, msg: &[u8]) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    use num_bigint::BigUint;
    let pkcs8 = key.as_der().expect("RSA key as PKCS#8");
    // PKCS#8: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING {
    // RSAPrivateKey: SEQUENCE { version, n, e, d, … } } }.
    let outer = der_children(der_body(pkcs8.as_ref()));
    let rsa = der_children(der_body(der_body(outer[2])));
    let (n, d) = (der_body(rsa[1]), der_body(rsa[3]));
    let k = key.public_modulus_len();
    let digest_info: &[u8] = &[
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    let h = hash(TPM_ALG_SHA1, msg).expect("SHA-1");
    let mut em = vec![0x00, 0x01];
    em.resize(k - digest_info.len() - h.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(digest_info);
    em.extend_from_slice(&h);
    let s = BigUint::from_bytes_be(&em)
        .modpow(&BigUint::from_bytes_be(d), &BigUint::from_bytes_be(n))
        .to_bytes_be();
    let mut sig = vec![0u8; k - s.len()];
    sig.extend(s);
    sig
}

/// The contents of the DER TLV at the start of `tlv`.
fn der_body(tlv: &[u8]) -> &[u8] {
    let (len, at) = match tlv[1] {
        l if l < 0x80 => (l as usize, 2),
        l => {
            let n = (l & 0x7f) as usize;
            let len = tlv[2..2 + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (len, 2 + n)
        }
    };
    &tlv[at..at + len]
}

/// The TLVs inside a DER SEQUENCE's contents.
fn der_children(mut body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let inner = der_body(body);
        let header = inner.as_ptr() as usize - body.as_ptr() as usize;
        let (tlv, rest) = body.split_at(header + inner.len());
        out.push(tlv);
        body = rest;
    }
    out
}

/// The AK's `TPMT_PUBLIC`.
fn ak_public(kind: AkKind) -> Vec<u8> {
    let mut p = Vec::new();
    match ak_key(kind) {
        PublicKey::Rsa { modulus, exponent } => {
            let scheme = if kind == AkKind::Rsa2048Pss {
                TPM_ALG_RSAPSS
            } else {
                TPM_ALG_RSASSA
            };
            p.extend(TPM_ALG_RSA.to_be_bytes());
            p.extend(TPM_ALG_SHA256.to_be_bytes());
            p.extend(AK_ATTRIBUTES.to_be_bytes());
            tpm2b(&mut p, &[]); // authPolicy
            p.extend(TPM_ALG_NULL.to_be_bytes()); // symmetric
            p.extend(scheme.to_be_bytes());
            p.extend(TPM_ALG_SHA256.to_be_bytes());
            p.extend(2048u16.to_be_bytes());
            // A TPM encodes the default exponent 65537 as 0.
            let e = if exponent == 65_537 { 0 } else { exponent };
            p.extend(e.to_be_bytes());
            tpm2b(&mut p, &modulus);
        }
        PublicKey::Ecc { curve, x, y } => {
            let scheme_hash = if curve == TPM_ECC_NIST_P384 {
                TPM_ALG_SHA384
            } else {
                TPM_ALG_SHA256
            };
            p.extend(TPM_ALG_ECC.to_be_bytes());
            p.extend(TPM_ALG_SHA256.to_be_bytes());
            p.extend(AK_ATTRIBUTES.to_be_bytes());
            tpm2b(&mut p, &[]);
            p.extend(TPM_ALG_NULL.to_be_bytes()); // symmetric
            p.extend(TPM_ALG_ECDSA.to_be_bytes());
            p.extend(scheme_hash.to_be_bytes());
            p.extend(curve.to_be_bytes());
            p.extend(TPM_ALG_NULL.to_be_bytes()); // kdf
            tpm2b(&mut p, &x);
            tpm2b(&mut p, &y);
        }
    }
    p
}

/// A `TPMT_PUBLIC` for an RSA public key (nameAlg SHA-256, no symmetric
/// algorithm, scheme NULL, keyBits from the modulus length) with the given
/// objectAttributes, for TPM2_Certify tests. Exponent 65537 is encoded as 0,
/// as TPMs do.
pub fn rsa_key_public(modulus: &[u8], exponent: u32, object_attributes: u32) -> Vec<u8> {
    let modulus = trim_zeros(modulus);
    let mut p = Vec::new();
    p.extend(TPM_ALG_RSA.to_be_bytes());
    p.extend(TPM_ALG_SHA256.to_be_bytes());
    p.extend(object_attributes.to_be_bytes());
    tpm2b(&mut p, &[]);
    p.extend(TPM_ALG_NULL.to_be_bytes()); // symmetric
    p.extend(TPM_ALG_NULL.to_be_bytes()); // scheme
    p.extend(((modulus.len() * 8) as u16).to_be_bytes());
    let e = if exponent == 65_537 { 0 } else { exponent };
    p.extend(e.to_be_bytes());
    tpm2b(&mut p, modulus);
    p
}

/// The TPM name of a `TPMT_PUBLIC` with the given nameAlg.
fn tpm_name(name_alg: u16, public: &[u8]) -> Vec<u8> {
    let mut n = name_alg.to_be_bytes().to_vec();
    n.extend(hash(name_alg, public).expect("known nameAlg"));
    n
}

/// TPM_RH_OWNER and TPM_RH_ENDORSEMENT (Part 2, 7.4).
pub const TPM_RH_OWNER: u32 = 0x4000_0001;
pub const TPM_RH_ENDORSEMENT: u32 = 0x4000_000B;

/// The qualified name of a primary object in the owner hierarchy:
/// nameAlg ‖ H(TPM_RH_OWNER ‖ name) (Part 1, "Qualified Name").
fn qualified_name(name_alg: u16, name: &[u8]) -> Vec<u8> {
    primary_qualified_name(name_alg, TPM_RH_OWNER, name)
}

/// The qualified name of a primary object under `hierarchy`:
/// nameAlg ‖ H(hierarchy handle ‖ name).
pub fn primary_qualified_name(name_alg: u16, hierarchy: u32, name: &[u8]) -> Vec<u8> {
    let mut buf = hierarchy.to_be_bytes().to_vec();
    buf.extend_from_slice(name);
    let mut n = name_alg.to_be_bytes().to_vec();
    n.extend(hash(name_alg, &buf).expect("known nameAlg"));
    n
}

// ------------------------------------------------------- TPM structures

fn tpm2b(out: &mut Vec<u8>, v: &[u8]) {
    out.extend((v.len() as u16).to_be_bytes());
    out.extend_from_slice(v);
}

fn trim_zeros(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[first..]
}

/// A `TPMS_ATTEST` with the given type-specific body.
fn attest(kind: u16, signer: &[u8], extra: &[u8], c: Clock, body: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend(TPM_GENERATED_VALUE.to_be_bytes());
    a.extend(kind.to_be_bytes());
    tpm2b(&mut a, signer);
    tpm2b(&mut a, extra);
    a.extend(c.clock.to_be_bytes());
    a.extend(c.reset_count.to_be_bytes());
    a.extend(c.restart_count.to_be_bytes());
    a.push(1); // safe
    a.extend(c.firmware_version.to_be_bytes());
    a.extend_from_slice(body);
    a
}

/// A quote's `TPMS_ATTEST`: `TPML_PCR_SELECTION` of `pcrs` in every bank,
/// and the SHA-256 (the AK's scheme hash) of the selected values in
/// selection order.
fn quote_attest(
    signer: &[u8],
    sig_hash: u16,
    nonce: &[u8],
    c: Clock,
    banks: &[u16],
    pcrs: &[u32],
    values: &Pcrs,
) -> Vec<u8> {
    let max = pcrs.iter().copied().max().unwrap_or(0) as usize;
    let select_len = (max / 8 + 1).max(3);
    let mut bitmap = vec![0u8; select_len];
    for &p in pcrs {
        bitmap[p as usize / 8] |= 1 << (p % 8);
    }
    let mut body = Vec::new();
    body.extend((banks.len() as u32).to_be_bytes());
    let mut concat = Vec::new();
    for &bank in banks {
        body.extend(bank.to_be_bytes());
        body.push(select_len as u8);
        body.extend_from_slice(&bitmap);
        for p in pcrs {
            concat.extend_from_slice(&values[&bank][p]);
        }
    }
    tpm2b(&mut body, &hash(sig_hash, &concat).expect("known hash"));
    attest(TPM_ST_ATTEST_QUOTE, signer, nonce, c, &body)
}

// --------------------------------------------------------------- the log

/// `UEFI_VARIABLE_DATA` for a variable (GUID in its text form), as
/// `EV_EFI_VARIABLE_*` events carry it. Panics on a malformed GUID.
pub fn uefi_variable_data(guid: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let hexs: String = guid.chars().filter(|c| *c != '-').collect();
    let g = hex::decode(&hexs).expect("GUID is hex");
    assert_eq!(g.len(), 16, "a GUID has 16 bytes");
    let mut out = Vec::new();
    // Data1..Data3 little-endian, Data4 as bytes.
    out.extend(g[0..4].iter().rev());
    out.extend(g[4..6].iter().rev());
    out.extend(g[6..8].iter().rev());
    out.extend_from_slice(&g[8..16]);
    let units: Vec<u16> = name.encode_utf16().collect();
    out.extend((units.len() as u64).to_le_bytes());
    out.extend((data.len() as u64).to_le_bytes());
    for u in units {
        out.extend(u.to_le_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `EFI_CERT_X509_GUID`, the signature type of certificate entries.
const EFI_CERT_X509: &str = "A5C059A1-94E4-4AA7-87B5-AB155C2BF072";

/// A GUID's bytes (Data1..Data3 little-endian, Data4 as bytes).
fn guid_bytes(guid: &str) -> Vec<u8> {
    uefi_variable_data(guid, "", &[])[..16].to_vec()
}

/// One `EFI_SIGNATURE_LIST` holding one certificate entry
/// (`EFI_SIGNATURE_DATA`: owner GUID, then the certificate), as the
/// signature databases PK, KEK, db and dbx hold them.
pub fn signature_list(owner: &str, certificate: &[u8]) -> Vec<u8> {
    let entry = signature_data(owner, certificate);
    let mut out = guid_bytes(EFI_CERT_X509);
    out.extend(((28 + entry.len()) as u32).to_le_bytes()); // SignatureListSize
    out.extend(0u32.to_le_bytes()); // SignatureHeaderSize
    out.extend((entry.len() as u32).to_le_bytes()); // SignatureSize
    out.extend(entry);
    out
}

/// One `EFI_SIGNATURE_DATA` (owner GUID, then the signature), as an
/// `EV_EFI_VARIABLE_AUTHORITY` event records the db entry that allowed an
/// image.
pub fn signature_data(owner: &str, certificate: &[u8]) -> Vec<u8> {
    let mut out = guid_bytes(owner);
    out.extend_from_slice(certificate);
    out
}

/// The owner GUID the testkit's signature entries carry.
const TESTKIT_OWNER: &str = "A77E57A0-0000-4000-8000-000000000001";

/// One SIPA item (Windows boot configuration log, `EV_EVENT_TAG` data):
/// u32 LE type, u32 LE size, the value.
pub fn sipa_item(kind: u32, value: &[u8]) -> Vec<u8> {
    let mut out = kind.to_le_bytes().to_vec();
    out.extend((value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// A SIPA container item whose value is the nested items, concatenated.
/// `kind` is written as given (include the container flag 0x0001_0000 and
/// any aggregation bits yourself).
pub fn sipa_container(kind: u32, children: &[Vec<u8>]) -> Vec<u8> {
    sipa_item(kind, &children.concat())
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// `UEFI_IMAGE_LOAD_EVENT` for an image on the ESP (a media file path device
/// path node and the end node).
fn image_load_event(address: u64, length: u64, path: &str) -> Vec<u8> {
    let file = utf16z(path);
    let mut dp = vec![0x04, 0x04];
    dp.extend(((4 + file.len()) as u16).to_le_bytes());
    dp.extend(file);
    dp.extend([0x7f, 0xff, 0x04, 0x00]);
    let mut out = Vec::new();
    out.extend(address.to_le_bytes());
    out.extend(length.to_le_bytes());
    out.extend(0u64.to_le_bytes()); // link-time address
    out.extend((dp.len() as u64).to_le_bytes());
    out.extend(dp);
    out
}

/// The firmware part of a UEFI boot, PCRs 0–7, as OVMF-like firmware logs it.
fn firmware_events(secure_boot: Option<bool>) -> Vec<LogEvent> {
    let sep = |pcr| LogEvent::new(pcr, EV_SEPARATOR, &[0, 0, 0, 0]);
    let mut blob = Vec::new();
    blob.extend(0xffc0_0000u64.to_le_bytes());
    blob.extend(0x0034_0000u64.to_le_bytes());
    let mut ev = vec![
        LogEvent::new(
            0,
            EV_S_CRTM_VERSION,
            &utf16z("Attesta Testkit Firmware 1.0"),
        ),
        LogEvent::new(0, EV_EFI_PLATFORM_FIRMWARE_BLOB, &blob)
            .measuring(b"attesta testkit firmware volume"),
    ];
    if let Some(on) = secure_boot {
        ev.push(LogEvent::new(
            7,
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            &uefi_variable_data(EFI_GLOBAL_VARIABLE, "SecureBoot", &[u8::from(on)]),
        ));
    }
    for (guid, name, data) in [
        (EFI_GLOBAL_VARIABLE, "PK", &b"test PK certificate"[..]),
        (EFI_GLOBAL_VARIABLE, "KEK", b"test KEK certificate"),
        (EFI_IMAGE_SECURITY_DATABASE, "db", b"test db certificate"),
        (EFI_IMAGE_SECURITY_DATABASE, "dbx", b"test dbx certificate"),
    ] {
        ev.push(LogEvent::new(
            7,
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            &uefi_variable_data(guid, name, &signature_list(TESTKIT_OWNER, data)),
        ));
    }
    ev.push(sep(7));
    ev.push(LogEvent::new(
        1,
        EV_EFI_VARIABLE_BOOT,
        &uefi_variable_data(EFI_GLOBAL_VARIABLE, "BootOrder", &[0, 0]),
    ));
    ev.push(LogEvent::new(
        4,
        EV_EFI_ACTION,
        b"Calling EFI Application from Boot Option",
    ));
    for pcr in 0..=6 {
        ev.push(sep(pcr));
    }
    ev.push(LogEvent::new(
        7,
        EV_EFI_VARIABLE_AUTHORITY,
        &uefi_variable_data(
            EFI_IMAGE_SECURITY_DATABASE,
            "db",
            &signature_data(TESTKIT_OWNER, b"test db certificate"),
        ),
    ));
    ev.push(
        LogEvent::new(
            4,
            EV_EFI_BOOT_SERVICES_APPLICATION,
            &image_load_event(0x7e1c_0000, 0x1_5000, "\\EFI\\BOOT\\BOOTX64.EFI"),
        )
        .measuring(b"authenticode hash of BOOTX64.EFI"),
    );
    ev.push(LogEvent::new(
        5,
        EV_EFI_ACTION,
        b"Exit Boot Services Invocation",
    ));
    ev
}

/// Padding event `i`: a boot application in PCR 4 or a boot loader command
/// in PCR 8/9, alternating.
fn padding_event(i: usize) -> LogEvent {
    match i % 3 {
        0 => LogEvent::new(
            4,
            EV_EFI_BOOT_SERVICES_APPLICATION,
            &image_load_event(
                0x7d00_0000 + (i as u64) * 0x1000,
                0x2_0000,
                &format!("\\EFI\\attesta\\module{i:04}.efi"),
            ),
        )
        .measuring(format!("authenticode hash of module{i:04}.efi").as_bytes()),
        1 => LogEvent::new(
            8,
            EV_IPL,
            format!("grub_cmd: menuentry 'Attesta testkit entry {i}' --class os {{\0").as_bytes(),
        ),
        _ => LogEvent::new(
            9,
            EV_IPL,
            format!("/boot/vmlinuz-6.1.0-attesta-{i} root=/dev/vda1 ro console=ttyS0\0").as_bytes(),
        ),
    }
}

/// The Spec ID Event03 header event, in the SHA-1 event format.
fn spec_id_event(banks: &[u16]) -> Vec<u8> {
    let mut data = b"Spec ID Event03\0".to_vec();
    data.extend(0u32.to_le_bytes()); // platformClass: client
    data.extend([0, 2, 0, 2]); // spec version 2.0, errata 0, uintnSize 2 (UINT64)
    data.extend((banks.len() as u32).to_le_bytes());
    for &b in banks {
        data.extend(b.to_le_bytes());
        data.extend((digest_size(b).expect("known bank") as u16).to_le_bytes());
    }
    data.push(0); // vendorInfoSize
    let mut out = Vec::new();
    out.extend(0u32.to_le_bytes());
    out.extend(EV_NO_ACTION.to_le_bytes());
    out.extend([0u8; 20]);
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

/// A `TCG_PCR_EVENT2` record.
fn event2(e: &LogEvent, banks: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(e.pcr.to_le_bytes());
    out.extend(e.event_type.to_le_bytes());
    out.extend((banks.len() as u32).to_le_bytes());
    let logged = e.digest_override.as_deref().unwrap_or(e.measured_bytes());
    for &b in banks {
        out.extend(b.to_le_bytes());
        if e.event_type == EV_NO_ACTION {
            out.extend(vec![0u8; digest_size(b).expect("known bank")]);
        } else {
            out.extend(hash(b, logged).expect("known bank"));
        }
    }
    out.extend((e.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&e.data);
    out
}

/// PCR values after the events: what the TPM holds. PCRs no event extends
/// keep their reset value (0, or all ones for the D-RTM PCRs 17–22).
fn pcr_values(events: &[LogEvent], banks: &[u16], selection: &[u32]) -> Pcrs {
    let mut out: Pcrs = BTreeMap::new();
    for &bank in banks {
        let size = digest_size(bank).expect("known bank");
        let mut v: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for e in events {
            if e.event_type == EV_NO_ACTION {
                if e.pcr == 0
                    && let Some(rest) = e.data.strip_prefix(b"StartupLocality\0")
                    && let Some(&loc) = rest.first()
                {
                    let mut start = vec![0u8; size];
                    start[size - 1] = loc;
                    v.insert(0, start);
                }
                continue;
            }
            let cur = v.entry(e.pcr).or_insert_with(|| vec![0u8; size]);
            let mut buf = cur.clone();
            buf.extend(hash(bank, e.measured_bytes()).expect("known bank"));
            *cur = hash(bank, &buf).expect("known bank");
        }
        let bank_values = selection
            .iter()
            .map(|&p| {
                let reset = if (17..=22).contains(&p) { 0xff } else { 0 };
                (p, v.get(&p).cloned().unwrap_or(vec![reset; size]))
            })
            .collect();
        out.insert(bank, bank_values);
    }
    out
}

// ------------------------------------------------------------------- PKI

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: Vec<u8>,
}

struct Hierarchy {
    root: Ca,
    intermediate: Ca,
}

fn odt(t: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t as i64).expect("time in range")
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d.push(DnType::OrganizationName, "Attesta Testkit");
    d.push(DnType::CountryName, "US");
    d
}

fn ca_params(cn: &str, serial: u64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = odt(CA_WINDOW.0);
    p.not_after = odt(CA_WINDOW.1);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn make_hierarchy() -> Hierarchy {
    let root_key = KeyPair::generate().expect("CA keygen");
    let root_params = ca_params("Attesta Test TPM Root CA", 1);
    let root_der = root_params
        .self_signed(&root_key)
        .expect("root")
        .der()
        .to_vec();
    let root = Ca {
        issuer: Issuer::new(root_params, root_key),
        der: root_der,
    };
    let int_key = KeyPair::generate().expect("CA keygen");
    let int_params = ca_params("Attesta Test TPM Intermediate CA", 2);
    let int_der = int_params
        .signed_by(&int_key, &root.issuer)
        .expect("intermediate")
        .der()
        .to_vec();
    Hierarchy {
        root,
        intermediate: Ca {
            issuer: Issuer::new(int_params, int_key),
            der: int_der,
        },
    }
}

fn hierarchy(rogue: bool) -> &'static Hierarchy {
    static TRUSTED: OnceLock<Hierarchy> = OnceLock::new();
    static ROGUE: OnceLock<Hierarchy> = OnceLock::new();
    if rogue {
        ROGUE.get_or_init(make_hierarchy)
    } else {
        TRUSTED.get_or_init(make_hierarchy)
    }
}

/// The process's test TPM root certificate (DER), self-signed.
pub fn test_root_der() -> Vec<u8> {
    hierarchy(false).root.der.clone()
}

/// One of the test TPM CAs, as the issuer of a CRL ([`tpm_crl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmCa {
    /// The test root [`TpmSample::roots`] holds.
    Root,
    /// The intermediate CA under it (samples built with
    /// [`TpmSampleBuilder::intermediate`]).
    Intermediate,
    /// A second root with the same name as [`TpmCa::Root`] and another key
    /// (its CRLs name the trusted root but do not verify with its key).
    RogueRoot,
}

/// A CRL (DER) signed by the test TPM CA `ca`, with thisUpdate and
/// nextUpdate as given, listing the certificates with the serial numbers
/// `revoked` (their DER integer contents, as
/// `X509Certificate::raw_serial` gives them).
pub fn tpm_crl(
    ca: TpmCa,
    revoked: &[&[u8]],
    this_update: UnixTime,
    next_update: UnixTime,
) -> Vec<u8> {
    let issuer = match ca {
        TpmCa::Root => &hierarchy(false).root,
        TpmCa::Intermediate => &hierarchy(false).intermediate,
        TpmCa::RogueRoot => &hierarchy(true).root,
    };
    let params = rcgen::CertificateRevocationListParams {
        this_update: odt(this_update.0),
        next_update: odt(next_update.0),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| rcgen::RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: odt(this_update.0),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    params
        .signed_by(&issuer.issuer)
        .expect("test TPM CRL")
        .der()
        .to_vec()
}

/// The AK certificate: the AK's key, digital signature, the TCG AIK
/// certificate extended key usage (2.23.133.8.3).
fn ak_cert(kind: AkKind, issuer: &Ca, window: (u64, u64)) -> Vec<u8> {
    let spki = ak_key(kind).spki_der().expect("AK SPKI");
    let spki = SubjectPublicKeyInfo::from_der(&spki).expect("rcgen reads the AK SPKI");
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("Attesta Test TPM AK");
    p.serial_number = Some(SerialNumber::from(0x0a4b_0000u64 | kind as u64));
    p.not_before = odt(window.0);
    p.not_after = odt(window.1);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![2, 23, 133, 8, 3])];
    p.signed_by(&spki, &issuer.issuer)
        .expect("AK certificate")
        .der()
        .to_vec()
}

// ----------------------------------------------------------------- build

fn build(b: TpmSampleBuilder) -> TpmSample {
    assert!(!b.banks.is_empty(), "a TPM sample needs at least one bank");
    for &bank in &b.banks {
        assert!(
            digest_size(bank).is_some(),
            "unknown PCR bank {bank:#06x}: use SHA-1, SHA-256, SHA-384 or SHA-512"
        );
    }
    assert!(!b.pcrs.is_empty(), "a quote selects at least one PCR");

    // The log: header, firmware events, the caller's, then padding.
    let mut events = firmware_events(b.secure_boot);
    events.retain(|e| !b.untouched.contains(&e.pcr));
    events.extend(b.events.iter().cloned());
    let mut log = spec_id_event(&b.banks);
    for e in &events {
        log.extend(event2(e, &b.banks));
    }
    let mut i = 0;
    while log.len() < b.log_size_at_least {
        let e = padding_event(i);
        log.extend(event2(&e, &b.banks));
        events.push(e);
        i += 1;
    }
    let pcrs = pcr_values(&events, &b.banks, &b.pcrs);

    // The AK and the quote.
    assert!(
        !b.sha1 || b.ak == AkKind::Rsa2048Rsassa,
        "SHA-1 quotes are RSASSA only"
    );
    let sig_hash = if b.sha1 {
        TPM_ALG_SHA1
    } else if b.sha384 || b.ak == AkKind::EccP384 {
        TPM_ALG_SHA384
    } else {
        TPM_ALG_SHA256
    };
    let ak_public = ak_public(b.ak);
    let ak_name = tpm_name(TPM_ALG_SHA256, &ak_public);
    let ak_qualified_name = primary_qualified_name(TPM_ALG_SHA256, TPM_RH_ENDORSEMENT, &ak_name);
    let clock = Clock {
        clock: b
            .clock
            .unwrap_or(86_400_000 + u64::from(b.reset_count) * 1_000),
        reset_count: b.reset_count,
        restart_count: b.restart_count,
        firmware_version: b.firmware_version,
    };
    let attest = quote_attest(
        &ak_qualified_name,
        sig_hash,
        &b.nonce,
        clock,
        &b.banks,
        &b.pcrs,
        &pcrs,
    );
    let signature = sign(b.ak, sig_hash, &attest);

    // The chain.
    let h = hierarchy(b.wrong_root);
    let window = b
        .validity
        .map(|(nb, na)| (nb.0, na.0))
        .unwrap_or((b.at - 365 * DAY, b.at + 5 * 365 * DAY));
    let (issuer, intermediates) = if b.intermediate {
        (&h.intermediate, vec![h.intermediate.der.clone()])
    } else {
        (&h.root, Vec::new())
    };
    let ak_cert = ak_cert(b.ak, issuer, window);

    TpmSample {
        attest,
        signature,
        ak_public,
        ak_name,
        ak_qualified_name,
        sig_hash,
        ak_cert,
        intermediates,
        root: h.root.der.clone(),
        root_pem: crate::snp::pem(&h.root.der),
        pcrs,
        event_log: log,
        nonce: b.nonce,
        ak_kind: b.ak,
        banks: b.banks,
        pcr_selection: b.pcrs,
        secure_boot: b.secure_boot,
        reset_count: b.reset_count,
        restart_count: b.restart_count,
        clock: clock.clock,
        firmware_version: clock.firmware_version,
        at: UnixTime(b.at),
    }
}
