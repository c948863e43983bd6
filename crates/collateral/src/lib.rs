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
//!   where a bundle for `(tee, root, fmspc, ca)` is stored: keyed by what it
//!   is, including the root its issuer chains end at ([`root_of`]), so a
//!   bundle under a test root never shadows Intel's for the same platform.
//! - [`describe`] / [`entry_id`] — entries as the admin API shows them.
//!
//! ## AMD SEV-SNP endorsements
//!
//! ```text
//! SNP report → product, CHIP_ID, REPORTED_TCB, signing key (VCEK/VLEK)
//!        │
//!        ▼
//! SnpEndorsementService::{vcek, cert_chain, crl}(…, now)   ← this crate
//!        │  VCEK DER, ASK/ASVK + ARK, CRL
//!        ▼
//! attesta_evidence SNP verifier(report, endorsements, ARK roots, now)
//! ```
//!
//! - [`KdsClient`] — AMD Key Distribution Service API ([`AMD_KDS_BASE_URL`]
//!   or a mirror), with request spacing and bounded back-off on HTTP 429.
//! - [`SnpEndorsementService`] — VCEKs cached forever (immutable per chip
//!   and TCB), chains cached long, CRLs refreshed by `nextUpdate`;
//!   single-flight per key; the same [`CollateralCache`] as DCAP.
//! - [`import_snp_dir`] / [`read_snp_dir`] — offline VCEK/VLEK/ASK/ASVK/ARK
//!   files, filed by the AMD extensions and names they carry.
//!
//! ## A service's own evidence
//!
//! [`collateral_refs`] (what a node writes into its signing certificates)
//! and [`fetch_service_collateral`] (what a relying party fetches for them):
//! see `service_evidence`.

mod bundle;
mod cache;
mod catalog;
mod error;
mod kds;
mod parts;
mod pcs;
mod service;
mod service_evidence;
mod snp_certs;
mod snp_import;
mod snp_service;
mod source;

pub use attesta_evidence::dcap::{DcapCollateral, DcapTee};
pub use bundle::{BUNDLE_FILES, Source, deserialize, export_dir, import_dir, serialize};
pub use cache::{CollateralCache, MemoryCache};
pub use catalog::{describe, entry_id, key_of_id};
pub use error::CollateralError;
pub use kds::{
    AMD_KDS_BASE_URL, KdsClient, KdsClientOptions, KdsClock, TokioClock, cert_chain_url, crl_url,
    vcek_url,
};
pub use parts::{
    ChainRoot, PckCa, cache_key, check_matches, fmspc_of, intel_root_fingerprint, next_update_of,
    normalize_fmspc, pck_ca_of, root_of, version_of,
};
pub use pcs::{
    INTEL_PCS_BASE_URL, PcsClient, PcsClientOptions, TcbUpdate, pck_crl_url, qe_identity_url,
    tcb_info_url,
};
pub use service::{
    CollateralCounts, CollateralOptions, CollateralService, Fetched, Imported, store_bundle,
};
pub use service_evidence::{collateral_refs, fetch_service_collateral};
pub use snp_certs::{
    SnpCertChain, SnpEndorsementFacts, SnpKeyKind, SnpProduct, SnpTcb, endorsement_facts,
};
pub use snp_import::{ImportedSnpCrl, SnpBundle, read_snp_dir};
pub use snp_service::{
    SnpCrl, SnpEndorsementService, SnpOptions, import_snp_dir, snp_chain_key, snp_crl_key,
    snp_vcek_key, snp_vlek_key, store_snp_bundle,
};
pub use source::{CollateralSource, OfflineSource};
