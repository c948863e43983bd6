//! Testkit SEV-SNP samples: each failure class gives its specific error
//! code, the happy paths (VCEK and VLEK, Milan, Genoa, Turin, v2/v3/v5)
//! yield the claims the builder put in, and test roots are reported.

use attesta_evidence::binding;
use attesta_evidence::roots::{RootKind, TrustRoots};
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
    assert!(
        matches!(
            e,
            attesta_evidence::pki::CertificateError::UnsupportedSignatureAlgorithm { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("SHA-384"), "{e}");
}

/// A configured ARK that signed the ASK but not itself is refused as a
/// chain error naming the ARK (a configuration mistake, not trusted), and
/// `check_self_signed` refuses it too.
#[test]
fn a_trusted_ark_that_is_not_self_signed_is_refused() {
    let s = SnpSample::builder().ark_not_self_signed().build();
    let roots = TrustRoots::empty().with_configured(RootKind::AmdArk, s.ark_der.clone());
    match VerifiedChain::verify(&s.collateral(), &roots, s.at).unwrap_err() {
        SnpError::VcekChainInvalid(m) => assert!(
            m.contains("trusted root certificate '")
                && m.contains("CN=ARK-Milan'")
                && m.contains("does not verify"),
            "{m}"
        ),
        e => panic!("expected VcekChainInvalid, got {e:?}"),
    }
    let e = snp::verify::check_self_signed(&s.ark_der).unwrap_err();
    match &e {
        attesta_evidence::pki::CertificateError::BadSignature { cert, .. } => {
            assert_eq!(cert.role, attesta_evidence::pki::Role::Anchor);
            assert!(cert.name.contains("CN=ARK-Milan"), "{e}");
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
    // The same ASK and VCEK under the real test ARK verify.
    run(&SnpSample::builder().build()).unwrap();
}

/// From report version 3 on, the signed CPUID family/model must name the
/// generation the VCEK certifies (v3 and v5 alike); a CPUID no generation
/// has is UnknownProcessor.
#[test]
fn the_report_cpuid_must_name_the_certified_generation() {
    for version in [3, 5] {
        let genoa_cpuid = SnpSample::builder().version(version).cpuid(0x19, 0x11, 1);
        assert_eq!(
            run(&genoa_cpuid.build()).unwrap_err(),
            SnpError::ProcessorMismatch {
                report: "Genoa".into(),
                cert: "Milan-B0".into()
            },
            "v{version}"
        );
        let unknown = SnpSample::builder().version(version).cpuid(0x17, 0x31, 0);
        assert_eq!(
            run(&unknown.build()).unwrap_err(),
            SnpError::UnknownProcessor {
                family: 0x17,
                model: 0x31,
                product: "Milan-B0".into()
            },
            "v{version}"
        );
        // Another Milan model (0x19, 0x0F) is still Milan.
        run(&SnpSample::builder()
            .version(version)
            .cpuid(0x19, 0x0F, 2)
            .build())
        .unwrap_or_else(|e| panic!("v{version}: {e}"));
    }
    // A Turin report on a Turin VCEK verifies; the same CPUID on a Genoa
    // VCEK does not.
    run(&SnpSample::builder().generation(Generation::Turin).build()).unwrap();
    assert_eq!(
        code(
            SnpSample::builder()
                .generation(Generation::Genoa)
                .cpuid(0x1A, 0x02, 1)
        ),
        "ProcessorMismatch"
    );
}

const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID: &str = "1.3.6.1.4.1.3704.1.4";

fn vek_extension_error(b: SnpSampleBuilder) -> String {
    let s = b.build();
    match VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap_err() {
        SnpError::VekExtensionInvalid(m) => m,
        e => panic!("expected VekExtensionInvalid, got {e:?}"),
    }
}

/// A VCEK must carry a hwID of its generation's length (64 bytes for Milan
/// and Genoa, 8 for Turin); a VLEK carries none.
#[test]
fn a_vcek_hwid_must_be_present_and_of_its_generation_length() {
    let m = vek_extension_error(SnpSample::builder().vek_extension(OID_HW_ID, None));
    assert!(m.contains("has no hwID"), "{m}");
    let m = vek_extension_error(SnpSample::builder().vek_extension(OID_HW_ID, Some(vec![0xC0; 8])));
    assert!(
        m.contains("Milan VCEK's hwID is 8 bytes, expected 64"),
        "{m}"
    );
    let m = vek_extension_error(
        SnpSample::builder()
            .generation(Generation::Turin)
            .vek_extension(OID_HW_ID, Some(vec![0xC0; 64])),
    );
    assert!(
        m.contains("Turin VCEK's hwID is 64 bytes, expected 8"),
        "{m}"
    );
    let v = run(&SnpSample::builder().vlek(true).build()).unwrap();
    assert_eq!(v.signing_key, snp::SigningKey::Vlek);
}

/// The SPL extensions are DER INTEGERs 0..=255: 127 is `02 01 7F`, 128 is
/// `02 02 00 80`; `02 01 80` (that is -128) and the non-minimal
/// `02 02 00 7F` are refused.
#[test]
fn spl_extensions_are_der_integers_0_to_255() {
    let tcb = TcbVersion {
        bootloader: 0x7F,
        tee: 0,
        snp: 22,
        microcode: 0x80,
        fmc: None,
    };
    let v = run(&SnpSample::builder().tcb(tcb).build()).unwrap();
    assert_eq!(
        v.claims().get("x-ms-sevsnpvm-bootloader-svn").unwrap(),
        0x7F
    );
    assert_eq!(v.claims().get("x-ms-sevsnpvm-microcode-svn").unwrap(), 0x80);
    for bad in [vec![0x02, 0x01, 0x80], vec![0x02, 0x02, 0x00, 0x7F]] {
        let m =
            vek_extension_error(SnpSample::builder().vek_extension(OID_BL_SPL, Some(bad.clone())));
        assert!(m.contains("is not an INTEGER 0..255"), "{bad:02x?}: {m}");
    }
    let m = vek_extension_error(SnpSample::builder().vek_extension(OID_UCODE_SPL, None));
    assert!(m.contains("ucodeSPL"), "{m}");
}

/// fmcSPL is a Turin field: a Turin VCEK without it is refused, and one on
/// a Milan VCEK is ignored (Milan's TCB has no FMC byte to compare it to).
#[test]
fn fmc_spl_is_required_on_turin_and_ignored_before() {
    let m = vek_extension_error(
        SnpSample::builder()
            .generation(Generation::Turin)
            .vek_extension(OID_FMC_SPL, None),
    );
    assert!(m.contains("Turin certificate has no fmcSPL"), "{m}");
    let s = SnpSample::builder()
        .vek_extension(OID_FMC_SPL, Some(vec![0x02, 0x01, 0x05]))
        .build();
    let chain = VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap();
    assert_eq!(chain.vek.tcb.fmc, None);
    verify_report(&s.report, &chain, s.at).unwrap();
}

/// The VCEK/VLEK must certify an uncompressed P-384 point: a P-256 key is
/// a chain error, before any report signature is tried.
#[test]
fn a_vek_with_a_p256_key_is_a_chain_error() {
    for vlek in [false, true] {
        let s = SnpSample::builder().vlek(vlek).vek_p256().build();
        match VerifiedChain::verify(&s.collateral(), &s.trust_roots(), s.at).unwrap_err() {
            SnpError::VcekChainInvalid(m) => {
                assert!(m.contains("not an uncompressed P-384 point"), "{m}")
            }
            e => panic!("expected VcekChainInvalid, got {e:?}"),
        }
    }
}

/// productName is an IA5String whose length byte covers exactly the rest
/// of the value: a length that disagrees, or no productName at all, is a
/// missing productName.
#[test]
fn a_product_name_whose_length_disagrees_is_missing() {
    let mut short = vec![0x16, 0x05];
    short.extend_from_slice(b"Milan-B0");
    for value in [Some(short), None] {
        let m = vek_extension_error(SnpSample::builder().vek_extension(OID_PRODUCT_NAME, value));
        assert!(m.contains("productName"), "{m}");
    }
}
