//! Hand-written recursive-descent parser for the MAA claim-rule language (reference §3.1–3.6), over the
//! `logos` tokens of `lexer.rs`. Hand-written because the language is small (about twenty productions) and
//! a hand parser gives MAA-style messages (`mismatched input '[' expecting ';' (policy > versionInfo)`)
//! with exact line and column, which generated parsers report only approximately (crates.md §3.4).
//!
//! Besides syntax it checks what can be known before any claim arrives: version gating
//! (configurationrules from 1.1, functions and `!` from 1.2), the actions each section allows,
//! identifiers used before they are bound, literal types against operators, issuer names, property
//! names of `issueproperty`, function names and arities, and JMESPath queries given as literals.
//!
//! Tolerated forms (documented decisions, reference §3.2 lists them as found in published samples):
//! `=` for `==` inside a condition; `issue("Name", value=…)` (a positional first argument is the type);
//! `NegateBol` for `NegateBool`; `||` between conditions (an Attesta extension: MAA has only `&&`);
//! hexadecimal (`0xFF`) and negative integers. Not tolerated: a missing `;` after a rule or section.
//!
//! Bounds (`limits.rs`): the only recursion is function-call nesting, counted against
//! `MAX_NESTING_DEPTH`; rules are bounded by `MAX_RULES`, conditions per rule by
//! `MAX_CONDITIONS_PER_RULE`; literal JMESPath queries are pre-scanned before the `jmespath` crate sees
//! them. `issue`/`add` of a literal type reserved for the service (`reserved.rs`) is refused here with the
//! position of the type; `add` too, because an added claim with a service name could satisfy a later
//! condition written without `issuer ==`.

use std::sync::Arc;

use crate::ast::*;
use crate::error::{LineIndex, PolicyError};
use crate::lexer::{Tok, Token, lex, unescape};
use crate::limits::{MAX_CONDITIONS_PER_RULE, MAX_NESTING_DEPTH as MAX_CALL_DEPTH, MAX_RULES};
use crate::{KNOWN_PROPERTIES, functions};

/// Parses and checks a whole MAA policy.
pub(crate) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let lines = LineIndex::new(text);
    let toks = lex(text, &lines)?;
    let mut p = Parser {
        text,
        lines: &lines,
        toks,
        at: 0,
        ctx: Vec::new(),
        version: Version::V1_0,
        section: Section::Authorization,
        slot_names: Vec::new(),
        depth: 0,
        rules: 0,
    };
    p.policy()
}

struct Parser<'t> {
    text: &'t str,
    lines: &'t LineIndex,
    toks: Vec<Token>,
    at: usize,
    /// Grammar-rule names for messages (`policy > issuanceRules > rule > action`).
    ctx: Vec<&'static str>,
    version: Version,
    section: Section,
    /// Identifier names of the rule being parsed; the index is the slot.
    slot_names: Vec<String>,
    /// Nesting of function calls: bounded so that parsing and evaluation cannot exhaust the stack.
    depth: usize,
    /// Rules parsed so far, over all sections (bounded by `MAX_RULES`).
    rules: usize,
}

