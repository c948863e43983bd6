//! Resource bounds (issue 13): deep nesting, huge texts, Rego parse and memory bombs, claim-set and value
//! growth, and the evaluation time budget each end in a `PolicyError` naming the bound. The deep-nesting
//! cases run on a thread with the default 2 MiB stack, so a recursion on input would overflow it.

use std::time::Duration;

use attesta_policy::{
    Claim, ClaimValue, Issuer, Limits, PolicyError, compile, compile_with_limits, incoming_claims,
    incoming_claims_checked,
};
use serde_json::{Map, Value, json};

/// Runs `f` on a thread with a 2 MiB stack (Rust's default for spawned threads).
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow or panic")
}

fn claim(t: &str, v: ClaimValue, issuer: Issuer) -> Claim {
    Claim {
        claim_type: t.into(),
        value: v,
        issuer,
    }
}

fn parse_err(text: String) -> PolicyError {
    on_small_stack(move || compile(&text).unwrap_err())
}

#[test]
fn jmespath_nested_parens_are_refused_before_the_jmespath_parser() {
    // 10,000 and 100,000 levels are over the length bound; 33 levels (within it) over the depth bound.
    for (n, bound) in [
        (10_000, "MAX_JMESPATH_BYTES"),
        (100_000, "MAX_JMESPATH_BYTES"),
        (33, "MAX_JMESPATH_DEPTH"),
    ] {
        let text = format!(
            "version=1.2; authorizationrules{{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"{}a{}\")] => permit(); }};",
            "(".repeat(n),
            ")".repeat(n)
        );
        let e = parse_err(text);
        assert_eq!(e.code, "PolicyParsingError", "{e}");
        assert!(e.message.contains(bound), "{e}");
        // The query literal starts after `JmesPath(c.value, `.
        assert_eq!((e.line, e.column), (Some(1), Some(88)), "{e}");
    }
    // 32 levels compile.
    let text = format!(
        "version=1.2; authorizationrules{{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"{}a{}\")] => permit(); }};",
        "(".repeat(32),
        ")".repeat(32)
    );
    assert!(compile(&text).is_ok());
}

#[test]
fn jmespath_operator_chains_are_refused_before_they_recurse() {
    // Found by the policy_deep fuzz target: 2,048 `!` (no brackets) overflowed the stack of the
    // jmespath interpreter. Chains of `.` and `|` nest the same way.
    for query in [
        format!("{}b", "!".repeat(2048)),
        vec!["a"; 1000].join("."),
        vec!["a"; 1000].join("|"),
    ] {
        let text = format!(
            "version=1.2; authorizationrules{{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"{query}\")] => permit(); }};"
        );
        let e = on_small_stack(move || parse_err(text));
        assert_eq!(e.code, "PolicyParsingError", "{e}");
        assert!(e.message.contains("MAX_JMESPATH_OPERATORS"), "{e}");
    }
    // Ordinary queries stay well within it.
    let ok = "version=1.2; authorizationrules{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"x.keys[0].kid || !flag\")] => permit(); };";
    assert!(compile(ok).is_ok());
}

#[test]
fn jmespath_query_from_a_claim_is_prescanned_at_evaluation() {
    let p = compile(
        "version=1.2; authorizationrules{ q:[type==\"q\"] && j:[type==\"j\"] && [type==\"r\", value==JmesPath(j.value, q.value)] => permit(); };",
    )
    .unwrap();
    let query = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = on_small_stack(move || {
        p.evaluate(&[
            claim("q", ClaimValue::String(query), Issuer::CustomClaim),
            claim(
                "j",
                ClaimValue::String("{}".into()),
                Issuer::AttestationService,
            ),
        ])
        .unwrap_err()
    });
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.contains("MAX_JMESPATH_BYTES"), "{e}");
}

#[test]
fn jmespath_result_that_repeats_shared_parts_is_bounded() {
    let query = vec!["[@,@,@,@]"; 14].join(" | ");
    let p = compile(&format!(
        "version=1.2; authorizationrules{{ => permit(); }}; issuancerules{{ c:[type==\"j\"] => issue(type=\"r\", value=JmesPath(c.value, \"{query}\")); }};"
    ))
    .unwrap();
    let e = p
        .evaluate(&[claim(
            "j",
            ClaimValue::String("\"xxxxxxxx\"".into()),
            Issuer::AttestationService,
        )])
        .unwrap_err();
    assert!(e.message.contains("MAX_JMESPATH_RESULT_BYTES"), "{e}");
}

