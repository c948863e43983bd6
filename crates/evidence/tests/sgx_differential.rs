//! Differential test against dcap-qvl 0.7.1 (ring backend), on every real
//! vector with collateral and on a testkit corpus: both must agree on the
//! verdict and, when both accept, on the TCB status and advisory IDs —
//! except where dcap-qvl is known to be wrong or narrower, each case named
//! and explained below.

mod common;

use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{
    self, SgxVerified, TcbStatus, VerifiedCollateral, parse_quote, verify_quote,
};
use attesta_evidence::{ErrorCode, UnixTime};
use attesta_testkit::{SgxSample, SgxSampleBuilder};
use common::*;
use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::configs::RingConfig;
use dcap_qvl::verify::{QuoteVerifier, VerifiedReport};

fn to_qvl(c: &DcapCollateral) -> QuoteCollateralV3 {
    let ti = sgx::tcb::split_tcb_info(&c.tcb_info_json).unwrap();
    let qe = sgx::tcb::split_qe_identity(&c.qe_identity_json).unwrap();
    QuoteCollateralV3 {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain.clone(),
        root_ca_crl: c.root_ca_crl.clone(),
        pck_crl: c.pck_crl.clone(),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain.clone(),
        tcb_info: ti.body.to_string(),
        tcb_info_signature: ti.signature.to_vec(),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain.clone(),
        qe_identity: qe.body.to_string(),
        qe_identity_signature: qe.signature.to_vec(),
        pck_certificate_chain: None,
    }
}

fn qvl(
    quote: &[u8],
    c: &DcapCollateral,
    root_der: &[u8],
    at: UnixTime,
) -> Result<VerifiedReport, String> {
    QuoteVerifier::new(root_der.to_vec())
        .with_config::<RingConfig>()
        .allow_debug(true)
        .verify(quote, &to_qvl(c), at.0)
        .map_err(|e| format!("{e:#}"))
}

fn ours(
    quote: &[u8],
    c: &DcapCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<SgxVerified, &'static str> {
    let vc = VerifiedCollateral::verify(c, roots, at).map_err(|e| e.code())?;
    let q = parse_quote(quote).map_err(|e| e.code())?;
    verify_quote(&q, &vc, roots, at).map_err(|e| e.code())
}

/// Both accept with the same status and advisories, or both reject.
fn assert_agree(
    what: &str,
    a: &Result<SgxVerified, &'static str>,
    b: &Result<VerifiedReport, String>,
) {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.tcb_status.as_str(), b.status, "{what}: status");
            let mut x = a.advisory_ids.clone();
            let mut y = b.advisory_ids.clone();
            x.sort();
            y.sort();
            assert_eq!(x, y, "{what}: advisories");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("{what}: verdicts differ: attesta {a:?}, dcap-qvl {b:?}"),
    }
}

fn intel() -> TrustRoots {
    sgx::intel_trust_roots(TrustRoots::empty())
}

#[test]
fn real_vectors_agree() {
    let root = sgx::intel_sgx_root_ca_der();
    // dcap-qvl's own sample, at its pinned time and just after the window.
    let quote = read(&format!("{DCAP_QVL}/quote.bin"));
    let c = collateral(DCAP_QVL);
    let at = pinned_time(DCAP_QVL);
    let a = ours(&quote, &c, &intel(), at);
    let b = qvl(&quote, &c, &root, at);
    assert!(a.is_ok() && b.is_ok());
    assert_agree("dcap-qvl sample", &a, &b);
    let later = UnixTime(at.0 + 2);
    assert_agree(
        "dcap-qvl sample, expired",
        &ours(&quote, &c, &intel(), later),
        &qvl(&quote, &c, &root, later),
    );
    // Mobilecoin (and the same-FMSPC quotes) at the pinned time: both reject
    // the expired PCK CRL.
    let c = collateral(MOBILECOIN);
    let at = pinned_time(MOBILECOIN);
    let mut quotes = vec![read(&format!("{MOBILECOIN}/quote.bin"))];
    for v in ["debug", "prodid", "release", "securityversion"] {
        quotes.push(read(&format!("{AZURE_SGX}/{v}.quote.bin")));
    }
    for (i, q) in quotes.iter().enumerate() {
        let a = ours(q, &c, &intel(), at);
        let b = qvl(q, &c, &root, at);
        assert_eq!(a.as_ref().map(|_| ()).unwrap_err(), &"PckCrlExpired");
        assert!(
            b.as_ref().unwrap_err().to_lowercase().contains("crl"),
            "{b:?}"
        );
        assert_agree(&format!("mobilecoin-collateral quote {i}"), &a, &b);
    }
}

