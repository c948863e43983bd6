//! Where the CLI sends credentials: the data directory's admin token goes
//! only to that data directory's own server. Against a second server the
//! client refuses before sending (a `--ca` that is not the data directory's
//! certificate) or cannot complete TLS (it trusts only that certificate); a
//! token given explicitly goes where `--url` says.

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

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Server {
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cert = data.join("tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("attesta serve exited early: {status}");
        }
        if cert.exists()
            && data.join("admin-token").exists()
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Server { child, port };
        }
        assert!(Instant::now() < deadline, "attesta serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.env_remove("ATTESTA_ADMIN_TOKEN").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_data_dirs_admin_token_goes_only_to_its_own_server() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = serve(&a_dir);
    let b = serve(&b_dir);
    let url = |s: &Server| format!("https://127.0.0.1:{}", s.port);

    // Its own server: the data directory's token works.
    let (code, out) = run(bin()
        .args(["provider", "list", "--url", &url(&a), "--data-dir"])
        .arg(&a_dir));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("default"), "{out}");

    // Another server named by --url with its CA: refused before connecting.
    let (code, out) = run(bin()
        .args(["provider", "list", "--url", &url(&b), "--data-dir"])
        .arg(&a_dir)
        .arg("--ca")
        .arg(b_dir.join("tls/cert.pem")));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("sent only to that data directory's own server"),
        "{out}"
    );
    // Another server without --ca: the client trusts only A's certificate,
    // so TLS to B fails and no request (no token) is ever sent.
    let (code, out) = run(bin()
        .args(["provider", "list", "--url", &url(&b), "--data-dir"])
        .arg(&a_dir));
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("\"providers\""), "{out}");

    // An explicit token goes where --url says.
    let b_token = std::fs::read_to_string(b_dir.join("admin-token")).unwrap();
    let (code, out) = run(bin()
        .args(["provider", "list", "--url", &url(&b), "--data-dir"])
        .arg(&a_dir)
        .arg("--ca")
        .arg(b_dir.join("tls/cert.pem"))
        .args(["--admin-token", b_token.trim()]));
    assert_eq!(code, 0, "{out}");
    drop(a);
    drop(b);
}
