//! The SEV-SNP report parser and the MAA `report` member decoder are total:
//! random bytes, every truncation and random mutations of real and
//! synthetic reports give a value or a typed error, never a panic; and
//! verification of mutated reports never panics either.

use attesta_evidence::snp::{self, SnpCollateral, VerifiedChain, parse_report, verify_report};
use attesta_evidence::{ErrorCode, UnixTime};
use attesta_testkit::snp::SnpSample;
use proptest::prelude::*;

fn read(path: &str) -> Vec<u8> {
    let base = format!("{}/../../../shared/vectors", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(format!("{base}/{path}")).unwrap()
}

fn real_reports() -> Vec<Vec<u8>> {
    vec![
        read("snp/virtee-sev-milan/report.bin"),
        read("snp/trustee-milan-vlek/report.bin"),
        read("azure-cvm/trustee-az-snp-vtpm-genoa/snp_report.bin"),
        SnpSample::builder().version(5).build().report,
    ]
}

#[test]
fn every_truncation_and_extension_is_an_error() {
    for r in real_reports() {
        parse_report(&r).unwrap();
        for n in 0..r.len() {
            let e = parse_report(&r[..n]).unwrap_err();
            assert_eq!(e.code(), "EvidenceMalformed", "truncated to {n}");
        }
        let mut longer = r.clone();
        longer.push(0);
        assert_eq!(
            parse_report(&longer).unwrap_err().code(),
            "EvidenceMalformed"
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
        let _ = parse_report(&bytes);
        let _ = snp::parse_report_json(&bytes);
        let _ = snp::parse_report_member(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_full_size_reports_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0x4A0)) {
        // Steer half the inputs past the version and algorithm checks.
        if bytes[1] & 1 == 0 {
            bytes[0..4].copy_from_slice(&2u32.to_le_bytes());
            bytes[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        }
        if let Ok(r) = parse_report(&bytes) {
            prop_assert!([2, 3, 5].contains(&r.version));
            let _ = r.signature_fixed();
        }
    }

    #[test]
    fn mutated_reports_never_verify_or_panic(
        idx in 0usize..4,
        pos in 0usize..0x2A0,
        xor in 1u8..=255,
    ) {
        let r = &real_reports()[idx];
        let mut m = r.clone();
        m[pos] ^= xor;
        let _ = parse_report(&m);
        if idx == 0 {
            let dir = "snp/virtee-sev-milan";
            let vek = read(&format!("{dir}/vcek.der"));
            let ask = attesta_evidence::sgx::pki::pem_certificates(&read(&format!("{dir}/ask_ark_milan.pem"))).unwrap()[0].clone();
            let at = UnixTime(1_748_736_000);
            let chain = VerifiedChain::verify(
                &SnpCollateral { vek_der: &vek, ask_der: &ask, crl_der: None },
                &snp::amd_trust_roots(),
                at,
            ).unwrap();
            prop_assert!(verify_report(&m, &chain, at).is_err());
        }
    }
}
