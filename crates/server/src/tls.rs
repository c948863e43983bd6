//! TLS for the listener: the operator's certificate, or a self-signed one
//! created on first start at `<data dir>/tls/cert.pem` (key beside it, 0600).
//! Clients trust the self-signed certificate explicitly, e.g.
//! `curl --cacert <data dir>/tls/cert.pem`.
//!
//! The self-signed certificate names every host the service answers for by
//! default, each as an explicit subject alternative name that OpenSSL
//! (Python's `ssl`), Node and rustls all accept: `localhost`, `127.0.0.1`,
//! `::1`, the listen address, each configured hostname and, for a hostname
//! of two labels or more, `*.<hostname>` (provider host addressing). A
//! wildcard over a single label (`*.localhost`) is not issued: those clients
//! refuse it. A self-signed certificate from an earlier start that lacks a
//! required name is made again; an operator's certificate is never touched.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::fsutil::write_private;

/// Paths of the certificate and key the listener uses.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The subject alternative names the self-signed certificate must carry.
pub fn required_names(listen: SocketAddr, hostnames: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut push = |n: String| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    if !listen.ip().is_unspecified() {
        push(listen.ip().to_string());
    }
    for h in hostnames {
        let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
        if h.is_empty() {
            continue;
        }
        push(h.clone());
        // `*.example` would cover a whole top-level name; clients refuse it.
        if h.parse::<IpAddr>().is_err() && h.contains('.') {
            push(format!("*.{h}"));
        }
    }
    names
}

/// The subject alternative names of a PEM certificate (DNS names and IP
/// addresses, as text) and whether it is self-signed; `None` when it cannot
/// be read as one.
fn existing_names(cert_pem: &[u8]) -> Option<(Vec<String>, bool)> {
    let pem = x509_parser::pem::Pem::iter_from_buffer(cert_pem)
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&pem.contents).ok()?;
    let self_signed = cert.subject() == cert.issuer();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => {
                    names.push(d.to_ascii_lowercase())
                }
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Some((names, self_signed))
}

/// The configured certificate, or the self-signed one (created if missing,
/// made again if it lacks a required name).
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
    let names = required_names(listen, hostnames);
    if files.cert.exists() && files.key.exists() {
        let pem = std::fs::read(&files.cert)
            .map_err(|e| format!("cannot read {}: {e}", files.cert.display()))?;
        match existing_names(&pem) {
            Some((have, true)) => {
                let missing: Vec<&String> = names.iter().filter(|n| !have.contains(n)).collect();
                if missing.is_empty() {
                    return Ok(files);
                }
                tracing::warn!(
                    cert = %files.cert.display(),
                    missing = ?missing,
                    "the self-signed TLS certificate lacks required names; making a new one (clients must trust the new file)"
                );
            }
            // Someone put their own certificate there: theirs to manage.
            _ => return Ok(files),
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot create a self-signed TLS certificate: {e}"))?;
    write_private(&files.key, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, certified.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", files.cert.display()))?;
    tracing::info!(cert = %files.cert.display(), "created a self-signed TLS certificate");
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen() -> SocketAddr {
        "127.0.0.1:8443".parse().unwrap()
    }

    #[test]
    fn names_are_explicit_and_wildcards_only_over_two_labels() {
        let names = required_names(
            listen(),
            &[
                "attest.localtest".into(),
                "myhost".into(),
                "10.0.0.5".into(),
            ],
        );
        assert_eq!(
            names,
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "attest.localtest",
                "*.attest.localtest",
                "myhost",
                "10.0.0.5"
            ]
        );
        assert!(!names.iter().any(|n| n == "*.localhost"));
    }

    #[test]
    fn a_certificate_lacking_names_is_made_again_and_a_complete_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path(), None, None, listen(), &[]).unwrap();
        let pem1 = std::fs::read(&first.cert).unwrap();
        let (names, self_signed) = existing_names(&pem1).unwrap();
        assert!(self_signed);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1"]);

        // Same configuration: kept byte for byte.
        ensure(dir.path(), None, None, listen(), &[]).unwrap();
        assert_eq!(std::fs::read(&first.cert).unwrap(), pem1);

        // A new hostname: made again with it.
        ensure(
            dir.path(),
            None,
            None,
            listen(),
            &["attest.localtest".into()],
        )
        .unwrap();
        let pem2 = std::fs::read(&first.cert).unwrap();
        assert_ne!(pem2, pem1);
        let (names, _) = existing_names(&pem2).unwrap();
        assert!(names.contains(&"*.attest.localtest".to_string()));
    }

    #[test]
    fn an_operators_certificate_in_the_data_dir_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        // Not self-signed: a leaf issued by a CA.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "operator CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["attest.example".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let _ = ca;
        std::fs::write(tls.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(tls.join("key.pem"), leaf_key.serialize_pem()).unwrap();
        ensure(dir.path(), None, None, listen(), &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(tls.join("cert.pem")).unwrap(),
            leaf.pem()
        );
    }
}
