//! Tokens of the MAA claim-rule language, produced by a `logos` lexer. Keywords (`version`, section names,
//! actions, property names, `true`/`false`) are plain identifiers here and are matched case-insensitively by
//! the parser, because published policies spell them in several cases (`Issuancerules`).

use logos::Logos;

use crate::error::{LineIndex, PolicyError};

/// One token kind; the text is recovered from the source through the span.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f\u{FEFF}]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub(crate) enum Tok {
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
    #[token("=>")]
    Arrow,
    /// `1.0`: only meaningful in the version statement.
    #[regex(r"[0-9]+\.[0-9]+")]
    Decimal,
    /// Decimal integer, optionally negative.
    #[regex(r"-?[0-9]+")]
    Integer,
    /// Hexadecimal integer `0x…` (the docs write the `required_pcr_mask` default as `0xFFFFFF`).
    #[regex(r"0[xX][0-9a-fA-F]+")]
    Hex,
    /// Double-quoted string; a backslash escapes the next character (newlines included).
    #[regex(r#""([^"\\]|\\(.|\n))*""#)]
    Str,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
}

impl Tok {
    /// How the token is named in "expecting …" messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Tok::LBrace => "'{'",
            Tok::RBrace => "'}'",
            Tok::LBracket => "'['",
            Tok::RBracket => "']'",
            Tok::LParen => "'('",
            Tok::RParen => "')'",
            Tok::Semi => "';'",
            Tok::Comma => "','",
            Tok::Colon => "':'",
            Tok::Dot => "'.'",
            Tok::Assign => "'='",
            Tok::EqEq => "'=='",
            Tok::NotEq => "'!='",
            Tok::Lt => "'<'",
            Tok::Le => "'<='",
            Tok::Gt => "'>'",
            Tok::Ge => "'>='",
            Tok::AndAnd => "'&&'",
            Tok::OrOr => "'||'",
            Tok::Bang => "'!'",
            Tok::Arrow => "'=>'",
            Tok::Decimal => "VERSION",
            Tok::Integer | Tok::Hex => "INTEGER",
            Tok::Str => "STRING",
            Tok::Ident => "IDENTIFIER",
        }
    }
}

/// A token with its byte span in the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Tokenises the whole text; an unrecognised character or an unterminated string is a parse error at its
/// position.
pub(crate) fn lex(text: &str, lines: &LineIndex) -> Result<Vec<Token>, PolicyError> {
    let mut out = Vec::new();
    let mut lexer = Tok::lexer(text);
    while let Some(next) = lexer.next() {
        let span = lexer.span();
        match next {
            Ok(tok) => out.push(Token {
                tok,
                start: span.start,
                end: span.end,
            }),
            Err(()) => {
                let (line, column) = lines.position(text, span.start);
                let rest: String = text
                    .get(span.start..)
                    .unwrap_or("")
                    .chars()
                    .take(20)
                    .take_while(|c| *c != '\n')
                    .collect();
                let what = if rest.starts_with('"') {
                    "unterminated string literal"
                } else {
                    "token recognition error"
                };
                return Err(PolicyError::parse(
                    format!("{what} at: '{rest}' (policy)"),
                    line,
                    column,
                ));
            }
        }
    }
    Ok(out)
}

/// The value of a string literal: the quotes removed, `\"` → `"`, `\\` → `\`; any other backslash
/// sequence is kept as written so that embedded JSON escapes (`\n`, `\u0041`) reach the JSON parser intact.
pub(crate) fn unescape(literal: &str) -> String {
    let inner = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(literal);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
