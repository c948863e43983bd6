//! `attesta release statement` / `attesta release verify` and pinning a
//! statement with `attesta token verify --require-tee --tee-statement`:
//! a round trip, a tampered statement refused (`ReleaseStatementInvalid`),
//! and a node with test evidence accepted with a statement of its
//! measurement and refused with a statement of another.

mod common;
use common::{bin, node_token, run, serve_with as serve};

use serde_json::Value;

/// A release-signing key and certificate in `dir`.
fn signer(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    let (code, _, err) = run(bin()
        .args([
            "policy-cert",
            "new",
            "--common-name",
            "Attesta release signer",
            "--key",
        ])
        .arg(&key)
        .arg("--cert")
        .arg(&cert));
    assert_eq!(code, 0, "{err}");
    (key, cert)
}

fn statement(
    dir: &std::path::Path,
    (key, cert): &(std::path::PathBuf, std::path::PathBuf),
    name: &str,
    measurement: &str,
) -> std::path::PathBuf {
    let out = dir.join(name);
    let (code, stdout, err) = run(bin()
        .args([
            "release",
            "statement",
            "--json",
            "--release",
            "0.4.0",
            "--kind",
            "sgx-quote",
            "--measurement",
            &format!("x-ms-sgx-mrenclave={measurement}"),
            "--key",
        ])
        .arg(key)
        .arg("--cert")
        .arg(cert)
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{stdout} {err}");
    out
}

fn verify(file: &std::path::Path, cert: &std::path::Path) -> (i32, Value) {
    let (code, out, err) = run(bin()
        .args(["release", "verify", "--json"])
        .arg(file)
        .arg("--cert")
        .arg(cert));
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out} {err}")),
    )
}

/// Another payload, the original signature.
fn tamper(file: &std::path::Path, from: &str, to: &str) -> std::path::PathBuf {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = std::fs::read_to_string(file).unwrap();
    let parts: Vec<&str> = text.trim().split('.').collect();
    let payload = String::from_utf8(b64.decode(parts[1]).unwrap()).unwrap();
    assert!(payload.contains(from));
    let forged = format!(
        "{}.{}.{}\n",
        parts[0],
        b64.encode(payload.replace(from, to)),
        parts[2]
    );
    let out = file.with_extension("tampered");
    std::fs::write(&out, forged).unwrap();
    out
}

#[test]
fn statement_round_trip_and_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = signer(tmp.path(), "release");
    let m = "5a".repeat(32);
    let file = statement(tmp.path(), &keys, "0.4.0.jws", &m);
    let (code, v) = verify(&file, &keys.1);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["statement"]["release"], "0.4.0");
    assert_eq!(v["statement"]["kind"], "sgx-quote");
    assert_eq!(v["statement"]["version"], 1);
    assert_eq!(v["statement"]["measurements"]["x-ms-sgx-mrenclave"], m);

    let forged = tamper(&file, &m, &"5b".repeat(32));
    let (code, v) = verify(&forged, &keys.1);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "ReleaseStatementInvalid");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature does not verify"),
        "{v}"
    );
    // Another signer's certificate does not vouch for it.
    let other = signer(tmp.path(), "other");
    let (code, v) = verify(&file, &other.1);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "ReleaseStatementInvalid");

    // What cannot be a statement is a usage error.
    for (kind, pin) in [
        ("sgx", format!("x-ms-sgx-mrenclave={m}")),
        ("sgx-quote", "x-ms-sgx-mrenclave".to_string()),
        ("sgx-quote", "x-ms-sgx-svn=01".to_string()),
    ] {
        let (code, _, err) = run(bin()
            .args(["release", "statement", "--release", "1", "--kind", kind])
            .args(["--measurement", &pin, "--key"])
            .arg(&keys.0)
            .arg("--cert")
            .arg(&keys.1)
            .arg("--out")
            .arg(tmp.path().join("x.jws")));
        assert_eq!(code, 2, "{kind} {pin}: {err}");
    }
}

#[test]
fn node_passes_with_a_statement_of_its_measurement_and_fails_with_another() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &[("ATTESTA_TEE_EVIDENCE", "test")],
    );
    let (token, issuer) = node_token(&s, tmp.path());
    let keys = signer(tmp.path(), "release");
    let mrenclave = hex::encode(attesta_evidence::crypto::sha256(b"attesta test TEE"));
    let own = statement(tmp.path(), &keys, "own.jws", &mrenclave);
    let other = statement(tmp.path(), &keys, "other.jws", &"ab".repeat(32));
    let check = |file: &std::path::Path| {
        let (code, out, err) = run(bin()
            .args(["token", "verify", &format!("@{}", token.display())])
            .args(["--issuer", &issuer, "--ca"])
            .arg(s.data.join("tls/cert.pem"))
            .args(["--json", "--tee-trust-root"])
            .arg(s.data.join("tee-test/root.pem"))
            .arg("--tee-statement")
            .arg(file)
            .arg("--tee-statement-cert")
            .arg(&keys.1));
        (
            code,
            serde_json::from_str::<Value>(&out).unwrap_or(Value::Null),
            err,
        )
    };
    let (code, v, err) = check(&own);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["service"]["claims"]["x-ms-sgx-mrenclave"], mrenclave);
    let (code, v, _) = check(&other);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "TeePolicyNotSatisfied");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("release 0.4.0"),
        "{v}"
    );
    let (code, v, _) = check(&tamper(&other, &"ab".repeat(32), &mrenclave));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "ReleaseStatementInvalid");
}
