//! TPM attestation through the real server over HTTPS with the testkit's
//! software TPM (the swtpm tests prove the same routes with a real TPM;
//! these reach what swtpm cannot make): a Windows boot log's claims reaching
//! the policy, and AKs without a certificate, trusted only by the provider's
//! `tpm_trusted_aks` when the policy allows them.

mod common;

use attesta_evidence::tpm::windows::{
    SIPAEVENT_BOOTDEBUGGING, SIPAEVENT_CODEINTEGRITY, SIPAEVENT_TRUSTBOUNDARY,
};
use attesta_testkit::tpm::{EV_EVENT_TAG, sipa_container, sipa_item};
use attesta_testkit::{LogEvent, TpmSample};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Map, Value, json};

const V: &str = "api-version=2022-08-01";

/// [`tpm_one_shot_token`]'s claims.
async fn attest(
    t: &TestServer,
    name: &str,
    sample: &TpmSample,
    with_cert: bool,
) -> Result<Map<String, Value>, (u16, Value)> {
    tpm_one_shot_token(t, name, sample, with_cert)
        .await
        .map(|token| claims(&token))
}

/// TPM tokens carry the signing certificate (`x5c`) in their header; with
/// the `omit_x5c` property its SHA-1 thumbprint (`x5t`) instead, as MAA.
/// Non-ASCII claim values travel as `\uXXXX`: Microsoft's JS client reads
/// token bodies as 7-bit ASCII.
#[tokio::test]
async fn omit_x5c_puts_x5t_in_the_header_and_claims_are_ascii() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let sample = TpmSample::builder().build();
    for (name, omit) in [("full", false), ("thumb", true)] {
        let policy = format!(
            "version=1.2;\nconfigurationrules{{ => issueproperty(type=\"omit_x5c\", value={omit}); }};\nauthorizationrules{{ [type==\"aikValidated\", value==true] => permit(); }};\nissuancerules{{ => issue(type=\"city\", value=\"Zürich 😀\"); }};"
        );
        provider_with_policy(&t, name, "Tpm", &policy).await;
        let (s, b) =
            configure_provider(&t, name, json!({"test_roots": {"tpm": [sample.root_pem]}})).await;
        assert_eq!(s, 200, "{b}");
        let token = tpm_one_shot_token(&t, name, &sample, true).await.unwrap();
        let (header, body) = attesta_token::jwt::decode_unverified(&token).unwrap();
        if omit {
            assert!(!header.contains_key("x5c"), "{header:?}");
            assert_eq!(header["x5t"], header["kid"], "x5t is the SHA-1 thumbprint");
        } else {
            assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
            assert!(!header.contains_key("x5t"));
        }
        assert_eq!(body["city"], "Zürich 😀");
        let raw = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        assert!(raw.is_ascii(), "{}", String::from_utf8_lossy(&raw));
        assert!(
            String::from_utf8(raw)
                .unwrap()
                .contains(r#""Z\u00fcrich \ud83d\ude00""#)
        );
    }
    // No TPM policy at all: the empty unsecured JWS, as live MAA answers.
    let (s, b) = admin_post(
        &t,
        "/admin/providers",
        json!({"name": "bare"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/bare/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["token"].as_str().unwrap())["x-ms-policy"],
        "eyJhbGciOiJub25lIn0.."
    );
    t.stop().await;
}

#[tokio::test]
async fn windows_boot_claims_reach_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    provider_with_policy(
        &t,
        "win",
        "Tpm",
        "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"bootDebuggingDisabled\", value==true] && [type==\"codeIntegrityEnabled\", value==true] => permit(); };\nissuancerules{ => issue(type=\"PlatformAttested\", value=true); c:[type==\"events\"] => issue(type=\"tagged\", value=JsonToClaimValue(JmesPath(c.value, \"length(Events[?EventTypeString == 'EV_EVENT_TAG' && PcrIndex == `12`].ProcessedData.EVENT_TRUSTBOUNDARY)\"))); };",
    )
    .await;
    let log = |debugging: bool| {
        sipa_container(
            SIPAEVENT_TRUSTBOUNDARY,
            &[
                sipa_item(SIPAEVENT_BOOTDEBUGGING, &[debugging as u8]),
                sipa_item(SIPAEVENT_CODEINTEGRITY, &[1]),
            ],
        )
    };
    let clean = TpmSample::builder()
        .event(LogEvent::new(12, EV_EVENT_TAG, &log(false)))
        .build();
    let (s, b) =
        configure_provider(&t, "win", json!({"test_roots": {"tpm": [clean.root_pem]}})).await;
    assert_eq!(s, 200, "{b}");
    let c = attest(&t, "win", &clean, true).await.unwrap();
    assert_eq!(c["PlatformAttested"], true);
    assert_eq!(c["tagged"], 1);

    // Boot debugging on: the authorization rule no longer permits.
    let debug = TpmSample::builder()
        .event(LogEvent::new(12, EV_EVENT_TAG, &log(true)))
        .build();
    let (s, b) = attest(&t, "win", &debug, true).await.unwrap_err();
    assert_error(s, &b, 400, "PolicyEvaluationError");
    t.stop().await;
}

#[tokio::test]
async fn an_ak_without_a_certificate_is_trusted_only_by_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    // The policy allows AKs without a valid certificate.
    provider_with_policy(
        &t,
        "vm",
        "Tpm",
        "version=1.2;\nconfigurationrules{ => issueproperty(type=\"require_valid_aik_cert\", value=false); };\nauthorizationrules{ => permit(); };\nissuancerules{ c:[type==\"aikValidated\"] => issue(type=\"aikValidated\", value=c.value); c:[type==\"aikPubHash\"] => issue(type=\"ak\", value=c.value); };",
    )
    .await;
    let sample = TpmSample::builder().build();

    // Without tpm_trusted_aks, the policy alone judges (as MAA does).
    let c = attest(&t, "vm", &sample, false).await.unwrap();
    assert_eq!(c["aikValidated"], false);
    let hash = c["ak"].as_str().unwrap().to_string();
    assert!(c.get("x-attesta-ak-trusted-by-configuration").is_none());

    // With a list that does not hold this AK: refused.
    let other = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (s, b) = configure_provider(&t, "vm", json!({"tpm_trusted_aks": [other]})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = attest(&t, "vm", &sample, false).await.unwrap_err();
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AkNotTrusted", "{b}");

    // With this AK on the list: accepted, and the token says why.
    let (s, b) = configure_provider(&t, "vm", json!({"tpm_trusted_aks": [other, hash]})).await;
    assert_eq!(s, 200, "{b}");
    let c = attest(&t, "vm", &sample, false).await.unwrap();
    assert_eq!(c["x-attesta-ak-trusted-by-configuration"], true);
    assert_eq!(c["aikValidated"], false);

    // An AK with a valid certificate does not need the list.
    let (s, b) = configure_provider(
        &t,
        "vm",
        json!({"tpm_trusted_aks": [other], "test_roots": {"tpm": [sample.root_pem]}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = attest(&t, "vm", &sample, true).await.unwrap();
    assert_eq!(c["aikValidated"], true);
    assert!(c.get("x-attesta-ak-trusted-by-configuration").is_none());

    // Entries that are not aikPubHash values are refused at configuration.
    let (s, b) = configure_provider(&t, "vm", json!({"tpm_trusted_aks": ["not base64!"]})).await;
    assert_eq!(s, 400, "{b}");
    t.stop().await;
}
