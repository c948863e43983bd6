//! Attesta's persistence: the [`Store`] trait, the records it keeps,
//! [`SqliteStore`], the embedded implementation, and [`PgStore`], the
//! PostgreSQL one for deployments of several nodes ([`open_url`] picks one
//! from `store.url`).
//!
//! The store holds the control-plane state of an Attesta deployment:
//! attestation providers (their trust model, the hashes of their bearer
//! tokens and their configuration), the attestation policy each provider has
//! set per attestation type, the policy-management certificates that may
//! sign policy uploads for an isolated provider, and a generic byte cache for
//! fetched collateral. It knows nothing about attestation itself: names,
//! configurations, policies and cache values are opaque to it.
//!
//! # The contract every implementation honours
//!
//! The SQLite implementation here is the reference; the PostgreSQL one
//! behaves identically, and one conformance suite (`tests/conformance.rs`)
//! runs against both.
//!
//! * **Every write is one transaction.** A method that changes state either
//!   commits all of its changes or none of them, even if the process dies part
//!   way through: after a crash the database holds the state from before the
//!   call or the state after it, never a mixture. `create_provider` writes the
//!   provider and its initial certificates together; `delete_provider` removes
//!   the provider, its policies and its certificates together.
//! * **Checks happen inside the write's transaction.** "Does the provider
//!   exist?" (`put_policy`, `add_policy_cert`) and "is this the provider's last
//!   policy-management certificate?" (`remove_policy_cert`) are decided by
//!   reads inside the same transaction as the write, so two concurrent callers
//!   cannot both remove "the second-to-last" certificate and leave none. On
//!   PostgreSQL that means taking a row lock on the provider
//!   (`SELECT ... FOR UPDATE`) or running at `SERIALIZABLE` and retrying; in
//!   SQLite it comes from taking the write lock at `BEGIN IMMEDIATE`.
//! * **Idempotent where documented.** `add_policy_cert` of a certificate
//!   already present returns `Ok(false)`; the delete methods return
//!   `Ok(false)` when there was nothing to delete. Neither is an error.
//! * **Precise outcomes.** Duplicate creation is [`StoreError::AlreadyExists`],
//!   writing under a missing provider is [`StoreError::NotFound`], removing the
//!   last certificate is [`StoreError::LastCertificate`]. Callers map these to
//!   HTTP statuses through [`StoreError::code`]; an implementation must not
//!   report them as [`StoreError::Backend`].
//! * **Values come back exactly as written.** Policy JWS text, DER bytes,
//!   JSON configuration (key order included) and cache bytes round-trip
//!   unchanged. Data that cannot be decoded on the way back is
//!   [`StoreError::Corrupt`], never silently replaced by a default.
//! * **Ordering is part of the API.** `list_providers` is ordered by name
//!   (byte-wise, as SQLite's default `BINARY` collation compares; PostgreSQL
//!   must use `COLLATE "C"` to match), `list_policy_certs` by `added_at` then
//!   thumbprint, `cache_list` by key.
//! * **Versioned schema.** Each implementation keeps a `schema_migrations`
//!   table and refuses to run against a database whose schema is newer than
//!   it knows ([`StoreError::SchemaTooNew`]), so an old binary never writes
//!   into a layout it does not understand.
//! * **Compare-and-swap for read-modify-write.** Every provider row carries a
//!   `version` that each change to it increments; `update_provider_if`
//!   writes only when the caller's copy is still current
//!   ([`StoreError::Conflict`] otherwise), so two racing edits never lose one.
//! * **One change counter.** Every write that another node must see (a
//!   provider, policy, certificate or published signing key) increments
//!   [`Store::generation`] in its own transaction; nodes poll that one number
//!   to know when to drop their caches.
//! * **Unreachable is not broken.** A database that cannot be reached (down,
//!   failing over, pool exhausted) is [`StoreError::Unavailable`], which the
//!   server answers with 503 and `Retry-After`; never `Backend`.
//! * **The audit log is append-only and chained.** `append_audit` numbers
//!   records without gaps and links each to the one before by hash, inside
//!   its write transaction (see [`audit`] for the encoding); nothing in the
//!   API edits or deletes a record.
//! * **The cache does not judge freshness.** `cache_get` returns an entry
//!   whatever its `expires_at`; the caller compares it against its own clock.
//!   That keeps the verification time injectable (pinned in tests) and lets a
//!   caller choose to serve stale collateral when the vendor is unreachable.
//!
//! The SQL in [`migrations`] sticks to types and statements PostgreSQL also
//! accepts (`TEXT`, `BLOB`→`BYTEA`, `BIGINT`, composite primary keys,
//! `INSERT ... ON CONFLICT`), so the PostgreSQL schema can mirror it table for
//! table.

