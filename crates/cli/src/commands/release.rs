//! `attesta release statement` and `attesta release verify`: the signed
//! per-release statement of the service's own measurements that relying
//! parties pin (`attesta token verify --require-tee --tee-statement FILE`).
//! The format and the checks are `attesta_token::release`'s; this module
//! reads and writes files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use attesta_evidence::UnixTime;
use attesta_evidence::signing_cert::EvidenceKind;
use attesta_token::release::{ReleaseStatement, verify_statement};
use clap::Subcommand;
use serde_json::json;

use crate::client::{Exit, fail, print_json, read_file};

#[derive(Debug, Subcommand)]
pub enum ReleaseCmd {
    /// Sign a statement of a release's measurements (a JWS, RS256 or ES256).
    ///
    /// The signing key and certificate can be made with `attesta policy-cert
    /// new --key release.key --cert release.pem --common-name "Attesta
    /// release signer"`; publish the certificate where relying parties get
    /// it, and the statement with each release.
    Statement {
        /// The release, e.g. 0.4.0.
        #[arg(long)]
        release: String,
        /// The evidence the release runs as: sgx-quote, tdx-quote or snp-report.
        #[arg(long)]
        kind: String,
        /// A measurement to pin, NAME=HEX with NAME a service claim
        /// (x-ms-sgx-mrenclave, x-ms-sgx-mrsigner; tdx_mrtd, tdx_rtmr0..3, …;
        /// x-ms-sevsnpvm-launchmeasurement, x-ms-sevsnpvm-hostdata, …); repeatable.
        #[arg(long = "measurement", value_name = "NAME=HEX", required = true)]
        measurements: Vec<String>,
        /// PEM private key of the release signer (RSA or P-256).
        #[arg(long)]
        key: PathBuf,
        /// PEM certificate of --key (carried in the JWS header).
        #[arg(long)]
        cert: PathBuf,
        /// Where to write the statement (the JWS text).
        #[arg(long)]
        out: PathBuf,
        /// The statement's issued_at, RFC 3339 [default: now].
        #[arg(long)]
        issued_at: Option<String>,
    },
    /// Verify a statement against the release certificate and print it.
    ///
    /// Exit 0 with the statement as JSON when it verifies, 1 when it does not.
    Verify {
        /// The statement file (JWS text).
        file: PathBuf,
        /// PEM certificate of the release signer, or of a CA that issued it.
        #[arg(long)]
        cert: PathBuf,
        /// Verification time, RFC 3339 [default: now].
        #[arg(long)]
        at: Option<String>,
    },
}

fn time_arg(flag: &str, t: Option<&str>) -> anyhow::Result<u64> {
    match t {
        Some(s) => attesta_server::provider_config::parse_time(s)
            .map(|t| t.0)
            .map_err(|e| fail(Exit::Usage, format!("{flag}: {e}"))),
        None => Ok(UnixTime::now().0),
    }
}

/// The evidence kind of `--kind`.
fn kind_arg(s: &str) -> anyhow::Result<EvidenceKind> {
    match s {
        "sgx-quote" => Ok(EvidenceKind::SgxQuote),
        "tdx-quote" => Ok(EvidenceKind::TdxQuote),
        "snp-report" => Ok(EvidenceKind::SnpReport),
        other => Err(fail(
            Exit::Usage,
            format!("--kind {other:?} is not sgx-quote, tdx-quote or snp-report"),
        )),
    }
}

/// DER certificates of a PEM file (the trusted release certificate or CA).
pub fn trusted_certs(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let ders = attesta_evidence::sgx::pki::pem_certificates(&read_file(path)?)
        .map_err(|e| fail(Exit::Usage, format!("{}: {e}", path.display())))?;
    if ders.is_empty() {
        return Err(fail(
            Exit::Usage,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(ders)
}

/// Read and verify a statement file against the certificates in `cert` at `now`.
pub fn read_statement(
    file: &Path,
    cert: &Path,
    now: u64,
) -> anyhow::Result<Result<ReleaseStatement, attesta_token::release::ReleaseError>> {
    let trusted = trusted_certs(cert)?;
    let text = String::from_utf8(read_file(file)?)
        .map_err(|_| fail(Exit::Usage, format!("{} is not text", file.display())))?;
    Ok(verify_statement(&text, &trusted, now))
}

pub fn run(cmd: ReleaseCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ReleaseCmd::Statement {
            release,
            kind,
            measurements,
            key,
            cert,
            out,
            issued_at,
        } => {
            let kind = kind_arg(&kind)?;
            let mut pins = BTreeMap::new();
            for m in &measurements {
                let Some((name, value)) = m.split_once('=') else {
                    return Err(fail(
                        Exit::Usage,
                        format!("--measurement {m:?} is not NAME=HEX"),
                    ));
                };
                if pins.insert(name.to_string(), value.to_string()).is_some() {
                    return Err(fail(
                        Exit::Usage,
                        format!("--measurement {name} is given twice"),
                    ));
                }
            }
            let now = time_arg("--issued-at", issued_at.as_deref())?;
            let statement = ReleaseStatement::new(&release, kind, pins, now)
                .map_err(|e| fail(Exit::Usage, e))?;
            let signer = crate::commands::policy::jws_signing_key(&key, &cert)?;
            let jws = statement.sign(&signer).map_err(|e| fail(Exit::Usage, e))?;
            std::fs::write(&out, format!("{jws}\n"))
                .map_err(|e| fail(Exit::Io, format!("cannot write {}: {e}", out.display())))?;
            print_json(&json!({"written": out.display().to_string(), "statement": statement}));
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCmd::Verify { file, cert, at } => {
            let now = time_arg("--at", at.as_deref())?;
            match read_statement(&file, &cert, now)? {
                Ok(s) => {
                    print_json(&json!({"valid": true, "statement": s}));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    print_json(&json!({
                        "valid": false,
                        "error": {"code": e.code(), "message": e.to_string()},
                    }));
                    Ok(ExitCode::from(Exit::Rejected as u8))
                }
            }
        }
    }
}
