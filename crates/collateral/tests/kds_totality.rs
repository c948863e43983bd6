//! The SEV-SNP readers are total: any bytes — arbitrary, or mutations of
//! real AMD certificates from the shared vectors — give a value or a typed
//! error, never a panic.

mod kds_fixture;

use attesta_collateral::{SnpCertChain, SnpKeyKind, SnpProduct, endorsement_facts};
use kds_fixture::read;
use proptest::prelude::*;

fn mutate(mut v: Vec<u8>, at: usize, byte: u8, cut: usize) -> Vec<u8> {
    if !v.is_empty() {
        let i = at % v.len();
        v[i] ^= byte;
        v.truncate(v.len() - cut % v.len());
    }
    v
}

const CODES: [&str; 1] = ["MalformedCertificate"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn endorsement_facts_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(e) = endorsement_facts(&bytes) {
            prop_assert!(CODES.contains(&e.code()));
        }
    }

    #[test]
    fn mutated_vceks_give_facts_or_malformed(
        which in 0usize..3, at in any::<usize>(), byte in 1u8.., cut in 0usize..64
    ) {
        let (dir, file) = [
            ("snp/virtee-sev-milan", "vcek.der"),
            ("snp/virtee-sev-turin-vcek-only", "vcek.der"),
            ("snp/trustee-milan-vlek", "vlek.der"),
        ][which];
        let der = mutate(read(dir, file), at, byte, cut);
        if let Err(e) = endorsement_facts(&der) {
            prop_assert!(CODES.contains(&e.code()));
        }
    }

    #[test]
    fn mutated_chains_give_a_chain_or_malformed(
        at in any::<usize>(), byte in 1u8.., cut in 0usize..256
    ) {
        let pem = mutate(read("snp/virtee-sev-milan", "ask_ark_milan.pem"), at, byte, cut);
        if let Err(e) = SnpCertChain::from_pem(SnpProduct::Milan, SnpKeyKind::Vcek, &pem) {
            prop_assert!(CODES.contains(&e.code()));
        }
    }
}
