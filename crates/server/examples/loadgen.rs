//! Attest requests per second through the real server: HTTPS on loopback,
//! an SGX quote from the testkit under a provider-scoped test root,
//! collateral imported, the provider's default policy, a signed token per
//! request. Bounded: a fixed number of requests, then it stops.
//!
//! `cargo run --release -p attesta-server --example loadgen -- [REQUESTS] [CONCURRENCY]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use attesta_evidence::UnixTime;
use attesta_server::Config;
use attesta_testkit::SgxSample;
use base64::Engine;
use serde_json::json;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);

    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: tmp.path().to_path_buf(),
        ..Config::default()
    };
    cfg.collateral.pcs_url = String::new();
    cfg.collateral.kds_url = String::new();
    let server = attesta_server::start(cfg).await.expect("server starts");
    let pem = std::fs::read(&server.tls_cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let admin = std::fs::read_to_string(tmp.path().join("admin-token")).unwrap();
    let admin = admin.trim();

    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let root = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&sample.root_der)
    );
    let r = client
        .post(format!("{base}/admin/providers"))
        .bearer_auth(admin)
        .json(&json!({"name": "load", "config": {"test_roots": {"intel": [root]}}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = client
        .post(format!("{base}/admin/collateral"))
        .bearer_auth(admin)
        .body(attesta_collateral::serialize(&sample.collateral))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let url = format!("{base}/providers/load/attest/SgxEnclave?api-version=2022-08-01");
    let body = Arc::new(
        json!({"quote": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sample.quote)})
            .to_string(),
    );
    // Warm up connections and caches.
    for _ in 0..50 {
        let r = client
            .post(&url)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body, next) = (client.clone(), url.clone(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{total} attest requests, concurrency {concurrency}: {:.0} requests/s, p50 {:?}, p99 {:?}",
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
    server.shutdown();
    let _ = server.wait().await;
}
