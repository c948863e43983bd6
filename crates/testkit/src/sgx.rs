//! Synthetic SGX DCAP evidence under a test PKI that mirrors Intel's.
//!
//! ```text
//! Attesta Test SGX Root CA ─┬─ PCK Processor CA ── PCK certificate (SGX extension)
//!                           └─ TCB Signing         (signs TCB info and QE identity)
//! Root CA CRL (by the root), PCK CRL (by the PCK CA)
//! ```
//!
//! [`SgxSample::builder`] makes a quote (v3 or v4) with a fresh attestation
//! key and QE report, the same quote wrapped as an Open Enclave report, and a
//! [`DcapCollateral`] signed by the test TCB signing key, in the shape Intel's
//! PCS serves. Switches produce each failure class the verifier must catch.
//! The root is only trusted via `TrustRoots::with_configured`.

use attesta_evidence::UnixTime;
use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::sgx::TcbStatus;
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationList,
    CertificateRevocationListParams, CertifiedIssuer, CustomExtension, DistinguishedName, DnType,
    IsCa, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

/// The default verification time of samples: 2030-03-17T17:46:40Z.
pub const DEFAULT_AT: u64 = 1_900_000_000;
pub(crate) const DAY: i64 = 86_400;
/// Intel's QE MRSIGNER, reused so samples look like Intel's QE.
pub const QE_MRSIGNER: [u8; 32] = [
    0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a,
    0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff,
];
pub(crate) const QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];
const SGX_OID: [u64; 9] = [1, 2, 840, 113_741, 1, 13, 1, 0, 0];

/// One synthetic quote with everything needed to verify it.
#[derive(Debug, Clone)]
pub struct SgxSample {
    /// The SGX quote (for `/attest/SgxEnclave`).
    pub quote: Vec<u8>,
    /// The same quote behind a 16-byte OE header (for `/attest/OpenEnclave`).
    pub oe_report: Vec<u8>,
    pub collateral: DcapCollateral,
    /// DER of the test root CA.
    pub root_der: Vec<u8>,
    /// DER of the PCK leaf in the quote.
    pub pck_leaf_der: Vec<u8>,
    /// A time at which every piece is valid (unless a switch expired one).
    pub at: UnixTime,
    pub mr_enclave: [u8; 32],
    pub mr_signer: [u8; 32],
    pub report_data: [u8; 64],
    pub fmspc: [u8; 6],
    /// PKCS#8 of the quote's attestation key, for [`SgxSample::requote`].
    pub attestation_key_pkcs8: Vec<u8>,
}

impl SgxSample {
    /// The same quote with other report data, signed again by the same
    /// attestation key: same platform, QE, PCK chain and collateral. A
    /// test TEE answers every request for evidence this way.
    pub fn requote(&self, report_data: [u8; 64]) -> Vec<u8> {
        const SIGNED: usize = 48 + 384;
        let mut q = self.quote.clone();
        q[SIGNED - 64..SIGNED].copy_from_slice(&report_data);
        let k = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &self.attestation_key_pkcs8,
        )
        .expect("attestation key");
        let sig = sign(&k, &q[..SIGNED]);
        // Signature data: u32 length, then the 64-byte ISV report signature.
        q[SIGNED + 4..SIGNED + 68].copy_from_slice(&sig);
        q
    }

    pub fn builder() -> SgxSampleBuilder {
        SgxSampleBuilder::default()
    }

    /// Trust roots with this sample's root configured (never embedded).
    pub fn trust_roots(&self) -> TrustRoots {
        TrustRoots::empty().with_configured(RootKind::IntelSgx, self.root_der.clone())
    }
}

/// Builder for [`SgxSample`]; defaults give a valid, up-to-date, non-debug v3 quote.
#[derive(Debug, Clone)]
pub struct SgxSampleBuilder {
    version: u16,
    debug: bool,
    kss: bool,
    config_id: Option<[u8; 64]>,
    tcb_status: TcbStatus,
    qe_tcb_status: TcbStatus,
    advisory_ids: Vec<String>,
    no_matching_level: bool,
    report_data: [u8; 64],
    mr_enclave: [u8; 32],
    mr_signer: [u8; 32],
    isv_prod_id: u16,
    isv_svn: u16,
    fmspc: [u8; 6],
    tcb_info_fmspc: Option<[u8; 6]>,
    tcb_info_pce_id: Option<[u8; 2]>,
    at: u64,
    revoke_pck: bool,
    revoke_pck_ca: bool,
    expire_tcb_info: bool,
    expire_qe_identity: bool,
    expire_pck_crl: bool,
    expire_pck: bool,
    wrong_qe_identity: bool,
    bad_quote_signature: bool,
    bad_qe_report_signature: bool,
    bad_qe_report_data: bool,
    bad_tcb_info_signature: bool,
}

