//! The relying party's check of the service itself (`service`): a key
//! whose certificate carries testkit SGX evidence bound to it, a token it
//! signed, and the policy over the service's claims. Sans-I/O.

use std::sync::Arc;

use attesta_evidence::signing_cert::VerifyLevel;
use attesta_evidence::signing_cert::{
    ATTESTA_OID_PLACEHOLDER_ARCS, AttestaEvidence, EvidenceKind, ServiceCollateral,
    key_binding_report_data,
};
use attesta_evidence::{TrustRoots, UnixTime};
use attesta_testkit::SgxSample;
use attesta_token::jwks::Jwks;
use attesta_token::jwt::sign_jwt;
use attesta_token::keys::{CertExtensions, Extension, SigningKey};
use attesta_token::rp::verify_with_jwks;
use attesta_token::service::{TeePolicy, TeeRequirement, verify_service_of};
use serde_json::json;

const ISSUER: &str = "https://node.example";

/// A test TEE: one SGX platform, requoted for each key.
struct TestTee(SgxSample);

impl CertExtensions for TestTee {
    fn extensions(&self, spki_der: &[u8]) -> Result<Vec<Extension>, String> {
        let quote = self.0.requote(key_binding_report_data(spki_der));
        Ok(vec![(
            ATTESTA_OID_PLACEHOLDER_ARCS.to_vec(),
            AttestaEvidence::new(EvidenceKind::SgxQuote, &quote, Some("test")).to_extension_value(),
        )])
    }
}

struct Refuses;
impl CertExtensions for Refuses {
    fn extensions(&self, _: &[u8]) -> Result<Vec<Extension>, String> {
        Err("no TEE here".into())
    }
}

fn setup() -> (SigningKey, Arc<TestTee>, u64) {
    let now = UnixTime::now().0;
    let tee = Arc::new(TestTee(
        SgxSample::builder().at(now).mr_enclave([0x42; 32]).build(),
    ));
    let key = SigningKey::generate_with(ISSUER, now, Some(tee.as_ref())).unwrap();
    (key, tee, now)
}

fn token(key: &SigningKey, now: u64) -> String {
    let claims = json!({"iss": ISSUER, "iat": now, "nbf": now, "exp": now + 600, "x-ms-attestation-type": "sgx"});
    sign_jwt(
        key,
        &format!("{ISSUER}/certs"),
        claims.as_object().unwrap(),
        false,
    )
}

fn requirement(tee: &TestTee, policy: &str) -> TeeRequirement {
    TeeRequirement {
        roots: TrustRoots::empty().with_configured(
            attesta_evidence::roots::RootKind::IntelSgx,
            tee.0.root_der.clone(),
        ),
        collateral: ServiceCollateral::dcap(Some(&tee.0.collateral)),
        policy: TeePolicy::from_json(policy.as_bytes()).unwrap(),
        release: None,
    }
}

