//! Policy and policy-certificate JWS as MAA's control plane receives them
//! (reference 1.8, 1.9, 3.11; sdk-clients.md, "Quirks").
//!
//! Clients disagree on the details, and every variant below was seen
//! accepted by MAA, so all are accepted:
//! * `alg` `RS256` or the Python SDK's `RSA256` (both RSASSA-PKCS1-v1_5 /
//!   SHA-256), `PS256` (RSA-PSS / SHA-256), `ES256` or Python's `ECDH256`
//!   (ECDSA P-256 / SHA-256);
//! * the signer's certificate chain in `x5c` or in `jwk.x5c` (standard
//!   base64 DER, leaf first);
//! * an empty payload (policy reset) and `{"alg":"none"}` with an empty
//!   signature (unsigned policies).
//!
//! The text itself is canonical or refused: each part is RFC 7515 base64url
//! (no padding, zero trailing bits) and the header has no duplicate member
//! names, so one signed request has exactly one spelling — the one that is
//! stored, hashed for `x-ms-policy-token-hash` and remembered against replay.
//! Both Microsoft SDKs write exactly that form.
//!
//! Decisions: an ES256 signature must be the raw 64-byte r‖s that RFC 7518
//! §3.4 prescribes and the JS SDK sends; DER-encoded ECDSA signatures are
//! rejected (no client sends them, and accepting two encodings only adds
//! malleability). When both `x5c` and `jwk.x5c` are present their leaf
//! certificates must be identical, so there is never a question of which one
//! signed. Nothing here trims the text: hashes and signatures are over the
//! exact bytes received.

use crate::crypto::{self, PublicKey, Scheme};
use crate::encoding::{
    b64_decode_lenient, b64std, b64url_decode, b64url_into, parse_json_object_strict, sorted_json,
};
use crate::error::JwsError;
use crate::jwks::Jwk;
use attesta_evidence::UnixTime;
use attesta_evidence::pki::{self, CertificateError};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Map, Value};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The base64url of `{"alg":"none"}`, the header of every unsigned policy.
pub const UNSIGNED_HEADER_B64: &str = "eyJhbGciOiJub25lIn0";

/// Longest certificate chain taken from a header.
const MAX_CHAIN: usize = 8;

/// A parsed compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws {
    /// The text exactly as received.
    pub raw: String,
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The signer of a verified JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Certificate chain from the header, DER, leaf first.
    pub chain_der: Vec<Vec<u8>>,
    /// Upper-case hex SHA-1 of the leaf DER (the Windows thumbprint form).
    pub thumbprint_sha1_hex: String,
    /// `{"alg","kty","use":"sig","x5c":[…]}` as MAA reports `x-ms-policy-signer`.
    pub jwk: Jwk,
}

/// Parse a compact JWS (see the module doc for the accepted forms).
pub fn parse_jws(text: &str) -> Result<Jws, JwsError> {
    let first = text
        .find('.')
        .ok_or_else(|| JwsError::Malformed("Could not find first period in the JWS".into()))?;
    let second = text[first + 1..]
        .find('.')
        .map(|i| first + 1 + i)
        .ok_or_else(|| JwsError::Malformed("Could not find second period in the JWS".into()))?;
    if text[second + 1..].contains('.') {
        return Err(JwsError::Malformed(
            "Found more than two periods in the JWS".into(),
        ));
    }
    let (h, p, s) = (
        &text[..first],
        &text[first + 1..second],
        &text[second + 1..],
    );
    if h.is_empty() {
        return Err(JwsError::Malformed("the JWS header is empty".into()));
    }
    let header_bytes = b64url_decode(h).ok_or_else(|| {
        JwsError::Malformed("the JWS header is not canonical base64url (no padding)".into())
    })?;
    let header = parse_json_object_strict(&header_bytes)
        .map_err(|e| JwsError::Malformed(format!("the JWS header is {e}")))?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => {
            return Err(JwsError::Malformed(
                "the JWS header's alg is not a string".into(),
            ));
        }
        None => return Err(JwsError::Malformed("the JWS header has no alg".into())),
    };
    let payload = b64url_decode(p).ok_or_else(|| {
        JwsError::Malformed("the JWS payload is not canonical base64url (no padding)".into())
    })?;
    let signature = b64url_decode(s).ok_or_else(|| {
        JwsError::Malformed("the JWS signature is not canonical base64url (no padding)".into())
    })?;
    if alg == "none" && !signature.is_empty() {
        return Err(JwsError::Malformed(
            "the JWS says alg none but carries a signature".into(),
        ));
    }
    Ok(Jws {
        raw: text.to_string(),
        header,
        payload,
        signature,
    })
}

