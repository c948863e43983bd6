//! TPM on real data: every go-tpm-tools event log replays to the PCR values
//! its source states, and the GCE vTPM attestations verify (AK certificate
//! to the GCE CA, quotes over nonce 0x9009 or the empty nonce, all three
//! banks, event log) with each kind of tampering rejected by its own code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::structures::{TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384};
use attesta_evidence::tpm::{
    AkPublic, EventLog, LogFormat, Pcrs, QuoteParts, TpmError, TpmEvidence, TpmSettings, verify,
};
use attesta_evidence::{ErrorCode, UnixTime};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tpm")
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn bank_id(name: &str) -> u16 {
    match name {
        "sha1" => TPM_ALG_SHA1,
        "sha256" => TPM_ALG_SHA256,
        "sha384" => TPM_ALG_SHA384,
        other => panic!("bank {other}"),
    }
}

#[test]
fn every_event_log_replays_to_the_stated_pcrs() {
    let dir = vectors().join("go-tpm-tools-eventlogs");
    let expected: Value = serde_json::from_slice(&read(dir.join("expected_pcrs.json"))).unwrap();
    let mut checked = 0;
    for (file, exp) in expected.as_object().unwrap() {
        let log = EventLog::parse(&read(dir.join(file))).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            log.format == LogFormat::CryptoAgile,
            exp["replay"]["crypto_agile"] == true,
            "{file}"
        );
        let replay = log.replay();
        for source in ["source_stated_pcrs"] {
            for (bank, pcrs) in exp[source].as_object().unwrap() {
                for (idx, value) in pcrs.as_object().unwrap() {
                    let got = replay
                        .get(&bank_id(bank))
                        .and_then(|b| b.get(&idx.parse::<u32>().unwrap()))
                        .map(hex::encode);
                    assert_eq!(got.as_deref(), value.as_str(), "{file} {bank} PCR {idx}");
                    checked += 1;
                }
            }
        }
        for (bank, pcrs) in exp["replay"]["pcrs"].as_object().unwrap() {
            for (idx, value) in pcrs.as_object().unwrap() {
                let got = replay[&bank_id(bank)]
                    .get(&idx.parse::<u32>().unwrap())
                    .map(hex::encode);
                assert_eq!(
                    got.as_deref(),
                    value.as_str(),
                    "{file} {bank} PCR {idx} (replay)"
                );
            }
        }
        assert_eq!(
            log.events.len() + usize::from(log.format == LogFormat::CryptoAgile),
            exp["replay"]["event_count"].as_u64().unwrap() as usize,
            "{file} events"
        );
    }
    assert!(checked > 200, "only {checked} values checked");
}

struct Gce {
    dir: PathBuf,
    attest: BTreeMap<&'static str, Vec<u8>>,
    sig: BTreeMap<&'static str, Vec<u8>>,
    pcrs: Pcrs,
}

fn gce(name: &str) -> Gce {
    let dir = vectors().join(name);
    let mut attest = BTreeMap::new();
    let mut sig = BTreeMap::new();
    let mut pcrs: Pcrs = BTreeMap::new();
    for bank in ["sha1", "sha256", "sha384"] {
        attest.insert(bank, read(dir.join(format!("quote_{bank}_attest.bin"))));
        sig.insert(
            bank,
            read(dir.join(format!("quote_{bank}_sig.tpmt_signature.bin"))),
        );
        let v: Value =
            serde_json::from_slice(&read(dir.join(format!("quote_{bank}_pcrs.json")))).unwrap();
        let m = pcrs.entry(bank_id(bank)).or_default();
        for (i, hexv) in v.as_object().unwrap() {
            m.insert(
                i.parse().unwrap(),
                hex::decode(hexv.as_str().unwrap()).unwrap(),
            );
        }
    }
    Gce {
        dir,
        attest,
        sig,
        pcrs,
    }
}

fn gce_roots(g: &Gce) -> TrustRoots {
    TrustRoots::empty().with_embedded(RootKind::Tpm, read(g.dir.join("gce_ek_root_1.der")))
}

