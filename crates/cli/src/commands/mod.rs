//! The CLI's subcommands, one module each.

pub mod attest;
pub mod audit;
pub mod azure_guest;
pub mod collateral;
pub mod keys;
pub mod migrate;
pub mod policy;
pub mod provider;
pub mod release;
pub mod sample;
pub mod signing_cert;
pub mod snp;
pub mod token;
pub mod tpm;
pub mod verify;

/// Read a file, naming it in the error (exit 4 when it fails).
pub fn read(p: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    crate::client::read_file(p)
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

/// A problem found before judging anything: a message and its exit code.
pub trait Problem: std::fmt::Display {
    /// The exit code (see `attesta --help`).
    fn exit(&self) -> u8 {
        crate::client::Exit::Usage as u8
    }
}

impl Problem for String {}
impl Problem for &str {}
impl Problem for anyhow::Error {
    /// An unreadable file is exit 4, not a usage error.
    fn exit(&self) -> u8 {
        crate::client::exit_code(self)
    }
}

/// A usage error (exit 2), or an unreadable file (exit 4): the message on
/// stderr.
pub fn usage(msg: impl Problem) -> std::process::ExitCode {
    eprintln!("error: {msg:#}");
    std::process::ExitCode::from(msg.exit())
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
