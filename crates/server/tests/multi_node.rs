//! Several nodes on one PostgreSQL store (started by the test itself, see
//! `attesta_store::pgtest`): changes made on one node are served by the
//! other within the poll interval, racing PATCHes on two nodes lose nothing
//! and a concurrent delete gives 404, the shared secrets live in the store
//! sealed, and while the database is down attestation keeps working from
//! caches and the control plane answers 503 + `Retry-After` until it
//! returns.

mod common;

use std::time::{Duration, Instant};

use attesta_evidence::UnixTime;
use attesta_store::pgtest::TempPostgres;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "multi-node-admin-token";

/// A node of a deployment on `url`, with the shared key-encryption key in
/// `shared`, and caches that never expire on their own (only the change
/// watcher can refresh them).
fn node_config(
    dir: &std::path::Path,
    shared: &std::path::Path,
    url: &str,
) -> attesta_server::Config {
    let mut c = config(dir);
    c.store.url = Some(url.to_string());
    c.store.key_file = Some(shared.join("store.key"));
    c.admin_token = Some(ADMIN.into());
    c.policy_cache_ttl_secs = 3600;
    c
}

async fn node(dir: &std::path::Path, shared: &std::path::Path, url: &str) -> TestServer {
    let mut t = start(node_config(dir, shared, url)).await;
    t.admin = ADMIN.into();
    t
}

