//! The synthetic TPM sample against Attesta's TPM verifier: every AK kind,
//! bank set and chain shape verifies with the expected claims, the structures
//! parse as what they claim to be, and each forged variant fails with its
//! own error code.

use attesta_evidence::ErrorCode;
use attesta_evidence::UnixTime;
use attesta_evidence::crypto::{self, Scheme};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::structures::{
    Attest, Attested, Public, PublicKey, Signature, TPM_ALG_RSA, TPM_ALG_SHA1, TPM_ALG_SHA256,
    TPM_ALG_SHA384, TPM_ALG_SHA512, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_QUOTE, hash, left_pad,
};
use attesta_evidence::tpm::{
    AkPublic, CertifyParts, EventLog, LogFormat, QuoteParts, TpmError, TpmSettings, TpmVerified,
    verify,
};
use attesta_testkit::tpm::{
    EFI_GLOBAL_VARIABLE, EV_EFI_VARIABLE_BOOT, EV_EFI_VARIABLE_DRIVER_CONFIG, EV_IPL,
    rsa_key_public, sipa_container, sipa_item, uefi_variable_data,
};
use attesta_testkit::{AkKind, LogEvent, TpmSample};
use serde_json::json;

fn check(s: &TpmSample) -> Result<TpmVerified, TpmError> {
    verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
}

/// Verify `ev` (a changed copy of the sample's evidence) as `check` does.
fn check_ev(
    s: &TpmSample,
    ev: &attesta_evidence::tpm::TpmEvidence<'_>,
) -> Result<TpmVerified, TpmError> {
    verify(
        ev,
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
}

fn code(r: Result<TpmVerified, TpmError>) -> &'static str {
    match r {
        Ok(_) => panic!("forged evidence verified"),
        Err(e) => e.code(),
    }
}

/// The `pcrs` claim the sample's own PCR values should produce.
fn expected_pcrs_claim(s: &TpmSample) -> serde_json::Value {
    let names = |b: u16| match b {
        TPM_ALG_SHA1 => "SHA1",
        TPM_ALG_SHA256 => "SHA256",
        TPM_ALG_SHA384 => "SHA384",
        TPM_ALG_SHA512 => "SHA512",
        _ => unreachable!(),
    };
    let list: Vec<_> = s
        .pcr_selection
        .iter()
        .map(|p| {
            let mut d = serde_json::Map::new();
            for b in &s.banks {
                d.insert(names(*b).into(), json!(hex::encode(&s.pcrs[b][p])));
            }
            json!({"Index": p, "Digests": d})
        })
        .collect();
    json!({ "PCRs": list })
}

#[test]
fn default_sample_verifies_for_every_ak_kind() {
    for kind in [AkKind::Rsa2048Rsassa, AkKind::Rsa2048Pss, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        let v = check(&s).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let c = v.claims();
        assert_eq!(c.get("aikValidated"), Some(&json!(true)), "{kind:?}");
        assert_eq!(c.get("secureBootEnabled"), Some(&json!(true)), "{kind:?}");
        assert_eq!(c.get("tpmVersion"), Some(&json!(2)));
        assert_eq!(c.get("x-attesta-test-root"), Some(&json!(true)));
        assert_eq!(c.get("x-attesta-tpm-reset-count"), Some(&json!(7)));
        assert_eq!(c.get("x-attesta-tpm-restart-count"), Some(&json!(0)));
        assert_eq!(c.get("pcrs"), Some(&expected_pcrs_claim(&s)));
        // Every PCR the log touches (0-7) replayed against the quote.
        assert_eq!(
            v.verified_log_pcrs.iter().copied().collect::<Vec<_>>(),
            (0..=7).collect::<Vec<u32>>()
        );
        // aikPubHash is over the AK's SubjectPublicKeyInfo.
        let spki = Public::parse(&s.ak_public).unwrap().spki_der().unwrap();
        assert_eq!(
            v.aik_pub_hash,
            attesta_evidence::tpm::structures::aik_pub_hash(&spki)
        );
    }
}

