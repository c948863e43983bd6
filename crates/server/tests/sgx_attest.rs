//! SGX and Open Enclave attestation through the real server over HTTPS:
//! testkit evidence under a provider-scoped test root, a real quote with its
//! real collateral at the vector's pinned time, collateral import, runtime
//! data binding, draft policies, nonces, policy denial, and the failures
//! that must not yield a token.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_evidence::crypto::sha256;
use attesta_testkit::SgxSample;
use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, verify_jwt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "2020-10-01";

/// A provider's published keys (each provider signs with its own).
async fn jwks(t: &TestServer, provider: &str) -> Jwks {
    serde_json::from_value(
        json(
            t.client
                .get(t.url(&format!("/providers/{provider}/certs")))
                .send()
                .await
                .unwrap(),
        )
        .await
        .1,
    )
    .unwrap()
}

/// A server with provider `lab` trusting `sample`'s test root, and the
/// sample's collateral imported.
async fn lab_server(tmp: &std::path::Path, sample: &SgxSample) -> TestServer {
    let t = start(config(tmp)).await;
    let b = intel_tenant(&t, "lab", &sample.root_der, &sample.collateral).await;
    assert_eq!(b["fmspc"], hex::encode_upper(sample.fmspc));
    t
}

#[tokio::test]
async fn open_enclave_with_json_runtime_data_yields_a_verifiable_token() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = br#"{"jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"BB"},"purpose":"test"}"#;
    let sample = SgxSample::builder()
        .at(UnixTime::now().0)
        .runtime_data(runtime)
        .build();
    let t = lab_server(tmp.path(), &sample).await;

    let (s, b) = attest(
        &t,
        "/providers/lab/attest/OpenEnclave",
        json!({
            "report": URL_SAFE_NO_PAD.encode(&sample.oe_report),
            "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON"},
            "nonce": 42
        }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap();
    let issuer = format!("{}/providers/lab", t.base());
    let v = verify_jwt(
        token,
        &jwks(&t, "lab").await,
        &VerifyOptions {
            issuer: Some(issuer.clone()),
            now: UnixTime::now().0,
            leeway_secs: 5,
        },
    )
    .expect("the attestation token verifies with /certs");
    let c = &v.claims;
    assert_eq!(v.header["jku"], format!("{issuer}/certs"));
    assert_eq!(c["x-ms-attestation-type"], "sgx");
    assert_eq!(c["x-ms-ver"], "1.0");
    assert_eq!(c["x-ms-sgx-mrenclave"], hex::encode(sample.mr_enclave));
    assert_eq!(c["x-ms-sgx-mrsigner"], hex::encode(sample.mr_signer));
    assert_eq!(c["x-ms-sgx-is-debuggable"], false);
    assert_eq!(c["x-ms-sgx-report-data"], hex::encode(sample.report_data));
    assert_eq!(c["x-ms-runtime"]["purpose"], "test");
    assert_eq!(c["x-ms-runtime"]["jwk"]["crv"], "P-256");
    assert!(c.get("x-ms-sgx-ehd").is_none());
    assert_eq!(
        c["x-ms-sgx-collateral"]["quotehash"],
        hex::encode(sha256(&sample.oe_report))
    );
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(c["x-attesta-tcb-status"], "UpToDate");
    assert_eq!(c["nonce"], 42);
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        8 * 3600
    );
    assert_eq!(c["jti"].as_str().unwrap().len(), 64);
    // The default policy's issuance rules.
    assert_eq!(c["sgx-mrenclave"], hex::encode(sample.mr_enclave));
    assert_eq!(c["is-debuggable"], false);
    assert_eq!(c["tee"], "sgx");
    assert_eq!(
        c["x-ms-policy-hash"],
        attesta_policy::policy_hash(
            attesta_policy::defaults::default_policy("OpenEnclave").unwrap()
        )
    );
    t.stop().await;
}

