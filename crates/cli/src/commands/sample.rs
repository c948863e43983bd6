//! `attesta sample sgx|openenclave --out DIR`: write a synthetic quote (or
//! OE report) with its full collateral under the testkit's own test root,
//! so people can try Attesta without SGX hardware. The root is a test root:
//! a server trusts it only when a provider is created with
//! `--test-root-intel DIR/test_root.pem`, and its tokens then carry
//! `x-attesta-test-root: true`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use attesta_evidence::UnixTime;
use attesta_evidence::sgx::tcb::TcbStatus;
use attesta_testkit::SgxSample;

#[derive(Debug, Subcommand)]
pub enum SampleCmd {
    /// A synthetic SGX quote (quote.bin) with collateral and test root.
    Sgx(SgxSampleArgs),
    /// A synthetic Open Enclave report (report.bin) with collateral and test root.
    Openenclave(SgxSampleArgs),
    /// A synthetic SEV-SNP report (report.bin, vcek.der, ca_chain.pem, crl.der) under a test ARK.
    Snp {
        /// Directory to write the report and its certificates and CRL into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Runtime data to bind (its SHA-256 becomes REPORT_DATA[0..32]).
        #[arg(long)]
        runtime_data: Option<PathBuf>,
        /// Write a crl.der that revokes the sample's VCEK, so that
        /// verification fails with VcekRevoked.
        #[arg(long)]
        revoked: bool,
    },
    /// A synthetic TDX TD quote (quote.bin, v4) with TDX collateral and test root.
    Tdx {
        /// Directory to write the evidence, its collateral/ bundle and test_root.pem into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Runtime data to bind (its SHA-256 becomes REPORTDATA[0..32]).
        #[arg(long)]
        runtime_data: Option<PathBuf>,
    },
}

/// What an SGX or Open Enclave sample holds (the same enclave, as a bare
/// quote or wrapped in an OE report).
#[derive(Debug, Args)]
pub struct SgxSampleArgs {
    /// Directory to write the evidence, its collateral/ bundle and test_root.pem into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Runtime data to bind (any file, e.g. a JSON document; its SHA-256 becomes report_data[0..32]).
    #[arg(long)]
    pub runtime_data: Option<PathBuf>,
    /// Init-time data to bind (its SHA-256 becomes CONFIGID[0..32]; KSS on).
    #[arg(long)]
    pub init_time_data: Option<PathBuf>,
    /// The platform's FMSPC (12 hex digits) in the PCK certificate and
    /// the TCB info [default: 00906ED50000].
    #[arg(long, value_parser = parse_fmspc)]
    pub fmspc: Option<[u8; 6]>,
    /// Make a debug enclave (ATTRIBUTES.DEBUG set): verification
    /// accepts it and says so in x-ms-sgx-is-debuggable; policy decides.
    #[arg(long)]
    pub debug: bool,
    /// Write a PCK CRL that revokes the sample's PCK certificate, so
    /// verification fails with PckCertificateRevoked.
    #[arg(long)]
    pub revoked: bool,
    /// The platform's TCB status in the TCB info: up-to-date,
    /// sw-hardening-needed, configuration-needed,
    /// configuration-and-sw-hardening-needed, out-of-date,
    /// out-of-date-configuration-needed or revoked (which fails with
    /// TcbRevoked) [default: up-to-date].
    #[arg(long, value_parser = parse_tcb_status)]
    pub tcb_status: Option<TcbStatus>,
}

pub fn run(cmd: SampleCmd) -> anyhow::Result<ExitCode> {
    let (args, oe) = match cmd {
        SampleCmd::Tdx { out, runtime_data } => return tdx(out, runtime_data),
        SampleCmd::Snp {
            out,
            runtime_data,
            revoked,
        } => {
            return crate::commands::snp::run_sample(&out, runtime_data.as_deref(), revoked);
        }
        SampleCmd::Sgx(a) => (a, false),
        SampleCmd::Openenclave(a) => (a, true),
    };
    let SgxSampleArgs {
        out,
        runtime_data: runtime,
        init_time_data: init,
        fmspc,
        debug,
        revoked,
        tcb_status,
    } = args;
    let mut b = SgxSample::builder().at(UnixTime::now().0).debug(debug);
    if revoked {
        b = b.revoke_pck();
    }
    if let Some(status) = tcb_status {
        b = b.tcb_status(status);
    }
    if let Some(f) = fmspc {
        b = b.fmspc(f);
    }
    if let Some(p) = &runtime {
        let data = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        b = b.runtime_data(&data);
    }
    if let Some(p) = &init {
        let data = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        b = b.init_time_data(&data);
    }
    let sample = b.build();
    let (name, bytes) = if oe {
        ("report.bin", &sample.oe_report)
    } else {
        ("quote.bin", &sample.quote)
    };
    write_out(&out, name, bytes, &sample.collateral, &sample.root_der)?;
    eprintln!(
        "wrote {}/{name}, {}/collateral/ and {}/test_root.pem (a TEST root: trust it only explicitly)",
        out.display(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--fmspc`: 12 hex digits.
fn parse_fmspc(s: &str) -> Result<[u8; 6], String> {
    let mut out = [0u8; 6];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| format!("'{s}' is not an FMSPC (12 hex digits, e.g. 00A067110000)"))?;
    Ok(out)
}

fn tdx(out: PathBuf, runtime: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut b = attesta_testkit::tdx::TdxSample::builder().at(UnixTime::now().0);
    if let Some(p) = &runtime {
        let data = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        b = b.runtime_data(&data);
    }
    let sample = b.build();
    write_out(
        &out,
        "quote.bin",
        &sample.quote,
        &sample.collateral,
        &sample.root_der,
    )?;
    eprintln!(
        "wrote {}/quote.bin, {}/collateral/ and {}/test_root.pem (a TEST root: trust it only explicitly)",
        out.display(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Evidence, its collateral bundle and the test root, in the layout
/// `attesta verify` and `attesta collateral import` read.
fn write_out(
    out: &std::path::Path,
    name: &str,
    evidence: &[u8],
    collateral: &attesta_evidence::dcap::DcapCollateral,
    root_der: &[u8],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join(name), evidence)?;
    attesta_testkit::write_bundle(&out.join("collateral"), collateral)?;
    std::fs::write(
        out.join("test_root.pem"),
        attesta_evidence::sgx::pki::certificate_pem(root_der),
    )?;
    Ok(())
}

/// `--tcb-status`: a TCB status in kebab case (or as Intel spells it).
fn parse_tcb_status(s: &str) -> Result<TcbStatus, String> {
    let wanted: String = s.chars().filter(|c| *c != '-' && *c != '_').collect();
    [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
    ]
    .into_iter()
    .find(|t| t.as_str().eq_ignore_ascii_case(&wanted))
    .ok_or_else(|| {
        format!(
            "unknown TCB status '{s}'; use up-to-date, sw-hardening-needed, configuration-needed, \
             configuration-and-sw-hardening-needed, out-of-date, out-of-date-configuration-needed or revoked"
        )
    })
}