#[test]
fn one_two_and_three_banks_verify() {
    for banks in [
        vec![TPM_ALG_SHA256],
        vec![TPM_ALG_SHA1, TPM_ALG_SHA256],
        vec![TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384],
        vec![TPM_ALG_SHA384, TPM_ALG_SHA512],
    ] {
        let s = TpmSample::builder().banks(&banks).build();
        let v = check(&s).unwrap_or_else(|e| panic!("{banks:?}: {e}"));
        assert_eq!(v.quoted.keys().copied().collect::<Vec<_>>(), {
            let mut b = banks.clone();
            b.sort_unstable();
            b
        });
        assert_eq!(v.quoted, s.pcrs);
        assert_eq!(v.claims().get("pcrs"), Some(&expected_pcrs_claim(&s)));
        let log = EventLog::parse(&s.event_log).unwrap();
        assert_eq!(log.format, LogFormat::CryptoAgile);
        assert_eq!(log.banks, banks);
    }
}

#[test]
fn chain_with_and_without_intermediate() {
    for intermediate in [true, false] {
        let s = TpmSample::builder().intermediate(intermediate).build();
        assert_eq!(s.intermediates.len(), usize::from(intermediate));
        let v = check(&s).unwrap();
        assert!(v.aik_validated);
        assert!(v.test_root);
        // The chain needs its intermediate.
        if intermediate {
            let mut ev = s.evidence();
            ev.intermediates.clear();
            let r = check_ev(&s, &ev);
            assert_eq!(code(r), "AkChainUntrusted");
        }
    }
}

#[test]
fn secure_boot_claim_follows_the_log() {
    let off = TpmSample::builder().secure_boot(Some(false)).build();
    assert_eq!(
        check(&off).unwrap().claims().get("secureBootEnabled"),
        Some(&json!(false))
    );
    let none = TpmSample::builder().secure_boot(None).build();
    assert_eq!(
        check(&none).unwrap().claims().get("secureBootEnabled"),
        None
    );
    // An event whose data says SecureBoot=1 while 0 was measured replays
    // (the log is consistent with the TPM), but a driver-config variable's
    // digest is by definition the hash of its data: the log is refused.
    let lying = TpmSample::builder()
        .secure_boot(None)
        .event(
            LogEvent::new(
                7,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                &uefi_variable_data(EFI_GLOBAL_VARIABLE, "SecureBoot", &[1]),
            )
            .measuring(&uefi_variable_data(EFI_GLOBAL_VARIABLE, "SecureBoot", &[0])),
        )
        .build();
    assert_eq!(code(check(&lying)), "EventDataMismatch");
    // A boot variable (whose digest some firmware takes over VariableData
    // only) with data other than what was measured replays and stays in
    // `events`, but without its unproven ProcessedData.
    let boot = TpmSample::builder()
        .event(
            LogEvent::new(
                1,
                EV_EFI_VARIABLE_BOOT,
                &uefi_variable_data(EFI_GLOBAL_VARIABLE, "BootOrder", &[1, 0]),
            )
            .measuring(b"something else"),
        )
        .build();
    let v = check(&boot).unwrap();
    let events = v.claims().get("events").cloned().unwrap();
    let shown: Vec<&serde_json::Value> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["EventTypeString"] == "EV_EFI_VARIABLE_BOOT")
        .collect();
    // The sample's own boot variable is proven; the added one (last) is not.
    assert_eq!(shown.len(), 2, "{events}");
    assert!(shown[0].get("ProcessedData").is_some(), "{events}");
    assert!(shown[1].get("ProcessedData").is_none(), "{events}");
    // An event in a PCR the TPM does not have is refused.
    let far = TpmSample::builder()
        .event(LogEvent::new(65545, EV_EFI_VARIABLE_BOOT, b"x"))
        .build();
    assert_eq!(code(check(&far)), "EventPcrOutOfRange");
}

