//! Offline SEV-SNP endorsements: reading a directory of AMD certificates
//! (VCEK, VLEK, ASK, ASVK, ARK) as they come from KDS, a cloud provider or a
//! test-vector folder, whatever the file names.
//!
//! Each `.der`, `.pem`, `.crt` or `.cer` file (and files named `cert_chain`)
//! may hold one DER certificate or any number of PEM certificates. Every
//! certificate is filed by its subject common name (AMD's names are fixed,
//! see [`crate::snp_certs`]), so `vcek.der`, `ask_ark.pem`,
//! `milan_ask_ark_asvk.pem` or `cert_chain` all work. Chains are assembled
//! per product from whichever intermediates and ARKs are present.
//!
//! AMD's CRLs (what KDS serves at `/{vcek|vlek}/v1/{product}/crl`) are
//! imported from files whose name ends in `.crl` or contains `crl`, DER or
//! PEM: the product comes from the issuer (`ARK-{product}`), the hierarchy
//! from the name (`vlek` in it means the VLEK one, otherwise VCEK). Nothing
//! is trusted: the verifier checks every signature, the CRL's by its ARK.

use std::path::{Path, PathBuf};

use crate::error::CollateralError;
use crate::snp_certs::{
    CertRole, SnpCertChain, SnpKeyKind, SnpProduct, crl_product, pem_certs, role_of,
};

/// The endorsements found in a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnpBundle {
    /// VCEKs, DER.
    pub vceks: Vec<Vec<u8>>,
    /// VLEKs, DER.
    pub vleks: Vec<Vec<u8>>,
    /// Every complete intermediate + ARK pair.
    pub chains: Vec<SnpCertChain>,
    /// AMD CRLs.
    pub crls: Vec<ImportedSnpCrl>,
}

/// An AMD CRL and the hierarchy it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSnpCrl {
    pub product: SnpProduct,
    pub kind: SnpKeyKind,
    /// DER.
    pub der: Vec<u8>,
}

impl ImportedSnpCrl {
    /// A DER CRL for the `kind` hierarchy; the product is its issuer's (an
    /// AMD ARK), refused when the issuer is not one.
    pub fn from_der(der: Vec<u8>, kind: SnpKeyKind) -> Result<Self, CollateralError> {
        let (product, _) = crl_product("CRL", &der)?;
        Ok(Self { product, kind, der })
    }
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
    matches!(ext.as_str(), "der" | "pem" | "crt" | "cer" | "crl") || name == "cert_chain"
}

fn is_crl_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    name.ends_with(".crl") || name.contains("crl")
}

/// Read an AMD CRL file (DER, or PEM `X509 CRL`) and file it by product
/// (its issuer) and hierarchy (its name).
fn read_crl(path: &Path) -> Result<ImportedSnpCrl, CollateralError> {
    let part = path.display().to_string();
    let bytes = read_small(path)?;
    let der = if bytes.first() == Some(&0x30) {
        bytes
    } else {
        x509_parser::pem::Pem::iter_from_buffer(&bytes)
            .filter_map(Result::ok)
            .find(|p| p.label == "X509 CRL")
            .map(|p| p.contents)
            .ok_or_else(|| {
                CollateralError::bad_cert(&part, "neither a DER CRL nor a PEM X509 CRL")
            })?
    };
    let (product, _) = crl_product(&part, &der)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = if name.contains("vlek") {
        SnpKeyKind::Vlek
    } else {
        SnpKeyKind::Vcek
    };
    Ok(ImportedSnpCrl { product, kind, der })
}

fn read_small(path: &Path) -> Result<Vec<u8>, CollateralError> {
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
    std::fs::read(path).map_err(|e| io(e.to_string()))
}

/// The certificates of one file, DER.
fn file_certs(path: &Path) -> Result<Vec<Vec<u8>>, CollateralError> {
    let bytes = read_small(path)?;
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
        if is_crl_file(f) {
            let crl = read_crl(f)?;
            if !bundle.crls.contains(&crl) {
                bundle.crls.push(crl);
            }
            continue;
        }
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
    if bundle.vceks.is_empty()
        && bundle.vleks.is_empty()
        && bundle.chains.is_empty()
        && bundle.crls.is_empty()
    {
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
