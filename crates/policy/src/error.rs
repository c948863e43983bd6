//! The one error type of the policy crate: a parse error (`PolicyParsingError`, raised when a policy is
//! compiled, i.e. when it is set) or an evaluation error (`PolicyEvaluationError`, raised per attestation),
//! both with the MAA error code the HTTP layer puts in `{"error":{"code","message"}}`.

use std::fmt;

/// MAA error code for a policy that does not parse or type-check.
pub const POLICY_PARSING_ERROR: &str = "PolicyParsingError";
/// MAA error code for a policy that refused the evidence or failed while running.
pub const POLICY_EVALUATION_ERROR: &str = "PolicyEvaluationError";

/// A policy error. `line`/`column` are 1-based (column counted in characters) and point into the policy
/// text when the error has a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// `"PolicyParsingError"` or `"PolicyEvaluationError"`.
    pub code: &'static str,
    /// What went wrong, in MAA's style for parse errors (`mismatched input '[' expecting ';' (policy > …)`).
    pub message: String,
    /// 1-based line of the offending text, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending text, when known.
    pub column: Option<usize>,
}

impl PolicyError {
    pub(crate) fn parse(message: impl Into<String>, line: usize, column: usize) -> Self {
        PolicyError {
            code: POLICY_PARSING_ERROR,
            message: message.into(),
            line: Some(line),
            column: Some(column),
        }
    }

    pub(crate) fn eval(message: impl Into<String>, pos: Option<(usize, usize)>) -> Self {
        PolicyError {
            code: POLICY_EVALUATION_ERROR,
            message: message.into(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
        }
    }

    /// True for `PolicyParsingError`.
    pub fn is_parsing(&self) -> bool {
        self.code == POLICY_PARSING_ERROR
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}", self.message),
            (Some(l), None) => write!(f, "{l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Maps byte offsets of a text to 1-based (line, column-in-characters).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    pub(crate) fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, column + 1)
    }
}
