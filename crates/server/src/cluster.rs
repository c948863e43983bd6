//! What lets several nodes share one store: the key-encryption key and the
//! secrets sealed under it, the node's identity, the change watcher that
//! drops caches when another node changed something, and the mapping of an
//! unreachable database to 503 + `Retry-After`.
//!
//! * **Secrets in the store, never in clear.** The TPM `service_context`
//!   key and the generated admin token live in the store sealed with
//!   AES-256-GCM under the key-encryption key (`store.key_file`, 32 bytes
//!   raw or base64, created on first start), the secret's name as associated
//!   data so one sealed value cannot pass for another. Racing first starts
//!   agree on one value (`put_secret_if_absent`). A single node that had the
//!   secret in a file before keeps it: the file's value is what gets sealed.
//! * **Changes within one poll interval.** Every node reads the store's
//!   change counter every `store.poll_interval_ms` (a one-row read); when it
//!   moved, the node drops its cached providers and policies, so a change
//!   made on any node is served everywhere within that interval. The same
//!   loop records the node's heartbeat.
//! * **The data plane does not depend on the database.** Cached providers
//!   and policies stay in use while the database is unreachable (see
//!   [`crate::state`]); control-plane calls, which must read or write it,
//!   answer 503 with `Retry-After` instead of 500: [`TrackedStore`] notes
//!   an [`StoreError::Unavailable`] in the request's task-local flag and
//!   [`unavailable_to_503`] rewrites that request's 500.
//! * **Every store operation is counted** ([`StoreOps`], exported as
//!   `attesta_store_operations`), so that "attestation does not touch the
//!   database" is something a test and an operator can check.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use attesta_store::{
    AppliedRequest, AuditCheckpoint, AuditDraft, AuditHead, AuditRecord, CacheEntry, NodeRecord,
    PolicyCertRecord, PolicyRecord, ProviderRecord, PublishedKey, Store, StoreError,
};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;

use crate::error::ApiError;
use crate::state::AppState;

/// Seconds a client is asked to wait while the database is unreachable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The key-encryption key sealing the store's secrets.
pub struct StoreKey {
    key: LessSafeKey,
}

impl StoreKey {
    /// Reads the key from `path` (32 bytes, raw or base64), creating it
    /// (0600) when absent.
    pub fn load_or_create(path: &Path) -> Result<StoreKey, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = [0u8; 32];
                aws_lc_rs::rand::fill(&mut b).map_err(|_| "no system randomness".to_string())?;
                let text = base64::engine::general_purpose::STANDARD.encode(b);
                crate::fsutil::write_private(path, format!("{text}\n").as_bytes())?;
                tracing::info!(path = %path.display(), "created the store key-encryption key");
                return Self::from_bytes(&b);
            }
            Err(e) => return Err(format!("store.key_file {}: {e}", path.display())),
        };
        let key = if bytes.len() == 32 {
            bytes
        } else {
            let text = String::from_utf8_lossy(&bytes);
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    format!(
                        "store.key_file {} must hold 32 random bytes, raw or base64 \
                         (e.g. `head -c 32 /dev/urandom | base64`)",
                        path.display()
                    )
                })?
        };
        Self::from_bytes(&key)
    }

    fn from_bytes(key: &[u8]) -> Result<StoreKey, String> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| "bad store key")?;
        Ok(StoreKey {
            key: LessSafeKey::new(key),
        })
    }

    /// nonce ‖ ciphertext ‖ tag, bound to `name`.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "no system randomness".to_string())?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut buf,
            )
            .map_err(|_| "sealing a secret failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// The plaintext, if `sealed` was sealed under this key for `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let fail = || {
            format!(
                "the store's secret {name:?} does not open with this node's store.key_file; \
                 every node needs the same key file"
            )
        };
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buf)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }
}

/// The shared secret `name`: the store's (opened), else the legacy file's
/// value or a fresh one from `generate`, sealed into the store. Nodes racing
/// at first start all end with the first writer's value.
pub async fn shared_secret(
    store: &dyn Store,
    kek: &StoreKey,
    name: &str,
    legacy_file: Option<&Path>,
    generate: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    if let Some(sealed) = store.get_secret(name).await.map_err(|e| e.to_string())? {
        return kek.open(name, &sealed);
    }
    let value = match legacy_file.and_then(|p| std::fs::read(p).ok()) {
        Some(v) => v,
        None => generate()?,
    };
    let sealed = kek.seal(name, &value)?;
    let stored = store
        .put_secret_if_absent(name, &sealed)
        .await
        .map_err(|e| e.to_string())?;
    kek.open(name, &stored)
}

