//! Server configuration: every setting with its default.
//!
//! The CLI layers a TOML file, `ATTESTA_*` environment variables and flags
//! (flags win) into this struct; the server itself never reads the
//! environment, so tests construct it directly.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `attesta serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTPS only).
    pub listen: SocketAddr,
    /// Data directory: embedded store, TLS certificate, signing keys, admin token.
    pub data_dir: PathBuf,
    /// PEM certificate chain for TLS; when unset a self-signed certificate is
    /// created at `<data_dir>/tls/cert.pem`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The public base URL clients use, `https://host[:port]` with no path
    /// (e.g. behind a load balancer). Token issuers (`iss`), `jku` and the
    /// OpenID metadata are built from it, never from what a request's `Host`
    /// says. Unset: the listen address, loopback addresses and `localhost`.
    pub public_url: Option<String>,
    /// Extra DNS names for the self-signed certificate, and host-name aliases
    /// of the service: each addresses the default provider, and
    /// `<provider>.<name>` addresses that provider. Requests for any host
    /// that is neither configured nor loopback are refused (421).
    pub hostnames: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests running longer than this are abandoned with 408.
    pub request_timeout_secs: u64,
    /// Lifetime of attestation tokens (MAA: 8 hours).
    pub token_lifetime_secs: u64,
    /// How long a retired signing key stays published at `/certs`.
    pub key_overlap_secs: u64,
    /// Admin API bearer token. When unset, one is generated at first start and
    /// written to `<data_dir>/admin-token` (mode 0600).
    pub admin_token: Option<String>,
    /// The provider that works out of the box.
    pub default_provider: DefaultProvider,
    /// How long a node serves a compiled policy before re-reading the store
    /// (bounds staleness when several nodes share one store).
    pub policy_cache_ttl_secs: u64,
    /// Where vendor collateral comes from.
    pub collateral: CollateralConfig,
    /// Connection, throttling and policy-execution limits.
    pub limits: LimitsConfig,
    /// Where the shared state lives (SQLite in the data directory, or
    /// PostgreSQL for several nodes) and the key that seals its secrets.
    pub store: StoreConfig,
    /// Where Prometheus metrics are served (see [`crate::metrics`]).
    pub metrics: crate::metrics::MetricsConfig,
    /// When the audit log's checkpoints are signed (see [`crate::audit`]).
    pub audit: AuditConfig,
    /// Where the node's own TEE evidence for its signing certificates comes
    /// from: `auto`, `none`, `required`, `configfs-tsm`, `test` or `test-snp` (see
    /// [`crate::tee`]).
    pub tee_evidence: String,
    /// The configfs-tsm report directory.
    pub tee_tsm_path: PathBuf,
}

/// When a node signs a checkpoint of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Sign a checkpoint whenever the log reaches a multiple of this many records.
    pub checkpoint_every: u64,
    /// Also sign one this often (seconds) when records were added since the last.
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 64,
            checkpoint_interval_secs: 600,
        }
    }
}

impl AuditConfig {
    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1_000_000).contains(&self.checkpoint_every) {
            return Err("audit.checkpoint_every must be between 1 and 1000000".into());
        }
        if !(1..=86_400).contains(&self.checkpoint_interval_secs) {
            return Err("audit.checkpoint_interval_secs must be between 1 and 86400".into());
        }
        Ok(())
    }
}

