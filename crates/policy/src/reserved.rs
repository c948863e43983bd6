//! Reserved claim names (issue 12): the names a policy may not put into a token, and the names an
//! attester's own claims (`CustomClaim`, e.g. TPM `custom_claims`) may not take. Both lists live here and
//! nowhere else.
//!
//! * **Outputs.** The service assembles a token from its own claims and then the policy's issued claims
//!   at top level, so a policy issuing a service name (`iss`, `exp`, `x-ms-sgx-mrenclave`,
//!   `x-ms-policy-hash`, `x-attesta-test-root`, …) would forge what the service attests. Refused: the
//!   JWT/CWT registered claims, every `x-ms-`/`x-attesta-` name (ASCII case-insensitive), `$`-prefixed
//!   legacy names, the legacy names the service itself emits, and the non-prefixed evidence claims the
//!   service copies into SGX/OE/SNP/TDX/AzureGuest tokens. Names are compared case-insensitively so a
//!   relying party that folds case cannot be fooled either.
//! * Not reserved for output, deliberately: the SGX aliases `is-debuggable`, `sgx-mrsigner`,
//!   `sgx-mrenclave`, `product-id`, `svn`, `tee`. Reference §2.3: they "are **not** service-emitted: they
//!   are produced by the default policy's issuance rules" — refusing them would refuse MAA's own default
//!   policy. Likewise TPM evidence names (`secureBootEnabled`, …): TPM tokens carry only what the policy
//!   issues (the evidence claims stay incoming), and MAA's TPM samples issue them.
//! * **Custom claims.** An attester-supplied claim may not take a reserved output name nor any incoming
//!   evidence claim name the service produces, so a condition written without `issuer ==`
//!   (`c:[type=="aikValidated", value==true]`) can only match the service's claim.
//! * Header parameters (`typ`, `alg`, `kid`, `jku`, `x5c`, `x5t`, `jwk`, `crit`) live in the JOSE header,
//!   which the service alone writes; a body claim with those names cannot change the header, so they stay
//!   allowed, except `jwk`/`x5c` which some verifiers read from either place — refused to be safe.

use serde_json::{Map, Value};

use crate::error::{POLICY_EVALUATION_ERROR, PolicyError};

/// Error code of an attester-supplied (custom) claim that takes a reserved name
/// ([`crate::incoming_claims_checked`]). A request error: the HTTP layer answers 400.
pub const RESERVED_CLAIM_NAME: &str = "ReservedClaimName";

/// Registered JWT (RFC 7519 §4.1) and related claims the service sets: `cnf` (RFC 7800), `nonce`.
const JWT_CLAIMS: &[&str] = &[
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "nonce", "jwk", "x5c",
];

/// Legacy names the service emits into tokens (reference §2.2 deprecated aliases, §2.3 SGX, §3.12
/// legacy outgoing claims; crates/server/src/routes/attest.rs `maa-ehd`/`aas-ehd`,
/// crates/server/src/dcap.rs `maa-attestationcollateral`, crates/server/src/routes/tpm.rs `rp_data`).
const SERVICE_LEGACY_CLAIMS: &[&str] = &[
    "maa-ehd",
    "aas-ehd",
    "maa-attestationcollateral",
    "maa-policyhash",
    "ver",
    "policy_hash",
    "policy_signer",
    "rp_data",
];

/// Non-prefixed evidence claims the service copies into SGX/OE/SNP/TDX/AzureGuest tokens:
/// crates/evidence/src/tdx/verify.rs `TdxVerified::claims` (plus every `tdx_` name, see
/// [`is_reserved_output_claim`]), crates/evidence/src/azure_cvm/verify.rs (`secureboot`).
const SERVICE_EVIDENCE_OUTPUT_CLAIMS: &[&str] = &[
    "eat_profile",
    "dbgstat",
    "intuse",
    "attester_tcb_status",
    "secureboot",
];

