//! The seam between the HTTP edge and the sans-I/O verifiers.
//!
//! Each attestation type that is built registers an [`EvidenceVerifier`]:
//! it decodes the type's evidence member, gathers the collateral the
//! verifier needs (cache, upstream, request body), picks the provider's trust
//! roots, and calls the pure verifier at the request's time. Types without a
//! verifier answer 501 and never issue a token.

use std::collections::HashMap;
use std::sync::Arc;

use attesta_evidence::{AttestationType, UnixTime, Verified};
use attesta_store::ProviderRecord;

use crate::error::ApiError;

/// The decoded MAA attest request body, independent of the type.
#[derive(Debug, Clone, Default)]
pub struct AttestInput {
    /// The evidence member (`quote` or `report`), decoded from base64url.
    pub evidence: Vec<u8>,
    /// The raw JSON body, for types whose evidence member is structured.
    pub body: serde_json::Value,
}

/// Verifies one attestation type's evidence.
#[async_trait::async_trait]
pub trait EvidenceVerifier: Send + Sync {
    /// Verify `input` for `provider` at time `at`.
    async fn verify(
        &self,
        provider: &ProviderRecord,
        input: &AttestInput,
        at: UnixTime,
    ) -> Result<Verified, ApiError>;
}

/// The verifiers this build has, by attestation type.
#[derive(Clone, Default)]
pub struct Verifiers {
    map: HashMap<AttestationType, Arc<dyn EvidenceVerifier>>,
}

impl Verifiers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register (or replace) the verifier for `ty`.
    pub fn register(&mut self, ty: AttestationType, v: Arc<dyn EvidenceVerifier>) {
        self.map.insert(ty, v);
    }

    pub fn get(&self, ty: AttestationType) -> Option<Arc<dyn EvidenceVerifier>> {
        self.map.get(&ty).cloned()
    }
}
