//! `attesta verify azure-guest` and `attesta inspect hcl-report`: Azure
//! confidential VM guest evidence (HCL report + vTPM quote, with the SNP
//! VCEK chain or the TD quote and its collateral) offline, with the same
//! output contract as `verify sgx`. Verification runs the server's guest
//! flow (`attesta_server::engine::offline::verify_azure_guest`), so the
//! claims printed are those a server's token carries, but for what only an
//! MAA request states (OS facts, the ephemeral key, the client payload).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::tpm::load_pcrs;
use crate::commands::{certs, read, usage, verdict};
use attesta_evidence::azure_cvm::hcl::TDREPORT_LEN;
use attesta_evidence::azure_cvm::{
    AzureGuestSettings, HclReport, HclReportType, HclTdReport, ReportDataHashType, RuntimeData,
};
use attesta_evidence::snp;
use attesta_evidence::{ErrorCode, crypto};

#[derive(Debug, Args)]
pub struct VerifyAzureGuestArgs {
    /// The HCL report as read from the vTPM NV index 0x01400001.
    #[arg(long)]
    pub hcl_report: PathBuf,
    /// The vTPM quote's TPMS_ATTEST.
    #[arg(long)]
    pub quote: PathBuf,
    /// Its signature: a TPMT_SIGNATURE or the bare RSASSA signature.
    #[arg(long)]
    pub signature: PathBuf,
    /// PCR values sent with the quote: {"0": "hex", …} (bank from the digest
    /// length) or {"sha256": {"0": "hex", …}}. Repeatable.
    #[arg(long, required = true)]
    pub pcrs: Vec<PathBuf>,
    /// SEV-SNP: the VCEK certificate (DER or PEM).
    #[arg(long, requires = "ca_chain", conflicts_with_all = ["td_quote", "collateral"])]
    pub vcek: Option<PathBuf>,
    /// SEV-SNP: the ASK and ARK (DER or PEM); the ARK must be AMD's or given with --trust-root.
    #[arg(long, requires = "vcek")]
    pub ca_chain: Option<PathBuf>,
    /// SEV-SNP: AMD's CRL for the VCEK's hierarchy (DER or PEM), as KDS
    /// serves it. Required: without it the evidence is rejected with
    /// AmdCrlMissing, unless --no-revocation-check.
    #[arg(long, requires = "vcek")]
    pub crl: Option<PathBuf>,
    /// SEV-SNP: verify without AMD's CRL (for recorded evidence whose CRL
    /// was not kept). Revocation is then NOT checked; the output says so
    /// with `x-attesta-snp-revocation-checked: false`.
    #[arg(long, conflicts_with = "crl", requires = "vcek")]
    pub no_revocation_check: bool,
    /// TDX: the TD quote made from the HCL report's TDREPORT.
    #[arg(long, requires = "collateral")]
    pub td_quote: Option<PathBuf>,
    /// TDX: collateral bundle directory for the TD quote.
    #[arg(long, requires = "td_quote")]
    pub collateral: Option<PathBuf>,
    /// Expected nonce (hex) in the quote's extraData [default: empty].
    #[arg(long, default_value = "")]
    pub nonce: String,
    /// TCG event log; claims from it only when it replays to the quote.
    #[arg(long)]
    pub event_log: Option<PathBuf>,
    /// PEM root to trust besides the vendor's (an AMD ARK for SNP, an Intel
    /// root for TDX; for test PKIs; repeatable).
    #[arg(long)]
    pub trust_root: Vec<PathBuf>,
    /// PCRs the quote must cover, as a mask (hex 0x… or decimal) [default: 0xFF].
    #[arg(long)]
    pub required_pcr_mask: Option<String>,
    /// Verification time, RFC 3339 [default: now].
    #[arg(long)]
    pub at: Option<String>,
}

