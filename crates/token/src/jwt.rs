//! Attestation tokens: issue (RS256 with MAA's header, or unsecured) and
//! verify.
//!
//! Issue: the header is `{"alg":"RS256","jku":…,"kid":…,"typ":"JWT"}` (plus
//! `x5c` on request) and both header and claims are compact JSON with keys
//! sorted at every depth, byte-for-byte the form MAA emits (reference 2.1).
//!
//! Verify: only RS256 is accepted — `none` and every other `alg` are refused
//! before any key is looked at. The key is chosen by the header `kid`; a
//! `kid` that names no key in the set is an error (`UnknownKey`), never a
//! fall-back to trying other keys: a token naming a key we do not have is not
//! one of the issuer's, and failing closed keeps the check one signature
//! long. A token *without* a `kid` is tried against every key in the set (all
//! of them are the issuer's keys, so accepting any one is sound), as MAA's
//! FAQ advises. `exp` is required; `nbf` is checked when present.

use crate::crypto::{self, PublicKey, Scheme};
use crate::encoding::{b64url_decode, b64url_into, sorted_json, write_sorted_map};
use crate::error::TokenError;
use crate::jwks::{Jwk, Jwks};
use crate::keys::SigningKey;
use serde_json::{Map, Value};

/// A JSON object.
pub type JsonMap = Map<String, Value>;

/// The claim Attesta puts in control-plane result tokens (policy and
/// certificate operations). Such a token is signed by the same provider key
/// as attestation tokens, so relying parties must refuse it as an
/// attestation result: [`check_attestation_claims`] does.
pub const MANAGEMENT_TOKEN_CLAIM: &str = "x-attesta-management";

/// Refuse a verified token that is not an attestation result: a
/// control-plane reply (it carries [`MANAGEMENT_TOKEN_CLAIM`]) or any token
/// without `x-ms-attestation-type`.
pub fn check_attestation_claims(claims: &JsonMap) -> Result<(), TokenError> {
    if claims.contains_key(MANAGEMENT_TOKEN_CLAIM) {
        return Err(TokenError::NotAnAttestationToken(
            "it is a control-plane (policy or certificate) result token".into(),
        ));
    }
    match claims.get("x-ms-attestation-type") {
        Some(Value::String(_)) => Ok(()),
        _ => Err(TokenError::NotAnAttestationToken(
            "it has no x-ms-attestation-type claim".into(),
        )),
    }
}

/// Which certificate reference a token header carries besides `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertHeader {
    /// Neither (MAA's SGX, OE, SNP and TDX tokens).
    None,
    /// `x5c`: the signing certificate (MAA's TPM and VBS tokens by default).
    X5c,
    /// `x5t`: base64url SHA-1 of the signing certificate, in place of `x5c`
    /// (the `omit_x5c` policy property).
    X5t,
}

/// Sign `claims` as an RS256 JWT with MAA's header. `jku` is the issuer's
/// `/certs` URL; `include_x5c` adds the signing certificate to the header.
pub fn sign_jwt(key: &SigningKey, jku: &str, claims: &JsonMap, include_x5c: bool) -> String {
    let cert = if include_x5c {
        CertHeader::X5c
    } else {
        CertHeader::None
    };
    sign_jwt_with(key, jku, claims, cert)
}

/// [`sign_jwt`] with the header's certificate reference chosen explicitly.
pub fn sign_jwt_with(key: &SigningKey, jku: &str, claims: &JsonMap, cert: CertHeader) -> String {
    let mut header = JsonMap::new();
    header.insert("alg".into(), Value::from("RS256"));
    header.insert("jku".into(), Value::from(jku));
    header.insert("kid".into(), Value::from(key.kid()));
    header.insert("typ".into(), Value::from("JWT"));
    match cert {
        CertHeader::None => {}
        CertHeader::X5c => {
            header.insert(
                "x5c".into(),
                Value::Array(vec![Value::from(key.cert_b64())]),
            );
        }
        CertHeader::X5t => {
            header.insert(
                "x5t".into(),
                Value::from(crate::encoding::b64url(&crate::crypto::sha1(
                    key.cert_der(),
                ))),
            );
        }
    }
    let mut json = String::with_capacity(2048);
    write_sorted_map(&header, &mut json);
    let mut out = String::with_capacity(json.len() * 2 + 1024);
    b64url_into(json.as_bytes(), &mut out);
    out.push('.');
    json.clear();
    write_sorted_map(claims, &mut json);
    b64url_into(json.as_bytes(), &mut out);
    let sig = key.sign_rs256(out.as_bytes());
    out.push('.');
    b64url_into(&sig, &mut out);
    out
}

/// An unsecured JWT (`{"alg":"none","typ":"JWT"}`, empty signature), as MAA
/// returns for draft-policy attestation.
pub fn unsecured_jwt(claims: &JsonMap) -> String {
    let mut out = String::with_capacity(256);
    b64url_into(br#"{"alg":"none","typ":"JWT"}"#, &mut out);
    out.push('.');
    b64url_into(sorted_json(claims).as_bytes(), &mut out);
    out.push('.');
    out
}

/// What [`verify_jwt`] checks besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Exact `iss` required, when given.
    pub issuer: Option<String>,
    /// Verification time, Unix seconds.
    pub now: u64,
    /// Clock-skew allowance applied to `exp` and `nbf`.
    pub leeway_secs: u64,
}

