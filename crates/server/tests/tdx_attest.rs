//! TDX attestation through the real server over HTTPS: a testkit TD quote
//! under a provider-scoped test root, and a real TD quote with its real
//! collateral at the vector's pinned time.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_testkit::tdx::TdxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "2025-06-01";

#[tokio::test]
async fn testkit_td_quote_yields_tdxvm_claims() {
    let runtime = br#"{"keys":[{"kid":"HCLAkPub","kty":"RSA"}],"user-data":"00"}"#;
    let sample = TdxSample::builder()
        .at(UnixTime::now().0)
        .runtime_data(runtime)
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let b = intel_tenant(&t, "td", &sample.root_der, &sample.collateral).await;
    assert_eq!(b["tee"], "tdx");

    let (s, b) = attest(
        &t,
        "/providers/td/attest/TdxVm",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote),
               "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON"}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-ms-attestation-type"], "tdxvm");
    assert_eq!(c["tdx_mrtd"], hex::encode(sample.mr_td));
    assert_eq!(c["tdx_rtmr0"], hex::encode(sample.rtmr[0]));
    assert_eq!(c["tdx_report_data"], hex::encode(sample.report_data));
    assert_eq!(c["tdx_td_attributes_debug"], false);
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(c["x-ms-runtime"]["keys"][0]["kid"], "HCLAkPub");
    assert_eq!(
        c["x-ms-policy-hash"],
        attesta_policy::policy_hash(attesta_policy::defaults::default_policy("TdxVm").unwrap())
    );

    // The same quote with a flipped signed byte, and an SGX quote sent as TDX.
    let mut bad = sample.quote.clone();
    bad[200] ^= 1;
    let (s, b) = attest(
        &t,
        "/providers/td/attest/TdxVm",
        json!({"quote": URL_SAFE_NO_PAD.encode(&bad)}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "QuoteSignatureInvalid",
        "{b}"
    );
    let sgx = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vectors/sgx/dcap-qvl-sgx-v3/quote.bin"),
    )
    .unwrap();
    let (s, b) = attest(
        &t,
        "/providers/td/attest/TdxVm",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sgx)}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    t.stop().await;
}

#[tokio::test]
async fn real_td_quote_at_the_pinned_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/tdx/dcap-qvl-tdx-v4");
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
        "/providers/pinned/attest/TdxVm",
        json!({"quote": URL_SAFE_NO_PAD.encode(&quote)}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(c["tdx_mrtd"], expected["report"]["mrtd"]);
    assert_eq!(c["tdx_rtmr1"], expected["report"]["rtmr1"]);
    assert_eq!(c["tdx_report_data"], expected["report"]["reportdata"]);
    t.stop().await;
}

async fn attest(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    attest_at(t, path, V, body).await
}