#[test]
fn structures_are_what_they_claim() {
    for kind in [AkKind::Rsa2048Rsassa, AkKind::Rsa2048Pss, AkKind::EccP256] {
        let s = TpmSample::builder()
            .ak(kind)
            .reset_count(42)
            .restart_count(3)
            .clock(123_456)
            .firmware_version(0x0102_0304_0506_0708)
            .nonce(b"abc")
            .build();
        let ak = Public::parse(&s.ak_public).unwrap();
        assert_eq!(ak.name_alg, TPM_ALG_SHA256);
        assert_eq!(ak.object_attributes, 0x0005_0072);
        assert_eq!(ak.name().unwrap(), s.ak_name);
        assert_eq!(s.ak_name.len(), 34);
        let a = Attest::parse(&s.attest).unwrap();
        assert_eq!(a.magic, TPM_GENERATED_VALUE);
        assert_eq!(a.attest_type, TPM_ST_ATTEST_QUOTE);
        assert_eq!(a.qualified_signer, s.ak_qualified_name);
        assert_eq!(a.extra_data, b"abc");
        assert_eq!((a.reset_count, a.restart_count), (42, 3));
        assert_eq!(a.clock, 123_456);
        assert_eq!(a.firmware_version, 0x0102_0304_0506_0708);
        assert!(a.safe);
        let Attested::Quote {
            selection,
            pcr_digest,
        } = a.attested
        else {
            panic!("not a quote")
        };
        assert_eq!(selection.len(), 2);
        assert_eq!(selection[0].hash_alg, TPM_ALG_SHA1);
        assert_eq!(selection[1].mask(), 0x00ff_ffff);
        let mut concat = Vec::new();
        for sel in &selection {
            for p in &sel.pcrs {
                concat.extend_from_slice(&s.pcrs[&sel.hash_alg][p]);
            }
        }
        assert_eq!(pcr_digest, hash(TPM_ALG_SHA256, &concat).unwrap());
        let sig = Signature::parse(&s.signature).unwrap();
        assert_eq!(sig.hash_alg(), TPM_ALG_SHA256);
        match (kind, &sig) {
            (
                AkKind::Rsa2048Rsassa,
                Signature::Rsa {
                    pss: false, sig, ..
                },
            )
            | (AkKind::Rsa2048Pss, Signature::Rsa { pss: true, sig, .. }) => {
                assert_eq!(sig.len(), 256)
            }
            (AkKind::EccP256, Signature::Ecdsa { r, s, .. }) => {
                assert_eq!((r.len(), s.len()), (32, 32))
            }
            other => panic!("unexpected signature {other:?}"),
        }
        let v = check(&s).unwrap();
        assert_eq!((v.reset_count, v.restart_count), (42, 3));
    }
}

#[test]
fn untouched_pcrs_hold_their_reset_values() {
    let s = TpmSample::builder().banks(&[TPM_ALG_SHA256]).build();
    let bank = &s.pcrs[&TPM_ALG_SHA256];
    assert_eq!(bank[&10], vec![0u8; 32]);
    assert_eq!(bank[&17], vec![0xffu8; 32]);
    assert_eq!(bank[&23], vec![0u8; 32]);
    // The log's replay is the quoted value of every PCR it touches.
    let replay = EventLog::parse(&s.event_log).unwrap().replay();
    for (pcr, value) in &replay[&TPM_ALG_SHA256] {
        assert_eq!(&bank[pcr], value, "PCR {pcr}");
    }
}

#[test]
fn another_nonce_is_rejected_and_a_fresh_quote_accepted() {
    let s = TpmSample::builder().build();
    let r = verify(
        &s.evidence(),
        b"another nonce",
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    );
    assert_eq!(code(r), "NonceMismatch");

    let (attest, sig) = s.quote_over(b"another nonce");
    let mut ev = s.evidence();
    ev.quotes = vec![QuoteParts {
        attest: &attest,
        signature: &sig,
    }];
    let roots = s.roots();
    let settings = TpmSettings::default();
    verify(&ev, b"another nonce", &roots, &settings, s.verify_at()).unwrap();
    assert_eq!(
        code(verify(&ev, &s.nonce, &roots, &settings, s.verify_at())),
        "NonceMismatch"
    );
}

