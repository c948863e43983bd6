//! Fuzz target: the Azure HCL report parser, its TDREPORT decoder and the
//! bounded variable-data JSON decoder are total over arbitrary bytes.
#![no_main]

use attesta_evidence::azure_cvm::hcl::{HW_REPORT_LEN, TDREPORT_LEN, VAR_DATA_OFFSET};
use attesta_evidence::azure_cvm::{HclReport, HclTdReport, RuntimeData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = HclReport::parse(data) {
        assert_eq!(r.hw_report.len(), HW_REPORT_LEN);
        assert_eq!(
            r.header.report_size as usize,
            VAR_DATA_OFFSET + r.var_data.len()
        );
        assert!(data.len() >= r.header.report_size as usize);
        if let Some(t) = r.td_report_bytes() {
            assert_eq!(t.len(), TDREPORT_LEN);
            let _ = HclTdReport::parse(t);
        }
        let _ = r.snp_report();
        if let Ok(rt) = RuntimeData::parse(r.var_data) {
            let _ = rt.ak_pub();
            let _ = rt.vm_unique_id();
        }
    }
    if let Ok(rt) = RuntimeData::parse(data) {
        let _ = rt.ak_pub();
        let _ = rt.vm_flag("secure-boot");
    }
    let _ = HclTdReport::parse(data);
});
