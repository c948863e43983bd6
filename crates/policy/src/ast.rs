//! The compiled form of an MAA policy: what the parser builds and the evaluator walks. Identifiers are
//! resolved to per-rule slots and JMESPath queries given as literals are compiled here, so evaluation never
//! looks at the policy text again.

use std::sync::Arc;

/// Policy language version from the `version=…;` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Version {
    V1_0,
    V1_1,
    V1_2,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

/// Which section a rule sits in; it decides which actions are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Configuration,
    Authorization,
    Issuance,
}

impl Section {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Configuration => "configurationrules",
            Section::Authorization => "authorizationrules",
            Section::Issuance => "issuancerules",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) version: Version,
    pub(crate) configuration: Vec<Rule>,
    pub(crate) authorization: Vec<Rule>,
    pub(crate) issuance: Vec<Rule>,
}

/// 1-based (line, column) of a construct, for evaluation errors.
pub(crate) type Pos = (usize, usize);

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Disjunction (`||`, an Attesta extension) of conjunctions (`&&`); one empty conjunction = "always".
    pub(crate) alternatives: Vec<Vec<Condition>>,
    pub(crate) action: Action,
    /// Number of identifier slots the rule binds.
    pub(crate) slots: usize,
    pub(crate) pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub(crate) negated: bool,
    pub(crate) binding: Option<usize>,
    pub(crate) tests: Vec<PropTest>,
    /// Some test compares with a reference or a function call (evaluated before the claims are scanned).
    pub(crate) dynamic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    Type,
    Value,
    Issuer,
    ValueType,
}

impl Prop {
    pub(crate) fn from_keyword(word: &str) -> Option<Prop> {
        if word.eq_ignore_ascii_case("type") {
            Some(Prop::Type)
        } else if word.eq_ignore_ascii_case("value") {
            Some(Prop::Value)
        } else if word.eq_ignore_ascii_case("issuer") {
            Some(Prop::Issuer)
        } else if word.eq_ignore_ascii_case("valuetype") {
            Some(Prop::ValueType)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    pub(crate) fn is_ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PropTest {
    pub(crate) prop: Prop,
    pub(crate) op: Op,
    pub(crate) rhs: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Lit {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Lit::Str(_) => "String",
            Lit::Int(_) => "Integer",
            Lit::Bool(_) => "Boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    JmesPath,
    JsonToClaimValue,
    IsSubsetOf,
    AppendString,
    NegateBool,
    ContainsOnlyValue,
}

impl Func {
    /// Function names are matched case-insensitively; `NegateBol` is the misspelling in one published sample.
    pub(crate) fn from_name(name: &str) -> Option<Func> {
        const TABLE: &[(&str, Func)] = &[
            ("JmesPath", Func::JmesPath),
            ("JsonToClaimValue", Func::JsonToClaimValue),
            ("IsSubsetOf", Func::IsSubsetOf),
            ("AppendString", Func::AppendString),
            ("NegateBool", Func::NegateBool),
            ("NegateBol", Func::NegateBool),
            ("ContainsOnlyValue", Func::ContainsOnlyValue),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::JmesPath => "JmesPath",
            Func::JsonToClaimValue => "JsonToClaimValue",
            Func::IsSubsetOf => "IsSubsetOf",
            Func::AppendString => "AppendString",
            Func::NegateBool => "NegateBool",
            Func::ContainsOnlyValue => "ContainsOnlyValue",
        }
    }

    pub(crate) fn arity(self) -> usize {
        match self {
            Func::JsonToClaimValue | Func::NegateBool => 1,
            _ => 2,
        }
    }
}

pub(crate) const FUNCTION_NAMES: &str =
    "JmesPath, JsonToClaimValue, IsSubsetOf, AppendString, NegateBool, ContainsOnlyValue";

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Lit(Lit),
    /// `IDENT.prop` of an identifier bound earlier in the rule.
    Ref {
        slot: usize,
        prop: Prop,
    },
    Call {
        func: Func,
        args: Vec<Expr>,
        /// The JMESPath query compiled at policy compile time when it is a literal.
        query: Option<Arc<jmespath::Expression<'static>>>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionKind {
    Add,
    Issue,
    IssueProperty,
}

impl ActionKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ActionKind::Add => "add",
            ActionKind::Issue => "issue",
            ActionKind::IssueProperty => "issueproperty",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum ClaimSpec {
    /// `claim=c`: copy every claim bound to the slot.
    Copy(usize),
    New {
        ty: Expr,
        value: Expr,
        value_type: Option<Expr>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    Permit,
    Deny,
    Claim {
        kind: ActionKind,
        spec: ClaimSpec,
        pos: Pos,
    },
}
