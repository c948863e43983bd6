//! `attesta` — the command-line entry point.
//!
//! A thin binary: it parses flags, layers configuration, and wires the
//! library crates together. Server-side work lives in `attesta-server`;
//! the client commands (`provider`, `keys`, `policy`, `attest`, `token`,
//! `audit`) talk to a running server over HTTPS through [`client`].

mod client;
mod commands;
mod serve;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// The exit-code contract, shown by `attesta --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success: accepted, valid, done
  1  rejected: the evidence, token, policy or request was judged and refused
  2  usage: bad arguments, or an input that is not what the option expects
  3  the server cannot be reached or talked to (connection, TLS, timeout,
     throttling, a 5xx or an answer that is not MAA's)
  4  local I/O: a file cannot be read or written

Output is human-readable on a terminal and JSON when piped or with --json.";

/// Attesta: a self-hosted remote attestation service, wire-compatible with
/// Microsoft Azure Attestation.
#[derive(Debug, Parser)]
#[command(
    name = "attesta",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = EXIT_CODES
)]
struct Cli {
    /// Print JSON even on a terminal (it is the default when stdout is not a terminal).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTPS service.
    Serve(serve::ServeArgs),
    /// Bring the store's schema up to this build's (`serve` does so at start
    /// unless store.auto_migrate is off), or check it with --check.
    Migrate(commands::migrate::MigrateArgs),
    /// Manage attestation providers (tenants) through the admin API.
    #[command(subcommand)]
    Provider(commands::provider::ProviderCmd),
    /// Manage the node's token-signing keys through the admin API.
    #[command(subcommand)]
    Keys(commands::keys::KeysCmd),
    /// Work with attestation tokens.
    #[command(subcommand)]
    Token(commands::token::TokenCmd),
    /// Send evidence to a server (the client side of /attest) and print the token's claims.
    Attest(commands::attest::AttestArgs),
    /// Get, set, reset, check and evaluate attestation policies.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCmd),
    /// List, add and remove a provider's policy-management certificates.
    #[command(subcommand, name = "policy-cert")]
    PolicyCert(commands::policy::PolicyCertCmd),
    /// List and verify the tamper-evident audit log of control-plane changes.
    #[command(subcommand)]
    Audit(commands::audit::AuditCmd),
    /// Import vendor collateral into a running server (air-gapped installs).
    #[command(subcommand)]
    Collateral(commands::collateral::CollateralCmd),
    /// Verify evidence offline against a collateral bundle (no server needed).
    #[command(subcommand)]
    Verify(commands::verify::VerifyCmd),
    /// Decode evidence and print its fields as JSON, without judging it.
    #[command(subcommand)]
    Inspect(commands::verify::InspectCmd),
    /// Write synthetic evidence with collateral under a test root.
    #[command(subcommand)]
    Sample(commands::sample::SampleCmd),
    /// Sign and verify the per-release statement of the service's own
    /// measurements that relying parties pin.
    #[command(subcommand)]
    Release(commands::release::ReleaseCmd),
    /// Print a shell completion script (e.g. `attesta completions bash > /etc/bash_completion.d/attesta`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    client::set_output(cli.json);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Provider(cmd) => commands::provider::run(cmd).await,
        Command::Keys(cmd) => commands::keys::run(cmd).await,
        Command::Token(cmd) => commands::token::run(cmd).await,
        Command::Attest(args) => commands::attest::run(args).await,
        Command::Policy(cmd) => commands::policy::run(cmd).await,
        Command::PolicyCert(cmd) => commands::policy::run_cert(cmd).await,
        Command::Audit(cmd) => commands::audit::run(cmd).await,
        Command::Collateral(cmd) => commands::collateral::run(cmd).await,
        Command::Verify(cmd) => commands::verify::run_verify(cmd),
        Command::Inspect(cmd) => commands::verify::run_inspect(cmd),
        Command::Sample(cmd) => commands::sample::run(cmd),
        Command::Release(cmd) => commands::release::run(cmd),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "attesta", &mut script);
            client::out(&String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(client::exit_code(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every command says what it is for.
    #[test]
    fn every_argument_is_documented() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "attesta", &mut missing);
        assert!(missing.is_empty(), "undocumented arguments: {missing:#?}");
    }
}
