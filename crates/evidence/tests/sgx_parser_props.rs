//! Property tests: the SGX quote, OE report and SGX-extension parsers are
//! total — random bytes, truncations and mutations of real quotes give a
//! value or an error, never a panic — and verification of mutated quotes
//! never panics either.

mod common;

use attesta_evidence::openenclave::OeReport;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{self, VerifiedCollateral, parse_quote, pki, tcb, verify_quote};
use common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let _ = parse_quote(&bytes);
        let _ = OeReport::parse(&bytes);
        let _ = pki::parse_sgx_extension(&bytes);
        let _ = pki::pem_certificates(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = tcb::split_tcb_info(s);
            let _ = tcb::parse_tcb_info(s);
            let _ = tcb::parse_qe_identity(s);
            let _ = tcb::parse_time(s);
        }
    }

    #[test]
    fn quote_headers_with_random_tails_never_panic(
        version in prop_oneof![Just(3u16), Just(4u16), any::<u16>()],
        tail in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut q = version.to_le_bytes().to_vec();
        q.extend_from_slice(&2u16.to_le_bytes());
        q.extend_from_slice(&[0; 44]);
        q.extend_from_slice(&tail);
        let _ = parse_quote(&q);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Mutations anywhere in a real quote (lengths, certification data, PEM)
    /// are parsed or rejected, and full verification returns, never panics.
    #[test]
    fn mutated_real_quotes_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = read(&format!("{DCAP_QVL}/quote.bin"));
        let at = pinned_time(DCAP_QVL);
        let roots = sgx::intel_trust_roots(TrustRoots::empty());
        let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &roots, at).unwrap();
        let mut m = bytes.clone();
        for (i, v) in &edits {
            let i = i.index(m.len());
            m[i] = *v;
        }
        if let Ok(q) = parse_quote(&m) {
            let _ = verify_quote(&q, &vc, &roots, at);
        }
        let n = cut.index(bytes.len());
        prop_assert!(parse_quote(&bytes[..n]).is_err());
    }
}
