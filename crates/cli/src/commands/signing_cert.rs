//! `attesta inspect signing-cert FILE` and `attesta verify signing-cert
//! FILE [--collateral DIR] [--at T]`: the TEE evidence a token-signing
//! certificate carries (MAA's or an Attesta node's), decoded, and its
//! binding to the certificate's key checked. The work is in
//! `attesta_evidence::signing_cert`; this module reads files and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::{read, usage, verdict};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::signing_cert::{self, EvidenceKind, SigningCert};
use attesta_evidence::types::rfc3339;
use attesta_evidence::{ErrorCode, UnixTime, sgx};

#[derive(Debug, Args)]
pub struct VerifySigningCertArgs {
    /// The signing certificate: PEM, DER, or base64 of the DER (MAA's `.cer` samples).
    pub file: PathBuf,
    /// Collateral directory for the full check: a DCAP bundle
    /// (`tcb_info.json` …) for an SGX or TDX quote (CRLs, TCB status), or
    /// AMD files (`*.crl`, certificates) for an SEV-SNP report (AMD's CRL:
    /// revocation); repeatable. Without it, the chain and the evidence's
    /// signatures are checked, but not revocation nor TCB status.
    #[arg(long)]
    pub collateral: Vec<PathBuf>,
    /// Verification time, RFC 3339 [default: now]; for an expired
    /// certificate, the time its token was issued.
    #[arg(long)]
    pub at: Option<String>,
    /// PEM root to trust besides Intel's SGX Root CA (for test PKIs; repeatable).
    #[arg(long)]
    pub trust_root: Vec<PathBuf>,
    /// PEM AMD ARK to trust besides AMD's embedded ARKs (SEV-SNP evidence of test PKIs; repeatable).
    #[arg(long)]
    pub trust_root_amd: Vec<PathBuf>,
}

/// Why collateral directories could not be read.
#[derive(Debug)]
pub enum CollateralProblem {
    /// The path is not a directory.
    NotADirectory(String),
    /// A file in it is not what it should be: the collateral crate's code and message.
    Unreadable(&'static str, String),
}

impl std::fmt::Display for CollateralProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotADirectory(m) | Self::Unreadable(_, m) => f.write_str(m),
        }
    }
}

/// Collateral for a signing certificate's evidence from directories: one
/// with `tcb_info.json` is a DCAP bundle (at most one of those), any other
/// a directory of AMD files whose CRLs are taken (`attesta collateral
/// import` reads the same layout).
pub fn service_collateral(
    dirs: &[PathBuf],
) -> Result<signing_cert::ServiceCollateral, CollateralProblem> {
    use attesta_collateral::SnpKeyKind;
    let mut out = signing_cert::ServiceCollateral::default();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(CollateralProblem::NotADirectory(format!(
                "{} is not a directory: give a DCAP collateral bundle directory or a directory of AMD files (CRL)",
                dir.display()
            )));
        }
        let bad = |e: attesta_collateral::CollateralError| {
            CollateralProblem::Unreadable(e.code(), format!("{}: {e}", dir.display()))
        };
        if dir.join("tcb_info.json").exists() {
            if out.dcap.is_some() {
                return Err(CollateralProblem::NotADirectory(format!(
                    "{} is a second DCAP collateral bundle; give the one for the service's platform",
                    dir.display()
                )));
            }
            out.dcap = Some(attesta_collateral::import_dir(dir).map_err(bad)?);
        } else {
            let bundle = attesta_collateral::read_snp_dir(dir).map_err(bad)?;
            for crl in bundle.crls {
                out.amd_crls.push(signing_cert::AmdCrl {
                    signing_key: match crl.kind {
                        SnpKeyKind::Vcek => attesta_evidence::snp::SigningKey::Vcek,
                        SnpKeyKind::Vlek => attesta_evidence::snp::SigningKey::Vlek,
                    },
                    der: crl.der,
                });
            }
        }
    }
    Ok(out)
}

fn parse_cert(path: &std::path::Path) -> Result<SigningCert, ExitCode> {
    let bytes = read(path).map_err(usage)?;
    SigningCert::parse(&bytes).map_err(|e| {
        eprintln!(
            "error: {} is not a certificate: {e} ({}); give a PEM, DER or base64 certificate file",
            path.display(),
            e.code()
        );
        ExitCode::from(crate::client::Exit::Usage as u8)
    })
}

