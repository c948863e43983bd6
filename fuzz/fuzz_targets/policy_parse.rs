#![no_main]
//! Fuzz target for the MAA policy parser and evaluator (`attesta-policy`): any byte string must give a
//! compiled policy or a typed `PolicyError` — never a panic or a stack overflow — and a compiled policy
//! must evaluate over a fixed claim set (SGX flat claims plus a JSON event-log claim for the 1.2
//! functions) without panicking. Rego texts are skipped: they go to regorus, not to our parser.

use attesta_policy::{Claim, ClaimValue, Issuer, compile, is_rego};
use libfuzzer_sys::fuzz_target;

fn claims() -> Vec<Claim> {
    let c = |t: &str, value: ClaimValue| Claim {
        claim_type: t.to_string(),
        value,
        issuer: Issuer::AttestationService,
    };
    vec![
        c("x-ms-sgx-is-debuggable", ClaimValue::Boolean(false)),
        c("x-ms-sgx-svn", ClaimValue::Integer(1)),
        c("x-ms-sgx-mrsigner", ClaimValue::String("2c1a".into())),
        c("x-ms-attestation-type", ClaimValue::String("sgx".into())),
        c(
            "events",
            ClaimValue::String(
                r#"{"Events":[{"EventSeq":0,"PcrIndex":7,"EventTypeString":"EV_SEPARATOR","ProcessedData":{"VariableData":"AQ"}}]}"#
                    .into(),
            ),
        ),
        c("pcrs", ClaimValue::String(r#"{"PCRs":[{"Index":0,"Digests":{"SHA256":"aa"}}]}"#.into())),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if is_rego(text) {
        return;
    }
    match compile(text) {
        Ok(policy) => {
            let _ = policy.evaluate(&claims());
            let _ = policy.evaluate(&[]);
        }
        Err(e) => {
            assert_eq!(e.code, "PolicyParsingError");
            assert!(e.line.is_some() && e.column.is_some());
        }
    }
});
