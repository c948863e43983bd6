//! Fuzz target: the Open Enclave report parser is total over arbitrary bytes.
#![no_main]

use attesta_evidence::openenclave::OeReport;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = OeReport::parse(data) {
        assert_eq!(r.report_size as usize + 16, data.len());
    }
});
