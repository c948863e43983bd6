//! [`SqliteStore`]: the embedded implementation of [`Store`] on one SQLite
//! connection (WAL journal, foreign keys on, synchronous FULL).
//!
//! One connection behind a mutex serialises the store's own work; SQLite
//! calls block, so every trait method runs them on tokio's blocking pool and
//! never on an async worker. Every write opens its transaction with
//! `BEGIN IMMEDIATE`, which takes the database's write lock up front: the
//! reads that decide a write (does the provider exist, is this the last
//! certificate) see exactly the state the write commits against, even when
//! another process has the same file open. `synchronous = FULL` makes a
//! commit durable before the call returns; with WAL a crash leaves either the
//! old state or the new one.
//!
//! JSON values are stored as the text serde_json produces and parsed back on
//! read; anything unreadable is reported as [`StoreError::Corrupt`].

use crate::audit::{self, GENESIS_HASH};
use crate::migrations::{self, MIGRATIONS};
use crate::{
    AppliedRequest, AuditCheckpoint, AuditDraft, AuditHead, AuditRecord, CacheEntry, NodeRecord,
    PolicyCertRecord, PolicyRecord, ProviderRecord, PublishedKey, Store, StoreError, TrustModel,
};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The embedded store. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directory) the database at
    /// `path` and migrates it to the newest schema this build knows.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] if a newer Attesta has
    /// migrated it, [`StoreError::Corrupt`] if the file is not a database.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!(
                    "cannot create the database directory {}: {e}",
                    parent.display()
                ))
            })?;
        }
        create_private_file(path)?;
        let conn = Connection::open(path)
            .map_err(|e| map_sqlite_err(e, &format!("opening the database {}", path.display())))?;
        Self::setup(conn, true, true)
    }

    /// Opens the database at `path` without migrating it: refuses a schema
    /// older or newer than this build's ([`StoreError::SchemaTooOld`],
    /// [`StoreError::SchemaTooNew`]).
    pub fn open_checked(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| map_sqlite_err(e, &format!("opening the database {}", path.display())))?;
        Self::setup(conn, true, false)
    }

    /// A private database that lives as long as the store (tests, `verify`
    /// one-shots).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| map_sqlite_err(e, "opening an in-memory database"))?;
        Self::setup(conn, false, true)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::current_version(&lock(&self.conn))
    }

    fn setup(
        mut conn: Connection,
        on_disk: bool,
        migrate: bool,
    ) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| map_sqlite_err(e, "setting the busy timeout"))?;
        if on_disk {
            // The first statement to touch the file: a non-database fails here.
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(|e| map_sqlite_err(e, "switching to WAL journal mode"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!(
                    "the database stayed in journal mode {mode:?} instead of WAL; \
                     put it on a local file system that supports shared memory"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| map_sqlite_err(e, "setting synchronous = FULL"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| map_sqlite_err(e, "enabling foreign keys"))?;
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .map_err(|e| map_sqlite_err(e, "checking foreign keys"))?;
        if fk != 1 {
            return Err(StoreError::Backend(
                "this SQLite build does not enforce foreign keys".into(),
            ));
        }
        if migrate {
            migrations::migrate(&mut conn, MIGRATIONS)?;
        } else {
            migrations::check(&conn)?;
        }
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut lock(&conn)))
            .await
            .map_err(|e| {
                StoreError::Backend(format!("the store task {what} did not finish: {e}"))
            })?
    }

    /// Runs `f` inside one write transaction on the blocking pool; commits
    /// if it returns `Ok`, rolls back otherwise.
    async fn write<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(what, move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| map_sqlite_err(e, what))?;
            let out = f(&tx)?;
            tx.commit().map_err(|e| map_sqlite_err(e, what))?;
            Ok(out)
        })
        .await
    }
}

/// Locks the connection. A panic while holding the lock cannot leave a
/// half-written transaction behind (rusqlite rolls back on drop, and SQLite
/// never commits what was not committed), so a poisoned lock is recovered
/// rather than disabling the store for good; an open transaction, if any
/// survived, is rolled back first.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    let guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !guard.is_autocommit() {
        // Best effort: if this fails, the next BEGIN fails and reports it.
        let _ = guard.execute_batch("ROLLBACK");
    }
    guard
}

