//! Shared by the CLI's integration tests: the `attesta` binary with a clean
//! environment, a real `attesta serve` on a free loopback port with its own
//! data directory, running client commands against it, posting to it over
//! HTTPS what the client has no command for, and comparing what
//! `attesta verify` says with what the server says.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attesta"));
    c.env_remove("ATTESTA_ADMIN_TOKEN")
        .env_remove("ATTESTA_URL")
        .env_remove("ATTESTA_CA")
        .env_remove("ATTESTA_TOKEN")
        .env_remove("ATTESTA_DATA_DIR");
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(data: &Path) -> Server {
    serve_with(data, &[])
}

/// [`serve`] with extra `ATTESTA_*` configuration in the environment.
pub fn serve_with(data: &Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("ATTESTA_COLLATERAL__PCS_URL", "")
        .env("ATTESTA_COLLATERAL__KDS_URL", "")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("attesta serve exited early: {status}");
        }
        if data.join("tls/cert.pem").exists()
            && data.join("admin-token").exists()
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Server {
                child,
                url: format!("https://127.0.0.1:{port}"),
                data: data.to_path_buf(),
            };
        }
        assert!(Instant::now() < deadline, "attesta serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Exit code, stdout, stderr.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A client command for `s` (see [`run_on`]).
pub fn client(_s: &Server, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args);
    c
}

/// Run a client command pointed at `s` (its data dir: CA and admin token).
pub fn run_on(s: &Server, cmd: &mut Command) -> (i32, String, String) {
    run(cmd.args(["--url", &s.url, "--data-dir"]).arg(&s.data))
}

/// The shared real vectors (`../shared/vectors` from the repository root).
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

/// A vector folder's `expected.json`.
pub fn expected(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// `out` as JSON, or a panic showing it.
pub fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The claims every token carries whatever the evidence.
pub const TOKEN_ONLY: [&str; 7] = [
    "iat",
    "exp",
    "nbf",
    "iss",
    "jti",
    "x-ms-ver",
    "x-ms-policy-hash",
];

/// A draft policy that permits and issues nothing: the token then holds
/// only the claims the service assembled.
pub fn issue_nothing_policy(dir: &Path) -> PathBuf {
    let p = dir.join("issue-nothing.policy");
    std::fs::write(
        &p,
        "version= 1.0; authorizationrules { => permit(); }; issuancerules { };",
    )
    .unwrap();
    p
}

/// Exactly the same claims: every claim `attesta verify` printed is in the
/// token with the same value, and the token has no claim beyond them but
/// [`TOKEN_ONLY`] and `also_in_token` (what only a request states).
pub fn assert_same_claims(
    what: &str,
    cli: &Map<String, Value>,
    token: &Map<String, Value>,
    also_in_token: &[&str],
) {
    assert!(!cli.is_empty(), "{what}: the CLI printed no claims");
    for (k, v) in cli {
        assert_eq!(
            token.get(k),
            Some(v),
            "{what}: claim {k} differs between the CLI and the token"
        );
    }
    let extra: Vec<&String> = token
        .keys()
        .filter(|k| {
            !cli.contains_key(*k)
                && !TOKEN_ONLY.contains(&k.as_str())
                && !also_in_token.contains(&k.as_str())
        })
        .collect();
    assert!(
        extra.is_empty(),
        "{what}: the token has claims the CLI does not print: {extra:?}"
    );
}

/// `attesta verify`'s output `(exit code, stdout, stderr)` as a rejection:
/// exit 1, verdict rejected, no claims. Returns the error code.
pub fn cli_rejection(what: &str, (code, out, err): &(i32, String, String)) -> String {
    assert_eq!(*code, 1, "{what}: {out} {err}");
    let v = json(out);
    assert_eq!(v["verdict"], "rejected", "{what}: {out}");
    assert_eq!(v["claims"], serde_json::json!({}), "{what}: {out}");
    v["error"]["code"].as_str().unwrap().to_string()
}

/// `attesta verify`'s output as an acceptance; returns the claims.
pub fn cli_claims(what: &str, (code, out, err): &(i32, String, String)) -> Map<String, Value> {
    assert_eq!(*code, 0, "{what}: {out} {err}");
    let v = json(out);
    assert_eq!(v["verdict"], "accepted", "{what}: {out}");
    assert_eq!(v["error"], Value::Null, "{what}: {out}");
    v["claims"].as_object().unwrap().clone()
}

/// `attesta attest`'s output as a refusal with `code` (the error line
/// names MAA's code, then the inner one: `…: {code}: …`).
pub fn assert_attest_refused(what: &str, (code, _, err): &(i32, String, String), inner: &str) {
    assert_eq!(*code, 1, "{what}: the server accepted it ({err})");
    assert!(
        err.contains(&format!(": {inner}:")),
        "{what}: the CLI says {inner}, the server: {err}"
    );
}

/// POST `body` to `path_and_query` of `s` over HTTPS (for what `attesta`
/// has no client command: the TPM quote and Azure guest protocols).
/// Returns the status and the JSON answer.
pub fn post_json(s: &Server, path_and_query: &str, body: &Value) -> (u16, Value) {
    let pem = std::fs::read(s.data.join("tls/cert.pem")).unwrap();
    let url = format!("{}{path_and_query}", s.url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let resp = client.post(url).json(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, v)
    })
}

/// The inner error code of a server's MAA error body.
pub fn inner_code(body: &Value) -> &str {
    body["error"]["innererror"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no inner error code: {body}"))
}

/// A JWT's claims, unverified (the token's signature is the server tests'
/// concern; here only what it says).
pub fn jwt_claims(token: &str) -> Map<String, Value> {
    attesta_token::jwt::decode_unverified(token).unwrap().1
}

/// `der` written as a PEM certificate file `name` in `dir`.
pub fn pem_file(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, attesta_evidence::sgx::pki::certificate_pem(der)).unwrap();
    p
}

/// A token the node `s` signs (any will do for checks of the node itself):
/// a sample SGX enclave attested at a provider "lab" made for it. The
/// token file (in `tmp`) and the provider's issuer.
pub fn node_token(s: &Server, tmp: &Path) -> (PathBuf, String) {
    let demo = tmp.join("demo");
    let (code, _, err) = run(bin().args(["sample", "sgx", "--out"]).arg(&demo));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(
        s,
        bin()
            .args(["provider", "create", "lab", "--test-root-intel"])
            .arg(demo.join("test_root.pem")),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(
        s,
        bin()
            .args(["collateral", "import"])
            .arg(demo.join("collateral")),
    );
    assert_eq!(code, 0, "{err}");
    let (code, token, err) = run_on(
        s,
        bin()
            .args([
                "attest",
                "SgxEnclave",
                "--provider",
                "lab",
                "--raw",
                "--evidence",
            ])
            .arg(demo.join("quote.bin")),
    );
    assert_eq!(code, 0, "{err}");
    let token_file = tmp.join("token.jwt");
    std::fs::write(&token_file, token.trim()).unwrap();
    (token_file, format!("{}/providers/lab", s.url))
}
