//! Synthetic SEV-SNP evidence on a test AMD hierarchy: a test ARK signs an
//! ASK (and an ASVK), which sign a VCEK (P-384, with AMD's TCB and hwID
//! extensions) or a VLEK; the VCEK/VLEK signs a 1184-byte attestation
//! report. Switches reach each failure branch of `attesta_evidence::snp`.
//!
//! Certificates are assembled here as DER by hand because AMD signs with
//! RSASSA-PSS/SHA-384, which rcgen cannot produce. The test ARK and
//! ASK/ASVK are RSA-2048 (the verifier accepts any RSA-PSS modulus
//! aws-lc-rs accepts, 2048..8192 bits; AMD's are 4096) and generated once per
//! process. The test ARK is only trusted through
//! `TrustRoots::with_configured`, so its chains carry `x-attesta-test-root`.
//!
//! Debug policy is not a failure class: MAA reports
//! `x-ms-sevsnpvm-is-debuggable` and leaves the decision to policy, so
//! `.debug(true)` yields a report that verifies with that claim true.

use std::sync::OnceLock;

use attesta_evidence::crypto;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::snp::{Generation, SnpCertificates, SnpCollateral, TcbVersion};
use attesta_evidence::types::UnixTime;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use base64::Engine;

/// Default verification time: 2026-01-01T00:00:00Z.
pub const DEFAULT_AT: u64 = 1_767_225_600;

struct Roots {
    ark: RsaKeyPair,
    ask: RsaKeyPair,
    asvk: RsaKeyPair,
    /// A second ARK no trust store holds (the wrong-root class).
    rogue_ark: RsaKeyPair,
}

fn roots() -> &'static Roots {
    static ROOTS: OnceLock<Roots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let k = || RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen");
        Roots {
            ark: k(),
            ask: k(),
            asvk: k(),
            rogue_ark: k(),
        }
    })
}

/// A synthetic report with its certificates.
#[derive(Debug, Clone)]
pub struct SnpSample {
    /// The 1184-byte attestation report.
    pub report: Vec<u8>,
    /// VCEK or VLEK certificate (DER).
    pub vek_der: Vec<u8>,
    /// ASK or ASVK certificate (DER).
    pub ask_der: Vec<u8>,
    /// The test ARK (DER); trust it with [`SnpSample::trust_roots`].
    pub ark_der: Vec<u8>,
    /// An ARK-signed CRL, when the builder asked for one.
    pub crl_der: Option<Vec<u8>>,
    /// A time at which the sample verifies (unless a switch says otherwise).
    pub at: UnixTime,
    pub generation: Generation,
    /// The VCEK/VLEK private key (PKCS#8), for [`SnpSample::resign`].
    pub vek_pkcs8: Vec<u8>,
}

impl SnpSample {
    pub fn builder() -> SnpSampleBuilder {
        SnpSampleBuilder::default()
    }

    /// The same report with other REPORT_DATA, signed again by the same
    /// VCEK/VLEK: same platform, measurement, TCB and certificates. A test
    /// SEV-SNP guest answers every request for a report this way.
    pub fn resign(&self, report_data: [u8; 64]) -> Vec<u8> {
        let mut r = self.report.clone();
        r[0x50..0x90].copy_from_slice(&report_data);
        let vek = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &self.vek_pkcs8)
            .expect("VCEK key");
        sign_report(&mut r, &vek);
        r
    }

    /// The test ARK as a configured (non-embedded) root. Always the
    /// process's test ARK, also for `.wrong_root()` samples.
    pub fn trust_roots(&self) -> TrustRoots {
        TrustRoots::empty().with_configured(RootKind::AmdArk, test_ark_der())
    }

    pub fn collateral(&self) -> SnpCollateral<'_> {
        SnpCollateral {
            vek_der: &self.vek_der,
            ask_der: &self.ask_der,
            crl_der: self.crl_der.as_deref(),
        }
    }

    pub fn certificates(&self) -> SnpCertificates {
        SnpCertificates {
            vek_der: self.vek_der.clone(),
            ask_der: self.ask_der.clone(),
            crl_der: self.crl_der.clone(),
        }
    }

    /// MAA's `report` request member: base64url of
    /// `{"SnpReport", "VcekCertChain"}` (VCEK, ASK, ARK as PEM).
    pub fn maa_report_member(&self) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let chain = format!(
            "{}{}{}",
            pem(&self.vek_der),
            pem(&self.ask_der),
            pem(&self.ark_der)
        );
        let json = serde_json::json!({
            "SnpReport": b64.encode(&self.report),
            "VcekCertChain": b64.encode(chain),
        });
        b64.encode(json.to_string())
    }
}

