//! Azure guest verification on synthetic evidence (testkit SNP report, HCL
//! report and TPM quote with an event log): the branches the real captures
//! cannot reach — claims from a proven event log only, SHA-384/512 report
//! data hashes, a missing or unusable HCLAkPub, malformed variable data
//! under a correct hash, unsupported isolation types; Trusted Launch (the
//! AK certificate to a vTPM CA).

use attesta_evidence::ErrorCode;
use attesta_evidence::azure_cvm::{
    self, AzureGuestError, AzureGuestEvidence, AzureGuestSettings, AzureGuestVerified,
    IsolationCollateral,
};
use attesta_testkit::azure_cvm::{
    AzureGuestSample, HASH_SHA256, HASH_SHA384, HASH_SHA512, REPORT_TYPE_TDX, REPORT_TYPE_TVM,
    REPORT_TYPE_VBS,
};

fn verify_with(
    s: &AzureGuestSample,
    log: Option<&[u8]>,
) -> Result<AzureGuestVerified, AzureGuestError> {
    let ev = AzureGuestEvidence {
        hcl_report: &s.hcl_report,
        quote: &s.tpm.attest,
        signature: &s.tpm.signature,
        pcrs: s.tpm.pcrs.clone(),
        event_log: log,
    };
    azure_cvm::verify(
        &ev,
        &IsolationCollateral::Snp(s.snp.collateral()),
        &s.tpm.nonce,
        &s.snp.trust_roots(),
        &AzureGuestSettings::default(),
        s.snp.at,
    )
}

fn verify(s: &AzureGuestSample) -> Result<AzureGuestVerified, AzureGuestError> {
    verify_with(s, Some(&s.tpm.event_log))
}

fn code(s: &AzureGuestSample) -> &'static str {
    verify(s).map(|_| "accepted").unwrap_or_else(|e| e.code())
}

#[test]
fn secure_boot_comes_from_the_proven_log_only() {
    for on in [true, false] {
        let s = AzureGuestSample::builder()
            .tpm(|t| t.secure_boot(Some(on)))
            .build();
        let c = verify(&s).unwrap().claims();
        assert_eq!(c.get("secureboot").unwrap(), on);
        let proven = c.get("x-attesta-azurevm-log-verified-pcrs").unwrap();
        assert!(proven.as_array().unwrap().contains(&7.into()));
        // The test ARK is reported as such.
        assert_eq!(c.get("x-attesta-test-root").unwrap(), true);
        assert_eq!(
            c.get("x-ms-isolation-tee").unwrap()["x-ms-attestation-type"],
            "sevsnpvm"
        );
        // Without the log, the claim is absent (even though vm-configuration says secure-boot).
        let c = verify_with(&s, None).unwrap().claims();
        assert!(c.get("secureboot").is_none());
        assert_eq!(
            c.get("x-ms-isolation-tee").unwrap()["x-ms-runtime"]["vm-configuration"]["secure-boot"],
            true
        );
    }
}

#[test]
fn a_log_that_does_not_replay_is_rejected() {
    let s = AzureGuestSample::builder().build();
    let other = AzureGuestSample::builder()
        .tpm(|t| t.secure_boot(Some(false)))
        .build();
    let err = verify_with(&s, Some(&other.tpm.event_log)).unwrap_err();
    assert_eq!(err.code(), "EventLogMismatch");
}

#[test]
fn every_hash_type_is_honoured() {
    for (t, name) in [
        (HASH_SHA256, "SHA256"),
        (HASH_SHA384, "SHA384"),
        (HASH_SHA512, "SHA512"),
    ] {
        let s = AzureGuestSample::builder().hash_type(t).build();
        let v = verify(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            v.claims()
                .get("x-attesta-azurevm-report-data-hash")
                .unwrap(),
            name
        );
    }
    // The HCL names one hash, the report holds another's digest.
    for (named, used) in [
        (HASH_SHA384, HASH_SHA256),
        (HASH_SHA256, HASH_SHA384),
        (HASH_SHA512, HASH_SHA384),
    ] {
        let s = AzureGuestSample::builder()
            .hash_type(named)
            .hashed_as(used)
            .build();
        assert_eq!(
            code(&s),
            "VarDataHashMismatch",
            "named {named}, used {used}"
        );
    }
}

