//! The CLI's subcommands, one module each.

pub mod attest;
pub mod keys;
pub mod policy;
pub mod provider;
pub mod token;

/// The evidence verifiers this build registers with the server.
pub fn verifiers() -> attesta_server::Verifiers {
    attesta_server::Verifiers::new()
}
