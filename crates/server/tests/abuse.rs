//! Bounded resources under abuse, over real HTTPS on loopback: held and
//! idle connections, connection caps, throttling (429 + Retry-After),
//! failed-authentication throttling, clients behind a trusted proxy, load shedding (503), HTTP/2 413
//! bodies, ambiguous hosts, a slow tenant policy, and an unreachable
//! collateral service (503 + Retry-After).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use attesta_evidence::UnixTime;
use attesta_server::Config;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

const V: &str = "2022-08-01";

/// A TLS client trusting the test server's certificate, offering `alpn`.
fn connector(t: &TestServer, alpn: &[u8]) -> TlsConnector {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pem = std::fs::read(&t.server.tls_cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(cfg))
}

async fn tls(t: &TestServer, alpn: &[u8]) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(t.server.addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector(t, alpn).connect(name, tcp).await
}

/// True when the server closes the connection within `within`.
async fn closed_within(s: &mut TlsStream<TcpStream>, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close: keep reading.
            Ok(Ok(_)) => continue,
        }
    }
}

/// Send one raw HTTP/1.1 request and read its response (the server closes
/// the connection: `Connection: close` is in `head`).
async fn raw_h1(t: &TestServer, head: &str) -> (u16, Value) {
    let mut s = tls(t, b"http/1.1").await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // Bodies may be chunked: take the JSON object.
    let json = body
        .find('{')
        .and_then(|i| body.rfind('}').map(|j| &body[i..=j]))
        .map(|b| serde_json::from_str(b).unwrap())
        .unwrap_or(Value::Null);
    (status, json)
}

/// The JSON body of an HTTP/2 response.
async fn h2_json(mut body: h2::RecvStream) -> Value {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

fn cfg(dir: &std::path::Path, f: impl FnOnce(&mut Config)) -> Config {
    let mut c = config(dir);
    f(&mut c);
    c
}

#[tokio::test]
async fn held_and_idle_connections_neither_starve_new_clients_nor_stay_open() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.header_read_timeout_secs = 1;
        c.limits.idle_timeout_secs = 2;
        c.limits.max_connections_per_ip = 64;
    }))
    .await;

    // Partial HTTP/1.1 headers, never finished.
    let mut partial = Vec::new();
    for _ in 0..20 {
        let mut s = tls(&t, b"http/1.1").await.unwrap();
        s.write_all(b"POST /attest/SgxEnclave HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        partial.push(s);
    }
    // Idle HTTP/1.1 and HTTP/2 connections that never send a request.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tls(&t, b"http/1.1").await.unwrap());
    }
    for _ in 0..10 {
        let mut s = tls(&t, b"h2").await.unwrap();
        // Client preface and an empty SETTINGS frame, then nothing.
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        idle.push(s);
    }

    // A new client is still served.
    let (s, b) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["keys"].is_array(), "{b}");

    // Every held connection is closed by the server after its timeout.
    for s in partial.iter_mut().chain(idle.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(8)).await,
            "a held connection stayed open"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.idle_timeout_secs = 1;
        // Longer than the idle timeout: the idle timer is what closes.
        c.limits.header_read_timeout_secs = 30;
    }))
    .await;

    // HTTP/1.1: one request with keep-alive, then silence.
    let mut s = tls(&t, b"http/1.1").await.unwrap();
    s.write_all(b"GET /servicehealth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 2"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(closed_within(&mut s, Duration::from_secs(6)).await);

    // HTTP/2: one request, then silence; the connection future ends when
    // the server closes it.
    let tcp = TcpStream::connect(t.server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let io = connector(&t, b"h2").connect(name, tcp).await.unwrap();
    let (mut h2, conn) = h2::client::handshake(io).await.unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get(t.url("/servicehealth"))
        .body(())
        .unwrap();
    let (resp, _) = h2.send_request(req, true).unwrap();
    assert!(resp.await.unwrap().status().is_success());
    let ended = tokio::time::timeout(Duration::from_secs(6), conn).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection stayed open");
    t.stop().await;
}

#[tokio::test]
async fn connections_per_client_are_capped_and_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.max_connections_per_ip = 4;
    }))
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls(&t, b"http/1.1").await.unwrap());
    }
    // The fifth is closed before its handshake completes.
    assert!(tls(&t, b"http/1.1").await.is_err());
    // Once one closes, a new connection is admitted.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tls(&t, b"http/1.1").await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.stop().await;
}

