//! `attesta serve`: layer the configuration (defaults, TOML file,
//! `ATTESTA_*` environment, flags — flags win), set up logging, start the
//! server, and shut down gracefully on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use attesta_server::Config;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as in the README's configuration table).
    #[arg(long, env = "ATTESTA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The public base URL clients use (https://host[:port], no path): token
    /// issuers, jku and metadata are built from it, and other host names are
    /// refused [default: the listen address, loopback and localhost].
    #[arg(long)]
    pub public_url: Option<String>,
    /// Data directory [default: ./attesta-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// PEM certificate chain for TLS (with --tls-key); default: a self-signed
    /// certificate in <data dir>/tls/cert.pem.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The store: `postgres://user@host[,host2]/db?...` or `sqlite:PATH`
    /// (store.url) [default: SQLite at <data dir>/attesta.db].
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// File with the 32-byte key that seals secrets in the store
    /// (store.key_file); every node of a deployment needs the same one
    /// [default: <data dir>/store.key, created on first start].
    #[arg(long, value_name = "PATH")]
    pub store_key_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "ATTESTA_LOG_FORMAT")]
    pub log_format: LogFormat,
}

impl ServeArgs {
    /// No flags: configuration from the file, environment and defaults.
    pub fn from_config(config: Option<PathBuf>) -> Self {
        Self {
            config,
            listen: None,
            public_url: None,
            data_dir: None,
            tls_cert: None,
            tls_key: None,
            store: None,
            store_key_file: None,
            log_format: LogFormat::Text,
        }
    }
}

/// Layer defaults, file, environment and flags into one configuration.
pub fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &args.config {
        if !path.exists() {
            return Err(format!(
                "configuration file {} does not exist",
                path.display()
            ));
        }
        fig = fig.merge(Toml::file(path));
    }
    // ATTESTA_LOG is the log filter and ATTESTA_LOG_FORMAT a flag's
    // variable; the client commands' variables are not server configuration.
    fig = fig.merge(Env::prefixed("ATTESTA_").split("__").ignore(&[
        "config",
        "log",
        "log_format",
        "url",
        "ca",
        "token",
    ]));
    if let Some(v) = args.listen {
        fig = fig.merge(Serialized::default("listen", v));
    }
    if let Some(v) = &args.public_url {
        fig = fig.merge(Serialized::default("public_url", v));
    }
    if let Some(v) = &args.data_dir {
        fig = fig.merge(Serialized::default("data_dir", v));
    }
    if let Some(v) = &args.tls_cert {
        fig = fig.merge(Serialized::default("tls_cert", v));
    }
    if let Some(v) = &args.tls_key {
        fig = fig.merge(Serialized::default("tls_key", v));
    }
    if let Some(v) = &args.store {
        fig = fig.merge(Serialized::default("store.url", v));
    }
    if let Some(v) = &args.store_key_file {
        fig = fig.merge(Serialized::default("store.key_file", v));
    }
    let config: Config = fig.extract().map_err(|e| format!("configuration: {e}"))?;
    config.validate()?;
    Ok(config)
}

/// The log filter: `ATTESTA_LOG`, else `RUST_LOG`, else `info`. A filter
/// that does not parse is reported and `info` used, rather than silently
/// logging nothing.
fn log_filter() -> tracing_subscriber::EnvFilter {
    for var in ["ATTESTA_LOG", "RUST_LOG"] {
        if let Ok(text) = std::env::var(var)
            && !text.trim().is_empty()
        {
            match tracing_subscriber::EnvFilter::try_new(text.trim()) {
                Ok(f) => return f,
                Err(e) => {
                    eprintln!("warning: {var}={text:?} is not a log filter ({e}); logging at info")
                }
            }
            break;
        }
    }
    tracing_subscriber::EnvFilter::new("info")
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        // Colour codes only for a person at a terminal, never into files.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// The first log line: version and the configuration that matters when
/// reading the rest of the log (never secrets: the admin token is only said
/// to be configured or generated).
fn log_startup(config: &Config) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %config.listen,
        data_dir = %config.data_dir.display(),
        public_url = config.public_url.as_deref().unwrap_or("(listen address)"),
        hostnames = ?config.hostnames,
        tls = if config.tls_cert.is_some() { "configured" } else { "self-signed" },
        admin_token = if config.admin_token.is_some() { "configured" } else { "data directory" },
        default_provider = %config.default_provider.name,
        pcs_url = if config.collateral.pcs_url.is_empty() { "(none: imported only)" } else { config.collateral.pcs_url.as_str() },
        kds_url = if config.collateral.kds_url.is_empty() { "(none: imported only)" } else { config.collateral.kds_url.as_str() },
        token_lifetime_secs = config.token_lifetime_secs,
        max_inflight_attests = config.limits.max_inflight_attests,
        trusted_proxies = ?config.limits.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "attesta {} starting",
        env!("CARGO_PKG_VERSION")
    );
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let config = load_config(&args).map_err(anyhow::Error::msg)?;
    log_startup(&config);
    let server = attesta_server::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "attesta listening on https://{} (TLS certificate: {}; admin token: {})",
        server.addr,
        server.tls_cert.display(),
        server
            .data_dir
            .join(attesta_server::ADMIN_TOKEN_FILE)
            .display()
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown();
    server.wait().await?;
    Ok(ExitCode::SUCCESS)
}
