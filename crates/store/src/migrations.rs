//! The versioned schema of the embedded (SQLite) store and the runner that
//! brings a database up to date.
//!
//! Migrations are append-only: a released migration is never edited, a schema
//! change is a new entry with the next version. Each migration runs in its own
//! transaction together with the insertion of its `schema_migrations` row, so
//! a crash mid-migration leaves the database at the previous version with none
//! of the half-applied statements. The version check happens inside that
//! transaction too, so two processes opening the same file at once cannot
//! apply a migration twice.
//!
//! The SQL is written to port: `TEXT`, `BLOB` (PostgreSQL: `BYTEA`) and
//! `BIGINT` columns, composite primary keys, standard foreign keys. The
//! PostgreSQL implementation applies the same list, same versions and same
//! tables, through [`postgres_sql`], which only renames `BLOB` to `BYTEA`.

use crate::StoreError;
use crate::sqlite::map_sqlite_err;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Versions start at 1 and increase by one per migration.
    pub version: u32,
    /// What the migration does, for humans reading `schema_migrations`.
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration this build knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "providers, policies, policy-management certificates, cache",
        // JSON values (token hashes, configuration, signer JWK) are kept as TEXT:
        // the store never queries inside them, and TEXT keeps the caller's key
        // order byte for byte. The foreign keys cascade as a safety net; the code
        // deletes children explicitly as well, so correctness does not depend on
        // a backend enforcing them.
        sql: "
CREATE TABLE providers (
    name         TEXT   NOT NULL PRIMARY KEY,
    trust_model  TEXT   NOT NULL,
    token_hashes TEXT   NOT NULL,
    config       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE TABLE policies (
    provider         TEXT   NOT NULL REFERENCES providers (name) ON DELETE CASCADE,
    attestation_type TEXT   NOT NULL,
    policy_text      TEXT   NOT NULL,
    jws              TEXT   NOT NULL,
    signer           TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (provider, attestation_type)
);
CREATE TABLE policy_certs (
    provider   TEXT   NOT NULL REFERENCES providers (name) ON DELETE CASCADE,
    thumbprint TEXT   NOT NULL,
    der        BLOB   NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, thumbprint)
);
CREATE TABLE cache_entries (
    namespace  TEXT   NOT NULL,
    cache_key  TEXT   NOT NULL,
    value      BLOB   NOT NULL,
    fetched_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, cache_key)
);
",
    },
    Migration {
        version: 2,
        description: "applied signed control-plane requests (replay and rollback refusal)",
        // No foreign key to providers: records outlive a deleted provider.
        sql: "
CREATE TABLE applied_requests (
    hash             TEXT   NOT NULL PRIMARY KEY,
    provider         TEXT   NOT NULL,
    operation        TEXT   NOT NULL,
    attestation_type TEXT   NOT NULL,
    applied_at       BIGINT NOT NULL
);
CREATE INDEX applied_requests_provider ON applied_requests (provider);
",
    },
    Migration {
        version: 3,
        description: "several nodes: provider versions and key epochs, the change counter, \
                      published signing certificates, nodes, sealed shared secrets",
        // published_keys has no foreign key either: delete_provider removes
        // them explicitly, and a node may publish for a provider another node
        // deleted a moment ago (publish_key checks inside its transaction).
        sql: "
ALTER TABLE providers ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE providers ADD COLUMN key_epoch BIGINT NOT NULL DEFAULT 0;
CREATE TABLE store_generation (
    id         BIGINT NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO store_generation (id, generation) VALUES (1, 0);
CREATE TABLE published_keys (
    provider   TEXT   NOT NULL,
    kid        TEXT   NOT NULL,
    node_id    TEXT   NOT NULL,
    cert_der   BLOB   NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    epoch      BIGINT NOT NULL,
    PRIMARY KEY (provider, kid)
);
CREATE TABLE nodes (
    node_id   TEXT   NOT NULL PRIMARY KEY,
    last_seen BIGINT NOT NULL
);
CREATE TABLE secrets (
    name       TEXT   NOT NULL PRIMARY KEY,
    sealed     BLOB   NOT NULL,
    created_at BIGINT NOT NULL
);
",
    },
    Migration {
        version: 4,
        description: "the hash-chained audit log of control-plane changes and its signed checkpoints",
        // details is canonical JSON text (see crate::audit); seq is the
        // primary key, so even a backend that failed to serialise two
        // appends could not store two records under one number.
        sql: "
CREATE TABLE audit_log (
    seq        BIGINT NOT NULL PRIMARY KEY,
    logged_at  BIGINT NOT NULL,
    operation  TEXT   NOT NULL,
    result     TEXT   NOT NULL,
    error_code TEXT   NOT NULL,
    caller     TEXT   NOT NULL,
    provider   TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    details    TEXT   NOT NULL,
    node_id    TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
CREATE TABLE audit_checkpoints (
    seq        BIGINT NOT NULL PRIMARY KEY,
    hash       TEXT   NOT NULL,
    jws        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    node_id    TEXT   NOT NULL
);
",
    },
];

/// A migration's SQL as PostgreSQL spells it.
pub fn postgres_sql(sql: &str) -> String {
    sql.replace(" BLOB ", " BYTEA ")
}

/// The schema version this build brings databases to.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version     BIGINT NOT NULL PRIMARY KEY,
    description TEXT   NOT NULL,
    applied_at  BIGINT NOT NULL
)";

