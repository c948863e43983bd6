//! X.509 for every verifier: one certificate error, one signature check
//! through [`crate::crypto`], validity windows, CRLs, and one chain walker.
//!
//! Every hierarchy the verifiers trust is checked here: Intel's PCK and TCB
//! signing chains (SGX, TDX, Open Enclave, service signing certificates),
//! AMD's ARK → ASK/ASVK → VCEK/VLEK chain (SEV-SNP, Azure CVMs), TPM and
//! vTPM attestation-key chains, and the `x5c` chains of policy JWS.
//!
//! ## Pieces
//!
//! * [`CertificateError`] — what went wrong with which certificate or CRL
//!   ([`Named`]: its role in the chain and its subject), with the times of a
//!   validity failure carried and shown in RFC 3339. Each TEE maps it into
//!   its own error type at one place, keeping that TEE's stable codes.
//! * Primitives — [`issued_by`] (issuer name and signature; the signature
//!   algorithm is read from the certificate, the key from the issuer, and
//!   the check runs in [`crate::crypto`]), [`require_ca`], [`check_validity`],
//!   [`check_crl`] and [`CheckedCrl`] (a CRL whose signature has been
//!   checked, kept as a set of revoked serials).
//! * [`walk`] — finds a path leaf → intermediates → trust anchor and checks
//!   on every step: the issuer's name and signature, that the issuer is a CA
//!   allowed to sign certificates (basicConstraints, keyUsage,
//!   pathLenConstraint), the validity of every certificate at the
//!   verification time (the anchor's too), and revocation against the CRLs
//!   given for an issuer on the path (the CRL's signature by that issuer and
//!   its time window are checked too: a CRL that names an issuer on the path
//!   but does not verify, or is not current, is an error).
//!
//! ## Why a walker of our own rather than webpki
//!
//! * Verifiers read vendor extensions from the certificates they checked
//!   (Intel's SGX extension, AMD's TCB and hwID extensions), so the chain
//!   check and the extension reading share one parse.
//! * DCAP verifies a CRL's signature once and caches it as a serial set
//!   ([`CheckedCrl`]) for every quote of a platform; webpki re-verifies CRLs
//!   on every path.
//! * Each step fails with its own typed error, and each verifier keeps
//!   stable per-step codes (`PckCaExpired`, `AskRevoked`,
//!   `AkCertificateRevoked`, …) that clients and the MAA error mapping rely
//!   on; webpki reports one error for a whole path search.
//! * AMD encodes its RSASSA-PSS AlgorithmIdentifier with the DEFAULT
//!   trailer field written out, which webpki's byte-exact algorithm match
//!   refuses; here the parameters are decoded and judged.
//!
//! ## Signature algorithms
//!
//! ECDSA with SHA-256 or SHA-384 over P-256 or P-384 keys; RSASSA-PKCS1-v1_5
//! with SHA-256/384/512 and RSASSA-PSS with SHA-256/384/512 (MGF1 over the
//! same digest, salt as long as the digest) over 2048–8192-bit keys; and
//! Ed25519. Certificates signed with SHA-1 are refused
//! ([`CertificateError::UnsupportedSignatureAlgorithm`]): chosen-prefix
//! SHA-1 collisions are practical, so such a signature proves nothing.
//!
//! ## Revocation scope
//!
//! A CRL is taken as the complete list of its issuer: delta CRLs and
//! partitioned CRLs (deltaCRLIndicator, issuingDistributionPoint) are
//! refused rather than read as complete. A CRL must have a nextUpdate.

use std::collections::HashSet;
use std::fmt;

use base64::Engine;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::crypto::{self, Scheme};
use crate::types::{UnixTime, rfc3339};

// ------------------------------------------------------------------ errors

/// The role of a certificate (or CRL) in the chain a [`CertificateError`]
/// is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end-entity certificate a chain starts at.
    Leaf,
    /// A CA certificate between the leaf and a trust anchor.
    Intermediate,
    /// A trusted certificate a chain ends at.
    Anchor,
    /// A certificate checked on its own, outside a chain walk.
    Certificate,
    /// A certificate revocation list.
    Crl,
}

/// Which certificate or CRL an error is about: its role and its subject
/// (for a CRL, its issuer). The name is empty when the item could not be
/// decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub role: Role,
    pub name: String,
}

impl Named {
    pub fn new(role: Role, name: impl Into<String>) -> Self {
        Self {
            role,
            name: name.into(),
        }
    }

    /// A certificate in `role`, named by its subject.
    pub fn cert(cert: &X509Certificate<'_>, role: Role) -> Self {
        Self::new(role, name_of(cert))
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = match self.role {
            Role::Leaf | Role::Certificate => "certificate",
            Role::Intermediate => "intermediate CA certificate",
            Role::Anchor => "trusted root certificate",
            Role::Crl => "CRL",
        };
        match (self.role, self.name.is_empty()) {
            (_, true) => write!(f, "the {noun}"),
            (Role::Crl, false) => write!(f, "the CRL of '{}'", self.name),
            (_, false) => write!(f, "{noun} '{}'", self.name),
        }
    }
}

