//! The Rego adapter: `examples/sgx.rego` over the SDK's SGX claims, refusal, outputs, property checks and
//! error mapping with line and column.
#![cfg(feature = "rego")]

use std::path::PathBuf;

use attesta_policy::{PolicyLanguage, compile, eval_json, incoming_claims};
use serde_json::{Map, Value, json};

fn example() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/sgx.rego");
    std::fs::read_to_string(p).unwrap()
}

fn sgx_claims() -> Map<String, Value> {
    json!({
        "x-ms-attestation-type": "sgx",
        "x-ms-sgx-is-debuggable": false,
        "x-ms-sgx-mrenclave": "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
        "x-ms-sgx-mrsigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
        "x-ms-sgx-product-id": 1,
        "x-ms-sgx-svn": 1
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn example_policy_permits_and_issues() {
    let p = compile(&example()).unwrap();
    assert_eq!(p.language(), PolicyLanguage::Rego);
    assert_eq!(p.version(), None);
    let out = p
        .evaluate(&incoming_claims(&sgx_claims(), &Map::new()))
        .unwrap();
    assert_eq!(
        Value::Object(out.outgoing),
        json!({
            "is-debuggable": false,
            "sgx-mrsigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
            "sgx-mrenclave": "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
            "tee": "sgx"
        })
    );
    assert_eq!(
        Value::Object(out.properties),
        json!({"x-ms-sgx-tcbidentifier": "azuredefault"})
    );
}

#[test]
fn configuration_properties_ignore_allow() {
    let p = compile(&example()).unwrap();
    assert_eq!(
        Value::Object(p.configuration_properties(&[]).unwrap()),
        json!({"x-ms-sgx-tcbidentifier": "azuredefault"})
    );
}

#[test]
fn example_policy_refuses() {
    let p = compile(&example()).unwrap();
    for (k, v) in [
        ("x-ms-sgx-is-debuggable", json!(true)),
        ("x-ms-sgx-svn", json!(0)),
        ("x-ms-sgx-mrsigner", json!("00")),
    ] {
        let mut c = sgx_claims();
        c.insert(k.into(), v);
        let e = p.evaluate(&incoming_claims(&c, &Map::new())).unwrap_err();
        assert_eq!(e.code, "PolicyEvaluationError", "{k}");
        assert!(e.message.contains("authorization failed"), "{k}: {e}");
        let j = eval_json(&p, &Value::Object(c)).unwrap();
        assert_eq!(j["permit"], json!(false), "{k}");
    }
    // No claims at all: allow is false (undefined lookups do not error).
    assert!(p.evaluate(&[]).is_err());
}

#[test]
fn repeated_claim_types_become_arrays_in_input() {
    let p = compile(
        "package t\nallow if { count(input.claims.m) == 2 }\nclaims := {\"m\": input.claims.m}\n",
    )
    .unwrap();
    let arr = json!([{"type": "m", "value": "a"}, {"type": "m", "value": "b"}]);
    assert_eq!(
        eval_json(&p, &arr).unwrap(),
        json!({"permit": true, "claims": {"m": ["a", "b"]}, "properties": {}})
    );
}

#[test]
fn errors_map_to_policy_errors() {
    // Syntax error: position from regorus.
    let e = compile("package t\n\nallow if {\n  input.x ==\n}\n").unwrap_err();
    assert_eq!(e.code, "PolicyParsingError");
    assert!(e.line.is_some() && e.column.is_some(), "{e}");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.starts_with("Rego: "), "{e}");
    // No `allow` rule.
    let e = compile("package t\nclaims := {}\n").unwrap_err();
    assert_eq!(e.code, "PolicyParsingError");
    assert!(e.message.contains("must define the rule 'allow'"), "{e}");
    // Non-boolean allow.
    let p = compile("package t\nallow := 1\n").unwrap();
    let e = p.evaluate(&[]).unwrap_err();
    assert!(e.message.contains("'allow' must be a boolean"), "{e}");
    // Unknown or mistyped property.
    let p = compile("package t\nallow := true\nproperties := {\"nope\": 1}\n").unwrap();
    assert!(
        p.evaluate(&[])
            .unwrap_err()
            .message
            .contains("unknown property claim 'nope'")
    );
    let p = compile("package t\nallow := true\nproperties := {\"omit_x5c\": 1}\n").unwrap();
    assert!(
        p.evaluate(&[])
            .unwrap_err()
            .message
            .contains("takes a Boolean value")
    );
    // `claims` must be an object.
    let p = compile("package t\nallow := true\nclaims := [1]\n").unwrap();
    assert!(
        p.evaluate(&[])
            .unwrap_err()
            .message
            .contains("must be an object")
    );
}

#[test]
fn detection_rule() {
    // Comments before `package` are allowed; MAA text is never taken for Rego.
    let p = compile("# comment\n\npackage t\nallow := true\n").unwrap();
    assert_eq!(p.language(), PolicyLanguage::Rego);
    assert!(p.evaluate(&[]).is_ok());
    let e = compile("packagex t").unwrap_err();
    assert!(e.message.contains("expecting 'version'"), "{e}");
}
