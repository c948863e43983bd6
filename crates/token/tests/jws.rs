//! Policy JWS: the real signed set-policy request recorded against MAA,
//! signing and verifying RSA and EC, signer trust through a chain, and
//! malformed texts.

mod common;

use attesta_token::encoding::{b64std, b64url, b64url_decode};
use attesta_token::error::JwsError;
use attesta_token::jws::{
    JwsSigningKey, UNSIGNED_HEADER_B64, parse_jws, policy_token_hash, sign_jws, signer_is_trusted,
    unsigned_jws,
};
use common::{NOW, ec_key, issued, issued_window, rsa_key, self_signed};
use serde_json::{Value, json};

fn recorded(name: &str) -> String {
    let p = common::vectors_dir().join("maa-sdk/recorded").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The recorded request body, without the newline the file adds.
fn recorded_request() -> String {
    recorded("maa_set_policy_sgx_secured_request.jws")
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn recorded_python_sdk_policy_request_verifies() {
    let text = recorded_request();
    let jws = parse_jws(&text).unwrap();
    assert_eq!(jws.header["alg"], "RSA256");
    assert!(
        jws.header.get("x5c").is_none(),
        "the Python SDK nests the chain in jwk"
    );
    assert!(!jws.is_unsigned());
    let body: Value = serde_json::from_slice(&jws.payload).unwrap();
    let policy = b64url_decode(body["AttestationPolicy"].as_str().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(policy).unwrap(),
        "version=1.0; authorizationrules{=> permit();}; issuancerules{};"
    );

    let signer = jws.verify_signer().unwrap().expect("signed");
    let (_, leaf) = x509_parser::parse_x509_certificate(&signer.chain_der[0]).unwrap();
    assert_eq!(leaf.subject().to_string(), "CN=AttestationCertificate0");
    assert_eq!(signer.thumbprint_sha1_hex.len(), 40);

    // The service's reply: the same token hash, and the signer as this JWK.
    let reply: Value = serde_json::from_str(&recorded(
        "maa_set_policy_sgx_secured_response.decoded.json",
    ))
    .unwrap();
    let body = &reply["body"];
    assert_eq!(
        policy_token_hash(&text),
        "h6bWT3Mqp8UQ2ciVtxhlk3WsMH8cnFgEjpEcfA6ySs4"
    );
    assert_eq!(body["x-ms-policy-token-hash"], policy_token_hash(&text));
    assert_eq!(
        serde_json::to_value(&signer.jwk).unwrap(),
        body["x-ms-policy-signer"]
    );

    // The recorded certificate expired in 2022: trusted as a pinned leaf,
    // but not through a chain check at NOW.
    assert!(signer_is_trusted(&signer, &[signer.chain_der[0].clone()], NOW).is_ok());
    let e = signer_is_trusted(&signer, &[], NOW).unwrap_err();
    assert_eq!(e.code(), "JwsUntrustedSigner");
}

#[test]
fn recorded_request_with_a_flipped_byte_fails() {
    let text = recorded_request();
    let (head, sig) = text.rsplit_once('.').unwrap();
    let mut s = b64url_decode(sig).unwrap();
    s[0] ^= 0x80;
    let forged = format!("{head}.{}", b64url(&s));
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsBadSignature"
    );
    // Changing the payload (the policy) breaks it too.
    let parts: Vec<&str> = text.split('.').collect();
    let other = b64url(br#"{"AttestationPolicy": "dmVyc2lvbj0xLjA7"}"#);
    let forged = format!("{}.{other}.{}", parts[0], parts[2]);
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsBadSignature"
    );
}

#[test]
fn non_canonical_base64_in_any_part_is_refused_even_when_signed() {
    // Each part as padded standard base64, signed as sent: a second spelling
    // of a request would be stored, hashed and replay-checked as another
    // request, so only RFC 7515 base64url is accepted.
    let leaf = self_signed("policy signer", rsa_key(), false);
    let header = json!({"alg": "RSA256", "jwk": {"x5c": [b64std(&leaf.cert_der)]}});
    let b64 = |d: &[u8]| b64std(d);
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(b"{\"AttestationPolicy\": \"dg\"}")
    );
    let kp = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&leaf.key_der()).unwrap();
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    let text = format!("{input}.{}", b64(&sig));
    let e = parse_jws(&text).unwrap_err();
    assert_eq!(e.code(), "JwsMalformed");
    assert!(e.to_string().contains("canonical base64url"), "{e}");
}

