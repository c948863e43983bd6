//! Operating the server: Prometheus metrics after accepted and rejected
//! attestations, the request id on every response, health and readiness
//! probes, the OpenID metadata listing only what exists and what tokens
//! carry, and JWKS keys with their raw public key.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "2022-08-01";

/// A server with provider `name` trusting `sample`'s test root and the
/// sample's collateral imported.
async fn lab(tmp: &std::path::Path, sample: &SgxSample, name: &str) -> TestServer {
    let t = start(config(tmp)).await;
    let body = json!({"name": name, "config": {"test_roots": {"intel": [pem(&sample.root_der)]}}});
    let (s, b) = admin_post(&t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    t
}

async fn scrape(t: &TestServer) -> String {
    let r = t
        .client
        .get(t.url("/metrics"))
        .bearer_auth(&t.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    r.text().await.unwrap()
}

/// The value of the sample line `series` (metric name with its labels in
/// the order the registry writes them).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_accepted_and_rejected_attests_with_their_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    // A provider name no other test in this process uses: the registry is
    // process-wide.
    let t = lab(tmp.path(), &sample, "metrics-lab").await;

    // Without the admin token: 401.
    let r = t.client.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let quote = URL_SAFE_NO_PAD.encode(&sample.quote);
    for _ in 0..2 {
        let (s, b) = attest_at(
            &t,
            "/providers/metrics-lab/attest/SgxEnclave",
            V,
            json!({"quote": quote}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    // Rejected: runtime data that the report does not bind.
    let (s, b) = attest_at(
        &t,
        "/providers/metrics-lab/attest/SgxEnclave",
        V,
        json!({"quote": quote, "runtimeData": {"data": URL_SAFE_NO_PAD.encode(b"not bound"), "dataType": "Binary"}}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let inner = b["error"]["innererror"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    // Rejected: a quote that does not parse.
    let (s, b) = attest_at(
        &t,
        "/providers/metrics-lab/attest/SgxEnclave",
        V,
        json!({"quote": URL_SAFE_NO_PAD.encode(b"garbage")}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let parse_code = b["error"]["innererror"]["code"]
        .as_str()
        .unwrap()
        .to_string();

    // The TPM challenge is counted under its provider too (it was
    // `unknown`).
    let r = t
        .client
        .get(t.url("/providers/metrics-lab/attest/Tpm:challenge?api-version=2022-08-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let text = scrape(&t).await;
    assert_eq!(
        value(
            &text,
            r#"attesta_attest_requests_total{provider="metrics-lab",type="SgxEnclave",verdict="accepted",error_code=""}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"attesta_attest_requests_total{provider="metrics-lab",type="Tpm",verdict="accepted",error_code=""}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"attesta_attest_requests_total{{provider="metrics-lab",type="SgxEnclave",verdict="rejected",error_code="{inner}"}}"#
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"attesta_attest_requests_total{{provider="metrics-lab",type="SgxEnclave",verdict="rejected",error_code="{parse_code}"}}"#
            )
        ),
        Some(1.0),
        "{text}"
    );
    // Every stage of an accepted SGX attest is timed; the whole request too.
    for stage in ["decode", "collateral", "verify", "policy", "sign"] {
        let count = value(
            &text,
            &format!(
                r#"attesta_attest_stage_duration_seconds_count{{stage="{stage}",type="SgxEnclave"}}"#
            ),
        )
        .unwrap_or_else(|| panic!("no {stage} histogram in {text}"));
        assert!(count >= 2.0, "{stage}: {count}");
        assert!(text.contains(&format!(
            r#"attesta_attest_stage_duration_seconds_bucket{{le="+Inf",stage="{stage}",type="SgxEnclave"}}"#
        )) || text.contains(&format!(
            r#"attesta_attest_stage_duration_seconds_bucket{{stage="{stage}",type="SgxEnclave",le="+Inf"}}"#
        )), "no +Inf bucket for {stage}");
    }
    assert!(
        value(
            &text,
            r#"attesta_attest_duration_seconds_count{type="SgxEnclave"}"#
        )
        .unwrap()
            >= 4.0
    );
    // The collateral was imported, so every lookup was a cache hit and
    // nothing went upstream.
    assert!(
        value(&text, r#"attesta_collateral_cache_events{event="hit"}"#).unwrap() >= 3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"attesta_collateral_cache_events{event="upstream_fetch"}"#
        ),
        Some(0.0)
    );
    // Store operations are counted (the provider and the import wrote,
    // this scrape listed the providers).
    for op in ["create_provider", "cache_put", "list_providers"] {
        let n = value(
            &text,
            &format!(r#"attesta_store_operations{{operation="{op}",result="ok"}}"#),
        );
        assert!(n.is_some_and(|n| n >= 1.0), "{op}: {n:?} in {text}");
    }
    let next = value(&text, "attesta_collateral_next_update_seconds").unwrap();
    let expected = attesta_collateral::next_update_of(&sample.collateral).unwrap() as f64
        - UnixTime::now().0 as f64;
    assert!((next - expected).abs() < 120.0, "{next} vs {expected}");
    let age = value(
        &text,
        r#"attesta_signing_key_age_seconds{provider="metrics-lab"}"#,
    )
    .unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");
    t.stop().await;
}

#[tokio::test]
async fn throttled_attests_are_counted_by_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.attest_per_ip_burst = 1.0;
    cfg.limits.attest_per_ip_per_sec = 0.001;
    let t = start(cfg).await;
    let before = value(
        &scrape(&t).await,
        r#"attesta_throttled_total{limit="attest_ip"}"#,
    )
    .unwrap_or(0.0);
    let mut throttled = 0;
    for _ in 0..3 {
        let (s, _) = attest_at(&t, "/attest/SgxEnclave", V, json!({"quote": "AA"})).await;
        if s == 429 {
            throttled += 1;
        }
    }
    assert_eq!(throttled, 2);
    let text = scrape(&t).await;
    let after = value(&text, r#"attesta_throttled_total{limit="attest_ip"}"#).unwrap();
    assert!(after - before >= 2.0, "{before} -> {after}");
    assert!(
        value(
            &text,
            r#"attesta_attest_requests_total{provider="unknown",type="SgxEnclave",verdict="throttled",error_code="TooManyRequests"}"#
        )
        .unwrap()
            >= 2.0,
        "{text}"
    );
    t.stop().await;
}

#[tokio::test]
async fn metrics_move_to_their_own_listener_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let t = start(cfg).await;
    let addr = t.server.metrics_addr.expect("a metrics listener");
    let plain = reqwest::Client::new();
    let r = plain
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"attesta_signing_key_age_seconds{provider="default"}"#),
        "{text}"
    );
    // The main listener no longer serves them, even with the admin token.
    let r = t
        .client
        .get(t.url("/metrics"))
        .bearer_auth(&t.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_made_on_every_response() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let r = t
        .client
        .get(t.url("/certs"))
        .header("x-ms-request-id", "rid-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ms-request-id"], "rid-123");
    // Errors too, and a generated id when the client sent none.
    let r = t.client.get(t.url("/no/such/route")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let id = r.headers()["x-ms-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    let r = t.client.get(t.url("/no/such/route")).send().await.unwrap();
    assert_ne!(r.headers()["x-ms-request-id"].to_str().unwrap(), id);
    // An unusable id (too long) is replaced, not echoed.
    let long = "x".repeat(200);
    let r = t
        .client
        .post(t.url(&format!("/attest/SgxEnclave?api-version={V}")))
        .header("x-ms-request-id", &long)
        .json(&json!({"quote": "AA"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-ms-request-id"].len(), 36);
    t.stop().await;
}

#[tokio::test]
async fn health_and_readiness_are_anonymous_and_minimal() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = json(t.client.get(t.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((s, b), (200, json!({"status": "ok"})));
    let (s, b) = json(t.client.get(t.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((s, b), (200, json!({"status": "ready"})));
    // MAA's own probe is kept.
    let r = t.client.get(t.url("/servicehealth")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    t.stop().await;
}

#[tokio::test]
async fn readiness_fails_on_expired_collateral() {
    let tmp = tempfile::tempdir().unwrap();
    // Collateral made a year ago has long passed its nextUpdate.
    let year = 365 * 24 * 3600;
    let sample = SgxSample::builder().at(UnixTime::now().0 - year).build();
    let mut cfg = config(tmp.path());
    cfg.collateral.max_grace_secs = 0;
    let t = start(cfg).await;
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = json(t.client.get(t.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (s, b),
        (
            503,
            json!({"status": "not_ready", "failed": ["collateral"]})
        )
    );
    t.stop().await;
}

#[tokio::test]
async fn metadata_lists_existing_endpoints_and_the_claims_tokens_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = br#"{"k":"v"}"#;
    let sample = SgxSample::builder()
        .at(UnixTime::now().0)
        .runtime_data(runtime)
        .build();
    let t = lab(tmp.path(), &sample, "meta-lab").await;
    let (s, meta) = json(
        t.client
            .get(t.url("/providers/meta-lab/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    // Every URL the metadata names answers.
    for (k, v) in meta.as_object().unwrap() {
        if let Some(url) = v.as_str().filter(|u| u.starts_with("https://")) {
            if k == "issuer" {
                continue;
            }
            let r = t.client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{k} = {url}");
        }
    }
    assert!(meta.get("revocation_endpoint").is_none());
    let supported: Vec<&str> = meta["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (ty, body) in [
        (
            "SgxEnclave",
            json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote), "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON"}, "nonce": "n"}),
        ),
        (
            "OpenEnclave",
            json!({"report": URL_SAFE_NO_PAD.encode(&sample.oe_report), "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "Binary"}}),
        ),
    ] {
        let (s, b) = attest_at(&t, &format!("/providers/meta-lab/attest/{ty}"), V, body).await;
        assert_eq!(s, 200, "{b}");
        for name in claims(b["token"].as_str().unwrap()).keys() {
            assert!(
                supported.contains(&name.as_str()),
                "{ty} token claim {name} is not in claims_supported"
            );
        }
    }
    // /certs keys carry the raw key besides x5c.
    let (_, certs) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    let k: &Value = &certs["keys"][0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(k["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert_eq!(k["x5c"].as_array().unwrap().len(), 1);
    t.stop().await;
}
