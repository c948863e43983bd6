//! The AMD KDS client and the SEV-SNP endorsement service over a real
//! KDS-compatible HTTP server on loopback serving real VCEKs and AMD chains:
//! exact request URLs, caching, single-flight, request spacing, 429
//! back-off (counted on a virtual clock, never timed), fail-fast while
//! rate-limited, CRL refresh by nextUpdate, and the error codes.

mod kds_fixture;

use std::sync::Arc;
use std::time::Duration;

use attesta_collateral::{
    CollateralCache, CollateralError, KdsClient, KdsClientOptions, MemoryCache, SnpCertChain,
    SnpEndorsementService, SnpKeyKind, SnpOptions, SnpProduct, SnpTcb, snp_chain_key, snp_crl_key,
    snp_vcek_key,
};
use kds_fixture::{
    KdsFixture, KdsFixtureOptions, ManualClock, Reply, chain_path, crl_path, read, s, ts,
};

const MILAN: &str = "snp/virtee-sev-milan";
const TURIN: &str = "snp/virtee-sev-turin-vcek-only";
const MILAN_HWID: &str = "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6";
const MILAN_TCB: SnpTcb = SnpTcb {
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 115,
    fmc: None,
};
const TURIN_TCB: SnpTcb = SnpTcb {
    bootloader: 0,
    tee: 0,
    snp: 0,
    microcode: 9,
    fmc: Some(0),
};
const NOW: i64 = 1_750_000_000; // 2025-06-15, inside every vector's validity

fn milan_chip() -> [u8; 64] {
    hex::decode(MILAN_HWID).unwrap().try_into().unwrap()
}

/// A Turin report's CHIP_ID: the 8-byte hwID, then bytes KDS ignores.
fn turin_chip() -> [u8; 64] {
    let mut c = [0xA5u8; 64];
    c[..8].copy_from_slice(&hex::decode("1e550a8ee5cf9f4d").unwrap());
    c
}

fn milan_vcek_path() -> String {
    format!("/vcek/v1/Milan/{MILAN_HWID}")
}

struct Setup {
    f: KdsFixture,
    svc: Arc<SnpEndorsementService>,
    clock: Arc<ManualClock>,
    cache: Arc<MemoryCache>,
}

fn client(
    f: &KdsFixture,
    clock: &Arc<ManualClock>,
    tune: impl FnOnce(&mut KdsClientOptions),
) -> KdsClient {
    let mut o = KdsClientOptions::new(&f.base_url);
    o.min_interval = Duration::ZERO;
    o.clock = clock.clone();
    tune(&mut o);
    KdsClient::new(o).unwrap()
}

async fn setup_with(
    fo: KdsFixtureOptions,
    tune: impl FnOnce(&mut KdsClientOptions),
    so: SnpOptions,
) -> Setup {
    let f = KdsFixture::start_with(&[MILAN, TURIN, "snp/trustee-milan-vlek"], fo).await;
    let clock = ManualClock::new();
    let cache = Arc::new(MemoryCache::new());
    let svc = Arc::new(SnpEndorsementService::new(
        Some(client(&f, &clock, tune)),
        cache.clone(),
        so,
    ));
    Setup {
        f,
        svc,
        clock,
        cache,
    }
}

async fn setup() -> Setup {
    setup_with(KdsFixtureOptions::default(), |_| {}, SnpOptions::default()).await
}

#[tokio::test]
async fn fetches_a_milan_vcek_with_the_kds_query() {
    let t = setup().await;
    let der = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap();
    assert_eq!(*der, read(MILAN, "vcek.der"));
    assert_eq!(
        t.f.uris(),
        vec![format!(
            "{}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115",
            milan_vcek_path()
        )]
    );
    t.f.stop().await;
}

