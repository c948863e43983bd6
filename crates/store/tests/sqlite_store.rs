//! Behavioural tests of the [`Store`] contract against [`SqliteStore`] on
//! real database files in temporary directories.
//!
//! The tests go through `dyn Store` where they can, so the PostgreSQL
//! implementation can later run the same scenarios.

use attesta_store::{
    CacheEntry, PolicyCertRecord, PolicyRecord, ProviderRecord, SqliteStore, Store, StoreError,
    TrustModel,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("nested").join("attesta.db")
}

fn open(path: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path).expect("open store"))
}

fn provider(name: &str, trust_model: TrustModel) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model,
        token_hashes: vec!["ab".repeat(32), "cd".repeat(32)],
        // Key order is deliberately not alphabetical: it must survive.
        config: json!({"zeta": 1, "alpha": {"test_roots": ["MIIB..."], "grace": 30}}),
        created_at: 1_700_000_000,
    }
}

fn cert(n: u8, added_at: i64) -> PolicyCertRecord {
    PolicyCertRecord {
        thumbprint: format!("{n:02x}").repeat(20),
        der: vec![0x30, 0x82, n, n, 0x00, 0xff],
        added_at,
    }
}

fn policy(attestation_type: &str, text: &str) -> PolicyRecord {
    PolicyRecord {
        attestation_type: attestation_type.to_owned(),
        policy_text: text.to_owned(),
        // Unusual but legal bytes: the JWS must come back exactly.
        jws: format!("eyJhbGciOiJub25lIn0.{}.  ", text.len()),
        signer: Some(json!({"kty": "RSA", "n": "xyz", "e": "AQAB"})),
        updated_at: 1_700_000_100,
    }
}

#[tokio::test]
async fn provider_crud_round_trips_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    assert_eq!(store.get_provider("alpha").await.unwrap(), None);

    let a = provider("alpha", TrustModel::Isolated);
    store.create_provider(&a, &[cert(1, 10)]).await.unwrap();
    let got = store.get_provider("alpha").await.unwrap().unwrap();
    assert_eq!(got, a);
    assert_eq!(
        serde_json::to_string(&got.config).unwrap(),
        r#"{"zeta":1,"alpha":{"test_roots":["MIIB..."],"grace":30}}"#
    );

    // Names are opaque, case-sensitive keys.
    assert_eq!(store.get_provider("Alpha").await.unwrap(), None);

    let mut updated = a.clone();
    updated.trust_model = TrustModel::Aad;
    updated.token_hashes = vec!["ef".repeat(32)];
    updated.config = json!({"grace": 60});
    updated.created_at = 5; // ignored: creation time is immutable
    store.update_provider(&updated).await.unwrap();
    let got = store.get_provider("alpha").await.unwrap().unwrap();
    assert_eq!(got.trust_model, TrustModel::Aad);
    assert_eq!(got.token_hashes, vec!["ef".repeat(32)]);
    assert_eq!(got.config, json!({"grace": 60}));
    assert_eq!(got.created_at, a.created_at);

    let err = store
        .update_provider(&provider("ghost", TrustModel::Aad))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(err.code(), "not_found");
    assert_eq!(store.get_provider("ghost").await.unwrap(), None);

    assert!(store.delete_provider("alpha").await.unwrap());
    assert!(!store.delete_provider("alpha").await.unwrap());
    assert_eq!(store.get_provider("alpha").await.unwrap(), None);
}

#[tokio::test]
async fn list_providers_is_ordered_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    assert!(store.list_providers().await.unwrap().is_empty());
    for name in ["mid", "Zed", "alpha", "beta"] {
        store
            .create_provider(&provider(name, TrustModel::Aad), &[])
            .await
            .unwrap();
    }
    let names: Vec<_> = store
        .list_providers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    // Byte order: uppercase before lowercase.
    assert_eq!(names, ["Zed", "alpha", "beta", "mid"]);
}

