//! `attesta attest <type> --evidence FILE`: the client side of MAA's attest
//! call. Sends the evidence (and optional runtime data) to a server and
//! prints the returned token's claims (exit 0), or the server's reason for
//! refusing the evidence (exit 1).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use serde_json::{Value, json};

use crate::client::{Exit, ServerArgs, fail, json_output, out, print_json, send};
use attesta_evidence::AttestationType;

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Attestation type: SgxEnclave, OpenEnclave, SevSnpVm or TdxVm (TPM
    /// evidence goes through MAA's TPM protocol instead).
    pub attestation_type: String,
    /// Evidence file: the raw bytes (SGX/TDX quote, OE report, the SNP report
    /// JSON document), or that already base64url-encoded as text (e.g.
    /// `report_member.txt` of `attesta sample snp`), which is sent as it is.
    #[arg(long)]
    pub evidence: PathBuf,
    /// Runtime data file; its SHA-256 must be the first half of the report data.
    #[arg(long)]
    pub runtime_data: Option<PathBuf>,
    /// Send the runtime data with dataType JSON (claims appear under x-ms-runtime).
    #[arg(long, requires = "runtime_data")]
    pub runtime_json: bool,
    /// Init-time data file (sent as binary; for SGX its SHA-256 must be the
    /// first half of CONFIGID).
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
    /// Print the raw token (a JWT) instead of its claims, e.g. to save it for
    /// `attesta token verify @token.jwt`.
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let ty: AttestationType = args.attestation_type.parse().map_err(|e| {
        fail(
            Exit::Usage,
            format!("{e}; use SgxEnclave, OpenEnclave, SevSnpVm or TdxVm"),
        )
    })?;
    let member = match ty {
        AttestationType::SgxEnclave | AttestationType::TdxVm => "quote",
        AttestationType::OpenEnclave | AttestationType::SevSnpVm => "report",
        other => {
            return Err(fail(
                Exit::Usage,
                format!(
                    "`attesta attest` does not send {other} evidence; it uses a different protocol"
                ),
            ));
        }
    };
    let mut body = serde_json::Map::new();
    let evidence = crate::commands::read(&args.evidence)?;
    body.insert(member.into(), json!(evidence_member(&evidence)));
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
    let v = send(args.server.client()?.post(url).json(&Value::Object(body)))
        .await
        .map_err(|e| match crate::client::exit_code(&e) {
            1 => e.context(format!("the server refused the {ty} evidence")),
            _ => e,
        })?;
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(Exit::Server, "the server's answer has no token"))?;
    if args.raw {
        out(&format!("{token}\n"));
        return Ok(ExitCode::SUCCESS);
    }
    let (_, claims) = attesta_token::jwt::decode_unverified(token).map_err(|e| {
        fail(
            Exit::Server,
            format!("the server's token is malformed: {e}"),
        )
    })?;
    if !json_output() {
        out(&format!(
            "accepted: {ty} evidence, token from {} (save it with --raw)\n",
            claims.get("iss").and_then(Value::as_str).unwrap_or("-")
        ));
    }
    print_json(&Value::Object(claims));
    Ok(ExitCode::SUCCESS)
}

/// The evidence as the request member: text that is already base64url (no
/// quote, report or JSON document is: they hold other bytes) goes as it
/// is, anything else is encoded.
fn evidence_member(evidence: &[u8]) -> String {
    let text = evidence.trim_ascii();
    let encoded = text.len() >= 16
        && text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if encoded {
        String::from_utf8_lossy(text).into_owned()
    } else {
        URL_SAFE_NO_PAD.encode(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::evidence_member;

    #[test]
    fn base64url_text_is_sent_as_is_and_bytes_are_encoded() {
        assert_eq!(
            evidence_member(b"eyJyZXBvcnQiOiJ4In0\n"),
            "eyJyZXBvcnQiOiJ4In0"
        );
        assert_eq!(evidence_member(b"{\"report\": 1}"), "eyJyZXBvcnQiOiAxfQ");
        assert_eq!(evidence_member(&[0x03, 0x00, 0x02, 0x00]), "AwACAA");
    }
}
