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
//! **Many nodes.** Each node keeps its own rings (private keys never leave
//! it) and publishes every provider's certificates in the store
//! (`published_keys`, with its node id); `/certs` on any node serves its
//! own keys plus those the other live nodes published, so a token from any
//! node verifies against any node's `/certs`. Rotation goes through the
//! store: `keys rotate` raises the provider's key epoch
//! ([`Store::request_key_rotation`]); every node, at its next sync (the
//! change watcher, [`crate::cluster`], runs it whenever the store changed),
//! rotates its own ring when its active key predates the epoch and
//! publishes the result, the old key marked retired and kept for
//! `key_overlap_secs`. A node that has not been seen for longer than a
//! token's lifetime stops being served (its tokens have expired). While the
//! database is unreachable `/certs` serves the node's own keys and the
//! other nodes' as last read.
//!
//! Rings are created when a provider is created (and at start for providers
//! that have none yet), so an attest request normally never pays for RSA key
//! generation; a request for a provider another node created makes the ring
//! on first use. Deleting a provider deletes its keys: a provider created
//! again under the same name gets new keys, and its predecessor's tokens stop
//! verifying.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use attesta_evidence::UnixTime;
use attesta_evidence::signing_cert::SigningCert;
use attesta_store::{PublishedKey, Store, StoreError};
use attesta_token::jwks::{Jwk, Jwks};
use attesta_token::keys::{CertExtensions, KeyRing, SigningKey, jwk_for_certificate};

