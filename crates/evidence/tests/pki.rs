//! The PKI module's failure branches, one by one, with certificates and
//! CRLs made for each (rcgen, and re-signed by hand where rcgen cannot make
//! the algorithm): every `CertificateError` variant from the walker with the
//! role of the item it names, the signature algorithms accepted and
//! refused, validity windows to the second, revocation with its CRL checks,
//! path search (any order, backtracking, depth and budget), and the
//! primitives the fixed-role chains (DCAP, AMD) use.

use attesta_evidence::UnixTime;
use attesta_evidence::pki::{
    self, CertificateError, Named, Options, Role, SIGNATURE_BUDGET, SignatureAlgorithm,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256, PKCS_RSA_SHA384, PKCS_RSA_SHA512,
    RevokedCertParams, RsaKeySize, SerialNumber,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::AlgorithmIdentifier;

/// 2027-01-15T08:00:00Z.
const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn at(t: i64) -> UnixTime {
    UnixTime(t as u64)
}

fn odt(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).unwrap()
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn p384() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap()
}

fn rsa(alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_rsa_for(alg, RsaKeySize::_2048).unwrap()
}

/// What a test certificate looks like.
struct Spec {
    cn: &'static str,
    ca: bool,
    path_len: Option<u8>,
    window: (i64, i64),
    usages: Vec<KeyUsagePurpose>,
    serial: u64,
}

impl Spec {
    fn ca(cn: &'static str) -> Self {
        Spec {
            cn,
            ca: true,
            path_len: None,
            window: (NOW - 100 * DAY, NOW + 100 * DAY),
            usages: vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ],
            serial: 1,
        }
    }

    fn leaf(cn: &'static str) -> Self {
        Spec {
            ca: false,
            usages: vec![KeyUsagePurpose::DigitalSignature],
            serial: 99,
            ..Spec::ca(cn)
        }
    }

    fn window(mut self, from: i64, to: i64) -> Self {
        self.window = (from, to);
        self
    }

    fn path_len(mut self, n: u8) -> Self {
        self.path_len = Some(n);
        self
    }

    fn usages(mut self, u: Vec<KeyUsagePurpose>) -> Self {
        self.usages = u;
        self
    }

    fn serial(mut self, n: u64) -> Self {
        self.serial = n;
        self
    }

    fn params(&self) -> CertificateParams {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, self.cn);
        p.distinguished_name = dn;
        p.serial_number = Some(SerialNumber::from(self.serial));
        p.not_before = odt(self.window.0);
        p.not_after = odt(self.window.1);
        p.is_ca = match (self.ca, self.path_len) {
            (true, None) => IsCa::Ca(BasicConstraints::Unconstrained),
            (true, Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
            (false, _) => IsCa::ExplicitNoCa,
        };
        p.key_usages = self.usages.clone();
        p
    }
}

/// A certificate, and what it takes to issue under it.
struct Made {
    der: Vec<u8>,
    pkcs8: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn make(spec: Spec, key: KeyPair, parent: Option<&Made>) -> Made {
    let params = spec.params();
    let der = match parent {
        None => params.self_signed(&key),
        Some(p) => params.signed_by(&key, &p.issuer),
    }
    .unwrap()
    .der()
    .to_vec();
    Made {
        der,
        pkcs8: key.serialize_der(),
        issuer: Issuer::new(params, key),
    }
}

fn root(cn: &'static str) -> Made {
    make(Spec::ca(cn), p256(), None)
}

fn crl(by: &Made, revoked: &[u64], this_update: i64, next_update: i64) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: odt(this_update),
        next_update: odt(next_update),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|&n| RevokedCertParams {
                serial_number: SerialNumber::from(n),
                revocation_time: odt(this_update),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&by.issuer)
    .unwrap()
    .der()
    .to_vec()
}

fn current_crl(by: &Made, revoked: &[u64]) -> Vec<u8> {
    crl(by, revoked, NOW - DAY, NOW + 30 * DAY)
}

const NONE: &[&[u8]] = &[];

fn walk(
    leaf: &[u8],
    inter: &[&[u8]],
    anchors: &[&[u8]],
) -> Result<pki::VerifiedPath, CertificateError> {
    pki::walk(leaf, inter, anchors, at(NOW), &Options::default())
}

fn walk_crls(
    leaf: &[u8],
    inter: &[&[u8]],
    anchors: &[&[u8]],
    crls: &[&[u8]],
) -> Result<pki::VerifiedPath, CertificateError> {
    pki::walk(
        leaf,
        inter,
        anchors,
        at(NOW),
        &Options {
            crls: crls.to_vec(),
            ..Default::default()
        },
    )
}

fn role_and_name(e: &CertificateError) -> (Role, String) {
    (e.role(), e.named().name.clone())
}

// ------------------------------------------------------------ DER surgery

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// (header length, body length) of the TLV at the start of `der`.
fn header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        l if l < 0x80 => (2, l as usize),
        l => {
            let n = (l & 0x7f) as usize;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (2 + n, len)
        }
    }
}

/// The TLVs inside the body of the TLV `der`.
fn children(der: &[u8]) -> Vec<Vec<u8>> {
    let (h, len) = header(der);
    let mut body = &der[h..h + len];
    let mut out = Vec::new();
    while !body.is_empty() {
        let (h, len) = header(body);
        out.push(body[..h + len].to_vec());
        body = &body[h + len..];
    }
    out
}

/// `cert` with its signature AlgorithmIdentifier (inside and outside the
/// TBS) replaced by `alg` and signed anew by `sign`.
fn resign(cert: &[u8], alg: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let parts = children(cert);
    let mut fields = children(&parts[0]);
    fields[2] = alg.to_vec(); // [0] version, serial, signature
    let tbs = tlv(0x30, &fields.concat());
    let mut bits = vec![0u8];
    bits.extend(sign(&tbs));
    tlv(
        0x30,
        &[tbs.clone(), alg.to_vec(), tlv(0x03, &bits)].concat(),
    )
}

