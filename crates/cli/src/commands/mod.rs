//! The CLI's subcommands, one module each.

pub mod attest;
pub mod collateral;
pub mod keys;
pub mod policy;
pub mod provider;
pub mod sample;
pub mod snp;
pub mod token;
pub mod tpm;
pub mod verify;

/// Unpadded base64url.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
