//! Resource bounds of the policy engine (issue 13): every input a policy author or an attester controls —
//! policy text, nesting, rule count, JMESPath queries, Rego brackets, claim counts and sizes, evaluation
//! time — has an explicit bound here, and hitting one is a `PolicyError` that names the bound, never a
//! panic, a stack overflow or an unbounded allocation.
//!
//! Third-party parsers (the `jmespath` crate recurses per nesting level; regorus' parser backtracks,
//! exponentially in the nesting of `[`/`{`) get a cheap iterative pre-scan here before they see a text.
//! Our own parser counts its nesting depth. Rego evaluation is bounded by regorus' cooperative execution
//! timer and by bounded replacements of the builtins that allocate in proportion to an argument
//! (`numbers.range`, `numbers.range_step`).

use std::time::{Duration, Instant};

use crate::error::{LineIndex, POLICY_EVALUATION_ERROR, POLICY_PARSING_ERROR, PolicyError};

/// Largest policy text accepted, in bytes (both languages). Published MAA policies are a few KiB.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Deepest nesting of function calls in an MAA expression (published samples nest three deep).
pub const MAX_NESTING_DEPTH: usize = 32;
/// Most rules an MAA policy may hold, over all its sections.
pub const MAX_RULES: usize = 1024;
/// Most conditions (over all `||` alternatives) one MAA rule may hold.
pub const MAX_CONDITIONS_PER_RULE: usize = 256;
/// Longest JMESPath query, in bytes (literal in the policy or taken from a claim at evaluation time).
pub const MAX_JMESPATH_BYTES: usize = 4096;
/// Deepest nesting of `(`, `[` and `{` in a JMESPath query; the `jmespath` crate recurses per level.
pub const MAX_JMESPATH_DEPTH: usize = 32;
/// Most operators (`!`, `.`, `|`, `&`, `<`, `>`, `=`) outside quotes in one JmesPath query. The
/// `jmespath` crate's parser and interpreter recurse once per operator of a chain (`!!!…!a` or
/// `a.a.…a` nest as deep as they are long) and brackets are not involved, so the bracket depth alone
/// does not bound their recursion: found by the `policy_deep` fuzz target (2,048 `!` overflowed the
/// interpreter's stack).
pub const MAX_JMESPATH_OPERATORS: usize = 64;
/// Largest JMESPath result, as JSON text, in bytes: projections can repeat shared sub-documents, so the
/// serialised result is bounded rather than the (reference-counted) result itself.
pub const MAX_JMESPATH_RESULT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of `(`, `[` and `{` in a Rego module outside strings and comments. regorus parses
/// nested `[`/`{` in time exponential in their depth (depth 16 ≈ 1 s, 20 ≈ 40 s); 12 keeps a module's
/// parse in milliseconds and is far above what real policies nest.
pub const MAX_REGO_NESTING_DEPTH: usize = 12;
/// Most elements a Rego `numbers.range` / `numbers.range_step` may produce (the builtins allocate the
/// whole array up front: `numbers.range(1, 400000000)` is 9.6 GB).
pub const MAX_REGO_RANGE_ELEMENTS: u64 = 100_000;
/// Most claims in an evaluation: incoming claims plus those the rules create (`add(claim=c)` in a chain
/// of rules can double the claim set per rule).
pub const MAX_CLAIMS: usize = 10_000;
/// Most bytes of string values the rules of an MAA policy may create in one evaluation (`AppendString`
/// chains double a value per rule).
pub const MAX_CREATED_BYTES: usize = 64 * 1024 * 1024;
/// Deepest nesting of a JSON claim value converted by [`crate::incoming_claims`] (objects and arrays).
pub const MAX_CLAIM_JSON_DEPTH: usize = 64;
/// Default wall-clock budget of one evaluation ([`Limits::default`]).
pub const DEFAULT_EVALUATION_BUDGET: Duration = Duration::from_secs(2);

/// Per-call bounds for [`crate::compile_with_limits`] and [`crate::CompiledPolicy::evaluate_with_limits`].
/// The structural bounds above are constants; these are the ones a deployment may tighten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest policy text, in bytes; at most [`MAX_POLICY_BYTES`] is ever accepted.
    pub max_policy_bytes: usize,
    /// Most claims in an evaluation; at most [`MAX_CLAIMS`].
    pub max_claims: usize,
    /// Wall-clock budget of one evaluation. MAA policies check it between rules, conditions and
    /// function calls; Rego through regorus' cooperative execution timer. A single JMESPath search is
    /// not interruptible (its inputs are bounded instead).
    pub evaluation_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_policy_bytes: MAX_POLICY_BYTES,
            max_claims: MAX_CLAIMS,
            evaluation_budget: DEFAULT_EVALUATION_BUDGET,
        }
    }
}

impl Limits {
    pub(crate) fn policy_bytes(&self) -> usize {
        self.max_policy_bytes.min(MAX_POLICY_BYTES)
    }

    pub(crate) fn claims(&self) -> usize {
        self.max_claims.min(MAX_CLAIMS)
    }
}

