//! Two TPM quote checks on real and synthetic evidence: the quote's signed
//! `qualifiedSigner` must be the AK's qualified name (`AkNameMismatch`;
//! provable for a primary AK, or for any AK whose parents are sent), and
//! SHA-1-signed quotes are refused (`WeakSignatureHash`) unless the provider
//! opts in (`TpmOptions::allow_sha1`), which the claims then record.

use std::path::{Path, PathBuf};

use attesta_evidence::tpm::structures::{TPM_ALG_SHA256, hash};
use attesta_evidence::tpm::{
    AkPublic, QuoteParts, TpmEvidence, TpmOptions, TpmSettings, TpmVerified, verify,
    verify_with_options,
};
use attesta_evidence::{ErrorCode, UnixTime};
use attesta_testkit::tpm::{AK_ATTRIBUTES, TPM_RH_ENDORSEMENT, primary_qualified_name};
use attesta_testkit::{AkKind, TpmSample};
use serde_json::Value;

fn gce_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/tpm")
        .join(name)
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// 2026, inside the GCE AK certificate's validity (2021..2051).
const AT: UnixTime = UnixTime(1_790_000_000);

fn with_options(
    ev: &TpmEvidence<'_>,
    s: &TpmSample,
    options: TpmOptions,
) -> Result<TpmVerified, attesta_evidence::tpm::TpmError> {
    verify_with_options(
        ev,
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        &options,
        s.verify_at(),
        |_| None,
    )
}

/// `attest` with its `qualifiedSigner` (the TPM2B after magic and type)
/// replaced.
fn with_signer(attest: &[u8], signer: &[u8]) -> Vec<u8> {
    let len = u16::from_be_bytes([attest[6], attest[7]]) as usize;
    let mut out = attest[..6].to_vec();
    out.extend((signer.len() as u16).to_be_bytes());
    out.extend_from_slice(signer);
    out.extend_from_slice(&attest[8 + len..]);
    out
}

fn evidence<'a>(s: &'a TpmSample, attest: &'a [u8], sig: &'a [u8]) -> TpmEvidence<'a> {
    let mut ev = s.evidence();
    ev.quotes = vec![QuoteParts {
        attest,
        signature: sig,
    }];
    ev
}

#[test]
fn real_gce_aks_are_proven_primary_keys_of_the_endorsement_hierarchy() {
    for name in [
        "go-tpm-tools-gce-cos85-nonce9009",
        "go-tpm-tools-gce-cos85-no-nonce",
    ] {
        let dir = gce_dir(name);
        let ak = read(dir.join("ak_pub.tpmt_public.bin"));
        let mut quotes = Vec::new();
        let mut pcrs = attesta_evidence::tpm::Pcrs::new();
        for (bank, id) in [("sha1", 4u16), ("sha256", 0xb), ("sha384", 0xc)] {
            quotes.push((
                read(dir.join(format!("quote_{bank}_attest.bin"))),
                read(dir.join(format!("quote_{bank}_sig.tpmt_signature.bin"))),
            ));
            let v: Value =
                serde_json::from_slice(&read(dir.join(format!("quote_{bank}_pcrs.json")))).unwrap();
            for (i, h) in v.as_object().unwrap() {
                pcrs.entry(id).or_default().insert(
                    i.parse().unwrap(),
                    hex::decode(h.as_str().unwrap()).unwrap(),
                );
            }
        }
        let nonce: &[u8] = if name.ends_with("9009") {
            &[0x90, 0x09]
        } else {
            &[]
        };
        for ak_public in [
            AkPublic::Tpmt(&ak),
            AkPublic::TpmtUnder {
                ak: &ak,
                parents: vec![],
            },
        ] {
            let ev = TpmEvidence {
                quotes: quotes
                    .iter()
                    .map(|(a, s)| QuoteParts {
                        attest: a,
                        signature: s,
                    })
                    .collect(),
                ak_public,
                ak_cert: None,
                intermediates: vec![],
                pcrs: pcrs.clone(),
                event_log: None,
            };
            let settings = TpmSettings {
                require_valid_aik_cert: false,
                ..TpmSettings::default()
            };
            let roots = attesta_evidence::roots::TrustRoots::empty();
            // The real quotes are all signed with SHA-256 (the "sha1" quote
            // quotes the SHA-1 bank): allowing SHA-1 records nothing.
            let v = verify_with_options(
                &ev,
                nonce,
                &roots,
                &settings,
                &TpmOptions { allow_sha1: true },
                AT,
                |_| None,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v.ak_hierarchy, Some("endorsement"), "{name}");
            let claims = v.claims();
            assert_eq!(
                claims.get("x-attesta-tpm-ak-hierarchy"),
                Some(&Value::from("endorsement"))
            );
            assert_eq!(claims.get("x-attesta-tpm-sha1-accepted"), None, "{name}");
        }
    }
}

