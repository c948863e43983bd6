//! Offline SEV-SNP endorsements: reading a directory of AMD certificates
//! (VCEK, VLEK, ASK, ASVK, ARK) as they come from KDS, a cloud provider or a
//! test-vector folder, whatever the file names.
//!
//! Each `.der`, `.pem`, `.crt` or `.cer` file (and files named `cert_chain`)
//! may hold one DER certificate or any number of PEM certificates. Every
//! certificate is filed by its subject common name (AMD's names are fixed,
//! see [`crate::snp_certs`]), so `vcek.der`, `ask_ark.pem`,
//! `milan_ask_ark_asvk.pem` or `cert_chain` all work. Chains are assembled
//! per product from whichever intermediates and ARKs are present. Nothing is
//! trusted: the verifier checks every signature.

use std::path::{Path, PathBuf};

use crate::error::CollateralError;
use crate::snp_certs::{CertRole, SnpCertChain, SnpKeyKind, pem_certs, role_of};

/// The endorsements found in a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnpBundle {
    /// VCEKs, DER.
    pub vceks: Vec<Vec<u8>>,
    /// VLEKs, DER.
    pub vleks: Vec<Vec<u8>>,
    /// Every complete intermediate + ARK pair.
    pub chains: Vec<SnpCertChain>,
}

// Certificates are a few KiB; a cap keeps a stray large file out of memory.
const MAX_FILE: u64 = 1 << 20;

fn candidate(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(ext.as_str(), "der" | "pem" | "crt" | "cer") || name == "cert_chain"
}

/// The certificates of one file, DER.
fn file_certs(path: &Path) -> Result<Vec<Vec<u8>>, CollateralError> {
    let io = |reason: String| CollateralError::Io {
        path: path.to_path_buf(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| io(e.to_string()))?
        .len();
    if len > MAX_FILE {
        return Err(io(format!(
            "{len} bytes is too large for a certificate file"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    let part = path.display().to_string();
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes]);
    }
    pem_certs(&part, &bytes)
}

/// Reads every SEV-SNP certificate in `dir` (not recursive).
///
/// Errors: [`CollateralError::Io`]; [`CollateralError::MalformedCertificate`]
/// for a certificate file that does not parse or is not one of AMD's;
/// [`CollateralError::NoSnpEndorsements`] when nothing was found.
pub fn read_snp_dir(dir: &Path) -> Result<SnpBundle, CollateralError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CollateralError::Io {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && candidate(p))
        .collect();
    files.sort();
    let mut bundle = SnpBundle::default();
    let mut cas: Vec<(CertRole, Vec<u8>)> = Vec::new();
    for f in &files {
        let part = f.display().to_string();
        for der in file_certs(f)? {
            match role_of(&part, &der)? {
                CertRole::Vcek => push_new(&mut bundle.vceks, der),
                CertRole::Vlek => push_new(&mut bundle.vleks, der),
                role => {
                    if !cas.iter().any(|(_, d)| *d == der) {
                        cas.push((role, der));
                    }
                }
            }
        }
    }
    for (role, _) in &cas {
        let (product, kind) = match *role {
            CertRole::Ask(p) => (p, SnpKeyKind::Vcek),
            CertRole::Asvk(p) => (p, SnpKeyKind::Vlek),
            _ => continue,
        };
        let ders: Vec<Vec<u8>> = cas.iter().map(|(_, d)| d.clone()).collect();
        // An intermediate without its ARK is useless on its own; skip it
        // rather than fail the whole import.
        if let Ok(chain) = SnpCertChain::from_certs(product, kind, &ders)
            && !bundle
                .chains
                .iter()
                .any(|c| c.product == product && c.kind == kind)
        {
            bundle.chains.push(chain);
        }
    }
    if bundle.vceks.is_empty() && bundle.vleks.is_empty() && bundle.chains.is_empty() {
        return Err(CollateralError::NoSnpEndorsements {
            dir: dir.to_path_buf(),
        });
    }
    Ok(bundle)
}

fn push_new(v: &mut Vec<Vec<u8>>, der: Vec<u8>) {
    if !v.contains(&der) {
        v.push(der);
    }
}
