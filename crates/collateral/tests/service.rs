//! CollateralService over a real PCS-compatible server on loopback: caching,
//! single-flight, refresh before nextUpdate, fail-closed expiry, grace,
//! persistence through the shared cache, imports and offline sources.

mod common;

use std::sync::Arc;
use std::time::Duration;

use attesta_collateral::{
    CollateralCache, CollateralError, CollateralOptions, CollateralService, DcapTee, MemoryCache,
    OfflineSource, PckCa, PcsClient, PcsClientOptions, cache_key, import_dir,
    intel_root_fingerprint, store_bundle, version_of,
};
use common::{Fixture, FixtureOptions, Mode, PCK_CRL_PATH, ROOT_CRL_PATH, ts, vector_dir};

const SGX: &str = "sgx/dcap-qvl-sgx-v3";
// Earliest nextUpdate of that bundle: the QE identity's (PROVENANCE.md).
const SGX_NEXT_UPDATE: &str = "2025-07-19T10:01:18Z";
// Inside its validity window.
const SGX_NOW: &str = "2025-07-01T00:00:00Z";

fn service(
    f: &Fixture,
    cache: Arc<dyn CollateralCache>,
    opts: CollateralOptions,
) -> CollateralService {
    let client = PcsClient::new(PcsClientOptions::new(&f.base_url)).unwrap();
    CollateralService::new(Box::new(client), cache, opts)
}

fn paths(f: &Fixture) -> [String; 4] {
    [
        f.tcb_path(),
        f.qe_path(),
        PCK_CRL_PATH.into(),
        ROOT_CRL_PATH.into(),
    ]
}

fn assert_each_path(f: &Fixture, n: usize) {
    for p in paths(f) {
        assert_eq!(f.count(&p), n, "requests for {p}: {:?}", f.counts());
    }
}

#[tokio::test]
async fn get_returns_the_bundle_and_its_earliest_next_update() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let now = ts(SGX_NOW);
    let got = svc.get(f.tee, &f.fmspc, f.ca, now).await.unwrap();
    let want = import_dir(&vector_dir(SGX)).unwrap();
    assert_eq!(*got.collateral, want);
    assert_eq!(got.next_update, ts(SGX_NEXT_UPDATE));
    assert_eq!(got.stale_for, None);
    assert_eq!(got.version, version_of(&want));
    assert_eq!(got.fetched_at, now);
    f.stop().await;
}

#[tokio::test]
async fn second_get_is_served_from_cache() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let now = ts(SGX_NOW);
    let a = svc.get(f.tee, &f.fmspc, f.ca, now).await.unwrap();
    assert_each_path(&f, 1);
    // Lower-case FMSPC names the same key.
    let b = svc
        .get(f.tee, &f.fmspc.to_ascii_lowercase(), f.ca, now + 3600)
        .await
        .unwrap();
    assert_each_path(&f, 1);
    assert!(Arc::ptr_eq(&a.collateral, &b.collateral));
    assert_eq!(a.version, b.version);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_gets_make_one_request_per_path() {
    let f = Fixture::start_with(
        SGX,
        FixtureOptions {
            delay: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .await;
    let svc = Arc::new(service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    ));
    let now = ts(SGX_NOW);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let svc = svc.clone();
        let (tee, fmspc, ca) = (f.tee, f.fmspc.clone(), f.ca);
        tasks.push(tokio::spawn(
            async move { svc.get(tee, &fmspc, ca, now).await },
        ));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap().version);
    }
    assert_each_path(&f, 1);
    assert_eq!(f.total(), 4);
    assert!(versions.iter().all(|v| *v == versions[0]));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_gets_share_one_failed_request() {
    let f = Fixture::start_with(
        SGX,
        FixtureOptions {
            delay: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await;
    f.set_mode(Mode::Status(500));
    let svc = Arc::new(service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    ));
    let now = ts(SGX_NOW);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let svc = svc.clone();
        let (tee, fmspc, ca) = (f.tee, f.fmspc.clone(), f.ca);
        tasks.push(tokio::spawn(
            async move { svc.get(tee, &fmspc, ca, now).await },
        ));
    }
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(
            matches!(err, CollateralError::UpstreamStatus { status: 500, .. }),
            "{err:?}"
        );
    }
    // One attempt (the four parts are requested together; each got one).
    assert_each_path(&f, 1);
    f.stop().await;
}

