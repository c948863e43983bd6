//! # attesta-server
//!
//! Attesta's HTTPS API, wire-compatible with Microsoft Azure Attestation:
//!
//! - data plane (anonymous): `/attest/{type}`, `/certs`,
//!   `/.well-known/openid-configuration`, `/servicehealth`;
//! - control plane: `/policies/{type}` (get, set, `:reset`) and the
//!   policy-management certificates (`/certificates`, `:add`, `:remove`);
//! - admin API (admin token): `/admin/providers`, `/admin/keys`,
//!   `/admin/collateral`, `/admin/audit` (the audit log, see [`audit`]).
//!
//! Every MAA route answers at the root (provider chosen by host name) and
//! under `/providers/{name}` (see [`provider`]).
//!
//! The attest flow (see [`routes::attest`]) is: request bytes → decode →
//! verify with collateral, roots and time ([`evidence`]) → incoming claims →
//! policy → outgoing claims → signed token ([`tokens`]).
//!
//! [`start`] prepares the data directory on first start (store, TLS
//! certificate, signing keys, admin token), ensures the default provider, and
//! serves until [`RunningServer::shutdown`].

pub mod audit;
pub mod auth;
pub mod azure_guest;
mod cache;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod conn;
pub mod dcap;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod forwarded;
mod fsutil;
pub mod hygiene;
pub mod metrics;
pub mod policy_pool;
pub mod provider;
pub mod provider_config;
pub mod replay;
pub mod routes;
pub mod signing;
pub mod snp;
pub mod state;
pub mod tee;
pub mod throttle;
pub mod tls;
pub mod tokens;
pub mod tpm;
pub mod unread_body;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use attesta_collateral::CollateralService;
use attesta_evidence::crypto::sha256;
use attesta_evidence::{AttestationType, UnixTime};
use attesta_store::{ProviderRecord, Store, TrustModel};

pub use config::Config;
pub use evidence::Verifiers;
pub use state::AppState;

/// File name of the embedded store inside the data directory.
pub const STORE_FILE: &str = "attesta.db";
/// File name of the generated admin token inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("data directory: {0}")]
    DataDir(String),
    #[error("store: {0}")]
    Store(String),
    #[error("signing keys: {0}")]
    Keys(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("TEE evidence: {0}")]
    Tee(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
}

/// A server that is accepting connections.
pub struct RunningServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The data directory in use.
    pub data_dir: PathBuf,
    /// The TLS certificate clients should trust (self-signed or configured).
    pub tls_cert: PathBuf,
    /// Shared state, for in-process tests and the CLI.
    pub state: AppState,
    /// The metrics listener's address, when `metrics.listen` is configured.
    pub metrics_addr: Option<SocketAddr>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stop accepting connections and let in-flight requests finish (up to 10 s).
    pub fn shutdown(&self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
    }

    /// Wait until the server has stopped.
    pub async fn wait(self) -> std::io::Result<()> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// The admin token's SHA-256: from configuration, else the store's shared
