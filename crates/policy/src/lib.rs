//! Attesta's policy engine: the MAA claim-rule language (parser, checker, evaluator) and a Rego adapter.
//!
//! A policy turns the incoming claims (from verified evidence, issuer `AttestationService`, and from the
//! attester, issuer `CustomClaim`) into a verdict, the claims to put in the token and the property claims
//! that configure the engine and token. Compile once when a policy is set ([`compile`]); evaluate per
//! attestation ([`CompiledPolicy::evaluate`]) — evaluation never re-parses.
//!
//! ```
//! use attesta_policy::{compile, Claim, ClaimValue, Issuer};
//!
//! let policy = compile(attesta_policy::defaults::default_policy("SgxEnclave").unwrap()).unwrap();
//! let incoming = vec![Claim {
//!     claim_type: "x-ms-sgx-mrsigner".into(),
//!     value: ClaimValue::String("2c1a".into()),
//!     issuer: Issuer::AttestationService,
//! }];
//! let out = policy.evaluate(&incoming).unwrap();
//! assert_eq!(out.outgoing["sgx-mrsigner"], "2c1a");
//! assert_eq!(out.properties["x-ms-sgx-tcbidentifier"], "azuredefault");
//! ```
//!
//! # Language detection
//! [`compile`] treats the text as **Rego** when, after leading whitespace, a byte-order mark, and `#` or
//! `//` line comments, it starts with the word `package` followed by whitespace; otherwise it is an MAA
//! policy (which must start with `version=`).
//!
//! # The MAA language (reference §3)
//! `version=1.x;` then up to three sections (`configurationrules` from 1.1, `authorizationrules`,
//! `issuancerules`) in any order, each run in that canonical order. Keywords, section, action, property
//! and function names are case-insensitive; identifiers and claim types are case-sensitive. `//` starts a
//! comment. Strings take `\"` and `\\` escapes; any other backslash pair is kept as written (so embedded
//! JSON escapes survive). Integers are decimal (optionally negative) or hexadecimal `0x…` (accepted
//! because the docs write a default as `0xFFFFFF`); `true`/`false`.
//! Parse-time checks, tolerated forms and runtime semantics are documented in the `parser` and `eval`
//! modules; the main decisions:
//! * `||` between conditions is an Attesta extension (MAA has only `&&`); `&&` binds tighter.
//! * `=` is accepted for `==` inside conditions; `issue("Name", value=…)` is `issue(type="Name", …)`.
//! * Values of different types never compare equal or unequal: the test is false.
//! * A type issued several times becomes an array of its distinct values; a property keeps its last value.
//! * Configuration rules (1.1+), functions and `!` (1.2) are refused, with line and column, in older versions.
//! * Unknown property names in `issueproperty` with a literal type fail at compile time.
//! * Legacy dialect (reference §3.12): any identifier name binds (`F1:`, `C2:`); a condition without an
//!   `issuer` test matches claims of every issuer, and attester claims take the legacy default issuer
//!   `CustomClaim` ([`incoming_claims`]); `$`-prefixed claim names are ordinary strings here (mapping
//!   them is the server's concern).
//!
//! # Reserved claim names ([`reserved`])
//! The token carries the service's claims and, at top level, the policy's issued claims, so a policy may
//! not produce a name the service owns ([`is_reserved_output_claim`]): JWT registered claims (`iss`,
//! `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `cnf`, `nonce`, plus `jwk`/`x5c`), every `x-ms-`,
//! `x-attesta-` and `tdx_` name (ASCII case-insensitive), `$`-prefixed legacy names, the legacy names the
//! service emits (`maa-ehd`, `aas-ehd`, `maa-attestationcollateral`, `maa-policyhash`, `ver`,
//! `policy_hash`, `policy_signer`, `rp_data`) and the non-prefixed evidence claims copied into TDX and
//! AzureGuest tokens (`eat_profile`, `dbgstat`, `intuse`, `attester_tcb_status`, `secureboot`).
//! * MAA: `issue(…)` **and** `add(…)` of such a literal type is a `PolicyParsingError` at the type's
//!   line:column (`add` too: an added claim with a service name would satisfy a later condition written
//!   without `issuer ==`); a type known only at evaluation (`issue(claim=c)`, `type=c.value`) is a
//!   `PolicyEvaluationError` naming the claim.
//! * Rego (and MAA again, defence in depth): [`CompiledPolicy::evaluate`] refuses outgoing claims with a
//!   reserved name ([`check_outgoing`], also public for the token assembler).
//! * Allowed on purpose: `is-debuggable`, `sgx-mrsigner`, `sgx-mrenclave`, `product-id`, `svn`, `tee`
//!   (MAA's own SGX default policy issues them; the service does not emit them) and TPM evidence names
//!   such as `secureBootEnabled` (TPM tokens carry only what the policy issues).
//! * Attester claims (`CustomClaim`) may not take a reserved output name nor any evidence claim name the
//!   service produces ([`is_reserved_custom_claim`]; `aikValidated`, `pcrs`, …):
//!   [`incoming_claims_checked`] refuses them with code [`RESERVED_CLAIM_NAME`] (`"ReservedClaimName"`);
//!   [`incoming_claims`] leaves them out.
//!
//! # Bounds ([`limits`])
//! Every input is bounded and reaching a bound is a `PolicyError` naming it (`… (MAX_RULES)`), never a
//! panic or a stack overflow: policy text [`MAX_POLICY_BYTES`]; MAA function-call nesting
//! [`MAX_NESTING_DEPTH`], [`MAX_RULES`], [`MAX_CONDITIONS_PER_RULE`]; JMESPath queries
//! [`MAX_JMESPATH_BYTES`] and [`MAX_JMESPATH_DEPTH`] (pre-scanned before the recursive `jmespath` parser,
//! also for queries taken from claims), results [`MAX_JMESPATH_RESULT_BYTES`]; Rego bracket nesting
//! [`MAX_REGO_NESTING_DEPTH`] (pre-scanned: regorus parses nesting in exponential time) and
//! `numbers.range`/`numbers.range_step` sizes [`MAX_REGO_RANGE_ELEMENTS`]; claims per evaluation
//! [`MAX_CLAIMS`], created string bytes [`MAX_CREATED_BYTES`], JSON claim nesting
//! [`MAX_CLAIM_JSON_DEPTH`]; and a wall-clock budget per evaluation ([`Limits::evaluation_budget`],
//! default [`DEFAULT_EVALUATION_BUDGET`]) — "policy evaluation exceeded its time budget of N ms".
//! [`compile_with_limits`] and [`CompiledPolicy::evaluate_with_limits`] take explicit [`Limits`];
//! [`compile`] and [`CompiledPolicy::evaluate`] use the defaults. The budget is cooperative (checked
//! between MAA rules, conditions and calls; by regorus' execution timer in Rego); one JMESPath search
//! cannot be interrupted, so a server should run evaluations on a bounded blocking pool with its own
//! deadline as well.
//!
//! # Rego
//! With the default cargo feature `rego`, a Rego (v1) policy is run by `regorus`. The input document is
//! `{"claims": {TYPE: VALUE}}` (a repeated type maps to an array). The policy must define `allow`; it
//! may define `claims` (issued into the token) and `properties` (property claims). Worked example —
//! `crates/policy/examples/sgx.rego` holds the same policy and a test runs it:
//!
//! ```
//! # #[cfg(feature = "rego")] {
//! use attesta_policy::{compile, incoming_claims, PolicyLanguage};
//!
//! let policy = compile(r#"
//! package attesta.sgx
//!
//! default allow := false
//! allow if {
//!     input.claims["x-ms-sgx-is-debuggable"] == false
//!     input.claims["x-ms-sgx-svn"] >= 1
//! }
//! claims := {"sgx-mrsigner": input.claims["x-ms-sgx-mrsigner"], "tee": "sgx"}
//! "#).unwrap();
//! assert_eq!(policy.language(), PolicyLanguage::Rego);
//!
//! let service = serde_json::json!({
//!     "x-ms-sgx-is-debuggable": false, "x-ms-sgx-svn": 1, "x-ms-sgx-mrsigner": "2c1a"
//! });
//! let claims = incoming_claims(service.as_object().unwrap(), &serde_json::Map::new());
//! let out = policy.evaluate(&claims).unwrap();
//! assert_eq!(out.outgoing["sgx-mrsigner"], "2c1a");
//! # }
//! ```

