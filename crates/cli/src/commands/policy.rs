//! `attesta policy get|set|reset|check|eval` and
//! `attesta policy-cert list|add|remove`.
//!
//! `check` and `eval` work locally on a policy file; the others talk to a
//! server's control plane, sending the JWS bodies MAA expects (unsigned, or
//! signed with `--signing-key`/`--signing-cert`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::{ServerArgs, print_json, send};
use attesta_evidence::AttestationType;
use attesta_token::jws::{JwsSigningKey, sign_jws, unsigned_jws};

/// API version the control-plane commands send.
const API_VERSION: &str = "2022-08-01";

#[derive(Debug, Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Bearer token for the provider's control plane [default: the admin token, when readable].
    #[arg(long, env = "ATTESTA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct SigningArgs {
    /// PEM PKCS#8 private key (RSA or P-256) of a policy-management certificate.
    #[arg(long, requires = "signing_cert")]
    pub signing_key: Option<PathBuf>,
    /// PEM certificate matching --signing-key.
    #[arg(long, requires = "signing_key")]
    pub signing_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Print a provider's policy for an attestation type.
    Get {
        attestation_type: String,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Set a provider's policy for an attestation type from a policy text file.
    Set {
        attestation_type: String,
        file: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Reset a provider's policy for an attestation type to the default.
    Reset {
        attestation_type: String,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Parse a policy file locally; print errors with line:column; exit 1 on error.
    Check { file: PathBuf },
    /// Evaluate a policy file against claims (a JSON object of claim type → value);
    /// prints {"permit": bool, "claims": {...}}; exits 0 whether or not it permits, 1 on a policy error.
    Eval {
        file: PathBuf,
        #[arg(long)]
        claims: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCertCmd {
    /// List the provider's policy-management certificates.
    List {
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Add a policy-management certificate (the request is signed by a current one).
    Add {
        /// PEM certificate to add.
        cert: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Remove a policy-management certificate (the request is signed by a current one).
    Remove {
        /// PEM certificate to remove.
        cert: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
}

fn read_text(p: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

fn pem_blocks(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(&data) {
        let item = item.with_context(|| format!("{} is not valid PEM", path.display()))?;
        out.push((item.label, item.contents));
    }
    Ok(out)
}

fn first_block(path: &Path, labels: &[&str]) -> anyhow::Result<Vec<u8>> {
    pem_blocks(path)?
        .into_iter()
        .find(|(l, _)| labels.contains(&l.as_str()))
        .map(|(_, d)| d)
        .with_context(|| format!("{} has no {} block", path.display(), labels.join(" or ")))
}

impl SigningArgs {
    fn key(&self) -> anyhow::Result<Option<JwsSigningKey>> {
        let (Some(key), Some(cert)) = (&self.signing_key, &self.signing_cert) else {
            return Ok(None);
        };
        let key_der = first_block(key, &["PRIVATE KEY"])
            .context("the signing key must be a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)")?;
        let cert_der = first_block(cert, &["CERTIFICATE"])?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| anyhow::anyhow!("{} is not an X.509 certificate: {e}", cert.display()))?;
        let is_ec = parsed.public_key().algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1";
        Ok(Some(if is_ec {
            JwsSigningKey::Ec {
                key_pkcs8_der: key_der,
                cert_der,
            }
        } else {
            JwsSigningKey::Rsa {
                key_pkcs8_der: key_der,
                cert_der,
            }
        }))
    }

    /// The request JWS: signed when a key is given, with `iat` added to the
    /// payload so that each signed request is a request of its own (an
    /// isolated provider applies a signed request once, and RSA PKCS#1 v1.5
    /// would otherwise sign the same request to the same bytes).
    fn jws(&self, payload: &[u8]) -> anyhow::Result<String> {
        match self.key()? {
            Some(k) => {
                let mut object = if payload.is_empty() {
                    serde_json::Map::new()
                } else {
                    serde_json::from_slice(payload)
                        .context("the request payload is not a JSON object")?
                };
                object.insert(
                    "iat".into(),
                    Value::from(attesta_evidence::UnixTime::now().0),
                );
                Ok(sign_jws(Value::Object(object).to_string().as_bytes(), &k)?)
            }
            None => Ok(unsigned_jws(payload)),
        }
    }
}

impl ControlArgs {
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let url = format!("{}{path}?api-version={API_VERSION}", self.server.base());
        // An explicit --token goes to --url; the data directory's admin token
        // only to that directory's own server (see ServerArgs::admin_client).
        let (client, token) = match &self.token {
            Some(t) => (self.server.client()?, Some(t.clone())),
            None => match self.server.data_dir_admin_token() {
                Ok(t) => (self.server.own_server_client()?, Some(t)),
                Err(_) => (self.server.client()?, None),
            },
        };
        let mut req = client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Ok(req)
    }
}

/// Print the claims of a result token the server returned.
fn print_result(v: &Value) -> anyhow::Result<()> {
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .context("the answer has no token")?;
    let (_, claims) = attesta_token::jwt::decode_unverified(token)?;
    print_json(&Value::Object(claims));
    Ok(())
}

fn parse_type(s: &str) -> anyhow::Result<AttestationType> {
    Ok(s.parse::<AttestationType>()?)
}

pub async fn run(cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCmd::Get {
            attestation_type,
            control,
        } => {
            let ty = parse_type(&attestation_type)?;
            let v =
                send(control.request(reqwest::Method::GET, &format!("/policies/{ty}"))?).await?;
            let token = v
                .get("token")
                .and_then(Value::as_str)
                .context("the answer has no token")?;
            let (_, claims) = attesta_token::jwt::decode_unverified(token)?;
            let jws = claims
                .get("x-ms-policy")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let parsed = attesta_token::jws::parse_jws(jws)?;
            let stored: Value = serde_json::from_slice(&parsed.payload).unwrap_or(Value::Null);
            let b64 = stored
                .get("AttestationPolicy")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let text = URL_SAFE_NO_PAD
                .decode(b64.trim_end_matches('='))
                .context("the stored policy is not base64url")?;
            println!("{}", String::from_utf8_lossy(&text));
        }
        PolicyCmd::Set {
            attestation_type,
            file,
            signing,
            control,
        } => {
            let ty = parse_type(&attestation_type)?;
            let text = read_text(&file)?;
            if let Err(e) = attesta_policy::compile(&text) {
                bail!("{}:{e}", file.display());
            }
            let payload =
                json!({"AttestationPolicy": URL_SAFE_NO_PAD.encode(text.as_bytes())}).to_string();
            let jws = signing.jws(payload.as_bytes())?;
            let req = control
                .request(reqwest::Method::PUT, &format!("/policies/{ty}"))?
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(jws);
            print_result(&send(req).await?)?;
        }
        PolicyCmd::Reset {
            attestation_type,
            signing,
            control,
        } => {
            let ty = parse_type(&attestation_type)?;
            let jws = signing.jws(b"")?;
            let req = control
                .request(reqwest::Method::POST, &format!("/policies/{ty}:reset"))?
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(jws);
            print_result(&send(req).await?)?;
        }
        PolicyCmd::Check { file } => {
            let text = read_text(&file)?;
            return Ok(match attesta_policy::check(&text) {
                Ok(p) => {
                    println!(
                        "{}: ok (policy version {})",
                        file.display(),
                        p.version().unwrap_or("rego")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}:{e}", file.display());
                    ExitCode::from(1)
                }
            });
        }
        PolicyCmd::Eval { file, claims } => {
            let text = read_text(&file)?;
            let claims: Value = serde_json::from_str(&read_text(&claims)?)
                .with_context(|| format!("{} is not JSON", claims.display()))?;
            if !claims.is_object() {
                bail!("the claims file must hold a JSON object of claim type -> value");
            }
            let policy = match attesta_policy::check(&text) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{}:{e}", file.display());
                    return Ok(ExitCode::from(1));
                }
            };
            return Ok(match attesta_policy::eval_json(&policy, &claims) {
                Ok(v) => {
                    print_json(&v);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}:{e}", file.display());
                    ExitCode::from(1)
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cert_change_body(cert: &Path, signing: &SigningArgs) -> anyhow::Result<String> {
    let der = first_block(cert, &["CERTIFICATE"])?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow::anyhow!("{} is not an X.509 certificate: {e}", cert.display()))?;
    let kty = if parsed.public_key().algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1" {
        "EC"
    } else {
        "RSA"
    };
    let payload =
        json!({"policyCertificate": {"kty": kty, "x5c": [STANDARD.encode(&der)]}}).to_string();
    if signing.signing_key.is_none() {
        bail!(
            "policy-management certificate changes must be signed: pass --signing-key and --signing-cert of a current policy-management certificate"
        );
    }
    let jws = signing.jws(payload.as_bytes())?;
    Ok(serde_json::to_string(&jws)?)
}

/// Send a signed certificate change to `route` and print the result.
async fn change_cert(
    route: &str,
    cert: &Path,
    signing: &SigningArgs,
    control: &ControlArgs,
) -> anyhow::Result<()> {
    let body = cert_change_body(cert, signing)?;
    let req = control
        .request(reqwest::Method::POST, route)?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    print_result(&send(req).await?)
}

pub async fn run_cert(cmd: PolicyCertCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCertCmd::List { control } => {
            let v = send(control.request(reqwest::Method::GET, "/certificates")?).await?;
            print_result(&v)?;
        }
        PolicyCertCmd::Add {
            cert,
            signing,
            control,
        } => change_cert("/certificates:add", &cert, &signing, &control).await?,
        PolicyCertCmd::Remove {
            cert,
            signing,
            control,
        } => change_cert("/certificates:remove", &cert, &signing, &control).await?,
    }
    Ok(ExitCode::SUCCESS)
}