#[tokio::test]
async fn refreshes_within_the_margin_of_next_update() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let next = ts(SGX_NEXT_UPDATE);
    svc.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    assert_each_path(&f, 1);
    // Two hours before nextUpdate: outside the default 1 h margin.
    svc.get(f.tee, &f.fmspc, f.ca, next - 7200).await.unwrap();
    assert_each_path(&f, 1);
    // Thirty minutes before: refresh.
    let got = svc.get(f.tee, &f.fmspc, f.ca, next - 1800).await.unwrap();
    assert_each_path(&f, 2);
    assert_eq!(got.fetched_at, next - 1800);
    assert_eq!(got.stale_for, None);
    f.stop().await;
}

#[tokio::test]
async fn configurable_margin() {
    let f = Fixture::start(SGX).await;
    let opts = CollateralOptions {
        refresh_margin: Duration::from_secs(3 * 86400),
        ..Default::default()
    };
    let svc = service(&f, Arc::new(MemoryCache::new()), opts);
    let next = ts(SGX_NEXT_UPDATE);
    svc.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    svc.get(f.tee, &f.fmspc, f.ca, next - 2 * 86400)
        .await
        .unwrap();
    assert_each_path(&f, 2);
    f.stop().await;
}

#[tokio::test]
async fn refresh_failure_before_next_update_keeps_serving() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let next = ts(SGX_NEXT_UPDATE);
    let first = svc.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    f.set_mode(Mode::Status(503));
    let got = svc.get(f.tee, &f.fmspc, f.ca, next - 600).await.unwrap();
    assert_eq!(got.version, first.version);
    assert_eq!(got.stale_for, None);
    // The failed refresh was attempted once.
    assert_each_path(&f, 2);
    f.stop().await;
}