impl Default for SgxSampleBuilder {
    fn default() -> Self {
        Self {
            version: 3,
            debug: false,
            kss: false,
            config_id: None,
            tcb_status: TcbStatus::UpToDate,
            qe_tcb_status: TcbStatus::UpToDate,
            advisory_ids: Vec::new(),
            no_matching_level: false,
            report_data: [0; 64],
            mr_enclave: [0x11; 32],
            mr_signer: [0x22; 32],
            isv_prod_id: 1,
            isv_svn: 1,
            fmspc: [0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00],
            tcb_info_fmspc: None,
            tcb_info_pce_id: None,
            at: DEFAULT_AT,
            revoke_pck: false,
            revoke_pck_ca: false,
            expire_tcb_info: false,
            expire_qe_identity: false,
            expire_pck_crl: false,
            expire_pck: false,
            wrong_qe_identity: false,
            bad_quote_signature: false,
            bad_qe_report_signature: false,
            bad_qe_report_data: false,
            bad_tcb_info_signature: false,
        }
    }
}

macro_rules! switch {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        pub fn $name(mut self) -> Self {
            self.$name = true;
            self
        }
    };
}

impl SgxSampleBuilder {
    /// Quote version 3 (default) or 4.
    pub fn version(mut self, v: u16) -> Self {
        self.version = v;
        self
    }
    /// Set the enclave's DEBUG attribute.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
    /// Fill the KSS fields (CONFIGID, CONFIGSVN, ISVEXTPRODID, ISVFAMILYID) and set the KSS attribute.
    pub fn kss(mut self, on: bool) -> Self {
        self.kss = on;
        self
    }
    /// The status of the platform TCB level the PCK's TCB matches.
    pub fn tcb_status(mut self, s: TcbStatus) -> Self {
        self.tcb_status = s;
        self
    }
    /// The status of the QE identity level the QE's ISVSVN matches.
    pub fn qe_tcb_status(mut self, s: TcbStatus) -> Self {
        self.qe_tcb_status = s;
        self
    }
    /// Advisory IDs of the matched platform level.
    pub fn advisory_ids(mut self, ids: &[&str]) -> Self {
        self.advisory_ids = ids.iter().map(|s| s.to_string()).collect();
        self
    }
    /// REPORTDATA = SHA-256(data) ‖ 32 zero bytes, MAA's binding.
    pub fn runtime_data(mut self, data: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, data);
        self.report_data = [0; 64];
        self.report_data[..32].copy_from_slice(d.as_ref());
        self
    }
    /// Bind init-time data as MAA does for KSS enclaves: CONFIGID =
    /// SHA-256(data) ‖ 32 zero bytes (turns KSS on).
    pub fn init_time_data(mut self, data: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, data);
        let mut id = [0u8; 64];
        id[..32].copy_from_slice(d.as_ref());
        self.config_id = Some(id);
        self.kss = true;
        self
    }
    pub fn report_data(mut self, rd: [u8; 64]) -> Self {
        self.report_data = rd;
        self
    }
    pub fn mr_enclave(mut self, m: [u8; 32]) -> Self {
        self.mr_enclave = m;
        self
    }
    pub fn mr_signer(mut self, m: [u8; 32]) -> Self {
        self.mr_signer = m;
        self
    }
    pub fn isv_prod_id(mut self, v: u16) -> Self {
        self.isv_prod_id = v;
        self
    }
    pub fn isv_svn(mut self, v: u16) -> Self {
        self.isv_svn = v;
        self
    }
    /// The platform's FMSPC (in the PCK certificate and, unless overridden, the TCB info).
    pub fn fmspc(mut self, f: [u8; 6]) -> Self {
        self.fmspc = f;
        self
    }
    /// TCB info for another FMSPC than the PCK's.
    pub fn tcb_info_fmspc(mut self, f: [u8; 6]) -> Self {
        self.tcb_info_fmspc = Some(f);
        self
    }
    /// TCB info for another PCE ID than the PCK's (0000).
    pub fn tcb_info_pce_id(mut self, p: [u8; 2]) -> Self {
        self.tcb_info_pce_id = Some(p);
        self
    }
    /// Verification time the windows are laid around (default [`DEFAULT_AT`]).
    pub fn at(mut self, t: u64) -> Self {
        self.at = t;
        self
    }
    switch!(
        /// Every TCB level is above the platform: `TcbLevelNotFound`.
        no_matching_level
    );
    switch!(
        /// The PCK CRL lists the PCK certificate.
        revoke_pck
    );
    switch!(
        /// The Root CA CRL lists the PCK CA.
        revoke_pck_ca
    );
    switch!(
        /// TCB info's nextUpdate lies before `at`.
        expire_tcb_info
    );
    switch!(
        /// QE identity's nextUpdate lies before `at`.
        expire_qe_identity
    );
    switch!(
        /// The PCK CRL's nextUpdate lies before `at`.
        expire_pck_crl
    );
    switch!(
        /// The PCK certificate's notAfter lies before `at`.
        expire_pck
    );
    switch!(
        /// The QE identity names another MRSIGNER than the QE's.
        wrong_qe_identity
    );
    switch!(
        /// One bit of the quote's signature is flipped.
        bad_quote_signature
    );
    switch!(
        /// One bit of the QE report signature is flipped.
        bad_qe_report_signature
    );
    switch!(
        /// The QE report data does not hash the attestation key (re-signed, so only the hash is wrong).
        bad_qe_report_data
    );
    switch!(
        /// One bit of the TCB info signature is flipped.
        bad_tcb_info_signature
    );

    /// Make the sample.
    pub fn build(self) -> SgxSample {
        build(self)
    }
}

