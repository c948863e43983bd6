//! Trust in the service itself: a relying party's check that the token was
//! signed by a key whose certificate carries TEE evidence bound to it (MAA's
//! extensions or Attesta's, `attesta_evidence::signing_cert`), that the
//! evidence verifies to a trusted vendor (or configured test) root, and that
//! the service's own claims satisfy the relying party's [`TeePolicy`] — for
//! example the measurement it pins (`attesta token verify --require-tee`).
//!
//! Order: the token verifies against the issuer's keys ([`crate::rp`]); the
//! certificate published for the token's `kid` (`x5c[0]`) must carry the very
//! key that verified the token (the token is verified again with a key set
//! made from the certificate alone); then [`check_service`], which also
//! pins a release statement's measurements when one is given
//! ([`crate::release`]). Sans-I/O except [`verify_with_issuer_tee`].

use attesta_evidence::signing_cert::{
    self, ServiceCollateral, SigningCert, SigningCertVerified, VerifyLevel,
};
use attesta_evidence::{ErrorCode, TrustRoots, UnixTime};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::RpError;
use crate::jwks::Jwks;
use crate::jwt::{VerifiedToken, VerifyOptions, verify_jwt};

/// What a relying party requires of the service's evidence.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TeePolicy {
    /// Claim → required value, or an array of accepted values. Strings
    /// compare without regard to case (hex measurements).
    #[serde(default)]
    pub require: Map<String, Value>,
    /// Claim → smallest accepted number (SVNs).
    #[serde(default)]
    pub minimum: Map<String, Value>,
    /// How far the evidence must have been verified: `signatures` (default:
    /// chain to the root and the evidence's signatures) or `full` (with
    /// collateral: CRLs and, for SGX and TDX, TCB status; for SEV-SNP,
    /// AMD's CRL). `binding-only` evidence is never accepted.
    #[serde(default)]
    pub level: Option<String>,
}

impl TeePolicy {
    /// Parse a policy document (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let p: TeePolicy = serde_json::from_slice(bytes)
            .map_err(|e| format!("the TEE policy is not valid: {e}"))?;
        match p.level.as_deref() {
            None | Some("signatures") | Some("full") => {}
            Some(other) => {
                return Err(format!(
                    "the TEE policy's level \"{other}\" is not \"signatures\" or \"full\""
                ));
            }
        }
        for (name, v) in &p.minimum {
            if !v.is_u64() {
                return Err(format!(
                    "the TEE policy's minimum for {name} is not a number"
                ));
            }
        }
        Ok(p)
    }

    /// Check `claims` (and the verification `level`) against the policy;
    /// the first unmet requirement is the error.
    pub fn evaluate(&self, claims: &Map<String, Value>, level: VerifyLevel) -> Result<(), String> {
        let need_full = self.level.as_deref() == Some("full");
        match level {
            VerifyLevel::BindingOnly => {
                return Err("the service's evidence could only be checked for its key binding, not verified to a vendor root".into());
            }
            VerifyLevel::Signatures if need_full => {
                return Err("the policy requires full verification (with collateral); give the evidence's collateral".into());
            }
            _ => {}
        }
        for (name, want) in &self.require {
            let got = claims
                .get(name)
                .ok_or_else(|| format!("the service has no claim {name}"))?;
            let ok = match want {
                Value::Array(options) => options.iter().any(|w| same(w, got)),
                w => same(w, got),
            };
            if !ok {
                return Err(format!(
                    "the service's {name} is {got}, the policy requires {want}"
                ));
            }
        }
        for (name, min) in &self.minimum {
            let min = min.as_u64().unwrap_or(u64::MAX);
            let got = claims
                .get(name)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("the service has no numeric claim {name}"))?;
            if got < min {
                return Err(format!(
                    "the service's {name} is {got}, below the policy's minimum {min}"
                ));
            }
        }
        Ok(())
    }
}

fn same(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

/// What the relying party trusts and requires.
#[derive(Debug, Clone, Default)]
pub struct TeeRequirement {
    /// Roots the evidence may chain to (Intel's and AMD's embedded roots
    /// plus any test root).
    pub roots: TrustRoots,
    /// Collateral for the full check (DCAP for SGX and TDX quotes, AMD's
    /// CRL for SEV-SNP reports); without it the chain and signatures are
    /// checked.
    pub collateral: ServiceCollateral,
    pub policy: TeePolicy,
    /// A verified release statement ([`crate::release::verify_statement`])
    /// whose measurements the service must have, besides `policy`.
    pub release: Option<crate::release::ReleaseStatement>,
}

/// The service's evidence, verified and judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceVerified {
    pub evidence: SigningCertVerified,
    /// The subject of the signing certificate.
    pub subject: String,
}

