//! Attestation providers (tenants) and how a request picks one.
//!
//! A provider is addressed two ways, and every MAA route works under both:
//! - by path prefix, `/providers/<name>/…`;
//! - by host name: the first DNS label of the `Host`, as MAA addresses
//!   `<name>.<region>.attest.azure.net`.
//!
//! A host that is an IP literal, `localhost`, or one of the configured
//! hostnames addresses the default provider. Any other host must name an
//! existing provider: a host for an unknown (or deleted) provider gets 404,
//! never the default provider, because the token's `iss` repeats the host and
//! a relying party expecting that issuer must not receive a token evaluated
//! under someone else's policy.
//!
//! The base URL (`iss`, `jku`, metadata) is the URL exactly as the client
//! addressed it: `https://<Host>` plus the path prefix when one was used.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

use crate::error::ApiError;
use crate::state::AppState;
use attesta_store::ProviderRecord;

/// Check a provider name: a lowercase DNS label.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid provider name: use 1 to 63 lowercase letters, digits and inner hyphens (a DNS label)"
        ))
    }
}

/// The provider a request addresses, with the base URL it used.
#[derive(Debug, Clone)]
pub struct ProviderCtx {
    pub record: Arc<ProviderRecord>,
    /// `https://<host>[/providers/<name>]`, no trailing slash: the token issuer.
    pub base_url: String,
}

impl ProviderCtx {
    pub fn name(&self) -> &str {
        &self.record.name
    }
}

/// The request's host (with port), validated so it can be echoed into URLs.
pub fn request_host(parts: &Parts) -> Result<String, ApiError> {
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| host_header(&parts.headers))
        .ok_or_else(|| ApiError::invalid_parameter("the request has no Host header"))?;
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        return Err(ApiError::invalid_parameter(
            "the Host header is not a valid host name",
        ));
    }
    Ok(host)
}

fn host_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The host part of `host[:port]`, without brackets for IPv6.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Which provider a host name addresses: `None` means the default provider.
pub fn provider_from_host(host: &str, default_hosts: &[String]) -> Option<String> {
    let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || default_hosts.iter().any(|h| h.eq_ignore_ascii_case(&name))
    {
        return None;
    }
    Some(name.split('.').next().unwrap_or_default().to_string())
}

impl FromRequestParts<AppState> for ProviderCtx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let host = request_host(parts)?;
        let from_path = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "provider")
                    .map(|(_, v)| v.to_string())
            });
        let (name, base_url) = match from_path {
            Some(name) => {
                let base = format!("https://{host}/providers/{name}");
                (name, base)
            }
            None => {
                let name = provider_from_host(&host, &state.config.hostnames)
                    .unwrap_or_else(|| state.config.default_provider.name.clone());
                (name, format!("https://{host}"))
            }
        };
        if validate_name(&name).is_err() {
            return Err(ApiError::not_found(format!(
                "no attestation provider is named '{name}'"
            )));
        }
        let record = state.provider(&name).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no attestation provider is named '{name}'; list providers with `attesta provider list`"
            ))
        })?;
        Ok(ProviderCtx { record, base_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert!(validate_name("contoso").is_ok());
        assert!(validate_name("a-1").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("-a").is_err());
        assert!(validate_name("Upper").is_err());
        assert!(validate_name("a.b").is_err());
        assert!(validate_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn hosts_map_to_providers() {
        let d: Vec<String> = vec!["attest.example.com".into()];
        assert_eq!(provider_from_host("127.0.0.1:8443", &d), None);
        assert_eq!(provider_from_host("[::1]:8443", &d), None);
        assert_eq!(provider_from_host("localhost:8443", &d), None);
        assert_eq!(provider_from_host("attest.example.com", &d), None);
        assert_eq!(
            provider_from_host("contoso.eus.attest.example.com:443", &d),
            Some("contoso".into())
        );
        assert_eq!(
            provider_from_host("Contoso.localhost", &d),
            Some("contoso".into())
        );
    }
}