impl Jws {
    /// The header's `alg` (parse guarantees a string).
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// The payload as a JSON object, parsed as strictly as the header (no
    /// duplicate member names). `None` for an empty payload.
    pub fn payload_object(&self) -> Result<Option<Map<String, Value>>, JwsError> {
        if self.payload.is_empty() {
            return Ok(None);
        }
        parse_json_object_strict(&self.payload)
            .map(Some)
            .map_err(|e| JwsError::Malformed(format!("the JWS payload is {e}")))
    }

    /// `alg` is `none` (and then the signature is empty).
    pub fn is_unsigned(&self) -> bool {
        self.alg() == "none"
    }

    /// The signed text: everything before the second `.`.
    pub fn signing_input(&self) -> &str {
        match self.raw.match_indices('.').nth(1) {
            Some((i, _)) => &self.raw[..i],
            None => &self.raw,
        }
    }

    /// Check the signature with the header's leaf certificate. `None` for an
    /// unsigned JWS. This proves who signed, not that the signer is trusted:
    /// see [`signer_is_trusted`].
    pub fn verify_signer(&self) -> Result<Option<Signer>, JwsError> {
        let alg = self.alg();
        let (scheme, jwk_alg) = match alg {
            "none" => return Ok(None),
            "RS256" | "RSA256" => (Scheme::RsaPkcs1Sha256, "RS256"),
            "PS256" => (Scheme::RsaPssSha256, "PS256"),
            "ES256" | "ECDH256" => (Scheme::EcdsaP256Sha256Fixed, "ES256"),
            other => return Err(JwsError::UnsupportedAlgorithm(other.to_string())),
        };
        let chain_b64 = header_chain(&self.header)?;
        let mut chain_der = Vec::with_capacity(chain_b64.len());
        for (i, c) in chain_b64.iter().enumerate() {
            let der = b64_decode_lenient(c)
                .ok_or_else(|| JwsError::BadCertificate(format!("x5c[{i}] is not base64")))?;
            parse_cert(&der).map_err(|e| JwsError::BadCertificate(format!("x5c[{i}]: {e}")))?;
            chain_der.push(der);
        }
        let Some(leaf) = chain_der.first() else {
            return Err(JwsError::MissingCertificate);
        };
        let key = crypto::certificate_public_key(leaf).map_err(JwsError::BadCertificate)?;
        let (kty, fits) = match (&key, scheme) {
            (PublicKey::Rsa(_), Scheme::RsaPkcs1Sha256 | Scheme::RsaPssSha256) => ("RSA", true),
            (PublicKey::EcP256(_), Scheme::EcdsaP256Sha256Fixed) => ("EC", true),
            _ => ("", false),
        };
        if !fits {
            return Err(JwsError::KeyAlgorithmMismatch {
                alg: alg.to_string(),
                expected: if scheme == Scheme::EcdsaP256Sha256Fixed {
                    "EC P-256"
                } else {
                    "RSA"
                },
                found: key.kind().to_string(),
            });
        }
        if !crypto::verify(
            scheme,
            &key,
            self.signing_input().as_bytes(),
            &self.signature,
        ) {
            return Err(JwsError::BadSignature);
        }
        let jwk = Jwk {
            alg: Some(jwk_alg.into()),
            kty: kty.into(),
            use_: Some("sig".into()),
            x5c: chain_der.iter().map(|d| b64std(d)).collect(),
            ..Default::default()
        };
        Ok(Some(Signer {
            thumbprint_sha1_hex: hex::encode_upper(crypto::sha1(leaf)),
            chain_der,
            jwk,
        }))
    }
}

