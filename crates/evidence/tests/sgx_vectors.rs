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
    assert_eq!(c.get("x-attesta-tcb-date").unwrap(), "2024-03-13T00:00:00Z");
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
    // Times a person can read: RFC 3339, the verification time included.
    let msg = err.to_string();
    let when = attesta_evidence::types::rfc3339(later.0 as i64);
    assert!(msg.contains(&format!("time {when}")), "{msg}");
    assert!(!msg.contains(&later.0.to_string()), "{msg}");
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

/// Strict verification of the mobilecoin collateral stops at the PCK CRL,
/// so the TCB evaluation the source states is checked on its genuine
/// (signature-checked) TCB info and QE identity with `evaluate_tcb`, the
/// same function `verify_quote` calls.
#[test]
fn mobilecoin_tcb_evaluation_matches_the_source() {
    let bytes = read(&format!("{MOBILECOIN}/quote.bin"));
    let quote = parse_quote(&bytes).unwrap();
    let (pck, key) = pck_of(&quote);
    sgx::check_quote_signatures(&quote, &key).unwrap();
    let (info, id) = signed_documents(MOBILECOIN);
    let e = sgx::evaluate_tcb(&pck, &quote.qe_report, &info, &id).unwrap();
    assert_eq!(e.tcb_status, TcbStatus::SWHardeningNeeded);
    assert_eq!(e.qe_tcb_status, TcbStatus::UpToDate);
    assert_eq!(e.advisory_ids, ["INTEL-SA-00334", "INTEL-SA-00615"]);
    assert_eq!(e.tcb_date.as_deref(), Some("2023-02-15T00:00:00Z"));
    assert_eq!(
        hex::encode(quote.report.mr_enclave),
        "840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4"
    );
    assert_eq!(
        hex::encode(quote.report.mr_signer),
        "9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf"
    );
    assert_eq!((quote.report.isv_prod_id, quote.report.isv_svn), (0, 0));
}

#[test]
fn azure_intel_sdk_quotes_match_their_stated_values() {
    let expected = json(&format!("{AZURE_SGX}/expected.json"));
    let (info, id) = signed_documents(MOBILECOIN);
    for variant in ["debug", "prodid", "release", "securityversion"] {
        let bytes = read(&format!("{AZURE_SGX}/{variant}.quote.bin"));
        let quote = parse_quote(&bytes).unwrap();
        let stated = &expected[variant]["source_stated"];
        assert_eq!(
            hex::encode(quote.report.mr_enclave),
            stated["MrEnclaveHex"].as_str().unwrap().to_lowercase()
        );
        assert_eq!(
            hex::encode(quote.report.mr_signer),
            stated["MrSignerHex"].as_str().unwrap().to_lowercase()
        );
        assert_eq!(
            quote.report.isv_svn as u64,
            stated["SecurityVersion"].as_u64().unwrap()
        );
        let prod = hex::decode(stated["ProductIdHex"].as_str().unwrap()).unwrap();
        assert_eq!(
            quote.report.isv_prod_id,
            u16::from_le_bytes([prod[0], prod[1]])
        );
        assert_eq!(quote.report.is_debug(), variant == "debug");
        // Runtime data binding (MAA's rule).
        let ehd = read(&format!("{AZURE_SGX}/{variant}.enclave_held_data.bin"));
        attesta_evidence::binding::check_runtime_data(&quote.report.report_data, &ehd).unwrap();
        // Signatures, then TCB with the same-FMSPC mobilecoin documents.
        let (pck, key) = pck_of(&quote);
        sgx::check_quote_signatures(&quote, &key).unwrap();
        let e = sgx::evaluate_tcb(&pck, &quote.qe_report, &info, &id).unwrap();
        let st = &expected[variant]["status_against_sgx_mobilecoin_collateral_FMSPC_00906ED50000_at_2023_07_12"];
        assert_eq!(e.platform_tcb_status.as_str(), st["platform"]["tcbStatus"]);
        assert_eq!(e.qe_tcb_status.as_str(), st["qe"]["tcbStatus"]);
        assert_eq!(e.tcb_status, TcbStatus::SWHardeningNeeded);
        assert_eq!(e.advisory_ids, ["INTEL-SA-00334", "INTEL-SA-00615"]);
        // Strict verification at that time fails for the documented reason.
        let err = SgxVerifier { allow_debug: true }
            .verify(
                &SgxVerifier::default().parse(&bytes).unwrap(),
                &collateral(MOBILECOIN),
                &intel(),
                common::time("2023-07-12T20:48:25Z"),
            )
            .unwrap_err();
        assert_eq!(err.code(), "PckCrlExpired");
    }
}

