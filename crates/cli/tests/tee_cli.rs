//! A node's own TEE evidence end to end with the real binary: `serve` with
//! `tee_evidence = "test"` puts testkit SGX evidence bound to each signing
//! key into its certificates (rotation included); `token verify
//! --require-tee` accepts a token with a policy pinning the node's
//! measurement and refuses one pinning another; evidence moved under
//! another key is refused; `tee_evidence = "required"` without a TEE stops
//! `serve` with a clear error.

use attesta_evidence::signing_cert::{self, AttestaEvidence, EvidenceSource, SigningCert};
use attesta_evidence::{ErrorCode, TrustRoots, UnixTime};
use serde_json::Value;

use std::time::{Duration, Instant};

mod common;
use common::{Server, bin, node_token, run, run_on, serve_with as serve};

/// The certificates (DER) a provider's `/certs` publishes.
fn certs(s: &Server, issuer: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let pem = std::fs::read(s.data.join("tls/cert.pem")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let v: Value = rt.block_on(async {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap()
            .get(format!("{issuer}/certs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k["x5c"][0].as_str().unwrap())
                .unwrap()
        })
        .collect()
}

#[test]
fn serve_with_required_tee_and_no_tee_exits_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("ATTESTA_TEE_EVIDENCE", "required")
        .env("ATTESTA_TEE_TSM_PATH", tmp.path().join("no-tsm"))
        .env("ATTESTA_COLLATERAL__PCS_URL", "")
        .env("ATTESTA_COLLATERAL__KDS_URL", ""));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("tee_evidence = \"required\""), "{err}");
    assert!(err.contains("no-tsm"), "{err}");
    assert!(err.contains("confidential VM"), "{err}");
    // A value that is not a mode is a configuration error.
    let (code, _, err) = run(bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data2"))
        .env("ATTESTA_TEE_EVIDENCE", "sgx"));
    assert_ne!(code, 0);
    assert!(err.contains("not one of auto, none, required"), "{err}");
}

