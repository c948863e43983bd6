//! The real `attesta` binary end to end: `serve` with layered configuration
//! (TOML file < environment < flags), JSON logs, the client commands against
//! it, `token verify`, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(port: u16, cert: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("attesta serve exited early: {status}");
        }
        if cert.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("attesta serve did not become ready");
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn serve_layers_config_and_answers_the_client_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    // The file says one port and data dir, the environment overrides the
    // data dir, the flag overrides the port.
    let cfg = tmp.path().join("attesta.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\ntoken_lifetime_secs = 600\n[default_provider]\naad_tokens = [\"file-token\"]\n",
            tmp.path().join("ignored").display()
        ),
    )
    .unwrap();
    let mut child = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .env("ATTESTA_DATA_DIR", &data)
        .env_remove("ATTESTA_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cert = data.join("tls/cert.pem");
    wait_ready(port, &cert, &mut child);
    assert!(
        !tmp.path().join("ignored").exists(),
        "the environment must override the file"
    );
    let url = format!("https://127.0.0.1:{port}");
    let client_args = |c: &mut Command| {
        c.args(["--url", &url, "--data-dir"]).arg(&data);
    };

    // Provider commands over the admin API.
    let mut c = bin();
    c.args(["provider", "create", "demo", "--aad-token", "demo-token"]);
    client_args(&mut c);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "demo");
    let mut c = bin();
    c.args(["provider", "list"]);
    client_args(&mut c);
    let (code, out, _) = run(&mut c);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "demo"]);

    // The default provider accepts the token from the config file.
    let mut c = bin();
    c.args([
        "policy",
        "get",
        "SevSnpVm",
        "--token",
        "file-token",
        "--data-dir",
        "/nonexistent",
        "--ca",
    ])
    .arg(&cert)
    .args(["--url", &url]);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "version= 1.0;authorizationrules{=> permit();};");
    let mut c = bin();
    c.args([
        "policy",
        "get",
        "SevSnpVm",
        "--token",
        "wrong",
        "--data-dir",
        "/nonexistent",
        "--ca",
    ])
    .arg(&cert)
    .args(["--url", &url]);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 1);
    assert!(err.contains("Unauthorized"), "{err}");

    // Set a policy through the CLI (unsigned, aad provider) and read it back.
    let policy = tmp.path().join("p.txt");
    std::fs::write(
        &policy,
        "version=1.0; authorizationrules{=> permit();}; issuancerules{};",
    )
    .unwrap();
    let mut c = bin();
    c.args(["policy", "set", "OpenEnclave"]).arg(&policy).args([
        "--provider",
        "demo",
        "--token",
        "demo-token",
    ]);
    client_args(&mut c);
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["x-ms-policy-result"], "Updated");

    // A token the server signed verifies through `token verify`, and fails
    // for another issuer.
    let mut c = bin();
    c.args(["keys", "list"]);
    client_args(&mut c);
    assert_eq!(run(&mut c).0, 0);
    let pem = std::fs::read(&cert).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let v: serde_json::Value = client
            .get(format!("{url}/policies/SgxEnclave?api-version=2020-10-01"))
            .bearer_auth("file-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_string()
    });
    let mut c = bin();
    c.args(["token", "verify", &token, "--issuer", &url, "--ca"])
        .arg(&cert);
    let (code, out, err) = run(&mut c);
    // A policy reply is signed by the provider's key but is a management
    // reply, never an attestation result: refused after its signature and
    // issuer checked out.
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["code"], "TokenNotAnAttestationToken", "{out}");
    let mut c = bin();
    c.args([
        "token",
        "verify",
        &token,
        "--issuer",
        &format!("{url}/providers/demo"),
        "--ca",
    ])
    .arg(&cert);
    let (code, out, _) = run(&mut c);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);

    // Graceful shutdown on SIGTERM; logs were JSON lines.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stderr = child.stderr.take().unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exited with {exit}");
    let lines: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    let json_lines = lines
        .iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    assert!(json_lines >= 2, "expected JSON log lines, got: {lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "{lines:?}"
    );
}

#[test]
fn help_is_everywhere() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["provider", "create", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["token", "verify", "--help"],
        vec!["attest", "--help"],
        vec!["policy", "check", "--help"],
        vec!["policy-cert", "add", "--help"],
    ] {
        let (code, out, _) = run(bin().args(&args));
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage"), "{args:?}: {out}");
    }
    let (code, _, err) = run(bin().args(["serve", "--listen", "not-an-address"]));
    assert_eq!(code, 2, "{err}");
}
