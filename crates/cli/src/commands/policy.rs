//! `attesta policy get|set|reset|check|eval` and
//! `attesta policy-cert list|add|remove`.
//!
//! `check` and `eval` work locally on a policy file; the others talk to a
//! server's control plane, sending the JWS bodies MAA expects (unsigned, or
//! signed with `--signing-key`/`--signing-cert`). Signing keys are read in
//! PKCS#8, PKCS#1 (RSA) or SEC1 (P-256) PEM and converted to PKCS#8 with
//! aws-lc-rs; `policy-cert new` makes a key and certificate that fit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::{Exit, ServerArgs, fail, json_requested, out, print_json, read_file, send};
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
    /// PEM private key (RSA or P-256; PKCS#8, PKCS#1 or SEC1) of a
    /// policy-management certificate (`attesta policy-cert new` makes one).
    #[arg(long, requires = "signing_cert")]
    pub signing_key: Option<PathBuf>,
    /// PEM certificate matching --signing-key.
    #[arg(long, requires = "signing_key")]
    pub signing_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Print a provider's policy for an attestation type (the policy text;
    /// with --json the type, the text and whether one is set).
    Get {
        /// Attestation type: SgxEnclave, OpenEnclave, SevSnpVm, TdxVm or Tpm.
        attestation_type: String,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Set a provider's policy for an attestation type from a policy text file.
    Set {
        /// Attestation type: SgxEnclave, OpenEnclave, SevSnpVm, TdxVm or Tpm.
        attestation_type: String,
        /// The policy text file (`attesta policy check FILE` checks it locally).
        file: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Reset a provider's policy for an attestation type to the default.
    Reset {
        /// Attestation type: SgxEnclave, OpenEnclave, SevSnpVm, TdxVm or Tpm.
        attestation_type: String,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        control: ControlArgs,
    },
    /// Parse a policy file locally; print errors with line:column; exit 1 on error.
    Check {
        /// The policy text file.
        file: PathBuf,
    },
    /// Evaluate a policy file against claims (a JSON object of claim type → value);
    /// prints {"permit": bool, "claims": {...}}; exits 0 whether or not it permits, 1 on a policy error.
    Eval {
        /// The policy text file.
        file: PathBuf,
        /// JSON file: an object of claim type -> value, e.g. {"x-ms-sgx-is-debuggable": false}.
        #[arg(long)]
        claims: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCertCmd {
    /// Make a policy-signing key (PKCS#8 PEM, 0600) and a self-signed
    /// certificate for it, for `provider create --policy-cert` and
    /// `--signing-key`/`--signing-cert`.
    New {
        /// Where to write the private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Key type: P-256 (ES256) or RSA-2048 (RS256).
        #[arg(long, value_enum, default_value_t = KeyKind::P256)]
        kind: KeyKind,
        /// Certificate subject common name.
        #[arg(long, default_value = "Attesta policy signer")]
        common_name: String,
    },
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

/// Key types `policy-cert new` makes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyKind {
    /// ECDSA P-256, signs ES256.
    P256,
    /// RSA 2048, signs RS256.
    Rsa,
}

fn read_text(p: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_file(p)?)
        .map_err(|_| fail(Exit::Usage, format!("{} is not UTF-8 text", p.display())))
}

fn pem_blocks(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let data = read_file(path)?;
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(&data) {
        let item = item.map_err(|e| {
            fail(
                Exit::Usage,
                format!("{} is not valid PEM: {e}", path.display()),
            )
        })?;
        out.push((item.label, item.contents));
    }
    Ok(out)
}

fn first_block(path: &Path, labels: &[&str]) -> anyhow::Result<Vec<u8>> {
    first_labelled(path, labels).map(|(_, d)| d)
}

fn first_labelled(path: &Path, labels: &[&str]) -> anyhow::Result<(String, Vec<u8>)> {
    pem_blocks(path)?
        .into_iter()
        .find(|(l, _)| labels.contains(&l.as_str()))
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                format!("{} has no {} block", path.display(), labels.join(" or ")),
            )
        })
}

/// A private key PEM in any of the forms keys come in, as PKCS#8 DER: PKCS#8
/// as it is, PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`, P-256)
/// re-encoded by aws-lc-rs.
pub fn pkcs8_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    use aws_lc_rs::encoding::AsDer;
    let blocks = pem_blocks(path)?;
    if blocks.iter().any(|(l, _)| l == "ENCRYPTED PRIVATE KEY") {
        return Err(fail(
            Exit::Usage,
            format!(
                "{} is an encrypted key; give the key unencrypted (e.g. `openssl pkcs8 -in {} -out plain.key`, or make one with `attesta policy-cert new`)",
                path.display(),
                path.display()
            ),
        ));
    }
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        fail(Exit::Usage, format!("{}: {what}: {e}", path.display()))
    };
    match blocks.into_iter().find(|(l, _)| {
        matches!(
            l.as_str(),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
        )
    }) {
        Some((label, der)) if label == "PRIVATE KEY" => Ok(der),
        Some((label, der)) if label == "RSA PRIVATE KEY" => {
            let key = aws_lc_rs::rsa::KeyPair::from_der(&der)
                .map_err(|e| bad("not a usable PKCS#1 RSA key", &e))?;
            let pkcs8 = key
                .as_der()
                .map_err(|e| bad("cannot re-encode the RSA key", &e))?;
            Ok(pkcs8.as_ref().to_vec())
        }
        Some((_, der)) => {
            let key = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .map_err(|e| bad("not a usable SEC1 P-256 key (only P-256 signs ES256)", &e))?;
            let pkcs8 = key
                .to_pkcs8v1()
                .map_err(|e| bad("cannot re-encode the EC key", &e))?;
            Ok(pkcs8.as_ref().to_vec())
        }
        None => Err(fail(
            Exit::Usage,
            format!(
                "{} has no private key (PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block); `attesta policy-cert new --key signer.key --cert signer.pem` makes a key and certificate",
                path.display()
            ),
        )),
    }
}

