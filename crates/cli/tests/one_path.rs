//! One path: for every real DCAP vector in ../shared/vectors that carries
//! its collateral, `attesta verify` and a real `attesta serve` (the vector's
//! collateral imported, the provider pinned to the vector's time) produce
//! the same claims. The token holds exactly the CLI's claims plus the
//! token's own (time, issuer, id, version, policy hash): the attest runs a
//! draft policy that issues nothing, so every other claim in it is a
//! service claim the engine assembled.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, client, run, run_on, serve};
use serde_json::{Map, Value};

/// The claims every token carries whatever the evidence.
const TOKEN_ONLY: [&str; 7] = [
    "iat",
    "exp",
    "nbf",
    "iss",
    "jti",
    "x-ms-ver",
    "x-ms-policy-hash",
];

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

/// (directory, attestation type, `attesta verify` subcommand, pinned time)
/// of every DCAP vector with a full collateral bundle.
fn dcap_vectors() -> Vec<(PathBuf, &'static str, &'static str, String)> {
    let mut out = Vec::new();
    for (family, ty, sub) in [("sgx", "SgxEnclave", "sgx"), ("tdx", "TdxVm", "tdx")] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors().join(family))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        for dir in dirs {
            let complete = [
                "quote.bin",
                "tcb_info.json",
                "pck_crl.der",
                "root_ca_crl.der",
            ]
            .iter()
            .all(|f| dir.join(f).exists());
            let expected: Value =
                serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
            if let (true, Some(at)) = (complete, expected["verification_time_to_pin"].as_str()) {
                out.push((dir, ty, sub, at.to_string()));
            }
        }
    }
    out
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn cli_and_server_give_the_same_claims_for_every_real_dcap_vector() {
    let cases = dcap_vectors();
    // Two SGX and five TDX vectors carry their collateral today; a vector
    // that loses it must not silently shrink this test.
    assert!(cases.len() >= 7, "{cases:?}");
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let draft = tmp.path().join("issue-nothing.policy");
    std::fs::write(
        &draft,
        "version= 1.0; authorizationrules { => permit(); }; issuancerules { };",
    )
    .unwrap();

    let mut rejected = Vec::new();
    for (i, (dir, ty, sub, at)) in cases.iter().enumerate() {
        let name = format!("v{i}");
        let (code, _, err) = run_on(
            &s,
            &mut client(
                &s,
                &["provider", "create", &name, "--verification-time", at],
            ),
        );
        assert_eq!(code, 0, "{}: {err}", dir.display());
        // Imported right before its attest: vectors of one platform share
        // a collateral key, and an import replaces the entry.
        let (code, _, err) = run_on(
            &s,
            &mut client(&s, &["collateral", "import", dir.to_str().unwrap()]),
        );
        assert_eq!(code, 0, "{}: {err}", dir.display());
        let (server_code, out, server_err) = run_on(
            &s,
            client(&s, &["attest", ty, "--provider", &name, "--evidence"])
                .arg(dir.join("quote.bin"))
                .arg("--draft-policy")
                .arg(&draft),
        );
        let (code, cli_out, err) = run(bin()
            .args(["verify", sub, "--quote"])
            .arg(dir.join("quote.bin"))
            .arg("--collateral")
            .arg(dir)
            .args(["--at", at]));
        let verdict = json(&cli_out);
        if code == 1 {
            // Rejected by the CLI (mobilecoin's PCK CRL expired before its
            // TCB info was issued, so no instant makes it all current; the
            // "outdated" TDX platform matches no TCB level, as dcap-qvl
            // finds): the server rejects it too, with the same code.
            let reason = verdict["error"]["code"].as_str().unwrap();
            assert_eq!(
                server_code,
                1,
                "{}: the server accepted what the CLI rejected ({reason})",
                dir.display()
            );
            assert!(
                server_err.contains(&format!(": {reason}:")),
                "{}: the CLI says {reason}, the server: {server_err}",
                dir.display()
            );
            rejected.push(format!(
                "{} {reason}",
                dir.file_name().unwrap().to_string_lossy()
            ));
            continue;
        }
        assert_eq!(code, 0, "{}: {err} {cli_out}", dir.display());
        assert_eq!(
            server_code,
            0,
            "{}: the server rejected what the CLI accepted: {server_err}",
            dir.display()
        );
        let token: Map<String, Value> = json(&out).as_object().unwrap().clone();
        assert_eq!(verdict["verdict"], "accepted");
        let cli = verdict["claims"].as_object().unwrap();

        for (k, v) in cli {
            assert_eq!(
                token.get(k),
                Some(v),
                "{}: claim {k} differs between the CLI and the token",
                dir.display()
            );
        }
        let extra: Vec<&String> = token
            .keys()
            .filter(|k| !cli.contains_key(*k) && !TOKEN_ONLY.contains(&k.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{}: the token has claims the CLI does not print: {extra:?}",
            dir.display()
        );
        // What both agree on is the evidence's, not an empty set.
        assert!(
            cli.contains_key("x-attesta-tcb-status"),
            "{}",
            dir.display()
        );
        assert!(token["x-attesta-verification-time"].is_u64());
    }
    // The two rejections their PROVENANCE files predict; every other
    // vector verifies on both paths.
    assert_eq!(
        rejected,
        [
            "mobilecoin-attestation-sgx-v3 CollateralExpired",
            "dcap-qvl-tdx-v5-outdated TcbLevelNotFound"
        ]
    );
}

/// The certificates of a PEM file, DER, self-signed ones (the ARK) last.
fn chain_ders(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).unwrap();
    let mut ders: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(&text)
        .map(|p| p.unwrap().contents)
        .collect();
    ders.sort_by_key(|d| {
        let (_, c) = x509_parser::parse_x509_certificate(d).unwrap();
        c.subject().as_raw() == c.issuer().as_raw()
    });
    ders
}

