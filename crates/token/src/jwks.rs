//! The documents that publish a node's token-signing keys: the JWKS served at
//! `/certs` and the OpenID metadata at `/.well-known/openid-configuration`
//! (reference 1.6, 1.7).
//!
//! MAA's `/certs` keys carry `kid`, `kty` and `x5c` (standard base64 DER,
//! leaf first); Microsoft's Python client needs `x5c` on every key. Attesta's
//! keys also carry the raw public key (`n`/`e` for RSA, `crv`/`x`/`y` for EC),
//! `alg` and `use`, because generic JOSE libraries (PyJWT's `PyJWKClient`,
//! jose, go-jose) read only those and find no usable key otherwise.
//! Policy-signer JWKs carry `alg`, `use` and `x5c`. Fields are declared in
//! lexicographic order so serde's output is already a sorted form.

use serde::{Deserialize, Serialize};

/// One JSON Web Key: certificate chain and, for keys Attesta publishes, the
/// raw public key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Jwk {
    /// `RS256` / `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// EC curve (`P-256`, `P-384`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// RSA public exponent, base64url big-endian without leading zeros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id; for our keys the x5t-style SHA-1 thumbprint of the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `RSA` or `EC`.
    pub kty: String,
    /// RSA modulus, base64url big-endian without leading zeros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Certificate chain, standard base64 DER, leaf first. Defaults to empty
    /// when a foreign key set omits it (such a key cannot verify anything).
    #[serde(default)]
    pub x5c: Vec<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JSON Web Key Set (`{"keys":[…]}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// `/.well-known/openid-configuration`, wire names as MAA sends them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OpenIdMetadata {
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// MAA advertises `<base>/revoke`; Attesta has no revocation endpoint,
    /// so it advertises none (a metadata URL must answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub claims_supported: Vec<String>,
}

/// The claims the service itself puts into attestation tokens, for every
/// evidence type (policies add their own on top). Sources: the token
/// assembly in `attesta_server::engine`, and the
/// evidence verifiers' output claims (SGX, Open Enclave, TDX, SEV-SNP,
/// Azure guest). TDX's `tdx_rtmr0`–`tdx_rtmr3` are spelled out.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    // Registered and common claims.
    "iss",
    "iat",
    "nbf",
    "exp",
    "jti",
    "cnf",
    "nonce",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-policy-hash",
    "x-ms-policy-signer",
    "x-ms-runtime",
    "x-ms-inittime",
    "maa-ehd",
    "aas-ehd",
    "maa-attestationcollateral",
    "rp_data",
    // Issued by MAA's default SGX and Open Enclave policies.
    "is-debuggable",
    "sgx-mrsigner",
    "sgx-mrenclave",
    "product-id",
    "svn",
    "tee",
    // SGX and Open Enclave.
    "x-ms-sgx-is-debuggable",
    "x-ms-sgx-mrenclave",
    "x-ms-sgx-mrsigner",
    "x-ms-sgx-product-id",
    "x-ms-sgx-svn",
    "x-ms-sgx-ehd",
    "x-ms-sgx-collateral",
    "x-ms-sgx-report-data",
    "x-ms-sgx-config-id",
    "x-ms-sgx-config-svn",
    "x-ms-sgx-isv-extended-product-id",
    "x-ms-sgx-isv-family-id",
    "x-ms-sgx-tcbidentifier",
    // TDX.
    "attester_tcb_status",
    "dbgstat",
    "eat_profile",
    "intuse",
    "tdx_mrconfigid",
    "tdx_mrowner",
    "tdx_mrownerconfig",
    "tdx_mrseam",
    "tdx_mrsignerseam",
    "tdx_mrtd",
    "tdx_report_data",
    "tdx_rtmr0",
    "tdx_rtmr1",
    "tdx_rtmr2",
    "tdx_rtmr3",
    "tdx_seam_attributes",
    "tdx_seamsvn",
    "tdx_td_attributes",
    "tdx_td_attributes_debug",
    "tdx_td_attributes_key_locker",
    "tdx_td_attributes_perfmon",
    "tdx_td_attributes_protection_keys",
    "tdx_td_attributes_septve_disable",
    "tdx_tee_tcb_svn",
    "tdx_xfam",
    // SEV-SNP.
    "x-ms-isolation-tee",
    "x-ms-sevsnpvm-authorkeydigest",
    "x-ms-sevsnpvm-bootloader-svn",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-idkeydigest",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-sevsnpvm-microcode-svn",
    "x-ms-sevsnpvm-migration-allowed",
    "x-ms-sevsnpvm-reportdata",
    "x-ms-sevsnpvm-reportid",
    "x-ms-sevsnpvm-smt-allowed",
    "x-ms-sevsnpvm-snpfw-svn",
    "x-ms-sevsnpvm-tee-svn",
    "x-ms-sevsnpvm-vmpl",
    // Azure guests.
    "secureboot",
    "x-ms-azurevm-attested-pcrs",
    "x-ms-azurevm-bootdebug-enabled",
    "x-ms-azurevm-flightsigning-enabled",
    "x-ms-azurevm-kerneldebug-enabled",
    "x-ms-azurevm-testsigning-enabled",
    "x-ms-azurevm-vmid",
    // TPM.
    "x-ms-tpm-request-key",
    "x-ms-tpm-other-keys",
    // Attesta's own.
    "x-attesta-ak-trusted-by-configuration",
    "x-attesta-azurevm-hcl-report-type",
    "x-attesta-azurevm-log-verified-pcrs",
    "x-attesta-azurevm-pcrs",
    "x-attesta-azurevm-report-data-hash",
    "x-attesta-collateral-expired-for",
    "x-attesta-qe-tcb-status",
    "x-attesta-snp-committed-tcb",
    "x-attesta-snp-current-tcb",
    "x-attesta-snp-launch-tcb",
    "x-attesta-snp-platform-info",
    "x-attesta-snp-policy",
    "x-attesta-snp-policy-abi-major",
    "x-attesta-snp-policy-abi-minor",
    "x-attesta-snp-policy-debug-allowed",
    "x-attesta-snp-policy-migration-agent-allowed",
    "x-attesta-snp-policy-single-socket",
    "x-attesta-snp-policy-smt-allowed",
    "x-attesta-snp-processor",
    "x-attesta-snp-report-version",
    "x-attesta-snp-reported-tcb",
    "x-attesta-snp-revocation-checked",
    "x-attesta-snp-signing-key",
    "x-attesta-tcb-advisory-ids",
    "x-attesta-tcb-date",
    "x-attesta-tcb-evaluation-data-number",
    "x-attesta-tcb-status",
    "x-attesta-tdx-current-tcb-status",
    "x-attesta-tdx-module-tcb-status",
    "x-attesta-tdx-mrservicetd",
    "x-attesta-tdx-tee-tcb-svn2",
    "x-attesta-test-root",
    "x-attesta-tpm-reset-count",
    "x-attesta-tpm-restart-count",
    "x-attesta-verification-time",
];

/// The metadata of the instance whose base URL is `issuer`. `issuer` is kept
/// verbatim (clients compare it byte for byte with `iss`); the endpoint URLs
/// are built from it without doubling a trailing slash. Only endpoints that
/// exist are listed.
pub fn openid_metadata(issuer: &str) -> OpenIdMetadata {
    let base = issuer.trim_end_matches('/');
    OpenIdMetadata {
        response_types_supported: vec!["token".into(), "none".into()],
        id_token_signing_alg_values_supported: vec!["RS256".into()],
        revocation_endpoint: None,
        issuer: issuer.to_string(),
        jwks_uri: format!("{base}/certs"),
        claims_supported: CLAIMS_SUPPORTED.iter().map(|s| s.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_serialises_like_maa_certs() {
        let k = Jwk {
            alg: Some("RS256".into()),
            e: Some("AQAB".into()),
            kid: Some("abc".into()),
            kty: "RSA".into(),
            n: Some("xyz".into()),
            use_: Some("sig".into()),
            x5c: vec!["MII=".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"alg":"RS256","e":"AQAB","kid":"abc","kty":"RSA","n":"xyz","use":"sig","x5c":["MII="]}"#
        );
        let signer = Jwk {
            alg: Some("RS256".into()),
            kty: "RSA".into(),
            use_: Some("sig".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&signer).unwrap(),
            r#"{"alg":"RS256","kty":"RSA","use":"sig","x5c":[]}"#
        );
    }

    #[test]
    fn metadata_has_maa_wire_names() {
        let m = openid_metadata("https://a.example");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["issuer"], "https://a.example");
        assert_eq!(v["jwks_uri"], "https://a.example/certs");
        assert!(v.get("revocation_endpoint").is_none(), "no such endpoint");
        assert_eq!(
            v["response_types_supported"],
            serde_json::json!(["token", "none"])
        );
        assert_eq!(
            v["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        let claims = v["claims_supported"].as_array().unwrap();
        for c in [
            "x-ms-sgx-mrenclave",
            "tdx_mrtd",
            "x-ms-sevsnpvm-reportdata",
            "x-attesta-tcb-status",
        ] {
            assert!(claims.iter().any(|x| x == c), "{c} missing");
        }
        assert_eq!(
            openid_metadata("https://a.example/").jwks_uri,
            "https://a.example/certs"
        );
    }
}
