//! [`CollateralService`]: the cache every DCAP verification goes through.
//!
//! Per key `(tee, root, fmspc, ca)` ([`crate::cache_key`]; `root` is the
//! SHA-256 fingerprint of the root certificate the set's issuer chains end
//! at) it keeps the newest collateral in memory and in
//! a shared [`CollateralCache`], and decides when to go upstream:
//!
//! - **fresh** (more than `refresh_margin` before the earliest `nextUpdate`):
//!   served from memory, no I/O;
//! - **due** (inside the margin): one caller refreshes — first from the
//!   shared cache (another node may have done the work), then from the
//!   source; callers arriving meanwhile get the still-valid copy at once;
//! - **cold or expired**: callers wait for the one upstream request
//!   (single-flight: a per-key async mutex, re-checked after acquiring);
//! - **expired and not refreshable**: an error (fail closed), or with a
//!   configured grace the stale copy marked `stale_for` seconds.
//!
//! Upstream attempts per key are spaced by `retry_interval`, so an outage
//! costs one request per key per interval, not one per attestation.
//! Time is a parameter (`now`, Unix seconds), so tests drive expiry without
//! sleeping and the server passes its clock once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use attesta_evidence::dcap::{DcapCollateral, DcapTee};

use crate::bundle::{Source, decode, encode};
use crate::cache::CollateralCache;
use crate::error::CollateralError;
use crate::parts::{
    ChainRoot, PckCa, cache_key, check_matches, fmspc_of, intel_root_fingerprint, normalize_fmspc,
    pck_ca_of, root_of, version_of,
};
use crate::source::CollateralSource;

/// Tuning of [`CollateralService`].
#[derive(Debug, Clone)]
pub struct CollateralOptions {
    /// Refresh when the earliest `nextUpdate` is closer than this.
    pub refresh_margin: Duration,
    /// Serve expired collateral (marked stale) this long past `nextUpdate`
    /// when it cannot be refreshed. `None`: fail closed at `nextUpdate`.
    pub grace: Option<Duration>,
    /// Least time between two upstream attempts for one key.
    pub retry_interval: Duration,
    /// Bound on the number of keys tracked in memory; beyond it, keys that
    /// never got collateral (unknown FMSPCs) are forgotten first.
    pub max_keys: usize,
}

impl Default for CollateralOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(3600),
            grace: None,
            retry_interval: Duration::from_secs(60),
            max_keys: 4096,
        }
    }
}

/// Collateral as handed to a verifier.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub collateral: Arc<DcapCollateral>,
    /// Earliest `nextUpdate` of the parts, Unix seconds.
    pub next_update: i64,
    /// `Some(seconds past nextUpdate)` when served stale under the grace
    /// period; the token should say so.
    pub stale_for: Option<u64>,
    /// SHA-256 over all parts ([`crate::version_of`]): verifiers cache their
    /// verified forms by it.
    pub version: [u8; 32],
    /// When this copy was fetched from its source, Unix seconds.
    pub fetched_at: i64,
}

/// What [`CollateralService::import`] did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub fetched: Fetched,
    /// The cache key (and admin API id) the set is filed under.
    pub key: String,
    pub tee: DcapTee,
    pub fmspc: String,
    pub ca: PckCa,
    /// The root its issuer chains end at.
    pub root: ChainRoot,
    /// The `nextUpdate` of the entry it replaced, if there was one.
    pub replaced_next_update: Option<i64>,
}

#[derive(Debug)]
struct Entry {
    collateral: Arc<DcapCollateral>,
    next_update: i64,
    version: [u8; 32],
    fetched_at: i64,
    source: Source,
}

impl Entry {
    fn new(c: DcapCollateral, next_update: i64, fetched_at: i64, source: Source) -> Arc<Self> {
        Arc::new(Entry {
            version: version_of(&c),
            collateral: Arc::new(c),
            next_update,
            fetched_at,
            source,
        })
    }

    fn fetched(&self, stale_for: Option<u64>) -> Fetched {
        Fetched {
            collateral: self.collateral.clone(),
            next_update: self.next_update,
            stale_for,
            version: self.version,
            fetched_at: self.fetched_at,
        }
    }
}

#[derive(Default)]
struct Attempt {
    at: Option<i64>,
    error: Option<CollateralError>,
}

