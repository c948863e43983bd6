//! `CompiledPolicy::may_read_claim`: which incoming claim types a policy can
//! observe, so the server may skip building the costly ones (a TPM log's
//! `events`) — and leaving out an unread claim never changes the outcome.

use attesta_policy::{compile, incoming_claims};
use serde_json::{Map, json};

#[test]
fn literal_type_tests_limit_what_a_policy_reads() {
    let p = compile(
        "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"pcrs\"] => issue(type=\"p\", value=JsonToClaimValue(JmesPath(c.value, \"PCRs[0].Index\"))); ![type==\"secureBootEnabled\"] => issue(type=\"sb\", value=false); };",
    )
    .unwrap();
    for read in ["aikValidated", "pcrs", "secureBootEnabled"] {
        assert!(p.may_read_claim(read), "{read}");
    }
    for unread in ["events", "bootEvents", "AIKVALIDATED"] {
        assert!(!p.may_read_claim(unread), "{unread}");
    }
}

#[test]
fn conditions_that_can_match_any_claim_read_everything() {
    for policy in [
        // No type test: any claim from the service.
        "version=1.0;\nauthorizationrules{ => permit(); };\nissuancerules{ c:[issuer==\"AttestationService\"] => issue(claim=c); };",
        // Inequality on the type.
        "version=1.0;\nauthorizationrules{ [type!=\"x\"] => permit(); };\nissuancerules{ };",
        // A type taken from another claim.
        "version=1.0;\nauthorizationrules{ c:[type==\"a\"] && [type==c.value] => permit(); };\nissuancerules{ };",
        // Rego sees the whole input.
        "package policy\nallow := true\n",
    ] {
        let p = compile(policy).unwrap();
        assert!(p.may_read_claim("events"), "{policy}");
    }
    // Two literal types in one condition match nothing, so read nothing.
    let p = compile(
        "version=1.0;\nauthorizationrules{ [type==\"a\", type==\"b\"] => permit(); };\nissuancerules{ };",
    )
    .unwrap();
    assert!(!p.may_read_claim("a") && !p.may_read_claim("b"));
}

#[test]
fn leaving_out_an_unread_claim_changes_nothing() {
    let p = compile(
        "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"aikPubHash\"] => issue(type=\"ak\", value=c.value); ![type==\"secureBootEnabled\"] => issue(type=\"sb\", value=false); };",
    )
    .unwrap();
    assert!(!p.may_read_claim("events"));
    let mut full = Map::new();
    full.insert("aikValidated".into(), json!(true));
    full.insert("aikPubHash".into(), json!("abc"));
    full.insert("events".into(), json!({"Events": [{"EventSeq": 0}]}));
    let mut without = full.clone();
    without.remove("events");
    let a = p.evaluate(&incoming_claims(&full, &Map::new())).unwrap();
    let b = p.evaluate(&incoming_claims(&without, &Map::new())).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.outgoing["ak"], "abc");
    assert_eq!(a.outgoing["sb"], false);
}