fn evidence<'a>(
    g: &'a Gce,
    log: Option<&'a [u8]>,
    ak_cert: Option<&'a [u8]>,
    ak_pub: &'a [u8],
) -> TpmEvidence<'a> {
    TpmEvidence {
        quotes: ["sha1", "sha256", "sha384"]
            .iter()
            .map(|b| QuoteParts {
                attest: &g.attest[b],
                signature: &g.sig[b],
            })
            .collect(),
        ak_public: AkPublic::Tpmt(ak_pub),
        ak_cert,
        intermediates: vec![read(g.dir.join("gce_ek_intermediate_2.der"))],
        pcrs: g.pcrs.clone(),
        event_log: log,
    }
}

/// 2026 is inside the AK certificate's validity (2021..2051).
const AT: UnixTime = UnixTime(1_790_000_000);

#[test]
fn gce_attestations_verify_with_their_nonces() {
    for (name, nonce) in [
        ("go-tpm-tools-gce-cos85-nonce9009", vec![0x90, 0x09]),
        ("go-tpm-tools-gce-cos85-no-nonce", vec![]),
    ] {
        let g = gce(name);
        let log = read(g.dir.join("event_log.bin"));
        let cert = read(g.dir.join("ak_cert.der"));
        let ak = read(g.dir.join("ak_pub.tpmt_public.bin"));
        let v = verify(
            &evidence(&g, Some(&log), Some(&cert), &ak),
            &nonce,
            &gce_roots(&g),
            &TpmSettings::default(),
            AT,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v.aik_validated);
        assert!(!v.test_root);
        assert_eq!(v.quoted.len(), 3);
        assert_eq!(v.quoted[&TPM_ALG_SHA256].len(), 24);
        for p in 0..=9 {
            assert!(v.verified_log_pcrs.contains(&p), "{name} PCR {p} replayed");
        }
        let claims = v.claims();
        assert_eq!(claims.get("aikValidated"), Some(&Value::Bool(true)));
        assert_eq!(claims.get("tpmVersion"), Some(&Value::from(2)));
        // COS on GCE (Shielded VM) boots with UEFI secure boot on: the
        // SecureBoot variable event in PCR 7 holds 1, and PCR 7 replayed.
        assert_eq!(v.secure_boot(), Some(true), "{name}");
        assert_eq!(claims.get("secureBootEnabled"), Some(&Value::Bool(true)));
        let pcrs = &claims.get("pcrs").unwrap()["PCRs"];
        let pcr0 = pcrs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["Index"] == 0)
            .unwrap();
        assert_eq!(
            pcr0["Digests"]["SHA256"],
            hex::encode(&g.pcrs[&TPM_ALG_SHA256][&0])
        );
    }
}

