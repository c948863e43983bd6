//! Two TPM verifier features on synthetic evidence (the testkit's software
//! TPM): reusing a verified AK chain (`verify_with_chain`) only when it
//! stands for the same certificates, roots and a time inside its validity,
//! and the boot attestation of a resumed machine (`TpmVerified::verify_boot`),
//! accepted only from the same TPM power cycle.

use attesta_evidence::ErrorCode;
use attesta_evidence::UnixTime;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::tpm::verify::BootEvidence;
use attesta_evidence::tpm::{QuoteParts, TpmSettings, TpmVerified, verify, verify_with_chain};
use attesta_testkit::TpmSample;

fn verified(s: &TpmSample) -> TpmVerified {
    verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .expect("the sample verifies")
}

#[test]
fn a_remembered_chain_is_reused_only_for_its_own_certificates_roots_and_time() {
    let s = TpmSample::builder().build();
    let v = verified(&s);
    let chain = v.ak_chain.clone().expect("the AK chain verified");
    assert!(chain.test_root);
    assert!(chain.not_before <= s.verify_at().0 as i64);
    assert!(s.verify_at().0 as i64 <= chain.not_after);
    assert!(chain.covers(&s.ak_cert, &s.intermediates, &s.roots(), s.verify_at()));

    // Reused: the result is the same as a fresh verification.
    let again = verify_with_chain(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
        |_| Some(chain.clone()),
    )
    .unwrap();
    assert_eq!(again, v);

    // Not for other roots: with none configured the chain is checked afresh
    // and fails, even though a remembered one is offered.
    let r = verify_with_chain(
        &s.evidence(),
        &s.nonce,
        &TrustRoots::empty(),
        &TpmSettings::default(),
        s.verify_at(),
        |_| Some(chain.clone()),
    );
    assert_eq!(r.unwrap_err().code(), "AkChainUntrusted");

    // Not past its validity: checked afresh, and expired.
    let late = UnixTime(chain.not_after as u64 + 1);
    assert!(!chain.covers(&s.ak_cert, &s.intermediates, &s.roots(), late));
    let r = verify_with_chain(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        late,
        |_| Some(chain.clone()),
    );
    assert_eq!(r.unwrap_err().code(), "AkCertificateExpired");

    // Not for another AK certificate: a sample with a different AK and the
    // same roots is verified on its own (its key must match its certificate).
    let other = TpmSample::builder()
        .ak(attesta_testkit::AkKind::EccP256)
        .build();
    assert!(!chain.covers(
        &other.ak_cert,
        &other.intermediates,
        &other.roots(),
        other.verify_at()
    ));
    let v_other = verify_with_chain(
        &other.evidence(),
        &other.nonce,
        &other.roots(),
        &TpmSettings::default(),
        other.verify_at(),
        |_| Some(chain.clone()),
    )
    .unwrap();
    assert_ne!(v_other.ak_chain.unwrap().fingerprint, chain.fingerprint);

    // The quote is still checked when the chain is reused.
    let r = verify_with_chain(
        &s.evidence(),
        b"another nonce",
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
        |_| Some(chain.clone()),
    );
    assert_eq!(r.unwrap_err().code(), "NonceMismatch");
}

/// A boot attestation made by the same AK (the testkit's AK is shared by
/// every RSA sample) with the given clock counters.
fn boot_sample(reset: u32, restart: u32, clock: u64) -> TpmSample {
    TpmSample::builder()
        .reset_count(reset)
        .restart_count(restart)
        .clock(clock)
        .secure_boot(Some(false))
        .build()
}

fn boot_evidence(b: &TpmSample) -> BootEvidence<'_> {
    BootEvidence {
        quotes: vec![QuoteParts {
            attest: &b.attest,
            signature: &b.signature,
        }],
        pcrs: b.pcrs.clone(),
        event_log: Some(&b.event_log),
    }
}

#[test]
fn boot_attestation_of_the_same_power_cycle_is_kept_with_its_events() {
    let current = TpmSample::builder()
        .reset_count(7)
        .restart_count(2)
        .clock(900_000)
        .build();
    let boot = boot_sample(7, 1, 100_000);
    let mut v = verified(&current);
    v.verify_boot(&boot_evidence(&boot)).unwrap();
    let b = v.boot.as_ref().unwrap();
    assert_eq!(b.restart_count, 1);
    assert!(b.verified_log_pcrs.contains(&7));
    let claims = v.claims().into_map();
    let boot_events = claims["bootEvents"]["Events"].as_array().unwrap();
    let current_events = claims["events"]["Events"].as_array().unwrap();
    assert_eq!(
        boot_events.len(),
        b.event_log.as_ref().unwrap().events.len()
    );
    assert!(!current_events.is_empty());
    // The current attestation's claims stay the current boot's.
    assert_eq!(claims["secureBootEnabled"], true);
}

