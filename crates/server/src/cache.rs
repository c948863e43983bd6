//! A bounded cache of verified forms (collateral, certificate chains) keyed
//! by the SHA-256 of what was verified, so repeat requests skip checks that
//! cannot change while the entry stays usable.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Verified values by content digest, at most `capacity` entries.
pub struct VersionCache<T> {
    map: RwLock<HashMap<[u8; 32], Arc<T>>>,
    capacity: usize,
}

impl<T> VersionCache<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The cached entry for `key` while `usable` holds for it, else the
    /// result of `verify` (cached when it succeeds; failures never are).
    pub fn get_or_verify<E>(
        &self,
        key: [u8; 32],
        usable: impl Fn(&T) -> bool,
        verify: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(v) = self.map.read().expect("verified cache lock").get(&key)
            && usable(v)
        {
            return Ok(v.clone());
        }
        let v = Arc::new(verify()?);
        let mut map = self.map.write().expect("verified cache lock");
        // Bounded: past the capacity drop everything (each entry is
        // re-verified on its next use).
        if map.len() > self.capacity {
            map.clear();
        }
        map.insert(key, v.clone());
        Ok(v)
    }

    /// The cached entry for `key`, if `usable` holds for it.
    pub fn get(&self, key: &[u8; 32], usable: impl Fn(&T) -> bool) -> Option<Arc<T>> {
        self.map
            .read()
            .expect("verified cache lock")
            .get(key)
            .filter(|v| usable(v))
            .cloned()
    }

    /// Keep `value`, verified by the caller, under `key`.
    pub fn insert(&self, key: [u8; 32], value: T) {
        let mut map = self.map.write().expect("verified cache lock");
        if map.len() > self.capacity {
            map.clear();
        }
        map.insert(key, Arc::new(value));
    }
}
