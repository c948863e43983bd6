//! TDX against the real vectors in `../shared/vectors/tdx`: every folder with
//! collateral verified at its pinned time gives the outcome its
//! expected.json states; the quote-only folders decode to their stated
//! values; incomplete collateral fails closed; single-byte changes in the
//! signed regions of every real quote are rejected.

mod common;

use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::error::{ErrorCode, ParseError};
use attesta_evidence::sgx::{TcbStatus, intel_trust_roots};
use attesta_evidence::tdx::{
    self, TdQuote, TdxError, TdxTcbStatus, TdxVerifiedCollateral, TdxVerifier, verify_td_quote,
};
use attesta_evidence::{TrustRoots, UnixTime};
use common::{collateral, json, pinned_time, read, time};
use serde_json::Value;

const WITH_COLLATERAL: [&str; 5] = [
    "tdx/automata-tdx-v4",
    "tdx/automata-tdx-v5",
    "tdx/dcap-qvl-near-tdx-v4",
    "tdx/dcap-qvl-tdx-v4",
    "tdx/dcap-qvl-tdx-v5-outdated",
];

fn roots() -> TrustRoots {
    intel_trust_roots(TrustRoots::default())
}

fn status(s: &str) -> TcbStatus {
    TcbStatus::parse(s).unwrap()
}

/// The report fields of `q` against an expected.json `report` object.
fn assert_report(q: &TdQuote<'_>, want: &Value, what: &str) {
    let r = &q.report;
    let h = |b: &[u8]| hex::encode(b);
    let fields: Vec<(&str, String)> = vec![
        ("tee_tcb_svn", h(&r.tee_tcb_svn)),
        ("mrseam", h(&r.mr_seam)),
        ("mrsignerseam", h(&r.mr_signer_seam)),
        ("seam_attributes", h(&r.seam_attributes)),
        ("td_attributes", h(&r.td_attributes)),
        ("xfam", h(&r.xfam)),
        ("mrtd", h(&r.mr_td)),
        ("mrconfigid", h(&r.mr_config_id)),
        ("mrowner", h(&r.mr_owner)),
        ("mrownerconfig", h(&r.mr_owner_config)),
        ("rtmr0", h(&r.rtmr[0])),
        ("rtmr1", h(&r.rtmr[1])),
        ("rtmr2", h(&r.rtmr[2])),
        ("rtmr3", h(&r.rtmr[3])),
        ("reportdata", h(&r.report_data)),
    ];
    for (k, v) in fields {
        assert_eq!(want[k].as_str().unwrap(), v, "{what}: {k}");
    }
    match (&r.tee_tcb_svn2, want.get("tee_tcb_svn2")) {
        (Some(s), Some(w)) => assert_eq!(w.as_str().unwrap(), h(s), "{what}: tee_tcb_svn2"),
        (None, None) => {}
        other => panic!("{what}: TD 1.5 fields disagree: {other:?}"),
    }
    if let Some(w) = want.get("mrservicetd") {
        assert_eq!(w.as_str().unwrap(), h(&r.mr_service_td.unwrap()));
    }
}

