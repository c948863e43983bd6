//! DCAP verification, split in two for speed:
//!
//! * [`VerifiedCollateral::verify`] checks every collateral signature, CRL and
//!   intermediate certificate once and keeps the parsed results (TCB levels,
//!   QE identity, revoked-serial sets, the verified PCK CA). It is valid until
//!   the earliest `nextUpdate` / `notAfter` it saw; callers cache it per FMSPC.
//! * [`verify_quote`] does only the quote's own work: the PCK leaf signature by
//!   the cached CA, the leaf's revocation and validity, the QE report
//!   signature, the QE report data hash, the quote signature and TCB matching.
//!
//! Why by hand rather than dcap-qvl 0.7.1: it re-verifies all collateral on
//! every call (about 9 P-256 verifications per quote), rejects SGX quote v4,
//! returns `Ok` for `OutOfDate` and other non-current statuses, never compares
//! the TCB info `pceId` with the PCK certificate, and reports failures as
//! strings. Here each step has its own [`SgxError`] variant.

use crate::claims::Claims;
use crate::crypto::{self, Scheme};
use crate::dcap::{DcapCollateral, DcapTee};
use crate::roots::{RootKind, TrustRoots};
use crate::types::UnixTime;

use super::error::SgxError;
use super::pki::{self, CheckedCrl, PckExtension};
use super::quote::{Quote, ReportBody};
use super::tcb::{self, QeIdentity, QeTcbLevel, TcbInfo, TcbStatus};
use crate::pki::Role;
use x509_parser::certificate::X509Certificate;

/// SHA-256 digests of the collateral, for the `x-ms-sgx-collateral` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollateralHashes {
    /// SHA-256 of the TCB info response body as received.
    pub tcbinfohash: [u8; 32],
    /// SHA-256 of the TCB info issuer chain PEM as received.
    pub tcbinfocertshash: [u8; 32],
    /// SHA-256 of the Intel SGX Root CA CRL DER (the CRL the TCB signing chain is checked against).
    pub tcbinfocrlhash: [u8; 32],
    /// SHA-256 of the QE identity response body as received.
    pub qeidhash: [u8; 32],
    /// SHA-256 of the QE identity issuer chain PEM as received.
    pub qeidcertshash: [u8; 32],
    /// SHA-256 of the Intel SGX Root CA CRL DER.
    pub qeidcrlhash: [u8; 32],
}

/// The verified PCK issuing CA (Processor or Platform CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckCa {
    pub der: Vec<u8>,
    pub subject_raw: Vec<u8>,
    pub public_key: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

/// What a PCK leaf certificate says, once its signature by the PCK CA verified.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LeafFacts {
    not_before: i64,
    not_after: i64,
    raw_serial: Vec<u8>,
    pck: PckExtension,
    public_key: Vec<u8>,
}

/// PCK leaves whose signature by this collateral's PCK CA has verified,
/// keyed by SHA-256 of the certificate's DER. A platform sends many quotes
/// with one PCK certificate; re-checking a byte-identical certificate can
/// only give the same answer, so the warm path skips one P-256 verification
/// and the X.509 decode (about a third of its cost). Validity and revocation
/// are still checked on every quote. Bounded; cleared when full. Copied by
/// clones, ignored by equality.
#[derive(Debug, Default)]
struct LeafMemo(std::sync::RwLock<std::collections::HashMap<[u8; 32], LeafFacts>>);

const LEAF_MEMO_MAX: usize = 4096;

// mutants: equivalent — the memo only saves work, it never decides: `get`
// returning None (always a miss), `insert` doing nothing, clearing before
// every insert (`>=` as `<`) and a clone starting empty all make every
// quote take the full leaf check, with the same outcome. Its answers are
// covered by the tests that verify several quotes with one collateral.
impl LeafMemo {
    fn get(&self, digest: &[u8; 32]) -> Option<LeafFacts> {
        self.0.read().ok().and_then(|m| m.get(digest).cloned())
    }

    fn insert(&self, digest: [u8; 32], facts: LeafFacts) {
        if let Ok(mut m) = self.0.write() {
            if m.len() >= LEAF_MEMO_MAX {
                m.clear();
            }
            m.insert(digest, facts);
        }
    }
}

// mutants: equivalent — a clone that starts empty only re-does leaf checks
// (see the comment on `impl LeafMemo`).
impl Clone for LeafMemo {
    fn clone(&self) -> Self {
        let map = self.0.read().map(|m| m.clone()).unwrap_or_default();
        LeafMemo(std::sync::RwLock::new(map))
    }
}

impl PartialEq for LeafMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LeafMemo {}

/// Collateral whose every signature, chain and CRL has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCollateral {
    /// DER of the root the collateral's chains ended at.
    pub root_der: Vec<u8>,
    /// True when that root came from configuration (a test root).
    pub test_root: bool,
    root_subject: Vec<u8>,
    root_key: Vec<u8>,
    root_window: (i64, i64),
    root_crl: CheckedCrl,
    tcb_signer_window: (i64, i64),
    qe_signer_window: (i64, i64),
    pub pck_ca: PckCa,
    pck_crl: CheckedCrl,
    pub tcb_info: TcbInfo,
    pub qe_identity: QeIdentity,
    pub hashes: CollateralHashes,
    leaf_memo: LeafMemo,
}

/// A chain `[signer, root]` from a PEM issuer-chain field, checked to end
/// at a trusted root and the signer to be issued by it.
struct SignerChain {
    root_der: Vec<u8>,
    test_root: bool,
    signer_der: Vec<u8>,
}

