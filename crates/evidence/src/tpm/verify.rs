//! TPM quote verification: a pure function of the quotes, the AK (public
//! area and certificate), the PCR values sent with the quotes, the event
//! log, the expected nonce, the trusted AK CAs and the time.
//!
//! Checks, each with its own error:
//! 1. the AK is trusted: its certificate chains to a configured TPM/vTPM CA
//!    (signatures and validity at the verification time) and holds the same
//!    key as the AK public area — or, when the policy says
//!    `require_valid_aik_cert=false`, the AK is taken as given and the claim
//!    `aikValidated` is false;
//! 2. each quote is a `TPMS_ATTEST` of type quote with the TPM's magic,
//!    signed by the AK over the bytes received (SHA-256 or stronger; SHA-1
//!    RSASSA only when the provider opts in with [`TpmOptions::allow_sha1`],
//!    and then the claim `x-attesta-tpm-sha1-accepted` says so); an AK sent
//!    as a `TPMT_PUBLIC` must be a restricted signing key
//!    (`AkNotRestrictedSigning`) and the quote's `qualifiedSigner` must be
//!    its qualified name (`AkNameMismatch`; see [`check_qualified_signer`]
//!    for what can be checked when the AK's parents are not sent);
//! 3. its `extraData` equals the expected nonce (the challenge, or the
//!    key-binding hash the protocol defines);
//! 4. its PCR digest equals the digest (with the signature's hash) of the
//!    PCR values sent, in selection order;
//! 5. the quoted PCRs cover `required_pcr_mask`;
//! 6. the event log, when given, replays to the quoted values of every PCR
//!    it touches in every quoted bank it carries; an event type whose digest
//!    is by definition the hash of its data (separators, UEFI driver-config
//!    variables, EFI actions, GPT) must carry that data in quoted PCRs;
//!    every event in a quoted PCR must have a type that PCR and its data
//!    bear out (see [`super::eventtypes`]: types are not measured);
//!    events are used for claims only when their PCR replayed and, for the
//!    data a claim reads, when the event digest is the hash of that data.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use x509_parser::prelude::*;

use super::eventlog::{Event, EventLog, Pcrs, quotes_pcr, secure_boot_where};
use super::structures::{
    Attest, Attested, Public, PublicKey, Signature, TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384,
    TPM_ALG_SHA512, TPM_ECC_NIST_P256, TPM_ECC_NIST_P384, TPM_GENERATED_VALUE, aik_pub_hash, hash,
    hash_name, left_pad,
};
use super::windows::{WindowsBootState, is_wbcl_separator, windows_boot_state};
use crate::claims::Claims;
use crate::crypto::{self, Scheme};
use crate::error::{ErrorCode, ParseError};
use crate::pki::{self, CertificateError, Role};
use crate::roots::{RootKind, TrustRoots};
use crate::types::UnixTime;

/// Why TPM evidence did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpmError {
    #[error("the TPM evidence could not be decoded: {0}")]
    Parse(#[from] ParseError),
    #[error(
        "the policy requires a valid AK certificate (require_valid_aik_cert) and none was sent"
    )]
    AkCertificateRequired,
    #[error("the AK certificate chain is invalid: {0}")]
    AkCertificateInvalid(CertificateError),
    #[error("the AK certificate chain is not valid at the verification time: {0}")]
    AkCertificateExpired(CertificateError),
    #[error(
        "the AK certificate does not chain to a trusted TPM CA ({0}); configure the CA for this provider"
    )]
    AkChainUntrusted(CertificateError),
    #[error("the AK certificate chain holds a revoked certificate: {0}")]
    AkCertificateRevoked(CertificateError),
    #[error(
        "a configured TPM CA CRL for the AK chain is not usable ({0}); configure the CRL its CA issued"
    )]
    AkCrlInvalid(CertificateError),
    #[error(
        "a configured TPM CA CRL for the AK chain is not current ({0}); configure the CA's current CRL"
    )]
    AkCrlExpired(CertificateError),
    #[error("the AK certificate's key is not the AK public key the quote was checked with")]
    AkKeyMismatch,
    #[error(
        "the AK is not a restricted signing key (objectAttributes {0:#010x}: restricted and sign must be set, decrypt clear); a key that can sign arbitrary data could forge quotes"
    )]
    AkNotRestrictedSigning(u32),
    #[error(
        "the quote's qualifiedSigner {actual} is not the qualified name of the AK under {under}: the quote was not made by this key object; send the AK's parent public areas from its primary key down"
    )]
    AkNameMismatch { actual: String, under: String },
    #[error("the quote's signature scheme is not supported: {0}")]
    UnsupportedSignature(String),
    #[error(
        "the quote is signed with {0}, which is too weak; use SHA-256 or stronger, or let the provider accept SHA-1 quotes explicitly (tpm_allow_sha1, attesta verify tpm --allow-sha1)"
    )]
    WeakSignatureHash(&'static str),
    #[error("the quote signature does not verify with the AK")]
    QuoteSignatureInvalid,
    #[error(
        "the attestation structure is not a TPM2_Quote (magic {magic:#x}, type {attest_type:#x})"
    )]
    NotAQuote { magic: u32, attest_type: u16 },
    #[error("the quote's extraData {actual} is not the expected nonce {expected}")]
    NonceMismatch { expected: String, actual: String },
    #[error("no {bank} value for PCR {pcr} was sent with the quote")]
    PcrValueMissing { bank: &'static str, pcr: u32 },
    #[error("the quote's PCR digest does not match the PCR values sent ({bank} bank)")]
    PcrDigestMismatch { bank: &'static str },
    #[error("the quoted PCRs {quoted:#x} do not cover the required mask {required:#x}")]
    PcrSelectionInsufficient { quoted: u64, required: u64 },
    #[error("the event log does not replay to the quoted PCR {pcr} ({bank} bank)")]
    EventLogMismatch { bank: &'static str, pcr: u32 },
    #[error(
        "event {seq} of the log is measured into PCR {pcr}, which a TPM does not have (PCRs 0-23)"
    )]
    EventPcrOutOfRange { seq: usize, pcr: u32 },
    #[error(
        "event {seq} of the log ({event_type}, PCR {pcr}) carries data that does not hash to its measured digest: the log misstates what was measured"
    )]
    EventDataMismatch {
        seq: usize,
        pcr: u32,
        event_type: String,
    },
    #[error(
        "event {seq} of the log ({event_type}, PCR {pcr}) does not fit its type: {reason}; event types are not measured, so a type the quoted PCR and data do not bear out could hide the event from a policy"
    )]
    EventTypeInvalid {
        seq: usize,
        pcr: u32,
        event_type: String,
        reason: String,
    },
    #[error(
        "the log has {count} EV_SEPARATOR events in PCR {pcr}, where firmware measures exactly one: an event was relabelled or left out"
    )]
    EventSeparatorsInvalid { pcr: u32, count: usize },
    #[error(
        "the key certification is not a TPM2_Certify structure (magic {magic:#x}, type {attest_type:#x})"
    )]
    NotACertification { magic: u32, attest_type: u16 },
    #[error("the key certification's signature does not verify with the AK")]
    CertificationSignatureInvalid,
    #[error("the key certification's qualifyingData {actual} is not the expected nonce {expected}")]
    CertificationNonceMismatch { expected: String, actual: String },
    #[error("the key certification names another object than the public area sent with it")]
    CertifiedNameMismatch,
    #[error(
        "the boot attestation is not from the current TPM power cycle (boot reset/restart count {boot:?}, current {current:?}); send the boot log of this boot"
    )]
    BootLogDiscontinuous {
        boot: (u32, u32),
        current: (u32, u32),
    },
}