/// Incoming evidence claims that stay incoming (not copied into tokens), which attester claims may not
/// imitate: crates/evidence/src/tpm/verify.rs `TpmVerified::claims` (doc table), the VBS claims of
/// reference §3.12 / §4.3 (`vbsReportPresent`, `enclave*`), and the legacy SGX incoming names of reference
/// §2.3 / §3.12.
const SERVICE_INCOMING_CLAIMS: &[&str] = &[
    // TPM (crates/evidence/src/tpm/verify.rs)
    "aikValidated",
    "aikPubHash",
    "tpmVersion",
    "secureBootEnabled",
    "pcrs",
    "events",
    "bootEvents",
    "bootDebuggingDisabled",
    "osKernelDebuggingDisabled",
    "codeIntegrityEnabled",
    "testSigningDisabled",
    "flightSigningNotEnabled",
    "notSafeMode",
    "notWinPE",
    "vbsEnabled",
    "iommuEnabled",
    "hvciEnabled",
    "depPolicy",
    "bitlockerStatus",
    "bootMgrSvn",
    "elamDriverLoaded",
    // VBS (reference §3.12)
    "vbsReportPresent",
    "enclaveAuthorId",
    "enclaveImageId",
    "enclaveOwnerId",
    "enclaveFamilyId",
    "enclaveSvn",
    "enclavePlatformSvn",
    "enclaveFlags",
    "vsmReportPresent",
    // VBS, Attesta's from the same signed identity (crates/evidence/src/vbs.rs `VbsVerified::claims`)
    "enclaveUniqueId",
    "enclaveSecureKernelSvn",
    "enclaveIsDebuggable",
    "enclaveModules",
    // Legacy SGX incoming names (reference §2.3, §3.12)
    "is-debuggable",
    "sgx-mrsigner",
    "sgx-mrenclave",
    "product-id",
    "svn",
    "tee",
];

fn has_prefix_ci(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn in_list_ci(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// True when a policy may not issue (or `add`) a claim of this name: see the module docs.
pub fn is_reserved_output_claim(name: &str) -> bool {
    has_prefix_ci(name, "x-ms-")
        || has_prefix_ci(name, "x-attesta-")
        || has_prefix_ci(name, "tdx_")
        || name.starts_with('$')
        || in_list_ci(name, JWT_CLAIMS)
        || in_list_ci(name, SERVICE_LEGACY_CLAIMS)
        || in_list_ci(name, SERVICE_EVIDENCE_OUTPUT_CLAIMS)
}

/// True when an attester-supplied claim may not take this name: every reserved output name plus every
/// incoming evidence claim name the service produces.
pub fn is_reserved_custom_claim(name: &str) -> bool {
    is_reserved_output_claim(name) || in_list_ci(name, SERVICE_INCOMING_CLAIMS)
}

/// The message for a policy that issues a reserved name.
pub(crate) fn output_message(action: &str, name: &str) -> String {
    format!(
        "{action}: claim type '{name}' is reserved for the attestation service and cannot be issued by a policy; choose another name"
    )
}

/// Refuses outgoing (policy-issued) claims with reserved names, for any policy language. The server may
/// call it again when assembling a token; [`crate::CompiledPolicy::evaluate`] already does.
pub fn check_outgoing(outgoing: &Map<String, Value>) -> Result<(), PolicyError> {
    match outgoing.keys().find(|k| is_reserved_output_claim(k)) {
        None => Ok(()),
        Some(name) => Err(PolicyError {
            code: POLICY_EVALUATION_ERROR,
            message: output_message("the policy's outgoing claims", name),
            line: None,
            column: None,
        }),
    }
}

/// Refuses an attester-supplied claim with a reserved name (code [`RESERVED_CLAIM_NAME`]).
pub(crate) fn check_custom(name: &str) -> Result<(), PolicyError> {
    if is_reserved_custom_claim(name) {
        return Err(PolicyError {
            code: RESERVED_CLAIM_NAME,
            message: format!(
                "custom claim '{name}' uses a name reserved for claims the attestation service produces; rename it"
            ),
            line: None,
            column: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        for n in [
            "iss",
            "EXP",
            "cnf",
            "x-ms-sgx-mrenclave",
            "X-MS-Policy-Hash",
            "x-attesta-test-root",
            "$is-debuggable",
            "maa-ehd",
            "tdx_mrtd",
        ] {
            assert!(is_reserved_output_claim(n), "{n}");
        }
        for n in [
            "secureBootEnabled",
            "is-debuggable",
            "tee",
            "My-MrSigner",
            "typ",
            "x-msx",
        ] {
            assert!(!is_reserved_output_claim(n), "{n}");
        }
    }

    #[test]
    fn custom() {
        for n in [
            "aikValidated",
            "secureBootEnabled",
            "iss",
            "x-ms-attestation-type",
            "pcrs",
        ] {
            assert!(is_reserved_custom_claim(n), "{n}");
        }
        assert!(!is_reserved_custom_claim("OSName"));
    }
}
