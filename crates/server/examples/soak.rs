//! Soak test: a well-behaved client attests at a steady rate while attacks
//! run in turn — held connections, a 401 flood, an attest flood, a slow
//! tenant policy, draft-policy bombs, malformed requests (two `Host`s, a
//! conflicting absolute URI, HTTP/1.1 and HTTP/2 bodies over the limit) —
//! and the client's latency is reported per phase, with the server's RSS
//! at start and end.
//!
//! The server runs in a child process (this binary re-executed with
//! `--serve DIR`) so its RSS is its own; it keeps the default limits. Each
//! party uses its own loopback addresses (127.0.0.1–32 the good client,
//! 127.0.1.x the attackers), as distinct clients would. The one change to
//! the defaults: the per-provider attest bucket is raised to 5,000/s, so
//! that the capacity measured is the node's, not that bucket's.
//!
//! Before the phases it measures the node's capacity: [`CAPACITY_LOOPS`]
//! closed-loop attests from each of [`GOOD_ADDRS`] addresses for
//! [`CAPACITY_SECS`] seconds, enough addresses that the per-address bucket
//! (200/s by default) never bounds the figure. Unless a rate is given, the
//! well-behaved client then runs at 80 % of that, spread over the same
//! addresses.
//!
//! `cargo run --release -p attesta-server --example soak -- [SECONDS_PER_PHASE] [GOOD_RATE|auto]`
//! (driven by `scripts/soak.sh`; not part of CI).
//!
//! `... --example soak -- capacity sqlite|postgres` measures only the
//! capacity, with the node on its default SQLite store or on a PostgreSQL
//! started for the run (`attesta_store::pgtest`): the attest path reads
//! caches, never the database, so the two should match.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attesta_evidence::UnixTime;
use attesta_server::Config;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

/// A Rego policy whose evaluation runs for seconds in little memory.
const SLOW_REGO: &str = r#"package attesta.slow

default allow := false

allow if {
	some i in numbers.range(1, 4000)
	some j in numbers.range(1, 4000)
	i * j == -1
}
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        return serve(&args[2], args.get(3).map(String::as_str));
    }
    if args.get(1).map(String::as_str) == Some("capacity") {
        let pg = match args.get(2).map(String::as_str) {
            Some("postgres") => {
                Some(attesta_store::pgtest::TempPostgres::start().expect("PostgreSQL for the run"))
            }
            Some("sqlite") | None => None,
            Some(other) => panic!("capacity sqlite|postgres, not {other}"),
        };
        let url = pg.as_ref().map(|p| p.database().expect("a database"));
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(capacity_only(url));
        return;
    }
    let per_phase: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    // None: 80 % of the measured capacity.
    let rate: Option<f64> = args.get(2).and_then(|a| a.parse().ok());
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(drive(per_phase, rate));
}

/// Loopback addresses the well-behaved client uses (127.0.0.1 up).
const GOOD_ADDRS: u8 = 32;
/// Closed loops per good address while measuring capacity (64 in all,
/// well under `max_inflight_attests`).
const CAPACITY_LOOPS: usize = 2;
/// Length of the capacity measurement.
const CAPACITY_SECS: u64 = 15;

/// Child: run a server on an ephemeral port, print it, serve until killed.
fn serve(dir: &str, store_url: Option<&str>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut cfg = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.into(),
            ..Config::default()
        };
        cfg.store.url = store_url.map(str::to_string);
        cfg.collateral.pcs_url = String::new();
        cfg.collateral.kds_url = String::new();
        cfg.limits.attest_per_provider_per_sec = 5000.0;
        cfg.limits.attest_per_provider_burst = 10000.0;
        let server = attesta_server::start(cfg).await.expect("server starts");
        println!("PORT {}", server.addr.port());
        let _ = server.wait().await;
    });
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The well-behaved client's addresses: 127.0.0.n.
fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Attackers' addresses: 127.0.1.n, never shared with the good client.
fn attacker(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, n))
}