impl ErrorCode for TpmError {
    fn code(&self) -> &'static str {
        match self {
            TpmError::Parse(e) => e.code(),
            TpmError::AkCertificateRequired => "AkCertificateRequired",
            TpmError::AkCertificateInvalid(_) => "AkCertificateInvalid",
            TpmError::AkCertificateExpired(_) => "AkCertificateExpired",
            TpmError::AkChainUntrusted(_) => "AkChainUntrusted",
            TpmError::AkCertificateRevoked(_) => "AkCertificateRevoked",
            TpmError::AkCrlInvalid(_) => "AkCrlInvalid",
            TpmError::AkCrlExpired(_) => "AkCrlExpired",
            TpmError::AkKeyMismatch => "AkKeyMismatch",
            TpmError::AkNotRestrictedSigning(_) => "AkNotRestrictedSigning",
            TpmError::AkNameMismatch { .. } => "AkNameMismatch",
            TpmError::UnsupportedSignature(_) => "UnsupportedSignature",
            TpmError::WeakSignatureHash(_) => "WeakSignatureHash",
            TpmError::QuoteSignatureInvalid => "QuoteSignatureInvalid",
            TpmError::NotACertification { .. } => "NotACertification",
            TpmError::CertificationSignatureInvalid => "CertificationSignatureInvalid",
            TpmError::CertificationNonceMismatch { .. } => "CertificationNonceMismatch",
            TpmError::CertifiedNameMismatch => "CertifiedNameMismatch",
            TpmError::BootLogDiscontinuous { .. } => "BootLogDiscontinuous",
            TpmError::NotAQuote { .. } => "NotAQuote",
            TpmError::NonceMismatch { .. } => "NonceMismatch",
            TpmError::PcrValueMissing { .. } => "PcrValueMissing",
            TpmError::PcrDigestMismatch { .. } => "PcrDigestMismatch",
            TpmError::PcrSelectionInsufficient { .. } => "PcrSelectionInsufficient",
            TpmError::EventLogMismatch { .. } => "EventLogMismatch",
            TpmError::EventDataMismatch { .. } => "EventDataMismatch",
            TpmError::EventPcrOutOfRange { .. } => "EventPcrOutOfRange",
            TpmError::EventTypeInvalid { .. } => "EventTypeInvalid",
            TpmError::EventSeparatorsInvalid { .. } => "EventSeparatorsInvalid",
        }
    }
}

/// TPMA_OBJECT bits an AK is judged by (TPM 2.0 Part 2, 8.3).
const TPMA_RESTRICTED: u32 = 1 << 16;
const TPMA_DECRYPT: u32 = 1 << 17;
const TPMA_SIGN: u32 = 1 << 18;

/// One quote: the `TPMS_ATTEST` bytes and the `TPMT_SIGNATURE` over them.
#[derive(Debug, Clone, Copy)]
pub struct QuoteParts<'a> {
    pub attest: &'a [u8],
    pub signature: &'a [u8],
}

/// How the AK public key arrives: as the TPM's `TPMT_PUBLIC`, or as a key
/// (the MAA protocol sends a JWK).
#[derive(Debug, Clone)]
pub enum AkPublic<'a> {
    /// The AK's `TPMT_PUBLIC`, its parents unknown.
    Tpmt(&'a [u8]),
    /// The AK's `TPMT_PUBLIC` and the `TPMT_PUBLIC`s of its parents, from
    /// the primary key (the first, under one of the hierarchies) down to the
    /// AK's parent (e.g. the EK, for an AK `tpm2_createak` made under it).
    /// With parents known the qualified name is checked exactly.
    TpmtUnder {
        ak: &'a [u8],
        parents: Vec<&'a [u8]>,
    },
    Key(PublicKey),
}

/// Everything a TPM attestation sends.
#[derive(Debug, Clone)]
pub struct TpmEvidence<'a> {
    /// One quote per bank (or one quote over several banks).
    pub quotes: Vec<QuoteParts<'a>>,
    /// The AK public key.
    pub ak_public: AkPublic<'a>,
    /// The AK certificate (DER), and intermediates up to a trusted CA.
    pub ak_cert: Option<&'a [u8]>,
    pub intermediates: Vec<Vec<u8>>,
    /// PCR values sent with the quotes: bank → index → value.
    pub pcrs: Pcrs,
    /// The TCG event log, if sent.
    pub event_log: Option<&'a [u8]>,
}

/// Verification settings from the provider's policy (reference §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpmSettings {
    pub require_valid_aik_cert: bool,
    pub required_pcr_mask: u64,
}

impl Default for TpmSettings {
    fn default() -> Self {
        Self {
            require_valid_aik_cert: true,
            required_pcr_mask: 0x00FF_FFFF,
        }
    }
}

/// Verification choices of the provider (not of its policy): what the
/// operator accepts for all of that provider's attestations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TpmOptions {
    /// Accept quotes signed with SHA-1 (RSASSA-PKCS1-v1_5 only: what
    /// Windows PCP AKs and older vTPMs make). Off by default: such quotes are
    /// refused with `WeakSignatureHash`. A token of a quote accepted this way
    /// carries `x-attesta-tpm-sha1-accepted: true`.
    pub allow_sha1: bool,
}

/// Verified TPM evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct TpmVerified {
    pub aik_validated: bool,
    /// The verified AK chain (for a cache to hand back to
    /// [`verify_with_chain`]); `None` when the AK was not validated.
    pub ak_chain: Option<VerifiedAkChain>,
    /// The AK the quotes were checked with.
    pub ak: PublicKey,
    /// The AK's Name (nameAlg ‖ H(TPMT_PUBLIC)) when it came as a
    /// TPMT_PUBLIC.
    pub ak_name: Option<Vec<u8>>,
    /// The hierarchy (`owner`, `endorsement`, `platform`, `null`) the
    /// quotes' `qualifiedSigner` proves the AK (or its primary ancestor)
    /// lives in; `None` when that could not be established (an AK sent as a
    /// key, or as a `TPMT_PUBLIC` with unknown parents that is not a primary
    /// key). See [`check_qualified_signer`].
    pub ak_hierarchy: Option<&'static str>,
    /// The options the evidence was verified with (boot attestations and
    /// certifications are checked with the same).
    pub options: TpmOptions,
    /// A quote signed with SHA-1 was accepted ([`TpmOptions::allow_sha1`]).
    pub sha1_accepted: bool,
    pub aik_pub_hash: String,
    /// Quoted PCR values: bank → index → value.
    pub quoted: Pcrs,
    /// The event log, when it was sent and replayed.
    pub event_log: Option<EventLog>,
    /// PCRs (index) whose log events replayed in at least one quoted bank.
    pub verified_log_pcrs: BTreeSet<u32>,
    pub reset_count: u32,
    pub restart_count: u32,
    /// TPMS_CLOCK_INFO.clock of the last quote (milliseconds the TPM has run).
    pub clock: u64,
    /// The verified boot attestation of a resumed machine, if one was sent
    /// ([`TpmVerified::verify_boot`]).
    pub boot: Option<BootVerified>,
    pub test_root: bool,
}