#[tokio::test]
async fn duplicate_create_is_already_exists_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    let original = provider("dup", TrustModel::Isolated);
    store
        .create_provider(&original, &[cert(1, 1)])
        .await
        .unwrap();

    let mut second = provider("dup", TrustModel::Aad);
    second.config = json!({"other": true});
    let err = store
        .create_provider(&second, &[cert(2, 2)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(ref m) if m.contains("dup")),
        "{err:?}"
    );
    assert_eq!(err.code(), "already_exists");

    // The failed create wrote neither the provider nor its certificate.
    assert_eq!(store.get_provider("dup").await.unwrap().unwrap(), original);
    assert_eq!(
        store.list_policy_certs("dup").await.unwrap(),
        vec![cert(1, 1)]
    );
}

#[tokio::test]
async fn create_with_conflicting_initial_certs_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    let mut forged = cert(1, 2);
    forged.der.push(0x00);
    let err = store
        .create_provider(&provider("p", TrustModel::Isolated), &[cert(1, 1), forged])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(ref m) if m.contains("different")),
        "{err:?}"
    );
    // The provider row inserted earlier in the same transaction was rolled back.
    assert_eq!(store.get_provider("p").await.unwrap(), None);
    assert!(store.list_policy_certs("p").await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_provider_removes_its_policies_and_certs_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    store
        .create_provider(
            &provider("a", TrustModel::Isolated),
            &[cert(1, 1), cert(2, 2)],
        )
        .await
        .unwrap();
    store
        .create_provider(&provider("b", TrustModel::Isolated), &[cert(1, 1)])
        .await
        .unwrap();
    for p in ["a", "b"] {
        store.put_policy(p, &policy("SgxEnclave", p)).await.unwrap();
        store.put_policy(p, &policy("Tpm", p)).await.unwrap();
    }

    assert!(store.delete_provider("a").await.unwrap());
    assert_eq!(store.get_policy("a", "SgxEnclave").await.unwrap(), None);
    assert_eq!(store.get_policy("a", "Tpm").await.unwrap(), None);
    assert!(store.list_policy_certs("a").await.unwrap().is_empty());

    // Re-creating the name starts from nothing: no policy or cert comes back.
    store
        .create_provider(&provider("a", TrustModel::Aad), &[])
        .await
        .unwrap();
    assert_eq!(store.get_policy("a", "SgxEnclave").await.unwrap(), None);
    assert!(store.list_policy_certs("a").await.unwrap().is_empty());

    // The other provider is untouched.
    assert_eq!(
        store.get_policy("b", "Tpm").await.unwrap(),
        Some(policy("Tpm", "b"))
    );
    assert_eq!(
        store.list_policy_certs("b").await.unwrap(),
        vec![cert(1, 1)]
    );
}

#[tokio::test]
async fn policies_upsert_get_delete_per_provider() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    for p in ["a", "b"] {
        store
            .create_provider(&provider(p, TrustModel::Aad), &[])
            .await
            .unwrap();
    }
    let first = policy(
        "SgxEnclave",
        "version= 1.0; authorizationrules { => permit(); };",
    );
    store.put_policy("a", &first).await.unwrap();
    assert_eq!(
        store.get_policy("a", "SgxEnclave").await.unwrap(),
        Some(first.clone())
    );

    // Isolation: A's policy is invisible under B, and the type matches exactly.
    assert_eq!(store.get_policy("b", "SgxEnclave").await.unwrap(), None);
    assert_eq!(store.get_policy("a", "sgxenclave").await.unwrap(), None);
    assert!(!store.delete_policy("b", "SgxEnclave").await.unwrap());
    assert_eq!(
        store.get_policy("a", "SgxEnclave").await.unwrap(),
        Some(first.clone())
    );

    // Upsert replaces every field, including clearing the signer.
    let second = PolicyRecord {
        attestation_type: "SgxEnclave".into(),
        policy_text: "v2 ✓".into(),
        jws: "a.b.c".into(),
        signer: None,
        updated_at: 1_800_000_000,
    };
    store.put_policy("a", &second).await.unwrap();
    assert_eq!(
        store.get_policy("a", "SgxEnclave").await.unwrap(),
        Some(second)
    );

    // Writing under a missing provider is NotFound and writes nothing.
    let err = store.put_policy("ghost", &first).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(ref m) if m.contains("ghost")),
        "{err:?}"
    );
    assert_eq!(store.get_policy("ghost", "SgxEnclave").await.unwrap(), None);

    assert!(store.delete_policy("a", "SgxEnclave").await.unwrap());
    assert!(!store.delete_policy("a", "SgxEnclave").await.unwrap());
    assert_eq!(store.get_policy("a", "SgxEnclave").await.unwrap(), None);
}