async fn get_policy_text(t: &TestServer, provider: &str) -> (u16, Value) {
    json(
        t.client
            .get(t.url(&format!(
                "/providers/{provider}/policies/SgxEnclave?api-version=2022-08-01"
            )))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn put_policy(t: &TestServer, provider: &str, text: &str) -> reqwest::Response {
    t.client
        .put(t.url(&format!(
            "/providers/{provider}/policies/SgxEnclave?api-version=2022-08-01"
        )))
        .bearer_auth(&t.admin)
        .body(unsigned_policy(text))
        .send()
        .await
        .unwrap()
}

/// The policy text a GET answers (the token's `x-ms-policy` payload).
fn policy_of(body: &Value) -> String {
    policy_text_of(body["token"].as_str().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_on_one_node_is_served_by_the_other_within_a_second() {
    let pg = TempPostgres::shared().expect("PostgreSQL");
    let url = pg.database().unwrap();
    let (da, db, shared) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = node(da.path(), shared.path(), &url).await;
    let b = node(db.path(), shared.path(), &url).await;

    let (s, body) = admin_post(&a, "/admin/providers", br#"{"name":"lab"}"#.to_vec()).await;
    assert_eq!(s, 201, "{body}");
    let v1 = "version= 1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"v\", value=1); };";
    let v2 = "version= 1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"v\", value=2); };";
    assert_eq!(put_policy(&a, "lab", v1).await.status(), 200);
    // B serves v1 (and caches it for an hour as far as its TTL goes).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, body) = get_policy_text(&b, "lab").await;
        if s == 200 && policy_of(&body) == v1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never saw provider lab's policy: {s} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The change on A reaches B through the change counter, not the TTL.
    assert_eq!(put_policy(&a, "lab", v2).await.status(), 200);
    let changed = Instant::now();
    let delay = loop {
        let (s, body) = get_policy_text(&b, "lab").await;
        assert_eq!(s, 200, "{body}");
        if policy_of(&body) == v2 {
            break changed.elapsed();
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "B still serves the old policy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("policy change propagated from node A to node B in {delay:?}");

    // A provider change too: PATCH on B, seen by A's cached provider view.
    let resp = b
        .client
        .patch(b.url("/admin/providers/lab"))
        .bearer_auth(ADMIN)
        .json(&json!({"config": {"collateral_grace_secs": 60}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let changed = Instant::now();
    loop {
        let (s, body) = json(
            a.client
                .get(a.url("/admin/providers/lab"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        if body["config"]["collateral_grace_secs"] == json!(60) {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "A still serves the old config: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "provider change propagated from node B to node A in {:?}",
        changed.elapsed()
    );

    // Shared secrets are in the store, sealed; no node keeps them in a file
    // of its own, and both opened the same admin token from it.
    let store = attesta_store::open_url(&attesta_store::OpenOptions {
        url: url.clone(),
        migrate: false,
        pg: Default::default(),
    })
    .await
    .unwrap();
    let sealed = store.get_secret("tpm-context-key").await.unwrap().unwrap();
    assert_eq!(sealed.len(), 12 + 32 + 16);
    assert!(!da.path().join("tpm-context.key").exists());
    assert!(!db.path().join("tpm-context.key").exists());
    let nodes = store.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_patches_on_two_nodes_lose_nothing_and_a_racing_delete_is_404() {
    let pg = TempPostgres::shared().expect("PostgreSQL");
    let url = pg.database().unwrap();
    let (da, db, shared) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = std::sync::Arc::new(node(da.path(), shared.path(), &url).await);
    let b = std::sync::Arc::new(node(db.path(), shared.path(), &url).await);
    let (s, body) = admin_post(&a, "/admin/providers", br#"{"name":"race"}"#.to_vec()).await;
    assert_eq!(s, 201, "{body}");

    // Half the PATCHes set the config, half the tokens: with a blind
    // read-modify-write a config PATCH would put back the tokens it read.
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let t = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let body = if i % 4 < 2 {
                json!({"config": {"collateral_grace_secs": 100 + i}})
            } else {
                json!({"aad_tokens": [format!("tok-{i}-1"), format!("tok-{i}-2"), format!("tok-{i}-3")]})
            };
            t.client
                .patch(t.url("/admin/providers/race"))
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let store = attesta_store::open_url(&attesta_store::OpenOptions {
        url: url.clone(),
        migrate: false,
        pg: Default::default(),
    })
    .await
    .unwrap();
    let p = store.get_provider("race").await.unwrap().unwrap();
    // Created at version 1, one increment per PATCH: none was lost.
    assert_eq!(p.version, 21);
    assert_eq!(p.token_hashes.len(), 3);
    let grace = p.config["collateral_grace_secs"].as_u64().unwrap();
    assert!((100..120).contains(&grace) && grace % 4 < 2, "{grace}");

    // PATCHes racing a delete: each answers 200 (before) or 404 (after).
    let mut tasks = Vec::new();
    for i in 0..12u64 {
        let t = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            if i == 5 {
                let r = t
                    .client
                    .delete(t.url("/admin/providers/race"))
                    .bearer_auth(ADMIN)
                    .send()
                    .await
                    .unwrap();
                return (true, r.status().as_u16());
            }
            let r = t
                .client
                .patch(t.url("/admin/providers/race"))
                .bearer_auth(ADMIN)
                .json(&json!({"config": {"collateral_grace_secs": i}}))
                .send()
                .await
                .unwrap();
            (false, r.status().as_u16())
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            (true, s) => assert_eq!(s, 204),
            (false, s) => assert!(s == 200 || s == 404, "PATCH during delete answered {s}"),
        }
    }
    assert_eq!(store.get_provider("race").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attestation_survives_a_database_outage_and_the_control_plane_answers_503() {
    let pg = TempPostgres::start().expect("PostgreSQL");
    let url = pg.database().unwrap();
    let (da, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut cfg = node_config(da.path(), shared.path(), &url);
    cfg.store.op_timeout_ms = 1000;
    let mut t = start(cfg).await;
    t.admin = ADMIN.into();

    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    intel_tenant(&t, "lab", &sample.root_der, &sample.collateral).await;
    let attest_body = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    let (s, b) = attest_at(
        &t,
        "/providers/lab/attest/SgxEnclave",
        "2022-08-01",
        attest_body.clone(),
    )
    .await;
    assert_eq!(s, 200, "warm-up attest: {b}");
    // A change to the store (a key rotation, which touches no provider or
    // policy) and the change watcher catching up with it: every cached
    // provider and policy is now marked invalidated, and nothing re-read
    // them before the database goes away. Invalidated entries are what
    // serves through the outage; dropping them stopped attestation.
    let (s, b) = admin_post(&t, "/admin/keys:rotate?provider=lab", Vec::new()).await;
    assert_eq!(s, 200, "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(
        4 * t.server.state.config.store.poll_interval_ms + 200,
    ))
    .await;

    pg.stop().unwrap();
    for i in 0..5 {
        let (s, b) = attest_at(
            &t,
            "/providers/lab/attest/SgxEnclave",
            "2022-08-01",
            attest_body.clone(),
        )
        .await;
        assert_eq!(s, 200, "attest {i} while the database is down: {b}");
        assert!(b["token"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // The node's own keys stay published.
    assert!(!kids(&t, "lab").await.is_empty());
    // Health says what attestation does: it goes on. MAA's probe answers
    // 204 for the cached provider, and the node stays ready, degraded,
    // once the change watcher has seen the outage.
    let r = t
        .client
        .get(t.url("/providers/lab/servicehealth"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, b) = json(t.client.get(t.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(s, 200, "{b}");
        if b == serde_json::json!({"status": "ready", "degraded": ["store"]}) {
            break;
        }
        assert_eq!(b, serde_json::json!({"status": "ready"}));
        assert!(Instant::now() < deadline, "readyz never said degraded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = put_policy(
        &t,
        "lab",
        "version= 1.0; authorizationrules { => permit(); };",
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let (s, b) = json(resp).await;
    assert_error(s, &b, 503, "ServiceUnavailable");
    let resp = t
        .client
        .get(t.url("/admin/providers"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));

    // Back without a restart of the node.
    pg.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = put_policy(
            &t,
            "lab",
            "version= 1.0; authorizationrules { => permit(); };",
        )
        .await;
        if resp.status() == 200 {
            break;
        }
        assert_eq!(resp.status(), 503);
        assert!(
            Instant::now() < deadline,
            "the control plane did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, b) = attest_at(
        &t,
        "/providers/lab/attest/SgxEnclave",
        "2022-08-01",
        attest_body,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

/// The `kid`s a node's `/certs` serves for `provider`.
async fn kids(t: &TestServer, provider: &str) -> Vec<String> {
    let (s, body) = json(
        t.client
            .get(t.url(&format!("/providers/{provider}/certs")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// The `kid`s of `provider`'s keys a node holds itself (admin view).
async fn own_kids(t: &TestServer, provider: &str) -> Vec<String> {
    let (s, body) = json(
        t.client
            .get(t.url(&format!("/admin/keys?provider={provider}")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let text = body.to_string();
    let mut out = Vec::new();
    for part in text.split("\"kid\":\"").skip(1) {
        out.push(part.split('"').next().unwrap().to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_node_signs_with_its_own_key_and_every_nodes_certs_serve_them_all() {
    let pg = TempPostgres::shared().expect("PostgreSQL");
    let url = pg.database().unwrap();
    let (da, db, shared) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let start_node = |dir: std::path::PathBuf| {
        let c = node_config(&dir, shared.path(), &url);
        async move {
            let mut t = start(c).await;
            t.admin = ADMIN.into();
            t
        }
    };
    let a = start_node(da.path().to_path_buf()).await;
    let b = start_node(db.path().to_path_buf()).await;

    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let body =
        json!({"name": "keys", "config": {"test_roots": {"intel": [pem(&sample.root_der)]}}});
    let (s, r) = admin_post(&a, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = admin_post(
        &a,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{r}");

    // Each node made its own key; within 2 s both /certs serve both.
    let converged = |want: Vec<String>| {
        let (a, b) = (&a, &b);
        async move {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let (ka, kb) = (kids(a, "keys").await, kids(b, "keys").await);
                if want.iter().all(|k| ka.contains(k) && kb.contains(k)) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "/certs did not converge on {want:?}: A {ka:?}, B {kb:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let (a1, b1) = (own_kids(&a, "keys").await, own_kids(&b, "keys").await);
    assert_eq!((a1.len(), b1.len()), (1, 1), "{a1:?} {b1:?}");
    assert_ne!(a1, b1, "nodes must not share a private key");
    converged(vec![a1[0].clone(), b1[0].clone()]).await;

    // A token from A verifies with B's /certs alone.
    let attest = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    // Addressed over loopback, each node names itself in `iss`; what is
    // checked here is that the signature verifies with the other node's keys.
    let verify_via = |node: &TestServer, token: String| {
        let (client, url) = (node.client.clone(), node.url("/providers/keys/certs"));
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        let issuer = payload["iss"].as_str().unwrap().to_string();
        assert!(issuer.ends_with("/providers/keys"), "{issuer}");
        async move {
            let jwks: attesta_token::jwks::Jwks =
                client.get(url).send().await.unwrap().json().await.unwrap();
            attesta_token::rp::verify_with_jwks(&token, &jwks, &issuer, UnixTime::now().0, 60)
        }
    };
    let (s, r) = attest_at(
        &a,
        "/providers/keys/attest/SgxEnclave",
        "2022-08-01",
        attest.clone(),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let token_a1 = r["token"].as_str().unwrap().to_string();
    verify_via(&b, token_a1.clone())
        .await
        .expect("A's token via B's /certs");

    // Rotation on A goes through the store: A's new key is on B's /certs
    // within 2 s; B rotates its own key too; the old ones stay for the
    // overlap.
    let (s, r) = admin_post(&a, "/admin/keys:rotate?provider=keys", Vec::new()).await;
    assert_eq!(s, 200, "{r}");
    let rotated = Instant::now();
    let a2 = own_kids(&a, "keys").await;
    assert!(a2.contains(&a1[0]) && a2.len() == 2, "{a2:?}");
    let a_new = a2.iter().find(|k| **k != a1[0]).unwrap().clone();
    loop {
        if kids(&b, "keys").await.contains(&a_new) {
            break;
        }
        assert!(
            rotated.elapsed() < Duration::from_secs(2),
            "B's /certs lacks A's new key after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "node A's rotated key on node B's /certs after {:?}",
        rotated.elapsed()
    );
    // B's own rotation includes making an RSA key: allow it longer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let b_new = loop {
        let b2 = own_kids(&b, "keys").await;
        if let Some(k) = b2.iter().find(|k| **k != b1[0]) {
            break k.clone();
        }
        assert!(Instant::now() < deadline, "B did not rotate: {b2:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    converged(vec![
        a_new.clone(),
        b_new.clone(),
        a1[0].clone(),
        b1[0].clone(),
    ])
    .await;

    // New tokens from A carry the new key and verify via B; the old token
    // still verifies within the overlap.
    let (s, r) = attest_at(
        &a,
        "/providers/keys/attest/SgxEnclave",
        "2022-08-01",
        attest.clone(),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let token_a2 = r["token"].as_str().unwrap().to_string();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token_a2.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], a_new.as_str());
    verify_via(&b, token_a2).await.expect("A's new token via B");
    verify_via(&b, token_a1)
        .await
        .expect("A's old token via B within the overlap");
    let (s, r) = attest_at(
        &b,
        "/providers/keys/attest/SgxEnclave",
        "2022-08-01",
        attest,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    verify_via(&a, r["token"].as_str().unwrap().to_string())
        .await
        .expect("B's token via A");
    a.stop().await;
    b.stop().await;
}

/// The end-to-end failover of issue 15: two nodes on a primary with a
/// synchronous streaming standby attest continuously; the primary is
/// killed (attestation goes on, the control plane answers 503 +
/// `Retry-After`), the standby is promoted (the control plane comes back
/// without a restart) and every policy write acknowledged before the kill
/// is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standby_promotion_loses_no_acknowledged_write_and_attestation_never_stops() {
    let (primary, standby) = TempPostgres::start_pair().expect("PostgreSQL primary and standby");
    let url = primary.failover_url(&standby, &primary.database().unwrap());
    let (da, db, shared) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let start_node = |dir: std::path::PathBuf| {
        let mut c = node_config(&dir, shared.path(), &url);
        c.store.op_timeout_ms = 1000;
        async move {
            let mut t = start(c).await;
            t.admin = ADMIN.into();
            t
        }
    };
    let a = std::sync::Arc::new(start_node(da.path().to_path_buf()).await);
    let b = std::sync::Arc::new(start_node(db.path().to_path_buf()).await);

    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let body = json!({"name": "ha", "config": {"test_roots": {"intel": [pem(&sample.root_der)]}}});
    let (s, r) = admin_post(&a, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = admin_post(
        &a,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let attest = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    let policy = |n: u32| {
        format!(
            "version= 1.0; authorizationrules {{ => permit(); }}; issuancerules {{ => issue(type=\"n\", value={n}); }};"
        )
    };
    // Acknowledged writes, then let both nodes' watchers catch up and warm
    // their caches (what is cached when the database goes is what serves).
    let mut acknowledged = 0;
    for n in 1..=5 {
        assert_eq!(put_policy(&a, "ha", &policy(n)).await.status(), 200);
        acknowledged = n;
    }
    tokio::time::sleep(Duration::from_millis(
        4 * a.server.state.config.store.poll_interval_ms + 200,
    ))
    .await;
    for t in [&a, &b] {
        let (s, r) = attest_at(
            t,
            "/providers/ha/attest/SgxEnclave",
            "2022-08-01",
            attest.clone(),
        )
        .await;
        assert_eq!(s, 200, "warm-up: {r}");
    }

    // Both nodes attest continuously from here to the end.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attesters = Vec::new();
    for t in [a.clone(), b.clone()] {
        let (stop, attest) = (stop.clone(), attest.clone());
        attesters.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (s, r) = attest_at(
                    &t,
                    "/providers/ha/attest/SgxEnclave",
                    "2022-08-01",
                    attest.clone(),
                )
                .await;
                if s == 200 && r["token"].is_string() {
                    ok += 1;
                } else {
                    failed.push(format!("{s} {r}"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A rotation on A reaches B's /certs within 2 s, and A's new tokens
    // verify with B's keys.
    let (s, r) = admin_post(&a, "/admin/keys:rotate?provider=ha", Vec::new()).await;
    assert_eq!(s, 200, "{r}");
    let rotated = Instant::now();
    let a_active = r["providers"][0]["active"].as_str().unwrap().to_string();
    while !kids(&b, "ha").await.contains(&a_active) {
        assert!(
            rotated.elapsed() < Duration::from_secs(2),
            "B's /certs lacks A's new key"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, r) = attest_at(
        &a,
        "/providers/ha/attest/SgxEnclave",
        "2022-08-01",
        attest.clone(),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let token = r["token"].as_str().unwrap();
    let iss: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let jwks: attesta_token::jwks::Jwks = b
        .client
        .get(b.url("/providers/ha/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    attesta_token::rp::verify_with_jwks(
        token,
        &jwks,
        iss["iss"].as_str().unwrap(),
        UnixTime::now().0,
        60,
    )
    .expect("A's token verifies with B's /certs");

    // The primary dies: the control plane pauses with 503 + Retry-After.
    primary.stop().unwrap();
    let resp = put_policy(&a, "ha", &policy(99)).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let (s, r) = get_policy_text(&b, "ha").await;
    assert!(
        s == 503 || (s == 200 && policy_of(&r).contains("value=5")),
        "{s} {r}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The standby is promoted: every acknowledged write is in it (read from
    // the database itself: the nodes' caches would hide a loss) ...
    standby.promote().unwrap();
    let promoted = Instant::now();
    let store = attesta_store::open_url(&attesta_store::OpenOptions {
        url: url.clone(),
        migrate: false,
        pg: Default::default(),
    })
    .await
    .unwrap();
    let stored = store
        .get_policy("ha", "SgxEnclave")
        .await
        .unwrap()
        .expect("the policy survived");
    assert_eq!(stored.policy_text, policy(acknowledged));
    // ... and the control plane is back without a restart.
    let deadline = promoted + Duration::from_secs(30);
    loop {
        let resp = put_policy(&b, "ha", &policy(acknowledged + 1)).await;
        if resp.status() == 200 {
            break;
        }
        assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
        assert!(
            Instant::now() < deadline,
            "the control plane did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "control plane back {:?} after the promotion",
        promoted.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, r) = get_policy_text(&a, "ha").await;
        if s == 200 && policy_of(&r) == policy(acknowledged + 1) {
            break;
        }
        assert!(Instant::now() < deadline, "A never saw the write: {s} {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in attesters {
        let (ok, failed) = h.await.unwrap();
        assert!(ok > 10, "too few attests ran: {ok}");
        assert!(
            failed.is_empty(),
            "failed attests during the failover: {failed:?}"
        );
    }
}

/// Store operations a node made since it started, by operation.
fn store_ops(t: &TestServer) -> std::collections::BTreeMap<&'static str, u64> {
    t.server
        .state
        .store_ops
        .snapshot()
        .into_iter()
        .map(|(op, ok, err)| (op, ok + err))
        .collect()
}

/// The attest hot path makes no database operation, on SQLite and on
/// PostgreSQL: once a node has served its first attests after the last
/// change (caches warm; a change marks them to be re-read once), a
/// burst of SGX and TPM attests leaves the store's operation counts where
/// the node's own background work (the change watcher's poll, the
/// heartbeat and the signing-key sync that follows it) puts them, which is
/// bounded by the elapsed time, not by the number of requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attestation_makes_no_database_operation_on_either_backend() {
    for backend in ["sqlite", "postgres"] {
        let (dir, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut c = match backend {
            "postgres" => {
                let url = TempPostgres::shared().unwrap().database().unwrap();
                node_config(dir.path(), shared.path(), &url)
            }
            _ => {
                let mut c = config(dir.path());
                c.admin_token = Some(ADMIN.into());
                c
            }
        };
        // The TTL re-read is periodic too; keep it out of this window.
        c.policy_cache_ttl_secs = 3600;
        let mut t = start(c).await;
        t.admin = ADMIN.into();

        let sgx = SgxSample::builder().at(UnixTime::now().0).build();
        intel_tenant(&t, "hot", &sgx.root_der, &sgx.collateral).await;
        let tpm = attesta_testkit::TpmSample::builder().build();
        provider_with_policy(
            &t,
            "hot-tpm",
            "Tpm",
            "version=1.2;\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ => issue(type=\"ok\", value=true); };",
        )
        .await;
        let (s, b) = configure_provider(
            &t,
            "hot-tpm",
            json!({
                "test_roots": {"tpm": [tpm.root_pem]},
                "verification_time": attesta_evidence::types::rfc3339(tpm.verify_at().0 as i64),
            }),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let attest = json!({"quote": URL_SAFE_NO_PAD.encode(&sgx.quote)});
        let burst = |n: usize| {
            let (t, attest, tpm) = (&t, attest.clone(), &tpm);
            async move {
                for _ in 0..n {
                    let (s, r) = attest_at(
                        t,
                        "/providers/hot/attest/SgxEnclave",
                        "2022-08-01",
                        attest.clone(),
                    )
                    .await;
                    assert_eq!(s, 200, "{backend}: {r}");
                    let c = tpm_one_shot(t, "hot-tpm", tpm).await.unwrap();
                    assert_eq!(c["ok"], true, "{backend}");
                }
            }
        };
        // The setup's writes moved the change counter: let the watcher see
        // that (and mark the caches for a re-read) before warming them.
        tokio::time::sleep(Duration::from_millis(
            4 * t.server.state.config.store.poll_interval_ms + 200,
        ))
        .await;
        burst(2).await;

        let (before, started) = (store_ops(&t), Instant::now());
        const N: usize = 40;
        burst(N).await;
        let after = store_ops(&t);
        let secs = started.elapsed().as_secs_f64();
        let polls =
            (secs * 1000.0 / t.server.state.config.store.poll_interval_ms as f64) as u64 + 2;
        // A heartbeat every 10 s, then a key sync: a provider list and, per
        // provider, published keys (and at most a publish and a prune).
        let syncs = (secs / 10.0) as u64 + 1;
        let providers = 3;
        for (op, n) in &after {
            let made = n - before.get(op).copied().unwrap_or(0);
            let bound = match *op {
                "generation" => polls,
                "node_heartbeat" | "list_providers" | "list_nodes" => syncs,
                "list_published_keys" | "publish_key" | "prune_published_keys" => syncs * providers,
                _ => 0,
            };
            assert!(
                made <= bound,
                "{backend}: {made} x {op} during {N} SGX and {N} TPM attests in {secs:.1} s (background allows {bound})"
            );
        }
        t.stop().await;
    }
}