fn find_root(
    roots: &TrustRoots,
    chain: &[Vec<u8>],
    what: &'static str,
) -> Result<(Vec<u8>, bool), SgxError> {
    let last = chain.last().ok_or(SgxError::UntrustedRoot(what))?;
    roots
        .find(RootKind::IntelSgx, last)
        .map(|r| (r.der.clone(), r.configured))
        .ok_or(SgxError::UntrustedRoot(what))
}

fn split_chain(
    pem: &str,
    roots: &TrustRoots,
    what: &'static str,
    invalid: fn(String) -> SgxError,
) -> Result<SignerChain, SgxError> {
    let certs = pki::pem_certificates(pem.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    if certs.len() != 2 {
        return Err(invalid(format!(
            "expected 2 certificates (signer, root), found {}",
            certs.len()
        )));
    }
    let (root_der, test_root) = find_root(roots, &certs, what)?;
    Ok(SignerChain {
        root_der,
        test_root,
        signer_der: certs[0].clone(),
    })
}

fn check_window(
    at: u64,
    window: (i64, i64),
    err: impl FnOnce() -> SgxError,
) -> Result<(), SgxError> {
    if pki::within(at, window.0, window.1) {
        Ok(())
    } else {
        Err(err())
    }
}

/// A collateral document's window: `expired` after it, `not_yet` before it.
fn check_document(
    at: u64,
    window: (i64, i64),
    expired: impl FnOnce() -> SgxError,
    not_yet: impl FnOnce() -> SgxError,
) -> Result<(), SgxError> {
    if (at as i64) < window.0 {
        Err(not_yet())
    } else {
        check_window(at, window, expired)
    }
}

/// True for the errors that say an item is outside its validity window.
fn is_window_error(e: &SgxError) -> bool {
    matches!(
        e,
        SgxError::RootCaExpired
            | SgxError::RootCaCrlExpired { .. }
            | SgxError::RootCaCrlNotYetValid { .. }
            | SgxError::TcbSigningCertExpired
            | SgxError::TcbInfoExpired { .. }
            | SgxError::TcbInfoNotYetValid { .. }
            | SgxError::QeIdentityExpired { .. }
            | SgxError::QeIdentityNotYetValid { .. }
            | SgxError::PckCaExpired
            | SgxError::PckCrlExpired { .. }
            | SgxError::PckCrlNotYetValid { .. }
    )
}

/// Every item of `collateral` outside its window at `at`, described (name,
/// window in RFC 3339, expired or not yet valid). Read without verifying:
/// it only names what else to refresh once verification has failed on a
/// window; it decides nothing.
fn windows_not_current(
    collateral: &DcapCollateral,
    tee: DcapTee,
    at: u64,
) -> Vec<(&'static str, String)> {
    let mut items: Vec<(&'static str, &'static str, &'static str, (i64, i64))> = Vec::new();
    let chain_certs = |pem: &str| pki::pem_certificates(pem.as_bytes()).unwrap_or_default();
    let cert_window = |der: &[u8]| pki::parse_cert(der).ok().map(|c| pki::validity(&c));
    let tcb_chain = chain_certs(&collateral.tcb_info_issuer_chain);
    if let Some(w) = tcb_chain.last().and_then(|d| cert_window(d)) {
        items.push(("the Intel SGX Root CA", "notBefore", "notAfter", w));
    }
    if let Some(w) = tcb_chain
        .first()
        .filter(|_| tcb_chain.len() > 1)
        .and_then(|d| cert_window(d))
    {
        items.push(("the TCB signing certificate", "notBefore", "notAfter", w));
    }
    for (name, der) in [
        ("the Root CA CRL", &collateral.root_ca_crl),
        ("the PCK CRL", &collateral.pck_crl),
    ] {
        if let Ok(crl) = pki::parse_crl(der)
            && let Some(next) = crl.next_update()
        {
            items.push((
                name,
                "thisUpdate",
                "nextUpdate",
                (crl.last_update().timestamp(), next.timestamp()),
            ));
        }
    }
    if let Ok(doc) = tcb::split_tcb_info(&collateral.tcb_info_json)
        && let Ok(i) = tcb::parse_tcb_info_for(doc.body, tee)
    {
        items.push((
            "the TCB info",
            "issueDate",
            "nextUpdate",
            (i.issue_date, i.next_update),
        ));
    }
    if let Ok(doc) = tcb::split_qe_identity(&collateral.qe_identity_json)
        && let Ok(q) = tcb::parse_qe_identity_for(doc.body, tee)
    {
        items.push((
            "the QE identity",
            "issueDate",
            "nextUpdate",
            (q.issue_date, q.next_update),
        ));
    }
    let pck_ca = chain_certs(&collateral.pck_crl_issuer_chain);
    if let Some(w) = pck_ca.first().and_then(|d| cert_window(d)) {
        items.push(("the PCK CA certificate", "notBefore", "notAfter", w));
    }
    items
        .into_iter()
        .filter(|(_, _, _, (from, until))| !pki::within(at, *from, *until))
        .map(|(name, from_name, until_name, window)| {
            (
                name,
                describe_window(at, name, from_name, until_name, window),
            )
        })
        .collect()
}

/// "the TCB info is expired (issueDate …, nextUpdate …)".
fn describe_window(
    at: u64,
    name: &str,
    from_name: &str,
    until_name: &str,
    (from, until): (i64, i64),
) -> String {
    let state = if (at as i64) < from {
        "not yet valid"
    } else {
        "expired"
    };
    format!(
        "{name} is {state} ({from_name} {}, {until_name} {})",
        crate::types::rfc3339(from),
        crate::types::rfc3339(until)
    )
}

/// The item a window error is about, as [`windows_not_current`] names it.
fn window_item(e: &SgxError) -> &'static str {
    match e {
        SgxError::RootCaExpired => "the Intel SGX Root CA",
        SgxError::RootCaCrlExpired { .. } | SgxError::RootCaCrlNotYetValid { .. } => {
            "the Root CA CRL"
        }
        SgxError::TcbSigningCertExpired => "the TCB signing certificate",
        SgxError::TcbInfoExpired { .. } | SgxError::TcbInfoNotYetValid { .. } => "the TCB info",
        SgxError::QeIdentityExpired { .. } | SgxError::QeIdentityNotYetValid { .. } => {
            "the QE identity"
        }
        SgxError::PckCaExpired => "the PCK CA certificate",
        SgxError::PckCrlExpired { .. } | SgxError::PckCrlNotYetValid { .. } => "the PCK CRL",
        _ => "",
    }
}

impl VerifiedCollateral {
    /// Verify a DCAP collateral set against `roots` at `at`.
    ///
    /// Checks, in order: the root is trusted and current; the Root CA CRL's
    /// signature and window; the TCB signing certificate (issued by the root,
    /// current, not revoked) and the TCB info's signature over its exact
    /// `tcbInfo` text, its id/version and window; the same for the QE
    /// identity; the PCK CA certificate (issued by the root, current, not
    /// revoked) and the PCK CRL's signature and window.
    pub fn verify(
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<VerifiedCollateral, SgxError> {
        Self::verify_for(collateral, roots, at, DcapTee::Sgx)
    }

    /// [`VerifiedCollateral::verify`] for either DCAP TEE: `tee` selects
    /// which TCB info id (`SGX` / `TDX`) and QE identity id (`QE` /
    /// `TD_QE`) the documents must carry. Shared with the TDX verifier.
    pub(crate) fn verify_for(
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
        tee: DcapTee,
    ) -> Result<VerifiedCollateral, SgxError> {
        Self::verify_for_inner(collateral, roots, at, tee).map_err(|first| {
            if !is_window_error(&first) {
                return first;
            }
            let item = window_item(&first);
            let others: Vec<String> = windows_not_current(collateral, tee, at.0)
                .into_iter()
                .filter(|(name, _)| *name != item)
                .map(|(_, text)| text)
                .collect();
            if others.is_empty() {
                first
            } else {
                SgxError::NotCurrent {
                    first: Box::new(first),
                    others,
                }
            }
        })
    }

    fn verify_for_inner(
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
        tee: DcapTee,
    ) -> Result<VerifiedCollateral, SgxError> {
        let t = at.0;
        // TCB signing chain and the root it anchors to.
        let tcb_chain = split_chain(
            &collateral.tcb_info_issuer_chain,
            roots,
            "TCB info issuer",
            SgxError::TcbSigningChainInvalid,
        )?;
        let root = pki::parse_cert(&tcb_chain.root_der)
            .map_err(|e| SgxError::TcbSigningChainInvalid(e.to_string()))?;
        let root_subject = root.subject().as_raw().to_vec();
        let root_key = pki::public_key(&root);
        let root_window = pki::validity(&root);
        check_window(t, root_window, || SgxError::RootCaExpired)?;

        // Root CA CRL.
        let root_crl = pki::check_crl(&collateral.root_ca_crl, &root)
            .map_err(|e| SgxError::RootCaCrlInvalid(e.to_string()))?;
        check_document(
            t,
            (root_crl.this_update, root_crl.next_update),
            || SgxError::RootCaCrlExpired {
                this_update: root_crl.this_update,
                next_update: root_crl.next_update,
                at: t,
            },
            || SgxError::RootCaCrlNotYetValid {
                this_update: root_crl.this_update,
                next_update: root_crl.next_update,
                at: t,
            },
        )?;

        // TCB info.
        let tcb_signer_window = check_signer(&tcb_chain, &root, &root_crl, t)?;
        let doc =
            tcb::split_tcb_info(&collateral.tcb_info_json).map_err(SgxError::TcbInfoInvalid)?;
        let tcb_key = signer_key(&tcb_chain.signer_der)?;
        crypto::verify(
            Scheme::EcdsaP256Sha256Fixed,
            &tcb_key,
            doc.body.as_bytes(),
            &doc.signature,
        )
        .map_err(|_| SgxError::TcbInfoSignatureInvalid)?;
        let tcb_info = tcb::parse_tcb_info_for(doc.body, tee).map_err(SgxError::TcbInfoInvalid)?;
        check_document(
            t,
            (tcb_info.issue_date, tcb_info.next_update),
            || SgxError::TcbInfoExpired {
                issue_date: tcb_info.issue_date,
                next_update: tcb_info.next_update,
                at: t,
            },
            || SgxError::TcbInfoNotYetValid {
                issue_date: tcb_info.issue_date,
                next_update: tcb_info.next_update,
                at: t,
            },
        )?;

        // QE identity (its chain must end at the same root).
        let qe_chain = split_chain(
            &collateral.qe_identity_issuer_chain,
            roots,
            "QE identity issuer",
            SgxError::TcbSigningChainInvalid,
        )?;
        if qe_chain.root_der != tcb_chain.root_der {
            return Err(SgxError::TcbSigningChainInvalid(
                "the QE identity and TCB info chains end at different roots".into(),
            ));
        }
        let qe_signer_window = check_signer(&qe_chain, &root, &root_crl, t)?;
        let doc = tcb::split_qe_identity(&collateral.qe_identity_json)
            .map_err(SgxError::QeIdentityInvalid)?;
        let qe_key = signer_key(&qe_chain.signer_der)?;
        crypto::verify(
            Scheme::EcdsaP256Sha256Fixed,
            &qe_key,
            doc.body.as_bytes(),
            &doc.signature,
        )
        .map_err(|_| SgxError::QeIdentitySignatureInvalid)?;
        let qe_identity =
            tcb::parse_qe_identity_for(doc.body, tee).map_err(SgxError::QeIdentityInvalid)?;
        check_document(
            t,
            (qe_identity.issue_date, qe_identity.next_update),
            || SgxError::QeIdentityExpired {
                issue_date: qe_identity.issue_date,
                next_update: qe_identity.next_update,
                at: t,
            },
            || SgxError::QeIdentityNotYetValid {
                issue_date: qe_identity.issue_date,
                next_update: qe_identity.next_update,
                at: t,
            },
        )?;

        // PCK CA and PCK CRL.
        let certs = pki::pem_certificates(collateral.pck_crl_issuer_chain.as_bytes())
            .map_err(|e| SgxError::PckCrlInvalid(e.to_string()))?;
        if certs.len() != 2 {
            return Err(SgxError::PckCrlInvalid(format!(
                "the PCK CRL issuer chain has {} certificates, expected 2 (PCK CA, root)",
                certs.len()
            )));
        }
        if certs[1] != tcb_chain.root_der {
            return Err(SgxError::UntrustedRoot("PCK CRL issuer"));
        }
        let ca_invalid = |e: pki::CertificateError| SgxError::PckChainInvalid(e.to_string());
        let ca = pki::parse_cert(&certs[0]).map_err(ca_invalid)?;
        pki::issued_by(&ca, &root).map_err(ca_invalid)?;
        pki::require_ca(&ca).map_err(ca_invalid)?;
        let (nb, na) = pki::validity(&ca);
        check_window(t, (nb, na), || SgxError::PckCaExpired)?;
        if root_crl.is_revoked(ca.raw_serial()) {
            return Err(SgxError::PckCaRevoked(hex::encode(ca.raw_serial())));
        }
        let pck_ca = PckCa {
            der: certs[0].clone(),
            subject_raw: ca.subject().as_raw().to_vec(),
            public_key: pki::public_key(&ca),
            not_before: nb,
            not_after: na,
        };
        let pck_crl = pki::check_crl(&collateral.pck_crl, &ca)
            .map_err(|e| SgxError::PckCrlInvalid(e.to_string()))?;
        check_document(
            t,
            (pck_crl.this_update, pck_crl.next_update),
            || SgxError::PckCrlExpired {
                this_update: pck_crl.this_update,
                next_update: pck_crl.next_update,
                at: t,
            },
            || SgxError::PckCrlNotYetValid {
                this_update: pck_crl.this_update,
                next_update: pck_crl.next_update,
                at: t,
            },
        )?;

        let root_crl_hash = crypto::sha256(&collateral.root_ca_crl);
        let hashes = CollateralHashes {
            tcbinfohash: crypto::sha256(collateral.tcb_info_json.as_bytes()),
            tcbinfocertshash: crypto::sha256(collateral.tcb_info_issuer_chain.as_bytes()),
            tcbinfocrlhash: root_crl_hash,
            qeidhash: crypto::sha256(collateral.qe_identity_json.as_bytes()),
            qeidcertshash: crypto::sha256(collateral.qe_identity_issuer_chain.as_bytes()),
            qeidcrlhash: root_crl_hash,
        };
        Ok(VerifiedCollateral {
            root_der: tcb_chain.root_der,
            test_root: tcb_chain.test_root,
            root_subject,
            root_key,
            root_window,
            root_crl,
            tcb_signer_window,
            qe_signer_window,
            pck_ca,
            pck_crl,
            tcb_info,
            qe_identity,
            hashes,
            leaf_memo: LeafMemo::default(),
        })
    }

    /// Re-check every validity window at `at`, in the order `verify` checks
    /// them, so a cached value used past its time fails with the same error.
    pub fn check_time(&self, at: UnixTime) -> Result<(), SgxError> {
        self.check_time_first(at).map_err(|first| {
            let item = window_item(&first);
            let others: Vec<String> = self
                .windows()
                .into_iter()
                .filter(|(name, _, _, (from, until))| {
                    *name != item && !pki::within(at.0, *from, *until)
                })
                .map(|(name, from_name, until_name, (from, until))| {
                    describe_window(at.0, name, from_name, until_name, (from, until))
                })
                .collect();
            if others.is_empty() {
                first
            } else {
                SgxError::NotCurrent {
                    first: Box::new(first),
                    others,
                }
            }
        })
    }

    /// Every window this collateral holds, named as [`window_item`] names
    /// them, with the names of its bounds.
    fn windows(&self) -> Vec<(&'static str, &'static str, &'static str, (i64, i64))> {
        vec![
            (
                "the Intel SGX Root CA",
                "notBefore",
                "notAfter",
                self.root_window,
            ),
            (
                "the Root CA CRL",
                "thisUpdate",
                "nextUpdate",
                (self.root_crl.this_update, self.root_crl.next_update),
            ),
            (
                "the TCB signing certificate",
                "notBefore",
                "notAfter",
                self.tcb_signer_window,
            ),
            (
                "the TCB info",
                "issueDate",
                "nextUpdate",
                (self.tcb_info.issue_date, self.tcb_info.next_update),
            ),
            (
                "the QE identity",
                "issueDate",
                "nextUpdate",
                (self.qe_identity.issue_date, self.qe_identity.next_update),
            ),
            (
                "the PCK CA certificate",
                "notBefore",
                "notAfter",
                (self.pck_ca.not_before, self.pck_ca.not_after),
            ),
            (
                "the PCK CRL",
                "thisUpdate",
                "nextUpdate",
                (self.pck_crl.this_update, self.pck_crl.next_update),
            ),
        ]
    }

    fn check_time_first(&self, at: UnixTime) -> Result<(), SgxError> {
        let t = at.0;
        check_window(t, self.root_window, || SgxError::RootCaExpired)?;
        let c = &self.root_crl;
        check_document(
            t,
            (c.this_update, c.next_update),
            || SgxError::RootCaCrlExpired {
                this_update: c.this_update,
                next_update: c.next_update,
                at: t,
            },
            || SgxError::RootCaCrlNotYetValid {
                this_update: c.this_update,
                next_update: c.next_update,
                at: t,
            },
        )?;
        check_window(t, self.tcb_signer_window, || {
            SgxError::TcbSigningCertExpired
        })?;
        let i = &self.tcb_info;
        check_document(
            t,
            (i.issue_date, i.next_update),
            || SgxError::TcbInfoExpired {
                issue_date: i.issue_date,
                next_update: i.next_update,
                at: t,
            },
            || SgxError::TcbInfoNotYetValid {
                issue_date: i.issue_date,
                next_update: i.next_update,
                at: t,
            },
        )?;
        check_window(t, self.qe_signer_window, || SgxError::TcbSigningCertExpired)?;
        let q = &self.qe_identity;
        check_document(
            t,
            (q.issue_date, q.next_update),
            || SgxError::QeIdentityExpired {
                issue_date: q.issue_date,
                next_update: q.next_update,
                at: t,
            },
            || SgxError::QeIdentityNotYetValid {
                issue_date: q.issue_date,
                next_update: q.next_update,
                at: t,
            },
        )?;
        check_window(t, (self.pck_ca.not_before, self.pck_ca.not_after), || {
            SgxError::PckCaExpired
        })?;
        let c = &self.pck_crl;
        check_document(
            t,
            (c.this_update, c.next_update),
            || SgxError::PckCrlExpired {
                this_update: c.this_update,
                next_update: c.next_update,
                at: t,
            },
            || SgxError::PckCrlNotYetValid {
                this_update: c.this_update,
                next_update: c.next_update,
                at: t,
            },
        )
    }

    /// The time range in which this collateral verifies: the latest start and
    /// the earliest end of every window it holds. A cache keeps it no longer.
    pub fn valid_window(&self) -> (i64, i64) {
        let windows = [
            self.root_window,
            (self.root_crl.this_update, self.root_crl.next_update),
            self.tcb_signer_window,
            (self.tcb_info.issue_date, self.tcb_info.next_update),
            self.qe_signer_window,
            (self.qe_identity.issue_date, self.qe_identity.next_update),
            (self.pck_ca.not_before, self.pck_ca.not_after),
            (self.pck_crl.this_update, self.pck_crl.next_update),
        ];
        (
            windows.iter().map(|w| w.0).max().unwrap_or(i64::MAX),
            windows.iter().map(|w| w.1).min().unwrap_or(i64::MIN),
        )
    }
}

fn signer_key(der: &[u8]) -> Result<Vec<u8>, SgxError> {
    let c = pki::parse_cert(der).map_err(|e| SgxError::TcbSigningChainInvalid(e.to_string()))?;
    Ok(pki::public_key(&c))
}

/// The TCB signing certificate: issued by the root, current, not revoked.
fn check_signer(
    chain: &SignerChain,
    root: &X509Certificate<'_>,
    root_crl: &CheckedCrl,
    t: u64,
) -> Result<(i64, i64), SgxError> {
    let invalid = |e: pki::CertificateError| SgxError::TcbSigningChainInvalid(e.to_string());
    let signer = pki::parse_cert(&chain.signer_der).map_err(invalid)?;
    pki::issued_by(&signer, root).map_err(invalid)?;
    let window = pki::validity(&signer);
    check_window(t, window, || SgxError::TcbSigningCertExpired)?;
    if root_crl.is_revoked(signer.raw_serial()) {
        return Err(SgxError::TcbSigningCertRevoked(hex::encode(
            signer.raw_serial(),
        )));
    }
    Ok(window)
}

/// A quote that verified, with everything claims are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgxVerified {
    pub quote_version: u16,
    /// The ISV enclave report body.
    pub report: ReportBody,
    /// The platform and QE statuses combined as Intel's QVL does.
    pub tcb_status: TcbStatus,
    /// The platform TCB level's own status.
    pub platform_tcb_status: TcbStatus,
    pub qe_tcb_status: TcbStatus,
    /// Platform advisories followed by QE advisories not already listed.
    pub advisory_ids: Vec<String>,
    /// The matched platform TCB level's `tcbDate`.
    pub tcb_date: Option<String>,
    pub pck: PckExtension,
    /// True when the chain ended at a configured (non-embedded) root.
    pub test_root: bool,
    /// SHA-256 of the quote bytes.
    pub quote_hash: [u8; 32],
    pub collateral_hashes: CollateralHashes,
}

/// Verify one quote against verified collateral at `at`.
///
/// Does not judge the debug attribute: as in MAA, it becomes the claim
/// `x-ms-sgx-is-debuggable` for policy (the [`super::SgxVerifier`] option
/// `allow_debug` rejects debug enclaves outright).
pub fn verify_quote(
    quote: &Quote<'_>,
    collateral: &VerifiedCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<SgxVerified, SgxError> {
    let VerifiedPck {
        pck,
        public_key: pck_key,
        test_root,
    } = verify_pck_chain(quote.pck_chain_pem, collateral, roots, at)?;
    check_quote_signatures(quote, &pck_key)?;
    let e = evaluate_tcb(
        &pck,
        &quote.qe_report,
        &collateral.tcb_info,
        &collateral.qe_identity,
    )?;
    Ok(SgxVerified {
        quote_version: quote.header.version,
        report: quote.report.clone(),
        tcb_status: e.tcb_status,
        platform_tcb_status: e.platform_tcb_status,
        qe_tcb_status: e.qe_tcb_status,
        advisory_ids: e.advisory_ids,
        tcb_date: e.tcb_date,
        pck,
        test_root,
        quote_hash: crypto::sha256(quote.unpadded()),
        collateral_hashes: collateral.hashes.clone(),
    })
}

/// A PCK leaf certificate that verified against cached collateral.
pub(crate) struct VerifiedPck {
    pub(crate) pck: PckExtension,
    /// Uncompressed P-256 point of the leaf's key.
    pub(crate) public_key: Vec<u8>,
    /// True when the chain ended at a configured (non-embedded) root.
    pub(crate) test_root: bool,
}

/// The quote's PCK chain against verified collateral at `at`: the cached
/// collateral is still current and its root trusted; the quote's CA and root
/// copies name the verified subject and key; the leaf is signed by the PCK
/// CA (memoised), current and not revoked. Shared by SGX and TDX.
pub(crate) fn verify_pck_chain(
    pck_chain_pem: &[u8],
    collateral: &VerifiedCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<VerifiedPck, SgxError> {
    // The cached collateral must still be current and its root still trusted.
    collateral.check_time(at)?;
    let root = roots
        .find(RootKind::IntelSgx, &collateral.root_der)
        .ok_or(SgxError::UntrustedRoot("collateral"))?;

    // PCK chain from the quote: leaf, the collateral's PCK CA, and (optionally) the root.
    let certs = pki::pem_certificates(pck_chain_pem).map_err(SgxError::pck_chain)?;
    if certs.len() < 2 || certs.len() > 3 {
        return Err(SgxError::PckChainInvalid(format!(
            "expected PCK leaf, PCK CA and root, found {} certificates",
            certs.len()
        )));
    }
    // The quote's copies of the CA and root only have to name the same
    // subject and key as the verified ones: Intel has issued the root (and
    // CAs) more than once with one key (quotes from 2020-21 carry a root copy
    // valid to 2033), and trust rests in the key the leaf is checked with.
    // Identical bytes (the usual case) skip the parse.
    if certs.len() == 3 && certs[2] != collateral.root_der {
        let same = pki::parse_cert(&certs[2]).is_ok_and(|c| {
            c.subject().as_raw() == collateral.root_subject.as_slice()
                && pki::public_key(&c) == collateral.root_key
        });
        if !same {
            return Err(SgxError::UntrustedRoot("PCK"));
        }
    }
    if certs[1] != collateral.pck_ca.der {
        let ca = pki::parse_cert(&certs[1]);
        let same = ca.as_ref().is_ok_and(|c| {
            c.subject().as_raw() == collateral.pck_ca.subject_raw.as_slice()
                && pki::public_key(c) == collateral.pck_ca.public_key
        });
        if !same {
            let subject = ca
                .map(|c| c.subject().to_string())
                .unwrap_or_else(|_| "an unparsable certificate".into());
            return Err(SgxError::PckCrlIssuerMismatch(subject));
        }
    }
    let leaf_digest = crypto::sha256(&certs[0]);
    let leaf = match collateral.leaf_memo.get(&leaf_digest) {
        Some(facts) => facts,
        None => {
            let leaf_err = |e: pki::CertificateError| SgxError::pck_chain(e.in_role(Role::Leaf));
            let leaf = pki::parse_cert(&certs[0]).map_err(leaf_err)?;
            let ca = pki::parse_cert(&collateral.pck_ca.der).map_err(leaf_err)?;
            pki::issued_by(&leaf, &ca).map_err(leaf_err)?;
            let (not_before, not_after) = pki::validity(&leaf);
            let facts = LeafFacts {
                not_before,
                not_after,
                raw_serial: leaf.raw_serial().to_vec(),
                pck: pki::pck_extension(&leaf).map_err(SgxError::PckExtensionInvalid)?,
                public_key: pki::public_key(&leaf),
            };
            collateral.leaf_memo.insert(leaf_digest, facts.clone());
            facts
        }
    };
    if !pki::within(at.0, leaf.not_before, leaf.not_after) {
        return Err(SgxError::PckCertificateExpired {
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            at: at.0,
        });
    }
    if collateral.pck_crl.is_revoked(&leaf.raw_serial) {
        return Err(SgxError::PckCertificateRevoked(hex::encode(
            &leaf.raw_serial,
        )));
    }
    Ok(VerifiedPck {
        pck: leaf.pck,
        public_key: leaf.public_key,
        test_root: root.configured,
    })
}

/// The quote's own signature chain below the PCK certificate: the QE report
/// signed by `pck_key` (uncompressed P-256 point), the QE report data equal
/// to SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes, and header ‖
/// ISV report body (the received bytes) signed by the attestation key.
pub fn check_quote_signatures(quote: &Quote<'_>, pck_key: &[u8]) -> Result<(), SgxError> {
    check_signature_parts(
        &SignatureParts {
            qe_report_bytes: quote.qe_report_bytes,
            qe_report_signature: &quote.qe_report_signature,
            qe_report_data: &quote.qe_report.report_data,
            attestation_key: &quote.attestation_key,
            qe_auth_data: quote.qe_auth_data,
            signed_bytes: quote.signed_bytes,
            signature: &quote.signature,
        },
        pck_key,
    )
}

/// The parts of a DCAP quote (SGX or TDX) that the signature checks read,
/// all as received.
pub(crate) struct SignatureParts<'a> {
    pub(crate) qe_report_bytes: &'a [u8],
    pub(crate) qe_report_signature: &'a [u8; 64],
    pub(crate) qe_report_data: &'a [u8; 64],
    pub(crate) attestation_key: &'a [u8; 64],
    pub(crate) qe_auth_data: &'a [u8],
    pub(crate) signed_bytes: &'a [u8],
    pub(crate) signature: &'a [u8; 64],
}

/// [`check_quote_signatures`] over the parts of any DCAP quote.
pub(crate) fn check_signature_parts(
    q: &SignatureParts<'_>,
    pck_key: &[u8],
) -> Result<(), SgxError> {
    crypto::verify(
        Scheme::EcdsaP256Sha256Fixed,
        pck_key,
        q.qe_report_bytes,
        q.qe_report_signature,
    )
    .map_err(|_| SgxError::QeReportSignatureInvalid)?;

    let mut bound = Vec::with_capacity(64 + q.qe_auth_data.len());
    bound.extend_from_slice(q.attestation_key);
    bound.extend_from_slice(q.qe_auth_data);
    let digest = crypto::sha256(&bound);
    let rd = q.qe_report_data;
    if !crypto::constant_time_eq(&rd[..32], &digest) || rd[32..].iter().any(|&b| b != 0) {
        return Err(SgxError::QeReportDataMismatch);
    }

    let mut ak = [0u8; 65];
    ak[0] = 0x04;
    ak[1..].copy_from_slice(q.attestation_key);
    crypto::verify(
        Scheme::EcdsaP256Sha256Fixed,
        &ak,
        q.signed_bytes,
        q.signature,
    )
    .map_err(|_| SgxError::QuoteSignatureInvalid)
}

/// The outcome of TCB evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbEvaluation {
    pub tcb_status: TcbStatus,
    pub platform_tcb_status: TcbStatus,
    pub qe_tcb_status: TcbStatus,
    pub advisory_ids: Vec<String>,
    pub tcb_date: Option<String>,
}

/// Evaluate a platform (its PCK certificate's SGX extension) and its QE
/// report against TCB info and QE identity whose signatures were verified.
///
/// Checks, in order: TCB info FMSPC and PCE ID equal the PCK certificate's
/// (dcap-qvl 0.7.1 never compares the PCE ID); the QE matches the identity
/// (MRSIGNER, ISVPRODID, masked MISCSELECT and ATTRIBUTES); the QE's ISVSVN
/// level (none → `QeTcbLevelNotFound`, `Revoked` → `QeTcbRevoked`); the
/// platform level, the first whose 16 CPUSVN components and PCESVN the PCK
/// certificate meets (none → `TcbLevelNotFound`, `Revoked` → `TcbRevoked`).
/// Every other status is returned, not judged: policy decides (dcap-qvl
/// returns `Ok` for `OutOfDate` too, but leaves it to the caller to notice).
pub fn evaluate_tcb(
    pck: &PckExtension,
    qe: &ReportBody,
    info: &TcbInfo,
    id: &QeIdentity,
) -> Result<TcbEvaluation, SgxError> {
    check_platform_ids(pck, info)?;
    let qe_level = match_qe(qe, id)?;
    let level = info
        .match_level(&pck.cpu_svn_components, pck.pce_svn)
        .ok_or(SgxError::TcbLevelNotFound)?;
    if level.status == TcbStatus::Revoked {
        return Err(SgxError::TcbRevoked);
    }
    let mut advisory_ids = level.advisory_ids.clone();
    for a in &qe_level.advisory_ids {
        if !advisory_ids.contains(a) {
            advisory_ids.push(a.clone());
        }
    }
    Ok(TcbEvaluation {
        tcb_status: TcbStatus::converge(level.status, qe_level.status),
        platform_tcb_status: level.status,
        qe_tcb_status: qe_level.status,
        advisory_ids,
        tcb_date: level.tcb_date.clone(),
    })
}

/// The TCB info is for the PCK certificate's FMSPC and PCE ID.
pub(crate) fn check_platform_ids(pck: &PckExtension, info: &TcbInfo) -> Result<(), SgxError> {
    if info.fmspc != pck.fmspc {
        return Err(SgxError::TcbInfoFmspcMismatch {
            tcb_info: hex::encode_upper(info.fmspc),
            pck: hex::encode_upper(pck.fmspc),
        });
    }
    if info.pce_id != pck.pce_id {
        return Err(SgxError::TcbInfoPceIdMismatch {
            tcb_info: hex::encode_upper(info.pce_id),
            pck: hex::encode_upper(pck.pce_id),
        });
    }
    Ok(())
}

/// The QE matches the identity (MRSIGNER, ISVPRODID, masked MISCSELECT and
/// ATTRIBUTES) and its ISVSVN meets a level that is not `Revoked`.
pub(crate) fn match_qe<'i>(
    qe: &ReportBody,
    id: &'i QeIdentity,
) -> Result<&'i QeTcbLevel, SgxError> {
    if qe.mr_signer != id.mrsigner {
        return Err(SgxError::QeIdentityMismatch("MRSIGNER differs"));
    }
    if qe.isv_prod_id != id.isv_prod_id {
        return Err(SgxError::QeIdentityMismatch("ISVPRODID differs"));
    }
    if qe.misc_select & id.miscselect_mask != id.miscselect & id.miscselect_mask {
        return Err(SgxError::QeIdentityMismatch("masked MISCSELECT differs"));
    }
    let attrs_match = qe
        .attributes
        .iter()
        .zip(id.attributes.iter())
        .zip(id.attributes_mask.iter())
        .all(|((q, e), m)| q & m == e & m);
    if !attrs_match {
        return Err(SgxError::QeIdentityMismatch("masked ATTRIBUTES differ"));
    }
    let qe_level = id
        .match_level(qe.isv_svn)
        .ok_or(SgxError::QeTcbLevelNotFound(qe.isv_svn))?;
    if qe_level.status == TcbStatus::Revoked {
        return Err(SgxError::QeTcbRevoked);
    }
    Ok(qe_level)
}

