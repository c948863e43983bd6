//! Shared server state: configuration, store, signing keys and the cache of
//! compiled policies.
//!
//! Several nodes: the change watcher ([`crate::cluster`]) marks every cached
//! provider and policy invalidated as soon as the store's change counter
//! moves, so a change on any node is served everywhere within
//! `store.poll_interval_ms`: the next request re-reads the store and waits
//! for that read rather than use what it had. Invalidated entries are
//! marked, never dropped: while the database is unreachable, cached
//! providers and policies keep being served however old or invalidated (the
//! attest path never writes to it), so a change noticed just before the
//! database went away cannot stop attestation.
//!
//! Policies are compiled once, when first needed after they change, and kept
//! in compiled form; an attest request never re-parses policy text. Each node
//! re-reads a cached policy from the store after `policy_cache_ttl_secs`, so
//! nodes sharing a store converge on a policy change within that bound, and a
//! write on this node invalidates its own entry at once.
//!
//! A refresh never makes requests wait on each other or recompile: compiled
//! policies are kept by the SHA-256 of their text, so re-reading unchanged
//! text costs a hash; one request per (provider, type) refreshes while the
//! others keep the policy they had (single flight per key, and single flight
//! per text for a compile). Compiling runs on the policy pool
//! ([`crate::policy_pool`]) within its time budget; a failed compile is
//! remembered for one TTL so a bad policy is not recompiled per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use attesta_evidence::AttestationType;
use attesta_policy::CompiledPolicy;
use attesta_store::{ProviderRecord, Store};

use crate::config::Config;
use crate::error::ApiError;

/// The policy a provider applies to one attestation type.
#[derive(Debug, Clone)]
pub struct ActivePolicy {
    /// Policy text.
    pub text: String,
    /// The JWS as uploaded (for defaults: the unsigned JWS of the text).
    pub jws: String,
    /// Compiled form.
    pub compiled: CompiledPolicy,
    /// `x-ms-policy-hash`.
    pub hash: String,
    /// JWK of the signer when the policy was uploaded signed.
    pub signer: Option<serde_json::Value>,
    /// True when no policy was set and the type's default applies.
    pub is_default: bool,
}

struct CachedPolicy {
    policy: Option<Arc<ActivePolicy>>,
    loaded: Instant,
    /// Set by an invalidation: re-read before use unless the store is
    /// unreachable.
    invalidated: bool,
}

/// A provider record (or its absence), when it was read and whether an
/// invalidation has marked it since.
struct CachedProvider {
    record: Option<Arc<ProviderRecord>>,
    loaded: Instant,
    invalidated: bool,
}

/// State shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    /// What `store` did (when it is the server's [`crate::cluster::TrackedStore`]).
    pub store_ops: Arc<crate::cluster::StoreOps>,
    /// Each provider's token-signing keys (see [`crate::signing`]).
    pub signing: Arc<crate::signing::ProviderKeys>,
    /// The port this node listens on, once bound (the issuer's port when no
    /// `public_url` is configured).
    pub bound_port: Arc<std::sync::OnceLock<u16>>,
    /// SHA-256 of the admin token.
    pub admin_token_hash: Arc<[u8; 32]>,
    /// The evidence verifiers this build has.
    pub verifiers: Arc<crate::evidence::Verifiers>,
    /// Vendor collateral (fetch, cache, import).
    pub collateral: Arc<attesta_collateral::CollateralService>,
    /// Seals the TPM protocol's service_context.
    pub tpm_context: Arc<crate::tpm::ContextKey>,
    /// SEV-SNP endorsements (AMD KDS, cache, import).
    pub snp_endorsements: Arc<attesta_collateral::SnpEndorsementService>,
    /// Verified TPM AK certificate chains (see `tpm::verify_cached`).
    pub tpm_chains: Arc<crate::cache::VersionCache<attesta_evidence::tpm::VerifiedAkChain>>,
    /// Throttles and load shedding (see [`crate::throttle`]).
    pub throttle: Arc<crate::throttle::Throttle>,
    /// Where policies compile and evaluate (see [`crate::policy_pool`]).
    pub policy_pool: Arc<crate::policy_pool::PolicyPool>,
    policies: Arc<RwLock<HashMap<(String, AttestationType), CachedPolicy>>>,
    /// One loader per (provider, type) at a time.
    policy_loaders: Arc<Mutex<HashMap<PolicyKey, Arc<tokio::sync::Mutex<()>>>>>,
    /// Compiled policies by SHA-256 of their text.
    compiled: Arc<Mutex<HashMap<[u8; 32], CompiledEntry>>>,
    /// Bumped by every invalidation, so a load that started before one does
    /// not cache what it read.
    policy_generation: Arc<AtomicU64>,
    providers: Arc<RwLock<HashMap<String, CachedProvider>>>,
    /// False while the change watcher cannot reach the store.
    store_reachable: Arc<AtomicBool>,
}