fn oid(body: &[u8]) -> Vec<u8> {
    tlv(0x06, body)
}

const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const OID_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
const NULL: &[u8] = &[0x05, 0x00];

fn ecdsa_alg(last: u8) -> Vec<u8> {
    tlv(
        0x30,
        &oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, last]),
    )
}

fn rsa_alg(last: u8) -> Vec<u8> {
    tlv(
        0x30,
        &[
            oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, last]),
            NULL.to_vec(),
        ]
        .concat(),
    )
}

/// RSASSA-PSS with `hash`, MGF1 over `mgf_hash`, `salt`, and the trailer
/// field written out when given (AMD writes `1`).
fn pss_alg(hash: &[u8], mgf_hash: &[u8], salt: Option<u8>, trailer: Option<u8>) -> Vec<u8> {
    let h = |o: &[u8]| tlv(0x30, &[oid(o), NULL.to_vec()].concat());
    let mut params = vec![
        tlv(0xa0, &h(hash)),
        tlv(0xa1, &tlv(0x30, &[oid(OID_MGF1), h(mgf_hash)].concat())),
    ];
    if let Some(s) = salt {
        params.push(tlv(0xa2, &[0x02, 0x01, s]));
    }
    if let Some(t) = trailer {
        params.push(tlv(0xa3, &[0x02, 0x01, t]));
    }
    tlv(0x30, &[oid(OID_PSS), tlv(0x30, &params.concat())].concat())
}

fn ec_signer(alg: &'static sig::EcdsaSigningAlgorithm, pkcs8: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> {
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8).unwrap();
    move |m: &[u8]| key.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec()
}

fn rsa_signer(padding: &'static dyn sig::RsaEncoding, pkcs8: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> {
    let key = sig::RsaKeyPair::from_pkcs8(pkcs8).unwrap();
    move |m: &[u8]| {
        let mut s = vec![0u8; key.public_modulus_len()];
        key.sign(padding, &SystemRandom::new(), m, &mut s).unwrap();
        s
    }
}

fn algorithm(der: &[u8]) -> Option<SignatureAlgorithm> {
    let (_, alg) = AlgorithmIdentifier::from_der(der).unwrap();
    pki::signature_algorithm(&alg)
}

// ------------------------------------------------------------------ tests

/// root (P-384) → intermediate (P-256) → leaf, the intermediates given in
/// any order with an unrelated one: the path is found, the anchor and
/// intermediates named by index, and the verdict's window is the
/// intersection of every window on the path.
#[test]
fn a_chain_walks_in_any_order_and_reports_its_window() {
    let r = make(
        Spec::ca("Root").window(NOW - 300 * DAY, NOW + 300 * DAY),
        p384(),
        None,
    );
    let i = make(
        Spec::ca("Intermediate").window(NOW - 200 * DAY, NOW + 50 * DAY),
        p256(),
        Some(&r),
    );
    let other = root("Other");
    let leaf = make(
        Spec::leaf("Leaf").window(NOW - 10 * DAY, NOW + 400 * DAY),
        p256(),
        Some(&i),
    );
    let path = walk(&leaf.der, &[&other.der, &i.der], &[&other.der, &r.der]).unwrap();
    assert_eq!(path.anchor, 1);
    assert_eq!(path.intermediates, vec![1]);
    assert_eq!(path.not_before, NOW - 10 * DAY);
    assert_eq!(path.not_after, NOW + 50 * DAY);
    // Issued directly by an anchor: no intermediate used.
    let direct = make(Spec::leaf("Direct"), p256(), Some(&r));
    let path = walk(&direct.der, &[&i.der], &[&r.der]).unwrap();
    assert_eq!((path.anchor, path.intermediates.len()), (0, 0));
}