#[test]
fn boot_attestation_from_another_power_cycle_or_tampered_is_refused() {
    let current = TpmSample::builder()
        .reset_count(7)
        .restart_count(2)
        .clock(900_000)
        .build();
    let code = |boot: &TpmSample| {
        let mut v = verified(&current);
        let e = v.verify_boot(&boot_evidence(boot)).unwrap_err();
        assert!(v.boot.is_none());
        e.code()
    };
    // A cold boot since (another reset count), a later restart, a later clock.
    assert_eq!(code(&boot_sample(6, 0, 100)), "BootLogDiscontinuous");
    assert_eq!(code(&boot_sample(7, 3, 100)), "BootLogDiscontinuous");
    assert_eq!(code(&boot_sample(7, 1, 900_001)), "BootLogDiscontinuous");
    // A boot quote whose PCR values were changed after quoting.
    let mut changed = boot_sample(7, 1, 100);
    let bank = *changed.pcrs.keys().next().unwrap();
    changed
        .pcrs
        .get_mut(&bank)
        .unwrap()
        .insert(0, vec![0xAB; 20]);
    assert_eq!(code(&changed), "PcrDigestMismatch");
    // A boot log from another boot (it does not replay to the boot quote).
    let other = boot_sample(7, 1, 100);
    let mut v = verified(&current);
    let mut ev = boot_evidence(&other);
    ev.event_log = Some(&current.event_log);
    let e = v.verify_boot(&ev).unwrap_err();
    assert_eq!(e.code(), "EventLogMismatch");
    // A boot quote signed by another AK (an ECDSA one: its signature cannot
    // be checked with the current RSA AK at all).
    let ecc = TpmSample::builder()
        .ak(attesta_testkit::AkKind::EccP256)
        .reset_count(7)
        .build();
    let mut v = verified(&current);
    assert_eq!(
        v.verify_boot(&boot_evidence(&ecc)).unwrap_err().code(),
        "UnsupportedSignature"
    );
}

/// The AK certificate must certify the AK itself: the sample's certificate
/// with one byte of its key changed (RSA: the modulus, exponent unchanged;
/// ECC: the point), or a certificate for a key of the other type, is
/// AkKeyMismatch, whatever the chain would say.
#[test]
fn an_ak_certificate_for_another_key_is_ak_key_mismatch() {
    use attesta_testkit::AkKind::{EccP256, Rsa2048Rsassa};
    let rekeyed = |der: &[u8]| {
        let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
        let key = c.public_key().subject_public_key.data.to_vec();
        let at = der
            .windows(key.len())
            .position(|w| w == key.as_slice())
            .expect("the key is in the DER");
        let mut d = der.to_vec();
        d[at + key.len() / 2] ^= 0x01;
        d
    };
    for kind in [Rsa2048Rsassa, EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        verified(&s);
        let other_kind = if kind == EccP256 {
            Rsa2048Rsassa
        } else {
            EccP256
        };
        let other = TpmSample::builder().ak(other_kind).build();
        for (what, cert) in [
            ("its key changed", rekeyed(&s.ak_cert)),
            ("the other key type", other.ak_cert.clone()),
        ] {
            let mut ev = s.evidence();
            ev.ak_cert = Some(&cert);
            let err = verify(
                &ev,
                &s.nonce,
                &s.roots(),
                &TpmSettings::default(),
                s.verify_at(),
            )
            .unwrap_err();
            assert_eq!(
                err.code(),
                "AkKeyMismatch",
                "{kind:?} AK, certificate with {what}"
            );
        }
    }
}

