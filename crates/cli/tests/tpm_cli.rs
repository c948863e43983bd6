//! `attesta inspect tpm-eventlog` replays every shared event log to the PCR
//! values its source states; `attesta verify tpm` accepts the GCE
//! attestation and rejects a wrong nonce, with the verify output contract.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn tpm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tpm")
}

fn run(cmd: &mut Command) -> (i32, Value) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn inspect_eventlog_replays_to_the_stated_pcrs() {
    let dir = tpm().join("go-tpm-tools-eventlogs");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected_pcrs.json")).unwrap()).unwrap();
    for (file, exp) in expected.as_object().unwrap() {
        let (code, v) = run(bin().args(["inspect", "tpm-eventlog"]).arg(dir.join(file)));
        assert_eq!(code, 0, "{file}");
        for (bank, pcrs) in exp["source_stated_pcrs"].as_object().unwrap() {
            for (idx, value) in pcrs.as_object().unwrap() {
                assert_eq!(&v["pcrs"][bank][idx], value, "{file} {bank} PCR {idx}");
            }
        }
        assert!(v["events"].as_array().is_some_and(|e| !e.is_empty()));
    }
    let (code, _) = run(bin()
        .args(["inspect", "tpm-eventlog"])
        .arg(dir.join("expected_pcrs.json")));
    assert_eq!(code, 1);
}

#[test]
fn verify_tpm_on_the_gce_attestation() {
    let dir = tpm().join("go-tpm-tools-gce-cos85-nonce9009");
    let mut base = bin();
    base.args(["verify", "tpm"]);
    for bank in ["sha1", "sha256", "sha384"] {
        base.arg("--attest")
            .arg(dir.join(format!("quote_{bank}_attest.bin")));
        base.arg("--signature")
            .arg(dir.join(format!("quote_{bank}_sig.tpmt_signature.bin")));
        base.arg("--pcrs")
            .arg(dir.join(format!("quote_{bank}_pcrs.json")));
    }
    base.arg("--ak-pub").arg(dir.join("ak_pub.tpmt_public.bin"));
    base.arg("--ak-cert").arg(dir.join("ak_cert.der"));
    base.arg("--ca").arg(dir.join("gce_ek_root_1.der"));
    base.arg("--ca").arg(dir.join("gce_ek_intermediate_2.der"));
    base.arg("--event-log").arg(dir.join("event_log.bin"));
    let args: Vec<_> = base.get_args().map(|a| a.to_owned()).collect();
    let with = |extra: &[&str]| {
        let mut c = bin();
        c.args(&args).args(extra);
        run(&mut c)
    };
    let (code, v) = with(&["--nonce", "9009"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["claims"]["aikValidated"], true);
    assert_eq!(v["claims"]["secureBootEnabled"], true);
    assert_eq!(v["claims"]["x-attesta-test-root"], true);
    let (code, v) = with(&["--nonce", "9010"]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "NonceMismatch");
    let (code, _) = with(&["--nonce", "zz"]);
    assert_eq!(code, 2);
}