/// PEM text of a DER certificate.
pub fn pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The process's test ARK certificate (DER), self-signed.
pub fn test_ark_der() -> Vec<u8> {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| ark_cert(&roots().ark, "ARK-Milan", 1))
        .clone()
}

/// Builder for [`SnpSample`].
#[derive(Debug, Clone)]
pub struct SnpSampleBuilder {
    version: u32,
    generation: Generation,
    vlek: bool,
    debug: bool,
    policy_extra: u64,
    chip_id: [u8; 64],
    tcb: TcbVersion,
    vek_tcb: Option<TcbVersion>,
    hw_id: Option<Vec<u8>>,
    report_data: [u8; 64],
    host_data: [u8; 32],
    measurement: [u8; 48],
    vmpl: u32,
    at: u64,
    expired_vek: bool,
    wrong_root: bool,
    bad_signature: bool,
    crl: bool,
    revoke_vek: bool,
    revoke_ask: bool,
    cpuid: Option<[u8; 3]>,
    vek_ext_overrides: Vec<(String, Option<Vec<u8>>)>,
    vek_p256: bool,
    ark_not_self_signed: bool,
}

impl Default for SnpSampleBuilder {
    fn default() -> Self {
        let mut chip_id = [0u8; 64];
        for (i, b) in chip_id.iter_mut().enumerate() {
            *b = 0xC0 ^ i as u8;
        }
        Self {
            version: 3,
            generation: Generation::Milan,
            vlek: false,
            debug: false,
            policy_extra: 0,
            chip_id,
            tcb: TcbVersion {
                bootloader: 4,
                tee: 0,
                snp: 22,
                microcode: 213,
                fmc: None,
            },
            vek_tcb: None,
            hw_id: None,
            report_data: [0u8; 64],
            host_data: [0u8; 32],
            measurement: [0x5A; 48],
            vmpl: 0,
            at: DEFAULT_AT,
            expired_vek: false,
            wrong_root: false,
            bad_signature: false,
            crl: false,
            revoke_vek: false,
            revoke_ask: false,
            cpuid: None,
            vek_ext_overrides: Vec::new(),
            vek_p256: false,
            ark_not_self_signed: false,
        }
    }
}