/// A provider's certificate subject (its canonical base URL) by name.
pub type SubjectFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The token-signing key rings of every provider this node serves.
pub struct ProviderKeys {
    root: PathBuf,
    default_provider: String,
    overlap_secs: u64,
    rings: RwLock<HashMap<String, Arc<RwLock<KeyRing>>>>,
    /// This node's id in the store.
    node_id: String,
    /// Other nodes are served while seen within this many seconds.
    peer_liveness_secs: u64,
    /// Other nodes' keys per provider, as last read from the store.
    peers: RwLock<HashMap<String, Arc<Vec<Jwk>>>>,
    /// Per provider: the key epoch of the local active key, and what was
    /// last published (active kid and retired kids), so a sync publishes
    /// only changes.
    synced: Mutex<HashMap<String, Synced>>,
    /// One sync at a time (the watcher's and a rotation's), so an epoch
    /// change rotates once.
    sync_lock: tokio::sync::Mutex<()>,
    /// The node's TEE evidence for every key it makes ([`crate::tee`]).
    cert_extensions: Option<Arc<dyn CertExtensions>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Synced {
    epoch: i64,
    published: Option<String>,
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
    /// Key rings under `root` (the data directory's `keys/`) of node
    /// `node_id`; other nodes count as live while seen within
    /// `peer_liveness_secs`.
    pub fn new(
        root: &Path,
        default_provider: &str,
        overlap_secs: u64,
        node_id: &str,
        peer_liveness_secs: u64,
    ) -> Self {
        Self {
            root: root.to_path_buf(),
            default_provider: default_provider.to_string(),
            overlap_secs,
            rings: RwLock::new(HashMap::new()),
            node_id: node_id.to_string(),
            peer_liveness_secs,
            peers: RwLock::new(HashMap::new()),
            synced: Mutex::new(HashMap::new()),
            sync_lock: tokio::sync::Mutex::new(()),
            cert_extensions: None,
        }
    }

    /// Make every new key's certificate carry what `ext` gives for the key
    /// (the node's TEE evidence bound to it). A ring whose active key was
    /// made without it is rotated when opened.
    pub fn with_cert_extensions(mut self, ext: Option<Arc<dyn CertExtensions>>) -> Self {
        self.cert_extensions = ext;
        self
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
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
        let mut ring = KeyRing::load_or_create_with(
            &self.dir(provider),
            subject,
            self.overlap_secs,
            UnixTime::now().0,
            self.cert_extensions.clone(),
        )
        .map_err(|e| format!("signing keys of provider '{provider}': {e}"))?;
        // A key made before the node had (or was configured for) evidence
        // is replaced: relying parties that require evidence would refuse it.
        if self.cert_extensions.is_some()
            && SigningCert::parse(ring.active().cert_der()).is_ok_and(|c| c.evidence.is_empty())
        {
            ring.rotate(UnixTime::now().0).map_err(|e| {
                format!("signing keys of provider '{provider}': replacing a key without TEE evidence: {e}")
            })?;
            tracing::info!(
                provider,
                "signing key without TEE evidence replaced by one with it"
            );
        }
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

    /// Forget the other nodes' keys (the store changed): the next `/certs`
    /// reads them again.
    pub fn forget_peers(&self) {
        self.peers.write().expect("peer keys lock").clear();
    }

    /// The `/certs` document of `provider`: this node's keys, then the
    /// other live nodes' (see the module docs).
    pub async fn certs(
        &self,
        store: &dyn Store,
        provider: &str,
        subject: &str,
    ) -> Result<Jwks, String> {
        let mut jwks = self.jwks(provider, subject)?;
        let cached = self
            .peers
            .read()
            .expect("peer keys lock")
            .get(provider)
            .cloned();
        let peers = match cached {
            Some(p) => p,
            None => match self.read_peers(store, provider).await {
                Ok(p) => {
                    let p = Arc::new(p);
                    self.peers
                        .write()
                        .expect("peer keys lock")
                        .insert(provider.to_string(), p.clone());
                    p
                }
                Err(e) => {
                    tracing::debug!(provider, error = %e, "other nodes' keys unavailable; serving this node's");
                    Arc::new(Vec::new())
                }
            },
        };
        for k in peers.iter() {
            if !jwks.keys.iter().any(|mine| mine.kid == k.kid) {
                jwks.keys.push(k.clone());
            }
        }
        Ok(jwks)
    }

    async fn read_peers(&self, store: &dyn Store, provider: &str) -> Result<Vec<Jwk>, StoreError> {
        let now = UnixTime::now().0 as i64;
        let live: Vec<String> = store
            .list_nodes()
            .await?
            .into_iter()
            .filter(|n| n.last_seen.saturating_add(self.peer_liveness_secs as i64) >= now)
            .map(|n| n.node_id)
            .collect();
        let overlap = self.overlap_secs as i64;
        let mut out = Vec::new();
        for k in store.list_published_keys(provider).await? {
            if k.node_id == self.node_id
                || !live.contains(&k.node_id)
                || k.retired_at
                    .is_some_and(|r| r.saturating_add(overlap) <= now)
            {
                continue;
            }
            match jwk_for_certificate(&k.cert_der) {
                Ok(jwk) => out.push(jwk),
                Err(e) => {
                    tracing::warn!(provider, node = %k.node_id, kid = %k.kid, error = %e, "skipping a published key")
                }
            }
        }
        Ok(out)
    }

    /// Bring this node's keys and the store in line: rings for every
    /// provider (and none for deleted ones), a rotation where the
    /// provider's key epoch moved past the local active key, and the
    /// node's current certificates published. Run by the change watcher.
    pub async fn sync(
        self: &Arc<Self>,
        store: &dyn Store,
        subject: &SubjectFn,
    ) -> Result<(), String> {
        let providers = store.list_providers().await.map_err(|e| e.to_string())?;
        let stale: Vec<String> = self
            .rings
            .read()
            .expect("key rings lock")
            .keys()
            .filter(|name| !providers.iter().any(|p| &p.name == *name))
            .cloned()
            .collect();
        for name in stale {
            if name != self.default_provider {
                self.remove(&name)?;
            }
        }
        for p in &providers {
            self.sync_provider(store, &p.name, p.key_epoch, &subject(&p.name))
                .await?;
        }
        let before = UnixTime::now().0 as i64 - self.overlap_secs as i64;
        store
            .prune_published_keys(before)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// [`Self::sync`] for one provider whose key epoch is `epoch`.
    pub async fn sync_provider(
        self: &Arc<Self>,
        store: &dyn Store,
        provider: &str,
        epoch: i64,
        subject: &str,
    ) -> Result<(), String> {
        let _one_at_a_time = self.sync_lock.lock().await;
        let ring = {
            let (me, name, subject) = (self.clone(), provider.to_string(), subject.to_string());
            tokio::task::spawn_blocking(move || me.ring(&name, &subject))
                .await
                .map_err(|e| e.to_string())??
        };
        let known = self
            .synced
            .lock()
            .expect("key sync lock")
            .get(provider)
            .cloned();
        let mut state = match known {
            Some(s) => s,
            // First sync since start: the epoch this node's active key was
            // published for, if it was.
            None => {
                let active = ring
                    .read()
                    .expect("key ring lock")
                    .active()
                    .kid()
                    .to_string();
                let published = store
                    .list_published_keys(provider)
                    .await
                    .map_err(|e| e.to_string())?;
                let epoch = published
                    .iter()
                    .find(|k| k.node_id == self.node_id && k.kid == active)
                    .map_or(epoch, |k| k.epoch);
                Synced {
                    epoch,
                    published: None,
                }
            }
        };
        if epoch > state.epoch {
            let r = ring.clone();
            let kid = tokio::task::spawn_blocking(move || {
                r.write()
                    .expect("key ring lock")
                    .rotate(UnixTime::now().0)
                    .map(|k| k.kid().to_string())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            tracing::info!(provider, kid = %kid, epoch, "signing key rotated for the provider's new key epoch");
            state.epoch = epoch;
        }
        let entries = ring
            .read()
            .expect("key ring lock")
            .published_entries(UnixTime::now().0);
        let fingerprint = entries
            .iter()
            .map(|e| format!("{}:{}", e.key.kid(), e.retired_at.is_some()))
            .collect::<Vec<_>>()
            .join(",");
        if state.published.as_deref() != Some(fingerprint.as_str()) {
            for e in &entries {
                store
                    .publish_key(&PublishedKey {
                        provider: provider.to_string(),
                        kid: e.key.kid().to_string(),
                        node_id: self.node_id.clone(),
                        cert_der: e.key.cert_der().to_vec(),
                        created_at: e.created_at as i64,
                        retired_at: e.retired_at.map(|r| r as i64),
                        epoch: state.epoch,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            state.published = Some(fingerprint);
        }
        self.synced
            .lock()
            .expect("key sync lock")
            .insert(provider.to_string(), state);
        Ok(())
    }

    /// Forget and delete `provider`'s keys (the provider was deleted). The
    /// default provider's keys are never deleted.
    pub fn remove(&self, provider: &str) -> Result<(), String> {
        self.rings.write().expect("key rings lock").remove(provider);
        self.synced.lock().expect("key sync lock").remove(provider);
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
