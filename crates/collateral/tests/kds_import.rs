//! Offline SEV-SNP endorsements: reading every SNP vector folder (AMD's own
//! certificates under the file names the sources used), the facts read from
//! the VCEK/VLEK extensions, and that an imported VCEK is found under the key
//! the service computes from the *report's* CHIP_ID and REPORTED_TCB.

mod kds_fixture;

use std::sync::Arc;

use attesta_collateral::{
    CollateralCache, MemoryCache, SnpEndorsementService, SnpKeyKind, SnpOptions, SnpProduct,
    SnpTcb, endorsement_facts, import_snp_dir, read_snp_dir,
};
use kds_fixture::{read, vector_dir};

const NOW: i64 = 1_750_000_000;

/// CHIP_ID (0x1A0) and REPORTED_TCB (0x180) of a Milan/Genoa report.
fn report_ids(report: &[u8]) -> ([u8; 64], SnpTcb) {
    let chip: [u8; 64] = report[0x1A0..0x1E0].try_into().unwrap();
    let t: [u8; 8] = report[0x180..0x188].try_into().unwrap();
    // Milan and Genoa share the layout.
    (chip, SnpTcb::from_tcb_version(SnpProduct::Milan, &t))
}

#[test]
fn tcb_version_layouts() {
    let (_, tcb) = report_ids(&read("snp/virtee-sev-milan", "report.bin"));
    assert_eq!(
        tcb,
        SnpTcb {
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
            fmc: None
        }
    );
    assert_eq!(
        SnpTcb::from_tcb_version(SnpProduct::Turin, &[1, 2, 3, 4, 0, 0, 0, 9]),
        SnpTcb {
            fmc: Some(1),
            bootloader: 2,
            tee: 3,
            snp: 4,
            microcode: 9
        }
    );
}

#[test]
fn vcek_extensions_of_the_vectors() {
    let f = endorsement_facts(&read("snp/virtee-sev-milan", "vcek.der")).unwrap();
    assert_eq!(f.kind, SnpKeyKind::Vcek);
    assert_eq!(f.product, SnpProduct::Milan);
    assert_eq!(
        f.tcb,
        SnpTcb {
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
            fmc: None
        }
    );
    assert_eq!(&hex::encode(f.hwid.unwrap())[..16], "d49554ec717f4e5b");

    let f = endorsement_facts(&read("snp/virtee-sev-turin-vcek-only", "vcek.der")).unwrap();
    assert_eq!(f.product, SnpProduct::Turin);
    assert_eq!(
        f.tcb,
        SnpTcb {
            bootloader: 0,
            tee: 0,
            snp: 0,
            microcode: 9,
            fmc: Some(0)
        }
    );
    assert_eq!(hex::encode(f.hwid.unwrap()), "1e550a8ee5cf9f4d");

    let f = endorsement_facts(&read("snp/trustee-milan-vlek", "vlek.der")).unwrap();
    assert_eq!(f.kind, SnpKeyKind::Vlek);
    assert_eq!(f.product, SnpProduct::Milan);
    assert_eq!(f.hwid, None);
    assert_eq!(
        f.tcb,
        SnpTcb {
            bootloader: 4,
            tee: 0,
            snp: 24,
            microcode: 217,
            fmc: None
        }
    );

    // Genoa (Azure), with a two-byte ucodeSPL INTEGER (0x00DB) on the Milan ones.
    let pem = read("azure-cvm/trustee-az-snp-vtpm-genoa", "vcek.pem");
    let der = x509_parser::pem::parse_x509_pem(&pem).unwrap().1.contents;
    let f = endorsement_facts(&der).unwrap();
    assert_eq!(f.product, SnpProduct::Genoa);
    assert_eq!((f.tcb.bootloader, f.tcb.snp, f.tcb.microcode), (10, 23, 84));
    let pem = read("azure-cvm/trustee-az-snp-vtpm-v0", "vcek.pem");
    let der = x509_parser::pem::parse_x509_pem(&pem).unwrap().1.contents;
    assert_eq!(endorsement_facts(&der).unwrap().tcb.microcode, 219);
}