/// Creates the database file readable by its owner only, so the token hashes
/// and policies in it are not world-readable. SQLite gives its -wal and -shm
/// files the database file's permissions.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "cannot create the database file {}: {e}",
            path.display()
        ))),
    }
}

/// Maps a SQLite error to the store's error kinds; `what` says what the store
/// was doing.
pub(crate) fn map_sqlite_err(e: rusqlite::Error, what: &str) -> StoreError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) =>
        {
            StoreError::Corrupt(format!(
                "{what}: {e}; the file is not an Attesta database or is damaged, \
                 restore it from a backup or point Attesta at another path"
            ))
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => StoreError::Corrupt(format!("{what}: {e}")),
        _ => StoreError::Backend(format!("{what}: {e}")),
    }
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Backend(format!("cannot serialise {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what} is not valid: {e}")))
}

/// A providers row as stored, before its JSON columns are decoded.
struct ProviderRow {
    name: String,
    trust_model: String,
    token_hashes: String,
    config: String,
    created_at: i64,
    version: i64,
    key_epoch: i64,
}

const PROVIDER_COLUMNS: &str =
    "name, trust_model, token_hashes, config, created_at, version, key_epoch";

impl ProviderRow {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(ProviderRow {
            name: r.get(0)?,
            trust_model: r.get(1)?,
            token_hashes: r.get(2)?,
            config: r.get(3)?,
            created_at: r.get(4)?,
            version: r.get(5)?,
            key_epoch: r.get(6)?,
        })
    }

    fn decode(self) -> Result<ProviderRecord, StoreError> {
        let trust_model: TrustModel = self
            .trust_model
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("provider {:?} has {e}", self.name)))?;
        let token_hashes = from_json(
            &self.token_hashes,
            &format!("the token hash list of provider {:?}", self.name),
        )?;
        let config = from_json(
            &self.config,
            &format!("the configuration of provider {:?}", self.name),
        )?;
        Ok(ProviderRecord {
            name: self.name,
            trust_model,
            token_hashes,
            config,
            created_at: self.created_at,
            version: self.version,
            key_epoch: self.key_epoch,
        })
    }
}

/// Increments the change counter inside the caller's write transaction.
fn bump(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE store_generation SET generation = generation + 1 WHERE id = 1")
        .and_then(|mut s| s.execute([]))
        .map_err(|e| map_sqlite_err(e, "incrementing the change counter"))?;
    Ok(())
}

fn provider_exists(tx: &Transaction<'_>, name: &str) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT 1 FROM providers WHERE name = ?1")
        .and_then(|mut s| s.exists([name]))
        .map_err(|e| map_sqlite_err(e, "looking up the provider"))
}

/// Inserts a certificate unless one with its thumbprint is present.
/// `Ok(false)` if the same certificate was already there.
fn insert_cert(
    tx: &Transaction<'_>,
    provider: &str,
    cert: &PolicyCertRecord,
) -> Result<bool, StoreError> {
    let existing: Option<Vec<u8>> = tx
        .prepare_cached("SELECT der FROM policy_certs WHERE provider = ?1 AND thumbprint = ?2")
        .and_then(|mut s| {
            s.query_row([provider, cert.thumbprint.as_str()], |r| r.get(0))
                .optional()
        })
        .map_err(|e| map_sqlite_err(e, "looking up the policy-management certificate"))?;
    match existing {
        Some(der) if der == cert.der => Ok(false),
        // A thumbprint names exactly one DER; different bytes under the same
        // name mean the caller computed it wrongly. Keep what is stored.
        Some(_) => Err(StoreError::AlreadyExists(format!(
            "a different policy-management certificate with thumbprint {}",
            cert.thumbprint
        ))),
        None => {
            tx.prepare_cached(
                "INSERT INTO policy_certs (provider, thumbprint, der, added_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![provider, cert.thumbprint, cert.der, cert.added_at])
            })
            .map_err(|e| map_sqlite_err(e, "storing the policy-management certificate"))?;
            Ok(true)
        }
    }
}

