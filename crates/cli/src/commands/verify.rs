//! Offline verification and inspection, for audits and for people without a
//! server: `attesta verify sgx|openenclave|tdx|tpm|snp|azure-guest` and
//! `attesta inspect sgx|openenclave|tdx|snp|tpm-eventlog|hcl-report`
//! (`signing-cert` for both is in its own module).
//!
//! `verify` prints one JSON object
//! `{"verdict":"accepted"|"rejected","error":{"code","message"}|null,"claims":{…}}`
//! and exits 0 when accepted, 1 when rejected, 2 on usage errors. It runs
//! the same sans-I/O verifier as the server, at `--at` (default: now), with
//! Intel's embedded root plus any `--trust-root` given explicitly.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::{read, usage, verdict};
use attesta_evidence::openenclave::OeReport;
use attesta_evidence::sgx;
use attesta_evidence::{AttestationType, ErrorCode};

#[derive(Debug, Args)]
pub struct CommonVerifyArgs {
    /// Collateral bundle directory (tcb_info.json, qe_identity.json, CRLs, issuer chains).
    #[arg(long)]
    pub collateral: PathBuf,
    /// Verification time, RFC 3339 [default: now].
    #[arg(long)]
    pub at: Option<String>,
    /// Runtime data file; SHA-256 of it must equal report_data[0..32].
    #[arg(long)]
    pub runtime_data: Option<PathBuf>,
    /// PEM root to trust besides Intel's SGX Root CA (for test PKIs; repeatable).
    #[arg(long)]
    pub trust_root: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum VerifyCmd {
    /// Verify an SGX DCAP quote.
    Sgx {
        /// The SGX DCAP quote (v3 or v4), raw bytes.
        #[arg(long)]
        quote: PathBuf,
        #[command(flatten)]
        common: CommonVerifyArgs,
    },
    /// Verify an Open Enclave report.
    Openenclave {
        /// The Open Enclave report (OE header + SGX quote), raw bytes.
        #[arg(long)]
        report: PathBuf,
        #[command(flatten)]
        common: CommonVerifyArgs,
    },
    /// Verify a TDX TD quote (v4 or v5).
    Tdx {
        /// The TD quote (v4 or v5), raw bytes.
        #[arg(long)]
        quote: PathBuf,
        #[command(flatten)]
        common: CommonVerifyArgs,
    },
    /// Verify TPM quotes with the AK, PCR values and event log.
    Tpm(crate::commands::tpm::VerifyTpmArgs),
    /// Verify an SEV-SNP attestation report with its VCEK/VLEK chain.
    Snp(crate::commands::snp::VerifySnpArgs),
    /// Verify Azure confidential VM guest evidence: HCL report, vTPM quote
    /// and PCRs, with the SNP VCEK chain or the TD quote and its collateral.
    #[command(name = "azure-guest")]
    AzureGuest(crate::commands::azure_guest::VerifyAzureGuestArgs),
    /// Verify the TEE evidence in a token-signing certificate (MAA's or an
    /// Attesta node's): its binding to the certificate's key, then the evidence.
    #[command(name = "signing-cert")]
    SigningCert(crate::commands::signing_cert::VerifySigningCertArgs),
}

#[derive(Debug, Subcommand)]
pub enum InspectCmd {
    /// Decode an SGX quote without judging it.
    Sgx {
        /// The SGX quote file.
        file: PathBuf,
    },
    /// Decode an Open Enclave report without judging it.
    Openenclave {
        /// The Open Enclave report file.
        file: PathBuf,
    },
    /// Decode a TDX TD quote without judging it.
    Tdx {
        /// The TD quote file.
        file: PathBuf,
    },
    /// Decode an SEV-SNP attestation report without judging it.
    Snp {
        /// The SEV-SNP report (1184 bytes) file.
        file: PathBuf,
    },
    /// Decode a TCG event log: its events and the PCR values it replays to.
    #[command(name = "tpm-eventlog")]
    TpmEventlog {
        /// The TCG event log file (binary, as the firmware or Windows writes it).
        file: PathBuf,
    },
    /// Decode an Azure HCL report (header, hardware report, runtime JSON) without judging it.
    #[command(name = "hcl-report")]
    HclReport {
        /// The HCL report file (raw bytes, as read from the vTPM NV index).
        file: PathBuf,
    },
    /// Decode the TEE evidence in a token-signing certificate (MAA's or an
    /// Attesta node's) and show whether it binds the certificate's key.
    #[command(name = "signing-cert")]
    SigningCert {
        /// The certificate: PEM, DER, or base64 of the DER.
        file: PathBuf,
    },
}

pub fn run_verify(cmd: VerifyCmd) -> anyhow::Result<ExitCode> {
    enum Kind {
        Sgx,
        Oe,
        Tdx,
    }
    let (evidence_path, common, kind) = match cmd {
        VerifyCmd::Sgx { quote, common } => (quote, common, Kind::Sgx),
        VerifyCmd::Openenclave { report, common } => (report, common, Kind::Oe),
        VerifyCmd::Tdx { quote, common } => (quote, common, Kind::Tdx),
        VerifyCmd::Tpm(args) => return crate::commands::tpm::run_verify(args),
        VerifyCmd::Snp(args) => return crate::commands::snp::run_verify(args),
        VerifyCmd::AzureGuest(args) => return crate::commands::azure_guest::run_verify(args),
        VerifyCmd::SigningCert(args) => return crate::commands::signing_cert::run_verify(args),
    };
    let evidence = match read(&evidence_path) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    if let Some(s) = &common.at
        && let Err(e) = attesta_server::provider_config::parse_time(s)
    {
        return Ok(usage(format!("--at: {e}")));
    }
    // The verification context, as a provider's configuration gives it to
    // the server: the trust roots added and the pinned time.
    let mut config = attesta_server::provider_config::ProviderConfig {
        verification_time: common.at.clone(),
        ..Default::default()
    };
    for p in &common.trust_root {
        let pem = match read(p) {
            Ok(b) => b,
            Err(e) => return Ok(usage(e)),
        };
        match sgx::pki::pem_certificates(&pem) {
            Ok(d) if !d.is_empty() => {}
            _ => return Ok(usage(format!("{} holds no PEM certificate", p.display()))),
        }
        config
            .test_roots
            .intel
            .push(String::from_utf8_lossy(&pem).into_owned());
    }
    let runtime = match &common.runtime_data {
        Some(p) => match read(p) {
            Ok(b) => Some(b),
            Err(e) => return Ok(usage(e)),
        },
        None => None,
    };
    if !common.collateral.is_dir() {
        // A mistyped path is not a verdict on the evidence.
        return Ok(usage(crate::client::fail(
            crate::client::Exit::Io,
            format!(
                "{} is not a directory: --collateral takes a collateral bundle directory (e.g. demo/collateral from `attesta sample`)",
                common.collateral.display()
            ),
        )));
    }
    let ty = match kind {
        Kind::Sgx => AttestationType::SgxEnclave,
        Kind::Oe => AttestationType::OpenEnclave,
        Kind::Tdx => AttestationType::TdxVm,
    };
    // The server's attester and claim assembly, over the bundle directory.
    let input = attesta_server::engine::offline::OfflineInput {
        evidence,
        runtime_data: runtime,
        config,
        collateral_dir: &common.collateral,
    };
    let result = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(attesta_server::engine::offline::verify_dcap(ty, input))
    });
    Ok(verdict(
        result
            .map(Value::Object)
            .map_err(|e| (e.inner.unwrap_or(e.code), e.message)),
    ))
}