/// A token whose signature, times and issuer checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub header: JsonMap,
    pub claims: JsonMap,
    /// `kid` of the key that verified the signature (if that key has one).
    pub kid: Option<String>,
}

/// Verify an RS256 token against a key set. See the module doc for the rules.
pub fn verify_jwt(
    token: &str,
    jwks: &Jwks,
    opts: &VerifyOptions,
) -> Result<VerifiedToken, TokenError> {
    let parts = split3(token)?;
    let header = decode_object(parts[0], "header")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "RS256" {
        let shown = match header.get("alg") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "(missing)".into(),
        };
        return Err(TokenError::UnsupportedAlgorithm(shown));
    }
    let claims = decode_object(parts[1], "claims")?;
    let sig = b64url_decode(parts[2])
        .ok_or_else(|| TokenError::Malformed("signature is not base64url".into()))?;
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];

    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(TokenError::Malformed("header kid is not a string".into())),
    };
    let verified_by: Option<String> = match kid {
        Some(kid) => {
            let jwk = jwks
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or_else(|| TokenError::UnknownKey(kid.to_string()))?;
            let key = jwk_rsa_key(jwk)?;
            if !crypto::verify(Scheme::RsaPkcs1Sha256, &key, signing_input.as_bytes(), &sig) {
                return Err(TokenError::BadSignature);
            }
            jwk.kid.clone()
        }
        None => {
            let found = jwks.keys.iter().find(|jwk| {
                jwk_rsa_key(jwk).is_ok_and(|key| {
                    crypto::verify(Scheme::RsaPkcs1Sha256, &key, signing_input.as_bytes(), &sig)
                })
            });
            match found {
                Some(jwk) => jwk.kid.clone(),
                None => return Err(TokenError::BadSignature),
            }
        }
    };

    let exp = time_claim(&claims, "exp")?.ok_or(TokenError::MissingExpiry)?;
    if opts.now >= exp.saturating_add(opts.leeway_secs) {
        return Err(TokenError::Expired { exp, now: opts.now });
    }
    if let Some(nbf) = time_claim(&claims, "nbf")?
        && opts.now.saturating_add(opts.leeway_secs) < nbf
    {
        return Err(TokenError::NotYetValid { nbf, now: opts.now });
    }
    if let Some(expected) = &opts.issuer {
        let found = claims.get("iss").and_then(Value::as_str);
        if found != Some(expected.as_str()) {
            return Err(TokenError::WrongIssuer {
                expected: expected.clone(),
                found: found.map(str::to_string),
            });
        }
    }
    Ok(VerifiedToken {
        header,
        claims,
        kid: verified_by,
    })
}

/// Header and claims of a token, with no check at all. For display and
/// diagnostics only.
pub fn decode_unverified(token: &str) -> Result<(JsonMap, JsonMap), TokenError> {
    let parts = split3(token)?;
    Ok((
        decode_object(parts[0], "header")?,
        decode_object(parts[1], "claims")?,
    ))
}

fn split3(token: &str) -> Result<[&str; 3], TokenError> {
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(a), Some(b), Some(c), None) => Ok([a, b, c]),
        _ => Err(TokenError::Malformed(format!(
            "a JWT has three dot-separated parts, this text has {}",
            token.split('.').count()
        ))),
    }
}

fn decode_object(part: &str, what: &str) -> Result<JsonMap, TokenError> {
    let bytes = b64url_decode(part).ok_or_else(|| {
        TokenError::Malformed(format!("{what} is not canonical base64url (no padding)"))
    })?;
    crate::encoding::parse_json_object_strict(&bytes)
        .map_err(|e| TokenError::Malformed(format!("{what} is {e}")))
}

/// A NumericDate claim: absent → None; a non-negative number → seconds
/// (fractions truncated); anything else is malformed.
fn time_claim(claims: &JsonMap, name: &str) -> Result<Option<u64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && *f >= 0.0) {
                Ok(Some(f as u64))
            } else {
                Err(TokenError::Malformed(format!(
                    "{name} is not a non-negative time: {n}"
                )))
            }
        }
        Some(v) => Err(TokenError::Malformed(format!(
            "{name} is not a number: {v}"
        ))),
    }
}

/// The RSA public key of a JWK's first `x5c` certificate.
fn jwk_rsa_key(jwk: &Jwk) -> Result<PublicKey, TokenError> {
    let first = jwk
        .x5c
        .first()
        .ok_or_else(|| TokenError::KeyUnusable("key has no x5c certificate".into()))?;
    let der = crate::encoding::b64_decode_lenient(first)
        .ok_or_else(|| TokenError::KeyUnusable("x5c[0] is not base64".into()))?;
    match crypto::certificate_public_key(&der).map_err(TokenError::KeyUnusable)? {
        k @ PublicKey::Rsa(_) => Ok(k),
        other => Err(TokenError::KeyUnusable(format!(
            "x5c[0] holds a {} key, RS256 needs RSA",
            other.kind()
        ))),
    }
}
