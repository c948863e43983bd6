//! TPM attestation end to end over HTTPS with a real software TPM: the
//! server issues a challenge, swtpm (through tests/tpm-sim/make-evidence.sh)
//! quotes over it with an AK certified by a test CA, and the one-shot
//! request yields a token judged by the provider's TPM policy.
//!
//! Needs swtpm and tpm2-tools (the harness installs them as root), so it is
//! `#[ignore]`d here and run by the test command's swtpm stage.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

const V: &str = "api-version=2022-08-01";

fn harness() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tpm-sim/make-evidence.sh")
}

fn b64(p: &Path) -> String {
    URL_SAFE_NO_PAD.encode(std::fs::read(p).unwrap())
}

async fn challenge(t: &TestServer, provider: &str) -> (String, String) {
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/{provider}/attest/Tpm:challenge?{V}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    (
        b["challenge"].as_str().unwrap().into(),
        b["service_context"].as_str().unwrap().into(),
    )
}

fn one_shot(dir: &Path, context: &str) -> Value {
    let pcrs: Value =
        serde_json::from_slice(&std::fs::read(dir.join("pcrs.json")).unwrap()).unwrap();
    json!({
        "service_context": context,
        "quotes": [{"attest": b64(&dir.join("quote.msg")), "signature": b64(&dir.join("quote.sig"))}],
        "ak_public": b64(&dir.join("ak.tpmt")),
        "ak_certificate": b64(&dir.join("ak_cert.der")),
        "pcrs": pcrs,
        "event_log": b64(&dir.join("eventlog.bin")),
        "nonce": "rp-nonce"
    })
}

#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_one_shot_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(&tmp.path().join("data"))).await;
    let admin = |m: reqwest::Method, path: &str, body: Value| {
        t.client
            .request(m, t.url(path))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
    };
    let (s, b) = json(
        admin(
            reqwest::Method::POST,
            "/admin/providers",
            json!({"name": "vm"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // TPM has no default policy: refused until one is set.
    let (ch, ctx) = challenge(&t, "vm").await;
    let policy = "version=1.1;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"secureBootEnabled\"] => issue(type=\"secureboot\", value=c.value); c:[type==\"aikPubHash\"] => issue(type=\"ak\", value=c.value); };";
    let nonce_hex = hex::encode(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let out = tmp.path().join("ev");
    let st = Command::new("bash")
        .arg(harness())
        .arg(&out)
        .arg(&nonce_hex)
        .status()
        .unwrap();
    assert!(st.success(), "the swtpm harness failed");
    let body = one_shot(&out, &ctx);
    let post = |body: Value, provider: &'static str| {
        t.client
            .post(t.url(&format!("/providers/{provider}/attest/Tpm:quote?{V}")))
            .json(&body)
            .send()
    };
    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidOperation");

    let (s, b) = json(
        t.client
            .put(t.url(&format!("/providers/vm/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(policy))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The AK CA is not trusted yet.
    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AkChainUntrusted", "{b}");
    let ca = std::fs::read_to_string(out.join("ca.pem")).unwrap();
    let (s, b) = json(
        admin(
            reqwest::Method::PATCH,
            "/admin/providers/vm",
            json!({"config": {"test_roots": {"tpm": [ca]}}}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap();
    let (header, c) = attesta_token::jwt::decode_unverified(token).unwrap();
    assert!(
        header.contains_key("x5c"),
        "TPM tokens carry x5c unless omit_x5c"
    );
    assert_eq!(c["secureboot"], true);
    assert!(c["ak"].is_string());
    assert_eq!(c["x-ms-attestation-type"], "tpm");
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(c["nonce"], "rp-nonce");
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        1440 * 60
    );
    assert!(c.get("pcrs").is_none(), "evidence claims are incoming only");

    // The same evidence against another provider's context, or a tampered
    // context, is refused.
    let (s, _) = json(
        admin(
            reqwest::Method::POST,
            "/admin/providers",
            json!({"name": "other"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let (s, b) = json(post(body.clone(), "other").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "TpmProtocolError", "{b}");
    // A fresh challenge that the quote was not made over.
    let (_, ctx2) = challenge(&t, "vm").await;
    let (s, b) = json(post(one_shot(&out, &ctx2), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NonceMismatch", "{b}");
    t.stop().await;
}
