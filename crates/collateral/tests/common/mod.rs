//! A PCS v4-compatible fixture server for the collateral tests: a real HTTP
//! (or HTTPS) server on 127.0.0.1 serving one DCAP bundle folder from the
//! shared vectors, with the PCS paths and issuer-chain headers, counting the
//! requests it gets per path.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attesta_collateral::{DcapTee, PckCa, fmspc_of, import_dir, pck_ca_of};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode, Uri};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

// Both fixtures load it: a test that uses both has two copies.
#[allow(clippy::duplicate_mod)]
#[path = "../tls_fixture/mod.rs"]
mod tls_fixture;
use tls_fixture::tls_material;

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn vector_dir(rel: &str) -> PathBuf {
    vectors().join(rel)
}

/// Unix seconds of an RFC 3339 date.
pub fn ts(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// What the fixture does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Serve,
    /// Answer every request with this status (and PCS-style error headers).
    Status(u16),
    /// Serve bodies but leave out the issuer chain headers.
    NoChainHeaders,
}

#[derive(Clone)]
struct Shared {
    dir: PathBuf,
    tee: DcapTee,
    fmspc: String,
    ca: PckCa,
    root_crl_hex: bool,
    delay: Duration,
    mode: Arc<Mutex<Mode>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    uris: Arc<Mutex<Vec<String>>>,
}

pub struct Fixture {
    pub base_url: String,
    pub tee: DcapTee,
    pub fmspc: String,
    pub ca: PckCa,
    /// PEM of the CA that issued the HTTPS server certificate, if HTTPS.
    pub ca_pem: Option<String>,
    shared: Shared,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

pub struct FixtureOptions {
    /// Send the root CA CRL as hex text, as a PCCS does.
    pub root_crl_hex: bool,
    /// Hold every response this long, so concurrent callers overlap.
    pub delay: Duration,
    pub https: bool,
}

impl Default for FixtureOptions {
    fn default() -> Self {
        Self {
            root_crl_hex: false,
            delay: Duration::ZERO,
            https: false,
        }
    }
}

impl Fixture {
    pub async fn start(rel: &str) -> Fixture {
        Self::start_with(rel, FixtureOptions::default()).await
    }

    pub async fn start_with(rel: &str, opts: FixtureOptions) -> Fixture {
        let dir = vector_dir(rel);
        let bundle = import_dir(&dir).expect("fixture bundle must import");
        let (tee, fmspc) = fmspc_of(&bundle).unwrap();
        let ca = pck_ca_of(&bundle).unwrap();
        let shared = Shared {
            dir,
            tee,
            fmspc: fmspc.clone(),
            ca,
            root_crl_hex: opts.root_crl_hex,
            delay: opts.delay,
            mode: Arc::new(Mutex::new(Mode::Serve)),
            counts: Arc::new(Mutex::new(HashMap::new())),
            uris: Arc::new(Mutex::new(Vec::new())),
        };
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let (task, ca_pem, scheme) = if opts.https {
            let (ca_pem, cert_pem, key_pem) = tls_material();
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
            (task, Some(ca_pem), "https")
        } else {
            let server = axum_server::bind("127.0.0.1:0".parse().unwrap()).handle(handle.clone());
            let task = tokio::spawn(async move {
                server.serve(app.into_make_service()).await.unwrap();
            });
            (task, None, "http")
        };
        let addr = handle.listening().await.expect("fixture server must bind");
        let host = if opts.https {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        };
        Fixture {
            base_url: format!("{scheme}://{host}"),
            tee,
            fmspc,
            ca,
            ca_pem,
            shared,
            handle,
            task,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Requests received for `path` (query excluded).
    pub fn count(&self, path: &str) -> usize {
        self.shared
            .counts
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Every request's path and query, in arrival order.
    pub fn uris(&self) -> Vec<String> {
        self.shared.uris.lock().unwrap().clone()
    }

    pub fn total(&self) -> usize {
        self.shared.counts.lock().unwrap().values().sum()
    }

    pub fn counts(&self) -> HashMap<String, usize> {
        self.shared.counts.lock().unwrap().clone()
    }

    pub fn tcb_path(&self) -> String {
        format!("/{}/certification/v4/tcb", tee(self.tee))
    }

    pub fn qe_path(&self) -> String {
        format!("/{}/certification/v4/qe/identity", tee(self.tee))
    }

    /// Stops the server; the port then refuses connections.
    pub async fn stop(self) {
        self.handle.shutdown();
        let _ = self.task.await;
    }

    pub fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.shared.dir.join(name)).unwrap()
    }
}

pub const PCK_CRL_PATH: &str = "/sgx/certification/v4/pckcrl";
pub const ROOT_CRL_PATH: &str = "/sgx/certification/v4/rootcacrl";
/// A CRL distribution point outside the PCS paths.
pub const ROOT_CRL_DP_PATH: &str = "/IntelSGXRootCA.der";

fn tee(t: DcapTee) -> &'static str {
    match t {
        DcapTee::Sgx => "sgx",
        DcapTee::Tdx => "tdx",
    }
}

fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn read(s: &Shared, name: &str) -> Vec<u8> {
    std::fs::read(s.dir.join(name)).unwrap()
}

fn ok(
    body: Vec<u8>,
    content_type: &str,
    chain: Option<(&str, Vec<u8>)>,
    mode: Mode,
) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", content_type)
        .header("Request-ID", "fixture-req-1");
    if let Some((name, pem)) = chain
        && mode != Mode::NoChainHeaders
    {
        let pem = String::from_utf8(pem).unwrap();
        b = b.header(
            name,
            utf8_percent_encode(&pem, NON_ALPHANUMERIC).to_string(),
        );
    }
    b.body(Body::from(body)).unwrap()
}

