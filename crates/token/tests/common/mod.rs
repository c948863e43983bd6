//! Test PKI for the token crate's tests: CA and leaf certificates made with
//! rcgen, with explicit validity windows around a pinned time.
#![allow(dead_code)]

use attesta_token::jws::JwsSigningKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};

/// Pinned test time (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
const DAY: i64 = 86_400;

pub fn ts(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).unwrap()
}

pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub struct Pki {
    pub cert_der: Vec<u8>,
    pub key: KeyPair,
    pub params: CertificateParams,
}

impl Pki {
    pub fn key_der(&self) -> Vec<u8> {
        self.key.serialize_der()
    }
    pub fn jws_key(&self) -> JwsSigningKey {
        if self.key.algorithm() == &PKCS_RSA_SHA256 {
            JwsSigningKey::Rsa {
                key_pkcs8_der: self.key_der(),
                cert_der: self.cert_der.clone(),
            }
        } else {
            JwsSigningKey::Ec {
                key_pkcs8_der: self.key_der(),
                cert_der: self.cert_der.clone(),
            }
        }
    }
}

pub fn rsa_key() -> KeyPair {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap()
}

pub fn ec_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn params(cn: &str, ca: bool, from: i64, to: i64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = ts(from);
    p.not_after = ts(to);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    p
}

fn window() -> (i64, i64) {
    let now = NOW as i64;
    (now - 30 * DAY, now + 365 * DAY)
}

/// A self-signed certificate (CA or not), valid around NOW.
pub fn self_signed(cn: &str, key: KeyPair, ca: bool) -> Pki {
    let (from, to) = window();
    let params = params(cn, ca, from, to);
    let cert = params.self_signed(&key).unwrap();
    Pki {
        cert_der: cert.der().to_vec(),
        key,
        params,
    }
}

/// A certificate for `key` issued by `issuer`, valid from `from` to `to`.
pub fn issued_window(cn: &str, key: KeyPair, ca: bool, issuer: &Pki, from: i64, to: i64) -> Pki {
    let params = params(cn, ca, from, to);
    let iss = Issuer::from_params(&issuer.params, &issuer.key);
    let cert = params.signed_by(&key, &iss).unwrap();
    Pki {
        cert_der: cert.der().to_vec(),
        key,
        params,
    }
}

/// A certificate for `key` issued by `issuer`, valid around NOW.
pub fn issued(cn: &str, key: KeyPair, ca: bool, issuer: &Pki) -> Pki {
    let (from, to) = window();
    issued_window(cn, key, ca, issuer, from, to)
}
