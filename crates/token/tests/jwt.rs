//! Attestation tokens: issue with a real RSA key, verify, and every way a
//! token is refused.

mod common;

use attesta_token::encoding::{b64url, b64url_decode};
use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, decode_unverified, sign_jwt, unsecured_jwt, verify_jwt};
use attesta_token::keys::SigningKey;
use common::NOW;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

const ISSUER: &str = "https://attesta.example";
const JKU: &str = "https://attesta.example/certs";

fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate_at("Attesta test signer", NOW).unwrap())
}

fn other_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate_at("Attesta other signer", NOW).unwrap())
}

fn jwks_of(keys: &[&SigningKey]) -> Jwks {
    Jwks {
        keys: keys.iter().map(|k| k.jwk()).collect(),
    }
}

fn claims(iat: u64, exp: u64) -> Map<String, Value> {
    let v = json!({
        "x-ms-ver": "1.0",
        "iss": ISSUER,
        "nbf": iat,
        "iat": iat,
        "exp": exp,
        "x-ms-runtime": {"keys": [{"kty": "EC", "crv": "P-256"}], "a": 1},
        "jti": "00ff",
    });
    v.as_object().unwrap().clone()
}

fn opts(now: u64) -> VerifyOptions {
    VerifyOptions {
        issuer: Some(ISSUER.into()),
        now,
        leeway_secs: 5,
    }
}

fn part(token: &str, i: usize) -> Vec<u8> {
    b64url_decode(token.split('.').nth(i).unwrap()).unwrap()
}

#[test]
fn sign_then_verify_round_trip() {
    let c = claims(NOW, NOW + 28_800);
    let token = sign_jwt(key(), JKU, &c, false);
    let v = verify_jwt(&token, &jwks_of(&[other_key(), key()]), &opts(NOW + 10)).unwrap();
    assert_eq!(v.kid.as_deref(), Some(key().kid()));
    assert_eq!(v.claims, c);
    assert_eq!(v.header["alg"], "RS256");
    assert_eq!(v.header["jku"], JKU);
    assert_eq!(v.header["kid"], key().kid());
    assert_eq!(v.header["typ"], "JWT");
    assert!(v.header.get("x5c").is_none());
}

#[test]
fn header_and_claims_are_sorted_compact_json() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 60), true);
    let header = String::from_utf8(part(&token, 0)).unwrap();
    assert_eq!(
        header,
        format!(
            r#"{{"alg":"RS256","jku":"{JKU}","kid":"{}","typ":"JWT","x5c":["{}"]}}"#,
            key().kid(),
            key().cert_b64()
        )
    );
    let body = String::from_utf8(part(&token, 1)).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"exp":{},"iat":{NOW},"iss":"{ISSUER}","jti":"00ff","nbf":{NOW},"x-ms-runtime":{{"a":1,"keys":[{{"crv":"P-256","kty":"EC"}}]}},"x-ms-ver":"1.0"}}"#,
            NOW + 60
        )
    );
    // x5c in the header is the certificate the kid names.
    let v = verify_jwt(&token, &jwks_of(&[key()]), &opts(NOW)).unwrap();
    assert_eq!(v.header["x5c"][0], key().cert_b64());
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let parts: Vec<&str> = token.split('.').collect();
    let mut c = claims(NOW, NOW + 600);
    c.insert("x-ms-sgx-is-debuggable".into(), Value::Bool(false));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(serde_json::to_string(&c).unwrap().as_bytes()),
        parts[2]
    );
    let e = verify_jwt(&forged, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenBadSignature");
}

#[test]
fn tampered_signature_is_a_bad_signature() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let mut sig = part(&token, 2);
    sig[10] ^= 1;
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", b64url(&sig));
    let e = verify_jwt(&forged, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenBadSignature");
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused_with_leeway() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let jwks = jwks_of(&[key()]);
    // Inside the leeway on both ends.
    assert!(verify_jwt(&token, &jwks, &opts(NOW + 604)).is_ok());
    assert!(verify_jwt(&token, &jwks, &opts(NOW - 5)).is_ok());
    let e = verify_jwt(&token, &jwks, &opts(NOW + 605)).unwrap_err();
    assert_eq!(e.code(), "TokenExpired");
    assert_eq!(
        e,
        attesta_token::TokenError::Expired {
            exp: NOW + 600,
            now: NOW + 605
        }
    );
    let e = verify_jwt(&token, &jwks, &opts(NOW - 6)).unwrap_err();
    assert_eq!(e.code(), "TokenNotYetValid");
}