/// The certificate chain of a header: `x5c`, or `jwk.x5c`.
fn header_chain(header: &Map<String, Value>) -> Result<Vec<String>, JwsError> {
    let strings = |v: &Value, name: &str| -> Result<Vec<String>, JwsError> {
        let arr = v
            .as_array()
            .ok_or_else(|| JwsError::Malformed(format!("{name} is not an array")))?;
        arr.iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| JwsError::Malformed(format!("{name} holds a non-string")))
            })
            .collect()
    };
    let direct = match header.get("x5c") {
        Some(v) => strings(v, "x5c")?,
        None => Vec::new(),
    };
    let nested = match header.get("jwk") {
        Some(Value::Object(jwk)) => match jwk.get("x5c") {
            Some(v) => strings(v, "jwk.x5c")?,
            None => Vec::new(),
        },
        Some(_) => {
            return Err(JwsError::Malformed(
                "the header's jwk is not an object".into(),
            ));
        }
        None => Vec::new(),
    };
    let chain = match (direct.is_empty(), nested.is_empty()) {
        (true, true) => return Err(JwsError::MissingCertificate),
        (false, true) => direct,
        (true, false) => nested,
        (false, false) => {
            let same = b64_decode_lenient(&direct[0]).is_some()
                && b64_decode_lenient(&direct[0]) == b64_decode_lenient(&nested[0]);
            if !same {
                return Err(JwsError::Malformed(
                    "x5c and jwk.x5c name different signing certificates".into(),
                ));
            }
            direct
        }
    };
    if chain.len() > MAX_CHAIN {
        return Err(JwsError::BadCertificate(format!(
            "chain of {} certificates (at most {MAX_CHAIN})",
            chain.len()
        )));
    }
    Ok(chain)
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Ok(c),
        Ok((rest, _)) => Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )),
        Err(e) => Err(format!("does not parse: {e}")),
    }
}

/// Whether a verified signer is trusted: its leaf certificate is one of
/// `trusted_der` (pinned; no validity check, the pin is the trust), or the
/// header chain leads from the leaf to one of `trusted_der` through
/// [`attesta_evidence::pki::walk`] (the header's other certificates in any
/// order, at most [`MAX_CHAIN`] below the trusted one): every issuer name
/// matches, every signature verifies, every issuing certificate is a CA,
/// and every certificate on the path (the trusted one included) is valid at
/// `now`. A trusted certificate the header also carries as an intermediate
/// vouches as a trusted one.
pub fn signer_is_trusted(
    signer: &Signer,
    trusted_der: &[Vec<u8>],
    now: u64,
) -> Result<(), JwsError> {
    let leaf_der = signer
        .chain_der
        .first()
        .ok_or_else(|| JwsError::UntrustedSigner("the signer has no certificate".into()))?;
    if trusted_der.iter().any(|t| t == leaf_der) {
        return Ok(());
    }
    pki::walk(
        leaf_der,
        &signer.chain_der[1..],
        trusted_der,
        UnixTime(now),
        &pki::Options {
            max_depth: MAX_CHAIN,
            crls: Vec::new(),
        },
    )
    .map(|_| ())
    .map_err(|e| signer_chain_error(e, &signer.thumbprint_sha1_hex))
}