// ---------------------------------------------------------------- helpers

pub(crate) fn odt(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).expect("time in range")
}

pub(crate) fn rfc3339(t: i64) -> String {
    let d = odt(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        d.month() as u8,
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

pub(crate) struct Key {
    pub(crate) ring: EcdsaKeyPair,
    pub(crate) rcgen: KeyPair,
    pub(crate) pkcs8: Vec<u8>,
}

pub(crate) fn key() -> Key {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
    Key {
        ring: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("pkcs8"),
        rcgen: KeyPair::try_from(pkcs8.as_ref()).expect("rcgen key"),
        pkcs8: pkcs8.as_ref().to_vec(),
    }
}

pub(crate) fn sign(k: &EcdsaKeyPair, msg: &[u8]) -> [u8; 64] {
    let sig = k.sign(&SystemRandom::new(), msg).expect("sign");
    let mut out = [0u8; 64];
    out.copy_from_slice(sig.as_ref());
    out
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "Attesta Testkit");
    dn.push(DnType::CountryName, "US");
    dn
}

fn params(cn: &str, serial: u64, from: i64, until: i64, ca: bool) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cn);
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = odt(from);
    p.not_after = odt(until);
    p.is_ca = if ca {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::ExplicitNoCa
    };
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    p
}

// DER pieces for the SGX extension.
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn der_oid(suffix: &[u8]) -> Vec<u8> {
    let mut body = vec![0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];
    body.extend_from_slice(suffix);
    der(0x06, &body)
}

fn der_uint(v: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = v.to_be_bytes().to_vec();
    while bytes.len() > 1 && bytes[0] == 0 {
        bytes.remove(0);
    }
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    bytes
}

fn entry(suffix: &[u8], value: Vec<u8>) -> Vec<u8> {
    let mut b = der_oid(suffix);
    b.extend(value);
    der(0x30, &b)
}

/// The SGX extension (1.2.840.113741.1.13.1) as Intel lays it out.
fn sgx_extension(components: &[u8; 16], pce_svn: u16, fmspc: &[u8; 6]) -> Vec<u8> {
    let mut tcb = Vec::new();
    for (i, c) in components.iter().enumerate() {
        tcb.extend(entry(&[2, i as u8 + 1], der(0x02, &der_uint(*c as u64))));
    }
    tcb.extend(entry(&[2, 17], der(0x02, &der_uint(pce_svn as u64))));
    tcb.extend(entry(&[2, 18], der(0x04, components)));
    let mut body = Vec::new();
    body.extend(entry(&[1], der(0x04, &[0xab; 16])));
    body.extend(entry(&[2], der(0x30, &tcb)));
    body.extend(entry(&[3], der(0x04, &[0, 0])));
    body.extend(entry(&[4], der(0x04, fmspc)));
    body.extend(entry(&[5], der(0x0a, &[0])));
    der(0x30, &body)
}