#[test]
fn gce_tampering_is_rejected_with_specific_codes() {
    let g = gce("go-tpm-tools-gce-cos85-nonce9009");
    let log = read(g.dir.join("event_log.bin"));
    let cert = read(g.dir.join("ak_cert.der"));
    let ak = read(g.dir.join("ak_pub.tpmt_public.bin"));
    let roots = gce_roots(&g);
    let s = TpmSettings::default();
    let code = |ev: &TpmEvidence<'_>, nonce: &[u8], roots: &TrustRoots, s: &TpmSettings| {
        verify(ev, nonce, roots, s, AT).unwrap_err().code()
    };
    // Wrong nonce.
    assert_eq!(
        code(
            &evidence(&g, Some(&log), Some(&cert), &ak),
            &[0x90, 0x0a],
            &roots,
            &s
        ),
        "NonceMismatch"
    );
    // A mutated quote: every byte of the sha256 attest.
    let mut g2 = gce("go-tpm-tools-gce-cos85-nonce9009");
    let original = g2.attest["sha256"].clone();
    for i in 0..original.len() {
        let mut m = original.clone();
        m[i] ^= 0x01;
        g2.attest.insert("sha256", m);
        let ev = evidence(&g2, None, Some(&cert), &ak);
        let c = verify(&ev, &[0x90, 0x09], &roots, &s, AT)
            .unwrap_err()
            .code();
        assert!(
            c == "QuoteSignatureInvalid" || c.starts_with("Evidence"),
            "byte {i}: {c}"
        );
    }
    // A PCR value that does not match the quote.
    let mut g3 = gce("go-tpm-tools-gce-cos85-nonce9009");
    g3.pcrs
        .get_mut(&TPM_ALG_SHA256)
        .unwrap()
        .get_mut(&7)
        .unwrap()[0] ^= 1;
    assert_eq!(
        code(
            &evidence(&g3, None, Some(&cert), &ak),
            &[0x90, 0x09],
            &roots,
            &s
        ),
        "PcrDigestMismatch"
    );
    // An event log from another machine.
    let other = read(vectors().join("go-tpm-tools-eventlogs/cos-93-amd-sev.bin"));
    assert_eq!(
        code(
            &evidence(&g, Some(&other), Some(&cert), &ak),
            &[0x90, 0x09],
            &roots,
            &s
        ),
        "EventLogMismatch"
    );
    // The AK certificate against a root set without the GCE CA.
    let empty = TrustRoots::empty();
    assert_eq!(
        code(
            &evidence(&g, None, Some(&cert), &ak),
            &[0x90, 0x09],
            &empty,
            &s
        ),
        "AkChainUntrusted"
    );
    // No certificate while the policy requires one; accepted when it does not.
    assert_eq!(
        code(&evidence(&g, None, None, &ak), &[0x90, 0x09], &roots, &s),
        "AkCertificateRequired"
    );
    let lax = TpmSettings {
        require_valid_aik_cert: false,
        ..s
    };
    let v = verify(
        &evidence(&g, None, None, &ak),
        &[0x90, 0x09],
        &roots,
        &lax,
        AT,
    )
    .unwrap();
    assert!(!v.aik_validated);
    // A required PCR mask beyond what was quoted (PCR 24+ do not exist here).
    let wide = TpmSettings {
        required_pcr_mask: 1 << 30,
        ..s
    };
    assert_eq!(
        code(
            &evidence(&g, None, Some(&cert), &ak),
            &[0x90, 0x09],
            &roots,
            &wide
        ),
        "PcrSelectionInsufficient"
    );
    // The AK's TPMT_PUBLIC with `restricted` cleared (the same key, so the
    // certificate and signatures still match): not a restricted signing key.
    let mut unrestricted = ak.clone();
    unrestricted[4..8].copy_from_slice(&0x0004_0072u32.to_be_bytes());
    assert_eq!(
        code(
            &evidence(&g, None, Some(&cert), &unrestricted),
            &[0x90, 0x09],
            &roots,
            &s
        ),
        "AkNotRestrictedSigning"
    );
    // A decrypting key is no AK either.
    let mut decrypting = ak.clone();
    decrypting[4..8].copy_from_slice(&0x0007_0072u32.to_be_bytes());
    assert_eq!(
        code(
            &evidence(&g, None, Some(&cert), &decrypting),
            &[0x90, 0x09],
            &roots,
            &s
        ),
        "AkNotRestrictedSigning"
    );
    // After the AK certificate expired.
    assert_eq!(
        verify(
            &evidence(&g, None, Some(&cert), &ak),
            &[0x90, 0x09],
            &roots,
            &s,
            UnixTime(2_700_000_000)
        )
        .unwrap_err()
        .code(),
        "AkCertificateExpired"
    );
}

#[test]
fn parsers_never_panic_on_mutations() {
    let g = gce("go-tpm-tools-gce-cos85-nonce9009");
    let log = read(g.dir.join("event_log.bin"));
    for cut in (0..log.len()).step_by(97) {
        let _ = EventLog::parse(&log[..cut]);
    }
    for i in (0..log.len()).step_by(13) {
        let mut m = log.clone();
        m[i] = m[i].wrapping_add(0x41);
        let _ = EventLog::parse(&m);
    }
}

#[test]
fn secure_boot_state_is_read_from_pcr7_variable_events() {
    use attesta_evidence::tpm::eventlog::secure_boot;
    let dir = vectors().join("go-tpm-tools-eventlogs");
    for (file, want) in [
        ("ubuntu-2104-no-secure-boot.bin", false),
        ("rhel8-uefi.bin", true),
        ("cos-85-amd-sev.bin", true),
    ] {
        let log = EventLog::parse(&read(dir.join(file))).unwrap();
        assert_eq!(secure_boot(&log), Some(want), "{file}");
    }
}