#[test]
fn a_signature_with_a_trailing_pad_or_changed_trailing_bits_is_refused() {
    let pki = self_signed("policy signer", rsa_key(), false);
    let header = json!({"alg": "RS256", "x5c": [b64std(&pki.cert_der)]});
    let text = sign_with_header(&pki, &header, br#"{"AttestationPolicy":"dg"}"#);
    assert!(parse_jws(&text).unwrap().verify_signer().unwrap().is_some());
    // 256-byte signature: 342 symbols, the last carrying 4 unused bits.
    let padded = format!("{text}==");
    assert_eq!(parse_jws(&padded).unwrap_err().code(), "JwsMalformed");
    let (head, last) = text.split_at(text.len() - 1);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = alphabet.find(last).unwrap();
    let twin = format!("{head}{}", &alphabet[(i | 1)..=(i | 1)]);
    assert_ne!(twin, text);
    assert_eq!(parse_jws(&twin).unwrap_err().code(), "JwsMalformed");
}

#[test]
fn duplicate_members_in_the_header_are_refused() {
    let pki = self_signed("policy signer", rsa_key(), false);
    let x5c = b64std(&pki.cert_der);
    let input = format!(
        "{}.{}",
        b64url(format!(r#"{{"alg":"none","alg":"RS256","x5c":["{x5c}"]}}"#).as_bytes()),
        b64url(br#"{"AttestationPolicy":"dg"}"#)
    );
    let kp = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pki.key_der()).unwrap();
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    let e = parse_jws(&format!("{input}.{}", b64url(&sig))).unwrap_err();
    assert!(e.to_string().contains("duplicate member"), "{e}");
    // And in the payload, read through payload_object.
    let text = sign_with_header(
        &pki,
        &json!({"alg": "RS256", "x5c": [x5c]}),
        br#"{"AttestationPolicy":"dg","AttestationPolicy":"eA"}"#,
    );
    let jws = parse_jws(&text).unwrap();
    let e = jws.payload_object().unwrap_err();
    assert!(e.to_string().contains("duplicate member"), "{e}");
}

#[test]
fn rsa_and_ec_signed_jws_verify_and_report_their_signer() {
    let payload = br#"{"AttestationPolicy":"dmVyc2lvbj0xLjA7"}"#;
    for (pki, alg, kty) in [
        (self_signed("rsa signer", rsa_key(), false), "RS256", "RSA"),
        (self_signed("ec signer", ec_key(), false), "ES256", "EC"),
    ] {
        let text = sign_jws(payload, &pki.jws_key()).unwrap();
        let jws = parse_jws(&text).unwrap();
        assert_eq!(jws.header["alg"], alg);
        assert_eq!(jws.payload, payload);
        let signer = jws.verify_signer().unwrap().unwrap();
        assert_eq!(signer.jwk.kty, kty);
        assert_eq!(signer.jwk.alg.as_deref(), Some(alg));
        assert_eq!(signer.jwk.use_.as_deref(), Some("sig"));
        assert_eq!(signer.jwk.x5c, vec![b64std(&pki.cert_der)]);
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &pki.cert_der);
        assert_eq!(signer.thumbprint_sha1_hex, hex::encode_upper(sha1.as_ref()));
        assert!(signer_is_trusted(&signer, std::slice::from_ref(&pki.cert_der), NOW).is_ok());
        let stranger = self_signed("stranger", ec_key(), true);
        assert_eq!(
            signer_is_trusted(&signer, std::slice::from_ref(&stranger.cert_der), NOW)
                .unwrap_err()
                .code(),
            "JwsUntrustedSigner"
        );
    }
    // Python's ECDH256 label is ES256.
    let ec = self_signed("ec signer", ec_key(), false);
    let text = sign_jws(b"", &ec.jws_key()).unwrap();
    let parts: Vec<&str> = text.split('.').collect();
    let header = json!({"alg": "ECDH256", "jwk": {"x5c": [b64std(&ec.cert_der)]}});
    let relabelled_input = format!("{}.", b64url(header.to_string().as_bytes()));
    let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &ec.key_der(),
    )
    .unwrap();
    let sig = kp
        .sign(
            &aws_lc_rs::rand::SystemRandom::new(),
            relabelled_input.as_bytes(),
        )
        .unwrap();
    let relabelled = format!("{relabelled_input}.{}", b64url(sig.as_ref()));
    assert!(
        parse_jws(&relabelled)
            .unwrap()
            .verify_signer()
            .unwrap()
            .is_some()
    );
    assert_eq!(parts[1], "", "empty payload for a signed reset");
}

#[test]
fn signer_key_type_must_fit_the_alg() {
    let ec = self_signed("ec signer", ec_key(), false);
    let text = sign_jws(b"x", &ec.jws_key()).unwrap();
    let (h, rest) = text.split_once('.').unwrap();
    let mut header: serde_json::Map<String, Value> =
        serde_json::from_slice(&b64url_decode(h).unwrap()).unwrap();
    header.insert("alg".into(), Value::from("RS256"));
    let forged = format!(
        "{}.{rest}",
        b64url(serde_json::to_string(&header).unwrap().as_bytes())
    );
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsKeyAlgorithmMismatch"
    );
    header.insert("alg".into(), Value::from("HS256"));
    let forged = format!(
        "{}.{rest}",
        b64url(serde_json::to_string(&header).unwrap().as_bytes())
    );
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsUnsupportedAlgorithm"
    );
    header.insert("alg".into(), Value::from("ES256"));
    header.remove("x5c");
    let forged = format!(
        "{}.{rest}",
        b64url(serde_json::to_string(&header).unwrap().as_bytes())
    );
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsMissingCertificate"
    );
    header.insert("x5c".into(), json!(["bm90IGEgY2VydA"]));
    let forged = format!(
        "{}.{rest}",
        b64url(serde_json::to_string(&header).unwrap().as_bytes())
    );
    assert_eq!(
        parse_jws(&forged)
            .unwrap()
            .verify_signer()
            .unwrap_err()
            .code(),
        "JwsBadCertificate"
    );
}