#[test]
fn fifty_thousand_conditions_or_brackets_are_refused_with_a_position() {
    // 50,000 chained conditions: the per-rule bound, at the first condition over it.
    let text = format!(
        "version=1.2; authorizationrules{{ {}[] => permit(); }};",
        "[]&&".repeat(50_000)
    );
    let e = parse_err(text);
    assert!(e.message.contains("MAX_CONDITIONS_PER_RULE"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(34 + 4 * 256)), "{e}");

    // 50,000 nested brackets or parentheses never reach a recursion.
    for (open, close) in [("[", "]"), ("(", ")"), ("NegateBool(", ")")] {
        let text = format!(
            "version=1.2; authorizationrules{{ [value=={}true{}] => permit(); }};",
            open.repeat(50_000 / open.len()),
            close.repeat(50_000 / open.len())
        );
        let e = parse_err(text);
        assert_eq!(e.code, "PolicyParsingError", "{e}");
        assert!(e.line.is_some() && e.column.is_some(), "{e}");
    }

    // More rules than MAX_RULES.
    let text = format!(
        "version=1.0; authorizationrules{{ {} }};",
        "=>permit();".repeat(1100)
    );
    let e = parse_err(text);
    assert!(e.message.contains("MAX_RULES"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(34 + 11 * 1024)), "{e}");
}

#[test]
fn huge_policy_text_is_refused_before_parsing() {
    for body in [
        "version=1.0; authorizationrules{ => permit(); };",
        "package p\nallow := true\n",
    ] {
        let text = format!("{body}//{}", " ".repeat(300 * 1024));
        let e = compile(&text).unwrap_err();
        assert_eq!(e.code, "PolicyParsingError");
        assert!(e.message.contains("MAX_POLICY_BYTES"), "{e}");
        assert_eq!((e.line, e.column), (Some(1), Some(1)));
        // A smaller per-call bound applies too.
        let limits = Limits {
            max_policy_bytes: 16,
            ..Limits::default()
        };
        assert!(
            compile_with_limits(body, &limits)
                .unwrap_err()
                .message
                .contains("MAX_POLICY_BYTES")
        );
    }
}

#[cfg(feature = "rego")]
#[test]
fn rego_exponential_parse_is_refused_by_the_prescan() {
    let text = "package p\nallow := true\nx := [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n";
    assert_eq!(text.len(), 69);
    let e = on_small_stack(move || compile(text).unwrap_err());
    assert_eq!(e.code, "PolicyParsingError");
    assert!(e.message.contains("MAX_REGO_NESTING_DEPTH"), "{e}");
    // The 13th `[` of line 3.
    assert_eq!((e.line, e.column), (Some(3), Some(18)));
    // Brackets in strings and comments do not count; 12 levels compile.
    let ok = format!(
        "package p\n# {}\ns := \"{}\"\nx := {}1{}\nallow := true\n",
        "[".repeat(40),
        "{".repeat(40),
        "[".repeat(12),
        "]".repeat(12)
    );
    assert!(compile(&ok).is_ok());
    // Deep nesting of any size never reaches regorus.
    let deep = format!(
        "package p\nallow := {}1{}",
        "{".repeat(100_000),
        "}".repeat(100_000)
    );
    let e = on_small_stack(move || compile(&deep).unwrap_err());
    assert!(e.message.contains("MAX_REGO_NESTING_DEPTH"), "{e}");
}

#[cfg(feature = "rego")]
#[test]
fn rego_range_memory_bomb_is_refused_without_allocating() {
    let p = compile("package p\nallow := count(numbers.range(1, 400000000)) > 0\n").unwrap();
    let e = p.evaluate(&[]).unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.contains("MAX_REGO_RANGE_ELEMENTS"), "{e}");
    assert_eq!((e.line, e.column), (Some(2), Some(29)), "{e}");
    let p =
        compile("package p\nallow := count(numbers.range_step(0, 9000000000, 2)) > 0\n").unwrap();
    let e = p.evaluate(&[]).unwrap_err();
    assert!(e.message.contains("MAX_REGO_RANGE_ELEMENTS"), "{e}");
}

#[cfg(feature = "rego")]
#[test]
fn rego_bounded_ranges_keep_their_results() {
    let p = compile(
        "package p\nallow if {\n numbers.range(1, 4) == [1, 2, 3, 4]\n numbers.range(3, 1) == [3, 2, 1]\n numbers.range_step(1, 10, 3) == [1, 4, 7, 10]\n numbers.range_step(10, 1, 4) == [10, 6, 2]\n count(numbers.range(1, 100000)) == 100000\n}\n",
    )
    .unwrap();
    assert!(p.evaluate(&[]).is_ok());
}

