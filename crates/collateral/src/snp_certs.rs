//! What this crate needs to *know* about AMD SEV-SNP endorsements without
//! trusting them: the product, chip and TCB a VCEK (or VLEK) names in its AMD
//! extensions, which certificate of the AMD hierarchy a certificate is (by
//! its subject common name), and when a CRL must be refreshed.
//!
//! These readings only decide where an endorsement is filed and when it is
//! refetched. The SNP verifier in `attesta-evidence` checks every signature,
//! the chain to the pinned ARK and the report's TCB against the VCEK.
//!
//! Facts from AMD's "Versioned Chip Endorsement Key (VCEK) Certificate and
//! KDS Interface Specification": the VCEK/VLEK extensions live under
//! `1.3.6.1.4.1.3704.1` — `.2` productName (IA5String such as `Milan-B0`),
//! `.3.1` blSPL, `.3.2` teeSPL, `.3.3` snpSPL, `.3.8` ucodeSPL, `.3.9` fmcSPL
//! (Turin), each a DER INTEGER, and `.4` hwID (the raw chip ID: 64 bytes on
//! Milan/Genoa, the first 8 bytes of CHIP_ID on Turin; absent on a VLEK).
//! The hierarchy's common names are `ARK-{product}`, `SEV-{product}` (ASK),
//! `SEV-VLEK-{product}` (ASVK), `SEV-VCEK` and `SEV-VLEK`.

use std::fmt;

use x509_parser::der_parser::parse_der;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::CollateralError;

/// An AMD EPYC generation with SEV-SNP, as KDS names it in its paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SnpProduct {
    Milan,
    Genoa,
    Turin,
}

impl SnpProduct {
    /// The product name in KDS paths and AMD's common names.
    pub fn as_str(self) -> &'static str {
        match self {
            SnpProduct::Milan => "Milan",
            SnpProduct::Genoa => "Genoa",
            SnpProduct::Turin => "Turin",
        }
    }

    /// Reads a product name: `Milan`, `genoa`, or a VCEK productName with a
    /// stepping suffix such as `Milan-B0`.
    pub fn from_name(name: &str) -> Option<SnpProduct> {
        let base = name.split('-').next().unwrap_or_default();
        [SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(base))
    }

    /// Bytes of the chip ID that name a chip at KDS (the VCEK hwID): all 64
    /// before Turin, the first 8 on Turin.
    pub fn hwid_len(self) -> usize {
        match self {
            SnpProduct::Turin => 8,
            SnpProduct::Milan | SnpProduct::Genoa => 64,
        }
    }

    /// Whether the VCEK of this product is keyed by an FMC SPL too.
    pub fn has_fmc(self) -> bool {
        self == SnpProduct::Turin
    }
}

impl fmt::Display for SnpProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TCB a VCEK is issued for: the security patch levels of the report's
/// `REPORTED_TCB` (Turin adds the FMC SPL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnpTcb {
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
    /// Turin only; `None` before Turin.
    pub fmc: Option<u8>,
}

impl SnpTcb {
    /// Reads an 8-byte TCB_VERSION from an attestation report (e.g.
    /// `REPORTED_TCB` at 0x180), whose layout depends on the product (AMD
    /// SEV-SNP firmware ABI): before Turin `[bootloader, tee, 0, 0, 0, 0,
    /// snp, microcode]`; on Turin `[fmc, bootloader, tee, snp, 0, 0, 0,
    /// microcode]`.
    pub fn from_tcb_version(product: SnpProduct, v: &[u8; 8]) -> SnpTcb {
        match product {
            SnpProduct::Turin => SnpTcb {
                fmc: Some(v[0]),
                bootloader: v[1],
                tee: v[2],
                snp: v[3],
                microcode: v[7],
            },
            SnpProduct::Milan | SnpProduct::Genoa => SnpTcb {
                bootloader: v[0],
                tee: v[1],
                snp: v[6],
                microcode: v[7],
                fmc: None,
            },
        }
    }

