//! Conformance of the parser and evaluator with real policy texts: every example of reference §3.10, the
//! Azure-Samples policies and the SDK policies under `../shared/vectors`, each with malformed variants
//! whose error position is computed independently here; and the recorded 2021 SGX token, whose claims
//! the 2021 default policy must reproduce.

use std::path::PathBuf;

use attesta_policy::{Claim, ClaimValue, Issuer, PolicyError, compile, incoming_claims};
use serde_json::{Map, Value, json};

mod common;
use common::REFERENCE_EXAMPLES;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn read(rel: &str) -> String {
    let p = vectors().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Policy texts from `../shared/vectors` (every file of the two folders).
fn vector_policies() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in [
        "maa-policies/azure-samples-maa-signing-tool",
        "maa-sdk/policies",
    ] {
        let mut entries: Vec<_> = std::fs::read_dir(vectors().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        entries.sort();
        for p in entries {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn every_vector_policy_file_is_found_and_parses() {
    let all = vector_policies();
    // 3 Azure-Samples policies + 2 SDK policies (checked so that a missing folder cannot pass silently).
    assert_eq!(
        all.len(),
        5,
        "{:?}",
        all.iter().map(|a| &a.0).collect::<Vec<_>>()
    );
    for (name, text) in &all {
        let p = compile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.version(), Some("1.0"), "{name}");
    }
}

#[test]
fn every_reference_example_parses_with_its_version() {
    for (name, version, text) in REFERENCE_EXAMPLES {
        let p = compile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.version(), Some(*version), "{name}");
    }
}

/// 1-based (line, column) of the first significant character at or after `offset` (whitespace and `//`
/// comments skipped) — computed independently of the parser.
fn next_token_position(text: &str, mut offset: usize) -> (usize, usize, String) {
    let b = text.as_bytes();
    loop {
        while offset < b.len() && (b[offset] as char).is_ascii_whitespace() {
            offset += 1;
        }
        if text[offset..].starts_with("//") {
            while offset < b.len() && b[offset] != b'\n' {
                offset += 1;
            }
            continue;
        }
        break;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    let tok: String = text[offset..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let tok = if tok.is_empty() {
        text[offset..]
            .chars()
            .next()
            .map(String::from)
            .unwrap_or("<EOF>".into())
    } else {
        tok
    };
    (line, col, tok)
}

fn assert_parse_error(
    name: &str,
    text: &str,
    line: usize,
    col: usize,
    contains: &str,
) -> PolicyError {
    let err = compile(text).expect_err(name);
    assert_eq!(err.code, "PolicyParsingError", "{name}: {err}");
    assert_eq!(
        (err.line, err.column),
        (Some(line), Some(col)),
        "{name}: {err}"
    );
    assert!(err.message.contains(contains), "{name}: {err}");
    err
}

fn all_policies() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = REFERENCE_EXAMPLES
        .iter()
        .map(|(n, _, t)| (n.to_string(), t.to_string()))
        .collect();
    v.extend(vector_policies());
    v
}

#[test]
fn malformed_variant_missing_version_semicolon() {
    for (name, text) in all_policies() {
        let semi = text.find(';').unwrap();
        let broken = format!("{}{}", &text[..semi], &text[semi + 1..]);
        let (line, col, tok) = next_token_position(&broken, semi);
        let err = assert_parse_error(
            &name,
            &broken,
            line,
            col,
            &format!("mismatched input '{tok}' expecting ';'"),
        );
        assert!(
            err.message.ends_with("(policy > versionInfo)"),
            "{name}: {err}"
        );
    }
}

#[test]
fn malformed_variant_missing_rule_semicolon() {
    for (name, text) in all_policies() {
        // The `;` closing the last rule's action.
        let at = text.rfind(");").unwrap() + 1;
        let broken = format!("{}{}", &text[..at], &text[at + 1..]);
        let (line, col, tok) = next_token_position(&broken, at);
        let err = assert_parse_error(
            &name,
            &broken,
            line,
            col,
            &format!("mismatched input '{tok}' expecting ';'"),
        );
        assert!(err.message.contains("Rules > rule)"), "{name}: {err}");
    }
}

#[test]
fn malformed_variant_bracket_for_paren_in_action() {
    // `permit(]` — the first action's `)` replaced: reported at the `]`.
    for (name, text) in all_policies() {
        let Some(at) = text.find("permit()").map(|i| i + "permit(".len()) else {
            continue;
        };
        let broken = format!("{}]{}", &text[..at], &text[at + 1..]);
        let (line, col, _) = next_token_position(&broken, at);
        assert_parse_error(
            &name,
            &broken,
            line,
            col,
            "mismatched input ']' expecting ')'",
        );
    }
}

#[test]
fn malformed_variant_unterminated_string() {
    // Drop the closing quote of the last string literal: its opening quote now starts a string that
    // runs to the end of the text (no sample has an escaped quote, so earlier strings still pair up).
    for (name, text) in all_policies() {
        let Some(last_quote) = text.rfind('"') else {
            continue;
        };
        let broken = format!("{}{}", &text[..last_quote], &text[last_quote + 1..]);
        let open = broken[..last_quote].rfind('"').unwrap();
        let (line, col, _) = next_token_position(&broken, open);
        assert_parse_error(&name, &broken, line, col, "unterminated string literal");
    }
}

fn service(v: Value) -> Vec<Claim> {
    incoming_claims(v.as_object().unwrap(), &Map::new())
}

#[test]
fn azure_samples_policies_verdicts() {
    let dir = "maa-policies/azure-samples-maa-signing-tool";
    let deny = compile(&read(&format!("{dir}/deny.all.txt"))).unwrap();
    let err = deny
        .evaluate(&service(json!({"secureBootEnabled": true})))
        .unwrap_err();
    assert_eq!(err.code, "PolicyEvaluationError");
    assert_eq!(
        err.message,
        "A Deny claim was issued, authorization failed."
    );
    assert_eq!((err.line, err.column), (Some(5), Some(1)));

    let permit = compile(&read(&format!("{dir}/permit.secure.boot.txt"))).unwrap();
    let out = permit
        .evaluate(&service(json!({"secureBootEnabled": true})))
        .unwrap();
    assert!(out.outgoing.is_empty() && out.properties.is_empty());
    // Same claim from the attester (CustomClaim) does not satisfy issuer=="AttestationService".
    let custom = incoming_claims(
        &Map::new(),
        json!({"secureBootEnabled": true}).as_object().unwrap(),
    );
    assert_eq!(
        permit.evaluate(&custom).unwrap_err().code,
        "PolicyEvaluationError"
    );
    // SGX claims carry no secureBootEnabled → no permit.
    let e = permit
        .evaluate(&service(json!({"x-ms-sgx-svn": 1})))
        .unwrap_err();
    assert!(e.message.contains("No Permit claim"), "{e}");
    // secureBootEnabled false → refused.
    assert!(
        permit
            .evaluate(&service(json!({"secureBootEnabled": false})))
            .is_err()
    );

    let add = compile(&read(&format!("{dir}/add.custom.claim.txt"))).unwrap();
    let out = add
        .evaluate(&service(json!({"secureBootEnabled": true})))
        .unwrap();
    assert_eq!(
        Value::Object(out.outgoing),
        json!({"SecurityLevelValue": 100})
    );
}

#[test]
fn sdk_policies_verdicts() {
    let minimal = compile(&read("maa-sdk/policies/minimal_permit.txt")).unwrap();
    let out = minimal.evaluate(&[]).unwrap();
    assert!(out.outgoing.is_empty());

    let sample = compile(&read("maa-sdk/policies/sample_sgx_mrsigner.txt")).unwrap();
    let expected: Value = serde_json::from_str(&read("maa-sdk/expected_claims.json")).unwrap();
    let claims: Map<String, Value> = expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-") && !k.contains(' '))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let out = sample
        .evaluate(&incoming_claims(&claims, &Map::new()))
        .unwrap();
    assert_eq!(
        Value::Object(out.outgoing),
        json!({"My-MrSigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa"})
    );
    // A different signer, or a debuggable enclave, is refused.
    let mut other = claims.clone();
    other.insert("x-ms-sgx-mrsigner".into(), json!("00"));
    assert!(
        sample
            .evaluate(&incoming_claims(&other, &Map::new()))
            .is_err()
    );
    let mut debug = claims.clone();
    debug.insert("x-ms-sgx-is-debuggable".into(), json!(true));
    assert!(
        sample
            .evaluate(&incoming_claims(&debug, &Map::new()))
            .is_err()
    );
}

/// The recorded 2021 `sharedwus` SGX token carries `x-ms-policy-hash` = hash of the 2021 default policy;
/// running that policy over the token's own `x-ms-sgx-*` claims reproduces the token's issued claims.
#[test]
fn recorded_sgx_token_matches_2021_default_policy() {
    let token: Value =
        serde_json::from_str(&read("maa-sdk/recorded/maa_sgx_attest_token.decoded.json")).unwrap();
    let body = token["body"].as_object().unwrap();
    let text = attesta_policy::defaults::SGX_DEFAULT_POLICY_2021;
    assert_eq!(
        body["x-ms-policy-hash"].as_str().unwrap(),
        attesta_policy::policy_hash(text)
    );
    let service: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-sgx-") || *k == "x-ms-attestation-type")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let out = compile(text)
        .unwrap()
        .evaluate(&incoming_claims(&service, &Map::new()))
        .unwrap();
    assert_eq!(out.outgoing.len(), 6);
    for (k, v) in &out.outgoing {
        assert_eq!(body.get(k), Some(v), "issued claim {k}");
    }
}

/// The recorded get-policy reply (a different instance than the token) holds an unsigned policy JWS;
/// its `AttestationPolicy` member is `stored_policy_b64` of the text, and the text parses.
#[test]
fn recorded_get_policy_reply_round_trips() {
    use base64::Engine as _;
    let reply: Value = serde_json::from_str(&read(
        "maa-sdk/recorded/maa_get_policy_sgx_response.decoded.json",
    ))
    .unwrap();
    let jws = reply["body"]["x-ms-policy"].as_str().unwrap();
    let payload = jws.split('.').nth(1).unwrap();
    let stored: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let b64 = stored["AttestationPolicy"].as_str().unwrap();
    let text = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(text, read("maa-sdk/policies/minimal_permit.txt"));
    assert_eq!(attesta_policy::stored_policy_b64(&text), b64);
    assert_eq!(compile(&text).unwrap().version(), Some("1.0"));
}

#[test]
fn claim_value_types_of_incoming_json() {
    let claims = incoming_claims(
        json!({"s": "x", "i": 5, "b": true, "o": {"b": 1, "a": [1, 2]}, "n": null, "f": 1.5})
            .as_object()
            .unwrap(),
        json!({"c": "y"}).as_object().unwrap(),
    );
    let get = |t: &str| claims.iter().find(|c| c.claim_type == t).cloned();
    assert_eq!(get("s").unwrap().value, ClaimValue::String("x".into()));
    assert_eq!(get("i").unwrap().value, ClaimValue::Integer(5));
    assert_eq!(get("b").unwrap().value, ClaimValue::Boolean(true));
    // preserve_order is on in the workspace: members stay in document order.
    assert_eq!(
        get("o").unwrap().value,
        ClaimValue::String(r#"{"b":1,"a":[1,2]}"#.into())
    );
    assert_eq!(get("f").unwrap().value, ClaimValue::String("1.5".into()));
    assert!(get("n").is_none());
    assert_eq!(get("s").unwrap().issuer, Issuer::AttestationService);
    assert_eq!(get("c").unwrap().issuer, Issuer::CustomClaim);
    assert_eq!(claims.len(), 6);
}
