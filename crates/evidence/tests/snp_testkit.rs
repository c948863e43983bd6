//! Testkit SEV-SNP samples: each failure class gives its specific error
//! code, the happy paths (VCEK and VLEK, Milan, Genoa, Turin, v2/v3/v5)
//! yield the claims the builder put in, and test roots are reported.

use attesta_evidence::binding;
use attesta_evidence::snp::{
    self, Generation, SnpError, SnpVerifier, TcbVersion, VerifiedChain, verify_report,
};
use attesta_evidence::{ErrorCode, UnixTime, Verifier};
use attesta_testkit::snp::{SnpSample, SnpSampleBuilder};
use serde_json::json;

fn run(s: &SnpSample) -> Result<snp::SnpVerified, SnpError> {
    let chain = VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at)?;
    verify_report(&s.report, &chain, s.at)
}

fn code(b: SnpSampleBuilder) -> &'static str {
    run(&b.build()).unwrap_err().code()
}

#[test]
fn default_sample_verifies_with_builder_claims() {
    let s = SnpSample::builder()
        .runtime_data(b"runtime")
        .init_time_data(b"init")
        .build();
    let v = run(&s).unwrap();
    let c = v.claims();
    assert_eq!(c.get("x-attesta-test-root").unwrap(), true);
    assert_eq!(c.get("x-ms-sevsnpvm-is-debuggable").unwrap(), false);
    assert_eq!(c.get("x-attesta-snp-signing-key").unwrap(), "vcek");
    assert_eq!(c.get("x-attesta-snp-processor").unwrap(), "Milan");
    assert_eq!(
        c.get("x-attesta-snp-reported-tcb").unwrap(),
        &json!({"bootloader": 4, "tee": 0, "snp": 22, "microcode": 213})
    );
    assert_eq!(c.get("x-ms-sevsnpvm-snpfw-svn").unwrap(), 22);
    assert_eq!(
        c.get("x-ms-sevsnpvm-familyId").unwrap(),
        "01".repeat(16).as_str()
    );
    let verified = v.to_verified();
    binding::check_runtime_data(&verified.report_data, b"runtime").unwrap();
    binding::check_init_time_data(verified.init_data.as_deref(), b"init").unwrap();
    assert_eq!(
        binding::check_init_time_data(verified.init_data.as_deref(), b"other")
            .unwrap_err()
            .code(),
        "InitTimeDataMismatch"
    );
}

#[test]
fn debug_policy_is_a_claim_not_an_error() {
    let v = run(&SnpSample::builder().debug(true).build()).unwrap();
    let c = v.claims();
    assert_eq!(c.get("x-ms-sevsnpvm-is-debuggable").unwrap(), true);
    assert_eq!(c.get("x-attesta-snp-policy-debug-allowed").unwrap(), true);
    assert_eq!(c.get("x-attesta-snp-policy").unwrap(), "0xb0000");
}

#[test]
fn vlek_generations_and_versions_verify() {
    let v = run(&SnpSample::builder().vlek(true).build()).unwrap();
    assert_eq!(v.claims().get("x-attesta-snp-signing-key").unwrap(), "vlek");
    for g in [Generation::Milan, Generation::Genoa, Generation::Turin] {
        for version in [2, 3, 5] {
            if g == Generation::Turin && version == 2 {
                continue; // Turin firmware produces v3+ only.
            }
            let s = SnpSample::builder().generation(g).version(version).build();
            let v = run(&s).unwrap_or_else(|e| panic!("{g:?} v{version}: {e}"));
            assert_eq!(v.generation, g);
            assert_eq!(v.report.version, version);
            assert_eq!(
                v.report.launch_mitigation_vector.is_some(),
                version >= 5,
                "{g:?} v{version}"
            );
        }
    }
    let v = run(&SnpSample::builder().generation(Generation::Turin).build()).unwrap();
    assert_eq!(
        v.claims().get("x-attesta-snp-reported-tcb").unwrap(),
        &json!({"bootloader": 4, "tee": 0, "snp": 22, "microcode": 213, "fmc": 1})
    );
}

