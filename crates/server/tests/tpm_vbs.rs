//! VBS enclave attestation through MAA's TPM protocol (`att_type: vbs`,
//! reference §4.3–§4.5) against the real server over HTTPS: the testkit's
//! software TPM quotes a Windows boot log that records the VSM signing key
//! (IDK_S), and a testkit-made VBS report signed by that key binds
//! `report_signed` (SHA-512 in `EnclaveData`). The enclave claims reach
//! the token through the provider's policy; a tampered report, one bound to
//! another request, one signed by another key, and a log without the key
//! are refused with their own codes.

mod common;

use attesta_evidence::tpm::structures::{TPM_ALG_SHA1, TPM_ALG_SHA256};
use attesta_testkit::vbs::idks_log_event;
use attesta_testkit::{TpmSample, VbsReportBuilder, VbsSigner};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Map, Value, json};

const V: &str = "api-version=2022-08-01";

const POLICY: &str = "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"vbsReportPresent\", value==true] && [type==\"enclaveFlags\", value==0] => permit(); };\nissuancerules{ c:[type==\"enclaveAuthorId\", issuer==\"AttestationService\"] => issue(type=\"enclaveAuthorId\", value=c.value); c:[type==\"enclaveImageId\", issuer==\"AttestationService\"] => issue(type=\"enclaveImageId\", value=c.value); c:[type==\"enclaveOwnerId\", issuer==\"AttestationService\"] => issue(type=\"enclaveOwnerId\", value=c.value); c:[type==\"enclaveFamilyId\", issuer==\"AttestationService\"] => issue(type=\"enclaveFamilyId\", value=c.value); c:[type==\"enclaveSvn\", issuer==\"AttestationService\"] => issue(type=\"enclaveSvn\", value=c.value); c:[type==\"enclavePlatformSvn\", issuer==\"AttestationService\"] => issue(type=\"enclavePlatformSvn\", value=c.value); c:[type==\"enclaveFlags\", issuer==\"AttestationService\"] => issue(type=\"enclaveFlags\", value=c.value); c:[type==\"vsmReportPresent\", issuer==\"AttestationService\"] => issue(type=\"vsmReportPresent\", value=c.value); c:[type==\"role\", issuer==\"CustomClaim\"] => issue(type=\"role\", value=c.value); };";