#[test]
fn testkit_quotes_carry_the_aks_qualified_name() {
    for kind in [AkKind::Rsa2048Rsassa, AkKind::Rsa2048Pss, AkKind::EccP256] {
        let s = TpmSample::builder().ak(kind).build();
        assert_eq!(
            s.ak_qualified_name,
            primary_qualified_name(TPM_ALG_SHA256, TPM_RH_ENDORSEMENT, &s.ak_name)
        );
        let v = verify(
            &s.evidence(),
            &s.nonce,
            &s.roots(),
            &TpmSettings::default(),
            s.verify_at(),
        )
        .unwrap();
        assert_eq!(v.ak_hierarchy, Some("endorsement"), "{kind:?}");
    }
}

#[test]
fn a_qualified_signer_that_is_not_the_aks_is_refused_when_the_parents_are_known() {
    let s = TpmSample::builder().build();
    // The AK's bare Name, and the name of a key differing from the AK only
    // in its attributes (userWithAuth cleared, still restricted signing):
    // the same key, another object.
    let mut other_public = s.ak_public.clone();
    other_public[4..8].copy_from_slice(&(AK_ATTRIBUTES & !0x40).to_be_bytes());
    let mut other_name = TPM_ALG_SHA256.to_be_bytes().to_vec();
    other_name.extend(hash(TPM_ALG_SHA256, &other_public).unwrap());
    let other_qn = primary_qualified_name(TPM_ALG_SHA256, TPM_RH_ENDORSEMENT, &other_name);
    for signer in [s.ak_name.clone(), other_qn.clone()] {
        let attest = with_signer(&s.attest, &signer);
        let sig = s.sign(&attest);
        let ev = evidence(&s, &attest, &sig);
        // Parents known (none: a primary): refused.
        let mut known = ev.clone();
        known.ak_public = AkPublic::TpmtUnder {
            ak: &s.ak_public,
            parents: vec![],
        };
        let e = with_options(&known, &s, TpmOptions::default()).unwrap_err();
        assert_eq!(e.code(), "AkNameMismatch", "{e}");
        assert!(e.to_string().contains(&hex::encode(&signer)), "{e}");
        // Parents unknown: the documented limitation, accepted without a
        // hierarchy claim.
        let v = with_options(&ev, &s, TpmOptions::default()).unwrap();
        assert_eq!(v.ak_hierarchy, None);
        assert!(v.claims().get("x-attesta-tpm-ak-hierarchy").is_none());
    }
}