#[test]
fn cli_and_server_give_the_same_claims_for_every_real_snp_vector() {
    // Every folder with a report and its VCEK or VLEK chain. None keeps
    // AMD's CRL: the CLI says --no-revocation-check, the provider grants a
    // collateral grace with no KDS to fetch from; both verify without
    // revocation and say so in the claims.
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(vectors().join("snp")).unwrap() {
        let dir = entry.unwrap().path();
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let find = |pred: &dyn Fn(&str) -> bool| {
            files
                .iter()
                .find(|p| pred(p.file_name().unwrap().to_str().unwrap()))
                .cloned()
        };
        let report = find(&|n| n == "report.bin");
        let vek = find(&|n| n == "vcek.der" || n == "vlek.der");
        let chain = find(&|n| n.ends_with(".pem"));
        if let (Some(report), Some(vek), Some(chain)) = (report, vek, chain) {
            cases.push((dir, report, vek, chain));
        }
    }
    cases.sort();
    assert_eq!(cases.len(), 3, "{cases:?}");

    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let draft = tmp.path().join("issue-nothing.policy");
    std::fs::write(
        &draft,
        "version= 1.0; authorizationrules { => permit(); }; issuancerules { };",
    )
    .unwrap();
    for (i, (dir, report, vek, chain_pem)) in cases.iter().enumerate() {
        // Pinned a day into the VCEK's or VLEK's validity (a VLEK lives a
        // year), on both paths.
        let vek_der = std::fs::read(vek).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&vek_der).unwrap();
        let at = attesta_evidence::types::rfc3339(cert.validity().not_before.timestamp() + 86_400);
        let name = format!("snp{i}");
        let (code, _, err) = run_on(
            &s,
            &mut client(
                &s,
                &[
                    "provider",
                    "create",
                    &name,
                    "--collateral-grace-secs",
                    "60",
                    "--verification-time",
                    &at,
                ],
            ),
        );
        assert_eq!(code, 0, "{err}");
        let mut chain = vec![vek_der.clone()];
        chain.extend(chain_ders(chain_pem));
        let doc = tmp.path().join("report.json");
        std::fs::write(
            &doc,
            attesta_evidence::snp::maa::encode_report_json(&std::fs::read(report).unwrap(), &chain),
        )
        .unwrap();
        let (code, out, err) = run_on(
            &s,
            client(
                &s,
                &["attest", "SevSnpVm", "--provider", &name, "--evidence"],
            )
            .arg(&doc)
            .arg("--draft-policy")
            .arg(&draft),
        );
        assert_eq!(code, 0, "{}: {err}", dir.display());
        let token: Map<String, Value> = json(&out).as_object().unwrap().clone();
        let (code, out, err) = run(bin()
            .args(["verify", "snp", "--report"])
            .arg(report)
            .arg("--vcek")
            .arg(vek)
            .arg("--ca-chain")
            .arg(chain_pem)
            .args(["--at", &at])
            .arg("--no-revocation-check"));
        assert_eq!(code, 0, "{}: {err} {out}", dir.display());
        let cli = json(&out)["claims"].as_object().unwrap().clone();
        for (k, v) in &cli {
            assert_eq!(token.get(k), Some(v), "{}: claim {k}", dir.display());
        }
        let extra: Vec<&String> = token
            .keys()
            .filter(|k| !cli.contains_key(*k) && !TOKEN_ONLY.contains(&k.as_str()))
            .collect();
        assert!(extra.is_empty(), "{}: {extra:?}", dir.display());
        assert_eq!(cli["x-attesta-snp-revocation-checked"], false);
        assert_eq!(cli["x-ms-attestation-type"], "sevsnpvm");
    }
}

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