/// How to get past a validity failure of `what`.
fn renew_hint(what: &Named) -> &'static str {
    match what.role {
        Role::Crl => "fetch a current CRL from its issuer",
        Role::Anchor => "configure a current root certificate",
        _ => "obtain a current certificate from its issuer",
    }
}

fn not_ca_message(what: &Named, reason: &str) -> String {
    match what.role {
        Role::Crl => format!(
            "{what} is signed by a certificate that may not sign CRLs ({reason}); use the CRL its issuer's CRL-signing key made"
        ),
        _ => format!(
            "{what} may not sign certificates ({reason}), so a chain through it is not valid; send the chain through a CA"
        ),
    }
}

/// Why a certificate, a chain or a CRL did not verify. Every variant names
/// the item ([`Named`]) and its message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("{cert} cannot be decoded ({reason}); send it as its issuer made it (DER, or PEM)")]
    BadEncoding { cert: Named, reason: String },
    #[error(
        "{cert} is issued by '{issuer}', which is neither a trusted root nor among the certificates sent with it; send the chain up to a trusted root, or configure the root it ends at"
    )]
    UnknownIssuer { cert: Named, issuer: String },
    #[error(
        "{cert} names '{issuer}' as its issuer, not '{expected}', the CA it must come from; send the certificate that CA issued"
    )]
    IssuerMismatch {
        cert: Named,
        issuer: String,
        expected: String,
    },
    #[error(
        "the signature on {cert} does not verify with the key of '{issuer}': it was altered, or another key with that name signed it; send the chain its issuer made"
    )]
    BadSignature { cert: Named, issuer: String },
    #[error(
        "{cert} is signed with {algorithm}, which is not accepted (ECDSA P-256/P-384 with SHA-256/384, RSA PKCS#1 v1.5 or PSS with SHA-256/384/512, Ed25519 are); have it re-issued with one of those"
    )]
    UnsupportedSignatureAlgorithm { cert: Named, algorithm: String },
    #[error("{}", not_ca_message(.cert, .reason))]
    NotCa { cert: Named, reason: &'static str },
    #[error(
        "{cert} allows {path_len} CA certificate(s) below it (pathLenConstraint) and the chain has {below}; send a chain within that limit"
    )]
    PathLenExceeded {
        cert: Named,
        path_len: u32,
        below: usize,
    },
    #[error(
        "{cert} has expired: valid {} to {}, verification time {}; {}",
        rfc3339(*.not_before), rfc3339(*.not_after), rfc3339(*.at), renew_hint(.cert)
    )]
    Expired {
        cert: Named,
        not_before: i64,
        not_after: i64,
        at: i64,
    },
    #[error(
        "{cert} is not yet valid: valid {} to {}, verification time {}; check the verification time or the clock",
        rfc3339(*.not_before), rfc3339(*.not_after), rfc3339(*.at)
    )]
    NotYetValid {
        cert: Named,
        not_before: i64,
        not_after: i64,
        at: i64,
    },
    #[error(
        "{cert} (serial {serial}) is revoked by the CRL of '{crl_issuer}'; it can no longer be trusted, obtain a new certificate"
    )]
    Revoked {
        cert: Named,
        serial: String,
        crl_issuer: String,
    },
    #[error(
        "no chain from {cert} reaches a trusted root within {max_depth} certificates; send a shorter chain or configure a closer root"
    )]
    ChainTooLong { cert: Named, max_depth: usize },
    #[error(
        "the certificates sent with {cert} offer too many candidate issuers (more than {budget} signature checks); send only the certificates of its chain"
    )]
    TooManyCandidates { cert: Named, budget: usize },
}

impl CertificateError {
    /// The certificate or CRL the error is about.
    pub fn named(&self) -> &Named {
        use CertificateError::*;
        match self {
            BadEncoding { cert, .. }
            | UnknownIssuer { cert, .. }
            | IssuerMismatch { cert, .. }
            | BadSignature { cert, .. }
            | UnsupportedSignatureAlgorithm { cert, .. }
            | NotCa { cert, .. }
            | PathLenExceeded { cert, .. }
            | Expired { cert, .. }
            | NotYetValid { cert, .. }
            | Revoked { cert, .. }
            | ChainTooLong { cert, .. }
            | TooManyCandidates { cert, .. } => cert,
        }
    }

    fn named_mut(&mut self) -> &mut Named {
        use CertificateError::*;
        match self {
            BadEncoding { cert, .. }
            | UnknownIssuer { cert, .. }
            | IssuerMismatch { cert, .. }
            | BadSignature { cert, .. }
            | UnsupportedSignatureAlgorithm { cert, .. }
            | NotCa { cert, .. }
            | PathLenExceeded { cert, .. }
            | Expired { cert, .. }
            | NotYetValid { cert, .. }
            | Revoked { cert, .. }
            | ChainTooLong { cert, .. }
            | TooManyCandidates { cert, .. } => cert,
        }
    }

