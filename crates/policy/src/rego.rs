//! The Rego adapter: a policy written in Rego (v1 syntax), run by `regorus`, Microsoft's Rego engine.
//!
//! Contract: the input document is `{"claims": {TYPE: VALUE, …}}` holding every incoming claim (a type that
//! occurs several times maps to an array of its values, in order; issuers are not exposed). The policy
//! must define `allow` (a boolean; anything but `true`, including undefined, refuses the attestation) and
//! may define `claims` (an object: claims to put in the token, any JSON values) and `properties` (an
//! object of property claims, checked against `KNOWN_PROPERTIES` and their types like `issueproperty`).

use regorus::{Engine, Value as RegoValue};
use serde_json::{Map, Value};

use crate::error::PolicyError;
use crate::eval::Run;
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
        let mut engine = Engine::new();
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

    pub(crate) fn run(&self, incoming: &[Claim]) -> Result<Run, PolicyError> {
        let mut engine = self.engine.clone();
        engine.set_input(input_document(incoming));

        let allow = engine
            .eval_rule(format!("{}.allow", self.package))
            .map_err(|e| map_error(e, false))?;
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
            run.outgoing = self.object_rule(&mut engine, "claims")?;
        }
        if self.has_properties {
            run.properties = self.object_rule(&mut engine, "properties")?;
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
    pub(crate) fn properties(&self, incoming: &[Claim]) -> Result<Map<String, Value>, PolicyError> {
        if !self.has_properties {
            return Ok(Map::new());
        }
        let mut engine = self.engine.clone();
        engine.set_input(input_document(incoming));
        self.object_rule(&mut engine, "properties")
    }

    fn object_rule(
        &self,
        engine: &mut Engine,
        rule: &str,
    ) -> Result<Map<String, Value>, PolicyError> {
        let v = engine
            .eval_rule(format!("{}.{rule}", self.package))
            .map_err(|e| map_error(e, false))?;
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