/// The caches the change watcher ([`crate::cluster`]) drops when another
/// node changed the store, without holding the whole state.
pub struct Caches {
    policies: Arc<RwLock<HashMap<(String, AttestationType), CachedPolicy>>>,
    policy_generation: Arc<AtomicU64>,
    providers: Arc<RwLock<HashMap<String, CachedProvider>>>,
    store_reachable: Arc<AtomicBool>,
}

impl Caches {
    /// Mark every cached provider and policy invalidated: each is re-read
    /// before its next use, and served as it was only while the store is
    /// unreachable (compiled texts stay valid: they are keyed by content).
    pub fn invalidate_all(&self) {
        self.policy_generation.fetch_add(1, Ordering::AcqRel);
        for c in self
            .policies
            .write()
            .expect("policy cache lock")
            .values_mut()
        {
            c.invalidated = true;
        }
        for c in self
            .providers
            .write()
            .expect("provider cache lock")
            .values_mut()
        {
            c.invalidated = true;
        }
    }

    /// Record whether the store answers; true when that changed.
    pub fn set_store_reachable(&self, reachable: bool) -> bool {
        self.store_reachable.swap(reachable, Ordering::AcqRel) != reachable
    }
}

/// The canonical base URL of `provider` on a node of `config` listening on
/// `port` (see [`AppState::canonical_base`]).
fn canonical_base_of(config: &Config, port: u16, provider: &str) -> String {
    let origin = crate::provider::canonical_origin(config, port);
    if provider == config.default_provider.name {
        origin
    } else {
        format!("{origin}/providers/{provider}")
    }
}

/// A provider and an attestation type.
type PolicyKey = (String, AttestationType);

/// A compile of one policy text, shared by everyone who waits for it, and
/// when it was started.
type CompiledEntry = (
    Arc<tokio::sync::OnceCell<Result<CompiledPolicy, ApiError>>>,
    Instant,
);