#[test]
fn debug_quote_is_rejected_unless_allowed() {
    let bytes = read(&format!("{AZURE_SGX}/debug.quote.bin"));
    let ev = SgxVerifier::default().parse(&bytes).unwrap();
    let err = SgxVerifier::default()
        .verify(
            &ev,
            &collateral(MOBILECOIN),
            &intel(),
            pinned_time(MOBILECOIN),
        )
        .unwrap_err();
    assert_eq!(err.code(), "DebugEnclaveNotAllowed");
}

#[test]
fn open_enclave_reports_match_their_stated_values() {
    let expected = json(&format!("{AZURE_OE}/expected.json"));
    let (info, id) = signed_documents(MOBILECOIN);
    for variant in [
        "debug",
        "prodid",
        "release",
        "securityversion",
        "post_attest",
    ] {
        let bytes = read(&format!("{AZURE_OE}/{variant}.oe_report.bin"));
        let report = OeReport::parse(&bytes).unwrap();
        assert_eq!((report.version, report.report_type), (1, 2));
        assert_eq!(report.report_size as usize, bytes.len() - 16);
        let quote = &report.quote;
        if let Some(stated) = expected.get(variant).and_then(|v| v.get("source_stated")) {
            assert_eq!(
                hex::encode(quote.report.mr_enclave),
                stated["MrEnclaveHex"].as_str().unwrap().to_lowercase()
            );
            assert_eq!(
                quote.report.isv_svn as u64,
                stated["SecurityVersion"].as_u64().unwrap()
            );
        }
        let ehd = read(&format!("{AZURE_OE}/{variant}.enclave_held_data.bin"));
        attesta_evidence::binding::check_runtime_data(&quote.report.report_data, &ehd).unwrap();
        let (pck, key) = pck_of(quote);
        sgx::check_quote_signatures(quote, &key).unwrap();
        // expected.json (computed at collection): with the mobilecoin
        // documents, platform OutOfDate and QE OutOfDate (isvsvn 5).
        let st = &expected[variant]["status_against_sgx_mobilecoin_collateral_FMSPC_00906ED50000_at_2023_07_12"];
        let e = sgx::evaluate_tcb(&pck, &quote.qe_report, &info, &id).unwrap();
        assert_eq!(e.platform_tcb_status.as_str(), st["platform"]["tcbStatus"]);
        assert_eq!(e.qe_tcb_status.as_str(), st["qe"]["tcbStatus"]);
        assert_eq!(e.tcb_status, TcbStatus::OutOfDate);
        assert_eq!(e.tcb_date.as_deref(), st["platform"]["tcbDate"].as_str());
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let mut want = strings(&st["platform"]["advisoryIDs"]);
        for a in strings(&st["qe"]["advisoryIDs"]) {
            if !want.contains(&a) {
                want.push(a);
            }
        }
        assert_eq!(e.advisory_ids, want, "{variant}");
    }
    // The post_attest report's claims as MAA stated them.
    let bytes = read(&format!("{AZURE_OE}/post_attest.oe_report.bin"));
    let r = OeReport::parse(&bytes).unwrap();
    assert_eq!(
        hex::encode(r.quote.report.mr_enclave),
        "90a328210154d861be7fc85a904e99fba713b05029321a470f62ea8495ec7d90"
    );
    assert_eq!(
        hex::encode(r.quote.report.mr_signer),
        "6b1f95f512413b03759aaec2ec2b27cc2735468bb6113ccca163da92ca2b9b26"
    );
    assert_eq!(
        (r.quote.report.isv_prod_id, r.quote.report.isv_svn),
        (1, 8888)
    );
    assert!(!r.quote.report.is_debug());
    // The 2020 token's legacy maa-quotehash is over the quote part.
    assert_eq!(
        hex::encode(attesta_evidence::crypto::sha256(&bytes[16..])),
        "e2e7d0d775f53b47b9bc9c579565cd5bca0cd0c51ccb9a99c1f076e1730607df"
    );
    let err = OpenEnclaveVerifier::default()
        .verify(
            &OpenEnclaveVerifier::default().parse(&bytes).unwrap(),
            &collateral(MOBILECOIN),
            &intel(),
            pinned_time(MOBILECOIN),
        )
        .unwrap_err();
    assert_eq!(err.code(), "PckCrlExpired");
}

