//! The documents that publish a node's token-signing keys: the JWKS served at
//! `/certs` and the OpenID metadata at `/.well-known/openid-configuration`
//! (reference 1.6, 1.7).
//!
//! MAA's `/certs` keys carry exactly `kid`, `kty` and `x5c` (standard base64
//! DER, leaf first) and no `n`/`e`; Microsoft's Python client needs `x5c` on
//! every key. Policy-signer JWKs add `alg` and `use`. Fields are declared in
//! lexicographic order so serde's output is already MAA's sorted form.

use serde::{Deserialize, Serialize};

/// One JSON Web Key as MAA publishes it: certificate-based, no raw RSA
/// parameters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// `RS256` / `ES256` for policy signers; absent on `/certs` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id; for our keys the x5t-style SHA-1 thumbprint of the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `RSA` or `EC`.
    pub kty: String,
    /// `sig` for policy signers; absent on `/certs` keys.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Certificate chain, standard base64 DER, leaf first. Defaults to empty
    /// when a foreign key set omits it (such a key cannot verify anything).
    #[serde(default)]
    pub x5c: Vec<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub claims_supported: Vec<String>,
}

/// The claims MAA lists in `claims_supported` (reference 1.7), in its order.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "cnf",
    "nonce",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-policy-hash",
    "x-ms-policy-signer",
    "x-ms-sgx-is-debuggable",
    "x-ms-sgx-mrenclave",
    "x-ms-sgx-mrsigner",
    "x-ms-sgx-svn",
    "x-ms-sgx-ehd",
    "x-ms-sgx-collateral",
    "is-debuggable",
    "sgx-mrsigner",
    "sgx-mrenclave",
    "product-id",
    "svn",
    "tee",
];

/// The metadata of the instance whose base URL is `issuer`. `issuer` is kept
/// verbatim (clients compare it byte for byte with `iss`); the endpoint URLs
/// are built from it without doubling a trailing slash.
pub fn openid_metadata(issuer: &str) -> OpenIdMetadata {
    let base = issuer.trim_end_matches('/');
    OpenIdMetadata {
        response_types_supported: vec!["token".into(), "none".into()],
        id_token_signing_alg_values_supported: vec!["RS256".into()],
        revocation_endpoint: Some(format!("{base}/revoke")),
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
            alg: None,
            kid: Some("abc".into()),
            kty: "RSA".into(),
            use_: None,
            x5c: vec!["MII=".into()],
        };
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"kid":"abc","kty":"RSA","x5c":["MII="]}"#
        );
        let signer = Jwk {
            alg: Some("RS256".into()),
            kid: None,
            kty: "RSA".into(),
            use_: Some("sig".into()),
            x5c: vec![],
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
        assert_eq!(v["revocation_endpoint"], "https://a.example/revoke");
        assert_eq!(
            v["response_types_supported"],
            serde_json::json!(["token", "none"])
        );
        assert_eq!(
            v["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        assert_eq!(v["claims_supported"].as_array().unwrap().len(), 18);
        assert_eq!(
            openid_metadata("https://a.example/").jwks_uri,
            "https://a.example/certs"
        );
    }
}
