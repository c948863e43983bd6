//! The evaluator of compiled MAA policies (reference §3.4–3.8): runs configurationrules,
//! authorizationrules and issuancerules in that order over a growing claim set and collects the issued
//! and property claims.
//!
//! Semantics, with the decisions taken where the reference is silent ([inferred]):
//! * A condition is true iff at least one claim passes all its property tests; `!` inverts it.
//!   An identifier binds every claim that passed, in claim-set order; `IDENT.value` is that claim's value
//!   when one claim matched and the set of their values otherwise; the rule fires once.
//! * Comparing against a set is true iff the comparison holds for at least one element; against the empty
//!   value it is false.
//! * Integer values take all six operators; String and Boolean values only `==`/`!=`. Values of different
//!   types never compare: every operator, `!=` included, is false (the condition simply does not match).
//! * `||` (Attesta extension) separates alternatives of `&&`-conjunctions; the first alternative that
//!   holds supplies the bindings. `&&` binds tighter.
//! * Claims created by actions have issuer `AttestationPolicy` (also for `claim=c` copies) and are
//!   visible to every later rule. `add` → claim set only; `issue` → claim set + token; `issueproperty` →
//!   claim set + properties. An empty value is a no-op; a set issues one claim per element.
//! * Authorization: a `deny()` stops evaluation with "A Deny claim was issued, authorization failed.";
//!   when no `permit()` fired (including a policy without authorizationrules) the attestation fails too.
//! * Issuance rules never refuse an attestation, but a failing function (bad JSON, a fraction, an
//!   object given to JsonToClaimValue), an impossible `valueType` conversion, issuing a read-only value
//!   or an unknown or mistyped property claim is a `PolicyEvaluationError`: the policy cannot produce the
//!   token it describes, so no token is produced (fail closed).
//! * `issue`/`add` of a claim type reserved for the service (`reserved.rs`) — possible at run time
//!   through `claim=c` copies or computed types — is a `PolicyEvaluationError` naming the claim (fail
//!   closed: dropping it silently would hide the policy's mistake).
//! * Bounds (`limits.rs`): the claim set (incoming plus created) is bounded by `Limits::max_claims`, the
//!   bytes of created string values by `MAX_CREATED_BYTES`, and the wall clock by
//!   `Limits::evaluation_budget`, checked between rules, conditions and function calls. Evaluation is
//!   iterative except over function-call nesting, which the parser bounds.
//! * The same claim type issued several times becomes a JSON array of its distinct values in issuance
//!   order (once → a plain value). A property claim issued several times keeps the last value.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::ast::*;
use crate::error::PolicyError;
use crate::functions;
use crate::limits::{Deadline, Limits, MAX_CREATED_BYTES};
use crate::reserved;
use crate::value::{Scalar, Shape, Val};
use crate::{Claim, ClaimValue, Issuer, READ_ONLY_CLAIMS};

/// One claim of the evaluation-time claim set.
#[derive(Debug, Clone)]
struct EClaim<'a> {
    ty: Cow<'a, str>,
    value: Scalar<'a>,
    issuer: Issuer,
    read_only: bool,
}

/// What a run of the rules produced, before the authorization verdict is turned into an error.
pub(crate) struct Run {
    /// Set when a `deny()` fired: the position of its rule.
    pub(crate) denied: Option<Pos>,
    pub(crate) permitted: bool,
    pub(crate) outgoing: Map<String, Value>,
    pub(crate) properties: Map<String, Value>,
}

pub(crate) const DENY_MESSAGE: &str = "A Deny claim was issued, authorization failed.";
pub(crate) const NO_PERMIT_MESSAGE: &str = "No Permit claim was issued, authorization failed: no authorization rule matched the incoming claims.";

/// Runs the policy. `Err` only for a real evaluation error; deny / no permit are reported in `Run`.
pub(crate) fn run(
    policy: &Policy,
    incoming: &[Claim],
    limits: &Limits,
) -> Result<Run, PolicyError> {
    run_sections(policy, incoming, false, limits)
}

/// Runs only `configurationrules` and returns the property claims they set.
pub(crate) fn configuration(
    policy: &Policy,
    incoming: &[Claim],
    limits: &Limits,
) -> Result<Map<String, Value>, PolicyError> {
    Ok(run_sections(policy, incoming, true, limits)?.properties)
}

