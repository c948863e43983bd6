//! Totality of the parser and evaluator: thousands of deterministic mutations of real policies (byte
//! deletions, insertions of grammar tokens, truncations) must each compile or give a positioned
//! `PolicyParsingError`, and whatever compiles must evaluate without panicking. Complements the
//! `policy_parse` fuzz target with a run that needs no fuzzing toolchain.

use attesta_policy::{Claim, ClaimValue, Issuer, compile};

mod common;
use common::REFERENCE_EXAMPLES;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    ";",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    ".",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "!",
    "=>",
    "\"",
    "\\",
    "c",
    "c.value",
    "type",
    "value",
    "issuer",
    "permit()",
    "deny()",
    "issue(",
    "add(",
    "issueproperty(",
    "JmesPath(",
    "JsonToClaimValue(",
    "IsSubsetOf(",
    "\"[1,2]\"",
    "\"null\"",
    "0x",
    "99999999999999999999",
    "-",
    "1.5",
    "//",
    "\n",
    "é",
    "configurationrules",
    "version=1.2;",
];

fn claims() -> Vec<Claim> {
    let c = |t: &str, value: ClaimValue, issuer: Issuer| Claim {
        claim_type: t.to_string(),
        value,
        issuer,
    };
    vec![
        c("x-ms-sgx-is-debuggable", ClaimValue::Boolean(false), Issuer::AttestationService),
        c("x-ms-sgx-mrsigner", ClaimValue::String("mrsigner1".into()), Issuer::AttestationService),
        c("x-ms-sgx-svn", ClaimValue::Integer(3), Issuer::AttestationService),
        c("aikValidated", ClaimValue::Boolean(true), Issuer::AttestationService),
        c("events", ClaimValue::String(r#"{"Events":[{"EventTypeString":"EV_EFI_VARIABLE_DRIVER_CONFIG","ProcessedData":{"UnicodeName":"SecureBoot","VariableData":"AQ"}}]}"#.into()), Issuer::AttestationService),
        c("pcrs", ClaimValue::String(r#"{"PCRs":[{"Index":0,"Digests":{"SHA256":"aa"}}]}"#.into()), Issuer::AttestationService),
        c("OSName", ClaimValue::String("x".into()), Issuer::CustomClaim),
    ]
}

fn check(text: &str, claims: &[Claim]) {
    match compile(text) {
        Ok(p) => {
            for r in [p.evaluate(claims), p.evaluate(&[])] {
                if let Err(e) = r {
                    assert_eq!(e.code, "PolicyEvaluationError", "{text:?}: {e}");
                }
            }
        }
        Err(e) => {
            assert_eq!(e.code, "PolicyParsingError", "{text:?}: {e}");
            let (line, col) = (e.line.expect("line"), e.column.expect("column"));
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(line >= 1 && line <= lines.len(), "{text:?}: {e}");
            assert!(
                col >= 1 && col <= lines[line - 1].chars().count() + 1,
                "{text:?}: {e}"
            );
        }
    }
}

#[test]
fn mutated_policies_never_panic() {
    let claims = claims();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compiled = 0usize;
    let mut total = 0usize;
    for (_, _, text) in REFERENCE_EXAMPLES {
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..400 {
            let mut m = chars.clone();
            for _ in 0..1 + rng.below(3) {
                match rng.below(4) {
                    0 if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m.remove(i);
                    }
                    1 => {
                        let i = rng.below(m.len() + 1);
                        let piece = PIECES[rng.below(PIECES.len())];
                        for (k, ch) in piece.chars().enumerate() {
                            m.insert(i + k, ch);
                        }
                    }
                    2 => {
                        let n = rng.below(m.len() + 1);
                        m.truncate(n);
                    }
                    _ if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m[i] = PIECES[rng.below(PIECES.len())]
                            .chars()
                            .next()
                            .unwrap_or('x');
                    }
                    _ => {}
                }
            }
            let s: String = m.into_iter().collect();
            total += 1;
            if compile(&s).is_ok() {
                compiled += 1;
            }
            check(&s, &claims);
        }
    }
    // Both branches were exercised.
    assert!(
        compiled > 100 && compiled < total,
        "{compiled} of {total} compiled"
    );
}
