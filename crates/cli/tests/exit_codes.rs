//! The CLI's exit-code contract (`attesta --help`): 0 accepted/ok, 1
//! rejected, 2 usage, 3 the server cannot be reached or talked to, 4 local
//! I/O — each with the cause named (a wrong CA, a non-PEM CA and a closed
//! port read differently); a closed stdout pipe ends a command quietly; keys
//! in PKCS#8, PKCS#1 and SEC1 sign policies; `policy get Tpm` explains an
//! absent policy; `token verify` explains where tokens come from and
//! prints an issuer mismatch readably; `audit verify` names an edited,
//! deleted or truncated record (exit 1). Runs a real `attesta serve`.

use std::path::Path;
use std::process::Stdio;

use base64::Engine;

mod common;
use common::{bin, client, free_port, run, run_on, serve, serve_with};

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read(path).unwrap();
    let item = x509_parser::pem::Pem::iter_from_buffer(&text)
        .next()
        .unwrap()
        .unwrap();
    item.contents
}

#[test]
fn usage_io_and_unreachable_server_have_their_own_codes_and_causes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let evidence = tmp.path().join("evidence.bin");
    std::fs::write(&evidence, b"not a quote").unwrap();

    // 2: bad arguments.
    let (code, _, err) = run(bin().arg("no-such-command"));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_on(
        &s,
        &mut client(
            &s,
            &["attest", "Bogus", "--evidence", evidence.to_str().unwrap()],
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SgxEnclave, OpenEnclave"), "{err}");

    // 4: a file that is not there, named.
    let (code, _, err) = run_on(
        &s,
        &mut client(
            &s,
            &["attest", "SgxEnclave", "--evidence", "/no/such/quote.bin"],
        ),
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cannot read /no/such/quote.bin"), "{err}");

    // 3: a closed port.
    let closed = format!("https://127.0.0.1:{}", free_port());
    let (code, _, err) = run(bin()
        .args(["attest", "SgxEnclave", "--evidence"])
        .arg(&evidence)
        .args(["--url", &closed, "--ca"])
        .arg(s.data.join("tls/cert.pem")));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("connection refused"), "{err}");

    // 3: a CA that did not issue the server's certificate.
    let other = tmp.path().join("other.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(&other, cert.pem()).unwrap();
    let (code, _, err) = run(bin()
        .args(["attest", "SgxEnclave", "--evidence"])
        .arg(&evidence)
        .args(["--url", &s.url, "--ca"])
        .arg(&other));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unknown issuer"), "{err}");
    assert!(!err.contains("connection refused"), "{err}");

    // 2: a CA file that is not PEM.
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "hello\n").unwrap();
    let (code, _, err) = run(bin()
        .args(["attest", "SgxEnclave", "--evidence"])
        .arg(&evidence)
        .args(["--url", &s.url, "--ca"])
        .arg(&junk));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a PEM certificate"), "{err}");

    // 1: the server judged the evidence and refused it.
    let (code, _, err) = run_on(
        &s,
        &mut client(
            &s,
            &[
                "attest",
                "SgxEnclave",
                "--evidence",
                evidence.to_str().unwrap(),
            ],
        ),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused the SgxEnclave evidence"), "{err}");
    assert!(err.contains("400"), "{err}");
}

#[test]
fn a_sample_attests_and_its_token_verifies_with_readable_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let demo = tmp.path().join("demo");
    let runtime = tmp.path().join("runtime.json");
    std::fs::write(&runtime, br#"{"pubkey":"demo"}"#).unwrap();
    let (code, _, err) = run(bin()
        .args(["sample", "openenclave", "--out"])
        .arg(&demo)
        .arg("--runtime-data")
        .arg(&runtime));
    assert_eq!(code, 0, "{err}");

    let root = demo.join("test_root.pem");
    let (code, out, err) = run_on(
        &s,
        client(&s, &["provider", "create", "lab", "--test-root-intel"]).arg(&root),
    );
    assert_eq!(code, 0, "{err}");
    // The root is summarised, not echoed.
    assert!(!out.contains("BEGIN CERTIFICATE"), "{out}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        created["config"]["test_roots"]["intel"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64,
        "{out}"
    );
    let collateral = demo.join("collateral");
    let (code, _, err) = run_on(
        &s,
        &mut client(&s, &["collateral", "import", collateral.to_str().unwrap()]),
    );
    assert_eq!(code, 0, "{err}");

    let attest = |extra: &[&str]| {
        let mut c = client(&s, &["attest", "OpenEnclave", "--evidence"]);
        c.arg(demo.join("report.bin"))
            .arg("--runtime-data")
            .arg(&runtime)
            .args(["--runtime-json", "--provider", "lab"])
            .args(extra);
        c
    };
    let (code, out, err) = run_on(&s, &mut attest(&[]));
    assert_eq!(code, 0, "{err}");
    let claims: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims["x-attesta-test-root"], true, "{out}");
    assert_eq!(claims["x-ms-runtime"]["pubkey"], "demo", "{out}");

    let (code, token, err) = run_on(&s, &mut attest(&["--raw"]));
    assert_eq!(code, 0, "{err}");
    let token_file = tmp.path().join("token.jwt");
    std::fs::write(&token_file, &token).unwrap();
    let at_token = format!("@{}", token_file.display());
    let ca = s.data.join("tls/cert.pem");
    let lab_issuer = format!("{}/providers/lab", s.url);

    let (code, out, err) = run(bin()
        .args([
            "token",
            "verify",
            &at_token,
            "--issuer",
            &lab_issuer,
            "--ca",
        ])
        .arg(&ca));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true, "{out}");

    // The same provider under another service host name: the keys match,
    // the issuer does not; a readable mismatch, exit 1.
    let localhost_issuer = lab_issuer.replace("127.0.0.1", "localhost");
    let (code, out, err) = run(bin()
        .args([
            "token",
            "verify",
            &at_token,
            "--issuer",
            &localhost_issuer,
            "--ca",
        ])
        .arg(&ca));
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false, "{out}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(!msg.contains("Some("), "{msg}");
    assert!(msg.contains(&lab_issuer), "{msg}");

    // The default provider's issuer: its keys do not include lab's; the
    // issuer the token names is given as a hint.
    let (code, out, err) = run(bin()
        .args(["token", "verify", &at_token, "--issuer", &s.url, "--ca"])
        .arg(&ca));
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("the token names issuer {lab_issuer}")),
        "{msg}"
    );

    // A missing token file says how to get one.
    let (code, _, err) =
        run(bin().args(["token", "verify", "@/no/such/token.jwt", "--issuer", &s.url]));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("attest") && err.contains("--raw"), "{err}");
    // A path given without @ is named as such.
    let (code, _, err) = run(bin()
        .args(["token", "verify"])
        .arg(&token_file)
        .args(["--issuer", &s.url]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("@{}", token_file.display())), "{err}");

    // provider update: a setting changes, the test root stays.
    let (code, out, err) = run_on(
        &s,
        &mut client(
            &s,
            &["provider", "update", "lab", "--collateral-grace-secs", "60"],
        ),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["config"]["collateral_grace_secs"], 60, "{out}");
    assert_eq!(
        v["config"]["test_roots"]["intel"][0]["sha256"],
        created["config"]["test_roots"]["intel"][0]["sha256"],
        "{out}"
    );
    let (code, _, err) = run_on(&s, &mut client(&s, &["provider", "update", "lab"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_on(
        &s,
        &mut client(&s, &["provider", "update", "nosuch", "--aad-token", "t"]),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("404"), "{err}");

    // No TPM policy: said on stderr, nothing on stdout, exit 0; --json says null.
    let (code, out, err) = run_on(&s, &mut client(&s, &["policy", "get", "Tpm"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("no Tpm policy is set"), "{err}");
    let (code, out, _) = run_on(&s, &mut client(&s, &["policy", "get", "Tpm", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy"], serde_json::Value::Null, "{out}");
}

#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let (code, _, err) = run(bin().args(["sample", "sgx", "--out"]).arg(&demo));
    assert_eq!(code, 0, "{err}");
    // The reading end is closed before the command writes anything, so its
    // first write fails with EPIPE (SIGPIPE is ignored in Rust programs).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bin()
        .args(["inspect", "sgx"])
        .arg(demo.join("quote.bin"))
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn policy_signing_keys_are_accepted_in_pkcs8_pkcs1_and_sec1() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let policy = tmp.path().join("policy.txt");
    std::fs::write(
        &policy,
        "version= 1.0;\nauthorizationrules\n{\n    => permit();\n};\n",
    )
    .unwrap();
    let new_signer = |name: &str, kind: &str| {
        let (key, cert) = (
            tmp.path().join(format!("{name}.key")),
            tmp.path().join(format!("{name}.pem")),
        );
        let (code, _, err) = run(bin()
            .args(["policy-cert", "new", "--kind", kind, "--key"])
            .arg(&key)
            .arg("--cert")
            .arg(&cert));
        assert_eq!(code, 0, "{err}");
        assert!(
            std::fs::read_to_string(&key)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        (key, cert)
    };
    let (ec_key, ec_cert) = new_signer("ec", "p256");
    let (rsa_key, rsa_cert) = new_signer("rsa", "rsa");

    // The same keys in their traditional encodings.
    let ec_pkcs8 = pem_der(&ec_key);
    let ec = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &ec_pkcs8,
    )
    .unwrap();
    let sec1 = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::EcPrivateKeyRfc5915Der>::as_der(
        &ec.private_key(),
    )
    .unwrap();
    let sec1_file = tmp.path().join("ec-sec1.key");
    std::fs::write(&sec1_file, pem("EC PRIVATE KEY", sec1.as_ref())).unwrap();
    // PKCS#8 PrivateKeyInfo for RSA: SEQUENCE { INTEGER 0, AlgorithmIdentifier
    // (rsaEncryption, NULL: 15 bytes), OCTET STRING { RSAPrivateKey } }.
    let rsa_pkcs8 = pem_der(&rsa_key);
    assert_eq!(&rsa_pkcs8[4..7], &[0x02, 0x01, 0x00]);
    assert_eq!(rsa_pkcs8[22], 0x04, "OCTET STRING");
    assert_eq!(rsa_pkcs8[23], 0x82, "two-byte length");
    let len = usize::from(rsa_pkcs8[24]) << 8 | usize::from(rsa_pkcs8[25]);
    let pkcs1 = &rsa_pkcs8[26..26 + len];
    aws_lc_rs::rsa::KeyPair::from_der(pkcs1).unwrap();
    let pkcs1_file = tmp.path().join("rsa-pkcs1.key");
    std::fs::write(&pkcs1_file, pem("RSA PRIVATE KEY", pkcs1)).unwrap();

    let (code, _, err) = run_on(
        &s,
        client(
            &s,
            &[
                "provider",
                "create",
                "fabrikam",
                "--trust-model",
                "isolated",
                "--policy-cert",
            ],
        )
        .arg(&ec_cert)
        .arg("--policy-cert")
        .arg(&rsa_cert),
    );
    assert_eq!(code, 0, "{err}");

    for (ty, key, cert) in [
        ("SgxEnclave", &ec_key, &ec_cert),
        ("OpenEnclave", &sec1_file, &ec_cert),
        ("TdxVm", &rsa_key, &rsa_cert),
        ("SevSnpVm", &pkcs1_file, &rsa_cert),
    ] {
        // One policy per type: an RSA PKCS#1 v1.5 signature of the same
        // content in the same second is the same request, applied once.
        std::fs::write(
            &policy,
            format!(
                "version= 1.0;\nauthorizationrules\n{{\n    => permit();\n}};\nissuancerules\n{{\n    => issue(type=\"policy-for\", value=\"{ty}\");\n}};\n"
            ),
        )
        .unwrap();
        let (code, out, err) = run_on(
            &s,
            client(&s, &["policy", "set", ty])
                .arg(&policy)
                .args(["--provider", "fabrikam", "--signing-key"])
                .arg(key)
                .arg("--signing-cert")
                .arg(cert),
        );
        assert_eq!(code, 0, "{ty} with {}: {err}", key.display());
        assert!(out.contains("x-ms-policy-signer"), "{out}");
    }

    // A file with no key is named, with the recipe.
    let (code, _, err) = run_on(
        &s,
        client(&s, &["policy", "set", "SgxEnclave"])
            .arg(&policy)
            .args(["--provider", "fabrikam", "--signing-key"])
            .arg(&ec_cert)
            .arg("--signing-cert")
            .arg(&ec_cert),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("policy-cert new"), "{err}");
}

/// Where the CLI sends credentials: the data directory's admin token goes
/// only to that data directory's own server. Against a second server the
/// client refuses before sending (a `--ca` that is not the data directory's
/// certificate) or cannot complete TLS (it trusts only that certificate); a
/// token given explicitly goes where `--url` says.
#[test]
fn the_data_dirs_admin_token_goes_only_to_its_own_server() {
    let tmp = tempfile::tempdir().unwrap();
    let a = serve(&tmp.path().join("a"));
    let b = serve(&tmp.path().join("b"));
    let list_on_b = |extra: &[&str]| {
        let mut c = bin();
        c.args(["provider", "list", "--json", "--url", &b.url, "--data-dir"])
            .arg(&a.data)
            .args(extra);
        c
    };
    let b_ca = b.data.join("tls/cert.pem");
    let b_ca = b_ca.to_str().unwrap();

    // Its own server: the data directory's token works.
    let (code, out, err) = run_on(&a, &mut client(&a, &["provider", "list", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("default"), "{out}");

    // Another server named by --url with its CA: refused before connecting.
    let (code, out, err) = run(&mut list_on_b(&["--ca", b_ca]));
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("sent only to that data directory's own server"),
        "{err}"
    );
    // Another server without --ca: the client trusts only A's certificate,
    // so TLS to B fails and no request (no token) is ever sent.
    let (code, out, err) = run(&mut list_on_b(&[]));
    assert_ne!(code, 0, "{err}");
    assert!(!out.contains("\"providers\""), "{out}");

    // An explicit token goes where --url says.
    let b_token = std::fs::read_to_string(b.data.join("admin-token")).unwrap();
    let (code, _, err) = run(&mut list_on_b(&[
        "--ca",
        b_ca,
        "--admin-token",
        b_token.trim(),
    ]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn audit_list_shows_changes_and_verify_names_an_edited_or_removed_record() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve_with(
        &tmp.path().join("data"),
        &[("ATTESTA_AUDIT__CHECKPOINT_EVERY", "3")],
    );
    let db = s.data.join("attesta.db");
    let ok = |args: &[&str]| {
        let (code, out, err) = run_on(&s, &mut client(&s, args));
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    // 1-2 create, 3 update, 4-6 a rotation of each of the three providers'
    // keys, 7 delete, 8 a refused delete.
    ok(&["provider", "create", "alpha", "--aad-token", "alpha-token"]);
    ok(&["provider", "create", "beta"]);
    ok(&["provider", "update", "alpha", "--aad-token", "alpha-2"]);
    ok(&["keys", "rotate"]);
    ok(&["provider", "delete", "beta"]);
    let (code, _, err) = run_on(&s, &mut client(&s, &["provider", "delete", "nosuch"]));
    assert_eq!(code, 1, "{err}");

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["audit", "list", "--json"])).unwrap();
    let records = listed["records"].as_array().unwrap();
    let rows: Vec<(i64, &str, &str, &str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["seq"].as_i64().unwrap(),
                r["operation"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
                r["error_code"].as_str().unwrap(),
                r["caller"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 8, "{listed}");
    assert_eq!(
        rows[0],
        (1, "CreateInstance", "succeeded", "", "admin", "alpha")
    );
    assert_eq!(
        rows[1],
        (2, "CreateInstance", "succeeded", "", "admin", "beta")
    );
    assert_eq!(
        rows[2],
        (3, "UpdateInstance", "succeeded", "", "admin", "alpha")
    );
    for r in &rows[3..6] {
        assert_eq!((r.1, r.2, r.4), ("RotateSigningKey", "succeeded", "admin"));
        assert!(!r.5.is_empty(), "a rotation names the new kid");
    }
    assert_eq!(
        rows[6],
        (7, "DestroyInstance", "succeeded", "", "admin", "beta")
    );
    assert_eq!(
        rows[7],
        (
            8,
            "DestroyInstance",
            "failed",
            "NotFound",
            "admin",
            "nosuch"
        )
    );
    assert!(
        records[0]["time_rfc3339"].as_str().unwrap().ends_with('Z'),
        "{listed}"
    );
    // One page at a time.
    let page: serde_json::Value = serde_json::from_str(&ok(&[
        "audit", "list", "--json", "--after", "2", "--limit", "2",
    ]))
    .unwrap();
    assert_eq!(page["records"][0]["seq"], 3);
    assert_eq!(page["next"], 4);

    // The untouched log verifies, with the checkpoints at 3 and 6.
    let report: serde_json::Value = serde_json::from_str(&ok(&["audit", "verify"])).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["records"], 8);
    assert_eq!(report["verified_checkpoints"], 2, "{report}");
    assert_eq!(report["latest_verified_checkpoint"][0], 6, "{report}");

    let sql = |q: &str| {
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch(q)
            .unwrap()
    };
    let verify = || run_on(&s, &mut client(&s, &["audit", "verify"]));
    sql("CREATE TABLE kept AS SELECT * FROM audit_log");

    // One field of one record edited directly in the database.
    sql("UPDATE audit_log SET target = 'gamma' WHERE seq = 2");
    let (code, out, err) = verify();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("record 2 was edited: its hash does not match its contents"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["verified"].clone(), v["seq"].clone()),
        (false.into(), 2.into())
    );
    sql("UPDATE audit_log SET target = 'beta' WHERE seq = 2");
    assert_eq!(verify().0, 0, "restored");

    // A record deleted from the middle.
    sql("DELETE FROM audit_log WHERE seq = 5");
    let (code, _, err) = verify();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("record 5 is missing"), "{err}");
    sql("INSERT INTO audit_log SELECT * FROM kept WHERE seq = 5");
    assert_eq!(verify().0, 0, "restored");

    // The newest records removed: only the signed checkpoint shows it.
    sql("DELETE FROM audit_log WHERE seq >= 6");
    let (code, _, err) = verify();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("records after record 5 were removed: checkpoint 6"),
        "{err}"
    );
    sql("INSERT INTO audit_log SELECT * FROM kept WHERE seq >= 6");
    let (code, out, err) = verify();
    assert_eq!(code, 0, "{out}{err}");
}

/// `attesta sample sgx` collateral for the real platform's FMSPC, then the
/// real collateral of the dcap-qvl SGX vector: the real quote still
/// verifies at its pinned time on a provider without test roots, and the
/// sample on the test-root provider (both entries coexist).
/// `collateral list|show|delete` work on the server's entries with RFC 3339
/// dates; a deleted entry is gone (a second delete is exit 1) and the
/// attestation that needed it fails until it is imported again.
#[test]
fn sample_collateral_never_shadows_the_real_one_and_list_show_delete() {
    let vector =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/sgx/dcap-qvl-sgx-v3");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vector.join("expected.json")).unwrap()).unwrap();
    let pinned = expected["verification_time_to_pin"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    let demo = tmp.path().join("demo");
    let (code, _, err) = run(bin()
        .args(["sample", "sgx", "--fmspc", "00A067110000", "--out"])
        .arg(&demo));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(
        &s,
        client(&s, &["provider", "create", "lab", "--test-root-intel"])
            .arg(demo.join("test_root.pem")),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(
        &s,
        &mut client(
            &s,
            &[
                "provider",
                "create",
                "pinned",
                "--verification-time",
                pinned,
            ],
        ),
    );
    assert_eq!(code, 0, "{err}");
    for dir in [demo.join("collateral"), vector.clone()] {
        let (code, _, err) = run_on(&s, client(&s, &["collateral", "import"]).arg(&dir));
        assert_eq!(code, 0, "{}: {err}", dir.display());
    }
    let attest = |provider: &str, quote: &Path| {
        let mut c = client(
            &s,
            &["attest", "SgxEnclave", "--provider", provider, "--evidence"],
        );
        c.arg(quote);
        run_on(&s, &mut c)
    };
    let (code, out, err) = attest("pinned", &vector.join("quote.bin"));
    assert_eq!(code, 0, "{err}");
    let claims: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        claims["x-attesta-tcb-status"], "ConfigurationAndSWHardeningNeeded",
        "{out}"
    );
    let (code, out, err) = attest("lab", &demo.join("quote.bin"));
    assert_eq!(code, 0, "{err}");
    let claims: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims["x-attesta-test-root"], true, "{out}");

    let (code, out, err) = run_on(&s, &mut client(&s, &["--json", "collateral", "list"]));
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{out}");
    assert!(
        entries.iter().all(|e| e["fmspc"] == "00A067110000"),
        "{out}"
    );
    let real = entries
        .iter()
        .find(|e| e["root"]["sha256"] == attesta_evidence::sgx::INTEL_SGX_ROOT_CA_SHA256)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(real["nextUpdate"], "2025-07-19T10:01:18Z", "{out}");
    assert_eq!(real["source"], "imported", "{out}");
    let id = real["id"].as_str().unwrap();

    let (code, out, err) = run_on(&s, &mut client(&s, &["--json", "collateral", "show", id]));
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        shown["pckCrl"]["nextUpdate"], "2025-07-19T10:23:18Z",
        "{out}"
    );

    let (code, _, err) = run_on(&s, &mut client(&s, &["collateral", "delete", id]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(&s, &mut client(&s, &["collateral", "delete", id]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NotFound"), "{err}");
    let (code, _, err) = attest("pinned", &vector.join("quote.bin"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NoOfflineBundle"), "{err}");
    let (code, _, err) = attest("lab", &demo.join("quote.bin"));
    assert_eq!(code, 0, "{err}");
}
