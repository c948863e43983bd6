//! The store conformance suite: every scenario runs against the SQLite store
//! and against a real PostgreSQL (started by the test itself in a temporary
//! directory, or the server `ATTESTA_TEST_PG_URL` names; see
//! `attesta_store::pgtest`). Each scenario gets a fresh database; `fx.open()`
//! opens another handle to the same one, so races cross connections as they
//! would across nodes.

use attesta_store::audit::{self, ChainError, GENESIS_HASH};
use attesta_store::pgtest::TempPostgres;
use attesta_store::{
    AuditCheckpoint, AuditDraft, CacheEntry, OpenOptions, PgOptions, PolicyCertRecord,
    PolicyRecord, ProviderRecord, PublishedKey, Store, StoreError, TrustModel,
};
use serde_json::json;
use std::sync::Arc;

/// One fresh database of one backend.
enum Fixture {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Fixture {
    fn sqlite() -> Fixture {
        Fixture::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Fixture {
        let pg = TempPostgres::shared().expect("PostgreSQL for the conformance suite");
        Fixture::Postgres(pg.database().expect("a test database"))
    }

    fn url(&self) -> String {
        match self {
            Fixture::Sqlite(dir) => format!("sqlite:{}", dir.path().join("attesta.db").display()),
            Fixture::Postgres(url) => url.clone(),
        }
    }

    /// A new handle (own connections) to this fixture's database.
    async fn open(&self) -> Arc<dyn Store> {
        attesta_store::open_url(&OpenOptions {
            url: self.url(),
            migrate: true,
            pg: PgOptions::default(),
        })
        .await
        .expect("open store")
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Fixture::postgres()).await
                }
            )*
        }
    };
}

conformance!(
    provider_crud_round_trips_every_field,
    list_providers_is_ordered_by_name,
    duplicate_create_is_already_exists_and_changes_nothing,
    create_with_conflicting_initial_certs_writes_nothing,
    delete_provider_removes_its_policies_and_certs_only,
    policies_upsert_get_delete_per_provider,
    certs_are_idempotent_ordered_and_the_last_one_stays,
    cache_round_trips_bytes_and_expiry_without_judging_it,
    cache_lists_one_namespace_in_key_order_by_pages,
    concurrent_writes_from_many_tasks_all_land,
    racing_removals_never_leave_a_provider_without_certs,
    applied_requests_keep_their_first_record_and_outlive_the_provider,
    compare_and_swap_updates_lose_nothing,
    the_change_counter_moves_on_shared_changes_only,
    published_keys_are_shared_retired_and_pruned,
    nodes_and_secrets,
    a_newer_schema_is_refused_and_an_older_one_needs_migrate,
    audit_records_chain_page_and_round_trip,
    concurrent_audit_appends_never_fork_the_chain,
    audit_tampering_behind_the_stores_back_is_named,
    audit_checkpoints_keep_the_first_per_record,
);

fn provider(name: &str, trust_model: TrustModel) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model,
        token_hashes: vec!["ab".repeat(32), "cd".repeat(32)],
        // Key order is deliberately not alphabetical: it must survive.
        config: json!({"zeta": 1, "alpha": {"test_roots": ["MIIB..."], "grace": 30}}),
        created_at: 1_700_000_000,
        version: 1,
        key_epoch: 0,
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

fn published(provider: &str, node: &str, n: u8, retired_at: Option<i64>) -> PublishedKey {
    PublishedKey {
        provider: provider.into(),
        kid: format!("kid-{node}-{n}"),
        node_id: node.into(),
        cert_der: vec![0x30, n, 0xff],
        created_at: i64::from(n),
        retired_at,
        epoch: i64::from(n),
    }
}

