//! The Rego adapter: a policy written in Rego (v1 syntax), run by `regorus`, Microsoft's Rego engine.
//!
//! Contract: the input document is `{"claims": {TYPE: VALUE, …}}` holding every incoming claim (a type that
//! occurs several times maps to an array of its values, in order; issuers are not exposed). The policy
//! must define `allow` (a boolean; anything but `true`, including undefined, refuses the attestation) and
//! may define `claims` (an object: claims to put in the token, any JSON values) and `properties` (an
//! object of property claims, checked against `KNOWN_PROPERTIES` and their types like `issueproperty`).
//!
//! Bounds (issue 13, `limits.rs`). What regorus 0.14 offers and what is used:
//! * a cooperative execution timer (`Engine::set_execution_timer_config`): set before every rule
//!   evaluation to what is left of the evaluation's budget; its `LimitError::TimeLimitExceeded` becomes
//!   "policy evaluation exceeded its time budget of N ms";
//! * policy length limits (`PolicyLengthConfig`, 1 MiB / 20 000 lines / 1024 columns by default): kept,
//!   under our own `MAX_POLICY_BYTES`;
//! * an expression depth limit of 32 in its parser — but its parse is exponential in the nesting of
//!   `[`/`{` well below that, and the timer does not cover parsing: `prescan_rego` bounds bracket depth
//!   to `MAX_REGO_NESTING_DEPTH` before regorus sees the text;
//! * memory limits only with the `allocator-memory-limits` feature, which installs mimalloc (a C
//!   allocator) process-wide: not used. Instead the builtins that allocate in proportion to an argument,
//!   `numbers.range` and `numbers.range_step` (they reserve the whole array before any check), are
//!   replaced by extensions (regorus looks extensions up before builtins) that refuse more than
//!   `MAX_REGO_RANGE_ELEMENTS` elements.

use std::num::NonZeroU32;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, LimitError, Value as RegoValue};
use serde_json::{Map, Value};

use crate::error::PolicyError;
use crate::eval::Run;
use crate::limits::{Deadline, MAX_REGO_RANGE_ELEMENTS, prescan_rego};
use crate::{Claim, ClaimValue};

const FILE: &str = "policy.rego";

/// A parsed Rego module; every evaluation runs on a clone of the prepared engine.
#[derive(Clone)]
pub(crate) struct RegoPolicy {
    engine: Engine,
    package: String,
    /// Whether the module declares `claims` / `properties` (evaluating an undeclared rule is an error).
    has_claims: bool,
    has_properties: bool,
}

impl std::fmt::Debug for RegoPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoPolicy")
            .field("package", &self.package)
            .finish_non_exhaustive()
    }
}

/// Turns a regorus error (`--> policy.rego:4:1 … error: expecting expression`) into a `PolicyError`.
fn map_error(err: impl std::fmt::Display, parsing: bool) -> PolicyError {
    let text = err.to_string();
    let mut line = None;
    let mut column = None;
    if let Some(i) = text.find(&format!("{FILE}:")) {
        let rest = text.get(i + FILE.len() + 1..).unwrap_or("");
        let mut parts = rest.splitn(3, ':');
        line = parts.next().and_then(|l| l.trim().parse::<usize>().ok());
        column = parts
            .next()
            .and_then(|c| c.split(|ch: char| !ch.is_ascii_digit()).next())
            .and_then(|c| c.parse::<usize>().ok());
    }
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string());
    PolicyError {
        code: if parsing {
            crate::error::POLICY_PARSING_ERROR
        } else {
            crate::error::POLICY_EVALUATION_ERROR
        },
        message: format!("Rego: {message}"),
        line,
        column,
    }
}

impl RegoPolicy {
    pub(crate) fn compile(text: &str) -> Result<Self, PolicyError> {
        prescan_rego(text)?;
        let mut engine = Engine::new();
        install_bounded_builtins(&mut engine)?;
        let package = engine
            .add_policy(FILE.to_string(), text.to_string())
            .map_err(|e| map_error(e, true))?;
        let has_allow = engine
            .has_declared_rule_rooted_at(FILE, "allow")
            .map_err(|e| map_error(e, true))?;
        if !has_allow {
            return Err(PolicyError {
                code: crate::error::POLICY_PARSING_ERROR,
                message: format!(
                    "Rego: the policy must define the rule 'allow' (a boolean) in {package}"
                ),
                line: None,
                column: None,
            });
        }
        let declared = |rule: &str| {
            engine
                .has_declared_rule_rooted_at(FILE, rule)
                .map_err(|e| map_error(e, true))
        };
        let has_claims = declared("claims")?;
        let has_properties = declared("properties")?;
        Ok(RegoPolicy {
            engine,
            package,
            has_claims,
            has_properties,
        })
    }

    pub(crate) fn run(&self, incoming: &[Claim], deadline: &Deadline) -> Result<Run, PolicyError> {
        let mut engine = self.engine.clone();
        engine.set_input(input_document(incoming));

        let allow = eval_rule(&mut engine, format!("{}.allow", self.package), deadline)?;
        let permitted = match allow {
            RegoValue::Bool(b) => b,
            RegoValue::Undefined => false,
            other => {
                return Err(PolicyError::eval(
                    format!("Rego: 'allow' must be a boolean, found {other}"),
                    None,
                ));
            }
        };
        let mut run = Run {
            denied: None,
            permitted,
            outgoing: Map::new(),
            properties: Map::new(),
        };
        if !permitted {
            return Ok(run);
        }
        if self.has_claims {
            run.outgoing = self.object_rule(&mut engine, "claims", deadline)?;
        }
        if self.has_properties {
            run.properties = self.object_rule(&mut engine, "properties", deadline)?;
        }
        for (name, value) in &run.properties {
            let expected = crate::property_type(name).ok_or_else(|| {
                PolicyError::eval(
                    format!(
                        "Rego: unknown property claim '{name}'; known: {}",
                        crate::KNOWN_PROPERTIES.join(", ")
                    ),
                    None,
                )
            })?;
            let found = match value {
                Value::String(_) => "String",
                Value::Bool(_) => "Boolean",
                Value::Number(n) if n.is_i64() => "Integer",
                _ => "other",
            };
            if found != expected {
                return Err(PolicyError::eval(
                    format!(
                        "Rego: property claim '{name}' takes a {expected} value, found {value}"
                    ),
                    None,
                ));
            }
        }
        Ok(run)
    }