/// Reads the database's schema version, checking that `schema_migrations`
/// is consistent (versions 1..=max, no gaps). 0 for a fresh database.
pub(crate) fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| map_sqlite_err(e, "reading the schema version"))?;
    if table.is_none() {
        return Ok(0);
    }
    let (count, max): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| map_sqlite_err(e, "reading the schema version"))?;
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

/// Refuses a database that is not exactly at the newest version this build
/// knows, without changing it.
pub(crate) fn check(conn: &Connection) -> Result<u32, StoreError> {
    let found = current_version(conn)?;
    let supported = latest_version();
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

/// Applies every migration in `migrations` newer than the database's version,
/// each in its own transaction. Refuses a database newer than the list.
/// Returns the resulting version.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, StoreError> {
    let supported = migrations.last().map_or(0, |m| m.version);
    conn.execute_batch(CREATE_MIGRATIONS_TABLE)
        .map_err(|e| map_sqlite_err(e, "creating schema_migrations"))?;
    // Checked before any migration so a too-new database is refused untouched.
    let found = current_version(conn)?;
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    for m in migrations {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_sqlite_err(e, "starting a migration"))?;
        // Re-read under the write lock: another process may have migrated
        // between our first check and this transaction.
        let now_at = current_version(&tx)?;
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
        tx.execute_batch(m.sql)
            .map_err(|e| map_sqlite_err(e, &format!("applying schema migration {}", m.version)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                i64::from(m.version),
                m.description,
                crate::sqlite::unix_now()
            ],
        )
        .map_err(|e| map_sqlite_err(e, "recording a schema migration"))?;
        tx.commit().map_err(|e| {
            map_sqlite_err(e, &format!("committing schema migration {}", m.version))
        })?;
    }
    current_version(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration {}", m.description);
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as u32);
    }

    #[test]
    fn fresh_database_is_brought_to_latest_and_rerun_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), latest_version());
        assert!(table_exists(&conn, "providers"));
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), latest_version());
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, i64::from(latest_version()));
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version_and_no_partial_changes() {
        let list = [
            Migration {
                version: 1,
                description: "one",
                sql: "CREATE TABLE one (a TEXT);",
            },
            Migration {
                version: 2,
                description: "two, broken half way",
                sql: "CREATE TABLE two (a TEXT); INSERT INTO one (a) VALUES ('x'); THIS IS NOT SQL;",
            },
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        let err = migrate(&mut conn, &list).unwrap_err();
        assert_eq!(err.code(), "backend", "{err}");
        assert!(err.to_string().contains("migration 2"), "{err}");
        assert_eq!(current_version(&conn).unwrap(), 1);
        assert!(table_exists(&conn, "one"));
        assert!(!table_exists(&conn, "two"));
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM one", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        // Fixing the migration lets the database move on from version 1.
        let fixed = [
            list[0],
            Migration {
                version: 2,
                description: "two",
                sql: "CREATE TABLE two (a TEXT);",
            },
        ];
        assert_eq!(migrate(&mut conn, &fixed).unwrap(), 2);
        assert!(table_exists(&conn, "two"));
    }

    #[test]
    fn newer_database_is_refused_before_anything_runs() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let next = latest_version() + 1;
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, 'future', 0)",
            [i64::from(next)],
        )
        .unwrap();
        match migrate(&mut conn, MIGRATIONS) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (next, latest_version()));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn gaps_in_the_history_are_corruption() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        conn.execute(
            "UPDATE schema_migrations SET version = 5 WHERE version = 1",
            [],
        )
        .unwrap();
        // Version 5 alone is not "newer than known" but a damaged history.
        let err = migrate(&mut conn, MIGRATIONS).unwrap_err();
        assert_eq!(err.code(), "corrupt", "{err}");
        assert!(err.to_string().contains("gaps"), "{err}");
    }
}
