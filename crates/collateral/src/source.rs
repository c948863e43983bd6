//! Where collateral comes from: the [`CollateralSource`] trait, implemented
//! by [`crate::PcsClient`] (online) and [`OfflineSource`] (a directory of
//! bundles, for air-gapped deployments and tests).

use std::path::{Path, PathBuf};

use attesta_evidence::dcap::{DcapCollateral, DcapTee};

use crate::bundle::import_dir;
use crate::error::CollateralError;
use crate::parts::{
    PckCa, cache_key, fmspc_of, intel_root_fingerprint, next_update_of, normalize_fmspc, pck_ca_of,
    root_of,
};

/// Produces the current collateral for `(tee, fmspc, ca)`.
#[async_trait::async_trait]
pub trait CollateralSource: Send + Sync {
    async fn fetch(
        &self,
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError>;

    /// The collateral for `(tee, fmspc, ca)` whose issuer chains end at the
    /// root with SHA-256 fingerprint `root`. A source serving one PKI (Intel
    /// PCS, a PCCS) need not override it: the service checks the root of
    /// what it gets and refuses a set under another root.
    async fn fetch_under(
        &self,
        tee: DcapTee,
        root: &[u8; 32],
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        let _ = root;
        self.fetch(tee, fmspc, ca).await
    }

    /// Where this source fetches from, for logs and error messages.
    fn describe(&self) -> String;
}

/// Serves offline bundles from a directory: either the directory is one
/// bundle (it holds `tcb_info.json`), or each of its subdirectories is one.
///
/// The directory is read on every fetch so operators can drop in new bundles
/// without a restart; fetches are rare because the service caches. When
/// several bundles match, the one with the latest `nextUpdate` wins.
#[derive(Debug, Clone)]
pub struct OfflineSource {
    dir: PathBuf,
}

impl OfflineSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The newest matching bundle; under `root` only when given.
    fn find(
        &self,
        tee: DcapTee,
        root: Option<[u8; 32]>,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        let fmspc = normalize_fmspc(fmspc)?;
        let single = self.dir.join("tcb_info.json").exists();
        let candidates: Vec<PathBuf> = if single {
            // The directory is one bundle: what is wrong with it is the
            // answer (a missing CRL names its file), not "no bundle".
            import_dir(&self.dir)?;
            vec![self.dir.clone()]
        } else {
            let entries = std::fs::read_dir(&self.dir).map_err(|e| CollateralError::Io {
                path: self.dir.clone(),
                reason: e.to_string(),
            })?;
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            dirs.sort();
            dirs
        };
        let mut best: Option<(i64, DcapCollateral)> = None;
        for dir in candidates {
            let Some((next, c)) = matching_bundle(&dir, tee, &fmspc, ca) else {
                continue;
            };
            if root.is_some_and(|r| root_of(&c).ok().map(|cr| cr.fingerprint) != Some(r)) {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| next > *b) {
                best = Some((next, c));
            }
        }
        best.map(|(_, c)| c)
            .ok_or_else(|| CollateralError::NoOfflineBundle {
                dir: self.dir.clone(),
                key: cache_key(
                    tee,
                    &root.unwrap_or_else(intel_root_fingerprint),
                    &fmspc,
                    ca,
                ),
            })
    }
}

impl OfflineSource {
    async fn find_blocking(
        &self,
        tee: DcapTee,
        root: Option<[u8; 32]>,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        let this = self.clone();
        let fmspc = fmspc.to_owned();
        tokio::task::spawn_blocking(move || this.find(tee, root, &fmspc, ca))
            .await
            .map_err(|e| CollateralError::Io {
                path: self.dir.clone(),
                reason: format!("reading bundles failed: {e}"),
            })?
    }
}

/// The bundle in `dir` if it is a readable bundle for this key. Unreadable
/// bundles are skipped (and logged): one broken folder must not hide the
/// others.
fn matching_bundle(
    dir: &Path,
    tee: DcapTee,
    fmspc: &str,
    ca: PckCa,
) -> Option<(i64, DcapCollateral)> {
    let c = match import_dir(dir) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(bundle = %dir.display(), error = %e, "skipping offline bundle");
            return None;
        }
    };
    let (got_tee, got_fmspc) = fmspc_of(&c).ok()?;
    if got_tee != tee || got_fmspc != fmspc || pck_ca_of(&c).ok()? != ca {
        return None;
    }
    Some((next_update_of(&c).ok()?, c))
}

#[async_trait::async_trait]
impl CollateralSource for OfflineSource {
    async fn fetch(
        &self,
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        self.find_blocking(tee, None, fmspc, ca).await
    }

    async fn fetch_under(
        &self,
        tee: DcapTee,
        root: &[u8; 32],
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        self.find_blocking(tee, Some(*root), fmspc, ca).await
    }

    fn describe(&self) -> String {
        format!("offline bundles in {}", self.dir.display())
    }
}
