//! SHA-1 TPM quotes through the real server over HTTPS: refused by default
//! (`WeakSignatureHash`), accepted for a provider configured with
//! `tpm_allow_sha1`, and then the token says so
//! (`x-attesta-tpm-sha1-accepted`). Also: the testkit AK's hierarchy, proven
//! by the quote's qualifiedSigner, reaches the token.

mod common;

use attesta_testkit::TpmSample;
use common::*;
use serde_json::json;

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
    let (s, b) = configure_provider(&t, "legacy", json!({ "test_roots": roots })).await;
    assert_eq!(s, 200, "{b}");

    // Default: refused, and the message says how to opt in.
    let (s, b) = tpm_one_shot(&t, "legacy", &sha1).await.unwrap_err();
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "WeakSignatureHash", "{b}");
    assert!(b.to_string().contains("tpm_allow_sha1"), "{b}");
    // A SHA-256 quote: accepted, no SHA-1 claim; the AK's hierarchy is
    // proven by the qualifiedSigner.
    let c = tpm_one_shot(&t, "legacy", &sha256).await.unwrap();
    assert_eq!(c["ok"], true);
    assert!(c.get("x-attesta-tpm-sha1-accepted").is_none(), "{c:?}");
    assert_eq!(c["x-attesta-tpm-ak-hierarchy"], "endorsement", "{c:?}");

    // Opted in: accepted, and the token records it.
    let (s, b) = configure_provider(
        &t,
        "legacy",
        json!({ "test_roots": roots, "tpm_allow_sha1": true }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = tpm_one_shot(&t, "legacy", &sha1).await.unwrap();
    assert_eq!(c["ok"], true);
    assert_eq!(c["x-attesta-tpm-sha1-accepted"], true, "{c:?}");
    let c = tpm_one_shot(&t, "legacy", &sha256).await.unwrap();
    assert!(c.get("x-attesta-tpm-sha1-accepted").is_none(), "{c:?}");

    // A value that is not a boolean is refused at configuration, saying which.
    let (s, b) = configure_provider(&t, "legacy", json!({ "tpm_allow_sha1": "yes" })).await;
    common::assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tpm_allow_sha1")),
        "{b}"
    );
    t.stop().await;
}