fn cert_key_matches(cert: &X509Certificate<'_>, ak: &PublicKey) -> bool {
    match (cert.public_key().parsed(), ak) {
        (Ok(x509_parser::public_key::PublicKey::RSA(k)), PublicKey::Rsa { modulus, exponent }) => {
            let strip = |v: &[u8]| {
                v.iter()
                    .skip_while(|&&b| b == 0)
                    .copied()
                    .collect::<Vec<u8>>()
            };
            strip(k.modulus) == strip(modulus)
                && strip(k.exponent) == strip(&exponent.to_be_bytes())
        }
        (Ok(x509_parser::public_key::PublicKey::EC(point)), PublicKey::Ecc { .. }) => {
            ak.verification_key().is_some_and(|p| p == point.data())
        }
        _ => false,
    }
}

/// An AK certificate chain that verified to a configured TPM CA: what a
/// cache may keep. It stays good for any verification time inside
/// `[not_before, not_after]` (the intersection of every certificate's
/// validity on the path) and only for the same certificates and roots
/// (`fingerprint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAkChain {
    pub fingerprint: [u8; 32],
    pub not_before: i64,
    pub not_after: i64,
    /// The chain ended at a configured (test) root.
    pub test_root: bool,
}

impl VerifiedAkChain {
    /// Whether this verified chain stands for `leaf` + `intermediates` under
    /// `roots` at `at`.
    pub fn covers(
        &self,
        leaf: &[u8],
        intermediates: &[Vec<u8>],
        roots: &TrustRoots,
        at: UnixTime,
    ) -> bool {
        self.valid_at(at) && self.fingerprint == chain_fingerprint(leaf, intermediates, roots)
    }

    /// Whether `at` lies inside the chain's validity.
    pub fn valid_at(&self, at: UnixTime) -> bool {
        let t = at.0 as i64;
        self.not_before <= t && t <= self.not_after
    }
}

/// SHA-256 over the AK certificate, the intermediates, the TPM roots and
/// the TPM CRLs (each length-prefixed): the identity of one
/// chain-verification problem.
pub fn chain_fingerprint(leaf: &[u8], intermediates: &[Vec<u8>], roots: &TrustRoots) -> [u8; 32] {
    let mut input = Vec::with_capacity(leaf.len() + 4096);
    let mut add = |tag: u8, bytes: &[u8]| {
        input.push(tag);
        input.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        input.extend_from_slice(bytes);
    };
    add(0, leaf);
    for i in intermediates {
        add(1, i);
    }
    for r in roots.of_kind(RootKind::Tpm) {
        add(if r.configured { 3 } else { 2 }, &r.der);
    }
    for crl in roots.crls_of(RootKind::Tpm) {
        add(4, crl);
    }
    crypto::sha256(&input)
}

/// Check the AK certificate chain to a configured TPM CA (signatures, CA
/// flags, validity at `at`, and revocation against the configured TPM
/// CRLs: see [`TrustRoots::with_crl`]).
pub fn verify_ak_chain(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<VerifiedAkChain, TpmError> {
    let fingerprint = chain_fingerprint(leaf_der, intermediates, roots);
    verify_ak_chain_as(fingerprint, leaf_der, intermediates, roots, at)
}

/// The longest AK chain taken: the AK certificate and up to seven CAs
/// below the configured root.
const MAX_AK_CHAIN: usize = 8;

/// The certificate at the start of `der`, without what follows it: TPM NV
/// indices hold certificates padded to the index size, and AK chains have
/// always been read that way. Bytes that are not a certificate are left as
/// they are (the walk then refuses them).
fn certificate_bytes(der: &[u8]) -> &[u8] {
    match X509Certificate::from_der(der) {
        Ok((rest, _)) => &der[..der.len() - rest.len()],
        Err(_) => der,
    }
}

/// The AK certificate at the start of `der` (see [`certificate_bytes`]),
/// decoded once.
fn ak_certificate(der: &[u8]) -> Result<X509Certificate<'_>, TpmError> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|e| {
            TpmError::AkCertificateInvalid(CertificateError::BadEncoding {
                cert: pki::Named::new(Role::Leaf, ""),
                reason: format!("not a DER certificate: {e}"),
            })
        })
}

/// A failed AK chain check as a TPM error: the one place the chain's
/// [`CertificateError`]s become TPM codes.
fn ak_chain_error(e: CertificateError) -> TpmError {
    use CertificateError::*;
    match e {
        _ if e.role() == Role::Crl && e.is_validity() => TpmError::AkCrlExpired(e),
        _ if e.role() == Role::Crl => TpmError::AkCrlInvalid(e),
        Expired { .. } | NotYetValid { .. } => TpmError::AkCertificateExpired(e),
        Revoked { .. } => TpmError::AkCertificateRevoked(e),
        UnknownIssuer { .. }
        | IssuerMismatch { .. }
        | BadSignature { .. }
        | UnsupportedSignatureAlgorithm { .. }
        | ChainTooLong { .. }
        | TooManyCandidates { .. } => TpmError::AkChainUntrusted(e),
        BadEncoding { .. } | NotCa { .. } | PathLenExceeded { .. } => {
            TpmError::AkCertificateInvalid(e)
        }
    }
}

