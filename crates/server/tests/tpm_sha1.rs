//! SHA-1 TPM quotes through the real server over HTTPS: refused by default
//! (`WeakSignatureHash`), accepted for a provider configured with
//! `tpm_allow_sha1`, and then the token says so
//! (`x-attesta-tpm-sha1-accepted`). Also: the testkit AK's hierarchy, proven
//! by the quote's qualifiedSigner, reaches the token.

mod common;

use attesta_evidence::tpm::structures::hash_name;
use attesta_testkit::TpmSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Map, Value, json};

const V: &str = "api-version=2022-08-01";

async fn configure(t: &TestServer, name: &str, config: Value) -> (u16, Value) {
    json(
        t.client
            .patch(t.url(&format!("/admin/providers/{name}")))
            .bearer_auth(&t.admin)
            .json(&json!({ "config": config }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Challenge, then a one-shot request with `sample` quoted over it: the
/// token's claims or the error.
async fn attest(
    t: &TestServer,
    name: &str,
    sample: &TpmSample,
) -> Result<Map<String, Value>, (u16, Value)> {
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/{name}/attest/Tpm:challenge?{V}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let challenge = URL_SAFE_NO_PAD
        .decode(b["challenge"].as_str().unwrap())
        .unwrap();
    let (attest, signature) = sample.quote_over(&challenge);
    let mut pcrs = Map::new();
    for (bank, values) in &sample.pcrs {
        let m: Map<String, Value> = values
            .iter()
            .map(|(i, v)| (i.to_string(), json!(hex::encode(v))))
            .collect();
        pcrs.insert(hash_name(*bank).to_ascii_lowercase(), Value::Object(m));
    }
    let body = json!({
        "service_context": b["service_context"],
        "quotes": [{"attest": URL_SAFE_NO_PAD.encode(attest), "signature": URL_SAFE_NO_PAD.encode(signature)}],
        "ak_public": URL_SAFE_NO_PAD.encode(&sample.ak_public),
        "ak_certificate": URL_SAFE_NO_PAD.encode(&sample.ak_cert),
        "ak_intermediates": sample.intermediates.iter().map(|c| URL_SAFE_NO_PAD.encode(c)).collect::<Vec<_>>(),
        "pcrs": pcrs,
        "event_log": URL_SAFE_NO_PAD.encode(&sample.event_log),
    });
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/providers/{name}/attest/Tpm:quote?{V}")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    if s == 200 {
        Ok(claims(b["token"].as_str().unwrap()))
    } else {
        Err((s, b))
    }
}

#[tokio::test]
async fn sha1_quotes_need_the_providers_explicit_opt_in() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    provider_with_policy(
        &t,
        "legacy",
        "Tpm",
        "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ => issue(type=\"ok\", value=true); };",
    )
    .await;
    let sha1 = TpmSample::builder().sha1_signature(true).build();
    let sha256 = TpmSample::builder().build();
    let roots = json!({"tpm": [sha1.root_pem]});
    let (s, b) = configure(&t, "legacy", json!({ "test_roots": roots })).await;
    assert_eq!(s, 200, "{b}");

    // Default: refused, and the message says how to opt in.
    let (s, b) = attest(&t, "legacy", &sha1).await.unwrap_err();
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "WeakSignatureHash", "{b}");
    assert!(b.to_string().contains("tpm_allow_sha1"), "{b}");
    // A SHA-256 quote: accepted, no SHA-1 claim; the AK's hierarchy is
    // proven by the qualifiedSigner.
    let c = attest(&t, "legacy", &sha256).await.unwrap();
    assert_eq!(c["ok"], true);
    assert!(c.get("x-attesta-tpm-sha1-accepted").is_none(), "{c:?}");
    assert_eq!(c["x-attesta-tpm-ak-hierarchy"], "endorsement", "{c:?}");

    // Opted in: accepted, and the token records it.
    let (s, b) = configure(
        &t,
        "legacy",
        json!({ "test_roots": roots, "tpm_allow_sha1": true }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = attest(&t, "legacy", &sha1).await.unwrap();
    assert_eq!(c["ok"], true);
    assert_eq!(c["x-attesta-tpm-sha1-accepted"], true, "{c:?}");
    let c = attest(&t, "legacy", &sha256).await.unwrap();
    assert!(c.get("x-attesta-tpm-sha1-accepted").is_none(), "{c:?}");

    // A value that is not a boolean is refused at configuration, saying which.
    let (s, b) = configure(&t, "legacy", json!({ "tpm_allow_sha1": "yes" })).await;
    common::assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tpm_allow_sha1")),
        "{b}"
    );
    t.stop().await;
}