#[test]
fn wrong_chip_id_is_chip_id_mismatch() {
    assert_eq!(code(SnpSample::builder().wrong_chip_id()), "ChipIdMismatch");
    assert_eq!(
        code(
            SnpSample::builder()
                .generation(Generation::Turin)
                .wrong_chip_id()
        ),
        "ChipIdMismatch"
    );
}

#[test]
fn tcb_mismatch_names_the_field() {
    let vcek = TcbVersion {
        bootloader: 4,
        tee: 0,
        snp: 23,
        microcode: 213,
        fmc: None,
    };
    let err = run(&SnpSample::builder().vcek_tcb(vcek).build()).unwrap_err();
    assert_eq!(
        err,
        SnpError::TcbMismatch {
            field: "snp",
            report: 22,
            cert: 23
        }
    );
    assert_eq!(err.code(), "TcbMismatch");
    let turin = TcbVersion {
        bootloader: 4,
        tee: 0,
        snp: 22,
        microcode: 213,
        fmc: Some(2),
    };
    assert_eq!(
        code(
            SnpSample::builder()
                .generation(Generation::Turin)
                .vcek_tcb(turin)
        ),
        "TcbMismatch"
    );
}

#[test]
fn wrong_root_is_untrusted_ark() {
    assert_eq!(code(SnpSample::builder().wrong_root()), "UntrustedArk");
    // The testkit's own ARK is not an AMD root.
    let s = SnpSample::builder().build();
    let err = VerifiedChain::verify(&s.collateral(), &snp::amd_trust_roots(), s.at).unwrap_err();
    assert_eq!(err.code(), "UntrustedArk");
}

#[test]
fn expired_vlek_and_vcek_have_their_codes() {
    assert_eq!(
        code(SnpSample::builder().vlek(true).expired_vek()),
        "VlekExpired"
    );
    assert_eq!(code(SnpSample::builder().expired_vek()), "VcekExpired");
    // A cached chain re-checks time per report.
    let s = SnpSample::builder().build();
    let chain = VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap();
    let later = UnixTime(s.at.0 + 400 * 86_400);
    assert_eq!(
        verify_report(&s.report, &chain, later).unwrap_err().code(),
        "VcekExpired"
    );
}

#[test]
fn bad_signature_is_report_signature_invalid() {
    assert_eq!(
        code(SnpSample::builder().bad_signature()),
        "ReportSignatureInvalid"
    );
}

#[test]
fn crl_revocations_and_staleness_have_their_codes() {
    run(&SnpSample::builder().crl(true).build()).unwrap();
    assert_eq!(code(SnpSample::builder().revoke_vek()), "VcekRevoked");
    assert_eq!(
        code(SnpSample::builder().vlek(true).revoke_ask()),
        "AskRevoked"
    );
    let s = SnpSample::builder().crl(true).build();
    let chain = VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap();
    let later = UnixTime(s.at.0 + 31 * 86_400);
    assert_eq!(chain.check_time(later).unwrap_err().code(), "AmdCrlExpired");
    // A CRL signed by another ARK.
    let rogue = SnpSample::builder().wrong_root().crl(true).build();
    let mut col = s.collateral();
    col.crl_der = rogue.crl_der.as_deref();
    let err = VerifiedChain::verify(&col, &s.trust_roots(), s.at).unwrap_err();
    assert_eq!(err.code(), "AmdCrlInvalid");
}