#[tokio::test]
async fn fetches_a_turin_vcek_by_the_first_8_chip_id_bytes_and_fmc() {
    let t = setup().await;
    let der = t
        .svc
        .vcek(SnpProduct::Turin, &turin_chip(), TURIN_TCB, NOW)
        .await
        .unwrap();
    assert_eq!(*der, read(TURIN, "vcek.der"));
    assert_eq!(
        t.f.uris(),
        vec!["/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9"]
    );
    assert_eq!(
        snp_vcek_key(SnpProduct::Turin, &turin_chip(), TURIN_TCB).unwrap(),
        "snp/v1/vcek/Turin/1e550a8ee5cf9f4d/fmc0-bl0-tee0-snp0-uc9"
    );
    t.f.stop().await;
}

#[tokio::test]
async fn fetches_vcek_and_vlek_chains() {
    let t = setup().await;
    let c = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    let want = SnpCertChain::from_pem(
        SnpProduct::Milan,
        SnpKeyKind::Vcek,
        &read(MILAN, "ask_ark_milan.pem"),
    )
    .unwrap();
    assert_eq!(*c, want);
    let v = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vlek, NOW)
        .await
        .unwrap();
    assert_eq!(v.kind, SnpKeyKind::Vlek);
    assert_eq!(v.ark, want.ark, "both chains end in the same ARK-Milan");
    assert_ne!(v.intermediate, want.intermediate);
    assert_eq!(
        t.f.count(&chain_path(SnpProduct::Milan, SnpKeyKind::Vcek)),
        1
    );
    assert_eq!(
        t.f.count(&chain_path(SnpProduct::Milan, SnpKeyKind::Vlek)),
        1
    );
    // A product the server has no chain for.
    let err = t
        .svc
        .cert_chain(SnpProduct::Genoa, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    t.f.stop().await;
}