fn client(pem: &[u8], from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Only the capacity, on the given store (None: SQLite).
async fn capacity_only(store_url: Option<String>) {
    let setup = setup(store_url).await;
    let goods: Vec<reqwest::Client> = (1..=GOOD_ADDRS)
        .map(|n| client(&setup.pem, loopback(n)))
        .collect();
    let url = format!(
        "{}/providers/good/attest/SgxEnclave?api-version=2022-08-01",
        setup.base
    );
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(measure_capacity(&goods, &url, &setup.body).await);
    }
    let store = if setup.store_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "capacity on {store}: {} attests/s (three {CAPACITY_SECS} s runs)",
        runs.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut child = setup.child;
    let _ = child.kill();
    let _ = child.wait();
}

/// A server child with tenants "good" and "slow", collateral imported.
struct Setup {
    _tmp: tempfile::TempDir,
    child: std::process::Child,
    pid: u32,
    addr: SocketAddr,
    base: String,
    pem: Vec<u8>,
    body: Arc<String>,
    store_url: Option<String>,
}

async fn setup(store_url: Option<String>) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    // ATTESTA_SOAK_SERVER_CPUS (e.g. "1"): run the server on those CPUs
    // only (scripts/soak.sh runs the clients on the others), so that on one
    // machine the attackers' own work does not come out of the server's.
    let mut cmd = match std::env::var("ATTESTA_SOAK_SERVER_CPUS") {
        Ok(cpus) if !cpus.is_empty() => {
            let mut c = std::process::Command::new("taskset");
            c.arg("-c").arg(cpus).arg(std::env::current_exe().unwrap());
            c
        }
        _ => std::process::Command::new(std::env::current_exe().unwrap()),
    };
    cmd.arg("--serve").arg(tmp.path());
    if let Some(u) = &store_url {
        cmd.arg(u);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let port: u16 = {
        use std::io::BufRead;
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        line.trim().trim_start_matches("PORT ").parse().unwrap()
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let base = format!("https://127.0.0.1:{port}");
    let pem = std::fs::read(tmp.path().join("tls/cert.pem")).unwrap();
    let admin = std::fs::read_to_string(tmp.path().join("admin-token")).unwrap();
    let admin = admin.trim().to_string();
    let setup = client(&pem, loopback(1));

    // Tenants "good" (default policy) and "slow" (SLOW_REGO), one test root.
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let root = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(&sample.root_der)
    );
    for name in ["good", "slow"] {
        let r = setup
            .post(format!("{base}/admin/providers"))
            .bearer_auth(&admin)
            .json(&json!({"name": name, "config": {"test_roots": {"intel": [root]}}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let r = setup
        .post(format!("{base}/admin/collateral"))
        .bearer_auth(&admin)
        .body(attesta_collateral::serialize(&sample.collateral))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let jws = attesta_token::jws::unsigned_jws(
        json!({"AttestationPolicy": URL_SAFE_NO_PAD.encode(SLOW_REGO)})
            .to_string()
            .as_bytes(),
    );
    let r = setup
        .put(format!(
            "{base}/providers/slow/policies/SgxEnclave?api-version=2022-08-01"
        ))
        .bearer_auth(&admin)
        .body(jws)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let body = Arc::new(json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)}).to_string());
    Setup {
        _tmp: tmp,
        child,
        pid,
        addr,
        base,
        pem,
        body,
        store_url,
    }
}

async fn drive(per_phase: u64, rate: Option<f64>) {
    let Setup {
        _tmp,
        mut child,
        pid,
        addr,
        base,
        pem,
        body,
        ..
    } = setup(None).await;
    let goods: Vec<reqwest::Client> = (1..=GOOD_ADDRS)
        .map(|n| client(&pem, loopback(n)))
        .collect();
    let url = format!("{base}/providers/good/attest/SgxEnclave?api-version=2022-08-01");
    let capacity = measure_capacity(&goods, &url, &body).await;
    let rate = rate.unwrap_or(capacity * 0.8);
    let rss_start = rss_kib(pid);

    let phases = [
        "baseline",
        "held connections",
        "401 flood",
        "attest flood",
        "slow tenant policy",
        "policy bombs",
        "malformed requests",
    ];
    println!(
        "soak: capacity {capacity:.0} attests/s ({CAPACITY_SECS} s closed loop, {GOOD_ADDRS} addresses x {CAPACITY_LOOPS}); \
         {per_phase} s per phase, good client {rate:.0} attests/s; server pid {pid}, RSS at start {rss_start} KiB"
    );
    println!(
        "{:<20} {:>6} {:>6} {:>9} {:>9} {:>9}  attacker responses",
        "phase", "sent", "ok", "p50", "p99", "max"
    );
    for (i, phase) in phases.iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
        let attack = match i {
            1 => Some(tokio::spawn(hold_connections(
                addr,
                stop.clone(),
                counts.clone(),
            ))),
            2 => Some(tokio::spawn(flood(
                client(&pem, attacker(3)),
                format!("{base}/policies/SgxEnclave?api-version=2022-08-01"),
                Vec::new(),
                Some("wrong-token".into()),
                16,
                stop.clone(),
                counts.clone(),
            ))),
            3 => Some(tokio::spawn(flood(
                client(&pem, attacker(4)),
                format!("{base}/providers/good/attest/SgxEnclave?api-version=2022-08-01"),
                vec![body.clone()],
                None,
                32,
                stop.clone(),
                counts.clone(),
            ))),
            4 => Some(tokio::spawn(flood(
                client(&pem, attacker(5)),
                format!("{base}/providers/slow/attest/SgxEnclave?api-version=2022-08-01"),
                vec![body.clone()],
                None,
                8,
                stop.clone(),
                counts.clone(),
            ))),
            // Draft policies built to crash or hog the node, at the good
            // client's own tenant, with evidence that verifies (so each is
            // compiled).
            5 => Some(tokio::spawn(flood(
                client(&pem, attacker(6)),
                format!("{base}/providers/good/attest/SgxEnclave?api-version=2022-08-01"),
                policy_bombs(&body),
                None,
                16,
                stop.clone(),
                counts.clone(),
            ))),
            6 => Some(tokio::spawn(malformed(
                addr,
                pem.clone(),
                stop.clone(),
                counts.clone(),
            ))),
            _ => None,
        };
        let mut lat = Vec::new();
        let (mut sent, mut ok) = (0u64, 0u64);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1.0)));
        let end = Instant::now() + Duration::from_secs(per_phase);
        let mut inflight = Vec::new();
        while Instant::now() < end {
            tick.tick().await;
            let good = goods[sent as usize % goods.len()].clone();
            let (url, body) = (url.clone(), body.clone());
            sent += 1;
            inflight.push(tokio::spawn(async move {
                let t = Instant::now();
                let status = match good.post(&url).body(body.to_string()).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        if r.bytes().await.is_ok() { s } else { 0 }
                    }
                    Err(_) => 0,
                };
                (status, t.elapsed())
            }));
        }
        let mut failed = std::collections::BTreeMap::<u16, u64>::new();
        for h in inflight {
            let (status, d) = h.await.unwrap();
            if (200..300).contains(&status) {
                ok += 1;
            } else {
                *failed.entry(status).or_default() += 1;
            }
            lat.push(d);
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(a) = attack {
            let _ = a.await;
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let mut attacker = match i {
            0 => String::new(),
            1 => format!("{} connections opened, {} closed by the server", c[0], c[1]),
            6 => format!(
                "2xx {} 400 {} 413 {} 429 {} 503 {} other {}",
                c[0], c[1], c[2], c[3], c[4], c[5]
            ),
            _ => format!(
                "2xx {} 400 {} 401 {} 429 {} 503 {} other {}",
                c[0], c[1], c[2], c[3], c[4], c[5]
            ),
        };
        if !failed.is_empty() {
            // Status 0: no answer (connection error or timeout).
            attacker.push_str(&format!("; good client failures by status {failed:?}"));
        }
        println!(
            "{:<20} {:>6} {:>6} {:>9.1?} {:>9.1?} {:>9.1?}  {attacker}",
            phase,
            sent,
            ok,
            pct(0.5),
            pct(0.99),
            lat[lat.len() - 1]
        );
    }
    let rss_end = rss_kib(pid);
    println!("server RSS: start {rss_start} KiB, end {rss_end} KiB");
    let _ = child.kill();
    let _ = child.wait();
}

