//! `attesta verify`, `inspect` and `sample` for SGX and Open Enclave: the
//! output contract ({"verdict","error","claims"}; exit 0 accepted, 1
//! rejected, 2 usage) on real vectors at their pinned times and on testkit
//! samples under an explicitly trusted test root.

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
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, v)
}

#[test]
fn real_sgx_vector_is_accepted_at_its_pinned_time_and_rejected_later() {
    let dir = vectors().join("sgx/dcap-qvl-sgx-v3");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let at = expected["verification_time_to_pin"].as_str().unwrap();
    let (code, v) = run(bin()
        .args(["verify", "sgx", "--quote"])
        .arg(dir.join("quote.bin"))
        .arg("--collateral")
        .arg(&dir)
        .args(["--at", at]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "accepted");
    assert!(v["error"].is_null());
    assert_eq!(
        v["claims"]["x-attesta-tcb-status"],
        "ConfigurationAndSWHardeningNeeded"
    );
    assert_eq!(v["claims"]["x-ms-attestation-type"], "sgx");

    // Now (collateral long expired): rejected with the failing check's code.
    let (code, v) = run(bin()
        .args(["verify", "sgx", "--quote"])
        .arg(dir.join("quote.bin"))
        .arg("--collateral")
        .arg(&dir));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["verdict"], "rejected");
    assert!(
        v["error"]["code"].as_str().unwrap().ends_with("Expired"),
        "{v}"
    );

    // Inspect decodes without judging.
    let (code, v) = run(bin().args(["inspect", "sgx"]).arg(dir.join("quote.bin")));
    assert_eq!(code, 0);
    assert_eq!(v["header"]["version"], 3);
    assert_eq!(v["pck_extension"]["fmspc"], "00A067110000");
}

#[test]
fn sample_then_verify_with_and_without_the_test_root() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let rt = tmp.path().join("rt.bin");
    std::fs::write(&rt, b"hello enclave").unwrap();
    let st = bin()
        .args(["sample", "openenclave", "--out"])
        .arg(&out)
        .arg("--runtime-data")
        .arg(&rt)
        .status()
        .unwrap();
    assert!(st.success());
    let report = out.join("report.bin");
    let verify = |extra: &[&str]| {
        let mut c = bin();
        c.args(["verify", "openenclave", "--report"])
            .arg(&report)
            .arg("--collateral")
            .arg(out.join("collateral"));
        c.args(extra);
        run(&mut c)
    };
    // Intel's root alone does not trust the test PKI.
    let (code, v) = verify(&[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "UntrustedRoot");
    let root = out.join("test_root.pem");
    let root = root.to_str().unwrap();
    let rtp = rt.to_str().unwrap();
    let (code, v) = verify(&["--trust-root", root, "--runtime-data", rtp]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["claims"]["x-attesta-test-root"], true);
    assert!(v["claims"]["x-ms-sgx-ehd"].is_string());
    // Runtime data that was not bound.
    let other = tmp.path().join("other.bin");
    std::fs::write(&other, b"other").unwrap();
    let (code, v) = verify(&[
        "--trust-root",
        root,
        "--runtime-data",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "RuntimeDataMismatch");
    // Usage errors exit 2.
    let (code, _) = verify(&["--at", "yesterday"]);
    assert_eq!(code, 2);
    let (code, _) = run(bin().args([
        "verify",
        "sgx",
        "--quote",
        "/nonexistent",
        "--collateral",
        "/nonexistent",
    ]));
    // A file that cannot be read is local I/O: exit 4, never a verdict.
    assert_eq!(code, 4);
    let (code, _) = run(bin()
        .args(["verify", "openenclave", "--report"])
        .arg(&report)
        .args(["--collateral", "/nonexistent"]));
    assert_eq!(code, 4);
    // A directory without collateral is a rejection that says to add a
    // bundle, once the chain is trusted (as on the server, the PCK chain's
    // root is judged before collateral is looked for); a bundle missing a
    // file names it (the partial TDX vector below).
    let (code, v) = run(bin()
        .args(["verify", "openenclave", "--report"])
        .arg(&report)
        .args(["--collateral", tmp.path().to_str().unwrap()]));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "UntrustedRoot");
    let empty = tempfile::tempdir().unwrap();
    let (code, v) = run(bin()
        .args(["verify", "openenclave", "--report"])
        .arg(&report)
        .args(["--trust-root", root])
        .arg("--collateral")
        .arg(empty.path()));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "NoOfflineBundle");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("add a bundle for this platform"),
        "{v}"
    );
}

#[test]
fn tdx_verify_inspect_and_sample() {
    let dir = vectors().join("tdx/dcap-qvl-tdx-v4");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let at = expected["verification_time_to_pin"].as_str().unwrap();
    let (code, v) = run(bin()
        .args(["verify", "tdx", "--quote"])
        .arg(dir.join("quote.bin"))
        .arg("--collateral")
        .arg(&dir)
        .args(["--at", at]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["claims"]["attester_tcb_status"], "UpToDate");
    assert_eq!(v["claims"]["tdx_mrtd"], expected["report"]["mrtd"]);

    // The partial folder has no CRLs: rejected for missing collateral.
    let partial = vectors().join("tdx/trustee-tdx-quote6-partial");
    let quote = std::fs::read_dir(&partial)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "bin" || x == "dat"))
        .unwrap();
    let (code, v) = run(bin()
        .args(["verify", "tdx", "--quote"])
        .arg(&quote)
        .arg("--collateral")
        .arg(&partial));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "MissingFile");
    let (code, v) = run(bin().args(["inspect", "tdx"]).arg(&quote));
    assert_eq!(code, 0);
    assert_eq!(v["trailing_bytes"], 70);

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("td");
    assert!(
        bin()
            .args(["sample", "tdx", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let (code, v) = run(bin()
        .args(["verify", "tdx", "--quote"])
        .arg(out.join("quote.bin"))
        .arg("--collateral")
        .arg(out.join("collateral"))
        .arg("--trust-root")
        .arg(out.join("test_root.pem")));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["claims"]["x-attesta-test-root"], true);
}