#[tokio::test]
async fn certs_are_idempotent_ordered_and_the_last_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    store
        .create_provider(&provider("iso", TrustModel::Isolated), &[cert(9, 100)])
        .await
        .unwrap();

    assert!(store.add_policy_cert("iso", &cert(3, 50)).await.unwrap());
    assert!(!store.add_policy_cert("iso", &cert(3, 50)).await.unwrap());
    // Same thumbprint, later timestamp: still "already present", original kept.
    assert!(!store.add_policy_cert("iso", &cert(3, 999)).await.unwrap());
    assert!(store.add_policy_cert("iso", &cert(1, 100)).await.unwrap());
    // Ordered by added_at, then thumbprint.
    assert_eq!(
        store.list_policy_certs("iso").await.unwrap(),
        vec![cert(3, 50), cert(1, 100), cert(9, 100)]
    );

    // Same thumbprint, different bytes is refused, the stored one is kept.
    let mut forged = cert(3, 50);
    forged.der = vec![1, 2, 3];
    let err = store.add_policy_cert("iso", &forged).await.unwrap_err();
    assert_eq!(err.code(), "already_exists", "{err:?}");
    assert_eq!(
        store.list_policy_certs("iso").await.unwrap()[0],
        cert(3, 50)
    );

    let err = store
        .add_policy_cert("ghost", &cert(1, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    assert!(
        !store
            .remove_policy_cert("iso", &"77".repeat(20))
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_policy_cert("iso", &cert(3, 0).thumbprint)
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_policy_cert("iso", &cert(9, 0).thumbprint)
            .await
            .unwrap()
    );
    let last = cert(1, 0).thumbprint;
    let err = store.remove_policy_cert("iso", &last).await.unwrap_err();
    assert!(matches!(err, StoreError::LastCertificate), "{err:?}");
    assert_eq!(err.code(), "last_certificate");
    assert!(
        err.to_string()
            .starts_with("the last policy-management certificate cannot be removed")
    );
    assert_eq!(
        store.list_policy_certs("iso").await.unwrap(),
        vec![cert(1, 100)]
    );

    // Another provider's certificate of the same thumbprint is independent.
    store
        .create_provider(
            &provider("other", TrustModel::Isolated),
            &[cert(1, 1), cert(2, 2)],
        )
        .await
        .unwrap();
    assert!(store.remove_policy_cert("other", &last).await.unwrap());
    assert_eq!(
        store.list_policy_certs("iso").await.unwrap(),
        vec![cert(1, 100)]
    );
    assert!(!store.remove_policy_cert("ghost", &last).await.unwrap());
}

#[tokio::test]
async fn cache_round_trips_bytes_and_expiry_without_judging_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    assert_eq!(store.cache_get("pck_crl", "processor").await.unwrap(), None);

    let expired = CacheEntry {
        value: (0..=255).collect(),
        fetched_at: 1_000,
        expires_at: 2_000, // long past: still returned as stored
    };
    store
        .cache_put("pck_crl", "processor", &expired)
        .await
        .unwrap();
    assert_eq!(
        store.cache_get("pck_crl", "processor").await.unwrap(),
        Some(expired.clone())
    );
    // Namespaces are separate.
    assert_eq!(store.cache_get("vcek", "processor").await.unwrap(), None);

    let fresh = CacheEntry {
        value: Vec::new(),
        fetched_at: i64::MAX - 1,
        expires_at: i64::MAX,
    };
    store
        .cache_put("pck_crl", "processor", &fresh)
        .await
        .unwrap();
    assert_eq!(
        store.cache_get("pck_crl", "processor").await.unwrap(),
        Some(fresh)
    );

    assert!(!store.cache_delete("vcek", "processor").await.unwrap());
    assert!(store.cache_delete("pck_crl", "processor").await.unwrap());
    assert!(!store.cache_delete("pck_crl", "processor").await.unwrap());
    assert_eq!(store.cache_get("pck_crl", "processor").await.unwrap(), None);
}

