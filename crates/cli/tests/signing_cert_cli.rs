//! `attesta inspect signing-cert` and `attesta verify signing-cert` on MAA's
//! real 2020 UK South signing certificate and on a testkit certificate
//! carrying the MAA quote under another key.

use std::path::{Path, PathBuf};
use std::process::Command;

use attesta_evidence::signing_cert::SigningCert;
use attesta_testkit::signing_cert::{CertSpec, certificate, maa_sgx_extension, new_key};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn uks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/maa-tokens/azure-samples/maa.prod.uks.signing.cert.pem")
}

fn run(cmd: &mut Command) -> (i32, Value) {
    let out = cmd.output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn inspect_shows_maas_quote_and_a_valid_binding() {
    let (code, v) = run(bin().args(["inspect", "signing-cert"]).arg(uks()));
    assert_eq!(code, 0, "{v}");
    let e = &v["evidence"][0];
    assert_eq!(e["oid"], "1.2.840.113556.10.1.1");
    assert_eq!(e["kind"], "sgx-quote");
    assert_eq!(e["key_binding"], "valid");
    assert_eq!(e["decoded"]["header"]["version"], 3);
    assert_eq!(
        e["decoded"]["report"]["mr_enclave"],
        "5eaa887fb1744de9a13ef95967faa264a5d025512952549c69f541566cbff209"
    );
    assert_eq!(
        e["decoded"]["report"]["mr_signer"],
        "5e5410aaf99a32e32df2a97d579e65f8310f274816ec4f34cedeeb1be410a526"
    );
    assert_eq!(
        e["report_data"].as_str().unwrap(),
        format!(
            "{}{}",
            "2901401eb935c402ca1c10f86f8bbb4c2bc2275330d0c95865efabc5d78f3ad8",
            "0".repeat(64)
        )
    );
    assert_eq!(v["maa_kid"], "KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg=");
}

#[test]
fn verify_accepts_maas_certificate_at_its_time_and_rejects_it_now() {
    let (code, v) = run(bin()
        .args(["verify", "signing-cert"])
        .arg(uks())
        .args(["--at", "2020-08-01T00:00:00Z"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(
        v["claims"]["x-attesta-service-evidence-level"],
        "signatures"
    );
    assert_eq!(
        v["claims"]["x-attesta-service-key-binding"],
        "2901401eb935c402ca1c10f86f8bbb4c2bc2275330d0c95865efabc5d78f3ad8"
    );
    let (code, v) = run(bin().args(["verify", "signing-cert"]).arg(uks()));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "SigningCertificateExpired");
}

#[test]
fn verify_rejects_maas_quote_in_a_certificate_with_another_key() {
    let maa = SigningCert::parse(&std::fs::read(uks()).unwrap()).unwrap();
    let der = certificate(
        &new_key(),
        &CertSpec {
            common_name: "https://shareduks.uks.attest.azure.net".into(),
            not_before: maa.not_before,
            not_after: maa.not_after,
            extensions: vec![maa_sgx_extension(&maa.evidence[0].bytes)],
            attesta: None,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("forged.der");
    std::fs::write(&f, der).unwrap();
    let (code, v) = run(bin()
        .args(["verify", "signing-cert"])
        .arg(&f)
        .args(["--at", "2020-08-01T00:00:00Z"]));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "ServiceKeyBindingMismatch");
    let (code, v) = run(bin().args(["inspect", "signing-cert"]).arg(&f));
    assert_eq!(code, 0);
    assert!(
        v["evidence"][0]["key_binding"]
            .as_str()
            .unwrap()
            .starts_with("invalid")
    );
}
