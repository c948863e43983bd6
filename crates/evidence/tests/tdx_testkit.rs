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

/// Intel QVL's `checkForRelaunch`: an out-of-date launch TCB whose current
/// TCB is not out of date advises a relaunch, with configuration needed when
/// either side needs it; anything else keeps the launch status.
#[test]
fn relaunch_follows_intels_check_for_relaunch() {
    use TcbStatus::*;
    use TdxTcbStatus::{Dcap, TdRelaunchAdvised, TdRelaunchAdvisedConfigurationNeeded};
    let cases = [
        (OutOfDate, UpToDate, TdRelaunchAdvised),
        (OutOfDate, SWHardeningNeeded, TdRelaunchAdvised),
        (
            OutOfDate,
            ConfigurationNeeded,
            TdRelaunchAdvisedConfigurationNeeded,
        ),
        (
            OutOfDate,
            ConfigurationAndSWHardeningNeeded,
            TdRelaunchAdvisedConfigurationNeeded,
        ),
        (
            OutOfDateConfigurationNeeded,
            UpToDate,
            TdRelaunchAdvisedConfigurationNeeded,
        ),
        (OutOfDate, OutOfDate, Dcap(OutOfDate)),
        (UpToDate, UpToDate, Dcap(UpToDate)),
        (ConfigurationNeeded, UpToDate, Dcap(ConfigurationNeeded)),
    ];
    for (launch, current, want) in cases {
        assert_eq!(
            TdxTcbStatus::relaunch(launch, current),
            want,
            "{launch:?} {current:?}"
        );
    }
    assert_eq!(TdRelaunchAdvised.to_string(), "TDRelaunchAdvised");
    assert_eq!(
        TdRelaunchAdvisedConfigurationNeeded.to_string(),
        "TDRelaunchAdvisedConfigurationNeeded"
    );
    assert_eq!(Dcap(SWHardeningNeeded).to_string(), "SWHardeningNeeded");
}

/// A verified collateral's window is the DCAP part's, holds the time it
/// verified at, and `check_time` refuses a time on either side of it.
#[test]
fn the_collateral_window_holds_its_verification_time_and_is_rechecked() {
    let s = TdxSample::builder().build();
    let vc = TdxVerifiedCollateral::verify(&s.collateral, &s.trust_roots(), s.at).unwrap();
    let (from, to) = vc.valid_window();
    assert_eq!((from, to), vc.dcap.valid_window());
    let at = s.at.0 as i64;
    assert!(from <= at && at <= to, "{from} <= {at} <= {to}");
    vc.check_time(s.at).unwrap();
    for t in [from - 1, to + 1] {
        assert!(
            vc.check_time(attesta_evidence::UnixTime(t as u64)).is_err(),
            "{t} is outside {from}..{to}"
        );
    }
}

/// A TCB info that is not TDX version 3 is named as such before any
/// signature is checked: another version of the TDX id, or the SGX id.
#[test]
fn only_a_tdx_version_3_tcb_info_is_taken() {
    let s = TdxSample::builder().build();
    for (from, to, says) in [
        (r#""version":3"#, r#""version":2"#, "id 'TDX', version 2"),
        (r#""id":"TDX""#, r#""id":"SGX""#, "id 'SGX', version 3"),
    ] {
        let mut c = s.collateral.clone();
        assert!(c.tcb_info_json.contains(from));
        c.tcb_info_json = c.tcb_info_json.replacen(from, to, 1);
        match TdxVerifiedCollateral::verify(&c, &s.trust_roots(), s.at).unwrap_err() {
            tdx::TdxError::TdxTcbInfoExpected(m) => assert_eq!(m, says),
            e => panic!("expected TdxTcbInfoExpected, got {e:?}"),
        }
    }
}

/// Each TD attribute claim reads its own bit: samples with SEPT_VE_DISABLE
/// (bit 28) and DEBUG (bit 0) each set or not, and no other attribute.
#[test]
fn td_attribute_claims_read_their_own_bits() {
    let names = [
        "tdx_td_attributes_debug",
        "tdx_td_attributes_key_locker",
        "tdx_td_attributes_perfmon",
        "tdx_td_attributes_protection_keys",
        "tdx_td_attributes_septve_disable",
    ];
    for (debug, septve) in [(false, true), (true, true), (false, false), (true, false)] {
        let s = TdxSample::builder()
            .debug(debug)
            .sept_ve_disable(septve)
            .build();
        let v = verify(&s).unwrap();
        let septve_bit = if septve {
            tdx::quote::TD_ATTR_SEPT_VE_DISABLE
        } else {
            0
        };
        assert_eq!(
            v.report.td_attributes_u64(),
            septve_bit | u64::from(debug),
            "the sample sets no other attribute"
        );
        let c = v.claims();
        for n in names {
            let want = (septve && n == "tdx_td_attributes_septve_disable")
                || (debug && n == "tdx_td_attributes_debug");
            assert_eq!(
                c.get(n),
                Some(&want.into()),
                "{n} (debug {debug}, septve {septve})"
            );
        }
        let dbgstat = if debug { "enabled" } else { "disabled" };
        assert_eq!(c.get("dbgstat"), Some(&dbgstat.into()));
    }
}
