//! The crypto boundary of the token crate: hashes, the public key of a
//! certificate, and signature checks, implemented once over aws-lc-rs and
//! x509-parser. The JWT/JWS modules call these and never name aws-lc-rs for
//! verification.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::{FromDer, X509Certificate};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// SHA-1 of `data` — certificate thumbprints only, never signatures.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref());
    out
}

/// The public key a certificate carries, as far as JOSE cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: DER `RSAPublicKey` (PKCS#1).
    Rsa(Vec<u8>),
    /// ECDSA P-256: the uncompressed SEC1 point.
    EcP256(Vec<u8>),
    /// Anything else, described (algorithm OID and curve).
    Other(String),
}

impl PublicKey {
    /// The JWK `kty` of the key, or a description for unsupported keys.
    pub fn kind(&self) -> &str {
        match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::EcP256(_) => "EC P-256",
            PublicKey::Other(d) => d,
        }
    }
}

/// Parse a DER certificate and return its public key. The whole input must
/// be the certificate (no trailing bytes).
pub fn certificate_public_key(cert_der: &[u8]) -> Result<PublicKey, String> {
    let (rest, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| format!("certificate does not parse: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        ));
    }
    Ok(spki_public_key(&cert))
}

/// The public key of an already parsed certificate.
pub fn spki_public_key(cert: &X509Certificate<'_>) -> PublicKey {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    let key = spki.subject_public_key.data.to_vec();
    if *alg == OID_PKCS1_RSAENCRYPTION {
        PublicKey::Rsa(key)
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        match curve {
            Some(c) if c == OID_EC_P256 => PublicKey::EcP256(key),
            Some(c) => PublicKey::Other(format!("EC key on curve {c}")),
            None => PublicKey::Other("EC key without a named curve".into()),
        }
    } else {
        PublicKey::Other(format!("key algorithm {alg}"))
    }
}

/// The signature schemes JOSE uses here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256 (2048–8192-bit keys).
    RsaPkcs1Sha256,
    /// PS256: RSASSA-PSS with SHA-256.
    RsaPssSha256,
    /// ES256: ECDSA P-256 SHA-256, signature as raw r‖s (RFC 7518 §3.4).
    EcdsaP256Sha256Fixed,
}

/// Check `sig` over `msg` with `key` under `scheme`. A key of the wrong type
/// for the scheme fails.
pub fn verify(scheme: Scheme, key: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    let (alg, key_bytes): (&'static dyn signature::VerificationAlgorithm, &[u8]) =
        match (scheme, key) {
            (Scheme::RsaPkcs1Sha256, PublicKey::Rsa(k)) => {
                (&signature::RSA_PKCS1_2048_8192_SHA256, k)
            }
            (Scheme::RsaPssSha256, PublicKey::Rsa(k)) => (&signature::RSA_PSS_2048_8192_SHA256, k),
            (Scheme::EcdsaP256Sha256Fixed, PublicKey::EcP256(k)) => {
                (&signature::ECDSA_P256_SHA256_FIXED, k)
            }
            _ => return false,
        };
    UnparsedPublicKey::new(alg, key_bytes)
        .verify(msg, sig)
        .is_ok()
}