const AUDIT_COLUMNS: &str = "seq, logged_at, operation, result, error_code, caller, provider, \
     target, details, node_id, prev_hash, hash";

/// An audit row. Details that are not JSON come back as a string, so the
/// record's hash no longer matches and verification names it as edited
/// instead of the listing failing.
fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let details: String = r.get(8)?;
    Ok(AuditRecord {
        seq: r.get(0)?,
        time: r.get(1)?,
        operation: r.get(2)?,
        result: r.get(3)?,
        error_code: r.get(4)?,
        caller: r.get(5)?,
        provider: r.get(6)?,
        target: r.get(7)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        node_id: r.get(9)?,
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_provider(
        &self,
        p: &ProviderRecord,
        initial_certs: &[PolicyCertRecord],
    ) -> Result<(), StoreError> {
        let name = p.name.clone();
        let trust_model = p.trust_model.as_str();
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        let created_at = p.created_at;
        let certs = initial_certs.to_vec();
        self.write("creating a provider", move |tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO providers (name, trust_model, token_hashes, config, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![name, trust_model, token_hashes, config, created_at])
                })
                .map_err(|e| map_sqlite_err(e, "creating the provider"))?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("provider {name:?}")));
            }
            for cert in &certs {
                insert_cert(tx, &name, cert)?;
            }
            bump(tx)
        })
        .await
    }

    async fn get_provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        let name = name.to_owned();
        self.run("reading a provider", move |conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {PROVIDER_COLUMNS} FROM providers WHERE name = ?1"
                ))
                .and_then(|mut s| s.query_row([&name], ProviderRow::from_row).optional())
                .map_err(|e| map_sqlite_err(e, "reading the provider"))?;
            row.map(ProviderRow::decode).transpose()
        })
        .await
    }

    async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        self.run("listing providers", move |conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY name"
                ))
                .and_then(|mut s| {
                    s.query_map([], ProviderRow::from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|e| map_sqlite_err(e, "listing providers"))?;
            rows.into_iter().map(ProviderRow::decode).collect()
        })
        .await
    }

    async fn update_provider(&self, p: &ProviderRecord) -> Result<(), StoreError> {
        let name = p.name.clone();
        let trust_model = p.trust_model.as_str();
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        self.write("updating a provider", move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE providers SET trust_model = ?2, token_hashes = ?3, config = ?4, \
                     version = version + 1 WHERE name = ?1",
                )
                .and_then(|mut s| s.execute(params![name, trust_model, token_hashes, config]))
                .map_err(|e| map_sqlite_err(e, "updating the provider"))?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("provider {name:?}")));
            }
            bump(tx)
        })
        .await
    }

    async fn update_provider_if(
        &self,
        p: &ProviderRecord,
        expected_version: i64,
    ) -> Result<i64, StoreError> {
        let name = p.name.clone();
        let trust_model = p.trust_model.as_str();
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        self.write("updating a provider", move |tx| {
            let map = |e| map_sqlite_err(e, "updating the provider");
            let current: Option<i64> = tx
                .prepare_cached("SELECT version FROM providers WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], |r| r.get(0)).optional())
                .map_err(map)?;
            match current {
                None => return Err(StoreError::NotFound(format!("provider {name:?}"))),
                Some(v) if v != expected_version => {
                    return Err(StoreError::Conflict(format!("provider {name:?}")));
                }
                Some(_) => {}
            }
            tx.prepare_cached(
                "UPDATE providers SET trust_model = ?2, token_hashes = ?3, config = ?4, \
                 version = version + 1 WHERE name = ?1",
            )
            .and_then(|mut s| s.execute(params![name, trust_model, token_hashes, config]))
            .map_err(map)?;
            bump(tx)?;
            Ok(expected_version + 1)
        })
        .await
    }

    async fn request_key_rotation(&self, provider: &str) -> Result<i64, StoreError> {
        let name = provider.to_owned();
        self.write("requesting a key rotation", move |tx| {
            let epoch: Option<i64> = tx
                .prepare_cached(
                    "UPDATE providers SET key_epoch = key_epoch + 1, version = version + 1 \
                     WHERE name = ?1 RETURNING key_epoch",
                )
                .and_then(|mut s| s.query_row([&name], |r| r.get(0)).optional())
                .map_err(|e| map_sqlite_err(e, "requesting a key rotation"))?;
            let epoch = epoch.ok_or_else(|| StoreError::NotFound(format!("provider {name:?}")))?;
            bump(tx)?;
            Ok(epoch)
        })
        .await
    }

    async fn delete_provider(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write("deleting a provider", move |tx| {
            // Children first and explicitly: the foreign keys would cascade,
            // but the contract must not depend on a backend enforcing them.
            for sql in [
                "DELETE FROM policies WHERE provider = ?1",
                "DELETE FROM policy_certs WHERE provider = ?1",
                "DELETE FROM published_keys WHERE provider = ?1",
            ] {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute([&name]))
                    .map_err(|e| map_sqlite_err(e, "deleting the provider's data"))?;
            }
            let deleted = tx
                .prepare_cached("DELETE FROM providers WHERE name = ?1")
                .and_then(|mut s| s.execute([&name]))
                .map_err(|e| map_sqlite_err(e, "deleting the provider"))?;
            bump(tx)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn get_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Option<PolicyRecord>, StoreError> {
        let provider = provider.to_owned();
        let attestation_type = attestation_type.to_owned();
        self.run("reading a policy", move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT attestation_type, policy_text, jws, signer, updated_at FROM policies \
                     WHERE provider = ?1 AND attestation_type = ?2",
                )
                .and_then(|mut s| {
                    s.query_row([&provider, &attestation_type], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    })
                    .optional()
                })
                .map_err(|e| map_sqlite_err(e, "reading the policy"))?;
            let Some((attestation_type, policy_text, jws, signer, updated_at)) = row else {
                return Ok(None);
            };
            let signer = signer
                .map(|s| {
                    from_json(
                        &s,
                        &format!("the signer of provider {provider:?}'s {attestation_type} policy"),
                    )
                })
                .transpose()?;
            Ok(Some(PolicyRecord {
                attestation_type,
                policy_text,
                jws,
                signer,
                updated_at,
            }))
        })
        .await
    }

    async fn put_policy(&self, provider: &str, policy: &PolicyRecord) -> Result<(), StoreError> {
        let provider = provider.to_owned();
        let policy_signer = policy
            .signer
            .as_ref()
            .map(|s| to_json(s, "the policy signer"))
            .transpose()?;
        let policy = policy.clone();
        self.write("storing a policy", move |tx| {
            if !provider_exists(tx, &provider)? {
                return Err(StoreError::NotFound(format!("provider {provider:?}")));
            }
            tx.prepare_cached(
                "INSERT INTO policies \
                 (provider, attestation_type, policy_text, jws, signer, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (provider, attestation_type) DO UPDATE SET \
                 policy_text = excluded.policy_text, jws = excluded.jws, \
                 signer = excluded.signer, updated_at = excluded.updated_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    provider,
                    policy.attestation_type,
                    policy.policy_text,
                    policy.jws,
                    policy_signer,
                    policy.updated_at
                ])
            })
            .map_err(|e| map_sqlite_err(e, "storing the policy"))?;
            bump(tx)
        })
        .await
    }

    async fn delete_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<bool, StoreError> {
        let provider = provider.to_owned();
        let attestation_type = attestation_type.to_owned();
        self.write("deleting a policy", move |tx| {
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM policies WHERE provider = ?1 AND attestation_type = ?2",
                )
                .and_then(|mut s| s.execute([&provider, &attestation_type]))
                .map_err(|e| map_sqlite_err(e, "deleting the policy"))?;
            if deleted > 0 {
                bump(tx)?;
            }
            Ok(deleted > 0)
        })
        .await
    }

    async fn list_policy_certs(&self, provider: &str) -> Result<Vec<PolicyCertRecord>, StoreError> {
        let provider = provider.to_owned();
        self.run("listing policy-management certificates", move |conn| {
            conn.prepare_cached(
                "SELECT thumbprint, der, added_at FROM policy_certs WHERE provider = ?1 \
                 ORDER BY added_at, thumbprint",
            )
            .and_then(|mut s| {
                s.query_map([&provider], |r| {
                    Ok(PolicyCertRecord {
                        thumbprint: r.get(0)?,
                        der: r.get(1)?,
                        added_at: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_sqlite_err(e, "listing policy-management certificates"))
        })
        .await
    }

    async fn add_policy_cert(
        &self,
        provider: &str,
        cert: &PolicyCertRecord,
    ) -> Result<bool, StoreError> {
        let provider = provider.to_owned();
        let cert = cert.clone();
        self.write("adding a policy-management certificate", move |tx| {
            if !provider_exists(tx, &provider)? {
                return Err(StoreError::NotFound(format!("provider {provider:?}")));
            }
            let added = insert_cert(tx, &provider, &cert)?;
            if added {
                bump(tx)?;
            }
            Ok(added)
        })
        .await
    }

    async fn remove_policy_cert(
        &self,
        provider: &str,
        thumbprint: &str,
    ) -> Result<bool, StoreError> {
        let provider = provider.to_owned();
        let thumbprint = thumbprint.to_owned();
        self.write("removing a policy-management certificate", move |tx| {
            let map = |e| map_sqlite_err(e, "removing the policy-management certificate");
            let present = tx
                .prepare_cached(
                    "SELECT 1 FROM policy_certs WHERE provider = ?1 AND thumbprint = ?2",
                )
                .and_then(|mut s| s.exists([&provider, &thumbprint]))
                .map_err(map)?;
            if !present {
                return Ok(false);
            }
            let count: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM policy_certs WHERE provider = ?1")
                .and_then(|mut s| s.query_row([&provider], |r| r.get(0)))
                .map_err(map)?;
            if count <= 1 {
                return Err(StoreError::LastCertificate);
            }
            tx.prepare_cached("DELETE FROM policy_certs WHERE provider = ?1 AND thumbprint = ?2")
                .and_then(|mut s| s.execute([&provider, &thumbprint]))
                .map_err(map)?;
            bump(tx)?;
            Ok(true)
        })
        .await
    }

    async fn get_applied_request(&self, hash: &str) -> Result<Option<AppliedRequest>, StoreError> {
        let hash = hash.to_owned();
        self.run("reading an applied request", move |conn| {
            conn.prepare_cached(
                "SELECT hash, provider, operation, attestation_type, applied_at
                 FROM applied_requests WHERE hash = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&hash], |r| {
                    Ok(AppliedRequest {
                        hash: r.get(0)?,
                        provider: r.get(1)?,
                        operation: r.get(2)?,
                        attestation_type: r.get(3)?,
                        applied_at: r.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(|e| map_sqlite_err(e, "reading an applied request"))
        })
        .await
    }

    async fn record_applied_request(&self, r: &AppliedRequest) -> Result<bool, StoreError> {
        let r = r.clone();
        self.write("recording an applied request", move |tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO applied_requests
                 (hash, provider, operation, attestation_type, applied_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params![
                    r.hash,
                    r.provider,
                    r.operation,
                    r.attestation_type,
                    r.applied_at
                ])
            })
            .map(|n| n > 0)
            .map_err(|e| map_sqlite_err(e, "recording an applied request"))
        })
        .await
    }

    async fn generation(&self) -> Result<i64, StoreError> {
        self.run("reading the change counter", move |conn| {
            conn.prepare_cached("SELECT generation FROM store_generation WHERE id = 1")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(|e| map_sqlite_err(e, "reading the change counter"))
        })
        .await
    }

    async fn publish_key(&self, k: &PublishedKey) -> Result<(), StoreError> {
        let k = k.clone();
        self.write("publishing a signing certificate", move |tx| {
            if !provider_exists(tx, &k.provider)? {
                return Err(StoreError::NotFound(format!("provider {:?}", k.provider)));
            }
            let changed = tx
                .prepare_cached(
                    "INSERT INTO published_keys \
                     (provider, kid, node_id, cert_der, created_at, retired_at, epoch) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (provider, kid) DO UPDATE SET retired_at = excluded.retired_at \
                     WHERE published_keys.retired_at IS NOT excluded.retired_at",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        k.provider,
                        k.kid,
                        k.node_id,
                        k.cert_der,
                        k.created_at,
                        k.retired_at,
                        k.epoch
                    ])
                })
                .map_err(|e| map_sqlite_err(e, "publishing a signing certificate"))?;
            if changed > 0 {
                bump(tx)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_published_keys(&self, provider: &str) -> Result<Vec<PublishedKey>, StoreError> {
        let provider = provider.to_owned();
        self.run("listing published signing certificates", move |conn| {
            conn.prepare_cached(
                "SELECT provider, kid, node_id, cert_der, created_at, retired_at, epoch \
                 FROM published_keys WHERE provider = ?1 ORDER BY created_at, kid",
            )
            .and_then(|mut s| {
                s.query_map([&provider], |r| {
                    Ok(PublishedKey {
                        provider: r.get(0)?,
                        kid: r.get(1)?,
                        node_id: r.get(2)?,
                        cert_der: r.get(3)?,
                        created_at: r.get(4)?,
                        retired_at: r.get(5)?,
                        epoch: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_sqlite_err(e, "listing published signing certificates"))
        })
        .await
    }

    async fn prune_published_keys(&self, before: i64) -> Result<u64, StoreError> {
        self.write("pruning published signing certificates", move |tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM published_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
                )
                .and_then(|mut s| s.execute([before]))
                .map_err(|e| map_sqlite_err(e, "pruning published signing certificates"))?;
            if n > 0 {
                bump(tx)?;
            }
            Ok(n as u64)
        })
        .await
    }

    async fn node_heartbeat(&self, node_id: &str, now: i64) -> Result<(), StoreError> {
        let node_id = node_id.to_owned();
        self.write("recording a node heartbeat", move |tx| {
            tx.prepare_cached(
                "INSERT INTO nodes (node_id, last_seen) VALUES (?1, ?2) \
                 ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen",
            )
            .and_then(|mut s| s.execute(params![node_id, now]))
            .map_err(|e| map_sqlite_err(e, "recording a node heartbeat"))?;
            Ok(())
        })
        .await
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.run("listing nodes", move |conn| {
            conn.prepare_cached("SELECT node_id, last_seen FROM nodes ORDER BY node_id")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(NodeRecord {
                            node_id: r.get(0)?,
                            last_seen: r.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|e| map_sqlite_err(e, "listing nodes"))
        })
        .await
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_owned();
        self.run("reading a secret", move |conn| {
            conn.prepare_cached("SELECT sealed FROM secrets WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], |r| r.get(0)).optional())
                .map_err(|e| map_sqlite_err(e, "reading a secret"))
        })
        .await
    }

    async fn put_secret_if_absent(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        let sealed = sealed.to_vec();
        self.write("storing a secret", move |tx| {
            let map = |e| map_sqlite_err(e, "storing a secret");
            tx.prepare_cached(
                "INSERT INTO secrets (name, sealed, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![name, sealed, unix_now()]))
            .map_err(map)?;
            tx.prepare_cached("SELECT sealed FROM secrets WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], |r| r.get(0)))
                .map_err(map)
        })
        .await
    }

    async fn cache_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<CacheEntry>, StoreError> {
        let namespace = namespace.to_owned();
        let key = key.to_owned();
        self.run("reading the cache", move |conn| {
            conn.prepare_cached(
                "SELECT value, fetched_at, expires_at FROM cache_entries \
                 WHERE namespace = ?1 AND cache_key = ?2",
            )
            .and_then(|mut s| {
                s.query_row([&namespace, &key], |r| {
                    Ok(CacheEntry {
                        value: r.get(0)?,
                        fetched_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|e| map_sqlite_err(e, "reading the cache"))
        })
        .await
    }

    async fn cache_put(
        &self,
        namespace: &str,
        key: &str,
        entry: &CacheEntry,
    ) -> Result<(), StoreError> {
        let namespace = namespace.to_owned();
        let key = key.to_owned();
        let entry = entry.clone();
        self.write("writing the cache", move |tx| {
            tx.prepare_cached(
                "INSERT INTO cache_entries (namespace, cache_key, value, fetched_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (namespace, cache_key) DO UPDATE SET \
                 value = excluded.value, fetched_at = excluded.fetched_at, \
                 expires_at = excluded.expires_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    namespace,
                    key,
                    entry.value,
                    entry.fetched_at,
                    entry.expires_at
                ])
            })
            .map_err(|e| map_sqlite_err(e, "writing the cache"))?;
            Ok(())
        })
        .await
    }

    async fn cache_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let namespace = namespace.to_owned();
        let key = key.to_owned();
        self.write("deleting from the cache", move |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM cache_entries WHERE namespace = ?1 AND cache_key = ?2")
                .and_then(|mut s| s.execute([&namespace, &key]))
                .map_err(|e| map_sqlite_err(e, "deleting from the cache"))?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn cache_list(
        &self,
        namespace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, CacheEntry)>, StoreError> {
        let namespace = namespace.to_owned();
        let after = after.map(str::to_owned);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run("listing the cache", move |conn| {
            conn.prepare_cached(
                "SELECT cache_key, value, fetched_at, expires_at FROM cache_entries \
                 WHERE namespace = ?1 AND (?2 IS NULL OR cache_key > ?2) \
                 ORDER BY cache_key LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![namespace, after, limit], |r| {
                    Ok((
                        r.get(0)?,
                        CacheEntry {
                            value: r.get(1)?,
                            fetched_at: r.get(2)?,
                            expires_at: r.get(3)?,
                        },
                    ))
                })?
                .collect()
            })
            .map_err(|e| map_sqlite_err(e, "listing the cache"))
        })
        .await
    }

    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditRecord, StoreError> {
        draft.check()?;
        let draft = draft.clone();
        self.write("appending to the audit log", move |tx| {
            let map = |e| map_sqlite_err(e, "appending to the audit log");
            let head: Option<(i64, String)> = tx
                .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(map)?;
            let (seq, prev) = match head {
                Some((seq, hash)) => (seq + 1, hash),
                None => (1, GENESIS_HASH.to_string()),
            };
            let r = draft.into_record(seq, prev);
            tx.prepare_cached(&format!(
                "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    r.seq,
                    r.time,
                    r.operation,
                    r.result,
                    r.error_code,
                    r.caller,
                    r.provider,
                    r.target,
                    audit::canonical_json(&r.details),
                    r.node_id,
                    r.prev_hash,
                    r.hash
                ])
            })
            .map_err(map)?;
            Ok(r)
        })
        .await
    }

    async fn list_audit(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = i64::from(limit.min(audit::MAX_PAGE));
        self.run("listing the audit log", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map([after_seq, limit], audit_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_sqlite_err(e, "listing the audit log"))
        })
        .await
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.run("reading the audit log's head", move |conn| {
            let map = |e| map_sqlite_err(e, "reading the audit log's head");
            let last_record = conn
                .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(map)?;
            let last_checkpoint = conn
                .prepare_cached("SELECT MAX(seq) FROM audit_checkpoints")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(map)?;
            Ok(AuditHead {
                last_record,
                last_checkpoint,
            })
        })
        .await
    }

    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> Result<bool, StoreError> {
        let c = c.clone();
        self.write("storing an audit checkpoint", move |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_checkpoints (seq, hash, jws, created_at, node_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![c.seq, c.hash, c.jws, c.created_at, c.node_id]))
            .map(|n| n > 0)
            .map_err(|e| map_sqlite_err(e, "storing an audit checkpoint"))
        })
        .await
    }

    async fn list_audit_checkpoints(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditCheckpoint>, StoreError> {
        let limit = i64::from(limit.min(audit::MAX_PAGE));
        self.run("listing audit checkpoints", move |conn| {
            conn.prepare_cached(
                "SELECT seq, hash, jws, created_at, node_id FROM audit_checkpoints \
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map([after_seq, limit], |r| {
                    Ok(AuditCheckpoint {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                        jws: r.get(2)?,
                        created_at: r.get(3)?,
                        node_id: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_sqlite_err(e, "listing audit checkpoints"))
        })
        .await
    }
}
