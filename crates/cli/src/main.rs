//! `attesta` — the command-line entry point.
//!
//! A thin binary: it parses flags, layers configuration, and wires the
//! library crates together. Server-side work lives in `attesta-server`;
//! the client commands (`provider`, `keys`, `policy`, `attest`, `token`) talk
//! to a running server over HTTPS through [`client`].

mod client;
mod commands;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Attesta: a self-hosted remote attestation service, wire-compatible with
/// Microsoft Azure Attestation.
#[derive(Debug, Parser)]
#[command(name = "attesta", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTPS service.
    Serve(serve::ServeArgs),
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Provider(cmd) => commands::provider::run(cmd).await,
        Command::Keys(cmd) => commands::keys::run(cmd).await,
        Command::Token(cmd) => commands::token::run(cmd).await,
        Command::Attest(args) => commands::attest::run(args).await,
        Command::Policy(cmd) => commands::policy::run(cmd).await,
        Command::PolicyCert(cmd) => commands::policy::run_cert(cmd).await,
        Command::Collateral(cmd) => commands::collateral::run(cmd).await,
        Command::Verify(cmd) => commands::verify::run_verify(cmd),
        Command::Inspect(cmd) => commands::verify::run_inspect(cmd),
        Command::Sample(cmd) => commands::sample::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