/// [`verify_ak_chain`] for a caller that already holds the chain's
/// fingerprint.
fn verify_ak_chain_as(
    fingerprint: [u8; 32],
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<VerifiedAkChain, TpmError> {
    let anchors: Vec<&crate::roots::TrustRoot> = roots.of_kind(RootKind::Tpm).collect();
    let anchor_ders: Vec<&[u8]> = anchors.iter().map(|r| r.der.as_slice()).collect();
    let intermediates: Vec<&[u8]> = intermediates.iter().map(|d| certificate_bytes(d)).collect();
    let path = pki::walk(
        certificate_bytes(leaf_der),
        &intermediates,
        &anchor_ders,
        at,
        &pki::Options {
            max_depth: MAX_AK_CHAIN,
            crls: roots.crls_of(RootKind::Tpm).collect(),
        },
    )
    .map_err(ak_chain_error)?;
    Ok(VerifiedAkChain {
        fingerprint,
        not_before: path.not_before,
        not_after: path.not_after,
        test_root: anchors[path.anchor].configured,
    })
}

/// TPM hierarchies a primary key lives under (TPM 2.0 Part 2, 7.4:
/// `TPM_RH_*`). A hierarchy's Name and qualified name are its handle.
const HIERARCHIES: [(u32, &str); 4] = [
    (0x4000_0001, "owner"),
    (0x4000_000B, "endorsement"),
    (0x4000_000C, "platform"),
    (0x4000_0007, "null"),
];

/// An object's qualified name (TPM 2.0 Part 1, 16: QN = nameAlg ‖
/// H_nameAlg(QN of the parent ‖ Name)).
fn qualified_name(name_alg: u16, parent_qn: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let mut out = name_alg.to_be_bytes().to_vec();
    out.extend(hash(name_alg, &[parent_qn, name].concat())?);
    Some(out)
}

/// The AK sent as `TPMT_PUBLIC`, with its parents when known.
struct AkObject<'a> {
    public: Public<'a>,
    parents: Option<Vec<Public<'a>>>,
}

/// Check a quote's `qualifiedSigner` against the AK's qualified name, which
/// is what the TPM writes there for the signing key. It ties the quote to
/// this exact `TPMT_PUBLIC` (so its `restricted` attribute, checked before,
/// is the signing object's, not one claimed for the same key).
///
/// - Parents sent ([`AkPublic::TpmtUnder`]): the QN is computed from the
///   primary key's hierarchy down the chain and must be the
///   `qualifiedSigner` under one of the four hierarchies.
/// - Parents unknown ([`AkPublic::Tpmt`]): a primary AK (go-tpm-tools' GCE
///   AK is a primary in the endorsement hierarchy) is checked exactly, and
///   its hierarchy returned. An AK made under another key — Windows PCP AKs
///   under the SRK, `tpm2_createak` AKs under the EK — has a QN that depends
///   on parents the evidence does not carry, so nothing can be recomputed:
///   this is the documented limitation, accepted only here (no hierarchy is
///   returned, so no `x-attesta-tpm-ak-hierarchy` claim is made, and a
///   policy that requires one fails closed).
fn check_qualified_signer(
    ak: &AkObject<'_>,
    qualified_signer: &[u8],
) -> Result<Option<&'static str>, TpmError> {
    let name = ak.public.name();
    let chain: Vec<&Public<'_>> = match &ak.parents {
        Some(parents) => parents.iter().chain([&ak.public]).collect(),
        None => vec![&ak.public],
    };
    for (handle, hierarchy) in HIERARCHIES {
        let mut qn = Some(handle.to_be_bytes().to_vec());
        for object in &chain {
            qn = match (qn, object.name()) {
                (Some(parent), Some(n)) => qualified_name(object.name_alg, &parent, &n),
                _ => None,
            };
        }
        if qn.is_some_and(|qn| crypto::constant_time_eq(&qn, qualified_signer)) {
            return Ok(Some(hierarchy));
        }
    }
    match (&ak.parents, name) {
        (None, Some(_)) => Ok(None),
        (parents, _) => Err(TpmError::AkNameMismatch {
            actual: hex::encode(qualified_signer),
            under: match parents {
                Some(p) => format!("any hierarchy through its {} parent(s)", p.len()),
                None => "any hierarchy (its name algorithm is not supported)".into(),
            },
        }),
    }
}

