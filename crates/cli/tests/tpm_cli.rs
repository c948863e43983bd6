//! `attesta inspect tpm-eventlog` replays every shared event log to the PCR
//! values its source states; `attesta verify tpm` accepts the GCE
//! attestation (its AK proven a primary of the endorsement hierarchy) and
//! rejects a wrong nonce, with the verify output contract; SHA-1 quotes are
//! accepted only with `--allow-sha1`, which the claims record; TPM CA CRLs
//! given with `--crl` revoke the AK certificate or an intermediate
//! (`AkCertificateRevoked`) and fail closed when they do not verify
//! (`AkCrlInvalid`) or are not current (`AkCrlExpired`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn tpm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tpm")
}

fn run(cmd: &mut Command) -> (i32, Value) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn inspect_eventlog_replays_to_the_stated_pcrs() {
    let dir = tpm().join("go-tpm-tools-eventlogs");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected_pcrs.json")).unwrap()).unwrap();
    for (file, exp) in expected.as_object().unwrap() {
        let (code, v) = run(bin().args(["inspect", "tpm-eventlog"]).arg(dir.join(file)));
        assert_eq!(code, 0, "{file}");
        for (bank, pcrs) in exp["source_stated_pcrs"].as_object().unwrap() {
            for (idx, value) in pcrs.as_object().unwrap() {
                assert_eq!(&v["pcrs"][bank][idx], value, "{file} {bank} PCR {idx}");
            }
        }
        assert!(v["events"].as_array().is_some_and(|e| !e.is_empty()));
    }
    let (code, _) = run(bin()
        .args(["inspect", "tpm-eventlog"])
        .arg(dir.join("expected_pcrs.json")));
    assert_eq!(code, 1);
}

