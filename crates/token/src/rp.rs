//! A relying party's check of an attestation token against its issuer
//! (`attesta token verify TOKEN --issuer URL`).
//!
//! The issuer is reached over HTTPS only; its OpenID metadata must name the
//! same issuer (byte for byte) and a `jwks_uri` under the issuer URL, so a
//! compromised or mistyped metadata document cannot point the check at
//! someone else's keys. Redirects are not followed for the same reason. The
//! decisions are pure functions ([`check_issuer_url`], [`check_metadata`],
//! [`verify_with_jwks`]); only [`verify_with_issuer`] does I/O.

use crate::error::RpError;
use crate::jwks::{Jwks, OpenIdMetadata};
use crate::jwt::{VerifiedToken, VerifyOptions, verify_jwt};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Largest metadata or key-set document accepted.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Time limit for each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Fetch the issuer's metadata and keys and verify `token` with them,
/// requiring `iss == issuer`. `extra_ca_pem` adds trusted roots (PEM, one or
/// more certificates) to the system's.
pub async fn verify_with_issuer(
    token: &str,
    issuer: &str,
    extra_ca_pem: Option<&[u8]>,
    now: u64,
    leeway_secs: u64,
) -> Result<VerifiedToken, RpError> {
    let jwks = fetch_jwks(issuer, extra_ca_pem).await?;
    verify_with_jwks(token, &jwks, issuer, now, leeway_secs)
}

/// The issuer's key set, found through its OpenID metadata (checked with
/// [`check_issuer_url`] and [`check_metadata`]).
pub async fn fetch_jwks(issuer: &str, extra_ca_pem: Option<&[u8]>) -> Result<Jwks, RpError> {
    check_issuer_url(issuer)?;
    let client = build_client(extra_ca_pem)?;
    let meta_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let meta: OpenIdMetadata = get_json(&client, &meta_url, "OpenID metadata document").await?;
    let jwks_uri = check_metadata(&meta, issuer)?;
    get_json(&client, &jwks_uri, "JWKS key set").await
}

/// The issuer must be an absolute `https://` URL with a host.
pub fn check_issuer_url(issuer: &str) -> Result<(), RpError> {
    let rest = issuer
        .strip_prefix("https://")
        .ok_or_else(|| RpError::InsecureIssuer(issuer.to_string()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(RpError::InsecureIssuer(issuer.to_string()));
    }
    Ok(())
}

/// Check fetched metadata against the issuer the caller expects and return
/// the `jwks_uri` to fetch keys from.
pub fn check_metadata(meta: &OpenIdMetadata, issuer: &str) -> Result<String, RpError> {
    if meta.issuer != issuer {
        return Err(RpError::IssuerMismatch {
            expected: issuer.to_string(),
            found: meta.issuer.clone(),
        });
    }
    // Prefix plus '/' so that https://a.example does not admit
    // https://a.example.evil/certs.
    let base = format!("{}/", issuer.trim_end_matches('/'));
    if !meta.jwks_uri.starts_with(&base) {
        return Err(RpError::JwksUriOutsideIssuer {
            jwks_uri: meta.jwks_uri.clone(),
            issuer: issuer.to_string(),
        });
    }
    Ok(meta.jwks_uri.clone())
}

/// Verify `token` with a fetched key set, requiring `iss == issuer` and an
/// attestation result (a control-plane reply token signed by the same key is
/// refused: [`crate::jwt::check_attestation_claims`]).
pub fn verify_with_jwks(
    token: &str,
    jwks: &Jwks,
    issuer: &str,
    now: u64,
    leeway_secs: u64,
) -> Result<VerifiedToken, RpError> {
    let opts = VerifyOptions {
        issuer: Some(issuer.to_string()),
        now,
        leeway_secs,
    };
    let verified = verify_jwt(token, jwks, &opts)?;
    crate::jwt::check_attestation_claims(&verified.claims)?;
    Ok(verified)
}

fn build_client(extra_ca_pem: Option<&[u8]>) -> Result<reqwest::Client, RpError> {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT);
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| RpError::ExtraCa(e.to_string()))?;
        if certs.is_empty() {
            return Err(RpError::ExtraCa("no CERTIFICATE block found".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| RpError::Http {
        url: String::new(),
        reason: format!("could not set up the HTTPS client: {e}"),
    })
}

async fn get_json<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    what: &'static str,
) -> Result<T, RpError> {
    let http = |e: reqwest::Error| RpError::Http {
        url: url.to_string(),
        reason: error_chain(&e),
    };
    let resp = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(http)?;
    if resp.status().as_u16() != 200 {
        return Err(RpError::HttpStatus {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    let body = resp.bytes().await.map_err(http)?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(RpError::BadDocument {
            url: url.to_string(),
            what,
            reason: format!("{} bytes (at most {MAX_DOCUMENT_BYTES})", body.len()),
        });
    }
    serde_json::from_slice(&body).map_err(|e| RpError::BadDocument {
        url: url.to_string(),
        what,
        reason: e.to_string(),
    })
}

/// The error and its causes, so a TLS failure says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::openid_metadata;

    #[test]
    fn issuer_must_be_https_with_a_host() {
        assert!(check_issuer_url("https://a.example").is_ok());
        assert!(check_issuer_url("https://127.0.0.1:8443").is_ok());
        for bad in [
            "http://a.example",
            "https://",
            "https:///x",
            "a.example",
            "https://u@evil",
        ] {
            let e = check_issuer_url(bad).unwrap_err();
            assert_eq!(e.code(), "RpInsecureIssuer", "{bad}");
        }
    }

    #[test]
    fn metadata_must_name_the_issuer_and_keep_keys_under_it() {
        let issuer = "https://a.example";
        assert_eq!(
            check_metadata(&openid_metadata(issuer), issuer).unwrap(),
            "https://a.example/certs"
        );
        let mut m = openid_metadata(issuer);
        m.issuer = "https://b.example".into();
        assert_eq!(
            check_metadata(&m, issuer).unwrap_err().code(),
            "RpIssuerMismatch"
        );
        let mut m = openid_metadata(issuer);
        m.jwks_uri = "https://a.example.evil/certs".into();
        assert_eq!(
            check_metadata(&m, issuer).unwrap_err().code(),
            "RpJwksUriOutsideIssuer"
        );
        let mut m = openid_metadata(issuer);
        m.jwks_uri = "https://evil.example/certs".into();
        assert_eq!(
            check_metadata(&m, issuer).unwrap_err().code(),
            "RpJwksUriOutsideIssuer"
        );
    }
}
