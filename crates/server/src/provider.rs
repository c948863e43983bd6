//! Attestation providers (tenants) and how a request picks one.
//!
//! A provider is addressed two ways, and every MAA route works under both:
//! - by path prefix, `/providers/<name>/…`, on a service host;
//! - by host name, `<name>.<service host>`, as MAA addresses
//!   `<name>.<region>.attest.azure.net`.
//!
//! Service hosts come from configuration only: the host of `public_url`,
//! each of `hostnames`, and always `localhost`, the loopback addresses and
//! the listen address. A request for any other host is refused with 421
//! (Misdirected Request) before anything else happens, and a host that names
//! no provider gets 404 — never the default provider.
//!
//! The base URL (`iss`, `jku`, metadata) is rebuilt from that configuration:
//! `public_url`'s scheme and port when it is set, else `https` and the port
//! the node listens on, with the configured spelling of the host. Nothing a
//! client sends in `Host` reaches a token except by matching a configured
//! name, so `Host: attacker.example` cannot become an issuer.

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

/// The request's host as sent (`:authority` or `Host`), port included.
/// Duplicate or conflicting values are refused before routing (see the
/// request layers), so there is exactly one here.
pub fn request_host(parts: &Parts) -> Result<String, ApiError> {
    parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| host_header(&parts.headers))
        .ok_or_else(|| ApiError::invalid_parameter("the request has no Host header"))
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

/// A configured public base URL: `(scheme, host, port)`.
pub fn parse_public_url(url: &str) -> Result<(String, String, Option<u16>), String> {
    let bad = |why: &str| {
        format!(
            "public_url '{url}' {why}; give the URL clients use, e.g. https://attest.example.com or https://attest.example.com:8443"
        )
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("has no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(bad("is not an https URL"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err(bad("has a path, query or user part"));
    }
    let port_of = |p: &str| p.parse::<u16>().map_err(|_| bad("has an invalid port"));
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed '['"))?;
        let port = match after {
            "" => None,
            a => Some(port_of(
                a.strip_prefix(':')
                    .ok_or_else(|| bad("has junk after ']'"))?,
            )?),
        };
        (format!("[{h}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(port_of(p)?)),
            None => (rest.to_string(), None),
        }
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_err() {
        validate_hostname(bare).map_err(|e| format!("public_url: {e}"))?;
    }
    Ok((scheme, host.to_ascii_lowercase(), port))
}

/// Check a configured host name: dot-separated DNS labels, no port.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid host name (dot-separated DNS labels, no port)"
        ))
    }
}

/// Where a request's host points, judged against configured names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMatch {
    /// The provider the host names (`<name>.<service host>`), if any.
    pub provider: Option<String>,
    /// `scheme://host[:port]` built from configuration: the issuer origin.
    pub origin: String,
}

/// The service hosts and the origin each stands for.
fn service_hosts(config: &crate::Config, port: u16) -> Vec<(String, String, u16, String)> {
    // (host as matched, scheme, port, host as written in URLs)
    let mut out = Vec::new();
    let (scheme, public_port) = match config.public_url.as_deref().map(parse_public_url) {
        Some(Ok((scheme, host, p))) => {
            let port = p.unwrap_or(default_port(&scheme));
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            out.push((bare, scheme.clone(), port, host));
            (scheme, Some(port))
        }
        _ => ("https".to_string(), None),
    };
    let alias_port = public_port.unwrap_or(port);
    for h in &config.hostnames {
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        out.push((h.clone(), scheme.clone(), alias_port, h));
    }
    let mut local: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !config.listen.ip().is_unspecified() {
        local.push(config.listen.ip().to_string());
    }
    for h in local {
        let written = if h.contains(':') {
            format!("[{h}]")
        } else {
            h.clone()
        };
        out.push((h, "https".into(), port, written));
    }
    out
}

/// The service's own origin: `public_url` when configured, else
/// `https://localhost:<port>`.
pub fn canonical_origin(config: &crate::Config, port: u16) -> String {
    match config.public_url.as_deref().map(parse_public_url) {
        Some(Ok((scheme, host, p))) => origin(&scheme, &host, p.unwrap_or(default_port(&scheme))),
        _ => origin("https", "localhost", port),
    }
}

/// The port a URL of `scheme` means when it names none.
fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