    /// The canonical spelling in cache keys, e.g. `bl3-tee0-snp8-uc115` or
    /// `fmc0-bl0-tee0-snp0-uc9`.
    pub fn key_part(&self) -> String {
        let base = format!(
            "bl{}-tee{}-snp{}-uc{}",
            self.bootloader, self.tee, self.snp, self.microcode
        );
        match self.fmc {
            Some(f) => format!("fmc{f}-{base}"),
            None => base,
        }
    }
}

/// Which endorsement key signed a report, and so which chain verifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnpKeyKind {
    /// Versioned Chip Endorsement Key: ARK → ASK → VCEK.
    Vcek,
    /// Versioned Loaded Endorsement Key (per cloud provider): ARK → ASVK → VLEK.
    Vlek,
}

impl SnpKeyKind {
    /// The path segment in KDS URLs and cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            SnpKeyKind::Vcek => "vcek",
            SnpKeyKind::Vlek => "vlek",
        }
    }
}

/// What a VCEK or VLEK names in its AMD extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpEndorsementFacts {
    pub kind: SnpKeyKind,
    pub product: SnpProduct,
    /// The hwID extension (VCEK only).
    pub hwid: Option<Vec<u8>>,
    pub tcb: SnpTcb,
}

/// The role of a certificate in AMD's SEV-SNP hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertRole {
    Ark(SnpProduct),
    Ask(SnpProduct),
    Asvk(SnpProduct),
    Vcek,
    Vlek,
}

const AMD_EXT: &str = "1.3.6.1.4.1.3704.1.";

pub(crate) fn parse_cert<'a>(
    part: &str,
    der: &'a [u8],
) -> Result<X509Certificate<'a>, CollateralError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| {
        CollateralError::bad_cert(part, format!("not a DER X.509 certificate: {e}"))
    })?;
    if !rest.is_empty() {
        return Err(CollateralError::bad_cert(
            part,
            format!("{} bytes after the certificate", rest.len()),
        ));
    }
    Ok(cert)
}

fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The role a certificate plays, from its subject common name.
pub(crate) fn role_of(part: &str, der: &[u8]) -> Result<CertRole, CollateralError> {
    let cert = parse_cert(part, der)?;
    let cn = common_name(&cert);
    let product = |name: &str| {
        SnpProduct::from_name(name).ok_or_else(|| {
            CollateralError::bad_cert(part, format!("unknown AMD product in common name {cn:?}"))
        })
    };
    if cn == "SEV-VCEK" {
        Ok(CertRole::Vcek)
    } else if cn == "SEV-VLEK" {
        Ok(CertRole::Vlek)
    } else if let Some(p) = cn.strip_prefix("ARK-") {
        Ok(CertRole::Ark(product(p)?))
    } else if let Some(p) = cn.strip_prefix("SEV-VLEK-") {
        Ok(CertRole::Asvk(product(p)?))
    } else if let Some(p) = cn.strip_prefix("SEV-") {
        Ok(CertRole::Ask(product(p)?))
    } else {
        Err(CollateralError::bad_cert(
            part,
            format!("common name {cn:?} is not one of AMD's SEV-SNP certificates"),
        ))
    }
}

fn ext_u8(part: &str, name: &str, value: &[u8]) -> Result<u8, CollateralError> {
    let (rest, obj) = parse_der(value)
        .map_err(|e| CollateralError::bad_cert(part, format!("{name} is not DER: {e}")))?;
    let n = obj
        .as_u32()
        .map_err(|e| CollateralError::bad_cert(part, format!("{name} is not an INTEGER: {e}")))?;
    if !rest.is_empty() {
        return Err(CollateralError::bad_cert(
            part,
            format!("{name} has trailing bytes"),
        ));
    }
    u8::try_from(n)
        .map_err(|_| CollateralError::bad_cert(part, format!("{name} {n} does not fit a byte")))
}