/// A JWS signing key from a PEM private key (see [`pkcs8_key`]) and the
/// PEM certificate that holds its public key: ES256 for a P-256 key,
/// RS256 for RSA.
pub fn jws_signing_key(key: &Path, cert: &Path) -> anyhow::Result<JwsSigningKey> {
    let key_der = pkcs8_key(key)?;
    let cert_der = first_block(cert, &["CERTIFICATE"])?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der).map_err(|e| {
        fail(
            Exit::Usage,
            format!("{} is not an X.509 certificate: {e}", cert.display()),
        )
    })?;
    let is_ec = parsed.public_key().algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1";
    Ok(if is_ec {
        JwsSigningKey::Ec {
            key_pkcs8_der: key_der,
            cert_der,
        }
    } else {
        JwsSigningKey::Rsa {
            key_pkcs8_der: key_der,
            cert_der,
        }
    })
}

impl SigningArgs {
    fn key(&self) -> anyhow::Result<Option<JwsSigningKey>> {
        let (Some(key), Some(cert)) = (&self.signing_key, &self.signing_cert) else {
            return Ok(None);
        };
        jws_signing_key(key, cert).map(Some)
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
                .ok_or_else(|| fail(Exit::Server, "the answer has no token"))?;
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
                .map_err(|_| fail(Exit::Server, "the stored policy is not base64url"))?;
            let text = String::from_utf8_lossy(&text);
            let provider = control.server.provider.as_deref().unwrap_or("default");
            if json_requested() {
                print_json(&json!({
                    "attestation_type": ty.as_str(),
                    "provider": provider,
                    "policy": if text.is_empty() { Value::Null } else { json!(text) },
                }));
            } else if text.is_empty() {
                // Nothing on stdout (so `policy get … > file` stays a policy
                // or nothing); the explanation on stderr.
                let why = if ty == AttestationType::Tpm {
                    "TPM has no default policy, so every Tpm attestation is refused until one is set"
                } else {
                    "the service default applies"
                };
                eprintln!(
                    "no {ty} policy is set for provider '{provider}': {why}; set one with `attesta policy set {ty} FILE`"
                );
            } else {
                out(&format!("{}\n", text.trim_end_matches('\n')));
            }
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
                return Err(fail(Exit::Rejected, format!("{}:{e}", file.display())));
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
                    out(&format!(
                        "{}: ok (policy version {})\n",
                        file.display(),
                        p.version().unwrap_or("rego")
                    ));
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
            let claims: Value = serde_json::from_str(&read_text(&claims)?).map_err(|e| {
                fail(
                    Exit::Usage,
                    format!("{} is not JSON: {e}", claims.display()),
                )
            })?;
            if !claims.is_object() {
                return Err(fail(
                    Exit::Usage,
                    "the claims file must hold a JSON object of claim type -> value",
                ));
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
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|e| {
        fail(
            Exit::Usage,
            format!("{} is not an X.509 certificate: {e}", cert.display()),
        )
    })?;
    let kty = if parsed.public_key().algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1" {
        "EC"
    } else {
        "RSA"
    };
    let payload =
        json!({"policyCertificate": {"kty": kty, "x5c": [STANDARD.encode(&der)]}}).to_string();
    if signing.signing_key.is_none() {
        return Err(fail(
            Exit::Usage,
            "policy-management certificate changes must be signed: pass --signing-key and --signing-cert of a current policy-management certificate",
        ));
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

/// Write a new policy-signing key (PKCS#8, 0600) and a self-signed
/// certificate for it.
fn new_signer(key: &Path, cert: &Path, kind: KeyKind, common_name: &str) -> anyhow::Result<()> {
    let alg = match kind {
        KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
    };
    let key_pair = match kind {
        KeyKind::P256 => rcgen::KeyPair::generate_for(alg),
        KeyKind::Rsa => {
            let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|e| anyhow::anyhow!("cannot generate an RSA key: {e}"))?;
            let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&rsa)
                .map_err(|e| anyhow::anyhow!("cannot encode the RSA key: {e}"))?;
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der.as_ref().into(), alg)
        }
    }
    .map_err(|e| anyhow::anyhow!("cannot generate the key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| anyhow::anyhow!("certificate parameters: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| anyhow::anyhow!("cannot sign the certificate: {e}"))?;
    for p in [key, cert] {
        if p.exists() {
            return Err(fail(
                Exit::Usage,
                format!("{} exists; not overwriting it", p.display()),
            ));
        }
    }
    write_private_file(key, key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert, certificate.pem())
        .map_err(|e| fail(Exit::Io, format!("cannot write {}: {e}", cert.display())))?;
    eprintln!(
        "wrote {} (private key, keep it secret) and {} (certificate: give it to `attesta provider create --policy-cert`)",
        key.display(),
        cert.display()
    );
    Ok(())
}

fn write_private_file(p: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| fail(Exit::Io, format!("cannot write {}: {e}", p.display())))
}

pub async fn run_cert(cmd: PolicyCertCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCertCmd::New {
            key,
            cert,
            kind,
            common_name,
        } => new_signer(&key, &cert, kind, &common_name)?,
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