/// The event-type fields and the event-data ranges of every event in a
/// crypto-agile log (the Spec ID header event first).
#[allow(clippy::type_complexity)]
fn event_fields(log: &[u8]) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
    let u32_at = |o: usize| u32::from_le_bytes(log[o..o + 4].try_into().unwrap()) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(log[o..o + 2].try_into().unwrap());
    // The header event (legacy format): type at 4, data after 32.
    let (mut types, mut data) = (Vec::new(), Vec::new());
    types.push(4..8);
    data.push(32..32 + u32_at(28));
    let mut o = 32 + u32_at(28);
    while o < log.len() {
        types.push(o + 4..o + 8);
        let count = u32_at(o + 8);
        o += 12;
        for _ in 0..count {
            let alg = u16_at(o);
            o += 2 + attesta_evidence::tpm::structures::digest_size(alg).unwrap();
        }
        let n = u32_at(o);
        data.push(o + 4..o + 4 + n);
        o += 4 + n;
    }
    (types, data)
}

/// The GCE capture verified once with its own log, to re-verify with a
/// changed log (the AK chain remembered, as the server does).
struct GceLog {
    g: Gce,
    log: Vec<u8>,
    cert: Vec<u8>,
    ak: Vec<u8>,
    roots: TrustRoots,
    chain: Option<attesta_evidence::tpm::VerifiedAkChain>,
    /// The claims of the unchanged log.
    want: serde_json::Map<String, Value>,
}

impl GceLog {
    fn new() -> Self {
        let g = gce("go-tpm-tools-gce-cos85-nonce9009");
        let log = read(g.dir.join("event_log.bin"));
        let cert = read(g.dir.join("ak_cert.der"));
        let ak = read(g.dir.join("ak_pub.tpmt_public.bin"));
        let roots = gce_roots(&g);
        let base = verify(
            &evidence(&g, Some(&log), Some(&cert), &ak),
            &[0x90, 0x09],
            &roots,
            &TpmSettings::default(),
            AT,
        )
        .unwrap();
        let (chain, want) = (base.ak_chain.clone(), base.claims().into_map());
        Self {
            g,
            log,
            cert,
            ak,
            roots,
            chain,
            want,
        }
    }

    /// The claims with `log` instead, or the error.
    fn claims_with(&self, log: &[u8]) -> Result<serde_json::Map<String, Value>, TpmError> {
        attesta_evidence::tpm::verify_with_chain(
            &evidence(&self.g, Some(log), Some(&self.cert), &self.ak),
            &[0x90, 0x09],
            &self.roots,
            &TpmSettings::default(),
            AT,
            |_| self.chain.clone(),
        )
        .map(|v| v.claims().into_map())
    }
}

