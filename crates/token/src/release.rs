//! A signed per-release statement of the service's own measurements: what a
//! relying party should pin when it checks the service's TEE evidence
//! (`attesta token verify --require-tee --tee-statement FILE`).
//!
//! The statement is a compact JWS ([`crate::jws::sign_jws`]: RS256 or
//! ES256, the signing certificate in `x5c`) over the JSON
//!
//! ```json
//! {"version":1,"release":"0.4.0","kind":"sgx-quote",
//!  "measurements":{"x-ms-sgx-mrenclave":"<64 hex>","x-ms-sgx-mrsigner":"<64 hex>"},
//!  "issued_at":1767225600}
//! ```
//!
//! `kind` is the evidence kind the release runs as: `sgx-quote` (also
//! covers Open Enclave reports), `tdx-quote` or `snp-report`.
//! `measurements` maps the service claims (MAA's names, as
//! `attesta_evidence::signing_cert` gives them) to lower-case hex; only
//! measurement claims of the kind are allowed ([`MEASUREMENTS`]), each of
//! its exact length, so a statement cannot pin something that is not a
//! measurement. A relying party trusts a statement only through a
//! certificate it holds: the release-signing certificate itself, or a CA
//! that issued it ([`crate::jws::signer_is_trusted`]).
//!
//! Pinning a statement is the same as a TEE policy that requires each of
//! its measurements ([`ReleaseStatement::policy`]), plus that the
//! service's evidence is of the statement's kind.

use std::collections::BTreeMap;

use attesta_evidence::signing_cert::EvidenceKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jws::{JwsSigningKey, parse_jws, sign_jws, signer_is_trusted};
use crate::service::TeePolicy;

/// The statement format's version.
pub const RELEASE_STATEMENT_VERSION: u32 = 1;

/// The measurement claims a statement may pin, by kind, with their length
/// in bytes.
pub const MEASUREMENTS: &[(EvidenceKind, &str, usize)] = &[
    (EvidenceKind::SgxQuote, "x-ms-sgx-mrenclave", 32),
    (EvidenceKind::SgxQuote, "x-ms-sgx-mrsigner", 32),
    (EvidenceKind::TdxQuote, "tdx_mrtd", 48),
    (EvidenceKind::TdxQuote, "tdx_rtmr0", 48),
    (EvidenceKind::TdxQuote, "tdx_rtmr1", 48),
    (EvidenceKind::TdxQuote, "tdx_rtmr2", 48),
    (EvidenceKind::TdxQuote, "tdx_rtmr3", 48),
    (EvidenceKind::TdxQuote, "tdx_mrconfigid", 48),
    (EvidenceKind::TdxQuote, "tdx_mrowner", 48),
    (EvidenceKind::TdxQuote, "tdx_mrseam", 48),
    (
        EvidenceKind::SnpReport,
        "x-ms-sevsnpvm-launchmeasurement",
        48,
    ),
    (EvidenceKind::SnpReport, "x-ms-sevsnpvm-hostdata", 32),
    (EvidenceKind::SnpReport, "x-ms-sevsnpvm-idkeydigest", 48),
    (EvidenceKind::SnpReport, "x-ms-sevsnpvm-authorkeydigest", 48),
    (EvidenceKind::SnpReport, "x-ms-sevsnpvm-familyId", 16),
    (EvidenceKind::SnpReport, "x-ms-sevsnpvm-imageId", 16),
];

/// Longest accepted statement text (a statement is a few hundred bytes plus
/// a certificate).
const MAX_STATEMENT: usize = 64 * 1024;

/// The payload of a release statement (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseStatement {
    /// [`RELEASE_STATEMENT_VERSION`].
    pub version: u32,
    /// The release, e.g. `0.4.0`.
    pub release: String,
    /// `sgx-quote`, `tdx-quote` or `snp-report`.
    pub kind: EvidenceKind,
    /// Measurement claim → lower-case hex.
    pub measurements: BTreeMap<String, String>,
    /// When the statement was signed, Unix seconds.
    pub issued_at: u64,
}