fn origin(scheme: &str, host: &str, port: u16) -> String {
    if port == default_port(scheme) {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

/// Match a request host against the configured service hosts. `port` is the
/// port this node listens on.
pub fn match_host(host: &str, config: &crate::Config, port: u16) -> Result<HostMatch, ApiError> {
    let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    let hosts = service_hosts(config, port);
    if let Some((_, scheme, port, written)) = hosts.iter().find(|(h, ..)| *h == name) {
        return Ok(HostMatch {
            provider: None,
            origin: origin(scheme, written, *port),
        });
    }
    if let Some((label, rest)) = name.split_once('.')
        && validate_name(label).is_ok()
        && let Some((_, scheme, port, written)) = hosts
            .iter()
            .find(|(h, ..)| *h == rest && h.parse::<std::net::IpAddr>().is_err())
    {
        return Ok(HostMatch {
            provider: Some(label.to_string()),
            origin: origin(scheme, &format!("{label}.{written}"), *port),
        });
    }
    Err(ApiError::new(
        axum::http::StatusCode::MISDIRECTED_REQUEST,
        "MisdirectedRequest",
        "this service does not answer for that host name; use the configured public_url or one of the configured hostnames",
    ))
}

impl FromRequestParts<AppState> for ProviderCtx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let host = request_host(parts)?;
        let matched = match_host(&host, &state.config, state.port())?;
        let from_path = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "provider")
                    .map(|(_, v)| v.to_string())
            });
        let (name, base_url) = match (from_path, matched.provider) {
            (Some(_), Some(by_host)) => {
                return Err(ApiError::not_found(format!(
                    "the host already names provider '{by_host}'; address a provider by host name or by /providers/<name>, not both"
                )));
            }
            (Some(name), None) => {
                let base = format!("{}/providers/{name}", matched.origin);
                (name, base)
            }
            (None, Some(name)) => (name, matched.origin),
            (None, None) => (state.config.default_provider.name.clone(), matched.origin),
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

    fn config(public_url: Option<&str>, hostnames: &[&str]) -> crate::Config {
        crate::Config {
            public_url: public_url.map(str::to_string),
            hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
            ..crate::Config::default()
        }
    }

    fn m(host: &str, c: &crate::Config) -> Result<(Option<String>, String), u16> {
        match_host(host, c, 8443)
            .map(|h| (h.provider, h.origin))
            .map_err(|e| e.status.as_u16())
    }

    #[test]
    fn hosts_map_to_providers_from_configuration_only() {
        let c = config(None, &["eus.attest.example.com"]);
        let local = |o: &str| Ok((None, o.to_string()));
        assert_eq!(m("127.0.0.1:8443", &c), local("https://127.0.0.1:8443"));
        assert_eq!(m("[::1]:8443", &c), local("https://[::1]:8443"));
        assert_eq!(m("localhost:8443", &c), local("https://localhost:8443"));
        // The port a client writes never reaches the origin.
        assert_eq!(m("localhost:9999", &c), local("https://localhost:8443"));
        assert_eq!(
            m("EUS.attest.example.com.", &c),
            local("https://eus.attest.example.com:8443")
        );
        assert_eq!(
            m("contoso.eus.attest.example.com:443", &c),
            Ok((
                Some("contoso".into()),
                "https://contoso.eus.attest.example.com:8443".into()
            ))
        );
        assert_eq!(
            m("Contoso.localhost", &c),
            Ok((
                Some("contoso".into()),
                "https://contoso.localhost:8443".into()
            ))
        );
        for bad in [
            "attacker.example",
            "contoso.attacker.example",
            "10.0.0.1",
            "a.b.localhost",
            "x.127.0.0.1",
            "",
        ] {
            assert_eq!(m(bad, &c), Err(421), "{bad}");
        }
    }

    #[test]
    fn public_url_sets_scheme_host_and_port() {
        let c = config(Some("https://Attest.Example.com/"), &["alias.example.net"]);
        assert_eq!(
            m("attest.example.com:8443", &c),
            Ok((None, "https://attest.example.com".into()))
        );
        assert_eq!(
            m("contoso.attest.example.com", &c),
            Ok((
                Some("contoso".into()),
                "https://contoso.attest.example.com".into()
            ))
        );
        assert_eq!(
            m("alias.example.net", &c),
            Ok((None, "https://alias.example.net".into()))
        );
        // Loopback keeps working for probes on the node itself.
        assert_eq!(
            m("127.0.0.1", &c),
            Ok((None, "https://127.0.0.1:8443".into()))
        );
        let c = config(Some("https://attest.example.com:9443"), &[]);
        assert_eq!(
            m("attest.example.com", &c),
            Ok((None, "https://attest.example.com:9443".into()))
        );
    }

    #[test]
    fn public_urls_are_checked() {
        assert!(parse_public_url("https://a.example").is_ok());
        assert!(parse_public_url("https://a.example:8443").is_ok());
        assert!(parse_public_url("https://[::1]:8443").is_ok());
        assert!(parse_public_url("a.example").is_err());
        assert!(parse_public_url("ftp://a.example").is_err());
        assert!(parse_public_url("https://a.example/path").is_err());
        assert!(parse_public_url("https://a.example:99999").is_err());
        assert!(parse_public_url("https://user@a.example").is_err());
        assert!(parse_public_url("https://a_b.example").is_err());
    }
}