/// Bounds on what one client, one provider or the whole node may consume.
/// Defaults are generous enough for Microsoft's SDKs and test suites; see
/// the README's "Limits and throttling".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open connections at once, all clients together; more are closed at
    /// once after accept.
    pub max_connections: usize,
    /// Open connections at once from one client address (IPv6: per /64).
    pub max_connections_per_ip: usize,
    /// A TLS handshake must finish within this many seconds.
    pub tls_handshake_timeout_secs: u64,
    /// An HTTP/1 request's headers (and the first request of a connection)
    /// must arrive within this many seconds.
    pub header_read_timeout_secs: u64,
    /// A connection (HTTP/1 keep-alive or HTTP/2) with no request in flight
    /// for this many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
    /// Largest HTTP/2 header list (decoded), in bytes.
    pub http2_max_header_list_bytes: u32,
    /// Most headers in an HTTP/1 request.
    pub http1_max_headers: usize,
    /// Attest requests per second per client address (token bucket rate).
    pub attest_per_ip_per_sec: f64,
    /// Attest burst per client address (token bucket size).
    pub attest_per_ip_burst: f64,
    /// Attest requests per second per provider.
    pub attest_per_provider_per_sec: f64,
    /// Attest burst per provider.
    pub attest_per_provider_burst: f64,
    /// Control-plane and admin requests per second per client address.
    pub control_per_ip_per_sec: f64,
    /// Control-plane and admin burst per client address.
    pub control_per_ip_burst: f64,
    /// Control-plane requests per second per provider.
    pub control_per_provider_per_sec: f64,
    /// Control-plane burst per provider.
    pub control_per_provider_burst: f64,
    /// Failed authentications (401) per second per client address; beyond
    /// the burst, control-plane and admin requests get 429.
    pub auth_failures_per_ip_per_sec: f64,
    /// Failed-authentication burst per client address.
    pub auth_failures_per_ip_burst: f64,
    /// A 429 from a per-client-address bucket is sent after this many
    /// milliseconds (0: at once), which slows a flooding client's loop.
    pub throttled_reply_delay_ms: u64,
    /// Attest requests in progress at once on this node; more get 503.
    pub max_inflight_attests: usize,
    /// Client addresses and providers whose throttle state is remembered;
    /// beyond it, the least useful entries are evicted.
    pub max_tracked_clients: usize,
    /// Threads that compile and evaluate policies (off the async workers).
    pub policy_workers: usize,
    /// Of those, how many one provider may occupy at once (a larger value
    /// counts as `policy_workers`). Default: half the node's CPUs, at least
    /// one, so that one tenant's slow policy can never take every core from
    /// the others.
    pub policy_workers_per_provider: usize,
    /// Policy thread time one provider (or one sender of draft policies)
    /// may use, in milliseconds per second (token bucket rate; 500 = half a
    /// core on average). A provider whose policies spent more gets 429 until
    /// its bucket refills. Default: 100 per CPU, a tenth of the node: a
    /// policy evaluation usually takes 3–30 µs (benchmarks), so this admits
    /// thousands of attests per second, while one tenant's costly policy
    /// cannot take more than a tenth of the node from the others for long.
    pub policy_cpu_ms_per_provider_per_sec: f64,
    /// Policy thread time one provider may spend in a burst, in milliseconds.
    pub policy_cpu_ms_per_provider_burst: f64,
    /// Nice value of the policy threads (Linux; 0–19, 0: the process's
    /// own). Default 10: a costly policy then takes CPU mostly from idle
    /// time, not from the request workers verifying everyone's evidence.
    pub policy_thread_nice: i32,
    /// Time budget of one policy compile or evaluation, in milliseconds;
    /// beyond it the request fails with `PolicyEvaluationError`. Default
    /// 500: thousands of times what real policies take, and a runaway
    /// policy holds a core for at most that long.
    pub policy_time_budget_ms: u64,
    /// Load balancers and reverse proxies (addresses or CIDR blocks, e.g.
    /// `"10.0.0.0/8"`) whose `X-Forwarded-For` names the client. A request
    /// from one of them is counted, throttled and logged under the
    /// rightmost address in that header that is not itself a trusted proxy;
    /// such a peer is also exempt from `max_connections_per_ip` (its
    /// connections carry many clients; `max_connections` still applies).
    /// Empty (the default): only the TCP peer counts, and the header is
    /// ignored, since any client can write it.
    #[serde(deserialize_with = "addresses_or_blocks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `"192.0.2.10"` (one address) or `"10.0.0.0/8"` (a block).
