//! [`SnpEndorsementService`]: the cache every SEV-SNP verification goes
//! through for its VCEK, ASK/ASVK + ARK chain and CRL.
//!
//! Entries live in memory and in the shared [`CollateralCache`] (the same
//! store as the DCAP collateral), under the keys of [`snp_vcek_key`],
//! [`snp_chain_key`], [`snp_crl_key`] and [`snp_vlek_key`]:
//!
//! - a **VCEK** never expires from the cache: it is immutable for a chip and
//!   TCB, and its validity period is the verifier's to check;
//! - a **chain** is refetched after `chain_refresh`, and the old copy keeps
//!   serving if that fails;
//! - a **CRL** is refetched `crl_refresh_margin` before its `nextUpdate` and
//!   fails closed after it (plus any `crl_grace`).
//!
//! Per key, one caller goes upstream and everyone else waits for its result
//! (single-flight: a per-key async mutex re-checked after acquiring). While
//! the KDS client is backing off a 429, callers that would queue behind the
//! request fail fast with [`CollateralError::KdsRateLimited`]. A failed
//! upstream attempt is remembered for `retry_interval`, so an unknown chip
//! costs KDS one request per interval, not one per attestation. Time is a
//! parameter (`now`, Unix seconds), as in [`crate::CollateralService`].
//!
//! Nothing here is trusted: the verifier checks every signature.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::cache::CollateralCache;
use crate::error::CollateralError;
use crate::kds::{KdsClient, check_vcek, vcek_identity};
use crate::snp_certs::{
    SnpCertChain, SnpKeyKind, SnpProduct, SnpTcb, crl_next_update, endorsement_facts,
};
use crate::snp_import::{SnpBundle, read_snp_dir};

/// Tuning of [`SnpEndorsementService`].
#[derive(Debug, Clone)]
pub struct SnpOptions {
    /// Refetch a cached ASK/ASVK + ARK chain after this long (the old copy
    /// serves if that fails). AMD's intermediates live for decades; this
    /// only picks up a re-issue.
    pub chain_refresh: Duration,
    /// Refetch a CRL when its `nextUpdate` is closer than this.
    pub crl_refresh_margin: Duration,
    /// Serve a CRL this long past `nextUpdate` when it cannot be refreshed.
    /// `None`: fail closed at `nextUpdate`.
    pub crl_grace: Option<Duration>,
    /// Least time between two upstream attempts for one key.
    pub retry_interval: Duration,
    /// Bound on the number of keys tracked in memory.
    pub max_keys: usize,
}

impl Default for SnpOptions {
    fn default() -> Self {
        Self {
            chain_refresh: Duration::from_secs(7 * 24 * 3600),
            crl_refresh_margin: Duration::from_secs(3600),
            crl_grace: None,
            retry_interval: Duration::from_secs(60),
            max_keys: 16384,
        }
    }
}

/// A CRL as handed to the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpCrl {
    pub der: Vec<u8>,
    /// Unix seconds.
    pub next_update: i64,
    /// When this copy was fetched, Unix seconds.
    pub fetched_at: i64,
}

/// Cache key of the VCEK for a chip at a TCB:
/// `snp/v1/vcek/{product}/{hwid hex}/{tcb}` (see [`SnpTcb::key_part`]).
pub fn snp_vcek_key(
    product: SnpProduct,
    chip_id: &[u8; 64],
    tcb: SnpTcb,
) -> Result<String, CollateralError> {
    let (hwid, tcb) = vcek_identity(product, chip_id, tcb)?;
    Ok(format!("snp/v1/vcek/{product}/{hwid}/{}", tcb.key_part()))
}

/// Cache key of a product's chain: `snp/v1/chain/{vcek|vlek}/{product}`.
pub fn snp_chain_key(product: SnpProduct, kind: SnpKeyKind) -> String {
    format!("snp/v1/chain/{}/{product}", kind.as_str())
}

/// Cache key of a product's CRL: `snp/v1/crl/{vcek|vlek}/{product}`.
pub fn snp_crl_key(product: SnpProduct, kind: SnpKeyKind) -> String {
    format!("snp/v1/crl/{}/{product}", kind.as_str())
}