pub(crate) const PLATFORM_COMPONENTS: [u8; 16] =
    [5, 5, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0];
pub(crate) const PLATFORM_PCESVN: u16 = 13;
const QE_ISVSVN: u16 = 8;
const QE_ATTRIBUTES: [u8; 16] = [0x11, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0, 0, 0, 0, 0, 0, 0];

#[allow(clippy::too_many_arguments)]
pub(crate) fn report_body(
    attributes: [u8; 16],
    mr_enclave: &[u8; 32],
    mr_signer: &[u8; 32],
    isv_prod_id: u16,
    isv_svn: u16,
    report_data: &[u8; 64],
    kss: bool,
    config_id: Option<[u8; 64]>,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(384);
    b.extend_from_slice(&PLATFORM_COMPONENTS); // CPUSVN
    b.extend_from_slice(&0u32.to_le_bytes()); // MISCSELECT
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(&if kss { [0x33; 16] } else { [0; 16] }); // ISVEXTPRODID
    b.extend_from_slice(&attributes);
    b.extend_from_slice(mr_enclave);
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(mr_signer);
    b.extend_from_slice(&[0; 32]);
    // CONFIGID
    b.extend_from_slice(&config_id.unwrap_or(if kss { [0x44; 64] } else { [0; 64] }));
    b.extend_from_slice(&isv_prod_id.to_le_bytes());
    b.extend_from_slice(&isv_svn.to_le_bytes());
    b.extend_from_slice(&(if kss { 7u16 } else { 0 }).to_le_bytes()); // CONFIGSVN
    b.extend_from_slice(&[0; 42]);
    b.extend_from_slice(&if kss { [0x55; 16] } else { [0; 16] }); // ISVFAMILYID
    b.extend_from_slice(report_data);
    debug_assert_eq!(b.len(), 384);
    b
}

