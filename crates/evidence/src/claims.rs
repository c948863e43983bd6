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
