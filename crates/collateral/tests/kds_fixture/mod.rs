//! A KDS-compatible fixture server for the SEV-SNP endorsement tests: a real
//! HTTP server on 127.0.0.1 serving the VCEKs and ASK/ASVK + ARK chains of
//! SNP vector folders on AMD's KDS paths (a VCEK only for its own hwID and
//! TCB query), plus a CRL made with a throwaway test key. It counts requests
//! per path and can be scripted to answer the next requests with 429 (with
//! or without `Retry-After`), another status or an arbitrary body.
//!
//! Also a [`ManualClock`] for the KDS client: virtual time that moves only
//! when the client sleeps, recording every sleep, and optionally holding
//! sleepers until released so tests can look at the client mid-back-off.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attesta_collateral::{KdsClock, SnpKeyKind, SnpProduct, endorsement_facts, read_snp_dir};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode, Uri};
use tokio::time::Instant;

// Both fixtures load it: a test that uses both has two copies.
#[allow(clippy::duplicate_mod)]
#[path = "../tls_fixture/mod.rs"]
mod tls_fixture;

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn vector_dir(rel: &str) -> PathBuf {
    vectors().join(rel)
}

pub fn read(rel: &str, name: &str) -> Vec<u8> {
    std::fs::read(vector_dir(rel).join(name)).unwrap()
}

/// Unix seconds of an RFC 3339 date.
pub fn ts(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// A scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// HTTP 429, with `Retry-After: n` when given.
    RateLimited(Option<u64>),
    Status(u16),
    Body(Vec<u8>),
}

struct Vcek {
    hwid: String,
    query: HashMap<String, String>,
    der: Vec<u8>,
}

#[derive(Clone)]
struct Shared {
    vceks: Arc<HashMap<String, Vec<Vcek>>>,
    chains: Arc<HashMap<(String, &'static str), Vec<u8>>>,
    crl: Arc<Vec<u8>>,
    delay: Duration,
    script: Arc<Mutex<VecDeque<Reply>>>,
    always: Arc<Mutex<Option<Reply>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    uris: Arc<Mutex<Vec<String>>>,
}

pub struct KdsFixture {
    pub base_url: String,
    /// PEM of the CA that issued the HTTPS server certificate, if HTTPS.
    pub ca_pem: Option<String>,
    /// `nextUpdate` of the served CRL, Unix seconds.
    pub crl_next_update: i64,
    shared: Shared,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

/// A DER CRL issued by a throwaway "ARK-Milan" key (the service files CRLs
/// without verifying them; the verifier checks the real ARK signature).
pub fn test_crl(this_update: i64, next_update: i64) -> Vec<u8> {
    use rcgen::{
        CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer, KeyIdMethod,
        KeyPair, KeyUsagePurpose, SerialNumber,
    };
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "ARK-Milan");
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::CrlSign, KeyUsagePurpose::KeyCertSign];
    let issuer = Issuer::new(params, key);
    let odt = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    CertificateRevocationListParams {
        this_update: odt(this_update),
        next_update: odt(next_update),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .der()
    .to_vec()
}

pub struct KdsFixtureOptions {
    /// Hold every response this long, so concurrent callers overlap.
    pub delay: Duration,
    pub crl_next_update: i64,
    /// Serve this CRL (DER) for every product and hierarchy instead of one
    /// made with a throwaway key (then `crl_next_update` is not used).
    pub crl_der: Option<Vec<u8>>,
    /// Serve HTTPS with a certificate from a throwaway CA ([`KdsFixture::ca_pem`]).
    pub https: bool,
}

impl Default for KdsFixtureOptions {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            crl_next_update: ts("2026-01-01T00:00:00Z"),
            crl_der: None,
            https: false,
        }
    }
}

impl KdsFixture {
    pub async fn start(dirs: &[&str]) -> KdsFixture {
        Self::start_with(dirs, KdsFixtureOptions::default()).await
    }

