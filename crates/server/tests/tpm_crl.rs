//! TPM CA CRLs of a provider (`tpm_crls`) through the real server over
//! HTTPS: a chain whose CAs' CRLs list nothing of it is accepted; once the
//! configured CRL revokes the AK certificate the same evidence is refused
//! with `AkCertificateRevoked` (the AK chain remembered from before is not
//! reused: its fingerprint covers the CRLs); a CRL that does not verify
//! with its CA's key is `AkCrlInvalid`; a value that is not a CRL is
//! refused at configuration.

mod common;

use attesta_evidence::UnixTime;
use attesta_evidence::tpm::structures::hash_name;
use attesta_testkit::{TpmCa, TpmSample, tpm_crl};
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
async fn configured_tpm_crls_revoke_and_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    provider_with_policy(
        &t,
        "crl",
        "Tpm",
        "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ => issue(type=\"ok\", value=true); };",
    )
    .await;
    let s = TpmSample::builder().build();
    let at = s.verify_at().0;
    let week = (UnixTime(at - 86_400), UnixTime(at + 7 * 86_400));
    let pem = |ca, revoked: &[&[u8]]| {
        attesta_evidence::pki::pem_block("X509 CRL", &tpm_crl(ca, revoked, week.0, week.1))
    };
    let ak = attesta_evidence::pki::parse_cert(&s.ak_cert)
        .unwrap()
        .raw_serial()
        .to_vec();
    let with_crls = |crls: Vec<String>| {
        json!({
            "test_roots": {"tpm": [s.root_pem]},
            "verification_time": attesta_evidence::types::rfc3339(at as i64),
            "tpm_crls": crls,
        })
    };

    let (st, b) = configure(&t, "crl", with_crls(vec![pem(TpmCa::Intermediate, &[])])).await;
    assert_eq!(st, 200, "{b}");
    let c = attest(&t, "crl", &s).await.unwrap();
    assert_eq!(c["ok"], true);

    let (st, b) = configure(&t, "crl", with_crls(vec![pem(TpmCa::Intermediate, &[&ak])])).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = attest(&t, "crl", &s).await.unwrap_err();
    assert_error(st, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "AkCertificateRevoked",
        "{b}"
    );

    let (st, b) = configure(&t, "crl", with_crls(vec![pem(TpmCa::RogueRoot, &[])])).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = attest(&t, "crl", &s).await.unwrap_err();
    assert_error(st, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AkCrlInvalid", "{b}");

    let (st, b) = configure(&t, "crl", with_crls(vec!["not a CRL".into()])).await;
    assert_error(st, &b, 400, "InvalidParameter");
    assert!(b.to_string().contains("tpm_crls"), "{b}");
    t.stop().await;
}
