//! `attesta verify snp`, `attesta inspect snp` and `attesta sample snp`:
//! SEV-SNP reports offline, with the same output contract as `verify sgx`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::{certs, read, usage, verdict};
use attesta_evidence::snp;
use attesta_evidence::{ErrorCode, UnixTime};

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
pub(crate) fn crl_der(path: &Path) -> anyhow::Result<Vec<u8>> {
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
        let ca_chain = certs(&a.ca_chain)?;
        let mut config = attesta_server::provider_config::ProviderConfig::default();
        for p in &a.trust_root {
            let pem = read(p)?;
            anyhow::ensure!(
                !certs(p)?.is_empty(),
                "{} holds no certificate",
                p.display()
            );
            config
                .test_roots
                .amd
                .push(String::from_utf8_lossy(&pem).into_owned());
        }
        if let Some(s) = &a.at {
            attesta_server::provider_config::parse_time(s).map_err(anyhow::Error::msg)?;
            config.verification_time = Some(s.clone());
        }
        // The explicit opt-out is the server's provider grace without a
        // CRL: verified without revocation, and the claims say so.
        if a.no_revocation_check {
            config.collateral_grace_secs = Some(1);
        }
        let runtime = a.runtime_data.as_deref().map(read).transpose()?;
        let crl = a.crl.as_deref().map(crl_der).transpose()?;
        Ok(attesta_server::engine::offline::OfflineSnp {
            report,
            vek,
            ca_chain,
            crl,
            runtime_data: runtime,
            config,
        })
    })();
    let input = match inputs {
        Ok(v) => v,
        Err(e) => return Ok(usage(e)),
    };
    // The server's SEV-SNP attester and claim assembly.
    let result = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(attesta_server::engine::offline::verify_snp(input))
    });
    Ok(verdict(
        result
            .map(Value::Object)
            .map_err(|e| (e.inner.unwrap_or(e.code), e.message)),
    ))
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
