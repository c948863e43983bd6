//! TDX failure classes on synthetic evidence from the testkit (its own test
//! PKI): each class yields its specific error code, or its specific claim
//! where Intel's model makes it a status rather than an error.

use attesta_evidence::binding::{check_init_time_data, check_runtime_data};
use attesta_evidence::error::ErrorCode;
use attesta_evidence::sgx::TcbStatus;
use attesta_evidence::tdx::{
    self, TdxTcbStatus, TdxVerified, TdxVerifiedCollateral, TdxVerifier, verify_td_quote,
};
use attesta_testkit::TdxSample;
use serde_json::json;

fn verify(s: &TdxSample) -> Result<TdxVerified, tdx::TdxError> {
    let roots = s.trust_roots();
    let q = tdx::parse_td_quote(&s.quote)?;
    let vc = TdxVerifiedCollateral::verify(&s.collateral, &roots, s.at)?;
    verify_td_quote(&q, &vc, &roots, s.at)
}

fn code(s: &TdxSample) -> &'static str {
    match verify(s) {
        Ok(v) => panic!("verified: {:?}", v.tcb_status),
        Err(e) => e.code(),
    }
}

#[test]
fn default_samples_verify_v4_and_v5() {
    for (version, td15) in [(4, false), (5, false), (5, true)] {
        let s = TdxSample::builder().version(version).td15(td15).build();
        let v = verify(&s).unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(v.quote_version, version);
        assert_eq!(v.tcb_status, TdxTcbStatus::Dcap(TcbStatus::UpToDate));
        assert_eq!(v.module_identity_id.as_deref(), Some("TDX_01"));
        assert_eq!(v.report.tee_tcb_svn2.is_some(), td15);
        let c = v.claims();
        assert_eq!(c.get("tdx_mrtd"), Some(&hex::encode(s.mr_td).into()));
        assert_eq!(c.get("tdx_rtmr1"), Some(&hex::encode(s.rtmr[1]).into()));
        assert_eq!(c.get("x-attesta-test-root"), Some(&true.into()));
        assert_eq!(c.get("tdx_seamsvn"), Some(&0x0103.into()));
        assert_eq!(c.get("tdx_td_attributes_debug"), Some(&false.into()));
    }
}

#[test]
fn runtime_and_init_time_data_bind() {
    let s = TdxSample::builder()
        .version(5)
        .runtime_data(b"{\"keys\":[]}")
        .init_time_data(b"init")
        .build();
    let v = TdxVerifier::default()
        .verify_bytes(&s.quote, &s.collateral, &s.trust_roots(), s.at)
        .unwrap();
    assert_eq!(v.report_data, s.report_data.to_vec());
    check_runtime_data(&v.report_data, b"{\"keys\":[]}").unwrap();
    assert!(check_runtime_data(&v.report_data, b"other").is_err());
    check_init_time_data(v.init_data.as_deref(), b"init").unwrap();
}

#[test]
fn wrong_module_identity() {
    let s = TdxSample::builder().wrong_module_identity().build();
    assert_eq!(code(&s), "TdxModuleIdentityMismatch");
    let s = TdxSample::builder().no_module_identity().build();
    assert_eq!(code(&s), "TdxModuleIdentityNotFound");
}

#[test]
fn outdated_tee_tcb_is_an_out_of_date_status() {
    let s = TdxSample::builder().outdated_tee_tcb().build();
    let v = verify(&s).unwrap();
    assert_eq!(v.platform_tcb_status, TcbStatus::OutOfDate);
    assert_eq!(v.tcb_status, TdxTcbStatus::Dcap(TcbStatus::OutOfDate));
    assert_eq!(v.advisory_ids, vec!["INTEL-SA-00837".to_string()]);
    let c = v.claims();
    assert_eq!(c.get("attester_tcb_status"), Some(&"OutOfDate".into()));
    assert_eq!(
        c.get("x-attesta-tcb-advisory-ids"),
        Some(&json!(["INTEL-SA-00837"]))
    );
    // Below every level: no level at all.
    let s = TdxSample::builder().no_matching_level().build();
    assert_eq!(code(&s), "TcbLevelNotFound");
}

#[test]
fn module_and_qe_statuses_converge_into_the_platforms() {
    let s = TdxSample::builder()
        .module_tcb_status(TcbStatus::OutOfDate)
        .build();
    let v = verify(&s).unwrap();
    assert_eq!(v.platform_tcb_status, TcbStatus::UpToDate);
    assert_eq!(v.module_tcb_status, Some(TcbStatus::OutOfDate));
    assert_eq!(v.tcb_status, TdxTcbStatus::Dcap(TcbStatus::OutOfDate));
    assert_eq!(
        v.claims().get("x-attesta-tdx-module-tcb-status"),
        Some(&"OutOfDate".into())
    );

    let s = TdxSample::builder()
        .tcb_status(TcbStatus::ConfigurationNeeded)
        .qe_tcb_status(TcbStatus::OutOfDate)
        .build();
    let v = verify(&s).unwrap();
    assert_eq!(
        v.tcb_status,
        TdxTcbStatus::Dcap(TcbStatus::OutOfDateConfigurationNeeded)
    );
    assert_eq!(v.advisory_ids, vec!["INTEL-SA-00615".to_string()]);

    let s = TdxSample::builder()
        .module_tcb_status(TcbStatus::Revoked)
        .build();
    assert_eq!(code(&s), "TdxModuleTcbRevoked");
    let s = TdxSample::builder().tcb_status(TcbStatus::Revoked).build();
    assert_eq!(code(&s), "TcbRevoked");
    let s = TdxSample::builder()
        .qe_tcb_status(TcbStatus::Revoked)
        .build();
    assert_eq!(code(&s), "QeTcbRevoked");
}

