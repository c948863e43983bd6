//! `attesta provider create|list|show|delete` over the admin API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::client::{ServerArgs, print_json, send};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TrustModel {
    /// Control-plane calls need a bearer token.
    Aad,
    /// Policy changes must be signed by a policy-management certificate.
    Isolated,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Admin token [default: <data dir>/admin-token].
    #[arg(long, env = "ATTESTA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCmd {
    /// Create a provider.
    Create {
        /// Provider name (a DNS label: lowercase letters, digits, hyphens).
        name: String,
        /// Trust model.
        #[arg(long, value_enum, default_value_t = TrustModel::Aad)]
        trust_model: TrustModel,
        /// A bearer token accepted on the provider's control plane (repeatable).
        #[arg(long = "aad-token")]
        aad_tokens: Vec<String>,
        /// PEM file with an initial policy-management certificate (repeatable;
        /// required for isolated providers).
        #[arg(long = "policy-cert")]
        policy_certs: Vec<PathBuf>,
        /// PEM root to trust besides Intel's SGX Root CA, for SGX/OE/TDX
        /// evidence under a test PKI such as `attesta sample` writes (repeatable).
        /// Tokens whose chain ends there carry x-attesta-test-root.
        #[arg(long = "test-root-intel")]
        test_roots_intel: Vec<PathBuf>,
        /// PEM root to trust besides AMD's ARKs (repeatable).
        #[arg(long = "test-root-amd")]
        test_roots_amd: Vec<PathBuf>,
        /// PEM TPM attestation-key CA to trust (repeatable).
        #[arg(long = "test-root-tpm")]
        test_roots_tpm: Vec<PathBuf>,
        /// Seconds expired vendor collateral may still be used when it cannot be refreshed.
        #[arg(long)]
        collateral_grace_secs: Option<u64>,
        /// Pin the verification time (RFC 3339), for testing with recorded evidence.
        #[arg(long)]
        verification_time: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List providers.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one provider.
    Show {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete a provider with its policies and certificates.
    Delete {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: ProviderCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCmd::Create {
            name,
            trust_model,
            aad_tokens,
            policy_certs,
            test_roots_intel,
            test_roots_amd,
            test_roots_tpm,
            collateral_grace_secs,
            verification_time,
            admin,
        } => {
            let read_all = |paths: &[PathBuf]| -> anyhow::Result<Vec<String>> {
                paths
                    .iter()
                    .map(|p| {
                        std::fs::read_to_string(p)
                            .with_context(|| format!("cannot read {}", p.display()))
                    })
                    .collect()
            };
            let mut config = serde_json::json!({
                "test_roots": {
                    "intel": read_all(&test_roots_intel)?,
                    "amd": read_all(&test_roots_amd)?,
                    "tpm": read_all(&test_roots_tpm)?,
                }
            });
            if let Some(g) = collateral_grace_secs {
                config["collateral_grace_secs"] = json!(g);
            }
            if let Some(t) = verification_time {
                config["verification_time"] = json!(t);
            }
            let mut pems = Vec::new();
            for p in &policy_certs {
                pems.push(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                );
            }
            let body = json!({
                "name": name,
                "trust_model": match trust_model { TrustModel::Aad => "aad", TrustModel::Isolated => "isolated" },
                "aad_tokens": aad_tokens,
                "policy_certificates": pems,
                "config": config,
            });
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/providers", admin.server.root()))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await?;
            print_json(&v);
        }
        ProviderCmd::List { admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!("{}/admin/providers", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            print_json(&v);
        }
        ProviderCmd::Show { name, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!("{}/admin/providers/{name}", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            print_json(&v);
        }
        ProviderCmd::Delete { name, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            send(
                c.delete(format!("{}/admin/providers/{name}", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            eprintln!("deleted provider '{name}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}