/// Every algorithm the module accepts verifies under a key that can make
/// it: ECDSA over both curves with both hashes, RSA PKCS#1 v1.5 and PSS
/// with SHA-256/384/512, Ed25519.
#[test]
fn every_accepted_signature_algorithm_verifies() {
    for key in [
        p256(),
        p384(),
        rsa(&PKCS_RSA_SHA256),
        rsa(&PKCS_RSA_SHA384),
        rsa(&PKCS_RSA_SHA512),
        KeyPair::generate_for(&PKCS_ED25519).unwrap(),
    ] {
        let name = format!("{:?}", key.algorithm());
        let r = make(Spec::ca("Root"), key, None);
        let leaf = make(Spec::leaf("Leaf"), p256(), Some(&r));
        walk(&leaf.der, NONE, &[&r.der]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // PSS and PKCS#1 SHA-512, re-signed by hand (the ECDSA cross pairs,
    // which aws-lc-rs cannot sign, are mapped in the module's unit tests).
    let base = |r: &Made| make(Spec::leaf("Leaf"), p256(), Some(r)).der;
    let r256 = root("Root");
    let rrsa = make(Spec::ca("Root"), rsa(&PKCS_RSA_SHA256), None);
    let cases: [(&str, Vec<u8>, &'static dyn sig::RsaEncoding); 4] = [
        (
            "PSS/SHA-256",
            pss_alg(OID_SHA256, OID_SHA256, Some(32), None),
            &sig::RSA_PSS_SHA256,
        ),
        (
            "PSS/SHA-384 as AMD writes it",
            pss_alg(OID_SHA384, OID_SHA384, Some(48), Some(1)),
            &sig::RSA_PSS_SHA384,
        ),
        (
            "PSS/SHA-512",
            pss_alg(OID_SHA512, OID_SHA512, Some(64), None),
            &sig::RSA_PSS_SHA512,
        ),
        ("PKCS#1/SHA-512", rsa_alg(0x0d), &sig::RSA_PKCS1_SHA512),
    ];
    for (what, alg, padding) in cases {
        let leaf = resign(&base(&rrsa), &alg, rsa_signer(padding, &rrsa.pkcs8));
        walk(&leaf, NONE, &[&rrsa.der]).unwrap_or_else(|e| panic!("{what}: {e}"));
        // The same signature under a root with the same name and an EC key
        // does not verify.
        let e = walk(&leaf, NONE, &[&r256.der]).unwrap_err();
        assert!(
            matches!(e, CertificateError::BadSignature { .. }),
            "{what} under an EC key: {e}"
        );
    }
}

/// The RSASSA-PSS parameters are judged: only a hash of SHA-256/384/512
/// with MGF1 over the same hash, a salt as long as its digest and trailer
/// field 1 (written or by default) is accepted.
#[test]
fn rsassa_pss_parameters_are_judged() {
    use SignatureAlgorithm::*;
    let ok = [
        (
            pss_alg(OID_SHA256, OID_SHA256, Some(32), None),
            RsaPssSha256,
        ),
        (
            pss_alg(OID_SHA384, OID_SHA384, Some(48), Some(1)),
            RsaPssSha384,
        ),
        (
            pss_alg(OID_SHA512, OID_SHA512, Some(64), Some(1)),
            RsaPssSha512,
        ),
    ];
    for (der, want) in ok {
        assert_eq!(algorithm(&der), Some(want));
    }
    let refused = [
        (
            "salt 32 with SHA-384",
            pss_alg(OID_SHA384, OID_SHA384, Some(32), None),
        ),
        (
            "salt 48 with SHA-256",
            pss_alg(OID_SHA256, OID_SHA256, Some(48), None),
        ),
        (
            "MGF1 over SHA-256 with SHA-384",
            pss_alg(OID_SHA384, OID_SHA256, Some(48), None),
        ),
        (
            "default salt (20)",
            pss_alg(OID_SHA256, OID_SHA256, None, None),
        ),
        (
            "trailer field 2",
            pss_alg(OID_SHA256, OID_SHA256, Some(32), Some(2)),
        ),
        (
            "SHA-1 hash",
            pss_alg(
                &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
                &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
                Some(20),
                None,
            ),
        ),
        ("no parameters", tlv(0x30, &oid(OID_PSS))),
        (
            "an empty parameter sequence (SHA-1 defaults)",
            tlv(0x30, &[oid(OID_PSS), tlv(0x30, &[])].concat()),
        ),
    ];
    for (what, der) in refused {
        assert_eq!(algorithm(&der), None, "{what}");
    }
    // A mask generation function other than MGF1.
    let h = tlv(0x30, &[oid(OID_SHA256), NULL.to_vec()].concat());
    let other_mgf = tlv(
        0x30,
        &[
            oid(OID_PSS),
            tlv(
                0x30,
                &[
                    tlv(0xa0, &h),
                    tlv(0xa1, &tlv(0x30, &[oid(OID_SHA256), h.clone()].concat())),
                    tlv(0xa2, &[0x02, 0x01, 32]),
                ]
                .concat(),
            ),
        ]
        .concat(),
    );
    assert_eq!(algorithm(&other_mgf), None);
    for (der, want) in [
        (ecdsa_alg(2), EcdsaSha256),
        (ecdsa_alg(3), EcdsaSha384),
        (rsa_alg(0x0b), RsaPkcs1Sha256),
        (rsa_alg(0x0c), RsaPkcs1Sha384),
        (rsa_alg(0x0d), RsaPkcs1Sha512),
        (tlv(0x30, &oid(&[0x2b, 0x65, 0x70])), Ed25519),
    ] {
        assert_eq!(algorithm(&der), Some(want));
    }
}

/// SHA-1 and MD5 certificate signatures are refused as unsupported (even
/// when the signature itself would verify), naming the algorithm.
#[test]
fn sha1_and_md5_signatures_are_unsupported() {
    let r = make(Spec::ca("Root"), rsa(&PKCS_RSA_SHA256), None);
    let base = make(Spec::leaf("Leaf"), p256(), Some(&r)).der;
    for (last, name) in [(0x05, "RSA with SHA-1"), (0x04, "RSA with MD5")] {
        let leaf = resign(&base, &rsa_alg(last), |_| vec![0u8; 256]);
        let e = walk(&leaf, NONE, &[&r.der]).unwrap_err();
        assert!(
            matches!(e, CertificateError::UnsupportedSignatureAlgorithm { .. }),
            "{e}"
        );
        assert_eq!(role_and_name(&e), (Role::Leaf, "CN=Leaf".into()));
        assert!(e.to_string().contains(name), "{e}");
    }
    let ecdsa_sha1 = tlv(0x30, &oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]));
    let leaf = resign(&base, &ecdsa_sha1, |_| vec![0u8; 64]);
    let e = walk(&leaf, NONE, &[&r.der]).unwrap_err();
    assert!(
        e.to_string()
            .contains("ECDSA with SHA-1 (1.2.840.10045.4.1)"),
        "{e}"
    );
    // PSS with parameters aws-lc-rs cannot verify: named as such.
    let pss = pss_alg(OID_SHA256, OID_SHA256, Some(20), None);
    let leaf = resign(&base, &pss, |_| vec![0u8; 256]);
    let e = walk(&leaf, NONE, &[&r.der]).unwrap_err();
    assert!(
        matches!(e, CertificateError::UnsupportedSignatureAlgorithm { .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("RSASSA-PSS with parameters other than"),
        "{e}"
    );
    let odd = resign(&base, &tlv(0x30, &oid(&[0x2a, 0x03])), |_| vec![0u8; 64]);
    let e = walk(&odd, NONE, &[&r.der]).unwrap_err();
    assert!(e.to_string().contains("algorithm 1.2.3"), "{e}");
}

/// A leaf whose issuer is neither an anchor nor sent is UnknownIssuer,
/// naming the leaf and its issuer; an intermediate whose issuer is unknown
/// is named as the intermediate.
#[test]
fn an_unknown_issuer_names_the_certificate_and_its_issuer() {
    let r = root("Root");
    let i = make(Spec::ca("Intermediate"), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&i));
    let other = root("Other");
    let e = walk(&leaf.der, NONE, &[&other.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::UnknownIssuer {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            issuer: "CN=Intermediate".into()
        }
    );
    assert!(
        e.to_string()
            .contains("send the chain up to a trusted root"),
        "{e}"
    );
    let e = walk(&leaf.der, &[&i.der], &[&other.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::UnknownIssuer {
            cert: Named::new(Role::Intermediate, "CN=Intermediate"),
            issuer: "CN=Root".into()
        }
    );
}

/// A root with the issuer's name and another key: BadSignature, which says
/// more than the unknown issuer also met.
#[test]
fn an_impostor_with_the_issuers_name_is_a_bad_signature() {
    let r = root("Root");
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&r));
    let impostor = root("Root");
    let e = walk(&leaf.der, NONE, &[&impostor.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::BadSignature {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            issuer: "CN=Root".into()
        }
    );
    // A flipped signature byte under the right root.
    let mut flipped = leaf.der.clone();
    let n = flipped.len();
    flipped[n - 5] ^= 1;
    let e = walk(&flipped, NONE, &[&r.der]).unwrap_err();
    assert!(matches!(e, CertificateError::BadSignature { .. }), "{e}");
}

/// Validity is inclusive at both ends, to the second, for the leaf, the
/// intermediates and the anchor; the error says which side, names the
/// certificate and shows both times and the verification time in RFC 3339.
#[test]
fn validity_is_checked_to_the_second_for_every_certificate() {
    let (from, to) = (NOW - 10 * DAY, NOW + 10 * DAY);
    let r = make(Spec::ca("Root").window(from, to), p256(), None);
    let i = make(Spec::ca("Intermediate").window(from, to), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf").window(from, to), p256(), Some(&i));
    let check = |t: i64| pki::walk(&leaf.der, &[&i.der], &[&r.der], at(t), &Options::default());
    assert!(check(from).is_ok());
    assert!(check(to).is_ok());
    assert_eq!(
        check(to + 1).unwrap_err(),
        CertificateError::Expired {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            not_before: from,
            not_after: to,
            at: to + 1
        }
    );
    assert_eq!(
        check(from - 1).unwrap_err(),
        CertificateError::NotYetValid {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            not_before: from,
            not_after: to,
            at: from - 1
        }
    );
    let e = check(to + 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "certificate 'CN=Leaf' has expired: valid 2027-01-05T08:00:00Z to 2027-01-25T08:00:00Z, \
         verification time 2027-01-25T08:00:01Z; obtain a current certificate from its issuer"
    );
    assert!(e.is_validity());
    // The intermediate and the anchor, each the only expired one.
    let long = (NOW - 100 * DAY, NOW + 100 * DAY);
    let leaf = make(Spec::leaf("Leaf").window(long.0, long.1), p256(), Some(&i));
    let e = pki::walk(
        &leaf.der,
        &[&i.der],
        &[&r.der],
        at(to + 1),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        role_and_name(&e),
        (Role::Intermediate, "CN=Intermediate".into())
    );
    assert!(matches!(e, CertificateError::Expired { .. }));
    let i2 = make(
        Spec::ca("Intermediate").window(long.0, long.1),
        p256(),
        Some(&r),
    );
    let leaf = make(Spec::leaf("Leaf").window(long.0, long.1), p256(), Some(&i2));
    let e = pki::walk(
        &leaf.der,
        &[&i2.der],
        &[&r.der],
        at(from - 1),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(role_and_name(&e), (Role::Anchor, "CN=Root".into()));
    assert!(matches!(e, CertificateError::NotYetValid { .. }));
    assert!(e.to_string().contains("check the verification time"), "{e}");
}

/// An issuer must be a CA (basicConstraints cA) and, with a keyUsage,
/// allowed keyCertSign; an anchor too.
#[test]
fn an_issuer_that_is_not_a_ca_cannot_vouch() {
    let r = root("Root");
    let not_ca = make(Spec::leaf("Not a CA"), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&not_ca));
    let e = walk(&leaf.der, &[&not_ca.der], &[&r.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::NotCa {
            cert: Named::new(Role::Intermediate, "CN=Not a CA"),
            reason: "basicConstraints does not say cA"
        }
    );
    let e = walk(&leaf.der, NONE, &[&not_ca.der]).unwrap_err();
    assert_eq!(role_and_name(&e), (Role::Anchor, "CN=Not a CA".into()));
    let no_cert_sign = make(
        Spec::ca("No certSign").usages(vec![KeyUsagePurpose::DigitalSignature]),
        p256(),
        Some(&r),
    );
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&no_cert_sign));
    let e = walk(&leaf.der, &[&no_cert_sign.der], &[&r.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::NotCa {
            cert: Named::new(Role::Intermediate, "CN=No certSign"),
            reason: "its keyUsage lacks keyCertSign"
        }
    );
    // No keyUsage at all: the CA flag is enough.
    let no_ku = make(Spec::ca("No keyUsage").usages(vec![]), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&no_ku));
    walk(&leaf.der, &[&no_ku.der], &[&r.der]).unwrap();
    assert_eq!(
        pki::require_ca(&pki::parse_cert(&no_ku.der).unwrap()),
        Ok(())
    );
}

/// pathLenConstraint counts the CA certificates below the issuer.
#[test]
fn path_length_constraints_are_kept() {
    for (n, ok) in [(0u8, false), (1, true)] {
        let r = make(Spec::ca("Root").path_len(n), p256(), None);
        let i = make(Spec::ca("Intermediate"), p256(), Some(&r));
        let leaf = make(Spec::leaf("Leaf"), p256(), Some(&i));
        let got = walk(&leaf.der, &[&i.der], &[&r.der]);
        if ok {
            got.unwrap();
        } else {
            assert_eq!(
                got.unwrap_err(),
                CertificateError::PathLenExceeded {
                    cert: Named::new(Role::Anchor, "CN=Root"),
                    path_len: 0,
                    below: 1
                }
            );
        }
        // The leaf directly under a pathLen 0 root is fine.
        let direct = make(Spec::leaf("Direct"), p256(), Some(&r));
        walk(&direct.der, NONE, &[&r.der]).unwrap();
    }
}

/// Paths longer than `max_depth` are not built (ChainTooLong names the
/// certificate whose issuer would be one too many); `max_depth` 0 counts as
/// 1 and values past the limit are capped.
#[test]
fn a_chain_longer_than_max_depth_is_refused() {
    let r = root("Root");
    let a = make(Spec::ca("A"), p256(), Some(&r));
    let b = make(Spec::ca("B"), p256(), Some(&a));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&b));
    let depth = |d: usize| {
        pki::walk(
            &leaf.der,
            &[&b.der, &a.der],
            &[&r.der],
            at(NOW),
            &Options {
                max_depth: d,
                ..Default::default()
            },
        )
    };
    depth(3).unwrap();
    depth(1000).unwrap();
    assert_eq!(
        depth(2).unwrap_err(),
        CertificateError::ChainTooLong {
            cert: Named::new(Role::Intermediate, "CN=B"),
            max_depth: 2
        }
    );
    assert_eq!(
        depth(0).unwrap_err(),
        CertificateError::ChainTooLong {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            max_depth: 1
        }
    );
    let direct = make(Spec::leaf("Direct"), p256(), Some(&r));
    pki::walk(
        &direct.der,
        NONE,
        &[&r.der],
        at(NOW),
        &Options {
            max_depth: 0,
            ..Default::default()
        },
    )
    .unwrap();
    // A chain of 17 below the root is past the cap whatever is asked.
    let mut chain = vec![make(Spec::ca("C0"), p256(), Some(&r))];
    let names: Vec<&'static str> = (1..17)
        .map(|n| &*Box::leak(format!("C{n}").into_boxed_str()))
        .collect();
    for name in names {
        let next = make(Spec::ca(name), p256(), Some(chain.last().unwrap()));
        chain.push(next);
    }
    let leaf = make(Spec::leaf("Deep"), p256(), Some(chain.last().unwrap()));
    let inter: Vec<&[u8]> = chain.iter().map(|c| c.der.as_slice()).collect();
    let e = pki::walk(
        &leaf.der,
        &inter,
        &[&r.der],
        at(NOW),
        &Options {
            max_depth: 1000,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            CertificateError::ChainTooLong {
                max_depth: pki::MAX_DEPTH_LIMIT,
                ..
            }
        ),
        "{e}"
    );
}

/// Two copies of the same CA (same name and key), the first expired: the
/// search backs out of the first and takes the second; when both fail,
/// the failure after a verified signature is reported, not the impostor's
/// bad signature nor an unknown issuer.
#[test]
fn the_search_backtracks_and_reports_the_most_telling_failure() {
    let r = root("Root");
    let key = p256();
    let pkcs8 = key.serialize_der();
    let old = make(
        Spec::ca("CA").window(NOW - 100 * DAY, NOW - DAY),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        Some(&r),
    );
    let current = make(Spec::ca("CA").serial(2), key, Some(&r));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&current));
    let path = walk(&leaf.der, &[&old.der, &current.der], &[&r.der]).unwrap();
    assert_eq!(path.intermediates, vec![1]);
    let impostor = make(Spec::ca("CA"), p256(), Some(&r));
    let e = walk(&leaf.der, &[&impostor.der, &old.der], &[&r.der]).unwrap_err();
    assert_eq!(role_and_name(&e), (Role::Intermediate, "CN=CA".into()));
    assert!(matches!(e, CertificateError::Expired { .. }), "{e}");
    // Two failures after verified signatures: the first met is reported.
    let not_ca = make(
        Spec::leaf("CA").serial(3),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        Some(&r),
    );
    let e = walk(&leaf.der, &[&old.der, &not_ca.der], &[&r.der]).unwrap_err();
    assert!(matches!(e, CertificateError::Expired { .. }), "{e}");
    let e = walk(&leaf.der, &[&not_ca.der, &old.der], &[&r.der]).unwrap_err();
    assert!(matches!(e, CertificateError::NotCa { .. }), "{e}");
}

