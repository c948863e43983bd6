//! Raw Intel DCAP collateral, exactly as Intel's PCS v4 API (or a PCCS, or an
//! offline bundle) hands it over. The verifiers check every signature in it;
//! nothing here is trusted on arrival.
//!
//! The same shape serves SGX, Open Enclave and TDX: TDX differs only in which
//! TCB info and QE identity documents are fetched.

use serde::{Deserialize, Serialize};

/// Which DCAP TEE a collateral set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DcapTee {
    Sgx,
    Tdx,
}

/// One complete set of DCAP collateral for one FMSPC.
///
/// Field contents follow the file layout of an offline bundle
/// (`tcb_info.json`, `tcb_info_issuer_chain.pem`, `qe_identity.json`,
/// `qe_identity_issuer_chain.pem`, `pck_crl.der`, `pck_crl_issuer_chain.pem`,
/// `root_ca_crl.der`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcapCollateral {
    /// The PCS response body: `{"tcbInfo": {...}, "signature": "..."}`, bytes
    /// preserved exactly (the signature covers the `tcbInfo` member's text).
    pub tcb_info_json: String,
    /// PEM chain of the TCB signing certificate (leaf first, then root).
    pub tcb_info_issuer_chain: String,
    /// The PCS response body: `{"enclaveIdentity": {...}, "signature": "..."}`.
    pub qe_identity_json: String,
    /// PEM chain that signed the QE identity.
    pub qe_identity_issuer_chain: String,
    /// DER CRL of the PCK issuing CA (Processor or Platform).
    pub pck_crl: Vec<u8>,
    /// PEM chain of the PCK CRL issuer.
    pub pck_crl_issuer_chain: String,
    /// DER CRL of the Intel SGX Root CA.
    pub root_ca_crl: Vec<u8>,
}
