//! Offline bundles from the shared vectors: import, identify, key, encode.

mod common;

use std::path::Path;

use attesta_collateral::{
    BUNDLE_FILES, CollateralError, DcapTee, PckCa, cache_key, check_matches, deserialize,
    export_dir, fmspc_of, import_dir, next_update_of, pck_ca_of, serialize, version_of,
};
use common::{ts, vector_dir};

/// Every DCAP folder with full collateral: (folder, tee, fmspc, ca, earliest nextUpdate).
const FULL: &[(&str, DcapTee, &str, PckCa, &str)] = &[
    (
        "sgx/dcap-qvl-sgx-v3",
        DcapTee::Sgx,
        "00A067110000",
        PckCa::Processor,
        "2025-07-19T10:01:18Z",
    ),
    (
        "sgx/mobilecoin-attestation-sgx-v3",
        DcapTee::Sgx,
        "00906ED50000",
        PckCa::Processor,
        "",
    ),
    (
        "tdx/automata-tdx-v4",
        DcapTee::Tdx,
        "00806F050000",
        PckCa::Platform,
        "2025-07-04T09:19:31Z",
    ),
    (
        "tdx/automata-tdx-v5",
        DcapTee::Tdx,
        "90C06F000000",
        PckCa::Platform,
        "",
    ),
    (
        "tdx/dcap-qvl-near-tdx-v4",
        DcapTee::Tdx,
        "20A06F000000",
        PckCa::Platform,
        "",
    ),
    (
        "tdx/dcap-qvl-tdx-v4",
        DcapTee::Tdx,
        "B0C06F000000",
        PckCa::Platform,
        "",
    ),
    (
        "tdx/dcap-qvl-tdx-v5-outdated",
        DcapTee::Tdx,
        "90C06F000000",
        PckCa::Platform,
        "",
    ),
];

#[test]
fn imports_every_full_dcap_folder() {
    for (rel, tee, fmspc, ca, next) in FULL {
        let dir = vector_dir(rel);
        let c = import_dir(&dir).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(fmspc_of(&c).unwrap(), (*tee, fmspc.to_string()), "{rel}");
        assert_eq!(pck_ca_of(&c).unwrap(), *ca, "{rel}");
        // Bytes are taken as they are.
        assert_eq!(
            c.tcb_info_json.as_bytes(),
            std::fs::read(dir.join("tcb_info.json")).unwrap()
        );
        assert_eq!(c.pck_crl, std::fs::read(dir.join("pck_crl.der")).unwrap());
        assert_eq!(
            c.root_ca_crl,
            std::fs::read(dir.join("root_ca_crl.der")).unwrap()
        );
        let n = next_update_of(&c).unwrap();
        if !next.is_empty() {
            assert_eq!(n, ts(next), "{rel}");
        }
        assert_eq!(check_matches(&c, *tee, fmspc, *ca).unwrap(), n);
    }
}

