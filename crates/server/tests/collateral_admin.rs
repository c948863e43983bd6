//! Collateral management through the real server over HTTPS: cache entries
//! are keyed by what they are (type, the root their chains end at, FMSPC and
//! PCK CA), so the synthetic sample's test-root collateral never shadows
//! Intel's collateral for the same FMSPC; an explicit import replaces the
//! entry with the same key; `GET/DELETE /admin/collateral[/{id}]` list,
//! show and delete entries with RFC 3339 dates.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "2020-10-01";

/// The FMSPC of the dcap-qvl SGX vector's platform.
const REAL_FMSPC: [u8; 6] = [0x00, 0xA0, 0x67, 0x11, 0x00, 0x00];

fn vector_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/sgx/dcap-qvl-sgx-v3")
}

/// The real quote, its real collateral and the time its expected.json pins.
fn real_vector() -> (Vec<u8>, attesta_collateral::DcapCollateral, String) {
    let dir = vector_dir();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let pinned = expected["verification_time_to_pin"]
        .as_str()
        .unwrap()
        .to_string();
    let quote = std::fs::read(dir.join("quote.bin")).unwrap();
    (quote, attesta_collateral::import_dir(&dir).unwrap(), pinned)
}

async fn attest(t: &TestServer, path: &str, quote: &[u8]) -> (u16, Value) {
    attest_at(t, path, V, json!({"quote": URL_SAFE_NO_PAD.encode(quote)})).await
}