/// Attests per second the node sustains: [`CAPACITY_LOOPS`] closed loops
/// per client address for [`CAPACITY_SECS`]; only successful answers count.
async fn measure_capacity(goods: &[reqwest::Client], url: &str, body: &Arc<String>) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
    let loops: Vec<_> = goods
        .iter()
        .map(|c| {
            tokio::spawn(flood(
                c.clone(),
                url.to_string(),
                vec![body.clone()],
                None,
                CAPACITY_LOOPS,
                stop.clone(),
                counts.clone(),
            ))
        })
        .collect();
    // Warm up (TLS sessions, caches) before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = counts[0].load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(CAPACITY_SECS)).await;
    let done = counts[0].load(Ordering::Relaxed) - before;
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = l.await;
    }
    let throttled = counts[3].load(Ordering::Relaxed) + counts[4].load(Ordering::Relaxed);
    if throttled > 0 {
        println!(
            "capacity: {throttled} answers were 429/503 (limits, not the node, may bound this figure)"
        );
    }
    // Let the token buckets refill before the phases.
    tokio::time::sleep(Duration::from_secs(3)).await;
    done as f64 / secs
}

/// Send requests as fast as `concurrency` allows until `stop`, POSTing the
/// `bodies` in turn (none: GET); count responses by status (2xx, 400, 401,
/// 429, 503, other).
async fn flood(
    client: reqwest::Client,
    url: String,
    bodies: Vec<Arc<String>>,
    token: Option<String>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 6]>,
) {
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bodies, token, stop, counts) = (
            client.clone(),
            url.clone(),
            bodies.clone(),
            token.clone(),
            stop.clone(),
            counts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut turn = 0usize;
            while !stop.load(Ordering::Relaxed) {
                turn += 1;
                let req = match bodies.get(turn % bodies.len().max(1)) {
                    Some(b) => client.post(&url).body(b.to_string()),
                    None => client.get(&url),
                };
                let req = match &token {
                    Some(t) => req.bearer_auth(t),
                    None => req,
                };
                let slot = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        match s {
                            200..=299 => 0,
                            400 => 1,
                            401 => 2,
                            429 => 3,
                            503 => 4,
                            _ => 5,
                        }
                    }
                    Err(_) => 5,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Attest bodies carrying the draft policies of issue 13's attacks 1 and 2:
/// 10,000 nested JmesPath parentheses (a stack overflow before the bound),
/// Rego whose compile time doubles per bracket level, a `numbers.range`
/// that would allocate gigabytes, and a nested `numbers.range` loop.
fn policy_bombs(body: &str) -> Vec<Arc<String>> {
    let jmespath = format!(
        "version=1.2; authorizationrules{{ c:[type==\"j\"] && [type==\"r\", value==JmesPath(c.value, \"{}a{}\")] => permit(); }};",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let drafts = [
        jmespath,
        "package p\nallow := true\nx := [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n".to_string(),
        "package p\nallow := count(numbers.range(1, 400000000)) > 0\n".to_string(),
        SLOW_REGO.to_string(),
    ];
    let base: serde_json::Value = serde_json::from_str(body).unwrap();
    drafts
        .into_iter()
        .map(|d| {
            let mut b = base.clone();
            b["draftPolicyForAttestation"] = json!(d);
            Arc::new(b.to_string())
        })
        .collect()
}

/// Requests that are wrong below the application, over fresh TLS
/// connections from one address: two `Host` headers, an absolute-form URI
/// naming another host, HTTP/1.1 and HTTP/2 bodies declared at 100 MB.
/// Counts answers by status like [`flood`], with 413 in 401's slot (a
/// connection or stream closed without an answer counts as other).
async fn malformed(
    addr: SocketAddr,
    pem: Vec<u8>,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 6]>,
) {
    use tokio_rustls::rustls;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let connector = |alpn: &[u8]| {
        let mut cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    };
    let (h1, h2c) = (connector(b"http/1.1"), connector(b"h2"));
    let port = addr.port();
    let heads = Arc::new([
        format!(
            "GET /certs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: contoso.example\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET https://contoso.example/certs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "POST /attest/SgxEnclave?api-version=2022-08-01 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n{{\"quote\": \""
        ),
    ]);
    let mut tasks = Vec::new();
    for n in 0..8usize {
        let (h1, h2c, heads, stop, counts) = (
            h1.clone(),
            h2c.clone(),
            heads.clone(),
            stop.clone(),
            counts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut turn = n;
            while !stop.load(Ordering::Relaxed) {
                turn += 1;
                let status = tokio::time::timeout(Duration::from_secs(10), async {
                    let sock = TcpSocket::new_v4().ok()?;
                    sock.bind(SocketAddr::new(attacker(7), 0)).ok()?;
                    let tcp = sock.connect(addr).await.ok()?;
                    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                    if turn % 4 == 3 {
                        let io = h2c.connect(name, tcp).await.ok()?;
                        let (mut h2, conn) = h2::client::handshake(io).await.ok()?;
                        tokio::spawn(conn);
                        let req = http::Request::post(format!(
                            "https://127.0.0.1:{port}/attest/SgxEnclave?api-version=2022-08-01"
                        ))
                        .header("content-length", "100000000")
                        .body(())
                        .unwrap();
                        let (resp, mut send) = h2.send_request(req, false).ok()?;
                        let _ = send.send_data(bytes::Bytes::from_static(b"{\"quote\": \""), false);
                        Some(resp.await.ok()?.status().as_u16())
                    } else {
                        let mut s = h1.connect(name, tcp).await.ok()?;
                        s.write_all(heads[turn % 4].as_bytes()).await.ok()?;
                        let mut head = [0u8; 12];
                        tokio::io::AsyncReadExt::read_exact(&mut s, &mut head)
                            .await
                            .ok()?;
                        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
                    }
                })
                .await
                .ok()
                .flatten();
                // No 401 comes in this phase: its slot counts 413s.
                let slot = match status {
                    Some(200..=299) => 0,
                    Some(400) => 1,
                    Some(413) => 2,
                    Some(429) => 3,
                    Some(503) => 4,
                    _ => 5,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Hold as many connections as the server allows from 20 addresses:
/// half send a partial request line, half nothing; reopen what closes.
async fn hold_connections(addr: SocketAddr, stop: Arc<AtomicBool>, counts: Arc<[AtomicU64; 6]>) {
    let mut tasks = Vec::new();
    for n in 0..400u32 {
        let (stop, counts) = (stop.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            let from = attacker(10 + (n % 20) as u8);
            while !stop.load(Ordering::Relaxed) {
                let sock = TcpSocket::new_v4().unwrap();
                if sock.bind(SocketAddr::new(from, 0)).is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                let Ok(mut s) = sock.connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                counts[0].fetch_add(1, Ordering::Relaxed);
                if n % 2 == 0 {
                    // A TLS ClientHello's first bytes, never finished.
                    let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await;
                }
                let mut buf = [0u8; 64];
                loop {
                    tokio::select! {
                        r = tokio::io::AsyncReadExt::read(&mut s, &mut buf) => {
                            if !matches!(r, Ok(n) if n > 0) {
                                counts[1].fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {
                            if stop.load(Ordering::Relaxed) { return; }
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