#[tokio::test]
async fn an_attest_burst_gets_429_with_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.attest_per_ip_burst = 5.0;
        c.limits.attest_per_ip_per_sec = 0.2;
    }))
    .await;
    let url = t.url(&format!("/attest/SgxEnclave?api-version={V}"));
    for _ in 0..5 {
        let (s, b) = json(t.client.post(&url).json(&json!({})).send().await.unwrap()).await;
        // Served (and refused for its empty body), not throttled.
        assert_error(s, &b, 400, "InvalidParameter");
    }
    let resp = t.client.post(&url).json(&json!({})).send().await.unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    let (s, b) = json(resp).await;
    assert_error(s, &b, 429, "TooManyRequests");
    // The control plane has its own budget.
    let (s, _) = json(
        t.client
            .get(t.url(&format!("/policies/SgxEnclave?api-version={V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    t.stop().await;
}

/// Behind a trusted proxy (here 127.0.0.1) clients are throttled under the
/// address its `X-Forwarded-For` names; a client's own entries, and the
/// header from a peer that is not a trusted proxy (127.0.0.2), count for
/// nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.attest_per_ip_burst = 3.0;
        c.limits.attest_per_ip_per_sec = 0.01;
        c.limits.throttled_reply_delay_ms = 0;
        c.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    }))
    .await;
    let direct = client_from(&t, "127.0.0.2");
    let url = t.url(&format!("/attest/SgxEnclave?api-version={V}"));
    let send = |c: &reqwest::Client, xff: &str| {
        c.post(&url)
            .header("x-forwarded-for", xff)
            .json(&json!({}))
            .send()
    };
    // Served (and refused for the empty body) or throttled.
    let status = |r: reqwest::Response| r.status().as_u16();

    for _ in 0..3 {
        assert_eq!(status(send(&t.client, "198.51.100.7").await.unwrap()), 400);
    }
    assert_eq!(status(send(&t.client, "198.51.100.7").await.unwrap()), 429);
    // The client cannot step out of its bucket by writing an entry of its
    // own: the proxy appended 198.51.100.7 to the right of it.
    assert_eq!(
        status(send(&t.client, "203.0.113.50, 198.51.100.7").await.unwrap()),
        429
    );
    // Another forwarded client has a full bucket.
    assert_eq!(status(send(&t.client, "198.51.100.8").await.unwrap()), 400);

    // A peer that is no trusted proxy is counted as itself, whatever it
    // claims: it cannot drain 198.51.100.9's bucket ...
    for _ in 0..3 {
        assert_eq!(status(send(&direct, "198.51.100.9").await.unwrap()), 400);
    }
    assert_eq!(status(send(&direct, "198.51.100.9").await.unwrap()), 429);
    assert_eq!(status(send(&t.client, "198.51.100.9").await.unwrap()), 400);
    // ... nor escape its own bucket by naming another client.
    assert_eq!(status(send(&direct, "198.51.100.10").await.unwrap()), 429);
    t.stop().await;
}

#[tokio::test]
async fn wrong_token_guesses_are_throttled() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.auth_failures_per_ip_burst = 3.0;
        c.limits.auth_failures_per_ip_per_sec = 0.1;
        c.limits.throttled_reply_delay_ms = 400;
    }))
    .await;
    let url = t.url(&format!("/policies/SgxEnclave?api-version={V}"));
    for i in 0..3 {
        let (s, b) = json(
            t.client
                .get(&url)
                .bearer_auth(format!("guess-{i}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(s, &b, 401, "Unauthorized");
    }
    // The 429 is held back (throttled_reply_delay_ms), which slows a
    // guessing loop further.
    let asked = Instant::now();
    let resp = t
        .client
        .get(&url)
        .bearer_auth("guess-4")
        .send()
        .await
        .unwrap();
    assert!(
        asked.elapsed() >= Duration::from_millis(400),
        "429 sent after {:?}",
        asked.elapsed()
    );
    assert!(resp.headers().contains_key("retry-after"));
    let (s, b) = json(resp).await;
    assert_error(s, &b, 429, "TooManyRequests");
    // The admin API is behind the same gate.
    let (s, b) = json(
        t.client
            .get(t.url("/admin/providers"))
            .bearer_auth("guess-5")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 429, "TooManyRequests");
    // The anonymous data plane is not.
    let (s, _) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    t.stop().await;
}

#[tokio::test]
async fn http2_body_over_the_limit_gets_413_with_maa_body() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| c.max_body_bytes = 1024)).await;
    let pem = std::fs::read(&t.server.tls_cert).unwrap();
    let h2 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for size in [4096usize, 2 * 1024 * 1024] {
        let resp = h2
            .post(t.url(&format!("/attest/SgxEnclave?api-version={V}")))
            .header("content-type", "application/json")
            .body(vec![b' '; size])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        let (s, b) = json(resp).await;
        assert_error(s, &b, 413, "RequestBodyTooLarge");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1024 bytes"),
            "{b}"
        );
    }
    // A raw HTTP/2 stream declaring a huge length and sending a trickle:
    // the 413 comes from the header, before the body.
    let tcp = TcpStream::connect(t.server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let io = connector(&t, b"h2").connect(name, tcp).await.unwrap();
    let (mut h2, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::post(t.url(&format!("/attest/SgxEnclave?api-version={V}")))
        .header("content-length", "100000000")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (resp, mut send) = h2.send_request(req, false).unwrap();
    send.send_data(bytes::Bytes::from_static(b"{\"quote\": \""), false)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 413);
    let (s, b) = (413, h2_json(resp.into_body()).await);
    assert_error(s, &b, 413, "RequestBodyTooLarge");

    // HTTP/1.1 answers the same.
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/attest/SgxEnclave?api-version={V}")))
            .body(vec![b' '; 4096])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 413, "RequestBodyTooLarge");
    t.stop().await;
}