/// An unknown issuer says less than a signature failure met elsewhere: the
/// leaf's issuer name is on a trusted root with another key (bad
/// signature), and on an intermediate whose own issuer is missing.
#[test]
fn a_bad_signature_outranks_an_unknown_issuer() {
    let nowhere = root("Nowhere");
    let key = p256();
    let pkcs8 = key.serialize_der();
    let ca = make(Spec::ca("CA"), key, Some(&nowhere));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&ca));
    let impostor = root("CA");
    let e = walk(&leaf.der, &[&ca.der], &[&impostor.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::BadSignature {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            issuer: "CN=CA".into()
        }
    );
    // A path too long outranks a signature failure and gives way to a
    // failure after a verified signature: with room for two certificates,
    // Leaf → CA → (B) is too long, and the copy of CA under the root is
    // expired.
    let r = root("Root");
    let b = make(Spec::ca("B"), p256(), Some(&r));
    let long = make(
        Spec::ca("CA").serial(2),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        Some(&b),
    );
    let expired = make(
        Spec::ca("CA").serial(3).window(NOW - 100 * DAY, NOW - DAY),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        Some(&r),
    );
    let two = |inter: &[&[u8]], anchors: &[&[u8]]| {
        pki::walk(
            &leaf.der,
            inter,
            anchors,
            at(NOW),
            &Options {
                max_depth: 2,
                ..Default::default()
            },
        )
        .unwrap_err()
    };
    let e = two(&[&long.der, &b.der, &expired.der], &[&r.der]);
    assert!(matches!(e, CertificateError::Expired { .. }), "{e}");
    let e = two(&[&long.der, &b.der], &[&r.der, &impostor.der]);
    assert!(matches!(e, CertificateError::ChainTooLong { .. }), "{e}");
}