/// A TPMT_PUBLIC AK must be a restricted signing key: it signs only digests
/// the TPM made itself, so it cannot sign a forged TPMS_ATTEST.
fn restricted_signing(public: Public<'_>) -> Result<Public<'_>, TpmError> {
    let attrs = public.object_attributes;
    if attrs & TPMA_RESTRICTED == 0 || attrs & TPMA_SIGN == 0 || attrs & TPMA_DECRYPT != 0 {
        return Err(TpmError::AkNotRestrictedSigning(attrs));
    }
    Ok(public)
}

/// Check `sig` over `msg` with `ak`. SHA-1 is refused unless `allow_sha1`,
/// and then only as RSASSA-PKCS1-v1_5. Returns whether SHA-1 was used.
fn check_signature(
    ak: &PublicKey,
    sig: &Signature,
    msg: &[u8],
    allow_sha1: bool,
) -> Result<bool, TpmError> {
    let key = ak
        .verification_key()
        .ok_or_else(|| TpmError::UnsupportedSignature("AK key type or curve".into()))?;
    let h = sig.hash_alg();
    let sha1 = h == TPM_ALG_SHA1 && allow_sha1;
    if !sha1 && !matches!(h, TPM_ALG_SHA256 | TPM_ALG_SHA384 | TPM_ALG_SHA512) {
        return Err(TpmError::WeakSignatureHash(hash_name(h)));
    }
    let ok = match (sig, ak) {
        (Signature::Rsa { pss, sig, .. }, PublicKey::Rsa { .. }) => {
            let scheme = match (pss, h) {
                (false, TPM_ALG_SHA1) => Scheme::RsaPkcs1Sha1Legacy,
                (false, TPM_ALG_SHA256) => Scheme::RsaPkcs1Sha256,
                (false, TPM_ALG_SHA384) => Scheme::RsaPkcs1Sha384,
                (true, TPM_ALG_SHA256) => Scheme::RsaPssSha256,
                (true, TPM_ALG_SHA384) => Scheme::RsaPssSha384,
                _ => {
                    return Err(TpmError::UnsupportedSignature(format!(
                        "RSA{} with {}",
                        if *pss { "-PSS" } else { "SSA" },
                        hash_name(h)
                    )));
                }
            };
            crypto::verify(scheme, &key, msg, sig).is_ok()
        }
        (Signature::Ecdsa { r, s, .. }, PublicKey::Ecc { curve, .. }) => {
            let (scheme, size) = match (*curve, h) {
                (TPM_ECC_NIST_P256, TPM_ALG_SHA256) => (Scheme::EcdsaP256Sha256Fixed, 32),
                (TPM_ECC_NIST_P384, TPM_ALG_SHA384) => (Scheme::EcdsaP384Sha384Fixed, 48),
                _ => {
                    return Err(TpmError::UnsupportedSignature(format!(
                        "ECDSA curve {curve:#x} with {}",
                        hash_name(h)
                    )));
                }
            };
            let (Some(r), Some(s)) = (left_pad(r, size), left_pad(s, size)) else {
                return Err(TpmError::QuoteSignatureInvalid);
            };
            crypto::verify(scheme, &key, msg, &[r, s].concat()).is_ok()
        }
        _ => {
            return Err(TpmError::UnsupportedSignature(
                "signature and AK key types differ".into(),
            ));
        }
    };
    if ok {
        Ok(sha1)
    } else {
        Err(TpmError::QuoteSignatureInvalid)
    }
}

/// Verify TPM evidence (see the module doc for the checks).
pub fn verify(
    ev: &TpmEvidence<'_>,
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &TpmSettings,
    at: UnixTime,
) -> Result<TpmVerified, TpmError> {
    verify_with_chain(ev, expected_nonce, roots, settings, at, |_| None)
}

/// [`verify`], reusing an AK chain verified earlier (a
/// [`TpmVerified::ak_chain`]): `remembered` is asked with the fingerprint of
/// this evidence's certificates and roots ([`chain_fingerprint`]), and its
/// answer is used only when it has that fingerprint and is valid at `at`;
/// otherwise the chain is verified afresh. Everything else (key match,
/// quote, PCRs, log) is always checked.
pub fn verify_with_chain(
    ev: &TpmEvidence<'_>,
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &TpmSettings,
    at: UnixTime,
    remembered: impl FnOnce(&[u8; 32]) -> Option<VerifiedAkChain>,
) -> Result<TpmVerified, TpmError> {
    verify_with_options(
        ev,
        expected_nonce,
        roots,
        settings,
        &TpmOptions::default(),
        at,
        remembered,
    )
}

/// [`verify_with_chain`] with the provider's [`TpmOptions`].
pub fn verify_with_options(
    ev: &TpmEvidence<'_>,
    expected_nonce: &[u8],
    roots: &TrustRoots,
    settings: &TpmSettings,
    options: &TpmOptions,
    at: UnixTime,
    remembered: impl FnOnce(&[u8; 32]) -> Option<VerifiedAkChain>,
) -> Result<TpmVerified, TpmError> {
    let ak_object = match &ev.ak_public {
        AkPublic::Tpmt(bytes) => Some(AkObject {
            public: restricted_signing(Public::parse(bytes)?)?,
            parents: None,
        }),
        AkPublic::TpmtUnder { ak, parents } => Some(AkObject {
            public: restricted_signing(Public::parse(ak)?)?,
            parents: Some(
                parents
                    .iter()
                    .map(|p| Public::parse(p))
                    .collect::<Result<_, _>>()?,
            ),
        }),
        AkPublic::Key(_) => None,
    };
    let (ak, ak_name): (PublicKey, Option<Vec<u8>>) = match (&ak_object, &ev.ak_public) {
        (Some(o), _) => (o.public.key.clone(), o.public.name()),
        (None, AkPublic::Key(k)) => (k.clone(), None),
        // Every TPMT_PUBLIC form gave an `ak_object` above.
        (None, AkPublic::Tpmt(_) | AkPublic::TpmtUnder { .. }) => {
            return Err(TpmError::UnsupportedSignature("AK public area".into()));
        }
    };
    let spki = ak
        .spki_der()
        .ok_or_else(|| TpmError::UnsupportedSignature("AK key type or curve".into()))?;

    // 1. AK trust.
    let ak_chain = match ev.ak_cert {
        Some(der) => {
            let cert = ak_certificate(der)?;
            if !cert_key_matches(&cert, &ak) {
                return Err(TpmError::AkKeyMismatch);
            }
            let fingerprint = chain_fingerprint(der, &ev.intermediates, roots);
            // mutants: equivalent — this guard replaced by `false` verifies
            // the chain afresh every time, with the same result: a remembered
            // chain only saves that work.
            let chain = match remembered(&fingerprint) {
                Some(k) if k.fingerprint == fingerprint && k.valid_at(at) => Ok(k),
                _ => verify_ak_chain_as(fingerprint, der, &ev.intermediates, roots, at),
            };
            match chain {
                Ok(chain) => Some(chain),
                Err(e) if settings.require_valid_aik_cert => return Err(e),
                Err(_) => None,
            }
        }
        None if settings.require_valid_aik_cert => return Err(TpmError::AkCertificateRequired),
        None => None,
    };
    let aik_validated = ak_chain.is_some();
    let test_root = ak_chain.as_ref().is_some_and(|c| c.test_root);

    // 2–4. Each quote.
    let quotes = check_quotes(
        &ak,
        &ev.quotes,
        &ev.pcrs,
        Some(expected_nonce),
        options.allow_sha1,
    )?;
    let mut ak_hierarchy = None;
    if let Some(o) = &ak_object {
        for qs in &quotes.qualified_signers {
            ak_hierarchy = check_qualified_signer(o, qs)?;
        }
    }
    let quoted = quotes.quoted;

    // 5. Coverage.
    let quoted_mask = quoted
        .values()
        .flat_map(|b| b.keys())
        .filter(|&&p| p < 64)
        .fold(0u64, |m, &p| m | (1 << p));
    if quoted_mask & settings.required_pcr_mask != settings.required_pcr_mask {
        return Err(TpmError::PcrSelectionInsufficient {
            quoted: quoted_mask,
            required: settings.required_pcr_mask,
        });
    }

    // 6. Event log.
    let (event_log, verified_log_pcrs) = replay_against(ev.event_log, &quoted)?;

    Ok(TpmVerified {
        aik_validated,
        ak_chain,
        ak,
        ak_name,
        ak_hierarchy,
        options: *options,
        sha1_accepted: quotes.sha1,
        aik_pub_hash: aik_pub_hash(&spki),
        quoted,
        event_log,
        verified_log_pcrs,
        reset_count: quotes.reset_count,
        restart_count: quotes.restart_count,
        clock: quotes.clock,
        boot: None,
        test_root,
    })
}

/// What the quotes of one attestation established.
struct QuotedState {
    quoted: Pcrs,
    /// Each quote's `qualifiedSigner`.
    qualified_signers: Vec<Vec<u8>>,
    /// A quote was signed with SHA-1 (and that was allowed).
    sha1: bool,
    reset_count: u32,
    restart_count: u32,
    clock: u64,
}

/// Checks 2–4 on every quote: signed by `ak`, a TPM-made quote, over
/// `nonce` (when one is expected), with a PCR digest matching the values
/// sent. Returns the quoted values and the last quote's clock.
fn check_quotes(
    ak: &PublicKey,
    quotes: &[QuoteParts<'_>],
    pcrs: &Pcrs,
    nonce: Option<&[u8]>,
    allow_sha1: bool,
) -> Result<QuotedState, TpmError> {
    if quotes.is_empty() {
        return Err(TpmError::Parse(ParseError::Malformed {
            what: "TPM evidence",
            reason: "no quote".into(),
        }));
    }
    let mut state = QuotedState {
        quoted: BTreeMap::new(),
        qualified_signers: Vec::new(),
        sha1: false,
        reset_count: 0,
        restart_count: 0,
        clock: 0,
    };
    for q in quotes {
        let attest = Attest::parse(q.attest)?;
        let sig = Signature::parse(q.signature)?;
        state.sha1 |= check_signature(ak, &sig, attest.raw, allow_sha1)?;
        // Made by a TPM (the magic) and a quote.
        let (
            TPM_GENERATED_VALUE,
            Attested::Quote {
                selection,
                pcr_digest,
            },
        ) = (attest.magic, &attest.attested)
        else {
            return Err(TpmError::NotAQuote {
                magic: attest.magic,
                attest_type: attest.attest_type,
            });
        };
        if let Some(expected) = nonce
            && !crypto::constant_time_eq(&attest.extra_data, expected)
        {
            return Err(TpmError::NonceMismatch {
                expected: hex::encode(expected),
                actual: hex::encode(&attest.extra_data),
            });
        }
        let mut concat = Vec::new();
        for s in selection {
            let bank_name = hash_name(s.hash_alg);
            for &p in &s.pcrs {
                let v = pcrs.get(&s.hash_alg).and_then(|b| b.get(&p)).ok_or(
                    TpmError::PcrValueMissing {
                        bank: bank_name,
                        pcr: p,
                    },
                )?;
                concat.extend_from_slice(v);
            }
        }
        let digest = hash(sig.hash_alg(), &concat)
            .ok_or_else(|| TpmError::UnsupportedSignature(hash_name(sig.hash_alg()).into()))?;
        if !crypto::constant_time_eq(&digest, pcr_digest) {
            let bank = selection
                .first()
                .map(|s| hash_name(s.hash_alg))
                .unwrap_or("unknown");
            return Err(TpmError::PcrDigestMismatch { bank });
        }
        for s in selection {
            let bank = state.quoted.entry(s.hash_alg).or_default();
            for &p in &s.pcrs {
                if let Some(v) = pcrs.get(&s.hash_alg).and_then(|b| b.get(&p)) {
                    bank.insert(p, v.clone());
                }
            }
        }
        state
            .qualified_signers
            .push(attest.qualified_signer.clone());
        state.reset_count = attest.reset_count;
        state.restart_count = attest.restart_count;
        state.clock = attest.clock;
    }
    Ok(state)
}

/// Check 6: the log, when one was sent, replays to the quoted value of every
/// PCR it touches in every quoted bank it carries. Returns the log and the
/// PCRs that replayed.
fn replay_against(
    bytes: Option<&[u8]>,
    quoted: &Pcrs,
) -> Result<(Option<EventLog>, BTreeSet<u32>), TpmError> {
    let Some(bytes) = bytes else {
        return Ok((None, BTreeSet::new()));
    };
    let log = EventLog::parse(bytes)?;
    let mut verified = BTreeSet::new();
    for (bank, pcrs) in &log.replay() {
        let Some(q) = quoted.get(bank) else { continue };
        // A PC Client TPM has PCRs 0–23: an event elsewhere (PCR 65545)
        // extends nothing a quote could prove.
        if let Some((seq, e)) = log
            .events
            .iter()
            .enumerate()
            .find(|(_, e)| e.event_type != super::eventlog::EV_NO_ACTION && e.pcr_index >= 24)
        {
            return Err(TpmError::EventPcrOutOfRange {
                seq,
                pcr: e.pcr_index,
            });
        }
        // PCRs 0–7 are the firmware's: a firmware log records every
        // extension of them (a separator at least). A quoted one the log
        // does not touch must still hold its reset value; otherwise events
        // were moved out of it (to a PCR nobody quoted) or left out.
        for (pcr, v) in q.range(0..8) {
            if !pcrs.contains_key(pcr) && v.iter().any(|&b| b != 0) {
                return Err(TpmError::EventLogMismatch {
                    bank: hash_name(*bank),
                    pcr: *pcr,
                });
            }
        }
        for (pcr, value) in pcrs {
            match q.get(pcr) {
                Some(v) if v == value => {
                    verified.insert(*pcr);
                }
                Some(_) => {
                    return Err(TpmError::EventLogMismatch {
                        bank: hash_name(*bank),
                        pcr: *pcr,
                    });
                }
                None => {}
            }
        }
    }
    check_content_events(&log, quoted)?;
    Ok((Some(log), verified))
}

/// Event types whose digest the TCG PC Client Platform Firmware Profile
/// defines as the hash of the event data itself, and which every real log
/// in the test vectors measures so (`EV_EFI_VARIABLE_BOOT2`, in none of
/// them, exists for exactly that: the whole `UEFI_VARIABLE_DATA` measured). For these a data/digest mismatch in a
/// quoted PCR is a log that lies about what was measured: refused, rather
/// than shown without its data. (Other types — image loads,
/// `EV_EFI_VARIABLE_BOOT`, `EV_EFI_VARIABLE_AUTHORITY`, `EV_EVENT_TAG`, …
/// — measure something else on some firmware; their data is only left out
/// of claims when it is not proven.)
const CONTENT_EVENT_TYPES: [u32; 5] = [
    super::eventlog::EV_SEPARATOR,
    super::eventlog::EV_EFI_VARIABLE_BOOT2,
    super::eventlog::EV_EFI_VARIABLE_DRIVER_CONFIG,
    super::eventlog::EV_EFI_ACTION,
    super::eventlog::EV_EFI_GPT_EVENT,
];

/// Every event a quote proves (its PCR quoted in a bank it has a digest
/// for) must have a type its PCR and data bear out
/// ([`super::eventtypes`]); and a content event's data must hash to its
/// digest.
fn check_content_events(log: &EventLog, quoted: &Pcrs) -> Result<(), TpmError> {
    super::eventtypes::check_separators(&log.events, |pcr| {
        log.banks.iter().any(|b| quotes_pcr(quoted, *b, pcr))
    })
    .map_err(|(pcr, count)| TpmError::EventSeparatorsInvalid { pcr, count })?;
    for (seq, e) in log.events.iter().enumerate() {
        let proven = e
            .digests
            .keys()
            .any(|b| quotes_pcr(quoted, *b, e.pcr_index));
        if proven && let Err(reason) = super::eventtypes::check_event(e) {
            return Err(TpmError::EventTypeInvalid {
                seq,
                pcr: e.pcr_index,
                event_type: super::eventlog::event_type_name(e.event_type),
                reason,
            });
        }
        if !CONTENT_EVENT_TYPES.contains(&e.event_type) {
            continue;
        }
        for (bank, d) in &e.digests {
            if quotes_pcr(quoted, *bank, e.pcr_index)
                && hash(*bank, &e.data).is_some_and(|h| h != *d)
            {
                return Err(TpmError::EventDataMismatch {
                    seq,
                    pcr: e.pcr_index,
                    event_type: super::eventlog::event_type_name(e.event_type),
                });
            }
        }
    }
    Ok(())
}

/// The attestation of the boot a resumed machine came from (MAA's
/// `boot_attestation`): its quotes, the PCR values they quote and its log.
#[derive(Debug, Clone, Default)]
pub struct BootEvidence<'a> {
    pub quotes: Vec<QuoteParts<'a>>,
    pub pcrs: Pcrs,
    pub event_log: Option<&'a [u8]>,
}

/// A verified boot attestation, continuous with the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct BootVerified {
    pub quoted: Pcrs,
    pub event_log: Option<EventLog>,
    pub verified_log_pcrs: BTreeSet<u32>,
    pub restart_count: u32,
}