#[test]
fn an_ak_under_a_parent_is_checked_through_the_parent_chain() {
    let s = TpmSample::builder().build();
    // An EK-like parent (a primary in the endorsement hierarchy) and the AK
    // made under it, as tpm2_createak -C ek.ctx does.
    let ek = attesta_testkit::tpm::rsa_key_public(&[0xC5; 256], 65_537, 0x0003_00B2);
    let mut ek_name = TPM_ALG_SHA256.to_be_bytes().to_vec();
    ek_name.extend(hash(TPM_ALG_SHA256, &ek).unwrap());
    let ek_qn = primary_qualified_name(TPM_ALG_SHA256, TPM_RH_ENDORSEMENT, &ek_name);
    let mut ak_qn = TPM_ALG_SHA256.to_be_bytes().to_vec();
    ak_qn.extend(hash(TPM_ALG_SHA256, &[ek_qn.as_slice(), &s.ak_name].concat()).unwrap());
    let attest = with_signer(&s.attest, &ak_qn);
    let sig = s.sign(&attest);
    let ev = evidence(&s, &attest, &sig);

    let mut under_ek = ev.clone();
    under_ek.ak_public = AkPublic::TpmtUnder {
        ak: &s.ak_public,
        parents: vec![&ek],
    };
    let v = with_options(&under_ek, &s, TpmOptions::default()).unwrap();
    assert_eq!(v.ak_hierarchy, Some("endorsement"));

    // Claimed to be a primary: its QN as one is not the quote's.
    let mut as_primary = ev.clone();
    as_primary.ak_public = AkPublic::TpmtUnder {
        ak: &s.ak_public,
        parents: vec![],
    };
    assert_eq!(
        with_options(&as_primary, &s, TpmOptions::default())
            .unwrap_err()
            .code(),
        "AkNameMismatch"
    );
    // Under another parent: refused.
    let other = attesta_testkit::tpm::rsa_key_public(&[0xC6; 256], 65_537, 0x0003_00B2);
    let mut wrong_parent = ev.clone();
    wrong_parent.ak_public = AkPublic::TpmtUnder {
        ak: &s.ak_public,
        parents: vec![&other],
    };
    assert_eq!(
        with_options(&wrong_parent, &s, TpmOptions::default())
            .unwrap_err()
            .code(),
        "AkNameMismatch"
    );
    // Parents unknown: accepted, no hierarchy proven.
    let v = with_options(&ev, &s, TpmOptions::default()).unwrap();
    assert_eq!(v.ak_hierarchy, None);
}

#[test]
fn sha1_quotes_are_refused_unless_the_provider_allows_them() {
    let s = TpmSample::builder().sha1_signature(true).build();
    let e = with_options(&s.evidence(), &s, TpmOptions::default()).unwrap_err();
    assert_eq!(e.code(), "WeakSignatureHash");
    assert!(e.to_string().contains("tpm_allow_sha1"), "{e}");

    let v = with_options(&s.evidence(), &s, TpmOptions { allow_sha1: true }).unwrap();
    assert!(v.sha1_accepted);
    let claims = v.claims();
    assert_eq!(
        claims.get("x-attesta-tpm-sha1-accepted"),
        Some(&Value::Bool(true))
    );
    assert_eq!(claims.get("aikValidated"), Some(&Value::Bool(true)));

    // Allowed, but the signature must still verify.
    let mut sig = s.signature.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let ev = evidence(&s, &s.attest, &sig);
    assert_eq!(
        with_options(&ev, &s, TpmOptions { allow_sha1: true })
            .unwrap_err()
            .code(),
        "QuoteSignatureInvalid"
    );

    // A SHA-256 quote with SHA-1 allowed records nothing.
    let s256 = TpmSample::builder().build();
    let v = with_options(&s256.evidence(), &s256, TpmOptions { allow_sha1: true }).unwrap();
    assert!(!v.sha1_accepted);
    assert!(v.claims().get("x-attesta-tpm-sha1-accepted").is_none());
}

#[test]
fn sha1_is_accepted_only_as_rsassa() {
    // An ECDSA and an RSA-PSS signature stating SHA-1: refused as weak by
    // default, as unsupported when SHA-1 is allowed (aws-lc-rs verifies
    // SHA-1 only for PKCS#1 v1.5, the scheme legacy TPM AKs use).
    for kind in [AkKind::EccP256, AkKind::Rsa2048Pss] {
        let s = TpmSample::builder().ak(kind).build();
        let mut sig = s.signature.clone();
        sig[2..4].copy_from_slice(&0x0004u16.to_be_bytes());
        let ev = evidence(&s, &s.attest, &sig);
        assert_eq!(
            with_options(&ev, &s, TpmOptions::default())
                .unwrap_err()
                .code(),
            "WeakSignatureHash"
        );
        assert_eq!(
            with_options(&ev, &s, TpmOptions { allow_sha1: true })
                .unwrap_err()
                .code(),
            "UnsupportedSignature",
            "{kind:?}"
        );
    }
}