fn corpus() -> Vec<(&'static str, SgxSampleBuilder)> {
    use TcbStatus::*;
    let b = SgxSample::builder;
    vec![
        ("valid", b()),
        ("debug", b().debug(true)),
        ("kss", b().kss(true)),
        (
            "sw hardening",
            b().tcb_status(SWHardeningNeeded)
                .advisory_ids(&["INTEL-SA-00615"]),
        ),
        (
            "configuration",
            b().tcb_status(ConfigurationNeeded)
                .advisory_ids(&["INTEL-SA-00219"]),
        ),
        (
            "config+sw",
            b().tcb_status(ConfigurationAndSWHardeningNeeded)
                .advisory_ids(&["INTEL-SA-00219", "INTEL-SA-00615"]),
        ),
        (
            "out of date",
            b().tcb_status(OutOfDate).advisory_ids(&["INTEL-SA-00334"]),
        ),
        (
            "out of date config",
            b().tcb_status(OutOfDateConfigurationNeeded),
        ),
        ("qe out of date", b().qe_tcb_status(OutOfDate)),
        (
            "qe out of date, platform config",
            b().tcb_status(ConfigurationNeeded).qe_tcb_status(OutOfDate),
        ),
        ("revoked", b().tcb_status(Revoked)),
        ("qe revoked", b().qe_tcb_status(Revoked)),
        ("no level", b().no_matching_level()),
        ("revoked pck", b().revoke_pck()),
        ("revoked pck ca", b().revoke_pck_ca()),
        ("expired tcb info", b().expire_tcb_info()),
        ("expired qe identity", b().expire_qe_identity()),
        ("expired pck crl", b().expire_pck_crl()),
        ("expired pck", b().expire_pck()),
        ("wrong qe identity", b().wrong_qe_identity()),
        ("bad quote signature", b().bad_quote_signature()),
        ("bad qe report signature", b().bad_qe_report_signature()),
        ("bad qe report data", b().bad_qe_report_data()),
        ("bad tcb info signature", b().bad_tcb_info_signature()),
        ("fmspc mismatch", b().tcb_info_fmspc([9, 9, 9, 9, 9, 9])),
    ]
}

#[test]
fn testkit_corpus_agrees() {
    let (mut accepted, mut rejected) = (0, 0);
    for (what, builder) in corpus() {
        let s = builder.build();
        let a = ours(&s.quote, &s.collateral, &s.trust_roots(), s.at);
        let b = qvl(&s.quote, &s.collateral, &s.root_der, s.at);
        assert_agree(what, &a, &b);
        if a.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // The corpus exercises both verdicts, not one.
    assert_eq!((accepted, rejected), (10, 15));
}

/// Where dcap-qvl 0.7.1 differs, by design on our side.
#[test]
fn known_disagreements_are_dcap_qvl_gaps() {
    // 1. dcap-qvl never compares the TCB info pceId with the PCK certificate's
    //    PCE ID (crates.md gap a); Intel's QVL does, and so do we.
    let s = SgxSample::builder().tcb_info_pce_id([0, 1]).build();
    assert_eq!(
        ours(&s.quote, &s.collateral, &s.trust_roots(), s.at).map(|_| ()),
        Err("TcbInfoPceIdMismatch")
    );
    assert!(qvl(&s.quote, &s.collateral, &s.root_der, s.at).is_ok());

    // 2. dcap-qvl 0.7.1 rejects SGX quotes v4 (ALLOWED_QUOTE_VERSIONS); they
    //    are valid Intel quotes with type-6 certification data.
    let s = SgxSample::builder().version(4).build();
    assert!(ours(&s.quote, &s.collateral, &s.trust_roots(), s.at).is_ok());
    assert!(qvl(&s.quote, &s.collateral, &s.root_der, s.at).is_err());

    // 3. Not a disagreement of verdicts but of meaning: dcap-qvl returns Ok
    //    for OutOfDate and leaves the gate to its caller; we return Ok too
    //    and surface the status as x-attesta-tcb-status for policy.
    let s = SgxSample::builder()
        .tcb_status(TcbStatus::OutOfDate)
        .build();
    let a = ours(&s.quote, &s.collateral, &s.trust_roots(), s.at).unwrap();
    assert_eq!(a.claims().get("x-attesta-tcb-status").unwrap(), "OutOfDate");
    assert_eq!(
        qvl(&s.quote, &s.collateral, &s.root_der, s.at)
            .unwrap()
            .status,
        "OutOfDate"
    );
}
