//! `attesta verify snp`, `attesta inspect snp` and `attesta sample snp`:
//! SEV-SNP reports offline, with the same output contract as `verify sgx`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::{certs, read, usage, verdict};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::snp::{self, SnpCollateral, SnpError, VerifiedChain};
use attesta_evidence::{ErrorCode, UnixTime, binding};

#[derive(Debug, Args)]
pub struct VerifySnpArgs {
    /// The attestation report (1184 bytes).
    #[arg(long)]
    pub report: PathBuf,
    /// The VCEK or VLEK certificate (DER or PEM).
    #[arg(long)]
    pub vcek: PathBuf,
    /// The ASK (or ASVK) and ARK certificates (DER or PEM). The ARK must be
    /// one of AMD's embedded roots, or given with --trust-root.
    #[arg(long)]
    pub ca_chain: PathBuf,
    /// Verification time, RFC 3339 [default: now].
    #[arg(long)]
    pub at: Option<String>,
    /// Runtime data file; SHA-256 of it must equal REPORT_DATA[0..32].
    #[arg(long)]
    pub runtime_data: Option<PathBuf>,
    /// PEM ARK to trust besides AMD's (for test PKIs; repeatable).
    #[arg(long)]
    pub trust_root: Vec<PathBuf>,
    /// AMD's CRL for the chain's hierarchy (DER or PEM), as KDS serves it at
    /// /vcek/v1/{product}/crl (or /vlek/...). Required: without it the
    /// report is rejected with AmdCrlMissing, unless --no-revocation-check.
    #[arg(long)]
    pub crl: Option<PathBuf>,
    /// Verify without AMD's CRL (for recorded evidence whose CRL was not
    /// kept). Revocation is then NOT checked; the output says so with
    /// `x-attesta-snp-revocation-checked: false`.
    #[arg(long, conflicts_with = "crl")]
    pub no_revocation_check: bool,
}

/// A CRL file as DER: DER as is, or the first `X509 CRL` PEM block.
fn crl_der(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read(path)?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    x509_parser::pem::Pem::iter_from_buffer(&bytes)
        .filter_map(Result::ok)
        .find(|p| p.label == "X509 CRL")
        .map(|p| p.contents)
        .with_context(|| format!("{} holds no DER or PEM (X509 CRL) CRL", path.display()))
}

pub fn run_verify(a: VerifySnpArgs) -> anyhow::Result<ExitCode> {
    let inputs = (|| -> anyhow::Result<_> {
        let report = read(&a.report)?;
        let vek = certs(&a.vcek)?
            .into_iter()
            .next()
            .context("--vcek holds no certificate")?;
        let chain = certs(&a.ca_chain)?;
        let mut roots = snp::with_amd_roots(TrustRoots::empty());
        for p in &a.trust_root {
            for der in certs(p)? {
                roots = roots.with_configured(RootKind::AmdArk, der);
            }
        }
        let runtime = a.runtime_data.as_deref().map(read).transpose()?;
        let at = match &a.at {
            Some(s) => {
                attesta_server::provider_config::parse_time(s).map_err(anyhow::Error::msg)?
            }
            None => UnixTime::now(),
        };
        let crl = a.crl.as_deref().map(crl_der).transpose()?;
        Ok((report, vek, chain, roots, runtime, at, crl))
    })();
    let (report, vek, chain, roots, runtime, at, crl) = match inputs {
        Ok(v) => v,
        Err(e) => return Ok(usage(e)),
    };
    // The intermediate is the first certificate of the chain file that is
    // not self-signed (ASK or ASVK); the ARK comes from the trusted roots.
    let ask = chain
        .iter()
        .find(|d| snp::verify::check_self_signed(d).is_err())
        .cloned()
        .unwrap_or_default();
    let result = require_crl(crl.as_deref(), a.no_revocation_check, &vek)
        .and_then(|()| {
            VerifiedChain::verify(
                &SnpCollateral {
                    vek_der: &vek,
                    ask_der: &ask,
                    crl_der: crl.as_deref(),
                },
                &roots,
                at,
            )
        })
        .and_then(|c| snp::verify_report(&report, &c, at))
        .map_err(|e| (e.code(), e.to_string()))
        .and_then(|v| {
            let verified = v.to_verified();
            if let Some(rt) = &runtime {
                binding::check_runtime_data(&verified.report_data, rt)
                    .map_err(|e| (e.code(), e.to_string()))?;
            }
            let mut claims = verified.claims.into_map();
            if a.no_revocation_check {
                claims.insert("x-attesta-snp-revocation-checked".into(), json!(false));
            }
            Ok(Value::Object(claims))
        });
    Ok(verdict(result))
}