mod ast;
pub mod defaults;
mod error;
mod eval;
mod functions;
mod lexer;
pub mod limits;
mod parser;
#[cfg(feature = "rego")]
mod rego;
pub mod reserved;
mod value;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

pub use error::{POLICY_EVALUATION_ERROR, POLICY_PARSING_ERROR, PolicyError};
pub use limits::{
    DEFAULT_EVALUATION_BUDGET, Limits, MAX_CLAIM_JSON_DEPTH, MAX_CLAIMS, MAX_CONDITIONS_PER_RULE,
    MAX_CREATED_BYTES, MAX_JMESPATH_BYTES, MAX_JMESPATH_DEPTH, MAX_JMESPATH_OPERATORS,
    MAX_JMESPATH_RESULT_BYTES, MAX_NESTING_DEPTH, MAX_POLICY_BYTES, MAX_REGO_NESTING_DEPTH,
    MAX_REGO_RANGE_ELEMENTS, MAX_RULES,
};
pub use reserved::{
    RESERVED_CLAIM_NAME, check_outgoing, is_reserved_custom_claim, is_reserved_output_claim,
};

/// The value of a claim. Structured evidence (JSON objects and arrays) is carried as a `String` holding
/// compact JSON text, as MAA does; set semantics for identifiers bound to several claims live in the
/// evaluator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    String(String),
    Integer(i64),
    Boolean(bool),
}

