//! TLS for the listener: the operator's certificate, or a self-signed one
//! created on first start at `<data dir>/tls/cert.pem` (key beside it, 0600).
//! Clients trust the self-signed certificate explicitly, e.g.
//! `curl --cacert <data dir>/tls/cert.pem`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::fsutil::write_private;

/// Paths of the certificate and key the listener uses.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The configured certificate, or the self-signed one (created if missing).
pub fn ensure(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
    listen: SocketAddr,
    hostnames: &[String],
) -> Result<TlsFiles, String> {
    if let (Some(cert), Some(key)) = (cert, key) {
        return Ok(TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        });
    }
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut names = vec![
        "localhost".to_string(),
        "*.localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !listen.ip().is_unspecified() && !names.contains(&listen.ip().to_string()) {
        names.push(listen.ip().to_string());
    }
    for h in hostnames {
        names.push(h.clone());
        names.push(format!("*.{h}"));
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot create a self-signed TLS certificate: {e}"))?;
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, certified.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", files.cert.display()))?;
    tracing::info!(cert = %files.cert.display(), "created a self-signed TLS certificate");
    Ok(files)
}
