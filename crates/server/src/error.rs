//! API errors and their one mapping to MAA's error body.
//!
//! Every failure a client can cause leaves the server as
//! `{"error":{"code":"…","message":"…"}}` with the matching HTTP status and
//! an `x-ms-error-code` header (as MAA's 2025-06-01 API declares). Internal
//! failures are logged with their detail and answered with a generic message:
//! no stack trace or internal path reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Attesta's specific code (e.g. `PckCertificateRevoked`), sent as
    /// `innererror.code` as MAA's 2025-06-01 error model allows.
    pub inner: Option<&'static str>,
    /// Seconds a client should wait before retrying (429, 503), sent as
    /// `Retry-After` (reference §6.1).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            inner: None,
            retry_after: None,
        }
    }

    /// Ask the client to retry after `secs` seconds (`Retry-After`).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// 429 `TooManyRequests` with `Retry-After`: a throttle refused the request.
    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
            .with_retry_after(retry_after)
    }

    /// 503 `ServiceUnavailable` with `Retry-After`: the service (or a vendor
    /// service it depends on) cannot take the request now; the same request
    /// may succeed later.
    pub fn service_unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
        .with_retry_after(retry_after)
    }

    /// A collateral failure: 503 + `Retry-After` when the vendor service
    /// (Intel PCS / PCCS, AMD KDS) was unreachable, failed or throttled us,
    /// so the client retries; 400 `InvalidParameter` with the collateral's
    /// specific code otherwise (the data is missing or bad: retrying does
    /// not help). Either way the request is refused: nothing is verified
    /// without collateral.
    pub fn collateral(e: &attesta_collateral::CollateralError, hint: &str) -> Self {
        match upstream_retry_after(e) {
            Some(secs) => Self::service_unavailable(
                format!("{}: {e}; the request can be retried", e.code()),
                secs,
            )
            .with_inner(e.code()),
            None => Self::evidence(e.code(), format!("{e}{hint}")),
        }
    }

    /// Attach Attesta's specific error code.
    pub fn with_inner(mut self, inner: &'static str) -> Self {
        self.inner = Some(inner);
        self
    }

    /// An evidence verification failure: `code` is the verifier's specific
    /// code (MAA code `InvalidParameter`).
    pub fn evidence(code: &'static str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("{code}: {message}"),
        )
        .with_inner(code)
    }

    /// 400 `InvalidParameter`: the request's evidence or a field is wrong.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    /// 400 `InvalidOperation`: the operation cannot be done as asked.
    pub fn invalid_operation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidOperation", message)
    }

    /// 401 `Unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// 404 `NotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 501 `NotImplemented`.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", message)
    }

    /// 500 with a generic message; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the service failed to process the request; see the server log",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

/// The codes of an error response, kept as a response extension so layers
/// (metrics, the attestation event) can read them without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCodes {
    pub code: &'static str,
    pub inner: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let codes = ErrorCodes {
            code: self.code,
            inner: self.inner,
        };
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(inner) = self.inner {
            error["innererror"] = json!({ "code": inner });
        }
        let body = json!({ "error": error });
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(codes);
        if let Ok(v) = HeaderValue::from_str(self.code) {
            resp.headers_mut().insert("x-ms-error-code", v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"attesta\""),
            );
        }
        resp
    }
}

/// Default `Retry-After` when a vendor collateral service is unreachable.
pub const UPSTREAM_RETRY_AFTER_SECS: u64 = 30;

/// `Some(seconds to wait)` when a collateral error means the vendor service
/// could not answer (unreachable, 5xx, 429, or cached collateral expired
/// because a refresh failed that way); `None` when the data itself is
/// missing or bad.
pub fn upstream_retry_after(e: &attesta_collateral::CollateralError) -> Option<u64> {
    use attesta_collateral::CollateralError as E;
    let transient_status = |s: u16| s == 429 || s == 408 || s >= 500;
    match e {
        E::UpstreamUnavailable { .. } | E::KdsUnavailable { .. } => Some(UPSTREAM_RETRY_AFTER_SECS),
        E::UpstreamStatus { status, .. } | E::KdsStatus { status, .. }
            if transient_status(*status) =>
        {
            Some(UPSTREAM_RETRY_AFTER_SECS)
        }
        E::KdsRateLimited { retry_after, .. } => Some((*retry_after).max(1)),
        E::Expired {
            cause: Some(cause), ..
        } => upstream_retry_after(cause),
        _ => None,
    }
}

/// The MAA error code for a status produced outside our handlers (body-limit,
/// timeout and routing layers), used to rewrite their plain-text bodies.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "RequestBodyTooLarge",
        StatusCode::REQUEST_TIMEOUT => "RequestTimeout",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        s if s.is_server_error() => "InternalError",
        _ => "InvalidParameter",
    }
}

/// The message for a status produced outside our handlers.
pub fn message_for_status(status: StatusCode, max_body: usize) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than the limit of {max_body} bytes")
        }
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned".into(),
        StatusCode::NOT_FOUND => {
            "no such route; see the MAA REST API for the supported paths".into()
        }
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that HTTP method".into(),
        s => s
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string(),
    }
}