fn run_sections(
    policy: &Policy,
    incoming: &[Claim],
    configuration_only: bool,
    limits: &Limits,
) -> Result<Run, PolicyError> {
    let max_claims = limits.claims();
    if incoming.len() > max_claims {
        return Err(PolicyError::eval(
            format!(
                "the evaluation has {} incoming claims; the bound is {max_claims} (MAX_CLAIMS)",
                incoming.len()
            ),
            None,
        ));
    }
    let mut st = State {
        deadline: Deadline::new(limits.evaluation_budget),
        max_claims,
        created_bytes: 0,
        claims: incoming
            .iter()
            .map(|c| EClaim {
                ty: Cow::Borrowed(c.claim_type.as_str()),
                value: match &c.value {
                    ClaimValue::String(s) => Scalar::Str(Cow::Borrowed(s.as_str())),
                    ClaimValue::Integer(i) => Scalar::Int(*i),
                    ClaimValue::Boolean(b) => Scalar::Bool(*b),
                },
                issuer: c.issuer,
                read_only: c.issuer == Issuer::AttestationService
                    && READ_ONLY_CLAIMS.contains(&c.claim_type.as_str()),
            })
            .collect(),
        outgoing: Vec::new(),
        properties: Vec::new(),
        permitted: false,
    };
    let mut denied = None;
    for rule in &policy.configuration {
        st.rule(rule)?;
    }
    if configuration_only {
        return Ok(Run {
            denied,
            permitted: false,
            outgoing: Map::new(),
            properties: st
                .properties
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.to_json()))
                .collect(),
        });
    }
    for rule in &policy.authorization {
        if st.rule(rule)? == Verdict::Deny {
            denied = Some(rule.pos);
            break;
        }
    }
    if denied.is_none() && st.permitted {
        for rule in &policy.issuance {
            st.rule(rule)?;
        }
    }
    let mut outgoing = Map::new();
    for (ty, v) in st.outgoing {
        merge_issued(&mut outgoing, ty.into_owned(), v.to_json());
    }
    let mut properties = Map::new();
    for (ty, v) in st.properties {
        properties.insert(ty.into_owned(), v.to_json());
    }
    Ok(Run {
        denied,
        permitted: st.permitted,
        outgoing,
        properties,
    })
}

/// A repeated claim type becomes an array of its distinct values; issued values are never arrays
/// themselves, so an existing array is one built here.
fn merge_issued(out: &mut Map<String, Value>, ty: String, v: Value) {
    match out.get_mut(&ty) {
        None => {
            out.insert(ty, v);
        }
        Some(Value::Array(items)) => {
            if !items.contains(&v) {
                items.push(v);
            }
        }
        Some(existing) => {
            if *existing != v {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
}

#[derive(PartialEq, Eq)]
enum Verdict {
    Continue,
    Deny,
}

struct State<'a> {
    deadline: Deadline,
    max_claims: usize,
    /// Bytes of string values created by actions so far (bounded by `MAX_CREATED_BYTES`).
    created_bytes: usize,
    claims: Vec<EClaim<'a>>,
    outgoing: Vec<(Cow<'a, str>, Scalar<'a>)>,
    properties: Vec<(Cow<'a, str>, Scalar<'a>)>,
    permitted: bool,
}

fn compare_str(a: &str, op: Op, b: &Scalar<'_>) -> bool {
    match (op, b) {
        (Op::Eq, Scalar::Str(b)) => a == b.as_ref(),
        (Op::Ne, Scalar::Str(b)) => a != b.as_ref(),
        _ => false,
    }
}

fn compare(a: &Scalar<'_>, op: Op, b: &Scalar<'_>) -> bool {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => match op {
            Op::Eq => x == y,
            Op::Ne => x != y,
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
        },
        (Scalar::Str(x), _) => compare_str(x, op, b),
        (Scalar::Bool(x), Scalar::Bool(y)) => match op {
            Op::Eq => x == y,
            Op::Ne => x != y,
            _ => false,
        },
        _ => false,
    }
}

fn holds_one(claim: &EClaim<'_>, test: &PropTest, r: &Scalar<'_>) -> bool {
    match test.prop {
        Prop::Type => compare_str(&claim.ty, test.op, r),
        Prop::Issuer => compare_str(claim.issuer.name(), test.op, r),
        Prop::ValueType => compare_str(claim.value.type_name(), test.op, r),
        Prop::Value => compare(&claim.value, test.op, r),
    }
}

fn lit_scalar(l: &Lit) -> Scalar<'_> {
    match l {
        Lit::Str(s) => Scalar::Str(Cow::Borrowed(s)),
        Lit::Int(i) => Scalar::Int(*i),
        Lit::Bool(b) => Scalar::Bool(*b),
    }
}

impl<'a> State<'a> {
    fn holds(&self, claim: &EClaim<'a>, test: &PropTest, rhs: &Val<'a>) -> bool {
        rhs.elements().iter().any(|r| holds_one(claim, test, r))
    }

