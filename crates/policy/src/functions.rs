//! The six functions of policy version 1.2 (reference §3.6) and the JMESPath runtime they use, which adds
//! MAA's non-standard `equals_ignore_case(a, b)` to the standard function set. JMESPath results are
//! returned as compact JSON text, as MAA does (a miss is the string `null`).

use std::borrow::Cow;
use std::sync::LazyLock;

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Rcvar, Runtime, Variable};

use crate::ast::{Func, Pos};
use crate::error::PolicyError;
use crate::limits::{MAX_CREATED_BYTES, MAX_JMESPATH_RESULT_BYTES};
use crate::value::{Scalar, Shape, Val};

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut rt = Runtime::new();
    rt.register_builtin_functions();
    rt.register_function(
        "equals_ignore_case",
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any, ArgumentType::Any], None),
            Box::new(|args: &[Rcvar], _ctx: &mut jmespath::Context<'_>| {
                // Non-strings (a missing member is null) compare unequal rather than failing the whole
                // query: the ELAM samples apply it to events that may lack EVENT_FILEPATH.
                let equal = match (
                    args.first().and_then(|a| a.as_string()),
                    args.get(1).and_then(|b| b.as_string()),
                ) {
                    (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
                    _ => false,
                };
                Ok(Rcvar::new(Variable::Bool(equal)))
            }),
        )),
    );
    rt
});

/// Compiles a JMESPath query with the MAA runtime; the message names the problem for a parse error.
pub(crate) fn compile_jmespath(query: &str) -> Result<jmespath::Expression<'static>, String> {
    if query.is_empty() {
        return Err("the JmesPath query must not be empty".to_string());
    }
    // The jmespath parser recurses per nesting level: bound the text first (issue 13).
    crate::limits::prescan_jmespath(query)?;
    RUNTIME.compile(query).map_err(|e| {
        format!(
            "invalid JMESPath query '{query}': {}",
            first_line(&e.to_string())
        )
    })
}

/// jmespath errors end with a source excerpt and a caret on further lines; messages keep the first line.
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

fn fail(func: Func, pos: Pos, msg: impl AsRef<str>) -> PolicyError {
    PolicyError::eval(format!("{}: {}", func.name(), msg.as_ref()), Some(pos))
}

fn single<'v, 'a>(
    func: Func,
    pos: Pos,
    arg: &'v Val<'a>,
    n: usize,
) -> Result<&'v Scalar<'a>, PolicyError> {
    match &arg.shape {
        Shape::One(s) => Ok(s),
        _ => Err(fail(
            func,
            pos,
            format!(
                "argument {n} must be a single value, found {}",
                arg.describe()
            ),
        )),
    }
}

fn string<'v>(func: Func, pos: Pos, arg: &'v Val<'_>, n: usize) -> Result<&'v str, PolicyError> {
    match single(func, pos, arg, n)? {
        Scalar::Str(s) => Ok(s),
        other => Err(fail(
            func,
            pos,
            format!("argument {n} must be a String, found {}", other.type_name()),
        )),
    }
}