#[test]
fn a_changed_attest_needs_a_new_signature() {
    for kind in [AkKind::Rsa2048Rsassa, AkKind::Rsa2048Pss, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        // The last byte of the nonce (extraData), which ends at 6 + 2 + 34 + 2 + 32.
        let mut attest = s.attest.clone();
        attest[6 + 2 + 34 + 2 + 31] ^= 0x01;
        let mut ev = s.evidence();
        ev.quotes = vec![QuoteParts {
            attest: &attest,
            signature: &s.signature,
        }];
        let (roots, settings) = (s.roots(), TpmSettings::default());
        assert_eq!(
            code(verify(&ev, &s.nonce, &roots, &settings, s.verify_at())),
            "QuoteSignatureInvalid",
            "{kind:?}"
        );
        // Re-signed, it gets past the signature to the nonce check.
        let sig = s.sign(&attest);
        ev.quotes = vec![QuoteParts {
            attest: &attest,
            signature: &sig,
        }];
        assert_eq!(
            code(verify(&ev, &s.nonce, &roots, &settings, s.verify_at())),
            "NonceMismatch",
            "{kind:?}"
        );
    }
}

#[test]
fn a_changed_pcr_value_breaks_the_digest() {
    let s = TpmSample::builder().build();
    let mut ev = s.evidence();
    ev.pcrs
        .get_mut(&TPM_ALG_SHA256)
        .unwrap()
        .get_mut(&4)
        .unwrap()[0] ^= 0x80;
    let r = check_ev(&s, &ev);
    assert_eq!(code(r), "PcrDigestMismatch");
}

#[test]
fn a_forged_log_digest_does_not_replay() {
    let s = TpmSample::builder()
        .event(LogEvent::new(9, EV_IPL, b"grub_cmd: linux /vmlinuz\0").with_digest_override(b"x"))
        .build();
    let r = check(&s);
    assert!(
        matches!(r, Err(TpmError::EventLogMismatch { pcr: 9, .. })),
        "{r:?}"
    );
    assert_eq!(code(r), "EventLogMismatch");
}

#[test]
fn ak_certificate_validity_is_enforced() {
    let at = attesta_testkit::tpm::DEFAULT_AT;
    let past = TpmSample::builder()
        .ak_cert_validity(UnixTime(at - 400 * 86_400), UnixTime(at - 86_400))
        .build();
    assert_eq!(code(check(&past)), "AkCertificateExpired");
    let future = TpmSample::builder()
        .ak_cert_validity(UnixTime(at + 86_400), UnixTime(at + 400 * 86_400))
        .build();
    assert_eq!(code(check(&future)), "AkCertificateExpired");
    // The default certificate is valid for five years after `at`, not ten.
    let s = TpmSample::builder().build();
    let r = verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        UnixTime(at + 10 * 365 * 86_400),
    );
    assert_eq!(code(r), "AkCertificateExpired");
    // Without the AK certificate requirement the quote still verifies, unvalidated.
    let settings = TpmSettings {
        require_valid_aik_cert: false,
        ..TpmSettings::default()
    };
    let v = verify(
        &past.evidence(),
        &past.nonce,
        &past.roots(),
        &settings,
        past.verify_at(),
    )
    .unwrap();
    assert_eq!(v.claims().get("aikValidated"), Some(&json!(false)));
}

