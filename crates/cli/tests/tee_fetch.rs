//! `attesta token verify --require-tee --tee-fetch`: the collateral a
//! node's certificate references, fetched from loopback HTTPS PCS and KDS
//! fixtures (the collateral crate's) serving the node's test collateral,
//! makes the check of the node's evidence full — SGX (`tee_evidence =
//! "test"`) and SEV-SNP (`"test-snp"`), where a KDS serving a CRL that
//! revokes the node's VCEK makes it fail.

#[path = "../../collateral/tests/kds_fixture/mod.rs"]
mod kds_fixture;
#[path = "../../collateral/tests/common/mod.rs"]
mod pcs_fixture;

mod common;
use common::{Server, bin, node_token, run, serve_with as serve};

use serde_json::Value;

/// `token verify --json --require-tee --tee-fetch` with `extra` arguments.
fn verify_fetch(
    s: &Server,
    token: &std::path::Path,
    issuer: &str,
    tmp: &std::path::Path,
    policy: &str,
    extra: &[&std::ffi::OsStr],
) -> (i32, Value, String) {
    let p = tmp.join("fetch-policy.json");
    std::fs::write(&p, policy).unwrap();
    let mut c = bin();
    c.args(["token", "verify", &format!("@{}", token.display())])
        .args(["--issuer", issuer, "--ca"])
        .arg(s.data.join("tls/cert.pem"))
        .args(["--json", "--require-tee", "--tee-fetch", "--tee-policy"])
        .arg(&p)
        .args(extra);
    let (code, out, err) = run(&mut c);
    (code, serde_json::from_str(&out).unwrap_or(Value::Null), err)
}

#[test]
fn sgx_node_collateral_is_fetched_from_the_pcs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &[("ATTESTA_TEE_EVIDENCE", "test")],
    );
    let tee = s.data.join("tee-test");
    let pcs = rt.block_on(pcs_fixture::Fixture::start_with(
        tee.join("collateral").to_str().unwrap(),
        pcs_fixture::FixtureOptions {
            https: true,
            ..Default::default()
        },
    ));
    let ca = tmp.path().join("fixture-ca.pem");
    std::fs::write(&ca, pcs.ca_pem.as_ref().unwrap()).unwrap();
    let (token, issuer) = node_token(&s, tmp.path());
    let mrenclave = hex::encode(attesta_evidence::crypto::sha256(b"attesta test TEE"));
    let policy = format!(r#"{{"require":{{"x-ms-sgx-mrenclave":"{mrenclave}"}},"level":"full"}}"#);
    let root = tee.join("root.pem");
    let (code, v, err) = verify_fetch(
        &s,
        &token,
        &issuer,
        tmp.path(),
        &policy,
        &[
            "--tee-trust-root".as_ref(),
            root.as_os_str(),
            "--tee-pcs-url".as_ref(),
            pcs.base_url.as_ref(),
            "--tee-fetch-ca".as_ref(),
            ca.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["service"]["level"], "full");
    assert_eq!(v["service"]["claims"]["x-attesta-tcb-status"], "UpToDate");
    // Fetched by the FMSPC the certificate references.
    assert_eq!(pcs.count(&pcs.tcb_path()), 1);
    assert!(
        pcs.uris()
            .iter()
            .any(|u| u.contains(&format!("fmspc={}", pcs.fmspc))),
        "{:?}",
        pcs.uris()
    );

    // Collateral is fetched over TLS only.
    let (code, _, err) = verify_fetch(
        &s,
        &token,
        &issuer,
        tmp.path(),
        &policy,
        &["--tee-pcs-url".as_ref(), "http://127.0.0.1:9".as_ref()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://"), "{err}");
    // The PCS unreachable: the service cannot be checked (exit 3).
    rt.block_on(pcs.stop());
    let (code, _, err) = verify_fetch(
        &s,
        &token,
        &issuer,
        tmp.path(),
        &policy,
        &[
            "--tee-trust-root".as_ref(),
            root.as_os_str(),
            "--tee-pcs-url".as_ref(),
            "https://127.0.0.1:9".as_ref(),
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("fetching the service's collateral"), "{err}");
}

#[test]
fn snp_node_crl_is_fetched_from_the_kds_and_revocation_refuses() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &[("ATTESTA_TEE_EVIDENCE", "test-snp")],
    );
    let tee = s.data.join("tee-test");
    let kds = |crl: &str| {
        rt.block_on(kds_fixture::KdsFixture::start_with(
            &[tee.join("collateral").to_str().unwrap()],
            kds_fixture::KdsFixtureOptions {
                crl_der: Some(std::fs::read(tee.join(crl)).unwrap()),
                https: true,
                ..Default::default()
            },
        ))
    };
    let (token, issuer) = node_token(&s, tmp.path());
    let measurement = hex::encode(attesta_evidence::crypto::sha384(b"attesta test TEE"));
    let policy = format!(
        r#"{{"require":{{"x-ms-sevsnpvm-launchmeasurement":"{measurement}"}},"level":"full"}}"#
    );
    let root = tee.join("root.pem");
    let check = |f: &kds_fixture::KdsFixture| {
        let ca = tmp.path().join("kds-ca.pem");
        std::fs::write(&ca, f.ca_pem.as_ref().unwrap()).unwrap();
        verify_fetch(
            &s,
            &token,
            &issuer,
            tmp.path(),
            &policy,
            &[
                "--tee-trust-root-amd".as_ref(),
                root.as_os_str(),
                "--tee-kds-url".as_ref(),
                f.base_url.as_ref(),
                "--tee-fetch-ca".as_ref(),
                ca.as_os_str(),
            ],
        )
    };
    let good = kds("collateral/crl.der");
    let (code, v, err) = check(&good);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["service"]["level"], "full");
    assert_eq!(v["service"]["evidence_kind"], "snp-report");
    // The evidence carries its VCEK chain: only the CRL is fetched.
    assert_eq!(good.count("/vcek/v1/Milan/crl"), 1);
    assert_eq!(good.total(), 1, "{:?}", good.uris());
    rt.block_on(good.stop());

    let revoking = kds("revoked/crl.der");
    let (code, v, _) = check(&revoking);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "VcekRevoked");
    rt.block_on(revoking.stop());
}