/// A certificate tried on a branch that failed is free again for the next
/// branch, and is not left on the path: root (pathLen 2) → Z → W → X1 and
/// Z → X2, with X1 and X2 the same CA (name and key) for the leaf. Through
/// X1 the root has three CAs below it, through X2 two.
#[test]
fn a_failed_branch_leaves_nothing_behind() {
    let r = make(Spec::ca("Root").path_len(2), p256(), None);
    let z = make(Spec::ca("Z"), p256(), Some(&r));
    let w = make(Spec::ca("W"), p256(), Some(&z));
    let key = p256();
    let pkcs8 = key.serialize_der();
    let x1 = make(Spec::ca("CA"), key, Some(&w));
    let x2 = make(
        Spec::ca("CA").serial(2),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        Some(&z),
    );
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&x1));
    let path = walk(&leaf.der, &[&x1.der, &w.der, &z.der, &x2.der], &[&r.der]).unwrap();
    assert_eq!(path.intermediates, vec![3, 2]);
    // Without X2, the root's constraint is what fails.
    let e = walk(&leaf.der, &[&x1.der, &w.der, &z.der], &[&r.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::PathLenExceeded {
            cert: Named::new(Role::Anchor, "CN=Root"),
            path_len: 2,
            below: 3
        }
    );
}