/// Reads the AMD extensions of a VCEK or VLEK.
pub fn endorsement_facts(der: &[u8]) -> Result<SnpEndorsementFacts, CollateralError> {
    let part = "VCEK/VLEK";
    let kind = match role_of(part, der)? {
        CertRole::Vcek => SnpKeyKind::Vcek,
        CertRole::Vlek => SnpKeyKind::Vlek,
        other => {
            return Err(CollateralError::bad_cert(
                part,
                format!("expected a VCEK or VLEK, found {other:?}"),
            ));
        }
    };
    let part = match kind {
        SnpKeyKind::Vcek => "VCEK",
        SnpKeyKind::Vlek => "VLEK",
    };
    let cert = parse_cert(part, der)?;
    let (mut product, mut hwid) = (None, None);
    let (mut bl, mut tee, mut snp, mut uc, mut fmc) = (None, None, None, None, None);
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        let Some(sub) = oid.strip_prefix(AMD_EXT) else {
            continue;
        };
        let v = ext.value;
        match sub {
            "2" => {
                let (_, obj) = parse_der(v).map_err(|e| {
                    CollateralError::bad_cert(part, format!("productName is not DER: {e}"))
                })?;
                let name = obj.as_str().map_err(|e| {
                    CollateralError::bad_cert(part, format!("productName is not a string: {e}"))
                })?;
                product = Some(SnpProduct::from_name(name).ok_or_else(|| {
                    CollateralError::bad_cert(part, format!("unknown productName {name:?}"))
                })?);
            }
            "3.1" => bl = Some(ext_u8(part, "blSPL", v)?),
            "3.2" => tee = Some(ext_u8(part, "teeSPL", v)?),
            "3.3" => snp = Some(ext_u8(part, "snpSPL", v)?),
            "3.8" => uc = Some(ext_u8(part, "ucodeSPL", v)?),
            "3.9" => fmc = Some(ext_u8(part, "fmcSPL", v)?),
            // The hwID extension's value is the chip ID itself, not wrapped
            // in a further DER element.
            "4" => hwid = Some(v.to_vec()),
            _ => {}
        }
    }
    let missing = |what: &str| CollateralError::bad_cert(part, format!("no {what} extension"));
    let product = product.ok_or_else(|| missing("productName"))?;
    let tcb = SnpTcb {
        bootloader: bl.ok_or_else(|| missing("blSPL"))?,
        tee: tee.ok_or_else(|| missing("teeSPL"))?,
        snp: snp.ok_or_else(|| missing("snpSPL"))?,
        microcode: uc.ok_or_else(|| missing("ucodeSPL"))?,
        fmc,
    };
    if product.has_fmc() && tcb.fmc.is_none() {
        return Err(missing("fmcSPL (required on Turin)"));
    }
    if kind == SnpKeyKind::Vcek {
        let h = hwid.as_ref().ok_or_else(|| missing("hwID"))?;
        if h.len() != product.hwid_len() {
            return Err(CollateralError::bad_cert(
                part,
                format!(
                    "hwID is {} bytes; a {product} VCEK's is {}",
                    h.len(),
                    product.hwid_len()
                ),
            ));
        }
    }
    Ok(SnpEndorsementFacts {
        kind,
        product,
        hwid,
        tcb,
    })
}

/// A CRL's `nextUpdate` (Unix seconds); checks it parses as a DER CRL
/// issued (by name) by `ARK-{product}`.
pub(crate) fn crl_next_update(
    part: &str,
    der: &[u8],
    product: SnpProduct,
) -> Result<i64, CollateralError> {
    let (issuer, next_update) = crl_facts(part, der)?;
    if issuer != format!("ARK-{product}") {
        return Err(CollateralError::bad_cert(
            part,
            format!("CRL issuer {issuer:?} is not ARK-{product}"),
        ));
    }
    Ok(next_update)
}