#[tokio::test]
async fn data_survives_reopen_and_reopen_does_not_migrate_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let latest = attesta_store::migrations::latest_version();
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest);
        store
            .create_provider(&provider("keep", TrustModel::Isolated), &[cert(4, 4)])
            .await
            .unwrap();
        store
            .put_policy("keep", &policy("Tpm", "kept"))
            .await
            .unwrap();
        let entry = CacheEntry {
            value: b"collateral".to_vec(),
            fetched_at: 1,
            expires_at: 2,
        };
        store.cache_put("ns", "k", &entry).await.unwrap();
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest);
        assert_eq!(
            store.get_provider("keep").await.unwrap(),
            Some(provider("keep", TrustModel::Isolated))
        );
        assert_eq!(
            store.get_policy("keep", "Tpm").await.unwrap(),
            Some(policy("Tpm", "kept"))
        );
        assert_eq!(
            store.list_policy_certs("keep").await.unwrap(),
            vec![cert(4, 4)]
        );
        assert_eq!(
            store.cache_get("ns", "k").await.unwrap().map(|e| e.value),
            Some(b"collateral".to_vec())
        );
    }
    // Each migration was recorded once, however often the file was opened.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, i64::from(latest));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[cfg(unix)]
#[test]
fn database_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let _store = SqliteStore::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let latest = attesta_store::migrations::latest_version();
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) \
             VALUES (?1, 'from the future', 0)",
            [i64::from(latest + 1)],
        )
        .unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    match &err {
        StoreError::SchemaTooNew { found, supported } => {
            assert_eq!((*found, *supported), (latest + 1, latest));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(err.code(), "schema_too_new");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("version {}", latest + 1)) && msg.contains(&format!("({latest})")),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");
    assert!(err.to_string().contains("not an Attesta database"), "{err}");
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_not_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).unwrap();
    store
        .create_provider(&provider("bad", TrustModel::Aad), &[])
        .await
        .unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE providers SET trust_model = 'trusting' WHERE name = 'bad'",
            [],
        )
        .unwrap();
    }
    let err = store.get_provider("bad").await.unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");
    assert!(err.to_string().contains("trusting"), "{err}");
    let err = store.list_providers().await.unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_from_many_tasks_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    store
        .create_provider(&provider("shared", TrustModel::Isolated), &[cert(0, 0)])
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..20u8 {
                let name = format!("p-{t}-{i}");
                store
                    .create_provider(&provider(&name, TrustModel::Aad), &[])
                    .await
                    .unwrap();
                store
                    .put_policy("shared", &policy(&format!("T{t}-{i}"), &name))
                    .await
                    .unwrap();
                store
                    .cache_put(
                        "ns",
                        &name,
                        &CacheEntry {
                            value: vec![t, i],
                            fetched_at: 0,
                            expires_at: 1,
                        },
                    )
                    .await
                    .unwrap();
            }
            store
                .add_policy_cert("shared", &cert(t + 1, i64::from(t)))
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(store.list_providers().await.unwrap().len(), 1 + 8 * 20);
    assert_eq!(store.list_policy_certs("shared").await.unwrap().len(), 9);
    for t in 0..8u8 {
        for i in 0..20u8 {
            let name = format!("p-{t}-{i}");
            assert_eq!(
                store
                    .get_policy("shared", &format!("T{t}-{i}"))
                    .await
                    .unwrap()
                    .map(|p| p.policy_text),
                Some(name.clone())
            );
            assert_eq!(
                store.cache_get("ns", &name).await.unwrap().map(|e| e.value),
                Some(vec![t, i])
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_removals_never_leave_a_provider_without_certs() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // Two stores on the same file: the race crosses connections, as it would
    // across processes.
    let a: Arc<dyn Store> = open(&path);
    let b: Arc<dyn Store> = open(&path);
    let certs: Vec<_> = (1..=6).map(|n| cert(n, i64::from(n))).collect();
    a.create_provider(&provider("race", TrustModel::Isolated), &certs)
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let thumbprint = c.thumbprint.clone();
        tasks.push(tokio::spawn(async move {
            store.remove_policy_cert("race", &thumbprint).await
        }));
    }
    let mut removed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => removed += 1,
            Err(StoreError::LastCertificate) => refused += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((removed, refused), (5, 1));
    assert_eq!(b.list_policy_certs("race").await.unwrap().len(), 1);
}

/// Set in the environment of the child process `writes_interrupted_by_a_kill_leave_whole_states` starts.
const CRASH_DB_ENV: &str = "ATTESTA_STORE_CRASH_CHILD_DB";

/// Not a test on its own: the child process that
/// `writes_interrupted_by_a_kill_leave_whole_states` starts and kills. It
/// writes until killed, and does nothing when run without that parent.
#[tokio::test]
#[ignore = "the child process of writes_interrupted_by_a_kill_leave_whole_states"]
async fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_DB_ENV) else {
        return;
    };
    let store = SqliteStore::open(Path::new(&path)).unwrap();
    for i in 0u64.. {
        let name = format!("c-{i:08}");
        let certs: Vec<_> = (1..=3).map(|n| cert(n, i as i64)).collect();
        store
            .create_provider(&provider(&name, TrustModel::Isolated), &certs)
            .await
            .unwrap();
        store
            .put_policy(&name, &policy("Tpm", &name))
            .await
            .unwrap();
        if i >= 2 {
            assert!(
                store
                    .delete_provider(&format!("c-{:08}", i - 2))
                    .await
                    .unwrap()
            );
        }
    }
}

