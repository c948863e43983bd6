//! TPM CA CRLs given with the trust roots (`TrustRoots::with_crl`, what a
//! provider's `tpm_crls` and `attesta verify tpm --crl` configure): a
//! revoked AK certificate or intermediate is `AkCertificateRevoked`; a CRL
//! of a CA on the chain that does not verify is `AkCrlInvalid`, one that is
//! not current `AkCrlExpired` (fail closed); a CRL of a CA off the chain
//! changes nothing; a remembered chain is not reused across a CRL change,
//! and a chain checked against a CRL is good only until its nextUpdate.

use attesta_evidence::pki::{CertificateError, Role};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::{TpmError, TpmSettings, TpmVerified, verify, verify_with_chain};
use attesta_evidence::{ErrorCode, UnixTime};
use attesta_testkit::{TpmCa, TpmSample, tpm_crl};

const DAY: u64 = 86_400;

fn serial(der: &[u8]) -> Vec<u8> {
    attesta_evidence::pki::parse_cert(der)
        .unwrap()
        .raw_serial()
        .to_vec()
}

fn with_crls(s: &TpmSample, crls: &[Vec<u8>]) -> TrustRoots {
    crls.iter()
        .fold(s.roots(), |r, c| r.with_crl(RootKind::Tpm, c.clone()))
}

fn check(s: &TpmSample, roots: &TrustRoots) -> Result<TpmVerified, TpmError> {
    verify(
        &s.evidence(),
        &s.nonce,
        roots,
        &TpmSettings::default(),
        s.verify_at(),
    )
}

fn current(ca: TpmCa, s: &TpmSample, revoked: &[&[u8]]) -> Vec<u8> {
    let t = s.verify_at().0;
    tpm_crl(ca, revoked, UnixTime(t - DAY), UnixTime(t + 7 * DAY))
}

#[test]
fn a_revoked_ak_certificate_is_refused() {
    let s = TpmSample::builder().intermediate(false).build();
    let ak = serial(&s.ak_cert);
    let e = check(&s, &with_crls(&s, &[current(TpmCa::Root, &s, &[&ak])])).unwrap_err();
    assert_eq!(e.code(), "AkCertificateRevoked");
    match &e {
        TpmError::AkCertificateRevoked(CertificateError::Revoked {
            cert, crl_issuer, ..
        }) => {
            assert_eq!(cert.role, Role::Leaf);
            assert!(cert.name.contains("Attesta Test TPM AK"), "{e}");
            assert!(crl_issuer.contains("Attesta Test TPM Root CA"), "{e}");
        }
        other => panic!("expected a revoked AK certificate, got {other:?}"),
    }
    // A CRL of the same CA that lists other serials: accepted, and the
    // chain is good only until the CRL's nextUpdate.
    let crl = current(TpmCa::Root, &s, &[&[0x7f, 0x01]]);
    let v = check(&s, &with_crls(&s, &[crl])).unwrap();
    assert!(v.aik_validated);
    let chain = v.ak_chain.unwrap();
    assert_eq!(chain.not_after, (s.verify_at().0 + 7 * DAY) as i64);
    assert_eq!(chain.not_before, (s.verify_at().0 - DAY) as i64);
}

#[test]
fn a_revoked_intermediate_or_an_ak_revoked_by_the_intermediate_is_refused() {
    let s = TpmSample::builder().intermediate(true).build();
    check(&s, &s.roots()).unwrap();
    let inter = serial(&s.intermediates[0]);
    let e = check(&s, &with_crls(&s, &[current(TpmCa::Root, &s, &[&inter])])).unwrap_err();
    assert_eq!(e.code(), "AkCertificateRevoked");
    assert!(
        e.to_string()
            .contains("intermediate CA certificate 'CN=Attesta Test TPM Intermediate CA"),
        "{e}"
    );
    let ak = serial(&s.ak_cert);
    let e = check(
        &s,
        &with_crls(
            &s,
            &[
                current(TpmCa::Root, &s, &[]),
                current(TpmCa::Intermediate, &s, &[&ak]),
            ],
        ),
    )
    .unwrap_err();
    assert_eq!(e.code(), "AkCertificateRevoked");
    // Both CAs' CRLs, neither listing the chain: accepted.
    let v = check(
        &s,
        &with_crls(
            &s,
            &[
                current(TpmCa::Root, &s, &[]),
                current(TpmCa::Intermediate, &s, &[]),
            ],
        ),
    )
    .unwrap();
    assert!(v.aik_validated);
}