/// Compiled texts remembered at most (beyond it the table starts over; the
/// active policies keep their compiled form).
const MAX_COMPILED: usize = 1024;

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        signing: crate::signing::ProviderKeys,
        admin_token_hash: [u8; 32],
        verifiers: crate::evidence::Verifiers,
        collateral: Arc<attesta_collateral::CollateralService>,
        tpm_context: crate::tpm::ContextKey,
        snp_endorsements: Arc<attesta_collateral::SnpEndorsementService>,
    ) -> Self {
        let throttle = Arc::new(crate::throttle::Throttle::new(&config.limits));
        let policy_pool = Arc::new(crate::policy_pool::PolicyPool::new(&config.limits));
        Self {
            config: Arc::new(config),
            store,
            store_ops: Arc::new(crate::cluster::StoreOps::default()),
            signing: Arc::new(signing),
            bound_port: Arc::new(std::sync::OnceLock::new()),
            admin_token_hash: Arc::new(admin_token_hash),
            verifiers: Arc::new(verifiers),
            collateral,
            tpm_context: Arc::new(tpm_context),
            snp_endorsements,
            tpm_chains: Arc::new(crate::cache::VersionCache::new(16_384)),
            throttle,
            policy_pool,
            policies: Arc::new(RwLock::new(HashMap::new())),
            policy_loaders: Arc::new(Mutex::new(HashMap::new())),
            compiled: Arc::new(Mutex::new(HashMap::new())),
            policy_generation: Arc::new(AtomicU64::new(0)),
            providers: Arc::new(RwLock::new(HashMap::new())),
            store_reachable: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Handles on the caches, for the change watcher.
    pub fn caches(&self) -> Caches {
        Caches {
            policies: self.policies.clone(),
            policy_generation: self.policy_generation.clone(),
            providers: self.providers.clone(),
            store_reachable: self.store_reachable.clone(),
        }
    }

    /// Whether any existing provider is cached (what serves attestation
    /// while the database is unreachable).
    pub fn has_cached_providers(&self) -> bool {
        self.providers
            .read()
            .expect("provider cache lock")
            .values()
            .any(|c| c.record.is_some())
    }

    /// Whether the change watcher reached the store at its last check.
    pub fn store_reachable(&self) -> bool {
        self.store_reachable.load(Ordering::Acquire)
    }

    /// The port this node listens on (the configured one until bound).
    pub fn port(&self) -> u16 {
        self.bound_port
            .get()
            .copied()
            .unwrap_or(self.config.listen.port())
    }

    /// The canonical base URL of a provider, for its signing certificate's
    /// subject: `public_url` (else `https://localhost:<port>`), with
    /// `/providers/<name>` for every provider but the default.
    pub fn canonical_base(&self, provider: &str) -> String {
        canonical_base_of(&self.config, self.port(), provider)
    }

    /// [`Self::canonical_base`] as a function that holds no state, for the
    /// change watcher (which must not keep the server alive).
    pub fn subject_fn(&self) -> crate::signing::SubjectFn {
        let config = Arc::new((*self.config).clone());
        let bound = self.bound_port.clone();
        Arc::new(move |provider| {
            let port = bound.get().copied().unwrap_or(config.listen.port());
            canonical_base_of(&config, port, provider)
        })
    }

    /// A provider by name, cached for `policy_cache_ttl_secs` like policies
    /// (a delete on this node invalidates at once).
    pub async fn provider(&self, name: &str) -> Result<Option<Arc<ProviderRecord>>, ApiError> {
        let ttl = Duration::from_secs(self.config.policy_cache_ttl_secs);
        let cached = self
            .providers
            .read()
            .expect("provider cache lock")
            .get(name)
            .map(|c| (c.record.clone(), !c.invalidated && c.loaded.elapsed() < ttl));
        if let Some((p, true)) = cached {
            return Ok(p);
        }
        let generation = self.policy_generation.load(Ordering::Acquire);
        let record = match self.store.get_provider(name).await {
            Ok(r) => r.map(Arc::new),
            // The data plane keeps going on what it knew while the database
            // is unreachable, invalidated or not; it is re-read once the
            // database returns.
            Err(attesta_store::StoreError::Unavailable(e)) if cached.is_some() => {
                tracing::debug!(provider = name, error = %e, "store unreachable: cached provider");
                return Ok(cached.and_then(|(p, _)| p));
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        let mut cache = self.providers.write().expect("provider cache lock");
        // An invalidation since the read: what was read may be stale, and
        // the entry it marked stays marked.
        if self.policy_generation.load(Ordering::Acquire) != generation {
            return Ok(record);
        }
        // Host names are attacker-chosen: bound what unknown names can cost,
        // and let them evict only each other, never a provider that exists
        // (which must stay to serve through a database outage).
        if cache.len() > 10_000 {
            cache.retain(|_, c| c.record.is_some());
            if cache.len() > 10_000 {
                cache.clear();
            }
        }
        cache.insert(
            name.to_string(),
            CachedProvider {
                record: record.clone(),
                loaded: Instant::now(),
                invalidated: false,
            },
        );
        Ok(record)
    }

    /// The policy `provider` applies to `ty`: the stored one, else the type's
    /// default, else `None` (TPM has no default: attestation is refused until
    /// a policy is set).
    pub async fn policy(
        &self,
        provider: &str,
        ty: AttestationType,
    ) -> Result<Option<Arc<ActivePolicy>>, ApiError> {
        let key = (provider.to_string(), ty);
        let ttl = Duration::from_secs(self.config.policy_cache_ttl_secs);
        let cached = self
            .policies
            .read()
            .expect("policy cache lock")
            .get(&key)
            .map(|c| (c.policy.clone(), c.invalidated, c.loaded.elapsed() < ttl));
        if let Some((policy, false, true)) = cached {
            return Ok(policy);
        }
        let loader = {
            let mut loaders = self.policy_loaders.lock().expect("policy loader lock");
            if !loaders.contains_key(&key) && loaders.len() >= 10_000 {
                loaders.retain(|_, l| Arc::strong_count(l) > 1);
            }
            loaders.entry(key.clone()).or_default().clone()
        };
        let _loading = match (loader.clone().try_lock_owned(), cached.clone()) {
            (Ok(guard), _) => guard,
            // Another request is refreshing an entry that merely aged: keep
            // serving what we had.
            (Err(_), Some((old, false, _))) => return Ok(old),
            // Nothing to serve yet, or what we had was invalidated by a
            // change: wait for that load.
            (Err(_), _) => loader.lock_owned().await,
        };
        if let Some(c) = self.policies.read().expect("policy cache lock").get(&key)
            && !c.invalidated
            && c.loaded.elapsed() < ttl
        {
            return Ok(c.policy.clone());
        }
        let generation = self.policy_generation.load(Ordering::Acquire);
        let record = match self.store.get_policy(provider, ty.as_str()).await {
            Ok(r) => r,
            Err(attesta_store::StoreError::Unavailable(e)) => {
                if let Some((stale, _, _)) = cached {
                    tracing::debug!(provider, error = %e, "store unreachable: cached policy");
                    return Ok(stale);
                }
                return Err(ApiError::internal(e));
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        let (text, jws, signer, is_default) = match record {
            Some(r) => (r.policy_text, r.jws, r.signer, false),
            None => match attesta_policy::defaults::default_policy(ty.as_str()) {
                Some(text) => (text.to_string(), unsigned_policy_jws(text), None, true),
                None => {
                    self.cache_policy(key, None, generation);
                    return Ok(None);
                }
            },
        };
        let compiled = self.compile_stored(provider, &text).await?;
        let hash = attesta_policy::policy_hash(&text);
        let policy = Some(Arc::new(ActivePolicy {
            text,
            jws,
            compiled,
            hash,
            signer,
            is_default,
        }));
        self.cache_policy(key, policy.clone(), generation);
        Ok(policy)
    }

    fn cache_policy(
        &self,
        key: (String, AttestationType),
        policy: Option<Arc<ActivePolicy>>,
        generation: u64,
    ) {
        let mut cache = self.policies.write().expect("policy cache lock");
        // An invalidation since the read: what was read may be stale.
        if self.policy_generation.load(Ordering::Acquire) != generation {
            return;
        }
        cache.insert(
            key,
            CachedPolicy {
                policy,
                loaded: Instant::now(),
                invalidated: false,
            },
        );
    }

    /// Stored or default policy text in compiled form: from the table of
    /// compiled texts, else compiled once on the policy pool however many
    /// requests wait for it.
    async fn compile_stored(&self, provider: &str, text: &str) -> Result<CompiledPolicy, ApiError> {
        let digest = attesta_evidence::crypto::sha256(text.as_bytes());
        let retry_failed_after = Duration::from_secs(self.config.policy_cache_ttl_secs.max(1));
        let cell = {
            let mut table = self.compiled.lock().expect("compiled policy lock");
            let usable = table.get(&digest).filter(|(cell, at)| {
                !(cell.get().is_some_and(Result::is_err) && at.elapsed() >= retry_failed_after)
            });
            match usable {
                Some((cell, _)) => cell.clone(),
                None => {
                    if table.len() >= MAX_COMPILED {
                        table.clear();
                    }
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    table.insert(digest, (cell.clone(), Instant::now()));
                    cell
                }
            }
        };
        let result = cell
            .get_or_init(|| {
                let text = text.to_string();
                self.policy_pool
                    .run(provider, "compilation", move || compile_stored_text(&text))
            })
            .await
            .clone();
        if matches!(&result, Err(e) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE) {
            // A busy pool says nothing about the text: do not remember it.
            let mut table = self.compiled.lock().expect("compiled policy lock");
            if table
                .get(&digest)
                .is_some_and(|(c, _)| Arc::ptr_eq(c, &cell))
            {
                table.remove(&digest);
            }
        }
        result
    }

    /// Compile a policy text off the async workers, within the time budget
    /// (draft policies and policies being set; never cached).
    pub async fn compile_policy(
        &self,
        lane: &crate::policy_pool::Lane,
        text: &str,
    ) -> Result<CompiledPolicy, ApiError> {
        let text = text.to_string();
        self.policy_pool
            .run_in(lane, "compilation", move || {
                attesta_policy::compile(&text).map_err(crate::engine::token::policy_error)
            })
            .await
    }

    /// The policy crate's limits with the server's time budget, so an
    /// evaluation stops itself when the request stops waiting for it and
    /// frees its worker (the pool's own deadline stays as the backstop).
    fn policy_limits(&self) -> attesta_policy::Limits {
        attesta_policy::Limits {
            evaluation_budget: self.policy_pool.budget(),
            ..attesta_policy::Limits::default()
        }
    }

    /// Evaluate a policy off the async workers, within the time budget.
    pub async fn evaluate_policy(
        &self,
        lane: &crate::policy_pool::Lane,
        policy: &CompiledPolicy,
        incoming: Vec<attesta_policy::Claim>,
    ) -> Result<attesta_policy::Evaluation, ApiError> {
        let policy = policy.clone();
        let limits = self.policy_limits();
        self.policy_pool
            .run_in(lane, "evaluation", move || {
                policy
                    .evaluate_with_limits(&incoming, &limits)
                    .map_err(crate::engine::token::policy_error)
            })
            .await
    }

    /// A policy's configuration properties, off the async workers within the
    /// time budget; hands the claims back.
    pub async fn policy_configuration(
        &self,
        lane: &crate::policy_pool::Lane,
        policy: &CompiledPolicy,
        incoming: Vec<attesta_policy::Claim>,
    ) -> Result<
        (
            serde_json::Map<String, serde_json::Value>,
            Vec<attesta_policy::Claim>,
        ),
        ApiError,
    > {
        let policy = policy.clone();
        let limits = self.policy_limits();
        self.policy_pool
            .run_in(lane, "evaluation", move || {
                let properties = policy
                    .configuration_properties_with_limits(&incoming, &limits)
                    .map_err(crate::engine::token::policy_error)?;
                Ok((properties, incoming))
            })
            .await
    }

    /// Mark a cached provider record invalidated (after a create, update or
    /// delete): re-read before its next use.
    pub fn invalidate_provider(&self, provider: &str) {
        self.policy_generation.fetch_add(1, Ordering::AcqRel);
        if let Some(c) = self
            .providers
            .write()
            .expect("provider cache lock")
            .get_mut(provider)
        {
            c.invalidated = true;
        }
    }

    /// Mark the cached policies of a provider invalidated (after a write or
    /// a delete): re-read before their next use.
    pub fn invalidate_policies(&self, provider: &str) {
        self.policy_generation.fetch_add(1, Ordering::AcqRel);
        for ((p, _), c) in self.policies.write().expect("policy cache lock").iter_mut() {
            if p == provider {
                c.invalidated = true;
            }
        }
    }
}

/// Compile stored or default policy text (on the policy pool).
fn compile_stored_text(text: &str) -> Result<CompiledPolicy, ApiError> {
    attesta_policy::compile(text).map_err(|e| {
        // A stored policy was compiled when it was set; failing now means the
        // store holds text this build cannot parse.
        ApiError::internal(format!("stored policy no longer compiles: {e}"))
    })
}

/// The unsigned JWS MAA returns for a policy that was never uploaded signed:
/// `{"alg":"none"}` header, `{"AttestationPolicy": b64url(text)}` body.
pub fn unsigned_policy_jws(text: &str) -> String {
    let body = serde_json::json!({ "AttestationPolicy": attesta_policy::stored_policy_b64(text) });
    attesta_token::jws::unsigned_jws(body.to_string().as_bytes())
}
