//! The offline-bundle layout round-trips collateral byte for byte.

use attesta_testkit::{SgxSample, read_bundle, write_bundle};

#[test]
fn bundle_round_trips() {
    let s = SgxSample::builder().build();
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &s.collateral).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pck_crl.der",
            "pck_crl_issuer_chain.pem",
            "qe_identity.json",
            "qe_identity_issuer_chain.pem",
            "root_ca_crl.der",
            "tcb_info.json",
            "tcb_info_issuer_chain.pem"
        ]
    );
    assert_eq!(read_bundle(dir.path()).unwrap(), s.collateral);
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_bundle(dir.path()).is_err());
}