async fn compare_and_swap_updates_lose_nothing(fx: Fixture) {
    let store = fx.open().await;
    store
        .create_provider(&provider("cas", TrustModel::Aad), &[])
        .await
        .unwrap();
    let read = store.get_provider("cas").await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    let mut mine = read.clone();
    mine.config = json!({"mine": true});
    assert_eq!(store.update_provider_if(&mine, 1).await.unwrap(), 2);
    // A writer that read version 1 loses the race instead of overwriting.
    let mut stale = read.clone();
    stale.config = json!({"stale": true});
    let err = store.update_provider_if(&stale, 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("cas")),
        "{err:?}"
    );
    assert_eq!(err.code(), "conflict");
    let now = store.get_provider("cas").await.unwrap().unwrap();
    assert_eq!((now.version, &now.config), (2, &json!({"mine": true})));
    // Unconditional updates move the version too.
    store.update_provider(&now).await.unwrap();
    assert_eq!(store.get_provider("cas").await.unwrap().unwrap().version, 3);
    let err = store
        .update_provider_if(&provider("ghost", TrustModel::Aad), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // Many writers on two connections, each retrying on conflict, each
    // adding its own key: every key lands.
    let a = fx.open().await;
    let b = fx.open().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let mut p = store.get_provider("cas").await.unwrap().unwrap();
                let v = p.version;
                p.config
                    .as_object_mut()
                    .unwrap()
                    .insert(format!("k{i}"), json!(i));
                match store.update_provider_if(&p, v).await {
                    Ok(_) => return conflicts,
                    Err(StoreError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let fin = store.get_provider("cas").await.unwrap().unwrap();
    let cfg = fin.config.as_object().unwrap();
    for i in 0..16 {
        assert_eq!(cfg.get(&format!("k{i}")), Some(&json!(i)), "{cfg:?}");
    }
    assert_eq!(fin.version, 3 + 16);
}

async fn the_change_counter_moves_on_shared_changes_only(fx: Fixture) {
    let store = fx.open().await;
    let g0 = store.generation().await.unwrap();
    store
        .create_provider(&provider("g", TrustModel::Isolated), &[cert(1, 1)])
        .await
        .unwrap();
    let g1 = store.generation().await.unwrap();
    assert!(g1 > g0);
    store.put_policy("g", &policy("Tpm", "x")).await.unwrap();
    let g2 = store.generation().await.unwrap();
    assert!(g2 > g1);
    // Nothing another node must see: the counter stays.
    store
        .cache_put(
            "ns",
            "k",
            &CacheEntry {
                value: vec![1],
                fetched_at: 0,
                expires_at: 1,
            },
        )
        .await
        .unwrap();
    store.node_heartbeat("n1", 5).await.unwrap();
    assert!(!store.delete_policy("g", "SgxEnclave").await.unwrap());
    assert!(!store.add_policy_cert("g", &cert(1, 1)).await.unwrap());
    assert_eq!(store.generation().await.unwrap(), g2);
    // Seen through another connection as well.
    let other = fx.open().await;
    assert_eq!(other.generation().await.unwrap(), g2);
    store.add_policy_cert("g", &cert(2, 2)).await.unwrap();
    assert!(other.generation().await.unwrap() > g2);
}

async fn published_keys_are_shared_retired_and_pruned(fx: Fixture) {
    let store = fx.open().await;
    let err = store
        .publish_key(&published("nope", "n1", 1, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    store
        .create_provider(&provider("p", TrustModel::Aad), &[])
        .await
        .unwrap();
    store
        .create_provider(&provider("q", TrustModel::Aad), &[])
        .await
        .unwrap();
    store
        .publish_key(&published("p", "n1", 1, None))
        .await
        .unwrap();
    store
        .publish_key(&published("p", "n2", 2, None))
        .await
        .unwrap();
    store
        .publish_key(&published("q", "n1", 3, None))
        .await
        .unwrap();
    let g = store.generation().await.unwrap();
    // Publishing the same key again changes nothing.
    store
        .publish_key(&published("p", "n1", 1, None))
        .await
        .unwrap();
    assert_eq!(store.generation().await.unwrap(), g);
    // Retiring updates retired_at only.
    let mut retire = published("p", "n1", 1, Some(100));
    retire.cert_der = vec![9, 9, 9];
    store.publish_key(&retire).await.unwrap();
    assert!(store.generation().await.unwrap() > g);
    let keys = fx.open().await.list_published_keys("p").await.unwrap();
    assert_eq!(
        keys,
        vec![
            published("p", "n1", 1, Some(100)),
            published("p", "n2", 2, None)
        ]
    );
    assert_eq!(store.prune_published_keys(100).await.unwrap(), 0);
    assert_eq!(store.prune_published_keys(101).await.unwrap(), 1);
    assert_eq!(
        store.list_published_keys("p").await.unwrap(),
        vec![published("p", "n2", 2, None)]
    );
    // Deleting a provider withdraws its keys; the other provider keeps its own.
    assert!(store.delete_provider("p").await.unwrap());
    assert!(store.list_published_keys("p").await.unwrap().is_empty());
    assert_eq!(store.list_published_keys("q").await.unwrap().len(), 1);

    // Key epochs: each request increments once, racing requests all count.
    assert_eq!(store.get_provider("q").await.unwrap().unwrap().key_epoch, 0);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = fx.open().await;
        tasks.push(tokio::spawn(async move {
            s.request_key_rotation("q").await.unwrap()
        }));
    }
    let mut epochs = Vec::new();
    for t in tasks {
        epochs.push(t.await.unwrap());
    }
    epochs.sort_unstable();
    assert_eq!(epochs, (1..=10).collect::<Vec<i64>>());
    assert_eq!(
        store.get_provider("q").await.unwrap().unwrap().key_epoch,
        10
    );
    let err = store.request_key_rotation("gone").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn nodes_and_secrets(fx: Fixture) {
    let store = fx.open().await;
    assert!(store.list_nodes().await.unwrap().is_empty());
    store.node_heartbeat("b", 10).await.unwrap();
    store.node_heartbeat("a", 11).await.unwrap();
    store.node_heartbeat("b", 12).await.unwrap();
    let nodes: Vec<_> = store
        .list_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.node_id, n.last_seen))
        .collect();
    assert_eq!(nodes, vec![("a".to_string(), 11), ("b".to_string(), 12)]);

    assert_eq!(store.get_secret("tpm").await.unwrap(), None);
    // Racing first writers agree on one value.
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let s = fx.open().await;
        tasks.push(tokio::spawn(async move {
            s.put_secret_if_absent("tpm", &[i; 40]).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        store.get_secret("tpm").await.unwrap(),
        Some(seen[0].clone())
    );
    assert_eq!(
        store.put_secret_if_absent("tpm", b"other").await.unwrap(),
        seen[0]
    );
}

async fn a_newer_schema_is_refused_and_an_older_one_needs_migrate(fx: Fixture) {
    let store = fx.open().await;
    store
        .create_provider(&provider("keep", TrustModel::Aad), &[])
        .await
        .unwrap();
    drop(store);
    // Opening without migrating accepts the current schema.
    let checked = attesta_store::open_url(&OpenOptions {
        url: fx.url(),
        migrate: false,
        pg: PgOptions::default(),
    })
    .await
    .unwrap();
    assert!(checked.get_provider("keep").await.unwrap().is_some());
    drop(checked);
    let next = attesta_store::migrations::latest_version() + 1;
    raw_sql(
        &fx,
        &format!(
            "INSERT INTO schema_migrations (version, description, applied_at) \
             VALUES ({next}, 'from the future', 0)"
        ),
    )
    .await;
    for migrate in [true, false] {
        let err = attesta_store::open_url(&OpenOptions {
            url: fx.url(),
            migrate,
            pg: PgOptions::default(),
        })
        .await
        .err()
        .expect("a newer schema must be refused");
        match err {
            StoreError::SchemaTooNew { found, supported } => {
                assert_eq!((found, supported), (next, next - 1))
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
    raw_sql(
        &fx,
        &format!(
            "DELETE FROM schema_migrations WHERE version >= {}",
            next - 1
        ),
    )
    .await;
    let err = attesta_store::open_url(&OpenOptions {
        url: fx.url(),
        migrate: false,
        pg: PgOptions::default(),
    })
    .await
    .err()
    .expect("an older schema must be refused without migrate");
    assert_eq!(err.code(), "schema_too_old", "{err}");
    assert!(err.to_string().contains("attesta migrate"), "{err}");
}

/// Runs one statement on the fixture's database behind the store's back.
async fn raw_sql(fx: &Fixture, sql: &str) {
    match fx {
        Fixture::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.path().join("attesta.db")).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        Fixture::Postgres(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(conn);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = task.await;
        }
    }
}

async fn provider_crud_round_trips_every_field(fx: Fixture) {
    let store = fx.open().await;
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

async fn list_providers_is_ordered_by_name(fx: Fixture) {
    let store = fx.open().await;
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

async fn duplicate_create_is_already_exists_and_changes_nothing(fx: Fixture) {
    let store = fx.open().await;
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

async fn create_with_conflicting_initial_certs_writes_nothing(fx: Fixture) {
    let store = fx.open().await;
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

async fn delete_provider_removes_its_policies_and_certs_only(fx: Fixture) {
    let store = fx.open().await;
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

async fn policies_upsert_get_delete_per_provider(fx: Fixture) {
    let store = fx.open().await;
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

async fn certs_are_idempotent_ordered_and_the_last_one_stays(fx: Fixture) {
    let store = fx.open().await;
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

async fn cache_round_trips_bytes_and_expiry_without_judging_it(fx: Fixture) {
    let store = fx.open().await;
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

async fn cache_lists_one_namespace_in_key_order_by_pages(fx: Fixture) {
    let store = fx.open().await;
    let entry = |n: u8| CacheEntry {
        value: vec![n; 3],
        fetched_at: i64::from(n),
        expires_at: 5, // expired entries are listed too
    };
    // Byte-wise order: upper case before lower case, '.' before digits.
    for (n, key) in ["b.2", "B.1", "a~x", "a.9", "a.10"].iter().enumerate() {
        store
            .cache_put("collateral", key, &entry(n as u8))
            .await
            .unwrap();
    }
    store.cache_put("other", "a.0", &entry(9)).await.unwrap();
    let keys = |page: &[(String, CacheEntry)]| -> Vec<String> {
        page.iter().map(|(k, _)| k.clone()).collect()
    };
    let all = store.cache_list("collateral", None, 100).await.unwrap();
    assert_eq!(keys(&all), ["B.1", "a.10", "a.9", "a~x", "b.2"]);
    assert_eq!(all[0].1, entry(1));
    let p1 = store.cache_list("collateral", None, 2).await.unwrap();
    assert_eq!(keys(&p1), ["B.1", "a.10"]);
    let p2 = store
        .cache_list("collateral", Some("a.10"), 2)
        .await
        .unwrap();
    assert_eq!(keys(&p2), ["a.9", "a~x"]);
    let p3 = store
        .cache_list("collateral", Some("a~x"), 2)
        .await
        .unwrap();
    assert_eq!(keys(&p3), ["b.2"]);
    assert!(
        store
            .cache_list("collateral", Some("b.2"), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.cache_list("empty", None, 2).await.unwrap().is_empty());
}

async fn concurrent_writes_from_many_tasks_all_land(fx: Fixture) {
    let store = fx.open().await;
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

async fn racing_removals_never_leave_a_provider_without_certs(fx: Fixture) {
    // Two stores on the same database: the race crosses connections, as it
    // would across processes.
    let a = fx.open().await;
    let b = fx.open().await;
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

async fn applied_requests_keep_their_first_record_and_outlive_the_provider(fx: Fixture) {
    let store = fx.open().await;
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

fn audit_draft(n: usize, caller: &str) -> AuditDraft {
    AuditDraft {
        time: 1_700_000_000 + n as i64,
        operation: "SetCurrentPolicy".into(),
        result: if n.is_multiple_of(3) {
            audit::FAILED
        } else {
            audit::SUCCEEDED
        }
        .into(),
        error_code: if n.is_multiple_of(3) {
            "InvalidOperation".into()
        } else {
            String::new()
        },
        caller: caller.into(),
        provider: "tenant".into(),
        target: "SgxEnclave".into(),
        // Member order deliberately not sorted; unicode survives.
        details: json!({"zeta": n, "alpha": {"signed": true, "note": "naïve ✓"}}),
        node_id: "node-a".into(),
    }
}

async fn audit_records_chain_page_and_round_trip(fx: Fixture) {
    let store = fx.open().await;
    assert_eq!(store.audit_head().await.unwrap(), Default::default());
    assert!(store.list_audit(0, 10).await.unwrap().is_empty());
    let mut appended = Vec::new();
    for n in 1..=7 {
        appended.push(store.append_audit(&audit_draft(n, "admin")).await.unwrap());
    }
    assert_eq!(appended[0].seq, 1);
    assert_eq!(appended[0].prev_hash, GENESIS_HASH);
    assert_eq!(appended[3].prev_hash, appended[2].hash);
    assert_eq!(appended[2].result, "failed");
    assert_eq!(appended[2].error_code, "InvalidOperation");
    // Pages of 3: 1-3, 4-6, 7; each continues the chain of the one before.
    let mut listed = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list_audit(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().seq;
        listed.extend(page);
    }
    assert_eq!(listed, appended, "records come back exactly as appended");
    assert_eq!(
        audit::verify_chain((0, GENESIS_HASH), &listed).unwrap(),
        (7, appended[6].hash.clone())
    );
    let head = store.audit_head().await.unwrap();
    assert_eq!(head.last_record, Some((7, appended[6].hash.clone())));
    assert_eq!(head.last_checkpoint, None);
    // The page size is bounded whatever the caller asks.
    assert_eq!(store.list_audit(0, u32::MAX).await.unwrap().len(), 7);
    // A draft the store must not write is refused and nothing is appended.
    let mut bad = audit_draft(8, "admin");
    bad.details = json!({"x": "y".repeat(audit::MAX_DETAILS_BYTES)});
    assert!(store.append_audit(&bad).await.is_err());
    assert_eq!(store.audit_head().await.unwrap().last_record.unwrap().0, 7);
    // Appending moves no change counter: nodes do not drop caches for it.
    let g = store.generation().await.unwrap();
    store.append_audit(&audit_draft(9, "admin")).await.unwrap();
    assert_eq!(store.generation().await.unwrap(), g);
}

async fn concurrent_audit_appends_never_fork_the_chain(fx: Fixture) {
    // Two handles stand for two nodes; several tasks append on each at once.
    let nodes = [fx.open().await, fx.open().await];
    let mut tasks = Vec::new();
    for (i, store) in nodes.iter().enumerate() {
        for t in 0..4 {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..10 {
                    let r = store
                        .append_audit(&audit_draft(n, &format!("node{i}-task{t}")))
                        .await
                        .unwrap();
                    seqs.push(r.seq);
                }
                seqs
            }));
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=80).collect::<Vec<i64>>(),
        "every append got its own seq"
    );
    let all = nodes[0].list_audit(0, 1000).await.unwrap();
    assert_eq!(all.len(), 80);
    assert_eq!(
        audit::verify_chain((0, GENESIS_HASH), &all).unwrap().0,
        80,
        "one chain, no fork"
    );
}

async fn audit_tampering_behind_the_stores_back_is_named(fx: Fixture) {
    let store = fx.open().await;
    for n in 1..=6 {
        store.append_audit(&audit_draft(n, "admin")).await.unwrap();
    }
    raw_sql(
        &fx,
        "UPDATE audit_log SET caller = 'token:00000000' WHERE seq = 3",
    )
    .await;
    let all = store.list_audit(0, 100).await.unwrap();
    assert_eq!(all[2].caller, "token:00000000");
    assert_eq!(
        audit::verify_chain((0, GENESIS_HASH), &all),
        Err(ChainError::Edited { seq: 3 })
    );
    // Details replaced by something that is not JSON: listed, and named.
    raw_sql(&fx, "UPDATE audit_log SET caller = 'admin' WHERE seq = 3").await;
    raw_sql(
        &fx,
        "UPDATE audit_log SET details = '{not json' WHERE seq = 2",
    )
    .await;
    let all = store.list_audit(0, 100).await.unwrap();
    assert_eq!(
        audit::verify_chain((0, GENESIS_HASH), &all),
        Err(ChainError::Edited { seq: 2 })
    );
    raw_sql(
        &fx,
        &format!(
            "UPDATE audit_log SET details = '{}' WHERE seq = 2",
            audit::canonical_json(&audit_draft(2, "admin").details)
        ),
    )
    .await;
    let all = store.list_audit(0, 100).await.unwrap();
    assert_eq!(audit::verify_chain((0, GENESIS_HASH), &all).unwrap().0, 6);
    raw_sql(&fx, "DELETE FROM audit_log WHERE seq = 4").await;
    let all = store.list_audit(0, 100).await.unwrap();
    assert_eq!(
        audit::verify_chain((0, GENESIS_HASH), &all),
        Err(ChainError::Missing { seq: 4 })
    );
}

async fn audit_checkpoints_keep_the_first_per_record(fx: Fixture) {
    let store = fx.open().await;
    let other = fx.open().await;
    let r = store.append_audit(&audit_draft(1, "admin")).await.unwrap();
    let cp = |node: &str| AuditCheckpoint {
        seq: r.seq,
        hash: r.hash.clone(),
        jws: format!("header.payload.signed-by-{node}"),
        created_at: 1_700_000_001,
        node_id: node.into(),
    };
    assert!(store.put_audit_checkpoint(&cp("node-a")).await.unwrap());
    assert!(!other.put_audit_checkpoint(&cp("node-b")).await.unwrap());
    for n in 2..=5 {
        store.append_audit(&audit_draft(n, "admin")).await.unwrap();
    }
    let head = store.list_audit(4, 1).await.unwrap().remove(0);
    let later = AuditCheckpoint {
        seq: head.seq,
        hash: head.hash.clone(),
        jws: "h.p.s".into(),
        created_at: 1_700_000_005,
        node_id: "node-b".into(),
    };
    assert!(other.put_audit_checkpoint(&later).await.unwrap());
    assert_eq!(
        store.list_audit_checkpoints(0, 10).await.unwrap(),
        vec![cp("node-a"), later.clone()]
    );
    assert_eq!(
        store.list_audit_checkpoints(1, 10).await.unwrap(),
        vec![later]
    );
    assert_eq!(store.list_audit_checkpoints(0, 1).await.unwrap().len(), 1);
    assert_eq!(store.audit_head().await.unwrap().last_checkpoint, Some(5));
}