/// Many look-alike intermediates exhaust the signature budget.
#[test]
fn too_many_candidate_issuers_exhaust_the_budget() {
    let r = root("Root");
    let ca = make(Spec::ca("CA"), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&ca));
    let fakes: Vec<Made> = (0..SIGNATURE_BUDGET + 1)
        .map(|_| make(Spec::ca("CA"), p256(), Some(&r)))
        .collect();
    let mut inter: Vec<&[u8]> = fakes.iter().map(|f| f.der.as_slice()).collect();
    inter.push(&ca.der);
    let e = walk(&leaf.der, &inter, &[&r.der]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::TooManyCandidates {
            cert: Named::new(Role::Leaf, "CN=Leaf"),
            budget: SIGNATURE_BUDGET
        }
    );
    // Within the budget the real one is found after the fakes.
    let inter: Vec<&[u8]> = fakes[..SIGNATURE_BUDGET - 2]
        .iter()
        .map(|f| f.der.as_slice())
        .chain([ca.der.as_slice()])
        .collect();
    walk(&leaf.der, &inter, &[&r.der]).unwrap();
    // The budget also stops the search at an anchor.
    let anchors: Vec<&[u8]> = fakes.iter().map(|f| f.der.as_slice()).collect();
    let direct = make(Spec::leaf("Direct"), p256(), Some(&ca));
    let e = walk(&direct.der, NONE, &anchors).unwrap_err();
    assert!(
        matches!(e, CertificateError::TooManyCandidates { .. }),
        "{e}"
    );
}

/// A CRL of an issuer on the path: the certificate it lists is revoked
/// (named in its role, with its serial and the CRL's issuer); one that
/// lists others narrows the verdict's window to its own.
#[test]
fn revocation_is_checked_against_the_crls_of_issuers_on_the_path() {
    let r = root("Root");
    let i = make(Spec::ca("Intermediate").serial(7), p256(), Some(&r));
    let leaf = make(Spec::leaf("Leaf").serial(9), p256(), Some(&i));
    let by_root = current_crl(&r, &[7]);
    let e = walk_crls(&leaf.der, &[&i.der], &[&r.der], &[&by_root]).unwrap_err();
    assert_eq!(
        e,
        CertificateError::Revoked {
            cert: Named::new(Role::Intermediate, "CN=Intermediate"),
            serial: "07".into(),
            crl_issuer: "CN=Root".into()
        }
    );
    assert!(
        e.to_string().contains("is revoked by the CRL of 'CN=Root'"),
        "{e}"
    );
    let by_inter = current_crl(&i, &[9]);
    let e = walk_crls(&leaf.der, &[&i.der], &[&r.der], &[&by_inter]).unwrap_err();
    assert_eq!(role_and_name(&e), (Role::Leaf, "CN=Leaf".into()));
    assert!(matches!(e, CertificateError::Revoked { .. }));
    // Lists another serial: accepted, until the CRL's nextUpdate.
    let others = crl(&i, &[8, 10], NOW - DAY, NOW + 5 * DAY);
    let path = walk_crls(
        &leaf.der,
        &[&i.der],
        &[&r.der],
        &[&others, &current_crl(&r, &[])],
    )
    .unwrap();
    assert_eq!(path.not_before, NOW - DAY);
    assert_eq!(path.not_after, NOW + 5 * DAY);
    // A CRL of an issuer not on the path is not looked at.
    let stranger = root("Stranger");
    let unrelated = crl(&stranger, &[9], NOW - 100 * DAY, NOW - 50 * DAY);
    walk_crls(&leaf.der, &[&i.der], &[&r.der], &[&unrelated]).unwrap();
}