#[test]
fn folder_without_crls_names_the_missing_file() {
    let dir = vector_dir("tdx/trustee-tdx-quote6-partial");
    match import_dir(&dir).unwrap_err() {
        CollateralError::MissingFile { path } => assert_eq!(path, dir.join("pck_crl.der")),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn quote_only_folders_name_the_first_missing_file() {
    for rel in [
        "sgx/trustee-occlum-sgx-v3-quote-only",
        "sgx/azure-samples-maa-intel-sdk-quotes",
        "tdx/trustee-tdx-quotes-only",
        "tdx/dstack-teekit-cloud-quotes-only",
    ] {
        let dir = vector_dir(rel);
        let err = import_dir(&dir).unwrap_err();
        assert_eq!(err.code(), "MissingFile", "{rel}");
        assert!(err.to_string().contains("tcb_info.json"), "{rel}: {err}");
    }
}

#[test]
fn serialize_round_trips_exactly() {
    for (rel, ..) in FULL {
        let c = import_dir(&vector_dir(rel)).unwrap();
        let bytes = serialize(&c);
        assert_eq!(deserialize(&bytes).unwrap(), c, "{rel}");
        assert_eq!(version_of(&deserialize(&bytes).unwrap()), version_of(&c));
    }
}

#[test]
fn deserialize_rejects_other_bytes() {
    for bad in [
        &b""[..],
        b"{}",
        b"null",
        b"\xff\xfe",
        br#"{"format":"other"}"#,
    ] {
        assert_eq!(deserialize(bad).unwrap_err().code(), "CacheFormat");
    }
    let c = import_dir(&vector_dir("sgx/dcap-qvl-sgx-v3")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&serialize(&c)).unwrap();
    v["format"] = "attesta/dcap-collateral/v0".into();
    assert_eq!(
        deserialize(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .code(),
        "CacheFormat"
    );
    let mut v: serde_json::Value = serde_json::from_slice(&serialize(&c)).unwrap();
    v["pck_crl"] = "%%%".into();
    assert_eq!(
        deserialize(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .code(),
        "CacheFormat"
    );
}

#[test]
fn version_changes_with_any_byte() {
    let c = import_dir(&vector_dir("tdx/dcap-qvl-tdx-v4")).unwrap();
    let v = version_of(&c);
    let mut d = c.clone();
    d.root_ca_crl[10] ^= 1;
    assert_ne!(version_of(&d), v);
    let mut d = c.clone();
    d.qe_identity_issuer_chain.push('\n');
    assert_ne!(version_of(&d), v);
    // Moving a byte between adjacent parts changes it too (length prefixes).
    let mut d = c.clone();
    let last = d.tcb_info_json.pop().unwrap();
    d.tcb_info_issuer_chain.insert(0, last);
    assert_ne!(version_of(&d), v);
    assert_eq!(version_of(&c.clone()), v);
}

#[test]
fn cache_key_is_canonical_and_names_the_root() {
    let intel = attesta_collateral::intel_root_fingerprint();
    assert_eq!(
        hex::encode(intel),
        attesta_evidence::sgx::INTEL_SGX_ROOT_CA_SHA256
    );
    assert_eq!(
        cache_key(DcapTee::Sgx, &intel, "00a067110000", PckCa::Processor),
        format!(
            "sgx-collateral.{}.00A067110000.processor",
            hex::encode(intel)
        )
    );
    assert_eq!(
        cache_key(DcapTee::Tdx, &[0xab; 32], "00806F050000", PckCa::Platform),
        format!("tdx-collateral.{}.00806F050000.platform", "ab".repeat(32))
    );
}

/// A self-signed certificate as PEM: a stand-in for a test root.
fn other_root_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Attesta Test Root");
    params.self_signed(&key).unwrap().pem()
}

/// `chain` with its last certificate replaced by `root_pem`.
fn rerooted(chain: &str, root_pem: &str) -> String {
    let end = "-----END CERTIFICATE-----";
    let first_end = chain.find(end).unwrap() + end.len();
    format!("{}\n{root_pem}", &chain[..first_end])
}

#[test]
fn root_of_names_the_chains_root_and_refuses_mixed_chains() {
    for v in [
        "sgx/dcap-qvl-sgx-v3",
        "tdx/automata-tdx-v4",
        "tdx/dcap-qvl-tdx-v4",
    ] {
        let c = import_dir(&vector_dir(v)).unwrap();
        let root = attesta_collateral::root_of(&c).unwrap();
        assert_eq!(
            root.fingerprint,
            attesta_collateral::intel_root_fingerprint(),
            "{v}"
        );
        assert!(root.subject.contains("Intel SGX Root CA"), "{v}: {root:?}");
    }
    let mut c = import_dir(&vector_dir("sgx/dcap-qvl-sgx-v3")).unwrap();
    c.qe_identity_issuer_chain = rerooted(&c.qe_identity_issuer_chain, &other_root_pem());
    let err = attesta_collateral::root_of(&c).unwrap_err();
    assert_eq!(err.code(), "MalformedCollateral");
    assert!(
        err.to_string().contains("QE identity issuer chain"),
        "{err}"
    );
}

#[test]
fn export_then_import_is_identity() {
    let c = import_dir(&vector_dir("sgx/mobilecoin-attestation-sgx-v3")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    export_dir(&c, &out).unwrap();
    for f in BUNDLE_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert_eq!(import_dir(&out).unwrap(), c);
}

fn copy_bundle(from: &Path, to: &Path) {
    for f in BUNDLE_FILES {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

#[test]
fn crls_in_pem_or_hex_are_accepted() {
    use base64::Engine;
    let src = vector_dir("sgx/dcap-qvl-sgx-v3");
    let want = import_dir(&src).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_bundle(&src, tmp.path());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&want.pck_crl);
    std::fs::write(
        tmp.path().join("pck_crl.der"),
        format!("-----BEGIN X509 CRL-----\n{b64}\n-----END X509 CRL-----\n"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("root_ca_crl.der"),
        hex::encode(&want.root_ca_crl),
    )
    .unwrap();
    assert_eq!(import_dir(tmp.path()).unwrap(), want);
}

#[test]
fn damaged_parts_are_malformed() {
    let src = vector_dir("sgx/dcap-qvl-sgx-v3");
    let cases: &[(&str, &[u8], &str)] = &[
        ("pck_crl.der", b"\x30\x03\x02\x01", "PCK CRL"),
        ("root_ca_crl.der", b"hello", "root CA CRL"),
        ("tcb_info.json", b"{\"tcbInfo\":", "TCB info"),
        (
            "tcb_info.json",
            br#"{"tcbInfo":{"id":"XYZ","fmspc":"00A067110000"}}"#,
            "TCB info",
        ),
        (
            "tcb_info.json",
            br#"{"tcbInfo":{"id":"SGX","fmspc":"00A0"}}"#,
            "TCB info",
        ),
        ("qe_identity.json", br#"{"signature":"00"}"#, "QE identity"),
        (
            "tcb_info_issuer_chain.pem",
            b"no pem here",
            "TCB info issuer chain",
        ),
    ];
    for (file, bytes, part) in cases {
        let tmp = tempfile::tempdir().unwrap();
        copy_bundle(&src, tmp.path());
        std::fs::write(tmp.path().join(file), bytes).unwrap();
        match import_dir(tmp.path()).unwrap_err() {
            CollateralError::MalformedCollateral { part: p, .. } => assert_eq!(&p, part, "{file}"),
            other => panic!("{file}: unexpected {other:?}"),
        }
    }
    // A CRL with trailing bytes.
    let tmp = tempfile::tempdir().unwrap();
    copy_bundle(&src, tmp.path());
    let mut crl = std::fs::read(src.join("pck_crl.der")).unwrap();
    crl.push(0);
    std::fs::write(tmp.path().join("pck_crl.der"), crl).unwrap();
    assert_eq!(
        import_dir(tmp.path()).unwrap_err().code(),
        "MalformedCollateral"
    );
}

#[test]
fn check_matches_rejects_other_keys() {
    let c = import_dir(&vector_dir("tdx/automata-tdx-v4")).unwrap();
    for (tee, fmspc, ca) in [
        (DcapTee::Sgx, "00806F050000", PckCa::Platform),
        (DcapTee::Tdx, "00806F050001", PckCa::Platform),
        (DcapTee::Tdx, "00806F050000", PckCa::Processor),
    ] {
        let err = check_matches(&c, tee, fmspc, ca).unwrap_err();
        assert_eq!(err.code(), "MalformedCollateral", "{tee:?} {fmspc} {ca:?}");
    }
    // An SGX QE identity in a TDX set.
    let mut d = c.clone();
    d.qe_identity_json = import_dir(&vector_dir("sgx/dcap-qvl-sgx-v3"))
        .unwrap()
        .qe_identity_json;
    match check_matches(&d, DcapTee::Tdx, "00806F050000", PckCa::Platform).unwrap_err() {
        CollateralError::MalformedCollateral { part, .. } => assert_eq!(part, "QE identity"),
        other => panic!("unexpected {other:?}"),
    }
}