#[tokio::test]
async fn sgx_enclave_binary_runtime_data_draft_policy_denial_and_binding() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = b"enclave held data";
    let sample = SgxSample::builder()
        .at(UnixTime::now().0)
        .runtime_data(runtime)
        .build();
    let t = lab_server(tmp.path(), &sample).await;
    let quote = URL_SAFE_NO_PAD.encode(&sample.quote);

    // Binary runtime data becomes x-ms-sgx-ehd; standard base64 is accepted too.
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": base64::engine::general_purpose::STANDARD.encode(&sample.quote),
               "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "Binary"},
               "nonce": "n-1"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-ms-sgx-ehd"], URL_SAFE_NO_PAD.encode(runtime));
    assert_eq!(
        c["x-ms-sgx-collateral"]["quotehash"],
        hex::encode(sha256(&sample.quote))
    );
    assert_eq!(c["nonce"], "n-1");

    // Runtime data that is not what the enclave bound.
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": quote, "runtimeData": {"data": URL_SAFE_NO_PAD.encode(b"other"), "dataType": "Binary"}}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "RuntimeDataMismatch");

    // A draft policy gives an unsecured token with the draft's issued claims.
    let draft = "version=1.0; authorizationrules{=> permit();}; issuancerules{ c:[type==\"x-ms-sgx-svn\"] => issue(type=\"draft-svn\", value=c.value); };";
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": quote, "draftPolicyForAttestation": draft}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap();
    assert!(
        token.ends_with('.'),
        "unsecured token has an empty signature"
    );
    let (header, c) = attesta_token::jwt::decode_unverified(token).unwrap();
    assert_eq!(header["alg"], "none");
    assert!(c.contains_key("draft-svn"));
    assert_eq!(c["x-ms-policy-hash"], attesta_policy::policy_hash(draft));
    assert!(
        verify_jwt(
            token,
            &jwks(&t, "lab").await,
            &VerifyOptions {
                issuer: None,
                now: UnixTime::now().0,
                leeway_secs: 5
            }
        )
        .is_err()
    );
    // A draft that does not parse.
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": quote, "draftPolicyForAttestation": "version=1.0; nope"}),
    )
    .await;
    assert_error(s, &b, 400, "PolicyParsingError");

    // A stored policy that denies debug=false enclaves refuses the quote.
    let deny = "version=1.0; authorizationrules{ [type==\"x-ms-sgx-is-debuggable\", value==false] => deny(); => permit(); }; issuancerules{};";
    let (s, b) = json(
        t.client
            .put(t.url(&format!(
                "/providers/lab/policies/SgxEnclave?api-version={V}"
            )))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(deny))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": quote}),
    )
    .await;
    assert_error(s, &b, 400, "PolicyEvaluationError");
    assert!(b.get("token").is_none());
    t.stop().await;
}