#[test]
fn another_root_is_untrusted() {
    for intermediate in [true, false] {
        let s = TpmSample::builder()
            .wrong_root(true)
            .intermediate(intermediate)
            .build();
        assert_ne!(s.root, attesta_testkit::tpm::test_root_der());
        assert_eq!(code(check(&s)), "AkChainUntrusted");
        // Trusting the rogue root makes it verify: the failure was the root.
        let roots = TrustRoots::empty().with_configured(RootKind::Tpm, s.root.clone());
        verify(
            &s.evidence(),
            &s.nonce,
            &roots,
            &TpmSettings::default(),
            s.verify_at(),
        )
        .unwrap();
    }
    let s = TpmSample::builder().build();
    let r = verify(
        &s.evidence(),
        &s.nonce,
        &TrustRoots::empty(),
        &TpmSettings::default(),
        s.verify_at(),
    );
    assert_eq!(code(r), "AkChainUntrusted");
}

#[test]
fn another_aks_certificate_is_a_key_mismatch() {
    let rsa = TpmSample::builder().build();
    let ecc = TpmSample::builder().ak(AkKind::EccP256).build();
    let mut ev = ecc.evidence();
    ev.ak_cert = Some(&rsa.ak_cert);
    let r = verify(
        &ev,
        &ecc.nonce,
        &ecc.roots(),
        &TpmSettings::default(),
        ecc.verify_at(),
    );
    assert_eq!(code(r), "AkKeyMismatch");
}

#[test]
fn a_40_kib_log_verifies() {
    let s = TpmSample::builder().log_size_at_least(40 * 1024).build();
    assert!(s.event_log.len() >= 40 * 1024);
    assert!(s.event_log.len() < 41 * 1024);
    let v = check(&s).unwrap();
    assert!(v.verified_log_pcrs.contains(&4));
    assert!(v.verified_log_pcrs.contains(&8));
    assert!(v.verified_log_pcrs.contains(&9));
    assert!(v.event_log.unwrap().events.len() > 200);
}

#[test]
fn the_ak_as_a_jwk_verifies_the_quote() {
    for kind in [AkKind::Rsa2048Rsassa, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        let key = PublicKey::from_jwk(&s.ak_jwk()).unwrap();
        assert_eq!(key, Public::parse(&s.ak_public).unwrap().key);
        let mut ev = s.evidence();
        ev.ak_public = AkPublic::Key(key);
        check_ev(&s, &ev).unwrap();
    }
    let s = TpmSample::builder().build();
    assert_eq!(s.ak_jwk()["e"], "AQAB");
    assert_eq!(s.ak_jwk()["kty"], "RSA");
}

#[test]
fn certify_names_the_object_and_is_signed_by_the_ak() {
    let modulus = [0xC5u8; 256];
    let object = rsa_key_public(&modulus, 65_537, 0x0006_0072);
    let parsed = Public::parse(&object).unwrap();
    assert_eq!(parsed.key_type, TPM_ALG_RSA);
    assert_eq!(parsed.object_attributes, 0x0006_0072);
    assert_eq!(
        parsed.key,
        PublicKey::Rsa {
            modulus: modulus.to_vec(),
            exponent: 65_537
        }
    );
    for kind in [AkKind::Rsa2048Rsassa, AkKind::Rsa2048Pss, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        let (attest, sig) = s.certify(&object, b"qualifying data");
        let a = Attest::parse(&attest).unwrap();
        assert_eq!(a.magic, TPM_GENERATED_VALUE);
        assert_eq!(a.attest_type, TPM_ST_ATTEST_CERTIFY);
        assert_eq!(a.qualified_signer, s.ak_qualified_name);
        assert_eq!(a.extra_data, b"qualifying data");
        let Attested::Certify {
            name,
            qualified_name,
        } = &a.attested
        else {
            panic!("not a certify")
        };
        assert_eq!(Some(name.clone()), parsed.name());
        assert_eq!(qualified_name.len(), 34);
        assert_ne!(qualified_name, name);
        // The signature is the AK's over the attest bytes.
        let ak = Public::parse(&s.ak_public).unwrap();
        let key = ak.verification_key().unwrap();
        let ok = match Signature::parse(&sig).unwrap() {
            Signature::Rsa { pss, sig, .. } => {
                let scheme = if pss {
                    Scheme::RsaPssSha256
                } else {
                    Scheme::RsaPkcs1Sha256
                };
                crypto::verify(scheme, &key, &attest, &sig).is_ok()
            }
            Signature::Ecdsa { r, s, .. } => {
                let rs = [left_pad(&r, 32).unwrap(), left_pad(&s, 32).unwrap()].concat();
                crypto::verify(Scheme::EcdsaP256Sha256Fixed, &key, &attest, &rs).is_ok()
            }
        };
        assert!(ok, "{kind:?}");
        // A certify is not a quote.
        let mut ev = s.evidence();
        ev.quotes = vec![QuoteParts {
            attest: &attest,
            signature: &sig,
        }];
        let r = verify(
            &ev,
            b"qualifying data",
            &s.roots(),
            &TpmSettings::default(),
            s.verify_at(),
        );
        assert_eq!(code(r), "NotAQuote");
    }
}