fn tcb_level_json(
    components: &[u8; 16],
    pce_svn: u16,
    status: TcbStatus,
    advisories: &[String],
) -> String {
    let comps: Vec<String> = components
        .iter()
        .map(|c| format!("{{\"svn\":{c}}}"))
        .collect();
    let adv = if advisories.is_empty() {
        String::new()
    } else {
        format!(
            ",\"advisoryIDs\":[{}]",
            advisories
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    format!(
        "{{\"tcb\":{{\"sgxtcbcomponents\":[{}],\"pcesvn\":{pce_svn}}},\"tcbDate\":\"2029-01-01T00:00:00Z\",\"tcbStatus\":\"{}\"{adv}}}",
        comps.join(","),
        status.as_str()
    )
}

/// What the shared test PKI varies.
pub(crate) struct PkiOptions {
    pub(crate) at: u64,
    pub(crate) fmspc: [u8; 6],
    pub(crate) expire_pck: bool,
    pub(crate) revoke_pck: bool,
    pub(crate) revoke_pck_ca: bool,
    pub(crate) expire_pck_crl: bool,
}

/// The test PKI that mirrors Intel's (root, PCK CA, TCB signer, PCK leaf
/// with the SGX extension, both CRLs); shared by the SGX and TDX samples.
pub(crate) struct Pki {
    pub(crate) root: CertifiedIssuer<'static, KeyPair>,
    pub(crate) pck_ca: CertifiedIssuer<'static, KeyPair>,
    pub(crate) signer_key: Key,
    pub(crate) signer_cert: Certificate,
    pub(crate) leaf: Certificate,
    pub(crate) leaf_key: Key,
    pub(crate) root_crl: CertificateRevocationList,
    pub(crate) pck_crl: CertificateRevocationList,
}

pub(crate) fn pki(o: &PkiOptions) -> Pki {
    let at = o.at as i64;
    let (issue, next) = (at - 10 * DAY, at + 20 * DAY);
    let expired = (at - 40 * DAY, at - DAY);
    // PKI.
    let root_key = key();
    let root = CertifiedIssuer::self_signed(
        params(
            "Attesta Test SGX Root CA",
            1,
            at - 3650 * DAY,
            at + 3650 * DAY,
            true,
        ),
        root_key.rcgen,
    )
    .expect("root");
    let ca_key = key();
    let ca_serial = 0x0ca;
    let pck_ca = CertifiedIssuer::signed_by(
        params(
            "Attesta Test SGX PCK Processor CA",
            ca_serial,
            at - 3000 * DAY,
            at + 3000 * DAY,
            true,
        ),
        ca_key.rcgen,
        &root,
    )
    .expect("pck ca");
    let signer_key = key();
    let signer_cert = params(
        "Attesta Test SGX TCB Signing",
        0x7cb,
        at - 1000 * DAY,
        at + 1000 * DAY,
        false,
    )
    .signed_by(&signer_key.rcgen, &root)
    .expect("tcb signer");
    let leaf_key = key();
    let leaf_serial = 0x1eaf_u64;
    let mut leaf_params = if o.expire_pck {
        params(
            "Attesta Test SGX PCK Certificate",
            leaf_serial,
            at - 800 * DAY,
            at - DAY,
            false,
        )
    } else {
        params(
            "Attesta Test SGX PCK Certificate",
            leaf_serial,
            at - 400 * DAY,
            at + 2000 * DAY,
            false,
        )
    };
    let oid: Vec<u64> = SGX_OID[..7].to_vec();
    leaf_params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &oid,
            sgx_extension(&PLATFORM_COMPONENTS, PLATFORM_PCESVN, &o.fmspc),
        ));
    let leaf = leaf_params
        .signed_by(&leaf_key.rcgen, &pck_ca)
        .expect("pck leaf");

    // CRLs.
    let revoked = |serial: u64| RevokedCertParams {
        serial_number: SerialNumber::from(serial),
        revocation_time: odt(at - 5 * DAY),
        reason_code: None,
        invalidity_date: None,
    };
    let crl = |(from, until): (i64, i64), revoked_certs: Vec<RevokedCertParams>| {
        CertificateRevocationListParams {
            this_update: odt(from),
            next_update: odt(until),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        }
    };
    let root_crl = crl(
        (issue, at + 300 * DAY),
        if o.revoke_pck_ca {
            vec![revoked(ca_serial)]
        } else {
            vec![]
        },
    )
    .signed_by(&root)
    .expect("root crl");
    let pck_crl = crl(
        if o.expire_pck_crl {
            expired
        } else {
            (issue, next)
        },
        if o.revoke_pck {
            vec![revoked(leaf_serial)]
        } else {
            vec![]
        },
    )
    .signed_by(&pck_ca)
    .expect("pck crl");

    Pki {
        root,
        pck_ca,
        signer_key,
        signer_cert,
        leaf,
        leaf_key,
        root_crl,
        pck_crl,
    }
}

