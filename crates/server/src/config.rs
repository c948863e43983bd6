//! Server configuration: every setting with its default.
//!
//! The CLI layers a TOML file, `ATTESTA_*` environment variables and flags
//! (flags win) into this struct; the server itself never reads the
//! environment, so tests construct it directly.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `attesta serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTPS only).
    pub listen: SocketAddr,
    /// Data directory: embedded store, TLS certificate, signing keys, admin token.
    pub data_dir: PathBuf,
    /// PEM certificate chain for TLS; when unset a self-signed certificate is
    /// created at `<data_dir>/tls/cert.pem`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Extra DNS names for the self-signed certificate (and host names that
    /// address the default provider).
    pub hostnames: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests running longer than this are abandoned with 408.
    pub request_timeout_secs: u64,
    /// Lifetime of attestation tokens (MAA: 8 hours).
    pub token_lifetime_secs: u64,
    /// How long a retired signing key stays published at `/certs`.
    pub key_overlap_secs: u64,
    /// Admin API bearer token. When unset, one is generated at first start and
    /// written to `<data_dir>/admin-token` (mode 0600).
    pub admin_token: Option<String>,
    /// The provider that works out of the box.
    pub default_provider: DefaultProvider,
    /// How long a node serves a compiled policy before re-reading the store
    /// (bounds staleness when several nodes share one store).
    pub policy_cache_ttl_secs: u64,
    /// Where vendor collateral comes from.
    pub collateral: CollateralConfig,
}

/// Vendor collateral settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollateralConfig {
    /// Base URL of an Intel PCS v4-compatible API (Intel PCS, a PCCS, or a
    /// THIM-style endpoint). Empty: no upstream, imported collateral only.
    pub pcs_url: String,
    /// Extra PEM CA to trust for the PCS endpoint's TLS certificate.
    pub pcs_ca: Option<PathBuf>,
    /// Refresh cached collateral this long before its nextUpdate.
    pub refresh_margin_secs: u64,
    /// Upper bound of any provider's `collateral_grace_secs`: expired
    /// collateral older than this is never served.
    pub max_grace_secs: u64,
    /// Base URL of AMD's Key Distribution Service (or a mirror) for VCEKs
    /// and certificate chains. Empty: imported endorsements only.
    pub kds_url: String,
}

impl Default for CollateralConfig {
    fn default() -> Self {
        Self {
            pcs_url: attesta_collateral::INTEL_PCS_BASE_URL.to_string(),
            pcs_ca: None,
            refresh_margin_secs: 3600,
            max_grace_secs: 30 * 24 * 3600,
            kds_url: attesta_collateral::AMD_KDS_BASE_URL.to_string(),
        }
    }
}

/// Settings of the default provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultProvider {
    /// Its name (a DNS label).
    pub name: String,
    /// Bearer tokens accepted on its control plane (besides the admin token).
    /// Stored hashed; the list in the configuration replaces the stored one
    /// at every start.
    pub aad_tokens: Vec<String>,
}

impl Default for DefaultProvider {
    fn default() -> Self {
        Self {
            name: "default".into(),
            aad_tokens: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("./attesta-data"),
            tls_cert: None,
            tls_key: None,
            hostnames: Vec::new(),
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            token_lifetime_secs: 8 * 3600,
            key_overlap_secs: 7 * 24 * 3600,
            admin_token: None,
            default_provider: DefaultProvider::default(),
            policy_cache_ttl_secs: 5,
            collateral: CollateralConfig::default(),
        }
    }
}

impl Config {
    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key must be given together".into());
        }
        if self.max_body_bytes == 0 {
            return Err("max_body_bytes must be greater than zero".into());
        }
        if self.token_lifetime_secs == 0 || self.token_lifetime_secs > 366 * 24 * 3600 {
            return Err("token_lifetime_secs must be between 1 second and one year".into());
        }
        if self.request_timeout_secs == 0 {
            return Err("request_timeout_secs must be greater than zero".into());
        }
        crate::provider::validate_name(&self.default_provider.name)
            .map_err(|e| format!("default_provider.name: {e}"))?;
        Ok(())
    }
}
