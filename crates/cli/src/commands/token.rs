//! `attesta token verify TOKEN --issuer URL`: check a token as a relying
//! party would, against the issuer's OpenID metadata and `/certs`; and
//! `attesta token decode TOKEN`, which shows a token without judging it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::{Exit, fail, json_output, out, print_json, read_file};
use attesta_evidence::UnixTime;
use attesta_token::error::RpError;

/// Where a token comes from, said wherever a token is missing or malformed.
const GET_A_TOKEN: &str = "get one with `attesta attest TYPE --evidence FILE --raw > token.jwt` (add --provider NAME for a provider other than the default)";

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Verify a token's signature (key from the issuer's /certs, by kid), issuer and lifetime.
    ///
    /// Exit 0 when valid, 1 when invalid, 3 when the issuer cannot be reached.
    Verify {
        /// The token, or @FILE to read it from a file, or - for standard input
        /// (`attesta attest … --raw > token.jwt` writes one).
        token: String,
        /// The expected issuer: the base URL of the provider the token was
        /// requested from, e.g. https://127.0.0.1:8443 (default provider) or
        /// https://127.0.0.1:8443/providers/NAME.
        #[arg(long)]
        issuer: String,
        /// PEM CA certificate to trust for the issuer's TLS certificate
        /// (for a server's self-signed certificate: <its data dir>/tls/cert.pem).
        #[arg(long, env = "ATTESTA_CA")]
        ca: Option<PathBuf>,
        /// Allowed clock skew for exp/nbf, in seconds.
        #[arg(long, default_value_t = 60)]
        leeway: u64,
    },
    /// Decode a token without verifying it (header and claims).
    Decode {
        /// The token, or @FILE to read it from a file, or - for standard input.
        token: String,
    },
}

fn token_text(arg: &str) -> anyhow::Result<String> {
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| fail(Exit::Io, format!("reading standard input: {e}")))?
    } else if let Some(path) = arg.strip_prefix('@') {
        let bytes = read_file(std::path::Path::new(path))
            .map_err(|e| fail(Exit::Io, format!("{e}; {GET_A_TOKEN}")))?;
        String::from_utf8_lossy(&bytes).into_owned()
    } else if std::path::Path::new(arg).is_file() {
        return Err(fail(
            Exit::Usage,
            format!("{arg} is a file; to read the token from it, write @{arg}"),
        ));
    } else {
        arg.to_string()
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(fail(Exit::Usage, format!("no token given; {GET_A_TOKEN}")));
    }
    if text.split('.').count() != 3 {
        return Err(fail(
            Exit::Usage,
            format!(
                "'{}' is not a JWT (three base64url parts separated by dots); {GET_A_TOKEN}",
                text.chars().take(40).collect::<String>()
            ),
        ));
    }
    Ok(text)
}

/// A Unix time as RFC 3339, for people.
fn when(v: Option<&Value>) -> String {
    v.and_then(Value::as_i64)
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

pub async fn run(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Verify {
            token,
            issuer,
            ca,
            leeway,
        } => {
            let token = token_text(&token)?;
            let ca_pem = match &ca {
                Some(p) => Some(read_file(p)?),
                None => None,
            };
            match attesta_token::rp::verify_with_issuer(
                &token,
                &issuer,
                ca_pem.as_deref(),
                UnixTime::now().0,
                leeway,
            )
            .await
            {
                Ok(v) => {
                    if json_output() {
                        print_json(
                            &json!({"valid": true, "header": Value::Object(v.header), "claims": Value::Object(v.claims)}),
                        );
                    } else {
                        out(&format!(
                            "valid token from {issuer}\n  key: {}\n  issued: {}\n  expires: {}\nclaims:\n",
                            v.header.get("kid").and_then(Value::as_str).unwrap_or("-"),
                            when(v.claims.get("iat")),
                            when(v.claims.get("exp")),
                        ));
                        out(&crate::client::human(&Value::Object(v.claims))
                            .lines()
                            .map(|l| format!("  {l}\n"))
                            .collect::<String>());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(
                    e @ (RpError::Http { .. }
                    | RpError::HttpStatus { .. }
                    | RpError::BadDocument { .. }),
                ) => Err(fail(Exit::Server, format!("cannot check the token: {e}"))),
                Err(e @ (RpError::InsecureIssuer(_) | RpError::ExtraCa(_))) => {
                    Err(fail(Exit::Usage, e))
                }
                Err(e) => {
                    let mut message = e.to_string();
                    // Unverified, and only a hint: the token names another
                    // issuer than the one expected (its keys are elsewhere).
                    let named =
                        attesta_token::jwt::decode_unverified(&token)
                            .ok()
                            .and_then(|(_, c)| {
                                c.get("iss").and_then(Value::as_str).map(str::to_string)
                            });
                    if let Some(iss) = named
                        && iss.trim_end_matches('/') != issuer.trim_end_matches('/')
                        && !matches!(
                            e,
                            RpError::Token(attesta_token::TokenError::WrongIssuer { .. })
                        )
                    {
                        message.push_str(&format!(
                            " (the token names issuer {iss}, not {issuer}: is that the --issuer you meant?)"
                        ));
                    }
                    if json_output() {
                        print_json(
                            &json!({"valid": false, "error": {"code": e.code(), "message": message}}),
                        );
                    } else {
                        out(&format!("invalid token ({}): {message}\n", e.code()));
                    }
                    Ok(ExitCode::from(Exit::Rejected as u8))
                }
            }
        }
        TokenCmd::Decode { token } => {
            let token = token_text(&token)?;
            let (header, claims) = attesta_token::jwt::decode_unverified(&token)
                .map_err(|e| fail(Exit::Usage, format!("{e}; {GET_A_TOKEN}")))?;
            print_json(&json!({"header": Value::Object(header), "claims": Value::Object(claims)}));
            Ok(ExitCode::SUCCESS)
        }
    }
}