#[test]
fn signing_key_must_match_its_certificate() {
    let a = self_signed("a", rsa_key(), false);
    let b = self_signed("b", rsa_key(), false);
    let key = JwsSigningKey::Rsa {
        key_pkcs8_der: a.key_der(),
        cert_der: b.cert_der.clone(),
    };
    assert_eq!(sign_jws(b"x", &key).unwrap_err().code(), "JwsBadSigningKey");
}

#[test]
fn signer_chaining_to_a_trusted_root_is_trusted() {
    let root = self_signed("Test Policy Root", ec_key(), true);
    let inter = issued("Test Policy Intermediate", ec_key(), true, &root);
    let leaf = issued("Test Policy Signer", rsa_key(), false, &inter);

    // Leaf + intermediate in the header.
    let header = json!({"alg": "RS256", "x5c": [b64std(&leaf.cert_der), b64std(&inter.cert_der)]});
    let text = sign_with_header(&leaf, &header, b"policy");
    let signer = parse_jws(&text).unwrap().verify_signer().unwrap().unwrap();
    assert_eq!(signer.chain_der.len(), 2);
    assert!(
        signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).is_ok(),
        "root anchor"
    );
    assert!(
        signer_is_trusted(&signer, std::slice::from_ref(&inter.cert_der), NOW).is_ok(),
        "intermediate anchor"
    );
    assert!(
        signer_is_trusted(&signer, std::slice::from_ref(&leaf.cert_der), NOW).is_ok(),
        "pinned leaf"
    );
    // Outside the certificates' validity.
    let e = signer_is_trusted(
        &signer,
        std::slice::from_ref(&root.cert_der),
        NOW + 400 * 86_400,
    )
    .unwrap_err();
    assert_eq!(e.code(), "JwsUntrustedSigner");
    // Another root with the same name but another key does not vouch.
    let impostor = self_signed("Test Policy Root", ec_key(), true);
    assert_eq!(
        signer_is_trusted(&signer, std::slice::from_ref(&impostor.cert_der), NOW)
            .unwrap_err()
            .code(),
        "JwsUntrustedSigner"
    );

    // Leaf alone in the header, root trusted: the intermediate is missing.
    let text = sign_jws(b"policy", &leaf.jws_key()).unwrap();
    let signer = parse_jws(&text).unwrap().verify_signer().unwrap().unwrap();
    assert!(signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).is_err());
    assert!(signer_is_trusted(&signer, std::slice::from_ref(&inter.cert_der), NOW).is_ok());
}