fn addresses_or_blocks<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let items: Vec<String> = Deserialize::deserialize(d)?;
    items
        .iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "limits.trusted_proxies: {s:?} is neither an IP address nor a CIDR block such as \"10.0.0.0/8\""
                    ))
                })
        })
        .collect()
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_ip: 128,
            tls_handshake_timeout_secs: 10,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            http2_max_concurrent_streams: 64,
            http2_max_header_list_bytes: 16 * 1024,
            http1_max_headers: 64,
            attest_per_ip_per_sec: 200.0,
            attest_per_ip_burst: 400.0,
            attest_per_provider_per_sec: 1000.0,
            attest_per_provider_burst: 2000.0,
            control_per_ip_per_sec: 50.0,
            control_per_ip_burst: 200.0,
            control_per_provider_per_sec: 100.0,
            control_per_provider_burst: 400.0,
            auth_failures_per_ip_per_sec: 10.0,
            auth_failures_per_ip_burst: 20.0,
            throttled_reply_delay_ms: 250,
            max_inflight_attests: 256,
            max_tracked_clients: 65_536,
            policy_workers: 8,
            policy_workers_per_provider: std::thread::available_parallelism()
                .map(|n| (n.get() / 2).max(1))
                .unwrap_or(1),
            policy_cpu_ms_per_provider_per_sec: 100.0
                * std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1) as f64,
            policy_cpu_ms_per_provider_burst: 1000.0,
            policy_thread_nice: 10,
            policy_time_budget_ms: 500,
            trusted_proxies: Vec::new(),
        }
    }
}

impl LimitsConfig {
    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_connections", self.max_connections as f64),
            ("max_connections_per_ip", self.max_connections_per_ip as f64),
            (
                "tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs as f64,
            ),
            (
                "header_read_timeout_secs",
                self.header_read_timeout_secs as f64,
            ),
            ("idle_timeout_secs", self.idle_timeout_secs as f64),
            (
                "http2_max_concurrent_streams",
                self.http2_max_concurrent_streams as f64,
            ),
            (
                "http2_max_header_list_bytes",
                self.http2_max_header_list_bytes as f64,
            ),
            ("http1_max_headers", self.http1_max_headers as f64),
            ("attest_per_ip_per_sec", self.attest_per_ip_per_sec),
            ("attest_per_ip_burst", self.attest_per_ip_burst),
            (
                "attest_per_provider_per_sec",
                self.attest_per_provider_per_sec,
            ),
            ("attest_per_provider_burst", self.attest_per_provider_burst),
            ("control_per_ip_per_sec", self.control_per_ip_per_sec),
            ("control_per_ip_burst", self.control_per_ip_burst),
            (
                "control_per_provider_per_sec",
                self.control_per_provider_per_sec,
            ),
            (
                "control_per_provider_burst",
                self.control_per_provider_burst,
            ),
            (
                "auth_failures_per_ip_per_sec",
                self.auth_failures_per_ip_per_sec,
            ),
            (
                "auth_failures_per_ip_burst",
                self.auth_failures_per_ip_burst,
            ),
            (
                "policy_cpu_ms_per_provider_per_sec",
                self.policy_cpu_ms_per_provider_per_sec,
            ),
            (
                "policy_cpu_ms_per_provider_burst",
                self.policy_cpu_ms_per_provider_burst,
            ),
            ("max_inflight_attests", self.max_inflight_attests as f64),
            ("max_tracked_clients", self.max_tracked_clients as f64),
            ("policy_workers", self.policy_workers as f64),
            (
                "policy_workers_per_provider",
                self.policy_workers_per_provider as f64,
            ),
            ("policy_time_budget_ms", self.policy_time_budget_ms as f64),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("limits.{name} must be a number greater than zero"));
            }
        }
        for (name, burst) in [
            ("attest_per_ip_burst", self.attest_per_ip_burst),
            ("attest_per_provider_burst", self.attest_per_provider_burst),
            ("control_per_ip_burst", self.control_per_ip_burst),
            (
                "control_per_provider_burst",
                self.control_per_provider_burst,
            ),
            (
                "auth_failures_per_ip_burst",
                self.auth_failures_per_ip_burst,
            ),
        ] {
            if burst < 1.0 {
                return Err(format!("limits.{name} must be at least 1"));
            }
        }
        if !(0..=19).contains(&self.policy_thread_nice) {
            return Err("limits.policy_thread_nice must be between 0 and 19".into());
        }
        if self.max_connections_per_ip > self.max_connections {
            return Err(
                "limits.max_connections_per_ip may not exceed limits.max_connections".into(),
            );
        }
        Ok(())
    }
}

