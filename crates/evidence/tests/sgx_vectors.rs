//! Real SGX and Open Enclave vectors verified at their pinned times: stated
//! TCB status, advisories and identity; documented failures fail for the
//! documented reason; every byte of every signed region is load-bearing.

mod common;

use attesta_evidence::openenclave::{OeReport, OpenEnclaveVerifier};
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{
    self, SgxError, SgxVerifier, TcbStatus, VerifiedCollateral, parse_quote, verify_quote,
};
use attesta_evidence::{ErrorCode, UnixTime, Verifier};
use common::*;

fn intel() -> TrustRoots {
    sgx::intel_trust_roots(TrustRoots::empty())
}

#[test]
fn dcap_qvl_vector_verifies_with_its_stated_status() {
    let quote_bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    let quote = parse_quote(&quote_bytes).unwrap();
    let v = verify_quote(&quote, &vc, &intel(), at).unwrap();
    assert_eq!(v.tcb_status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    assert_eq!(v.qe_tcb_status, TcbStatus::UpToDate);
    assert_eq!(v.advisory_ids, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert_eq!(v.tcb_date.as_deref(), Some("2024-03-13T00:00:00Z"));
    assert!(!v.test_root);
    let c = v.claims();
    assert_eq!(
        c.get("x-ms-sgx-mrenclave").unwrap(),
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(
        c.get("x-ms-sgx-mrsigner").unwrap(),
        "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    );
    assert_eq!(c.get("x-ms-sgx-product-id").unwrap(), 0);
    assert_eq!(c.get("x-ms-sgx-svn").unwrap(), 0);
    assert_eq!(c.get("x-ms-sgx-is-debuggable").unwrap(), false);
    assert_eq!(
        c.get("x-attesta-tcb-status").unwrap(),
        "ConfigurationAndSWHardeningNeeded"
    );
    assert_eq!(
        c.get("x-attesta-tcb-advisory-ids").unwrap(),
        &serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(c.get("x-attesta-qe-tcb-status").unwrap(), "UpToDate");
    assert_eq!(c.get("x-attesta-test-root").unwrap(), false);
    assert!(
        c.get("x-ms-sgx-report-data")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with(&hex::encode("Hello, world!"))
    );
    assert_eq!(
        c.get("x-ms-sgx-collateral").unwrap()["quotehash"],
        hex::encode(attesta_evidence::crypto::sha256(&quote_bytes))
    );
    assert!(c.get("x-ms-sgx-config-id").is_none(), "not a KSS enclave");
}

#[test]
fn one_shot_verifier_agrees_and_rejects_debug_only_when_asked() {
    let quote_bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let at = pinned_time(DCAP_QVL);
    let verifier = SgxVerifier::default();
    let ev = verifier.parse(&quote_bytes).unwrap();
    let v = verifier
        .verify(&ev, &collateral(DCAP_QVL), &intel(), at)
        .unwrap();
    assert_eq!(&v.report_data[..13], b"Hello, world!");
    assert_eq!(v.init_data.as_deref(), Some(&[0u8; 64][..]));
    assert_eq!(
        v.claims.get("x-attesta-tcb-status").unwrap(),
        "ConfigurationAndSWHardeningNeeded"
    );
}

#[test]
fn collateral_expires_one_second_after_the_window() {
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    assert_eq!(vc.valid_window().1, at.0 as i64 + 1);
    let later = UnixTime(at.0 + 2);
    let err = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), later).unwrap_err();
    assert_eq!(err.code(), "QeIdentityExpired", "{err}");
    // A cached value used past its window fails the same way.
    let quote_bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let quote = parse_quote(&quote_bytes).unwrap();
    let err = verify_quote(&quote, &vc, &intel(), later).unwrap_err();
    assert_eq!(err.code(), "QeIdentityExpired");
}

#[test]
fn without_intels_root_nothing_verifies() {
    let at = pinned_time(DCAP_QVL);
    let err =
        VerifiedCollateral::verify(&collateral(DCAP_QVL), &TrustRoots::empty(), at).unwrap_err();
    assert_eq!(err.code(), "UntrustedRoot");
}

#[test]
fn mobilecoin_fails_on_its_expired_pck_crl() {
    // PROVENANCE: the PCK CRL (nextUpdate 2023-05-21T22:00:36Z) had expired
    // before the TCB info was issued; at the pinned time a strict verifier
    // reports the PCK CRL as expired — after every other collateral check passed.
    let err =
        VerifiedCollateral::verify(&collateral(MOBILECOIN), &intel(), pinned_time(MOBILECOIN))
            .unwrap_err();
    assert_eq!(err.code(), "PckCrlExpired", "{err}");
    match err {
        SgxError::PckCrlExpired { next_update, .. } => {
            assert_eq!(next_update, common::time("2023-05-21T22:00:36Z").0 as i64)
        }
        e => panic!("unexpected {e:?}"),
    }
}