struct Slot {
    tee: DcapTee,
    root: [u8; 32],
    fmspc: String,
    ca: PckCa,
    current: RwLock<Option<Arc<Entry>>>,
    /// Held by the one caller refreshing this key.
    refresh: tokio::sync::Mutex<Attempt>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Entry>> {
        // Writers only swap an Arc, so a poisoned lock holds a whole value.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, e: Arc<Entry>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// The key of an imported set and the root it is filed under.
fn identify(
    c: &DcapCollateral,
) -> Result<(DcapTee, String, PckCa, ChainRoot, i64), CollateralError> {
    let (tee, fmspc) = fmspc_of(c)?;
    let ca = pck_ca_of(c)?;
    let next_update = check_matches(c, tee, &fmspc, ca)?;
    let root = root_of(c)?;
    Ok((tee, fmspc, ca, root, next_update))
}

/// `check_matches` plus the root: a set under another root than asked is
/// not this key's.
fn check_key(
    c: &DcapCollateral,
    tee: DcapTee,
    root: &[u8; 32],
    fmspc: &str,
    ca: PckCa,
) -> Result<i64, CollateralError> {
    let next = check_matches(c, tee, fmspc, ca)?;
    let got = root_of(c)?;
    if got.fingerprint != *root {
        return Err(CollateralError::malformed(
            "issuer chains",
            format!(
                "they end at root {} ({}), but collateral under root {} was asked",
                hex::encode(got.fingerprint),
                got.subject,
                hex::encode(root)
            ),
        ));
    }
    Ok(next)
}

/// What the cache has done since start, for metrics: lookups answered from
/// memory or the shared cache (`hits`), lookups that had to go upstream
/// (`misses`), upstream requests made and upstream requests that failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CollateralCounts {
    pub hits: u64,
    pub misses: u64,
    pub upstream_fetches: u64,
    pub upstream_failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    upstream_fetches: AtomicU64,
    upstream_failures: AtomicU64,
}

impl Counters {
    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
}

/// The DCAP collateral cache. Cheap to share behind an `Arc`.
pub struct CollateralService {
    source: Box<dyn CollateralSource>,
    cache: Arc<dyn CollateralCache>,
    opts: CollateralOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    counters: Counters,
}

impl CollateralService {
    pub fn new(
        source: Box<dyn CollateralSource>,
        cache: Arc<dyn CollateralCache>,
        opts: CollateralOptions,
    ) -> Self {
        Self {
            source,
            cache,
            opts,
            slots: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    pub fn options(&self) -> &CollateralOptions {
        &self.opts
    }

    /// Cache and upstream counts since start.
    pub fn counts(&self) -> CollateralCounts {
        let c = &self.counters;
        CollateralCounts {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            upstream_fetches: c.upstream_fetches.load(Ordering::Relaxed),
            upstream_failures: c.upstream_failures.load(Ordering::Relaxed),
        }
    }

    /// The earliest `nextUpdate` (Unix seconds) of the collateral this node
    /// holds in memory, `None` when it holds none: the time by which a
    /// refresh must have succeeded.
    pub fn earliest_next_update(&self) -> Option<i64> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .values()
            .filter_map(|s| s.current().map(|e| e.next_update))
            .min()
    }

    /// The keys and `nextUpdate` of the collateral held in
    /// memory.
    pub fn held(&self) -> Vec<(String, i64)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, i64)> = slots
            .iter()
            .filter_map(|(k, s)| s.current().map(|e| (k.clone(), e.next_update)))
            .collect();
        out.sort();
        out
    }

    fn slot(&self, tee: DcapTee, root: &[u8; 32], fmspc: &str, ca: PckCa, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slots.get(key) {
            return s.clone();
        }
        if slots.len() >= self.opts.max_keys {
            // Keep slots holding collateral or in use by a waiting caller.
            slots.retain(|_, s| s.current().is_some() || Arc::strong_count(s) > 1);
        }
        let s = Arc::new(Slot {
            tee,
            root: *root,
            fmspc: fmspc.to_owned(),
            ca,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(Attempt::default()),
        });
        slots.insert(key.to_owned(), s.clone());
        s
    }

    fn is_fresh(&self, e: &Entry, now: i64) -> bool {
        let margin = i64::try_from(self.opts.refresh_margin.as_secs()).unwrap_or(i64::MAX);
        now < e.next_update.saturating_sub(margin)
    }

    /// Collateral for `(tee, fmspc, ca)` under Intel's root, valid at `now`
    /// (Unix seconds): [`Self::get_under`] with [`intel_root_fingerprint`].
    pub async fn get(
        &self,
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
        now: i64,
    ) -> Result<Fetched, CollateralError> {
        self.get_under(&intel_root_fingerprint(), tee, fmspc, ca, now)
            .await
    }

