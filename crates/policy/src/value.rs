//! Runtime values of the evaluator: scalars (what a claim holds), sets (what an identifier bound to several
//! claims, or `JsonToClaimValue` of an array, yields) and the empty value (`JsonToClaimValue("null")`),
//! each flagged read-only when derived from a read-only claim (reference §3.6).

use std::borrow::Cow;

/// A claim value during evaluation; borrows from the policy or the incoming claims where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
}

impl Scalar<'_> {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "String",
            Scalar::Int(_) => "Integer",
            Scalar::Bool(_) => "Boolean",
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Scalar::Str(s) => serde_json::Value::String(s.to_string()),
            Scalar::Int(i) => serde_json::Value::from(*i),
            Scalar::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape<'a> {
    One(Scalar<'a>),
    /// Two or more values (or any number, from a JSON array), in order, duplicates kept.
    Set(Vec<Scalar<'a>>),
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Val<'a> {
    pub(crate) shape: Shape<'a>,
    pub(crate) read_only: bool,
}

impl<'a> Val<'a> {
    pub(crate) fn one(s: Scalar<'a>, read_only: bool) -> Self {
        Val {
            shape: Shape::One(s),
            read_only,
        }
    }

    /// The values as a set: a scalar is a one-element set, the empty value the empty set.
    pub(crate) fn elements(&self) -> &[Scalar<'a>] {
        match &self.shape {
            Shape::One(s) => std::slice::from_ref(s),
            Shape::Set(v) => v,
            Shape::Empty => &[],
        }
    }

    pub(crate) fn describe(&self) -> String {
        match &self.shape {
            Shape::One(s) => format!("a {}", s.type_name()),
            Shape::Set(v) => format!("a set of {} values", v.len()),
            Shape::Empty => "an empty value".to_string(),
        }
    }
}
