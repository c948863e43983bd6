//! Fuzz target: the TD quote parser (v4 and v5, report bodies 1.0 and 1.5,
//! padding) and the TD report body parser are total over arbitrary bytes.
#![no_main]

use attesta_evidence::sgx::pki;
use attesta_evidence::tdx::{self, TdReport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = tdx::parse_td_quote(data) {
        // Offsets the verifier slices with must lie inside the input, and
        // padding is exactly the zero bytes after the signature data.
        assert!(q.signed_range().end <= data.len());
        assert!(q.qe_report_range().end <= data.len());
        assert!(data[data.len() - q.padding..].iter().all(|&b| b == 0));
        let _ = pki::pem_certificates(q.pck_chain_pem);
    }
    let _ = TdReport::parse(data);
});