#[tokio::test]
async fn expired_and_upstream_down_fails_closed() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let next = ts(SGX_NEXT_UPDATE);
    let (tee, fmspc, ca) = (f.tee, f.fmspc.clone(), f.ca);
    svc.get(tee, &fmspc, ca, ts(SGX_NOW)).await.unwrap();
    f.stop().await;
    let err = svc.get(tee, &fmspc, ca, next + 10).await.unwrap_err();
    assert_eq!(err.code(), "CollateralExpired");
    match &err {
        CollateralError::Expired {
            key,
            next_update,
            expired_for,
            cause,
        } => {
            assert_eq!(key, &cache_key(tee, &intel_root_fingerprint(), &fmspc, ca));
            assert_eq!(*next_update, next);
            assert_eq!(*expired_for, 10);
            assert_eq!(cause.as_ref().unwrap().code(), "UpstreamUnavailable");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Exactly at nextUpdate the collateral is already expired.
    let err = svc.get(tee, &fmspc, ca, next + 3600).await.unwrap_err();
    assert_eq!(err.code(), "CollateralExpired");
}

#[tokio::test]
async fn expired_with_grace_is_served_stale() {
    let f = Fixture::start(SGX).await;
    let opts = CollateralOptions {
        grace: Some(Duration::from_secs(86400)),
        ..Default::default()
    };
    let cache = Arc::new(MemoryCache::new());
    let svc = service(&f, cache.clone(), opts);
    let next = ts(SGX_NEXT_UPDATE);
    let (tee, fmspc, ca) = (f.tee, f.fmspc.clone(), f.ca);
    let fresh = svc.get(tee, &fmspc, ca, ts(SGX_NOW)).await.unwrap();
    // The shared cache keeps it for the grace period too.
    assert_eq!(
        cache.expires_at(&cache_key(tee, &intel_root_fingerprint(), &fmspc, ca)),
        Some(next + 86400)
    );
    f.stop().await;

    let stale = svc.get(tee, &fmspc, ca, next + 10).await.unwrap();
    assert_eq!(stale.stale_for, Some(10));
    assert_eq!(stale.version, fresh.version);
    // Beyond the grace: fail closed.
    let err = svc.get(tee, &fmspc, ca, next + 86401).await.unwrap_err();
    match err {
        CollateralError::Expired { expired_for, .. } => assert_eq!(expired_for, 86401),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn upstream_attempts_are_spaced_by_retry_interval() {
    let f = Fixture::start(SGX).await;
    f.set_mode(Mode::Status(500));
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let now = ts(SGX_NOW);
    for dt in [0, 1, 59] {
        let err = svc.get(f.tee, &f.fmspc, f.ca, now + dt).await.unwrap_err();
        assert_eq!(err.code(), "UpstreamStatus");
    }
    assert_each_path(&f, 1);
    f.set_mode(Mode::Serve);
    svc.get(f.tee, &f.fmspc, f.ca, now + 60).await.unwrap();
    assert_each_path(&f, 2);
    f.stop().await;
}

#[tokio::test]
async fn unknown_fmspc_is_not_found() {
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let err = svc
        .get(DcapTee::Sgx, "112233445566", PckCa::Processor, ts(SGX_NOW))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    let err = svc
        .get(DcapTee::Sgx, "not-an-fmspc", PckCa::Processor, ts(SGX_NOW))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidFmspc");
    f.stop().await;
}

#[tokio::test]
async fn collateral_for_another_key_is_rejected() {
    // The server serves Processor-CA collateral; asking for the Platform CA
    // gets a 404 for the CRL, and asking for TDX gets 404s too.
    let f = Fixture::start(SGX).await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let err = svc
        .get(DcapTee::Sgx, &f.fmspc, PckCa::Platform, ts(SGX_NOW))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    f.stop().await;

    // An offline source whose only bundle is for another FMSPC.
    let src = OfflineSource::new(vector_dir(SGX));
    let svc = CollateralService::new(
        Box::new(src),
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let err = svc
        .get(DcapTee::Sgx, "00906ED50000", PckCa::Processor, ts(SGX_NOW))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NoOfflineBundle");
}

#[tokio::test]
async fn shared_cache_serves_a_restarted_node_without_upstream() {
    let f = Fixture::start(SGX).await;
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::new());
    let now = ts(SGX_NOW);
    let first = service(&f, cache.clone(), CollateralOptions::default())
        .get(f.tee, &f.fmspc, f.ca, now)
        .await
        .unwrap();
    assert_eq!(cache.len(), 1);
    let (tee, fmspc, ca, base) = (f.tee, f.fmspc.clone(), f.ca, f.base_url.clone());
    f.stop().await;

    // A new service (restart, or another node) with the upstream gone.
    let client = PcsClient::new(PcsClientOptions::new(&base)).unwrap();
    let svc = CollateralService::new(Box::new(client), cache, CollateralOptions::default());
    let got = svc.get(tee, &fmspc, ca, now + 60).await.unwrap();
    assert_eq!(got.version, first.version);
    assert_eq!(got.fetched_at, now);
    assert_eq!(*got.collateral, *first.collateral);
}

#[tokio::test]
async fn a_second_node_reads_the_first_nodes_copy_from_the_shared_cache() {
    let f = Fixture::start(SGX).await;
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::new());
    let a = service(&f, cache.clone(), CollateralOptions::default());
    let b = service(&f, cache.clone(), CollateralOptions::default());
    a.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    b.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    assert_each_path(&f, 1); // b read a's copy
    f.stop().await;
}

#[tokio::test]
async fn imported_bundle_is_found_under_its_key() {
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::new());
    let bundle = import_dir(&vector_dir("tdx/automata-tdx-v4")).unwrap();
    let now = ts("2025-06-05T03:45:00Z");
    let key = store_bundle(cache.as_ref(), &bundle, now, None)
        .await
        .unwrap();
    assert_eq!(
        key,
        format!(
            "tdx-collateral.{}.00806F050000.platform",
            hex::encode(intel_root_fingerprint())
        )
    );

    // No upstream at all: a source that has nothing.
    let empty = tempfile::tempdir().unwrap();
    let svc = CollateralService::new(
        Box::new(OfflineSource::new(empty.path())),
        cache,
        CollateralOptions::default(),
    );
    let got = svc
        .get(DcapTee::Tdx, "00806f050000", PckCa::Platform, now)
        .await
        .unwrap();
    assert_eq!(*got.collateral, bundle);
    // The PCK CRL expires first (PROVENANCE.md: window ends 2025-07-04T09:19:31Z).
    assert_eq!(got.next_update, ts("2025-07-04T09:19:31Z"));

    // A different key is still unknown.
    let err = svc
        .get(DcapTee::Tdx, "00806F050000", PckCa::Processor, now)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NoOfflineBundle");
}

#[tokio::test]
async fn service_import_serves_without_upstream() {
    let empty = tempfile::tempdir().unwrap();
    let svc = CollateralService::new(
        Box::new(OfflineSource::new(empty.path())),
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let bundle = import_dir(&vector_dir(SGX)).unwrap();
    let imported = svc.import(bundle.clone(), ts(SGX_NOW)).await.unwrap();
    let got = svc
        .get(
            DcapTee::Sgx,
            "00A067110000",
            PckCa::Processor,
            ts(SGX_NOW) + 1,
        )
        .await
        .unwrap();
    assert_eq!(got.version, imported.fetched.version);
    assert!(imported.replaced_next_update.is_none());
    assert_eq!(*got.collateral, bundle);
}

#[tokio::test]
async fn offline_source_picks_the_newest_matching_bundle() {
    // Two TDX bundles share FMSPC 90C06F000000: automata-tdx-v5 (nextUpdate
    // 2025-07) and dcap-qvl-tdx-v5-outdated (2026-03).
    let svc = CollateralService::new(
        Box::new(OfflineSource::new(common::vectors().join("tdx"))),
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let now = ts("2025-06-15T00:00:00Z");
    let got = svc
        .get(DcapTee::Tdx, "90C06F000000", PckCa::Platform, now)
        .await
        .unwrap();
    let want = import_dir(&vector_dir("tdx/dcap-qvl-tdx-v5-outdated")).unwrap();
    assert_eq!(*got.collateral, want);

    let got = svc
        .get(DcapTee::Tdx, "00806F050000", PckCa::Platform, now)
        .await
        .unwrap();
    assert_eq!(
        *got.collateral,
        import_dir(&vector_dir("tdx/automata-tdx-v4")).unwrap()
    );
}

#[tokio::test]
async fn unreadable_cache_entry_is_ignored_and_refetched() {
    let f = Fixture::start(SGX).await;
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::new());
    let key = cache_key(f.tee, &intel_root_fingerprint(), &f.fmspc, f.ca);
    cache.put(&key, b"garbage", 0, i64::MAX).await.unwrap();
    let svc = service(&f, cache.clone(), CollateralOptions::default());
    svc.get(f.tee, &f.fmspc, f.ca, ts(SGX_NOW)).await.unwrap();
    assert_each_path(&f, 1);
    // And the good copy replaced the garbage.
    let (bytes, _) = cache.get(&key).await.unwrap().unwrap();
    assert_eq!(
        attesta_collateral::deserialize(&bytes).unwrap(),
        import_dir(&vector_dir(SGX)).unwrap()
    );
    f.stop().await;
}

#[tokio::test]
async fn refresh_due_refreshes_only_keys_inside_the_margin() {
    let sgx = Fixture::start(SGX).await;
    let svc = service(
        &sgx,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let next = ts(SGX_NEXT_UPDATE);
    svc.get(sgx.tee, &sgx.fmspc, sgx.ca, ts(SGX_NOW))
        .await
        .unwrap();
    // Not due yet: nothing happens.
    assert!(svc.refresh_due(next - 7200).await.is_empty());
    assert_each_path(&sgx, 1);
    // Due: one refresh of the one key.
    let done = svc.refresh_due(next - 1800).await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0].0,
        cache_key(sgx.tee, &intel_root_fingerprint(), &sgx.fmspc, sgx.ca)
    );
    assert_eq!(done[0].1.as_ref().unwrap().fetched_at, next - 1800);
    assert_each_path(&sgx, 2);
    sgx.stop().await;
}

#[tokio::test]
async fn a_cancelled_get_does_not_block_the_next_one() {
    let f = Fixture::start_with(
        SGX,
        FixtureOptions {
            delay: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let svc = service(
        &f,
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    let now = ts(SGX_NOW);
    // The caller gives up (its client went away) while the fetch is in flight.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        svc.get(f.tee, &f.fmspc, f.ca, now),
    )
    .await;
    assert!(cancelled.is_err());
    // The next caller, at the same instant, fetches rather than failing.
    let got = svc.get(f.tee, &f.fmspc, f.ca, now).await.unwrap();
    assert_eq!(got.next_update, ts(SGX_NEXT_UPDATE));
    assert_eq!(f.count(&f.tcb_path()), 2);
    f.stop().await;
}

/// A self-signed certificate as PEM: a stand-in for a test root.
fn other_root_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Attesta Test Root");
    params.self_signed(&key).unwrap().pem()
}

/// `c` with every issuer chain ending at `root_pem` instead: the same
/// platform (FMSPC, CA) under another root.
fn rerooted(
    c: &attesta_collateral::DcapCollateral,
    root_pem: &str,
) -> attesta_collateral::DcapCollateral {
    let swap = |chain: &str| {
        let end = "-----END CERTIFICATE-----";
        let first_end = chain.find(end).unwrap() + end.len();
        format!("{}\n{root_pem}", &chain[..first_end])
    };
    let mut c = c.clone();
    c.tcb_info_issuer_chain = swap(&c.tcb_info_issuer_chain);
    c.qe_identity_issuer_chain = swap(&c.qe_identity_issuer_chain);
    c.pck_crl_issuer_chain = swap(&c.pck_crl_issuer_chain);
    c
}

/// Collateral for the same FMSPC and CA under another root is filed apart:
/// whichever is imported last, a lookup under Intel's root gets Intel's
/// set and a lookup under the other root gets the other set; the import
/// says what it replaced.
#[tokio::test]
async fn another_roots_collateral_for_the_same_platform_never_shadows_intels() {
    let empty = tempfile::tempdir().unwrap();
    let cache = Arc::new(MemoryCache::new());
    let svc = CollateralService::new(
        Box::new(OfflineSource::new(empty.path())),
        cache.clone(),
        CollateralOptions::default(),
    );
    let intel = import_dir(&vector_dir(SGX)).unwrap();
    let root_pem = other_root_pem();
    let test = rerooted(&intel, &root_pem);
    let test_root = attesta_collateral::root_of(&test).unwrap().fingerprint;
    assert_ne!(test_root, intel_root_fingerprint());
    let now = ts(SGX_NOW);

    let a = svc.import(test.clone(), now).await.unwrap();
    let b = svc.import(intel.clone(), now).await.unwrap();
    assert_ne!(a.key, b.key);
    assert!(a.replaced_next_update.is_none() && b.replaced_next_update.is_none());
    assert_eq!(cache.len(), 2);
    let got = svc
        .get(DcapTee::Sgx, "00A067110000", PckCa::Processor, now)
        .await
        .unwrap();
    assert_eq!(*got.collateral, intel);
    let got = svc
        .get_under(
            &test_root,
            DcapTee::Sgx,
            "00A067110000",
            PckCa::Processor,
            now,
        )
        .await
        .unwrap();
    assert_eq!(*got.collateral, test);

    // Imported again, the test set replaces only its own entry.
    let again = svc.import(test.clone(), now + 1).await.unwrap();
    assert_eq!(again.key, a.key);
    assert!(again.replaced_next_update.is_some());
    let got = svc
        .get(DcapTee::Sgx, "00A067110000", PckCa::Processor, now + 2)
        .await
        .unwrap();
    assert_eq!(*got.collateral, intel);

    // A node starting afresh reads each from the shared cache.
    let fresh = CollateralService::new(
        Box::new(OfflineSource::new(empty.path())),
        cache.clone(),
        CollateralOptions::default(),
    );
    let got = fresh
        .get(DcapTee::Sgx, "00a067110000", PckCa::Processor, now)
        .await
        .unwrap();
    assert_eq!(*got.collateral, intel);

    // Forgotten in memory and gone from the cache: nothing to serve.
    // (MemoryCache has no delete: an unreadable value is ignored like a
    // missing one.)
    cache.put(&b.key, b"gone", 0, 0).await.unwrap();
    svc.forget(&b.key);
    let err = svc
        .get(DcapTee::Sgx, "00A067110000", PckCa::Processor, now + 3)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NoOfflineBundle", "{err}");
}
