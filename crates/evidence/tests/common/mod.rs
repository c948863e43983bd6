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

use attesta_evidence::crypto::{self, Scheme};
use attesta_evidence::sgx::{self, PckExtension, QeIdentity, Quote, TcbInfo, pki, tcb};

/// A folder's TCB info and QE identity, each signature checked by hand with
/// the TCB signing key of its issuer chain (whose root must be Intel's).
/// For collateral that `VerifiedCollateral::verify` rejects as a whole
/// (mobilecoin's expired PCK CRL) yet whose documents are genuine.
pub fn signed_documents(dir: &str) -> (TcbInfo, QeIdentity) {
    let c = collateral(dir);
    let key = |pem: &str| {
        let certs = pki::pem_certificates(pem.as_bytes()).unwrap();
        assert_eq!(certs[1], sgx::intel_sgx_root_ca_der());
        let root = pki::parse_cert(&certs[1]).unwrap();
        let signer = pki::parse_cert(&certs[0]).unwrap();
        pki::issued_by(&signer, &root).unwrap();
        pki::public_key(&signer)
    };
    let doc = tcb::split_tcb_info(&c.tcb_info_json).unwrap();
    crypto::verify(
        Scheme::EcdsaP256Sha256Fixed,
        &key(&c.tcb_info_issuer_chain),
        doc.body.as_bytes(),
        &doc.signature,
    )
    .unwrap();
    let info = tcb::parse_tcb_info(doc.body).unwrap();
    let doc = tcb::split_qe_identity(&c.qe_identity_json).unwrap();
    crypto::verify(
        Scheme::EcdsaP256Sha256Fixed,
        &key(&c.qe_identity_issuer_chain),
        doc.body.as_bytes(),
        &doc.signature,
    )
    .unwrap();
    (info, tcb::parse_qe_identity(doc.body).unwrap())
}

/// The PCK leaf of a quote's own chain: its SGX extension and public key,
/// the leaf checked to be issued by the chain's CA and the CA by Intel's root.
pub fn pck_of(quote: &Quote<'_>) -> (PckExtension, Vec<u8>) {
    let certs = pki::pem_certificates(quote.pck_chain_pem).unwrap();
    assert_eq!(certs.len(), 3);
    // Older quotes carry another issuance of Intel's root (same subject and
    // key, valid to 2033): the key is what must match.
    let intel = sgx::intel_sgx_root_ca_der();
    let intel = pki::parse_cert(&intel).unwrap();
    let root = pki::parse_cert(&certs[2]).unwrap();
    assert_eq!(root.subject().as_raw(), intel.subject().as_raw());
    assert_eq!(pki::public_key(&root), pki::public_key(&intel));
    let ca = pki::parse_cert(&certs[1]).unwrap();
    let leaf = pki::parse_cert(&certs[0]).unwrap();
    pki::issued_by(&ca, &root).unwrap();
    pki::issued_by(&leaf, &ca).unwrap();
    (pki::pck_extension(&leaf).unwrap(), pki::public_key(&leaf))
}
