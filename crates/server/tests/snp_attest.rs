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
        .crl(true)
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
    // No AMD CRL (no KDS in tests, none imported) and no grace: refused.
    let (s, b) = attest(&t, "/providers/amd/attest/SevSnpVm", body.clone()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AmdCrlMissing", "{b}");
    import_crl(&t, sample.crl_der.as_ref().unwrap()).await;
    let (s, b) = attest(&t, "/providers/amd/attest/SevSnpVm", body.clone()).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert!(c.get("x-attesta-snp-revocation-checked").is_none());
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
    // The default provider verifies now, when the sample's imported CRL
    // (current at the sample's time) has expired: refused before the chain.
    let (s, b) = attest(&t, "/attest/SevSnpVm", body.clone()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AmdCrlExpired", "{b}");
    // A provider at the sample's time that does not trust the test ARK.
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "plain", "config": {"verification_time": at}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = attest(&t, "/providers/plain/attest/SevSnpVm", body.clone()).await;
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

async fn import_crl(t: &TestServer, der: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (s, b) = admin(
        t,
        "/admin/collateral/snp",
        json!({"files": {"crl.der": b64.encode(der)}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

/// A provider trusting `sample`'s test ARK at the sample's time.
async fn sample_provider(t: &TestServer, name: &str, sample: &SnpSample, extra: Value) {
    let at = time::OffsetDateTime::from_unix_timestamp(sample.at.0 as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut config =
        json!({"test_roots": {"amd": [pem(&sample.ark_der)]}, "verification_time": at});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let (s, b) = admin(
        t,
        "/admin/providers",
        json!({"name": name, "config": config}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

/// AMD's CRL is checked on the server path: an imported CRL revoking the
/// VCEK, then one revoking the ASK, each refuses the report with its own
/// code; with no CRL at all a provider without grace refuses with
/// AmdCrlMissing and one with grace accepts, saying revocation was not
/// checked.
#[tokio::test]
async fn imported_amd_crls_revoke_and_a_missing_crl_fails_closed() {
    let good = SnpSample::builder().crl(true).build();
    let vcek_revoked = SnpSample::builder().revoke_vek().build();
    let ask_revoked = SnpSample::builder().revoke_ask().build();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    sample_provider(&t, "strict", &good, json!({})).await;
    sample_provider(&t, "lenient", &good, json!({"collateral_grace_secs": 3600})).await;
    let body = json!({"report": good.maa_report_member()});
    let go = |p: &'static str| {
        let body = body.clone();
        let t = &t;
        async move { attest(t, &format!("/providers/{p}/attest/SevSnpVm"), body).await }
    };
    let (s, b) = go("strict").await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AmdCrlMissing", "{b}");
    let (s, b) = go("lenient").await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-attesta-snp-revocation-checked"], false);

    // Every sample shares the test ARK, ASK and VCEK serials: a CRL from
    // one revokes the others' certificates too.
    import_crl(&t, vcek_revoked.crl_der.as_ref().unwrap()).await;
    for p in ["strict", "lenient"] {
        let (s, b) = go(p).await;
        assert_error(s, &b, 400, "InvalidParameter");
        assert_eq!(b["error"]["innererror"]["code"], "VcekRevoked", "{p}: {b}");
    }
    import_crl(&t, ask_revoked.crl_der.as_ref().unwrap()).await;
    let (s, b) = go("strict").await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AskRevoked", "{b}");
    import_crl(&t, good.crl_der.as_ref().unwrap()).await;
    let (s, b) = go("strict").await;
    assert_eq!(s, 200, "{b}");
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
        json!({"name": "milan", "config": {"verification_time": "2025-06-01T00:00:00Z", "collateral_grace_secs": 60}}),
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
    // The vectors keep no AMD CRL: accepted only under the provider's
    // grace, and the token says revocation was not checked.
    assert_eq!(c["x-attesta-snp-revocation-checked"], false);
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
        json!({"name": "genoa", "config": {"verification_time": "2025-06-01T00:00:00Z", "collateral_grace_secs": 60}}),
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

/// AMD KDS unreachable: the CRL the chain check needs cannot be had. The
/// report is still refused (fail closed), but with 503 and `Retry-After`
/// naming the missing CRL, so clients retry instead of giving up.
#[tokio::test]
async fn an_unreachable_kds_gives_503_with_retry_after() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sample = SnpSample::builder().crl(true).build();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.collateral.kds_url = format!("https://127.0.0.1:{port}");
    let t = start(cfg).await;
    sample_provider(&t, "strict", &sample, json!({})).await;
    let resp = t
        .client
        .post(t.url("/providers/strict/attest/SevSnpVm?api-version=2022-08-01"))
        .json(&json!({"report": sample.maa_report_member()}))
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (s, b) = json(resp).await;
    assert_error(s, &b, 503, "ServiceUnavailable");
    assert_eq!(b["error"]["innererror"]["code"], "AmdCrlMissing", "{b}");
    // Once the CRL is imported the same report is accepted.
    import_crl(&t, sample.crl_der.as_ref().unwrap()).await;
    let (s, b) = attest(
        &t,
        "/providers/strict/attest/SevSnpVm",
        json!({"report": sample.maa_report_member()}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}
