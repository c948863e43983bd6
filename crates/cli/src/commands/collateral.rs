//! `attesta collateral import DIR`: hand an offline DCAP collateral bundle
//! (the file layout of Intel's PCS responses) to a running server, for
//! air-gapped installs. The server verifies every signature when it uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::provider::AdminArgs;
use crate::client::{print_json, send};

#[derive(Debug, Subcommand)]
pub enum CollateralCmd {
    /// Import a bundle directory: Intel DCAP (tcb_info.json,
    /// tcb_info_issuer_chain.pem, qe_identity.json, qe_identity_issuer_chain.pem,
    /// pck_crl.der, pck_crl_issuer_chain.pem, root_ca_crl.der), or SEV-SNP
    /// endorsements (VCEK/VLEK and ASK/ARK certificates, DER or PEM).
    Import {
        /// The bundle directory (e.g. demo/collateral of `attesta sample openenclave`, or the
        /// directory of `attesta sample snp`).
        dir: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: CollateralCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCmd::Import { dir, admin } if !dir.join("tcb_info.json").exists() => {
            // Not a DCAP bundle: SEV-SNP endorsements (VCEK/VLEK, ASK/ASVK, ARK files).
            use base64::Engine;
            let mut files = serde_json::Map::new();
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
            {
                let p = entry?.path();
                if p.is_file() {
                    let name = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    let bytes = std::fs::read(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    files.insert(
                        name,
                        base64::engine::general_purpose::STANDARD
                            .encode(bytes)
                            .into(),
                    );
                }
            }
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/collateral/snp", admin.server.root()))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "files": files })),
            )
            .await?;
            print_json(&v);
        }
        CollateralCmd::Import { dir, admin } => {
            let bundle = attesta_collateral::import_dir(&dir)?;
            let body = attesta_collateral::serialize(&bundle);
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/collateral", admin.server.root()))
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await?;
            print_json(&v);
        }
    }
    Ok(ExitCode::SUCCESS)
}