/// `attesta inspect signing-cert FILE`.
pub fn run_inspect(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let cert = match parse_cert(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let evidence: Vec<Value> = cert
        .evidence
        .iter()
        .map(|e| {
            let report_data = e.report_data();
            let binding = match &report_data {
                Ok(rd) => match signing_cert::check_key_binding(rd, &cert.spki_der) {
                    Ok(()) => json!("valid"),
                    Err(err) => json!(format!("invalid: {err}")),
                },
                Err(err) => json!(format!("undecodable evidence: {err}")),
            };
            let decoded = match e.kind {
                EvidenceKind::SgxQuote => sgx::Quote::parse(&e.bytes)
                    .map(|q| crate::commands::verify::quote_json(&q))
                    .unwrap_or_else(|err| json!({"error": err.to_string()})),
                EvidenceKind::OeReport => attesta_evidence::openenclave::OeReport::parse(&e.bytes)
                    .map(|r| crate::commands::verify::quote_json(&r.quote))
                    .unwrap_or_else(|err| json!({"error": err.to_string()})),
                EvidenceKind::SnpReport => attesta_evidence::snp::parse_report(&e.bytes)
                    .map(|r| {
                        json!({
                            "measurement": hex::encode(r.measurement),
                            "report_data": hex::encode(r.report_data),
                        })
                    })
                    .unwrap_or_else(|err| json!({"error": err.to_string()})),
                EvidenceKind::TdxQuote => attesta_evidence::tdx::TdQuote::parse(&e.bytes)
                    .map(|q| {
                        json!({
                            "version": q.header.version,
                            "mrtd": hex::encode(q.report.mr_td),
                            "report_data": hex::encode(q.report.report_data),
                        })
                    })
                    .unwrap_or_else(|err| json!({"error": err.to_string()})),
            };
            json!({
                "oid": e.source.oid(),
                "kind": e.kind.as_str(),
                "origin": e.origin,
                "size": e.bytes.len(),
                "sha256": hex::encode(attesta_evidence::crypto::sha256(&e.bytes)),
                "report_data": report_data.ok().map(hex::encode),
                "key_binding": binding,
                "collateral": e.refs,
                "decoded": decoded,
            })
        })
        .collect();
    print_json(&json!({
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_before": rfc3339(cert.not_before),
        "not_after": rfc3339(cert.not_after),
        "self_signature": signing_cert::check_self_signature(&cert.der).as_str(),
        "spki_pem": cert.spki_pem(),
        "key_binding_digest": hex::encode(cert.binding_digest()),
        "maa_kid": cert.maa_kid(),
        "maa_quote_version": cert.maa_quote_version,
        "tee_kind": cert.tee_kind,
        "evidence": evidence,
    }));
    Ok(ExitCode::SUCCESS)
}

/// `attesta verify signing-cert FILE`.
pub fn run_verify(args: VerifySigningCertArgs) -> anyhow::Result<ExitCode> {
    let cert = match parse_cert(&args.file) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let at = match &args.at {
        Some(s) => match attesta_server::provider_config::parse_time(s) {
            Ok(t) => t,
            Err(e) => return Ok(usage(format!("--at: {e}"))),
        },
        None => UnixTime::now(),
    };
    let mut roots =
        attesta_evidence::snp::with_amd_roots(sgx::intel_trust_roots(TrustRoots::empty()));
    let given = args
        .trust_root
        .iter()
        .map(|p| (p, RootKind::IntelSgx))
        .chain(args.trust_root_amd.iter().map(|p| (p, RootKind::AmdArk)));
    for (p, kind) in given {
        let pem = match read(p) {
            Ok(b) => b,
            Err(e) => return Ok(usage(e)),
        };
        match sgx::pki::pem_certificates(&pem) {
            Ok(ders) => {
                for der in ders {
                    roots = roots.with_configured(kind, der);
                }
            }
            Err(_) => return Ok(usage(format!("{} holds no PEM certificate", p.display()))),
        }
    }
    let collateral = match service_collateral(&args.collateral) {
        Ok(c) => c,
        Err(CollateralProblem::NotADirectory(m)) => {
            return Ok(usage(crate::client::fail(crate::client::Exit::Io, m)));
        }
        Err(CollateralProblem::Unreadable(code, m)) => return Ok(verdict(Err((code, m)))),
    };
    let result = signing_cert::verify_with(&cert, &collateral, &roots, at)
        .map_err(|e| (e.code(), e.to_string()))
        .map(|v| {
            let mut claims = v.claims.into_map();
            claims.insert(
                "x-attesta-service-evidence-oid".into(),
                json!(v.source.oid()),
            );
            claims.insert(
                "x-attesta-service-evidence-kind".into(),
                json!(v.kind.as_str()),
            );
            claims.insert(
                "x-attesta-service-key-binding".into(),
                json!(hex::encode(v.binding_digest)),
            );
            claims.insert(
                "x-attesta-service-self-signature".into(),
                json!(v.self_signature.as_str()),
            );
            if let Some(s) = v.pck_subject {
                claims.insert("x-attesta-service-pck-subject".into(), json!(s));
            }
            if v.test_root {
                claims.insert("x-attesta-test-root".into(), json!(true));
            }
            Value::Object(claims)
        });
    Ok(verdict(result))
}