fn build(b: SgxSampleBuilder) -> SgxSample {
    let at = b.at as i64;
    let (issue, next) = (at - 10 * DAY, at + 20 * DAY);
    let expired = (at - 40 * DAY, at - DAY);

    let Pki {
        root,
        pck_ca,
        signer_key,
        signer_cert,
        leaf,
        leaf_key,
        root_crl,
        pck_crl,
    } = pki(&PkiOptions {
        at: b.at,
        fmspc: b.fmspc,
        expire_pck: b.expire_pck,
        revoke_pck: b.revoke_pck,
        revoke_pck_ca: b.revoke_pck_ca,
        expire_pck_crl: b.expire_pck_crl,
    });

    // Quote.
    let mut attributes = [0u8; 16];
    attributes[0] = 0x05 | if b.debug { 0x02 } else { 0 } | if b.kss { 0x80 } else { 0 };
    attributes[8] = 0x07;
    let body = report_body(
        attributes,
        &b.mr_enclave,
        &b.mr_signer,
        b.isv_prod_id,
        b.isv_svn,
        &b.report_data,
        b.kss,
        b.config_id,
    );
    let mut header = Vec::with_capacity(48);
    header.extend_from_slice(&b.version.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&QE_ISVSVN.to_le_bytes());
    header.extend_from_slice(&PLATFORM_PCESVN.to_le_bytes());
    header.extend_from_slice(&QE_VENDOR_ID);
    header.extend_from_slice(&[0; 20]);
    let att_key = key();
    let ak_pub = att_key.ring.public_key().as_ref()[1..].to_vec();
    let auth: Vec<u8> = (0u8..32).collect();
    let mut bound = ak_pub.clone();
    bound.extend_from_slice(&auth);
    let mut qe_rd = [0u8; 64];
    qe_rd[..32].copy_from_slice(digest::digest(&digest::SHA256, &bound).as_ref());
    if b.bad_qe_report_data {
        qe_rd[0] ^= 1;
    }
    let qe_report = report_body(
        QE_ATTRIBUTES,
        &[0x66; 32],
        &QE_MRSIGNER,
        1,
        QE_ISVSVN,
        &qe_rd,
        false,
        None,
    );
    let mut qe_sig = sign(&leaf_key.ring, &qe_report);
    if b.bad_qe_report_signature {
        qe_sig[10] ^= 1;
    }
    let mut signed = header.clone();
    signed.extend_from_slice(&body);
    let mut quote_sig = sign(&att_key.ring, &signed);
    if b.bad_quote_signature {
        quote_sig[10] ^= 1;
    }
    let pck_chain = format!("{}{}{}", leaf.pem(), pck_ca.pem(), root.pem());
    let mut quote = signed;
    append_signature_data(
        &mut quote,
        &SignatureParts {
            quote_signature: &quote_sig,
            attestation_key: &ak_pub,
            qe_report: &qe_report,
            qe_report_signature: &qe_sig,
            qe_auth_data: &auth,
            pck_chain_pem: &pck_chain,
            wrapped: b.version >= 4,
        },
    );
    let mut oe_report = Vec::with_capacity(quote.len() + 16);
    oe_report.extend_from_slice(&1u32.to_le_bytes());
    oe_report.extend_from_slice(&2u32.to_le_bytes());
    oe_report.extend_from_slice(&(quote.len() as u64).to_le_bytes());
    oe_report.extend_from_slice(&quote);

    // TCB info: a level above the platform first (Intel lists newest first),
    // then the platform's own level with the chosen status.
    let above: [u8; 16] = std::array::from_fn(|i| PLATFORM_COMPONENTS[i].saturating_add(1));
    let mut levels = vec![tcb_level_json(
        &above,
        PLATFORM_PCESVN + 1,
        TcbStatus::UpToDate,
        &[],
    )];
    if !b.no_matching_level {
        levels.push(tcb_level_json(
            &PLATFORM_COMPONENTS,
            PLATFORM_PCESVN,
            b.tcb_status,
            &b.advisory_ids,
        ));
    }
    let (ti_issue, ti_next) = if b.expire_tcb_info {
        expired
    } else {
        (issue, next)
    };
    let tcb_info = format!(
        "{{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"{}\",\"nextUpdate\":\"{}\",\"fmspc\":\"{}\",\"pceId\":\"{}\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tcbLevels\":[{}]}}",
        rfc3339(ti_issue),
        rfc3339(ti_next),
        hex::encode_upper(b.tcb_info_fmspc.unwrap_or(b.fmspc)),
        hex::encode_upper(b.tcb_info_pce_id.unwrap_or([0, 0])),
        levels.join(",")
    );
    let mut ti_sig = sign(&signer_key.ring, tcb_info.as_bytes());
    if b.bad_tcb_info_signature {
        ti_sig[10] ^= 1;
    }
    let qe_advisories = if b.qe_tcb_status == TcbStatus::UpToDate {
        String::new()
    } else {
        ",\"advisoryIDs\":[\"INTEL-SA-00615\"]".to_string()
    };
    let (qi_issue, qi_next) = if b.expire_qe_identity {
        expired
    } else {
        (issue, next)
    };
    let qe_identity = format!(
        "{{\"id\":\"QE\",\"version\":2,\"issueDate\":\"{}\",\"nextUpdate\":\"{}\",\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"{}\",\"isvprodid\":1,\"tcbLevels\":[{{\"tcb\":{{\"isvsvn\":{}}},\"tcbDate\":\"2029-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}},{{\"tcb\":{{\"isvsvn\":{}}},\"tcbDate\":\"2028-01-01T00:00:00Z\",\"tcbStatus\":\"{}\"{qe_advisories}}}]}}",
        rfc3339(qi_issue),
        rfc3339(qi_next),
        hex::encode_upper(if b.wrong_qe_identity {
            [0x99; 32]
        } else {
            QE_MRSIGNER
        }),
        // The QE's own level carries the chosen status; UpToDate sits above it.
        if b.qe_tcb_status == TcbStatus::UpToDate {
            QE_ISVSVN
        } else {
            QE_ISVSVN + 1
        },
        QE_ISVSVN,
        b.qe_tcb_status.as_str(),
    );
    let qi_sig = sign(&signer_key.ring, qe_identity.as_bytes());
    let collateral = dcap_collateral(
        &tcb_info,
        &ti_sig,
        &qe_identity,
        &qi_sig,
        &signer_cert.pem(),
        &pck_ca.pem(),
        &root.pem(),
        pck_crl.der(),
        root_crl.der(),
    );
    SgxSample {
        quote,
        oe_report,
        collateral,
        root_der: root.der().to_vec(),
        pck_leaf_der: leaf.der().to_vec(),
        at: UnixTime(b.at),
        mr_enclave: b.mr_enclave,
        mr_signer: b.mr_signer,
        report_data: b.report_data,
        fmspc: b.fmspc,
        attestation_key_pkcs8: att_key.pkcs8.clone(),
    }
}