/// A `TPM2_Certify` over a key, made by the AK: the key's `TPMT_PUBLIC`,
/// the `TPMS_ATTEST` and its `TPMT_SIGNATURE` (MAA's `info.tpm_certify`).
#[derive(Debug, Clone, Copy)]
pub struct CertifyParts<'a> {
    pub public: &'a [u8],
    pub certification: &'a [u8],
    pub signature: &'a [u8],
}

/// A key the TPM certified: its public key and the object properties a
/// policy may judge (MAA shows `name_alg`, `obj_attr`, `auth_policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    pub key: PublicKey,
    pub name: Vec<u8>,
    pub name_alg: u16,
    /// `TPMA_OBJECT` (fixedTPM 0x2, fixedParent 0x10,
    /// sensitiveDataOrigin 0x20, …).
    pub object_attributes: u32,
    pub auth_policy: Vec<u8>,
}

impl TpmVerified {
    /// Verify the boot attestation of a resumed machine against this
    /// (current) one and keep it: its quotes are signed by the same verified
    /// AK, quote the PCR values sent and its log replays to them (there is
    /// no challenge to check: they were made at boot). Continuity: both were
    /// made in the same TPM power cycle — the same reset count (a TPM Reset,
    /// i.e. a cold boot, increments it; a hibernate resume or restart does
    /// not), a restart count and a clock no later than the current ones.
    pub fn verify_boot(&mut self, boot: &BootEvidence<'_>) -> Result<(), TpmError> {
        let q = check_quotes(
            &self.ak,
            &boot.quotes,
            &boot.pcrs,
            None,
            self.options.allow_sha1,
        )?;
        if q.reset_count != self.reset_count
            || q.restart_count > self.restart_count
            || q.clock > self.clock
        {
            return Err(TpmError::BootLogDiscontinuous {
                boot: (q.reset_count, q.restart_count),
                current: (self.reset_count, self.restart_count),
            });
        }
        let (event_log, verified_log_pcrs) = replay_against(boot.event_log, &q.quoted)?;
        self.sha1_accepted |= q.sha1;
        self.boot = Some(BootVerified {
            quoted: q.quoted,
            event_log,
            verified_log_pcrs,
            restart_count: q.restart_count,
        });
        Ok(())
    }

