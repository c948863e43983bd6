//! Shared server state: configuration, store, signing keys and the cache of
//! compiled policies.
//!
//! Policies are compiled once, when first needed after they change, and kept
//! in compiled form; an attest request never re-parses policy text. Each node
//! re-reads a cached policy from the store after `policy_cache_ttl_secs`, so
//! nodes sharing a store converge on a policy change within that bound, and a
//! write on this node invalidates its own entry at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use attesta_evidence::AttestationType;
use attesta_policy::CompiledPolicy;
use attesta_store::{ProviderRecord, Store};
use attesta_token::keys::KeyRing;

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
}

/// State shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub keys: Arc<RwLock<KeyRing>>,
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
    policies: Arc<RwLock<HashMap<(String, AttestationType), CachedPolicy>>>,
    providers: Arc<RwLock<HashMap<String, CachedProvider>>>,
}

/// A provider record (or its absence) and when it was read.
type CachedProvider = (Option<Arc<ProviderRecord>>, Instant);

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        keys: KeyRing,
        admin_token_hash: [u8; 32],
        verifiers: crate::evidence::Verifiers,
        collateral: Arc<attesta_collateral::CollateralService>,
        tpm_context: crate::tpm::ContextKey,
        snp_endorsements: Arc<attesta_collateral::SnpEndorsementService>,
    ) -> Self {
        Self {
            config: Arc::new(config),
            store,
            keys: Arc::new(RwLock::new(keys)),
            admin_token_hash: Arc::new(admin_token_hash),
            verifiers: Arc::new(verifiers),
            collateral,
            tpm_context: Arc::new(tpm_context),
            snp_endorsements,
            tpm_chains: Arc::new(crate::cache::VersionCache::new(16_384)),
            policies: Arc::new(RwLock::new(HashMap::new())),
            providers: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// A provider by name, cached for `policy_cache_ttl_secs` like policies
    /// (a delete on this node invalidates at once).
    pub async fn provider(&self, name: &str) -> Result<Option<Arc<ProviderRecord>>, ApiError> {
        let ttl = Duration::from_secs(self.config.policy_cache_ttl_secs);
        if let Some((p, at)) = self
            .providers
            .read()
            .expect("provider cache lock")
            .get(name)
            && at.elapsed() < ttl
        {
            return Ok(p.clone());
        }
        let record = self
            .store
            .get_provider(name)
            .await
            .map_err(ApiError::internal)?
            .map(Arc::new);
        let mut cache = self.providers.write().expect("provider cache lock");
        // Host names are attacker-chosen: bound what unknown names can cost.
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(name.to_string(), (record.clone(), Instant::now()));
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
        if let Some(c) = self.policies.read().expect("policy cache lock").get(&key)
            && c.loaded.elapsed() < ttl
        {
            return Ok(c.policy.clone());
        }
        let record = self
            .store
            .get_policy(provider, ty.as_str())
            .await
            .map_err(ApiError::internal)?;
        let policy = match record {
            Some(r) => Some(Arc::new(compile_active(
                r.policy_text,
                r.jws,
                r.signer,
                false,
            )?)),
            None => match attesta_policy::defaults::default_policy(ty.as_str()) {
                Some(text) => {
                    let jws = unsigned_policy_jws(text);
                    Some(Arc::new(compile_active(text.to_string(), jws, None, true)?))
                }
                None => None,
            },
        };
        self.policies.write().expect("policy cache lock").insert(
            key,
            CachedPolicy {
                policy: policy.clone(),
                loaded: Instant::now(),
            },
        );
        Ok(policy)
    }

    /// Forget a cached provider record (after a create, update or delete).
    pub fn invalidate_provider(&self, provider: &str) {
        self.providers
            .write()
            .expect("provider cache lock")
            .remove(provider);
    }

    /// Forget cached policies of a provider (after a write or a delete).
    pub fn invalidate_policies(&self, provider: &str) {
        self.policies
            .write()
            .expect("policy cache lock")
            .retain(|(p, _), _| p != provider);
    }
}

/// Compile stored or default policy text into its active form.
fn compile_active(
    text: String,
    jws: String,
    signer: Option<serde_json::Value>,
    is_default: bool,
) -> Result<ActivePolicy, ApiError> {
    let compiled = attesta_policy::compile(&text).map_err(|e| {
        // A stored policy was compiled when it was set; failing now means the
        // store holds text this build cannot parse.
        ApiError::internal(format!("stored policy no longer compiles: {e}"))
    })?;
    let hash = attesta_policy::policy_hash(&text);
    Ok(ActivePolicy {
        text,
        jws,
        compiled,
        hash,
        signer,
        is_default,
    })
}

/// The unsigned JWS MAA returns for a policy that was never uploaded signed:
/// `{"alg":"none"}` header, `{"AttestationPolicy": b64url(text)}` body.
pub fn unsigned_policy_jws(text: &str) -> String {
    let body = serde_json::json!({ "AttestationPolicy": attesta_policy::stored_policy_b64(text) });
    attesta_token::jws::unsigned_jws(body.to_string().as_bytes())
}
