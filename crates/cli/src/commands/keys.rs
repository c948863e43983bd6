//! `attesta keys list|rotate` over the admin API.

use std::process::ExitCode;

use clap::Subcommand;

use super::provider::AdminArgs;
use crate::client::{print_json, send};

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List the published signing keys and the active one.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Add a new signing key and make it active; the previous key stays
    /// published at /certs for the configured overlap (key_overlap_secs).
    Rotate {
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let (admin, rotate) = match cmd {
        KeysCmd::List { admin } => (admin, false),
        KeysCmd::Rotate { admin } => (admin, true),
    };
    let (c, token) = admin.server.admin_client(&admin.admin_token)?;
    let root = admin.server.root();
    let req = if rotate {
        c.post(format!("{root}/admin/keys:rotate"))
    } else {
        c.get(format!("{root}/admin/keys"))
    };
    print_json(&send(req.bearer_auth(token)).await?);
    Ok(ExitCode::SUCCESS)
}
