//! `attesta attest <type> --evidence FILE`: the client side of MAA's attest
//! call. Sends the evidence (and optional runtime data) to a server and
//! prints the returned token's claims.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use serde_json::{Value, json};

use crate::client::{ServerArgs, print_json, send};
use attesta_evidence::AttestationType;

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Attestation type: SgxEnclave, OpenEnclave, SevSnpVm, TdxVm.
    pub attestation_type: String,
    /// Evidence file (raw bytes: SGX/TDX quote, OE report, or the SNP report JSON document).
    #[arg(long)]
    pub evidence: PathBuf,
    /// Runtime data file; its SHA-256 must be the first half of the report data.
    #[arg(long)]
    pub runtime_data: Option<PathBuf>,
    /// Send the runtime data with dataType JSON (claims appear under x-ms-runtime).
    #[arg(long, requires = "runtime_data")]
    pub runtime_json: bool,
    /// Init-time data file.
    #[arg(long)]
    pub init_time_data: Option<PathBuf>,
    /// Policy text file to evaluate instead of the provider's policy (unsecured token).
    #[arg(long)]
    pub draft_policy: Option<PathBuf>,
    /// Nonce echoed in the token.
    #[arg(long)]
    pub nonce: Option<String>,
    /// API version to send.
    #[arg(long, default_value = "2022-08-01")]
    pub api_version: String,
    /// Print the raw token instead of its claims.
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let ty: AttestationType = args.attestation_type.parse()?;
    let member = match ty {
        AttestationType::SgxEnclave | AttestationType::TdxVm => "quote",
        AttestationType::OpenEnclave | AttestationType::SevSnpVm => "report",
        other => {
            bail!("`attesta attest` does not send {other} evidence; it uses a different protocol")
        }
    };
    let mut body = serde_json::Map::new();
    body.insert(
        member.into(),
        json!(URL_SAFE_NO_PAD.encode(crate::commands::read(&args.evidence)?)),
    );
    if let Some(p) = &args.runtime_data {
        let kind = if args.runtime_json { "JSON" } else { "Binary" };
        body.insert(
            "runtimeData".into(),
            json!({"data": URL_SAFE_NO_PAD.encode(crate::commands::read(p)?), "dataType": kind}),
        );
    }
    if let Some(p) = &args.init_time_data {
        body.insert(
            "initTimeData".into(),
            json!({"data": URL_SAFE_NO_PAD.encode(crate::commands::read(p)?), "dataType": "Binary"}),
        );
    }
    if let Some(p) = &args.draft_policy {
        let text = String::from_utf8(crate::commands::read(p)?)
            .context("the draft policy is not UTF-8")?;
        body.insert("draftPolicyForAttestation".into(), json!(text));
    }
    if let Some(n) = &args.nonce {
        body.insert("nonce".into(), json!(n));
    }
    let url = format!(
        "{}/attest/{}?api-version={}",
        args.server.base(),
        ty.as_str(),
        args.api_version
    );
    let v = send(args.server.client()?.post(url).json(&Value::Object(body))).await?;
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .context("the server's answer has no token")?;
    if args.raw {
        println!("{token}");
    } else {
        let (_, claims) = attesta_token::jwt::decode_unverified(token)?;
        print_json(&Value::Object(claims));
    }
    Ok(ExitCode::SUCCESS)
}