pub fn run_verify(a: VerifyAzureGuestArgs) -> anyhow::Result<ExitCode> {
    use attesta_server::engine::offline::{OfflineAzureGuest, OfflineGuestHardware};
    let inputs = (|| -> anyhow::Result<_> {
        let hcl_report = read(&a.hcl_report)?;
        let quote = read(&a.quote)?;
        let signature = read(&a.signature)?;
        let pcrs = load_pcrs(&a.pcrs)?;
        let event_log = a.event_log.as_deref().map(read).transpose()?;
        let nonce = hex::decode(&a.nonce).context("--nonce is not hex")?;
        // The verification context, as a provider's configuration gives it
        // to the server: the trust roots added, the pinned time, and for
        // the explicit opt-out of AMD's CRL the provider grace that lets the
        // server verify without one (the claims then say so).
        let mut config = attesta_server::provider_config::ProviderConfig::default();
        let (hardware, test_roots) = match (&a.vcek, &a.ca_chain, &a.td_quote) {
            (Some(vcek), Some(chain), None) => {
                let vek = certs(vcek)?
                    .into_iter()
                    .next()
                    .context("--vcek holds no certificate")?;
                let ca_chain = certs(chain)?;
                anyhow::ensure!(
                    ca_chain
                        .iter()
                        .any(|d| snp::verify::check_self_signed(d).is_err()),
                    "--ca-chain holds no ASK (only self-signed certificates)"
                );
                let crl = a
                    .crl
                    .as_deref()
                    .map(crate::commands::snp::crl_der)
                    .transpose()?;
                if a.no_revocation_check {
                    config.collateral_grace_secs = Some(1);
                }
                (
                    OfflineGuestHardware::Snp { vek, ca_chain, crl },
                    &mut config.test_roots.amd,
                )
            }
            (None, None, Some(td)) => {
                let dir = a
                    .collateral
                    .as_deref()
                    .context("--td-quote needs --collateral")?;
                anyhow::ensure!(
                    dir.is_dir(),
                    "--collateral {} is not a directory of collateral bundles",
                    dir.display()
                );
                (
                    OfflineGuestHardware::Tdx {
                        td_quote: read(td)?,
                        collateral_dir: dir.to_path_buf(),
                    },
                    &mut config.test_roots.intel,
                )
            }
            _ => anyhow::bail!(
                "give --vcek and --ca-chain (SEV-SNP) or --td-quote and --collateral (TDX)"
            ),
        };
        for p in &a.trust_root {
            for der in certs(p)? {
                test_roots.push(attesta_evidence::sgx::pki::certificate_pem(&der));
            }
        }
        let required_pcr_mask = match &a.required_pcr_mask {
            None => AzureGuestSettings::default().required_pcr_mask,
            Some(m) => match m.strip_prefix("0x").or_else(|| m.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).context("--required-pcr-mask")?,
                None => m.parse().context("--required-pcr-mask")?,
            },
        };
        if let Some(s) = &a.at {
            attesta_server::provider_config::parse_time(s).map_err(anyhow::Error::msg)?;
            config.verification_time = Some(s.clone());
        }
        Ok(OfflineAzureGuest {
            hcl_report,
            quote,
            signature,
            pcrs,
            event_log,
            hardware,
            nonce,
            settings: AzureGuestSettings { required_pcr_mask },
            config,
        })
    })();
    let input = match inputs {
        Ok(v) => v,
        Err(e) => return Ok(usage(e)),
    };
    // The server's guest flow and claim assembly.
    let result = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(attesta_server::engine::offline::verify_azure_guest(input))
    });
    Ok(verdict(
        result
            .map(Value::Object)
            .map_err(|e| (e.inner.unwrap_or(e.code), e.message)),
    ))
}

fn digest(t: ReportDataHashType, data: &[u8]) -> Vec<u8> {
    match t {
        ReportDataHashType::Sha256 => crypto::sha256(data).to_vec(),
        ReportDataHashType::Sha384 => crypto::sha384(data).to_vec(),
        ReportDataHashType::Sha512 => attesta_evidence::tpm::structures::hash(
            attesta_evidence::tpm::structures::TPM_ALG_SHA512,
            data,
        )
        .unwrap_or_default(),
    }
}