/// The maa-sdk sample decodes to the identity claims of the recorded MAA token.
#[test]
fn maa_sdk_sample_decodes_to_the_recorded_tokens_claims() {
    let token = json("maa-sdk/recorded/maa_sgx_attest_token.decoded.json");
    let body = &token["body"];
    let quote_bytes = read("maa-sdk/sgx_quote.bin");
    let oe_bytes = read("maa-sdk/oe_report.bin");
    let oe = OeReport::parse(&oe_bytes).unwrap();
    assert_eq!(oe.quote.raw, &quote_bytes[..]);
    let quote = parse_quote(&quote_bytes).unwrap();
    let (_, key) = pck_of(&quote);
    sgx::check_quote_signatures(&quote, &key).unwrap();
    let r = &quote.report;
    assert_eq!(hex::encode(r.mr_enclave), body["x-ms-sgx-mrenclave"]);
    assert_eq!(hex::encode(r.mr_signer), body["x-ms-sgx-mrsigner"]);
    assert_eq!(r.isv_prod_id as u64, body["x-ms-sgx-product-id"]);
    assert_eq!(r.isv_svn as u64, body["x-ms-sgx-svn"]);
    assert_eq!(r.is_debug(), body["x-ms-sgx-is-debuggable"]);
    assert_eq!(
        hex::encode(attesta_evidence::crypto::sha256(&quote_bytes)),
        body["x-ms-sgx-collateral"]["quotehash"]
    );
    let expected = json("maa-sdk/expected_claims.json");
    assert_eq!(
        hex::encode(attesta_evidence::crypto::sha256(&oe_bytes)),
        expected["x-ms-sgx-collateral.quotehash for /attest/OpenEnclave (SHA-256 of the whole oe_report.bin)"]
    );
    let runtime = read("maa-sdk/runtime_data.bin");
    attesta_evidence::binding::check_runtime_data(&r.report_data, &runtime).unwrap();
}

/// Occlum's quote has a Platform-CA PCK chain and no collateral of its own:
/// its signatures verify, and against the Processor-CA collateral of another
/// platform it fails naming the CA whose CRL is missing.
#[test]
fn occlum_quote_needs_platform_ca_collateral() {
    let bytes = read(&format!("{OCCLUM}/quote.bin"));
    let quote = parse_quote(&bytes).unwrap();
    let (pck, key) = pck_of(&quote);
    sgx::check_quote_signatures(&quote, &key).unwrap();
    assert_eq!(hex::encode(pck.fmspc), "00606a000000");
    assert_eq!(pck.sgx_type, 1);
    assert!(quote.report.is_debug());
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    let err = verify_quote(&quote, &vc, &intel(), at).unwrap_err();
    assert_eq!(err.code(), "PckCrlIssuerMismatch");
    assert!(err.to_string().contains("PCK Platform CA"), "{err}");
}

/// Every byte of header ‖ report body and of the QE report is covered by a
/// signature: flipping any one of them is rejected.
#[test]
fn flipping_any_signed_byte_of_the_dcap_qvl_quote_is_rejected() {
    let bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    let quote = parse_quote(&bytes).unwrap();
    let ranges = [quote.signed_range(), quote.qe_report_range()];
    let mut count = 0;
    for range in ranges {
        for i in range {
            let mut m = bytes.clone();
            m[i] ^= 0x01;
            let res = parse_quote(&m).and_then(|q| verify_quote(&q, &vc, &intel(), at));
            assert!(res.is_err(), "flip at offset {i} was accepted");
            count += 1;
        }
    }
    assert_eq!(count, 48 + 384 + 384);
}

#[test]
fn flipping_any_signed_byte_of_other_real_quotes_breaks_a_signature() {
    let mut files: Vec<String> = vec![
        format!("{MOBILECOIN}/quote.bin"),
        format!("{OCCLUM}/quote.bin"),
        "maa-sdk/sgx_quote.bin".into(),
    ];
    for v in ["debug", "prodid", "release", "securityversion"] {
        files.push(format!("{AZURE_SGX}/{v}.quote.bin"));
    }
    for f in files {
        let bytes = read(&f);
        let quote = parse_quote(&bytes).unwrap();
        let (_, key) = pck_of(&quote);
        for i in quote.signed_range().chain(quote.qe_report_range()) {
            let mut m = bytes.clone();
            m[i] ^= 0x80;
            let res = parse_quote(&m).and_then(|q| sgx::check_quote_signatures(&q, &key));
            assert!(res.is_err(), "{f}: flip at offset {i} was accepted");
        }
    }
    // OE reports: the same bytes, 16 further in.
    for v in ["release", "post_attest"] {
        let bytes = read(&format!("{AZURE_OE}/{v}.oe_report.bin"));
        let report = OeReport::parse(&bytes).unwrap();
        let (_, key) = pck_of(&report.quote);
        for i in report
            .quote
            .signed_range()
            .chain(report.quote.qe_report_range())
        {
            let mut m = bytes.clone();
            m[16 + i] ^= 0x80;
            let res = OeReport::parse(&m)
                .map_err(SgxError::from)
                .and_then(|r| sgx::check_quote_signatures(&r.quote, &key));
            assert!(res.is_err(), "{v}: flip at offset {} was accepted", 16 + i);
        }
    }
}