    /// Collateral for `(tee, fmspc, ca)` whose issuer chains end at the root
    /// with SHA-256 fingerprint `root`, valid at `now` (Unix seconds).
    /// Entries under other roots are never considered, so collateral under
    /// a test root cannot stand in for Intel's.
    ///
    /// Errors: [`CollateralError::InvalidFmspc`]; the source's error when
    /// there is no copy at all; [`CollateralError::Expired`] when the only
    /// copy is past `nextUpdate` (plus grace).
    pub async fn get_under(
        &self,
        root: &[u8; 32],
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
        now: i64,
    ) -> Result<Fetched, CollateralError> {
        let fmspc = normalize_fmspc(fmspc)?;
        let key = cache_key(tee, root, &fmspc, ca);
        let slot = self.slot(tee, root, &fmspc, ca, &key);

        let current = slot.current();
        if let Some(e) = &current
            && self.is_fresh(e, now)
        {
            self.counters.hit();
            return Ok(e.fetched(None));
        }
        let mut attempt = match slot.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => match &current {
                // Someone is refreshing; the copy we have is still valid.
                Some(e) if now < e.next_update => {
                    self.counters.hit();
                    return Ok(e.fetched(None));
                }
                _ => slot.refresh.lock().await,
            },
        };

        // Whoever held the lock before us may have refreshed already.
        let mut best = slot.current();
        if let Some(e) = &best
            && self.is_fresh(e, now)
        {
            self.counters.hit();
            return Ok(e.fetched(None));
        }
        let retry = i64::try_from(self.opts.retry_interval.as_secs()).unwrap_or(i64::MAX);
        if attempt.at.is_some_and(|at| now >= at && now - at < retry) {
            return self.evaluate(&key, best, now, attempt.error.clone());
        }
        // The shared cache first: a restart or another node may have it.
        // Its copy wins when it is newer, or was written later (an explicit
        // import on another node replaces even a newer set).
        if let Some(stored) = self.load(&key, tee, root, &fmspc, ca).await
            && best.as_ref().is_none_or(|b| {
                stored.version != b.version
                    && (stored.next_update > b.next_update || stored.fetched_at > b.fetched_at)
            })
        {
            slot.set(stored.clone());
            best = Some(stored);
        }
        if let Some(e) = &best
            && self.is_fresh(e, now)
        {
            self.counters.hit();
            return Ok(e.fetched(None));
        }

        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.counters
            .upstream_fetches
            .fetch_add(1, Ordering::Relaxed);
        let fetched = self.fetch_upstream(tee, root, &fmspc, ca, now).await;
        // Recorded only once the attempt completed: a caller cancelled
        // mid-fetch (client gone) must not make the next one wait out the
        // retry interval with nothing to show.
        attempt.at = Some(now);
        attempt.error = None;
        match fetched {
            Ok(e) => {
                if best.as_ref().is_none_or(|b| e.next_update >= b.next_update) {
                    self.persist(&key, &e).await;
                    slot.set(e.clone());
                    best = Some(e);
                } else {
                    // A cache or mirror serving an older set than we hold:
                    // keep ours rather than roll back.
                    tracing::warn!(
                        key,
                        source = %self.source.describe(),
                        "upstream collateral is older than the cached copy; keeping the cached copy"
                    );
                }
            }
            Err(err) => {
                self.counters
                    .upstream_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(key, error = %err, "collateral refresh failed");
                attempt.error = Some(err);
            }
        }
        self.evaluate(&key, best, now, attempt.error.clone())
    }

    /// Decides what to hand out once no refresh is possible right now.
    fn evaluate(
        &self,
        key: &str,
        best: Option<Arc<Entry>>,
        now: i64,
        error: Option<CollateralError>,
    ) -> Result<Fetched, CollateralError> {
        let Some(e) = best else {
            return Err(
                error.unwrap_or_else(|| CollateralError::UpstreamUnavailable {
                    url: self.source.describe(),
                    reason: "no collateral has been fetched for this key yet".into(),
                }),
            );
        };
        if now < e.next_update {
            return Ok(e.fetched(None));
        }
        let expired_for = u64::try_from(now - e.next_update).unwrap_or(0);
        if let Some(grace) = self.opts.grace
            && expired_for <= grace.as_secs()
        {
            tracing::warn!(
                key,
                expired_for,
                "serving expired collateral under the grace period"
            );
            return Ok(e.fetched(Some(expired_for)));
        }
        Err(CollateralError::Expired {
            key: key.to_owned(),
            next_update: e.next_update,
            expired_for,
            cause: error.map(Box::new),
        })
    }

    async fn fetch_upstream(
        &self,
        tee: DcapTee,
        root: &[u8; 32],
        fmspc: &str,
        ca: PckCa,
        now: i64,
    ) -> Result<Arc<Entry>, CollateralError> {
        let c = self.source.fetch_under(tee, root, fmspc, ca).await?;
        let next_update = check_key(&c, tee, root, fmspc, ca)?;
        Ok(Entry::new(c, next_update, now, Source::Fetched))
    }

    async fn load(
        &self,
        key: &str,
        tee: DcapTee,
        root: &[u8; 32],
        fmspc: &str,
        ca: PckCa,
    ) -> Option<Arc<Entry>> {
        let (bytes, fetched_at) = match self.cache.get(key).await {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(key, error = %e, "collateral cache read failed");
                return None;
            }
        };
        let checked = decode(&bytes).and_then(|(c, source)| {
            let next = check_key(&c, tee, root, fmspc, ca)?;
            Ok(Entry::new(
                c,
                next,
                fetched_at,
                source.unwrap_or(Source::Fetched),
            ))
        });
        match checked {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(key, error = %e, "ignoring unusable cached collateral");
                None
            }
        }
    }

    async fn persist(&self, key: &str, e: &Entry) {
        let grace = self.opts.grace.map_or(0, |g| g.as_secs());
        let expires_at = e
            .next_update
            .saturating_add(i64::try_from(grace).unwrap_or(i64::MAX));
        if let Err(err) = self
            .cache
            .put(
                key,
                &encode(&e.collateral, Some(e.source)),
                e.fetched_at,
                expires_at,
            )
            .await
        {
            // The copy in memory still serves this node.
            tracing::warn!(key, error = %err, "collateral cache write failed");
        }
    }

    /// Refreshes every key that holds collateral and is due (inside the
    /// refresh margin or expired), so a background task can keep collateral
    /// warm and no attestation pays for a fetch. Returns the keys it tried
    /// and their outcome; failures are also logged.
    pub async fn refresh_due(&self, now: i64) -> Vec<(String, Result<Fetched, CollateralError>)> {
        let due: Vec<Arc<Slot>> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .values()
                .filter(|s| s.current().is_some_and(|e| !self.is_fresh(&e, now)))
                .cloned()
                .collect()
        };
        let mut out = Vec::with_capacity(due.len());
        for s in due {
            let key = cache_key(s.tee, &s.root, &s.fmspc, s.ca);
            out.push((
                key,
                self.get_under(&s.root, s.tee, &s.fmspc, s.ca, now).await,
            ));
        }
        out
    }

    /// Adds an imported bundle (e.g. from [`crate::import_dir`]) to this
    /// service and its shared cache, under the key its contents name
    /// (including the root its chains end at). An explicit import replaces
    /// the entry with the same key, even a newer one (logged as a warning):
    /// the operator's choice wins until the next refresh from upstream.
    pub async fn import(&self, c: DcapCollateral, now: i64) -> Result<Imported, CollateralError> {
        let (tee, fmspc, ca, root, next_update) = identify(&c)?;
        let key = cache_key(tee, &root.fingerprint, &fmspc, ca);
        let slot = self.slot(tee, &root.fingerprint, &fmspc, ca, &key);
        let mut attempt = slot.refresh.lock().await;
        let previous = match slot.current() {
            Some(e) => Some(e),
            None => self.load(&key, tee, &root.fingerprint, &fmspc, ca).await,
        };
        let e = Entry::new(c, next_update, now, Source::Imported);
        if let Some(p) = &previous
            && p.next_update > e.next_update
        {
            tracing::warn!(
                key,
                replaced_next_update = p.next_update,
                next_update = e.next_update,
                "imported collateral is older than the cached copy it replaces"
            );
        }
        self.persist(&key, &e).await;
        slot.set(e.clone());
        // A remembered upstream failure must not hide the import.
        *attempt = Attempt::default();
        Ok(Imported {
            fetched: e.fetched(None),
            key,
            tee,
            fmspc,
            ca,
            root,
            replaced_next_update: previous.map(|p| p.next_update),
        })
    }

    /// Forgets what this node holds in memory under `key` (after the entry
    /// was deleted from the shared cache), so the next request for it reads
    /// the shared cache and then the source again.
    pub fn forget(&self, key: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Stores a collateral set in a shared cache under the key its contents name
/// (what `attesta collateral import` does without a running service),
/// replacing any entry with that key. Returns the key.
pub async fn store_bundle(
    cache: &dyn CollateralCache,
    c: &DcapCollateral,
    fetched_at: i64,
    grace: Option<Duration>,
) -> Result<String, CollateralError> {
    let (tee, fmspc, ca, root, next_update) = identify(c)?;
    let key = cache_key(tee, &root.fingerprint, &fmspc, ca);
    let expires_at = next_update
        .saturating_add(i64::try_from(grace.map_or(0, |g| g.as_secs())).unwrap_or(i64::MAX));
    cache
        .put(
            &key,
            &encode(c, Some(Source::Imported)),
            fetched_at,
            expires_at,
        )
        .await
        .map_err(|reason| CollateralError::CacheUnavailable { reason })?;
    Ok(key)
}