#[tokio::test]
async fn vcek_is_cached_in_memory_and_in_the_shared_cache_forever() {
    let t = setup().await;
    let chip = milan_chip();
    let a = t
        .svc
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW)
        .await
        .unwrap();
    // Ten years later: still no refetch (immutable per chip and TCB).
    let b = t
        .svc
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW + 10 * 365 * 86400)
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(t.f.total(), 1);

    let key = format!("snp/v1/vcek/Milan/{MILAN_HWID}/bl3-tee0-snp8-uc115");
    assert_eq!(
        snp_vcek_key(SnpProduct::Milan, &chip, MILAN_TCB).unwrap(),
        key
    );
    assert_eq!(t.cache.expires_at(&key), Some(i64::MAX));
    let (stored, fetched_at) = t.cache.get(&key).await.unwrap().unwrap();
    assert_eq!(stored, read(MILAN, "vcek.der"));
    assert_eq!(fetched_at, NOW);

    // A second node (new service, same shared cache) does not ask KDS.
    let other = SnpEndorsementService::new(
        Some(client(&t.f, &t.clock, |_| {})),
        t.cache.clone(),
        SnpOptions::default(),
    );
    let c = other
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW + 5)
        .await
        .unwrap();
    assert_eq!(*c, *a);
    assert_eq!(t.f.total(), 1);
    // An FMC SPL given for Milan is ignored: same key, no request.
    let tcb = SnpTcb {
        fmc: Some(7),
        ..MILAN_TCB
    };
    other
        .vcek(SnpProduct::Milan, &chip, tcb, NOW + 5)
        .await
        .unwrap();
    assert_eq!(t.f.total(), 1);
    t.f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_make_one_request_per_key() {
    let t = setup_with(
        KdsFixtureOptions {
            delay: Duration::from_millis(200),
            ..Default::default()
        },
        |_| {},
        SnpOptions::default(),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let svc = t.svc.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                svc.vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
                    .await
                    .map(|d| d.len())
            } else {
                svc.cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
                    .await
                    .map(|c| c.ark.len())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(t.f.count(&milan_vcek_path()), 1);
    assert_eq!(
        t.f.count(&chain_path(SnpProduct::Milan, SnpKeyKind::Vcek)),
        1
    );
    assert_eq!(t.f.total(), 2);
    t.f.stop().await;
}

#[tokio::test]
async fn retry_after_is_respected_on_429() {
    let t = setup().await;
    t.f.script([Reply::RateLimited(Some(3)), Reply::RateLimited(Some(3))]);
    let der = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap();
    assert_eq!(*der, read(MILAN, "vcek.der"));
    assert_eq!(t.f.count(&milan_vcek_path()), 3);
    assert_eq!(t.clock.sleeps(), vec![s(3), s(3)]);
    t.f.stop().await;
}

#[tokio::test]
async fn backs_off_exponentially_without_retry_after() {
    let t = setup().await;
    t.f.script([
        Reply::RateLimited(None),
        Reply::RateLimited(None),
        Reply::RateLimited(None),
    ]);
    t.svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    assert_eq!(t.f.total(), 4);
    assert_eq!(t.clock.sleeps(), vec![s(1), s(2), s(4)]);
    t.f.stop().await;
}

#[tokio::test]
async fn gives_up_after_the_backoff_budget_then_fails_fast_until_it_passes() {
    let t = setup_with(
        KdsFixtureOptions::default(),
        |o| o.max_backoff_total = s(5),
        SnpOptions::default(),
    )
    .await;
    t.f.set_always(Some(Reply::RateLimited(None)));
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap_err();
    // 1 s + 2 s waited; the next 4 s would exceed the 5 s budget.
    assert!(
        matches!(err, CollateralError::KdsRateLimited { retry_after: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "KdsRateLimited");
    assert_eq!(t.f.total(), 3);
    assert_eq!(t.clock.sleeps(), vec![s(1), s(2)]);

    // Another key during the back-off: refused without a request.
    t.f.set_always(None);
    let err = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CollateralError::KdsRateLimited { retry_after: 4, .. }),
        "{err:?}"
    );
    assert_eq!(t.f.total(), 3);

    t.clock.advance(s(4));
    t.svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    assert_eq!(t.f.total(), 4);
    t.f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_fail_fast_while_another_request_backs_off() {
    let t = setup().await;
    t.clock.hold();
    t.f.script([Reply::RateLimited(Some(10))]);
    let svc = t.svc.clone();
    let first = tokio::spawn(async move {
        svc.vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
            .await
    });
    // Wait (bounded) until the first caller is sleeping out its 429.
    for _ in 0..500 {
        if !t.clock.sleeps().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(t.clock.sleeps(), vec![s(10)]);

    // Same key: does not queue behind the back-off.
    let same = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            same,
            CollateralError::KdsRateLimited {
                retry_after: 10,
                ..
            }
        ),
        "{same:?}"
    );
    // Other key: no request either.
    let other = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert_eq!(other.code(), "KdsRateLimited");
    assert_eq!(t.f.total(), 1);

    t.clock.release();
    let der = first.await.unwrap().unwrap();
    assert_eq!(*der, read(MILAN, "vcek.der"));
    assert_eq!(t.f.total(), 2);
    t.f.stop().await;
}

#[tokio::test]
async fn requests_are_spaced_by_the_minimum_interval() {
    let t = setup_with(
        KdsFixtureOptions::default(),
        |o| o.min_interval = s(10),
        SnpOptions::default(),
    )
    .await;
    t.svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap();
    t.svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    t.svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    // The virtual clock only moves when the client sleeps: each request
    // after the first waited the full interval.
    assert_eq!(t.clock.sleeps(), vec![s(10), s(10)]);
    assert_eq!(t.f.total(), 3);
    // A cached answer costs no request and no wait.
    t.svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap();
    assert_eq!(t.clock.sleeps().len(), 2);
    t.f.stop().await;
}

#[tokio::test]
async fn crl_is_refreshed_by_next_update_and_fails_closed_after_it() {
    let next = ts("2026-01-01T00:00:00Z");
    let t = setup().await;
    let path = crl_path(SnpProduct::Milan, SnpKeyKind::Vcek);
    let now = next - 10 * 86400;
    let crl = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, now)
        .await
        .unwrap();
    assert_eq!(crl.der, t.f.crl_der());
    assert_eq!(crl.next_update, next);
    assert_eq!(crl.fetched_at, now);
    let key = snp_crl_key(SnpProduct::Milan, SnpKeyKind::Vcek);
    assert_eq!(key, "snp/v1/crl/vcek/Milan");
    assert_eq!(t.cache.expires_at(&key), Some(next));

    // Fresh: no request.
    t.svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next - 3601)
        .await
        .unwrap();
    assert_eq!(t.f.count(&path), 1);
    // Inside the refresh margin: one refetch.
    t.svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next - 3000)
        .await
        .unwrap();
    assert_eq!(t.f.count(&path), 2);

    // Refresh fails inside the margin: the still-valid copy serves.
    t.f.set_always(Some(Reply::Status(503)));
    let got = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next - 60)
        .await
        .unwrap();
    assert_eq!(got.next_update, next);
    assert_eq!(t.f.count(&path), 3);
    // Past nextUpdate and not refreshable: fail closed, naming the cause.
    let err = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next + 100)
        .await
        .unwrap_err();
    match &err {
        CollateralError::Expired {
            next_update,
            expired_for,
            cause,
            ..
        } => {
            assert_eq!(*next_update, next);
            assert_eq!(*expired_for, 100);
            assert_eq!(cause.as_ref().map(|c| c.code()), Some("KdsStatus"));
        }
        e => panic!("expected Expired, got {e:?}"),
    }
    assert_eq!(err.code(), "CollateralExpired");
    t.f.stop().await;
}