/// Runs a function over evaluated arguments (arity was checked at compile time).
pub(crate) fn call<'a>(
    func: Func,
    args: &[Val<'a>],
    query: Option<&jmespath::Expression<'static>>,
    pos: Pos,
) -> Result<Val<'a>, PolicyError> {
    let missing = || fail(func, pos, "missing argument");
    let a = args.first().ok_or_else(missing)?;
    match func {
        Func::JmesPath => {
            let b = args.get(1).ok_or_else(missing)?;
            let json = string(func, pos, a, 1)?;
            if json.is_empty() {
                return Err(fail(func, pos, "the JSON argument is empty"));
            }
            let compiled;
            let expr = match query {
                Some(q) => q,
                None => {
                    let q = string(func, pos, b, 2)?;
                    compiled = compile_jmespath(q).map_err(|m| fail(func, pos, m))?;
                    &compiled
                }
            };
            let data = Variable::from_json(json)
                .map_err(|e| fail(func, pos, format!("the first argument is not JSON: {e}")))?;
            let result = expr
                .search(data)
                .map_err(|e| fail(func, pos, first_line(&e.to_string())))?;
            let text = bounded_json(&result).map_err(|m| fail(func, pos, m))?;
            Ok(Val::one(
                Scalar::Str(Cow::Owned(text)),
                a.read_only || b.read_only,
            ))
        }
        Func::JsonToClaimValue => {
            let json = string(func, pos, a, 1)?;
            let parsed: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| fail(func, pos, format!("the argument is not JSON: {e}")))?;
            let shape = match parsed {
                serde_json::Value::Null => Shape::Empty,
                serde_json::Value::Array(items) => Shape::Set(
                    items
                        .into_iter()
                        .map(|v| json_scalar(func, pos, v, true))
                        .collect::<Result<_, _>>()?,
                ),
                other => Shape::One(json_scalar(func, pos, other, false)?),
            };
            Ok(Val {
                shape,
                read_only: a.read_only,
            })
        }
        Func::IsSubsetOf => {
            let b = args.get(1).ok_or_else(missing)?;
            let subset = a.elements().iter().all(|x| b.elements().contains(x));
            Ok(Val::one(Scalar::Bool(subset), false))
        }
        Func::AppendString => {
            let b = args.get(1).ok_or_else(missing)?;
            let (x, y) = (string(func, pos, a, 1)?, string(func, pos, b, 2)?);
            if x.len() + y.len() > MAX_CREATED_BYTES {
                return Err(fail(
                    func,
                    pos,
                    format!(
                        "the result would be longer than {MAX_CREATED_BYTES} bytes (MAX_CREATED_BYTES)"
                    ),
                ));
            }
            let joined = format!("{x}{y}");
            Ok(Val::one(
                Scalar::Str(Cow::Owned(joined)),
                a.read_only || b.read_only,
            ))
        }
        Func::NegateBool => match single(func, pos, a, 1)? {
            Scalar::Bool(v) => Ok(Val::one(Scalar::Bool(!v), a.read_only)),
            other => Err(fail(
                func,
                pos,
                format!("argument 1 must be a Boolean, found {}", other.type_name()),
            )),
        },
        Func::ContainsOnlyValue => {
            let b = args.get(1).ok_or_else(missing)?;
            let v = single(func, pos, b, 2)?;
            let set = a.elements();
            let only = !set.is_empty() && set.iter().all(|x| x == v);
            Ok(Val::one(Scalar::Bool(only), a.read_only || b.read_only))
        }
    }
}

/// `io::Write` sink that refuses to grow past `MAX_JMESPATH_RESULT_BYTES`.
struct BoundedBuf(Vec<u8>);

impl std::io::Write for BoundedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_JMESPATH_RESULT_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JMESPath result as compact JSON text, refused past `MAX_JMESPATH_RESULT_BYTES`: results share
/// sub-documents by reference, so a small query can describe a huge text.
fn bounded_json(v: &Variable) -> Result<String, String> {
    let mut buf = BoundedBuf(Vec::new());
    if serde_json::to_writer(&mut buf, v).is_err() {
        return Err(format!(
            "the result is larger than {MAX_JMESPATH_RESULT_BYTES} bytes (MAX_JMESPATH_RESULT_BYTES)"
        ));
    }
    String::from_utf8(buf.0).map_err(|_| "the result is not UTF-8".to_string())
}

fn json_scalar(
    func: Func,
    pos: Pos,
    v: serde_json::Value,
    in_array: bool,
) -> Result<Scalar<'static>, PolicyError> {
    match v {
        serde_json::Value::Bool(b) => Ok(Scalar::Bool(b)),
        serde_json::Value::String(s) => Ok(Scalar::Str(Cow::Owned(s))),
        serde_json::Value::Number(n) => n.as_i64().map(Scalar::Int).ok_or_else(|| {
            fail(
                func,
                pos,
                format!("the number {n} is not a 64-bit integer (fractions are not claim values)"),
            )
        }),
        // A top-level null is the empty value and never reaches here.
        serde_json::Value::Null => Err(fail(func, pos, "an array element is null")),
        serde_json::Value::Array(_) if in_array => {
            Err(fail(func, pos, "nested arrays are not claim values"))
        }
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(fail(
            func,
            pos,
            "a JSON object is not a claim value; select a member with JmesPath first",
        )),
    }
}