    pub async fn start_with(dirs: &[&str], opts: KdsFixtureOptions) -> KdsFixture {
        let mut vceks: HashMap<String, Vec<Vcek>> = HashMap::new();
        let mut chains = HashMap::new();
        for rel in dirs {
            let b = read_snp_dir(&vector_dir(rel)).expect("fixture folder must import");
            for der in b.vceks {
                let f = endorsement_facts(&der).unwrap();
                let mut query: HashMap<String, String> = [
                    ("blSPL", f.tcb.bootloader),
                    ("teeSPL", f.tcb.tee),
                    ("snpSPL", f.tcb.snp),
                    ("ucodeSPL", f.tcb.microcode),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_string()))
                .collect();
                if let Some(fmc) = f.tcb.fmc {
                    query.insert("fmcSPL".into(), fmc.to_string());
                }
                vceks
                    .entry(f.product.as_str().to_owned())
                    .or_default()
                    .push(Vcek {
                        hwid: hex::encode(f.hwid.unwrap()),
                        query,
                        der,
                    });
            }
            for c in b.chains {
                chains.insert(
                    (c.product.as_str().to_owned(), c.kind.as_str()),
                    c.to_pem().into_bytes(),
                );
            }
        }
        let shared = Shared {
            vceks: Arc::new(vceks),
            chains: Arc::new(chains),
            crl: Arc::new(opts.crl_der.clone().unwrap_or_else(|| {
                test_crl(opts.crl_next_update - 30 * 86400, opts.crl_next_update)
            })),
            delay: opts.delay,
            script: Arc::default(),
            always: Arc::default(),
            counts: Arc::default(),
            uris: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let (task, ca_pem) = if opts.https {
            let (ca_pem, cert_pem, key_pem) = tls_fixture::tls_material();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                cert_pem.into_bytes(),
                key_pem.into_bytes(),
            )
            .await
            .unwrap();
            let server = axum_server::bind_rustls("127.0.0.1:0".parse().unwrap(), config)
                .handle(handle.clone());
            let task = tokio::spawn(async move {
                server.serve(app.into_make_service()).await.unwrap();
            });
            (task, Some(ca_pem))
        } else {
            let server = axum_server::bind("127.0.0.1:0".parse().unwrap()).handle(handle.clone());
            let task = tokio::spawn(async move {
                server.serve(app.into_make_service()).await.unwrap();
            });
            (task, None)
        };
        let addr = handle.listening().await.expect("fixture server must bind");
        KdsFixture {
            base_url: if opts.https {
                format!("https://localhost:{}", addr.port())
            } else {
                format!("http://{addr}")
            },
            ca_pem,
            crl_next_update: opts.crl_next_update,
            shared,
            handle,
            task,
        }
    }

    /// Answers the next requests (any path) with these replies, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// Answers every request with this reply (after the script), or serves
    /// normally again with `None`.
    pub fn set_always(&self, r: Option<Reply>) {
        *self.shared.always.lock().unwrap() = r;
    }

    pub fn count(&self, path: &str) -> usize {
        self.shared
            .counts
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.shared.counts.lock().unwrap().values().sum()
    }

    /// Every request's path and query, in arrival order.
    pub fn uris(&self) -> Vec<String> {
        self.shared.uris.lock().unwrap().clone()
    }

    pub fn crl_der(&self) -> Vec<u8> {
        self.shared.crl.as_ref().clone()
    }

    pub async fn stop(self) {
        self.handle.shutdown();
        let _ = self.task.await;
    }
}

pub fn chain_path(product: SnpProduct, kind: SnpKeyKind) -> String {
    format!("/{}/v1/{product}/cert_chain", kind.as_str())
}

pub fn crl_path(product: SnpProduct, kind: SnpKeyKind) -> String {
    format!("/{}/v1/{product}/crl", kind.as_str())
}

fn reply(r: Reply) -> Response<Body> {
    match r {
        Reply::RateLimited(after) => {
            let mut b = Response::builder().status(StatusCode::TOO_MANY_REQUESTS);
            if let Some(a) = after {
                b = b.header("Retry-After", a.to_string());
            }
            b.body(Body::empty()).unwrap()
        }
        Reply::Status(s) => Response::builder().status(s).body(Body::empty()).unwrap(),
        Reply::Body(bytes) => Response::builder()
            .status(200)
            .header("Content-Type", "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap(),
    }
}

async fn serve(State(s): State<Shared>, uri: Uri) -> Response<Body> {
    let path = uri.path().to_owned();
    *s.counts.lock().unwrap().entry(path.clone()).or_default() += 1;
    s.uris.lock().unwrap().push(uri.to_string());
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
    let scripted = s.script.lock().unwrap().pop_front();
    if let Some(r) = scripted.or_else(|| s.always.lock().unwrap().clone()) {
        return reply(r);
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        [kind @ ("vcek" | "vlek"), "v1", product, "cert_chain"] => s
            .chains
            .get(&(
                (*product).to_owned(),
                if *kind == "vcek" { "vcek" } else { "vlek" },
            ))
            .map_or(reply(Reply::Status(404)), |pem| {
                reply(Reply::Body(pem.clone()))
            }),
        ["vcek" | "vlek", "v1", "Milan", "crl"] => reply(Reply::Body(s.crl.as_ref().clone())),
        ["vcek", "v1", product, hwid] => {
            let query: HashMap<String, String> = uri
                .query()
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            s.vceks
                .get(*product)
                .and_then(|v| v.iter().find(|c| c.hwid == *hwid && c.query == query))
                .map_or(reply(Reply::Status(404)), |c| {
                    reply(Reply::Body(c.der.clone()))
                })
        }
        _ => reply(Reply::Status(404)),
    }
}

/// Virtual time for the KDS client: it moves only when the client sleeps.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
    /// When set, sleepers wait for [`ManualClock::release`] before the
    /// virtual time moves on.
    hold: Mutex<bool>,
    released: tokio::sync::Notify,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
            hold: Mutex::new(false),
            released: tokio::sync::Notify::new(),
        })
    }

    /// Every sleep the client asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    pub fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }

    pub fn hold(&self) {
        *self.hold.lock().unwrap() = true;
    }

    pub fn release(&self) {
        *self.hold.lock().unwrap() = false;
        self.released.notify_waiters();
    }
}

#[async_trait::async_trait]
impl KdsClock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap()
    }

    async fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
        loop {
            let notified = self.released.notified();
            if !*self.hold.lock().unwrap() {
                break;
            }
            notified.await;
        }
        self.advance(d);
    }
}

/// Seconds as a `Duration`, for comparing recorded sleeps.
pub fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}
