//! The readers in this crate are total: any bytes give a value or a typed
//! error, never a panic. Inputs are arbitrary bytes and mutations of real
//! Intel collateral from the shared vectors.

mod common;

use attesta_collateral::{
    DcapCollateral, DcapTee, PckCa, check_matches, deserialize, fmspc_of, import_dir,
    next_update_of, pck_ca_of, serialize, version_of,
};
use proptest::prelude::*;

fn real() -> DcapCollateral {
    import_dir(&common::vector_dir("tdx/automata-tdx-v4")).unwrap()
}

fn read_all(c: &DcapCollateral) {
    let _ = fmspc_of(c);
    let _ = pck_ca_of(c);
    let _ = next_update_of(c);
    let _ = check_matches(c, DcapTee::Tdx, "00806F050000", PckCa::Platform);
    let _ = version_of(c);
    assert_eq!(deserialize(&serialize(c)).unwrap(), *c);
}

fn mutate(mut v: Vec<u8>, at: usize, byte: u8, cut: usize) -> Vec<u8> {
    if !v.is_empty() {
        let i = at % v.len();
        v[i] ^= byte;
        v.truncate(v.len() - cut % v.len());
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn deserialize_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = deserialize(&bytes);
    }

    #[test]
    fn mutated_crls_never_panic(at in any::<usize>(), byte in 1u8.., cut in any::<usize>()) {
        let mut c = real();
        c.pck_crl = mutate(c.pck_crl.clone(), at, byte, cut);
        c.root_ca_crl = mutate(c.root_ca_crl.clone(), at / 3, byte, cut / 5);
        read_all(&c);
    }

    #[test]
    fn mutated_json_never_panics(at in any::<usize>(), byte in 1u8..0x80, cut in any::<usize>()) {
        let mut c = real();
        let tcb = mutate(c.tcb_info_json.clone().into_bytes(), at, byte, cut);
        let qe = mutate(c.qe_identity_json.clone().into_bytes(), at / 7, byte, cut / 3);
        c.tcb_info_json = String::from_utf8_lossy(&tcb).into_owned();
        c.qe_identity_json = String::from_utf8_lossy(&qe).into_owned();
        read_all(&c);
    }

    #[test]
    fn arbitrary_parts_never_panic(
        tcb in ".{0,200}",
        qe in ".{0,200}",
        crl in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut c = real();
        c.tcb_info_json = tcb;
        c.qe_identity_json = qe;
        c.pck_crl = crl.clone();
        c.root_ca_crl = crl;
        read_all(&c);
    }

    #[test]
    fn import_dir_never_panics_on_mutated_files(
        file in 0usize..7,
        at in any::<usize>(),
        byte in 1u8..,
        cut in any::<usize>(),
    ) {
        let src = common::vector_dir("sgx/dcap-qvl-sgx-v3");
        let tmp = tempfile::tempdir().unwrap();
        for (i, f) in attesta_collateral::BUNDLE_FILES.iter().enumerate() {
            let bytes = std::fs::read(src.join(f)).unwrap();
            let bytes = if i == file { mutate(bytes, at, byte, cut) } else { bytes };
            std::fs::write(tmp.path().join(f), bytes).unwrap();
        }
        if let Ok(c) = import_dir(tmp.path()) {
            read_all(&c);
        }
    }
}
