//! Synthetic SGX evidence from the testkit: the happy path under a
//! configured test root, and one test per failure class asserting its code.

use attesta_evidence::openenclave::{OeReport, OpenEnclaveVerifier};
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{
    self, SgxError, SgxVerifier, TcbStatus, VerifiedCollateral, parse_quote, verify_quote,
};
use attesta_evidence::{ErrorCode, UnixTime, Verifier, crypto};
use attesta_testkit::{SgxSample, SgxSampleBuilder};

fn verify(s: &SgxSample) -> Result<sgx::SgxVerified, SgxError> {
    let roots = s.trust_roots();
    let vc = VerifiedCollateral::verify(&s.collateral, &roots, s.at)?;
    let q = parse_quote(&s.quote)?;
    verify_quote(&q, &vc, &roots, s.at)
}

fn code(b: SgxSampleBuilder) -> &'static str {
    let s = b.build();
    verify(&s).map(|_| ()).unwrap_err().code()
}

#[test]
fn valid_sample_verifies_under_its_configured_root() {
    let s = SgxSample::builder().runtime_data(b"hello").build();
    let v = verify(&s).unwrap();
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    assert!(v.test_root);
    let c = v.claims();
    assert_eq!(c.get("x-attesta-test-root").unwrap(), true);
    assert_eq!(
        c.get("x-ms-sgx-mrenclave").unwrap(),
        &hex::encode([0x11; 32])
    );
    assert_eq!(c.get("x-ms-sgx-is-debuggable").unwrap(), false);
    attesta_evidence::binding::check_runtime_data(&v.report.report_data, b"hello").unwrap();
    // The embedded Intel root alone does not trust the test PKI.
    let intel = sgx::intel_trust_roots(TrustRoots::empty());
    let err = VerifiedCollateral::verify(&s.collateral, &intel, s.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
}

#[test]
fn quote_v4_verifies() {
    let s = SgxSample::builder().version(4).build();
    let q = parse_quote(&s.quote).unwrap();
    assert_eq!((q.header.version, q.cert_data_type), (4, 6));
    assert_eq!(verify(&s).unwrap().quote_version, 4);
}

#[test]
fn every_non_revoked_tcb_status_verifies_and_is_reported() {
    use TcbStatus::*;
    for st in [
        UpToDate,
        SWHardeningNeeded,
        ConfigurationNeeded,
        ConfigurationAndSWHardeningNeeded,
        OutOfDate,
        OutOfDateConfigurationNeeded,
    ] {
        let s = SgxSample::builder()
            .tcb_status(st)
            .advisory_ids(&["INTEL-SA-00001"])
            .build();
        let v = verify(&s).unwrap();
        assert_eq!(v.tcb_status, st);
        assert_eq!(v.advisory_ids, ["INTEL-SA-00001"]);
        assert_eq!(v.claims().get("x-attesta-tcb-status").unwrap(), st.as_str());
    }
}

#[test]
fn out_of_date_qe_converges_like_qvl() {
    let s = SgxSample::builder()
        .tcb_status(TcbStatus::SWHardeningNeeded)
        .qe_tcb_status(TcbStatus::OutOfDate)
        .build();
    let v = verify(&s).unwrap();
    assert_eq!(v.platform_tcb_status, TcbStatus::SWHardeningNeeded);
    assert_eq!(v.qe_tcb_status, TcbStatus::OutOfDate);
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
    assert_eq!(v.advisory_ids, ["INTEL-SA-00615"]);
    let s = SgxSample::builder()
        .tcb_status(TcbStatus::ConfigurationNeeded)
        .qe_tcb_status(TcbStatus::OutOfDate)
        .build();
    assert_eq!(
        verify(&s).unwrap().tcb_status,
        TcbStatus::OutOfDateConfigurationNeeded
    );
}

#[test]
fn revoked_tcb_level_is_rejected() {
    assert_eq!(
        code(SgxSample::builder().tcb_status(TcbStatus::Revoked)),
        "TcbRevoked"
    );
    assert_eq!(
        code(SgxSample::builder().qe_tcb_status(TcbStatus::Revoked)),
        "QeTcbRevoked"
    );
}

#[test]
fn no_matching_tcb_level_is_rejected() {
    assert_eq!(
        code(SgxSample::builder().no_matching_level()),
        "TcbLevelNotFound"
    );
}

#[test]
fn revoked_pck_is_rejected() {
    assert_eq!(
        code(SgxSample::builder().revoke_pck()),
        "PckCertificateRevoked"
    );
    assert_eq!(code(SgxSample::builder().revoke_pck_ca()), "PckCaRevoked");
}

#[test]
fn expired_pieces_are_rejected_by_name() {
    assert_eq!(
        code(SgxSample::builder().expire_tcb_info()),
        "TcbInfoExpired"
    );
    assert_eq!(
        code(SgxSample::builder().expire_qe_identity()),
        "QeIdentityExpired"
    );
    assert_eq!(code(SgxSample::builder().expire_pck_crl()), "PckCrlExpired");
    assert_eq!(
        code(SgxSample::builder().expire_pck()),
        "PckCertificateExpired"
    );
}

#[test]
fn wrong_qe_identity_is_rejected() {
    assert_eq!(
        code(SgxSample::builder().wrong_qe_identity()),
        "QeIdentityMismatch"
    );
}

#[test]
fn bad_signatures_are_rejected_by_name() {
    assert_eq!(
        code(SgxSample::builder().bad_quote_signature()),
        "QuoteSignatureInvalid"
    );
    assert_eq!(
        code(SgxSample::builder().bad_qe_report_signature()),
        "QeReportSignatureInvalid"
    );
    assert_eq!(
        code(SgxSample::builder().bad_qe_report_data()),
        "QeReportDataMismatch"
    );
    assert_eq!(
        code(SgxSample::builder().bad_tcb_info_signature()),
        "TcbInfoSignatureInvalid"
    );
}

#[test]
fn tcb_info_for_another_platform_is_rejected() {
    assert_eq!(
        code(SgxSample::builder().tcb_info_fmspc([1, 2, 3, 4, 5, 6])),
        "TcbInfoFmspcMismatch"
    );
    // dcap-qvl 0.7.1 does not compare the PCE ID; Attesta does.
    assert_eq!(
        code(SgxSample::builder().tcb_info_pce_id([0, 1])),
        "TcbInfoPceIdMismatch"
    );
}

#[test]
fn debug_enclave_is_reported_and_rejected_by_the_strict_verifier() {
    let s = SgxSample::builder().debug(true).build();
    let v = verify(&s).unwrap();
    assert_eq!(v.claims().get("x-ms-sgx-is-debuggable").unwrap(), true);
    let strict = SgxVerifier::default();
    let ev = strict.parse(&s.quote).unwrap();
    let err = strict
        .verify(&ev, &s.collateral, &s.trust_roots(), s.at)
        .unwrap_err();
    assert_eq!(err.code(), "DebugEnclaveNotAllowed");
    let lenient = SgxVerifier { allow_debug: true };
    assert!(
        lenient
            .verify(&ev, &s.collateral, &s.trust_roots(), s.at)
            .is_ok()
    );
}

#[test]
fn kss_fields_become_claims_and_config_id_is_init_data() {
    let s = SgxSample::builder().kss(true).build();
    let v = verify(&s).unwrap();
    let c = v.claims();
    assert_eq!(
        c.get("x-ms-sgx-config-id").unwrap(),
        &hex::encode([0x44; 64])
    );
    assert_eq!(c.get("x-ms-sgx-config-svn").unwrap(), 7);
    assert_eq!(
        c.get("x-ms-sgx-isv-extended-product-id").unwrap(),
        &hex::encode([0x33; 16])
    );
    assert_eq!(
        c.get("x-ms-sgx-isv-family-id").unwrap(),
        &hex::encode([0x55; 16])
    );
    let verified = v.to_verified(&v.quote_hash);
    assert_eq!(verified.init_data.as_deref(), Some(&[0x44; 64][..]));
}

#[test]
fn open_enclave_report_hashes_the_whole_report() {
    let s = SgxSample::builder().build();
    let r = OeReport::parse(&s.oe_report).unwrap();
    assert_eq!(r.quote.raw, &s.quote[..]);
    let oe = OpenEnclaveVerifier::default();
    let v = oe
        .verify(
            &oe.parse(&s.oe_report).unwrap(),
            &s.collateral,
            &s.trust_roots(),
            s.at,
        )
        .unwrap();
    assert_eq!(
        v.claims.get("x-ms-sgx-collateral").unwrap()["quotehash"],
        hex::encode(crypto::sha256(&s.oe_report))
    );
    let sgx_v = SgxVerifier::default();
    let v = sgx_v
        .verify(
            &sgx_v.parse(&s.quote).unwrap(),
            &s.collateral,
            &s.trust_roots(),
            s.at,
        )
        .unwrap();
    assert_eq!(
        v.claims.get("x-ms-sgx-collateral").unwrap()["quotehash"],
        hex::encode(crypto::sha256(&s.quote))
    );
}

#[test]
fn collateral_hash_claims_hash_the_received_collateral() {
    let s = SgxSample::builder().build();
    let v = verify(&s).unwrap();
    let col = v.claims().get("x-ms-sgx-collateral").unwrap().clone();
    let h = |b: &[u8]| hex::encode(crypto::sha256(b));
    assert_eq!(col["tcbinfohash"], h(s.collateral.tcb_info_json.as_bytes()));
    assert_eq!(col["qeidhash"], h(s.collateral.qe_identity_json.as_bytes()));
    assert_eq!(
        col["tcbinfocertshash"],
        h(s.collateral.tcb_info_issuer_chain.as_bytes())
    );
    assert_eq!(
        col["qeidcertshash"],
        h(s.collateral.qe_identity_issuer_chain.as_bytes())
    );
    assert_eq!(col["tcbinfocrlhash"], h(&s.collateral.root_ca_crl));
    assert_eq!(col["qeidcrlhash"], h(&s.collateral.root_ca_crl));
}

#[test]
fn a_collateral_set_serves_many_quotes_but_not_another_pki() {
    let a = SgxSample::builder().build();
    let b = SgxSample::builder().build();
    let roots = a.trust_roots().with_configured(
        attesta_evidence::roots::RootKind::IntelSgx,
        b.root_der.clone(),
    );
    let vc = VerifiedCollateral::verify(&a.collateral, &roots, a.at).unwrap();
    let q = parse_quote(&a.quote).unwrap();
    verify_quote(&q, &vc, &roots, a.at).unwrap();
    verify_quote(&q, &vc, &roots, UnixTime(a.at.0 + 3600)).unwrap();
    // b's quote chains to b's root, not the root a's collateral verified at,
    // even though both roots are trusted.
    let q = parse_quote(&b.quote).unwrap();
    let err = verify_quote(&q, &vc, &roots, a.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
    // Dropping the root from the trust set invalidates cached collateral.
    let q = parse_quote(&a.quote).unwrap();
    let err = verify_quote(&q, &vc, &b.trust_roots(), a.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
}

#[test]
fn flipping_any_signed_byte_of_a_synthetic_v4_quote_is_rejected() {
    let s = SgxSample::builder().version(4).build();
    let roots = s.trust_roots();
    let vc = VerifiedCollateral::verify(&s.collateral, &roots, s.at).unwrap();
    let q = parse_quote(&s.quote).unwrap();
    for i in q.signed_range().chain(q.qe_report_range()) {
        let mut m = s.quote.clone();
        m[i] ^= 0x04;
        let res = parse_quote(&m).and_then(|q| verify_quote(&q, &vc, &roots, s.at));
        assert!(res.is_err(), "flip at {i} accepted");
    }
}

/// The quote's PCK chain: the leaf and the PCK CA, optionally the root;
/// one certificate or four are refused. The quote's copies of the CA and
/// the root are taken when they name the verified subject and key (Intel
/// re-issued its root with one key; the copy's own signature is not what
/// trust rests on), and refused when the key differs.
#[test]
fn the_quote_pck_chain_is_leaf_ca_and_an_optional_root_copy() {
    let s = SgxSample::builder().build();
    let roots = s.trust_roots();
    let vc = VerifiedCollateral::verify(&s.collateral, &roots, s.at).unwrap();
    let q = parse_quote(&s.quote).unwrap();
    let certs = sgx::pki::pem_certificates(q.pck_chain_pem).unwrap();
    assert_eq!(certs.len(), 3, "the sample carries leaf, CA and root");
    assert_eq!(certs[2], s.root_der);
    let (leaf, ca, root) = (&certs[0], &certs[1], &certs[2]);
    let with_chain = |chain: &[&Vec<u8>]| {
        let pem: String = chain.iter().map(|d| attesta_testkit::snp::pem(d)).collect();
        let mut q2 = q.clone();
        q2.pck_chain_pem = pem.as_bytes();
        verify_quote(&q2, &vc, &roots, s.at).map(|v| v.tcb_status)
    };
    // A copy with the same subject and key but other bytes (its signature's
    // last byte changed), and one whose key differs in its last byte.
    let resigned = |der: &Vec<u8>| {
        let mut d = der.clone();
        *d.last_mut().unwrap() ^= 0x01;
        d
    };
    let rekeyed = |der: &Vec<u8>| {
        let cert = sgx::pki::parse_cert(der).unwrap();
        let key = sgx::pki::public_key(&cert);
        let at = der
            .windows(key.len())
            .position(|w| w == key.as_slice())
            .expect("the key is in the DER");
        let mut d = der.clone();
        d[at + key.len() - 1] ^= 0x01;
        d
    };
    let (root2, ca2) = (resigned(root), resigned(ca));
    let (root3, ca3) = (rekeyed(root), rekeyed(ca));

    assert_eq!(with_chain(&[leaf, ca]), Ok(TcbStatus::UpToDate));
    assert_eq!(with_chain(&[leaf, ca, root]), Ok(TcbStatus::UpToDate));
    assert_eq!(with_chain(&[leaf, ca, &root2]), Ok(TcbStatus::UpToDate));
    assert_eq!(with_chain(&[leaf, &ca2, root]), Ok(TcbStatus::UpToDate));
    for chain in [vec![leaf], vec![leaf, ca, root, root]] {
        let e = with_chain(&chain).unwrap_err();
        assert_eq!(e.code(), "PckChainInvalid", "{} certificates", chain.len());
        assert!(
            e.to_string()
                .contains(&format!("found {} certificates", chain.len())),
            "{e}"
        );
    }
    assert_eq!(
        with_chain(&[leaf, ca, &root3]).unwrap_err(),
        SgxError::UntrustedRoot("PCK")
    );
    assert_eq!(
        with_chain(&[leaf, &ca3, root]).unwrap_err().code(),
        "PckCrlIssuerMismatch"
    );
}

/// Equality of verified collateral ignores the PCK-leaf memo: collateral
/// that has verified quotes equals the same collateral fresh, and so does
/// its clone.
#[test]
fn verified_collateral_equality_ignores_the_leaf_memo() {
    let s = SgxSample::builder().build();
    let roots = s.trust_roots();
    let fresh = VerifiedCollateral::verify(&s.collateral, &roots, s.at).unwrap();
    let used = VerifiedCollateral::verify(&s.collateral, &roots, s.at).unwrap();
    let q = parse_quote(&s.quote).unwrap();
    verify_quote(&q, &used, &roots, s.at).unwrap();
    assert_eq!(used, fresh);
    assert_eq!(used.clone(), fresh);
    // The clone still verifies the quote.
    verify_quote(&q, &used.clone(), &roots, s.at).unwrap();
}

/// The KSS claims appear when any one KSS fact holds: the KSS attribute
/// (FLAGS bit 7), or a non-zero CONFIGID, CONFIGSVN, ISVEXTPRODID or
/// ISVFAMILYID, each on its own; none of them, no KSS claims.
#[test]
fn any_one_kss_fact_brings_the_kss_claims() {
    let s = SgxSample::builder().build();
    let plain = verify(&s).unwrap();
    let kss_claims = [
        "x-ms-sgx-config-id",
        "x-ms-sgx-config-svn",
        "x-ms-sgx-isv-extended-product-id",
        "x-ms-sgx-isv-family-id",
    ];
    let has = |v: &sgx::SgxVerified| {
        let c = v.claims();
        let n = kss_claims.iter().filter(|k| c.get(k).is_some()).count();
        assert!(n == 0 || n == kss_claims.len(), "all or none");
        n > 0
    };
    assert!(!has(&plain), "the plain sample has no KSS fact");
    type Set = fn(&mut sgx::quote::ReportBody);
    let set: [(&str, Set); 5] = [
        ("KSS attribute", |r| r.attributes[0] |= 0x80),
        ("CONFIGID", |r| r.config_id[63] = 1),
        ("CONFIGSVN", |r| r.config_svn = 1),
        ("ISVEXTPRODID", |r| r.isv_ext_prod_id[15] = 1),
        ("ISVFAMILYID", |r| r.isv_family_id[15] = 1),
    ];
    for (what, f) in set {
        let mut v = plain.clone();
        f(&mut v.report);
        assert!(has(&v), "{what} alone");
    }
}