/// A server with provider `vbs`, its policy, and the testkit TPM root.
async fn server(sample: &TpmSample) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    provider_with_policy(&t, "vbs", "Tpm", POLICY).await;
    let (s, b) = json(
        t.client
            .patch(t.url("/admin/providers/vbs"))
            .bearer_auth(&t.admin)
            .json(&json!({"config": {"test_roots": {"tpm": [sample.root_pem]}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    (t, tmp)
}

async fn post(t: &TestServer, message: &Value) -> (u16, Value) {
    let body = json!({"data": URL_SAFE_NO_PAD.encode(message.to_string())});
    json(
        t.client
            .post(t.url(&format!("/providers/vbs/attest/Tpm?{V}")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn open(b: &Value) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b["data"].as_str().unwrap()).unwrap()).unwrap()
}

/// The `aikcert` init: (challenge, service_context).
async fn init(t: &TestServer) -> (String, String) {
    let (s, b) = post(t, &json!({"payload": {"type": "aikcert"}})).await;
    assert_eq!(s, 200, "{b}");
    let m = open(&b);
    (
        m["payload"]["challenge"].as_str().unwrap().into(),
        m["payload"]["service_context"].as_str().unwrap().into(),
    )
}

/// The v2 `current_attestation` of `sample` quoted over `nonce`.
fn attestation(sample: &TpmSample, nonce: &[u8]) -> Value {
    let (quote, signature) = sample.quote_over(nonce);
    let banks: Vec<Value> = sample
        .pcrs
        .iter()
        .map(|(bank, values)| {
            let vals: Vec<Value> = values
                .iter()
                .map(|(i, d)| json!({"index": i, "digest": hex::encode(d)}))
                .collect();
            json!({"algorithm": bank, "values": vals})
        })
        .collect();
    json!({
        "logs": [{"type": "TCG", "log": URL_SAFE_NO_PAD.encode(&sample.event_log)}],
        "aik_cert": URL_SAFE_NO_PAD.encode(&sample.ak_cert),
        "aik_pub": sample.ak_jwk(),
        "pcrs": banks,
        "quote": URL_SAFE_NO_PAD.encode(quote),
        "signature": URL_SAFE_NO_PAD.encode(signature),
    })
}

/// The `report_signed` text of a request: v1 carries the enclave key as
/// `attest_key`, v2 as `request_key.jwk`.
fn report_signed(v2: bool, ch: &str, ctx: &str, jwk: &str, tpm: &Value) -> String {
    let key = if v2 {
        format!(r#""request_key":{{"jwk":{jwk}}}"#)
    } else {
        format!(r#""attest_key":{jwk}"#)
    };
    format!(
        r#"{{"challenge":"{ch}","service_context":"{ctx}","rp_id":"https://rp.example","rp_data":"cnAtZGF0YQ",{key},"custom_claims":[{{"name":"role","value":"db","value_type":"String"}}],"tpm_att_data":{{"current_attestation":{tpm}}}}}"#
    )
}

/// The request payload around `signed` and the report package.
fn payload(v2: bool, signed: &str, package: &[u8]) -> String {
    let report = URL_SAFE_NO_PAD.encode(package);
    let vsm = if v2 {
        format!(r#"{{"enclave":{{"report":"{report}"}}}}"#)
    } else {
        format!(r#""{report}""#)
    };
    format!(r#"{{"att_type":"vbs","att_data":{{"report_signed":{signed},"vsm_report":{vsm}}}}}"#)
}

/// Send a request JWS; the token's claims or the error.
async fn request(t: &TestServer, jws: String) -> Result<Map<String, Value>, (u16, Value)> {
    let (s, b) = post(t, &json!({"payload": {"request": jws}})).await;
    if s != 200 {
        return Err((s, b));
    }
    let report = open(&b)["payload"]["report"].as_str().unwrap().to_string();
    Ok(claims(&report))
}

/// The inner error code of a refused request.
fn refused(r: Result<Map<String, Value>, (u16, Value)>) -> String {
    let (s, b) = r.expect_err("the request should be refused");
    assert_error(s, &b, 400, "InvalidParameter");
    b["error"]["innererror"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn sample_with_idks() -> TpmSample {
    TpmSample::builder()
        .banks(&[TPM_ALG_SHA1, TPM_ALG_SHA256])
        .intermediate(false)
        .event(idks_log_event(12, VbsSigner::Idks))
        .build()
}

#[tokio::test]
async fn vbs_enclave_claims_reach_the_token_over_https() {
    let sample = sample_with_idks();
    let (t, _tmp) = server(&sample).await;
    for v2 in [false, true] {
        let (ch, ctx) = init(&t).await;
        let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
        let (key, jwk) = rsa_key_and_jwk();
        let signed = report_signed(v2, &ch, &ctx, &jwk, &attestation(&sample, &challenge));
        let package = VbsReportBuilder::default().bound_to(&signed).build();
        let typ = if v2 { "attReqV2" } else { "attReq" };
        let c = request(&t, pss_jws(&key, typ, &payload(v2, &signed, &package)))
            .await
            .unwrap_or_else(|e| panic!("v2={v2}: {e:?}"));
        // The testkit identity: OwnerId 0x01×32, AuthorId 0x03×32,
        // FamilyId 0x04×16, ImageId 0x05×16, EnclaveSvn 7, PlatformSvn 11.
        assert_eq!(c["enclaveOwnerId"], URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert_eq!(c["enclaveAuthorId"], URL_SAFE_NO_PAD.encode([3u8; 32]));
        assert_eq!(c["enclaveFamilyId"], URL_SAFE_NO_PAD.encode([4u8; 16]));
        assert_eq!(c["enclaveImageId"], URL_SAFE_NO_PAD.encode([5u8; 16]));
        assert_eq!(c["enclaveSvn"], 7);
        assert_eq!(c["enclavePlatformSvn"], 11);
        assert_eq!(c["enclaveFlags"], 0);
        assert_eq!(c["vsmReportPresent"], true);
        assert_eq!(c["role"], "db");
        assert_eq!(c["rp_data"], "cnAtZGF0YQ");
        // The enclave's key is confirmed: the report bound it.
        let jwk: Value = serde_json::from_str(&jwk).unwrap();
        assert_eq!(c["cnf"]["jwk"]["n"], jwk["n"]);
        // Evidence claims stay incoming: only what the policy issued.
        assert!(c.get("enclaveModules").is_none());
        assert!(c.get("aikValidated").is_none());
    }

    // A debug enclave (ENCLAVE_FLAG_FULL_DEBUG_ENABLED): verified, and the
    // policy, which wants Flags 0, does not permit it.
    let (ch, ctx) = init(&t).await;
    let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
    let (key, jwk) = rsa_key_and_jwk();
    let signed = report_signed(true, &ch, &ctx, &jwk, &attestation(&sample, &challenge));
    let package = VbsReportBuilder::default()
        .bound_to(&signed)
        .flags(1)
        .build();
    let (s, b) = request(
        &t,
        pss_jws(&key, "attReqV2", &payload(true, &signed, &package)),
    )
    .await
    .unwrap_err();
    assert_error(s, &b, 400, "PolicyEvaluationError");
    t.stop().await;
}

#[tokio::test]
async fn vbs_reports_that_do_not_verify_are_refused_with_their_own_codes() {
    let sample = sample_with_idks();
    let (t, _tmp) = server(&sample).await;
    let (ch, ctx) = init(&t).await;
    let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
    let tpm = attestation(&sample, &challenge);
    let (key, jwk) = rsa_key_and_jwk();
    let signed = report_signed(true, &ch, &ctx, &jwk, &tpm);
    let good = VbsReportBuilder::default().bound_to(&signed).build();
    let send = |signed: String, package: Vec<u8>| {
        let jws = pss_jws(&key, "attReqV2", &payload(true, &signed, &package));
        let t = &t;
        async move { request(t, jws).await }
    };

    // Tampered: one byte of the signed identity (EnclaveSvn) changed.
    let mut tampered = good.clone();
    tampered[24 + 8 + 64 + 128] ^= 1;
    assert_eq!(
        refused(send(signed.clone(), tampered).await),
        "VbsReportSignatureInvalid"
    );
    // Tampered structure: ReportSize no longer the statement's length.
    let mut resized = good.clone();
    resized[24] ^= 1;
    assert_eq!(
        refused(send(signed.clone(), resized).await),
        "VbsReportMalformed"
    );
    assert_eq!(
        refused(send(signed.clone(), good[..10].to_vec()).await),
        "VbsReportTruncated"
    );
    // Signed by a key the quoted log does not record.
    let other = VbsReportBuilder::default()
        .bound_to(&signed)
        .signer(VbsSigner::Other)
        .build();
    assert_eq!(
        refused(send(signed.clone(), other).await),
        "VbsReportSignatureInvalid"
    );
    // Not bound to this request: the report is over another report_signed
    // (the same fields with other rp_data), or this report_signed changed
    // after the report was made.
    let elsewhere = signed.replace("cnAtZGF0YQ", "b3RoZXI");
    let for_other = VbsReportBuilder::default().bound_to(&elsewhere).build();
    assert_eq!(
        refused(send(signed.clone(), for_other).await),
        "VbsEnclaveDataMismatch"
    );
    assert_eq!(
        refused(send(elsewhere, good.clone()).await),
        "VbsEnclaveDataMismatch"
    );
    // Not bound to the TPM quote: the enclave vouches for this request, but
    // the quote is over another challenge.
    let stale = report_signed(true, &ch, &ctx, &jwk, &attestation(&sample, &[7u8; 16]));
    let for_stale = VbsReportBuilder::default().bound_to(&stale).build();
    assert_eq!(refused(send(stale, for_stale).await), "NonceMismatch");
    // A field outside report_signed is not read: a challenge there alone
    // does not make a request.
    let bare = r#"{"challenge":"x"}"#.to_string();
    let bare_report = VbsReportBuilder::default().bound_to(&bare).build();
    assert_eq!(refused(send(bare, bare_report).await), "TpmProtocolError");
    // The enclave may not claim a service name as a custom claim.
    let spoof = report_signed(true, &ch, &ctx, &jwk, &tpm)
        .replace(r#""name":"role""#, r#""name":"enclaveSvn""#);
    let spoof_report = VbsReportBuilder::default().bound_to(&spoof).build();
    let (s, b) = send(spoof, spoof_report).await.unwrap_err();
    assert_error(s, &b, 400, "ReservedClaimName");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("enclaveSvn"),
        "{b}"
    );
    // No vsm_report at all.
    let no_report = format!(r#"{{"att_type":"vbs","att_data":{{"report_signed":{signed}}}}}"#);
    assert_eq!(
        refused(request(&t, pss_jws(&key, "attReqV2", &no_report)).await),
        "TpmProtocolError"
    );
    // The good report still verifies: the refusals above were theirs.
    assert!(send(signed, good).await.is_ok());

    // A quoted log that records no VSM signing key.
    let plain = TpmSample::builder()
        .banks(&[TPM_ALG_SHA1, TPM_ALG_SHA256])
        .intermediate(false)
        .build();
    let (ch, ctx) = init(&t).await;
    let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
    let signed = report_signed(true, &ch, &ctx, &jwk, &attestation(&plain, &challenge));
    let package = VbsReportBuilder::default().bound_to(&signed).build();
    assert_eq!(refused(send(signed, package).await), "VbsIdksNotInLog");
    t.stop().await;
}

/// MAA's published VBS sample policy (`tpm-attestation-sample-policies`,
/// reference §3.10) runs unchanged: its `enclaveAuthorId` (32 zero bytes)
/// and `enclaveImageId` (`01 01` then zeros) are base64url of the ids as
/// the report carries them.
#[tokio::test]
async fn maa_vbs_sample_policy_runs_unchanged() {
    let sample = sample_with_idks();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    provider_with_policy(
        &t,
        "vbs",
        "Tpm",
        "version=1.2;\nauthorizationrules {\n    [type==\"vsmReportPresent\", value==true] &&\n    [type==\"enclaveAuthorId\", value==\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"] &&\n    [type==\"enclaveImageId\", value==\"AQEAAAAAAAAAAAAAAAAAAA\"] &&\n    [type==\"enclaveSvn\", value>=0] =>  permit();\n};\nissuancerules { };",
    )
    .await;
    let (s, b) = json(
        t.client
            .patch(t.url("/admin/providers/vbs"))
            .bearer_auth(&t.admin)
            .json(&json!({"config": {"test_roots": {"tpm": [sample.root_pem]}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let mut image_id = [0u8; 16];
    image_id[..2].copy_from_slice(&[1, 1]);
    for (image, permitted) in [(image_id, true), ([2u8; 16], false)] {
        let (ch, ctx) = init(&t).await;
        let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
        let (key, jwk) = rsa_key_and_jwk();
        let signed = report_signed(true, &ch, &ctx, &jwk, &attestation(&sample, &challenge));
        let package = VbsReportBuilder {
            author_id: [0; 32],
            image_id: image,
            ..VbsReportBuilder::default()
        }
        .bound_to(&signed)
        .build();
        let r = request(
            &t,
            pss_jws(&key, "attReqV2", &payload(true, &signed, &package)),
        )
        .await;
        if permitted {
            let c = r.unwrap();
            assert_eq!(c["cnf"]["jwk"]["kty"], "RSA");
        } else {
            let (s, b) = r.unwrap_err();
            assert_error(s, &b, 400, "PolicyEvaluationError");
        }
    }
    t.stop().await;
}