    /// Check that the verified AK certified the key in `parts`
    /// (`TPM2_Certify`): the structure is a certification of the TPM, signed
    /// by the AK, over `expected_nonce`, naming exactly the object whose
    /// public area was sent. Returns the certified key and its properties.
    pub fn certify(
        &self,
        parts: &CertifyParts<'_>,
        expected_nonce: &[u8],
    ) -> Result<CertifiedKey, TpmError> {
        let public = Public::parse(parts.public)?;
        let attest = Attest::parse(parts.certification)?;
        let sig = Signature::parse(parts.signature)?;
        check_signature(&self.ak, &sig, attest.raw, self.options.allow_sha1).map_err(
            |e| match e {
                TpmError::QuoteSignatureInvalid => TpmError::CertificationSignatureInvalid,
                other => other,
            },
        )?;
        // Made by a TPM (the magic) and a certification.
        let (TPM_GENERATED_VALUE, Attested::Certify { name, .. }) =
            (attest.magic, &attest.attested)
        else {
            return Err(TpmError::NotACertification {
                magic: attest.magic,
                attest_type: attest.attest_type,
            });
        };
        if !crypto::constant_time_eq(&attest.extra_data, expected_nonce) {
            return Err(TpmError::CertificationNonceMismatch {
                expected: hex::encode(expected_nonce),
                actual: hex::encode(&attest.extra_data),
            });
        }
        // A name algorithm we cannot hash names no object we could match.
        let own_name = public.name().ok_or(TpmError::CertifiedNameMismatch)?;
        if !crypto::constant_time_eq(&own_name, name) {
            return Err(TpmError::CertifiedNameMismatch);
        }
        Ok(CertifiedKey {
            key: public.key.clone(),
            name: own_name,
            name_alg: public.name_alg,
            object_attributes: public.object_attributes,
            auth_policy: public.auth_policy.clone(),
        })
    }

    /// Whether an event's digest in a bank that quoted its PCR (so the
    /// digest replayed to a quoted value) is the hash of its data, so that
    /// its data is what was measured. A digest in a bank that quoted other
    /// PCRs only proves nothing.
    fn data_proven(&self, e: &Event) -> bool {
        e.digests.iter().any(|(bank, d)| {
            quotes_pcr(&self.quoted, *bank, e.pcr_index)
                && hash(*bank, &e.data).as_deref() == Some(d.as_slice())
        })
    }

    /// Secure boot state, from a `SecureBoot` variable event in PCR 7 whose
    /// PCR replayed and whose digest (in a quoted bank) is the hash of its
    /// data. `None` when the verified log does not say.
    pub fn secure_boot(&self) -> Option<bool> {
        let log = self.event_log.as_ref()?;
        if !self.verified_log_pcrs.contains(&7) {
            return None;
        }
        secure_boot_where(log, |e| self.data_proven(e))
    }

    /// The Windows boot configuration the log proves (SIPA items in
    /// `EV_EVENT_TAG` events, see [`super::windows`]). Only events whose PCR
    /// replayed to a quoted value and whose digest (in a quoted bank) is the
    /// hash of their data are used, and in PCRs 12–14 only those before the
    /// WBCL separator (later extensions are the running OS's, not the boot
    /// configuration). `None` when the log holds no such events — and when
    /// one of them does not decode, since it could hide any value.
    pub fn windows_boot_state(&self) -> Option<WindowsBootState> {
        self.event_log.as_ref()?;
        windows_boot_state(&self.boot_config_events()).filter(|s| s.malformed_events == 0)
    }

    /// The log's events whose PCR replayed to a quoted value and whose
    /// digest (in a quoted bank) is the hash of their data, in log order,
    /// without those in PCRs 12–14 after the WBCL separator (the running
    /// OS's extensions, not the boot configuration). Empty without a log.
    pub fn boot_config_events(&self) -> Vec<&Event> {
        let Some(log) = self.event_log.as_ref() else {
            return Vec::new();
        };
        let mut closed = BTreeSet::new();
        let mut proven: Vec<&Event> = Vec::new();
        for e in &log.events {
            if closed.contains(&e.pcr_index) {
                continue;
            }
            if is_wbcl_separator(e) {
                closed.insert(e.pcr_index);
                continue;
            }
            if self.verified_log_pcrs.contains(&e.pcr_index) && self.data_proven(e) {
                proven.push(e);
            }
        }
        proven
    }