async fn create_provider(t: &TestServer, body: Value) {
    let (s, b) = admin_post(t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{b}");
}

async fn import(t: &TestServer, c: &attesta_collateral::DcapCollateral) -> Value {
    let (s, b) = admin_post(t, "/admin/collateral", attesta_collateral::serialize(c)).await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Provider `pinned` (Intel's root only, verifying at the vector's pinned
/// time) and provider `lab` (also trusting the sample's test root).
async fn two_providers(t: &TestServer, sample: &SgxSample, pinned: &str) {
    create_provider(
        t,
        json!({"name": "pinned", "config": {"verification_time": pinned}}),
    )
    .await;
    create_provider(
        t,
        json!({"name": "lab", "config": {"test_roots": {"intel": [pem(&sample.root_der)]}}}),
    )
    .await;
}

/// The acceptance test: the sample's collateral for the real
/// platform's FMSPC is imported first, then the real collateral; the real
/// quote still verifies at its pinned time on a provider without test roots,
/// and the test-root provider still verifies the sample (both coexist),
/// whichever was imported last.
#[tokio::test]
async fn sample_collateral_for_the_same_fmspc_never_shadows_intels() {
    let (quote, real, pinned) = real_vector();
    let sample = SgxSample::builder()
        .at(UnixTime::now().0)
        .fmspc(REAL_FMSPC)
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    two_providers(&t, &sample, &pinned).await;

    let b = import(&t, &sample.collateral).await;
    assert_eq!(b["fmspc"], "00A067110000", "{b}");
    import(&t, &real).await;

    let (s, b) = attest(&t, "/providers/pinned/attest/SgxEnclave", &quote).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(
        c["x-attesta-tcb-status"], "ConfigurationAndSWHardeningNeeded",
        "{c:?}"
    );
    assert!(c.get("x-attesta-test-root").is_none_or(|v| v == false));

    let (s, b) = attest(&t, "/providers/lab/attest/SgxEnclave", &sample.quote).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-attesta-test-root"], true, "{c:?}");

    // The other order: the sample's collateral imported again, last.
    import(&t, &sample.collateral).await;
    let (s, b) = attest(&t, "/providers/pinned/attest/SgxEnclave", &quote).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = attest(&t, "/providers/lab/attest/SgxEnclave", &sample.quote).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

async fn admin(t: &TestServer, method: reqwest::Method, path: &str) -> (u16, Value) {
    json(
        t.client
            .request(method, t.url(path))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

/// List, show and delete: ids from the list show the entry (RFC 3339
/// dates, root, FMSPC, source, TCB levels); a deleted entry is gone (404 on
/// show and on a second delete) and the next attestation that needs it
/// fails with the documented `NoOfflineBundle` (no collateral service).
#[tokio::test]
async fn list_show_delete_round_trip() {
    let (quote, real, pinned) = real_vector();
    let sample = SgxSample::builder()
        .at(UnixTime::now().0)
        .fmspc(REAL_FMSPC)
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    two_providers(&t, &sample, &pinned).await;
    let sample_import = import(&t, &sample.collateral).await;
    let real_import = import(&t, &real).await;
    let intel = attesta_evidence::crypto::sha256(&attesta_evidence::sgx::intel_sgx_root_ca_der());
    assert_eq!(real_import["root"]["sha256"], hex::encode(intel));
    assert_eq!(
        sample_import["root"]["sha256"],
        hex::encode(attesta_evidence::crypto::sha256(&sample.root_der))
    );
    assert_ne!(sample_import["id"], real_import["id"]);

    // Without the admin token: 401 with MAA's error body.
    let (s, b) = json(
        t.client
            .get(t.url("/admin/collateral"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");

    let (s, list) = admin(&t, reqwest::Method::GET, "/admin/collateral").await;
    assert_eq!(s, 200, "{list}");
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list}");
    assert_eq!(list["next"], Value::Null);
    let real_entry = entries
        .iter()
        .find(|e| e["id"] == real_import["id"])
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(real_entry["type"], "sgx-collateral");
    assert_eq!(real_entry["fmspc"], "00A067110000");
    assert_eq!(real_entry["pckCa"], "processor");
    assert_eq!(real_entry["source"], "imported");
    assert_eq!(real_entry["issueDate"], "2025-06-19T10:56:11Z");
    // The earliest nextUpdate of the parts: the QE identity's.
    assert_eq!(real_entry["nextUpdate"], "2025-07-19T10:01:18Z");
    assert!(is_rfc3339(&real_entry["fetchedAt"]), "{real_entry}");
    assert!(
        real_entry["root"]["subject"]
            .as_str()
            .unwrap()
            .contains("Intel SGX Root CA"),
        "{real_entry}"
    );
    for e in entries {
        let id = e["id"].as_str().unwrap();
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_~".contains(&b)),
            "{id}"
        );
    }

    // Paging: one per page, the second page's `next` ends the walk.
    let (s, p1) = admin(&t, reqwest::Method::GET, "/admin/collateral?limit=1").await;
    assert_eq!(s, 200, "{p1}");
    assert_eq!(p1["entries"].as_array().unwrap().len(), 1);
    let after = p1["next"].as_str().unwrap().to_string();
    let (_, p2) = admin(
        &t,
        reqwest::Method::GET,
        &format!("/admin/collateral?limit=1&after={after}"),
    )
    .await;
    assert_eq!(p2["entries"].as_array().unwrap().len(), 1);
    assert_ne!(p2["entries"][0]["id"], p1["entries"][0]["id"]);
    let (s, b) = admin(&t, reqwest::Method::GET, "/admin/collateral?limit=0").await;
    assert_error(s, &b, 400, "InvalidParameter");

    let real_id = real_import["id"].as_str().unwrap().to_string();
    let (s, shown) = admin(
        &t,
        reqwest::Method::GET,
        &format!("/admin/collateral/{real_id}"),
    )
    .await;
    assert_eq!(s, 200, "{shown}");
    let levels = shown["tcbInfo"]["tcbLevels"].as_array().unwrap();
    assert_eq!(
        levels.len(),
        shown["raw"]["tcbInfo"]["tcbInfo"]["tcbLevels"]
            .as_array()
            .unwrap()
            .len()
    );
    assert!(
        levels
            .iter()
            .any(|l| l["tcbStatus"] == "ConfigurationAndSWHardeningNeeded"
                && l["tcbDate"] == "2024-03-13T00:00:00Z"),
        "{levels:?}"
    );
    assert_eq!(shown["tcbEvaluationDataNumber"], 17);
    assert_eq!(shown["qeIdentity"]["id"], "QE");
    assert_eq!(shown["pckCrl"]["nextUpdate"], "2025-07-19T10:23:18Z");
    assert_eq!(shown["raw"]["tcbInfo"]["tcbInfo"]["fmspc"], "00A067110000");

    let (s, b) = admin(
        &t,
        reqwest::Method::DELETE,
        &format!("/admin/collateral/{real_id}"),
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let (s, b) = admin(
        &t,
        reqwest::Method::GET,
        &format!("/admin/collateral/{real_id}"),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = admin(
        &t,
        reqwest::Method::DELETE,
        &format!("/admin/collateral/{real_id}"),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = admin(&t, reqwest::Method::GET, "/admin/collateral/not%2Fan%20id").await;
    assert_error(s, &b, 404, "NotFound");

    // Both deletes are in the audit log: one done, one refused.
    let (s, audit) = admin(&t, reqwest::Method::GET, "/admin/audit").await;
    assert_eq!(s, 200, "{audit}");
    let deletes: Vec<&Value> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "DeleteCollateral")
        .collect();
    assert_eq!(deletes.len(), 2, "{audit}");
    assert!(
        deletes.iter().all(|r| r["target"] == real_id.as_str()),
        "{audit}"
    );
    assert_ne!(deletes[0]["result"], deletes[1]["result"], "{audit}");

    // Deleted and nothing upstream: the real quote now fails, the sample
    // (its own entry) still verifies.
    let (s, b) = attest(&t, "/providers/pinned/attest/SgxEnclave", &quote).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NoOfflineBundle", "{b}");
    let (s, b) = attest(&t, "/providers/lab/attest/SgxEnclave", &sample.quote).await;
    assert_eq!(s, 200, "{b}");
    let (_, list) = admin(&t, reqwest::Method::GET, "/admin/collateral").await;
    assert_eq!(list["entries"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["entries"][0]["id"], sample_import["id"]);

    // Imported again, it verifies again.
    import(&t, &real).await;
    let (s, b) = attest(&t, "/providers/pinned/attest/SgxEnclave", &quote).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

/// An explicit import replaces the entry with the same key even when it is
/// older, and says so: two real TDX collateral sets for FMSPC 90C06F000000
/// (dcap-qvl-tdx-v5-outdated's set, nextUpdate 2026-03-20, is newer than
/// automata-tdx-v5's, 2025-07-04).
#[tokio::test]
async fn an_older_import_replaces_the_entry_and_warns() {
    let vectors =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tdx");
    let newer = attesta_collateral::import_dir(&vectors.join("dcap-qvl-tdx-v5-outdated")).unwrap();
    let older = attesta_collateral::import_dir(&vectors.join("automata-tdx-v5")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let first = import(&t, &newer).await;
    assert_eq!(first["replaced"], false, "{first}");
    assert!(first.get("warning").is_none(), "{first}");
    let second = import(&t, &older).await;
    assert_eq!(second["id"], first["id"], "same key: {second}");
    assert_eq!(second["replaced"], true, "{second}");
    assert!(
        second["warning"].as_str().unwrap().contains("older"),
        "{second}"
    );
    let (_, shown) = admin(
        &t,
        reqwest::Method::GET,
        &format!("/admin/collateral/{}", first["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(shown["type"], "tdx-collateral", "{shown}");
    assert_eq!(shown["nextUpdate"], second["nextUpdate"], "{shown}");
    assert_ne!(shown["nextUpdate"], first["nextUpdate"], "{shown}");
    // Imported again, the newer one replaces it without a warning.
    let third = import(&t, &newer).await;
    assert_eq!(third["replaced"], true, "{third}");
    assert!(third.get("warning").is_none(), "{third}");
    t.stop().await;
}