/// This node's id: configured, else kept in `<data_dir>/node-id`.
pub fn node_id(configured: Option<&str>, data_dir: &Path) -> Result<String, String> {
    if let Some(id) = configured {
        return Ok(id.to_string());
    }
    let path = data_dir.join("node-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| "no system randomness".to_string())?;
    let id = format!("node-{}", hex::encode(b));
    crate::fsutil::write_private(&path, format!("{id}\n").as_bytes())?;
    Ok(id)
}

/// Drops this node's caches whenever the store's change counter moves, and
/// records the node's heartbeat. Runs until the state's last clone is gone.
pub fn spawn_change_watcher(state: &AppState, node_id: String) {
    // Ends with the server: nothing but the state holds the configuration.
    let alive = Arc::downgrade(&state.config);
    let caches = state.caches();
    let interval = Duration::from_millis(state.config.store.poll_interval_ms);
    let store = state.store.clone();
    let signing = state.signing.clone();
    let subject = state.subject_fn();
    tokio::spawn(async move {
        let mut last: Option<i64> = None;
        // Keys are synced after every change and with each heartbeat (which
        // retries a sync that failed).
        let mut keys_due = false;
        let mut since_heartbeat = Duration::MAX;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if alive.strong_count() == 0 {
                return;
            }
            match store.generation().await {
                Ok(g) => {
                    caches.set_store_reachable(true);
                    if last.is_some_and(|l| l != g) {
                        caches.invalidate_all();
                        signing.forget_peers();
                        keys_due = true;
                    }
                    last = Some(g);
                }
                Err(e) => {
                    if caches.set_store_reachable(false) {
                        tracing::warn!(error = %e, "the store is unreachable; serving from caches");
                    }
                }
            }
            if since_heartbeat >= Duration::from_secs(10) {
                since_heartbeat = Duration::ZERO;
                let now = attesta_evidence::UnixTime::now().0 as i64;
                let _ = store.node_heartbeat(&node_id, now).await;
                keys_due = true;
            } else {
                since_heartbeat += interval;
            }
            if keys_due {
                keys_due = false;
                if let Err(e) = signing.sync(store.as_ref(), &subject).await {
                    tracing::debug!(error = %e, "signing key sync failed; retried at the next heartbeat");
                }
            }
        }
    });
}

tokio::task_local! {
    /// Set when a store call of the current request found the database
    /// unreachable.
    static STORE_UNAVAILABLE: std::cell::Cell<bool>;
}

fn note(e: &StoreError) {
    if matches!(e, StoreError::Unavailable(_)) {
        let _ = STORE_UNAVAILABLE.try_with(|f| f.set(true));
    }
}

/// Middleware: a request that failed (500) because the database was
/// unreachable gets 503 `ServiceUnavailable` with `Retry-After` instead.
pub async fn unavailable_to_503(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let flag = std::cell::Cell::new(false);
    let (resp, unavailable) = STORE_UNAVAILABLE
        .scope(flag, async {
            let resp = next.run(req).await;
            (resp, STORE_UNAVAILABLE.with(|f| f.get()))
        })
        .await;
    if unavailable && resp.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return ApiError::service_unavailable(
            "the database is unreachable; the control plane is paused until it returns",
            RETRY_AFTER_SECS,
        )
        .into_response();
    }
    resp
}

/// Store operations this node made since it started, by trait method and
/// outcome.
#[derive(Debug, Default)]
pub struct StoreOps {
    counts: std::sync::Mutex<std::collections::BTreeMap<&'static str, [u64; 2]>>,
}

impl StoreOps {
    fn record(&self, operation: &'static str, ok: bool) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.entry(operation).or_default()[usize::from(!ok)] += 1;
    }

    /// `(operation, succeeded, failed)` for every operation made so far.
    pub fn snapshot(&self) -> Vec<(&'static str, u64, u64)> {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().map(|(op, [ok, err])| (*op, *ok, *err)).collect()
    }
}

/// The store, noting unreachable-database failures for [`unavailable_to_503`]
/// and counting every operation in [`StoreOps`].
pub struct TrackedStore {
    inner: Arc<dyn Store>,
    ops: Arc<StoreOps>,
}

impl TrackedStore {
    pub fn new(inner: Arc<dyn Store>, ops: Arc<StoreOps>) -> Self {
        Self { inner, ops }
    }
}

macro_rules! tracked {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let r = $self.inner.$method($($arg),*).await;
        $self.ops.record(stringify!($method), r.is_ok());
        if let Err(e) = &r {
            note(e);
        }
        r
    }};
}

