//! swtpm as the vTPM of Microsoft's Rust guest attestation client: a
//! private `swtpm socket` instance (fresh state, SHA-256 PCR bank, free
//! loopback ports, stopped on drop) and a transport that hands the SDK's
//! raw TPM commands to it (`azure_tpm::device::RawTpm`, the seam the SDK
//! offers for non-hardware TPMs through `Tpm::from_raw_reference`).
//!
//! swtpm's server socket speaks the raw TPM 2.0 command/response stream
//! (what tpm2-tools' `swtpm` TCTI uses): write a command, read the 10-byte
//! response header, then the rest of the size it states. Each command gets
//! its own connection, so other tools can talk to the same swtpm between
//! the SDK's commands.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_guest_attestation_sdk::tpm::RawTpm;

/// The largest TPM response taken (swtpm's buffers are 4 KiB).
const MAX_RESPONSE: usize = 64 * 1024;

/// A running swtpm; killed (by its own pid) when dropped.
pub struct Swtpm {
    child: Child,
    addr: SocketAddr,
    _state: tempfile::TempDir,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Swtpm {
    /// Manufacture a fresh TPM with only the SHA-256 bank active and start
    /// it. Needs `swtpm` and `swtpm_setup` on PATH (the test command's
    /// swtpm stage installs them).
    pub fn start() -> io::Result<Self> {
        let state = tempfile::tempdir()?;
        let dir = state.path().to_str().unwrap_or_default().to_string();
        let setup = Command::new("swtpm_setup")
            .args([
                "--tpm2",
                "--tpmstate",
                &dir,
                "--pcr-banks",
                "sha256",
                "--overwrite",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !setup.status.success() {
            return Err(io::Error::other(format!(
                "swtpm_setup failed: {}",
                String::from_utf8_lossy(&setup.stderr)
            )));
        }
        // A port found free can be taken before swtpm binds it: try again.
        let mut last = io::Error::other("swtpm did not start");
        for _ in 0..3 {
            let (port, ctrl) = (free_port()?, free_port()?);
            let mut child = Command::new("swtpm")
                .args([
                    "socket",
                    "--tpm2",
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                    "--ctrl",
                    &format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"),
                    "--tpmstate",
                    &format!("dir={dir}"),
                    "--flags",
                    "not-need-init,startup-clear",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(status) = child.try_wait()? {
                    last = io::Error::other(format!("swtpm exited: {status}"));
                    break;
                }
                if TcpStream::connect(addr).is_ok() {
                    return Ok(Self {
                        child,
                        addr,
                        _state: state,
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = io::Error::other("swtpm did not listen within 10 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Err(last)
    }

    /// A transport to this swtpm for `Tpm::from_raw_reference`.
    pub fn transport(&self) -> SwtpmTransport {
        SwtpmTransport { addr: self.addr }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raw TPM commands to a swtpm server socket.
#[derive(Debug, Clone, Copy)]
pub struct SwtpmTransport {
    addr: SocketAddr,
}

impl RawTpm for SwtpmTransport {
    fn transmit_raw(&self, command: &[u8]) -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.write_all(command)?;
        let mut response = vec![0u8; 10];
        s.read_exact(&mut response)?;
        let size =
            u32::from_be_bytes([response[2], response[3], response[4], response[5]]) as usize;
        if !(10..=MAX_RESPONSE).contains(&size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("swtpm response states {size} bytes"),
            ));
        }
        response.resize(size, 0);
        s.read_exact(&mut response[10..])?;
        Ok(response)
    }
}

/// `TPM2_PCR_Extend` of SHA-256 `pcr` with `digest` (password session,
/// empty auth), as raw bytes through `tpm`.
pub fn pcr_extend(tpm: &dyn RawTpm, pcr: u32, digest: &[u8; 32]) -> io::Result<()> {
    let mut body = Vec::new();
    body.extend(pcr.to_be_bytes()); // pcrHandle
    body.extend(9u32.to_be_bytes()); // authorization size
    body.extend(0x4000_0009u32.to_be_bytes()); // TPM_RS_PW
    body.extend(0u16.to_be_bytes()); // nonce
    body.push(0); // session attributes
    body.extend(0u16.to_be_bytes()); // hmac
    body.extend(1u32.to_be_bytes()); // TPML_DIGEST_VALUES.count
    body.extend(0x000bu16.to_be_bytes()); // SHA-256
    body.extend_from_slice(digest);
    let mut cmd = 0x8002u16.to_be_bytes().to_vec(); // TPM_ST_SESSIONS
    cmd.extend(((body.len() + 10) as u32).to_be_bytes());
    cmd.extend(0x0000_0182u32.to_be_bytes()); // TPM_CC_PCR_Extend
    cmd.extend(body);
    let r = tpm.transmit_raw(&cmd)?;
    let rc = u32::from_be_bytes([r[6], r[7], r[8], r[9]]);
    if rc != 0 {
        return Err(io::Error::other(format!("TPM2_PCR_Extend: rc {rc:#x}")));
    }
    Ok(())
}
