//! Service evidence in token-signing certificates: MAA's real 2020 SGX
//! certificates from the shared vectors, and testkit certificates with
//! MAA's and Attesta's extensions.

mod common;

use attesta_evidence::roots::TrustRoots;
use attesta_evidence::signing_cert::{
    self, EvidenceKind, EvidenceSource, SelfSignature, SigningCert, VerifyLevel,
};
use attesta_evidence::{ErrorCode, UnixTime, sgx};
use attesta_testkit::signing_cert::{
    CertSpec, attesta_sgx, certificate, maa_sgx_extension, new_key, sgx_sample_binding, spki_der,
};
use common::{read, time};

const UKS: &str = "maa-tokens/azure-samples/maa.prod.uks.signing.cert.pem";
const UKS_MRENCLAVE: &str = "5eaa887fb1744de9a13ef95967faa264a5d025512952549c69f541566cbff209";
const UKS_MRSIGNER: &str = "5e5410aaf99a32e32df2a97d579e65f8310f274816ec4f34cedeeb1be410a526";
const UKS_REPORT_DATA: &str = "2901401eb935c402ca1c10f86f8bbb4c2bc2275330d0c95865efabc5d78f3ad80000000000000000000000000000000000000000000000000000000000000000";

fn intel() -> TrustRoots {
    sgx::intel_trust_roots(TrustRoots::empty())
}

#[test]
fn maa_uks_certificate_decodes_to_its_sgx_quote() {
    let cert = SigningCert::parse(&read(UKS)).unwrap();
    assert_eq!(cert.subject, "CN=https://shareduks.uks.attest.azure.net");
    assert_eq!(cert.evidence.len(), 1);
    let ev = &cert.evidence[0];
    assert_eq!(ev.source, EvidenceSource::MaaSgxQuote);
    assert_eq!(ev.kind, EvidenceKind::SgxQuote);
    assert_eq!(ev.bytes.len(), 4584);
    assert_eq!(cert.maa_quote_version, Some(1));
    let q = sgx::Quote::parse(&ev.bytes).unwrap();
    assert_eq!(q.header.version, 3);
    assert_eq!(hex::encode(q.report.mr_enclave), UKS_MRENCLAVE);
    assert_eq!(hex::encode(q.report.mr_signer), UKS_MRSIGNER);
    assert_eq!(hex::encode(q.report.report_data), UKS_REPORT_DATA);
    // The debug bit is set in MAA's own quote (reference §6.4).
    assert_eq!(q.report.flags(), 0x07);
}

#[test]
fn maa_uks_key_binding_verifies_and_gives_the_jwks_kid() {
    let cert = SigningCert::parse(&read(UKS)).unwrap();
    let pem = cert.spki_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
    assert!(pem.lines().skip(1).take(3).all(|l| l.len() <= 64));
    assert_eq!(
        hex::encode(cert.binding_digest()),
        &UKS_REPORT_DATA[..64],
        "SHA-256(SPKI PEM || 0x00) is report_data[0..32]"
    );
    let rd = cert.evidence[0].report_data().unwrap();
    signing_cert::check_key_binding(&rd, &cert.spki_der).unwrap();
    // MAA's kid for this key, as its /certs document lists it.
    assert_eq!(
        cert.maa_kid(),
        "KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg="
    );
    let jwks =
        String::from_utf8(read("maa-tokens/azure-samples/uks-signing-keys-jwks.json")).unwrap();
    assert!(jwks.contains(&cert.maa_kid()));
    // Without the trailing NUL, or without the final newline, it does not bind.
    let mut no_nul = pem.clone().into_bytes();
    assert_ne!(
        attesta_evidence::crypto::sha256(&no_nul),
        cert.binding_digest()
    );
    no_nul.pop();
    no_nul.push(0);
    assert_ne!(
        attesta_evidence::crypto::sha256(&no_nul),
        cert.binding_digest()
    );
}