    /// The `pcrs` claim value: `{"PCRs":[{"Index":n,"Digests":{"SHA256":"hex",…}}]}`.
    pub fn pcrs_json(&self) -> Value {
        let mut by_index: BTreeMap<u32, serde_json::Map<String, Value>> = BTreeMap::new();
        for (bank, pcrs) in &self.quoted {
            for (i, v) in pcrs {
                by_index
                    .entry(*i)
                    .or_default()
                    .insert(hash_name(*bank).into(), json!(hex::encode(v)));
            }
        }
        // Built in place: `json!` would serialize each nested map again.
        let list: Vec<Value> = by_index
            .into_iter()
            .map(|(i, d)| {
                let mut m = serde_json::Map::with_capacity(2);
                m.insert("Index".into(), Value::from(i));
                m.insert("Digests".into(), Value::Object(d));
                Value::Object(m)
            })
            .collect();
        let mut out = serde_json::Map::with_capacity(1);
        out.insert("PCRs".into(), Value::Array(list));
        Value::Object(out)
    }

    /// Incoming claims (reference §3.3), plus Attesta's own.
    ///
    /// | claim | from |
    /// |---|---|
    /// | `aikValidated` | the AK certificate chained to a configured CA |
    /// | `aikPubHash` | base64(SHA-256(DER SubjectPublicKeyInfo of the AK)) |
    /// | `tpmVersion` | 2 |
    /// | `secureBootEnabled` | `SecureBoot` variable event in PCR 7 (only when the log proves it) |
    /// | `pcrs` | the quoted PCR values |
    /// | `events` | the log's proven events (only when a log was sent and replayed; see [`EventLog::proven_events_json`]) |
    /// | `bootEvents` | the boot log's proven events, when a boot attestation continuous with this one was verified ([`TpmVerified::verify_boot`]) |
    /// | `bootDebuggingDisabled`, `osKernelDebuggingDisabled` | every `EVENT_BOOTDEBUGGING` / `EVENT_OSKERNELDEBUG` false |
    /// | `codeIntegrityEnabled` | every `EVENT_CODEINTEGRITY` true |
    /// | `testSigningDisabled`, `flightSigningNotEnabled` | no `EVENT_TESTSIGNING` / `EVENT_FLIGHTSIGNING` true |
    /// | `notSafeMode`, `notWinPE` | no `EVENT_SAFEMODE` / `EVENT_WINPE` true |
    /// | `vbsEnabled` | every `EVENT_VBS_VSM_REQUIRED` and `EVENT_VBS_MANDATORY_ENFORCEMENT` true (PCRs 12/19) |
    /// | `iommuEnabled` | every `EVENT_VBS_IOMMU_REQUIRED` true |
    /// | `hvciEnabled` | every `EVENT_VBS_HVCI_POLICY` exactly 1 |
    /// | `depPolicy` | the last `EVENT_DATAEXECUTIONPREVENTION` |
    /// | `bitlockerStatus` | the first non-zero `EVENT_BITLOCKER_UNLOCK` (PCRs 12/19), else 0 |
    /// | `bootMgrSvn` | the first `EVENT_APPLICATION_SVN` in a PCR 12 trust boundary |
    /// | `elamDriverLoaded` | a validated loaded module `\windows\system32\drivers\(wd\)wdboot.sys` (only when the log has loaded modules) |
    /// | `x-attesta-tpm-elam-vendors` | `EVENT_ELAM_KEYNAME`s of the measured ELAM configurations |
    /// | `x-attesta-tpm-ak-hierarchy` | the hierarchy the quotes' `qualifiedSigner` proves the AK's primary lives in ([`TpmVerified::ak_hierarchy`]) |
    /// | `x-attesta-tpm-sha1-accepted` | true when a quote signed with SHA-1 was accepted ([`TpmOptions::allow_sha1`]) |
    /// | `x-attesta-tpm-reset-count`, `-restart-count` | TPMS_CLOCK_INFO of the quote: a changed reset count means a reboot |
    /// | `x-attesta-test-root` | the AK chain ended at a configured test root |
    ///
    /// The Windows claims (from `bootDebuggingDisabled` to the ELAM vendors)
    /// come from [`Self::windows_boot_state`], each only when the log records
    /// the item it reads (absent otherwise, so a policy requiring it fails
    /// closed).
    pub fn claims(&self) -> Claims {
        self.claims_where(|_| true)
    }

    /// [`Self::claims`], with the costly log renderings (`events`,
    /// `bootEvents`: every event as JSON) only when `wanted` asks for them —
    /// for a caller whose policy cannot read them
    /// (`CompiledPolicy::may_read_claim`).
    pub fn claims_where(&self, wanted: impl Fn(&str) -> bool) -> Claims {
        let mut c = Claims::new();
        c.insert("aikValidated", self.aik_validated);
        c.insert("aikPubHash", self.aik_pub_hash.clone());
        c.insert("tpmVersion", 2);
        if let Some(sb) = self.secure_boot() {
            c.insert("secureBootEnabled", sb);
        }
        c.insert("pcrs", self.pcrs_json());
        if let Some(log) = &self.event_log
            && wanted("events")
        {
            c.insert("events", log.proven_events_json(&self.quoted));
        }
        if let Some(boot) = &self.boot
            && let Some(log) = &boot.event_log
            && wanted("bootEvents")
        {
            c.insert("bootEvents", log.proven_events_json(&boot.quoted));
        }
        if let Some(w) = self.windows_boot_state() {
            let mut flag = |name: &str, v: Option<bool>| {
                if let Some(v) = v {
                    c.insert(name, v);
                }
            };
            flag("bootDebuggingDisabled", w.boot_debugging.map(|b| !b));
            flag("osKernelDebuggingDisabled", w.kernel_debugging.map(|b| !b));
            flag("codeIntegrityEnabled", w.code_integrity);
            flag("testSigningDisabled", w.test_signing.map(|b| !b));
            flag("flightSigningNotEnabled", w.flight_signing.map(|b| !b));
            flag("notSafeMode", w.safe_mode.map(|b| !b));
            flag("notWinPE", w.winpe.map(|b| !b));
            flag("vbsEnabled", w.vsm_required);
            flag("iommuEnabled", w.iommu_required);
            flag("hvciEnabled", w.hvci);
            if w.loaded_modules > 0 {
                c.insert("elamDriverLoaded", w.windows_defender_elam_loaded());
            }
            if let Some(v) = w.dep_policy {
                c.insert("depPolicy", v);
            }
            if let Some(v) = w.bitlocker_unlock {
                c.insert("bitlockerStatus", v);
            }
            if let Some(v) = w.boot_mgr_svn {
                c.insert("bootMgrSvn", v);
            }
            if !w.elam_drivers.is_empty() {
                c.insert("x-attesta-tpm-elam-vendors", w.elam_drivers.clone());
            }
        }
        if let Some(h) = self.ak_hierarchy {
            c.insert("x-attesta-tpm-ak-hierarchy", h);
        }
        if self.sha1_accepted {
            c.insert("x-attesta-tpm-sha1-accepted", true);
        }
        c.insert("x-attesta-tpm-reset-count", self.reset_count);
        c.insert("x-attesta-tpm-restart-count", self.restart_count);
        if self.test_root {
            c.insert("x-attesta-test-root", true);
        }
        c
    }
}