/// Each step of the AK chain needs both the issuer's name and its
/// signature: a root, or an intermediate, with the expected name but another
/// key (the testkit's rogue hierarchy uses the same names) does not vouch.
#[test]
fn a_same_named_ca_with_another_key_does_not_vouch_for_the_ak() {
    let strict = TpmSettings {
        require_valid_aik_cert: true,
        ..TpmSettings::default()
    };
    let run = |s: &TpmSample, intermediates: &[Vec<u8>]| {
        let mut ev = s.evidence();
        ev.intermediates = intermediates.to_vec();
        verify(&ev, &s.nonce, &s.roots(), &strict, s.verify_at()).map(|v| v.aik_validated)
    };
    let good = TpmSample::builder().build();
    assert_eq!(run(&good, &good.intermediates), Ok(true));
    let rogue = TpmSample::builder().wrong_root(true).build();
    // The rogue intermediate is signed by a root named like the trusted one.
    assert_eq!(
        run(&rogue, &rogue.intermediates).unwrap_err().code(),
        "AkChainUntrusted"
    );
    // The trusted intermediate is named like the rogue one that signed the
    // AK certificate, and chains to the trusted root, but did not sign it.
    assert_eq!(
        run(&rogue, &good.intermediates).unwrap_err().code(),
        "AkChainUntrusted"
    );
}

/// The secure boot state is what the proven `SecureBoot` event says: off is
/// reported off (the claim and the accessor), on is on, and a log without
/// the event says nothing.
#[test]
fn secure_boot_is_what_the_proven_log_says() {
    for (logged, want) in [
        (Some(false), Some(false)),
        (Some(true), Some(true)),
        (None, None),
    ] {
        let v = verified(&TpmSample::builder().secure_boot(logged).build());
        assert_eq!(v.secure_boot(), want, "logged {logged:?}");
        let claims = v.claims().into_map();
        assert_eq!(
            claims.get("secureBootEnabled").and_then(|c| c.as_bool()),
            want,
            "logged {logged:?}"
        );
    }
}

/// The same power cycle includes its bounds: a boot attestation made at the
/// current restart count and clock (no restart, no time since) is kept.
#[test]
fn boot_attestation_at_the_current_restart_count_and_clock_is_kept() {
    let current = TpmSample::builder()
        .reset_count(7)
        .restart_count(2)
        .clock(900_000)
        .build();
    for (restart, clock) in [(2, 100), (1, 900_000), (2, 900_000)] {
        let mut v = verified(&current);
        v.verify_boot(&boot_evidence(&boot_sample(7, restart, clock)))
            .unwrap_or_else(|e| panic!("restart {restart}, clock {clock}: {e}"));
        assert_eq!(v.boot.as_ref().unwrap().restart_count, restart);
    }
}

/// A boot quote signed with SHA-1 (accepted only because the verification
/// allows it) marks the whole verification as having accepted SHA-1, even
/// when the current quote is SHA-256: the token must say so.
#[test]
fn a_sha1_boot_quote_marks_the_verification_sha1_accepted() {
    let current = TpmSample::builder()
        .reset_count(7)
        .restart_count(2)
        .clock(900_000)
        .build();
    let mut v = attesta_evidence::tpm::verify_with_options(
        &current.evidence(),
        &current.nonce,
        &current.roots(),
        &TpmSettings::default(),
        &attesta_evidence::tpm::TpmOptions { allow_sha1: true },
        current.verify_at(),
        |_| None,
    )
    .unwrap();
    assert!(!v.sha1_accepted, "the current quote is SHA-256");
    let boot = TpmSample::builder()
        .reset_count(7)
        .restart_count(1)
        .clock(100)
        .sha1_signature(true)
        .build();
    v.verify_boot(&boot_evidence(&boot)).unwrap();
    assert!(v.sha1_accepted);
    // Without the opt-in the same boot quote is refused.
    let mut strict = verified(&current);
    assert_eq!(
        strict
            .verify_boot(&boot_evidence(&boot))
            .unwrap_err()
            .code(),
        "WeakSignatureHash"
    );
}