impl SnpSampleBuilder {
    /// Report version (2, 3 or 5; other values build a report the parser rejects).
    pub fn version(mut self, v: u32) -> Self {
        self.version = v;
        self
    }
    /// Processor generation (decides the TCB layout, CPUID bytes and hwID length).
    pub fn generation(mut self, g: Generation) -> Self {
        self.generation = g;
        if g == Generation::Turin && self.tcb.fmc.is_none() {
            self.tcb.fmc = Some(1);
        }
        self
    }
    /// Sign with a VLEK (ARK → ASVK → VLEK) instead of a VCEK.
    pub fn vlek(mut self, on: bool) -> Self {
        self.vlek = on;
        self
    }
    /// Set POLICY.DEBUG (a claim, not an error).
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
    /// Extra policy bits OR-ed into the default policy (0x30000 | ABI 0.x).
    pub fn policy_bits(mut self, bits: u64) -> Self {
        self.policy_extra |= bits;
        self
    }
    pub fn chip_id(mut self, id: [u8; 64]) -> Self {
        self.chip_id = id;
        self
    }
    /// The report's TCB (reported, committed, launch and current) and, unless
    /// [`Self::vcek_tcb`] says otherwise, the VCEK's SPLs.
    pub fn tcb(mut self, t: TcbVersion) -> Self {
        self.tcb = t;
        self
    }
    /// Certify a different TCB in the VCEK than the report states (TcbMismatch).
    pub fn vcek_tcb(mut self, t: TcbVersion) -> Self {
        self.vek_tcb = Some(t);
        self
    }
    /// The VCEK's hwID differs from the report's chip_id (ChipIdMismatch).
    pub fn wrong_chip_id(mut self) -> Self {
        let mut h = self.chip_id.to_vec();
        h[0] ^= 0xFF;
        self.hw_id = Some(h);
        self
    }
    pub fn report_data(mut self, rd: [u8; 64]) -> Self {
        self.report_data = rd;
        self
    }
    /// REPORT_DATA = SHA-256(data) ‖ 32 zero bytes, as MAA binds runtimeData.
    pub fn runtime_data(mut self, data: &[u8]) -> Self {
        self.report_data = [0u8; 64];
        self.report_data[..32].copy_from_slice(&crypto::sha256(data));
        self
    }
    pub fn host_data(mut self, hd: [u8; 32]) -> Self {
        self.host_data = hd;
        self
    }
    /// HOST_DATA = SHA-256(data), as MAA binds initTimeData.
    pub fn init_time_data(mut self, data: &[u8]) -> Self {
        self.host_data = crypto::sha256(data);
        self
    }
    pub fn measurement(mut self, m: [u8; 48]) -> Self {
        self.measurement = m;
        self
    }
    pub fn vmpl(mut self, v: u32) -> Self {
        self.vmpl = v;
        self
    }
    /// The sample's verification time (certificates are valid around it).
    pub fn at(mut self, t: u64) -> Self {
        self.at = t;
        self
    }
    /// The VCEK/VLEK expired one day before `at` (VcekExpired / VlekExpired).
    pub fn expired_vek(mut self) -> Self {
        self.expired_vek = true;
        self
    }
    /// Chain to a second test ARK that [`SnpSample::trust_roots`] does not hold (UntrustedArk).
    pub fn wrong_root(mut self) -> Self {
        self.wrong_root = true;
        self
    }
    /// Corrupt the report signature after signing (ReportSignatureInvalid).
    pub fn bad_signature(mut self) -> Self {
        self.bad_signature = true;
        self
    }
    /// Attach an ARK-signed CRL (empty unless a revoke switch is set).
    pub fn crl(mut self, on: bool) -> Self {
        self.crl = on;
        self
    }
    /// Put the VCEK/VLEK's serial on the CRL (VcekRevoked).
    pub fn revoke_vek(mut self) -> Self {
        self.crl = true;
        self.revoke_vek = true;
        self
    }
    /// Put the ASK/ASVK's serial on the CRL (AskRevoked).
    pub fn revoke_ask(mut self) -> Self {
        self.crl = true;
        self.revoke_ask = true;
        self
    }

    /// The report's CPUID family, model and stepping (bytes 0x188..0x18B,
    /// v3+), signed like the rest of the report, instead of the ones of
    /// the builder's generation (ProcessorMismatch, UnknownProcessor).
    pub fn cpuid(mut self, family: u8, model: u8, stepping: u8) -> Self {
        self.cpuid = Some([family, model, stepping]);
        self
    }
    /// Set the DER value (the OCTET STRING's content) of the VCEK/VLEK
    /// extension `oid`, replacing the builder's own or adding it; `None`
    /// removes the extension. Reaches the refusals of malformed AMD
    /// extensions (a missing hwID, a hwID of the wrong length, an SPL that
    /// is not an INTEGER 0..255, a Turin VCEK without fmcSPL).
    pub fn vek_extension(mut self, oid: &str, value: Option<Vec<u8>>) -> Self {
        self.vek_ext_overrides.push((oid.to_string(), value));
        self
    }
    /// Certify a P-256 key in the VCEK/VLEK instead of a P-384 one (the
    /// report is still signed with a P-384 key no certificate names).
    pub fn vek_p256(mut self) -> Self {
        self.vek_p256 = true;
        self
    }
    /// An ARK (in [`SnpSample::ark_der`]) that signed the ASK/ASVK but is
    /// not self-signed: the test ARK's subject and key, signed by another
    /// key. Trust it with `TrustRoots::empty().with_configured(RootKind::AmdArk,
    /// s.ark_der.clone())` ([`SnpSample::trust_roots`] holds the real test ARK).
    pub fn ark_not_self_signed(mut self) -> Self {
        self.ark_not_self_signed = true;
        self
    }

    pub fn build(self) -> SnpSample {
        build(self)
    }
}