/// The rule TDX quotes follow too (`tdx_vectors`): zero bytes after the
/// signature data are padding, dropped from every claim (the quote hash
/// included); a non-zero one is `TrailingBytes`.
#[test]
fn trailing_bytes_must_be_zero_and_never_reach_claims() {
    let bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    let original = parse_quote(&bytes).unwrap();
    assert_eq!(original.padding, 0);
    let plain = verify_quote(&original, &vc, &intel(), at).unwrap();
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0u8; 70]);
    let q = parse_quote(&padded).unwrap();
    assert_eq!(q.padding, 70);
    assert_eq!(q.unpadded(), &bytes[..]);
    let v = verify_quote(&q, &vc, &intel(), at).unwrap();
    assert_eq!(v.claims(), plain.claims());
    *padded.last_mut().unwrap() = 1;
    match parse_quote(&padded) {
        Err(SgxError::Parse(attesta_evidence::ParseError::TrailingBytes { count, .. })) => {
            assert_eq!(count, 70)
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        parse_quote(&padded).unwrap_err().code(),
        "EvidenceTrailingBytes",
        "the code names the failure"
    );
}

#[test]
fn truncations_of_real_quotes_are_errors_not_panics() {
    for f in [
        format!("{DCAP_QVL}/quote.bin"),
        format!("{OCCLUM}/quote.bin"),
        format!("{AZURE_OE}/release.oe_report.bin"),
    ] {
        let bytes = read(&f);
        for n in 0..bytes.len() {
            assert!(parse_quote(&bytes[..n]).is_err() || OeReport::parse(&bytes[..n]).is_err());
            assert!(
                OeReport::parse(&bytes[..n]).is_err(),
                "{f} truncated to {n}"
            );
        }
        // An extra byte after an OE report is refused (its header states
        // the quote's size); after a bare quote, a zero byte is padding
        // (`trailing_bytes_must_be_zero_and_never_reach_claims`).
        let mut long = bytes.clone();
        long.push(1);
        assert!(parse_quote(&long).is_err() && OeReport::parse(&long).is_err());
        long.pop();
        long.push(0);
        assert!(OeReport::parse(&long).is_err());
    }
}

/// The warm path remembers verified PCK leaves by digest; a leaf changed in
/// any byte after that is checked afresh and rejected.
#[test]
fn a_tampered_pck_leaf_is_rejected_after_the_genuine_one_was_seen() {
    let bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    let at = pinned_time(DCAP_QVL);
    let vc = VerifiedCollateral::verify(&collateral(DCAP_QVL), &intel(), at).unwrap();
    verify_quote(&parse_quote(&bytes).unwrap(), &vc, &intel(), at).unwrap();
    let end = bytes
        .windows(25)
        .position(|w| w == b"-----END CERTIFICATE-----".as_slice())
        .unwrap();
    let mut tampered = 0;
    for back in 8..40 {
        let i = end - back;
        if !bytes[i].is_ascii_alphanumeric() {
            continue;
        }
        let mut m = bytes.clone();
        m[i] = if m[i] == b'A' { b'B' } else { b'A' };
        let err = verify_quote(&parse_quote(&m).unwrap(), &vc, &intel(), at).unwrap_err();
        assert!(
            ["PckChainInvalid", "PckExtensionInvalid"].contains(&err.code()),
            "offset {i}: {err}"
        );
        tampered += 1;
    }
    assert!(tampered > 20);
}

#[test]
fn other_quote_versions_are_named_unsupported() {
    let mut bytes = read(&format!("{DCAP_QVL}/quote.bin"));
    for v in [2u8, 5] {
        bytes[0] = v;
        let err = parse_quote(&bytes).unwrap_err();
        assert_eq!(err.code(), "UnsupportedQuoteVersion");
        assert_eq!(err, SgxError::UnsupportedQuoteVersion(v as u16));
    }
}

#[test]
fn verifier_parse_errors_carry_parse_codes() {
    let v = SgxVerifier::default();
    assert_eq!(v.parse(&[3, 0]).unwrap_err().code(), "EvidenceTruncated");
    let oe = OpenEnclaveVerifier::default();
    let quote = read(&format!("{DCAP_QVL}/quote.bin"));
    // A bare quote is not an OE report (its first u32 is 0x00020003).
    assert_eq!(oe.parse(&quote).unwrap_err().code(), "EvidenceUnsupported");
}