fn status(code: u16) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("Request-ID", "fixture-req-1")
        .body(Body::empty())
        .unwrap()
}

async fn serve(State(s): State<Shared>, uri: Uri) -> Response<Body> {
    let path = uri.path().to_owned();
    *s.counts.lock().unwrap().entry(path.clone()).or_default() += 1;
    s.uris.lock().unwrap().push(uri.to_string());
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
    let mode = *s.mode.lock().unwrap();
    if let Mode::Status(code) = mode {
        return status(code);
    }
    let q = query(&uri);
    let t = tee(s.tee);
    if path == format!("/{t}/certification/v4/tcb") {
        if !q
            .get("fmspc")
            .is_some_and(|f| f.eq_ignore_ascii_case(&s.fmspc))
        {
            return status(404);
        }
        return ok(
            read(&s, "tcb_info.json"),
            "application/json",
            Some((
                "TCB-Info-Issuer-Chain",
                read(&s, "tcb_info_issuer_chain.pem"),
            )),
            mode,
        );
    }
    if path == format!("/{t}/certification/v4/qe/identity") {
        return ok(
            read(&s, "qe_identity.json"),
            "application/json",
            Some((
                "SGX-Enclave-Identity-Issuer-Chain",
                read(&s, "qe_identity_issuer_chain.pem"),
            )),
            mode,
        );
    }
    if path == PCK_CRL_PATH {
        if q.get("ca").map(String::as_str) != Some(s.ca_str())
            || q.get("encoding").map(String::as_str) != Some("der")
        {
            return status(404);
        }
        return ok(
            read(&s, "pck_crl.der"),
            "application/pkix-crl",
            Some((
                "SGX-PCK-CRL-Issuer-Chain",
                read(&s, "pck_crl_issuer_chain.pem"),
            )),
            mode,
        );
    }
    if path == ROOT_CRL_PATH || path == ROOT_CRL_DP_PATH {
        let der = read(&s, "root_ca_crl.der");
        let body = if s.root_crl_hex {
            hex::encode(der).into_bytes()
        } else {
            der
        };
        return ok(body, "application/pkix-crl", None, mode);
    }
    status(404)
}

impl Shared {
    fn ca_str(&self) -> &'static str {
        self.ca.as_str()
    }
}
