//! Release statements (`release`): signed and verified with ES256 and
//! RS256, refused when tampered with, unsigned, signed by another key, or
//! out of their rules; trusted through the release certificate or its CA;
//! and pinned in the service check (`service::check_service`).

mod common;

use std::collections::BTreeMap;

use attesta_evidence::signing_cert::EvidenceKind;
use attesta_token::encoding::{b64url, b64url_decode};
use attesta_token::jws::{sign_jws, unsigned_jws};
use attesta_token::release::{ReleaseError, ReleaseStatement, verify_statement};
use common::{NOW, ec_key, issued, rsa_key, self_signed};

fn statement(m: &str) -> ReleaseStatement {
    let mut pins = BTreeMap::new();
    pins.insert("x-ms-sgx-mrenclave".to_string(), m.to_string());
    ReleaseStatement::new("0.4.0", EvidenceKind::SgxQuote, pins, NOW - 60).unwrap()
}

#[test]
fn statements_round_trip_with_es256_and_rs256() {
    for key in [ec_key(), rsa_key()] {
        let signer = self_signed("Attesta release signer", key, false);
        let s = statement(&"42".repeat(32));
        let jws = s.sign(&signer.jws_key()).unwrap();
        let back = verify_statement(&jws, std::slice::from_ref(&signer.cert_der), NOW).unwrap();
        assert_eq!(back, s);
        // With a trailing newline, as the CLI writes it.
        assert_eq!(
            verify_statement(
                &format!("{jws}\n"),
                std::slice::from_ref(&signer.cert_der),
                NOW
            )
            .unwrap(),
            s
        );
    }
}

#[test]
fn tampered_unsigned_and_foreign_statements_are_refused() {
    let signer = self_signed("Attesta release signer", ec_key(), false);
    let trusted = std::slice::from_ref(&signer.cert_der);
    let jws = statement(&"42".repeat(32)).sign(&signer.jws_key()).unwrap();
    // Another measurement in the payload, same signature.
    let parts: Vec<&str> = jws.split('.').collect();
    let payload = String::from_utf8(b64url_decode(parts[1]).unwrap()).unwrap();
    let forged_payload = payload.replace(&"42".repeat(32), &"43".repeat(32));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(forged_payload.as_bytes()),
        parts[2]
    );
    let err = verify_statement(&forged, trusted, NOW).unwrap_err();
    assert!(matches!(err, ReleaseError::BadSignature(_)), "{err}");
    assert_eq!(err.code(), "ReleaseStatementInvalid");
    // Unsigned.
    let err = verify_statement(&unsigned_jws(payload.as_bytes()), trusted, NOW).unwrap_err();
    assert_eq!(err, ReleaseError::Unsigned);
    // Signed by someone else (valid JWS, its own certificate in x5c).
    let other = self_signed("Mallory", ec_key(), false);
    let by_other = statement(&"42".repeat(32)).sign(&other.jws_key()).unwrap();
    let err = verify_statement(&by_other, trusted, NOW).unwrap_err();
    assert!(matches!(err, ReleaseError::UntrustedSigner(_)), "{err}");
    // Not a JWS.
    let err = verify_statement("not a statement", trusted, NOW).unwrap_err();
    assert!(matches!(err, ReleaseError::Malformed(_)), "{err}");
    // A signed payload that breaks the rules: unknown member, a claim that
    // is not a measurement, issued in the future.
    for (payload, why) in [
        (
            format!(
                r#"{{"version":1,"release":"1","kind":"sgx-quote","measurements":{{"x-ms-sgx-mrenclave":"{}"}},"issued_at":1,"extra":1}}"#,
                "42".repeat(32)
            ),
            "unknown field",
        ),
        (
            r#"{"version":1,"release":"1","kind":"sgx-quote","measurements":{"x-ms-sgx-svn":"01"},"issued_at":1}"#.to_string(),
            "not a measurement",
        ),
        (
            format!(
                r#"{{"version":2,"release":"1","kind":"sgx-quote","measurements":{{"x-ms-sgx-mrenclave":"{}"}},"issued_at":1}}"#,
                "42".repeat(32)
            ),
            "version 2",
        ),
        (
            format!(
                r#"{{"version":1,"release":"1","kind":"sgx-quote","measurements":{{"x-ms-sgx-mrenclave":"{}"}},"issued_at":{}}}"#,
                "42".repeat(32),
                NOW + 3600
            ),
            "in the future",
        ),
    ] {
        let jws = sign_jws(payload.as_bytes(), &signer.jws_key()).unwrap();
        let err = verify_statement(&jws, trusted, NOW).unwrap_err();
        assert!(matches!(err, ReleaseError::Content(_)), "{err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
}

#[test]
fn a_release_ca_vouches_for_its_signers_within_their_validity() {
    let ca = self_signed("Attesta release CA", ec_key(), true);
    let signer = issued("Attesta 0.4.0 signer", ec_key(), false, &ca);
    // The header carries only the leaf; the CA is what the relying party holds.
    let jws = statement(&"42".repeat(32)).sign(&signer.jws_key()).unwrap();
    verify_statement(&jws, std::slice::from_ref(&ca.cert_der), NOW).unwrap();
    // Long after the signer's certificate expired, the CA no longer vouches.
    let err = verify_statement(
        &jws,
        std::slice::from_ref(&ca.cert_der),
        NOW + 5 * 365 * 86_400,
    )
    .unwrap_err();
    assert!(matches!(err, ReleaseError::UntrustedSigner(_)), "{err}");
}