/// Who produced a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Issuer {
    /// Produced by the service from verified evidence.
    AttestationService,
    /// Produced by the policy (`add`, `issue`, `issueproperty`).
    AttestationPolicy,
    /// Supplied by the attester (e.g. TPM custom claims); the legacy default issuer.
    CustomClaim,
}

impl Issuer {
    /// The name policies use (`issuer=="AttestationService"`).
    pub fn name(self) -> &'static str {
        match self {
            Issuer::AttestationService => "AttestationService",
            Issuer::AttestationPolicy => "AttestationPolicy",
            Issuer::CustomClaim => "CustomClaim",
        }
    }

    /// Parses an issuer name (exact spelling).
    pub fn from_name(name: &str) -> Option<Issuer> {
        [
            Issuer::AttestationService,
            Issuer::AttestationPolicy,
            Issuer::CustomClaim,
        ]
        .into_iter()
        .find(|i| i.name() == name)
    }
}

/// One incoming claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub claim_type: String,
    pub value: ClaimValue,
    pub issuer: Issuer,
}

/// Claims from the service that policies may test but never issue (reference §3.6: "read-only claims
/// (e.g. `pcrs`)"); values derived from them stay read-only, except `IsSubsetOf` results.
pub const READ_ONLY_CLAIMS: &[&str] = &["pcrs"];

/// Property claims `issueproperty` may set (reference §3.8).
pub const KNOWN_PROPERTIES: &[&str] = &[
    "require_valid_aik_cert",
    "required_pcr_mask",
    "x-ms-sgx-tcbidentifier",
    "report_validity_in_minutes",
    "omit_x5c",
];

/// The value type a known property claim takes ("Boolean", "Integer" or "String").
pub fn property_type(name: &str) -> Option<&'static str> {
    match name {
        "require_valid_aik_cert" | "omit_x5c" => Some("Boolean"),
        "required_pcr_mask" | "report_validity_in_minutes" => Some("Integer"),
        "x-ms-sgx-tcbidentifier" => Some("String"),
        _ => None,
    }
}