/// KSS attribute (ATTRIBUTES.FLAGS bit 7).
const ATTRIBUTE_KSS: u64 = 0x80;

impl SgxVerified {
    /// The incoming claims, named as MAA names them (see the module doc of
    /// [`crate::sgx`]). `quote_hash` is the `quotehash` member: SHA-256 of
    /// the quote for SgxEnclave, of the whole OE report for OpenEnclave.
    pub fn claims_with_quote_hash(&self, quote_hash: &[u8; 32]) -> Claims {
        let r = &self.report;
        let mut c = Claims::new();
        c.insert(crate::claims::names::ATTESTATION_TYPE, "sgx");
        c.insert("x-ms-sgx-is-debuggable", r.is_debug());
        c.insert("x-ms-sgx-product-id", r.isv_prod_id);
        c.insert_hex("x-ms-sgx-mrenclave", &r.mr_enclave);
        c.insert_hex("x-ms-sgx-mrsigner", &r.mr_signer);
        c.insert("x-ms-sgx-svn", r.isv_svn);
        c.insert_hex("x-ms-sgx-report-data", &r.report_data);
        let kss = r.flags() & ATTRIBUTE_KSS != 0
            || r.config_id.iter().any(|&b| b != 0)
            || r.config_svn != 0
            || r.isv_ext_prod_id.iter().any(|&b| b != 0)
            || r.isv_family_id.iter().any(|&b| b != 0);
        if kss {
            c.insert_hex("x-ms-sgx-config-id", &r.config_id);
            c.insert("x-ms-sgx-config-svn", r.config_svn);
            c.insert_hex("x-ms-sgx-isv-extended-product-id", &r.isv_ext_prod_id);
            c.insert_hex("x-ms-sgx-isv-family-id", &r.isv_family_id);
        }
        let h = &self.collateral_hashes;
        let mut col = serde_json::Map::new();
        for (k, v) in [
            ("qeidcertshash", &h.qeidcertshash),
            ("qeidcrlhash", &h.qeidcrlhash),
            ("qeidhash", &h.qeidhash),
            ("quotehash", quote_hash),
            ("tcbinfocertshash", &h.tcbinfocertshash),
            ("tcbinfocrlhash", &h.tcbinfocrlhash),
            ("tcbinfohash", &h.tcbinfohash),
        ] {
            col.insert(k.into(), hex::encode(v).into());
        }
        c.insert("x-ms-sgx-collateral", serde_json::Value::Object(col));
        c.insert("x-attesta-tcb-status", self.tcb_status.as_str());
        c.insert(
            "x-attesta-tcb-advisory-ids",
            serde_json::Value::Array(self.advisory_ids.iter().cloned().map(Into::into).collect()),
        );
        c.insert("x-attesta-qe-tcb-status", self.qe_tcb_status.as_str());
        if let Some(d) = &self.tcb_date {
            c.insert("x-attesta-tcb-date", d.as_str());
        }
        c.insert("x-attesta-test-root", self.test_root);
        c
    }

    /// Claims for `/attest/SgxEnclave` (quotehash over the quote).
    pub fn claims(&self) -> Claims {
        self.claims_with_quote_hash(&self.quote_hash)
    }

    /// The generic verified form: claims, REPORTDATA and CONFIGID.
    pub fn to_verified(&self, quote_hash: &[u8; 32]) -> crate::Verified {
        crate::Verified {
            claims: self.claims_with_quote_hash(quote_hash),
            report_data: self.report.report_data.to_vec(),
            init_data: Some(self.report.config_id.to_vec()),
        }
    }
}