#[test]
fn writes_interrupted_by_a_kill_leave_whole_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--test-threads=1"])
        .env(CRASH_DB_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let the child get well into its loop, then kill it mid-write.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let created: i64 = conn
            .query_row("SELECT COUNT(*) FROM policies", [], |r| r.get(0))
            .unwrap_or(0);
        let max: Option<String> = conn
            .query_row("SELECT MAX(name) FROM providers", [], |r| r.get(0))
            .unwrap_or(None);
        if created > 0 && max.is_some_and(|m| m.as_str() >= "c-00000050") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(conn);
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback by the child
    child.wait().unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Each provider has all three certificates (created together), and no
    // certificate or policy outlived its provider (deleted together).
    let mut stmt = conn
        .prepare(
            "SELECT c.provider, COUNT(*), (SELECT COUNT(*) FROM providers p WHERE p.name = c.provider) \
             FROM policy_certs c GROUP BY c.provider",
        )
        .unwrap();
    let groups: Vec<(String, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!groups.is_empty());
    for (name, certs, providers) in &groups {
        assert_eq!((*certs, *providers), (3, 1), "provider {name}");
    }
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM policies WHERE provider NOT IN (SELECT name FROM providers)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    let providers: i64 = conn
        .query_row("SELECT COUNT(*) FROM providers", [], |r| r.get(0))
        .unwrap();
    assert!((1..=3).contains(&providers), "{providers} providers");
    assert_eq!(providers, groups.len() as i64);
    // And the store is usable after the crash.
    drop(stmt);
    drop(conn);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        store
            .create_provider(&provider("after", TrustModel::Aad), &[])
            .await
            .unwrap();
        assert!(store.get_provider("after").await.unwrap().is_some());
    });
}

#[tokio::test]
async fn applied_requests_keep_their_first_record_and_outlive_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir));
    store
        .create_provider(&provider("iso", TrustModel::Isolated), &[cert(1, 1)])
        .await
        .unwrap();
    let first = attesta_store::AppliedRequest {
        hash: "h1".into(),
        provider: "iso".into(),
        operation: "policy:set".into(),
        attestation_type: "SgxEnclave".into(),
        applied_at: 10,
    };
    assert_eq!(store.get_applied_request("h1").await.unwrap(), None);
    assert!(store.record_applied_request(&first).await.unwrap());
    let again = attesta_store::AppliedRequest {
        operation: "policy:reset".into(),
        provider: "other".into(),
        applied_at: 20,
        ..first.clone()
    };
    assert!(!store.record_applied_request(&again).await.unwrap());
    assert_eq!(
        store.get_applied_request("h1").await.unwrap(),
        Some(first.clone())
    );
    assert!(store.delete_provider("iso").await.unwrap());
    assert_eq!(store.get_applied_request("h1").await.unwrap(), Some(first));
}
