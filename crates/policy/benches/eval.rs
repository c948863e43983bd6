//! Policy evaluation hot path: the default SGX policy (1.1) over a typical SGX claim set, plus a 1.2 TPM
//! policy with JMESPath and, with the `rego` feature, the example Rego policy.

use attesta_policy::{Claim, compile, defaults, incoming_claims};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};

fn sgx_claims() -> Vec<Claim> {
    let service = json!({
        "x-ms-attestation-type": "sgx",
        "x-ms-ver": "1.0",
        "x-ms-sgx-is-debuggable": false,
        "x-ms-sgx-mrenclave": "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
        "x-ms-sgx-mrsigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
        "x-ms-sgx-product-id": 1,
        "x-ms-sgx-svn": 1,
        "x-ms-sgx-ehd": "CiAgICAgICAgewogICAgICAgICAgICAiandrIiA6IHsKICAgICAgICAgICAgICAgICJrdHkiOiJFQyIs",
        "x-ms-sgx-config-id": "00000000000000000000000000000000",
        "x-ms-sgx-config-svn": 0,
        "x-ms-sgx-isv-extended-product-id": "00000000000000000000000000000000",
        "x-ms-sgx-isv-family-id": "00000000000000000000000000000000",
        "x-ms-sgx-report-data": "ed11a9eb97dfc17053a32a6992e71d04f7ec996e45519ab710936afb48f9041d",
        "x-ms-attestation-collateral": {"quotehash": "af0e05631c145d7dc1a33b214d43c6aa34a7859622a0ac7d880ab7b24e2f18d2"},
        "x-ms-runtime": {"jwk": {"kty": "EC", "crv": "P-256", "x": "18wH", "y": "cV4d"}}
    });
    incoming_claims(service.as_object().unwrap(), &Map::new())
}

fn bench(c: &mut Criterion) {
    let claims = sgx_claims();
    let sgx = compile(defaults::default_policy("SgxEnclave").unwrap()).unwrap();
    assert_eq!(sgx.evaluate(&claims).unwrap().outgoing.len(), 6);
    c.bench_function("evaluate default SGX policy (15 claims)", |b| {
        b.iter(|| sgx.evaluate(std::hint::black_box(&claims)).unwrap())
    });

    c.bench_function("compile default SGX policy", |b| {
        b.iter(|| compile(std::hint::black_box(defaults::SGX_DEFAULT_POLICY)).unwrap())
    });

    let tpm = compile(
        r#"version=1.2;
authorizationrules { => permit(); };
issuancerules {
c:[type == "events", issuer=="AttestationService"] => add(type = "efiConfigVariables", value = JmesPath(c.value, "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.VariableGuid == '8BE4DF61-93CA-11D2-AA0D-00E098032B8C']"));
c:[type=="efiConfigVariables", issuer=="AttestationPolicy"]=> issue(type = "secureBootEnabled", value = JsonToClaimValue(JmesPath(c.value, "[?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'")));
};"#,
    )
    .unwrap();
    let events = json!({"events": {"Events": [
        {"EventSeq": 0, "PcrIndex": 7, "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "SecureBoot", "VariableData": "AQ"}},
        {"EventSeq": 1, "PcrIndex": 7, "EventTypeString": "EV_SEPARATOR", "ProcessedData": {}}
    ]}});
    let tpm_claims = incoming_claims(events.as_object().unwrap(), &Map::new());
    assert_eq!(
        tpm.evaluate(&tpm_claims).unwrap().outgoing["secureBootEnabled"],
        true
    );
    c.bench_function("evaluate TPM 1.2 JmesPath policy", |b| {
        b.iter(|| tpm.evaluate(std::hint::black_box(&tpm_claims)).unwrap())
    });

    #[cfg(feature = "rego")]
    {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sgx.rego"))
                .unwrap();
        let rego = compile(&text).unwrap();
        assert!(rego.evaluate(&claims).is_ok());
        c.bench_function("evaluate examples/sgx.rego", |b| {
            b.iter(|| rego.evaluate(std::hint::black_box(&claims)).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
