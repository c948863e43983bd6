//! The crypto provider boundary: every hash and signature check the
//! verifiers need, implemented once over aws-lc-rs.
//!
//! Verifier modules call these functions and never name aws-lc-rs, so
//! protocol code reads as protocol and the backend is swappable in one place.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> [u8; 48] {
    let d = digest::digest(&digest::SHA384, data);
    let mut out = [0u8; 48];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-1 of `data` (certificate thumbprints only; never for signatures).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    let d = digest::digest(&digest::SHA512, data);
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 over data given in parts (`update` each, then `finish`).
pub struct Sha256(digest::Context);

impl Sha256 {
    pub fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> [u8; 32] {
        let d = self.0.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// Compare two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// The signature schemes the verifiers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA P-256 / SHA-256, signature as raw r‖s (64 bytes): SGX/TDX quotes.
    EcdsaP256Sha256Fixed,
    /// ECDSA P-256 / SHA-256, ASN.1 DER signature: X.509, Intel collateral.
    EcdsaP256Sha256Asn1,
    /// ECDSA P-384 / SHA-384, raw r‖s (96 bytes).
    EcdsaP384Sha384Fixed,
    /// ECDSA P-384 / SHA-384, ASN.1 DER signature.
    EcdsaP384Sha384Asn1,
    /// ECDSA P-256 / SHA-384, ASN.1 DER signature: X.509 certificates
    /// whose issuer pairs a P-256 key with SHA-384 ([`crate::pki`]).
    EcdsaP256Sha384Asn1,
    /// ECDSA P-384 / SHA-256, ASN.1 DER signature ([`crate::pki`]).
    EcdsaP384Sha256Asn1,
    /// RSASSA-PKCS1-v1_5 / SHA-256 (2048–8192-bit keys, DER RSAPublicKey).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 / SHA-384 (DER RSAPublicKey): TPM quotes.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 / SHA-512 (DER RSAPublicKey): X.509 certificates.
    RsaPkcs1Sha512,
    /// RSASSA-PSS / SHA-256 (DER RSAPublicKey).
    RsaPssSha256,
    /// RSASSA-PSS / SHA-384 (DER RSAPublicKey): AMD certificates.
    RsaPssSha384,
    /// RSASSA-PSS / SHA-512 (DER RSAPublicKey): X.509 certificates.
    RsaPssSha512,
    /// Ed25519 (the 32-byte public key): X.509 certificates.
    Ed25519,
    /// RSASSA-PKCS1-v1_5 / SHA-1 (2048–8192-bit keys): TPM quotes of
    /// Windows PCP and older vTPM AKs, only when the provider opts in
    /// (`TpmOptions::allow_sha1`).
    RsaPkcs1Sha1Legacy,
}

/// The signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

/// Verify `sig` over `msg` with `public_key`.
///
/// `public_key` is an uncompressed SEC1 point (`04 ‖ x ‖ y`) for ECDSA, a
/// DER `RSAPublicKey` for RSA and the raw 32 bytes for Ed25519. RSA-PSS
/// signatures carry a salt as long as the digest, with MGF1 over the same
/// digest.
pub fn verify(
    scheme: Scheme,
    public_key: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), BadSignature> {
    let alg: &'static dyn signature::VerificationAlgorithm = match scheme {
        Scheme::EcdsaP256Sha256Fixed => &signature::ECDSA_P256_SHA256_FIXED,
        Scheme::EcdsaP256Sha256Asn1 => &signature::ECDSA_P256_SHA256_ASN1,
        Scheme::EcdsaP384Sha384Fixed => &signature::ECDSA_P384_SHA384_FIXED,
        Scheme::EcdsaP384Sha384Asn1 => &signature::ECDSA_P384_SHA384_ASN1,
        Scheme::EcdsaP256Sha384Asn1 => &signature::ECDSA_P256_SHA384_ASN1,
        Scheme::EcdsaP384Sha256Asn1 => &signature::ECDSA_P384_SHA256_ASN1,
        Scheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Scheme::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Scheme::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Scheme::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        Scheme::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        Scheme::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
        Scheme::Ed25519 => &signature::ED25519,
        Scheme::RsaPkcs1Sha1Legacy => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    };
    UnparsedPublicKey::new(alg, public_key)
        .verify(msg, sig)
        .map_err(|_| BadSignature)
}

/// RSASSA-PKCS1-v1_5 / SHA-256 accepting RSA keys from 1024 bits: only for
/// reporting on legacy self-signed certificates (MAA's 2019–2021 signing
/// certificates have 1024-bit keys), never to accept evidence.
pub fn verify_rsa_sha256_legacy(
    public_key: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), BadSignature> {
    UnparsedPublicKey::new(
        &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        public_key,
    )
    .verify(msg, sig)
    .map_err(|_| BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bad_signature_is_an_error() {
        let key = [4u8; 65];
        assert_eq!(
            verify(Scheme::EcdsaP256Sha256Fixed, &key, b"m", &[0; 64]),
            Err(BadSignature)
        );
    }
}
