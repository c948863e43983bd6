//! A signing identity per provider.
//!
//! Every attestation provider signs with keys of its own: a token of provider
//! A names a `kid` that only A's `/certs` publishes, so it can never verify
//! against B's issuer and keys, whatever A's policy does. (Until this module
//! all providers shared one key, and with a forged `iss` a tenant's token
//! passed as another's.)
//!
//! Each provider's keys are a [`KeyRing`] in the node's own data directory:
//! the default provider keeps `keys/` (so existing installs keep their key),
//! every other provider `keys/providers/<name>/`. The certificate's subject
//! is the provider's canonical base URL, as MAA's instance certificates name
//! their instance. Private keys never leave the node: with several nodes each
//! node holds its own keys for every provider and publishes only
//! certificates, which is what the scale-out store builds on.
//!
//! Rings are created when a provider is created (and at start for providers
//! that have none yet), so an attest request normally never pays for RSA key
//! generation; a request for a provider another node created makes the ring
//! on first use. Deleting a provider deletes its keys: a provider created
//! again under the same name gets new keys, and its predecessor's tokens stop
//! verifying.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use attesta_evidence::UnixTime;
use attesta_token::jwks::Jwks;
use attesta_token::keys::{KeyRing, SigningKey};

/// The token-signing key rings of every provider this node serves.
pub struct ProviderKeys {
    root: PathBuf,
    default_provider: String,
    overlap_secs: u64,
    rings: RwLock<HashMap<String, Arc<RwLock<KeyRing>>>>,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("root", &self.root)
            .field("default_provider", &self.default_provider)
            .finish_non_exhaustive()
    }
}

impl ProviderKeys {
    /// Key rings under `root` (the data directory's `keys/`).
    pub fn new(root: &Path, default_provider: &str, overlap_secs: u64) -> Self {
        Self {
            root: root.to_path_buf(),
            default_provider: default_provider.to_string(),
            overlap_secs,
            rings: RwLock::new(HashMap::new()),
        }
    }

    /// Where `provider`'s keys live. Provider names are DNS labels (checked
    /// before any ring is opened), so the name is a safe path segment.
    pub fn dir(&self, provider: &str) -> PathBuf {
        if provider == self.default_provider {
            self.root.clone()
        } else {
            self.root.join("providers").join(provider)
        }
    }

    /// `provider`'s key ring, opened or created (first key with certificate
    /// subject `subject`).
    pub fn ring(&self, provider: &str, subject: &str) -> Result<Arc<RwLock<KeyRing>>, String> {
        if let Some(r) = self.rings.read().expect("key rings lock").get(provider) {
            return Ok(r.clone());
        }
        crate::provider::validate_name(provider)?;
        let ring = KeyRing::load_or_create(
            &self.dir(provider),
            subject,
            self.overlap_secs,
            UnixTime::now().0,
        )
        .map_err(|e| format!("signing keys of provider '{provider}': {e}"))?;
        let mut rings = self.rings.write().expect("key rings lock");
        Ok(rings
            .entry(provider.to_string())
            .or_insert_with(|| Arc::new(RwLock::new(ring)))
            .clone())
    }

    /// The key that signs `provider`'s new tokens.
    pub fn active(&self, provider: &str, subject: &str) -> Result<Arc<SigningKey>, String> {
        Ok(self
            .ring(provider, subject)?
            .read()
            .expect("key ring lock")
            .active())
    }

    /// `provider`'s published keys (active and within overlap).
    pub fn jwks(&self, provider: &str, subject: &str) -> Result<Jwks, String> {
        Ok(self
            .ring(provider, subject)?
            .read()
            .expect("key ring lock")
            .jwks(UnixTime::now().0))
    }

    /// Forget and delete `provider`'s keys (the provider was deleted). The
    /// default provider's keys are never deleted.
    pub fn remove(&self, provider: &str) -> Result<(), String> {
        self.rings.write().expect("key rings lock").remove(provider);
        if provider == self.default_provider || crate::provider::validate_name(provider).is_err() {
            return Ok(());
        }
        let dir = self.dir(provider);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot delete {}: {e}", dir.display())),
        }
    }
}