#[async_trait::async_trait]
impl Store for TrackedStore {
    async fn create_provider(
        &self,
        p: &ProviderRecord,
        c: &[PolicyCertRecord],
    ) -> Result<(), StoreError> {
        tracked!(self.create_provider(p, c))
    }
    async fn get_provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        tracked!(self.get_provider(name))
    }
    async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        tracked!(self.list_providers())
    }
    async fn update_provider(&self, p: &ProviderRecord) -> Result<(), StoreError> {
        tracked!(self.update_provider(p))
    }
    async fn update_provider_if(&self, p: &ProviderRecord, v: i64) -> Result<i64, StoreError> {
        tracked!(self.update_provider_if(p, v))
    }
    async fn request_key_rotation(&self, provider: &str) -> Result<i64, StoreError> {
        tracked!(self.request_key_rotation(provider))
    }
    async fn delete_provider(&self, name: &str) -> Result<bool, StoreError> {
        tracked!(self.delete_provider(name))
    }
    async fn get_policy(&self, p: &str, t: &str) -> Result<Option<PolicyRecord>, StoreError> {
        tracked!(self.get_policy(p, t))
    }
    async fn put_policy(&self, p: &str, policy: &PolicyRecord) -> Result<(), StoreError> {
        tracked!(self.put_policy(p, policy))
    }
    async fn delete_policy(&self, p: &str, t: &str) -> Result<bool, StoreError> {
        tracked!(self.delete_policy(p, t))
    }
    async fn list_policy_certs(&self, p: &str) -> Result<Vec<PolicyCertRecord>, StoreError> {
        tracked!(self.list_policy_certs(p))
    }
    async fn add_policy_cert(&self, p: &str, c: &PolicyCertRecord) -> Result<bool, StoreError> {
        tracked!(self.add_policy_cert(p, c))
    }
    async fn remove_policy_cert(&self, p: &str, t: &str) -> Result<bool, StoreError> {
        tracked!(self.remove_policy_cert(p, t))
    }
    async fn get_applied_request(&self, h: &str) -> Result<Option<AppliedRequest>, StoreError> {
        tracked!(self.get_applied_request(h))
    }
    async fn record_applied_request(&self, r: &AppliedRequest) -> Result<bool, StoreError> {
        tracked!(self.record_applied_request(r))
    }
    async fn generation(&self) -> Result<i64, StoreError> {
        tracked!(self.generation())
    }
    async fn publish_key(&self, k: &PublishedKey) -> Result<(), StoreError> {
        tracked!(self.publish_key(k))
    }
    async fn list_published_keys(&self, p: &str) -> Result<Vec<PublishedKey>, StoreError> {
        tracked!(self.list_published_keys(p))
    }
    async fn prune_published_keys(&self, before: i64) -> Result<u64, StoreError> {
        tracked!(self.prune_published_keys(before))
    }
    async fn node_heartbeat(&self, node_id: &str, now: i64) -> Result<(), StoreError> {
        tracked!(self.node_heartbeat(node_id, now))
    }
    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        tracked!(self.list_nodes())
    }
    async fn get_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        tracked!(self.get_secret(name))
    }
    async fn put_secret_if_absent(&self, name: &str, s: &[u8]) -> Result<Vec<u8>, StoreError> {
        tracked!(self.put_secret_if_absent(name, s))
    }
    async fn cache_get(&self, ns: &str, k: &str) -> Result<Option<CacheEntry>, StoreError> {
        tracked!(self.cache_get(ns, k))
    }
    async fn cache_put(&self, ns: &str, k: &str, e: &CacheEntry) -> Result<(), StoreError> {
        tracked!(self.cache_put(ns, k, e))
    }
    async fn cache_delete(&self, ns: &str, k: &str) -> Result<bool, StoreError> {
        tracked!(self.cache_delete(ns, k))
    }
    async fn cache_list(
        &self,
        ns: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, CacheEntry)>, StoreError> {
        tracked!(self.cache_list(ns, after, limit))
    }
    async fn append_audit(&self, d: &AuditDraft) -> Result<AuditRecord, StoreError> {
        tracked!(self.append_audit(d))
    }
    async fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        tracked!(self.list_audit(after, limit))
    }
    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        tracked!(self.audit_head())
    }
    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> Result<bool, StoreError> {
        tracked!(self.put_audit_checkpoint(c))
    }
    async fn list_audit_checkpoints(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditCheckpoint>, StoreError> {
        tracked!(self.list_audit_checkpoints(after, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_under_their_key_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        let k = StoreKey::load_or_create(&path).unwrap();
        // Created as base64 text, read back as the same key.
        let again = StoreKey::load_or_create(&path).unwrap();
        let sealed = k.seal("tpm-context-key", b"secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(again.open("tpm-context-key", &sealed).unwrap(), b"secret");
        let err = k.open("admin-token", &sealed).unwrap_err();
        assert!(err.contains("same key file"), "{err}");
        let other = dir.path().join("other.key");
        std::fs::write(&other, [7u8; 32]).unwrap();
        let err = StoreKey::load_or_create(&other)
            .unwrap()
            .open("tpm-context-key", &sealed)
            .unwrap_err();
        assert!(err.contains("does not open"), "{err}");
        std::fs::write(&other, b"too short").unwrap();
        let err = StoreKey::load_or_create(&other).err().unwrap();
        assert!(err.contains("32 random bytes"), "{err}");
    }
}