// ------------------------------------------------------------- DER pieces

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

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn int(v: u64) -> Vec<u8> {
    let mut b = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    der(0x02, &b)
}

/// An OID from its dotted form.
fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().expect("OID arc"))
        .collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut tmp = vec![(a & 0x7F) as u8];
        let mut v = a >> 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend(tmp);
    }
    der(0x06, &body)
}

const NULL: &[u8] = &[0x05, 0x00];

fn name(cn: &str) -> Vec<u8> {
    let rdn = |o: &str, tag: u8, v: &str| der(0x31, &seq(&[&oid(o), &der(tag, v.as_bytes())]));
    seq(&[
        &rdn("2.5.4.11", 0x0C, "Engineering"),
        &rdn("2.5.4.6", 0x13, "US"),
        &rdn("2.5.4.7", 0x0C, "Santa Clara"),
        &rdn("2.5.4.8", 0x0C, "CA"),
        &rdn("2.5.4.10", 0x0C, "Attesta Testkit"),
        &rdn("2.5.4.3", 0x0C, cn),
    ])
}

fn utc_time(t: i64) -> Vec<u8> {
    let d = time::OffsetDateTime::from_unix_timestamp(t).expect("time in range");
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        d.year() % 100,
        d.month() as u8,
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    der(0x17, s.as_bytes())
}

/// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48, as AMD encodes it.
fn pss_sha384() -> Vec<u8> {
    let sha384 = seq(&[&oid("2.16.840.1.101.3.4.2.2"), NULL]);
    let mgf = seq(&[&oid("1.2.840.113549.1.1.8"), &sha384]);
    let params = seq(&[
        &der(0xA0, &sha384),
        &der(0xA1, &mgf),
        &der(0xA2, &int(48)),
        &der(0xA3, &int(1)),
    ]);
    seq(&[&oid("1.2.840.113549.1.1.10"), &params])
}

fn rsa_spki(k: &RsaKeyPair) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(k.public_key().as_ref());
    seq(&[
        &seq(&[&oid("1.2.840.113549.1.1.1"), NULL]),
        &der(0x03, &bits),
    ])
}

fn ec_spki(k: &EcdsaKeyPair) -> Vec<u8> {
    ec_spki_on(k, "1.3.132.0.34")
}

fn ec_spki_on(k: &EcdsaKeyPair, curve: &str) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(k.public_key().as_ref());
    seq(&[
        &seq(&[&oid("1.2.840.10045.2.1"), &oid(curve)]),
        &der(0x03, &bits),
    ])
}

fn ext(o: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[&oid(o), &[0x01, 0x01, 0xFF], &der(0x04, value)])
    } else {
        seq(&[&oid(o), &der(0x04, value)])
    }
}

fn pss_sign(k: &RsaKeyPair, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA384,
        &SystemRandom::new(),
        msg,
        &mut sig,
    )
    .expect("RSA-PSS sign");
    sig
}

#[allow(clippy::too_many_arguments)]
fn cert(
    serial: u64,
    issuer: &str,
    subject: &str,
    window: (i64, i64),
    spki: &[u8],
    extensions: &[Vec<u8>],
    signer: &RsaKeyPair,
) -> Vec<u8> {
    let alg = pss_sha384();
    let exts = der(
        0xA3,
        &seq(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>()),
    );
    let tbs = seq(&[
        &der(0xA0, &int(2)),
        &int(serial),
        &alg,
        &name(issuer),
        &seq(&[&utc_time(window.0), &utc_time(window.1)]),
        &name(subject),
        spki,
        &exts,
    ]);
    let mut bits = vec![0u8];
    bits.extend(pss_sign(signer, &tbs));
    seq(&[&tbs, &alg, &der(0x03, &bits)])
}

fn ca_exts() -> Vec<Vec<u8>> {
    vec![ext("2.5.29.19", true, &seq(&[&[0x01, 0x01, 0xFF]]))]
}

/// 2020-10-22 .. 2045-10-22, like AMD's ARK/ASK.
const CA_WINDOW: (i64, i64) = (1_603_324_800, 2_392_243_200);

fn ark_cert(k: &RsaKeyPair, cn: &str, serial: u64) -> Vec<u8> {
    cert(serial, cn, cn, CA_WINDOW, &rsa_spki(k), &ca_exts(), k)
}

