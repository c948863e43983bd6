//! X.509 pieces of DCAP verification: PEM chains, certificate and CRL
//! signatures, validity windows, revocation sets and Intel's SGX extension.
//!
//! Certificates and CRLs are decoded with x509-parser; signatures go through
//! [`crate::crypto`]. Chains are checked here rather than with webpki because
//! DCAP needs what webpki does not offer: access to the SGX extension, CRL
//! signatures verified once and cached as serial sets (webpki re-verifies
//! them on every path), and per-step errors with stable codes.

use std::collections::HashSet;

use base64::Engine;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::crypto::{self, Scheme};
use crate::error::ParseError;
use crate::reader::Reader;

/// One DER certificate as a PEM `CERTIFICATE` block (64-character lines,
/// a final newline): the encoding [`pem_certificates`] reads.
pub fn certificate_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Decode every `CERTIFICATE` block of a PEM text, in order.
///
/// Quotes often end the PEM chain with a NUL byte; anything outside the
/// BEGIN/END markers is ignored.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, BEGIN) {
        let body_start = start + BEGIN.len();
        let after = &rest[body_start..];
        let end = find(after, END).ok_or("a PEM certificate has no END marker")?;
        let body: Vec<u8> = after[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| format!("a PEM certificate is not valid base64: {e}"))?;
        out.push(der);
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decode one DER certificate, requiring it to fill the buffer.
pub fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err("trailing bytes after the certificate".into()),
        Err(e) => Err(format!("not a DER certificate: {e}")),
    }
}

/// Decode one DER CRL, requiring it to fill the buffer.
pub fn parse_crl(der: &[u8]) -> Result<CertificateRevocationList<'_>, String> {
    match CertificateRevocationList::from_der(der) {
        Ok(([], crl)) => Ok(crl),
        Ok(_) => Err("trailing bytes after the CRL".into()),
        Err(e) => Err(format!("not a DER CRL: {e}")),
    }
}

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

/// Map an X.509 signature algorithm to a scheme; Intel's PKI is ECDSA only.
fn scheme_for(alg: &x509_parser::x509::AlgorithmIdentifier<'_>) -> Option<Scheme> {
    match alg.algorithm.to_id_string().as_str() {
        OID_ECDSA_SHA256 => Some(Scheme::EcdsaP256Sha256Asn1),
        OID_ECDSA_SHA384 => Some(Scheme::EcdsaP384Sha384Asn1),
        _ => None,
    }
}

/// The raw public key (uncompressed SEC1 point) of a certificate.
pub fn public_key(cert: &X509Certificate<'_>) -> Vec<u8> {
    cert.public_key().subject_public_key.data.to_vec()
}

/// Check that `cert` is signed by `issuer_key` and names `issuer_subject`
/// (raw DER name) as its issuer.
pub fn check_issued_by(
    cert: &X509Certificate<'_>,
    issuer_subject: &[u8],
    issuer_key: &[u8],
) -> Result<(), String> {
    if cert.issuer().as_raw() != issuer_subject {
        return Err(format!(
            "certificate '{}' names issuer '{}', not the expected CA",
            cert.subject(),
            cert.issuer()
        ));
    }
    let scheme = scheme_for(&cert.signature_algorithm).ok_or_else(|| {
        format!(
            "certificate '{}' uses unsupported signature algorithm {}",
            cert.subject(),
            cert.signature_algorithm.algorithm
        )
    })?;
    crypto::verify(
        scheme,
        issuer_key,
        cert.tbs_certificate.as_ref(),
        &cert.signature_value.data,
    )
    .map_err(|_| {
        format!(
            "the signature on certificate '{}' does not verify",
            cert.subject()
        )
    })
}

/// Check that `cert` is a CA certificate (basicConstraints cA = true).
pub fn require_ca(cert: &X509Certificate<'_>) -> Result<(), String> {
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(()),
        _ => Err(format!(
            "certificate '{}' is not a CA certificate",
            cert.subject()
        )),
    }
}

/// A certificate's validity window as Unix seconds.
pub fn validity(cert: &X509Certificate<'_>) -> (i64, i64) {
    let v = cert.validity();
    (v.not_before.timestamp(), v.not_after.timestamp())
}

/// True when `at` lies within `[from, until]`.
pub fn within(at: u64, from: i64, until: i64) -> bool {
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    from <= at && at <= until
}

/// Serial numbers compare without DER sign-padding zeros.
pub fn normalise_serial(raw: &[u8]) -> Vec<u8> {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    raw[first..].to_vec()
}

/// A CRL whose signature has been checked: its window and revoked serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCrl {
    pub this_update: i64,
    pub next_update: i64,
    pub revoked: HashSet<Vec<u8>>,
}

impl CheckedCrl {
    pub fn is_revoked(&self, raw_serial: &[u8]) -> bool {
        self.revoked.contains(&normalise_serial(raw_serial))
    }
}

/// Verify a CRL's issuer name and signature; return its window and serials.
pub fn check_crl(
    der: &[u8],
    issuer_subject: &[u8],
    issuer_key: &[u8],
) -> Result<CheckedCrl, String> {
    let crl = parse_crl(der)?;
    if crl.issuer().as_raw() != issuer_subject {
        return Err(format!(
            "the CRL is issued by '{}', not the expected CA",
            crl.issuer()
        ));
    }
    let scheme = scheme_for(&crl.signature_algorithm).ok_or_else(|| {
        format!(
            "the CRL uses unsupported signature algorithm {}",
            crl.signature_algorithm.algorithm
        )
    })?;
    crypto::verify(
        scheme,
        issuer_key,
        crl.tbs_cert_list.as_ref(),
        &crl.signature_value.data,
    )
    .map_err(|_| format!("the CRL signature by '{}' does not verify", crl.issuer()))?;
    let next_update = crl
        .next_update()
        .ok_or("the CRL has no nextUpdate")?
        .timestamp();
    Ok(CheckedCrl {
        this_update: crl.last_update().timestamp(),
        next_update,
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| normalise_serial(r.raw_serial()))
            .collect(),
    })
}

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
    fn pem_without_certificates_is_an_error() {
        assert!(pem_certificates(b"nothing here").is_err());
        assert!(
            pem_certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")
                .is_err()
        );
    }

    #[test]
    fn sgx_extension_parser_is_total_on_garbage() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_sgx_extension(&junk);
        }
        assert!(parse_sgx_extension(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn serials_compare_without_padding() {
        assert_eq!(normalise_serial(&[0, 0, 5]), vec![5]);
        assert_eq!(normalise_serial(&[0x80]), vec![0x80]);
    }
}