/// A CRL whose issuer is on the path but that does not verify with the
/// issuer's key, is not current, is partial, comes from an issuer not
/// allowed to sign CRLs, or does not decode, fails closed, named as the
/// CRL.
#[test]
fn a_crl_of_an_issuer_on_the_path_fails_closed() {
    let r = root("Root");
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&r));
    let check = |crl: &[u8]| walk_crls(&leaf.der, NONE, &[&r.der], &[crl]).unwrap_err();

    let impostor = root("Root");
    let e = check(&current_crl(&impostor, &[]));
    assert_eq!(
        e,
        CertificateError::BadSignature {
            cert: Named::new(Role::Crl, "CN=Root"),
            issuer: "CN=Root".into()
        }
    );
    let e = check(&crl(&r, &[], NOW - 30 * DAY, NOW - 1));
    assert_eq!(
        e,
        CertificateError::Expired {
            cert: Named::new(Role::Crl, "CN=Root"),
            not_before: NOW - 30 * DAY,
            not_after: NOW - 1,
            at: NOW
        }
    );
    assert!(e.to_string().contains("fetch a current CRL"), "{e}");
    let e = check(&crl(&r, &[], NOW + 1, NOW + DAY));
    assert!(matches!(e, CertificateError::NotYetValid { .. }), "{e}");
    assert_eq!(e.role(), Role::Crl);
    // The window is inclusive.
    walk_crls(&leaf.der, NONE, &[&r.der], &[&crl(&r, &[], NOW, NOW + 1)]).unwrap();
    walk_crls(&leaf.der, NONE, &[&r.der], &[&crl(&r, &[], NOW - 1, NOW)]).unwrap();

    // A partitioned CRL (issuingDistributionPoint).
    let partitioned = CertificateRevocationListParams {
        this_update: odt(NOW - DAY),
        next_update: odt(NOW + DAY),
        crl_number: SerialNumber::from(2u64),
        issuing_distribution_point: Some(rcgen::CrlIssuingDistributionPoint {
            distribution_point: rcgen::CrlDistributionPoint {
                uris: vec!["http://crl.example/part1.crl".into()],
            },
            scope: Some(rcgen::CrlScope::UserCertsOnly),
        }),
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&r.issuer)
    .unwrap()
    .der()
    .to_vec();
    let e = check(&partitioned);
    assert_eq!(e.role(), Role::Crl);
    assert!(e.to_string().contains("not the complete list"), "{e}");

    // The root as the chain knows it may not sign CRLs (same name and key
    // as the CRL signer, keyUsage without cRLSign).
    let key = p256();
    let pkcs8 = key.serialize_der();
    let signer = make(Spec::ca("Root"), key, None);
    let no_crl_sign = make(
        Spec::ca("Root").usages(vec![KeyUsagePurpose::KeyCertSign]),
        KeyPair::try_from(pkcs8.as_slice()).unwrap(),
        None,
    );
    let leaf2 = make(Spec::leaf("Leaf"), p256(), Some(&signer));
    let e = walk_crls(
        &leaf2.der,
        NONE,
        &[&no_crl_sign.der],
        &[&current_crl(&signer, &[])],
    )
    .unwrap_err();
    assert_eq!(
        e,
        CertificateError::NotCa {
            cert: Named::new(Role::Crl, "CN=Root"),
            reason: "the issuer's keyUsage lacks cRLSign"
        }
    );
    assert!(e.to_string().contains("may not sign CRLs"), "{e}");
    walk_crls(
        &leaf2.der,
        NONE,
        &[&signer.der],
        &[&current_crl(&signer, &[])],
    )
    .unwrap();

    // A CRL that does not decode is refused whoever it is for.
    let e = check(b"not a CRL");
    assert!(matches!(e, CertificateError::BadEncoding { .. }), "{e}");
    assert_eq!(e.role(), Role::Crl);
    let mut trailing = current_crl(&r, &[]);
    trailing.push(0);
    assert!(
        check(&trailing)
            .to_string()
            .contains("1 trailing bytes after the CRL")
    );
}

/// A CRL without nextUpdate cannot be judged for freshness: refused.
#[test]
fn a_crl_without_next_update_is_refused() {
    let r = root("Root");
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&r));
    let subject = children(&children(&r.der)[0])[5].clone();
    let utc = tlv(0x17, b"270101000000Z");
    let tbs = tlv(
        0x30,
        &[vec![0x02, 0x01, 0x01], ecdsa_alg(2), subject, utc].concat(),
    );
    let sign = ec_signer(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, &r.pkcs8);
    let mut bits = vec![0u8];
    bits.extend(sign(&tbs));
    let der = tlv(
        0x30,
        &[tbs.clone(), ecdsa_alg(2), tlv(0x03, &bits)].concat(),
    );
    let e = walk_crls(&leaf.der, NONE, &[&r.der], &[&der]).unwrap_err();
    assert_eq!(e.role(), Role::Crl);
    assert!(e.to_string().contains("no nextUpdate"), "{e}");
}

/// Undecodable input: the leaf or an intermediate is an error naming its
/// place; an anchor that does not decode is skipped.
#[test]
fn undecodable_certificates() {
    let r = root("Root");
    let leaf = make(Spec::leaf("Leaf"), p256(), Some(&r));
    let e = walk(b"junk", NONE, &[&r.der]).unwrap_err();
    assert!(matches!(e, CertificateError::BadEncoding { .. }));
    assert_eq!(role_and_name(&e), (Role::Leaf, String::new()));
    assert!(
        e.to_string()
            .starts_with("the certificate cannot be decoded"),
        "{e}"
    );
    let e = walk(&leaf.der, &[&r.der, b"junk"], &[&r.der]).unwrap_err();
    assert_eq!(role_and_name(&e), (Role::Intermediate, "#2".into()));
    walk(&leaf.der, NONE, &[b"junk", &r.der]).unwrap();
    let mut long = leaf.der.clone();
    long.extend([0, 0]);
    assert!(
        walk(&long, NONE, &[&r.der])
            .unwrap_err()
            .to_string()
            .contains("2 trailing bytes after the certificate")
    );
}