#[test]
fn pinned_measurement_passes_and_another_fails() {
    let (key, tee, now) = setup();
    let t = token(&key, now);
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let v = verify_with_jwks(&t, &jwks, ISSUER, now, 60).unwrap();
    let pin = |m: &str| format!(r#"{{"require":{{"x-ms-sgx-mrenclave":["{m}"]}},"level":"full"}}"#);
    let s = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &requirement(&tee, &pin(&"42".repeat(32))),
    )
    .unwrap();
    assert_eq!(
        s.evidence.claims.get("x-ms-sgx-mrenclave").unwrap(),
        &"42".repeat(32)
    );
    assert_eq!(s.subject, format!("CN={ISSUER}"));
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &requirement(&tee, &pin(&"43".repeat(32))),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    assert!(err.to_string().contains("x-ms-sgx-mrenclave"), "{err}");
    // A minimum the service does not meet, and a claim it does not have.
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &requirement(&tee, r#"{"minimum":{"x-ms-sgx-svn":2}}"#),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &requirement(
            &tee,
            r#"{"require":{"x-ms-sevsnpvm-launchmeasurement":"00"}}"#,
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no claim"), "{err}");
    // "full" without collateral is refused; "signatures" is met without it.
    let mut req = requirement(&tee, r#"{"level":"full"}"#);
    req.collateral = ServiceCollateral::default();
    assert_eq!(
        verify_service_of(&t, &jwks, &v, ISSUER, now, 60, &req)
            .unwrap_err()
            .code(),
        "TeePolicyNotSatisfied"
    );
    req.policy = TeePolicy::default();
    verify_service_of(&t, &jwks, &v, ISSUER, now, 60, &req).unwrap();
}

#[test]
fn a_certificate_for_another_key_or_without_evidence_is_refused() {
    let (key, tee, now) = setup();
    let t = token(&key, now);
    // The published kid's x5c holds another key's certificate (with valid
    // evidence for that other key): the token's key is not the certificate's.
    let other = SigningKey::generate_with(ISSUER, now, Some(tee.as_ref())).unwrap();
    let mut jwk = key.jwk();
    jwk.x5c = other.jwk().x5c;
    let mixed = Jwks { keys: vec![jwk] };
    // The JWT layer already refuses such a key set ...
    assert!(verify_with_jwks(&t, &mixed, ISSUER, now, 60).is_err());
    // ... and so does the service check on its own, given a token verified elsewhere.
    let good = Jwks {
        keys: vec![key.jwk()],
    };
    let v = verify_with_jwks(&t, &good, ISSUER, now, 60).unwrap();
    let err =
        verify_service_of(&t, &mixed, &v, ISSUER, now, 60, &requirement(&tee, "{}")).unwrap_err();
    assert_eq!(err.code(), "ServiceCertificateKeyMismatch");
    // A key made without evidence.
    let plain = SigningKey::generate_at(ISSUER, now).unwrap();
    let t = token(&plain, now);
    let jwks = Jwks {
        keys: vec![plain.jwk()],
    };
    let v = verify_with_jwks(&t, &jwks, ISSUER, now, 60).unwrap();
    let err =
        verify_service_of(&t, &jwks, &v, ISSUER, now, 60, &requirement(&tee, "{}")).unwrap_err();
    assert_eq!(err.code(), "ServiceEvidenceMissing");
    // No x5c at all.
    let mut jwk = plain.jwk();
    jwk.x5c.clear();
    let jwks = Jwks { keys: vec![jwk] };
    let err =
        verify_service_of(&t, &jwks, &v, ISSUER, now, 60, &requirement(&tee, "{}")).unwrap_err();
    assert_eq!(err.code(), "ServiceCertificateMissing");
}

#[test]
fn no_evidence_no_key_and_bad_policies_are_refused() {
    let err = SigningKey::generate_with(ISSUER, UnixTime::now().0, Some(&Refuses)).unwrap_err();
    assert_eq!(err.code(), "KeyEvidenceUnavailable");
    assert!(err.to_string().contains("no TEE here"));
    assert!(TeePolicy::from_json(br#"{"level":"binding-only"}"#).is_err());
    assert!(TeePolicy::from_json(br#"{"minimum":{"x-ms-sgx-svn":"1"}}"#).is_err());
    assert!(TeePolicy::from_json(br#"{"pin":{}}"#).is_err());
}

/// A test SEV-SNP guest: one platform (one VCEK), its report re-signed for
/// each key, with the VCEK chain in the evidence as configfs-tsm gives it.
struct TestSnp(attesta_testkit::SnpSample);

impl CertExtensions for TestSnp {
    fn extensions(&self, spki_der: &[u8]) -> Result<Vec<Extension>, String> {
        let report = self.0.resign(key_binding_report_data(spki_der));
        let chain = format!(
            "{}{}",
            attesta_testkit::snp::pem(&self.0.vek_der),
            attesta_testkit::snp::pem(&self.0.ask_der)
        );
        let mut a = AttestaEvidence::new(EvidenceKind::SnpReport, &report, Some("test-snp"));
        a.certs = Some(attesta_token::encoding::b64url(chain.as_bytes()));
        Ok(vec![(
            ATTESTA_OID_PLACEHOLDER_ARCS.to_vec(),
            a.to_extension_value(),
        )])
    }
}

/// SEV-SNP service evidence: the pinned MEASUREMENT passes at level full
/// with AMD's CRL, another measurement is `TeePolicyNotSatisfied`, a CRL
/// that revokes the VCEK is `VcekRevoked`, and `full` without the CRL is
/// refused.
#[test]
fn snp_service_pins_its_measurement_and_honours_the_crl() {
    use attesta_evidence::signing_cert::AmdCrl;
    let now = UnixTime::now().0;
    let tee = TestSnp(
        attesta_testkit::SnpSample::builder()
            .at(now)
            .measurement([0x6D; 48])
            .crl(true)
            .build(),
    );
    let key = SigningKey::generate_with(ISSUER, now, Some(&tee)).unwrap();
    let t = token(&key, now);
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let v = verify_with_jwks(&t, &jwks, ISSUER, now, 60).unwrap();
    let req = |policy: &str, crl: Option<&Vec<u8>>| TeeRequirement {
        roots: tee.0.trust_roots(),
        collateral: ServiceCollateral {
            amd_crls: crl
                .map(|der| AmdCrl {
                    signing_key: attesta_evidence::snp::SigningKey::Vcek,
                    der: der.clone(),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        },
        policy: TeePolicy::from_json(policy.as_bytes()).unwrap(),
        release: None,
    };
    let pin = |m: &str| {
        format!(
            r#"{{"require":{{"x-ms-sevsnpvm-launchmeasurement":"{m}","x-ms-sevsnpvm-is-debuggable":false}},"minimum":{{"x-ms-sevsnpvm-snpfw-svn":22}},"level":"full"}}"#
        )
    };
    let crl = tee.0.crl_der.as_ref();
    let s = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &req(&pin(&"6d".repeat(48)), crl),
    )
    .unwrap();
    assert_eq!(s.evidence.level, VerifyLevel::Full);
    assert_eq!(
        s.evidence
            .claims
            .get("x-ms-sevsnpvm-launchmeasurement")
            .unwrap(),
        &"6d".repeat(48)
    );
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &req(&pin(&"6e".repeat(48)), crl),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &req(&pin(&"6d".repeat(48)), None),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    assert!(err.to_string().contains("full verification"), "{err}");
    let revoked = attesta_testkit::SnpSample::builder()
        .at(now)
        .revoke_vek()
        .build();
    let err = verify_service_of(
        &t,
        &jwks,
        &v,
        ISSUER,
        now,
        60,
        &req(&pin(&"6d".repeat(48)), revoked.crl_der.as_ref()),
    )
    .unwrap_err();
    assert_eq!(err.code(), "VcekRevoked");
}

/// A release statement pins its measurements like a policy requiring them:
/// the statement of the service's MRENCLAVE passes, another's fails, and a
/// statement for another kind of evidence fails.
#[test]
fn a_release_statement_pins_the_service_measurement() {
    use attesta_token::release::ReleaseStatement;
    let (key, tee, now) = setup();
    let t = token(&key, now);
    let jwks = Jwks {
        keys: vec![key.jwk()],
    };
    let v = verify_with_jwks(&t, &jwks, ISSUER, now, 60).unwrap();
    let with = |kind: EvidenceKind, name: &str, value: String| {
        let mut req = requirement(&tee, "{}");
        let pins = [(name.to_string(), value)].into_iter().collect();
        req.release = Some(ReleaseStatement::new("0.4.0", kind, pins, now).unwrap());
        verify_service_of(&t, &jwks, &v, ISSUER, now, 60, &req)
    };
    let s = with(
        EvidenceKind::SgxQuote,
        "x-ms-sgx-mrenclave",
        "42".repeat(32),
    )
    .unwrap();
    assert_eq!(s.evidence.kind, EvidenceKind::SgxQuote);
    let err = with(
        EvidenceKind::SgxQuote,
        "x-ms-sgx-mrenclave",
        "43".repeat(32),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    assert!(err.to_string().contains("release 0.4.0"), "{err}");
    let err = with(
        EvidenceKind::SnpReport,
        "x-ms-sevsnpvm-launchmeasurement",
        "42".repeat(48),
    )
    .unwrap_err();
    assert_eq!(err.code(), "TeePolicyNotSatisfied");
    assert!(err.to_string().contains("snp-report"), "{err}");
}
