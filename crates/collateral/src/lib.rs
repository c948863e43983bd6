//! # attesta-collateral
//!
//! Vendor collateral for the DCAP verifiers (SGX, Open Enclave, TDX),
//! fetched and cached *outside* the sans-I/O core.
//!
//! ## Where this sits in the flow
//!
//! ```text
//! request bytes → decode quote → FMSPC + PCK CA (from the PCK certificate)
//!        │
//!        ▼
//! CollateralService::get(tee, fmspc, ca, now)      ← this crate: I/O, caching
//!        │  Fetched { collateral, next_update, stale_for, version }
//!        ▼
//! attesta_evidence verifier(quote, collateral, roots, now)   ← all signature,
//!        │                        chain, CRL and expiry checks happen here
//!        ▼
//! claims → policy → token (marks `stale_for` when collateral was served stale)
//! ```
//!
//! Nothing fetched here is trusted: this crate only reads enough of the
//! collateral to file it (TEE, FMSPC, CA) and to know when to refresh it
//! (`nextUpdate`). The verifiers in `attesta-evidence` check every signature
//! against the configured Intel root. Because parsing and verifying the
//! collateral costs more than the quote's own signatures, verifiers cache
//! their *verified* forms keyed by [`Fetched::version`] (SHA-256 over all
//! parts): a warm request re-verifies nothing that has not changed.
//!
//! ## Pieces
//!
//! - [`PcsClient`] — Intel PCS v4-compatible HTTP API (Intel PCS, a PCCS,
//!   Azure THIM-style caches); base URL and extra TLS root configurable.
//! - [`OfflineSource`], [`import_dir`], [`export_dir`] — offline bundles.
//! - [`CollateralService`] — per-key cache with refresh before `nextUpdate`,
//!   single-flight upstream requests, fail-closed expiry with optional grace,
//!   persistence through the [`CollateralCache`] trait (implemented by the
//!   store crate; [`MemoryCache`] here).
//! - [`serialize`] / [`deserialize`] — the cache encoding; [`cache_key`] —
//!   where a bundle for `(tee, fmspc, ca)` is stored.

mod bundle;
mod cache;
mod error;
mod parts;
mod pcs;
mod service;
mod source;

pub use attesta_evidence::dcap::{DcapCollateral, DcapTee};
pub use bundle::{BUNDLE_FILES, deserialize, export_dir, import_dir, serialize};
pub use cache::{CollateralCache, MemoryCache};
pub use error::CollateralError;
pub use parts::{
    PckCa, cache_key, check_matches, fmspc_of, next_update_of, normalize_fmspc, pck_ca_of,
    version_of,
};
pub use pcs::{INTEL_PCS_BASE_URL, PcsClient, PcsClientOptions, TcbUpdate};
pub use service::{CollateralOptions, CollateralService, Fetched, store_bundle};
pub use source::{CollateralSource, OfflineSource};