/// A quote whose AK is not a restricted signing key is refused even when
/// everything else about it holds: the TPMT_PUBLIC sent is the one the
/// quote names (its qualified name is the `qualifiedSigner`), the key is
/// the AK certificate's, the signature verifies. Each of the three
/// attribute conditions alone: `restricted` clear, `sign` clear, `decrypt`
/// set.
#[test]
fn an_ak_that_is_not_a_restricted_signing_key_is_refused() {
    const RESTRICTED: u32 = 1 << 16;
    const DECRYPT: u32 = 1 << 17;
    const SIGN: u32 = 1 << 18;
    let s = TpmSample::builder().build();
    for attrs in [
        AK_ATTRIBUTES & !RESTRICTED,
        AK_ATTRIBUTES & !SIGN,
        AK_ATTRIBUTES | DECRYPT,
        AK_ATTRIBUTES,
    ] {
        let mut public = s.ak_public.clone();
        public[4..8].copy_from_slice(&attrs.to_be_bytes());
        let mut name = TPM_ALG_SHA256.to_be_bytes().to_vec();
        name.extend(hash(TPM_ALG_SHA256, &public).unwrap());
        let qn = primary_qualified_name(TPM_ALG_SHA256, TPM_RH_ENDORSEMENT, &name);
        let attest = with_signer(&s.attest, &qn);
        let sig = s.sign(&attest);
        let mut ev = evidence(&s, &attest, &sig);
        ev.ak_public = AkPublic::TpmtUnder {
            ak: &public,
            parents: vec![],
        };
        let got = with_options(&ev, &s, TpmOptions::default());
        if attrs == AK_ATTRIBUTES {
            // The control: the same construction with the AK's own
            // attributes verifies.
            assert_eq!(got.unwrap().ak_hierarchy, Some("endorsement"));
        } else {
            let e = got.unwrap_err();
            assert_eq!(e.code(), "AkNotRestrictedSigning", "{attrs:#x}: {e}");
            assert!(e.to_string().contains(&format!("{attrs:#010x}")), "{e}");
        }
    }
}

/// Every signature scheme a TPM AK uses verifies with its own hash:
/// RSASSA and RSA-PSS with SHA-256 and SHA-384, ECDSA P-256 with SHA-256
/// and P-384 with SHA-384; the AK's own certificate chains for each. A
/// P-384 AK signing with SHA-256 (a mismatch of curve and hash) is refused
/// as unsupported rather than verified with a weaker hash.
#[test]
fn each_supported_scheme_verifies_with_its_hash() {
    use attesta_evidence::tpm::structures::{Signature, TPM_ALG_SHA384};
    for (kind, sha384) in [
        (AkKind::Rsa2048Rsassa, false),
        (AkKind::Rsa2048Rsassa, true),
        (AkKind::Rsa2048Pss, false),
        (AkKind::Rsa2048Pss, true),
        (AkKind::EccP256, false),
        (AkKind::EccP384, true),
    ] {
        let s = TpmSample::builder()
            .ak(kind)
            .sha384_signature(sha384)
            .build();
        let sig = Signature::parse(&s.signature).unwrap();
        let want = if sha384 {
            TPM_ALG_SHA384
        } else {
            TPM_ALG_SHA256
        };
        assert_eq!(sig.hash_alg(), want, "{kind:?}");
        let v = verify(
            &s.evidence(),
            &s.nonce,
            &s.roots(),
            &TpmSettings::default(),
            s.verify_at(),
        )
        .unwrap_or_else(|e| panic!("{kind:?} sha384={sha384}: {e}"));
        assert!(v.aik_validated, "{kind:?}");
        assert_eq!(v.claims().get("x-attesta-tpm-sha1-accepted"), None);
    }
    // A P-384 key's signature relabelled as SHA-256: not a scheme the
    // verifier pairs with that curve.
    let s = TpmSample::builder().ak(AkKind::EccP384).build();
    let mut sig = s.signature.clone();
    sig[2..4].copy_from_slice(&TPM_ALG_SHA256.to_be_bytes());
    let ev = evidence(&s, &s.attest, &sig);
    let e = verify(
        &ev,
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "UnsupportedSignature", "{e}");
}