/// Cache key of an imported VLEK: `snp/v1/vlek/{product}/{tcb}`. VLEKs are
/// not on the public KDS (a cloud provider loads them); they come with the
/// evidence or by import.
pub fn snp_vlek_key(product: SnpProduct, tcb: SnpTcb) -> String {
    let tcb = SnpTcb {
        fmc: if product.has_fmc() { tcb.fmc } else { None },
        ..tcb
    };
    format!("snp/v1/vlek/{product}/{}", tcb.key_part())
}

#[derive(Debug, Clone)]
enum Value {
    Der(Arc<Vec<u8>>),
    Chain(Arc<SnpCertChain>),
    Crl(Arc<SnpCrl>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    /// Newer wins: `nextUpdate` for CRLs, `fetched_at` otherwise.
    rank: i64,
    /// Refetch from here on; `None`: never.
    refresh_at: Option<i64>,
    /// Unusable from here on; `None`: never.
    expires_at: Option<i64>,
}

impl Entry {
    fn fresh(&self, now: i64) -> bool {
        self.refresh_at.is_none_or(|r| now < r)
    }
    fn usable(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

#[derive(Default)]
struct Attempt {
    at: Option<i64>,
    error: Option<CollateralError>,
}

#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<Entry>>>,
    refresh: tokio::sync::Mutex<Attempt>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Entry>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    fn set(&self, e: Arc<Entry>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// What one kind of entry needs: how to fetch it, how to read it back from
/// the cache, how it is stored.
enum Want<'a> {
    Vcek {
        product: SnpProduct,
        chip_id: &'a [u8; 64],
        tcb: SnpTcb,
    },
    Chain {
        product: SnpProduct,
        kind: SnpKeyKind,
    },
    Crl {
        product: SnpProduct,
        kind: SnpKeyKind,
    },
}

/// SEV-SNP endorsements, cached. Cheap to share behind an `Arc`.
pub struct SnpEndorsementService {
    kds: Option<KdsClient>,
    cache: Arc<dyn CollateralCache>,
    opts: SnpOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl SnpEndorsementService {
    /// `kds: None` serves only what the cache holds (offline deployments).
    pub fn new(kds: Option<KdsClient>, cache: Arc<dyn CollateralCache>, opts: SnpOptions) -> Self {
        Self {
            kds,
            cache,
            opts,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &SnpOptions {
        &self.opts
    }

    /// The VCEK (DER) of `chip_id` at `tcb` (the report's `REPORTED_TCB`).
    ///
    /// Errors: [`CollateralError::InvalidSnpRequest`] (zero chip ID, Turin
    /// without FMC SPL); the KDS errors; [`CollateralError::SnpEndorsementMissing`]
    /// offline.
    pub async fn vcek(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        tcb: SnpTcb,
        now: i64,
    ) -> Result<Arc<Vec<u8>>, CollateralError> {
        let key = snp_vcek_key(product, chip_id, tcb)?;
        let want = Want::Vcek {
            product,
            chip_id,
            tcb,
        };
        match self.get(&key, want, now, 0).await?.value {
            Value::Der(ref d) => Ok(d.clone()),
            _ => Err(wrong_kind(&key)),
        }
    }

    /// The intermediate (ASK for `Vcek`, ASVK for `Vlek`) and ARK of `product`.
    pub async fn cert_chain(
        &self,
        product: SnpProduct,
        kind: SnpKeyKind,
        now: i64,
    ) -> Result<Arc<SnpCertChain>, CollateralError> {
        let key = snp_chain_key(product, kind);
        match self
            .get(&key, Want::Chain { product, kind }, now, 0)
            .await?
            .value
        {
            Value::Chain(ref c) => Ok(c.clone()),
            _ => Err(wrong_kind(&key)),
        }
    }

    /// The current CRL of `product`'s VCEK or VLEK hierarchy.
    pub async fn crl(
        &self,
        product: SnpProduct,
        kind: SnpKeyKind,
        now: i64,
    ) -> Result<Arc<SnpCrl>, CollateralError> {
        self.crl_within_grace(product, kind, now, 0)
            .await
            .map(|(c, _)| c)
    }

    /// The CRL of `product`'s VCEK or VLEK hierarchy, served up to
    /// `grace_secs` past its `nextUpdate` (beyond [`SnpOptions::crl_grace`])
    /// when no fresh copy can be fetched: the caller's own grace, such as a
    /// provider's collateral grace. Returns the CRL and, when it is past its
    /// `nextUpdate`, by how many seconds.
    ///
    /// Errors: [`CollateralError::Expired`] for a CRL stale beyond both
    /// graces; the KDS errors or [`CollateralError::SnpEndorsementMissing`]
    /// when there is no CRL at all (none fetched, none imported).
    pub async fn crl_within_grace(
        &self,
        product: SnpProduct,
        kind: SnpKeyKind,
        now: i64,
        grace_secs: u64,
    ) -> Result<(Arc<SnpCrl>, Option<u64>), CollateralError> {
        let key = snp_crl_key(product, kind);
        let got = self
            .get(&key, Want::Crl { product, kind }, now, grace_secs)
            .await?;
        let Value::Crl(ref c) = got.value else {
            return Err(wrong_kind(&key));
        };
        let stale_for = if got.usable(now) {
            None
        } else {
            // Only reachable under grace: say how stale it is in the log.
            tracing::warn!(key, "serving an expired SEV-SNP CRL under the grace period");
            Some(u64::try_from(now.saturating_sub(c.next_update)).unwrap_or(0))
        };
        Ok((c.clone(), stale_for))
    }

    /// An imported VLEK for `product` at `tcb`, from the cache.
    pub async fn cached_vlek(
        &self,
        product: SnpProduct,
        tcb: SnpTcb,
    ) -> Result<Option<Arc<Vec<u8>>>, CollateralError> {
        let key = snp_vlek_key(product, tcb);
        match self.cache.get(&key).await {
            Ok(Some((der, _))) => Ok(Some(Arc::new(der))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(key, error = %e, "SEV-SNP cache read failed");
                Ok(None)
            }
        }
    }

    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slots.get(key) {
            return s.clone();
        }
        if slots.len() >= self.opts.max_keys {
            slots.retain(|_, s| s.current().is_some() || Arc::strong_count(s) > 1);
        }
        let s = Arc::new(Slot::default());
        slots.insert(key.to_owned(), s.clone());
        s
    }

    /// `grace_secs`: how long past `nextUpdate` this caller still takes a
    /// CRL (added to nothing; the larger of it and the service's grace wins).
    async fn get(
        &self,
        key: &str,
        want: Want<'_>,
        now: i64,
        grace_secs: u64,
    ) -> Result<Arc<Entry>, CollateralError> {
        let slot = self.slot(key);
        let current = slot.current();
        if let Some(e) = &current
            && e.fresh(now)
        {
            return Ok(e.clone());
        }
        let mut attempt = match slot.refresh.try_lock() {
            Ok(g) => g,
            Err(_) => match &current {
                Some(e) if e.usable(now) => return Ok(e.clone()),
                _ => {
                    if let Some(kds) = &self.kds
                        && let Some(retry_after) = kds.rate_limited_for()
                    {
                        return Err(CollateralError::KdsRateLimited {
                            url: kds.base_url().to_owned(),
                            retry_after,
                        });
                    }
                    slot.refresh.lock().await
                }
            },
        };
        let mut best = slot.current();
        if let Some(e) = &best
            && e.fresh(now)
        {
            return Ok(e.clone());
        }
        let retry = secs(self.opts.retry_interval);
        if attempt.at.is_some_and(|at| now >= at && now - at < retry) {
            return self.evaluate(key, best, now, attempt.error.clone(), grace_secs);
        }
        if let Some(stored) = self.load(key, &want).await
            && best.as_ref().is_none_or(|b| stored.rank > b.rank)
        {
            slot.set(stored.clone());
            best = Some(stored);
        }
        if let Some(e) = &best
            && e.fresh(now)
        {
            return Ok(e.clone());
        }
        let Some(kds) = &self.kds else {
            return self.evaluate(
                key,
                best,
                now,
                Some(CollateralError::SnpEndorsementMissing {
                    key: key.to_owned(),
                }),
                grace_secs,
            );
        };
        let fetched = self.fetch(kds, &want, now).await;
        // A rate-limit answer is not remembered per key: the client already
        // refuses requests until its back-off ends, and must not make this
        // key wait out the (longer) retry interval after that.
        if !matches!(fetched, Err(CollateralError::KdsRateLimited { .. })) {
            attempt.at = Some(now);
        }
        attempt.error = None;
        match fetched {
            Ok((e, bytes)) => {
                if best.as_ref().is_none_or(|b| e.rank >= b.rank) {
                    self.persist(key, &e, &bytes, now).await;
                    slot.set(e.clone());
                    best = Some(e);
                } else {
                    tracing::warn!(
                        key,
                        "KDS served an older copy than the cached one; keeping ours"
                    );
                }
            }
            Err(err) => {
                tracing::warn!(key, error = %err, "SEV-SNP endorsement fetch failed");
                attempt.error = Some(err);
            }
        }
        self.evaluate(key, best, now, attempt.error.clone(), grace_secs)
    }

    fn evaluate(
        &self,
        key: &str,
        best: Option<Arc<Entry>>,
        now: i64,
        error: Option<CollateralError>,
        grace_secs: u64,
    ) -> Result<Arc<Entry>, CollateralError> {
        let Some(e) = best else {
            return Err(
                error.unwrap_or_else(|| CollateralError::SnpEndorsementMissing {
                    key: key.to_owned(),
                }),
            );
        };
        if e.usable(now) {
            return Ok(e);
        }
        let Value::Crl(crl) = &e.value else {
            // Only CRLs expire.
            return Ok(e);
        };
        let expired_for = u64::try_from(now - crl.next_update).unwrap_or(0);
        let grace = self
            .opts
            .crl_grace
            .map_or(0, |g| g.as_secs())
            .max(grace_secs);
        if expired_for <= grace && (grace > 0 || self.opts.crl_grace.is_some()) {
            return Ok(e);
        }
        Err(CollateralError::Expired {
            key: key.to_owned(),
            next_update: crl.next_update,
            expired_for,
            cause: error.map(Box::new),
        })
    }

    fn crl_entry(&self, der: Vec<u8>, next_update: i64, fetched_at: i64) -> Arc<Entry> {
        Arc::new(Entry {
            value: Value::Crl(Arc::new(SnpCrl {
                der,
                next_update,
                fetched_at,
            })),
            rank: next_update,
            refresh_at: Some(next_update.saturating_sub(secs(self.opts.crl_refresh_margin))),
            expires_at: Some(next_update),
        })
    }

    fn chain_entry(&self, chain: SnpCertChain, fetched_at: i64) -> Arc<Entry> {
        Arc::new(Entry {
            value: Value::Chain(Arc::new(chain)),
            rank: fetched_at,
            refresh_at: Some(fetched_at.saturating_add(secs(self.opts.chain_refresh))),
            expires_at: None,
        })
    }

    fn der_entry(der: Vec<u8>, fetched_at: i64) -> Arc<Entry> {
        Arc::new(Entry {
            value: Value::Der(Arc::new(der)),
            rank: fetched_at,
            refresh_at: None,
            expires_at: None,
        })
    }

    /// Reads an entry back from its stored bytes, checking it is what the
    /// key says.
    fn decode(
        &self,
        want: &Want<'_>,
        bytes: Vec<u8>,
        fetched_at: i64,
    ) -> Result<Arc<Entry>, CollateralError> {
        Ok(match *want {
            Want::Vcek {
                product,
                chip_id,
                tcb,
            } => {
                check_vcek(&bytes, product, chip_id, tcb)?;
                Self::der_entry(bytes, fetched_at)
            }
            Want::Chain { product, kind } => {
                self.chain_entry(SnpCertChain::from_pem(product, kind, &bytes)?, fetched_at)
            }
            Want::Crl { product, .. } => {
                let next = crl_next_update(&format!("{product} CRL"), &bytes, product)?;
                self.crl_entry(bytes, next, fetched_at)
            }
        })
    }

    async fn fetch(
        &self,
        kds: &KdsClient,
        want: &Want<'_>,
        now: i64,
    ) -> Result<(Arc<Entry>, Vec<u8>), CollateralError> {
        Ok(match *want {
            Want::Vcek {
                product,
                chip_id,
                tcb,
            } => {
                let der = kds.fetch_vcek(product, chip_id, tcb).await?;
                (Self::der_entry(der.clone(), now), der)
            }
            Want::Chain { product, kind } => {
                let chain = kds.fetch_cert_chain(product, kind).await?;
                let pem = chain.to_pem().into_bytes();
                (self.chain_entry(chain, now), pem)
            }
            Want::Crl { product, kind } => {
                let (der, next) = kds.fetch_crl(product, kind).await?;
                (self.crl_entry(der.clone(), next, now), der)
            }
        })
    }

    async fn load(&self, key: &str, want: &Want<'_>) -> Option<Arc<Entry>> {
        let (bytes, fetched_at) = match self.cache.get(key).await {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(key, error = %e, "SEV-SNP cache read failed");
                return None;
            }
        };
        match self.decode(want, bytes, fetched_at) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(key, error = %e, "ignoring unusable cached SEV-SNP endorsement");
                None
            }
        }
    }

    async fn persist(&self, key: &str, e: &Entry, bytes: &[u8], fetched_at: i64) {
        let expires_at = match &e.value {
            Value::Crl(c) => c
                .next_update
                .saturating_add(self.opts.crl_grace.map_or(0, secs)),
            _ => i64::MAX,
        };
        if let Err(err) = self.cache.put(key, bytes, fetched_at, expires_at).await {
            tracing::warn!(key, error = %err, "SEV-SNP cache write failed");
        }
    }

    /// Forgets what this node holds in memory under `key` (after the entry
    /// was deleted from the shared cache), so the next request for it reads
    /// the shared cache and then KDS again.
    pub fn forget(&self, key: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Imports a directory of endorsements (see [`crate::import_snp_dir`])
    /// into this service's memory and its shared cache. Returns the keys
    /// written.
    pub async fn import_dir(&self, dir: &Path, now: i64) -> Result<Vec<String>, CollateralError> {
        let bundle = read_bundle(dir).await?;
        let keys = store_snp_bundle(self.cache.as_ref(), &bundle, now).await?;
        // Forget what memory holds for those keys (and any remembered
        // failure) so the next request reads the imported copy.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        for k in &keys {
            slots.remove(k);
        }
        Ok(keys)
    }
}

fn wrong_kind(key: &str) -> CollateralError {
    CollateralError::CacheFormat {
        reason: format!("entry {key} holds the wrong kind of value"),
    }
}

async fn read_bundle(dir: &Path) -> Result<SnpBundle, CollateralError> {
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || read_snp_dir(&d))
        .await
        .map_err(|e| CollateralError::Io {
            path: dir.to_path_buf(),
            reason: format!("reading endorsements failed: {e}"),
        })?
}

/// Stores a read bundle in a shared cache under the keys
/// [`SnpEndorsementService`] reads. Returns the keys written.
pub async fn store_snp_bundle(
    cache: &dyn CollateralCache,
    bundle: &SnpBundle,
    fetched_at: i64,
) -> Result<Vec<String>, CollateralError> {
    let mut keys = Vec::new();
    let put = |key: String, bytes: Vec<u8>| async move {
        cache
            .put(&key, &bytes, fetched_at, i64::MAX)
            .await
            .map_err(|reason| CollateralError::CacheUnavailable { reason })?;
        Ok::<String, CollateralError>(key)
    };
    for der in &bundle.vceks {
        let f = endorsement_facts(der)?;
        let mut chip_id = [0u8; 64];
        let hwid = f.hwid.as_deref().unwrap_or_default();
        let n = hwid.len().min(64);
        chip_id[..n].copy_from_slice(&hwid[..n]);
        keys.push(put(snp_vcek_key(f.product, &chip_id, f.tcb)?, der.clone()).await?);
    }
    for der in &bundle.vleks {
        let f = endorsement_facts(der)?;
        keys.push(put(snp_vlek_key(f.product, f.tcb), der.clone()).await?);
    }
    for c in &bundle.chains {
        keys.push(put(snp_chain_key(c.product, c.kind), c.to_pem().into_bytes()).await?);
    }
    for crl in &bundle.crls {
        keys.push(put(snp_crl_key(crl.product, crl.kind), crl.der.clone()).await?);
    }
    Ok(keys)
}

/// Reads SEV-SNP endorsements from `dir` and stores them in `cache` under
/// the keys [`SnpEndorsementService`] reads (what `attesta collateral
/// import` does for SNP). Returns the keys written.
pub async fn import_snp_dir(
    cache: &dyn CollateralCache,
    dir: &Path,
    now: i64,
) -> Result<Vec<String>, CollateralError> {
    let bundle = read_bundle(dir).await?;
    store_snp_bundle(cache, &bundle, now).await
}
