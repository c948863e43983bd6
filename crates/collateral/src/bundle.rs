//! Offline bundles and the cache encoding of a collateral set.
//!
//! An offline bundle is a directory with one file per collateral part, the
//! layout the shared test vectors and `attesta collateral export` use:
//!
//! | file | part |
//! |---|---|
//! | `tcb_info.json` | PCS TCB info body, signed bytes preserved |
//! | `tcb_info_issuer_chain.pem` | TCB signing chain |
//! | `qe_identity.json` | PCS QE / TD_QE identity body |
//! | `qe_identity_issuer_chain.pem` | its signing chain |
//! | `pck_crl.der` | PCK CA CRL (DER; PEM and hex accepted) |
//! | `pck_crl_issuer_chain.pem` | PCK CA + root |
//! | `root_ca_crl.der` | Intel SGX Root CA CRL (DER; PEM and hex accepted) |
//!
//! The cache encoding is JSON with the DER parts in base64, tagged with a
//! format name so a later layout can be told apart.

use std::path::Path;

use attesta_evidence::dcap::DcapCollateral;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::CollateralError;
use crate::parts::{check_pem_chain, crl_to_der, fmspc_of};

/// File names of an offline bundle, in [`DcapCollateral`] field order.
pub const BUNDLE_FILES: [&str; 7] = [
    "tcb_info.json",
    "tcb_info_issuer_chain.pem",
    "qe_identity.json",
    "qe_identity_issuer_chain.pem",
    "pck_crl.der",
    "pck_crl_issuer_chain.pem",
    "root_ca_crl.der",
];

// Bundle files are a few KiB; anything far larger is not collateral.
const MAX_FILE: u64 = 4 << 20;

fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>, CollateralError> {
    let path = dir.join(name);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CollateralError::MissingFile { path });
        }
        Err(e) => {
            return Err(CollateralError::Io {
                path,
                reason: e.to_string(),
            });
        }
    };
    if meta.len() > MAX_FILE {
        return Err(CollateralError::malformed(
            name,
            format!("{} bytes is too large for a collateral file", meta.len()),
        ));
    }
    std::fs::read(&path).map_err(|e| CollateralError::Io {
        path,
        reason: e.to_string(),
    })
}

fn read_text(dir: &Path, name: &str) -> Result<String, CollateralError> {
    String::from_utf8(read_file(dir, name)?)
        .map_err(|_| CollateralError::malformed(name, "not UTF-8 text"))
}

/// Reads an offline bundle directory into a collateral set.
///
/// Every file must be present (a missing one is [`CollateralError::MissingFile`]
/// naming it); the JSON documents must parse, the CRLs must be CRLs and the
/// chains PEM. Nothing is verified cryptographically here.
pub fn import_dir(dir: &Path) -> Result<DcapCollateral, CollateralError> {
    let [tcb, tcb_chain, qe, qe_chain, pck_crl, pck_chain, root_crl] = BUNDLE_FILES;
    let c = DcapCollateral {
        tcb_info_json: read_text(dir, tcb)?,
        tcb_info_issuer_chain: read_text(dir, tcb_chain)?,
        qe_identity_json: read_text(dir, qe)?,
        qe_identity_issuer_chain: read_text(dir, qe_chain)?,
        pck_crl: crl_to_der("PCK CRL", &read_file(dir, pck_crl)?)?,
        pck_crl_issuer_chain: read_text(dir, pck_chain)?,
        root_ca_crl: crl_to_der("root CA CRL", &read_file(dir, root_crl)?)?,
    };
    check_shape(&c)?;
    Ok(c)
}