/// With `require_valid_aik_cert` off, an AK certificate that does not chain
/// to a trusted root leaves the quote verified and `aikValidated` false (the
/// policy decides); with it on (the default) the same evidence is refused.
#[test]
fn an_untrusted_ak_certificate_is_refused_only_when_required() {
    let s = TpmSample::builder().build();
    let lax = TpmSettings {
        require_valid_aik_cert: false,
        ..TpmSettings::default()
    };
    let v = verify(
        &s.evidence(),
        &s.nonce,
        &TrustRoots::empty(),
        &lax,
        s.verify_at(),
    )
    .expect("verified without a trusted AK chain");
    assert!(!v.aik_validated);
    assert_eq!(v.claims().into_map()["aikValidated"], false);
    let e = verify(
        &s.evidence(),
        &s.nonce,
        &TrustRoots::empty(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "AkChainUntrusted", "{e}");
}

/// Quoting more PCRs than the required mask is fine; quoting fewer is not.
#[test]
fn the_required_pcr_mask_is_a_lower_bound() {
    let s = TpmSample::builder().pcrs(&[0, 1, 2, 3, 7, 14]).build();
    let needs = |mask: u64| TpmSettings {
        required_pcr_mask: mask,
        ..TpmSettings::default()
    };
    for mask in [0b1, 0b1000_0011, 0b100_0000_1000_1111] {
        verify(
            &s.evidence(),
            &s.nonce,
            &s.roots(),
            &needs(mask),
            s.verify_at(),
        )
        .unwrap_or_else(|e| panic!("mask {mask:#x}: {e}"));
    }
    let e = verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &needs(0b1_0000),
        s.verify_at(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "PcrSelectionInsufficient", "{e}");
}

/// A selection past PCR 63 (a TPMS_PCR_SELECTION may be up to 255 bytes)
/// does not count towards the required mask and breaks nothing.
#[test]
fn a_selection_past_pcr_63_is_ignored_by_the_coverage_check() {
    let pcrs: Vec<u32> = (0..24).chain([64]).collect();
    let s = TpmSample::builder().pcrs(&pcrs).build();
    let v = verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    );
    match v {
        Ok(v) => assert!(v.aik_validated),
        Err(e) => panic!("{}: {e}", e.code()),
    }
}

/// TPM2_Certify through the verified AK: a certification of the key sent,
/// over the expected nonce, gives that key; another nonce is
/// `CertificationNonceMismatch`; a certification naming another object is
/// `CertifiedNameMismatch`.
#[test]
fn a_key_certification_holds_only_for_its_nonce_and_its_object() {
    use attesta_evidence::tpm::verify::CertifyParts;
    use attesta_testkit::tpm::rsa_key_public;
    let s = TpmSample::builder().build();
    let v = verified(&s);
    let public = rsa_key_public(&[0xc5; 256], 65_537, 0x0006_0072);
    let nonce = b"certify nonce";
    let (certification, signature) = s.certify(&public, nonce);
    let parts = CertifyParts {
        public: &public,
        certification: &certification,
        signature: &signature,
    };
    let key = v.certify(&parts, nonce).expect("the certification holds");
    assert_eq!(key.object_attributes, 0x0006_0072);
    assert_eq!(key.name.len(), 34, "nameAlg and a SHA-256 digest");

    let e = v.certify(&parts, b"another nonce").unwrap_err();
    assert_eq!(e.code(), "CertificationNonceMismatch", "{e}");

    let other = rsa_key_public(&[0xc6; 256], 65_537, 0x0006_0072);
    let forged = CertifyParts {
        public: &other,
        ..parts
    };
    let e = v.certify(&forged, nonce).unwrap_err();
    assert_eq!(e.code(), "CertifiedNameMismatch", "{e}");
}

/// A firmware PCR (0–7) the log never extends is fine while the quote says
/// it holds its reset value (all zero bytes). The other side — a quoted
/// non-zero value no log event explains — is `EventLogMismatch`, tested
/// with the real GCE log in `tpm_vectors.rs`.
#[test]
fn an_untouched_firmware_pcr_at_its_reset_value_verifies() {
    let s = TpmSample::builder().untouched_pcr(6).build();
    let ev = s.evidence();
    assert!(
        ev.pcrs
            .values()
            .all(|bank| bank[&6].iter().all(|&b| b == 0))
    );
    let v = verified(&s);
    let log = v.event_log.as_ref().unwrap();
    assert!(log.events.iter().all(|e| e.pcr_index != 6));
}

/// TPM NV indices hold certificates padded to the index size: bytes after
/// the AK certificate and after an intermediate are ignored, as they always
/// were; the certificates themselves are checked as sent.
#[test]
fn padded_ak_and_intermediate_certificates_verify() {
    let s = TpmSample::builder().build();
    let mut ak = s.ak_cert.clone();
    ak.extend([0u8; 16]);
    let mut ev = s.evidence();
    ev.ak_cert = Some(&ak);
    for i in &mut ev.intermediates {
        i.extend([0xffu8; 7]);
    }
    let v = verify(
        &ev,
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .unwrap();
    assert!(v.aik_validated);
    // Padding does not make a broken certificate whole.
    let mut broken = s.ak_cert.clone();
    broken.truncate(broken.len() - 1);
    ev.ak_cert = Some(&broken);
    let e = verify(
        &ev,
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "AkCertificateInvalid");
}
