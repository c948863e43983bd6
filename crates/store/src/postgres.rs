//! [`PgStore`]: the PostgreSQL implementation of [`Store`], for deployments
//! where several nodes share one database.
//!
//! Connections come from a deadpool pool over tokio-postgres; TLS to the
//! database goes through rustls (tokio-postgres-rustls; roots from
//! `store.ca_file` or the system's), so no OpenSSL is linked. The URL's
//! `sslmode` decides: `disable` never uses TLS, `prefer` (the default) uses
//! it when the server offers it, `require` insists. rustls always verifies
//! the certificate chain and the host name, so TLS here is always libpq's
//! `verify-full`; libpq's `sslmode=verify-full` and `verify-ca` (which
//! tokio-postgres does not parse) are read as `require`. A multi-host URL with
//! `target_session_attrs=read-write` follows a promoted standby.
//!
//! Write transactions are serialised the way SQLite's `BEGIN IMMEDIATE`
//! serialises them: each one starts by locking the single row of
//! `store_generation` (`SELECT … FOR UPDATE`), so the reads that decide a
//! write see the state it commits against, and the change counter is
//! incremented in the same transaction when something changed. Writes that
//! no other node needs to see (cache entries, heartbeats, applied requests,
//! secrets) are single upserts and take no lock.
//!
//! Every call is bounded: a pool wait, connect or statement that takes longer
//! than [`PgOptions::op_timeout`] fails as [`StoreError::Unavailable`], as do
//! a closed connection, a server shutting down and a read-only server (a
//! standby not yet promoted), so callers answer 503 instead of hanging.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::audit::{self, GENESIS_HASH};
use crate::migrations::{MIGRATIONS, postgres_sql};
use crate::sqlite::unix_now;
use crate::{
    AppliedRequest, AuditCheckpoint, AuditDraft, AuditHead, AuditRecord, CacheEntry, NodeRecord,
    PolicyCertRecord, PolicyRecord, ProviderRecord, PublishedKey, Store, StoreError, TrustModel,
};

/// Connection settings of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool.
    pub max_connections: usize,
    /// Upper bound of one store call (pool wait, connect, statements).
    pub op_timeout: Duration,
    /// PEM file of the CA(s) that sign the database's TLS certificate; the
    /// system roots when unset.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            op_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// The PostgreSQL store. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    op_timeout: Duration,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Arbitrary constant naming the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x0a77_e57a_0000_0001;