#[test]
fn every_vector_with_collateral_gives_its_stated_outcome() {
    let roots = roots();
    for dir in WITH_COLLATERAL {
        let e = json(&format!("{dir}/expected.json"));
        let bytes = read(&format!("{dir}/quote.bin"));
        let at = pinned_time(dir);
        let q = tdx::parse_td_quote(&bytes).unwrap();
        assert_eq!(
            q.header.version as u64,
            e["quote_version"].as_u64().unwrap()
        );
        assert_eq!(
            q.body_type
                .map(|t| if t == 3 { "TD15" } else { "TD10" })
                .unwrap_or("TD10"),
            e["body_type"].as_str().unwrap()
        );
        assert_report(&q, &e["report"], dir);
        let vc = TdxVerifiedCollateral::verify(&collateral(dir), &roots, at)
            .unwrap_or_else(|err| panic!("{dir}: collateral: {err}"));
        let result = verify_td_quote(&q, &vc, &roots, at);
        let platform = &e["computed_platform_tcb_level"];
        if platform.is_null() {
            // dcap-qvl-tdx-v5-outdated: the platform meets no level.
            let err = result.expect_err(dir);
            assert_eq!(err.code(), "TcbLevelNotFound", "{dir}: {err}");
            continue;
        }
        let v = result.unwrap_or_else(|err| panic!("{dir}: {err}"));
        let p = status(platform["tcbStatus"].as_str().unwrap());
        let qe = status(e["computed_qe_tcb_level"]["tcbStatus"].as_str().unwrap());
        let module = &e["computed_tdx_module_tcb_level"];
        let m = status(module["tcbStatus"].as_str().unwrap());
        assert_eq!(v.platform_tcb_status, p, "{dir}");
        assert_eq!(v.qe_tcb_status, qe, "{dir}");
        assert_eq!(v.module_tcb_status, Some(m), "{dir}");
        assert_eq!(
            v.module_identity_id.as_deref(),
            module["id"].as_str(),
            "{dir}"
        );
        let want = TcbStatus::converge(TcbStatus::converge(p, m), qe);
        assert_eq!(v.tcb_status, TdxTcbStatus::Dcap(want), "{dir}");
        let advisories: Vec<String> = platform["advisoryIDs"]
            .as_array()
            .unwrap()
            .iter()
            .chain(module["advisoryIDs"].as_array().unwrap())
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(v.advisory_ids, advisories, "{dir}");
        assert_eq!(
            v.tcb_date.as_deref(),
            platform["tcbDate"].as_str(),
            "{dir}: module dates are not older here"
        );
        let c = v.claims();
        assert_eq!(c.get("x-ms-attestation-type"), Some(&"tdxvm".into()));
        assert_eq!(c.get("attester_tcb_status"), Some(&want.as_str().into()));
        assert_eq!(c.get("tdx_mrtd"), Some(&e["report"]["mrtd"]));
        for i in 0..4 {
            let k = format!("rtmr{i}");
            assert_eq!(c.get(&format!("tdx_{k}")), Some(&e["report"][&k]), "{dir}");
        }
        assert_eq!(c.get("tdx_report_data"), Some(&e["report"]["reportdata"]));
        assert_eq!(
            c.get("tdx_td_attributes_septve_disable"),
            Some(&true.into())
        );
        assert_eq!(c.get("tdx_td_attributes_debug"), Some(&false.into()));
        assert_eq!(c.get("dbgstat"), Some(&"disabled".into()));
        assert_eq!(c.get("x-attesta-test-root"), Some(&false.into()));
        let verified = v.to_verified();
        assert_eq!(verified.report_data, q.report.report_data.to_vec());
        assert_eq!(verified.init_data, Some(q.report.mr_config_id.to_vec()));
    }
}

#[test]
fn automata_v4_is_out_of_date_with_its_advisories() {
    let dir = "tdx/automata-tdx-v4";
    let bytes = read(&format!("{dir}/quote.bin"));
    let v = TdxVerifier::default()
        .verify_bytes(&bytes, &collateral(dir), &roots(), pinned_time(dir))
        .unwrap();
    assert_eq!(
        v.claims.get("attester_tcb_status"),
        Some(&"OutOfDate".into())
    );
    assert_eq!(
        v.claims.get("x-attesta-tcb-advisory-ids"),
        Some(&serde_json::json!([
            "INTEL-SA-00960",
            "INTEL-SA-00982",
            "INTEL-SA-00986"
        ]))
    );
    assert_eq!(
        v.claims.get("x-attesta-tdx-module-tcb-status"),
        Some(&"UpToDate".into())
    );
    assert_eq!(v.claims.get("tdx_seamsvn"), Some(&0x0104.into()));
}

#[test]
fn automata_v5_reports_its_td15_fields() {
    let dir = "tdx/automata-tdx-v5";
    let bytes = read(&format!("{dir}/quote.bin"));
    let e = json(&format!("{dir}/expected.json"));
    let v = TdxVerifier::default()
        .verify_bytes(&bytes, &collateral(dir), &roots(), pinned_time(dir))
        .unwrap();
    assert_eq!(
        v.claims.get("attester_tcb_status"),
        Some(&"UpToDate".into())
    );
    assert_eq!(
        v.claims.get("x-attesta-tdx-current-tcb-status"),
        Some(&"UpToDate".into())
    );
    assert_eq!(
        v.claims.get("x-attesta-tdx-mrservicetd"),
        Some(&e["report"]["mrservicetd"])
    );
}