/// admin token (sealed; the data directory's file of a single node is
/// adopted), created on first start. The data directory keeps a copy (0600)
/// for the local CLI.
async fn admin_token_hash(
    config: &Config,
    store: &dyn Store,
    kek: &cluster::StoreKey,
) -> Result<[u8; 32], StartError> {
    if let Some(t) = &config.admin_token {
        if t.trim().is_empty() {
            return Err(StartError::Config("admin_token may not be empty".into()));
        }
        return Ok(sha256(t.trim().as_bytes()));
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    let token = cluster::shared_secret(store, kek, "admin-token", Some(&path), || {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no system randomness".to_string())?;
        Ok(format!("{}\n", hex::encode(bytes)).into_bytes())
    })
    .await
    .map_err(StartError::Store)?;
    let text = String::from_utf8(token)
        .map_err(|_| StartError::Store("the stored admin token is not text".into()))?;
    let on_disk = std::fs::read_to_string(&path).ok();
    if on_disk.as_deref().map(str::trim) != Some(text.trim()) {
        fsutil::write_private(&path, format!("{}\n", text.trim()).as_bytes())
            .map_err(StartError::DataDir)?;
        tracing::info!(path = %path.display(), "wrote the admin token");
    }
    Ok(sha256(text.trim().as_bytes()))
}

/// Create the default provider if it is missing; sync its configured tokens.
async fn ensure_default_provider(config: &Config, store: &dyn Store) -> Result<(), StartError> {
    let name = &config.default_provider.name;
    let hashes: Vec<String> = config
        .default_provider
        .aad_tokens
        .iter()
        .map(|t| auth::token_hash(t))
        .collect();
    let existing = store
        .get_provider(name)
        .await
        .map_err(|e| StartError::Store(e.to_string()))?;
    match existing {
        None => {
            let record = ProviderRecord {
                name: name.clone(),
                trust_model: TrustModel::Aad,
                token_hashes: hashes,
                config: serde_json::json!({}),
                created_at: UnixTime::now().0 as i64,
                version: 0,
                key_epoch: 0,
            };
            store
                .create_provider(&record, &[])
                .await
                .map_err(|e| StartError::Store(e.to_string()))?;
            tracing::info!(provider = %name, "created the default provider");
        }
        Some(mut record) if !hashes.is_empty() && record.token_hashes != hashes => {
            record.token_hashes = hashes;
            store
                .update_provider(&record)
                .await
                .map_err(|e| StartError::Store(e.to_string()))?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// The collateral service: upstream PCS (or none), persisted in the store.
fn collateral_service(
    config: &Config,
    store: Arc<dyn Store>,
) -> Result<Arc<CollateralService>, StartError> {
    let c = &config.collateral;
    let source: Box<dyn attesta_collateral::CollateralSource> = if c.pcs_url.trim().is_empty() {
        Box::new(dcap::NoUpstream)
    } else {
        let mut opts = attesta_collateral::PcsClientOptions::new(c.pcs_url.trim());
        if let Some(ca) = &c.pcs_ca {
            let pem = std::fs::read_to_string(ca).map_err(|e| {
                StartError::Config(format!("collateral.pcs_ca {}: {e}", ca.display()))
            })?;
            opts.extra_root_ca_pem = Some(pem);
        }
        Box::new(
            attesta_collateral::PcsClient::new(opts)
                .map_err(|e| StartError::Config(format!("collateral.pcs_url: {e}")))?,
        )
    };
    let opts = attesta_collateral::CollateralOptions {
        refresh_margin: Duration::from_secs(c.refresh_margin_secs),
        grace: Some(Duration::from_secs(c.max_grace_secs)),
        ..Default::default()
    };
    Ok(Arc::new(CollateralService::new(
        source,
        Arc::new(dcap::StoreCollateralCache(store)),
        opts,
    )))
}

/// The SEV-SNP endorsement service: AMD KDS (or none), persisted in the store.
fn snp_endorsements(
    config: &Config,
    store: Arc<dyn Store>,
) -> Result<Arc<attesta_collateral::SnpEndorsementService>, StartError> {
    let kds = if config.collateral.kds_url.trim().is_empty() {
        None
    } else {
        Some(
            attesta_collateral::KdsClient::new(attesta_collateral::KdsClientOptions::new(
                config.collateral.kds_url.trim(),
            ))
            .map_err(|e| StartError::Config(format!("collateral.kds_url: {e}")))?,
        )
    };
    Ok(Arc::new(attesta_collateral::SnpEndorsementService::new(
        kds,
        Arc::new(dcap::StoreCollateralCache(store)),
        attesta_collateral::SnpOptions::default(),
    )))
}

/// The evidence verifiers this build has.
fn verifiers(
    collateral: &Arc<CollateralService>,
    snp_endorsements: &Arc<attesta_collateral::SnpEndorsementService>,
) -> Verifiers {
    let mut v = Verifiers::new();
    v.register(
        AttestationType::SevSnpVm,
        Arc::new(snp::SnpVerifier::new(snp_endorsements.clone())),
    );
    let verified = Arc::new(dcap::VerifiedCache::default());
    for (ty, kind) in [
        (AttestationType::SgxEnclave, dcap::DcapKind::Sgx),
        (AttestationType::OpenEnclave, dcap::DcapKind::OpenEnclave),
        (AttestationType::TdxVm, dcap::DcapKind::Tdx),
    ] {
        v.register(
            ty,
            Arc::new(dcap::DcapVerifier {
                kind,
                collateral: collateral.clone(),
                verified: verified.clone(),
            }),
        );
    }
    v
}

/// Open (or create) every provider's signing keys, off the async workers.
async fn open_signing_keys(state: &AppState) -> Result<(), String> {
    let providers = state
        .store
        .list_providers()
        .await
        .map_err(|e| e.to_string())?;
    let jobs: Vec<(String, String)> = providers
        .into_iter()
        .map(|p| {
            let subject = state.canonical_base(&p.name);
            (p.name, subject)
        })
        .collect();
    let signing = state.signing.clone();
    tokio::task::spawn_blocking(move || {
        jobs.iter()
            .try_for_each(|(name, subject)| signing.ring(name, subject).map(|_| ()))
    })
    .await
    .map_err(|e| e.to_string())??;
    // Publish them for the other nodes (and rotate where a rotation was
    // requested while this node was down).
    state
        .signing
        .sync(state.store.as_ref(), &state.subject_fn())
        .await
}

/// The HTTPS server: TLS over connection limits.
type Listener =
    axum_server::Server<SocketAddr, axum_server::tls_rustls::RustlsAcceptor<conn::LimitAcceptor>>;

/// The HTTPS listener with its connection limits (see [`conn`]): connection
/// caps before the TLS handshake, the handshake timeout, the header-read
/// timeout (HTTP/1 headers and the first request of any connection), idle
/// connection closing, and the HTTP/1 and HTTP/2 size limits.
fn listener(
    listen: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    limits: &config::LimitsConfig,
) -> Listener {
    let header_read = Duration::from_secs(limits.header_read_timeout_secs);
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
        .handshake_timeout(Duration::from_secs(limits.tls_handshake_timeout_secs))
        .acceptor(conn::LimitAcceptor::new(Arc::new(conn::ConnLimiter::new(
            limits,
        ))));
    let mut server = axum_server::bind(listen)
        .acceptor(acceptor)
        .first_request_timeout(header_read);
    server
        .http_builder()
        .http1()
        .keep_alive(true)
        .header_read_timeout(header_read)
        .max_headers(limits.http1_max_headers);
    server
        .http_builder()
        .http2()
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_header_list_size(limits.http2_max_header_list_bytes)
        // Pings find dead peers; idle live ones are closed by `conn`.
        .keep_alive_interval(Duration::from_secs(limits.idle_timeout_secs))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256));
    server
}

/// Prepare the data directory and start serving.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate().map_err(StartError::Config)?;
    // One crypto provider for every rustls user in the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    fsutil::private_dir(&config.data_dir).map_err(StartError::DataDir)?;
    let store = attesta_store::open_url(
        &config
            .store
            .open_options(&config.data_dir, config.store.auto_migrate),
    )
    .await
    .map_err(|e| StartError::Store(e.to_string()))?;
    let store_ops = Arc::new(cluster::StoreOps::default());
    let store: Arc<dyn Store> = Arc::new(cluster::TrackedStore::new(store, store_ops.clone()));
    let kek = cluster::StoreKey::load_or_create(
        &config
            .store
            .key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("store.key")),
    )
    .map_err(StartError::Config)?;
    let node_id = cluster::node_id(config.store.node_id.as_deref(), &config.data_dir)
        .map_err(StartError::DataDir)?;
    let admin_hash = admin_token_hash(&config, store.as_ref(), &kek).await?;
    let tee_source = tee::select(&config.tee_evidence, &config.tee_tsm_path, &config.data_dir)
        .map_err(StartError::Tee)?;
    if let Some(s) = &tee_source {
        tracing::info!(
            source = s.name(),
            "signing certificates carry this node's TEE evidence"
        );
    }
    let signing =
        signing::ProviderKeys::new(
            &config.data_dir.join("keys"),
            &config.default_provider.name,
            config.key_overlap_secs,
            &node_id,
            // A node unseen for longer than a token lives has no valid tokens
            // left (heartbeats come every 10 s).
            config.token_lifetime_secs.saturating_add(60),
        )
        .with_cert_extensions(tee_source.map(|s| {
            Arc::new(tee::TeeExtensions(s)) as Arc<dyn attesta_token::keys::CertExtensions>
        }));
    ensure_default_provider(&config, store.as_ref()).await?;
    let tls = tls::ensure(
        &config.data_dir,
        config.tls_cert.as_deref(),
        config.tls_key.as_deref(),
        config.listen,
        &config.hostnames,
    )
    .map_err(StartError::Tls)?;
    let rustls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|e| StartError::Tls(format!("cannot load {}: {e}", tls.cert.display())))?;

    let listen = config.listen;
    let data_dir = config.data_dir.clone();
    let collateral = collateral_service(&config, store.clone())?;
    let snp_endorsements = snp_endorsements(&config, store.clone())?;
    let verifiers = verifiers(&collateral, &snp_endorsements);
    let tpm_context = cluster::shared_secret(
        store.as_ref(),
        &kek,
        "tpm-context-key",
        Some(&config.data_dir.join("tpm-context.key")),
        || {
            let mut b = [0u8; 32];
            aws_lc_rs::rand::fill(&mut b).map_err(|_| "no system randomness".to_string())?;
            Ok(b.to_vec())
        },
    )
    .await
    .and_then(|k| tpm::ContextKey::from_bytes(&k))
    .map_err(StartError::Store)?;
    let mut state = AppState::new(
        config,
        store,
        signing,
        admin_hash,
        verifiers,
        collateral,
        tpm_context,
        snp_endorsements,
    );
    state.store_ops = store_ops;
    cluster::spawn_change_watcher(&state, node_id);
    let app =
        routes::router(state.clone()).layer(axum::middleware::from_fn(cluster::unavailable_to_503));
    let (metrics_addr, metrics_task) = match state.config.metrics.listen {
        Some(addr) => {
            let (bound, task) = metrics::serve_listener(addr, state.clone())
                .await
                .map_err(|reason| StartError::Listen { addr, reason })?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let handle = axum_server::Handle::new();
    let server = listener(listen, rustls_config, &state.config.limits).handle(handle.clone());
    let task = tokio::spawn(async move {
        let served = server
            .serve(app.into_make_service_with_connect_info::<SocketAddr>())
            .await;
        // The metrics listener lives as long as the service.
        if let Some(t) = metrics_task {
            t.abort();
        }
        served
    });
    let addr = match handle.listening().await {
        Some(addr) => addr,
        None => {
            let reason = match task.await {
                Ok(Err(e)) => e.to_string(),
                _ => "the listener stopped".into(),
            };
            return Err(StartError::Listen {
                addr: listen,
                reason,
            });
        }
    };
    let _ = state.bound_port.set(addr.port());
    open_signing_keys(&state).await.map_err(StartError::Keys)?;
    audit::spawn_checkpointer(&state);
    tracing::info!(%addr, data_dir = %data_dir.display(), "attesta is listening (https)");
    Ok(RunningServer {
        addr,
        data_dir,
        tls_cert: tls.cert,
        state,
        metrics_addr,
        handle,
        task,
    })
}