#[tokio::test]
async fn crl_grace_serves_an_expired_crl_for_a_while() {
    let next = ts("2026-01-01T00:00:00Z");
    let t = setup_with(
        KdsFixtureOptions::default(),
        |_| {},
        SnpOptions {
            crl_grace: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    )
    .await;
    t.svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next - 86400)
        .await
        .unwrap();
    t.f.set_always(Some(Reply::Status(500)));
    let got = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next + 600)
        .await
        .unwrap();
    assert_eq!(got.next_update, next);
    let err = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, next + 7200)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CollateralExpired");
    t.f.stop().await;
}

#[tokio::test]
async fn unknown_chip_is_not_found_and_not_asked_again_within_the_retry_interval() {
    let t = setup().await;
    let mut chip = milan_chip();
    chip[0] ^= 1;
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CollateralError::KdsNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "NotFound");
    let again = t
        .svc
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW + 30)
        .await
        .unwrap_err();
    assert_eq!(again, err);
    assert_eq!(t.f.total(), 1);
    t.svc
        .vcek(SnpProduct::Milan, &chip, MILAN_TCB, NOW + 61)
        .await
        .unwrap_err();
    assert_eq!(t.f.total(), 2);
    // A TCB KDS has no VCEK for is the same 404.
    let tcb = SnpTcb {
        snp: 9,
        ..MILAN_TCB
    };
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), tcb, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    t.f.stop().await;
}

#[tokio::test]
async fn server_error_is_kds_status() {
    let t = setup().await;
    t.f.set_always(Some(Reply::Status(500)));
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CollateralError::KdsStatus { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "KdsStatus");
    t.f.stop().await;
}