#[tokio::test]
async fn ambiguous_hosts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let port = t.server.addr.port();

    let (s, b) = raw_h1(
        &t,
        &format!(
            "GET /certs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: contoso.example\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than one Host")
    );

    let (s, b) = raw_h1(
        &t,
        &format!(
            "GET https://contoso.example/certs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contoso.example")
    );

    // The absolute form naming the same host is fine.
    let (s, b) = raw_h1(
        &t,
        &format!(
            "GET https://127.0.0.1:{port}/certs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    // HTTP/2: :authority and a different Host header.
    let tcp = TcpStream::connect(t.server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let io = connector(&t, b"h2").connect(name, tcp).await.unwrap();
    let (mut h2, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(t.url("/certs"))
        .header("host", "contoso.example")
        .body(())
        .unwrap();
    let (resp, _) = h2.send_request(req, true).unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 400);
    let b = h2_json(resp.into_body()).await;
    assert_eq!(b["error"]["code"], "InvalidParameter", "{b}");
    t.stop().await;
}

/// A Rego policy whose evaluation runs for seconds in little memory.
const SLOW_REGO: &str = r#"package attesta.slow

default allow := false

allow if {
	some i in numbers.range(1, 4000)
	some j in numbers.range(1, 4000)
	i * j == -1
}
"#;

/// Import the testkit sample's collateral (admin).
async fn import_collateral(t: &TestServer, sample: &SgxSample) {
    let (s, b) = admin_post(
        t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

/// A client of `t` that connects from the loopback address `from` (another
/// client address than the harness client's 127.0.0.1).
fn client_from(t: &TestServer, from: &str) -> reqwest::Client {
    let pem = std::fs::read(&t.server.tls_cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Provider `name` trusting `sample`'s root, with `policy` for SgxEnclave
/// (or the default policy).
async fn sgx_provider(t: &TestServer, name: &str, sample: &SgxSample, policy: Option<&str>) {
    let body = json!({"name": name, "config": {"test_roots": {"intel": [pem(&sample.root_der)]}}});
    let (s, b) = admin_post(t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{b}");
    if let Some(p) = policy {
        let (s, b) = json(
            t.client
                .put(t.url(&format!(
                    "/providers/{name}/policies/SgxEnclave?api-version={V}"
                )))
                .bearer_auth(&t.admin)
                .body(unsigned_policy(p))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn a_slow_policy_of_one_tenant_does_not_hold_up_another() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.policy_time_budget_ms = 500;
        c.limits.policy_workers = 4;
        c.limits.policy_workers_per_provider = 1;
    }))
    .await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    import_collateral(&t, &sample).await;
    sgx_provider(&t, "slow", &sample, Some(SLOW_REGO)).await;
    sgx_provider(&t, "fast", &sample, None).await;
    let body = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});

    // Tenant "slow" keeps several attests running at once.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let client = t.client.clone();
        let url = t.url(&format!(
            "/providers/slow/attest/SgxEnclave?api-version={V}"
        ));
        let body = body.clone();
        slow.push(tokio::spawn(async move {
            json(client.post(url).json(&body).send().await.unwrap()).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Tenant "fast" is served meanwhile, and so is /certs.
    for _ in 0..3 {
        let started = Instant::now();
        let (s, b) = attest_at(&t, "/providers/fast/attest/SgxEnclave", V, body.clone()).await;
        assert_eq!(s, 200, "{b}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "tenant fast waited {:?}",
            started.elapsed()
        );
        let (s, _) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
        assert_eq!(s, 200);
    }

    // Tenant "slow" gets 400 naming the time budget.
    for h in slow {
        let (s, b) = h.await.unwrap();
        assert_error(s, &b, 400, "PolicyEvaluationError");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("time budget of 500 ms"),
            "{b}"
        );
    }

    // A draft policy is bounded the same way, and only after the evidence
    // verified: a bad quote with a slow draft fails on the quote.
    let mut bad = sample.quote.clone();
    bad[100] ^= 1;
    let (s, b) = attest_at(
        &t,
        "/providers/fast/attest/SgxEnclave",
        V,
        json!({"quote": URL_SAFE_NO_PAD.encode(&bad), "draftPolicyForAttestation": SLOW_REGO}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "QuoteSignatureInvalid",
        "{b}"
    );
    t.stop().await;
}

/// Attacks 1 and 2 of issue 13 over HTTPS: policies built to crash the
/// process (stack overflow in a deep JmesPath) or to hog it (Rego whose
/// compile time is exponential, a range that allocates gigabytes), as an
/// anonymous draft and as a stored policy. Each gets 400 naming the bound,
/// quickly; the process stays up and another tenant is served after each.
#[tokio::test]
async fn policy_bombs_get_400_naming_the_bound_and_the_server_stays_up() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |_| {})).await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    import_collateral(&t, &sample).await;
    sgx_provider(&t, "bomb", &sample, None).await;
    sgx_provider(&t, "victim", &sample, None).await;
    let quote = URL_SAFE_NO_PAD.encode(&sample.quote);
    let jmespath = |n: usize| {
        format!(
            "version=1.2; authorizationrules{{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"{}a{}\")] => permit(); }};",
            "(".repeat(n),
            ")".repeat(n)
        )
    };
    let drafts = [
        (jmespath(10_000), "PolicyParsingError", "MAX_JMESPATH_BYTES"),
        (
            "package p\nallow := true\nx := [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n".to_string(),
            "PolicyParsingError",
            "MAX_REGO_NESTING_DEPTH",
        ),
        (
            "package p\nallow := count(numbers.range(1, 400000000)) > 0\n".to_string(),
            "PolicyEvaluationError",
            "MAX_REGO_RANGE_ELEMENTS",
        ),
    ];
    let victim_served = || async {
        let (s, b) = attest_at(
            &t,
            "/providers/victim/attest/SgxEnclave",
            V,
            json!({"quote": quote}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, _) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
        assert_eq!(s, 200);
    };
    for (draft, code, bound) in drafts {
        let started = Instant::now();
        let (s, b) = attest_at(
            &t,
            "/providers/bomb/attest/SgxEnclave",
            V,
            json!({"quote": quote, "draftPolicyForAttestation": draft}),
        )
        .await;
        assert_error(s, &b, 400, code);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(bound),
            "{b}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{bound}: {:?}",
            started.elapsed()
        );
        victim_served().await;
    }
    // The same as a stored policy (an AAD-mode tenant's PUT): 50,000 levels.
    let (s, b) = json(
        t.client
            .put(t.url(&format!(
                "/providers/bomb/policies/SgxEnclave?api-version={V}"
            )))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(&jmespath(50_000)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "PolicyParsingError");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MAX_JMESPATH_BYTES"),
        "{b}"
    );
    victim_served().await;
    t.stop().await;
}

#[tokio::test]
async fn a_tenant_that_spent_its_policy_time_gets_429_and_the_others_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.policy_time_budget_ms = 300;
        c.limits.policy_cpu_ms_per_provider_per_sec = 50.0;
        c.limits.policy_cpu_ms_per_provider_burst = 500.0;
    }))
    .await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    import_collateral(&t, &sample).await;
    sgx_provider(&t, "slow", &sample, Some(SLOW_REGO)).await;
    sgx_provider(&t, "fast", &sample, None).await;
    let body = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});

    // Each slow attest costs ~300 ms of policy time; the bucket holds 500.
    let mut refused = None;
    for _ in 0..10 {
        let resp = t
            .client
            .post(t.url(&format!(
                "/providers/slow/attest/SgxEnclave?api-version={V}"
            )))
            .json(&body)
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            refused = Some((retry, json(resp).await.1));
            break;
        }
        let (s, b) = json(resp).await;
        assert_error(s, &b, 400, "PolicyEvaluationError");
        // Let the overrunning job end and be charged.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (retry, b) = refused.expect("tenant slow was never throttled for its policy time");
    assert_error(429, &b, 429, "TooManyRequests");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy_cpu_ms_per_provider_per_sec"),
        "{b}"
    );
    assert!(retry >= 1, "Retry-After {retry}");

    // Tenant "fast" has its own bucket.
    let (s, b) = attest_at(&t, "/providers/fast/attest/SgxEnclave", V, body.clone()).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