/// The parts of an ECDSA quote's signature data.
pub(crate) struct SignatureParts<'a> {
    pub(crate) quote_signature: &'a [u8],
    pub(crate) attestation_key: &'a [u8],
    pub(crate) qe_report: &'a [u8],
    pub(crate) qe_report_signature: &'a [u8],
    pub(crate) qe_auth_data: &'a [u8],
    pub(crate) pck_chain_pem: &'a str,
    /// The QE block inside certification data type 6 (SGX v4, TDX), not
    /// directly in the signature data (SGX v3).
    pub(crate) wrapped: bool,
}

/// Append the signature data (length-prefixed) to the signed quote bytes:
/// signature, attestation key, then the QE report block whose certification
/// data (type 5) is the PCK chain, NUL-terminated as real quotes have it.
pub(crate) fn append_signature_data(quote: &mut Vec<u8>, p: &SignatureParts<'_>) {
    let mut pem = p.pck_chain_pem.as_bytes().to_vec();
    pem.push(0);
    let mut qe_block = p.qe_report.to_vec();
    qe_block.extend_from_slice(p.qe_report_signature);
    qe_block.extend_from_slice(&(p.qe_auth_data.len() as u16).to_le_bytes());
    qe_block.extend_from_slice(p.qe_auth_data);
    qe_block.extend_from_slice(&5u16.to_le_bytes());
    qe_block.extend_from_slice(&(pem.len() as u32).to_le_bytes());
    qe_block.extend_from_slice(&pem);
    let mut sig_data = p.quote_signature.to_vec();
    sig_data.extend_from_slice(p.attestation_key);
    if p.wrapped {
        sig_data.extend_from_slice(&6u16.to_le_bytes());
        sig_data.extend_from_slice(&(qe_block.len() as u32).to_le_bytes());
    }
    sig_data.extend_from_slice(&qe_block);
    quote.extend_from_slice(&(sig_data.len() as u32).to_le_bytes());
    quote.extend_from_slice(&sig_data);
}

/// A DCAP collateral set from signed TCB info and QE identity bodies and the
/// test PKI's certificates and CRLs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dcap_collateral(
    tcb_info: &str,
    tcb_info_signature: &[u8],
    qe_identity: &str,
    qe_identity_signature: &[u8],
    signer_pem: &str,
    pck_ca_pem: &str,
    root_pem: &str,
    pck_crl_der: &[u8],
    root_crl_der: &[u8],
) -> DcapCollateral {
    let signer_chain = format!("{signer_pem}{root_pem}");
    DcapCollateral {
        tcb_info_json: format!(
            "{{\"tcbInfo\":{tcb_info},\"signature\":\"{}\"}}",
            hex::encode(tcb_info_signature)
        ),
        tcb_info_issuer_chain: signer_chain.clone(),
        qe_identity_json: format!(
            "{{\"enclaveIdentity\":{qe_identity},\"signature\":\"{}\"}}",
            hex::encode(qe_identity_signature)
        ),
        qe_identity_issuer_chain: signer_chain,
        pck_crl: pck_crl_der.to_vec(),
        pck_crl_issuer_chain: format!("{pck_ca_pem}{root_pem}"),
        root_ca_crl: root_crl_der.to_vec(),
    }
}
