//! `attesta verify azure-guest` and `attesta inspect hcl-report` run as the
//! built binary against the real Azure CVM captures: each verifies with its
//! quote's nonce and gives the stated claims; a wrong nonce, another VM's
//! VCEK, a changed PCR value, the PROVENANCE byte change and hardware
//! inputs of the other TEE are rejected with their codes; missing
//! hardware inputs are usage errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SNP: [&str; 4] = [
    "trustee-az-snp-vtpm-v0",
    "trustee-az-snp-vtpm-v1",
    "trustee-az-snp-vtpm-v2",
    "trustee-az-snp-vtpm-genoa",
];
const TDX: &str = "trustee-az-tdx-vtpm";
const AT: &str = "2025-06-05T03:45:00Z";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn dir(name: &str) -> PathBuf {
    vectors().join("azure-cvm").join(name)
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir(name).join("expected.json")).unwrap()).unwrap()
}

fn nonce(name: &str) -> String {
    expected(name)["tpm_quote"]["nonce_expected"]
        .as_str()
        .unwrap()
        .to_string()
}

fn run(cmd: &mut Command) -> (i32, Value) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

/// `verify azure-guest` for capture `name`, with `hcl`/`pcrs`/`vcek`
/// replacing the capture's files when given.
fn verify(name: &str, nonce: &str, overrides: &[(&str, &Path)]) -> (i32, Value) {
    let d = dir(name);
    let file = |flag: &str, default: PathBuf| {
        overrides
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, p)| p.to_path_buf())
            .unwrap_or(default)
    };
    let mut cmd = bin();
    cmd.args(["verify", "azure-guest", "--hcl-report"])
        .arg(file("--hcl-report", d.join("hcl_report.bin")))
        .arg("--quote")
        .arg(d.join("tpm_quote_attest.bin"))
        .arg("--signature")
        .arg(d.join("tpm_quote_sig.bin"))
        .arg("--pcrs")
        .arg(file("--pcrs", d.join("tpm_pcrs_sha256.json")))
        .args(["--nonce", nonce, "--at", AT]);
    if name == TDX {
        cmd.arg("--td-quote")
            .arg(d.join("td_quote.bin"))
            .arg("--collateral")
            .arg(vectors().join("tdx/automata-tdx-v4"));
    } else {
        cmd.arg("--vcek")
            .arg(file("--vcek", d.join("vcek.pem")))
            .arg("--ca-chain")
            .arg(file("--ca-chain", d.join("ask_ark.pem")));
        // The captures carry no AMD CRL: revocation is explicitly not
        // checked (and the claims say so); see the test below.
        if !overrides.iter().any(|(f, _)| *f == "--crl") {
            cmd.arg("--no-revocation-check");
        } else {
            cmd.arg("--crl").arg(file("--crl", PathBuf::new()));
        }
    }
    run(&mut cmd)
}

#[test]
fn snp_captures_need_amds_crl_or_an_explicit_opt_out() {
    let d = dir(SNP[0]);
    let (code, out) = run(bin()
        .args(["verify", "azure-guest", "--hcl-report"])
        .arg(d.join("hcl_report.bin"))
        .arg("--quote")
        .arg(d.join("tpm_quote_attest.bin"))
        .arg("--signature")
        .arg(d.join("tpm_quote_sig.bin"))
        .arg("--pcrs")
        .arg(d.join("tpm_pcrs_sha256.json"))
        .args(["--nonce", &nonce(SNP[0]), "--at", AT])
        .arg("--vcek")
        .arg(d.join("vcek.pem"))
        .arg("--ca-chain")
        .arg(d.join("ask_ark.pem")));
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["code"], "AmdCrlMissing", "{out}");
    let (code, out) = verify(SNP[0], &nonce(SNP[0]), &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["claims"]["x-attesta-snp-revocation-checked"], false);
    // A CRL that is not AMD's DER CRL is refused, never ignored.
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"\x30\x03\x02\x01\x01").unwrap();
    let (code, out) = verify(SNP[0], &nonce(SNP[0]), &[("--crl", junk.path())]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["code"], "AmdCrlInvalid", "{out}");
}

#[test]
fn every_capture_verifies_with_its_stated_claims() {
    for name in SNP.iter().copied().chain([TDX]) {
        let e = expected(name);
        let (code, out) = verify(name, &nonce(name), &[]);
        assert_eq!(code, 0, "{name}: {out}");
        assert_eq!(out["verdict"], "accepted");
        assert_eq!(out["error"], Value::Null);
        let c = &out["claims"];
        assert_eq!(c["x-ms-attestation-type"], "azurevm");
        assert_eq!(
            c["x-ms-azurevm-vmid"],
            e["hcl"]["vm_configuration"]["vmUniqueId"]
        );
        let tee = &c["x-ms-isolation-tee"];
        assert_eq!(
            tee["x-ms-runtime"]["vm-configuration"], e["hcl"]["vm_configuration"],
            "{name}"
        );
        if name == TDX {
            assert_eq!(tee["tdx_mrtd"], e["td_quote"]["report"]["mrtd"]);
            assert_eq!(
                tee["tdx_report_data"],
                e["td_quote"]["report"]["reportdata"]
            );
        } else {
            assert_eq!(
                tee["x-ms-sevsnpvm-launchmeasurement"], e["snp"]["report"]["measurement"],
                "{name}"
            );
            assert_eq!(
                tee["x-ms-sevsnpvm-reportdata"],
                e["snp"]["report"]["report_data"]
            );
        }
        let pcrs: Value =
            serde_json::from_slice(&std::fs::read(dir(name).join("tpm_pcrs_sha256.json")).unwrap())
                .unwrap();
        for p in c["x-attesta-azurevm-pcrs"]["PCRs"].as_array().unwrap() {
            let i = p["Index"].as_u64().unwrap().to_string();
            assert_eq!(p["Digests"]["SHA256"], pcrs[&i], "{name} PCR {i}");
        }
    }
}