#[test]
fn missing_exp_is_refused() {
    let mut c = claims(NOW, NOW + 600);
    c.remove("exp");
    let token = sign_jwt(key(), JKU, &c, false);
    let e = verify_jwt(&token, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenMissingExpiry");
    c.insert("exp".into(), Value::from("tomorrow"));
    let token = sign_jwt(key(), JKU, &c, false);
    let e = verify_jwt(&token, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenMalformed");
}

#[test]
fn wrong_issuer_is_refused_and_no_issuer_check_when_not_asked() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let mut o = opts(NOW);
    o.issuer = Some("https://attesta.example/".into());
    let e = verify_jwt(&token, &jwks_of(&[key()]), &o).unwrap_err();
    assert_eq!(e.code(), "TokenWrongIssuer");
    o.issuer = None;
    assert!(verify_jwt(&token, &jwks_of(&[key()]), &o).is_ok());
}

#[test]
fn token_from_a_key_outside_the_set_is_refused() {
    let token = sign_jwt(other_key(), JKU, &claims(NOW, NOW + 600), false);
    let e = verify_jwt(&token, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenUnknownKey");
    // Same token claiming the trusted kid: the signature gives it away.
    let (h, rest) = token.split_once('.').unwrap();
    let mut header: Map<String, Value> =
        serde_json::from_slice(&b64url_decode(h).unwrap()).unwrap();
    header.insert("kid".into(), Value::from(key().kid()));
    let forged = format!(
        "{}.{rest}",
        b64url(serde_json::to_string(&header).unwrap().as_bytes())
    );
    let e = verify_jwt(&forged, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenBadSignature");
}

#[test]
fn token_without_kid_is_tried_against_every_key() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let (h, rest) = token.split_once('.').unwrap();
    let mut header: Map<String, Value> =
        serde_json::from_slice(&b64url_decode(h).unwrap()).unwrap();
    header.remove("kid");
    let h2 = b64url(serde_json::to_string(&header).unwrap().as_bytes());
    // Re-sign: removing the kid changes the signing input.
    let body = rest.split('.').next().unwrap();
    let input = format!("{h2}.{body}");
    let sig = key().sign_rs256(input.as_bytes());
    let token = format!("{input}.{}", b64url(&sig));
    let v = verify_jwt(&token, &jwks_of(&[other_key(), key()]), &opts(NOW)).unwrap();
    assert_eq!(v.kid.as_deref(), Some(key().kid()));
    let e = verify_jwt(&token, &jwks_of(&[other_key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenBadSignature");
}

#[test]
fn alg_none_and_other_algs_are_refused() {
    let c = claims(NOW, NOW + 600);
    let unsecured = unsecured_jwt(&c);
    assert!(unsecured.ends_with('.'));
    assert_eq!(part(&unsecured, 0), br#"{"alg":"none","typ":"JWT"}"#);
    let e = verify_jwt(&unsecured, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
    assert_eq!(e.code(), "TokenUnsupportedAlgorithm");
    // An RS256 signature relabelled HS256 / PS256 is refused before any key is used.
    let token = sign_jwt(key(), JKU, &c, false);
    for alg in ["HS256", "PS256", "RS384"] {
        let (h, rest) = token.split_once('.').unwrap();
        let mut header: Map<String, Value> =
            serde_json::from_slice(&b64url_decode(h).unwrap()).unwrap();
        header.insert("alg".into(), Value::from(alg));
        let forged = format!(
            "{}.{rest}",
            b64url(serde_json::to_string(&header).unwrap().as_bytes())
        );
        let e = verify_jwt(&forged, &jwks_of(&[key()]), &opts(NOW)).unwrap_err();
        assert_eq!(
            e,
            attesta_token::TokenError::UnsupportedAlgorithm(alg.into())
        );
    }
    // decode_unverified still shows the unsecured token's claims.
    let (h, b) = decode_unverified(&unsecured).unwrap();
    assert_eq!(h["alg"], "none");
    assert_eq!(b, c);
}

#[test]
fn malformed_tokens_are_refused() {
    let jwks = jwks_of(&[key()]);
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.",
        "e30.e30.",
        "W10.e30.",
        "eyJhbGciOiJSUzI1NiJ9.W10.AA",
    ] {
        let e = verify_jwt(bad, &jwks, &opts(NOW)).unwrap_err();
        assert!(
            matches!(e.code(), "TokenMalformed" | "TokenUnsupportedAlgorithm"),
            "{bad}: {e:?}"
        );
    }
    // `e30` is `{}` (no alg) and `W10` is `[]` (not an object).
    assert_eq!(
        verify_jwt("W10.e30.", &jwks, &opts(NOW))
            .unwrap_err()
            .code(),
        "TokenMalformed"
    );
    assert_eq!(
        verify_jwt("eyJhbGciOiJSUzI1NiJ9.W10.AA", &jwks, &opts(NOW))
            .unwrap_err()
            .code(),
        "TokenMalformed"
    );
    assert!(decode_unverified("a.b").is_err());
}

#[test]
fn key_without_certificate_or_with_ec_certificate_is_unusable() {
    let token = sign_jwt(key(), JKU, &claims(NOW, NOW + 600), false);
    let mut jwks = jwks_of(&[key()]);
    jwks.keys[0].x5c.clear();
    assert_eq!(
        verify_jwt(&token, &jwks, &opts(NOW)).unwrap_err().code(),
        "TokenKeyUnusable"
    );
    let ec = common::self_signed("ec", common::ec_key(), false);
    jwks.keys[0].x5c = vec![attesta_token::encoding::b64std(&ec.cert_der)];
    assert_eq!(
        verify_jwt(&token, &jwks, &opts(NOW)).unwrap_err().code(),
        "TokenKeyUnusable"
    );
}