/// Why a release statement was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("the release statement is not a compact JWS: {0}")]
    Malformed(String),
    #[error("the release statement is unsigned (alg none); only a signed statement can be pinned")]
    Unsigned,
    #[error("the release statement's signature does not verify: {0}")]
    BadSignature(String),
    #[error(
        "the release statement is not signed by the given release certificate (nor a certificate it issued): {0}"
    )]
    UntrustedSigner(String),
    #[error("the release statement's content is invalid: {0}")]
    Content(String),
    #[error("cannot sign the release statement: {0}")]
    Signing(String),
}

impl ReleaseError {
    /// `ReleaseStatementInvalid` for every refusal of a statement;
    /// `ReleaseStatementSigningFailed` when one could not be made.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signing(_) => "ReleaseStatementSigningFailed",
            _ => "ReleaseStatementInvalid",
        }
    }
}

impl ReleaseStatement {
    /// A statement for `release` of `kind` pinning `measurements`, issued at `now`.
    pub fn new(
        release: &str,
        kind: EvidenceKind,
        measurements: BTreeMap<String, String>,
        now: u64,
    ) -> Result<Self, ReleaseError> {
        let s = Self {
            version: RELEASE_STATEMENT_VERSION,
            release: release.to_string(),
            kind,
            measurements: measurements
                .into_iter()
                .map(|(k, v)| (k, v.to_ascii_lowercase()))
                .collect(),
            issued_at: now,
        };
        s.validate()?;
        Ok(s)
    }

    /// Check the content rules of the module doc.
    pub fn validate(&self) -> Result<(), ReleaseError> {
        let bad = |m: String| Err(ReleaseError::Content(m));
        if self.version != RELEASE_STATEMENT_VERSION {
            return bad(format!(
                "version {} is not {RELEASE_STATEMENT_VERSION}; update attesta",
                self.version
            ));
        }
        if self.release.is_empty()
            || self.release.len() > 64
            || !self
                .release
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        {
            return bad(format!(
                "release {:?} is not a version (1-64 characters of letters, digits, '.', '_', '+', '-')",
                self.release
            ));
        }
        if self.kind == EvidenceKind::OeReport {
            return bad(
                "kind oe-report: a statement for an SGX release has kind sgx-quote (it covers Open Enclave reports)"
                    .into(),
            );
        }
        if self.measurements.is_empty() {
            return bad("it pins no measurement".into());
        }
        for (name, value) in &self.measurements {
            let Some((_, _, len)) = MEASUREMENTS
                .iter()
                .find(|(k, n, _)| *k == self.kind && n == name)
            else {
                let known: Vec<&str> = MEASUREMENTS
                    .iter()
                    .filter(|(k, _, _)| *k == self.kind)
                    .map(|(_, n, _)| *n)
                    .collect();
                return bad(format!(
                    "{name} is not a measurement of {} evidence (one of {})",
                    self.kind.as_str(),
                    known.join(", ")
                ));
            };
            let hex_ok = value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if value.len() != len * 2 || !hex_ok {
                return bad(format!(
                    "{name} must be {} lower-case hex digits ({len} bytes), not {value:?}",
                    len * 2
                ));
            }
        }
        Ok(())
    }

    /// Whether the service's evidence kind is the one this release runs as
    /// (an SGX release's statement covers quotes and Open Enclave reports).
    pub fn covers(&self, kind: EvidenceKind) -> bool {
        match self.kind {
            EvidenceKind::SgxQuote => {
                matches!(kind, EvidenceKind::SgxQuote | EvidenceKind::OeReport)
            }
            k => k == kind,
        }
    }

    /// The TEE policy equivalent to pinning the statement: every
    /// measurement required.
    pub fn policy(&self) -> TeePolicy {
        TeePolicy {
            require: self
                .measurements
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<String, Value>>(),
            ..TeePolicy::default()
        }
    }

