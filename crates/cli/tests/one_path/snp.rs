//! SEV-SNP reports with their VCEK or VLEK chain: `attesta verify snp`
//! against `attesta attest SevSnpVm` with the MAA report document (report
//! and chain). None of the vectors keeps AMD's CRL: the CLI says
//! --no-revocation-check, the provider grants a collateral grace with no
//! KDS to fetch from; both verify without revocation and say so.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::common::*;

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
fn every_real_snp_vector() {
    // Every folder with a report and its VCEK or VLEK chain.
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
    let draft = issue_nothing_policy(tmp.path());
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
        let cli = cli_claims(
            &dir.display().to_string(),
            &run(bin()
                .args(["verify", "snp", "--report"])
                .arg(report)
                .arg("--vcek")
                .arg(vek)
                .arg("--ca-chain")
                .arg(chain_pem)
                .args(["--at", &at])
                .arg("--no-revocation-check")),
        );
        assert_same_claims(&dir.display().to_string(), &cli, &token, &[]);
        let e = expected(dir);
        assert_eq!(
            cli["x-ms-sevsnpvm-launchmeasurement"],
            e["report"]["measurement"],
            "{}",
            dir.display()
        );
        assert_eq!(
            cli["x-ms-sevsnpvm-reportdata"],
            e["report"]["report_data"],
            "{}",
            dir.display()
        );
        assert_eq!(cli["x-attesta-snp-revocation-checked"], false);
        assert_eq!(cli["x-ms-attestation-type"], "sevsnpvm");
    }
}