/// The store: which database, how to reach it, and the key-encryption key
/// that seals the secrets kept in it (TPM context key, admin token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:pass@host[,host2]/db?sslmode=require&target_session_attrs=read-write`
    /// for PostgreSQL, `sqlite:PATH` for SQLite. Unset: SQLite at
    /// `<data_dir>/attesta.db`.
    pub url: Option<String>,
    /// File holding the 32-byte key-encryption key (raw, or base64) that
    /// seals shared secrets in the store. Every node of a deployment needs
    /// the same file. Unset: `<data_dir>/store.key`, created on first start.
    pub key_file: Option<PathBuf>,
    /// This node's identity in the store (published signing keys,
    /// heartbeats). Unset: a random id kept in `<data_dir>/node-id`.
    pub node_id: Option<String>,
    /// Bring the schema up to date at start (else `attesta migrate` must
    /// have). A schema newer than this build is always refused.
    pub auto_migrate: bool,
    /// PostgreSQL connections per node.
    pub max_connections: usize,
    /// Upper bound of one store call, in milliseconds; beyond it the
    /// database counts as unreachable (503 on the control plane).
    pub op_timeout_ms: u64,
    /// PEM CA(s) for the database's TLS certificate (PostgreSQL); the
    /// system roots when unset.
    pub ca_file: Option<PathBuf>,
    /// How often each node checks the store's change counter, in
    /// milliseconds: changes made on another node are served within this.
    pub poll_interval_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_file: None,
            node_id: None,
            auto_migrate: true,
            max_connections: 16,
            op_timeout_ms: 3000,
            ca_file: None,
            poll_interval_ms: 250,
        }
    }
}

impl StoreConfig {
    /// The store URL, with the default SQLite file of `data_dir`.
    pub fn url_or_default(&self, data_dir: &std::path::Path) -> String {
        match &self.url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => format!("sqlite:{}", data_dir.join(crate::STORE_FILE).display()),
        }
    }

    /// The options `attesta_store::open_url` takes.
    pub fn open_options(
        &self,
        data_dir: &std::path::Path,
        migrate: bool,
    ) -> attesta_store::OpenOptions {
        attesta_store::OpenOptions {
            url: self.url_or_default(data_dir),
            migrate,
            pg: attesta_store::PgOptions {
                max_connections: self.max_connections,
                op_timeout: std::time::Duration::from_millis(self.op_timeout_ms),
                ca_file: self.ca_file.clone(),
            },
        }
    }

    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("store.max_connections must be greater than zero".into());
        }
        if let Some(url) = &self.url {
            let url = url.trim();
            let known = url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:")
                || !url.contains("://");
            if url.is_empty() || !known {
                return Err(format!(
                    "store.url {url:?} names no store Attesta knows: use postgres://… or sqlite:PATH"
                ));
            }
        }
        if self.op_timeout_ms == 0 {
            return Err("store.op_timeout_ms must be greater than zero".into());
        }
        if !(10..=1000).contains(&self.poll_interval_ms) {
            return Err(
                "store.poll_interval_ms must be between 10 and 1000 (changes reach every node within it)"
                    .into(),
            );
        }
        if let Some(id) = &self.node_id
            && (id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err("store.node_id must be 1-64 letters, digits, '-' or '_'".into());
        }
        Ok(())
    }
}