#[test]
fn maa_uks_signatures_and_pck_chain_verify_without_collateral_at_issue_time() {
    let cert = SigningCert::parse(&read(UKS)).unwrap();
    let at = time("2020-08-01T00:00:00Z");
    let v = signing_cert::verify(&cert, None, &intel(), at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    assert_eq!(v.self_signature, SelfSignature::ValidLegacyKey);
    assert!(!v.test_root);
    assert!(
        v.pck_subject
            .as_deref()
            .unwrap()
            .contains("Intel SGX PCK Certificate")
    );
    assert_eq!(v.claims.get("x-ms-sgx-mrenclave").unwrap(), UKS_MRENCLAVE);
    assert_eq!(v.claims.get("x-ms-sgx-is-debuggable").unwrap(), true);
    assert_eq!(
        v.claims.get("x-attesta-service-evidence-level").unwrap(),
        "signatures"
    );
    // Today the certificate (2020-07-17..2021-07-17) has expired.
    let err = signing_cert::verify(&cert, None, &intel(), UnixTime(1_800_000_000)).unwrap_err();
    assert_eq!(err.code(), "SigningCertificateExpired");
    // With no trusted root the chain does not anchor.
    let err = signing_cert::verify(&cert, None, &TrustRoots::empty(), at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
}

#[test]
fn maa_gnkuks_certificates_bind_their_keys_too() {
    // uksouth.signing.cert.cer is the same base64 followed by a JWKS
    // fragment (`"],"kid":…`): not a certificate file, refused.
    assert!(
        SigningCert::parse(&read("maa-tokens/azure-samples/uksouth.signing.cert.cer")).is_err()
    );
    let cert =
        SigningCert::parse(&read("maa-tokens/azure-samples/sample.signing.cert.cer")).unwrap();
    assert_eq!(cert.subject, "CN=https://gnkuks001.uks.attest.azure.net");
    let rd = cert.evidence[0].report_data().unwrap();
    signing_cert::check_key_binding(&rd, &cert.spki_der).unwrap();
    let at = UnixTime(cert.not_before as u64 + 86_400);
    let v = signing_cert::verify(&cert, None, &intel(), at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    // The EUS2 certificate has no evidence extension.
    let cert = SigningCert::parse(&read("maa-tokens/azure-samples/eus2.signing.cert.cer")).unwrap();
    assert!(cert.evidence.is_empty());
    let err = signing_cert::verify(&cert, None, &intel(), UnixTime(cert.not_before as u64 + 1))
        .unwrap_err();
    assert_eq!(err.code(), "ServiceEvidenceMissing");
}

#[test]
fn maa_quote_under_another_key_fails_the_binding() {
    let maa = SigningCert::parse(&read(UKS)).unwrap();
    let quote = maa.evidence[0].bytes.clone();
    let key = new_key();
    let der = certificate(
        &key,
        &CertSpec {
            common_name: "https://shareduks.uks.attest.azure.net".into(),
            not_before: maa.not_before,
            not_after: maa.not_after,
            extensions: vec![maa_sgx_extension(&quote)],
            attesta: None,
        },
    );
    let forged = SigningCert::parse(&der).unwrap();
    assert_eq!(forged.evidence[0].bytes, quote);
    let at = time("2020-08-01T00:00:00Z");
    let err = signing_cert::verify(&forged, None, &intel(), at).unwrap_err();
    assert_eq!(err.code(), "ServiceKeyBindingMismatch");
    assert!(err.to_string().contains(&UKS_REPORT_DATA[..64]));
}

#[test]
fn attesta_extension_with_testkit_quote_verifies_fully_and_catches_swaps() {
    let key = new_key();
    let spki = spki_der(&key);
    let sample = sgx_sample_binding(&spki);
    let spec = |attesta| CertSpec {
        common_name: "attesta node".into(),
        not_before: sample.at.0 as i64 - 3600,
        not_after: sample.at.0 as i64 + 3600,
        extensions: vec![],
        attesta: Some(attesta),
    };
    let der = certificate(&key, &spec(attesta_sgx(&sample.quote)));
    let cert = SigningCert::parse(&der).unwrap();
    assert_eq!(cert.evidence[0].source, EvidenceSource::Attesta);
    assert_eq!(cert.evidence[0].origin.as_deref(), Some("test"));
    let roots = sample.trust_roots();
    let v = signing_cert::verify(&cert, Some(&sample.collateral), &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    assert_eq!(v.self_signature, SelfSignature::Valid);
    assert!(v.test_root);
    assert_eq!(
        v.claims.get("x-ms-sgx-mrenclave").unwrap(),
        &hex::encode(sample.mr_enclave)
    );
    assert_eq!(v.claims.get("x-attesta-tcb-status").unwrap(), "UpToDate");
    let v = signing_cert::verify(&cert, None, &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    // Intel's root alone does not anchor the test PKI.
    let err =
        signing_cert::verify(&cert, Some(&sample.collateral), &intel(), sample.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");

    // Evidence swapped in from another node's key: binding fails.
    let other_key = new_key();
    let other = sgx_sample_binding(&spki_der(&other_key));
    let swapped = SigningCert::parse(&certificate(&key, &spec(attesta_sgx(&other.quote)))).unwrap();
    let err = signing_cert::verify(
        &swapped,
        Some(&other.collateral),
        &other.trust_roots(),
        other.at,
    )
    .unwrap_err();
    assert_eq!(err.code(), "ServiceKeyBindingMismatch");

    // A tampered certificate body (one bit in the TBS) breaks the self-signature.
    let mut tampered = der.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 1;
    if let Ok(t) = SigningCert::parse(&tampered) {
        assert!(signing_cert::verify(&t, Some(&sample.collateral), &roots, sample.at).is_err());
    }
}

/// No collateral of 2020–21 is in the vectors, so MAA's quote cannot be
/// judged as of its certificate's lifetime. The signature-checked 2023 TCB
/// info and QE identity of the same FMSPC (00906ED50000, mobilecoin vector)
/// judge MAA's 2020 platform and QE as they stood in July 2023.
#[test]
fn maa_uks_quote_tcb_against_2023_documents_of_its_fmspc() {
    let cert = SigningCert::parse(&read(UKS)).unwrap();
    let q = sgx::Quote::parse(&cert.evidence[0].bytes).unwrap();
    let (pck, key) = common::pck_of(&q);
    assert_eq!(hex::encode_upper(pck.fmspc), "00906ED50000");
    sgx::check_quote_signatures(&q, &key).unwrap();
    let (info, id) = common::signed_documents("sgx/mobilecoin-attestation-sgx-v3");
    let e = sgx::evaluate_tcb(&pck, &q.qe_report, &info, &id).unwrap();
    assert_eq!(e.tcb_status.as_str(), "OutOfDate");
    assert_eq!(e.platform_tcb_status.as_str(), "OutOfDate");
    assert_eq!(e.qe_tcb_status.as_str(), "OutOfDate");
    assert_eq!(e.tcb_date.as_deref(), Some("2020-06-10T00:00:00Z"));
    assert_eq!(e.advisory_ids.len(), 10);
    assert!(e.advisory_ids.iter().any(|a| a == "INTEL-SA-00381"));
}

/// A TDX node's certificate (Attesta's extension with a TD quote, as
/// configfs-tsm gives one): fully with collateral, chain and signatures
/// without; a quote binding another key is refused.
#[test]
fn attesta_extension_with_a_td_quote_verifies_and_binds() {
    use attesta_evidence::signing_cert::{AttestaEvidence, key_binding_report_data};
    let key = new_key();
    let spki = spki_der(&key);
    let sample = attesta_testkit::TdxSample::builder()
        .report_data(key_binding_report_data(&spki))
        .build();
    let spec = |quote: &[u8]| CertSpec {
        common_name: "attesta tdx node".into(),
        not_before: sample.at.0 as i64 - 3600,
        not_after: sample.at.0 as i64 + 3600,
        extensions: vec![],
        attesta: Some(AttestaEvidence::new(
            EvidenceKind::TdxQuote,
            quote,
            Some("configfs-tsm"),
        )),
    };
    let cert = SigningCert::parse(&certificate(&key, &spec(&sample.quote))).unwrap();
    let roots = sample.trust_roots();
    let v = signing_cert::verify(&cert, Some(&sample.collateral), &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    assert_eq!(
        v.claims.get("tdx_mrtd").unwrap(),
        &hex::encode(sample.mr_td)
    );
    let v = signing_cert::verify(&cert, None, &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    assert_eq!(
        v.claims.get("tdx_mrtd").unwrap(),
        &hex::encode(sample.mr_td)
    );
    assert_eq!(
        signing_cert::verify(&cert, None, &intel(), sample.at)
            .unwrap_err()
            .code(),
        "UntrustedRoot"
    );
    let other = attesta_testkit::TdxSample::builder()
        .report_data(key_binding_report_data(&spki_der(&new_key())))
        .build();
    let swapped = SigningCert::parse(&certificate(&key, &spec(&other.quote))).unwrap();
    assert_eq!(
        signing_cert::verify(&swapped, None, &other.trust_roots(), other.at)
            .unwrap_err()
            .code(),
        "ServiceKeyBindingMismatch"
    );
}

/// An SEV-SNP node's certificate with the VCEK chain: the chain to the
/// (test) ARK and the report verify; without the chain only the binding is
/// known (level binding-only); a report binding another key is refused.
#[test]
fn attesta_extension_with_an_snp_report_verifies_with_its_vcek_chain() {
    use attesta_evidence::signing_cert::{AttestaEvidence, key_binding_report_data};
    use base64::Engine;
    let key = new_key();
    let spki = spki_der(&key);
    let sample = attesta_testkit::SnpSample::builder()
        .report_data(key_binding_report_data(&spki))
        .build();
    let chain = format!(
        "{}{}",
        attesta_testkit::snp::pem(&sample.vek_der),
        attesta_testkit::snp::pem(&sample.ask_der)
    );
    let spec = |report: &[u8], certs: Option<&str>| {
        let mut a = AttestaEvidence::new(EvidenceKind::SnpReport, report, Some("configfs-tsm"));
        a.certs = certs.map(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c));
        CertSpec {
            common_name: "attesta snp node".into(),
            not_before: sample.at.0 as i64 - 3600,
            not_after: sample.at.0 as i64 + 3600,
            extensions: vec![],
            attesta: Some(a),
        }
    };
    let cert = SigningCert::parse(&certificate(&key, &spec(&sample.report, Some(&chain)))).unwrap();
    let roots = sample.trust_roots();
    let v = signing_cert::verify(&cert, None, &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    assert!(v.test_root);
    assert_eq!(
        v.claims.get("x-ms-sevsnpvm-reportdata").unwrap(),
        &hex::encode(key_binding_report_data(&spki))
    );
    // The embedded AMD roots do not anchor the test ARK.
    let err = signing_cert::verify(
        &cert,
        None,
        &attesta_evidence::snp::amd_trust_roots(),
        sample.at,
    )
    .unwrap_err();
    assert_eq!(err.code(), "UntrustedArk");
    // No chain: binding only.
    let bare = SigningCert::parse(&certificate(&key, &spec(&sample.report, None))).unwrap();
    let v = signing_cert::verify(&bare, None, &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::BindingOnly);
    // A report binding another key.
    let other = attesta_testkit::SnpSample::builder()
        .report_data(key_binding_report_data(&spki_der(&new_key())))
        .build();
    let swapped =
        SigningCert::parse(&certificate(&key, &spec(&other.report, Some(&chain)))).unwrap();
    assert_eq!(
        signing_cert::verify(&swapped, None, &roots, sample.at)
            .unwrap_err()
            .code(),
        "ServiceKeyBindingMismatch"
    );
}

/// A certificate for `key` with Attesta's extension holding `report` and,
/// when given, its VCEK chain (PEM).
fn snp_node_cert(
    key: &[u8],
    sample: &attesta_testkit::SnpSample,
    report: &[u8],
    chain: Option<&str>,
) -> SigningCert {
    use attesta_evidence::signing_cert::AttestaEvidence;
    use base64::Engine;
    let mut a = AttestaEvidence::new(EvidenceKind::SnpReport, report, Some("test-snp"));
    a.certs = chain.map(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c));
    SigningCert::parse(&certificate(
        key,
        &CertSpec {
            common_name: "attesta snp node".into(),
            not_before: sample.at.0 as i64 - 3600,
            not_after: sample.at.0 as i64 + 3600,
            extensions: vec![],
            attesta: Some(a),
        },
    ))
    .unwrap()
}

fn vcek_chain(sample: &attesta_testkit::SnpSample) -> String {
    format!(
        "{}{}",
        attesta_testkit::snp::pem(&sample.vek_der),
        attesta_testkit::snp::pem(&sample.ask_der)
    )
}

/// SEV-SNP with AMD's CRL: the check is full; the CRL listing the VCEK is
/// `VcekRevoked`, listing the ASK `AskRevoked`; CRLs given but none for the
/// report's hierarchy is `AmdCrlMissing`; an expired CRL is `AmdCrlExpired`.
#[test]
fn snp_evidence_with_amd_crl_is_verified_fully_and_revocation_is_enforced() {
    use attesta_evidence::signing_cert::{AmdCrl, ServiceCollateral, key_binding_report_data};
    use attesta_evidence::snp::SigningKey;
    let key = new_key();
    let rd = key_binding_report_data(&spki_der(&key));
    let sample = attesta_testkit::SnpSample::builder()
        .report_data(rd)
        .crl(true)
        .build();
    let cert = snp_node_cert(&key, &sample, &sample.report, Some(&vcek_chain(&sample)));
    let roots = sample.trust_roots();
    let crl = |der: &[u8], signing_key| ServiceCollateral {
        amd_crls: vec![AmdCrl {
            signing_key,
            der: der.to_vec(),
        }],
        ..Default::default()
    };
    let clean = sample.crl_der.clone().unwrap();
    let v = signing_cert::verify_with(&cert, &crl(&clean, SigningKey::Vcek), &roots, sample.at)
        .unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    assert_eq!(
        v.claims.get("x-attesta-service-evidence-level").unwrap(),
        "full"
    );
    assert_eq!(
        v.claims.get("x-ms-sevsnpvm-launchmeasurement").unwrap(),
        &hex::encode([0x5A; 48])
    );
    assert_eq!(v.claims.get("x-ms-sevsnpvm-snpfw-svn").unwrap(), 22);
    assert_eq!(v.claims.get("x-ms-sevsnpvm-is-debuggable").unwrap(), false);
    assert_eq!(
        v.claims.get("x-attesta-snp-reported-tcb").unwrap()["microcode"],
        213
    );
    // Without the CRL: signatures only.
    let v =
        signing_cert::verify_with(&cert, &ServiceCollateral::default(), &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);

    // The same hierarchy's CRL, now listing the VCEK (the testkit's VCEKs
    // share one serial) or the ASK.
    let revoked = attesta_testkit::SnpSample::builder().revoke_vek().build();
    let err = signing_cert::verify_with(
        &cert,
        &crl(revoked.crl_der.as_ref().unwrap(), SigningKey::Vcek),
        &roots,
        sample.at,
    )
    .unwrap_err();
    assert_eq!(err.code(), "VcekRevoked");
    let ask_revoked = attesta_testkit::SnpSample::builder().revoke_ask().build();
    let err = signing_cert::verify_with(
        &cert,
        &crl(ask_revoked.crl_der.as_ref().unwrap(), SigningKey::Vcek),
        &roots,
        sample.at,
    )
    .unwrap_err();
    assert_eq!(err.code(), "AskRevoked");
    // Only the VLEK hierarchy's CRL: the VCEK's is missing.
    let err = signing_cert::verify_with(&cert, &crl(&clean, SigningKey::Vlek), &roots, sample.at)
        .unwrap_err();
    assert_eq!(err.code(), "AmdCrlMissing");
    // The CRL past its nextUpdate (30 days after the sample's time).
    let late = UnixTime(sample.at.0 + 40 * 86_400);
    let late_cert = {
        let s2 = attesta_testkit::SnpSample::builder()
            .report_data(rd)
            .at(late.0)
            .build();
        snp_node_cert(&key, &s2, &s2.report, Some(&vcek_chain(&s2)))
    };
    let err = signing_cert::verify_with(&late_cert, &crl(&clean, SigningKey::Vcek), &roots, late)
        .unwrap_err();
    assert_eq!(err.code(), "AmdCrlExpired");
}

/// A report without certificates in the evidence verifies with the VCEK and
/// ASK the relying party supplies (fetched from KDS); the evidence's own
/// certificates win when both are there.
#[test]
fn snp_evidence_without_certs_verifies_with_supplied_vcek() {
    use attesta_evidence::signing_cert::{ServiceCollateral, key_binding_report_data};
    let key = new_key();
    let sample = attesta_testkit::SnpSample::builder()
        .report_data(key_binding_report_data(&spki_der(&key)))
        .build();
    let bare = snp_node_cert(&key, &sample, &sample.report, None);
    let roots = sample.trust_roots();
    let supplied = ServiceCollateral {
        snp_certificates: Some(sample.certificates()),
        ..Default::default()
    };
    let v = signing_cert::verify_with(&bare, &supplied, &roots, sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Signatures);
    // Another platform's VCEK does not verify the report.
    let other = attesta_testkit::SnpSample::builder().build();
    let wrong = ServiceCollateral {
        snp_certificates: Some(other.certificates()),
        ..Default::default()
    };
    let err = signing_cert::verify_with(&bare, &wrong, &roots, sample.at).unwrap_err();
    assert_eq!(err.code(), "ReportSignatureInvalid");
    // With its own chain, the evidence's certificates are the ones used.
    let full = snp_node_cert(&key, &sample, &sample.report, Some(&vcek_chain(&sample)));
    signing_cert::verify_with(&full, &wrong, &roots, sample.at).unwrap();
}

/// MAA's SEV-SNP extension (`SnpReport` + `VcekCertChain`) with the AMD CRL
/// verifies fully, like Attesta's.
#[test]
fn maa_snp_extension_verifies_with_the_crl() {
    use attesta_evidence::signing_cert::{
        AmdCrl, ServiceCollateral, key_binding_report_data, maa_snp_extension_value,
    };
    let key = new_key();
    let sample = attesta_testkit::SnpSample::builder()
        .report_data(key_binding_report_data(&spki_der(&key)))
        .crl(true)
        .build();
    let chain = format!(
        "{}{}",
        vcek_chain(&sample),
        attesta_testkit::snp::pem(&sample.ark_der)
    );
    let der = certificate(
        &key,
        &CertSpec {
            common_name: "maa snp".into(),
            not_before: sample.at.0 as i64 - 3600,
            not_after: sample.at.0 as i64 + 3600,
            extensions: vec![(
                vec![1, 3, 6, 1, 4, 1, 311, 105, 1000, 1],
                maa_snp_extension_value(&sample.report, chain.as_bytes()),
            )],
            attesta: None,
        },
    );
    let cert = SigningCert::parse(&der).unwrap();
    assert_eq!(cert.evidence[0].source, EvidenceSource::MaaSnp);
    let coll = ServiceCollateral {
        amd_crls: vec![AmdCrl {
            signing_key: attesta_evidence::snp::SigningKey::Vcek,
            der: sample.crl_der.clone().unwrap(),
        }],
        ..Default::default()
    };
    let v = signing_cert::verify_with(&cert, &coll, &sample.trust_roots(), sample.at).unwrap();
    assert_eq!(v.level, VerifyLevel::Full);
    assert_eq!(v.source, EvidenceSource::MaaSnp);
}

/// The extension's JSON versions: 2 with references; 1 without them still
/// read; 1 with references, and any other version, refused.
#[test]
fn attesta_extension_versions() {
    use attesta_evidence::signing_cert::{
        ATTESTA_EVIDENCE_VERSION, AttestaEvidence, CollateralRefs, collateral_ids,
    };
    let key = new_key();
    let spki = spki_der(&key);
    let sample = sgx_sample_binding(&spki);
    let with = |a: AttestaEvidence| {
        certificate(
            &key,
            &CertSpec {
                common_name: "n".into(),
                not_before: sample.at.0 as i64 - 60,
                not_after: sample.at.0 as i64 + 60,
                extensions: vec![],
                attesta: Some(a),
            },
        )
    };
    let ids = collateral_ids(EvidenceKind::SgxQuote, &sample.quote, None);
    assert_eq!(ids.tee.as_deref(), Some("sgx"));
    assert_eq!(ids.fmspc.as_deref().map(str::len), Some(12));
    assert!(matches!(ids.ca.as_deref(), Some("processor" | "platform")));
    let mut a = attesta_sgx(&sample.quote);
    assert_eq!(a.version, ATTESTA_EVIDENCE_VERSION);
    a.collateral = Some(CollateralRefs {
        tcb_info_url: Some("https://pcs.example/sgx/certification/v4/tcb?fmspc=X".into()),
        ..ids.clone()
    });
    let cert = SigningCert::parse(&with(a.clone())).unwrap();
    assert_eq!(cert.evidence[0].refs, a.collateral);
    signing_cert::verify(&cert, None, &sample.trust_roots(), sample.at).unwrap();

    let mut v1 = attesta_sgx(&sample.quote);
    v1.version = 1;
    let cert = SigningCert::parse(&with(v1.clone())).unwrap();
    assert_eq!(cert.evidence[0].refs, None);
    signing_cert::verify(&cert, None, &sample.trust_roots(), sample.at).unwrap();

    v1.collateral = Some(ids);
    let err = SigningCert::parse(&with(v1)).unwrap_err();
    assert_eq!(err.code(), "EvidenceMalformed", "{err}");
    for version in [0, 3] {
        let mut v = attesta_sgx(&sample.quote);
        v.version = version;
        let err = SigningCert::parse(&with(v)).unwrap_err();
        assert!(err.to_string().contains("1 and 2 are known"), "{err}");
    }
    // An unknown member (a later version's) is refused, not ignored.
    let unknown = br#"{"version":2,"kind":"sgx-quote","evidence":"AA","binding":"sha256(spki-pem || 0x00)","collateral":{"tee":"sgx","future":1}}"#;
    assert!(serde_json::from_slice::<AttestaEvidence>(unknown).is_err());
}

/// The identifiers read from SEV-SNP evidence: the product from the VCEK
/// (or the report's CPUID without one) and the signing key.
#[test]
fn collateral_ids_of_snp_reports() {
    use attesta_evidence::signing_cert::collateral_ids;
    let s = attesta_testkit::SnpSample::builder()
        .generation(attesta_evidence::snp::Generation::Genoa)
        .build();
    let chain = vcek_chain(&s);
    let ids = collateral_ids(EvidenceKind::SnpReport, &s.report, Some(chain.as_bytes()));
    assert_eq!(ids.product.as_deref(), Some("Genoa"));
    assert_eq!(ids.signing_key.as_deref(), Some("vcek"));
    assert_eq!(ids.fmspc, None);
    let ids = collateral_ids(EvidenceKind::SnpReport, &s.report, None);
    assert_eq!(ids.product.as_deref(), Some("Genoa"));
    // A v2 report has no CPUID: no product without the VCEK.
    let v2 = attesta_testkit::SnpSample::builder()
        .version(2)
        .vlek(true)
        .build();
    let ids = collateral_ids(EvidenceKind::SnpReport, &v2.report, None);
    assert_eq!(ids.product, None);
    assert_eq!(ids.signing_key.as_deref(), Some("vlek"));
    // Garbage gives no identifiers, not a panic.
    assert_eq!(
        collateral_ids(EvidenceKind::TdxQuote, b"nope", None),
        Default::default()
    );
}

/// The PCK chain check without collateral (the walk from the quote's leaf
/// through its CA to a trusted root) keeps the SGX codes: a leaf outside
/// its window on either side is `PckCertificateExpired`, a CA no trusted
/// root issued is `UntrustedRoot`.
#[test]
fn the_pck_chain_without_collateral_keeps_the_sgx_codes() {
    let s = attesta_testkit::SgxSample::builder().build();
    let quote = sgx::Quote::parse(&s.quote).unwrap();
    let roots = s.trust_roots();
    let day = 86_400;
    let (subject, test_root) = signing_cert::check_quote_chain(&quote, &roots, s.at).unwrap();
    assert!(
        subject.contains("Attesta Test SGX PCK Certificate"),
        "{subject}"
    );
    assert!(test_root);
    for t in [s.at.0 + 2001 * day, s.at.0 - 401 * day] {
        let e = signing_cert::check_quote_chain(&quote, &roots, UnixTime(t)).unwrap_err();
        assert_eq!(e.code(), "PckCertificateExpired", "{e}");
    }
    let other = attesta_testkit::SgxSample::builder().build();
    let e = signing_cert::check_quote_chain(&quote, &other.trust_roots(), s.at).unwrap_err();
    assert_eq!(e, sgx::SgxError::UntrustedRoot("PCK"));
}