#[tokio::test]
async fn malformed_answers_are_malformed_certificate() {
    let t = setup().await;
    // Not DER at all.
    t.f.script([Reply::Body(b"<html>maintenance</html>".to_vec())]);
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate", "{err}");
    // Truncated DER.
    let mut der = read(MILAN, "vcek.der");
    der.truncate(700);
    t.f.script([Reply::Body(der)]);
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW + 61)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate", "{err}");
    // A genuine VCEK, but for another chip.
    t.f.script([Reply::Body(read("snp/trustee-milan-vcek", "vcek.der"))]);
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW + 122)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CollateralError::MalformedCertificate { reason, .. } if reason.contains("hwID c38427a3")),
        "{err:?}"
    );
    // A chain without the ARK.
    let ask_only = SnpCertChain::from_pem(
        SnpProduct::Milan,
        SnpKeyKind::Vcek,
        &read(MILAN, "ask_ark_milan.pem"),
    )
    .unwrap()
    .to_pem();
    let ask_only = ask_only[..ask_only.find("-----END CERTIFICATE-----").unwrap() + 26].to_owned();
    t.f.script([Reply::Body(ask_only.into_bytes())]);
    let err = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CollateralError::MalformedCertificate { reason, .. } if reason.contains("no ARK-Milan")),
        "{err:?}"
    );
    // A CRL from another product's ARK.
    t.f.script([Reply::Body(t.f.crl_der())]);
    let err = t
        .svc
        .crl(SnpProduct::Genoa, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CollateralError::MalformedCertificate { reason, .. } if reason.contains("is not ARK-Genoa")),
        "{err:?}"
    );
    // A CRL that is not DER.
    t.f.script([Reply::Body(b"garbage".to_vec())]);
    let err = t
        .svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate", "{err}");
    // Nothing bad was cached.
    assert!(t.cache.is_empty());
    t.f.stop().await;
}

#[tokio::test]
async fn unreachable_kds_is_kds_unavailable() {
    let f = KdsFixture::start(&[MILAN]).await;
    let clock = ManualClock::new();
    let svc = SnpEndorsementService::new(
        Some(client(&f, &clock, |_| {})),
        Arc::new(MemoryCache::new()),
        SnpOptions::default(),
    );
    f.stop().await;
    let err = svc
        .vcek(SnpProduct::Milan, &milan_chip(), MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "KdsUnavailable", "{err}");
}

#[tokio::test]
async fn requests_kds_cannot_answer_are_refused_without_a_request() {
    let t = setup().await;
    let err = t
        .svc
        .vcek(SnpProduct::Milan, &[0u8; 64], MILAN_TCB, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidSnpRequest");
    let err = t
        .svc
        .vcek(
            SnpProduct::Turin,
            &turin_chip(),
            SnpTcb {
                fmc: None,
                ..TURIN_TCB
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidSnpRequest");
    assert_eq!(t.f.total(), 0);
    t.f.stop().await;
}

#[tokio::test]
async fn bad_base_url_is_client_setup() {
    let err = KdsClient::new(KdsClientOptions::new("kdsintf.amd.com")).unwrap_err();
    assert_eq!(err.code(), "ClientSetup");
    assert_eq!(
        KdsClient::new(KdsClientOptions::new(format!(
            "{}/",
            attesta_collateral::AMD_KDS_BASE_URL
        )))
        .unwrap()
        .base_url(),
        "https://kdsintf.amd.com"
    );
}

#[tokio::test]
async fn unusable_cache_entries_are_ignored_and_refetched() {
    let t = setup().await;
    let key = snp_chain_key(SnpProduct::Milan, SnpKeyKind::Vcek);
    // Another product's chain filed under Milan's key (a corrupt store).
    t.cache
        .put(&key, &read(TURIN, "ask_ark_turin.pem"), NOW, i64::MAX)
        .await
        .unwrap();
    let c = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    assert_eq!(c.product, SnpProduct::Milan);
    assert_eq!(t.f.total(), 1);
    t.f.stop().await;
}

#[tokio::test]
async fn chain_is_refreshed_after_chain_refresh_and_old_copy_serves_on_failure() {
    let t = setup().await;
    let week = 7 * 86400;
    let a = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap();
    t.svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW + week - 1)
        .await
        .unwrap();
    assert_eq!(t.f.total(), 1);
    t.f.set_always(Some(Reply::Status(502)));
    let b = t
        .svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, NOW + week + 1)
        .await
        .unwrap();
    assert_eq!(t.f.total(), 2);
    assert!(Arc::ptr_eq(&a, &b));
    t.f.stop().await;
}
