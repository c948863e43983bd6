//! Intel's SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1),
//! and the generic X.509 pieces DCAP verification uses, re-exported from
//! [`crate::pki`] (PEM chains, certificate and CRL checks, validity
//! windows, revocation sets) so SGX callers keep one import.

use x509_parser::certificate::X509Certificate;

pub use crate::pki::{
    CertificateError, CheckedCrl, certificate_pem, check_crl, check_validity, check_window,
    issued_by, normalise_serial, parse_cert, parse_crl, pem_certificates, public_key, require_ca,
    validity, within,
};

use crate::error::ParseError;
use crate::reader::Reader;

/// DER encoding of OID 1.2.840.113741.1.13.1 (Intel SGX extensions).
pub const SGX_EXTENSION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];

/// What the PCK certificate's SGX extension says about the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckExtension {
    pub ppid: Vec<u8>,
    /// SGX TCB components 1..16 (the platform's CPUSVN as Intel decomposes it).
    pub cpu_svn_components: [u8; 16],
    pub pce_svn: u16,
    pub cpu_svn: [u8; 16],
    pub pce_id: [u8; 2],
    pub fmspc: [u8; 6],
    /// 0 = Standard (Processor CA), 1 = Scalable (Platform CA).
    pub sgx_type: u8,
}

/// Find and decode the SGX extension of a PCK certificate.
pub fn pck_extension(cert: &X509Certificate<'_>) -> Result<PckExtension, String> {
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == SGX_EXTENSION_OID)
        .ok_or("the certificate has no SGX extension")?;
    parse_sgx_extension(ext.value).map_err(|e| e.to_string())
}

/// One DER TLV: (tag, contents).
fn tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), ParseError> {
    let tag = r.u8()?;
    let first = r.u8()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(ParseError::Malformed {
                what: "SGX extension",
                reason: "unsupported DER length".into(),
            });
        }
        let mut len = 0usize;
        for b in r.take(n)? {
            len = (len << 8) | *b as usize;
        }
        len
    };
    Ok((tag, r.take(len)?))
}

fn der_uint(bytes: &[u8], max: u64) -> Result<u64, ParseError> {
    let bad = || ParseError::Malformed {
        what: "SGX extension",
        reason: "integer out of range".into(),
    };
    if bytes.is_empty() || bytes.len() > 9 || bytes[0] & 0x80 != 0 {
        return Err(bad());
    }
    let mut v: u64 = 0;
    for &b in bytes {
        v = v.checked_mul(256).ok_or_else(bad)? | b as u64;
    }
    if v > max {
        return Err(bad());
    }
    Ok(v)
}