    /// The `properties` object for these claims, whatever `allow` says.
    pub(crate) fn properties(
        &self,
        incoming: &[Claim],
        deadline: &Deadline,
    ) -> Result<Map<String, Value>, PolicyError> {
        if !self.has_properties {
            return Ok(Map::new());
        }
        let mut engine = self.engine.clone();
        engine.set_input(input_document(incoming));
        self.object_rule(&mut engine, "properties", deadline)
    }

    fn object_rule(
        &self,
        engine: &mut Engine,
        rule: &str,
        deadline: &Deadline,
    ) -> Result<Map<String, Value>, PolicyError> {
        let v = eval_rule(engine, format!("{}.{rule}", self.package), deadline)?;
        if v == RegoValue::Undefined {
            return Ok(Map::new());
        }
        match serde_json::to_value(&v) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(PolicyError::eval(
                format!("Rego: '{rule}' must be an object of claims, found {v}"),
                None,
            )),
        }
    }
}

/// Evaluates one rule under what is left of the deadline (regorus' cooperative timer).
fn eval_rule(
    engine: &mut Engine,
    rule: String,
    deadline: &Deadline,
) -> Result<RegoValue, PolicyError> {
    let remaining = deadline.remaining();
    if remaining.is_zero() {
        return Err(deadline.exceeded());
    }
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: remaining,
        check_interval: TIMER_CHECK_INTERVAL,
    });
    engine.eval_rule(rule).map_err(|e| {
        let timed_out = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<LimitError>(),
                Some(LimitError::TimeLimitExceeded { .. })
            )
        });
        if timed_out {
            deadline.exceeded()
        } else {
            map_error(e, false)
        }
    })
}

/// Work units between two clock reads of regorus' timer.
const TIMER_CHECK_INTERVAL: NonZeroU32 = NonZeroU32::MIN.saturating_add(63);

/// Replaces `numbers.range(a, b)` and `numbers.range_step(a, b, step)` by versions that refuse more than
/// `MAX_REGO_RANGE_ELEMENTS` elements before allocating. Same results otherwise (both ends included,
/// descending when `b < a`; `range_step` needs a positive integer step); non-integer operands are an
/// error rather than regorus' undefined (fail closed).
fn install_bounded_builtins(engine: &mut Engine) -> Result<(), PolicyError> {
    engine
        .add_extension(
            "numbers.range".to_string(),
            2,
            Box::new(|args: Vec<RegoValue>| {
                let (a, b) = (int_arg(&args, 0)?, int_arg(&args, 1)?);
                Ok(range_values("numbers.range", a, b, 1)?)
            }),
        )
        .map_err(|e| map_error(e, true))?;
    engine
        .add_extension(
            "numbers.range_step".to_string(),
            3,
            Box::new(|args: Vec<RegoValue>| {
                let (a, b, step) = (int_arg(&args, 0)?, int_arg(&args, 1)?, int_arg(&args, 2)?);
                if step <= 0 {
                    Err(std::io::Error::other(
                        "numbers.range_step: step must be a positive integer",
                    ))?;
                }
                Ok(range_values("numbers.range_step", a, b, step)?)
            }),
        )
        .map_err(|e| map_error(e, true))?;
    Ok(())
}

fn int_arg(args: &[RegoValue], i: usize) -> Result<i64, std::io::Error> {
    args.get(i)
        .and_then(|v| v.as_i64().ok())
        .ok_or_else(|| std::io::Error::other(format!("operand {} must be an integer", i + 1)))
}

fn range_values(name: &str, a: i64, b: i64, step: i64) -> Result<RegoValue, std::io::Error> {
    let span = (i128::from(b) - i128::from(a)).unsigned_abs();
    let count = span / step.unsigned_abs().max(1) as u128 + 1;
    if count > u128::from(MAX_REGO_RANGE_ELEMENTS) {
        return Err(std::io::Error::other(format!(
            "{name} would produce {count} elements; the bound is {MAX_REGO_RANGE_ELEMENTS} (MAX_REGO_RANGE_ELEMENTS)"
        )));
    }
    let step = if b < a { -step } else { step };
    let mut out = Vec::with_capacity(count as usize);
    let mut v = a;
    for _ in 0..count {
        out.push(RegoValue::from(v));
        v = v.saturating_add(step);
    }
    Ok(RegoValue::from(out))
}

/// `{"claims": {TYPE: VALUE}}`; a repeated type maps to an array of its values in order.
fn input_document(incoming: &[Claim]) -> RegoValue {
    let mut claims = Map::new();
    for c in incoming {
        let v = match &c.value {
            ClaimValue::String(s) => Value::String(s.clone()),
            ClaimValue::Integer(i) => Value::from(*i),
            ClaimValue::Boolean(b) => Value::Bool(*b),
        };
        match claims.get_mut(&c.claim_type) {
            None => {
                claims.insert(c.claim_type.clone(), v);
            }
            // Incoming values are scalars, so an array here was built by this loop.
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    let mut input = Map::new();
    input.insert("claims".to_string(), Value::Object(claims));
    RegoValue::from(Value::Object(input))
}
