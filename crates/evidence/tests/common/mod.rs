//! Shared helpers for the SGX / Open Enclave integration tests: where the
//! real vectors live and how to load them.
#![allow(dead_code)]

use std::path::PathBuf;

use attesta_evidence::UnixTime;
use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::sgx::tcb::parse_time;

/// `../shared/vectors` beside the repository.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

/// A vector folder's collateral in the offline-bundle layout.
pub fn collateral(dir: &str) -> DcapCollateral {
    attesta_testkit::read_bundle(&vectors().join(dir)).unwrap()
}

/// The folder's `verification_time_to_pin`.
pub fn pinned_time(dir: &str) -> UnixTime {
    let e = json(&format!("{dir}/expected.json"));
    let s = e["verification_time_to_pin"].as_str().unwrap();
    UnixTime(parse_time(s).unwrap() as u64)
}

pub fn time(s: &str) -> UnixTime {
    UnixTime(parse_time(s).unwrap() as u64)
}

pub const DCAP_QVL: &str = "sgx/dcap-qvl-sgx-v3";
pub const MOBILECOIN: &str = "sgx/mobilecoin-attestation-sgx-v3";
pub const AZURE_SGX: &str = "sgx/azure-samples-maa-intel-sdk-quotes";
pub const OCCLUM: &str = "sgx/trustee-occlum-sgx-v3-quote-only";
pub const AZURE_OE: &str = "openenclave/azure-samples-maa-oe-sdk";