/// Verify the evidence in signing certificate `cert_der` at `at` and
/// evaluate the policy over the service's claims.
pub fn check_service(
    cert_der: &[u8],
    req: &TeeRequirement,
    at: UnixTime,
) -> Result<ServiceVerified, RpError> {
    let cert = SigningCert::parse(cert_der).map_err(|e| RpError::ServiceEvidence {
        code: e.code(),
        message: format!("the token's signing certificate: {e}"),
    })?;
    let v = signing_cert::verify_with(&cert, &req.collateral, &req.roots, at).map_err(|e| {
        RpError::ServiceEvidence {
            code: e.code(),
            message: e.to_string(),
        }
    })?;
    req.policy
        .evaluate(&v.claims.0, v.level)
        .map_err(RpError::TeePolicy)?;
    if let Some(r) = &req.release {
        if !r.covers(v.kind) {
            return Err(RpError::TeePolicy(format!(
                "the release statement for {} is for {} evidence, the service's is {}",
                r.release,
                r.kind.as_str(),
                v.kind.as_str()
            )));
        }
        r.policy()
            .evaluate(&v.claims.0, v.level)
            .map_err(|e| RpError::TeePolicy(format!("release {}: {e}", r.release)))?;
    }
    Ok(ServiceVerified {
        evidence: v,
        subject: cert.subject,
    })
}

/// The certificate the key set publishes for `kid` (its `x5c[0]`), checked
/// to hold the key that verified `token`.
pub fn signing_certificate(
    token: &str,
    jwks: &Jwks,
    verified: &VerifiedToken,
    opts: &VerifyOptions,
) -> Result<Vec<u8>, RpError> {
    let kid = verified.kid.clone().unwrap_or_default();
    let missing = || RpError::ServiceCertificateMissing(kid.clone());
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid.as_str()))
        .ok_or_else(missing)?;
    let der = jwk
        .x5c
        .first()
        .and_then(|c| crate::encoding::b64_decode_lenient(c))
        .ok_or_else(missing)?;
    // The certificate's own key must verify the token.
    let mut own = crate::keys::jwk_for_certificate(&der).map_err(|e| RpError::ServiceEvidence {
        code: "ServiceCertificateInvalid",
        message: format!("the certificate published for kid {kid}: {e}"),
    })?;
    own.kid = Some(kid.clone());
    verify_jwt(token, &Jwks { keys: vec![own] }, opts).map_err(|_| RpError::ServiceEvidence {
        code: "ServiceCertificateKeyMismatch",
        message: format!(
            "the certificate published for kid {kid} does not hold the key that signed the token"
        ),
    })?;
    Ok(der)
}

/// [`crate::rp::verify_with_issuer`], then the service's evidence in the
/// certificate of the key that signed the token.
pub async fn verify_with_issuer_tee(
    token: &str,
    issuer: &str,
    extra_ca_pem: Option<&[u8]>,
    now: u64,
    leeway_secs: u64,
    req: &TeeRequirement,
) -> Result<(VerifiedToken, ServiceVerified), RpError> {
    let jwks = crate::rp::fetch_jwks(issuer, extra_ca_pem).await?;
    let verified = crate::rp::verify_with_jwks(token, &jwks, issuer, now, leeway_secs)?;
    let service = verify_service_of(token, &jwks, &verified, issuer, now, leeway_secs, req)?;
    Ok((verified, service))
}

/// The sans-I/O half of [`verify_with_issuer_tee`], for a token already
/// verified with `jwks`.
pub fn verify_service_of(
    token: &str,
    jwks: &Jwks,
    verified: &VerifiedToken,
    issuer: &str,
    now: u64,
    leeway_secs: u64,
    req: &TeeRequirement,
) -> Result<ServiceVerified, RpError> {
    let opts = VerifyOptions {
        issuer: Some(issuer.to_string()),
        now,
        leeway_secs,
    };
    let der = signing_certificate(token, jwks, verified, &opts)?;
    check_service(&der, req, UnixTime(now))
}