pub mod audit;
pub mod migrations;
pub mod pgtest;
mod postgres;
mod sqlite;

pub use audit::{AuditCheckpoint, AuditDraft, AuditHead, AuditRecord};
pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a provider's policies are managed.
///
/// `Aad`: policies may be uploaded unsigned by any caller holding a control
/// plane token. `Isolated`: policy uploads must be signed by one of the
/// provider's policy-management certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustModel {
    Aad,
    Isolated,
}

impl TrustModel {
    /// The lowercase spelling used in storage, serde and `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustModel::Aad => "aad",
            TrustModel::Isolated => "isolated",
        }
    }
}

impl fmt::Display for TrustModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trust model name that is neither `aad` nor `isolated`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trust model {0:?}: expected \"aad\" or \"isolated\"")]
pub struct UnknownTrustModel(pub String);

impl FromStr for TrustModel {
    type Err = UnknownTrustModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("aad") {
            Ok(TrustModel::Aad)
        } else if s.eq_ignore_ascii_case("isolated") {
            Ok(TrustModel::Isolated)
        } else {
            Err(UnknownTrustModel(s.to_owned()))
        }
    }
}

/// An attestation provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// Validated by the caller; the store treats it as an opaque,
    /// case-sensitive key.
    pub name: String,
    pub trust_model: TrustModel,
    /// Hex SHA-256 of the control-plane bearer tokens (never the tokens).
    pub token_hashes: Vec<String>,
    /// Provider configuration (test roots, grace periods ...), opaque to the
    /// store and returned with its key order intact.
    pub config: serde_json::Value,
    /// Unix seconds. Set by `create_provider`; `update_provider` leaves it
    /// unchanged.
    pub created_at: i64,
    /// Incremented by the store at every change of the row (1 after
    /// creation); what `update_provider_if` compares. Ignored on writes.
    #[serde(default)]
    pub version: i64,
    /// The provider's signing-key epoch: every requested rotation increments
    /// it, and each node rotates its own key when its active key is older.
    /// Ignored on writes (see `request_key_rotation`).
    #[serde(default)]
    pub key_epoch: i64,
}

