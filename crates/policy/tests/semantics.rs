//! Table-driven tests of the evaluator and the compile-time checks: claims in → verdict and claims out for
//! each operator, value type, action, function and documented ([inferred]) decision.

use attesta_policy::{Claim, ClaimValue, Issuer, PolicyError, compile, eval_json};
use serde_json::{Value, json};

use Issuer::{AttestationService as S, CustomClaim as C};

fn claim(t: &str, v: Value, issuer: Issuer) -> Claim {
    let value = match v {
        Value::Bool(b) => ClaimValue::Boolean(b),
        Value::Number(n) => ClaimValue::Integer(n.as_i64().unwrap()),
        Value::String(s) => ClaimValue::String(s),
        other => ClaimValue::String(other.to_string()),
    };
    Claim {
        claim_type: t.into(),
        value,
        issuer,
    }
}

/// Evaluates and returns `{"claims": outgoing, "properties": properties}`.
fn eval(policy: &str, claims: &[Claim]) -> Result<Value, PolicyError> {
    let p = compile(policy).unwrap_or_else(|e| panic!("compile: {e}\n{policy}"));
    p.evaluate(claims).map(
        |e| json!({"claims": Value::Object(e.outgoing), "properties": Value::Object(e.properties)}),
    )
}

fn permits(policy: &str, claims: &[Claim]) -> bool {
    match eval(policy, claims) {
        Ok(_) => true,
        Err(e)
            if e.code == "PolicyEvaluationError" && e.message.contains("authorization failed") =>
        {
            false
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn issued(policy: &str, claims: &[Claim]) -> Value {
    eval(policy, claims).unwrap_or_else(|e| panic!("{e}\n{policy}"))["claims"].clone()
}

#[test]
fn integer_operators() {
    // (operator, literal, expected for claim n = 5)
    let table: &[(&str, i64, bool)] = &[
        ("==", 5, true),
        ("==", 4, false),
        ("!=", 4, true),
        ("!=", 5, false),
        ("<", 6, true),
        ("<", 5, false),
        ("<=", 5, true),
        ("<=", 4, false),
        (">", 4, true),
        (">", 5, false),
        (">=", 5, true),
        (">=", 6, false),
        (">=", -1, true),
        ("==", 0x10, false),
    ];
    let claims = [claim("n", json!(5), S)];
    for (op, lit, expected) in table {
        let policy = format!(
            "version=1.0; authorizationrules{{ [type==\"n\", value{op}{lit}] => permit(); }};"
        );
        assert_eq!(permits(&policy, &claims), *expected, "n {op} {lit}");
    }
}

#[test]
fn string_and_boolean_operators_and_type_mismatch() {
    let claims = [
        claim("s", json!("abc"), S),
        claim("b", json!(false), S),
        claim("n", json!(5), S),
    ];
    let table: &[(&str, bool)] = &[
        (r#"[type=="s", value=="abc"]"#, true),
        (r#"[type=="s", value=="ABC"]"#, false), // case-sensitive
        (r#"[type=="s", value!="abd"]"#, true),
        (r#"[type=="s", value!="abc"]"#, false),
        (r#"[type=="b", value==false]"#, true),
        (r#"[type=="b", value!=true]"#, true),
        (r#"[type=="b", value==true]"#, false),
        (r#"[type=="b", value==FALSE]"#, true), // keywords case-insensitive
        // Type mismatches never compare, whatever the operator.
        (r#"[type=="n", value=="5"]"#, false),
        (r#"[type=="n", value!="5"]"#, false),
        (r#"[type=="s", value!=5]"#, false),
        (r#"[type=="b", value!="false"]"#, false),
        (r#"[type=="b", value<1]"#, false),
        // Tests on the other claim properties.
        (r#"[type=="s", issuer=="AttestationService"]"#, true),
        (r#"[type=="s", issuer!="AttestationService"]"#, false),
        (r#"[type=="n", valueType=="Integer"]"#, true),
        (r#"[type=="s", valueType=="String"]"#, true),
        (r#"[type=="b", valueType=="Boolean"]"#, true),
        (r#"[type!="s", value==5]"#, true),
        // An empty condition matches when any claim exists.
        (r#"[]"#, true),
        // Tolerated `=` for `==`.
        (r#"[type="s", value="abc"]"#, true),
        // Hexadecimal literal.
        (r#"[type=="n", value==0x5]"#, true),
        (r#"[type=="missing"]"#, false),
    ];
    for (cond, expected) in table {
        let policy = format!("version=1.0; authorizationrules{{ {cond} => permit(); }};");
        assert_eq!(permits(&policy, &claims), *expected, "{cond}");
    }
    // No claims at all: an empty condition does not match.
    assert!(!permits(
        "version=1.0; authorizationrules{ [] => permit(); };",
        &[]
    ));
}

#[test]
fn string_escapes() {
    let claims = [
        claim("q", json!("a\"b"), S),
        claim("bs", json!("a\\b"), S),
        claim("nl", json!("a\\nb"), S),
    ];
    for (cond, expected) in [
        (r#"[type=="q", value=="a\"b"]"#, true),
        (r#"[type=="bs", value=="a\\b"]"#, true),
        // Other backslash pairs are kept as written.
        (r#"[type=="nl", value=="a\nb"]"#, true),
        (r#"[type=="bs", value=="ab"]"#, false),
    ] {
        let policy = format!("version=1.0; authorizationrules{{ {cond} => permit(); }};");
        assert_eq!(permits(&policy, &claims), expected, "{cond}");
    }
}

#[test]
fn conjunction_disjunction_and_negation() {
    let claims = [claim("a", json!(1), S), claim("b", json!(2), S)];
    let table: &[(&str, &str, bool)] = &[
        ("1.0", r#"[type=="a"] && [type=="b"]"#, true),
        ("1.0", r#"[type=="a"] && [type=="c"]"#, false),
        // `||` extension; `&&` binds tighter.
        ("1.0", r#"[type=="c"] || [type=="b"]"#, true),
        ("1.0", r#"[type=="c"] || [type=="d"]"#, false),
        ("1.0", r#"[type=="c"] && [type=="a"] || [type=="b"]"#, true),
        ("1.0", r#"[type=="a"] && [type=="c"] || [type=="d"]"#, false),
        ("1.2", r#"![type=="c"]"#, true),
        ("1.2", r#"![type=="a"]"#, false),
        ("1.2", r#"[type=="a"] && ![type=="b", value==3]"#, true),
    ];
    for (version, cond, expected) in table {
        let policy = format!("version={version}; authorizationrules{{ {cond} => permit(); }};");
        assert_eq!(permits(&policy, &claims), *expected, "{cond}");
    }
}

#[test]
fn bindings_sets_and_cross_references() {
    let claims = [
        claim("OSName", json!("Windows"), C),
        claim("OSName", json!("Windows"), S),
        claim("m", json!("x"), S),
        claim("m", json!("y"), S),
        claim("k", json!("y"), S),
    ];
    // Grammar-doc pattern: a later condition compares with a bound value.
    let policy = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{
        F1:[type=="OSName", issuer=="CustomClaim"] && C2:[type=="OSName", issuer=="AttestationService", value==F1.value] => issue(claim = C2);
        c:[type=="m"] => issue(type="all-m", value=c.value);
        c:[type=="m"] && [type=="k", value==c.value] => issue(type="k-in-m", value=true);
        c:[type=="m"] => issue(claim=c);
        c:[type=="m"] => issue(type="m-issuer", value=c.issuer);
        c:[type=="k"] => issue(type="k-type", value=c.type);
    };"#;
    assert_eq!(
        issued(policy, &claims),
        json!({
            "OSName": "Windows",
            "all-m": ["x", "y"],
            "k-in-m": true,
            "m": ["x", "y"],
            // The copies made by `issue(claim=c)` (issuer AttestationPolicy) are visible to later rules.
            "m-issuer": ["AttestationService", "AttestationPolicy"],
            "k-type": "k",
        })
    );
    // Bindings in `||` alternatives: the first alternative that holds binds.
    let alt = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{
        c:[type=="zzz"] || c:[type=="k"] => issue(type="picked", value=c.value);
    };"#;
    assert_eq!(issued(alt, &claims), json!({"picked": "y"}));
}

#[test]
fn actions_add_issue_issueproperty() {
    let claims = [claim("in", json!(1), S)];
    let policy = r#"version=1.1;
configurationrules{ => issueproperty(type="required_pcr_mask", value=0xFF); };
authorizationrules{
    => add(type="auth-added", value=true);
    [type=="auth-added", issuer=="AttestationPolicy"] => permit();
    => issue(type="from-auth", value="x");
};
issuancerules{
    => add(type="added", value=7);
    [type=="added", value==7, issuer=="AttestationPolicy"] => issue(type="saw-added", value=true);
    => issue(type="issued", value=1);
    [type=="issued", issuer=="AttestationPolicy"] => issue(type="saw-issued", value=true);
    [type=="required_pcr_mask", value==255] => issue(type="saw-property", value=true);
    => issueproperty(type="omit_x5c", value=true);
    => issueproperty(type="report_validity_in_minutes", value=60);
    => issueproperty(type="report_validity_in_minutes", value=120);
};"#;
    let out = eval(policy, &claims).unwrap();
    assert_eq!(
        out["claims"],
        json!({"from-auth": "x", "saw-added": true, "issued": 1, "saw-issued": true, "saw-property": true})
    );
    // Property claims: last value wins.
    assert_eq!(
        out["properties"],
        json!({"required_pcr_mask": 255, "omit_x5c": true, "report_validity_in_minutes": 120})
    );
}

#[test]
fn configuration_properties_run_only_configuration_rules() {
    let p = compile(
        r#"version=1.1;
configurationrules{
    => issueproperty(type="x-ms-sgx-tcbidentifier", value="11");
    [type=="tpm", value==true] => issueproperty(type="required_pcr_mask", value=15);
};
authorizationrules{ => deny(); };
issuancerules{ => issueproperty(type="omit_x5c", value=true); };"#,
    )
    .unwrap();
    assert_eq!(
        Value::Object(
            p.configuration_properties(&[claim("tpm", json!(true), S)])
                .unwrap()
        ),
        json!({"x-ms-sgx-tcbidentifier": "11", "required_pcr_mask": 15})
    );
    assert_eq!(
        Value::Object(p.configuration_properties(&[]).unwrap()),
        json!({"x-ms-sgx-tcbidentifier": "11"})
    );
    let none = compile("version=1.0; authorizationrules{ => permit(); };").unwrap();
    assert!(none.configuration_properties(&[]).unwrap().is_empty());
}

#[test]
fn repeated_issuance_makes_arrays_of_distinct_values() {
    let policy = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{
        => issue(type="same", value=1);
        => issue(type="same", value=1);
        => issue(type="multi", value="a");
        => issue(type="multi", value="b");
        => issue(type="multi", value="a");
        => issue(type="multi", value="c");
    };"#;
    assert_eq!(
        issued(policy, &[]),
        json!({"same": 1, "multi": ["a", "b", "c"]})
    );
}

#[test]
fn value_type_argument_converts_or_fails() {
    let ok = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{
        => issue(type="s", value=5, valueType="String");
        => issue(type="i", value="7", valueType="Integer");
        => issue(type="b", value="TRUE", valueType="Boolean");
        => issue(type="keep", value=false, valueType="Boolean");
    };"#;
    assert_eq!(
        issued(ok, &[]),
        json!({"s": "5", "i": 7, "b": true, "keep": false})
    );
    let bad = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{
        => issue(type="i", value="seven", valueType="Integer");
    };"#;
    let e = eval(bad, &[]).unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert_eq!((e.line, e.column), (Some(2), Some(12)));
    assert!(
        e.message.contains("cannot be given valueType Integer"),
        "{e}"
    );
}

#[test]
fn authorization_outcomes() {
    let claims = [claim("a", json!(1), S)];
    let deny_after_permit = r#"version=1.0; authorizationrules{ => permit(); [type=="a"] => deny(); }; issuancerules{ => issue(type="x", value=1); };"#;
    let e = eval(deny_after_permit, &claims).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "PolicyEvaluationError",
            "A Deny claim was issued, authorization failed."
        )
    );
    // Located at the deny rule.
    assert_eq!((e.line, e.column), (Some(1), Some(47)));
    // A deny rule whose condition fails does not refuse.
    let deny_other = r#"version=1.0; authorizationrules{ [type=="b"] => deny(); => permit(); };"#;
    assert!(permits(deny_other, &claims));
    // No authorizationrules section at all → nothing permits → refused (fail closed).
    let e = eval(
        r#"version=1.0; issuancerules{ => issue(type="x", value=1); };"#,
        &claims,
    )
    .unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.starts_with("No Permit claim was issued"), "{e}");
    // An empty authorizationrules section refuses too.
    assert!(!permits("version=1.0; authorizationrules{ };", &claims));
}

#[test]
fn legacy_and_tolerated_forms() {
    let claims = [claim("F1", json!(true), S)];
    let policy = r#"VERSION = 1.0;
// a comment line
AuthorizationRules { => PERMIT(); };   // trailing comment
IssuanceRules {
    F1:[type="F1", value=true] => Issue("PlatformAttested", value=F1.value);
    c:[Type=="F1"] => ISSUE(Type="t", Value=c.Value);
};"#;
    assert_eq!(
        issued(policy, &claims),
        json!({"PlatformAttested": true, "t": true})
    );
}

#[test]
fn functions() {
    let events = json!({"Events": [
        {"EventSeq": 1, "PcrIndex": 7, "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "SecureBoot", "VariableData": "AQ"}},
        {"EventSeq": 2, "PcrIndex": 7, "EventTypeString": "EV_SEPARATOR", "ProcessedData": {}}
    ]});
    let claims = [
        claim("events", events.clone(), S),
        claim(
            "doc",
            json!({"a": {"b": 3}, "list": [1, 2], "flags": [true, true], "name": "WdBoot.SYS"}),
            S,
        ),
    ];
    let policy = r#"version=1.2; authorizationrules{ => permit(); }; issuancerules{
        c:[type=="doc"] => issue(type="jp", value=JmesPath(c.value, "a"));
        c:[type=="doc"] => issue(type="jp-miss", value=JmesPath(c.value, "nothing"));
        c:[type=="doc"] => issue(type="int", value=JsonToClaimValue(JmesPath(c.value, "a.b")));
        c:[type=="doc"] => issue(type="str", value=JsonToClaimValue(JmesPath(c.value, "name")));
        c:[type=="doc"] => issue(type="set", value=JsonToClaimValue(JmesPath(c.value, "list")));
        c:[type=="doc"] => issue(type="eic", value=JsonToClaimValue(JmesPath(c.value, "equals_ignore_case(name, 'wdboot.sys')")));
        c:[type=="doc"] => issue(type="eic-null", value=JsonToClaimValue(JmesPath(c.value, "equals_ignore_case(missing, 'x')")));
        => issue(type="empty", value=JsonToClaimValue("null"));
        => issue(type="subset", value=IsSubsetOf(JsonToClaimValue("[1, \"a\"]"), JsonToClaimValue("[true, \"a\", 1]")));
        => issue(type="not-subset", value=IsSubsetOf(JsonToClaimValue("[1, 2]"), JsonToClaimValue("[1]")));
        => issue(type="scalar-subset", value=IsSubsetOf(2, JsonToClaimValue("[1, 2]")));
        => issue(type="append", value=AppendString("ab", AppendString("", "cd")));
        => issue(type="neg", value=NegateBool(false));
        => issue(type="neg-alias", value=negatebol(true));
        c:[type=="doc"] => issue(type="only", value=ContainsOnlyValue(JsonToClaimValue(JmesPath(c.value, "flags")), true));
        => issue(type="only-mixed", value=ContainsOnlyValue(JsonToClaimValue("[true, false]"), true));
        => issue(type="only-empty", value=ContainsOnlyValue(JsonToClaimValue("[]"), true));
        c:[type=="events", issuer=="AttestationService"] => add(type="efi", value=JmesPath(c.value, "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.VariableGuid == '8BE4DF61-93CA-11D2-AA0D-00E098032B8C']"));
        c:[type=="efi", issuer=="AttestationPolicy"] => issue(type="secureBootEnabled", value=JsonToClaimValue(JmesPath(c.value, "[?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'")));
        c:[type=="doc"] => issue(type="dyn-query", value=JmesPath(c.value, AppendString("a.", "b")));
    };"#;
    assert_eq!(
        issued(policy, &claims),
        json!({
            "jp": "{\"b\":3}",
            "jp-miss": "null",
            "int": 3,
            "str": "WdBoot.SYS",
            "set": [1, 2],
            "eic": true,
            "eic-null": false,
            "subset": true,
            "not-subset": false,
            "scalar-subset": true,
            "append": "abcd",
            "neg": true,
            "neg-alias": false,
            "only": true,
            "only-mixed": false,
            "only-empty": false,
            "secureBootEnabled": true,
            "dyn-query": "3",
        })
    );
}

#[test]
fn function_errors_are_evaluation_errors_with_position() {
    let claims = [
        claim("doc", json!({"x": 1.5, "o": {"a": 1}}), S),
        claim("bad", json!("not json"), S),
    ];
    let table: &[(&str, &str)] = &[
        (
            r#"c:[type=="doc"] => issue(type="t", value=JsonToClaimValue(JmesPath(c.value, "x")));"#,
            "not a 64-bit integer",
        ),
        (
            r#"c:[type=="doc"] => issue(type="t", value=JsonToClaimValue(JmesPath(c.value, "o")));"#,
            "JSON object is not a claim value",
        ),
        (
            r#"=> issue(type="t", value=JsonToClaimValue("[[1]]"));"#,
            "nested arrays",
        ),
        (
            r#"c:[type=="bad"] => issue(type="t", value=JmesPath(c.value, "a"));"#,
            "not JSON",
        ),
        (
            r#"=> issue(type="t", value=JmesPath("", "a"));"#,
            "JSON argument is empty",
        ),
        (
            r#"=> issue(type="t", value=AppendString("a", 1));"#,
            "argument 2 must be a String",
        ),
        (
            r#"=> issue(type="t", value=NegateBool("true"));"#,
            "must be a Boolean",
        ),
        (
            r#"=> issue(type="t", value=JsonToClaimValue(JmesPath("{}", AppendString("[", ""))));"#,
            "invalid JMESPath query",
        ),
    ];
    for (rule, msg) in table {
        let policy = format!(
            "version=1.2; authorizationrules{{ => permit(); }};\nissuancerules{{\n    {rule}\n}};"
        );
        let e = eval(&policy, &claims).unwrap_err();
        assert_eq!(e.code, "PolicyEvaluationError", "{rule}");
        assert!(e.message.contains(msg), "{rule}: {e}");
        // The position is that of a function call on line 3.
        assert_eq!(e.line, Some(3), "{rule}: {e}");
        let col = e.column.unwrap();
        let line = policy.lines().nth(2).unwrap();
        let at: String = line.chars().skip(col - 1).take(6).collect();
        assert!(
            ["JsonTo", "JmesPa", "Append", "Negate"].contains(&at.as_str()),
            "{rule}: column {col} points at {at:?}"
        );
    }
}

#[test]
fn read_only_claims_can_be_tested_not_issued() {
    let pcrs = json!({"PCRs": [{"Index": 0, "Digests": {"SHA256": "aa"}}]});
    let claims = [claim("pcrs", pcrs, S)];
    let test_only = r#"version=1.2; authorizationrules{
        c:[type=="pcrs", issuer=="AttestationService"] => add(type="pcr0", value=JsonToClaimValue(JmesPath(c.value, "PCRs[?Index==`0`].Digests.SHA256 | @[0] == 'aa'")));
        [type=="pcr0", value==true] => permit();
    }; issuancerules{
        c:[type=="pcrs"] => issue(type="subset", value=IsSubsetOf(JsonToClaimValue(JmesPath(c.value, "PCRs[].Index")), JsonToClaimValue("[0, 1]")));
    };"#;
    assert_eq!(issued(test_only, &claims), json!({"subset": true}));
    for leak in [
        r#"c:[type=="pcrs"] => issue(type="out", value=c.value);"#,
        r#"c:[type=="pcrs"] => issue(claim=c);"#,
        r#"c:[type=="pcrs"] => issue(type="out", value=JmesPath(c.value, "PCRs"));"#,
        r#"[type=="pcr0"] => issue(type="out", value=true); c:[type=="pcr0"] => issue(type="out2", value=c.value);"#,
    ] {
        let policy = format!(
            r#"version=1.2; authorizationrules{{ => permit(); c:[type=="pcrs"] => add(type="pcr0", value=JsonToClaimValue(JmesPath(c.value, "PCRs[0].Index")));}}; issuancerules{{ {leak} }};"#
        );
        match eval(&policy, &claims) {
            Err(e) => {
                assert_eq!(e.code, "PolicyEvaluationError");
                assert!(e.message.contains("read-only"), "{leak}: {e}");
            }
            Ok(v) => panic!("{leak}: issued {v}"),
        }
    }
    // A CustomClaim named pcrs is not read-only.
    let custom = [claim("pcrs", json!("x"), C)];
    assert_eq!(
        issued(
            r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type=="pcrs"] => issue(claim=c); };"#,
            &custom
        ),
        json!({"pcrs": "x"})
    );
}

#[test]
fn properties_checked_at_run_time_when_not_literal() {
    let claims = [
        claim("name", json!("omit_x5c"), S),
        claim("bogus", json!("nope"), S),
    ];
    let ok = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type=="name"] => issueproperty(type=c.value, value=true); };"#;
    assert_eq!(
        eval(ok, &claims).unwrap()["properties"],
        json!({"omit_x5c": true})
    );
    let unknown = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type=="bogus"] => issueproperty(type=c.value, value=true); };"#;
    let e = eval(unknown, &claims).unwrap_err();
    assert!(e.message.contains("unknown property claim 'nope'"), "{e}");
    let mistyped = r#"version=1.0; authorizationrules{ => permit(); }; issuancerules{ c:[type=="name"] => issueproperty(type=c.value, value=1); };"#;
    assert!(
        eval(mistyped, &claims)
            .unwrap_err()
            .message
            .contains("takes a Boolean value")
    );
}

#[test]
fn compile_time_errors_with_positions() {
    // (policy, line, column, message fragment)
    let table: &[(&str, usize, usize, &str)] = &[
        (
            "version=1.0;\nconfigurationrules{ };",
            2,
            1,
            "configurationrules requires policy version 1.1",
        ),
        (
            "version=1.1;\nauthorizationrules{ ![type==\"a\"] => permit(); };",
            2,
            21,
            "negated condition '!' requires policy version 1.2",
        ),
        (
            "version=1.1;\nissuancerules{ => issue(type=\"a\", value=JmesPath(\"{}\", \"a\")); };",
            2,
            41,
            "function 'JmesPath' requires policy version 1.2",
        ),
        ("version=2.0;", 1, 9, "unsupported policy version '2.0'"),
        (
            "version=1.0; authorizationrules{ => permit(); }; authorizationrules{ };",
            1,
            50,
            "duplicate section",
        ),
        (
            "version=1.0; issuancerules{ => permit(); };",
            1,
            32,
            "'permit()' is not allowed in issuancerules",
        ),
        (
            "version=1.1; configurationrules{ => issue(type=\"a\", value=1); };",
            1,
            37,
            "'issue' is not allowed in configurationrules",
        ),
        (
            "version=1.0; authorizationrules{ [issuer==\"Service\"] => permit(); };",
            1,
            43,
            "unknown issuer 'Service'",
        ),
        (
            "version=1.0; authorizationrules{ [type==\"a\", value<\"b\"] => permit(); };",
            1,
            51,
            "operator '<' is not defined for String values",
        ),
        (
            "version=1.0; authorizationrules{ [type>\"a\"] => permit(); };",
            1,
            39,
            "cannot compare a claim's type",
        ),
        (
            "version=1.2; issuancerules{ => issue(type=\"a\", value=Foo(1)); };",
            1,
            54,
            "unknown function 'Foo'",
        ),
        (
            "version=1.2; issuancerules{ => issue(type=\"a\", value=NegateBool(true, false)); };",
            1,
            54,
            "takes 1 argument, found 2",
        ),
        (
            "version=1.2; issuancerules{ c:[type==\"a\"] => issue(type=\"a\", value=JmesPath(c.value, \"a[\")); };",
            1,
            86,
            "invalid JMESPath query",
        ),
        (
            "version=1.0; issuancerules{ => issueproperty(type=\"omit_x5c\", value=1); };",
            1,
            69,
            "takes a Boolean value, found Integer",
        ),
        (
            "version=1.0; issuancerules{ => issueproperty(type=\"x\", value=1); };",
            1,
            51,
            "unknown property claim 'x'; known: require_valid_aik_cert",
        ),
        (
            "version=1.0; issuancerules{ [type==\"a\"] => issue(type=\"a\", value=c.value); };",
            1,
            66,
            "unknown identifier 'c'",
        ),
        (
            "version=1.0; issuancerules{ c:[type==\"a\"] || [type==\"b\"] => issue(claim=c); };",
            1,
            73,
            "identifier 'c' is not bound here",
        ),
        (
            "version=1.0; issuancerules{ c:[type==\"a\"] && c:[type==\"b\"] => permit(); };",
            1,
            46,
            "already bound",
        ),
        (
            "version=1.2; issuancerules{ !c:[type==\"a\"] => add(type=\"a\", value=1); };",
            1,
            30,
            "cannot bind an identifier",
        ),
        (
            "version=1.0; issuancerules{ => issue(type=\"a\"); };",
            1,
            46,
            "needs both type=… and value=…",
        ),
        (
            "version=1.0; issuancerules{ => issue(type=\"a\", value=1, issuer=\"x\"); };",
            1,
            57,
            "unknown argument 'issuer'",
        ),
        (
            "version=1.0; issuancerules{ => issue(type=\"a\", value=1.5); };",
            1,
            54,
            "fractional number",
        ),
        (
            "version=1.0; issuancerules{ => issue(type=\"a\", value=99999999999999999999); };",
            1,
            54,
            "out of range",
        ),
        (
            "version=1.0; authorizationrules{ => permit(); } issuancerules{};",
            1,
            49,
            "mismatched input 'issuancerules' expecting ';' (policy > authorizationRules)",
        ),
        (
            "version=1.0; authorizationrules{ => permit();",
            1,
            46,
            "mismatched input '<EOF>' expecting '}'",
        ),
        (
            "version=1.0; authorizationrules{ [type==\"a\"] [type==\"b\"] => permit(); };",
            1,
            46,
            "mismatched input '[' expecting {'&&', '||', '=>'}",
        ),
        (
            "version=1.0; authorizationrules{ => allow(); };",
            1,
            37,
            "expecting {'permit', 'deny', 'add', 'issue', 'issueproperty'}",
        ),
        (
            "version=1.0; bogusrules{ };",
            1,
            14,
            "expecting {'configurationrules', 'authorizationrules', 'issuancerules', <EOF>}",
        ),
        (
            "version=1.0; authorizationrules{ => permit(); }; @",
            1,
            50,
            "token recognition error at: '@'",
        ),
        (
            "\r\n\r\nversion=1.0;\r\n  authorizationrules{ => permit() };",
            4,
            35,
            "mismatched input '}' expecting ';'",
        ),
        (
            "version=1.0;\nauthorizationrules{\n  [type==\"é\"] => permit(;\n};",
            3,
            25,
            "mismatched input ';' expecting ')'",
        ),
        (
            "",
            1,
            1,
            "mismatched input '<EOF>' expecting 'version' (policy > versionInfo)",
        ),
    ];
    let mut failures = Vec::new();
    for (policy, line, col, msg) in table {
        let e = compile(policy).expect_err(policy);
        if e.code != "PolicyParsingError"
            || !e.message.contains(msg)
            || (e.line, e.column) != (Some(*line), Some(*col))
            || e.to_string() != format!("{line}:{col}: {}", e.message)
        {
            failures.push(format!(
                "{policy:?}: expected {line}:{col} {msg:?}, got {e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = |n: usize| {
        format!(
            "version=1.2; issuancerules{{ => issue(type=\"a\", value={}true{}); }};",
            "NegateBool(".repeat(n),
            ")".repeat(n)
        )
    };
    assert!(compile(&deep(32)).is_ok());
    // 20,000 levels still fit in MAX_POLICY_BYTES, so the depth bound is what refuses them.
    let e = compile(&deep(20_000)).unwrap_err();
    assert!(e.message.contains("nested more than 32 deep"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(54 + 11 * 32)));
    // 100,000 levels are over the size bound before any parsing.
    let e = compile(&deep(100_000)).unwrap_err();
    assert!(e.message.contains("MAX_POLICY_BYTES"), "{e}");
    assert_eq!(
        (e.code, e.line, e.column),
        ("PolicyParsingError", Some(1), Some(1))
    );
}

#[test]
fn version_and_language_reported() {
    for (text, v) in [
        ("version=1.0;", "1.0"),
        ("version = 1.1 ;", "1.1"),
        ("\r\nversion= 1.2;issuancerules{};", "1.2"),
    ] {
        let p = compile(text).unwrap();
        assert_eq!(p.version(), Some(v));
        assert_eq!(p.language(), attesta_policy::PolicyLanguage::Maa);
    }
}

#[test]
fn eval_json_reports_verdicts_without_errors() {
    let p = compile(r#"version=1.0; authorizationrules{ [type=="ok", value==true] => permit(); [type=="bad"] => deny(); }; issuancerules{ c:[type=="ok"] => issue(type="ok-out", value=c.value); };"#).unwrap();
    assert_eq!(
        eval_json(&p, &json!({"ok": true})).unwrap(),
        json!({"permit": true, "claims": {"ok-out": true}, "properties": {}})
    );
    let denied = eval_json(&p, &json!({"ok": true, "bad": 1})).unwrap();
    assert_eq!(denied["permit"], json!(false));
    assert_eq!(denied["claims"], json!({}));
    assert_eq!(
        denied["reason"],
        json!("A Deny claim was issued, authorization failed.")
    );
    let none = eval_json(&p, &json!({"ok": false})).unwrap();
    assert_eq!(none["permit"], json!(false));
    assert!(none["reason"].as_str().unwrap().starts_with("No Permit"));
    // Array form with issuers.
    let arr = json!([{"type": "ok", "value": true, "issuer": "CustomClaim"}]);
    assert_eq!(eval_json(&p, &arr).unwrap()["permit"], json!(true));
    let bad_issuer = json!([{"type": "ok", "value": true, "issuer": "Me"}]);
    assert_eq!(
        eval_json(&p, &bad_issuer).unwrap_err().code,
        "PolicyEvaluationError"
    );
    assert!(eval_json(&p, &json!("x")).is_err());
    // A real evaluation error stays an error.
    let f = compile(r#"version=1.2; authorizationrules{ => permit(); }; issuancerules{ => issue(type="x", value=JsonToClaimValue("{")); };"#).unwrap();
    assert_eq!(
        eval_json(&f, &json!({})).unwrap_err().code,
        "PolicyEvaluationError"
    );
}

#[test]
fn defaults_table() {
    use attesta_policy::defaults::{PERMIT_ALL_POLICY, SGX_DEFAULT_POLICY, default_policy};
    assert_eq!(default_policy("SgxEnclave"), Some(SGX_DEFAULT_POLICY));
    assert_eq!(default_policy("openenclave"), Some(SGX_DEFAULT_POLICY));
    assert_eq!(
        default_policy("SEVSNPVM"),
        Some("version= 1.0;authorizationrules{=> permit();};")
    );
    assert_eq!(default_policy("TdxVm"), Some(PERMIT_ALL_POLICY));
    assert_eq!(default_policy("AzureGuest"), Some(PERMIT_ALL_POLICY));
    assert_eq!(default_policy("Tpm"), None);
    assert_eq!(default_policy("Nope"), None);
    assert!(
        SGX_DEFAULT_POLICY.starts_with("version= 1.1;\nconfigurationrules{\n\t=> issueproperty(")
    );
    assert!(SGX_DEFAULT_POLICY.ends_with(
        "\tc:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);\n};"
    ));
    assert_eq!(SGX_DEFAULT_POLICY.lines().count(), 15);
}

#[test]
fn policy_hashes() {
    use attesta_policy::defaults::{PERMIT_ALL_POLICY, SGX_DEFAULT_POLICY_2021};
    use attesta_policy::{policy_hash, stored_policy_b64};
    assert_eq!(
        policy_hash(SGX_DEFAULT_POLICY_2021),
        "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"
    );
    assert_eq!(
        policy_hash(PERMIT_ALL_POLICY),
        "9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco"
    );
    assert_eq!(
        stored_policy_b64("version=1.0; authorizationrules{=> permit();}; issuancerules{};"),
        "dmVyc2lvbj0xLjA7IGF1dGhvcml6YXRpb25ydWxlc3s9PiBwZXJtaXQoKTt9OyBpc3N1YW5jZXJ1bGVze307"
    );
    assert!(!stored_policy_b64("??>").contains('='));
}