/// A failed signer chain as a JWS error: the one place the chain's
/// [`CertificateError`]s become JWS codes. A header certificate that does
/// not decode is `JwsBadCertificate`; every other failure means the signer
/// is not trusted (`JwsUntrustedSigner`).
fn signer_chain_error(e: CertificateError, thumbprint: &str) -> JwsError {
    match e {
        CertificateError::BadEncoding { .. } => JwsError::BadCertificate(e.to_string()),
        _ => JwsError::UntrustedSigner(format!("signing certificate SHA-1 {thumbprint}: {e}")),
    }
}

/// A key to sign policies or certificate operations with (tests, CLI).
pub enum JwsSigningKey {
    /// RSA key (PKCS#8 DER) and its certificate: signs RS256.
    Rsa {
        key_pkcs8_der: Vec<u8>,
        cert_der: Vec<u8>,
    },
    /// ECDSA P-256 key (PKCS#8 DER) and its certificate: signs ES256.
    Ec {
        key_pkcs8_der: Vec<u8>,
        cert_der: Vec<u8>,
    },
}

/// Sign `payload` with header `{"alg":"RS256"|"ES256","x5c":[cert]}`.
pub fn sign_jws(payload: &[u8], key: &JwsSigningKey) -> Result<String, JwsError> {
    let rng = SystemRandom::new();
    let bad = |m: String| JwsError::BadSigningKey(m);
    let (alg, cert_der) = match key {
        JwsSigningKey::Rsa { cert_der, .. } => ("RS256", cert_der),
        JwsSigningKey::Ec { cert_der, .. } => ("ES256", cert_der),
    };
    let cert_key =
        crypto::certificate_public_key(cert_der).map_err(|e| bad(format!("certificate: {e}")))?;
    let mut header = Map::new();
    header.insert("alg".into(), Value::from(alg));
    header.insert(
        "x5c".into(),
        Value::Array(vec![Value::from(b64std(cert_der))]),
    );
    let mut out = String::new();
    b64url_into(sorted_json(&header).as_bytes(), &mut out);
    out.push('.');
    b64url_into(payload, &mut out);
    let sig = match key {
        JwsSigningKey::Rsa { key_pkcs8_der, .. } => {
            let kp = RsaKeyPair::from_pkcs8(key_pkcs8_der)
                .map_err(|e| bad(format!("not an RSA PKCS#8 key: {e}")))?;
            if cert_key != PublicKey::Rsa(kp.public_key().as_ref().to_vec()) {
                return Err(bad(
                    "the certificate does not hold this key's public key".into()
                ));
            }
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(&signature::RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                .map_err(|_| bad("RSA signing failed".into()))?;
            sig
        }
        JwsSigningKey::Ec { key_pkcs8_der, .. } => {
            let kp = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                key_pkcs8_der,
            )
            .map_err(|e| bad(format!("not a P-256 PKCS#8 key: {e}")))?;
            if cert_key != PublicKey::EcP256(kp.public_key().as_ref().to_vec()) {
                return Err(bad(
                    "the certificate does not hold this key's public key".into()
                ));
            }
            kp.sign(&rng, out.as_bytes())
                .map_err(|_| bad("ECDSA signing failed".into()))?
                .as_ref()
                .to_vec()
        }
    };
    out.push('.');
    b64url_into(&sig, &mut out);
    Ok(out)
}

/// An unsigned JWS: `eyJhbGciOiJub25lIn0.` + b64url(payload) + `.`; for an
/// empty payload exactly `eyJhbGciOiJub25lIn0..` (the reset body).
pub fn unsigned_jws(payload: &[u8]) -> String {
    let mut out = String::with_capacity(UNSIGNED_HEADER_B64.len() + payload.len() * 4 / 3 + 4);
    out.push_str(UNSIGNED_HEADER_B64);
    out.push('.');
    b64url_into(payload, &mut out);
    out.push('.');
    out
}

/// `x-ms-policy-token-hash`: base64url(SHA-256(the JWS text exactly as
/// received)).
pub fn policy_token_hash(jws_text: &str) -> String {
    crate::encoding::b64url(&crypto::sha256(jws_text.as_bytes()))
}
