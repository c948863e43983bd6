//! Reserved claim names (issue 12): a policy cannot issue or add a service claim name (refused at compile
//! time with the position of the type literal, or at evaluation when the name is only known then), Rego
//! outputs are checked after evaluation, and attester-supplied claims cannot take evidence claim names.

use attesta_policy::{
    Claim, ClaimValue, Issuer, RESERVED_CLAIM_NAME, check_outgoing, compile, incoming_claims,
    incoming_claims_checked,
};
use serde_json::{Map, json};

#[test]
fn issuing_a_reserved_name_is_a_parse_error_at_the_type() {
    for name in [
        "iss",
        "exp",
        "x-ms-sgx-mrenclave",
        "x-ms-policy-hash",
        "x-attesta-test-root",
        "cnf",
    ] {
        for action in ["issue(type=", "add(type=", "issue("] {
            let text = format!(
                "version=1.0;\nauthorizationrules{{ => permit(); }};\nissuancerules{{\n  c:[type==\"x\"] => {action}\"{name}\", value=c.value);\n}};"
            );
            let e = compile(&text).unwrap_err();
            assert_eq!(e.code, "PolicyParsingError", "{text}: {e}");
            assert!(e.message.contains(&format!("'{name}' is reserved")), "{e}");
            let column = "  c:[type==\"x\"] => ".len() + action.len() + 1;
            assert_eq!((e.line, e.column), (Some(4), Some(column)), "{text}: {e}");
        }
    }
}

#[test]
fn reserved_names_known_only_at_evaluation_are_refused_then() {
    let text = "version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type==\"x-ms-sgx-mrenclave\"] => issue(claim=c); };";
    let p = compile(text).unwrap();
    let e = p
        .evaluate(&[Claim {
            claim_type: "x-ms-sgx-mrenclave".into(),
            value: ClaimValue::String("ab".into()),
            issuer: Issuer::AttestationService,
        }])
        .unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(
        e.message.contains("'x-ms-sgx-mrenclave' is reserved"),
        "{e}"
    );
    // The position of the rule's action.
    let action = text.find("issue(claim").unwrap() + 1;
    assert_eq!((e.line, e.column), (Some(1), Some(action)));

    let p = compile(
        "version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type==\"n\"] => add(type=c.value, value=1); };",
    )
    .unwrap();
    let e = p
        .evaluate(&[Claim {
            claim_type: "n".into(),
            value: ClaimValue::String("EXP".into()),
            issuer: Issuer::AttestationService,
        }])
        .unwrap_err();
    assert!(e.message.contains("'EXP' is reserved"), "{e}");
}

#[test]
fn maa_default_and_tpm_style_outputs_stay_allowed() {
    let p = compile(attesta_policy::defaults::SGX_DEFAULT_POLICY).unwrap();
    let out = p
        .evaluate(&incoming_claims(
            json!({"x-ms-sgx-mrsigner": "2c1a", "x-ms-attestation-type": "sgx"})
                .as_object()
                .unwrap(),
            &Map::new(),
        ))
        .unwrap();
    assert_eq!(out.outgoing["sgx-mrsigner"], "2c1a");
    assert_eq!(out.outgoing["tee"], "sgx");
    assert!(compile(
        "version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type==\"secureBootEnabled\", issuer==\"AttestationService\"] => issue(type=\"secureBootEnabled\", value=c.value); };"
    )
    .is_ok());
}

#[cfg(feature = "rego")]
#[test]
fn rego_outputs_are_checked_at_evaluation() {
    let p = compile("package p\nallow := true\nclaims := {\"iss\": \"https://evil\", \"ok\": 1}\n")
        .unwrap();
    let e = p.evaluate(&[]).unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.contains("'iss' is reserved"), "{e}");
    let v = attesta_policy::eval_json(&p, &json!({})).unwrap_err();
    assert!(v.message.contains("'iss' is reserved"), "{v}");
}

#[test]
fn check_outgoing_names_the_claim() {
    assert!(check_outgoing(json!({"tee": "sgx", "custom": 1}).as_object().unwrap()).is_ok());
    let e = check_outgoing(
        json!({"custom": 1, "X-Attesta-Test-Root": true})
            .as_object()
            .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.contains("'X-Attesta-Test-Root'"), "{e}");
}

#[test]
fn custom_claims_cannot_take_evidence_names() {
    let service = json!({"tpmVersion": 2}).as_object().unwrap().clone();
    let custom = json!({"aikValidated": true, "OSName": "x"})
        .as_object()
        .unwrap()
        .clone();
    let e = incoming_claims_checked(&service, &custom).unwrap_err();
    assert_eq!(e.code, RESERVED_CLAIM_NAME);
    assert_eq!(e.code, "ReservedClaimName");
    assert!(e.message.contains("'aikValidated'"), "{e}");

    // The infallible form leaves the claim out, so a condition without `issuer ==` cannot be satisfied by it.
    let claims = incoming_claims(&service, &custom);
    let names: Vec<&str> = claims.iter().map(|c| c.claim_type.as_str()).collect();
    assert_eq!(names, ["tpmVersion", "OSName"]);
    let p = compile(
        "version=1.0; authorizationrules{ [type==\"aikValidated\", value==true] => permit(); };",
    )
    .unwrap();
    let e = p.evaluate(&claims).unwrap_err();
    assert!(e.message.starts_with("No Permit claim was issued"), "{e}");

    for name in ["x-ms-attestation-type", "iss", "secureBootEnabled", "pcrs"] {
        let mut c = Map::new();
        c.insert(name.into(), json!(1));
        assert_eq!(
            incoming_claims_checked(&Map::new(), &c).unwrap_err().code,
            "ReservedClaimName",
            "{name}"
        );
    }
}