    /// The role of the item the error is about.
    pub fn role(&self) -> Role {
        self.named().role
    }

    /// The same error about the same item, in `role`: primitives report
    /// [`Role::Certificate`]; a caller that knows the item's place in its
    /// chain says so. A CRL stays a CRL.
    pub fn in_role(mut self, role: Role) -> Self {
        let named = self.named_mut();
        if named.role != Role::Crl {
            named.role = role;
        }
        self
    }

    /// Whether the time window (of a certificate or CRL) is what failed.
    pub fn is_validity(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NotYetValid { .. })
    }
}

/// A certificate's subject as text; for an empty subject (some TPM AK
/// certificates have one), its serial number.
pub fn name_of(cert: &X509Certificate<'_>) -> String {
    let subject = cert.subject().to_string();
    if subject.is_empty() {
        format!("serial {}", hex::encode(cert.raw_serial()))
    } else {
        subject
    }
}

fn bad_encoding(role: Role, reason: impl Into<String>) -> CertificateError {
    CertificateError::BadEncoding {
        cert: Named::new(role, ""),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------- decoding

/// One DER item as a PEM block labelled `label` (64-character lines, a
/// final newline).
pub fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// One DER certificate as a PEM `CERTIFICATE` block: the encoding
/// [`pem_certificates`] reads.
pub fn certificate_pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

/// Decode every `CERTIFICATE` block of a PEM text, in order.
///
/// Quotes often end the PEM chain with a NUL byte; anything outside the
/// BEGIN/END markers is ignored.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, CertificateError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, BEGIN) {
        let body_start = start + BEGIN.len();
        let after = &rest[body_start..];
        let end = find(after, END).ok_or_else(|| {
            bad_encoding(Role::Certificate, "a PEM certificate has no END marker")
        })?;
        let body: Vec<u8> = after[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| {
                bad_encoding(
                    Role::Certificate,
                    format!("a PEM certificate is not valid base64: {e}"),
                )
            })?;
        out.push(der);
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        return Err(bad_encoding(Role::Certificate, "no PEM certificate found"));
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decode one DER certificate, requiring it to fill the buffer.
pub fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(bad_encoding(
            Role::Certificate,
            format!("{} trailing bytes after the certificate", rest.len()),
        )),
        Err(e) => Err(bad_encoding(
            Role::Certificate,
            format!("not a DER certificate: {e}"),
        )),
    }
}

/// Decode one DER CRL, requiring it to fill the buffer.
pub fn parse_crl(der: &[u8]) -> Result<CertificateRevocationList<'_>, CertificateError> {
    match CertificateRevocationList::from_der(der) {
        Ok(([], crl)) => Ok(crl),
        Ok((rest, _)) => Err(bad_encoding(
            Role::Crl,
            format!("{} trailing bytes after the CRL", rest.len()),
        )),
        Err(e) => Err(bad_encoding(Role::Crl, format!("not a DER CRL: {e}"))),
    }
}

/// The raw public key of a certificate: the uncompressed SEC1 point of an
/// EC key, the DER `RSAPublicKey` of an RSA key.
pub fn public_key(cert: &X509Certificate<'_>) -> Vec<u8> {
    cert.public_key().subject_public_key.data.to_vec()
}

// -------------------------------------------------------------- signatures

/// A certificate or CRL signature algorithm this module verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    EcdsaSha256,
    EcdsaSha384,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    Ed25519,
}

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_ED25519: &str = "1.3.101.112";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_KEY_RSA: &str = "1.2.840.113549.1.1.1";
const OID_KEY_EC: &str = "1.2.840.10045.2.1";
const OID_CURVE_P256: &str = "1.2.840.10045.3.1.7";
const OID_CURVE_P384: &str = "1.3.132.0.34";
const OID_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
const OID_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";

/// The signature algorithm an AlgorithmIdentifier names, when it is one
/// this module verifies: for RSASSA-PSS, the parameters must name SHA-256,
/// SHA-384 or SHA-512 as the hash, MGF1 with that hash, a salt as long as
/// its digest, and trailer field 1 (explicit or by default).
pub fn signature_algorithm(alg: &AlgorithmIdentifier<'_>) -> Option<SignatureAlgorithm> {
    use SignatureAlgorithm::*;
    match alg.algorithm.to_id_string().as_str() {
        OID_ECDSA_SHA256 => Some(EcdsaSha256),
        OID_ECDSA_SHA384 => Some(EcdsaSha384),
        OID_RSA_SHA256 => Some(RsaPkcs1Sha256),
        OID_RSA_SHA384 => Some(RsaPkcs1Sha384),
        OID_RSA_SHA512 => Some(RsaPkcs1Sha512),
        OID_ED25519 => Some(Ed25519),
        OID_RSASSA_PSS => pss_algorithm(alg),
        _ => None,
    }
}