#[tokio::test]
async fn test_roots_are_scoped_to_their_provider_and_failures_give_no_token() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let t = lab_server(tmp.path(), &sample).await;
    let quote = URL_SAFE_NO_PAD.encode(&sample.quote);

    // The default provider does not trust the test root.
    let (s, b) = attest(&t, "/attest/SgxEnclave", json!({"quote": quote})).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "UntrustedRoot", "{b}");

    // A flipped signature byte.
    let mut bad = sample.quote.clone();
    bad[100] ^= 1;
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&bad)}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "QuoteSignatureInvalid",
        "{b}"
    );

    // A platform whose collateral was never imported and cannot be fetched.
    let other = SgxSample::builder()
        .at(UnixTime::now().0)
        .fmspc([1, 2, 3, 4, 5, 6])
        .build();
    let body =
        json!({"name": "other", "config": {"test_roots": {"intel": [pem(&other.root_der)]}}});
    let (s, _) = admin_post(&t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201);
    let (s, b) = attest(
        &t,
        "/providers/other/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&other.quote)}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NoOfflineBundle", "{b}");

    // Importing collateral needs the admin token and a real bundle.
    let (s, b) = json(
        t.client
            .post(t.url("/admin/collateral"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = admin_post(&t, "/admin/collateral", b"{}".to_vec()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    t.stop().await;
}

/// The real quote of the dcap-qvl vector, its real collateral, verified at
/// the time its expected.json pins (a provider setting, explicit).
#[tokio::test]
async fn real_sgx_quote_with_imported_collateral_at_the_pinned_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/sgx/dcap-qvl-sgx-v3");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let pinned = expected["verification_time_to_pin"]
        .as_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let body = json!({"name": "pinned", "config": {"verification_time": pinned}});
    let (s, b) = admin_post(&t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{b}");
    let bundle = attesta_collateral::import_dir(&dir).unwrap();
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&bundle),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let quote = std::fs::read(dir.join("quote.bin")).unwrap();
    let (s, b) = attest(
        &t,
        "/providers/pinned/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&quote)}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(
        c["x-attesta-tcb-status"],
        "ConfigurationAndSWHardeningNeeded"
    );
    let advisories: Vec<&str> = c["x-attesta-tcb-advisory-ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        advisories.contains(&"INTEL-SA-00289") && advisories.contains(&"INTEL-SA-00615"),
        "{advisories:?}"
    );
    assert!(c.get("x-attesta-test-root").is_none_or(|v| v == false));
    assert_eq!(
        c["x-ms-sgx-collateral"]["quotehash"],
        hex::encode(sha256(&quote))
    );
    assert!(c.contains_key("x-attesta-verification-time"));

    // The same quote through the default provider (verified now) fails:
    // its collateral expired long ago and no grace is configured.
    let (s, b) = attest(
        &t,
        "/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&quote)}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "CollateralExpired", "{b}");
    t.stop().await;
}

/// Expired collateral fails closed; a provider that grants a grace period
/// accepts it and the token says how long it has been expired.
#[tokio::test]
async fn expired_collateral_needs_an_explicit_grace_and_the_token_says_so() {
    let day = 86_400u64;
    let now = UnixTime::now().0;
    // The testkit's collateral is valid until `at` + 20 days: five days ago.
    let sample = SgxSample::builder().at(now - 25 * day).build();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let root = pem(&sample.root_der);
    for (name, grace) in [("strict", 0u64), ("short", day), ("lenient", 10 * day)] {
        let body = json!({"name": name, "config": {"test_roots": {"intel": [root.clone()]}, "collateral_grace_secs": grace}});
        let (s, b) = admin_post(&t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let quote = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    for name in ["strict", "short"] {
        let (s, b) = attest(
            &t,
            &format!("/providers/{name}/attest/SgxEnclave"),
            quote.clone(),
        )
        .await;
        assert_error(s, &b, 400, "InvalidParameter");
        assert_eq!(
            b["error"]["innererror"]["code"], "CollateralExpired",
            "{name}: {b}"
        );
    }
    let (s, b) = attest(&t, "/providers/lenient/attest/SgxEnclave", quote).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    let expired_for = c["x-attesta-collateral-expired-for"].as_u64().unwrap();
    assert!(
        (5 * day - 120..=5 * day + 120).contains(&expired_for),
        "{expired_for}"
    );
    t.stop().await;
}

/// `x-ms-sgx-tcbidentifier` is honoured: a baseline newer than the
/// collateral's tcbEvaluationDataNumber refuses the quote.
#[tokio::test]
async fn tcb_baseline_configuration_rule_is_honoured() {
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let tmp = tempfile::tempdir().unwrap();
    let t = lab_server(tmp.path(), &sample).await;
    let quote = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    // The default policy (azuredefault) accepts it and the claim is there.
    let (s, b) = attest(&t, "/providers/lab/attest/SgxEnclave", quote.clone()).await;
    assert_eq!(s, 200, "{b}");
    let have = claims(b["token"].as_str().unwrap())["x-attesta-tcb-evaluation-data-number"]
        .as_u64()
        .unwrap();
    let rule = |id: &str| {
        format!(
            "version=1.1; configurationrules{{ => issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"{id}\"); }}; authorizationrules{{ => permit(); }}; issuancerules{{ }};"
        )
    };
    for (id, ok) in [
        (have.to_string(), true),
        ((have + 1).to_string(), false),
        ("nonsense".into(), false),
    ] {
        let (s, b) = attest(
            &t,
            "/providers/lab/attest/SgxEnclave",
            json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote), "draftPolicyForAttestation": rule(&id)}),
        )
        .await;
        if ok {
            assert_eq!(s, 200, "{id}: {b}");
        } else {
            assert_eq!(s, 400, "{id}: {b}");
        }
    }
    let (_, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote), "draftPolicyForAttestation": rule(&(have + 1).to_string())}),
    )
    .await;
    assert_eq!(b["error"]["innererror"]["code"], "TcbBaselineNotMet", "{b}");
    t.stop().await;
}

async fn attest(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    attest_at(t, path, V, body).await
}

/// Policies written for the 2019–2020 service use `$`-prefixed incoming
/// claim names; they still evaluate, and the token keeps the current names.
#[tokio::test]
async fn legacy_dollar_claim_names_reach_the_policy_not_the_token() {
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let tmp = tempfile::tempdir().unwrap();
    let t = lab_server(tmp.path(), &sample).await;
    let legacy = "version=1.0; authorizationrules{ [type==\"$is-debuggable\", value==false] && [type==\"$tee\", value==\"sgx\"] => permit(); }; issuancerules{ c:[type==\"$sgx-mrenclave\"] => issue(type=\"legacy-mrenclave\", value=c.value); };";
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote), "draftPolicyForAttestation": legacy}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["legacy-mrenclave"], hex::encode(sample.mr_enclave));
    assert!(c.keys().all(|k| !k.starts_with('$')), "{c:?}");
    // And a legacy rule that does not hold denies.
    let strict = "version=1.0; authorizationrules{ [type==\"$is-debuggable\", value==true] => permit(); }; issuancerules{ };";
    let (s, b) = attest(
        &t,
        "/providers/lab/attest/SgxEnclave",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote), "draftPolicyForAttestation": strict}),
    )
    .await;
    assert_error(s, &b, 400, "PolicyEvaluationError");
    t.stop().await;
}