/// A wall-clock deadline for one evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    start: Instant,
    budget: Duration,
}

impl Deadline {
    pub(crate) fn new(budget: Duration) -> Self {
        Deadline {
            start: Instant::now(),
            budget,
        }
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.budget.saturating_sub(self.start.elapsed())
    }

    pub(crate) fn check(&self) -> Result<(), PolicyError> {
        if self.start.elapsed() > self.budget {
            return Err(self.exceeded());
        }
        Ok(())
    }

    pub(crate) fn exceeded(&self) -> PolicyError {
        PolicyError {
            code: POLICY_EVALUATION_ERROR,
            message: format!(
                "policy evaluation exceeded its time budget of {} ms",
                self.budget.as_millis()
            ),
            line: None,
            column: None,
        }
    }
}

/// Refuses a policy text over the size bound (before any parser sees it).
pub(crate) fn check_policy_size(text: &str, limits: &Limits) -> Result<(), PolicyError> {
    let max = limits.policy_bytes();
    if text.len() > max {
        return Err(PolicyError::parse(
            format!(
                "the policy text is {} bytes; the bound is {max} bytes (MAX_POLICY_BYTES)",
                text.len()
            ),
            1,
            1,
        ));
    }
    Ok(())
}

/// Iterative pre-scan of a JMESPath query before the recursive `jmespath` parser sees it: length, and
/// nesting of brackets outside quoted names, raw strings and JSON literals. `Err` is a message.
pub(crate) fn prescan_jmespath(query: &str) -> Result<(), String> {
    if query.len() > MAX_JMESPATH_BYTES {
        return Err(format!(
            "the JmesPath query is {} bytes; the bound is {MAX_JMESPATH_BYTES} bytes (MAX_JMESPATH_BYTES)",
            query.len()
        ));
    }
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, b) in query.bytes().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' | b'`' => quote = Some(b),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JMESPATH_DEPTH {
                    return Err(format!(
                        "the JmesPath query nests brackets more than {MAX_JMESPATH_DEPTH} deep (MAX_JMESPATH_DEPTH) at byte {i}"
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'!' | b'.' | b'|' | b'&' | b'<' | b'>' | b'=' => {
                operators += 1;
                if operators > MAX_JMESPATH_OPERATORS {
                    return Err(format!(
                        "the JmesPath query has more than {MAX_JMESPATH_OPERATORS} operators (MAX_JMESPATH_OPERATORS) at byte {i}"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Iterative pre-scan of a Rego module before regorus parses it: nesting of `(`, `[`, `{` outside
/// strings (`"…"` with escapes, raw `` `…` ``) and `#` comments. The error carries the line and column of
/// the bracket that goes too deep.
pub(crate) fn prescan_rego(text: &str) -> Result<(), PolicyError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    if c == b'\\' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if c == b'"' || c == b'\n' {
                        break;
                    }
                }
                continue;
            }
            b'`' => {
                i += 1;
                while bytes.get(i).is_some_and(|&c| c != b'`') {
                    i += 1;
                }
                i += 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_REGO_NESTING_DEPTH {
                    let (line, column) = LineIndex::new(text).position(text, i);
                    return Err(PolicyError {
                        code: POLICY_PARSING_ERROR,
                        message: format!(
                            "Rego: brackets are nested more than {MAX_REGO_NESTING_DEPTH} deep (MAX_REGO_NESTING_DEPTH)"
                        ),
                        line: Some(line),
                        column: Some(column),
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Depth of a JSON value (a scalar is 0), computed without recursion; stops counting past `limit`.
pub(crate) fn json_depth_exceeds(v: &serde_json::Value, limit: usize) -> bool {
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(a) => Box::new(a.iter()),
            serde_json::Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if d + 1 > limit {
            return true;
        }
        stack.extend(children.map(|c| (c, d + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jmespath_prescan_counts_brackets_outside_literals() {
        assert!(prescan_jmespath("Events[?a == 'x'].b").is_ok());
        let deep = format!("{}a{}", "(".repeat(33), ")".repeat(33));
        assert!(
            prescan_jmespath(&deep)
                .unwrap_err()
                .contains("MAX_JMESPATH_DEPTH")
        );
        let quoted = format!("'{}'", "(".repeat(100));
        assert!(prescan_jmespath(&quoted).is_ok());
    }

    #[test]
    fn rego_prescan_skips_strings_and_comments() {
        let s = format!(
            "package p\n# {}\nx := \"{}\"\n",
            "[".repeat(50),
            "{".repeat(50)
        );
        assert!(prescan_rego(&s).is_ok());
        let deep = format!("package p\nx := {}1{}", "[".repeat(13), "]".repeat(13));
        let e = prescan_rego(&deep).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(18)));
    }

    #[test]
    fn json_depth_is_counted_iteratively() {
        let mut v = serde_json::json!(1);
        for _ in 0..100 {
            v = serde_json::json!([v]);
        }
        assert!(json_depth_exceeds(&v, 64));
        assert!(!json_depth_exceeds(&v, 100));
    }
}