#[test]
fn a_chain_certificate_is_not_a_vcek() {
    let b = read_snp_dir(&vector_dir("snp/virtee-sev-milan")).unwrap();
    let err = endorsement_facts(&b.chains[0].ark).unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate");
}

/// (folder, VCEKs, VLEKs, chains)
type Case = (
    &'static str,
    usize,
    usize,
    &'static [(SnpProduct, SnpKeyKind)],
);

#[test]
fn reads_every_snp_vector_folder() {
    let cases: [Case; 8] = [
        (
            "snp/trustee-milan-vcek",
            1,
            0,
            &[
                (SnpProduct::Milan, SnpKeyKind::Vcek),
                (SnpProduct::Milan, SnpKeyKind::Vlek),
            ],
        ),
        (
            "snp/trustee-milan-vlek",
            0,
            1,
            &[(SnpProduct::Milan, SnpKeyKind::Vlek)],
        ),
        (
            "snp/virtee-sev-milan",
            1,
            0,
            &[(SnpProduct::Milan, SnpKeyKind::Vcek)],
        ),
        (
            "snp/virtee-sev-turin-vcek-only",
            1,
            0,
            &[(SnpProduct::Turin, SnpKeyKind::Vcek)],
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-genoa",
            1,
            0,
            &[(SnpProduct::Genoa, SnpKeyKind::Vcek)],
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v0",
            1,
            0,
            &[(SnpProduct::Milan, SnpKeyKind::Vcek)],
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v1",
            1,
            0,
            &[(SnpProduct::Milan, SnpKeyKind::Vcek)],
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v2",
            1,
            0,
            &[(SnpProduct::Milan, SnpKeyKind::Vcek)],
        ),
    ];
    for (dir, vceks, vleks, chains) in cases {
        let b = read_snp_dir(&vector_dir(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(b.vceks.len(), vceks, "{dir}");
        assert_eq!(b.vleks.len(), vleks, "{dir}");
        let got: Vec<_> = b.chains.iter().map(|c| (c.product, c.kind)).collect();
        assert_eq!(got, chains, "{dir}");
    }
}

#[tokio::test]
async fn imported_vceks_are_found_by_the_reports_chip_id_and_tcb() {
    // (folder, report file, product)
    let cases = [
        ("snp/virtee-sev-milan", "report.bin", SnpProduct::Milan),
        ("snp/trustee-milan-vcek", "report.bin", SnpProduct::Milan),
        (
            "azure-cvm/trustee-az-snp-vtpm-genoa",
            "snp_report.bin",
            SnpProduct::Genoa,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v0",
            "snp_report.bin",
            SnpProduct::Milan,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v1",
            "snp_report.bin",
            SnpProduct::Milan,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v2",
            "snp_report.bin",
            SnpProduct::Milan,
        ),
    ];
    for (dir, report, product) in cases {
        let cache = Arc::new(MemoryCache::new());
        let keys = import_snp_dir(cache.as_ref(), &vector_dir(dir), NOW)
            .await
            .unwrap();
        // No KDS: only what was imported can be served.
        let svc = SnpEndorsementService::new(None, cache.clone(), SnpOptions::default());
        let (chip, tcb) = report_ids(&read(dir, report));
        let vcek = svc
            .vcek(product, &chip, tcb, NOW)
            .await
            .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let want = read_snp_dir(&vector_dir(dir)).unwrap().vceks.remove(0);
        assert_eq!(*vcek, want, "{dir}");
        let chain = svc
            .cert_chain(product, SnpKeyKind::Vcek, NOW)
            .await
            .unwrap();
        assert_eq!(chain.product, product);
        assert!(
            keys.contains(&format!("snp/v1/chain/vcek/{product}")),
            "{dir}: {keys:?}"
        );
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("snp/v1/vcek/{product}/{}/", hex::encode(chip)))),
            "{dir}: {keys:?}"
        );
        for k in &keys {
            assert_eq!(cache.expires_at(k), Some(i64::MAX), "{k}");
        }
    }
}

