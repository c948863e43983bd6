//! Fuzz target: the VBS enclave report package parser and the VSM IDK_S
//! event decoder are total over arbitrary bytes, and a decoded package's
//! parts lie inside the input.
#![no_main]

use attesta_evidence::vbs::{PKG_HEADER_LEN, VbsReport, idks_from_sipa};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = VbsReport::parse(data) {
        assert_eq!(
            PKG_HEADER_LEN + r.signed_statement.len() + r.signature.len(),
            data.len()
        );
        assert!(r.modules.len() <= attesta_evidence::vbs::MAX_MODULES);
    }
    let _ = idks_from_sipa(data);
});