/// Vendor collateral settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollateralConfig {
    /// Base URL of an Intel PCS v4-compatible API (Intel PCS, a PCCS, or a
    /// THIM-style endpoint). Empty: no upstream, imported collateral only.
    pub pcs_url: String,
    /// Extra PEM CA to trust for the PCS endpoint's TLS certificate.
    pub pcs_ca: Option<PathBuf>,
    /// Refresh cached collateral this long before its nextUpdate.
    pub refresh_margin_secs: u64,
    /// Upper bound of any provider's `collateral_grace_secs`: expired
    /// collateral older than this is never served.
    pub max_grace_secs: u64,
    /// Base URL of AMD's Key Distribution Service (or a mirror) for VCEKs
    /// and certificate chains. Empty: imported endorsements only.
    pub kds_url: String,
}

impl Default for CollateralConfig {
    fn default() -> Self {
        Self {
            pcs_url: attesta_collateral::INTEL_PCS_BASE_URL.to_string(),
            pcs_ca: None,
            refresh_margin_secs: 3600,
            max_grace_secs: 30 * 24 * 3600,
            kds_url: attesta_collateral::AMD_KDS_BASE_URL.to_string(),
        }
    }
}

/// Settings of the default provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultProvider {
    /// Its name (a DNS label).
    pub name: String,
    /// Bearer tokens accepted on its control plane (besides the admin token).
    /// Stored hashed; the list in the configuration replaces the stored one
    /// at every start.
    pub aad_tokens: Vec<String>,
}

impl Default for DefaultProvider {
    fn default() -> Self {
        Self {
            name: "default".into(),
            aad_tokens: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("./attesta-data"),
            tls_cert: None,
            tls_key: None,
            public_url: None,
            hostnames: Vec::new(),
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            token_lifetime_secs: 8 * 3600,
            key_overlap_secs: 7 * 24 * 3600,
            admin_token: None,
            default_provider: DefaultProvider::default(),
            policy_cache_ttl_secs: 5,
            collateral: CollateralConfig::default(),
            limits: LimitsConfig::default(),
            store: StoreConfig::default(),
            metrics: crate::metrics::MetricsConfig::default(),
            audit: AuditConfig::default(),
            tee_evidence: "auto".into(),
            tee_tsm_path: PathBuf::from(crate::tee::DEFAULT_TSM_PATH),
        }
    }
}

impl Config {
    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key must be given together".into());
        }
        if let Some(url) = &self.public_url {
            crate::provider::parse_public_url(url)?;
        }
        for h in &self.hostnames {
            crate::provider::validate_hostname(h)?;
        }
        if self.max_body_bytes == 0 {
            return Err("max_body_bytes must be greater than zero".into());
        }
        if self.token_lifetime_secs == 0 || self.token_lifetime_secs > 366 * 24 * 3600 {
            return Err("token_lifetime_secs must be between 1 second and one year".into());
        }
        if self.request_timeout_secs == 0 {
            return Err("request_timeout_secs must be greater than zero".into());
        }
        self.limits.validate()?;
        self.store.validate()?;
        self.audit.validate()?;
        crate::tee::validate_mode(&self.tee_evidence)?;
        crate::provider::validate_name(&self.default_provider.name)
            .map_err(|e| format!("default_provider.name: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let l: LimitsConfig = serde_json::from_value(serde_json::json!({
            "trusted_proxies": ["192.0.2.10", "10.1.2.3/8", "2001:db8::/32"]
        }))
        .unwrap();
        let shown: Vec<String> = l.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["192.0.2.10/32", "10.0.0.0/8", "2001:db8::/32"]);
        // What serializes reads back (the configuration layering does so).
        let again: LimitsConfig =
            serde_json::from_value(serde_json::to_value(&l).unwrap()).unwrap();
        assert_eq!(again, l);
        let e = serde_json::from_value::<LimitsConfig>(serde_json::json!({
            "trusted_proxies": ["lb.internal"]
        }))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("\"lb.internal\" is neither an IP address nor a CIDR block"),
            "{e}"
        );
    }
}