#[test]
fn signing_key_kind_must_match_the_certificate() {
    let vcek = SnpSample::builder().build();
    let vlek = SnpSample::builder().vlek(true).build();
    let chain = VerifiedChain::verify(&vcek.collateral(), &vcek.trust_roots(), vcek.at).unwrap();
    assert_eq!(
        verify_report(&vlek.report, &chain, vcek.at)
            .unwrap_err()
            .code(),
        "SigningKeyMismatch"
    );
    // A VCEK presented with the ASVK: the chain itself is wrong.
    let mut col = vcek.collateral();
    col.ask_der = &vlek.ask_der;
    assert_eq!(
        VerifiedChain::verify(&col, &vcek.trust_roots(), vcek.at)
            .unwrap_err()
            .code(),
        "VcekChainInvalid"
    );
}

#[test]
fn unsupported_versions_have_their_code() {
    let s = SnpSample::builder().version(4).build();
    assert_eq!(run(&s).unwrap_err().code(), "UnsupportedReportVersion");
    assert_eq!(
        SnpVerifier.parse(&s.report).unwrap_err().code(),
        "EvidenceUnsupported"
    );
}

#[test]
fn maa_member_round_trip_through_the_trait() {
    let s = SnpSample::builder().runtime_data(b"rt").build();
    let m = snp::parse_report_member(&s.maa_report_member()).unwrap();
    assert_eq!(m.report, s.report);
    let certs = snp::SnpCertificates::from_chain(&m.cert_chain).unwrap();
    let ev = SnpVerifier.parse(&m.report).unwrap();
    let out = SnpVerifier
        .verify(&ev, &certs, &s.trust_roots(), s.at)
        .unwrap();
    binding::check_runtime_data(&out.report_data, b"rt").unwrap();
}

/// The report's key-selection byte (0x48: bit 1 MASK_CHIP_KEY, bits 2-4
/// SIGNING_KEY) is judged before the signature, and the error carries the
/// SIGNING_KEY field: a report with its chip key masked is unsigned even
/// when the field names the VCEK, and field value 7 means no key.
#[test]
fn masked_or_keyless_reports_are_unsigned_whatever_the_signature() {
    let s = SnpSample::builder().build();
    let chain = VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap();
    let mut masked = s.report.clone();
    masked[0x48] = (masked[0x48] & !0x1C) | 0x02; // VCEK, chip key masked
    assert_eq!(
        verify_report(&masked, &chain, s.at).unwrap_err(),
        SnpError::ReportNotSigned(0)
    );
    let mut keyless = s.report.clone();
    keyless[0x48] = (keyless[0x48] & !0x02) | 0x1C; // SIGNING_KEY = 7 (none)
    assert_eq!(
        verify_report(&keyless, &chain, s.at).unwrap_err(),
        SnpError::ReportNotSigned(7)
    );
}

/// `check_self_signed` (how the CLI tells the ARK from the ASK in a chain
/// file) accepts only a certificate that signed itself with RSASSA-PSS
/// over SHA-384.
#[test]
fn only_a_self_signed_pss_sha384_certificate_is_self_signed() {
    let s = SnpSample::builder().build();
    assert_eq!(snp::verify::check_self_signed(&s.ark_der), Ok(()));
    for (what, der) in [("ASK", &s.ask_der), ("VCEK", &s.vek_der)] {
        assert!(
            snp::verify::check_self_signed(der).is_err(),
            "the {what} is not self-signed"
        );
    }
    assert!(snp::verify::check_self_signed(b"not a certificate").is_err());
    // The ARK with its PSS parameters naming SHA-256 (OID 2.16.840.1.101.3.4.2.1)
    // instead of SHA-384: refused for the parameters, before any signature
    // check.
    let sha384 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    let mut ark = s.ark_der.clone();
    let mut i = 0;
    while let Some(at) = ark[i..].windows(sha384.len()).position(|w| w == sha384) {
        ark[i + at + sha384.len() - 1] = 0x01;
        i += at + sha384.len();
    }
    assert!(i > 0, "the ARK names SHA-384");
    let e = snp::verify::check_self_signed(&ark).unwrap_err();
    assert!(e.contains("do not name SHA-384"), "{e}");
}
