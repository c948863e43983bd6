//! `attesta migrate`: bring the store's schema up to this build's, or with
//! `--check` only say whether it is.
//!
//! `serve` migrates at start unless `store.auto_migrate = false`; a
//! deployment that turns that off (many nodes, schema changes applied as a
//! release step) runs this once per upgrade, before starting the new nodes.
//! The store is the one `serve` would open: the same configuration file,
//! environment and `--store`/`--data-dir` flags. On PostgreSQL each
//! migration runs in its own transaction under an advisory lock, so running
//! it from several places at once applies each migration once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use attesta_store::StoreError;
use clap::Args;

use crate::client::{Exit, fail};
use crate::serve::{ServeArgs, load_config};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// TOML configuration file, as for `attesta serve`.
    #[arg(long, env = "ATTESTA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (its SQLite store when --store is not given).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The store: `postgres://…` or `sqlite:PATH` (store.url).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Change nothing: exit 0 when the schema is this build's, 1 when it is
    /// older or newer.
    #[arg(long)]
    pub check: bool,
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let mut serve_args = ServeArgs::from_config(args.config);
    serve_args.data_dir = args.data_dir;
    serve_args.store = args.store;
    let config = load_config(&serve_args).map_err(|e| fail(Exit::Usage, e))?;
    if config.store.url.is_none() && !args.check {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    }
    let opts = config.store.open_options(&config.data_dir, false);
    let shown = redacted(&opts.url);
    if args.check
        && let Some(path) = opts.url.strip_prefix("sqlite:")
        && !std::path::Path::new(path).exists()
    {
        return Err(fail(
            Exit::Rejected,
            format!("store {shown}: no database there yet; `attesta migrate` creates it"),
        ));
    }
    let latest = attesta_store::migrations::latest_version();
    let store_error = |e: StoreError| match e {
        StoreError::Unavailable(_) | StoreError::Backend(_) => {
            fail(Exit::Server, format!("store {shown}: {e}"))
        }
        _ => fail(Exit::Rejected, format!("store {shown}: {e}")),
    };
    match attesta_store::open_url(&opts).await {
        Ok(_) => {
            println!("store {shown}: schema version {latest}, this build's; nothing to do");
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::SchemaTooOld { found, required }) if args.check => Err(fail(
            Exit::Rejected,
            format!(
                "store {shown}: schema version {found} is older than this build's ({required}); \
                 run `attesta migrate` without --check"
            ),
        )),
        Err(StoreError::SchemaTooOld { found, .. }) => {
            let opts = config.store.open_options(&config.data_dir, true);
            attesta_store::open_url(&opts).await.map_err(store_error)?;
            println!("store {shown}: schema migrated from version {found} to {latest}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(store_error(e)),
    }
}