    /// Evaluates the rule's conditions; on success returns the bindings (claim indices per slot).
    fn matches(&self, rule: &'a Rule) -> Result<Option<Vec<Vec<usize>>>, PolicyError> {
        'alternatives: for conj in &rule.alternatives {
            let mut bindings: Vec<Vec<usize>> = vec![Vec::new(); rule.slots];
            for cond in conj {
                self.deadline.check()?;
                // Literal right-hand sides (the common case) are compared in place; only conditions
                // with references or function calls evaluate (and allocate) their values first.
                let rhs: Vec<Val<'a>> = if cond.dynamic {
                    cond.tests
                        .iter()
                        .map(|t| self.expr(&t.rhs, &bindings))
                        .collect::<Result<_, _>>()?
                } else {
                    Vec::new()
                };
                let passes = |c: &EClaim<'a>| {
                    cond.tests
                        .iter()
                        .enumerate()
                        .all(|(i, t)| match (&t.rhs, rhs.get(i)) {
                            (_, Some(r)) => self.holds(c, t, r),
                            (Expr::Lit(l), None) => holds_one(c, t, &lit_scalar(l)),
                            _ => false,
                        })
                };
                match cond.binding {
                    Some(slot) => {
                        let found: Vec<usize> = self
                            .claims
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| passes(c))
                            .map(|(i, _)| i)
                            .collect();
                        if found.is_empty() {
                            continue 'alternatives;
                        }
                        if let Some(b) = bindings.get_mut(slot) {
                            *b = found;
                        }
                    }
                    None => {
                        if self.claims.iter().any(passes) == cond.negated {
                            continue 'alternatives;
                        }
                    }
                }
            }
            return Ok(Some(bindings));
        }
        Ok(None)
    }

    fn expr(&self, e: &'a Expr, bindings: &[Vec<usize>]) -> Result<Val<'a>, PolicyError> {
        match e {
            Expr::Lit(l) => Ok(Val::one(lit_scalar(l), false)),
            Expr::Ref { slot, prop } => {
                let idx = bindings.get(*slot).map(Vec::as_slice).unwrap_or(&[]);
                let mut read_only = false;
                let mut values: Vec<Scalar<'a>> = Vec::with_capacity(idx.len());
                for &i in idx {
                    let Some(c) = self.claims.get(i) else {
                        continue;
                    };
                    read_only |= c.read_only;
                    values.push(match prop {
                        Prop::Value => c.value.clone(),
                        Prop::Type => Scalar::Str(c.ty.clone()),
                        Prop::Issuer => Scalar::Str(Cow::Borrowed(c.issuer.name())),
                        Prop::ValueType => Scalar::Str(Cow::Borrowed(c.value.type_name())),
                    });
                }
                let shape = match values.len() {
                    0 => Shape::Empty,
                    1 => Shape::One(values.pop().unwrap_or(Scalar::Bool(false))),
                    _ => Shape::Set(values),
                };
                Ok(Val { shape, read_only })
            }
            Expr::Call {
                func,
                args,
                query,
                pos,
            } => {
                self.deadline.check()?;
                let vals: Vec<Val<'a>> = args
                    .iter()
                    .map(|a| self.expr(a, bindings))
                    .collect::<Result<_, _>>()?;
                functions::call(*func, &vals, query.as_deref(), *pos)
            }
        }
    }

    fn rule(&mut self, rule: &'a Rule) -> Result<Verdict, PolicyError> {
        self.deadline.check()?;
        let Some(bindings) = self.matches(rule)? else {
            return Ok(Verdict::Continue);
        };
        match &rule.action {
            Action::Permit => self.permitted = true,
            Action::Deny => return Ok(Verdict::Deny),
            Action::Claim { kind, spec, pos } => {
                let new = self.new_claims(spec, &bindings, *pos)?;
                for (ty, value, read_only) in new {
                    if *kind != ActionKind::IssueProperty && reserved::is_reserved_output_claim(&ty)
                    {
                        return Err(PolicyError::eval(
                            reserved::output_message(kind.name(), &ty),
                            Some(*pos),
                        ));
                    }
                    if self.claims.len() >= self.max_claims {
                        return Err(PolicyError::eval(
                            format!(
                                "{}: the claim set would exceed {} claims (MAX_CLAIMS)",
                                kind.name(),
                                self.max_claims
                            ),
                            Some(*pos),
                        ));
                    }
                    if let Scalar::Str(v) = &value {
                        self.created_bytes = self.created_bytes.saturating_add(v.len() + ty.len());
                    }
                    if self.created_bytes > MAX_CREATED_BYTES {
                        return Err(PolicyError::eval(
                            format!(
                                "{}: the claims created by the policy exceed {MAX_CREATED_BYTES} bytes (MAX_CREATED_BYTES)",
                                kind.name()
                            ),
                            Some(*pos),
                        ));
                    }
                    if read_only && *kind != ActionKind::Add {
                        return Err(PolicyError::eval(
                            format!(
                                "{}: the value of claim '{ty}' derives from a read-only claim ({}) and cannot leave the policy; test it instead",
                                kind.name(),
                                READ_ONLY_CLAIMS.join(", ")
                            ),
                            Some(*pos),
                        ));
                    }
                    match kind {
                        ActionKind::Add => {}
                        ActionKind::Issue => self.outgoing.push((ty.clone(), value.clone())),
                        ActionKind::IssueProperty => {
                            check_property(&ty, &value, *pos)?;
                            self.properties.push((ty.clone(), value.clone()));
                        }
                    }
                    self.claims.push(EClaim {
                        ty,
                        value,
                        issuer: Issuer::AttestationPolicy,
                        read_only,
                    });
                }
            }
        }
        Ok(Verdict::Continue)
    }

    #[allow(clippy::type_complexity)]
    fn new_claims(
        &self,
        spec: &'a ClaimSpec,
        bindings: &[Vec<usize>],
        pos: Pos,
    ) -> Result<Vec<(Cow<'a, str>, Scalar<'a>, bool)>, PolicyError> {
        match spec {
            ClaimSpec::Copy(slot) => Ok(bindings
                .get(*slot)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter_map(|&i| self.claims.get(i))
                .map(|c| (c.ty.clone(), c.value.clone(), c.read_only))
                .collect()),
            ClaimSpec::New {
                ty,
                value,
                value_type,
            } => {
                let tyv = self.expr(ty, bindings)?;
                let ty_name = match &tyv.shape {
                    Shape::One(Scalar::Str(s)) if !s.is_empty() => s.clone(),
                    _ => {
                        return Err(PolicyError::eval(
                            format!(
                                "the claim type must be a non-empty String, found {}",
                                tyv.describe()
                            ),
                            Some(pos),
                        ));
                    }
                };
                let v = self.expr(value, bindings)?;
                let target = match value_type {
                    None => None,
                    Some(e) => {
                        let t = self.expr(e, bindings)?;
                        match &t.shape {
                            Shape::One(Scalar::Str(s)) if s.eq_ignore_ascii_case("string") => {
                                Some("String")
                            }
                            Shape::One(Scalar::Str(s)) if s.eq_ignore_ascii_case("integer") => {
                                Some("Integer")
                            }
                            Shape::One(Scalar::Str(s)) if s.eq_ignore_ascii_case("boolean") => {
                                Some("Boolean")
                            }
                            _ => {
                                return Err(PolicyError::eval(
                                    format!(
                                        "valueType must be String, Integer or Boolean, found {}",
                                        t.describe()
                                    ),
                                    Some(pos),
                                ));
                            }
                        }
                    }
                };
                let read_only = tyv.read_only || v.read_only;
                v.elements()
                    .iter()
                    .map(|s| {
                        let s = match target {
                            None => s.clone(),
                            Some(t) => convert(s, t, &ty_name, pos)?,
                        };
                        Ok((ty_name.clone(), s, read_only))
                    })
                    .collect()
            }
        }
    }
}