/// RSASSA-PSS-params (RFC 4055): only the combinations aws-lc-rs verifies
/// (MGF1 over the signature's hash, salt length = digest length).
fn pss_algorithm(alg: &AlgorithmIdentifier<'_>) -> Option<SignatureAlgorithm> {
    use x509_parser::signature_algorithm::RsaSsaPssParams;
    let params = RsaSsaPssParams::try_from(alg.parameters.as_ref()?).ok()?;
    let hash = params.hash_algorithm()?.algorithm.to_id_string();
    let (found, salt) = match hash.as_str() {
        OID_SHA256 => (SignatureAlgorithm::RsaPssSha256, 32),
        OID_SHA384 => (SignatureAlgorithm::RsaPssSha384, 48),
        OID_SHA512 => (SignatureAlgorithm::RsaPssSha512, 64),
        _ => return None,
    };
    let mgf = params.mask_gen_algorithm().ok()?;
    let fits = mgf.mgf.to_id_string() == OID_MGF1
        && mgf.hash.to_id_string() == hash
        && params.salt_length() == salt
        && params.trailer_field() == 1;
    fits.then_some(found)
}

/// A human description of an AlgorithmIdentifier (for errors).
fn describe(alg: &AlgorithmIdentifier<'_>) -> String {
    let oid = alg.algorithm.to_id_string();
    let name = match oid.as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "RSA with SHA-1",
        "1.2.840.10045.4.1" => "ECDSA with SHA-1",
        "1.2.840.113549.1.1.4" => "RSA with MD5",
        OID_RSASSA_PSS => {
            "RSASSA-PSS with parameters other than SHA-256/384/512, MGF1 over the same hash and a digest-length salt"
        }
        _ => "",
    };
    if name.is_empty() {
        format!("algorithm {oid}")
    } else {
        format!("{name} ({oid})")
    }
}

/// The crypto-boundary scheme for `alg` with the issuer key `key`, or
/// `None` when the key cannot make such a signature (wrong type, a curve
/// other than P-256/P-384).
fn scheme_for(alg: SignatureAlgorithm, key: &SubjectPublicKeyInfo<'_>) -> Option<Scheme> {
    use SignatureAlgorithm::*;
    let key_alg = key.algorithm.algorithm.to_id_string();
    let rsa = key_alg == OID_KEY_RSA || key_alg == OID_RSASSA_PSS;
    let curve = (key_alg == OID_KEY_EC)
        .then(|| key.algorithm.parameters.as_ref()?.as_oid().ok())
        .flatten()
        .map(|c| c.to_id_string());
    match (alg, curve.as_deref()) {
        (EcdsaSha256, Some(OID_CURVE_P256)) => Some(Scheme::EcdsaP256Sha256Asn1),
        (EcdsaSha384, Some(OID_CURVE_P256)) => Some(Scheme::EcdsaP256Sha384Asn1),
        (EcdsaSha256, Some(OID_CURVE_P384)) => Some(Scheme::EcdsaP384Sha256Asn1),
        (EcdsaSha384, Some(OID_CURVE_P384)) => Some(Scheme::EcdsaP384Sha384Asn1),
        (RsaPkcs1Sha256, _) if rsa => Some(Scheme::RsaPkcs1Sha256),
        (RsaPkcs1Sha384, _) if rsa => Some(Scheme::RsaPkcs1Sha384),
        (RsaPkcs1Sha512, _) if rsa => Some(Scheme::RsaPkcs1Sha512),
        (RsaPssSha256, _) if rsa => Some(Scheme::RsaPssSha256),
        (RsaPssSha384, _) if rsa => Some(Scheme::RsaPssSha384),
        (RsaPssSha512, _) if rsa => Some(Scheme::RsaPssSha512),
        (Ed25519, _) if key_alg == OID_ED25519 => Some(Scheme::Ed25519),
        _ => None,
    }
}

/// Verify a signature over `tbs` (of the item `what`) by `issuer`'s key.
fn check_signature(
    what: Named,
    issuer: &X509Certificate<'_>,
    alg: &AlgorithmIdentifier<'_>,
    tbs: &[u8],
    signature: &[u8],
) -> Result<(), CertificateError> {
    let Some(algorithm) = signature_algorithm(alg) else {
        return Err(CertificateError::UnsupportedSignatureAlgorithm {
            cert: what,
            algorithm: describe(alg),
        });
    };
    let bad = |what| CertificateError::BadSignature {
        cert: what,
        issuer: name_of(issuer),
    };
    let key = issuer.public_key();
    let Some(scheme) = scheme_for(algorithm, key) else {
        return Err(bad(what));
    };
    crypto::verify(scheme, &key.subject_public_key.data, tbs, signature).map_err(|_| bad(what))
}