/// Converts one JSON claim; `Ok(None)` for `null`. Objects and arrays deeper than
/// [`MAX_CLAIM_JSON_DEPTH`] are refused before they are serialised.
fn json_claim_checked(
    claim_type: &str,
    v: &Value,
    issuer: Issuer,
) -> Result<Option<Claim>, PolicyError> {
    if limits::json_depth_exceeds(v, MAX_CLAIM_JSON_DEPTH) {
        return Err(PolicyError::eval(
            format!(
                "claim '{claim_type}' nests JSON more than {MAX_CLAIM_JSON_DEPTH} deep (MAX_CLAIM_JSON_DEPTH)"
            ),
            None,
        ));
    }
    Ok(json_claim(claim_type, v, issuer))
}

fn json_claim(claim_type: &str, v: &Value, issuer: Issuer) -> Option<Claim> {
    let value = match v {
        Value::Null => return None,
        Value::Bool(b) => ClaimValue::Boolean(*b),
        Value::String(s) => ClaimValue::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ClaimValue::Integer(i),
            // Fractions and integers beyond i64 keep their JSON text.
            None => ClaimValue::String(n.to_string()),
        },
        Value::Array(_) | Value::Object(_) => ClaimValue::String(v.to_string()),
    };
    Some(Claim {
        claim_type: claim_type.to_string(),
        value,
        issuer,
    })
}

/// Builds the incoming claim set from JSON maps: strings → String, integers → Integer, booleans →
/// Boolean, objects and arrays → String holding compact JSON text, numbers that are not 64-bit integers
/// → String holding their JSON text, `null` → skipped. `service` claims get issuer `AttestationService`,
/// `custom` claims `CustomClaim`; service claims come first.
///
/// Infallible for compatibility: what [`incoming_claims_checked`] refuses is left out here (a custom
/// claim with a reserved name, a value nesting JSON deeper than [`MAX_CLAIM_JSON_DEPTH`]), so it can
/// neither impersonate a service claim nor exhaust the stack. New callers should use the checked form,
/// which reports the refusal to the attester.
pub fn incoming_claims(service: &Map<String, Value>, custom: &Map<String, Value>) -> Vec<Claim> {
    service
        .iter()
        .filter_map(|(k, v)| {
            json_claim_checked(k, v, Issuer::AttestationService)
                .ok()
                .flatten()
        })
        .chain(custom.iter().filter_map(|(k, v)| {
            reserved::check_custom(k).ok()?;
            json_claim_checked(k, v, Issuer::CustomClaim).ok().flatten()
        }))
        .collect()
}

/// [`incoming_claims`], refusing instead of leaving out: a custom claim whose name is reserved
/// ([`is_reserved_custom_claim`]) is an error with code [`RESERVED_CLAIM_NAME`] naming it; a value nesting
/// JSON deeper than [`MAX_CLAIM_JSON_DEPTH`], or more than [`MAX_CLAIMS`] claims in all, is a
/// `PolicyEvaluationError` naming the bound.
pub fn incoming_claims_checked(
    service: &Map<String, Value>,
    custom: &Map<String, Value>,
) -> Result<Vec<Claim>, PolicyError> {
    let total = service.len().saturating_add(custom.len());
    if total > MAX_CLAIMS {
        return Err(PolicyError::eval(
            format!("{total} incoming claims; the bound is {MAX_CLAIMS} (MAX_CLAIMS)"),
            None,
        ));
    }
    let mut out = Vec::with_capacity(total);
    for (k, v) in service {
        out.extend(json_claim_checked(k, v, Issuer::AttestationService)?);
    }
    for (k, v) in custom {
        reserved::check_custom(k)?;
        out.extend(json_claim_checked(k, v, Issuer::CustomClaim)?);
    }
    Ok(out)
}