fn fixed<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N], ParseError> {
    bytes.try_into().map_err(|_| ParseError::Malformed {
        what,
        reason: format!("expected {N} bytes, found {}", bytes.len()),
    })
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTETS: u8 = 0x04;
const TAG_ENUMERATED: u8 = 0x0a;

/// Decode the SGX extension value: SEQUENCE OF SEQUENCE { OID, value }.
pub fn parse_sgx_extension(value: &[u8]) -> Result<PckExtension, ParseError> {
    let malformed = |reason: &str| ParseError::Malformed {
        what: "SGX extension",
        reason: reason.into(),
    };
    let mut outer = Reader::new(value, "SGX extension");
    let (tag, body) = tlv(&mut outer)?;
    outer.finish()?;
    if tag != TAG_SEQUENCE {
        return Err(malformed("not a SEQUENCE"));
    }
    let mut ppid = None;
    let mut tcb = None;
    let mut pce_id = None;
    let mut fmspc = None;
    let mut sgx_type = None;
    let mut r = Reader::new(body, "SGX extension");
    while !r.is_empty() {
        let (tag, item) = tlv(&mut r)?;
        if tag != TAG_SEQUENCE {
            return Err(malformed("an entry is not a SEQUENCE"));
        }
        let mut ir = Reader::new(item, "SGX extension entry");
        let (otag, oid) = tlv(&mut ir)?;
        if otag != TAG_OID
            || oid.len() != SGX_EXTENSION_OID.len() + 1
            || !oid.starts_with(SGX_EXTENSION_OID)
        {
            // Entries outside 1.2.840.113741.1.13.1.N (N < 128) are not ours to judge.
            continue;
        }
        let (vtag, v) = tlv(&mut ir)?;
        match (oid[oid.len() - 1], vtag) {
            (1, TAG_OCTETS) => ppid = Some(v.to_vec()),
            (2, TAG_SEQUENCE) => tcb = Some(parse_tcb(v)?),
            (3, TAG_OCTETS) => pce_id = Some(fixed::<2>(v, "SGX extension PCE-ID")?),
            (4, TAG_OCTETS) => fmspc = Some(fixed::<6>(v, "SGX extension FMSPC")?),
            (5, TAG_ENUMERATED) => sgx_type = Some(der_uint(v, 255)? as u8),
            (1..=5, _) => return Err(malformed("an entry has the wrong type")),
            _ => {}
        }
    }
    let (cpu_svn_components, pce_svn, cpu_svn) = tcb.ok_or_else(|| malformed("no TCB entry"))?;
    Ok(PckExtension {
        ppid: ppid.ok_or_else(|| malformed("no PPID entry"))?,
        cpu_svn_components,
        pce_svn,
        cpu_svn,
        pce_id: pce_id.ok_or_else(|| malformed("no PCE-ID entry"))?,
        fmspc: fmspc.ok_or_else(|| malformed("no FMSPC entry"))?,
        sgx_type: sgx_type.ok_or_else(|| malformed("no SGX type entry"))?,
    })
}

type Tcb = ([u8; 16], u16, [u8; 16]);

/// TCB entry: SEQUENCE { (….2.1 … ….2.16 INTEGER), ….2.17 PCESVN, ….2.18 CPUSVN }.
fn parse_tcb(body: &[u8]) -> Result<Tcb, ParseError> {
    let malformed = |reason: &str| ParseError::Malformed {
        what: "SGX extension TCB entry",
        reason: reason.into(),
    };
    let mut comps = [None::<u8>; 16];
    let mut pce_svn = None;
    let mut cpu_svn = None;
    let mut r = Reader::new(body, "SGX extension TCB entry");
    let mut tcb_oid = SGX_EXTENSION_OID.to_vec();
    tcb_oid.push(2);
    while !r.is_empty() {
        let (tag, item) = tlv(&mut r)?;
        if tag != TAG_SEQUENCE {
            return Err(malformed("an entry is not a SEQUENCE"));
        }
        let mut ir = Reader::new(item, "SGX extension TCB entry");
        let (otag, oid) = tlv(&mut ir)?;
        if otag != TAG_OID || oid.len() != tcb_oid.len() + 1 || !oid.starts_with(&tcb_oid) {
            continue;
        }
        let (vtag, v) = tlv(&mut ir)?;
        match (oid[oid.len() - 1], vtag) {
            (n @ 1..=16, TAG_INTEGER) => comps[n as usize - 1] = Some(der_uint(v, 255)? as u8),
            (17, TAG_INTEGER) => pce_svn = Some(der_uint(v, 65535)? as u16),
            (18, TAG_OCTETS) => cpu_svn = Some(fixed::<16>(v, "SGX extension CPUSVN")?),
            (1..=18, _) => return Err(malformed("an entry has the wrong type")),
            _ => {}
        }
    }
    let mut out = [0u8; 16];
    for (i, c) in comps.iter().enumerate() {
        out[i] = c.ok_or_else(|| malformed("a CPUSVN component is missing"))?;
    }
    Ok((
        out,
        pce_svn.ok_or_else(|| malformed("no PCESVN"))?,
        cpu_svn.ok_or_else(|| malformed("no CPUSVN"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgx_extension_parser_is_total_on_garbage() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_sgx_extension(&junk);
        }
        assert!(parse_sgx_extension(&[0x30, 0x00]).is_err());
    }
}