/// A token-signing certificate one node published for one provider. The
/// private key never leaves its node; only this certificate is shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    pub provider: String,
    /// base64url SHA-1 of `cert_der`.
    pub kid: String,
    pub node_id: String,
    /// The self-signed certificate, DER.
    pub cert_der: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` while the key signs new tokens.
    pub retired_at: Option<i64>,
    /// The provider's key epoch the key was made for.
    pub epoch: i64,
}

/// A node of the deployment and when it last said it was alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node_id: String,
    /// Unix seconds.
    pub last_seen: i64,
}

/// The policy a provider has set for one attestation type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Canonical spelling, e.g. "SgxEnclave"; matched exactly.
    pub attestation_type: String,
    /// The policy text (UTF-8).
    pub policy_text: String,
    /// The JWS exactly as uploaded.
    pub jws: String,
    /// JWK of the signer when the upload was signed.
    pub signer: Option<serde_json::Value>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A policy-management certificate of an isolated provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyCertRecord {
    /// Lowercase hex SHA-1 of `der`; the certificate's identity in the store.
    pub thumbprint: String,
    pub der: Vec<u8>,
    /// Unix seconds.
    pub added_at: i64,
}

/// A signed control-plane request that was applied (isolated providers),
/// remembered so that it can never be applied again elsewhere or later:
/// not to another provider, operation or attestation type, and not after
/// the state it set has changed (rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRequest {
    /// base64url SHA-256 of the JWS text as received (the request's identity).
    pub hash: String,
    pub provider: String,
    /// `policy:set`, `policy:reset`, `certificates:add`, `certificates:remove`.
    pub operation: String,
    /// The attestation type for policy operations; empty for certificates.
    pub attestation_type: String,
    /// Unix seconds.
    pub applied_at: i64,
}

/// A cached value (collateral, VCEKs ...) under a namespaced key.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    pub value: Vec<u8>,
    /// Unix seconds when the value was fetched from its source.
    pub fetched_at: i64,
    /// Unix seconds after which the caller should treat the value as stale.
    /// The store does not enforce it.
    pub expires_at: i64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist (e.g. a write under a missing provider).
    #[error("{0} not found")]
    NotFound(String),
    /// The named thing exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// `remove_policy_cert` would leave an isolated provider with no
    /// certificate able to sign policy changes.
    #[error(
        "the last policy-management certificate cannot be removed; add another certificate first"
    )]
    LastCertificate,
    /// The database could not be opened, read or written (I/O, locking,
    /// a full disk ...). Usually transient or operational, not the caller's
    /// fault.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The database holds data this code cannot decode, or is not a database.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database was migrated by a newer Attesta; this binary refuses to
    /// touch it.
    #[error(
        "database schema version {found} is newer than the newest this build of Attesta knows ({supported}); \
         run a newer Attesta against this database, or point this one at another database"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// The database is older than this build needs and automatic migration
    /// is off.
    #[error(
        "database schema version {found} is older than this build of Attesta needs ({required}); \
         run `attesta migrate` first"
    )]
    SchemaTooOld { found: u32, required: u32 },
    /// A compare-and-swap write found the row changed since it was read.
    #[error("{0} changed concurrently; read it again and retry")]
    Conflict(String),
    /// The database cannot be reached now (down, failing over, all
    /// connections busy). Transient: the same call may succeed later.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A stable, machine-readable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "not_found",
            StoreError::AlreadyExists(_) => "already_exists",
            StoreError::LastCertificate => "last_certificate",
            StoreError::Backend(_) => "backend",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::SchemaTooNew { .. } => "schema_too_new",
            StoreError::SchemaTooOld { .. } => "schema_too_old",
            StoreError::Conflict(_) => "conflict",
            StoreError::Unavailable(_) => "unavailable",
        }
    }
}

/// How to open a store: which database, and whether to migrate it.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// `postgres://…` / `postgresql://…` (PostgreSQL), `sqlite:PATH` or a
    /// plain path (SQLite).
    pub url: String,
    /// Bring the schema up to date (else refuse an older one with
    /// [`StoreError::SchemaTooOld`]). A newer one is always refused.
    pub migrate: bool,
    /// PostgreSQL connection settings.
    pub pg: PgOptions,
}

/// Opens the store `opts.url` names.
pub async fn open_url(opts: &OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    let url = opts.url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url, &opts.pg).await?;
        if opts.migrate {
            store.migrate().await?;
        } else {
            store.check_schema().await?;
        }
        return Ok(Arc::new(store));
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    if path.contains("://") {
        return Err(StoreError::Backend(format!(
            "store.url {url:?} names no store Attesta knows: use postgres://… or sqlite:PATH"
        )));
    }
    let path = Path::new(path).to_path_buf();
    let migrate = opts.migrate;
    let store = tokio::task::spawn_blocking(move || {
        if migrate {
            SqliteStore::open(&path)
        } else {
            SqliteStore::open_checked(&path)
        }
    })
    .await
    .map_err(|e| StoreError::Backend(format!("opening the SQLite store: {e}")))??;
    Ok(Arc::new(store))
}