#[cfg(feature = "rego")]
#[test]
fn rego_double_loop_stops_at_the_time_budget() {
    let p = compile(
        "package p\nallow if { some i in numbers.range(1, 20000); some j in numbers.range(1, 20000); i == j + 100000 }\n",
    )
    .unwrap();
    let limits = Limits {
        evaluation_budget: Duration::from_millis(200),
        ..Limits::default()
    };
    let e = p.evaluate_with_limits(&[], &limits).unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert_eq!(
        e.message,
        "policy evaluation exceeded its time budget of 200 ms"
    );
}

#[test]
fn maa_evaluation_stops_at_the_time_budget() {
    // 13,805 conditions (55 rules, within the policy size bound), each
    // scanning all 10,000 claims: 250 per rule that match
    // only the last claim, c9999 (a scan stops at its first match, so the
    // match must be last; and no conjunction stops early), then one that
    // matches nothing (so no rule permits and ends the evaluation): about
    // 137 million comparisons, far more than 50 ms of work on any machine.
    // (With a type no claim has first, each rule ended at its first
    // condition: 72 scans, which a fast run finished inside the budget.)
    let rules: String = (0..55)
        .map(|_| {
            format!(
                "{}[type==\"z\"] => permit();\n",
                "[type==\"c9999\"]&&".repeat(250)
            )
        })
        .collect();
    let p = compile(&format!("version=1.0; authorizationrules{{ {rules} }};")).unwrap();
    let incoming: Vec<Claim> = (0..10_000)
        .map(|i| {
            claim(
                &format!("c{i}"),
                ClaimValue::Integer(i),
                Issuer::AttestationService,
            )
        })
        .collect();
    let limits = Limits {
        evaluation_budget: Duration::from_millis(50),
        ..Limits::default()
    };
    let e = p.evaluate_with_limits(&incoming, &limits).unwrap_err();
    assert_eq!(
        e.message,
        "policy evaluation exceeded its time budget of 50 ms"
    );
}

#[test]
fn doubling_the_claim_set_is_bounded() {
    let rules = "c:[] => add(claim=c);\n".repeat(20);
    let p = compile(&format!(
        "version=1.0; authorizationrules{{ => permit(); }}; issuancerules{{ {rules} }};"
    ))
    .unwrap();
    let incoming = vec![
        claim("a", ClaimValue::Integer(1), Issuer::AttestationService),
        claim("b", ClaimValue::Integer(2), Issuer::AttestationService),
    ];
    let e = p.evaluate(&incoming).unwrap_err();
    assert_eq!(e.code, "PolicyEvaluationError");
    assert!(e.message.contains("MAX_CLAIMS"), "{e}");
    // Too many incoming claims are refused up front.
    let many: Vec<Claim> = (0..10_001)
        .map(|i| {
            claim(
                &format!("c{i}"),
                ClaimValue::Integer(i),
                Issuer::AttestationService,
            )
        })
        .collect();
    assert!(
        p.evaluate(&many)
            .unwrap_err()
            .message
            .contains("MAX_CLAIMS")
    );
}

#[test]
fn doubling_a_string_is_bounded() {
    let rules: String = (0..12)
        .map(|k| {
            format!(
                "c:[type==\"s{k}\"] => add(type=\"s{}\", value=AppendString(c.value, c.value));\n",
                k + 1
            )
        })
        .collect();
    let p = compile(&format!(
        "version=1.2; authorizationrules{{ => permit(); }}; issuancerules{{ {rules} }};"
    ))
    .unwrap();
    let e = p
        .evaluate(&[claim(
            "s0",
            ClaimValue::String("x".repeat(1 << 20)),
            Issuer::AttestationService,
        )])
        .unwrap_err();
    assert!(e.message.contains("MAX_CREATED_BYTES"), "{e}");
}

#[test]
fn deep_json_claims_are_refused_or_left_out() {
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let mut service = Map::new();
    service.insert("a".into(), json!(1));
    service.insert("deep".into(), deep);
    let e = incoming_claims_checked(&service, &Map::new()).unwrap_err();
    assert!(e.message.contains("MAX_CLAIM_JSON_DEPTH"), "{e}");
    assert!(e.message.contains("'deep'"), "{e}");
    let kept: Vec<String> = incoming_claims(&service, &Map::new())
        .into_iter()
        .map(|c| c.claim_type)
        .collect();
    assert_eq!(kept, ["a"]);
    // A depth within the bound converts as before.
    let mut ok = Map::new();
    ok.insert("j".into(), json!({"a": [1, {"b": null}]}));
    let c = incoming_claims_checked(&ok, &Map::new()).unwrap();
    assert_eq!(
        c[0].value,
        ClaimValue::String(r#"{"a":[1,{"b":null}]}"#.into())
    );
    let _ = Value::Null;
}
