//! Error vocabulary shared by every verifier.
//!
//! Each verifier defines its own error enum with one variant per check that
//! can fail; all of them implement [`ErrorCode`], which gives a stable,
//! machine-readable code (tests assert it) and the MAA error code the HTTP
//! edge returns.

/// A stable identity for an error.
pub trait ErrorCode {
    /// A stable, specific code such as `PckCertificateRevoked`.
    fn code(&self) -> &'static str;

    /// The MAA error code (`InvalidParameter` for evidence that does not verify).
    fn maa_code(&self) -> &'static str {
        "InvalidParameter"
    }
}

/// A parser met bytes it cannot decode. Parsers are total: this is the only
/// way they fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input ended before a field of `needed` bytes could be read.
    #[error("{what} is truncated: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{what} has an unsupported value {value}")]
    Unsupported { what: &'static str, value: String },
    /// Bytes remain after a structure that must end the input.
    #[error("{what} has {count} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, count: usize },
    /// Anything else malformed, described.
    #[error("{what} is malformed: {reason}")]
    Malformed { what: &'static str, reason: String },
}

impl ErrorCode for ParseError {
    fn code(&self) -> &'static str {
        match self {
            ParseError::Truncated { .. } => "EvidenceTruncated",
            ParseError::Unsupported { .. } => "EvidenceUnsupported",
            ParseError::TrailingBytes { .. } => "EvidenceTrailingBytes",
            ParseError::Malformed { .. } => "EvidenceMalformed",
        }
    }
}
