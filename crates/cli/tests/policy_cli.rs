//! `attesta policy check` and `attesta policy eval` on the real policy texts
//! of the shared vectors: every one parses; a malformed variant of each fails
//! with its file, line and column; evaluation prints the verdict and claims.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn policy_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "maa-policies/azure-samples-maa-signing-tool",
        "maa-sdk/policies",
    ] {
        for e in std::fs::read_dir(vectors().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "txt") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(
        out.len() >= 5,
        "expected the shared policy vectors, found {out:?}"
    );
    out
}

#[test]
fn every_vector_policy_checks_and_a_broken_copy_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    for file in policy_files() {
        let out = bin().args(["policy", "check"]).arg(&file).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (policy version 1."));

        // A stray token on a new last line: the error is at that line, column 1.
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.trim_end().to_string();
        let broken = format!("{text}\n@");
        let line = broken.lines().count();
        let bad = tmp.path().join(file.file_name().unwrap());
        std::fs::write(&bad, &broken).unwrap();
        let out = bin().args(["policy", "check"]).arg(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", bad.display());
        let err = String::from_utf8_lossy(&out.stderr);
        let want = format!("{}:{line}:1:", bad.display());
        assert!(err.starts_with(&want), "{err} should start with {want}");
    }
}

#[test]
fn eval_prints_verdict_and_claims_and_exits_zero_either_way() {
    let tmp = tempfile::tempdir().unwrap();
    let claims = tmp.path().join("claims.json");
    std::fs::write(
        &claims,
        r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-mrsigner": "aa", "x-ms-sgx-mrenclave": "bb",
            "x-ms-sgx-product-id": 1, "x-ms-sgx-svn": 2, "x-ms-attestation-type": "sgx"}"#,
    )
    .unwrap();
    let default = tmp.path().join("default.txt");
    std::fs::write(
        &default,
        attesta_policy::defaults::default_policy("SgxEnclave").unwrap(),
    )
    .unwrap();
    let out = bin()
        .args(["policy", "eval"])
        .arg(&default)
        .arg("--claims")
        .arg(&claims)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["permit"], true);
    assert_eq!(v["claims"]["sgx-mrsigner"], "aa");
    assert_eq!(v["claims"]["product-id"], 1);
    assert_eq!(v["claims"]["is-debuggable"], false);
    assert_eq!(v["claims"]["tee"], "sgx");

    let strict = tmp.path().join("strict.txt");
    std::fs::write(
        &strict,
        "version=1.0; authorizationrules { [type==\"x-ms-sgx-is-debuggable\", value==true] => permit(); }; issuancerules {};",
    )
    .unwrap();
    let out = bin()
        .args(["policy", "eval"])
        .arg(&strict)
        .arg("--claims")
        .arg(&claims)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["permit"], false);

    let broken = tmp.path().join("broken.txt");
    std::fs::write(&broken, "version=1.0; authorizationrules { => permit() };").unwrap();
    let out = bin()
        .args(["policy", "eval"])
        .arg(&broken)
        .arg("--claims")
        .arg(&claims)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
