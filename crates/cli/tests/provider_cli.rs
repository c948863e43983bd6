//! `attesta provider create|update` set a provider's TPM settings: vTPM
//! CAs, TPM CA CRLs (PEM or DER files), trusted AKs and SHA-1 banks; `show`
//! summarises the CAs by subject and the CRLs by issuer and `nextUpdate`.
//! Runs a real `attesta serve`.

use attesta_evidence::UnixTime;
use attesta_testkit::{TpmCa, TpmSample, tpm_crl};

mod common;
use common::{client, json, run_on, serve};

#[test]
fn provider_create_and_update_set_the_tpm_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let sample = TpmSample::builder().build();
    let root = tmp.path().join("vtpm-ca.pem");
    std::fs::write(&root, &sample.root_pem).unwrap();
    let now = UnixTime::now().0;
    let next = now + 7 * 86_400;
    let crl = tmp.path().join("intermediate.crl");
    std::fs::write(
        &crl,
        tpm_crl(
            TpmCa::Intermediate,
            &[],
            UnixTime(now - 86_400),
            UnixTime(next),
        ),
    )
    .unwrap();
    let ak = "q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=";

    let (code, out, err) = run_on(
        &s,
        &mut client(
            &s,
            &[
                "provider",
                "create",
                "tl",
                "--vtpm-root",
                root.to_str().unwrap(),
                "--tpm-crl",
                crl.to_str().unwrap(),
                "--tpm-trusted-ak",
                ak,
                "--tpm-allow-sha1",
                "--json",
            ],
        ),
    );
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let c = &v["config"];
    assert!(
        c["vtpm_roots"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("CN="),
        "{out}"
    );
    assert_eq!(c["vtpm_roots"][0]["sha256"].as_str().unwrap().len(), 64);
    // The DER file went in as PEM, and reads back by issuer and nextUpdate.
    assert!(
        c["tpm_crls"][0]["issuer"].as_str().unwrap().contains("CN="),
        "{out}"
    );
    assert_eq!(
        c["tpm_crls"][0]["next_update"],
        attesta_evidence::types::rfc3339(next as i64),
        "{out}"
    );
    assert_eq!(c["tpm_trusted_aks"][0], ak);
    assert_eq!(c["tpm_allow_sha1"], true);

    // An update changes what it names and keeps the rest.
    let (code, out, err) = run_on(
        &s,
        &mut client(
            &s,
            &[
                "provider",
                "update",
                "tl",
                "--tpm-allow-sha1",
                "false",
                "--json",
            ],
        ),
    );
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert!(v["config"].get("tpm_allow_sha1").is_none(), "{out}");
    assert_eq!(v["config"]["vtpm_roots"], c["vtpm_roots"], "{out}");
    assert_eq!(v["config"]["tpm_crls"], c["tpm_crls"], "{out}");

    // A file that is no CRL is refused by the server, naming the setting.
    let (code, _, err) = run_on(
        &s,
        &mut client(
            &s,
            &[
                "provider",
                "update",
                "tl",
                "--tpm-crl",
                root.to_str().unwrap(),
            ],
        ),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tpm_crls"), "{err}");
}