    /// Sign the statement (checked first) as a compact JWS.
    pub fn sign(&self, key: &JwsSigningKey) -> Result<String, ReleaseError> {
        self.validate()?;
        let payload = serde_json::to_vec(self).map_err(|e| ReleaseError::Signing(e.to_string()))?;
        sign_jws(&payload, key).map_err(|e| ReleaseError::Signing(e.to_string()))
    }
}

/// Verify a statement's JWS `text`: its signature with the `x5c` leaf, that
/// leaf trusted through `trusted_der` (the release certificate, or a CA
/// that issued it; validity at `now` for a chain), and its content; not
/// issued more than five minutes after `now`.
pub fn verify_statement(
    text: &str,
    trusted_der: &[Vec<u8>],
    now: u64,
) -> Result<ReleaseStatement, ReleaseError> {
    let text = text.trim();
    if text.len() > MAX_STATEMENT {
        return Err(ReleaseError::Malformed(format!(
            "{} bytes is more than the {MAX_STATEMENT}-byte limit",
            text.len()
        )));
    }
    let jws = parse_jws(text).map_err(|e| ReleaseError::Malformed(e.to_string()))?;
    if jws.is_unsigned() {
        return Err(ReleaseError::Unsigned);
    }
    let signer = jws
        .verify_signer()
        .map_err(|e| ReleaseError::BadSignature(e.to_string()))?
        .ok_or(ReleaseError::Unsigned)?;
    signer_is_trusted(&signer, trusted_der, now)
        .map_err(|e| ReleaseError::UntrustedSigner(e.to_string()))?;
    let object = jws
        .payload_object()
        .map_err(|e| ReleaseError::Content(e.to_string()))?
        .ok_or_else(|| ReleaseError::Content("the payload is empty".into()))?;
    let statement: ReleaseStatement = serde_json::from_value(Value::Object(object))
        .map_err(|e| ReleaseError::Content(e.to_string()))?;
    statement.validate()?;
    if statement.issued_at > now.saturating_add(300) {
        return Err(ReleaseError::Content(format!(
            "issued_at {} is in the future (now {now}); check the signer's clock",
            statement.issued_at
        )));
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn content_rules() {
        let ok = ReleaseStatement::new(
            "0.4.0",
            EvidenceKind::SgxQuote,
            m(&[("x-ms-sgx-mrenclave", &"AB".repeat(32))]),
            1,
        )
        .unwrap();
        assert_eq!(ok.measurements["x-ms-sgx-mrenclave"], "ab".repeat(32));
        assert!(ok.covers(EvidenceKind::OeReport));
        assert!(!ok.covers(EvidenceKind::SnpReport));
        assert_eq!(
            ok.policy().require["x-ms-sgx-mrenclave"],
            Value::String("ab".repeat(32))
        );
        for (kind, pairs, why) in [
            (EvidenceKind::SgxQuote, m(&[]), "no measurement"),
            (
                EvidenceKind::SgxQuote,
                m(&[("x-ms-sgx-svn", "01")]),
                "not a measurement",
            ),
            (
                EvidenceKind::SnpReport,
                m(&[("x-ms-sgx-mrenclave", &"ab".repeat(32))]),
                "not a measurement",
            ),
            (
                EvidenceKind::SnpReport,
                m(&[("x-ms-sevsnpvm-launchmeasurement", &"ab".repeat(32))]),
                "96 lower-case hex",
            ),
            (
                EvidenceKind::TdxQuote,
                m(&[("tdx_mrtd", &"zz".repeat(48))]),
                "lower-case hex",
            ),
            (
                EvidenceKind::OeReport,
                m(&[("x-ms-sgx-mrenclave", &"ab".repeat(32))]),
                "kind sgx-quote",
            ),
        ] {
            let err = ReleaseStatement::new("1", kind, pairs, 1).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
            assert_eq!(err.code(), "ReleaseStatementInvalid");
        }
        let err = ReleaseStatement::new(
            "1.0 beta",
            EvidenceKind::TdxQuote,
            m(&[("tdx_mrtd", &"00".repeat(48))]),
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a version"), "{err}");
    }
}
