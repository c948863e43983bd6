//! `attesta verify snp`, `inspect snp` and `sample snp`: every real SNP
//! report with its chain at a time inside its certificates' validity, a
//! report with another vector's VCEK, and a testkit sample under an
//! explicitly trusted test ARK.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn run(cmd: &mut Command) -> (i32, Value) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn verify(report: &Path, vcek: &Path, chain: &Path, extra: &[&str]) -> (i32, Value) {
    run(bin()
        .args(["verify", "snp", "--report"])
        .arg(report)
        .arg("--vcek")
        .arg(vcek)
        .arg("--ca-chain")
        .arg(chain)
        .args(["--at", "2025-06-01T00:00:00Z"])
        .args(extra))
}

#[test]
fn real_reports_verify_and_a_foreign_vcek_does_not() {
    let v = vectors();
    let cases = [
        (
            "snp/virtee-sev-milan",
            "report.bin",
            "vcek.der",
            "ask_ark_milan.pem",
        ),
        (
            "snp/trustee-milan-vcek",
            "report.bin",
            "vcek.der",
            "milan_ask_ark_asvk.pem",
        ),
        (
            "snp/trustee-milan-vlek",
            "report.bin",
            "vlek.der",
            "asvk_ark_milan.pem",
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-genoa",
            "snp_report.bin",
            "vcek.pem",
            "ask_ark.pem",
        ),
    ];
    for (dir, report, vcek, chain) in cases {
        let d = v.join(dir);
        let expected: Value =
            serde_json::from_slice(&std::fs::read(d.join("expected.json")).unwrap()).unwrap();
        // The vectors keep no AMD CRL: without one the verdict fails closed,
        // and verifies only with the explicit opt-out, which the output shows.
        let (code, out) = verify(&d.join(report), &d.join(vcek), &d.join(chain), &[]);
        assert_eq!(code, 1, "{dir}: {out}");
        assert_eq!(out["error"]["code"], "AmdCrlMissing", "{dir}");
        let (code, out) = verify(
            &d.join(report),
            &d.join(vcek),
            &d.join(chain),
            &["--no-revocation-check"],
        );
        assert_eq!(code, 0, "{dir}: {out}");
        assert_eq!(out["claims"]["x-attesta-snp-revocation-checked"], false);
        assert_eq!(out["claims"]["x-ms-attestation-type"], "sevsnpvm");
        let measurement = expected["report"]["measurement"]
            .as_str()
            .or_else(|| expected["snp_report"]["measurement"].as_str());
        if let Some(m) = measurement {
            assert_eq!(out["claims"]["x-ms-sevsnpvm-launchmeasurement"], m, "{dir}");
        }
        let (code, out) = run(bin().args(["inspect", "snp"]).arg(d.join(report)));
        assert_eq!(code, 0);
        assert!(out["measurement"].is_string());
    }
    // The virtee report checked with the trustee VCEK.
    let a = v.join("snp/virtee-sev-milan");
    let b = v.join("snp/trustee-milan-vcek");
    let (code, out) = verify(
        &a.join("report.bin"),
        &b.join("vcek.der"),
        &a.join("ask_ark_milan.pem"),
        &["--no-revocation-check"],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["verdict"], "rejected");
}

#[test]
fn sample_snp_needs_its_test_root() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snp");
    let rt = tmp.path().join("rt");
    std::fs::write(&rt, b"runtime").unwrap();
    assert!(
        bin()
            .args(["sample", "snp", "--out"])
            .arg(&out)
            .arg("--runtime-data")
            .arg(&rt)
            .status()
            .unwrap()
            .success()
    );
    let go = |extra: &[&str]| {
        run(bin()
            .args(["verify", "snp", "--report"])
            .arg(out.join("report.bin"))
            .arg("--vcek")
            .arg(out.join("vcek.der"))
            .arg("--ca-chain")
            .arg(out.join("ca_chain.pem"))
            .arg("--crl")
            .arg(out.join("crl.der"))
            .args(extra))
    };
    let (code, v) = go(&[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "UntrustedArk");
    let root = out.join("test_root.pem");
    let (code, v) = go(&[
        "--trust-root",
        root.to_str().unwrap(),
        "--runtime-data",
        rt.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["claims"]["x-attesta-test-root"], true);
    assert!(
        v["claims"]
            .get("x-attesta-snp-revocation-checked")
            .is_none()
    );
}

/// Runs `verify snp` on the sample in `dir` with its test root, and with
/// `crl` (a path) or none.
fn verify_sample(dir: &Path, crl: Option<&Path>) -> (i32, Value) {
    let mut cmd = bin();
    cmd.args(["verify", "snp", "--report"])
        .arg(dir.join("report.bin"))
        .arg("--vcek")
        .arg(dir.join("vcek.der"))
        .arg("--ca-chain")
        .arg(dir.join("ca_chain.pem"))
        .arg("--trust-root")
        .arg(dir.join("test_root.pem"));
    if let Some(c) = crl {
        cmd.arg("--crl").arg(c);
    }
    run(&mut cmd)
}

#[test]
fn sample_snp_revoked_is_rejected_and_no_crl_fails_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("revoked");
    assert!(
        bin()
            .args(["sample", "snp", "--revoked", "--out"])
            .arg(&d)
            .status()
            .unwrap()
            .success()
    );
    let (code, v) = verify_sample(&d, Some(&d.join("crl.der")));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["error"]["code"], "VcekRevoked");
    // No CRL and no opt-out: the missing CRL is the error, not a pass.
    let (code, v) = verify_sample(&d, None);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AmdCrlMissing");
    // A CRL that is not a CRL is refused, not ignored.
    let (code, v) = verify_sample(&d, Some(&d.join("vcek.der")));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AmdCrlInvalid");
}

#[test]
fn a_crl_revoking_the_ask_rejects_the_report() {
    use attesta_testkit::snp::{SnpSample, pem};
    let s = SnpSample::builder()
        .at(attesta_evidence::UnixTime::now().0)
        .revoke_ask()
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("report.bin"), &s.report).unwrap();
    std::fs::write(d.join("vcek.der"), &s.vek_der).unwrap();
    std::fs::write(
        d.join("ca_chain.pem"),
        format!("{}{}", pem(&s.ask_der), pem(&s.ark_der)),
    )
    .unwrap();
    std::fs::write(d.join("test_root.pem"), pem(&s.ark_der)).unwrap();
    std::fs::write(d.join("crl.der"), s.crl_der.as_ref().unwrap()).unwrap();
    let (code, v) = verify_sample(d, Some(&d.join("crl.der")));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AskRevoked");
}
