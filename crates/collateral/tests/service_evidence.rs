//! Collateral for a service's own evidence: the references a node writes
//! (`collateral_refs`) and what a relying party fetches with them
//! (`fetch_service_collateral`) from loopback HTTPS PCS and KDS fixtures
//! serving testkit collateral, then verified fully by the evidence crate.

mod common;
mod kds_fixture;

use attesta_collateral::{
    AMD_KDS_BASE_URL, INTEL_PCS_BASE_URL, KdsClient, KdsClientOptions, PcsClient, PcsClientOptions,
    collateral_refs, fetch_service_collateral,
};
use attesta_evidence::UnixTime;
use attesta_evidence::signing_cert::{
    self, AttestaEvidence, EvidenceKind, SigningCert, VerifyLevel, key_binding_report_data,
};
use attesta_testkit::signing_cert::{CertSpec, certificate, new_key, spki_der};

fn node_cert(key: &[u8], ev: AttestaEvidence, at: UnixTime) -> SigningCert {
    SigningCert::parse(&certificate(
        key,
        &CertSpec {
            common_name: "attesta node".into(),
            not_before: at.0 as i64 - 3600,
            not_after: at.0 as i64 + 3600,
            extensions: vec![],
            attesta: Some(ev),
        },
    ))
    .unwrap()
}

fn pcs(base: &str, ca: Option<&String>) -> PcsClient {
    let mut o = PcsClientOptions::new(base);
    o.extra_root_ca_pem = ca.cloned();
    PcsClient::new(o).unwrap()
}

fn kds(base: &str, ca: Option<&String>) -> KdsClient {
    let mut o = KdsClientOptions::new(base);
    o.extra_root_ca_pem = ca.cloned();
    o.min_interval = std::time::Duration::ZERO;
    KdsClient::new(o).unwrap()
}

