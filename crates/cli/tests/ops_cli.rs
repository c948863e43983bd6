//! Operating the real `attesta` binary: logging set from `ATTESTA_LOG` /
//! `RUST_LOG` without being read as configuration, plain (uncoloured) text
//! logs off a terminal, and the version with a configuration summary on the
//! first log line.

use std::io::{BufRead, BufReader};
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

/// Read stderr lines until one contains `needle` (or the deadline passes).
fn lines_until(child: &mut Child, needle: &str) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let done = line.contains(needle);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("attesta serve exited: {status}; stderr: {lines:#?}");
                }
            }
            Err(_) => break,
        }
    }
    panic!("no log line containing {needle:?}; stderr: {lines:#?}");
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn attesta_log_sets_the_filter_and_the_first_line_says_version_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("ATTESTA_LOG", "debug")
        .env("ATTESTA_COLLATERAL__PCS_URL", "")
        .env_remove("RUST_LOG")
        .env_remove("ATTESTA_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_until(&mut child, "attesta is listening");
    stop(child);
    let first = &lines[0];
    assert!(
        first.contains(&format!("attesta {} starting", env!("CARGO_PKG_VERSION"))),
        "first line: {first}"
    );
    assert!(
        first.contains(&format!("listen=127.0.0.1:{port}")),
        "{first}"
    );
    assert!(
        first.contains("pcs_url=\"(none: imported only)\""),
        "{first}"
    );
    // Piped stderr is not a terminal: no ANSI escape anywhere.
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a non-terminal log: {lines:#?}"
    );
    // The debug filter is in force: the startup trace has DEBUG lines.
    assert!(
        lines.iter().any(|l| l.contains("DEBUG")),
        "ATTESTA_LOG=debug logged no debug line: {lines:#?}"
    );
}

#[test]
fn rust_log_is_the_fallback_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args(["serve", "--log-format", "json", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("RUST_LOG", "warn")
        .env_remove("ATTESTA_LOG")
        .env("ATTESTA_COLLATERAL__PCS_URL", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // With RUST_LOG=warn the info lines (startup, listening) are filtered
    // out; the server still starts, which the TLS certificate shows.
    let cert = tmp.path().join("data/tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(cert.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(Instant::now() < deadline, "attesta serve did not start");
        if let Ok(Some(s)) = child.try_wait() {
            panic!("attesta serve exited: {s}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("starting") && !stderr.contains("\"INFO\""),
        "RUST_LOG=warn still logged info: {stderr}"
    );
}
