//! Token-signing certificates that carry TEE evidence, for tests: a fresh
//! ECDSA P-256 key, a self-signed certificate with MAA's or Attesta's
//! evidence extension, and SGX samples whose report data binds the key as
//! MAA's rule says (`report_data[0..32]` = SHA-256(SPKI PEM ‖ 0x00)).

use attesta_evidence::signing_cert::{
    ATTESTA_OID_PLACEHOLDER_ARCS, AttestaEvidence, EvidenceKind, key_binding_report_data,
    substitute_attesta_oid,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};

use crate::sgx::{SgxSample, odt};

/// A key for a test signing certificate: PKCS#8 DER of an ECDSA P-256 key.
pub fn new_key() -> Vec<u8> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .expect("keygen")
        .as_ref()
        .to_vec()
}

/// The SubjectPublicKeyInfo DER of `key` (PKCS#8 DER).
pub fn spki_der(key: &[u8]) -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(&KeyPair::try_from(key).expect("rcgen key"))
}

/// An SGX sample (valid at its default time) whose report data binds `spki_der`.
pub fn sgx_sample_binding(spki_der: &[u8]) -> SgxSample {
    SgxSample::builder()
        .report_data(key_binding_report_data(spki_der))
        .build()
}

/// What to put in a test certificate.
#[derive(Debug, Clone, Default)]
pub struct CertSpec {
    /// Subject and issuer common name.
    pub common_name: String,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Raw extensions: OID arcs and the extnValue content.
    pub extensions: Vec<(Vec<u64>, Vec<u8>)>,
    /// Attesta's evidence extension, when wanted.
    pub attesta: Option<AttestaEvidence>,
}

/// A self-signed certificate for `key` (PKCS#8 DER, P-256) as `spec` says.
pub fn certificate(key: &[u8], spec: &CertSpec) -> Vec<u8> {
    let rc_key = KeyPair::try_from(key).expect("rcgen key");
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, spec.common_name.clone());
    params.not_before = odt(spec.not_before);
    params.not_after = odt(spec.not_after);
    for (oid, value) in &spec.extensions {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(oid, value.clone()));
    }
    if let Some(a) = &spec.attesta {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &ATTESTA_OID_PLACEHOLDER_ARCS,
                a.to_extension_value(),
            ));
    }
    let der = params
        .self_signed(&rc_key)
        .expect("certificate")
        .der()
        .to_vec();
    if spec.attesta.is_none() {
        return der;
    }
    let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key).expect("key");
    substitute_attesta_oid(&der, |tbs| {
        signer
            .sign(&SystemRandom::new(), tbs)
            .expect("sign")
            .as_ref()
            .to_vec()
    })
    .expect("OID substitution")
}

/// MAA's SGX extension value: an OCTET STRING holding the quote.
pub fn maa_sgx_extension(quote: &[u8]) -> (Vec<u64>, Vec<u8>) {
    (vec![1, 2, 840, 113_556, 10, 1, 1], der_octet_string(quote))
}

/// Attesta's extension for an SGX quote, source `test`.
pub fn attesta_sgx(quote: &[u8]) -> AttestaEvidence {
    AttestaEvidence::new(EvidenceKind::SgxQuote, quote, Some("test"))
}

fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}
