//! Per-provider configuration that changes how evidence is verified.
//!
//! Everything here loosens or redirects a default, so each field is explicit,
//! scoped to one provider, and visible in the tokens it affects:
//! - `test_roots` — extra trust roots (PEM), for example the testkit's test
//!   CA. Tokens whose chain ended at one carry `x-attesta-test-root: true`.
//! - `collateral_grace_secs` — how long expired vendor collateral may still
//!   be used when fresh collateral cannot be fetched. Default 0: expired
//!   collateral fails closed. Tokens issued in grace carry
//!   `x-attesta-collateral-expired-for` (seconds).
//! - `verification_time` — a pinned verification time (RFC 3339), for tests
//!   against recorded evidence whose collateral has long expired. Tokens
//!   carry `x-attesta-verification-time`.
//! - `tpm_trusted_aks` — TPM attestation keys trusted by configuration
//!   (their `aikPubHash`: base64 SHA-256 of the DER public key), for AKs
//!   without a certificate. They matter only when the TPM policy sets
//!   `require_valid_aik_cert=false`: an AK without a valid certificate must
//!   then be one of them (without the list, the policy alone judges
//!   `aikPubHash`, as MAA does). Tokens carry
//!   `x-attesta-ak-trusted-by-configuration`.
//! - `tpm_allow_sha1` — accept TPM quotes signed with SHA-1 (RSASSA), as
//!   Windows PCP AKs and older vTPMs make them. Default false: such quotes
//!   are refused with `WeakSignatureHash`. Tokens of a quote accepted this
//!   way carry `x-attesta-tpm-sha1-accepted: true`.
//! - `vtpm_roots` — the vTPM CAs (PEM) that issue the AK certificates of
//!   Azure Trusted Launch VMs (`/attest/AzureGuest` without isolation
//!   evidence), for example Microsoft's Azure vTPM CA. `AttestationInfo`
//!   carries only the AK certificate, so configure the CA that issued it
//!   (an intermediate CA serves as a trust anchor). Without any vTPM CA
//!   (here or in `test_roots.tpm`, which is taken too and marks tokens
//!   `x-attesta-test-root`), Trusted Launch requests are refused with
//!   `VtpmCaNotConfigured`.
//! - `tpm_crls` — CRLs (PEM `X509 CRL` blocks) of the TPM and vTPM CAs
//!   (`test_roots.tpm`, `vtpm_roots`, and the intermediates requests send).
//!   An AK chain through a CA that has a CRL here is refused when the CRL
//!   lists the AK certificate or an intermediate that CA signed
//!   (`AkCertificateRevoked`), and when the CRL does not verify with the
//!   CA's key (`AkCrlInvalid`) or is not current (`AkCrlExpired`): a
//!   configured CRL fails closed. Without one, TPM chains are not checked
//!   for revocation.

use serde::{Deserialize, Serialize};

use attesta_evidence::UnixTime;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_store::ProviderRecord;

use crate::error::ApiError;

/// Extra trust roots by TEE family, PEM text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRoots {
    /// Roots accepted in place of the Intel SGX Root CA (SGX, OE, TDX).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intel: Vec<String>,
    /// Roots accepted in place of AMD's ARKs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amd: Vec<String>,
    /// TPM attestation-key CAs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tpm: Vec<String>,
}

/// A provider's verification settings (stored in the provider record).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(default)]
    pub test_roots: TestRoots,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral_grace_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tpm_trusted_aks: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tpm_allow_sha1: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vtpm_roots: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tpm_crls: Vec<String>,
}

/// DER certificates from PEM text (its CERTIFICATE blocks), each parsed as
/// X.509; no CERTIFICATE block is an error.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let item = item.map_err(|e| format!("invalid PEM: {e}"))?;
        if item.label == "CERTIFICATE" {
            x509_parser::parse_x509_certificate(&item.contents)
                .map_err(|e| format!("invalid certificate: {e}"))?;
            out.push(item.contents);
        }
    }
    if out.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    Ok(out)
}