#[test]
fn collateral_outside_its_window_fails_with_a_named_expiry() {
    let dir = "tdx/dcap-qvl-tdx-v4";
    let at = pinned_time(dir); // last second of the window
    let err =
        TdxVerifiedCollateral::verify(&collateral(dir), &roots(), UnixTime(at.0 + 2)).unwrap_err();
    assert_eq!(err.code(), "PckCrlExpired", "{err}");
}

#[test]
fn sgx_collateral_is_not_tdx_collateral() {
    let err = TdxVerifiedCollateral::verify(
        &collateral(common::DCAP_QVL),
        &roots(),
        pinned_time(common::DCAP_QVL),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TdxTcbInfoExpected", "{err}");
    // A TDX TCB info with the SGX QE identity.
    let mut c = collateral("tdx/dcap-qvl-tdx-v4");
    let sgx = collateral(common::DCAP_QVL);
    c.qe_identity_json = sgx.qe_identity_json;
    let err = TdxVerifiedCollateral::verify(&c, &roots(), pinned_time("tdx/dcap-qvl-tdx-v4"))
        .unwrap_err();
    assert_eq!(err.code(), "TdQeIdentityExpected", "{err}");
    // And the SGX verifier refuses TDX collateral.
    let err = attesta_evidence::sgx::VerifiedCollateral::verify(
        &collateral("tdx/dcap-qvl-tdx-v4"),
        &roots(),
        pinned_time("tdx/dcap-qvl-tdx-v4"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TcbInfoInvalid", "{err}");
}

#[test]
fn tdx_quotes_are_not_sgx_quotes() {
    let bytes = read("tdx/dcap-qvl-tdx-v4/quote.bin");
    assert!(attesta_evidence::sgx::parse_quote(&bytes).is_err());
    let sgx = read(&format!("{}/quote.bin", common::DCAP_QVL));
    let err = tdx::parse_td_quote(&sgx).unwrap_err();
    assert_eq!(err.code(), "UnsupportedQuoteVersion", "{err}");
}

/// The trustee folder ships TCB info and TD_QE identity but no CRLs: the
/// bundle importer must refuse it, and a verifier handed the set with the
/// CRLs missing (empty) must fail closed naming the Root CA CRL.
#[test]
fn collateral_without_crls_fails_closed() {
    let dir = "tdx/trustee-tdx-quote6-partial";
    let text = |f: &str| String::from_utf8(read(&format!("{dir}/{f}"))).unwrap();
    let c = DcapCollateral {
        tcb_info_json: text("tcb_info.json"),
        tcb_info_issuer_chain: text("tcb_info_issuer_chain.pem"),
        qe_identity_json: text("qe_identity.json"),
        qe_identity_issuer_chain: text("qe_identity_issuer_chain.pem"),
        pck_crl: Vec::new(),
        pck_crl_issuer_chain: String::new(),
        root_ca_crl: Vec::new(),
    };
    let at = pinned_time(dir);
    let err = TdxVerifiedCollateral::verify(&c, &roots(), at).unwrap_err();
    assert_eq!(err.code(), "RootCaCrlInvalid", "{err}");
    // With a genuine Root CA CRL but no PCK CRL it still fails, on the PCK CRL.
    let c = DcapCollateral {
        root_ca_crl: read("tdx/automata-tdx-v4/root_ca_crl.der"),
        ..c
    };
    let err = TdxVerifiedCollateral::verify(&c, &roots(), at).unwrap_err();
    assert_eq!(err.code(), "PckCrlInvalid", "{err}");
    let bytes = read(&format!("{dir}/quote.bin"));
    let err = TdxVerifier { allow_debug: true }
        .verify_bytes(&bytes, &c, &roots(), at)
        .unwrap_err();
    assert_eq!(err.code(), "PckCrlInvalid");
    // Its quote parses (70 bytes of zero padding) and decodes as stated.
    let q = tdx::parse_td_quote(&bytes).unwrap();
    assert_eq!(q.padding, 70);
    assert_report(&q, &json(&format!("{dir}/expected.json"))["report"], dir);
}

#[test]
fn quote_only_vectors_decode_to_their_stated_values() {
    for (dir, file, padding) in [
        (
            "tdx/dstack-teekit-cloud-quotes-only",
            "gcp-tdx-v4-quote.bin",
            3065,
        ),
        (
            "tdx/dstack-teekit-cloud-quotes-only",
            "azure-tdx-v4-quote.bin",
            70,
        ),
        ("tdx/trustee-tdx-quotes-only", "tdx_quote_4.dat", 0),
        ("tdx/trustee-tdx-quotes-only", "tdx_quote_5.dat", 0),
    ] {
        let e = &json(&format!("{dir}/expected.json"))[file];
        let bytes = read(&format!("{dir}/{file}"));
        let q = tdx::parse_td_quote(&bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(
            q.header.version as u64,
            e["version"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(bytes.len() as u64, e["size"].as_u64().unwrap(), "{file}");
        assert_eq!(q.padding, padding, "{file}");
        assert_eq!(
            hex::encode(q.header.qe_vendor_id),
            e["qe_vendor_id"].as_str().unwrap()
        );
        assert_report(&q, &e["report"], file);
        assert_eq!(
            hex::encode(q.qe_report.mr_signer),
            e["qe_report"]["mrsigner"]
                .as_str()
                .unwrap_or(hex::encode(q.qe_report.mr_signer).as_str())
        );
    }
    // trustee's tdx_quote_4.dat is a debug TD: its attributes decode as
    // trustee's parse_tdx_claims_expected.json states.
    let want = &json("tdx/trustee-tdx-quotes-only/parse_tdx_claims_expected.json")["td_attributes"];
    let bytes = read("tdx/trustee-tdx-quotes-only/tdx_quote_4.dat");
    let q = tdx::parse_td_quote(&bytes).unwrap();
    let a = q.report.td_attributes_u64();
    assert_eq!(want["debug"], q.report.is_debug());
    assert_eq!(
        want["septve_disable"],
        a & tdx::quote::TD_ATTR_SEPT_VE_DISABLE != 0
    );
    assert_eq!(want["key_locker"], a & tdx::quote::TD_ATTR_KL != 0);
    assert_eq!(want["perfmon"], a & tdx::quote::TD_ATTR_PERFMON != 0);
    assert_eq!(want["protection_keys"], a & tdx::quote::TD_ATTR_PKS != 0);
}

/// The two cloud quotes share the automata-tdx-v4 collateral's FMSPC; at its
/// pinned time the collection-time check found them UpToDate.
#[test]
fn cloud_quotes_verify_against_the_matching_collateral() {
    let dir = "tdx/automata-tdx-v4";
    let roots = roots();
    let at = pinned_time(dir);
    let vc = TdxVerifiedCollateral::verify(&collateral(dir), &roots, at).unwrap();
    for file in ["gcp-tdx-v4-quote.bin", "azure-tdx-v4-quote.bin"] {
        let bytes = read(&format!("tdx/dstack-teekit-cloud-quotes-only/{file}"));
        let q = tdx::parse_td_quote(&bytes).unwrap();
        let v = verify_td_quote(&q, &vc, &roots, at).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            v.tcb_status,
            TdxTcbStatus::Dcap(TcbStatus::UpToDate),
            "{file}"
        );
        assert_eq!(v.module_tcb_status, Some(TcbStatus::UpToDate), "{file}");
    }
}

#[test]
fn trailing_bytes_must_be_zero_and_never_reach_claims() {
    let dir = "tdx/dcap-qvl-tdx-v4";
    let roots = roots();
    let at = pinned_time(dir);
    let vc = TdxVerifiedCollateral::verify(&collateral(dir), &roots, at).unwrap();
    let bytes = read(&format!("{dir}/quote.bin"));
    let original = tdx::parse_td_quote(&bytes).unwrap();
    // This quote already arrives with 70 bytes of zero padding.
    assert_eq!(original.padding, 70);
    let plain = verify_td_quote(&original, &vc, &roots, at).unwrap();
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0u8; 100]);
    let q = tdx::parse_td_quote(&padded).unwrap();
    assert_eq!(q.padding, 170);
    assert_eq!(q.unpadded(), original.unpadded());
    let v = verify_td_quote(&q, &vc, &roots, at).unwrap();
    assert_eq!(v.claims(), plain.claims());
    *padded.last_mut().unwrap() = 1;
    match tdx::parse_td_quote(&padded) {
        Err(TdxError::Parse(ParseError::TrailingBytes { count, .. })) => assert_eq!(count, 170),
        other => panic!("unexpected {other:?}"),
    }
}

/// Every single-byte change in the attestation-key-signed region and in the
/// PCK-signed QE report of every real quote is rejected.
#[test]
fn single_byte_mutations_in_signed_regions_are_rejected() {
    let roots = roots();
    for dir in WITH_COLLATERAL.iter().filter(|d| !d.ends_with("outdated")) {
        let at = pinned_time(dir);
        let vc = TdxVerifiedCollateral::verify(&collateral(dir), &roots, at).unwrap();
        let bytes = read(&format!("{dir}/quote.bin"));
        let q = tdx::parse_td_quote(&bytes).unwrap();
        let ranges = [q.signed_range(), q.qe_report_range()];
        assert!(verify_td_quote(&q, &vc, &roots, at).is_ok());
        for range in ranges {
            for i in range {
                let mut m = bytes.clone();
                m[i] ^= 0x01;
                let ok = tdx::parse_td_quote(&m)
                    .ok()
                    .map(|q| verify_td_quote(&q, &vc, &roots, at).is_ok());
                assert_ne!(ok, Some(true), "{dir}: flipping byte {i} still verified");
            }
        }
    }
}

#[test]
fn cached_collateral_used_outside_its_window_fails_on_the_quote_path() {
    let dir = "tdx/dcap-qvl-near-tdx-v4";
    let roots = roots();
    let at = pinned_time(dir);
    let vc = TdxVerifiedCollateral::verify(&collateral(dir), &roots, at).unwrap();
    let bytes = read(&format!("{dir}/quote.bin"));
    let q = tdx::parse_td_quote(&bytes).unwrap();
    // Before the TCB info's issueDate (2025-09-02T07:41:59Z): not yet
    // valid, which is not "expired".
    let err = verify_td_quote(&q, &vc, &roots, time("2025-07-01T00:00:00Z")).unwrap_err();
    assert_eq!(err.code(), "TcbInfoNotYetValid", "{err}");
    // After the TCB info's nextUpdate (2025-10-02T07:41:59Z), checked before
    // the PCK CRL's; the message names every other item that is not
    // current then either, with its window in RFC 3339.
    let err = verify_td_quote(&q, &vc, &roots, time("2025-10-03T00:00:00Z")).unwrap_err();
    assert_eq!(err.code(), "TcbInfoExpired", "{err}");
    let text = err.to_string();
    assert!(text.contains("nextUpdate 2025-10-02T07:41:59Z"), "{text}");
    // Long after everything: every dated item is named once.
    let err = verify_td_quote(&q, &vc, &roots, time("2040-01-01T00:00:00Z")).unwrap_err();
    let text = err.to_string();
    for item in ["Root CA CRL", "QE identity", "PCK CRL", "TCB info"] {
        assert!(text.contains(item), "{item} not named: {text}");
    }
}

#[test]
fn collateral_not_yet_valid_is_not_expired_and_every_stale_item_is_named() {
    let dir = "tdx/dcap-qvl-near-tdx-v4";
    let roots = roots();
    // Fresh verification (not the cached path) before the TCB info exists.
    let err = TdxVerifiedCollateral::verify(&collateral(dir), &roots, time("2025-07-01T00:00:00Z"))
        .unwrap_err();
    assert_eq!(err.code(), "TcbInfoNotYetValid", "{err}");
    let text = err.to_string();
    assert!(text.contains("the PCK CRL is not yet valid"), "{text}");
    assert!(text.contains("the QE identity is not yet valid"), "{text}");
    // Long after: the first failing item's code, and the others named.
    let err = TdxVerifiedCollateral::verify(&collateral(dir), &roots, time("2040-01-01T00:00:00Z"))
        .unwrap_err();
    assert!(err.code().ends_with("Expired"), "{}: {err}", err.code());
    let text = err.to_string();
    assert!(text.contains("also not current at that time"), "{text}");
    for item in [
        "QE identity is expired",
        "PCK CRL is expired",
        "TCB info is expired",
    ] {
        assert!(text.contains(item), "{item} not named: {text}");
    }
}