#[test]
fn the_variable_data_must_name_a_usable_ak() {
    let s = AzureGuestSample::builder().without_ak().build();
    assert_eq!(code(&s), "HclAkPubMissing");
    let s = AzureGuestSample::builder()
        .var_data(br#"{"keys":[{"kid":"HCLAkPub","kty":"oct","k":"AA"}]}"#)
        .build();
    assert_eq!(code(&s), "HclAkPubInvalid");
    // Hashed correctly into the report, but not the runtime JSON.
    let s = AzureGuestSample::builder().var_data(b"{not json").build();
    assert_eq!(code(&s), "HclVarDataInvalid");
    let s = AzureGuestSample::builder()
        .var_data(br#"{"keys":"x"}"#)
        .build();
    assert_eq!(code(&s), "HclVarDataInvalid");
}

#[test]
fn an_ak_other_than_the_quotes_signer_is_rejected() {
    // A var data whose HCLAkPub is a different RSA key of the same size.
    let s = AzureGuestSample::builder().build();
    let mut jwk = s.tpm.ak_jwk();
    jwk["kid"] = "HCLAkPub".into();
    let n = jwk["n"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = n.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    jwk["n"] = chars.into_iter().collect::<String>().into();
    let doc = serde_json::json!({ "keys": [jwk] }).to_string();
    let s = AzureGuestSample::builder().var_data(doc.as_bytes()).build();
    assert_eq!(code(&s), "QuoteSignatureInvalid");
}

#[test]
fn isolation_types_without_a_verifiable_report_are_refused() {
    for t in [REPORT_TYPE_VBS, REPORT_TYPE_TVM] {
        let s = AzureGuestSample::builder().report_type(t).build();
        assert_eq!(code(&s), "HclIsolationUnsupported", "type {t}");
    }
    // TDX named, SNP collateral given.
    let s = AzureGuestSample::builder()
        .report_type(REPORT_TYPE_TDX)
        .build();
    assert_eq!(code(&s), "HclCollateralMismatch");
}

#[test]
fn the_nonce_and_pcrs_are_checked_on_synthetic_evidence_too() {
    let s = AzureGuestSample::builder()
        .tpm(|t| t.nonce(b"another nonce"))
        .build();
    let ev = AzureGuestEvidence {
        hcl_report: &s.hcl_report,
        quote: &s.tpm.attest,
        signature: &s.tpm.signature,
        pcrs: s.tpm.pcrs.clone(),
        event_log: Some(&s.tpm.event_log),
    };
    let err = azure_cvm::verify(
        &ev,
        &IsolationCollateral::Snp(s.snp.collateral()),
        b"the nonce",
        &s.snp.trust_roots(),
        &AzureGuestSettings::default(),
        s.snp.at,
    )
    .unwrap_err();
    assert_eq!(err.code(), "NonceMismatch");
    // Only PCRs 0..3 quoted: below the default mask 0..7.
    let s = AzureGuestSample::builder()
        .tpm(|t| t.pcrs(&[0, 1, 2, 3]).secure_boot(None))
        .build();
    assert_eq!(code(&s), "PcrSelectionInsufficient");
}

/// Trusted Launch: the AK trusted through its certificate to a vTPM CA
/// (the `RootKind::Tpm` roots); no such root is its own error; the claims
/// have no isolation TEE.
#[test]
fn trusted_launch_verifies_the_ak_certificate_to_a_vtpm_ca() {
    use attesta_evidence::TrustRoots;
    use attesta_evidence::azure_cvm::{VtpmQuote, verify_trusted_launch};
    use attesta_testkit::TpmSample;

    let tpm = TpmSample::builder().intermediate(false).build();
    let vtpm = VtpmQuote {
        quote: &tpm.attest,
        signature: &tpm.signature,
        pcrs: tpm.pcrs.clone(),
        event_log: Some(&tpm.event_log),
    };
    let run = |roots: &TrustRoots, cert: &[u8]| {
        verify_trusted_launch(
            &vtpm,
            &tpm.ak_public,
            cert,
            &tpm.nonce,
            roots,
            &AzureGuestSettings::default(),
            tpm.verify_at(),
        )
    };
    let v = run(&tpm.roots(), &tpm.ak_cert).unwrap();
    let c = v.claims();
    assert!(c.get("x-ms-isolation-tee").is_none());
    assert!(c.get("x-attesta-azurevm-report-data-hash").is_none());
    assert_eq!(c.get("x-attesta-azurevm-hcl-report-type").unwrap(), "TVM");
    assert_eq!(c.get("x-attesta-azurevm-ak-certified").unwrap(), true);
    assert_eq!(c.get("secureboot").unwrap(), true);
    assert_eq!(c.get("x-attesta-test-root").unwrap(), true);
    assert!(v.tpm.aik_validated);

    assert_eq!(
        run(&TrustRoots::empty(), &tpm.ak_cert).unwrap_err().code(),
        "VtpmCaNotConfigured"
    );
    assert_eq!(
        run(&tpm.roots(), &[]).unwrap_err().code(),
        "AkCertificateRequired"
    );
    let other = TpmSample::builder()
        .intermediate(false)
        .wrong_root(true)
        .build();
    assert_eq!(
        run(&tpm.roots(), &other.ak_cert).unwrap_err().code(),
        "AkChainUntrusted"
    );
}