/// Check that `cert` names `issuer` as its issuer and carries a signature
/// by `issuer`'s key (in an algorithm [`signature_algorithm`] accepts).
/// Errors are about `cert`, in [`Role::Certificate`].
pub fn issued_by(
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<(), CertificateError> {
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(CertificateError::IssuerMismatch {
            cert: Named::cert(cert, Role::Certificate),
            issuer: cert.issuer().to_string(),
            expected: name_of(issuer),
        });
    }
    check_signature(
        Named::cert(cert, Role::Certificate),
        issuer,
        &cert.signature_algorithm,
        cert.tbs_certificate.as_ref(),
        &cert.signature_value.data,
    )
}

/// keyUsage bits (RFC 5280 4.2.1.3), when the extension is present.
fn key_usage(cert: &X509Certificate<'_>) -> Result<Option<(bool, bool)>, CertificateError> {
    match cert.key_usage() {
        Ok(Some(ku)) => Ok(Some((ku.value.key_cert_sign(), ku.value.crl_sign()))),
        Ok(None) => Ok(None),
        Err(e) => Err(CertificateError::BadEncoding {
            cert: Named::cert(cert, Role::Certificate),
            reason: format!("its keyUsage extension is invalid: {e}"),
        }),
    }
}

/// Check that `cert` may issue certificates: basicConstraints cA is true
/// and, when it has a keyUsage extension, keyCertSign is set.
pub fn require_ca(cert: &X509Certificate<'_>) -> Result<(), CertificateError> {
    let not_ca = |reason| CertificateError::NotCa {
        cert: Named::cert(cert, Role::Certificate),
        reason,
    };
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        _ => return Err(not_ca("basicConstraints does not say cA")),
    }
    match key_usage(cert)? {
        Some((false, _)) => Err(not_ca("its keyUsage lacks keyCertSign")),
        _ => Ok(()),
    }
}

/// The pathLenConstraint of a CA certificate, if it has one.
fn path_len(cert: &X509Certificate<'_>) -> Option<u32> {
    cert.basic_constraints()
        .ok()
        .flatten()
        .and_then(|bc| bc.value.path_len_constraint)
}

// ---------------------------------------------------------------- validity

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

/// Check that `at` lies within `window` (inclusive) of the item `what`:
/// [`CertificateError::NotYetValid`] before it, [`CertificateError::Expired`]
/// after it, both with the window and the time.
pub fn check_window(what: Named, window: (i64, i64), at: UnixTime) -> Result<(), CertificateError> {
    let t = i64::try_from(at.0).unwrap_or(i64::MAX);
    let (not_before, not_after) = window;
    if t < not_before {
        Err(CertificateError::NotYetValid {
            cert: what,
            not_before,
            not_after,
            at: t,
        })
    } else if t > not_after {
        Err(CertificateError::Expired {
            cert: what,
            not_before,
            not_after,
            at: t,
        })
    } else {
        Ok(())
    }
}

/// Check that `cert` is valid at `at` (errors in [`Role::Certificate`]).
pub fn check_validity(cert: &X509Certificate<'_>, at: UnixTime) -> Result<(), CertificateError> {
    check_window(Named::cert(cert, Role::Certificate), validity(cert), at)
}

// -------------------------------------------------------------------- CRLs

/// Serial numbers compare without DER sign-padding zeros.
pub fn normalise_serial(raw: &[u8]) -> Vec<u8> {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    raw[first..].to_vec()
}

/// A CRL whose issuer and signature have been checked: its issuer, window
/// and revoked serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCrl {
    /// The issuer's name, as text (for errors).
    pub issuer: String,
    pub this_update: i64,
    pub next_update: i64,
    pub revoked: HashSet<Vec<u8>>,
}

impl CheckedCrl {
    /// Whether the serial (raw DER integer bytes) is on the list.
    pub fn is_revoked(&self, raw_serial: &[u8]) -> bool {
        self.revoked.contains(&normalise_serial(raw_serial))
    }

    /// Check that the CRL is current at `at` (thisUpdate ≤ at ≤ nextUpdate).
    pub fn check_time(&self, at: UnixTime) -> Result<(), CertificateError> {
        check_window(
            Named::new(Role::Crl, self.issuer.clone()),
            (self.this_update, self.next_update),
            at,
        )
    }

    /// Check that `cert` is not on the list ([`CertificateError::Revoked`],
    /// in [`Role::Certificate`]).
    pub fn check(&self, cert: &X509Certificate<'_>) -> Result<(), CertificateError> {
        if self.is_revoked(cert.raw_serial()) {
            return Err(CertificateError::Revoked {
                cert: Named::cert(cert, Role::Certificate),
                serial: hex::encode(cert.raw_serial()),
                crl_issuer: self.issuer.clone(),
            });
        }
        Ok(())
    }
}