#[test]
fn verify_tpm_on_the_gce_attestation() {
    let dir = tpm().join("go-tpm-tools-gce-cos85-nonce9009");
    let mut base = bin();
    base.args(["verify", "tpm"]);
    for bank in ["sha1", "sha256", "sha384"] {
        base.arg("--attest")
            .arg(dir.join(format!("quote_{bank}_attest.bin")));
        base.arg("--signature")
            .arg(dir.join(format!("quote_{bank}_sig.tpmt_signature.bin")));
        base.arg("--pcrs")
            .arg(dir.join(format!("quote_{bank}_pcrs.json")));
    }
    base.arg("--ak-pub").arg(dir.join("ak_pub.tpmt_public.bin"));
    base.arg("--ak-cert").arg(dir.join("ak_cert.der"));
    base.arg("--ca").arg(dir.join("gce_ek_root_1.der"));
    base.arg("--ca").arg(dir.join("gce_ek_intermediate_2.der"));
    base.arg("--event-log").arg(dir.join("event_log.bin"));
    let args: Vec<_> = base.get_args().map(|a| a.to_owned()).collect();
    let with = |extra: &[&str]| {
        let mut c = bin();
        c.args(&args).args(extra);
        run(&mut c)
    };
    let (code, v) = with(&["--nonce", "9009"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["claims"]["aikValidated"], true);
    assert_eq!(v["claims"]["secureBootEnabled"], true);
    assert_eq!(v["claims"]["x-attesta-test-root"], true);
    assert_eq!(v["claims"]["x-attesta-tpm-ak-hierarchy"], "endorsement");
    assert!(v["claims"].get("x-attesta-tpm-sha1-accepted").is_none());
    // Sent as having a parent (here: itself), the AK is not what the quote
    // names.
    let parent = dir.join("ak_pub.tpmt_public.bin");
    let parent = parent.to_str().unwrap();
    let (code, v) = with(&["--nonce", "9009", "--ak-parent", parent]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AkNameMismatch");
    let (code, v) = with(&["--nonce", "9010"]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "NonceMismatch");
    let (code, _) = with(&["--nonce", "zz"]);
    assert_eq!(code, 2);
}

#[test]
fn verify_tpm_accepts_sha1_quotes_only_with_allow_sha1() {
    let s = attesta_testkit::TpmSample::builder()
        .sha1_signature(true)
        .build();
    let tmp = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut pcrs = serde_json::Map::new();
    for (bank, values) in &s.pcrs {
        let m: serde_json::Map<String, Value> = values
            .iter()
            .map(|(i, v)| (i.to_string(), Value::from(hex::encode(v))))
            .collect();
        pcrs.insert(
            attesta_evidence::tpm::structures::hash_name(*bank).to_ascii_lowercase(),
            Value::Object(m),
        );
    }
    let mut base = bin();
    base.args(["verify", "tpm", "--at", "2026-01-01T00:00:00Z"])
        .arg("--attest")
        .arg(w("attest.bin", &s.attest))
        .arg("--signature")
        .arg(w("sig.bin", &s.signature))
        .arg("--ak-pub")
        .arg(w("ak.tpmt", &s.ak_public))
        .arg("--ak-cert")
        .arg(w("ak.der", &s.ak_cert))
        .arg("--ca")
        .arg(w("root.der", &s.root))
        .arg("--ca")
        .arg(w("intermediate.der", &s.intermediates[0]))
        .arg("--pcrs")
        .arg(w("pcrs.json", Value::Object(pcrs).to_string().as_bytes()))
        .arg("--event-log")
        .arg(w("log.bin", &s.event_log))
        .arg("--nonce")
        .arg(hex::encode(&s.nonce));
    let args: Vec<_> = base.get_args().map(|a| a.to_owned()).collect();
    let with = |extra: &[&str]| {
        let mut c = bin();
        c.args(&args).args(extra);
        run(&mut c)
    };
    let (code, v) = with(&[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "WeakSignatureHash");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-sha1")
    );
    let (code, v) = with(&["--allow-sha1"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["claims"]["x-attesta-tpm-sha1-accepted"], true);
    assert_eq!(v["claims"]["aikValidated"], true);
    assert_eq!(v["claims"]["x-attesta-tpm-ak-hierarchy"], "endorsement");
}

/// `attesta verify tpm --crl FILE` (repeatable, DER or PEM), the engine's
/// provider `tpm_crls`: the testkit's chain root → intermediate → AK.
#[test]
fn verify_tpm_checks_the_crls_given() {
    use attesta_evidence::UnixTime;
    use attesta_testkit::{TpmCa, tpm_crl};
    let s = attesta_testkit::TpmSample::builder().build();
    let tmp = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut pcrs = serde_json::Map::new();
    for (bank, values) in &s.pcrs {
        let m: serde_json::Map<String, Value> = values
            .iter()
            .map(|(i, v)| (i.to_string(), Value::from(hex::encode(v))))
            .collect();
        pcrs.insert(
            attesta_evidence::tpm::structures::hash_name(*bank).to_ascii_lowercase(),
            Value::Object(m),
        );
    }
    let t = s.verify_at().0;
    let at = attesta_evidence::types::rfc3339(t as i64);
    let mut base = bin();
    base.args(["verify", "tpm", "--at", &at])
        .arg("--attest")
        .arg(w("attest.bin", &s.attest))
        .arg("--signature")
        .arg(w("sig.bin", &s.signature))
        .arg("--ak-pub")
        .arg(w("ak.tpmt", &s.ak_public))
        .arg("--ak-cert")
        .arg(w("ak.der", &s.ak_cert))
        .arg("--ca")
        .arg(w("root.der", &s.root))
        .arg("--ca")
        .arg(w("intermediate.der", &s.intermediates[0]))
        .arg("--pcrs")
        .arg(w("pcrs.json", Value::Object(pcrs).to_string().as_bytes()))
        .arg("--event-log")
        .arg(w("log.bin", &s.event_log))
        .arg("--nonce")
        .arg(hex::encode(&s.nonce));
    let args: Vec<_> = base.get_args().map(|a| a.to_owned()).collect();
    let with_crls = |crls: &[std::path::PathBuf]| {
        let mut c = bin();
        c.args(&args);
        for p in crls {
            c.arg("--crl").arg(p);
        }
        run(&mut c)
    };
    let serial = |der: &[u8]| {
        attesta_evidence::pki::parse_cert(der)
            .unwrap()
            .raw_serial()
            .to_vec()
    };
    let week = (UnixTime(t - 86_400), UnixTime(t + 7 * 86_400));
    let crl = |ca, revoked: &[&[u8]]| tpm_crl(ca, revoked, week.0, week.1);
    let ak = serial(&s.ak_cert);
    let inter = serial(&s.intermediates[0]);

    // CRLs of both CAs that list neither certificate: accepted.
    let clean_root = w("root.crl", &crl(TpmCa::Root, &[]));
    let clean_inter = w("inter.crl", &crl(TpmCa::Intermediate, &[]));
    let (code, v) = with_crls(&[clean_root.clone(), clean_inter.clone()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["claims"]["aikValidated"], true);

    // The AK revoked by the intermediate (DER file).
    let revokes_ak = w("ak-revoked.crl", &crl(TpmCa::Intermediate, &[&ak]));
    let (code, v) = with_crls(&[clean_root.clone(), revokes_ak]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["error"]["code"], "AkCertificateRevoked");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("certificate 'CN=Attesta Test TPM AK"),
        "{v}"
    );
    // The intermediate revoked by the root (PEM file).
    let pem = attesta_evidence::pki::pem_block("X509 CRL", &crl(TpmCa::Root, &[&inter]));
    let revokes_inter = w("inter-revoked.pem", pem.as_bytes());
    let (code, v) = with_crls(&[revokes_inter]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AkCertificateRevoked");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("intermediate CA certificate 'CN=Attesta Test TPM Intermediate CA"),
        "{v}"
    );
    // A CRL under the root's name that its key did not sign, and a stale one.
    let rogue = w("rogue.crl", &crl(TpmCa::RogueRoot, &[]));
    let (code, v) = with_crls(&[rogue]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AkCrlInvalid");
    let stale = w(
        "stale.crl",
        &tpm_crl(
            TpmCa::Intermediate,
            &[],
            UnixTime(t - 9 * 86_400),
            UnixTime(t - 86_400),
        ),
    );
    let (code, v) = with_crls(&[clean_root, stale]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "AkCrlExpired");
    // A file that is no CRL is a usage error.
    let (code, _) = with_crls(&[w("junk.crl", b"junk")]);
    assert_eq!(code, 2);
}
