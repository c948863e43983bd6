//! Token signing and verification cost: `sign_jwt` with ~2 KB of claims and
//! the certificate in the header (the TPM/VBS form), and `verify_jwt` of the
//! same token against a one-key set; the bare RSA signature for comparison.

use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, sign_jwt, verify_jwt};
use attesta_token::keys::SigningKey;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

/// Claims shaped like an SGX attestation token, padded to about 2 KB.
fn claims() -> Map<String, Value> {
    let mut c = json!({
        "exp": NOW + 28_800, "iat": NOW, "nbf": NOW,
        "iss": "https://attesta.example",
        "jti": "9f2c0d5cbd6f8b1f5d2c0b4e8d7a6f5e4c3b2a1908f7e6d5c4b3a29180706050",
        "x-ms-ver": "1.0", "x-ms-attestation-type": "sgx",
        "x-ms-policy-hash": "wm9mHlvTU82e8UqoOy1Yj1FBRSNkfe99-69IYDq9eWs",
        "x-ms-sgx-is-debuggable": false, "x-ms-sgx-product-id": 1, "x-ms-sgx-svn": 1,
        "x-ms-sgx-mrenclave": "a".repeat(64), "x-ms-sgx-mrsigner": "b".repeat(64),
        "x-ms-sgx-ehd": "c".repeat(120),
        "x-ms-runtime": {"keys": [{"kty": "EC", "crv": "P-256", "kid": "1",
            "x": "d".repeat(43), "y": "e".repeat(43)}]},
        "x-ms-sgx-collateral": {"qeidcertshash": "f".repeat(64), "qeidcrlhash": "0".repeat(64),
            "qeidhash": "1".repeat(64), "quotehash": "2".repeat(64), "tcbinfocertshash": "3".repeat(64),
            "tcbinfocrlhash": "4".repeat(64), "tcbinfohash": "5".repeat(64)},
    });
    let m = c.as_object_mut().unwrap();
    let size = serde_json::to_string(&m).unwrap().len();
    m.insert(
        "pad".into(),
        Value::from("x".repeat(2048usize.saturating_sub(size + 10))),
    );
    m.clone()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate_at("Attesta bench", NOW).unwrap();
    let claims = claims();
    let jku = "https://attesta.example/certs";
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let token = sign_jwt(&key, jku, &claims, true);
    let opts = VerifyOptions {
        issuer: Some("https://attesta.example".into()),
        now: NOW + 1,
        leeway_secs: 0,
    };
    assert!(verify_jwt(&token, &jwks, &opts).is_ok());

    c.bench_function("sign_jwt RS256, 2 KB claims + x5c", |b| {
        b.iter(|| sign_jwt(black_box(&key), jku, black_box(&claims), true))
    });
    // The RSA signature alone, for comparison: the rest of sign_jwt is JSON
    // and base64.
    let msg = vec![b'x'; 2900];
    c.bench_function("sign_rs256 alone (reference)", |b| {
        b.iter(|| key.sign_rs256(black_box(&msg)))
    });
    c.bench_function("verify_jwt RS256, 2 KB claims", |b| {
        b.iter(|| verify_jwt(black_box(&token), black_box(&jwks), &opts))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