#[test]
fn sipa_items_are_type_size_value() {
    let a = sipa_item(0x0002_0009, &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        a,
        [
            &[0x09, 0x00, 0x02, 0x00, 8, 0, 0, 0][..],
            &[1, 0, 0, 0, 0, 0, 0, 0]
        ]
        .concat()
    );
    let b = sipa_item(0x0005_0002, &[1]);
    let c = sipa_container(0x4001_0001, &[a.clone(), b.clone()]);
    assert_eq!(&c[..4], &0x4001_0001u32.to_le_bytes());
    assert_eq!(&c[4..8], &((a.len() + b.len()) as u32).to_le_bytes());
    assert_eq!(&c[8..], [a, b].concat().as_slice());
}

#[test]
fn uefi_variable_data_round_trips_through_the_log_decoder() {
    let data = uefi_variable_data(EFI_GLOBAL_VARIABLE, "SecureBoot", &[1]);
    // GUID bytes as UEFI stores them (first three fields little-endian).
    assert_eq!(&data[..4], &[0x61, 0xdf, 0xe4, 0x8b]);
    let e = attesta_evidence::tpm::eventlog::Event {
        pcr_index: 7,
        event_type: EV_EFI_VARIABLE_DRIVER_CONFIG,
        digests: Default::default(),
        data,
    };
    let v = attesta_evidence::tpm::eventlog::efi_variable(&e).unwrap();
    assert_eq!(v.guid, EFI_GLOBAL_VARIABLE);
    assert_eq!(v.name, "SecureBoot");
    assert_eq!(v.data, vec![1]);
}

#[test]
fn the_verifier_accepts_the_certification_and_rejects_forgeries() {
    let object = rsa_key_public(&[0xB7u8; 256], 65_537, 0x0006_0072);
    for kind in [AkKind::Rsa2048Rsassa, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        let v = check(&s).unwrap();
        let (cert, sig) = s.certify(&object, b"bind");
        let parts = CertifyParts {
            public: &object,
            certification: &cert,
            signature: &sig,
        };
        let k = v.certify(&parts, b"bind").unwrap();
        assert_eq!(k.object_attributes, 0x0006_0072);
        assert_eq!(Some(k.name), Public::parse(&object).unwrap().name());
        assert_eq!(
            v.certify(&parts, b"other").unwrap_err().code(),
            "CertificationNonceMismatch"
        );
        // A certification of another object, presented with this one.
        let other = rsa_key_public(&[0xB8u8; 256], 65_537, 0x0006_0072);
        let (cert2, sig2) = s.certify(&other, b"bind");
        let forged = CertifyParts {
            public: &object,
            certification: &cert2,
            signature: &sig2,
        };
        assert_eq!(
            v.certify(&forged, b"bind").unwrap_err().code(),
            "CertifiedNameMismatch"
        );
        // A changed byte under the old signature.
        let mut bent = cert.clone();
        *bent.last_mut().unwrap() ^= 1;
        let bad = CertifyParts {
            public: &object,
            certification: &bent,
            signature: &sig,
        };
        assert_eq!(
            v.certify(&bad, b"bind").unwrap_err().code(),
            "CertificationSignatureInvalid"
        );
        // A quote is not a certification.
        let quote = CertifyParts {
            public: &object,
            certification: &s.attest,
            signature: &s.signature,
        };
        assert_eq!(
            v.certify(&quote, &s.nonce).unwrap_err().code(),
            "NotACertification"
        );
        // certify_named states whatever name it is given.
        let name = Public::parse(&object).unwrap().name().unwrap();
        let (cert3, sig3) = s.certify_named(&name, &name, b"bind");
        let named = CertifyParts {
            public: &object,
            certification: &cert3,
            signature: &sig3,
        };
        assert!(v.certify(&named, b"bind").is_ok());
    }
}