/// `valueType` conversion of an action's value.
fn convert<'a>(
    s: &Scalar<'a>,
    target: &str,
    ty: &str,
    pos: Pos,
) -> Result<Scalar<'a>, PolicyError> {
    let bad = || {
        PolicyError::eval(
            format!(
                "claim '{ty}': the {} value {} cannot be given valueType {target}",
                s.type_name(),
                s.to_json()
            ),
            Some(pos),
        )
    };
    match (target, s) {
        ("String", Scalar::Str(_)) | ("Integer", Scalar::Int(_)) | ("Boolean", Scalar::Bool(_)) => {
            Ok(s.clone())
        }
        ("String", Scalar::Int(i)) => Ok(Scalar::Str(Cow::Owned(i.to_string()))),
        ("String", Scalar::Bool(b)) => Ok(Scalar::Str(Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        }))),
        ("Integer", Scalar::Str(t)) => t.trim().parse::<i64>().map(Scalar::Int).map_err(|_| bad()),
        ("Boolean", Scalar::Str(t)) if t.eq_ignore_ascii_case("true") => Ok(Scalar::Bool(true)),
        ("Boolean", Scalar::Str(t)) if t.eq_ignore_ascii_case("false") => Ok(Scalar::Bool(false)),
        _ => Err(bad()),
    }
}

fn check_property(name: &str, value: &Scalar<'_>, pos: Pos) -> Result<(), PolicyError> {
    let Some(expected) = crate::property_type(name) else {
        return Err(PolicyError::eval(
            format!(
                "issueproperty: unknown property claim '{name}'; known: {}",
                crate::KNOWN_PROPERTIES.join(", ")
            ),
            Some(pos),
        ));
    };
    if value.type_name() != expected {
        return Err(PolicyError::eval(
            format!(
                "issueproperty: property claim '{name}' takes a {expected} value, found {}",
                value.type_name()
            ),
            Some(pos),
        ));
    }
    Ok(())
}
