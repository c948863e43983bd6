//! DCAP evidence (SGX quotes, Open Enclave reports, TD quotes): `attesta
//! verify sgx|openenclave|tdx --collateral DIR` against `attesta attest`
//! on a server with the same collateral imported and the provider pinned
//! to the same time. The attest runs a draft policy that issues nothing,
//! so every claim in the token is a service claim the engine assembled.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::common::*;

/// What both paths must say about one piece of evidence.
enum Expect {
    /// Accepted, with these claims among the CLI's (and so the token's).
    Claims(Vec<(&'static str, Value)>),
    /// Rejected with this code.
    Rejected(&'static str),
}

/// One DCAP comparison.
struct Case {
    name: String,
    evidence: PathBuf,
    /// SgxEnclave, OpenEnclave or TdxVm.
    ty: &'static str,
    /// The collateral bundle (imported into the server, `--collateral` for
    /// the CLI); none: nothing imported, an empty directory for the CLI.
    collateral: Option<PathBuf>,
    at: Option<String>,
    runtime_data: Option<PathBuf>,
    expect: Expect,
}

/// The server's `attest` and the CLI's `verify` of `c`: the same claims
/// or the same rejection. Returns the rejection code, if any.
fn compare(s: &Server, tmp: &Path, i: usize, c: &Case) -> Option<String> {
    let name = format!("d{i}");
    let mut create = client(s, &["provider", "create", &name]);
    if let Some(at) = &c.at {
        create.args(["--verification-time", at]);
    }
    let (code, _, err) = run_on(s, &mut create);
    assert_eq!(code, 0, "{}: {err}", c.name);
    let empty = tmp.join("no-collateral");
    std::fs::create_dir_all(&empty).unwrap();
    let collateral = match &c.collateral {
        Some(dir) => {
            // Imported right before its attest: vectors of one platform
            // share a collateral key, and an import replaces the entry.
            let (code, _, err) = run_on(s, client(s, &["collateral", "import"]).arg(dir));
            assert_eq!(code, 0, "{}: {err}", c.name);
            dir.clone()
        }
        None => empty,
    };
    let mut attest = client(s, &["attest", c.ty, "--provider", &name, "--evidence"]);
    attest
        .arg(&c.evidence)
        .arg("--draft-policy")
        .arg(issue_nothing_policy(tmp));
    let mut verify = bin();
    let (sub, flag) = match c.ty {
        "SgxEnclave" => ("sgx", "--quote"),
        "OpenEnclave" => ("openenclave", "--report"),
        _ => ("tdx", "--quote"),
    };
    verify
        .args(["verify", sub, flag])
        .arg(&c.evidence)
        .arg("--collateral")
        .arg(&collateral);
    if let Some(at) = &c.at {
        verify.args(["--at", at]);
    }
    if let Some(r) = &c.runtime_data {
        attest.arg("--runtime-data").arg(r);
        verify.arg("--runtime-data").arg(r);
    }
    let server = run_on(s, &mut attest);
    let cli = run(&mut verify);
    match &c.expect {
        Expect::Rejected(want) => {
            let code = cli_rejection(&c.name, &cli);
            assert_eq!(code, *want, "{}: {}", c.name, cli.1);
            assert_attest_refused(&c.name, &server, &code);
            Some(code)
        }
        Expect::Claims(pinned) => {
            let claims = cli_claims(&c.name, &cli);
            let (code, out, err) = &server;
            assert_eq!(
                *code, 0,
                "{}: the server rejected what the CLI accepted: {err}",
                c.name
            );
            let token: Map<String, Value> = json(out).as_object().unwrap().clone();
            assert_same_claims(&c.name, &claims, &token, &[]);
            for (claim, value) in pinned {
                assert_eq!(&claims[*claim], value, "{}: {claim}", c.name);
            }
            assert!(token["x-attesta-verification-time"].is_u64());
            None
        }
    }
}

/// What expected.json pins for a DCAP vector with its own collateral: the
/// enclave's or TD's measurement and report data, and the platform TCB
/// status computed at collection time.
fn pinned_claims(ty: &str, e: &Value) -> Vec<(&'static str, Value)> {
    let r = &e["report"];
    let mut out = if ty == "SgxEnclave" {
        vec![
            ("x-ms-sgx-mrenclave", r["mrenclave"].clone()),
            ("x-ms-sgx-mrsigner", r["mrsigner"].clone()),
            ("x-ms-sgx-report-data", r["reportdata"].clone()),
        ]
    } else {
        vec![
            ("tdx_mrtd", r["mrtd"].clone()),
            ("tdx_report_data", r["reportdata"].clone()),
        ]
    };
    out.push((
        "x-attesta-tcb-status",
        e["computed_platform_tcb_level"]["tcbStatus"].clone(),
    ));
    out
}

#[test]
fn every_real_dcap_vector_with_its_own_collateral() {
    let mut cases = Vec::new();
    for (family, ty) in [("sgx", "SgxEnclave"), ("tdx", "TdxVm")] {
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
            let e = expected(&dir);
            let (true, Some(at)) = (complete, e["verification_time_to_pin"].as_str()) else {
                continue;
            };
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            // The two rejections their PROVENANCE files predict:
            // mobilecoin's PCK CRL expired before its TCB info was issued,
            // so no instant makes it all current; the "outdated" TDX
            // platform matches no TCB level, as dcap-qvl finds.
            let expect = match name.as_str() {
                "mobilecoin-attestation-sgx-v3" => Expect::Rejected("CollateralExpired"),
                "dcap-qvl-tdx-v5-outdated" => Expect::Rejected("TcbLevelNotFound"),
                _ => Expect::Claims(pinned_claims(ty, &e)),
            };
            cases.push(Case {
                name,
                evidence: dir.join("quote.bin"),
                ty,
                collateral: Some(dir.clone()),
                at: Some(at.to_string()),
                runtime_data: None,
                expect,
            });
        }
    }
    // Two SGX and five TDX vectors carry their collateral today; a vector
    // that loses it must not silently shrink this test.
    let names: Vec<&String> = cases.iter().map(|c| &c.name).collect();
    assert_eq!(cases.len(), 7, "{names:?}");
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let accepted = cases
        .iter()
        .enumerate()
        .filter(|(i, c)| compare(&s, tmp.path(), *i, c).is_none())
        .count();
    assert_eq!(accepted, 5);
}

/// The quote-only and partial DCAP vectors: paired with another folder's
/// collateral where one has their FMSPC, else with none.
#[test]
fn real_dcap_vectors_without_their_own_collateral() {
    let v = vectors();
    let mobilecoin = v.join("sgx/mobilecoin-attestation-sgx-v3");
    let mobilecoin_at = expected(&mobilecoin)["verification_time_to_pin"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cases = Vec::new();

    // FMSPC 00906ED50000: mobilecoin's collateral, which no instant makes
    // current, so both paths refuse it there, with each enclave held data.
    let intel_sdk = v.join("sgx/azure-samples-maa-intel-sdk-quotes");
    let oe = v.join("openenclave/azure-samples-maa-oe-sdk");
    let mut mobilecoin_case = |name: String, evidence: PathBuf, ty, runtime: PathBuf| {
        cases.push(Case {
            name,
            evidence,
            ty,
            collateral: Some(mobilecoin.clone()),
            at: Some(mobilecoin_at.clone()),
            runtime_data: Some(runtime),
            expect: Expect::Rejected("CollateralExpired"),
        })
    };
    for variant in ["debug", "prodid", "release", "securityversion"] {
        mobilecoin_case(
            format!("intel-sdk {variant}"),
            intel_sdk.join(format!("{variant}.quote.bin")),
            "SgxEnclave",
            intel_sdk.join(format!("{variant}.enclave_held_data.bin")),
        );
    }
    for variant in [
        "debug",
        "prodid",
        "release",
        "securityversion",
        "post_attest",
    ] {
        mobilecoin_case(
            format!("oe-sdk {variant}"),
            oe.join(format!("{variant}.oe_report.bin")),
            "OpenEnclave",
            oe.join(format!("{variant}.enclave_held_data.bin")),
        );
    }
    mobilecoin_case(
        "maa-sdk oe_report".into(),
        v.join("maa-sdk/oe_report.bin"),
        "OpenEnclave",
        v.join("maa-sdk/runtime_data.bin"),
    );
    mobilecoin_case(
        "maa-sdk sgx_quote".into(),
        v.join("maa-sdk/sgx_quote.bin"),
        "SgxEnclave",
        v.join("maa-sdk/runtime_data.bin"),
    );

    // FMSPC 00806F050000: automata-tdx-v4's collateral, at its time; the
    // README computed UpToDate for both cloud quotes.
    let automata4 = v.join("tdx/automata-tdx-v4");
    let automata4_at = expected(&automata4)["verification_time_to_pin"]
        .as_str()
        .unwrap()
        .to_string();
    let dstack = v.join("tdx/dstack-teekit-cloud-quotes-only");
    let dstack_expected = expected(&dstack);
    for file in ["gcp-tdx-v4-quote.bin", "azure-tdx-v4-quote.bin"] {
        let r = &dstack_expected[file]["report"];
        cases.push(Case {
            name: format!("dstack {file}"),
            evidence: dstack.join(file),
            ty: "TdxVm",
            collateral: Some(automata4.clone()),
            at: Some(automata4_at.clone()),
            runtime_data: None,
            expect: Expect::Claims(vec![
                ("tdx_mrtd", r["mrtd"].clone()),
                ("tdx_report_data", r["reportdata"].clone()),
                ("tdx_rtmr0", r["rtmr0"].clone()),
                ("x-attesta-tcb-status", "UpToDate".into()),
            ]),
        });
    }

    // FMSPC 90C06F000000: automata-tdx-v5's collateral, whose TCB levels
    // trustee's v5 quote matches none of.
    let automata5 = v.join("tdx/automata-tdx-v5");
    let trustee = v.join("tdx/trustee-tdx-quotes-only");
    cases.push(Case {
        name: "trustee tdx_quote_5".into(),
        evidence: trustee.join("tdx_quote_5.dat"),
        ty: "TdxVm",
        collateral: Some(automata5.clone()),
        at: Some(
            expected(&automata5)["verification_time_to_pin"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        runtime_data: None,
        expect: Expect::Rejected("TcbLevelNotFound"),
    });

    // No collateral anywhere for these platforms.
    for (name, evidence, ty) in [
        (
            "trustee tdx_quote_4",
            trustee.join("tdx_quote_4.dat"),
            "TdxVm",
        ),
        (
            "trustee-occlum-sgx-v3-quote-only",
            v.join("sgx/trustee-occlum-sgx-v3-quote-only/quote.bin"),
            "SgxEnclave",
        ),
        (
            "trustee-tdx-quote6-partial without its bundle",
            v.join("tdx/trustee-tdx-quote6-partial/quote.bin"),
            "TdxVm",
        ),
    ] {
        cases.push(Case {
            name: name.into(),
            evidence,
            ty,
            collateral: None,
            at: None,
            runtime_data: None,
            expect: Expect::Rejected("NoOfflineBundle"),
        });
    }

    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    for (i, c) in cases.iter().enumerate() {
        compare(&s, tmp.path(), i, c);
    }

    // The partial TDX bundle (TCB info and QE identity, no CRLs): the CLI
    // refuses it as incomplete, and `attesta collateral import` refuses it
    // the same way before anything reaches the server, which so refuses the
    // quote as above (NoOfflineBundle, as the CLI does without a bundle).
    let partial = v.join("tdx/trustee-tdx-quote6-partial");
    let cli = run(bin()
        .args(["verify", "tdx", "--quote"])
        .arg(partial.join("quote.bin"))
        .arg("--collateral")
        .arg(&partial)
        .args(["--at", "2025-11-01T00:00:00Z"]));
    assert_eq!(cli_rejection("partial bundle", &cli), "MissingFile");
    assert!(cli.1.contains("pck_crl.der"), "{}", cli.1);
    let (code, _, err) = run_on(&s, client(&s, &["collateral", "import"]).arg(&partial));
    assert_eq!(code, 2, "the partial bundle was imported: {err}");
    assert!(
        err.contains("is missing") && err.contains("pck_crl.der"),
        "{err}"
    );
}