fn report_json(r: &sgx::ReportBody) -> Value {
    json!({
        "cpu_svn": hex::encode(r.cpu_svn),
        "misc_select": r.misc_select,
        "isv_ext_prod_id": hex::encode(r.isv_ext_prod_id),
        "attributes": hex::encode(r.attributes),
        "debug": r.is_debug(),
        "mr_enclave": hex::encode(r.mr_enclave),
        "mr_signer": hex::encode(r.mr_signer),
        "config_id": hex::encode(r.config_id),
        "isv_prod_id": r.isv_prod_id,
        "isv_svn": r.isv_svn,
        "config_svn": r.config_svn,
        "isv_family_id": hex::encode(r.isv_family_id),
        "report_data": hex::encode(r.report_data),
    })
}

pub(crate) fn quote_json(q: &sgx::Quote<'_>) -> Value {
    let pck = sgx::pki::pem_certificates(q.pck_chain_pem).unwrap_or_default();
    let subjects: Vec<String> = pck
        .iter()
        .filter_map(|d| {
            sgx::pki::parse_cert(d)
                .ok()
                .map(|c| c.subject().to_string())
        })
        .collect();
    let pck_ext = pck
        .first()
        .and_then(|d| sgx::pki::parse_cert(d).ok())
        .and_then(|c| sgx::pki::pck_extension(&c).ok())
        .map(|e| {
            json!({
                "fmspc": hex::encode_upper(e.fmspc),
                "pce_id": hex::encode_upper(e.pce_id),
                "pce_svn": e.pce_svn,
                "cpu_svn": hex::encode(e.cpu_svn),
                "tcb_components": e.cpu_svn_components.to_vec(),
                "sgx_type": e.sgx_type,
            })
        });
    json!({
        "header": {
            "version": q.header.version,
            "att_key_type": q.header.att_key_type,
            "tee_type": q.header.tee_type,
            "qe_svn": q.header.qe_svn,
            "pce_svn": q.header.pce_svn,
            "qe_vendor_id": hex::encode(q.header.qe_vendor_id),
            "user_data": hex::encode(q.header.user_data),
        },
        "report": report_json(&q.report),
        "signature": hex::encode(q.signature),
        "attestation_key": hex::encode(q.attestation_key),
        "qe_report": report_json(&q.qe_report),
        "qe_report_signature": hex::encode(q.qe_report_signature),
        "qe_auth_data": hex::encode(q.qe_auth_data),
        "certification_data_type": q.cert_data_type,
        "pck_chain_subjects": subjects,
        "pck_extension": pck_ext,
        "sha256": hex::encode(attesta_evidence::crypto::sha256(q.raw)),
    })
}

