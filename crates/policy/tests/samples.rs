//! The TPM/VBS example policies of reference §3.10 run over realistic structured claims (TCG event log,
//! PCR list, request key objects shaped as §3.3 describes): verdicts and issued claims.

use attesta_policy::{Claim, ClaimValue, Issuer, compile};
use serde_json::{Value, json};

mod common;
use common::example;

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

fn events(secure_boot: &str) -> Value {
    json!({"Events": [
        {"EventSeq": 0, "PcrIndex": 7, "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "SecureBoot", "VariableData": secure_boot}},
        {"EventSeq": 1, "PcrIndex": 7, "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "PK", "VariableData": "oVk"}},
        {"EventSeq": 2, "PcrIndex": 7, "EventTypeString": "EV_SEPARATOR", "ProcessedData": {}}
    ]})
}

fn bool_properties(path: &str) -> Value {
    json!([{"EVENT_LOADEDMODULE_AGGREGATION": [
        {"EVENT_FILEPATH": "\\Windows\\System32\\drivers\\other.sys", "EVENT_IMAGEVALIDATED": true},
        {"EVENT_FILEPATH": path, "EVENT_IMAGEVALIDATED": true}
    ]}])
}

#[test]
fn tpm_secure_boot_and_elam_sample() {
    let policy = compile(example("tpm-1.2-secureboot-elam")).unwrap();
    // `boolProperties` is used by the published sample without being defined: supply it as a policy claim.
    let table: &[(&str, Option<&str>, Value)] = &[
        (
            "AQ",
            Some("\\WINDOWS\\system32\\drivers\\wd\\WdBoot.sys"),
            json!({"PlatformAttested": true}),
        ),
        (
            "AQ",
            Some("\\windows\\system32\\drivers\\wdboot.sys"),
            json!({"PlatformAttested": true}),
        ),
        // Secure boot off (VariableData 0x00) → not attested.
        (
            "AA",
            Some("\\windows\\system32\\drivers\\wdboot.sys"),
            json!({}),
        ),
        // As published, the ELAM query ends in `| @ != `null``, which is true for an empty match too
        // (JMESPath semantics), and the next rule does not test the value: any `boolProperties` claim
        // counts as "ELAM loaded". Attesta runs the sample as written.
        (
            "AQ",
            Some("\\windows\\system32\\drivers\\evil.sys"),
            json!({"PlatformAttested": true}),
        ),
        // No boolProperties claim → `!` rule → not loaded → not attested.
        ("AQ", None, json!({})),
    ];
    for (sb, elam, expected) in table {
        let mut claims = vec![claim("events", events(sb), Issuer::AttestationService)];
        if let Some(path) = elam {
            claims.push(claim(
                "boolProperties",
                bool_properties(path),
                Issuer::AttestationPolicy,
            ));
        }
        let out = policy.evaluate(&claims).unwrap();
        assert_eq!(Value::Object(out.outgoing), *expected, "{sb} {elam:?}");
    }
    // No events at all: `!` rules set both flags false; nothing issued, still permitted.
    assert!(policy.evaluate(&[]).unwrap().outgoing.is_empty());
}

#[test]
fn tpm_pcr_allow_list_sample() {
    let policy = compile(example("tpm-pcr-allow-list")).unwrap();
    let pcrs = |d0: &str, d1: &str| {
        json!({"PCRs": [
            {"Index": 0, "Digests": {"SHA1": "KCk6Ow", "SHA256": d0}},
            {"Index": 1, "Digests": {"SHA256": d1}}
        ]})
    };
    let good0 = "4c833b1c361fceffd8dc0f81eec76081b71e1a0eb2193caed0b6e1c7735ec33e";
    let good1 = "8c25e3be6ad6f5bd33c9ae40d5d5461e88c1a7366df0c9ee5c7e5ff40d3d1d0e";
    let ok = [claim(
        "pcrs",
        pcrs(good0, good1),
        Issuer::AttestationService,
    )];
    assert!(policy.evaluate(&ok).unwrap().outgoing.is_empty());
    let bad = [claim("pcrs", pcrs(good0, "00"), Issuer::AttestationService)];
    assert_eq!(
        policy.evaluate(&bad).unwrap_err().code,
        "PolicyEvaluationError"
    );
    // A `pcrs` claim from the attester does not count (issuer test).
    let custom = [claim("pcrs", pcrs(good0, good1), Issuer::CustomClaim)];
    assert!(policy.evaluate(&custom).is_err());
}

#[test]
fn tpm_key_attestation_sample() {
    let policy = compile(example("tpm-key-attestation")).unwrap();
    let key = |kty: &str, attr: i64| json!({"jwk": {"kty": kty, "n": "AQAB", "e": "AQAB"}, "info": {"tpm_certify": {"obj_attr": attr, "name_alg": 11}}});
    let claims = [claim(
        "x-ms-tpm-request-key",
        key("RSA", 50),
        Issuer::AttestationService,
    )];
    assert_eq!(
        Value::Object(policy.evaluate(&claims).unwrap().outgoing),
        json!({"requestKeyType": "RSA", "requestKeyCertifyObjAttr": 50})
    );
    let ec = [claim(
        "x-ms-tpm-request-key",
        key("EC", 1),
        Issuer::AttestationService,
    )];
    assert!(policy.evaluate(&ec).unwrap().outgoing.is_empty());
}

#[test]
fn tpm_version_1_0_and_1_1_samples() {
    let base = |aik: bool| {
        vec![
            claim("aikValidated", json!(aik), Issuer::AttestationService),
            claim("secureBootEnabled", json!(true), Issuer::AttestationService),
            claim(
                "bootDebuggingDisabled",
                json!(true),
                Issuer::AttestationService,
            ),
            claim("vbsEnabled", json!(true), Issuer::AttestationService),
            claim("notWinPE", json!(true), Issuer::AttestationService),
            claim("notSafeMode", json!(true), Issuer::AttestationService),
        ]
    };
    let v10 = compile(example("tpm-1.0")).unwrap();
    assert_eq!(
        Value::Object(v10.evaluate(&base(true)).unwrap().outgoing),
        json!({"PlatformAttested": true})
    );
    assert!(v10.evaluate(&base(false)).unwrap().outgoing.is_empty());

    let v11 = compile(example("tpm-1.1")).unwrap();
    let out = v11.evaluate(&base(false)).unwrap();
    assert_eq!(
        Value::Object(out.outgoing),
        json!({"PlatformAttested": false})
    );
    assert_eq!(
        Value::Object(out.properties),
        json!({"required_pcr_mask": 15, "require_valid_aik_cert": false})
    );
}

#[test]
fn vbs_enclave_identity_sample() {
    let policy = compile(example("vbs-enclave-identity")).unwrap();
    let claims = |svn: i64| {
        vec![
            claim("vsmReportPresent", json!(true), Issuer::AttestationService),
            claim(
                "enclaveAuthorId",
                json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                Issuer::AttestationService,
            ),
            claim(
                "enclaveImageId",
                json!("AQEAAAAAAAAAAAAAAAAAAA"),
                Issuer::AttestationService,
            ),
            claim("enclaveSvn", json!(svn), Issuer::AttestationService),
        ]
    };
    assert!(policy.evaluate(&claims(0)).is_ok());
    assert!(policy.evaluate(&claims(-1)).is_err());
}

#[test]
fn sgx_samples() {
    let svc = |debug: bool, signer: &str| {
        vec![
            claim(
                "x-ms-sgx-is-debuggable",
                json!(debug),
                Issuer::AttestationService,
            ),
            claim(
                "x-ms-sgx-mrsigner",
                json!(signer),
                Issuer::AttestationService,
            ),
            claim("x-ms-sgx-product-id", json!(1), Issuer::AttestationService),
            claim("x-ms-sgx-svn", json!(0), Issuer::AttestationService),
        ]
    };
    let two = compile(example("sgx-two-signers")).unwrap();
    assert!(two.evaluate(&svc(false, "mrsigner1")).is_ok());
    assert!(two.evaluate(&svc(false, "mrsigner2")).is_ok());
    assert!(two.evaluate(&svc(false, "mrsigner3")).is_err());
    assert!(two.evaluate(&svc(true, "mrsigner1")).is_err());

    let custom = compile(example("sgx-custom")).unwrap();
    assert_eq!(
        Value::Object(custom.evaluate(&svc(false, "<mrsigner>")).unwrap().outgoing),
        json!({"<custom-name>": "<mrsigner>"})
    );
    let tcb = compile(example("sgx-custom-tcb-baseline")).unwrap();
    assert_eq!(
        Value::Object(tcb.evaluate(&svc(false, "s")).unwrap().properties),
        json!({"x-ms-sgx-tcbidentifier": "11"})
    );
}

#[test]
fn snp_and_tdx_constructed_samples() {
    let snp = compile(example("snp-constructed")).unwrap();
    let claims = vec![
        claim(
            "x-ms-sevsnpvm-is-debuggable",
            json!(false),
            Issuer::AttestationService,
        ),
        claim(
            "x-ms-compliance-status",
            json!("azure-compliant-cvm"),
            Issuer::AttestationService,
        ),
        claim(
            "x-ms-sevsnpvm-launchmeasurement",
            json!("ab12"),
            Issuer::AttestationService,
        ),
    ];
    assert_eq!(
        Value::Object(snp.evaluate(&claims).unwrap().outgoing),
        json!({"launch-measurement": "ab12"})
    );
    let tdx = compile(example("tdx-constructed")).unwrap();
    let ok = vec![
        claim(
            "tdx_td_attributes_debug",
            json!(false),
            Issuer::AttestationService,
        ),
        claim(
            "attester_tcb_status",
            json!("UpToDate"),
            Issuer::AttestationService,
        ),
    ];
    assert!(tdx.evaluate(&ok).is_ok());
    let stale = vec![
        claim(
            "tdx_td_attributes_debug",
            json!(false),
            Issuer::AttestationService,
        ),
        claim(
            "attester_tcb_status",
            json!("OutOfDate"),
            Issuer::AttestationService,
        ),
    ];
    assert!(tdx.evaluate(&stale).is_err());
}
