//! Real software-TPM evidence (swtpm + tpm2-tools, made by
//! tests/tpm-sim/make-evidence.sh) through `attesta verify tpm`: RSA and ECC
//! attestation keys, secure boot on and off, and a wrong nonce.
//!
//! The evidence is made by the test command's swtpm stage, which sets
//! ATTESTA_SWTPM_EVIDENCE to a directory holding `on/` and `off/`; the
//! stage runs this test with `--ignored`, and the test fails when that
//! variable is missing, so it can never pass without a real TPM.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(dir: &Path, ecc: bool, nonce: &str) -> (i32, Value) {
    let (quote, sig, ak, cert) = if ecc {
        (
            "quote_ecc.msg",
            "quote_ecc.sig",
            "ak_ecc.tpmt",
            "ak_ecc_cert.der",
        )
    } else {
        ("quote.msg", "quote.sig", "ak.tpmt", "ak_cert.der")
    };
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(["verify", "tpm", "--attest"])
        .arg(dir.join(quote))
        .arg("--signature")
        .arg(dir.join(sig))
        .arg("--ak-pub")
        .arg(dir.join(ak))
        .arg("--ak-cert")
        .arg(dir.join(cert))
        .arg("--ca")
        .arg(dir.join("ca.pem"))
        .arg("--pcrs")
        .arg(dir.join("pcrs.json"))
        .arg("--event-log")
        .arg(dir.join("eventlog.bin"))
        .args(["--nonce", nonce, "--required-pcr-mask", "0xff"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
#[ignore = "needs swtpm evidence: run by the test command's swtpm stage"]
fn swtpm_quotes_verify_offline() {
    let root = std::env::var("ATTESTA_SWTPM_EVIDENCE")
        .expect("ATTESTA_SWTPM_EVIDENCE must name the swtpm evidence");
    for (sub, secure_boot) in [("on", true), ("off", false)] {
        let dir = Path::new(&root).join(sub);
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let nonce = manifest["nonce_hex"].as_str().unwrap();
        assert_eq!(
            manifest["expected_claims"]["secure_boot_enabled"],
            secure_boot
        );
        for ecc in [false, true] {
            let (code, v) = run(&dir, ecc, nonce);
            assert_eq!(code, 0, "{sub} ecc={ecc}: {v}");
            assert_eq!(v["claims"]["aikValidated"], true);
            assert_eq!(
                v["claims"]["secureBootEnabled"], secure_boot,
                "{sub} ecc={ecc}"
            );
            let pcr7 = v["claims"]["pcrs"]["PCRs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["Index"] == 7)
                .unwrap()
                .clone();
            assert_eq!(
                pcr7["Digests"]["SHA256"],
                manifest["expected_claims"]["pcrs"]["sha256"]["7"]
            );
        }
        let (code, v) = run(&dir, false, "00");
        assert_eq!(code, 1);
        assert_eq!(v["error"]["code"], "NonceMismatch");
    }
}
