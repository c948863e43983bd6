//! The CLI's subcommands, one module each.

pub mod attest;
pub mod azure_guest;
pub mod collateral;
pub mod keys;
pub mod policy;
pub mod provider;
pub mod sample;
pub mod snp;
pub mod token;
pub mod tpm;
pub mod verify;

/// Unpadded base64url.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Read a file, naming it in the error.
pub fn read(p: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
}

/// DER certificates from a DER file or a PEM file (its CERTIFICATE blocks).
pub fn certs(p: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let data = read(p)?;
    if data.starts_with(b"-----") {
        attesta_evidence::sgx::pki::pem_certificates(&data)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    } else {
        Ok(vec![data])
    }
}

/// A usage error: the message on stderr, exit code 2.
pub fn usage(msg: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {msg:#}");
    std::process::ExitCode::from(2)
}

/// The `attesta verify` output contract: one JSON object
/// `{"verdict","error","claims"}`, exit 0 when accepted, 1 when rejected.
pub fn verdict(
    result: Result<serde_json::Value, (&'static str, String)>,
) -> std::process::ExitCode {
    use serde_json::json;
    match result {
        Ok(claims) => {
            crate::client::print_json(
                &json!({"verdict": "accepted", "error": null, "claims": claims}),
            );
            std::process::ExitCode::SUCCESS
        }
        Err((code, message)) => {
            crate::client::print_json(
                &json!({"verdict": "rejected", "error": {"code": code, "message": message}, "claims": {}}),
            );
            std::process::ExitCode::from(1)
        }
    }
}
