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