/// Check a decoded CRL: issued by `issuer` (name, cRLSign when `issuer`
/// has a keyUsage extension, signature), complete (no delta or
/// partition extension), with a nextUpdate. The window is not judged here:
/// see [`CheckedCrl::check_time`].
pub fn check_parsed_crl(
    crl: &CertificateRevocationList<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<CheckedCrl, CertificateError> {
    let what = Named::new(Role::Crl, crl.issuer().to_string());
    if crl.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(CertificateError::IssuerMismatch {
            cert: what,
            issuer: crl.issuer().to_string(),
            expected: name_of(issuer),
        });
    }
    if let Some((_, false)) = key_usage(issuer)? {
        return Err(CertificateError::NotCa {
            cert: what,
            reason: "the issuer's keyUsage lacks cRLSign",
        });
    }
    check_signature(
        what.clone(),
        issuer,
        &crl.signature_algorithm,
        crl.tbs_cert_list.as_ref(),
        &crl.signature_value.data,
    )?;
    let partial = crl.extensions().iter().find(|e| {
        let oid = e.oid.to_id_string();
        oid == OID_DELTA_CRL_INDICATOR || oid == OID_ISSUING_DISTRIBUTION_POINT
    });
    if let Some(ext) = partial {
        return Err(CertificateError::BadEncoding {
            cert: what,
            reason: format!(
                "it is a delta or partitioned CRL (extension {}), not the complete list of its issuer",
                ext.oid
            ),
        });
    }
    let Some(next_update) = crl.next_update() else {
        return Err(CertificateError::BadEncoding {
            cert: what,
            reason: "it has no nextUpdate, so its freshness cannot be judged".into(),
        });
    };
    Ok(CheckedCrl {
        issuer: what.name,
        this_update: crl.last_update().timestamp(),
        next_update: next_update.timestamp(),
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| normalise_serial(r.raw_serial()))
            .collect(),
    })
}

/// [`check_parsed_crl`] on DER.
pub fn check_crl(der: &[u8], issuer: &X509Certificate<'_>) -> Result<CheckedCrl, CertificateError> {
    check_parsed_crl(&parse_crl(der)?, issuer)
}

// ------------------------------------------------------------------ walker

/// Longest path [`walk`] builds when asked for more (recursion bound).
pub const MAX_DEPTH_LIMIT: usize = 16;

/// Signature checks one [`walk`] may spend on candidate issuers: enough for
/// any honest chain (one per step) with a few same-named alternatives,
/// while a request stuffed with look-alike intermediates cannot make a
/// verifier run thousands of RSA verifications.
pub const SIGNATURE_BUDGET: usize = 32;

/// What [`walk`] is given besides the certificates.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The most certificates below the anchor (the leaf included) a path
    /// may have; at most [`MAX_DEPTH_LIMIT`].
    pub max_depth: usize,
    /// CRLs (DER). A CRL applies to the certificates its issuer signed on
    /// the path; CRLs of issuers not on the path are not looked at beyond
    /// decoding.
    pub crls: Vec<&'a [u8]>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            max_depth: 8,
            crls: Vec::new(),
        }
    }
}

/// A path that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPath {
    /// Index (into the anchors given) of the anchor the path ends at.
    pub anchor: usize,
    /// Indices (into the intermediates given) of the path's intermediates,
    /// leaf side first.
    pub intermediates: Vec<usize>,
    /// When the verdict holds: the latest notBefore / thisUpdate and the
    /// earliest notAfter / nextUpdate of every certificate on the path and
    /// every CRL that applied.
    pub not_before: i64,
    pub not_after: i64,
}