#[test]
fn the_milan_and_tdx_captures_verify_with_challenge() {
    for name in [SNP[0], SNP[1], TDX] {
        let (code, out) = verify(name, "6368616c6c656e6765", &[]);
        assert_eq!(code, 0, "{name}: {out}");
    }
}

#[test]
fn broken_links_are_rejected_with_their_codes() {
    let tmp = tempfile::tempdir().unwrap();
    for name in SNP.iter().copied().chain([TDX]) {
        // A wrong nonce.
        let (code, out) = verify(name, "6368616c6c656e6766", &[]);
        assert_eq!(code, 1, "{name}: {out}");
        assert_eq!(out["verdict"], "rejected");
        assert_eq!(out["error"]["code"], "NonceMismatch", "{name}");
        assert_eq!(out["claims"], serde_json::json!({}));

        // The byte change the TDX PROVENANCE names (inside every capture's
        // variable data).
        let mut hcl = std::fs::read(dir(name).join("hcl_report.bin")).unwrap();
        hcl[0x0880] = hcl[0x0880].wrapping_add(1);
        let p = tmp.path().join(format!("{name}-hcl.bin"));
        std::fs::write(&p, &hcl).unwrap();
        let (code, out) = verify(name, &nonce(name), &[("--hcl-report", &p)]);
        assert_eq!(code, 1);
        assert_eq!(out["error"]["code"], "VarDataHashMismatch", "{name}");

        // A changed PCR value.
        let mut pcrs: Value =
            serde_json::from_slice(&std::fs::read(dir(name).join("tpm_pcrs_sha256.json")).unwrap())
                .unwrap();
        pcrs["4"] = Value::from("00".repeat(32));
        let p = tmp.path().join(format!("{name}-pcrs.json"));
        std::fs::write(&p, pcrs.to_string()).unwrap();
        let (code, out) = verify(name, &nonce(name), &[("--pcrs", &p)]);
        assert_eq!(code, 1);
        assert_eq!(out["error"]["code"], "PcrDigestMismatch", "{name}");
    }
    // Another VM's VCEK.
    let other = dir(SNP[2]);
    let (code, out) = verify(
        SNP[0],
        &nonce(SNP[0]),
        &[
            ("--vcek", &other.join("vcek.pem")),
            ("--ca-chain", &other.join("ask_ark.pem")),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(out["error"]["code"], "ReportSignatureInvalid");
    // A TDX guest's HCL report with SEV-SNP hardware inputs.
    let snp = dir(SNP[0]);
    let (code, out) = run(bin()
        .args(["verify", "azure-guest", "--hcl-report"])
        .arg(dir(TDX).join("hcl_report.bin"))
        .arg("--quote")
        .arg(dir(TDX).join("tpm_quote_attest.bin"))
        .arg("--signature")
        .arg(dir(TDX).join("tpm_quote_sig.bin"))
        .arg("--pcrs")
        .arg(dir(TDX).join("tpm_pcrs_sha256.json"))
        .args(["--nonce", &nonce(TDX), "--at", AT, "--no-revocation-check"])
        .arg("--vcek")
        .arg(snp.join("vcek.pem"))
        .arg("--ca-chain")
        .arg(snp.join("ask_ark.pem")));
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["code"], "HclCollateralMismatch", "{out}");
}

#[test]
fn missing_or_mixed_hardware_inputs_are_usage_errors() {
    let d = dir(SNP[0]);
    let base = |cmd: &mut Command| {
        cmd.args(["verify", "azure-guest", "--hcl-report"])
            .arg(d.join("hcl_report.bin"))
            .arg("--quote")
            .arg(d.join("tpm_quote_attest.bin"))
            .arg("--signature")
            .arg(d.join("tpm_quote_sig.bin"))
            .arg("--pcrs")
            .arg(d.join("tpm_pcrs_sha256.json"));
    };
    let mut cmd = bin();
    base(&mut cmd);
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
    let mut cmd = bin();
    base(&mut cmd);
    cmd.arg("--vcek")
        .arg(d.join("vcek.pem"))
        .arg("--td-quote")
        .arg(d.join("snp_report.bin"));
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
    let mut cmd = bin();
    base(&mut cmd);
    cmd.arg("--vcek")
        .arg(d.join("vcek.pem"))
        .arg("--ca-chain")
        .arg(d.join("ask_ark.pem"))
        .args(["--nonce", "zz"]);
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
}

#[test]
fn inspect_decodes_every_capture() {
    for name in SNP.iter().copied().chain([TDX]) {
        let e = expected(name);
        let (code, out) = run(bin()
            .args(["inspect", "hcl-report"])
            .arg(dir(name).join("hcl_report.bin")));
        assert_eq!(code, 0, "{name}");
        assert_eq!(out["igvm"]["report_type"], e["hcl"]["report_type"]);
        assert_eq!(out["igvm"]["report_data_hash_type"], "SHA256");
        assert_eq!(out["header"]["report_size"], e["hcl"]["report_size"]);
        assert_eq!(out["var_data_digest"], e["hcl"]["var_data_sha256"]);
        assert_eq!(out["var_data_digest_matches_report_data"], true);
        assert_eq!(
            out["runtime"]["vm-configuration"],
            e["hcl"]["vm_configuration"]
        );
        assert_eq!(out["total_len"], e["hcl"]["total_len"]);
    }
    // Not an HCL report: exit 1 with a typed error on stderr.
    let out = bin()
        .args(["inspect", "hcl-report"])
        .arg(dir(SNP[0]).join("snp_report.bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EvidenceMalformed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
