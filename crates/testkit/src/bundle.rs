//! The offline-bundle file layout of DCAP collateral, as pure bytes ↔ files:
//! `tcb_info.json`, `tcb_info_issuer_chain.pem`, `qe_identity.json`,
//! `qe_identity_issuer_chain.pem`, `pck_crl.der`, `pck_crl_issuer_chain.pem`,
//! `root_ca_crl.der`. The real vectors in `../shared/vectors/sgx/*` use the
//! same names, so tests read them with [`read_bundle`].

use std::io;
use std::path::Path;

use attesta_evidence::dcap::DcapCollateral;

/// Write `collateral` into `dir` (created if missing) in the bundle layout.
pub fn write_bundle(dir: &Path, collateral: &DcapCollateral) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files(collateral) {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// The bundle's files, name → bytes.
pub fn files(c: &DcapCollateral) -> [(&'static str, &[u8]); 7] {
    [
        ("tcb_info.json", c.tcb_info_json.as_bytes()),
        (
            "tcb_info_issuer_chain.pem",
            c.tcb_info_issuer_chain.as_bytes(),
        ),
        ("qe_identity.json", c.qe_identity_json.as_bytes()),
        (
            "qe_identity_issuer_chain.pem",
            c.qe_identity_issuer_chain.as_bytes(),
        ),
        ("pck_crl.der", &c.pck_crl),
        (
            "pck_crl_issuer_chain.pem",
            c.pck_crl_issuer_chain.as_bytes(),
        ),
        ("root_ca_crl.der", &c.root_ca_crl),
    ]
}

fn text(dir: &Path, name: &str) -> io::Result<String> {
    let bytes = std::fs::read(dir.join(name))?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name} is not UTF-8: {e}"),
        )
    })
}

/// Read a bundle directory back into a [`DcapCollateral`], bytes unchanged.
pub fn read_bundle(dir: &Path) -> io::Result<DcapCollateral> {
    Ok(DcapCollateral {
        tcb_info_json: text(dir, "tcb_info.json")?,
        tcb_info_issuer_chain: text(dir, "tcb_info_issuer_chain.pem")?,
        qe_identity_json: text(dir, "qe_identity.json")?,
        qe_identity_issuer_chain: text(dir, "qe_identity_issuer_chain.pem")?,
        pck_crl: std::fs::read(dir.join("pck_crl.der"))?,
        pck_crl_issuer_chain: text(dir, "pck_crl_issuer_chain.pem")?,
        root_ca_crl: std::fs::read(dir.join("root_ca_crl.der"))?,
    })
}