fn rustls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                StoreError::Backend(format!("store.ca_file {}: {e}", path.display()))
            })?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| {
                    StoreError::Backend(format!("store.ca_file {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    StoreError::Backend(format!("store.ca_file {}: {e}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(StoreError::Backend(format!(
                    "store.ca_file {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        None => {
            // Unreadable system certificates only matter when the server asks
            // for TLS; then the handshake fails and says so.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `url` with libpq's `sslmode=verify-full` or `verify-ca` as `require`
/// (module docs: with rustls, `require` verifies chain and host name).
fn libpq_sslmode(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<&str> = query
        .split('&')
        .map(|kv| match kv {
            "sslmode=verify-full" | "sslmode=verify-ca" => "sslmode=require",
            other => other,
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// A tokio-postgres error as a person needs it: its `Display` alone is
/// "db error" or "error connecting to server", the cause is further down
/// (the server's message and SQLSTATE, or the I/O or TLS error).
fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps a tokio-postgres error; `what` says what the store was doing.
fn map_pg(e: tokio_postgres::Error, what: &str) -> StoreError {
    if let Some(code) = e.code() {
        let unavailable = [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::QUERY_CANCELED,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ];
        if unavailable.contains(code) || code.code().starts_with("08") {
            return StoreError::Unavailable(format!("{what}: {}", pg_message(&e)));
        }
        return StoreError::Backend(format!("{what}: {}", pg_message(&e)));
    }
    // No SQLSTATE: the connection failed or closed (I/O, TLS, timeout).
    StoreError::Unavailable(format!("{what}: {}", pg_message(&e)))
}

fn corrupt(e: tokio_postgres::Error, what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {}", pg_message(&e)))
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Backend(format!("cannot serialise {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what} is not valid: {e}")))
}

const PROVIDER_COLUMNS: &str =
    "name, trust_model, token_hashes, config, created_at, version, key_epoch";

fn provider_from_row(r: &tokio_postgres::Row) -> Result<ProviderRecord, StoreError> {
    let get = |e| corrupt(e, "reading a provider row");
    let name: String = r.try_get(0).map_err(get)?;
    let trust_model: String = r.try_get(1).map_err(get)?;
    let token_hashes: String = r.try_get(2).map_err(get)?;
    let config: String = r.try_get(3).map_err(get)?;
    let trust_model: TrustModel = trust_model
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("provider {name:?} has {e}")))?;
    Ok(ProviderRecord {
        token_hashes: from_json(
            &token_hashes,
            &format!("the token hash list of provider {name:?}"),
        )?,
        config: from_json(&config, &format!("the configuration of provider {name:?}"))?,
        trust_model,
        created_at: r.try_get(4).map_err(get)?,
        version: r.try_get(5).map_err(get)?,
        key_epoch: r.try_get(6).map_err(get)?,
        name,
    })
}

fn published_from_row(r: &tokio_postgres::Row) -> Result<PublishedKey, StoreError> {
    let get = |e| corrupt(e, "reading a published key row");
    Ok(PublishedKey {
        provider: r.try_get(0).map_err(get)?,
        kid: r.try_get(1).map_err(get)?,
        node_id: r.try_get(2).map_err(get)?,
        cert_der: r.try_get(3).map_err(get)?,
        created_at: r.try_get(4).map_err(get)?,
        retired_at: r.try_get(5).map_err(get)?,
        epoch: r.try_get(6).map_err(get)?,
    })
}

const AUDIT_COLUMNS: &str = "seq, logged_at, operation, result, error_code, caller, provider, \
     target, details, node_id, prev_hash, hash";

/// An audit row; details that are not JSON come back as a string (see the
/// SQLite store).
fn audit_from_row(r: &tokio_postgres::Row) -> Result<AuditRecord, StoreError> {
    let get = |e| corrupt(e, "reading an audit record");
    let details: String = r.try_get(8).map_err(get)?;
    Ok(AuditRecord {
        seq: r.try_get(0).map_err(get)?,
        time: r.try_get(1).map_err(get)?,
        operation: r.try_get(2).map_err(get)?,
        result: r.try_get(3).map_err(get)?,
        error_code: r.try_get(4).map_err(get)?,
        caller: r.try_get(5).map_err(get)?,
        provider: r.try_get(6).map_err(get)?,
        target: r.try_get(7).map_err(get)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        node_id: r.try_get(9).map_err(get)?,
        prev_hash: r.try_get(10).map_err(get)?,
        hash: r.try_get(11).map_err(get)?,
    })
}

/// A write transaction that holds the change-counter lock.
struct WriteTx<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    changed: bool,
}

impl WriteTx<'_> {
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let stmt = self
            .tx
            .prepare_cached(sql)
            .await
            .map_err(|e| map_pg(e, what))?;
        self.tx
            .query(&stmt, params)
            .await
            .map_err(|e| map_pg(e, what))
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<u64, StoreError> {
        let stmt = self
            .tx
            .prepare_cached(sql)
            .await
            .map_err(|e| map_pg(e, what))?;
        self.tx
            .execute(&stmt, params)
            .await
            .map_err(|e| map_pg(e, what))
    }

    async fn provider_exists(&self, name: &str, lock: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM providers WHERE name = $1 {lock}");
        Ok(!self
            .query(&sql, &[&name], "looking up the provider")
            .await?
            .is_empty())
    }

    async fn insert_cert(
        &self,
        provider: &str,
        cert: &PolicyCertRecord,
    ) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "SELECT der FROM policy_certs WHERE provider = $1 AND thumbprint = $2",
                &[&provider, &cert.thumbprint],
                "looking up the policy-management certificate",
            )
            .await?;
        match rows.first() {
            Some(row) => {
                let der: Vec<u8> = row
                    .try_get(0)
                    .map_err(|e| corrupt(e, "reading a certificate"))?;
                if der == cert.der {
                    Ok(false)
                } else {
                    Err(StoreError::AlreadyExists(format!(
                        "a different policy-management certificate with thumbprint {}",
                        cert.thumbprint
                    )))
                }
            }
            None => {
                self.execute(
                    "INSERT INTO policy_certs (provider, thumbprint, der, added_at) \
                     VALUES ($1, $2, $3, $4)",
                    &[&provider, &cert.thumbprint, &cert.der, &cert.added_at],
                    "storing the policy-management certificate",
                )
                .await?;
                Ok(true)
            }
        }
    }
}

impl PgStore {
    /// Connects (lazily: the pool opens connections on first use, so a node
    /// can start while the database is failing over) and checks one
    /// connection now, so a wrong URL or password fails at start.
    pub async fn connect(url: &str, opts: &PgOptions) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = libpq_sslmode(url).parse().map_err(|e| {
            StoreError::Backend(format!(
                "store.url is not a PostgreSQL connection string: {e}"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(opts.op_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("attesta");
        }
        let tls =
            tokio_postgres_rustls::MakeRustlsConnect::new(rustls_config(opts.ca_file.as_deref())?);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.op_timeout))
            .create_timeout(Some(opts.op_timeout))
            .recycle_timeout(Some(opts.op_timeout))
            .build()
            .map_err(|e| StoreError::Backend(format!("building the connection pool: {e}")))?;
        let store = PgStore {
            pool,
            op_timeout: opts.op_timeout,
        };
        drop(store.client().await?);
        Ok(store)
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => map_pg(e, "connecting to the database"),
            other => StoreError::Unavailable(format!("connecting to the database: {other}")),
        })
    }

    /// Runs `f` within the call's time bound.
    async fn bounded<T, F>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        match tokio::time::timeout(self.op_timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "{what}: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }

    async fn read(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.bounded(what, async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(sql)
                .await
                .map_err(|e| map_pg(e, what))?;
            client
                .query(&stmt, params)
                .await
                .map_err(|e| map_pg(e, what))
        })
        .await
    }

    async fn exec(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<u64, StoreError> {
        self.bounded(what, async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(sql)
                .await
                .map_err(|e| map_pg(e, what))?;
            client
                .execute(&stmt, params)
                .await
                .map_err(|e| map_pg(e, what))
        })
        .await
    }

    /// Runs `f` in a write transaction holding the change-counter lock;
    /// increments the counter if `f` set `changed`; commits on `Ok`.
    async fn write<T, F>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        F: for<'a> AsyncFnOnce(&'a mut WriteTx<'_>) -> Result<T, StoreError>,
    {
        self.bounded(what, async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(|e| map_pg(e, what))?;
            let mut w = WriteTx { tx, changed: false };
            w.query(
                "SELECT generation FROM store_generation WHERE id = 1 FOR UPDATE",
                &[],
                what,
            )
            .await?;
            let out = f(&mut w).await?;
            if w.changed {
                w.execute(
                    "UPDATE store_generation SET generation = generation + 1 WHERE id = 1",
                    &[],
                    "incrementing the change counter",
                )
                .await?;
            }
            w.tx.commit().await.map_err(|e| map_pg(e, what))?;
            Ok(out)
        })
        .await
    }

    /// The schema version the database is at (0 for an empty database).
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        let client = self.client().await?;
        current_version(&client).await
    }

    /// Refuses a schema that is not this build's, changing nothing.
    pub async fn check_schema(&self) -> Result<u32, StoreError> {
        let found = self.schema_version().await?;
        let supported = crate::migrations::latest_version();
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        if found < supported {
            return Err(StoreError::SchemaTooOld {
                found,
                required: supported,
            });
        }
        Ok(found)
    }

    /// Applies every migration newer than the database, each in its own
    /// transaction under an advisory lock (nodes starting together apply
    /// each one once). Refuses a newer schema before changing anything.
    pub async fn migrate(&self) -> Result<u32, StoreError> {
        let supported = crate::migrations::latest_version();
        let mut client = self.client().await?;
        let what = "migrating the schema";
        let found = current_version(&client).await?;
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        for m in MIGRATIONS {
            let tx = client.transaction().await.map_err(|e| map_pg(e, what))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(|e| map_pg(e, what))?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version     BIGINT NOT NULL PRIMARY KEY,
                    description TEXT   NOT NULL,
                    applied_at  BIGINT NOT NULL
                )",
            )
            .await
            .map_err(|e| map_pg(e, "creating schema_migrations"))?;
            let now_at = current_version(&tx).await?;
            if now_at > supported {
                return Err(StoreError::SchemaTooNew {
                    found: now_at,
                    supported,
                });
            }
            if m.version <= now_at {
                continue;
            }
            if m.version != now_at + 1 {
                return Err(StoreError::Corrupt(format!(
                    "database is at schema version {now_at} but the next known migration is {}",
                    m.version
                )));
            }
            tx.batch_execute(&postgres_sql(m.sql))
                .await
                .map_err(|e| map_pg(e, &format!("applying schema migration {}", m.version)))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) \
                 VALUES ($1, $2, $3)",
                &[&i64::from(m.version), &m.description, &unix_now()],
            )
            .await
            .map_err(|e| map_pg(e, "recording a schema migration"))?;
            tx.commit()
                .await
                .map_err(|e| map_pg(e, &format!("committing schema migration {}", m.version)))?;
            tracing::info!(version = m.version, "applied schema migration");
        }
        current_version(&client).await
    }
}