/// Writes a collateral set as an offline bundle (the inverse of
/// [`import_dir`]); the directory is created if needed.
pub fn export_dir(c: &DcapCollateral, dir: &Path) -> Result<(), CollateralError> {
    let io = |e: std::io::Error| CollateralError::Io {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let parts: [&[u8]; 7] = [
        c.tcb_info_json.as_bytes(),
        c.tcb_info_issuer_chain.as_bytes(),
        c.qe_identity_json.as_bytes(),
        c.qe_identity_issuer_chain.as_bytes(),
        &c.pck_crl,
        c.pck_crl_issuer_chain.as_bytes(),
        &c.root_ca_crl,
    ];
    for (name, bytes) in BUNDLE_FILES.iter().zip(parts) {
        std::fs::write(dir.join(name), bytes).map_err(io)?;
    }
    Ok(())
}

/// The structural checks shared by imports and the cache decoder.
fn check_shape(c: &DcapCollateral) -> Result<(), CollateralError> {
    fmspc_of(c)?;
    let qe: serde_json::Value = serde_json::from_str(&c.qe_identity_json)
        .map_err(|e| CollateralError::malformed("QE identity", e.to_string()))?;
    if !qe.get("enclaveIdentity").is_some_and(|v| v.is_object()) {
        return Err(CollateralError::malformed(
            "QE identity",
            "no `enclaveIdentity` object",
        ));
    }
    check_pem_chain("TCB info issuer chain", &c.tcb_info_issuer_chain)?;
    check_pem_chain("QE identity issuer chain", &c.qe_identity_issuer_chain)?;
    check_pem_chain("PCK CRL issuer chain", &c.pck_crl_issuer_chain)?;
    Ok(())
}

const FORMAT: &str = "attesta/dcap-collateral/v1";

/// Where a cached collateral set came from: an explicit import (`attesta
/// collateral import`, `POST /admin/collateral`) or a fetch from the
/// collateral service. Shown by the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Imported,
    Fetched,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Imported => "imported",
            Source::Fetched => "fetched",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    format: String,
    /// Set in cache entries, absent in import bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<Source>,
    tcb_info_json: String,
    tcb_info_issuer_chain: String,
    qe_identity_json: String,
    qe_identity_issuer_chain: String,
    pck_crl: String,
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
}

/// Encodes a collateral set for a [`crate::CollateralCache`]: JSON, DER parts
/// in base64. The JSON documents are kept as strings, so their signed bytes
/// survive the round trip exactly.
pub fn serialize(c: &DcapCollateral) -> Vec<u8> {
    encode(c, None)
}

/// [`serialize`] with where the set came from, as the cache stores it.
pub(crate) fn encode(c: &DcapCollateral, source: Option<Source>) -> Vec<u8> {
    let wire = Wire {
        format: FORMAT.to_owned(),
        source,
        tcb_info_json: c.tcb_info_json.clone(),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain.clone(),
        qe_identity_json: c.qe_identity_json.clone(),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain.clone(),
        pck_crl: B64.encode(&c.pck_crl),
        pck_crl_issuer_chain: c.pck_crl_issuer_chain.clone(),
        root_ca_crl: B64.encode(&c.root_ca_crl),
    };
    // A struct of strings always serializes.
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// Decodes what [`serialize`] wrote. Anything else is
/// [`CollateralError::CacheFormat`].
pub fn deserialize(bytes: &[u8]) -> Result<DcapCollateral, CollateralError> {
    decode(bytes).map(|(c, _)| c)
}

/// [`deserialize`], and where the set came from when the encoding says.
pub(crate) fn decode(bytes: &[u8]) -> Result<(DcapCollateral, Option<Source>), CollateralError> {
    let bad = |reason: String| CollateralError::CacheFormat { reason };
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if wire.format != FORMAT {
        return Err(bad(format!("unknown format {:?}", wire.format)));
    }
    let der = |s: &str, what: &str| {
        B64.decode(s)
            .map_err(|e| bad(format!("{what} is not base64: {e}")))
    };
    let source = wire.source;
    let c = DcapCollateral {
        pck_crl: der(&wire.pck_crl, "pck_crl")?,
        root_ca_crl: der(&wire.root_ca_crl, "root_ca_crl")?,
        tcb_info_json: wire.tcb_info_json,
        tcb_info_issuer_chain: wire.tcb_info_issuer_chain,
        qe_identity_json: wire.qe_identity_json,
        qe_identity_issuer_chain: wire.qe_identity_issuer_chain,
        pck_crl_issuer_chain: wire.pck_crl_issuer_chain,
    };
    Ok((c, source))
}