/// Persistence for providers, policies, policy-management certificates and
/// the collateral cache. See the crate documentation for the contract.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the provider and its initial certificates in one transaction.
    /// `AlreadyExists` if a provider of that name exists (nothing is written).
    async fn create_provider(
        &self,
        p: &ProviderRecord,
        initial_certs: &[PolicyCertRecord],
    ) -> Result<(), StoreError>;

    async fn get_provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError>;

    /// All providers, ordered by name.
    async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError>;

    /// Replaces trust model, token hashes and configuration; `created_at` is
    /// kept. `NotFound` if the provider does not exist.
    async fn update_provider(&self, p: &ProviderRecord) -> Result<(), StoreError>;

    /// As `update_provider`, but only while the stored row is at
    /// `expected_version` (compare-and-swap): `Conflict` if it changed since,
    /// `NotFound` if it is gone. Returns the new version.
    async fn update_provider_if(
        &self,
        p: &ProviderRecord,
        expected_version: i64,
    ) -> Result<i64, StoreError>;

    /// Increments the provider's key epoch (every node then rotates its key
    /// for it). Returns the new epoch; `NotFound` if the provider is gone.
    async fn request_key_rotation(&self, provider: &str) -> Result<i64, StoreError>;

    /// Deletes the provider with its policies and certificates in one
    /// transaction. `Ok(false)` if it did not exist.
    async fn delete_provider(&self, name: &str) -> Result<bool, StoreError>;

    async fn get_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Option<PolicyRecord>, StoreError>;

    /// Inserts or replaces the provider's policy for
    /// `policy.attestation_type`. `NotFound` if the provider does not exist.
    async fn put_policy(&self, provider: &str, policy: &PolicyRecord) -> Result<(), StoreError>;

    /// `Ok(false)` if there was no such policy.
    async fn delete_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<bool, StoreError>;

    /// The provider's certificates ordered by `added_at`, then thumbprint.
    /// Empty for an unknown provider.
    async fn list_policy_certs(&self, provider: &str) -> Result<Vec<PolicyCertRecord>, StoreError>;

    /// `Ok(false)` if a certificate with that thumbprint is already present
    /// (idempotent). `NotFound` if the provider does not exist;
    /// `AlreadyExists` if the present certificate has the same thumbprint but
    /// different bytes.
    async fn add_policy_cert(
        &self,
        provider: &str,
        cert: &PolicyCertRecord,
    ) -> Result<bool, StoreError>;

    /// `Ok(false)` if absent; `LastCertificate` if it is the provider's only
    /// certificate (decided inside the removing transaction).
    async fn remove_policy_cert(
        &self,
        provider: &str,
        thumbprint: &str,
    ) -> Result<bool, StoreError>;

    /// The applied signed request with this hash, whatever its provider.
    async fn get_applied_request(&self, hash: &str) -> Result<Option<AppliedRequest>, StoreError>;

    /// Remembers an applied signed request. `Ok(false)` if one with the same
    /// hash is already recorded (the first record is kept). Records outlive
    /// their provider, so a provider re-created under the same name cannot be
    /// replayed its predecessor's requests.
    async fn record_applied_request(&self, r: &AppliedRequest) -> Result<bool, StoreError>;

    /// The change counter: incremented by every write to providers,
    /// policies, certificates and published keys. Cheap to read.
    async fn generation(&self) -> Result<i64, StoreError>;

    /// Inserts a node's signing certificate, or updates its `retired_at`
    /// (the certificate of a kid never changes). `NotFound` if the provider
    /// does not exist.
    async fn publish_key(&self, k: &PublishedKey) -> Result<(), StoreError>;

    /// Every node's published certificates for `provider`, oldest first.
    async fn list_published_keys(&self, provider: &str) -> Result<Vec<PublishedKey>, StoreError>;

    /// Removes certificates retired before `before` (all providers and
    /// nodes). Returns how many.
    async fn prune_published_keys(&self, before: i64) -> Result<u64, StoreError>;

    /// Records that `node_id` is alive at `now` (no change counter bump).
    async fn node_heartbeat(&self, node_id: &str, now: i64) -> Result<(), StoreError>;

    /// Every node that ever sent a heartbeat.
    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;

    /// A sealed shared secret by name.
    async fn get_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `sealed` under `name` unless a secret of that name exists;
    /// returns the value that is stored afterwards (the first writer's), so
    /// nodes racing at first start agree on one.
    async fn put_secret_if_absent(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// The entry as stored, expired or not.
    async fn cache_get(&self, namespace: &str, key: &str)
    -> Result<Option<CacheEntry>, StoreError>;

    /// Inserts or replaces the entry.
    async fn cache_put(
        &self,
        namespace: &str,
        key: &str,
        entry: &CacheEntry,
    ) -> Result<(), StoreError>;

    /// `Ok(false)` if there was no such entry.
    async fn cache_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;

    /// Up to `limit` entries of `namespace` whose keys sort after `after`
    /// (all when `None`), ordered by key byte-wise: a page of the cache, for
    /// listing it. Expired entries are included.
    async fn cache_list(
        &self,
        namespace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, CacheEntry)>, StoreError>;

    /// Appends a record to the audit log: the next `seq`, the newest
    /// record's hash as `prev_hash`, and the record's own hash, all decided
    /// inside one write transaction so that concurrent appends (from any
    /// node) serialise and never fork the chain. Refuses a draft that
    /// [`AuditDraft::check`] refuses. No change counter bump.
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditRecord, StoreError>;

    /// Up to `limit` (at most [`audit::MAX_PAGE`]) records with
    /// `seq > after_seq`, oldest first.
    async fn list_audit(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// The newest record's `(seq, hash)` and the newest checkpoint's `seq`.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;

    /// Stores a signed checkpoint. `Ok(false)` if one for that `seq` is
    /// already stored (the first is kept: two nodes may sign the same one).
    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> Result<bool, StoreError>;

    /// Up to `limit` (at most [`audit::MAX_PAGE`]) checkpoints with
    /// `seq > after_seq`, oldest first.
    async fn list_audit_checkpoints(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditCheckpoint>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_model_parses_case_insensitively_and_displays_lowercase() {
        assert_eq!("AAD".parse::<TrustModel>(), Ok(TrustModel::Aad));
        assert_eq!("Isolated".parse::<TrustModel>(), Ok(TrustModel::Isolated));
        assert_eq!("isolated".parse::<TrustModel>(), Ok(TrustModel::Isolated));
        assert_eq!(
            "aad ".parse::<TrustModel>(),
            Err(UnknownTrustModel("aad ".into()))
        );
        assert_eq!(TrustModel::Aad.to_string(), "aad");
        assert_eq!(TrustModel::Isolated.to_string(), "isolated");
        assert_eq!(
            serde_json::to_string(&TrustModel::Isolated).unwrap(),
            "\"isolated\""
        );
    }

    #[test]
    fn errors_have_distinct_codes_and_say_what_to_do() {
        let all = [
            StoreError::NotFound("provider \"a\"".into()),
            StoreError::AlreadyExists("provider \"a\"".into()),
            StoreError::LastCertificate,
            StoreError::Backend("disk full".into()),
            StoreError::Corrupt("bad json".into()),
            StoreError::SchemaTooNew {
                found: 7,
                supported: 2,
            },
            StoreError::SchemaTooOld {
                found: 1,
                required: 3,
            },
            StoreError::Conflict("provider \"a\"".into()),
            StoreError::Unavailable("connection refused".into()),
        ];
        let mut codes: Vec<_> = all.iter().map(StoreError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        let msg = all[5].to_string();
        assert!(msg.contains("version 7") && msg.contains("(2)"), "{msg}");
        assert_eq!(
            StoreError::LastCertificate.to_string(),
            "the last policy-management certificate cannot be removed; add another certificate first"
        );
    }
}