type PResult<T> = Result<T, PolicyError>;

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<Token> {
        self.toks.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<Token> {
        self.toks.get(self.at + n).copied()
    }

    fn peek_is(&self, tok: Tok) -> bool {
        self.peek().is_some_and(|t| t.tok == tok)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.peek();
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn text_of(&self, t: Token) -> &'t str {
        self.text.get(t.start..t.end).unwrap_or("")
    }

    fn pos_of(&self, t: Option<Token>) -> Pos {
        let offset = t.map(|t| t.start).unwrap_or(self.text.len());
        self.lines.position(self.text, offset)
    }

    fn error_at(&self, t: Option<Token>, message: impl AsRef<str>) -> PolicyError {
        let (line, column) = self.pos_of(t);
        PolicyError::parse(
            format!("{} ({})", message.as_ref(), self.ctx.join(" > ")),
            line,
            column,
        )
    }

    fn mismatched(&self, expecting: &str) -> PolicyError {
        let t = self.peek();
        let input = match t {
            Some(t) => self.text_of(t).to_string(),
            None => "<EOF>".to_string(),
        };
        self.error_at(
            t,
            format!("mismatched input '{input}' expecting {expecting}"),
        )
    }

    fn expect(&mut self, tok: Tok) -> PResult<Token> {
        match self.peek() {
            Some(t) if t.tok == tok => {
                self.at += 1;
                Ok(t)
            }
            _ => Err(self.mismatched(tok.describe())),
        }
    }

    fn keyword_is(&self, t: Token, word: &str) -> bool {
        t.tok == Tok::Ident && self.text_of(t).eq_ignore_ascii_case(word)
    }

    fn require_version(&self, t: Option<Token>, what: &str, min: Version) -> PResult<()> {
        if self.version < min {
            return Err(self.error_at(
                t,
                format!(
                    "{what} requires policy version {} or later; this policy is version {}",
                    min.as_str(),
                    self.version.as_str()
                ),
            ));
        }
        Ok(())
    }

    fn policy(&mut self) -> PResult<Policy> {
        self.ctx.push("policy");
        self.version_info()?;
        let mut configuration = None;
        let mut authorization = None;
        let mut issuance = None;
        while let Some(t) = self.peek() {
            let section = if self.keyword_is(t, "configurationrules") {
                self.require_version(Some(t), "configurationrules", Version::V1_1)?;
                Section::Configuration
            } else if self.keyword_is(t, "authorizationrules") {
                Section::Authorization
            } else if self.keyword_is(t, "issuancerules") {
                Section::Issuance
            } else {
                return Err(self.mismatched(
                    "{'configurationrules', 'authorizationrules', 'issuancerules', <EOF>}",
                ));
            };
            let slot = match section {
                Section::Configuration => &configuration,
                Section::Authorization => &authorization,
                Section::Issuance => &issuance,
            };
            if slot.is_some() {
                return Err(
                    self.error_at(Some(t), format!("duplicate section '{}'", section.name()))
                );
            }
            self.bump();
            let rules = self.section(section)?;
            match section {
                Section::Configuration => configuration = Some(rules),
                Section::Authorization => authorization = Some(rules),
                Section::Issuance => issuance = Some(rules),
            }
        }
        self.ctx.pop();
        Ok(Policy {
            version: self.version,
            configuration: configuration.unwrap_or_default(),
            authorization: authorization.unwrap_or_default(),
            issuance: issuance.unwrap_or_default(),
        })
    }

    fn version_info(&mut self) -> PResult<()> {
        self.ctx.push("versionInfo");
        match self.peek() {
            Some(t) if self.keyword_is(t, "version") => {
                self.bump();
            }
            _ => return Err(self.mismatched("'version'")),
        }
        self.expect(Tok::Assign)?;
        let v = match self.peek() {
            Some(t) if matches!(t.tok, Tok::Decimal | Tok::Integer) => t,
            _ => return Err(self.mismatched("VERSION")),
        };
        self.version = match self.text_of(v) {
            "1.0" => Version::V1_0,
            "1.1" => Version::V1_1,
            "1.2" => Version::V1_2,
            other => {
                return Err(self.error_at(
                    Some(v),
                    format!("unsupported policy version '{other}'; supported: 1.0, 1.1, 1.2"),
                ));
            }
        };
        self.bump();
        self.expect(Tok::Semi)?;
        self.ctx.pop();
        Ok(())
    }

    fn section(&mut self, section: Section) -> PResult<Vec<Rule>> {
        self.section = section;
        self.ctx.push(match section {
            Section::Configuration => "configurationRules",
            Section::Authorization => "authorizationRules",
            Section::Issuance => "issuanceRules",
        });
        self.expect(Tok::LBrace)?;
        let mut rules = Vec::new();
        loop {
            match self.peek() {
                Some(t) if t.tok == Tok::RBrace => {
                    self.bump();
                    break;
                }
                None => return Err(self.mismatched("'}'")),
                Some(t) => {
                    self.rules += 1;
                    if self.rules > MAX_RULES {
                        return Err(self.error_at(
                            Some(t),
                            format!("the policy has more than {MAX_RULES} rules (MAX_RULES)"),
                        ));
                    }
                    rules.push(self.rule()?)
                }
            }
        }
        self.expect(Tok::Semi)?;
        self.ctx.pop();
        Ok(rules)
    }

    fn rule(&mut self) -> PResult<Rule> {
        self.ctx.push("rule");
        self.slot_names.clear();
        let pos = self.pos_of(self.peek());
        let mut alternatives = Vec::new();
        // Slots bound in every alternative: the only ones the action may use.
        let mut bound_all: Option<Vec<bool>> = None;
        if self.peek_is(Tok::Arrow) {
            alternatives.push(Vec::new());
            bound_all = Some(Vec::new());
        } else {
            self.ctx.push("conditions");
            let mut count = 0usize;
            loop {
                let mut bound = Vec::new();
                let mut conj = Vec::new();
                loop {
                    count += 1;
                    if count > MAX_CONDITIONS_PER_RULE {
                        return Err(self.error_at(
                            self.peek(),
                            format!(
                                "the rule has more than {MAX_CONDITIONS_PER_RULE} conditions (MAX_CONDITIONS_PER_RULE)"
                            ),
                        ));
                    }
                    conj.push(self.condition(&mut bound)?);
                    if !self.peek_is(Tok::AndAnd) {
                        break;
                    }
                    self.bump();
                }
                alternatives.push(conj);
                bound_all = Some(match bound_all {
                    None => bound,
                    Some(prev) => prev
                        .iter()
                        .enumerate()
                        .map(|(i, b)| *b && bound.get(i).copied().unwrap_or(false))
                        .collect(),
                });
                if self.peek_is(Tok::OrOr) {
                    self.bump();
                    continue;
                }
                break;
            }
            if !self.peek_is(Tok::Arrow) {
                return Err(self.mismatched("{'&&', '||', '=>'}"));
            }
            self.ctx.pop();
        }
        self.expect(Tok::Arrow)?;
        let bound_all = bound_all.unwrap_or_default();
        let action = self.action(&bound_all)?;
        self.expect(Tok::Semi)?;
        self.ctx.pop();
        Ok(Rule {
            alternatives,
            action,
            slots: self.slot_names.len(),
            pos,
        })
    }

    fn condition(&mut self, bound: &mut Vec<bool>) -> PResult<Condition> {
        self.ctx.push("condition");
        let mut negated = false;
        if let Some(t) = self.peek()
            && t.tok == Tok::Bang
        {
            self.require_version(Some(t), "the negated condition '!'", Version::V1_2)?;
            self.bump();
            negated = true;
        }
        let mut binding = None;
        if let (Some(id), Some(colon)) = (self.peek(), self.peek_at(1))
            && id.tok == Tok::Ident
            && colon.tok == Tok::Colon
        {
            if negated {
                return Err(self.error_at(
                    Some(id),
                    "a negated condition matches no claim and cannot bind an identifier",
                ));
            }
            let name = self.text_of(id);
            let slot = match self.slot_names.iter().position(|n| n == name) {
                Some(s) => {
                    if bound.get(s).copied().unwrap_or(false) {
                        return Err(self.error_at(
                            Some(id),
                            format!("identifier '{name}' is already bound in this rule"),
                        ));
                    }
                    s
                }
                None => {
                    self.slot_names.push(name.to_string());
                    self.slot_names.len() - 1
                }
            };
            binding = Some(slot);
            self.at += 2;
        }
        if !self.peek_is(Tok::LBracket) {
            return Err(self.mismatched(if binding.is_some() || negated {
                "'['"
            } else {
                "{'!', IDENTIFIER, '[', '=>'}"
            }));
        }
        self.bump();
        let mut tests = Vec::new();
        if self.peek_is(Tok::RBracket) {
            self.bump();
        } else {
            loop {
                tests.push(self.prop_test(bound)?);
                match self.peek() {
                    Some(t) if t.tok == Tok::Comma => {
                        self.bump();
                    }
                    Some(t) if t.tok == Tok::RBracket => {
                        self.bump();
                        break;
                    }
                    _ => return Err(self.mismatched("{',', ']'}")),
                }
            }
        }
        if let Some(slot) = binding {
            if bound.len() <= slot {
                bound.resize(slot + 1, false);
            }
            bound[slot] = true;
        }
        self.ctx.pop();
        let dynamic = tests.iter().any(|t| !matches!(t.rhs, Expr::Lit(_)));
        Ok(Condition {
            negated,
            binding,
            tests,
            dynamic,
        })
    }

    fn prop_test(&mut self, bound: &[bool]) -> PResult<PropTest> {
        self.ctx.push("claimProperty");
        let name = self.peek();
        let prop = match name {
            Some(t) if t.tok == Tok::Ident => Prop::from_keyword(self.text_of(t)),
            _ => None,
        };
        let Some(prop) = prop else {
            return Err(self.mismatched("{'type', 'value', 'issuer', 'valueType'}"));
        };
        self.bump();
        let op_tok = self.peek();
        let op = match op_tok.map(|t| t.tok) {
            Some(Tok::EqEq) | Some(Tok::Assign) => Op::Eq,
            Some(Tok::NotEq) => Op::Ne,
            Some(Tok::Lt) => Op::Lt,
            Some(Tok::Le) => Op::Le,
            Some(Tok::Gt) => Op::Gt,
            Some(Tok::Ge) => Op::Ge,
            _ => return Err(self.mismatched("{'==', '!=', '<', '<=', '>', '>='}")),
        };
        self.bump();
        let rhs_tok = self.peek();
        let rhs = self.expr(bound)?;
        if prop != Prop::Value && op.is_ordering() {
            return Err(self.error_at(
                op_tok,
                format!(
                    "operator '{}' cannot compare a claim's {}: only '==' and '!=' apply to it",
                    op.symbol(),
                    prop_name(prop)
                ),
            ));
        }
        if let Expr::Lit(lit) = &rhs {
            match prop {
                Prop::Value => {
                    if op.is_ordering() && !matches!(lit, Lit::Int(_)) {
                        return Err(self.error_at(
                            op_tok,
                            format!(
                                "operator '{}' is not defined for {} values; only Integer values are ordered",
                                op.symbol(),
                                lit.type_name()
                            ),
                        ));
                    }
                }
                Prop::Type | Prop::Issuer | Prop::ValueType => {
                    let Lit::Str(s) = lit else {
                        return Err(self.error_at(
                            rhs_tok,
                            format!(
                                "a claim's {} is a String; found an {} literal",
                                prop_name(prop),
                                lit.type_name()
                            ),
                        ));
                    };
                    if prop == Prop::Issuer && crate::Issuer::from_name(s).is_none() {
                        return Err(self.error_at(
                            rhs_tok,
                            format!(
                                "unknown issuer '{s}'; known: AttestationService, AttestationPolicy, CustomClaim"
                            ),
                        ));
                    }
                    if prop == Prop::ValueType
                        && !matches!(s.as_str(), "String" | "Integer" | "Boolean")
                    {
                        return Err(self.error_at(
                            rhs_tok,
                            format!("unknown valueType '{s}'; known: String, Integer, Boolean"),
                        ));
                    }
                }
            }
        }
        self.ctx.pop();
        Ok(PropTest { prop, op, rhs })
    }

    fn expr(&mut self, bound: &[bool]) -> PResult<Expr> {
        self.ctx.push("expression");
        let Some(t) = self.peek() else {
            return Err(self.mismatched("expression"));
        };
        let text = self.text_of(t);
        let e = match t.tok {
            Tok::Str => {
                self.bump();
                Expr::Lit(Lit::Str(unescape(text)))
            }
            Tok::Integer => {
                let v = text.parse::<i64>().map_err(|_| {
                    self.error_at(Some(t), format!("integer literal '{text}' is out of range"))
                })?;
                self.bump();
                Expr::Lit(Lit::Int(v))
            }
            Tok::Hex => {
                let digits = text.get(2..).unwrap_or("");
                let v = i64::from_str_radix(digits, 16).map_err(|_| {
                    self.error_at(Some(t), format!("integer literal '{text}' is out of range"))
                })?;
                self.bump();
                Expr::Lit(Lit::Int(v))
            }
            Tok::Decimal => {
                return Err(self.error_at(
                    Some(t),
                    format!("fractional number '{text}' is not a claim value; values are Integer, Boolean or String"),
                ));
            }
            Tok::Ident if text.eq_ignore_ascii_case("true") => {
                self.bump();
                Expr::Lit(Lit::Bool(true))
            }
            Tok::Ident if text.eq_ignore_ascii_case("false") => {
                self.bump();
                Expr::Lit(Lit::Bool(false))
            }
            Tok::Ident if self.peek_at(1).is_some_and(|n| n.tok == Tok::LParen) => {
                self.call(t, bound)?
            }
            Tok::Ident if self.peek_at(1).is_some_and(|n| n.tok == Tok::Dot) => {
                let slot = self.bound_slot(t, bound)?;
                self.at += 2;
                let prop = match self.peek() {
                    Some(p) if p.tok == Tok::Ident => Prop::from_keyword(self.text_of(p)),
                    _ => None,
                };
                let Some(prop) = prop else {
                    return Err(self.mismatched("{'value', 'type', 'issuer', 'valueType'}"));
                };
                self.bump();
                Expr::Ref { slot, prop }
            }
            Tok::Ident => {
                self.bump();
                return Err(self.mismatched("{'(', '.'}"));
            }
            _ => return Err(self.mismatched("expression")),
        };
        self.ctx.pop();
        Ok(e)
    }

    fn bound_slot(&self, t: Token, bound: &[bool]) -> PResult<usize> {
        let name = self.text_of(t);
        match self.slot_names.iter().position(|n| n == name) {
            Some(s) if bound.get(s).copied().unwrap_or(false) => Ok(s),
            Some(_) => Err(self.error_at(
                Some(t),
                format!(
                    "identifier '{name}' is not bound here: it must be bound by an earlier condition (in every '||' alternative when used by the action)"
                ),
            )),
            None => Err(self.error_at(
                Some(t),
                format!("unknown identifier '{name}': bind it with '{name}:[…]' in an earlier condition of this rule"),
            )),
        }
    }

    fn call(&mut self, name_tok: Token, bound: &[bool]) -> PResult<Expr> {
        let name = self.text_of(name_tok);
        let Some(func) = Func::from_name(name) else {
            return Err(self.error_at(
                Some(name_tok),
                format!("unknown function '{name}'; known: {FUNCTION_NAMES}"),
            ));
        };
        self.require_version(
            Some(name_tok),
            &format!("function '{}'", func.name()),
            Version::V1_2,
        )?;
        let pos = self.pos_of(Some(name_tok));
        if self.depth >= MAX_CALL_DEPTH {
            return Err(self.error_at(
                Some(name_tok),
                format!(
                    "function calls are nested more than {MAX_CALL_DEPTH} deep (MAX_NESTING_DEPTH)"
                ),
            ));
        }
        self.depth += 1;
        self.at += 2;
        let mut args = Vec::new();
        let mut arg_toks = Vec::new();
        if self.peek_is(Tok::RParen) {
            self.bump();
        } else {
            loop {
                arg_toks.push(self.peek());
                args.push(self.expr(bound)?);
                match self.peek() {
                    Some(t) if t.tok == Tok::Comma => {
                        self.bump();
                    }
                    Some(t) if t.tok == Tok::RParen => {
                        self.bump();
                        break;
                    }
                    _ => return Err(self.mismatched("{',', ')'}")),
                }
            }
        }
        self.depth -= 1;
        if args.len() != func.arity() {
            return Err(self.error_at(
                Some(name_tok),
                format!(
                    "function '{}' takes {} argument{}, found {}",
                    func.name(),
                    func.arity(),
                    if func.arity() == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let mut query = None;
        if func == Func::JmesPath
            && let Some(Expr::Lit(lit)) = args.get(1)
        {
            let qtok = arg_toks.get(1).copied().flatten();
            let Lit::Str(q) = lit else {
                return Err(self.error_at(qtok, "the JmesPath query must be a String"));
            };
            match functions::compile_jmespath(q) {
                Ok(e) => query = Some(Arc::new(e)),
                Err(msg) => return Err(self.error_at(qtok, msg)),
            }
        }
        Ok(Expr::Call {
            func,
            args,
            query,
            pos,
        })
    }

    fn action(&mut self, bound_all: &[bool]) -> PResult<Action> {
        self.ctx.push("action");
        let t = self.peek();
        let word = match t {
            Some(t) if t.tok == Tok::Ident => self.text_of(t).to_ascii_lowercase(),
            _ => String::new(),
        };
        let pos = self.pos_of(t);
        let action = match word.as_str() {
            "permit" | "deny" => {
                if self.section != Section::Authorization {
                    return Err(self.error_at(
                        t,
                        format!(
                            "'{word}()' is not allowed in {}; it belongs in authorizationrules",
                            self.section.name()
                        ),
                    ));
                }
                self.bump();
                self.expect(Tok::LParen)?;
                self.expect(Tok::RParen)?;
                if word == "permit" {
                    Action::Permit
                } else {
                    Action::Deny
                }
            }
            "add" | "issue" | "issueproperty" => {
                let kind = match word.as_str() {
                    "add" => ActionKind::Add,
                    "issue" => ActionKind::Issue,
                    _ => ActionKind::IssueProperty,
                };
                if self.section == Section::Configuration && kind == ActionKind::Issue {
                    return Err(self.error_at(
                        t,
                        "'issue' is not allowed in configurationrules; use issueproperty (engine settings) or add",
                    ));
                }
                self.bump();
                let spec = self.claim_spec(kind, t, bound_all)?;
                Action::Claim { kind, spec, pos }
            }
            _ => {
                return Err(self.mismatched("{'permit', 'deny', 'add', 'issue', 'issueproperty'}"));
            }
        };
        self.ctx.pop();
        Ok(action)
    }

    fn claim_spec(
        &mut self,
        kind: ActionKind,
        action_tok: Option<Token>,
        bound: &[bool],
    ) -> PResult<ClaimSpec> {
        self.expect(Tok::LParen)?;
        let mut ty: Option<(Expr, Option<Token>)> = None;
        let mut value: Option<(Expr, Option<Token>)> = None;
        let mut value_type: Option<(Expr, Option<Token>)> = None;
        let mut copy: Option<usize> = None;
        let mut first = true;
        loop {
            if self.peek_is(Tok::RParen) && first {
                break;
            }
            let at = self.peek();
            let named = match (self.peek(), self.peek_at(1)) {
                (Some(n), Some(eq)) if n.tok == Tok::Ident && eq.tok == Tok::Assign => Some(n),
                _ => None,
            };
            match named {
                Some(n) => {
                    let arg = self.text_of(n).to_ascii_lowercase();
                    self.at += 2;
                    let val_tok = self.peek();
                    let duplicate = match arg.as_str() {
                        "claim" => {
                            let id = match self.peek() {
                                Some(id) if id.tok == Tok::Ident => id,
                                _ => return Err(self.mismatched("IDENTIFIER")),
                            };
                            let slot = self.bound_slot(id, bound)?;
                            self.bump();
                            copy.replace(slot).is_some()
                        }
                        "type" => ty.replace((self.expr(bound)?, val_tok)).is_some(),
                        "value" => value.replace((self.expr(bound)?, val_tok)).is_some(),
                        "valuetype" => value_type.replace((self.expr(bound)?, val_tok)).is_some(),
                        _ => {
                            return Err(self.error_at(
                                Some(n),
                                format!(
                                    "unknown argument '{}'; expecting type, value, valueType or claim",
                                    self.text_of(n)
                                ),
                            ));
                        }
                    };
                    if duplicate {
                        return Err(self.error_at(
                            Some(n),
                            format!("argument '{}' given twice", self.text_of(n)),
                        ));
                    }
                }
                None if first => {
                    // Legacy/irregular `issue("Name", value=…)`: a positional first argument is the type.
                    ty = Some((self.expr(bound)?, at));
                }
                None => return Err(self.mismatched("{'type', 'value', 'valueType', 'claim'}")),
            }
            first = false;
            match self.peek() {
                Some(t) if t.tok == Tok::Comma => {
                    self.bump();
                }
                Some(t) if t.tok == Tok::RParen => break,
                _ => return Err(self.mismatched("{',', ')'}")),
            }
        }
        let close = self.peek();
        self.expect(Tok::RParen)?;
        if let Some(slot) = copy {
            if ty.is_some() || value.is_some() || value_type.is_some() {
                return Err(self.error_at(
                    action_tok,
                    format!("{}(claim=…) takes no other argument", kind.name()),
                ));
            }
            return Ok(ClaimSpec::Copy(slot));
        }
        let (Some((ty, ty_tok)), Some((value, value_tok))) = (ty, value) else {
            return Err(self.error_at(
                close,
                format!(
                    "{}(…) needs both type=… and value=… (or claim=IDENTIFIER)",
                    kind.name()
                ),
            ));
        };
        let mut declared_type = None;
        if let Some((Expr::Lit(lit), vt_tok)) = &value_type {
            match lit {
                Lit::Str(s) if s.eq_ignore_ascii_case("string") => declared_type = Some("String"),
                Lit::Str(s) if s.eq_ignore_ascii_case("integer") => declared_type = Some("Integer"),
                Lit::Str(s) if s.eq_ignore_ascii_case("boolean") => declared_type = Some("Boolean"),
                other => {
                    return Err(self.error_at(
                        *vt_tok,
                        format!("unknown valueType {other:?}; known: String, Integer, Boolean"),
                    ));
                }
            }
        }
        if let Expr::Lit(lit) = &ty
            && !matches!(lit, Lit::Str(_))
        {
            return Err(self.error_at(
                ty_tok,
                format!(
                    "a claim type is a String; found an {} literal",
                    lit.type_name()
                ),
            ));
        }
        if kind != ActionKind::IssueProperty
            && let Expr::Lit(Lit::Str(name)) = &ty
            && crate::reserved::is_reserved_output_claim(name)
        {
            return Err(self.error_at(ty_tok, crate::reserved::output_message(kind.name(), name)));
        }
        if kind == ActionKind::IssueProperty
            && let Expr::Lit(Lit::Str(name)) = &ty
        {
            let Some(expected) = crate::property_type(name) else {
                return Err(self.error_at(
                    ty_tok,
                    format!(
                        "unknown property claim '{name}'; known: {}",
                        KNOWN_PROPERTIES.join(", ")
                    ),
                ));
            };
            let found = match (&value, declared_type) {
                (_, Some(d)) => Some(d),
                (Expr::Lit(lit), None) => Some(lit.type_name()),
                _ => None,
            };
            if let Some(found) = found
                && found != expected
            {
                return Err(self.error_at(
                    value_tok,
                    format!("property claim '{name}' takes a {expected} value, found {found}"),
                ));
            }
        }
        Ok(ClaimSpec::New {
            ty,
            value,
            value_type: value_type.map(|(e, _)| e),
        })
    }
}

fn prop_name(p: Prop) -> &'static str {
    match p {
        Prop::Type => "type",
        Prop::Value => "value",
        Prop::Issuer => "issuer",
        Prop::ValueType => "valueType",
    }
}
