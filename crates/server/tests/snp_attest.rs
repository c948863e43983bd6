//! SEV-SNP attestation through the real server over HTTPS: a testkit report
//! under a provider-scoped test ARK with runtime and init-time data, a real
//! Milan report with its chain in the request, and a real report whose VCEK
//! chain comes from imported endorsements instead of the request.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_testkit::snp::SnpSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "2022-08-01";

async fn admin(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    json(
        t.client
            .post(t.url(path))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn testkit_report_with_runtime_and_init_data() {
    let runtime = br#"{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"AA"}],"vm-configuration":{"secure-boot":true}}"#;
    let init = b"container policy";
    let sample = SnpSample::builder()
        .runtime_data(runtime)
        .init_time_data(init)
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.token_lifetime_secs = 3600;
    let t = start(cfg).await;
    // The sample is valid at its own time: pin it (explicit test configuration).
    let at = time::OffsetDateTime::from_unix_timestamp(sample.at.0 as i64).unwrap();
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, b) = admin(&t, "/admin/providers", json!({"name": "amd", "config": {"test_roots": {"amd": [pem(&sample.ark_der)]}, "verification_time": at}})).await;
    assert_eq!(s, 201, "{b}");
    let body = json!({
        "report": sample.maa_report_member(),
        "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON"},
        "initTimeData": {"data": URL_SAFE_NO_PAD.encode(init), "dataType": "Binary"},
        "nonce": "n"
    });
    let (s, b) = attest(&t, "/providers/amd/attest/SevSnpVm", body.clone()).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(c["x-ms-sevsnpvm-is-debuggable"], false);
    assert_eq!(c["x-ms-runtime"]["vm-configuration"]["secure-boot"], true);
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(
        c["x-ms-sevsnpvm-hostdata"],
        hex::encode(attesta_evidence::crypto::sha256(init))
    );
    assert_eq!(
        c["x-ms-policy-hash"], "9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco",
        "the SevSnpVm default policy has MAA's hash"
    );
    // The default provider does not trust the test ARK.
    let (s, b) = attest(&t, "/attest/SevSnpVm", body.clone()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "UntrustedArk", "{b}");
    // Init-time data that HOST_DATA does not hold.
    let mut bad = body.clone();
    bad["initTimeData"]["data"] = json!(URL_SAFE_NO_PAD.encode(b"other"));
    let (s, b) = attest(&t, "/providers/amd/attest/SevSnpVm", bad).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "InitTimeDataMismatch",
        "{b}"
    );
    // A report member that is not the MAA document.
    let (s, b) = attest(
        &t,
        "/providers/amd/attest/SevSnpVm",
        json!({"report": URL_SAFE_NO_PAD.encode("nope")}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    t.stop().await;
}

fn milan() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/snp/virtee-sev-milan")
}

#[tokio::test]
async fn real_milan_report_with_chain_in_request_and_from_imported_endorsements() {
    let dir = milan();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let report = std::fs::read(dir.join("report.bin")).unwrap();
    let vcek = std::fs::read(dir.join("vcek.der")).unwrap();
    let ask_ark = std::fs::read_to_string(dir.join("ask_ark_milan.pem")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "milan", "config": {"verification_time": "2025-06-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");

    let doc = json!({"SnpReport": URL_SAFE_NO_PAD.encode(&report), "VcekCertChain": URL_SAFE_NO_PAD.encode(format!("{}{}", pem(&vcek), ask_ark))});
    let member = URL_SAFE_NO_PAD.encode(doc.to_string());
    let (s, b) = attest(
        &t,
        "/providers/milan/attest/SevSnpVm",
        json!({"report": member}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(
        c["x-ms-sevsnpvm-launchmeasurement"],
        expected["report"]["measurement"]
    );
    assert_eq!(
        c["x-ms-sevsnpvm-reportdata"],
        expected["report"]["report_data"]
    );
    assert_eq!(c["x-ms-sevsnpvm-microcode-svn"], 115);
    assert!(c.get("x-attesta-test-root").is_none_or(|v| v == false));

    // Without the chain in the request: refused until the endorsements are
    // imported (no KDS in tests), then accepted.
    let bare =
        URL_SAFE_NO_PAD.encode(json!({"SnpReport": URL_SAFE_NO_PAD.encode(&report)}).to_string());
    let (s, b) = attest(
        &t,
        "/providers/milan/attest/SevSnpVm",
        json!({"report": bare}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let b64 = base64::engine::general_purpose::STANDARD;
    let (s, b) = admin(
        &t,
        "/admin/collateral/snp",
        json!({"files": {"vcek.der": b64.encode(&vcek), "ask_ark.pem": b64.encode(&ask_ark)}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // A version-2 report does not name its processor, so the request must
    // still carry the chain; a v3+ report would be served from the import.
    let (s, b) = attest(
        &t,
        "/providers/milan/attest/SevSnpVm",
        json!({"report": bare}),
    )
    .await;
    if expected["report"]["version"] == 2 {
        assert_error(s, &b, 400, "InvalidParameter");
        assert_eq!(
            b["error"]["innererror"]["code"], "SnpEndorsementMissing",
            "{b}"
        );
    } else {
        assert_eq!(s, 200, "{b}");
    }
    t.stop().await;
}

/// A v3+ report (Azure CVM, Genoa) verified with endorsements from the import.
#[tokio::test]
async fn v3_report_served_from_imported_endorsements() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/azure-cvm/trustee-az-snp-vtpm-genoa");
    let report = std::fs::read(dir.join("snp_report.bin")).unwrap();
    let vcek = std::fs::read(dir.join("vcek.pem")).unwrap();
    let chain = std::fs::read(dir.join("ask_ark.pem")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "genoa", "config": {"verification_time": "2025-06-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let bare =
        URL_SAFE_NO_PAD.encode(json!({"SnpReport": URL_SAFE_NO_PAD.encode(&report)}).to_string());
    let (s, b) = attest(
        &t,
        "/providers/genoa/attest/SevSnpVm",
        json!({"report": bare}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let b64 = base64::engine::general_purpose::STANDARD;
    let (s, b) = admin(
        &t,
        "/admin/collateral/snp",
        json!({"files": {"vcek.pem": b64.encode(&vcek), "ask_ark.pem": b64.encode(&chain)}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = attest(
        &t,
        "/providers/genoa/attest/SevSnpVm",
        json!({"report": bare}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-attesta-snp-processor"], "Genoa");
    t.stop().await;
}

async fn attest(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    attest_at(t, path, V, body).await
}
