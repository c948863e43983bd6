//! Fuzz target: the SGX quote parser and the SGX-extension / PEM decoders
//! are total over arbitrary bytes.
#![no_main]

use attesta_evidence::sgx::{self, pki};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = sgx::parse_quote(data) {
        // Offsets the verifier slices with must lie inside the input.
        assert!(q.signed_range().end <= data.len());
        assert!(q.qe_report_range().end <= data.len());
        let _ = pki::pem_certificates(q.pck_chain_pem);
    }
    let _ = pki::parse_sgx_extension(data);
});