#[test]
fn node_token_passes_require_tee_with_its_measurement_and_fails_with_another() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &[("ATTESTA_TEE_EVIDENCE", "test")],
    );
    let tee_root = s.data.join("tee-test/root.pem");
    let tee_collateral = s.data.join("tee-test/collateral");
    assert!(tee_root.exists() && tee_collateral.join("tcb_info.json").exists());

    let (token_file, issuer) = node_token(&s, tmp.path());
    let mrenclave = hex::encode(attesta_evidence::crypto::sha256(b"attesta test TEE"));

    let verify = |policy: Option<&str>, with_root: bool| {
        let mut c = bin();
        c.args(["token", "verify", &format!("@{}", token_file.display())])
            .args(["--issuer", &issuer, "--ca"])
            .arg(s.data.join("tls/cert.pem"))
            .args(["--json", "--require-tee", "--tee-collateral"])
            .arg(&tee_collateral);
        if with_root {
            c.arg("--tee-trust-root").arg(&tee_root);
        }
        if let Some(p) = policy {
            let f = tmp.path().join(format!("policy-{}.json", p.len()));
            std::fs::write(&f, p).unwrap();
            c.arg("--tee-policy").arg(f);
        }
        let (code, out, err) = run(&mut c);
        (
            code,
            serde_json::from_str::<Value>(&out).unwrap_or(Value::Null),
            err,
        )
    };

    let pin = |m: &str| {
        format!(
            r#"{{"require":{{"x-ms-sgx-mrenclave":"{m}","x-ms-sgx-is-debuggable":false}},"minimum":{{"x-ms-sgx-svn":1}},"level":"full"}}"#
        )
    };
    let (code, v, err) = verify(Some(&pin(&mrenclave)), true);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["service"]["level"], "full");
    assert_eq!(v["service"]["test_root"], true);
    assert_eq!(v["service"]["claims"]["x-ms-sgx-mrenclave"], mrenclave);
    assert_eq!(v["service"]["claims"]["x-attesta-tcb-status"], "UpToDate");
    assert_eq!(
        v["service"]["evidence_oid"],
        signing_cert::OID_ATTESTA_EVIDENCE
    );

    let (code, v, err) = verify(Some(&pin(&"ab".repeat(32))), true);
    assert_eq!(code, 1, "{v} {err}");
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["code"], "TeePolicyNotSatisfied");

    // Without the test root the node's evidence does not anchor.
    let (code, v, _) = verify(None, false);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "UntrustedRoot");

    // The certificate of the key: Attesta's extension and MAA's SGX one,
    // both binding the key; inspect shows both.
    let der = certs(&s, &issuer).remove(0);
    let cert = SigningCert::parse(&der).unwrap();
    let sources: Vec<EvidenceSource> = cert.evidence.iter().map(|e| e.source).collect();
    assert_eq!(
        sources,
        [EvidenceSource::Attesta, EvidenceSource::MaaSgxQuote]
    );
    let f = tmp.path().join("node.der");
    std::fs::write(&f, &der).unwrap();
    let (code, out, _) = run(bin().args(["inspect", "signing-cert"]).arg(&f));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["evidence"][0]["oid"], signing_cert::OID_ATTESTA_EVIDENCE);
    assert_eq!(v["evidence"][0]["key_binding"], "valid");
    assert_eq!(v["evidence"][1]["key_binding"], "valid");
    // Attesta's extension says where the quote's collateral is.
    let (_, fmspc) = attesta_collateral::fmspc_of(
        &attesta_testkit::read_bundle(&s.data.join("tee-test/collateral")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["evidence"][0]["collateral"]["fmspc"], fmspc);
    assert_eq!(v["evidence"][0]["collateral"]["tee"], "sgx");
    assert_eq!(v["evidence"][1]["collateral"], Value::Null);

    // The node's evidence copied into a certificate for another key.
    let roots = TrustRoots::empty().with_configured(
        attesta_evidence::roots::RootKind::IntelSgx,
        attesta_evidence::sgx::pki::pem_certificates(&std::fs::read(&tee_root).unwrap())
            .unwrap()
            .remove(0),
    );
    let collateral = attesta_testkit::read_bundle(&tee_collateral).unwrap();
    let other = attesta_testkit::signing_cert::new_key();
    let swapped = attesta_testkit::signing_cert::certificate(
        &other,
        &attesta_testkit::signing_cert::CertSpec {
            common_name: cert.subject.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            extensions: vec![],
            attesta: Some(AttestaEvidence::new(
                cert.evidence[0].kind,
                &cert.evidence[0].bytes,
                Some("test"),
            )),
        },
    );
    let swapped = SigningCert::parse(&swapped).unwrap();
    let err =
        signing_cert::verify(&swapped, Some(&collateral), &roots, UnixTime::now()).unwrap_err();
    assert_eq!(err.code(), "ServiceKeyBindingMismatch");
    // The node's own certificate passes the same check.
    signing_cert::verify(&cert, Some(&collateral), &roots, UnixTime::now()).unwrap();

    // Rotation: the new key's certificate carries evidence for the new key.
    let before: Vec<String> = certs(&s, &s.url).iter().map(hex::encode).collect();
    let (code, _, err) = run_on(&s, bin().args(["keys", "rotate"]));
    assert_eq!(code, 0, "{err}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = certs(&s, &s.url);
        if now.iter().any(|c| !before.contains(&hex::encode(c))) {
            break now;
        }
        assert!(Instant::now() < deadline, "no new key after rotation");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(after.len() >= 2);
    for der in &after {
        let c = SigningCert::parse(der).unwrap();
        let v = signing_cert::verify(&c, Some(&collateral), &roots, UnixTime::now()).unwrap();
        assert_eq!(v.level, signing_cert::VerifyLevel::Full);
    }
}

/// `attesta token verify --require-tee` with the node's SEV-SNP test
/// evidence: the chain to the test ARK, the report's signature and, with
/// the ARK's CRL, revocation; the policy over MAA's SNP claim names.
#[test]
fn snp_node_token_passes_with_its_measurement_and_crl_and_fails_when_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &[("ATTESTA_TEE_EVIDENCE", "test-snp")],
    );
    let tee = s.data.join("tee-test");
    let (token_file, issuer) = node_token(&s, tmp.path());
    let measurement = hex::encode(attesta_evidence::crypto::sha384(b"attesta test TEE"));

    let verify = |policy: &str, collateral: Option<&str>| {
        let f = tmp.path().join("snp-policy.json");
        std::fs::write(&f, policy).unwrap();
        let mut c = bin();
        c.args(["token", "verify", &format!("@{}", token_file.display())])
            .args(["--issuer", &issuer, "--ca"])
            .arg(s.data.join("tls/cert.pem"))
            .args(["--json", "--require-tee", "--tee-trust-root-amd"])
            .arg(tee.join("root.pem"))
            .arg("--tee-policy")
            .arg(&f);
        if let Some(dir) = collateral {
            c.arg("--tee-collateral").arg(tee.join(dir));
        }
        let (code, out, err) = run(&mut c);
        (
            code,
            serde_json::from_str::<Value>(&out).unwrap_or(Value::Null),
            err,
        )
    };
    let pin = |m: &str, level: &str| {
        format!(
            r#"{{"require":{{"x-ms-sevsnpvm-launchmeasurement":"{m}","x-ms-sevsnpvm-is-debuggable":false}},"minimum":{{"x-ms-sevsnpvm-snpfw-svn":1}},"level":"{level}"}}"#
        )
    };
    let (code, v, err) = verify(&pin(&measurement, "full"), Some("collateral"));
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["service"]["evidence_kind"], "snp-report");
    assert_eq!(v["service"]["level"], "full");
    assert_eq!(v["service"]["test_root"], true);
    assert_eq!(
        v["service"]["claims"]["x-ms-sevsnpvm-launchmeasurement"],
        measurement
    );
    assert_eq!(v["service"]["claims"]["x-attesta-snp-signing-key"], "vcek");

    // Another measurement.
    let (code, v, _) = verify(&pin(&"ab".repeat(48), "full"), Some("collateral"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "TeePolicyNotSatisfied");
    // Without the CRL: the signatures verify, "full" is not met.
    let (code, v, _) = verify(&pin(&measurement, "signatures"), None);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["service"]["level"], "signatures");
    let (code, v, _) = verify(&pin(&measurement, "full"), None);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "TeePolicyNotSatisfied");
    // The ARK's CRL revokes the node's VCEK.
    let (code, v, _) = verify(&pin(&measurement, "signatures"), Some("revoked"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "VcekRevoked");

    // The certificate carries Attesta's extension and MAA's SNP one;
    // `verify signing-cert` with the CRL checks it fully.
    let der = certs(&s, &issuer).remove(0);
    let cert = SigningCert::parse(&der).unwrap();
    let sources: Vec<EvidenceSource> = cert.evidence.iter().map(|e| e.source).collect();
    assert_eq!(sources, [EvidenceSource::Attesta, EvidenceSource::MaaSnp]);
    let f = tmp.path().join("node.der");
    std::fs::write(&f, &der).unwrap();
    let (code, out, err) = run(bin()
        .args(["verify", "signing-cert"])
        .arg(&f)
        .arg("--trust-root-amd")
        .arg(tee.join("root.pem"))
        .arg("--collateral")
        .arg(tee.join("collateral")));
    assert_eq!(code, 0, "{out} {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["claims"]["x-attesta-service-evidence-level"], "full");
}