/// The hardware report area, decoded without judging it.
fn hardware_json(r: &HclReport<'_>) -> (Value, Option<Vec<u8>>) {
    match r.igvm.report_type {
        HclReportType::Snp => match snp::parse_report(r.hw_report) {
            Ok(s) => (
                json!({
                    "kind": "SNP",
                    "version": s.version,
                    "guest_svn": s.guest_svn,
                    "policy": format!("{:#x}", s.policy.0),
                    "vmpl": s.vmpl,
                    "measurement": hex::encode(s.measurement),
                    "report_data": hex::encode(s.report_data),
                    "host_data": hex::encode(s.host_data),
                    "chip_id": hex::encode(s.chip_id),
                    "signing_key": s.signing_key.as_str(),
                    "processor": s.cpuid_generation().map(|g| g.as_str()),
                }),
                Some(s.report_data.to_vec()),
            ),
            Err(e) => (json!({"kind": "SNP", "error": e.to_string()}), None),
        },
        HclReportType::Tdx => match HclTdReport::parse(&r.hw_report[..TDREPORT_LEN]) {
            Ok(t) => (
                json!({
                    "kind": "TDX",
                    "report_type": hex::encode(t.report_type),
                    "tee_tcb_svn": hex::encode(t.tee_tcb_svn),
                    "mrseam": hex::encode(t.mr_seam),
                    "td_attributes": hex::encode(t.td_attributes),
                    "xfam": hex::encode(t.xfam),
                    "mrtd": hex::encode(t.mr_td),
                    "mrconfigid": hex::encode(t.mr_config_id),
                    "rtmr0": hex::encode(t.rtmr[0]),
                    "rtmr1": hex::encode(t.rtmr[1]),
                    "rtmr2": hex::encode(t.rtmr[2]),
                    "rtmr3": hex::encode(t.rtmr[3]),
                    "reportdata": hex::encode(t.report_data),
                }),
                Some(t.report_data.to_vec()),
            ),
            Err(e) => (json!({"kind": "TDX", "error": e.to_string()}), None),
        },
        other => (json!({"kind": other.as_str()}), None),
    }
}

/// `attesta inspect hcl-report FILE`: the header, the IGVM data, the
/// hardware report and the variable data, decoded without judging them.
pub fn run_inspect(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = match read(file) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    let r = match HclReport::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: {} is not an HCL report: {e} ({})",
                file.display(),
                e.code()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let (hw, report_data) = hardware_json(&r);
    let var_digest = digest(r.igvm.report_data_hash_type, r.var_data);
    let runtime = match RuntimeData::parse(r.var_data) {
        Ok(rt) => Value::Object(rt.json),
        Err(e) => json!({"error": e.to_string()}),
    };
    print_json(&json!({
        "header": {
            "version": r.header.version,
            "report_size": r.header.report_size,
            "request_type": r.header.request_type,
            "status": r.header.status,
        },
        "igvm": {
            "data_size": r.igvm.data_size,
            "version": r.igvm.version,
            "report_type": r.igvm.report_type.as_str(),
            "report_data_hash_type": r.igvm.report_data_hash_type.as_str(),
            "variable_data_size": r.igvm.variable_data_size,
        },
        "hardware_report": hw,
        "var_data_digest": hex::encode(&var_digest),
        // Not a verification: nothing here is checked against a signature.
        "var_data_digest_matches_report_data": report_data
            .map(|rd| rd.get(..var_digest.len()) == Some(&var_digest[..])),
        "runtime": runtime,
        "total_len": bytes.len(),
        "sha256": hex::encode(crypto::sha256(&bytes)),
    }));
    Ok(ExitCode::SUCCESS)
}