/// The primitives the fixed-role chains use: issued_by (name, then
/// signature), check_validity, check_crl and CheckedCrl.
#[test]
fn primitives() {
    let r = root("Root");
    let i = make(Spec::ca("Intermediate").serial(5), p256(), Some(&r));
    let parse = pki::parse_cert;
    let (rc, ic) = (parse(&r.der).unwrap(), parse(&i.der).unwrap());
    assert_eq!(pki::issued_by(&ic, &rc), Ok(()));
    assert_eq!(
        pki::issued_by(&rc, &ic),
        Err(CertificateError::IssuerMismatch {
            cert: Named::new(Role::Certificate, "CN=Root"),
            issuer: "CN=Root".into(),
            expected: "CN=Intermediate".into()
        })
    );
    assert_eq!(pki::check_validity(&ic, at(NOW)), Ok(()));
    assert_eq!(
        pki::check_validity(&ic, at(NOW + 101 * DAY))
            .unwrap_err()
            .role(),
        Role::Certificate
    );
    let checked = pki::check_crl(&current_crl(&r, &[5]), &rc).unwrap();
    assert_eq!(checked.issuer, "CN=Root");
    assert_eq!(
        (checked.this_update, checked.next_update),
        (NOW - DAY, NOW + 30 * DAY)
    );
    assert!(checked.is_revoked(&[0, 5]));
    assert!(!checked.is_revoked(&[6]));
    assert_eq!(checked.check_time(at(NOW)), Ok(()));
    assert!(checked.check(&ic).is_err());
    assert_eq!(checked.check(&rc), Ok(()));
    assert_eq!(
        pki::check_crl(&current_crl(&i, &[]), &rc).unwrap_err(),
        CertificateError::IssuerMismatch {
            cert: Named::new(Role::Crl, "CN=Intermediate"),
            issuer: "CN=Intermediate".into(),
            expected: "CN=Root".into()
        }
    );
    // A CRL stays a CRL whatever role a caller gives the error.
    let e = pki::check_crl(&current_crl(&i, &[]), &rc).unwrap_err();
    assert_eq!(e.in_role(Role::Leaf).role(), Role::Crl);
    let e = pki::check_validity(&ic, at(NOW + 101 * DAY)).unwrap_err();
    assert_eq!(e.in_role(Role::Anchor).role(), Role::Anchor);
    assert!(pki::within(NOW as u64, NOW, NOW));
    assert!(!pki::within(NOW as u64 + 1, NOW, NOW));
    assert!(!pki::within(u64::MAX, 0, i64::MAX - 1));
}

/// How items are named in messages.
#[test]
fn names_in_messages() {
    let show = |role, name: &str| Named::new(role, name).to_string();
    assert_eq!(show(Role::Leaf, "CN=A"), "certificate 'CN=A'");
    assert_eq!(show(Role::Certificate, "CN=A"), "certificate 'CN=A'");
    assert_eq!(
        show(Role::Intermediate, "CN=A"),
        "intermediate CA certificate 'CN=A'"
    );
    assert_eq!(
        show(Role::Anchor, "CN=A"),
        "trusted root certificate 'CN=A'"
    );
    assert_eq!(show(Role::Crl, "CN=A"), "the CRL of 'CN=A'");
    assert_eq!(
        show(Role::Intermediate, ""),
        "the intermediate CA certificate"
    );
    assert_eq!(show(Role::Crl, ""), "the CRL");
    // A certificate without a subject is named by its serial.
    let r = root("Root");
    let mut p = Spec::leaf("x").serial(0x1234).params();
    p.distinguished_name = DistinguishedName::new();
    let der = p.signed_by(&p256(), &r.issuer).unwrap().der().to_vec();
    assert_eq!(pki::name_of(&pki::parse_cert(&der).unwrap()), "serial 1234");
    let e = pki::walk(
        &der,
        NONE,
        &[&r.der],
        at(NOW + 200 * DAY),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("certificate 'serial 1234' has expired"),
        "{e}"
    );
    // Anchors get their own hint.
    let e = CertificateError::Expired {
        cert: Named::new(Role::Anchor, "CN=R"),
        not_before: 0,
        not_after: 0,
        at: 1,
    };
    assert!(
        e.to_string()
            .ends_with("configure a current root certificate"),
        "{e}"
    );
    let e = CertificateError::PathLenExceeded {
        cert: Named::new(Role::Anchor, "CN=R"),
        path_len: 0,
        below: 1,
    };
    assert!(
        e.to_string()
            .contains("allows 0 CA certificate(s) below it"),
        "{e}"
    );
}

/// PEM in and out.
#[test]
fn pem_round_trip() {
    let r = root("Root");
    let i = make(Spec::ca("Intermediate"), p256(), Some(&r));
    let text = format!(
        "junk\n{}{}\0",
        pki::certificate_pem(&r.der),
        pki::certificate_pem(&i.der)
    );
    assert_eq!(
        pki::pem_certificates(text.as_bytes()).unwrap(),
        vec![r.der.clone(), i.der.clone()]
    );
    let pem = pki::pem_block("X509 CRL", &[1, 2, 3]);
    assert_eq!(
        pem,
        "-----BEGIN X509 CRL-----\nAQID\n-----END X509 CRL-----\n"
    );
    let unterminated = "-----BEGIN CERTIFICATE-----\nAQID\n";
    assert!(
        pki::pem_certificates(unterminated.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no END marker")
    );
}

/// AMD's shape of chain (RSASSA-PSS SHA-384 everywhere, the trailer field
/// written out) walks, and AMD's CRL revokes through it: the testkit's SNP
/// PKI, the same encoding as AMD's.
#[test]
fn an_amd_style_chain_and_crl_walk() {
    use attesta_testkit::SnpSample;
    let s = SnpSample::builder().build();
    let at = s.at;
    let path = pki::walk(
        &s.vek_der,
        &[&s.ask_der],
        &[&s.ark_der],
        at,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(path.intermediates, vec![0]);
    let revoked = SnpSample::builder().revoke_ask().build();
    let crl = revoked.crl_der.clone().unwrap();
    let e = pki::walk(
        &revoked.vek_der,
        &[&revoked.ask_der],
        &[&revoked.ark_der],
        at,
        &Options {
            crls: vec![&crl],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, CertificateError::Revoked { .. }), "{e}");
    assert_eq!(e.role(), Role::Intermediate);
}