/// Which language a compiled policy is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLanguage {
    Maa,
    Rego,
}

#[derive(Debug)]
enum Inner {
    Maa(ast::Policy),
    #[cfg(feature = "rego")]
    Rego(Box<rego::RegoPolicy>),
}

/// A compiled policy: cheap to clone and to share between threads.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    inner: Arc<Inner>,
}

/// The outcome of a permitted evaluation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Issued claims, for the top level of the token body. A type issued several times maps to an array
    /// of its distinct values in issuance order.
    pub outgoing: Map<String, Value>,
    /// Property claims (configuration and `issueproperty`), last value wins.
    pub properties: Map<String, Value>,
}

/// True when the text is a Rego module (see the crate docs for the rule).
pub fn is_rego(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if rest.starts_with('#') || rest.starts_with("//") {
            rest = rest.split_once('\n').map(|(_, r)| r).unwrap_or("");
            continue;
        }
        break;
    }
    rest.strip_prefix("package")
        .is_some_and(|r| r.starts_with(|c: char| c.is_whitespace()))
}

/// Compiles a policy: MAA text, or Rego when [`is_rego`] says so, under the default [`Limits`].
pub fn compile(text: &str) -> Result<CompiledPolicy, PolicyError> {
    compile_with_limits(text, &Limits::default())
}

/// [`compile`] under explicit limits. Compilation is synchronous and bounded by the pre-scans and the
/// size bound (no wall-clock budget is needed: a text within the bounds compiles in milliseconds).
pub fn compile_with_limits(text: &str, limits: &Limits) -> Result<CompiledPolicy, PolicyError> {
    limits::check_policy_size(text, limits)?;
    let inner = if is_rego(text) {
        #[cfg(feature = "rego")]
        {
            Inner::Rego(Box::new(rego::RegoPolicy::compile(text)?))
        }
        #[cfg(not(feature = "rego"))]
        {
            return Err(PolicyError {
                code: POLICY_PARSING_ERROR,
                message:
                    "Rego policies are not supported by this build (cargo feature `rego` is off)"
                        .to_string(),
                line: Some(1),
                column: Some(1),
            });
        }
    } else {
        Inner::Maa(parser::parse(text)?)
    };
    Ok(CompiledPolicy {
        inner: Arc::new(inner),
    })
}

/// Same as [`compile`]; the name the CLI's `policy check` uses.
pub fn check(text: &str) -> Result<CompiledPolicy, PolicyError> {
    compile(text)
}

impl CompiledPolicy {
    pub fn language(&self) -> PolicyLanguage {
        match &*self.inner {
            Inner::Maa(_) => PolicyLanguage::Maa,
            #[cfg(feature = "rego")]
            Inner::Rego(_) => PolicyLanguage::Rego,
        }
    }

    /// `"1.0"`, `"1.1"` or `"1.2"` for MAA policies; `None` for Rego.
    pub fn version(&self) -> Option<&str> {
        match &*self.inner {
            Inner::Maa(p) => Some(p.version.as_str()),
            #[cfg(feature = "rego")]
            Inner::Rego(_) => None,
        }
    }

    fn run(&self, incoming: &[Claim], limits: &Limits) -> Result<eval::Run, PolicyError> {
        match &*self.inner {
            Inner::Maa(p) => eval::run(p, incoming, limits),
            #[cfg(feature = "rego")]
            Inner::Rego(r) => {
                let max = limits.claims();
                if incoming.len() > max {
                    return Err(PolicyError::eval(
                        format!(
                            "the evaluation has {} incoming claims; the bound is {max} (MAX_CLAIMS)",
                            incoming.len()
                        ),
                        None,
                    ));
                }
                r.run(incoming, &limits::Deadline::new(limits.evaluation_budget))
            }
        }
    }

