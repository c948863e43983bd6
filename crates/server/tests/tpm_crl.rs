//! TPM CA CRLs of a provider (`tpm_crls`) through the real server over
//! HTTPS: a chain whose CAs' CRLs list nothing of it is accepted; once the
//! configured CRL revokes the AK certificate the same evidence is refused
//! with `AkCertificateRevoked` (the AK chain remembered from before is not
//! reused: its fingerprint covers the CRLs); a CRL that does not verify
//! with its CA's key is `AkCrlInvalid`; a value that is not a CRL is
//! refused at configuration.

mod common;

use attesta_evidence::UnixTime;
use attesta_testkit::{TpmCa, TpmSample, tpm_crl};
use common::*;
use serde_json::json;

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

    let (st, b) =
        configure_provider(&t, "crl", with_crls(vec![pem(TpmCa::Intermediate, &[])])).await;
    assert_eq!(st, 200, "{b}");
    let c = tpm_one_shot(&t, "crl", &s).await.unwrap();
    assert_eq!(c["ok"], true);

    let (st, b) =
        configure_provider(&t, "crl", with_crls(vec![pem(TpmCa::Intermediate, &[&ak])])).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = tpm_one_shot(&t, "crl", &s).await.unwrap_err();
    assert_error(st, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "AkCertificateRevoked",
        "{b}"
    );

    let (st, b) = configure_provider(&t, "crl", with_crls(vec![pem(TpmCa::RogueRoot, &[])])).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = tpm_one_shot(&t, "crl", &s).await.unwrap_err();
    assert_error(st, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AkCrlInvalid", "{b}");

    let (st, b) = configure_provider(&t, "crl", with_crls(vec!["not a CRL".into()])).await;
    assert_error(st, &b, 400, "InvalidParameter");
    assert!(b.to_string().contains("tpm_crls"), "{b}");
    t.stop().await;
}