#[test]
fn td15_relaunch_is_advised_when_only_the_launch_tcb_is_old() {
    let s = TdxSample::builder().version(5).relaunch_advised().build();
    let v = verify(&s).unwrap();
    assert_eq!(v.platform_tcb_status, TcbStatus::OutOfDate);
    assert_eq!(v.current_tcb_status, Some(TcbStatus::UpToDate));
    assert_eq!(v.tcb_status, TdxTcbStatus::TdRelaunchAdvised);
    assert_eq!(
        v.claims().get("attester_tcb_status"),
        Some(&"TDRelaunchAdvised".into())
    );
    // A current TCB that no level covers cannot be appraised, as in Intel's QVL.
    let s = TdxSample::builder().version(5).stale_current_tcb().build();
    assert_eq!(code(&s), "TdxCurrentTcbInvalid");
    match verify(&s).unwrap_err() {
        tdx::TdxError::TdxCurrentTcbInvalid(inner) => assert_eq!(inner.code(), "TcbLevelNotFound"),
        other => panic!("unexpected {other:?}"),
    }
    // A TD 1.0 body has no current TCB: the launch status stands.
    let s = TdxSample::builder().version(4).relaunch_advised().build();
    assert_eq!(
        verify(&s).unwrap().tcb_status,
        TdxTcbStatus::Dcap(TcbStatus::OutOfDate)
    );
}

/// MAA leaves debug TDs to policy: the quote path verifies them and says so
/// in claims; the one-shot verifier rejects them unless `allow_debug`.
#[test]
fn debug_td_is_a_claim_and_the_one_shot_verifier_refuses_it() {
    let s = TdxSample::builder().debug(true).build();
    let v = verify(&s).unwrap();
    let c = v.claims();
    assert_eq!(c.get("tdx_td_attributes_debug"), Some(&true.into()));
    assert_eq!(c.get("dbgstat"), Some(&"enabled".into()));
    let err = TdxVerifier::default()
        .verify_bytes(&s.quote, &s.collateral, &s.trust_roots(), s.at)
        .unwrap_err();
    assert_eq!(err.code(), "DebugTdNotAllowed");
    let ok = TdxVerifier { allow_debug: true }
        .verify_bytes(&s.quote, &s.collateral, &s.trust_roots(), s.at)
        .unwrap();
    assert_eq!(ok.claims.get("tdx_td_attributes_debug"), Some(&true.into()));
}

#[test]
fn bad_signatures() {
    assert_eq!(
        code(&TdxSample::builder().bad_quote_signature().build()),
        "QuoteSignatureInvalid"
    );
    assert_eq!(
        code(
            &TdxSample::builder()
                .version(5)
                .bad_quote_signature()
                .build()
        ),
        "QuoteSignatureInvalid"
    );
    assert_eq!(
        code(&TdxSample::builder().bad_qe_report_signature().build()),
        "QeReportSignatureInvalid"
    );
    assert_eq!(
        code(&TdxSample::builder().bad_qe_report_data().build()),
        "QeReportDataMismatch"
    );
}

#[test]
fn revocation_and_expiry() {
    assert_eq!(
        code(&TdxSample::builder().revoke_pck().build()),
        "PckCertificateRevoked"
    );
    assert_eq!(
        code(&TdxSample::builder().expire_pck_crl().build()),
        "PckCrlExpired"
    );
}

#[test]
fn untrusted_root_is_rejected() {
    let s = TdxSample::builder().build();
    let other = TdxSample::builder().build();
    let err = TdxVerifiedCollateral::verify(&s.collateral, &other.trust_roots(), s.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
    // Collateral of one sample cannot vouch for another's quote (other PCK CA).
    let roots = s.trust_roots();
    let vc = TdxVerifiedCollateral::verify(&s.collateral, &roots, s.at).unwrap();
    let q = tdx::parse_td_quote(&other.quote).unwrap();
    assert!(verify_td_quote(&q, &vc, &roots, s.at).is_err());
}

#[test]
fn zero_padding_is_ignored() {
    let s = TdxSample::builder().version(5).padding(3000).build();
    let v = verify(&s).unwrap();
    assert_eq!(v.tcb_status, TdxTcbStatus::Dcap(TcbStatus::UpToDate));
    assert_eq!(tdx::parse_td_quote(&s.quote).unwrap().padding, 3000);
}