/// No byte of the event log changes a claim without failing verification:
/// every header and digest byte of the GCE log is flipped (two ways) and
/// every third data byte, and the evidence verified again. It is rejected, or every claim is unchanged, or — the
/// one allowed change — an event whose data no longer hashes to its proven
/// digest loses its ProcessedData (an EV_EFI_VARIABLE_AUTHORITY event here,
/// a type some firmware measures other than by its data). Event-type bytes
/// are flipped too (the quote does not measure them: the type rules of
/// `tpm::eventtypes` refuse every one of these flips); their every other
/// value is the next test's.
#[test]
fn flipping_event_log_bytes_fails_or_leaves_every_claim_unchanged() {
    let base = GceLog::new();
    let (log, want) = (&base.log, &base.want);
    assert!(
        want["events"]["Events"]
            .as_array()
            .is_some_and(|e| e.len() > 20),
        "the proven events are rendered: {}",
        want["events"]
    );
    let (_, data) = event_fields(log);
    let in_data = |i: usize| data.iter().any(|r| r.contains(&i));
    let (mut rejected, mut same, mut dropped) = (0, 0, 0);
    for i in 0..log.len() {
        // Every header byte, two ways (low and high bit); every third data
        // byte one way (a dense sample that keeps the test short in debug).
        if in_data(i) && i % 3 != 0 {
            continue;
        }
        let flips: &[u8] = if in_data(i) { &[0x01] } else { &[0x01, 0x80] };
        for &flip in flips {
            let mut m = log.clone();
            m[i] ^= flip;
            match base.claims_with(&m) {
                Err(_) => rejected += 1,
                Ok(claims) => {
                    if claims == *want {
                        same += 1;
                        continue;
                    }
                    // The one change allowed: data that no longer hashes to
                    // its proven digest loses its ProcessedData.
                    let mut stripped = want.clone();
                    let got_events = claims["events"]["Events"].as_array().unwrap();
                    for (w, g) in stripped["events"]["Events"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .zip(got_events)
                    {
                        if g.get("ProcessedData").is_none() {
                            w.as_object_mut().unwrap().remove("ProcessedData");
                        }
                    }
                    assert!(
                        claims == stripped,
                        "byte {i} ^ {flip:#x} changed a claim beyond dropping unproven data: {}",
                        claims["events"]
                    );
                    dropped += 1;
                }
            }
        }
    }
    assert!(
        rejected > 1000 && same > 1000,
        "{rejected} rejected, {same} unchanged, {dropped} lost unproven data"
    );
}

/// Every event of every real log fits its type (the rules of
/// `tpm::eventtypes`): the rules refuse no real firmware's log.
#[test]
fn every_event_of_every_real_log_fits_its_type() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors().join("go-tpm-tools-eventlogs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    for gce in [
        "go-tpm-tools-gce-cos85-nonce9009",
        "go-tpm-tools-gce-cos85-no-nonce",
    ] {
        files.push(vectors().join(gce).join("event_log.bin"));
    }
    let mut events = 0;
    for f in &files {
        let log = EventLog::parse(&read(f)).unwrap();
        for (seq, e) in log.events.iter().enumerate() {
            if let Err(why) = attesta_evidence::tpm::eventtypes::check_event(e) {
                panic!(
                    "{} event {seq} (type {:#x}): {why}",
                    f.display(),
                    e.event_type
                );
            }
            events += 1;
        }
    }
    assert!(
        files.len() == 16 && events > 1000,
        "{} logs, {events} events",
        files.len()
    );
}

/// Event types are not measured, so the type field is where a log can lie
/// without breaking the replay. Every byte of every event's type in the GCE
/// log is set to each of its 255 other values: the evidence is rejected or
/// every claim is unchanged, except for relabels the quote cannot tell
/// apart (same PCR, same data form: the types `tpm::eventtypes` names),
/// which are counted and must stay that narrow.
#[test]
fn relabelling_an_event_fails_or_changes_no_claim() {
    let base = GceLog::new();
    let (log, want) = (&base.log, &base.want);
    let (types, _) = event_fields(log);
    let (mut rejected, mut same) = (0, 0);
    let mut unprovable = BTreeMap::<(u32, u32), usize>::new();
    // The header event (index 0) is the Spec ID event: never extended.
    for range in types.iter().skip(1) {
        let original = u32::from_le_bytes(log[range.clone()].try_into().unwrap());
        for i in range.clone() {
            // The low byte takes all 255 other values. In the three high
            // bytes only 0x00 and 0x80 (and 0x80's neighbours) make defined
            // types; the rest are undefined (refused, unit-tested in
            // tpm::eventtypes), so every 17th value samples them.
            let low = i == range.start;
            for v in 0..=255u8 {
                if v == log[i] || !(low || v % 17 == 0 || v == 0 || v == 0x80) {
                    continue;
                }
                let mut m = log.clone();
                m[i] = v;
                let relabelled = u32::from_le_bytes(m[range.clone()].try_into().unwrap());
                match base.claims_with(&m) {
                    Err(_) => rejected += 1,
                    Ok(claims) if claims == *want => same += 1,
                    Ok(_) => *unprovable.entry((original, relabelled)).or_default() += 1,
                }
            }
        }
    }
    // What the quote cannot tell apart in this log (the module docs of
    // tpm::eventtypes list it): PCR 0's S-CRTM version (0x8) and non-host
    // info (0x11) taken for EV_NONHOST_CODE or EV_NONHOST_INFO, types whose
    // data the profile leaves free in PCR 0.
    let allowed = |(from, to): (u32, u32)| [0x8, 0x11].contains(&from) && [0xf, 0x11].contains(&to);
    let surprising: Vec<_> = unprovable.keys().filter(|k| !allowed(**k)).collect();
    assert!(
        surprising.is_empty(),
        "relabels that verify with changed claims: {surprising:x?}"
    );
    assert!(
        rejected > 10_000,
        "{rejected} rejected, {same} unchanged, {unprovable:x?}"
    );
}