#[test]
fn a_non_ca_issuer_or_a_broken_chain_is_untrusted() {
    let root = self_signed("Root", ec_key(), true);
    let not_ca = issued("Not a CA", ec_key(), false, &root);
    let leaf = issued("Leaf", rsa_key(), false, &not_ca);
    let header = json!({"alg": "RS256", "x5c": [b64std(&leaf.cert_der), b64std(&not_ca.cert_der)]});
    let signer = parse_jws(&sign_with_header(&leaf, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap()
        .unwrap();
    let e = signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).unwrap_err();
    assert_eq!(e.code(), "JwsUntrustedSigner");
    assert!(
        e.to_string()
            .contains("intermediate CA certificate 'CN=Not a CA' may not sign certificates"),
        "{e}"
    );

    // A chain whose second certificate did not issue the first.
    let other_ca = self_signed("Other CA", ec_key(), true);
    let leaf2 = issued("Leaf", rsa_key(), false, &root);
    let header =
        json!({"alg": "RS256", "x5c": [b64std(&leaf2.cert_der), b64std(&other_ca.cert_der)]});
    let signer = parse_jws(&sign_with_header(&leaf2, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap()
        .unwrap();
    // Trusted root signs leaf2 directly: trusted despite the junk after it.
    assert!(signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).is_ok());
    let e = signer_is_trusted(&signer, std::slice::from_ref(&other_ca.cert_der), NOW).unwrap_err();
    assert_eq!(e.code(), "JwsUntrustedSigner");
    assert!(
        e.to_string().contains(
            "certificate 'CN=Leaf' is issued by 'CN=Root', which is neither a trusted root"
        ),
        "{e}"
    );

    // An expired intermediate breaks the chain even though signatures hold.
    let now = NOW as i64;
    let old_inter = issued_window(
        "Old Intermediate",
        ec_key(),
        true,
        &root,
        now - 100 * 86_400,
        now - 86_400,
    );
    let leaf3 = issued("Leaf", rsa_key(), false, &old_inter);
    let header =
        json!({"alg": "RS256", "x5c": [b64std(&leaf3.cert_der), b64std(&old_inter.cert_der)]});
    let signer = parse_jws(&sign_with_header(&leaf3, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap()
        .unwrap();
    let e = signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).unwrap_err();
    assert_eq!(e.code(), "JwsUntrustedSigner");
    assert!(
        e.to_string()
            .contains("intermediate CA certificate 'CN=Old Intermediate' has expired"),
        "{e}"
    );
}

#[test]
fn x5c_and_jwk_x5c_must_agree() {
    let a = self_signed("a", rsa_key(), false);
    let b = self_signed("b", rsa_key(), false);
    let header = json!({"alg": "RS256", "x5c": [b64std(&a.cert_der)], "jwk": {"x5c": [b64std(&b.cert_der)]}});
    let e = parse_jws(&sign_with_header(&a, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap_err();
    assert_eq!(e.code(), "JwsMalformed");
    let header = json!({"alg": "RS256", "x5c": [b64std(&a.cert_der)], "jwk": {"x5c": [b64std(&a.cert_der)]}});
    assert!(
        parse_jws(&sign_with_header(&a, &header, b"p"))
            .unwrap()
            .verify_signer()
            .is_ok()
    );
}

#[test]
fn unsigned_jws_forms() {
    assert_eq!(unsigned_jws(b""), "eyJhbGciOiJub25lIn0..");
    let reset = parse_jws("eyJhbGciOiJub25lIn0..").unwrap();
    assert!(reset.is_unsigned());
    assert!(reset.payload.is_empty());
    assert_eq!(reset.verify_signer().unwrap(), None);
    assert_eq!(reset.signing_input(), "eyJhbGciOiJub25lIn0.");

    let body = br#"{"AttestationPolicy":"dmVyc2lvbj0xLjA7"}"#;
    let text = unsigned_jws(body);
    assert_eq!(text, format!("{UNSIGNED_HEADER_B64}.{}.", b64url(body)));
    let jws = parse_jws(&text).unwrap();
    assert_eq!(jws.payload, body);
    assert_eq!(jws.raw, text);
    // The recorded GET-policy reply carries the stored unsigned JWS.
    let reply: Value =
        serde_json::from_str(&recorded("maa_get_policy_sgx_response.decoded.json")).unwrap();
    let stored = parse_jws(reply["body"]["x-ms-policy"].as_str().unwrap()).unwrap();
    assert!(stored.is_unsigned());
    let p: Value = serde_json::from_slice(&stored.payload).unwrap();
    assert!(p["AttestationPolicy"].is_string());
    // alg none with a signature is refused.
    assert_eq!(
        parse_jws("eyJhbGciOiJub25lIn0..AAAA").unwrap_err().code(),
        "JwsMalformed"
    );
}

#[test]
fn malformed_texts_are_malformed() {
    let cases = [
        ("", "first period"),
        ("eyJhbGciOiJub25lIn0", "first period"),
        ("eyJhbGciOiJub25lIn0.", "second period"),
        ("eyJhbGciOiJub25lIn0...", "more than two"),
        (".e30.", "empty"),
        ("!!!!.e30.", "not canonical base64url"),
        ("W10.e30.", "not a JSON object"),
        ("e30.e30.", "no alg"),
        ("eyJhbGciOjF9.e30.", "alg is not a string"),
        ("bm90IGpzb24.e30.", "not JSON"),
        ("eyJhbGciOiJub25lIn0.!!!.", "payload"),
        ("eyJhbGciOiJub25lIn0..!!", "signature"),
    ];
    for (text, needle) in cases {
        let e = parse_jws(text).unwrap_err();
        assert_eq!(e.code(), "JwsMalformed", "{text}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

fn sign_with_header(pki: &common::Pki, header: &Value, payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let kp = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pki.key_der()).unwrap();
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64url(&sig))
}

/// The mismatch error names the key the alg needs and the key found: an EC
/// certificate under RS256 needs RSA, an RSA certificate under ES256 needs
/// EC P-256.
#[test]
fn a_key_algorithm_mismatch_names_the_needed_and_the_found_key() {
    let ec = self_signed("ec signer", ec_key(), false);
    let rsa = self_signed("rsa signer", rsa_key(), false);
    for (pki, alg, expected, found) in [
        (&ec, "RS256", "RSA", "EC P-256"),
        (&ec, "PS256", "RSA", "EC P-256"),
        (&rsa, "ES256", "EC P-256", "RSA"),
    ] {
        let header = json!({"alg": alg, "x5c": [b64std(&pki.cert_der)]});
        let text = format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(b"p"),
            b64url(&[1u8; 64])
        );
        assert_eq!(
            parse_jws(&text).unwrap().verify_signer().unwrap_err(),
            JwsError::KeyAlgorithmMismatch {
                alg: alg.into(),
                expected,
                found: found.into()
            },
            "{alg}"
        );
    }
}

/// A header chain of up to 8 certificates is taken; 9 are refused before
/// any of them is looked at.
#[test]
fn a_header_chain_holds_at_most_eight_certificates() {
    let root = self_signed("Root", ec_key(), true);
    let leaf = issued("Leaf", rsa_key(), false, &root);
    let chain = |n: usize| {
        let mut c = vec![b64std(&leaf.cert_der)];
        c.extend(std::iter::repeat_n(b64std(&root.cert_der), n - 1));
        c
    };
    for key in ["x5c", "jwk"] {
        let header = |n: usize| {
            if key == "x5c" {
                json!({"alg": "RS256", "x5c": chain(n)})
            } else {
                json!({"alg": "RS256", "jwk": {"x5c": chain(n)}})
            }
        };
        let signer = parse_jws(&sign_with_header(&leaf, &header(8), b"p"))
            .unwrap()
            .verify_signer()
            .unwrap()
            .unwrap();
        assert_eq!(signer.chain_der.len(), 8, "{key}");
        assert!(signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).is_ok());
        let e = parse_jws(&sign_with_header(&leaf, &header(9), b"p"))
            .unwrap()
            .verify_signer()
            .unwrap_err();
        assert_eq!(
            e,
            JwsError::BadCertificate("chain of 9 certificates (at most 8)".into()),
            "{key}"
        );
    }
}

/// A trusted certificate that the header carries as an intermediate vouches
/// for the certificate below it while it is valid; an expired one does
/// not, wherever it sits in the chain.
#[test]
fn a_trusted_intermediate_in_the_header_vouches_only_while_valid() {
    let root = self_signed("Root", ec_key(), true);
    let inter = issued("Intermediate", ec_key(), true, &root);
    let leaf = issued("Leaf", rsa_key(), false, &inter);
    let header = json!({"alg": "RS256", "x5c": [
        b64std(&leaf.cert_der), b64std(&inter.cert_der), b64std(&root.cert_der)
    ]});
    let signer = parse_jws(&sign_with_header(&leaf, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap()
        .unwrap();
    for anchor in [&inter, &root] {
        assert!(signer_is_trusted(&signer, std::slice::from_ref(&anchor.cert_der), NOW).is_ok());
    }
    let now = NOW as i64;
    let old = issued_window(
        "Old Intermediate",
        ec_key(),
        true,
        &root,
        now - 100 * 86_400,
        now - 86_400,
    );
    let leaf = issued("Leaf", rsa_key(), false, &old);
    let header = json!({"alg": "RS256", "x5c": [
        b64std(&leaf.cert_der), b64std(&old.cert_der), b64std(&root.cert_der)
    ]});
    let signer = parse_jws(&sign_with_header(&leaf, &header, b"p"))
        .unwrap()
        .verify_signer()
        .unwrap()
        .unwrap();
    for anchor in [&old, &root] {
        let e =
            signer_is_trusted(&signer, std::slice::from_ref(&anchor.cert_der), NOW).unwrap_err();
        assert_eq!(e.code(), "JwsUntrustedSigner");
        assert!(
            e.to_string().contains("'CN=Old Intermediate' has expired"),
            "{e}"
        );
    }
}

/// A signer whose chain holds a certificate that does not decode (a
/// `Signer` made by hand, not by `verify_signer`): `JwsBadCertificate`,
/// not a trust verdict.
#[test]
fn a_signer_chain_that_does_not_decode_is_a_bad_certificate() {
    let root = self_signed("Root", ec_key(), true);
    let leaf = issued("Leaf", rsa_key(), false, &root);
    let signer = attesta_token::jws::Signer {
        chain_der: vec![leaf.cert_der.clone(), b"not a certificate".to_vec()],
        thumbprint_sha1_hex: String::new(),
        jwk: Default::default(),
    };
    let e = signer_is_trusted(&signer, std::slice::from_ref(&root.cert_der), NOW).unwrap_err();
    assert_eq!(e.code(), "JwsBadCertificate", "{e}");
    assert!(
        e.to_string().contains("intermediate CA certificate '#1'"),
        "{e}"
    );
}