async fn current_version<C: deadpool_postgres::GenericClient>(
    client: &C,
) -> Result<u32, StoreError> {
    let what = "reading the schema version";
    let exists = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(|e| map_pg(e, what))?;
    if !exists.try_get::<_, bool>(0).map_err(|e| corrupt(e, what))? {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(|e| map_pg(e, what))?;
    let count: i64 = row.try_get(0).map_err(|e| corrupt(e, what))?;
    let max: i64 = row.try_get(1).map_err(|e| corrupt(e, what))?;
    let max = u32::try_from(max)
        .map_err(|_| StoreError::Corrupt(format!("schema_migrations holds version {max}")))?;
    if count != i64::from(max) {
        return Err(StoreError::Corrupt(format!(
            "schema_migrations lists {count} versions but the highest is {max}; \
             the migration history has gaps or duplicates, restore the database from a backup"
        )));
    }
    Ok(max)
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn create_provider(
        &self,
        p: &ProviderRecord,
        initial_certs: &[PolicyCertRecord],
    ) -> Result<(), StoreError> {
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        self.write("creating a provider", async |w| {
            let inserted = w
                .execute(
                    "INSERT INTO providers (name, trust_model, token_hashes, config, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
                    &[
                        &p.name,
                        &p.trust_model.as_str(),
                        &token_hashes,
                        &config,
                        &p.created_at,
                    ],
                    "creating the provider",
                )
                .await?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("provider {:?}", p.name)));
            }
            for cert in initial_certs {
                w.insert_cert(&p.name, cert).await?;
            }
            w.changed = true;
            Ok(())
        })
        .await
    }

    async fn get_provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM providers WHERE name = $1");
        self.read(&sql, &[&name], "reading the provider")
            .await?
            .first()
            .map(provider_from_row)
            .transpose()
    }

    async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY name COLLATE \"C\"");
        self.read(&sql, &[], "listing providers")
            .await?
            .iter()
            .map(provider_from_row)
            .collect()
    }

    async fn update_provider(&self, p: &ProviderRecord) -> Result<(), StoreError> {
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        self.write("updating a provider", async |w| {
            let n = w
                .execute(
                    "UPDATE providers SET trust_model = $2, token_hashes = $3, config = $4, \
                     version = version + 1 WHERE name = $1",
                    &[&p.name, &p.trust_model.as_str(), &token_hashes, &config],
                    "updating the provider",
                )
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("provider {:?}", p.name)));
            }
            w.changed = true;
            Ok(())
        })
        .await
    }

    async fn update_provider_if(
        &self,
        p: &ProviderRecord,
        expected_version: i64,
    ) -> Result<i64, StoreError> {
        let token_hashes = to_json(&p.token_hashes, "the token hash list")?;
        let config = to_json(&p.config, "the provider configuration")?;
        self.write("updating a provider", async |w| {
            let rows = w
                .query(
                    "UPDATE providers SET trust_model = $2, token_hashes = $3, config = $4, \
                     version = version + 1 WHERE name = $1 AND version = $5 RETURNING version",
                    &[
                        &p.name,
                        &p.trust_model.as_str(),
                        &token_hashes,
                        &config,
                        &expected_version,
                    ],
                    "updating the provider",
                )
                .await?;
            if let Some(row) = rows.first() {
                w.changed = true;
                return row
                    .try_get(0)
                    .map_err(|e| corrupt(e, "reading the provider version"));
            }
            if w.provider_exists(&p.name, "").await? {
                Err(StoreError::Conflict(format!("provider {:?}", p.name)))
            } else {
                Err(StoreError::NotFound(format!("provider {:?}", p.name)))
            }
        })
        .await
    }

    async fn request_key_rotation(&self, provider: &str) -> Result<i64, StoreError> {
        self.write("requesting a key rotation", async |w| {
            let rows = w
                .query(
                    "UPDATE providers SET key_epoch = key_epoch + 1, version = version + 1 \
                     WHERE name = $1 RETURNING key_epoch",
                    &[&provider],
                    "requesting a key rotation",
                )
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| StoreError::NotFound(format!("provider {provider:?}")))?;
            w.changed = true;
            row.try_get(0)
                .map_err(|e| corrupt(e, "reading the key epoch"))
        })
        .await
    }

    async fn delete_provider(&self, name: &str) -> Result<bool, StoreError> {
        self.write("deleting a provider", async |w| {
            for sql in [
                "DELETE FROM policies WHERE provider = $1",
                "DELETE FROM policy_certs WHERE provider = $1",
                "DELETE FROM published_keys WHERE provider = $1",
            ] {
                w.execute(sql, &[&name], "deleting the provider's data")
                    .await?;
            }
            let n = w
                .execute(
                    "DELETE FROM providers WHERE name = $1",
                    &[&name],
                    "deleting the provider",
                )
                .await?;
            w.changed = true;
            Ok(n > 0)
        })
        .await
    }

    async fn get_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Option<PolicyRecord>, StoreError> {
        let rows = self
            .read(
                "SELECT attestation_type, policy_text, jws, signer, updated_at FROM policies \
                 WHERE provider = $1 AND attestation_type = $2",
                &[&provider, &attestation_type],
                "reading the policy",
            )
            .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let get = |e| corrupt(e, "reading a policy row");
        let attestation_type: String = r.try_get(0).map_err(get)?;
        let signer: Option<String> = r.try_get(3).map_err(get)?;
        let signer = signer
            .map(|s| {
                from_json(
                    &s,
                    &format!("the signer of provider {provider:?}'s {attestation_type} policy"),
                )
            })
            .transpose()?;
        Ok(Some(PolicyRecord {
            policy_text: r.try_get(1).map_err(get)?,
            jws: r.try_get(2).map_err(get)?,
            signer,
            updated_at: r.try_get(4).map_err(get)?,
            attestation_type,
        }))
    }

    async fn put_policy(&self, provider: &str, policy: &PolicyRecord) -> Result<(), StoreError> {
        let signer = policy
            .signer
            .as_ref()
            .map(|s| to_json(s, "the policy signer"))
            .transpose()?;
        self.write("storing a policy", async |w| {
            if !w.provider_exists(provider, "FOR SHARE").await? {
                return Err(StoreError::NotFound(format!("provider {provider:?}")));
            }
            w.execute(
                "INSERT INTO policies \
                 (provider, attestation_type, policy_text, jws, signer, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (provider, attestation_type) DO UPDATE SET \
                 policy_text = excluded.policy_text, jws = excluded.jws, \
                 signer = excluded.signer, updated_at = excluded.updated_at",
                &[
                    &provider,
                    &policy.attestation_type,
                    &policy.policy_text,
                    &policy.jws,
                    &signer,
                    &policy.updated_at,
                ],
                "storing the policy",
            )
            .await?;
            w.changed = true;
            Ok(())
        })
        .await
    }

    async fn delete_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<bool, StoreError> {
        self.write("deleting a policy", async |w| {
            let n = w
                .execute(
                    "DELETE FROM policies WHERE provider = $1 AND attestation_type = $2",
                    &[&provider, &attestation_type],
                    "deleting the policy",
                )
                .await?;
            w.changed = n > 0;
            Ok(n > 0)
        })
        .await
    }

    async fn list_policy_certs(&self, provider: &str) -> Result<Vec<PolicyCertRecord>, StoreError> {
        let rows = self
            .read(
                "SELECT thumbprint, der, added_at FROM policy_certs WHERE provider = $1 \
                 ORDER BY added_at, thumbprint COLLATE \"C\"",
                &[&provider],
                "listing policy-management certificates",
            )
            .await?;
        rows.iter()
            .map(|r| {
                let get = |e| corrupt(e, "reading a certificate row");
                Ok(PolicyCertRecord {
                    thumbprint: r.try_get(0).map_err(get)?,
                    der: r.try_get(1).map_err(get)?,
                    added_at: r.try_get(2).map_err(get)?,
                })
            })
            .collect()
    }

    async fn add_policy_cert(
        &self,
        provider: &str,
        cert: &PolicyCertRecord,
    ) -> Result<bool, StoreError> {
        self.write("adding a policy-management certificate", async |w| {
            if !w.provider_exists(provider, "FOR SHARE").await? {
                return Err(StoreError::NotFound(format!("provider {provider:?}")));
            }
            let added = w.insert_cert(provider, cert).await?;
            w.changed = added;
            Ok(added)
        })
        .await
    }

    async fn remove_policy_cert(
        &self,
        provider: &str,
        thumbprint: &str,
    ) -> Result<bool, StoreError> {
        self.write("removing a policy-management certificate", async |w| {
            let what = "removing the policy-management certificate";
            let present = !w
                .query(
                    "SELECT 1 FROM policy_certs WHERE provider = $1 AND thumbprint = $2",
                    &[&provider, &thumbprint],
                    what,
                )
                .await?
                .is_empty();
            if !present {
                return Ok(false);
            }
            let count: i64 = w
                .query(
                    "SELECT COUNT(*) FROM policy_certs WHERE provider = $1",
                    &[&provider],
                    what,
                )
                .await?
                .first()
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(|e| corrupt(e, what))?
                .unwrap_or(0);
            if count <= 1 {
                return Err(StoreError::LastCertificate);
            }
            w.execute(
                "DELETE FROM policy_certs WHERE provider = $1 AND thumbprint = $2",
                &[&provider, &thumbprint],
                what,
            )
            .await?;
            w.changed = true;
            Ok(true)
        })
        .await
    }

    async fn get_applied_request(&self, hash: &str) -> Result<Option<AppliedRequest>, StoreError> {
        let rows = self
            .read(
                "SELECT hash, provider, operation, attestation_type, applied_at \
                 FROM applied_requests WHERE hash = $1",
                &[&hash],
                "reading an applied request",
            )
            .await?;
        rows.first()
            .map(|r| {
                let get = |e| corrupt(e, "reading an applied request");
                Ok(AppliedRequest {
                    hash: r.try_get(0).map_err(get)?,
                    provider: r.try_get(1).map_err(get)?,
                    operation: r.try_get(2).map_err(get)?,
                    attestation_type: r.try_get(3).map_err(get)?,
                    applied_at: r.try_get(4).map_err(get)?,
                })
            })
            .transpose()
    }

    async fn record_applied_request(&self, r: &AppliedRequest) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "INSERT INTO applied_requests \
                 (hash, provider, operation, attestation_type, applied_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
                &[
                    &r.hash,
                    &r.provider,
                    &r.operation,
                    &r.attestation_type,
                    &r.applied_at,
                ],
                "recording an applied request",
            )
            .await?;
        Ok(n > 0)
    }

    async fn generation(&self) -> Result<i64, StoreError> {
        let rows = self
            .read(
                "SELECT generation FROM store_generation WHERE id = 1",
                &[],
                "reading the change counter",
            )
            .await?;
        rows.first()
            .ok_or_else(|| StoreError::Corrupt("store_generation has no row".into()))?
            .try_get(0)
            .map_err(|e| corrupt(e, "reading the change counter"))
    }

    async fn publish_key(&self, k: &PublishedKey) -> Result<(), StoreError> {
        self.write("publishing a signing certificate", async |w| {
            if !w.provider_exists(&k.provider, "FOR SHARE").await? {
                return Err(StoreError::NotFound(format!("provider {:?}", k.provider)));
            }
            let n = w
                .execute(
                    "INSERT INTO published_keys \
                     (provider, kid, node_id, cert_der, created_at, retired_at, epoch) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (provider, kid) DO UPDATE SET retired_at = excluded.retired_at \
                     WHERE published_keys.retired_at IS DISTINCT FROM excluded.retired_at",
                    &[
                        &k.provider,
                        &k.kid,
                        &k.node_id,
                        &k.cert_der,
                        &k.created_at,
                        &k.retired_at,
                        &k.epoch,
                    ],
                    "publishing a signing certificate",
                )
                .await?;
            w.changed = n > 0;
            Ok(())
        })
        .await
    }

    async fn list_published_keys(&self, provider: &str) -> Result<Vec<PublishedKey>, StoreError> {
        self.read(
            "SELECT provider, kid, node_id, cert_der, created_at, retired_at, epoch \
             FROM published_keys WHERE provider = $1 ORDER BY created_at, kid COLLATE \"C\"",
            &[&provider],
            "listing published signing certificates",
        )
        .await?
        .iter()
        .map(published_from_row)
        .collect()
    }

    async fn prune_published_keys(&self, before: i64) -> Result<u64, StoreError> {
        self.write("pruning published signing certificates", async |w| {
            let n = w
                .execute(
                    "DELETE FROM published_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
                    &[&before],
                    "pruning published signing certificates",
                )
                .await?;
            w.changed = n > 0;
            Ok(n)
        })
        .await
    }

    async fn node_heartbeat(&self, node_id: &str, now: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO nodes (node_id, last_seen) VALUES ($1, $2) \
             ON CONFLICT (node_id) DO UPDATE SET last_seen = excluded.last_seen",
            &[&node_id, &now],
            "recording a node heartbeat",
        )
        .await?;
        Ok(())
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.read(
            "SELECT node_id, last_seen FROM nodes ORDER BY node_id COLLATE \"C\"",
            &[],
            "listing nodes",
        )
        .await?
        .iter()
        .map(|r| {
            let get = |e| corrupt(e, "reading a node row");
            Ok(NodeRecord {
                node_id: r.try_get(0).map_err(get)?,
                last_seen: r.try_get(1).map_err(get)?,
            })
        })
        .collect()
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(
            "SELECT sealed FROM secrets WHERE name = $1",
            &[&name],
            "reading a secret",
        )
        .await?
        .first()
        .map(|r| r.try_get(0).map_err(|e| corrupt(e, "reading a secret")))
        .transpose()
    }

    async fn put_secret_if_absent(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.exec(
            "INSERT INTO secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            &[&name, &sealed, &unix_now()],
            "storing a secret",
        )
        .await?;
        self.get_secret(name)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("the secret {name:?} vanished")))
    }

    async fn cache_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<CacheEntry>, StoreError> {
        self.read(
            "SELECT value, fetched_at, expires_at FROM cache_entries \
             WHERE namespace = $1 AND cache_key = $2",
            &[&namespace, &key],
            "reading the cache",
        )
        .await?
        .first()
        .map(|r| {
            let get = |e| corrupt(e, "reading a cache entry");
            Ok(CacheEntry {
                value: r.try_get(0).map_err(get)?,
                fetched_at: r.try_get(1).map_err(get)?,
                expires_at: r.try_get(2).map_err(get)?,
            })
        })
        .transpose()
    }

    async fn cache_put(
        &self,
        namespace: &str,
        key: &str,
        entry: &CacheEntry,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO cache_entries (namespace, cache_key, value, fetched_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (namespace, cache_key) DO UPDATE SET \
             value = excluded.value, fetched_at = excluded.fetched_at, \
             expires_at = excluded.expires_at",
            &[
                &namespace,
                &key,
                &entry.value,
                &entry.fetched_at,
                &entry.expires_at,
            ],
            "writing the cache",
        )
        .await?;
        Ok(())
    }

    async fn cache_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "DELETE FROM cache_entries WHERE namespace = $1 AND cache_key = $2",
                &[&namespace, &key],
                "deleting from the cache",
            )
            .await?;
        Ok(n > 0)
    }

    async fn cache_list(
        &self,
        namespace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, CacheEntry)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(
            "SELECT cache_key, value, fetched_at, expires_at FROM cache_entries \
             WHERE namespace = $1 AND ($2::TEXT IS NULL OR cache_key COLLATE \"C\" > $2) \
             ORDER BY cache_key COLLATE \"C\" LIMIT $3",
            &[&namespace, &after, &limit],
            "listing the cache",
        )
        .await?
        .iter()
        .map(|r| {
            let get = |e| corrupt(e, "reading a cache entry");
            Ok((
                r.try_get(0).map_err(get)?,
                CacheEntry {
                    value: r.try_get(1).map_err(get)?,
                    fetched_at: r.try_get(2).map_err(get)?,
                    expires_at: r.try_get(3).map_err(get)?,
                },
            ))
        })
        .collect()
    }

    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditRecord, StoreError> {
        draft.check()?;
        // `write` holds the change-counter row lock, so appends from every
        // node serialise: each reads the head it extends, and the primary
        // key on seq backs that up.
        self.write("appending to the audit log", async |w| {
            let what = "appending to the audit log";
            let rows = w
                .query(
                    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                    &[],
                    what,
                )
                .await?;
            let (seq, prev) = match rows.first() {
                Some(row) => {
                    let seq: i64 = row.try_get(0).map_err(|e| corrupt(e, what))?;
                    let hash: String = row.try_get(1).map_err(|e| corrupt(e, what))?;
                    (seq + 1, hash)
                }
                None => (1, GENESIS_HASH.to_string()),
            };
            let r = draft.clone().into_record(seq, prev);
            let details = audit::canonical_json(&r.details);
            w.execute(
                &format!(
                    "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[
                    &r.seq,
                    &r.time,
                    &r.operation,
                    &r.result,
                    &r.error_code,
                    &r.caller,
                    &r.provider,
                    &r.target,
                    &details,
                    &r.node_id,
                    &r.prev_hash,
                    &r.hash,
                ],
                what,
            )
            .await?;
            Ok(r)
        })
        .await
    }

    async fn list_audit(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = i64::from(limit.min(audit::MAX_PAGE));
        self.read(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after_seq, &limit],
            "listing the audit log",
        )
        .await?
        .iter()
        .map(audit_from_row)
        .collect()
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let what = "reading the audit log's head";
        let last_record = self
            .read(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
                what,
            )
            .await?
            .first()
            .map(|r| -> Result<(i64, String), StoreError> {
                Ok((
                    r.try_get(0).map_err(|e| corrupt(e, what))?,
                    r.try_get(1).map_err(|e| corrupt(e, what))?,
                ))
            })
            .transpose()?;
        let last_checkpoint = self
            .read("SELECT MAX(seq) FROM audit_checkpoints", &[], what)
            .await?
            .first()
            .map(|r| r.try_get::<_, Option<i64>>(0))
            .transpose()
            .map_err(|e| corrupt(e, what))?
            .flatten();
        Ok(AuditHead {
            last_record,
            last_checkpoint,
        })
    }

    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> Result<bool, StoreError> {
        let n = self
            .exec(
                "INSERT INTO audit_checkpoints (seq, hash, jws, created_at, node_id) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
                &[&c.seq, &c.hash, &c.jws, &c.created_at, &c.node_id],
                "storing an audit checkpoint",
            )
            .await?;
        Ok(n > 0)
    }

    async fn list_audit_checkpoints(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditCheckpoint>, StoreError> {
        let limit = i64::from(limit.min(audit::MAX_PAGE));
        self.read(
            "SELECT seq, hash, jws, created_at, node_id FROM audit_checkpoints \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after_seq, &limit],
            "listing audit checkpoints",
        )
        .await?
        .iter()
        .map(|r| {
            let get = |e| corrupt(e, "reading an audit checkpoint");
            Ok(AuditCheckpoint {
                seq: r.try_get(0).map_err(get)?,
                hash: r.try_get(1).map_err(get)?,
                jws: r.try_get(2).map_err(get)?,
                created_at: r.try_get(3).map_err(get)?,
                node_id: r.try_get(4).map_err(get)?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::libpq_sslmode;

    #[test]
    fn libpq_verify_modes_read_as_require_and_nothing_else_changes() {
        for mode in ["verify-full", "verify-ca"] {
            assert_eq!(
                libpq_sslmode(&format!(
                    "postgres://u@h/db?connect_timeout=3&sslmode={mode}"
                )),
                "postgres://u@h/db?connect_timeout=3&sslmode=require"
            );
        }
        for url in [
            "postgres://u@h/db",
            "postgres://u@h/db?sslmode=disable",
            "postgres://u@h/db?sslmode=prefer&target_session_attrs=read-write",
            "postgres://u:sslmode=verify-full@h/db",
        ] {
            assert_eq!(libpq_sslmode(url), url);
        }
    }
}