pub fn run_inspect(cmd: InspectCmd) -> anyhow::Result<ExitCode> {
    let (path, oe) = match &cmd {
        InspectCmd::Sgx { file } => (file, false),
        InspectCmd::Openenclave { file } => (file, true),
        InspectCmd::Tdx { file } => return inspect_tdx(file),
        InspectCmd::TpmEventlog { file } => {
            return crate::commands::tpm::run_inspect_eventlog(file);
        }
        InspectCmd::Snp { file } => return crate::commands::snp::run_inspect(file),
        InspectCmd::HclReport { file } => return crate::commands::azure_guest::run_inspect(file),
        InspectCmd::SigningCert { file } => {
            return crate::commands::signing_cert::run_inspect(file);
        }
    };
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    let out = if oe {
        OeReport::parse(&bytes).map(|r| {
            json!({
                "oe_header": {"version": r.version, "report_type": r.report_type, "report_size": r.report_size},
                "quote": quote_json(&r.quote),
                "sha256": hex::encode(attesta_evidence::crypto::sha256(&bytes)),
            })
        })
    } else {
        sgx::Quote::parse(&bytes).map(|q| quote_json(&q))
    };
    match out {
        Ok(v) => {
            print_json(&v);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: {} is not a valid {}: {e} ({})",
                path.display(),
                if oe { "OE report" } else { "SGX quote" },
                e.code()
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn inspect_tdx(path: &Path) -> anyhow::Result<ExitCode> {
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    match attesta_evidence::tdx::TdQuote::parse(&bytes) {
        Ok(q) => {
            let r = &q.report;
            let pck = sgx::pki::pem_certificates(q.pck_chain_pem).unwrap_or_default();
            let fmspc = pck
                .first()
                .and_then(|d| sgx::pki::parse_cert(d).ok())
                .and_then(|c| sgx::pki::pck_extension(&c).ok())
                .map(|e| hex::encode_upper(e.fmspc));
            let v = json!({
                "header": {
                    "version": q.header.version,
                    "att_key_type": q.header.att_key_type,
                    "tee_type": q.header.tee_type,
                    "qe_vendor_id": hex::encode(q.header.qe_vendor_id),
                },
                "report": {
                    "tee_tcb_svn": hex::encode(r.tee_tcb_svn),
                    "mrseam": hex::encode(r.mr_seam),
                    "mrsignerseam": hex::encode(r.mr_signer_seam),
                    "seam_attributes": hex::encode(r.seam_attributes),
                    "td_attributes": hex::encode(r.td_attributes),
                    "xfam": hex::encode(r.xfam),
                    "mrtd": hex::encode(r.mr_td),
                    "mrconfigid": hex::encode(r.mr_config_id),
                    "mrowner": hex::encode(r.mr_owner),
                    "mrownerconfig": hex::encode(r.mr_owner_config),
                    "rtmr0": hex::encode(r.rtmr[0]),
                    "rtmr1": hex::encode(r.rtmr[1]),
                    "rtmr2": hex::encode(r.rtmr[2]),
                    "rtmr3": hex::encode(r.rtmr[3]),
                    "reportdata": hex::encode(r.report_data),
                    "tee_tcb_svn2": r.tee_tcb_svn2.map(hex::encode),
                    "mrservicetd": r.mr_service_td.map(hex::encode),
                    "debug": r.is_debug(),
                },
                "fmspc": fmspc,
                "trailing_bytes": bytes.len() - q.unpadded().len(),
                "sha256": hex::encode(attesta_evidence::crypto::sha256(&bytes)),
            });
            print_json(&v);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: {} is not a valid TD quote: {e} ({})",
                path.display(),
                e.code()
            );
            Ok(ExitCode::from(1))
        }
    }
}