/// The product of an AMD CRL, from its issuer (`ARK-{product}`), and its
/// `nextUpdate`.
pub(crate) fn crl_product(part: &str, der: &[u8]) -> Result<(SnpProduct, i64), CollateralError> {
    let (issuer, next_update) = crl_facts(part, der)?;
    let product = issuer
        .strip_prefix("ARK-")
        .and_then(SnpProduct::from_name)
        .filter(|p| issuer == format!("ARK-{p}"))
        .ok_or_else(|| {
            CollateralError::bad_cert(part, format!("CRL issuer {issuer:?} is not an AMD ARK"))
        })?;
    Ok((product, next_update))
}

/// A DER CRL's issuer common name and `nextUpdate`; nothing may follow it.
fn crl_facts(part: &str, der: &[u8]) -> Result<(String, i64), CollateralError> {
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| CollateralError::bad_cert(part, format!("not a DER X.509 CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(CollateralError::bad_cert(
            part,
            format!("{} bytes after the CRL", rest.len()),
        ));
    }
    let issuer = crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let next_update = crl
        .next_update()
        .ok_or_else(|| CollateralError::bad_cert(part, "CRL has no nextUpdate"))?
        .timestamp();
    Ok((issuer, next_update))
}

/// The DER certificates of a PEM text (every `CERTIFICATE` block).
pub(crate) fn pem_certs(part: &str, pem: &[u8]) -> Result<Vec<Vec<u8>>, CollateralError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| CollateralError::bad_cert(part, format!("bad PEM: {e}")))?;
        if block.label == "CERTIFICATE" {
            out.push(block.contents);
        }
    }
    Ok(out)
}

/// PEM text of one DER certificate.
pub(crate) fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).unwrap_or_default());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// An intermediate (ASK or ASVK) and root (ARK) pair, DER, checked to be the
/// right certificates by name for `product` and `kind` — not by signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpCertChain {
    pub product: SnpProduct,
    pub kind: SnpKeyKind,
    /// ASK (VCEK chain) or ASVK (VLEK chain).
    pub intermediate: Vec<u8>,
    /// ARK.
    pub ark: Vec<u8>,
}

impl SnpCertChain {
    /// Picks the intermediate and the ARK for `product`/`kind` out of a set
    /// of certificates in any order (extra certificates are ignored).
    pub fn from_certs(
        product: SnpProduct,
        kind: SnpKeyKind,
        certs: &[Vec<u8>],
    ) -> Result<SnpCertChain, CollateralError> {
        let part = format!("{product} {} chain", kind.as_str().to_uppercase());
        let (mut inter, mut ark) = (None, None);
        for der in certs {
            match (role_of(&part, der)?, kind) {
                (CertRole::Ark(p), _) if p == product => ark = Some(der.clone()),
                (CertRole::Ask(p), SnpKeyKind::Vcek) if p == product => inter = Some(der.clone()),
                (CertRole::Asvk(p), SnpKeyKind::Vlek) if p == product => inter = Some(der.clone()),
                _ => {}
            }
        }
        let name = match kind {
            SnpKeyKind::Vcek => "ASK",
            SnpKeyKind::Vlek => "ASVK",
        };
        Ok(SnpCertChain {
            product,
            kind,
            intermediate: inter.ok_or_else(|| {
                CollateralError::bad_cert(&part, format!("no {name} for {product}"))
            })?,
            ark: ark
                .ok_or_else(|| CollateralError::bad_cert(&part, format!("no ARK-{product}")))?,
        })
    }

    /// Reads a PEM chain as KDS serves it (intermediate then ARK).
    pub fn from_pem(
        product: SnpProduct,
        kind: SnpKeyKind,
        pem: &[u8],
    ) -> Result<SnpCertChain, CollateralError> {
        let certs = pem_certs("certificate chain", pem)?;
        Self::from_certs(product, kind, &certs)
    }

    /// The chain as KDS serves it: intermediate then ARK, PEM.
    pub fn to_pem(&self) -> String {
        to_pem(&self.intermediate) + &to_pem(&self.ark)
    }
}