/// Find and check a path from `leaf` through some of `intermediates` (any
/// order; each used at most once) to one of `anchors`, at `at`.
///
/// On each step from a certificate to its issuer: the issuer's subject is
/// the certificate's issuer name and its key verifies the certificate's
/// signature; the issuer is a CA allowed to sign certificates (basic
/// constraints, keyUsage, pathLenConstraint); the issuer is valid at `at`;
/// and every CRL of `options` issued under the issuer's name verifies with
/// the issuer's key, is current at `at` and does not list the certificate.
/// The leaf must be valid at `at` too. Candidate issuers are tried anchors
/// first, then intermediates in the order given; when no path verifies, the
/// error is the most telling one met (a failure after a verified signature
/// before a signature failure before an unknown issuer, the first of a
/// kind), with the item's role in the chain.
///
/// Anchors that do not decode are skipped; an intermediate or CRL that does
/// not decode is an error.
pub fn walk<I: AsRef<[u8]>, A: AsRef<[u8]>>(
    leaf: &[u8],
    intermediates: &[I],
    anchors: &[A],
    at: UnixTime,
    options: &Options<'_>,
) -> Result<VerifiedPath, CertificateError> {
    let leaf = parse_cert(leaf).map_err(|e| e.in_role(Role::Leaf))?;
    let intermediates: Vec<X509Certificate<'_>> = intermediates
        .iter()
        .enumerate()
        .map(|(i, d)| {
            parse_cert(d.as_ref()).map_err(|e| match e {
                CertificateError::BadEncoding { reason, .. } => CertificateError::BadEncoding {
                    cert: Named::new(Role::Intermediate, format!("#{}", i + 1)),
                    reason,
                },
                other => other,
            })
        })
        .collect::<Result<_, _>>()?;
    let anchors: Vec<(usize, X509Certificate<'_>)> = anchors
        .iter()
        .enumerate()
        .filter_map(|(i, d)| parse_cert(d.as_ref()).ok().map(|c| (i, c)))
        .collect();
    let crls: Vec<CertificateRevocationList<'_>> = options
        .crls
        .iter()
        .map(|d| parse_crl(d))
        .collect::<Result<_, _>>()?;
    check_validity(&leaf, at).map_err(|e| e.in_role(Role::Leaf))?;

    let mut search = Search {
        intermediates: &intermediates,
        anchors: &anchors,
        crls: &crls,
        at,
        max_depth: options.max_depth.clamp(1, MAX_DEPTH_LIMIT),
        budget: SIGNATURE_BUDGET,
        exhausted: false,
        used: vec![false; intermediates.len()],
        path: Vec::new(),
        best: None,
    };
    let Some(found) = search.extend(&leaf, Role::Leaf, 1) else {
        // mutants: equivalent — the fallback is unreachable: `extend` notes
        // an error on every way it fails.
        return Err(search.best.map(|(_, e)| e).unwrap_or_else(|| {
            CertificateError::UnknownIssuer {
                cert: Named::cert(&leaf, Role::Leaf),
                issuer: leaf.issuer().to_string(),
            }
        }));
    };

    // The window of the verdict: every certificate on the path and every
    // CRL of an issuer on it.
    let (anchor, anchor_cert) = &anchors[found];
    let mut on_path: Vec<&X509Certificate<'_>> = vec![&leaf];
    on_path.extend(search.path.iter().map(|&i| &intermediates[i]));
    on_path.push(anchor_cert);
    let (mut not_before, mut not_after) = validity(&leaf);
    for c in &on_path[1..] {
        let (nb, na) = validity(c);
        not_before = not_before.max(nb);
        not_after = not_after.min(na);
        for crl in crls
            .iter()
            .filter(|l| l.issuer().as_raw() == c.subject().as_raw())
        {
            not_before = not_before.max(crl.last_update().timestamp());
            if let Some(next) = crl.next_update() {
                not_after = not_after.min(next.timestamp());
            }
        }
    }
    Ok(VerifiedPath {
        anchor: *anchor,
        intermediates: search.path,
        not_before,
        not_after,
    })
}

/// The depth-first path search of [`walk`].
struct Search<'x, 'c> {
    intermediates: &'x [X509Certificate<'c>],
    anchors: &'x [(usize, X509Certificate<'c>)],
    crls: &'x [CertificateRevocationList<'c>],
    at: UnixTime,
    max_depth: usize,
    budget: usize,
    exhausted: bool,
    used: Vec<bool>,
    path: Vec<usize>,
    /// The most telling error met so far, with its rank.
    best: Option<(u8, CertificateError)>,
}

/// How telling a failure is: one after a verified signature says most.
fn rank(e: &CertificateError) -> u8 {
    match e {
        CertificateError::UnknownIssuer { .. } => 0,
        CertificateError::BadSignature { .. }
        | CertificateError::UnsupportedSignatureAlgorithm { .. } => 1,
        CertificateError::ChainTooLong { .. } | CertificateError::TooManyCandidates { .. } => 2,
        _ => 3,
    }
}

impl<'x, 'c> Search<'x, 'c> {
    fn note(&mut self, e: CertificateError) {
        let r = rank(&e);
        if self.best.as_ref().is_none_or(|(best, _)| r > *best) {
            self.best = Some((r, e));
        }
    }

    /// Extend the path from `child` (`below` certificates from the leaf up
    /// to and including it) to an anchor; the anchor's position in
    /// `self.anchors` on success.
    fn extend(&mut self, child: &X509Certificate<'c>, role: Role, below: usize) -> Option<usize> {
        let anchors = self.anchors;
        let intermediates = self.intermediates;
        let issuer_name = child.issuer().as_raw();
        let mut named = false;
        for (position, (_, anchor)) in anchors.iter().enumerate() {
            if anchor.subject().as_raw() != issuer_name {
                continue;
            }
            named = true;
            match self.step(child, role, anchor, Role::Anchor, below) {
                Ok(()) => return Some(position),
                Err(e) => self.note(e),
            }
            if self.exhausted {
                return None;
            }
        }
        for (i, next) in intermediates.iter().enumerate() {
            if self.used[i] || next.subject().as_raw() != issuer_name {
                continue;
            }
            named = true;
            if below >= self.max_depth {
                self.note(CertificateError::ChainTooLong {
                    cert: Named::cert(child, role),
                    max_depth: self.max_depth,
                });
                break;
            }
            if let Err(e) = self.step(child, role, next, Role::Intermediate, below) {
                self.note(e);
                if self.exhausted {
                    return None;
                }
                continue;
            }
            self.used[i] = true;
            self.path.push(i);
            if let Some(anchor) = self.extend(next, Role::Intermediate, below + 1) {
                return Some(anchor);
            }
            self.used[i] = false;
            self.path.pop();
            if self.exhausted {
                return None;
            }
        }
        if !named {
            self.note(CertificateError::UnknownIssuer {
                cert: Named::cert(child, role),
                issuer: child.issuer().to_string(),
            });
        }
        None
    }