/// Anyone may send a draft policy to any tenant's URL. A flood of costly
/// drafts at tenant "victim" spends the sender's policy time (429 for the
/// sender), not the tenant's: the tenant's own attests keep being served,
/// and so are another client's drafts.
#[tokio::test]
async fn costly_drafts_at_a_tenants_url_spend_the_senders_policy_time_not_the_tenants() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.policy_time_budget_ms = 300;
        c.limits.policy_cpu_ms_per_provider_per_sec = 50.0;
        c.limits.policy_cpu_ms_per_provider_burst = 500.0;
    }))
    .await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    import_collateral(&t, &sample).await;
    sgx_provider(&t, "victim", &sample, None).await;
    let quote = URL_SAFE_NO_PAD.encode(&sample.quote);
    let url = t.url(&format!(
        "/providers/victim/attest/SgxEnclave?api-version={V}"
    ));
    let slow = json!({"quote": quote, "draftPolicyForAttestation": SLOW_REGO});

    let mut refused = None;
    for _ in 0..10 {
        let (s, b) = json(t.client.post(&url).json(&slow).send().await.unwrap()).await;
        if s == 429 {
            refused = Some(b);
            break;
        }
        assert_error(s, &b, 400, "PolicyEvaluationError");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = refused.expect("the sender of costly drafts was never throttled");
    assert_error(429, &b, 429, "TooManyRequests");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("draft policies from this client"),
        "{b}"
    );
    // The tenant's own policy still runs ...
    for _ in 0..3 {
        let (s, b) = attest_at(
            &t,
            "/providers/victim/attest/SgxEnclave",
            V,
            json!({"quote": quote}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    // ... and another client's cheap draft too (its own bucket).
    let other = client_from(&t, "127.0.0.2");
    let cheap = json!({"quote": quote, "draftPolicyForAttestation":
        "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"d\", value=1); };"});
    let (s, b) = json(other.post(&url).json(&cheap).send().await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

#[tokio::test]
async fn attests_beyond_the_in_flight_limit_are_shed_with_503() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.limits.max_inflight_attests = 1;
        c.limits.policy_time_budget_ms = 1500;
    }))
    .await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let (s, _) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200);
    sgx_provider(&t, "slow", &sample, Some(SLOW_REGO)).await;
    let body = json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)});
    let client = t.client.clone();
    let url = t.url(&format!(
        "/providers/slow/attest/SgxEnclave?api-version={V}"
    ));
    let first = tokio::spawn({
        let body = body.clone();
        async move { json(client.post(url).json(&body).send().await.unwrap()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = t
        .client
        .post(t.url(&format!("/attest/SgxEnclave?api-version={V}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    let (s, b) = json(resp).await;
    assert_error(s, &b, 503, "ServiceUnavailable");
    let (s, b) = first.await.unwrap();
    assert_error(s, &b, 400, "PolicyEvaluationError");
    t.stop().await;
}

#[tokio::test]
async fn an_unreachable_collateral_service_gives_503_with_retry_after() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(cfg(tmp.path(), |c| {
        c.collateral.pcs_url = format!("https://127.0.0.1:{port}");
    }))
    .await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    sgx_provider(&t, "lab", &sample, None).await;
    let resp = t
        .client
        .post(t.url(&format!("/providers/lab/attest/SgxEnclave?api-version={V}")))
        .json(&json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)}))
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (s, b) = json(resp).await;
    assert_error(s, &b, 503, "ServiceUnavailable");
    assert_eq!(
        b["error"]["innererror"]["code"], "UpstreamUnavailable",
        "{b}"
    );

    t.stop().await;
}
