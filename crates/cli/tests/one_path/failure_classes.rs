//! Each TEE's failure classes the real vectors cannot reach — revoked,
//! expired, wrong root, binding mismatch, a revoked TCB — on `attesta
//! sample` evidence, through the server path and the CLI path.

use serde_json::Value;

use crate::common::*;

/// One failure class of the table below.
struct Class {
    name: &'static str,
    /// `attesta sample …` arguments (the output directory is appended).
    sample: &'static [&'static str],
    /// Attestation type for the server.
    ty: &'static str,
    /// Whether the provider and the CLI trust the sample's test root.
    trusted: bool,
    /// A pinned time for both paths, if any.
    at: Option<&'static str>,
    /// Runtime data sent with the evidence, if any (the sample binds
    /// `bound.json`).
    runtime: Option<&'static str>,
    /// `Err(code)`, or `Ok((claim, value))` that both paths must show.
    outcome: Result<(&'static str, Value), &'static str>,
}

/// Each TEE's failure classes — revoked, expired, wrong root, binding
/// mismatch, a revoked TCB — through the server path and the CLI path:
/// rejected on both with the same code (and a debug enclave accepted on
/// both, saying so), so glue cannot silently drop a check on one path.
#[test]
fn each_failure_class_is_judged_alike_by_the_server_and_the_cli() {
    let classes = [
        Class {
            name: "SGX PCK certificate revoked",
            sample: &["sgx", "--revoked"],
            ty: "SgxEnclave",
            trusted: true,
            at: None,
            runtime: None,
            outcome: Err("PckCertificateRevoked"),
        },
        Class {
            name: "SGX platform TCB revoked",
            sample: &["sgx", "--tcb-status", "revoked"],
            ty: "SgxEnclave",
            trusted: true,
            at: None,
            runtime: None,
            outcome: Err("TcbRevoked"),
        },
        Class {
            name: "SGX chain to an untrusted root",
            sample: &["sgx"],
            ty: "SgxEnclave",
            trusted: false,
            at: None,
            runtime: None,
            outcome: Err("UntrustedRoot"),
        },
        Class {
            name: "SGX collateral expired",
            sample: &["sgx"],
            ty: "SgxEnclave",
            trusted: true,
            at: Some("2040-01-01T00:00:00Z"),
            runtime: None,
            outcome: Err("CollateralExpired"),
        },
        Class {
            name: "SGX runtime data not bound",
            sample: &["sgx"],
            ty: "SgxEnclave",
            trusted: true,
            at: None,
            runtime: Some("unbound"),
            outcome: Err("RuntimeDataMismatch"),
        },
        Class {
            name: "OE out-of-date debug enclave (accepted, and said)",
            sample: &["openenclave", "--debug", "--tcb-status", "out-of-date"],
            ty: "OpenEnclave",
            trusted: true,
            at: None,
            runtime: Some("bound"),
            outcome: Ok(("x-ms-sgx-is-debuggable", Value::Bool(true))),
        },
        Class {
            name: "TDX chain to an untrusted root",
            sample: &["tdx"],
            ty: "TdxVm",
            trusted: false,
            at: None,
            runtime: None,
            outcome: Err("UntrustedRoot"),
        },
        Class {
            name: "SEV-SNP VCEK revoked by the imported CRL",
            sample: &["snp", "--revoked"],
            ty: "SevSnpVm",
            trusted: true,
            at: None,
            runtime: None,
            outcome: Err("VcekRevoked"),
        },
    ];
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let bound = tmp.path().join("bound.json");
    std::fs::write(&bound, br#"{"key":"bound"}"#).unwrap();
    let unbound = tmp.path().join("unbound.json");
    std::fs::write(&unbound, br#"{"key":"other"}"#).unwrap();
    for (i, c) in classes.iter().enumerate() {
        let dir = tmp.path().join(format!("s{i}"));
        let snp = c.ty == "SevSnpVm";
        let mut sample = bin();
        sample.arg("sample").args(c.sample).arg("--out").arg(&dir);
        if !snp && c.ty != "TdxVm" {
            sample.arg("--runtime-data").arg(&bound);
        }
        let (code, _, err) = run(&mut sample);
        assert_eq!(code, 0, "{}: {err}", c.name);
        let root = dir.join("test_root.pem");
        let runtime = c
            .runtime
            .map(|r| if r == "bound" { &bound } else { &unbound });

        // The server: a provider trusting the test root (or not), the
        // sample's collateral imported, the evidence attested.
        let name = format!("c{i}");
        let mut create = client(&s, &["provider", "create", &name]);
        if c.trusted {
            create
                .arg(if snp {
                    "--test-root-amd"
                } else {
                    "--test-root-intel"
                })
                .arg(&root);
        }
        if let Some(at) = c.at {
            create.args(["--verification-time", at]);
        }
        let (code, _, err) = run_on(&s, &mut create);
        assert_eq!(code, 0, "{}: {err}", c.name);
        let collateral = if snp {
            dir.clone()
        } else {
            dir.join("collateral")
        };
        let (code, _, err) = run_on(&s, client(&s, &["collateral", "import"]).arg(&collateral));
        assert_eq!(code, 0, "{}: {err}", c.name);
        let evidence = match c.ty {
            "SevSnpVm" => dir.join("report_member.txt"),
            "OpenEnclave" => dir.join("report.bin"),
            _ => dir.join("quote.bin"),
        };
        let mut attest = client(&s, &["attest", c.ty, "--provider", &name, "--evidence"]);
        attest.arg(&evidence);
        if let Some(r) = runtime {
            attest.arg("--runtime-data").arg(r);
        }
        let (server_code, server_out, server_err) = run_on(&s, &mut attest);

        // The CLI over the same files.
        let mut verify = bin();
        match c.ty {
            "SevSnpVm" => {
                verify
                    .args(["verify", "snp", "--report"])
                    .arg(dir.join("report.bin"))
                    .arg("--vcek")
                    .arg(dir.join("vcek.der"))
                    .arg("--ca-chain")
                    .arg(dir.join("ca_chain.pem"))
                    .arg("--crl")
                    .arg(dir.join("crl.der"));
            }
            ty => {
                let (sub, flag) = match ty {
                    "OpenEnclave" => ("openenclave", "--report"),
                    "TdxVm" => ("tdx", "--quote"),
                    _ => ("sgx", "--quote"),
                };
                verify
                    .args(["verify", sub, flag])
                    .arg(&evidence)
                    .arg("--collateral")
                    .arg(&collateral);
            }
        }
        if c.trusted {
            verify.arg("--trust-root").arg(&root);
        }
        if let Some(at) = c.at {
            verify.args(["--at", at]);
        }
        if let Some(r) = runtime {
            verify.arg("--runtime-data").arg(r);
        }
        let (cli_code, cli_out, cli_err) = run(&mut verify);
        let verdict = json(&cli_out);
        match &c.outcome {
            Err(code) => {
                assert_eq!(cli_code, 1, "{}: {cli_out} {cli_err}", c.name);
                assert_eq!(verdict["error"]["code"], *code, "{}: {cli_out}", c.name);
                assert_ne!(server_code, 0, "{}: the server accepted it", c.name);
                assert!(
                    server_err.contains(&format!(": {code}:")),
                    "{}: the server said {server_err}",
                    c.name
                );
            }
            Ok((claim, value)) => {
                assert_eq!(cli_code, 0, "{}: {cli_out} {cli_err}", c.name);
                assert_eq!(server_code, 0, "{}: {server_err}", c.name);
                assert_eq!(verdict["claims"][*claim], *value, "{}", c.name);
                assert_eq!(json(&server_out)[*claim], *value, "{}", c.name);
            }
        }
    }
}