#[tokio::test]
async fn turin_and_vlek_imports_land_under_their_keys() {
    let cache = MemoryCache::new();
    let keys = import_snp_dir(&cache, &vector_dir("snp/virtee-sev-turin-vcek-only"), NOW)
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![
            "snp/v1/vcek/Turin/1e550a8ee5cf9f4d/fmc0-bl0-tee0-snp0-uc9".to_owned(),
            "snp/v1/chain/vcek/Turin".to_owned(),
        ]
    );
    let cache = Arc::new(MemoryCache::new());
    let keys = import_snp_dir(cache.as_ref(), &vector_dir("snp/trustee-milan-vlek"), NOW)
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![
            "snp/v1/vlek/Milan/bl4-tee0-snp24-uc217".to_owned(),
            "snp/v1/chain/vlek/Milan".to_owned(),
        ]
    );
    let svc = SnpEndorsementService::new(None, cache.clone(), SnpOptions::default());
    let (_, tcb) = report_ids(&read("snp/trustee-milan-vlek", "report.bin"));
    let vlek = svc
        .cached_vlek(SnpProduct::Milan, tcb)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*vlek, read("snp/trustee-milan-vlek", "vlek.der"));
    let chain = svc
        .cert_chain(SnpProduct::Milan, SnpKeyKind::Vlek, NOW)
        .await
        .unwrap();
    assert_eq!(chain.kind, SnpKeyKind::Vlek);
}

#[tokio::test]
async fn offline_service_without_import_says_what_is_missing_then_serves_after_import() {
    let cache = Arc::new(MemoryCache::new());
    let svc = SnpEndorsementService::new(None, cache.clone(), SnpOptions::default());
    let dir = "snp/virtee-sev-milan";
    let (chip, tcb) = report_ids(&read(dir, "report.bin"));
    let err = svc
        .vcek(SnpProduct::Milan, &chip, tcb, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SnpEndorsementMissing");
    // The service's own import clears what it remembered of the miss.
    let keys = svc.import_dir(&vector_dir(dir), NOW + 1).await.unwrap();
    assert_eq!(keys.len(), 2);
    let vcek = svc
        .vcek(SnpProduct::Milan, &chip, tcb, NOW + 2)
        .await
        .unwrap();
    assert_eq!(*vcek, read(dir, "vcek.der"));
    let err = svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SnpEndorsementMissing");
}

#[tokio::test]
async fn pem_and_der_files_import_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let der = read("snp/virtee-sev-milan", "vcek.der");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
    std::fs::write(tmp.path().join("vcek.pem"), pem).unwrap();
    // KDS's own file name for a chain.
    std::fs::write(
        tmp.path().join("cert_chain"),
        read("snp/virtee-sev-milan", "ask_ark_milan.pem"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "not a certificate").unwrap();
    let b = read_snp_dir(tmp.path()).unwrap();
    assert_eq!(b.vceks, vec![der]);
    assert_eq!(b.chains.len(), 1);
    let cache = MemoryCache::new();
    let keys = import_snp_dir(&cache, tmp.path(), NOW).await.unwrap();
    let from_vectors = MemoryCache::new();
    let want = import_snp_dir(&from_vectors, &vector_dir("snp/virtee-sev-milan"), NOW)
        .await
        .unwrap();
    assert_eq!(keys, want);
    for k in &keys {
        assert_eq!(
            cache.get(k).await.unwrap(),
            from_vectors.get(k).await.unwrap(),
            "{k}"
        );
    }
}

#[test]
fn bad_directories_get_specific_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let err = read_snp_dir(tmp.path()).unwrap_err();
    assert_eq!(err.code(), "NoSnpEndorsements");

    let err = read_snp_dir(&tmp.path().join("absent")).unwrap_err();
    assert_eq!(err.code(), "Io");

    // Starts like DER but is not a certificate.
    std::fs::write(
        tmp.path().join("vcek.der"),
        [0x30, 0x82, 0x05, 0x00, 1, 2, 3],
    )
    .unwrap();
    let err = read_snp_dir(tmp.path()).unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate");

    // A certificate, but not one of AMD's SEV-SNP hierarchy.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["example.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(tmp.path().join("vcek.der"), cert.der().as_ref()).unwrap();
    let err = read_snp_dir(tmp.path()).unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate", "{err}");

    // An ASK without its ARK makes no chain; alone it is nothing to import.
    let tmp = tempfile::tempdir().unwrap();
    let b = read_snp_dir(&vector_dir("snp/virtee-sev-milan")).unwrap();
    std::fs::write(tmp.path().join("ask.der"), &b.chains[0].intermediate).unwrap();
    let err = read_snp_dir(tmp.path()).unwrap_err();
    assert_eq!(err.code(), "NoSnpEndorsements");
}