const ASK_SERIAL: u64 = 0x0200_0001;
const ASVK_SERIAL: u64 = 0x0200_0002;
const VEK_SERIAL: u64 = 0x0300_0001;

fn tcb_bytes(t: &TcbVersion, g: Generation) -> [u8; 8] {
    match g {
        Generation::Turin => [
            t.fmc.unwrap_or(0),
            t.bootloader,
            t.tee,
            t.snp,
            0,
            0,
            0,
            t.microcode,
        ],
        _ => [t.bootloader, t.tee, 0, 0, 0, 0, t.snp, t.microcode],
    }
}

fn build(b: SnpSampleBuilder) -> SnpSample {
    let r = roots();
    let g = b.generation;
    let ark_key = if b.wrong_root { &r.rogue_ark } else { &r.ark };
    let ark_der = if b.wrong_root {
        ark_cert(&r.rogue_ark, "ARK-Milan", 2)
    } else if b.ark_not_self_signed {
        cert(
            3,
            "ARK-Milan",
            "ARK-Milan",
            CA_WINDOW,
            &rsa_spki(&r.ark),
            &ca_exts(),
            &r.rogue_ark,
        )
    } else {
        test_ark_der()
    };
    let (ca_key, ca_cn, ca_serial) = if b.vlek {
        (&r.asvk, format!("SEV-VLEK-{}", g.as_str()), ASVK_SERIAL)
    } else {
        (&r.ask, format!("SEV-{}", g.as_str()), ASK_SERIAL)
    };
    let mut ask_exts = ca_exts();
    ask_exts.push(ext("2.5.29.15", true, &[0x03, 0x02, 0x01, 0x06]));
    let ask_der = cert(
        ca_serial,
        "ARK-Milan",
        &ca_cn,
        CA_WINDOW,
        &rsa_spki(ca_key),
        &ask_exts,
        ark_key,
    );

    let vek = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("P-384 keygen");
    let vek_spki = if b.vek_p256 {
        let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 keygen");
        ec_spki_on(&k, "1.2.840.10045.3.1.7")
    } else {
        ec_spki(&vek)
    };
    let vt = b.vek_tcb.unwrap_or(b.tcb);
    let spl = |v: u8| int(u64::from(v));
    let product = match g {
        Generation::Milan => "Milan-B0",
        Generation::Genoa => "Genoa-B1",
        Generation::Turin => "Turin",
    };
    let mut exts = vec![
        ext("1.3.6.1.4.1.3704.1.1", false, &[0x16, 0x01, b'1']),
        ext(
            "1.3.6.1.4.1.3704.1.2",
            false,
            &der(0x16, product.as_bytes()),
        ),
        ext("1.3.6.1.4.1.3704.1.3.1", false, &spl(vt.bootloader)),
        ext("1.3.6.1.4.1.3704.1.3.2", false, &spl(vt.tee)),
        ext("1.3.6.1.4.1.3704.1.3.3", false, &spl(vt.snp)),
        ext("1.3.6.1.4.1.3704.1.3.8", false, &spl(vt.microcode)),
    ];
    if g == Generation::Turin {
        exts.push(ext(
            "1.3.6.1.4.1.3704.1.3.9",
            false,
            &spl(vt.fmc.unwrap_or(0)),
        ));
    }
    if b.vlek {
        exts.push(ext(
            "1.3.6.1.4.1.3704.1.5",
            false,
            &der(0x16, b"testkit.example"),
        ));
    } else {
        let hw_len = if g == Generation::Turin { 8 } else { 64 };
        let hw = b.hw_id.clone().unwrap_or_else(|| b.chip_id.to_vec());
        exts.push(ext("1.3.6.1.4.1.3704.1.4", false, &hw[..hw_len]));
    }
    for (o, value) in &b.vek_ext_overrides {
        let mine = oid(o);
        // Each extension is SEQUENCE { OID, ... }: skip the SEQUENCE header.
        exts.retain(|e| {
            let header = match e[1] {
                n if n < 0x80 => 2,
                0x81 => 3,
                _ => 4,
            };
            !e[header..].starts_with(&mine)
        });
        if let Some(v) = value {
            exts.push(ext(o, false, v));
        }
    }
    let at = b.at as i64;
    let window = if b.expired_vek {
        (at - 400 * 86_400, at - 86_400)
    } else {
        (at - 365 * 86_400, at + 365 * 86_400)
    };
    let vek_der = cert(
        VEK_SERIAL,
        &ca_cn,
        if b.vlek { "SEV-VLEK" } else { "SEV-VCEK" },
        window,
        &vek_spki,
        &exts,
        ca_key,
    );

    let crl_der = b.crl.then(|| {
        let mut revoked = Vec::new();
        if b.revoke_ask {
            revoked.push(seq(&[&int(ca_serial), &utc_time(at - 86_400)]));
        }
        if b.revoke_vek {
            revoked.push(seq(&[&int(VEK_SERIAL), &utc_time(at - 86_400)]));
        }
        let alg = pss_sha384();
        let mut parts: Vec<Vec<u8>> = vec![
            int(1),
            alg.clone(),
            name("ARK-Milan"),
            utc_time(at - 86_400),
            utc_time(at + 30 * 86_400),
        ];
        if !revoked.is_empty() {
            parts.push(seq(&revoked.iter().map(Vec::as_slice).collect::<Vec<_>>()));
        }
        let tbs = seq(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let mut bits = vec![0u8];
        bits.extend(pss_sign(ark_key, &tbs));
        seq(&[&tbs, &alg, &der(0x03, &bits)])
    });

    let report = report_bytes(&b, &vek);
    SnpSample {
        report,
        vek_der,
        ask_der,
        ark_der,
        crl_der,
        at: UnixTime(b.at),
        generation: g,
        vek_pkcs8: vek.to_pkcs8v1().expect("P-384 PKCS#8").as_ref().to_vec(),
    }
}

fn report_bytes(b: &SnpSampleBuilder, vek: &EcdsaKeyPair) -> Vec<u8> {
    let g = b.generation;
    let mut r = vec![0u8; 0x4A0];
    let mut put = |off: usize, bytes: &[u8]| r[off..off + bytes.len()].copy_from_slice(bytes);
    put(0x00, &b.version.to_le_bytes());
    put(0x04, &1u32.to_le_bytes());
    let policy = 0x30000u64 | if b.debug { 1 << 19 } else { 0 } | b.policy_extra;
    put(0x08, &policy.to_le_bytes());
    put(0x10, &[0x01; 16]);
    put(0x20, &[0x02; 16]);
    put(0x30, &b.vmpl.to_le_bytes());
    put(0x34, &1u32.to_le_bytes());
    let tcb = tcb_bytes(&b.tcb, g);
    put(0x38, &tcb);
    put(0x40, &1u64.to_le_bytes());
    let key_sel: u32 = if b.vlek { 1 } else { 0 };
    put(0x48, &(key_sel << 2).to_le_bytes());
    put(0x50, &b.report_data);
    put(0x90, &b.measurement);
    put(0xC0, &b.host_data);
    put(0x140, &[0x77; 32]);
    put(0x160, &[0xFF; 32]);
    put(0x180, &tcb);
    if b.version >= 3 {
        let (fam, model) = match g {
            Generation::Milan => (0x19, 0x01),
            Generation::Genoa => (0x19, 0x11),
            Generation::Turin => (0x1A, 0x02),
        };
        put(0x188, &b.cpuid.unwrap_or([fam, model, 1]));
    }
    if !b.vlek {
        put(0x1A0, &b.chip_id);
    }
    put(0x1E0, &tcb);
    put(0x1E8, &[10, 55, 1, 0, 10, 55, 1, 0]);
    put(0x1F0, &tcb);
    sign_report(&mut r, vek);
    if b.bad_signature {
        r[0x2A0] ^= 0x01;
    }
    r
}

/// Sign bytes `0..0x2A0` of a report with `vek` and write the signature
/// (R and S, 48 bytes each, little-endian) at 0x2A0.
fn sign_report(r: &mut [u8], vek: &EcdsaKeyPair) {
    let sig = vek
        .sign(&SystemRandom::new(), &r[..0x2A0])
        .expect("P-384 sign");
    let sig = sig.as_ref();
    for i in 0..48 {
        r[0x2A0 + i] = sig[47 - i];
        r[0x2E8 + i] = sig[95 - i];
    }
}
