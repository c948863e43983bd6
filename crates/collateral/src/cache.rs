//! The persistence boundary: where fetched collateral is kept so restarts and
//! other nodes reuse it instead of asking the collateral service again.
//!
//! This crate defines the trait and an in-memory implementation; the store
//! crate implements it over SQLite / PostgreSQL. Values are opaque bytes
//! (see [`crate::serialize`]); errors are strings because a cache failure is
//! never fatal — the service logs it and carries on with what it has.

use std::collections::HashMap;
use std::sync::Mutex;

/// A shared key-value store for encoded collateral.
#[async_trait::async_trait]
pub trait CollateralCache: Send + Sync {
    /// The value stored under `key` and when it was fetched (Unix seconds).
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>, String>;
    /// Stores `value` under `key`, replacing any previous value.
    /// `expires_at` (Unix seconds) is when the value stops being of any use
    /// (its `nextUpdate` plus any configured grace); a store may delete it
    /// after that.
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        fetched_at: i64,
        expires_at: i64,
    ) -> Result<(), String>;
}

/// Values kept in process memory: the default layer, and the test double
/// for a persistent store.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, MemoryEntry>>,
}

#[derive(Debug, Clone)]
struct MemoryEntry {
    value: Vec<u8>,
    fetched_at: i64,
    expires_at: i64,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored keys.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The `expires_at` recorded for `key`, if any.
    pub fn expires_at(&self, key: &str) -> Option<i64> {
        self.lock().get(key).map(|e| e.expires_at)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemoryEntry>> {
        // A panic while holding this lock cannot leave the map half-written
        // (every operation is a single insert or lookup), so a poisoned lock
        // is still safe to use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl CollateralCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>, String> {
        Ok(self
            .lock()
            .get(key)
            .map(|e| (e.value.clone(), e.fetched_at)))
    }

    async fn put(
        &self,
        key: &str,
        value: &[u8],
        fetched_at: i64,
        expires_at: i64,
    ) -> Result<(), String> {
        self.lock().insert(
            key.to_owned(),
            MemoryEntry {
                value: value.to_vec(),
                fetched_at,
                expires_at,
            },
        );
        Ok(())
    }
}