/// Without a CRL (and without the explicit opt-out) revocation cannot be
/// checked: fail closed with `AmdCrlMissing`, naming the hierarchy.
fn require_crl(crl: Option<&[u8]>, opt_out: bool, vek: &[u8]) -> Result<(), SnpError> {
    if crl.is_some() || opt_out {
        return Ok(());
    }
    let hierarchy = x509_parser::parse_x509_certificate(vek)
        .ok()
        .and_then(|(_, c)| snp::vek_facts(&c).ok())
        .map(|f| format!("{} {}", f.generation.as_str(), f.kind.as_str()))
        .unwrap_or_else(|| "VCEK/VLEK".into());
    Err(SnpError::CrlMissing(hierarchy))
}

pub fn run_inspect(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = match read(file) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    match snp::parse_report(&bytes) {
        Ok(r) => {
            let g = r.cpuid_generation();
            let tcb = |raw: u64| {
                snp::TcbVersion::decode(raw, g.unwrap_or(snp::Generation::Milan)).to_json()
            };
            print_json(&json!({
                "version": r.version,
                "guest_svn": r.guest_svn,
                "policy": format!("{:#x}", r.policy.0),
                "debug_allowed": r.policy.debug_allowed(),
                "migrate_ma_allowed": r.policy.migrate_ma_allowed(),
                "smt_allowed": r.policy.smt_allowed(),
                "family_id": hex::encode(r.family_id),
                "image_id": hex::encode(r.image_id),
                "vmpl": r.vmpl,
                "signature_algo": r.signature_algo,
                "signing_key": r.signing_key.as_str(),
                "report_data": hex::encode(r.report_data),
                "measurement": hex::encode(r.measurement),
                "host_data": hex::encode(r.host_data),
                "id_key_digest": hex::encode(r.id_key_digest),
                "author_key_digest": hex::encode(r.author_key_digest),
                "report_id": hex::encode(r.report_id),
                "chip_id": hex::encode(r.chip_id),
                "processor": g.map(|g| g.as_str()),
                "current_tcb": tcb(r.current_tcb),
                "reported_tcb": tcb(r.reported_tcb),
                "committed_tcb": tcb(r.committed_tcb),
                "launch_tcb": tcb(r.launch_tcb),
            }));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: {} is not an SEV-SNP report: {e} ({})",
                file.display(),
                e.code()
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// `attesta sample snp --out DIR`: report.bin, vcek.der, ca_chain.pem (ASK +
/// ARK), crl.der (the test ARK's CRL: empty, or revoking the sample's VCEK
/// with `revoked`), test_root.pem and report_member.txt (the MAA `report`
/// member).
pub fn run_sample(out: &Path, runtime: Option<&Path>, revoked: bool) -> anyhow::Result<ExitCode> {
    let mut b = attesta_testkit::snp::SnpSample::builder()
        .at(UnixTime::now().0)
        .crl(true);
    if revoked {
        b = b.revoke_vek();
    }
    if let Some(p) = runtime {
        b = b.runtime_data(&read(p)?);
    }
    let s = b.build();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join("report.bin"), &s.report)?;
    std::fs::write(out.join("vcek.der"), &s.vek_der)?;
    let pem = attesta_testkit::snp::pem;
    std::fs::write(
        out.join("ca_chain.pem"),
        format!("{}{}", pem(&s.ask_der), pem(&s.ark_der)),
    )?;
    std::fs::write(
        out.join("crl.der"),
        s.crl_der
            .as_deref()
            .context("the testkit sample has no CRL")?,
    )?;
    std::fs::write(out.join("test_root.pem"), pem(&s.ark_der))?;
    std::fs::write(out.join("report_member.txt"), s.maa_report_member())?;
    eprintln!(
        "wrote {0}/report.bin, vcek.der, ca_chain.pem, crl.der{1}, report_member.txt and test_root.pem (a TEST ARK: trust it only explicitly)",
        out.display(),
        if revoked { " (revoking the VCEK)" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}