#[test]
fn a_crl_of_a_ca_on_the_chain_that_does_not_verify_or_is_not_current_fails_closed() {
    let s = TpmSample::builder().build();
    let t = s.verify_at().0;
    // Same issuer name as the trusted root, another key.
    let e = check(&s, &with_crls(&s, &[current(TpmCa::RogueRoot, &s, &[])])).unwrap_err();
    assert_eq!(e.code(), "AkCrlInvalid");
    assert!(matches!(
        e,
        TpmError::AkCrlInvalid(CertificateError::BadSignature { .. })
    ));
    let stale = tpm_crl(TpmCa::Root, &[], UnixTime(t - 30 * DAY), UnixTime(t - 1));
    let e = check(&s, &with_crls(&s, &[stale])).unwrap_err();
    assert_eq!(e.code(), "AkCrlExpired");
    assert!(e.to_string().contains("has expired"), "{e}");
    let early = tpm_crl(TpmCa::Root, &[], UnixTime(t + 1), UnixTime(t + DAY));
    let e = check(&s, &with_crls(&s, &[early])).unwrap_err();
    assert_eq!(e.code(), "AkCrlExpired");
    assert!(e.to_string().contains("not yet valid"), "{e}");
    // Not a CRL at all.
    let e = check(&s, &with_crls(&s, &[b"not a CRL".to_vec()])).unwrap_err();
    assert_eq!(e.code(), "AkCrlInvalid");
}

#[test]
fn a_crl_of_a_ca_off_the_chain_changes_nothing() {
    // The AK is issued by the root here; the intermediate's CRL (even
    // a stale one listing the AK's serial) is not about this chain.
    let s = TpmSample::builder().intermediate(false).build();
    let t = s.verify_at().0;
    let ak = serial(&s.ak_cert);
    let off = tpm_crl(
        TpmCa::Intermediate,
        &[&ak],
        UnixTime(t - 30 * DAY),
        UnixTime(t - DAY),
    );
    assert!(check(&s, &with_crls(&s, &[off])).unwrap().aik_validated);
}

/// A chain remembered before a CRL was configured is not reused: the
/// fingerprint covers the CRLs, so the chain is checked afresh and the
/// revocation is found.
#[test]
fn a_remembered_chain_is_not_reused_across_a_crl_change() {
    let s = TpmSample::builder().intermediate(false).build();
    let before = check(&s, &s.roots()).unwrap().ak_chain.unwrap();
    let ak = serial(&s.ak_cert);
    let roots = with_crls(&s, &[current(TpmCa::Root, &s, &[&ak])]);
    let e = verify_with_chain(
        &s.evidence(),
        &s.nonce,
        &roots,
        &TpmSettings::default(),
        s.verify_at(),
        |_| Some(before.clone()),
    )
    .unwrap_err();
    assert_eq!(e.code(), "AkCertificateRevoked");
    assert!(!before.covers(&s.ak_cert, &s.intermediates, &roots, s.verify_at()));
}

/// When the policy does not require a valid AK certificate, a revoked one
/// is not valid: the AK is taken as given and `aikValidated` is false, as
/// for any other chain failure.
#[test]
fn without_require_valid_aik_cert_a_revoked_ak_is_not_validated() {
    let s = TpmSample::builder().intermediate(false).build();
    let ak = serial(&s.ak_cert);
    let v = verify(
        &s.evidence(),
        &s.nonce,
        &with_crls(&s, &[current(TpmCa::Root, &s, &[&ak])]),
        &TpmSettings {
            require_valid_aik_cert: false,
            ..Default::default()
        },
        s.verify_at(),
    )
    .unwrap();
    assert!(!v.aik_validated);
    assert!(v.ak_chain.is_none());
}
