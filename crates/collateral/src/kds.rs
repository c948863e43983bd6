//! A client for AMD's Key Distribution Service (KDS) — AMD's own
//! `https://kdsintf.amd.com` or any mirror/cache serving the same paths.
//!
//! Requests (facts from AMD's "VCEK Certificate and KDS Interface
//! Specification"):
//!
//! | what | request | body |
//! |---|---|---|
//! | VCEK | `GET {base}/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..` (Turin: `fmcSPL=..` first) | DER |
//! | ASK + ARK | `GET {base}/vcek/v1/{product}/cert_chain` | PEM, ASK then ARK |
//! | ASVK + ARK | `GET {base}/vlek/v1/{product}/cert_chain` | PEM, ASVK then ARK |
//! | CRL | `GET {base}/{vcek,vlek}/v1/{product}/crl` | DER |
//!
//! `hwid` is the chip ID in hex (64 bytes; Turin: its first 8 bytes).
//!
//! KDS rate-limits per client, so every request passes one gate: a
//! configurable least spacing between requests, and on HTTP 429 a bounded
//! back-off (the `Retry-After` seconds when sent, else 1 s, 2 s, 4 s … from
//! `initial_backoff`) during which other requests fail fast with
//! [`CollateralError::KdsRateLimited`] instead of adding to the load. Sleeps
//! and the clock go through [`KdsClock`] so tests can count them without
//! waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::CollateralError;
use crate::snp_certs::{
    SnpCertChain, SnpKeyKind, SnpProduct, SnpTcb, crl_next_update, endorsement_facts, parse_cert,
};

/// AMD's production Key Distribution Service.
pub const AMD_KDS_BASE_URL: &str = "https://kdsintf.amd.com";

// A VCEK is ~1.4 KiB, a chain ~5 KiB, a CRL a few KiB.
const MAX_BODY: usize = 1 << 20;

/// Time as the KDS client sees it: the real tokio clock in production, a
/// virtual one in tests.
#[async_trait::async_trait]
pub trait KdsClock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
    async fn sleep(&self, d: Duration);
}

/// [`KdsClock`] over tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

#[async_trait::async_trait]
impl KdsClock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// The KDS URL of the VCEK for a chip at a TCB under `base`.
pub fn vcek_url(
    base: &str,
    product: SnpProduct,
    chip_id: &[u8; 64],
    tcb: SnpTcb,
) -> Result<String, CollateralError> {
    let (hwid, tcb) = vcek_identity(product, chip_id, tcb)?;
    let fmc = tcb.fmc.map(|f| format!("fmcSPL={f}&")).unwrap_or_default();
    Ok(format!(
        "{}/vcek/v1/{product}/{hwid}?{fmc}blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        base.trim_end_matches('/'),
        tcb.bootloader,
        tcb.tee,
        tcb.snp,
        tcb.microcode
    ))
}

/// The KDS URL of a product's intermediate (ASK or ASVK) and ARK under `base`.
pub fn cert_chain_url(base: &str, product: SnpProduct, kind: SnpKeyKind) -> String {
    format!(
        "{}/{}/v1/{product}/cert_chain",
        base.trim_end_matches('/'),
        kind.as_str()
    )
}

/// The KDS URL of a product's ARK-signed CRL (VCEK or VLEK hierarchy) under `base`.
pub fn crl_url(base: &str, product: SnpProduct, kind: SnpKeyKind) -> String {
    format!(
        "{}/{}/v1/{product}/crl",
        base.trim_end_matches('/'),
        kind.as_str()
    )
}

/// How to reach the KDS and how gently to treat it.
#[derive(Debug, Clone)]
pub struct KdsClientOptions {
    /// [`AMD_KDS_BASE_URL`] or a mirror; no trailing path.
    pub base_url: String,
    /// Extra trusted root CA(s), PEM, e.g. the private CA of a mirror.
    pub extra_root_ca_pem: Option<String>,
    /// Timeout of each request, connect included.
    pub timeout: Duration,
    /// Least time between the starts of two upstream requests.
    pub min_interval: Duration,
    /// First back-off after a 429 without `Retry-After`; doubled each time.
    pub initial_backoff: Duration,
    /// Most time one request spends backing off before it gives up with
    /// [`CollateralError::KdsRateLimited`].
    pub max_backoff_total: Duration,
    pub clock: Arc<dyn KdsClock>,
}