#[tokio::test]
async fn a_failing_cache_makes_the_import_fail() {
    struct Broken;
    #[async_trait::async_trait]
    impl CollateralCache for Broken {
        async fn get(&self, _: &str) -> Result<Option<(Vec<u8>, i64)>, String> {
            Ok(None)
        }
        async fn put(&self, _: &str, _: &[u8], _: i64, _: i64) -> Result<(), String> {
            Err("disk full".into())
        }
    }
    let err = import_snp_dir(&Broken, &vector_dir("snp/virtee-sev-milan"), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CacheUnavailable");
}

#[tokio::test]
async fn amd_crls_import_by_issuer_and_name_and_serve_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let vcek_crl = kds_fixture::test_crl(NOW - 86400, NOW + 30 * 86400);
    let vlek_crl = kds_fixture::test_crl(NOW - 86400, NOW + 20 * 86400);
    std::fs::write(tmp.path().join("milan_crl.der"), &vcek_crl).unwrap();
    let pem = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&vlek_crl);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
            lines.join("\n")
        )
    };
    std::fs::write(tmp.path().join("vlek.crl"), pem).unwrap();
    let bundle = attesta_collateral::read_snp_dir(tmp.path()).unwrap();
    assert_eq!(bundle.crls.len(), 2);
    assert!(bundle.vceks.is_empty() && bundle.chains.is_empty());

    // Offline: the service serves the imported CRLs without KDS.
    let cache = Arc::new(MemoryCache::new());
    let svc = SnpEndorsementService::new(None, cache.clone(), SnpOptions::default());
    let keys = svc.import_dir(tmp.path(), NOW).await.unwrap();
    assert_eq!(keys.len(), 2);
    let crl = svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vcek, NOW + 1)
        .await
        .unwrap();
    assert_eq!(crl.der, vcek_crl);
    assert_eq!(crl.next_update, NOW + 30 * 86400);
    let crl = svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vlek, NOW + 1)
        .await
        .unwrap();
    assert_eq!(crl.der, vlek_crl);
    // Past its nextUpdate (no grace configured), the imported CRL fails closed.
    let err = svc
        .crl(SnpProduct::Milan, SnpKeyKind::Vlek, NOW + 21 * 86400)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CollateralExpired", "{err}");

    // A CRL file that is not one of AMD's is refused by name.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("crl.der"),
        read("snp/virtee-sev-milan", "vcek.der"),
    )
    .unwrap();
    let err = attesta_collateral::read_snp_dir(bad.path()).unwrap_err();
    assert_eq!(err.code(), "MalformedCertificate");
    assert!(err.to_string().contains("crl.der"), "{err}");
}
