//! `attesta token verify TOKEN --issuer URL`: check a token as a relying
//! party would, against the issuer's OpenID metadata and `/certs`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::print_json;
use attesta_evidence::UnixTime;

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Verify a token's signature (key from the issuer's /certs, by kid), issuer and lifetime.
    Verify {
        /// The token, or @FILE to read it from a file, or - for standard input.
        token: String,
        /// The expected issuer: the provider base URL the token was requested from.
        #[arg(long)]
        issuer: String,
        /// PEM CA certificate to trust for the issuer's TLS certificate.
        #[arg(long, env = "ATTESTA_CA")]
        ca: Option<PathBuf>,
        /// Allowed clock skew for exp/nbf, in seconds.
        #[arg(long, default_value_t = 60)]
        leeway: u64,
    },
    /// Decode a token without verifying it (header and claims).
    Decode {
        /// The token, or @FILE, or -.
        token: String,
    },
}

fn token_text(arg: &str) -> anyhow::Result<String> {
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?
    } else {
        arg.to_string()
    };
    Ok(text.trim().to_string())
}

pub async fn run(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Verify {
            token,
            issuer,
            ca,
            leeway,
        } => {
            let token = token_text(&token)?;
            let ca_pem = match &ca {
                Some(p) => {
                    Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?)
                }
                None => None,
            };
            match attesta_token::rp::verify_with_issuer(
                &token,
                &issuer,
                ca_pem.as_deref(),
                UnixTime::now().0,
                leeway,
            )
            .await
            {
                Ok(v) => {
                    print_json(
                        &json!({"valid": true, "header": Value::Object(v.header), "claims": Value::Object(v.claims)}),
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    print_json(
                        &json!({"valid": false, "error": {"code": e.code(), "message": e.to_string()}}),
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        TokenCmd::Decode { token } => {
            let token = token_text(&token)?;
            let (header, claims) = attesta_token::jwt::decode_unverified(&token)?;
            print_json(&json!({"header": Value::Object(header), "claims": Value::Object(claims)}));
            Ok(ExitCode::SUCCESS)
        }
    }
}