    /// Whether evaluating this policy can observe incoming claims of type
    /// `claim_type`, so a caller may skip building costly claims no rule
    /// reads (a TPM log's `events`). An MAA condition that tests `type ==`
    /// a literal matches only claims of that type; any other condition (no
    /// type test, `!=`, a type taken from another claim) may match every
    /// claim, and so does everything in a Rego policy. Leaving out a claim
    /// this says is unread cannot change the evaluation.
    pub fn may_read_claim(&self, claim_type: &str) -> bool {
        match &*self.inner {
            Inner::Maa(p) => p
                .configuration
                .iter()
                .chain(&p.authorization)
                .chain(&p.issuance)
                .flat_map(|r| r.alternatives.iter().flatten())
                .any(|c| {
                    let mut literal_types =
                        c.tests.iter().filter_map(|t| match (t.prop, t.op, &t.rhs) {
                            (ast::Prop::Type, ast::Op::Eq, ast::Expr::Lit(ast::Lit::Str(ty))) => {
                                Some(ty.as_str())
                            }
                            _ => None,
                        });
                    match literal_types.next() {
                        // Every literal type test must hold, so one that
                        // names another type means this condition never
                        // matches `claim_type`.
                        Some(first) => {
                            first == claim_type && literal_types.all(|t| t == claim_type)
                        }
                        None => true,
                    }
                }),
            #[cfg(feature = "rego")]
            Inner::Rego(_) => true,
        }
    }

    /// Runs only the configuration rules and returns the property claims they set (e.g.
    /// `x-ms-sgx-tcbidentifier`, `required_pcr_mask`), for settings the verifier needs before the
    /// evidence is checked. MAA: `configurationrules` only; Rego: the `properties` object. Empty when the
    /// policy sets none (the caller applies the defaults of reference §3.8).
    pub fn configuration_properties(
        &self,
        incoming: &[Claim],
    ) -> Result<Map<String, Value>, PolicyError> {
        self.configuration_properties_with_limits(incoming, &Limits::default())
    }

    /// [`Self::configuration_properties`] under explicit limits.
    pub fn configuration_properties_with_limits(
        &self,
        incoming: &[Claim],
        limits: &Limits,
    ) -> Result<Map<String, Value>, PolicyError> {
        match &*self.inner {
            Inner::Maa(p) => eval::configuration(p, incoming, limits),
            #[cfg(feature = "rego")]
            Inner::Rego(r) => {
                r.properties(incoming, &limits::Deadline::new(limits.evaluation_budget))
            }
        }
    }

    /// Runs the policy under the default [`Limits`]. A deny, or no permit, is a `PolicyEvaluationError`
    /// ("A Deny claim was issued, authorization failed."); so is a failing function, an outgoing claim
    /// with a reserved name ([`check_outgoing`]) and a bound reached.
    pub fn evaluate(&self, incoming: &[Claim]) -> Result<Evaluation, PolicyError> {
        self.evaluate_with_limits(incoming, &Limits::default())
    }

    /// [`Self::evaluate`] under explicit limits: synchronous, returning "policy evaluation exceeded its
    /// time budget of N ms" (`PolicyEvaluationError`) once `limits.evaluation_budget` is spent. The
    /// budget is cooperative (see [`limits`]); a server should still run evaluations on a bounded
    /// blocking pool with its own deadline.
    pub fn evaluate_with_limits(
        &self,
        incoming: &[Claim],
        limits: &Limits,
    ) -> Result<Evaluation, PolicyError> {
        let run = self.run(incoming, limits)?;
        if let Some(pos) = run.denied {
            return Err(PolicyError::eval(eval::DENY_MESSAGE, Some(pos)));
        }
        if !run.permitted {
            let message = match self.language() {
                PolicyLanguage::Maa => eval::NO_PERMIT_MESSAGE,
                PolicyLanguage::Rego => {
                    "The Rego policy's 'allow' is not true for the incoming claims, authorization failed."
                }
            };
            return Err(PolicyError::eval(message, None));
        }
        check_outgoing(&run.outgoing)?;
        Ok(Evaluation {
            outgoing: run.outgoing,
            properties: run.properties,
        })
    }
}