    /// One step: `issuer` (in `issuer_role`) issued `child` (in `role`),
    /// with `below` certificates from the leaf up to `child`.
    fn step(
        &mut self,
        child: &X509Certificate<'c>,
        role: Role,
        issuer: &X509Certificate<'c>,
        issuer_role: Role,
        below: usize,
    ) -> Result<(), CertificateError> {
        if self.budget == 0 {
            self.exhausted = true;
            return Err(CertificateError::TooManyCandidates {
                cert: Named::cert(child, role),
                budget: SIGNATURE_BUDGET,
            });
        }
        self.budget -= 1;
        issued_by(child, issuer).map_err(|e| e.in_role(role))?;
        require_ca(issuer).map_err(|e| e.in_role(issuer_role))?;
        // CA certificates below the issuer: the path's intermediates.
        let cas_below = below - 1;
        if let Some(n) = path_len(issuer)
            && cas_below > n as usize
        {
            return Err(CertificateError::PathLenExceeded {
                cert: Named::cert(issuer, issuer_role),
                path_len: n,
                below: cas_below,
            });
        }
        check_validity(issuer, self.at).map_err(|e| e.in_role(issuer_role))?;
        for crl in self
            .crls
            .iter()
            .filter(|l| l.issuer().as_raw() == issuer.subject().as_raw())
        {
            let checked = check_parsed_crl(crl, issuer).map_err(|e| e.in_role(issuer_role))?;
            checked.check_time(self.at)?;
            checked.check(child).map_err(|e| e.in_role(role))?;
        }
        Ok(())
    }
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

    /// A SubjectPublicKeyInfo with key algorithm `alg` (OID body) and
    /// parameter `param` (a whole TLV, or none).
    fn spki(alg: &[u8], param: &[u8]) -> Vec<u8> {
        let tlv = |tag: u8, body: &[u8]| [&[tag, body.len() as u8][..], body].concat();
        let alg_id = tlv(0x30, &[tlv(0x06, alg), param.to_vec()].concat());
        tlv(0x30, &[alg_id, tlv(0x03, &[0, 4, 1, 2])].concat())
    }

    const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    const NULL: &[u8] = &[0x05, 0x00];

    /// Every signature algorithm maps to the crypto-boundary scheme for the
    /// issuer key that can make it, and to none for another key.
    #[test]
    fn schemes_follow_the_issuer_key() {
        use SignatureAlgorithm::*;
        let keys = [
            ("P-256", spki(EC, P256)),
            ("P-384", spki(EC, P384)),
            ("P-521", spki(EC, P521)),
            ("EC without a curve", spki(EC, &[])),
            ("RSA", spki(RSA, NULL)),
            ("RSA-PSS key", spki(RSA_PSS, &[])),
            ("Ed25519", spki(ED25519, &[])),
        ];
        let expect = |alg: SignatureAlgorithm, key: &str| -> Option<Scheme> {
            match (alg, key) {
                (EcdsaSha256, "P-256") => Some(Scheme::EcdsaP256Sha256Asn1),
                (EcdsaSha384, "P-256") => Some(Scheme::EcdsaP256Sha384Asn1),
                (EcdsaSha256, "P-384") => Some(Scheme::EcdsaP384Sha256Asn1),
                (EcdsaSha384, "P-384") => Some(Scheme::EcdsaP384Sha384Asn1),
                (RsaPkcs1Sha256, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPkcs1Sha256),
                (RsaPkcs1Sha384, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPkcs1Sha384),
                (RsaPkcs1Sha512, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPkcs1Sha512),
                (RsaPssSha256, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPssSha256),
                (RsaPssSha384, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPssSha384),
                (RsaPssSha512, "RSA" | "RSA-PSS key") => Some(Scheme::RsaPssSha512),
                (Ed25519, "Ed25519") => Some(Scheme::Ed25519),
                _ => None,
            }
        };
        for alg in [
            EcdsaSha256,
            EcdsaSha384,
            RsaPkcs1Sha256,
            RsaPkcs1Sha384,
            RsaPkcs1Sha512,
            RsaPssSha256,
            RsaPssSha384,
            RsaPssSha512,
            Ed25519,
        ] {
            for (name, der) in &keys {
                let (_, key) = SubjectPublicKeyInfo::from_der(der).unwrap();
                assert_eq!(
                    scheme_for(alg, &key),
                    expect(alg, name),
                    "{alg:?} with {name}"
                );
            }
        }
    }

    #[test]
    fn serials_compare_without_padding() {
        assert_eq!(normalise_serial(&[0, 0, 5]), vec![5]);
        assert_eq!(normalise_serial(&[0x80]), vec![0x80]);
    }
}
