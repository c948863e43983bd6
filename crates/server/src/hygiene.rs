//! Request checks that run before routing, on headers alone.
//!
//! - **One host.** A request must name at most one host: two `Host` headers,
//!   or a request target's authority (HTTP/1.1 absolute form, HTTP/2
//!   `:authority`) that differs from `Host`, get 400 `InvalidParameter`.
//!   Proxies and this server could otherwise disagree on which host (and so
//!   which provider and token issuer) a request addresses. After this layer
//!   the host a handler sees is unambiguous.
//! - **Declared size.** A `Content-Length` above `max_body_bytes` gets 413
//!   `RequestBodyTooLarge` before a byte of the body is read, the same on
//!   HTTP/1.1 and HTTP/2 (the body-limit layer behind this one still bounds
//!   bodies without a length).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Why a request's host is ambiguous, if it is.
pub fn host_conflict(req: &Request) -> Option<String> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Some("the request has more than one Host header; send exactly one".into());
    }
    let host = match host.map(|h| h.to_str()) {
        None => None,
        Some(Ok(h)) => Some(h.trim()),
        Some(Err(_)) => return Some("the Host header is not ASCII".into()),
    };
    let authority = req.uri().authority()?;
    if authority.as_str().contains('@') {
        return Some("the request target's authority may not carry user information".into());
    }
    match host {
        Some(h) if !h.eq_ignore_ascii_case(authority.as_str()) => Some(format!(
            "the request target names host '{}' but the Host header says '{h}'; send one host",
            authority.as_str()
        )),
        _ => None,
    }
}

/// Reject ambiguous hosts and over-long declared bodies (module docs).
pub async fn check_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(why) = host_conflict(&req) {
        return ApiError::invalid_parameter(why).into_response();
    }
    let max = state.config.max_body_bytes;
    let mut lengths = req.headers().get_all(header::CONTENT_LENGTH).iter();
    if let Some(first) = lengths.next() {
        if lengths.any(|other| other != first) {
            return ApiError::invalid_parameter(
                "the request has conflicting Content-Length headers",
            )
            .into_response();
        }
        let Some(len) = first
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            return ApiError::invalid_parameter("the Content-Length header is not a number")
                .into_response();
        };
        if len > max as u64 {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestBodyTooLarge",
                format!("the request body ({len} bytes) is larger than the limit of {max} bytes"),
            )
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, hosts: &[&str]) -> Request {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn one_consistent_host_passes() {
        assert_eq!(host_conflict(&req("/certs", &["a.example:8443"])), None);
        assert_eq!(
            host_conflict(&req("https://A.example:8443/certs", &["a.example:8443"])),
            None
        );
        assert_eq!(host_conflict(&req("https://a.example/certs", &[])), None);
        assert_eq!(host_conflict(&req("/certs", &[])), None);
    }

    #[test]
    fn two_hosts_are_refused() {
        assert!(host_conflict(&req("/certs", &["a.example", "b.example"])).is_some());
        assert!(host_conflict(&req("/certs", &["a.example", "a.example"])).is_some());
        assert!(host_conflict(&req("https://b.example/certs", &["a.example"])).is_some());
        // Same name, other port: still two different hosts.
        assert!(host_conflict(&req("https://a.example:1/certs", &["a.example:2"])).is_some());
        assert!(host_conflict(&req("https://u@a.example/certs", &["a.example"])).is_some());
    }
}
