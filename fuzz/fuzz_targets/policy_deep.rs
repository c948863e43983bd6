#![no_main]
//! Deep-nesting fuzz target for `attesta-policy` (issue 13): the input bytes are expanded into nested
//! MAA policies (function calls, brackets, chained conditions), JMESPath queries (literal and taken from
//! a claim at evaluation) and Rego modules, up to far beyond every bound. Each must compile or give a
//! typed `PolicyError` — never a panic, a stack overflow or an unbounded allocation — and whatever
//! compiles must evaluate to a value or a typed error.

use attesta_policy::{Claim, ClaimValue, Issuer, compile};
use libfuzzer_sys::fuzz_target;

/// Openers and closers the generator nests; each byte of input picks one and a repeat count.
const PIECES: &[(&str, &str)] = &[
    ("NegateBool(", ")"),
    ("JsonToClaimValue(", ")"),
    ("AppendString(\"a\", ", ")"),
    ("(", ")"),
    ("[", "]"),
    ("{", "}"),
    ("[type==\"a\"] && ", ""),
    ("!", ""),
];

fn expand(data: &[u8], inner: &str) -> String {
    let mut open = String::new();
    let mut close = Vec::new();
    for pair in data.chunks(2) {
        let (o, c) = PIECES[usize::from(pair[0]) % PIECES.len()];
        // Up to 16,384 repetitions per chunk: reaches every depth bound.
        let n = 1usize << (usize::from(pair.get(1).copied().unwrap_or(0)) % 15);
        open.push_str(&o.repeat(n));
        close.push(c.repeat(n));
    }
    close.reverse();
    format!("{open}{inner}{}", close.concat())
}

fn check(text: &str, claims: &[Claim]) {
    match compile(text) {
        Ok(p) => {
            if let Err(e) = p.evaluate(claims) {
                assert_eq!(e.code, "PolicyEvaluationError", "{e}");
            }
        }
        Err(e) => assert_eq!(e.code, "PolicyParsingError", "{e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let claims = |query: String| {
        vec![
            Claim {
                claim_type: "a".into(),
                value: ClaimValue::String("{\"b\":[1,2]}".into()),
                issuer: Issuer::AttestationService,
            },
            Claim {
                claim_type: "q".into(),
                value: ClaimValue::String(query),
                issuer: Issuer::CustomClaim,
            },
        ]
    };
    match mode % 4 {
        // Nested MAA expressions and conditions.
        0 => {
            let value = expand(rest, "true");
            let text = format!(
                "version=1.2; authorizationrules{{ [value=={value}] => permit(); {value} => permit(); }}; issuancerules{{ => issue(type=\"x\", value={value}); }};"
            );
            check(&text, &claims(String::new()));
        }
        // A nested literal JMESPath query.
        1 => {
            let query = expand(rest, "b").replace('"', "'");
            let text = format!(
                "version=1.2; authorizationrules{{ => permit(); }}; issuancerules{{ c:[type==\"a\"] => issue(type=\"r\", value=JmesPath(c.value, \"{query}\")); }};"
            );
            check(&text, &claims(String::new()));
        }
        // A nested JMESPath query from an attester claim, compiled at evaluation.
        2 => {
            let text = "version=1.2; authorizationrules{ => permit(); }; issuancerules{ c:[type==\"a\"] && q:[type==\"q\"] => issue(type=\"r\", value=JmesPath(c.value, q.value)); };";
            check(text, &claims(expand(rest, "b")));
        }
        // A nested Rego module.
        _ => {
            let text = format!("package p\nallow := true\nx := {}\n", expand(rest, "1"));
            check(&text, &[]);
        }
    }
});
