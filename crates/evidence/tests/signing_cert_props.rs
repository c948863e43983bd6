//! Property tests: the signing-certificate decoder is total — random bytes,
//! truncations and mutations of MAA's real certificate (DER, where lengths
//! and the embedded quote live) give a value or an error, never a panic —
//! and verification of whatever decodes returns.

mod common;

use attesta_evidence::roots::TrustRoots;
use attesta_evidence::signing_cert::{self, SigningCert};
use attesta_evidence::{UnixTime, sgx};
use common::*;
use proptest::prelude::*;

fn uks_der() -> Vec<u8> {
    SigningCert::parse(&read(
        "maa-tokens/azure-samples/maa.prod.uks.signing.cert.pem",
    ))
    .unwrap()
    .der
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
        if let Ok(c) = SigningCert::parse(&bytes) {
            let _ = c.primary_evidence();
            for e in &c.evidence {
                let _ = e.report_data();
            }
        }
        let _ = signing_cert::check_self_signature(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_maa_certificates_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let der = uks_der();
        let roots = sgx::intel_trust_roots(TrustRoots::empty());
        let at = UnixTime(1_596_240_000); // 2020-08-01
        let mut m = der.clone();
        for (i, v) in &edits {
            let i = i.index(m.len());
            m[i] = *v;
        }
        if let Ok(c) = SigningCert::parse(&m) {
            let _ = signing_cert::verify(&c, None, &roots, at);
        }
        let n = cut.index(der.len());
        prop_assert!(SigningCert::parse(&der[..n]).is_err());
    }
}
