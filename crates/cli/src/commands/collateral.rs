//! `attesta collateral import DIR`: hand an offline DCAP collateral bundle
//! (the file layout of Intel's PCS responses) to a running server, for
//! air-gapped installs. The server verifies every signature when it uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::provider::AdminArgs;
use crate::client::{print_json, send};

#[derive(Debug, Subcommand)]
pub enum CollateralCmd {
    /// Import a bundle directory: tcb_info.json, tcb_info_issuer_chain.pem,
    /// qe_identity.json, qe_identity_issuer_chain.pem, pck_crl.der,
    /// pck_crl_issuer_chain.pem, root_ca_crl.der.
    Import {
        dir: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: CollateralCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCmd::Import { dir, admin } => {
            let bundle = attesta_collateral::import_dir(&dir)?;
            let body = attesta_collateral::serialize(&bundle);
            let token = admin.server.admin_token(&admin.admin_token)?;
            let c = admin.server.client()?;
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