/// DER CRLs from PEM text (its `X509 CRL` blocks), each parsed; no CRL
/// block is an error.
pub(crate) fn pem_to_crls(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let item = item.map_err(|e| format!("invalid PEM: {e}"))?;
        if item.label == "X509 CRL" {
            attesta_evidence::pki::parse_crl(&item.contents).map_err(|e| e.to_string())?;
            out.push(item.contents);
        }
    }
    if out.is_empty() {
        return Err("no X509 CRL block".into());
    }
    Ok(out)
}

/// Parse an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<UnixTime, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("'{s}' is not an RFC 3339 time: {e}"))?;
    u64::try_from(t.unix_timestamp())
        .map(UnixTime)
        .map_err(|_| format!("'{s}' is before 1970"))
}

impl ProviderConfig {
    /// Read from a provider record (an empty object means all defaults).
    pub fn of(record: &ProviderRecord) -> Result<Self, ApiError> {
        if record.config.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(record.config.clone()).map_err(|e| {
            ApiError::internal(format!(
                "provider '{}' has an unreadable config: {e}",
                record.name
            ))
        })
    }

    /// Check every field (at creation).
    pub fn validate(&self) -> Result<(), String> {
        for (name, list) in [
            ("intel", &self.test_roots.intel),
            ("amd", &self.test_roots.amd),
            ("tpm", &self.test_roots.tpm),
        ] {
            for pem in list {
                pem_to_der(pem).map_err(|e| format!("test_roots.{name}: {e}"))?;
            }
        }
        for pem in &self.vtpm_roots {
            pem_to_der(pem).map_err(|e| format!("vtpm_roots: {e}"))?;
        }
        for pem in &self.tpm_crls {
            pem_to_crls(pem).map_err(|e| format!("tpm_crls: {e}"))?;
        }
        if let Some(t) = &self.verification_time {
            parse_time(t).map_err(|e| format!("verification_time: {e}"))?;
        }
        for h in &self.tpm_trusted_aks {
            use base64::Engine;
            let ok = base64::engine::general_purpose::STANDARD
                .decode(h)
                .is_ok_and(|b| b.len() == 32);
            if !ok {
                return Err(format!(
                    "tpm_trusted_aks: '{h}' is not an aikPubHash (base64 of a SHA-256 digest)"
                ));
            }
        }
        Ok(())
    }

    /// The TPM verification options this provider chose.
    pub fn tpm_options(&self) -> attesta_evidence::tpm::TpmOptions {
        attesta_evidence::tpm::TpmOptions {
            allow_sha1: self.tpm_allow_sha1,
        }
    }

    /// The time to verify at: the pinned time, else `now`.
    pub fn time(&self, now: UnixTime) -> Result<(UnixTime, bool), ApiError> {
        match &self.verification_time {
            Some(t) => parse_time(t).map(|t| (t, true)).map_err(ApiError::internal),
            None => Ok((now, false)),
        }
    }

    /// The vTPM CAs Trusted Launch AK certificates must chain to:
    /// `vtpm_roots` (operator-chosen production CAs, so chains ending there
    /// are not marked as test roots) and `test_roots.tpm` (marked).
    pub fn vtpm_roots(&self) -> Result<TrustRoots, ApiError> {
        let mut roots = TrustRoots::empty();
        for pem in &self.vtpm_roots {
            for der in pem_to_der(pem).map_err(ApiError::internal)? {
                roots = roots.with_embedded(RootKind::Tpm, der);
            }
        }
        self.roots(roots, RootKind::Tpm)
    }

    /// `base` plus this provider's extra roots of `kind` (and, for TPM
    /// roots, its TPM CA CRLs).
    pub fn roots(&self, base: TrustRoots, kind: RootKind) -> Result<TrustRoots, ApiError> {
        let list = match kind {
            RootKind::IntelSgx => &self.test_roots.intel,
            RootKind::AmdArk => &self.test_roots.amd,
            RootKind::Tpm => &self.test_roots.tpm,
        };
        let mut roots = base;
        for pem in list {
            for der in pem_to_der(pem).map_err(ApiError::internal)? {
                roots = roots.with_configured(kind, der);
            }
        }
        if kind == RootKind::Tpm {
            for pem in &self.tpm_crls {
                for der in pem_to_crls(pem).map_err(ApiError::internal)? {
                    roots = roots.with_crl(kind, der);
                }
            }
        }
        Ok(roots)
    }
}