/// An SGX node's certificate references its FMSPC and CA; the DCAP
/// collateral fetched by them from a PCS makes the check full.
#[tokio::test]
async fn sgx_references_fetch_the_dcap_collateral() {
    let key = new_key();
    let sample = attesta_testkit::SgxSample::builder()
        .report_data(key_binding_report_data(&spki_der(&key)))
        .build();
    let dir = tempfile::tempdir().unwrap();
    attesta_testkit::write_bundle(dir.path(), &sample.collateral).unwrap();
    let pcs_fixture = common::Fixture::start_with(
        dir.path().to_str().unwrap(),
        common::FixtureOptions {
            https: true,
            ..Default::default()
        },
    )
    .await;
    let mut a = AttestaEvidence::new(EvidenceKind::SgxQuote, &sample.quote, Some("test"));
    let refs = collateral_refs(
        EvidenceKind::SgxQuote,
        &sample.quote,
        None,
        INTEL_PCS_BASE_URL,
        AMD_KDS_BASE_URL,
    );
    assert_eq!(refs.fmspc.as_deref(), Some(pcs_fixture.fmspc.as_str()));
    assert_eq!(refs.ca.as_deref(), Some(pcs_fixture.ca.as_str()));
    a.collateral = Some(refs);
    let cert = node_cert(&key, a, sample.at);
    let ev = cert.primary_evidence().unwrap();
    let ca = pcs_fixture.ca_pem.as_ref();
    // The KDS is not asked for SGX evidence (an unreachable one will do).
    let fetched = fetch_service_collateral(
        ev,
        &pcs(&pcs_fixture.base_url, ca),
        &kds("https://127.0.0.1:9", None),
    )
    .await
    .unwrap();
    assert_eq!(fetched.dcap.as_ref(), Some(&sample.collateral));
    assert_eq!(pcs_fixture.count(&pcs_fixture.tcb_path()), 1);
    let v = signing_cert::verify_with(&cert, &fetched, &sample.trust_roots(), sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    assert_eq!(v.claims.get("x-attesta-tcb-status").unwrap(), "UpToDate");

    // A version-1 extension (no references): the FMSPC and CA come from
    // the quote's PCK certificate.
    let mut v1 = AttestaEvidence::new(EvidenceKind::SgxQuote, &sample.quote, Some("test"));
    v1.version = 1;
    let cert = node_cert(&key, v1, sample.at);
    let fetched = fetch_service_collateral(
        cert.primary_evidence().unwrap(),
        &pcs(&pcs_fixture.base_url, ca),
        &kds("https://127.0.0.1:9", None),
    )
    .await
    .unwrap();
    assert_eq!(fetched.dcap.as_ref(), Some(&sample.collateral));
    // A reference to an FMSPC the PCS does not know: not found.
    let mut wrong = AttestaEvidence::new(EvidenceKind::SgxQuote, &sample.quote, Some("test"));
    wrong.collateral = Some(attesta_evidence::signing_cert::CollateralRefs {
        fmspc: Some("FFFFFFFFFFFF".into()),
        ca: Some("processor".into()),
        ..Default::default()
    });
    let cert = node_cert(&key, wrong, sample.at);
    let err = fetch_service_collateral(
        cert.primary_evidence().unwrap(),
        &pcs(&pcs_fixture.base_url, ca),
        &kds("https://127.0.0.1:9", None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "NotFound");
    pcs_fixture.stop().await;
}

/// An SEV-SNP report whose certificate carries no VCEK chain: the VCEK
/// (by chip id and reported TCB), the ASK and the CRL come from the KDS and
/// the check is full; with the chain in the evidence only the CRL is fetched.
#[tokio::test]
async fn snp_references_fetch_the_vcek_and_crl() {
    let key = new_key();
    let sample = attesta_testkit::SnpSample::builder()
        .report_data(key_binding_report_data(&spki_der(&key)))
        .crl(true)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let pem = attesta_testkit::snp::pem;
    std::fs::write(dir.path().join("vcek.der"), &sample.vek_der).unwrap();
    std::fs::write(
        dir.path().join("ask_ark.pem"),
        format!("{}{}", pem(&sample.ask_der), pem(&sample.ark_der)),
    )
    .unwrap();
    let f = kds_fixture::KdsFixture::start_with(
        &[dir.path().to_str().unwrap()],
        kds_fixture::KdsFixtureOptions {
            crl_der: sample.crl_der.clone(),
            https: true,
            ..Default::default()
        },
    )
    .await;
    let client = kds(&f.base_url, f.ca_pem.as_ref());
    let unused_pcs = pcs("https://127.0.0.1:9", None);

    let mut a = AttestaEvidence::new(EvidenceKind::SnpReport, &sample.report, Some("test"));
    let refs = collateral_refs(
        EvidenceKind::SnpReport,
        &sample.report,
        None,
        INTEL_PCS_BASE_URL,
        AMD_KDS_BASE_URL,
    );
    assert_eq!(refs.product.as_deref(), Some("Milan"));
    assert_eq!(
        refs.crl_url.as_deref(),
        Some("https://kdsintf.amd.com/vcek/v1/Milan/crl")
    );
    a.collateral = Some(refs);
    let cert = node_cert(&key, a, sample.at);
    let fetched = fetch_service_collateral(cert.primary_evidence().unwrap(), &unused_pcs, &client)
        .await
        .unwrap();
    let certs = fetched.snp_certificates.as_ref().unwrap();
    assert_eq!(certs.vek_der, sample.vek_der);
    assert_eq!(certs.ask_der, sample.ask_der);
    assert_eq!(fetched.amd_crls[0].der, sample.crl_der.clone().unwrap());
    let chip = attesta_evidence::snp::parse_report(&sample.report)
        .unwrap()
        .chip_id;
    assert_eq!(f.count(&format!("/vcek/v1/Milan/{}", hex::encode(chip))), 1);
    assert_eq!(f.count("/vcek/v1/Milan/cert_chain"), 1);
    assert_eq!(f.count("/vcek/v1/Milan/crl"), 1);
    assert_eq!(f.total(), 3, "{:?}", f.uris());
    let v = signing_cert::verify_with(&cert, &fetched, &sample.trust_roots(), sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);

    // With the chain in the evidence, only the CRL is fetched.
    let mut with_chain = AttestaEvidence::new(EvidenceKind::SnpReport, &sample.report, None);
    with_chain.certs = Some(b64url(
        format!("{}{}", pem(&sample.vek_der), pem(&sample.ask_der)).as_bytes(),
    ));
    let cert = node_cert(&key, with_chain, sample.at);
    let fetched = fetch_service_collateral(cert.primary_evidence().unwrap(), &unused_pcs, &client)
        .await
        .unwrap();
    assert!(fetched.snp_certificates.is_none());
    assert_eq!(f.total(), 4);
    let v = signing_cert::verify_with(&cert, &fetched, &sample.trust_roots(), sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    f.stop().await;
}

/// A v2 report (no CPUID) without certificates or
/// references: nothing names its product, so nothing can be fetched.
#[tokio::test]
async fn snp_evidence_that_names_no_product_cannot_be_fetched_for() {
    let key = new_key();
    let sample = attesta_testkit::SnpSample::builder()
        .version(2)
        .report_data(key_binding_report_data(&spki_der(&key)))
        .build();
    let cert = node_cert(
        &key,
        AttestaEvidence::new(EvidenceKind::SnpReport, &sample.report, None),
        sample.at,
    );
    let err = fetch_service_collateral(
        cert.primary_evidence().unwrap(),
        &pcs("https://127.0.0.1:9", None),
        &kds("https://127.0.0.1:9", None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "CollateralReferenceMissing");
    assert!(err.to_string().contains("SEV-SNP product"), "{err}");
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}
