//! Shared by the CLI's integration tests: the `attesta` binary with a clean
//! environment, a real `attesta serve` on a free loopback port with its own
//! data directory, and running client commands against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