/// Runs a policy over claims given as JSON, for `attesta policy eval`. `claims_json` is either an object
/// `{TYPE: VALUE}` (all issuer `AttestationService`, converted as by [`incoming_claims`]) or an array of
/// `{"type", "value", "issuer"?}` objects (issuer defaults to `AttestationService`). Returns
/// `{"permit": bool, "claims": {…}, "properties": {…}}` plus `"reason"` when refused; only real policy
/// errors (and malformed `claims_json`) are `Err`.
pub fn eval_json(policy: &CompiledPolicy, claims_json: &Value) -> Result<Value, PolicyError> {
    let bad = |m: String| PolicyError::eval(m, None);
    let incoming = match claims_json {
        Value::Object(map) => incoming_claims_checked(map, &Map::new())?,
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ty = item.get("type").and_then(Value::as_str).ok_or_else(|| {
                    bad(format!(
                        "claims[{i}]: expected an object with a string 'type'"
                    ))
                })?;
                let issuer = match item.get("issuer") {
                    None | Some(Value::Null) => Issuer::AttestationService,
                    Some(v) => v.as_str().and_then(Issuer::from_name).ok_or_else(|| {
                        bad(format!(
                            "claims[{i}]: issuer must be AttestationService, AttestationPolicy or CustomClaim"
                        ))
                    })?,
                };
                if let Some(c) =
                    json_claim_checked(ty, item.get("value").unwrap_or(&Value::Null), issuer)?
                {
                    out.push(c);
                }
            }
            out
        }
        _ => {
            return Err(bad(
                "claims must be a JSON object {type: value} or an array of {type, value, issuer}"
                    .to_string(),
            ));
        }
    };
    let run = policy.run(&incoming, &Limits::default())?;
    let permit = run.denied.is_none() && run.permitted;
    if permit {
        check_outgoing(&run.outgoing)?;
    }
    let mut out = Map::new();
    out.insert("permit".into(), Value::Bool(permit));
    if permit {
        out.insert("claims".into(), Value::Object(run.outgoing));
        out.insert("properties".into(), Value::Object(run.properties));
    } else {
        out.insert("claims".into(), Value::Object(Map::new()));
        out.insert("properties".into(), Value::Object(run.properties));
        let reason = if run.denied.is_some() {
            eval::DENY_MESSAGE
        } else {
            eval::NO_PERMIT_MESSAGE
        };
        out.insert("reason".into(), Value::String(reason.to_string()));
    }
    Ok(Value::Object(out))
}

/// `b64url(utf8(text))` without padding: the `AttestationPolicy` member of a stored policy.
pub fn stored_policy_b64(policy_text: &str) -> String {
    URL_SAFE_NO_PAD.encode(policy_text.as_bytes())
}

/// `x-ms-policy-hash`: `b64url(SHA-256(ascii(b64url(utf8(text)))))`, unpadded (reference §2.2, §3.11).
pub fn policy_hash(policy_text: &str) -> String {
    let stored = stored_policy_b64(policy_text);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, stored.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn compiled_policy_is_send_sync_clone() {
        assert_send_sync::<CompiledPolicy>();
    }

    #[cfg(not(feature = "rego"))]
    #[test]
    fn rego_refused_without_the_feature() {
        let e = compile("package a\nallow := true").unwrap_err();
        assert_eq!(e.code, POLICY_PARSING_ERROR);
        assert!(e.message.contains("cargo feature `rego`"), "{e}");
    }

    #[test]
    fn rego_detection_skips_comments_and_whitespace() {
        assert!(is_rego("package a\nallow := true"));
        assert!(is_rego("\u{feff}# header\n// other\n\n  package x.y\n"));
        assert!(!is_rego("version=1.0; authorizationrules{=> permit();};"));
        assert!(!is_rego("packaged"));
        assert!(!is_rego("// package x\nversion=1.0;"));
    }
}
