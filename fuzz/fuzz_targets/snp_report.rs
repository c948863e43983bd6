//! Fuzz target: the SEV-SNP report parser (v2/v3/v5) and the MAA `report`
//! member decoder are total over arbitrary bytes.
#![no_main]

use attesta_evidence::snp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = snp::parse_report(data) {
        assert_eq!(data.len(), 0x4A0);
        assert!([2, 3, 5].contains(&r.version));
        let _ = r.signature_fixed();
        let _ = r.cpuid_generation();
    }
    let _ = snp::parse_report_json(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = snp::parse_report_member(s);
    }
});
