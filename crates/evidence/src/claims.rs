//! Claims: the typed outcome of verification, named as MAA names them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An ordered set of claims, claim name → JSON value.
///
/// Values are JSON because MAA claims are: strings (hex digests), integers
/// (SVNs), booleans (debuggable) and objects (`x-ms-sgx-collateral`,
/// `x-ms-runtime`). Insertion order is kept so output is stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace a claim.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Add a byte string as lowercase hex, as MAA renders digests.
    pub fn insert_hex(&mut self, name: impl Into<String>, bytes: &[u8]) {
        self.insert(name, hex::encode(bytes));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// Add every claim of `other`, replacing claims of the same name.
    pub fn extend(&mut self, other: Claims) {
        self.0.extend(other.0);
    }
}

/// Names of the claims the service itself emits (beside the per-TEE claims
/// each verifier names), in one place so the server, the CLI and the policy
/// crate's reserved list spell them once.
pub mod names {
    /// The TEE kind (`sgx`, `sevsnpvm`, `tdxvm`, `tpm`, `azurevm`, …).
    pub const ATTESTATION_TYPE: &str = "x-ms-attestation-type";
    /// Binary runtime data of an SGX or Open Enclave attestation (base64url).
    pub const SGX_EHD: &str = "x-ms-sgx-ehd";
    /// Deprecated aliases of [`SGX_EHD`] still read by older relying parties.
    pub const MAA_EHD: &str = "maa-ehd";
    /// See [`MAA_EHD`].
    pub const AAS_EHD: &str = "aas-ehd";
    /// Runtime data given as JSON, bound to the report.
    pub const RUNTIME: &str = "x-ms-runtime";
    /// Init-time data given as JSON, bound to the report.
    pub const INITTIME: &str = "x-ms-inittime";
    /// The SGX collateral hashes.
    pub const SGX_COLLATERAL: &str = "x-ms-sgx-collateral";
    /// Deprecated alias of [`SGX_COLLATERAL`].
    pub const MAA_ATTESTATION_COLLATERAL: &str = "maa-attestationcollateral";
    /// Attesta: the platform's TCB status.
    pub const TCB_STATUS: &str = "x-attesta-tcb-status";
    /// Attesta: the TCB evaluation data number of the TCB info used.
    pub const TCB_EVALUATION_DATA_NUMBER: &str = "x-attesta-tcb-evaluation-data-number";
    /// Attesta: seconds the collateral had expired, when served in grace.
    pub const COLLATERAL_EXPIRED_FOR: &str = "x-attesta-collateral-expired-for";
    /// Attesta: the pinned verification time (Unix seconds), when pinned.
    pub const VERIFICATION_TIME: &str = "x-attesta-verification-time";
}