impl KdsClientOptions {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            extra_root_ca_pem: None,
            timeout: Duration::from_secs(30),
            // [inferred] AMD does not publish its limit; a few requests a
            // second stays clear of it while a cold start with many chips
            // still completes quickly.
            min_interval: Duration::from_millis(250),
            initial_backoff: Duration::from_secs(1),
            max_backoff_total: Duration::from_secs(30),
            clock: Arc::new(TokioClock),
        }
    }
}

#[derive(Debug, Default)]
struct Gate {
    last_start: Option<Instant>,
}

/// Fetches SEV-SNP endorsements over HTTP(S).
#[derive(Debug, Clone)]
pub struct KdsClient {
    base: String,
    http: reqwest::Client,
    opts: KdsClientOptions,
    gate: Arc<tokio::sync::Mutex<Gate>>,
    /// While set and in the future, requests fail fast.
    blocked_until: Arc<Mutex<Option<Instant>>>,
}

impl KdsClient {
    pub fn new(opts: KdsClientOptions) -> Result<Self, CollateralError> {
        let setup = |reason: String| CollateralError::ClientSetup { reason };
        let base = opts.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(setup(format!(
                "KDS URL {base:?} must start with https:// (or http:// for a loopback mirror)"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("attesta-collateral/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &opts.extra_root_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| setup(format!("extra root CA: {e}")))?;
            if certs.is_empty() {
                return Err(setup("extra root CA PEM holds no certificate".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            base,
            http,
            opts,
            gate: Arc::default(),
            blocked_until: Arc::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Seconds left of a 429 back-off in progress, if any: callers that
    /// would otherwise queue behind it can fail fast instead.
    pub fn rate_limited_for(&self) -> Option<u64> {
        let until = (*self.blocked_until.lock().unwrap_or_else(|p| p.into_inner()))?;
        let now = self.opts.clock.now();
        (until > now).then(|| ceil_secs(until - now))
    }

    fn block(&self, until: Instant) {
        let mut b = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        if b.is_none_or(|cur| until > cur) {
            *b = Some(until);
        }
    }

    /// Waits out the least spacing since the previous request's start.
    async fn pace(&self) {
        let mut gate = self.gate.lock().await;
        if let Some(last) = gate.last_start {
            let next = last + self.opts.min_interval;
            let now = self.opts.clock.now();
            if next > now {
                self.opts.clock.sleep(next - now).await;
            }
        }
        gate.last_start = Some(self.opts.clock.now());
    }

    /// `GET` through the gate, with bounded back-off on 429.
    async fn get(&self, url: &str) -> Result<Vec<u8>, CollateralError> {
        if let Some(retry_after) = self.rate_limited_for() {
            return Err(CollateralError::KdsRateLimited {
                url: url.to_owned(),
                retry_after,
            });
        }
        let mut waited = Duration::ZERO;
        let mut backoff = self.opts.initial_backoff;
        loop {
            self.pace().await;
            let unavailable = |e: reqwest::Error| CollateralError::KdsUnavailable {
                url: url.to_owned(),
                reason: error_chain(&e),
            };
            let mut resp = self.http.get(url).send().await.map_err(unavailable)?;
            let status = resp.status().as_u16();
            if status == 429 {
                let delay = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(backoff);
                backoff = backoff.saturating_mul(2);
                self.block(self.opts.clock.now() + delay);
                if waited + delay > self.opts.max_backoff_total {
                    tracing::warn!(
                        url,
                        retry_after = delay.as_secs(),
                        "KDS rate limit: giving up"
                    );
                    return Err(CollateralError::KdsRateLimited {
                        url: url.to_owned(),
                        retry_after: ceil_secs(delay),
                    });
                }
                tracing::info!(
                    url,
                    delay_ms = delay.as_millis() as u64,
                    "KDS rate limit: backing off"
                );
                self.opts.clock.sleep(delay).await;
                waited += delay;
                continue;
            }
            if status == 404 {
                return Err(CollateralError::KdsNotFound {
                    url: url.to_owned(),
                });
            }
            if status != 200 {
                return Err(CollateralError::KdsStatus {
                    url: url.to_owned(),
                    status,
                });
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(unavailable)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(CollateralError::bad_cert(
                        url,
                        format!("response larger than {MAX_BODY} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
    }

    /// The URL of the VCEK for a chip at a TCB.
    pub fn vcek_url(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        tcb: SnpTcb,
    ) -> Result<String, CollateralError> {
        vcek_url(&self.base, product, chip_id, tcb)
    }

    /// The VCEK (DER) for a chip at a TCB, checked to name that chip and TCB.
    pub async fn fetch_vcek(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        tcb: SnpTcb,
    ) -> Result<Vec<u8>, CollateralError> {
        let url = self.vcek_url(product, chip_id, tcb)?;
        let der = self.get(&url).await?;
        check_vcek(&der, product, chip_id, tcb)?;
        Ok(der)
    }

    /// The intermediate (ASK or ASVK) and ARK of a product.
    pub async fn fetch_cert_chain(
        &self,
        product: SnpProduct,
        kind: SnpKeyKind,
    ) -> Result<SnpCertChain, CollateralError> {
        let url = cert_chain_url(&self.base, product, kind);
        let pem = self.get(&url).await?;
        SnpCertChain::from_pem(product, kind, &pem)
    }

    /// The ARK-signed CRL (DER) of a product's VCEK or VLEK hierarchy and its
    /// `nextUpdate`.
    pub async fn fetch_crl(
        &self,
        product: SnpProduct,
        kind: SnpKeyKind,
    ) -> Result<(Vec<u8>, i64), CollateralError> {
        let url = crl_url(&self.base, product, kind);
        let der = self.get(&url).await?;
        let next = crl_next_update(&format!("{product} CRL"), &der, product)?;
        Ok((der, next))
    }
}

/// The hwID (lower-case hex) and normalised TCB a VCEK request is keyed by.
/// Fails for an all-zero chip ID (a report made with MASK_CHIP_ID has no
/// VCEK to fetch) and for a Turin TCB without FMC SPL; drops an FMC SPL
/// given for an earlier product.
pub(crate) fn vcek_identity(
    product: SnpProduct,
    chip_id: &[u8; 64],
    tcb: SnpTcb,
) -> Result<(String, SnpTcb), CollateralError> {
    let hwid = &chip_id[..product.hwid_len()];
    if hwid.iter().all(|b| *b == 0) {
        return Err(CollateralError::InvalidSnpRequest {
            reason: "the report's chip ID is zero (MASK_CHIP_ID set?), so no VCEK can be \
                     looked up; provide the VCEK with the evidence or import it"
                .into(),
        });
    }
    let mut tcb = tcb;
    if product.has_fmc() {
        if tcb.fmc.is_none() {
            return Err(CollateralError::InvalidSnpRequest {
                reason: format!("a {product} VCEK is keyed by the FMC SPL, which was not given"),
            });
        }
    } else {
        tcb.fmc = None;
    }
    Ok((hex::encode(hwid), tcb))
}

/// Checks a VCEK names the chip and TCB it was fetched for.
pub(crate) fn check_vcek(
    der: &[u8],
    product: SnpProduct,
    chip_id: &[u8; 64],
    tcb: SnpTcb,
) -> Result<(), CollateralError> {
    parse_cert("VCEK", der)?;
    let facts = endorsement_facts(der)?;
    let (hwid, tcb) = vcek_identity(product, chip_id, tcb)?;
    let got_hwid = facts.hwid.as_deref().map(hex::encode).unwrap_or_default();
    if facts.kind != SnpKeyKind::Vcek
        || facts.product != product
        || got_hwid != hwid
        || facts.tcb != tcb
    {
        return Err(CollateralError::bad_cert(
            "VCEK",
            format!(
                "it is for {} hwID {got_hwid} TCB {}, but {product} hwID {hwid} TCB {} was asked",
                facts.product,
                facts.tcb.key_part(),
                tcb.key_part()
            ),
        ));
    }
    Ok(())
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// reqwest's top-level message hides the cause an operator needs.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