/// A real GCE vTPM attestation (go-tpm-tools, see its PROVENANCE.md).
fn gce(file: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/tpm/go-tpm-tools-gce-cos85-nonce9009")
        .join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn layouts_are_byte_for_byte_those_of_a_real_vtpm() {
    let s = TpmSample::builder()
        .banks(&[TPM_ALG_SHA256])
        .nonce(&[0x90, 0x09])
        .build();
    // TPMT_PUBLIC: identical up to the modulus (type, nameAlg, attributes,
    // policy, symmetric, scheme, keyBits, exponent, modulus size).
    let real_ak = gce("ak_pub.tpmt_public.bin");
    assert_eq!(s.ak_public.len(), real_ak.len());
    assert_eq!(s.ak_public[..24], real_ak[..24]);
    // TPMS_ATTEST: magic, type, signer name size and alg, the nonce, and
    // after the clock and firmware version the selection and digest size.
    let real = gce("quote_sha256_attest.bin");
    assert_eq!(s.attest.len(), real.len());
    assert_eq!(s.attest[..10], real[..10]);
    assert_eq!(s.attest[42..46], real[42..46]);
    let tail = 46 + 17 + 8;
    assert_eq!(s.attest[tail..tail + 12], real[tail..tail + 12]);
    // TPMT_SIGNATURE: RSASSA, SHA-256, 256 bytes.
    let real_sig = gce("quote_sha256_sig.tpmt_signature.bin");
    assert_eq!(s.signature.len(), real_sig.len());
    assert_eq!(s.signature[..6], real_sig[..6]);
    // The event log's Spec ID Event03 header for the same three banks.
    let three = TpmSample::builder()
        .banks(&[TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384])
        .build();
    let real_log = gce("event_log.bin");
    assert_eq!(three.event_log[..32 + 41], real_log[..32 + 41]);
}

#[test]
fn the_pcr_selection_is_configurable() {
    let s = TpmSample::builder().pcrs(&[0, 1, 2, 3, 4, 5, 6, 7]).build();
    assert_eq!(s.pcrs[&TPM_ALG_SHA256].len(), 8);
    assert_eq!(code(check(&s)), "PcrSelectionInsufficient");
    let settings = TpmSettings {
        required_pcr_mask: 0xff,
        ..TpmSettings::default()
    };
    let v = verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &settings,
        s.verify_at(),
    )
    .unwrap();
    assert_eq!(v.claims().get("secureBootEnabled"), Some(&json!(true)));
    // Without PCR 7 in the quote, the log cannot prove the secure boot state.
    let no7 = TpmSample::builder()
        .pcrs(&[0, 1, 2, 3, 4, 5, 6, 30])
        .build();
    let Attested::Quote { selection, .. } = Attest::parse(&no7.attest).unwrap().attested else {
        panic!("not a quote")
    };
    assert_eq!(selection[0].mask(), 0x4000_007f);
    let settings = TpmSettings {
        required_pcr_mask: 0x7f,
        ..TpmSettings::default()
    };
    let v = verify(
        &no7.evidence(),
        &no7.nonce,
        &no7.roots(),
        &settings,
        no7.verify_at(),
    )
    .unwrap();
    assert!(!v.verified_log_pcrs.contains(&7));
    assert_eq!(v.claims().get("secureBootEnabled"), None);
}
