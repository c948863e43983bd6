//! `attesta token verify TOKEN --issuer URL`: check a token as a relying
//! party would, against the issuer's OpenID metadata and `/certs` — with
//! `--require-tee [--tee-policy FILE]`, also the service's own TEE evidence
//! in the signing certificate (`attesta_token::service`), with collateral
//! from directories (`--tee-collateral`) or fetched from the PCS and KDS
//! (`--tee-fetch`, `attesta_collateral::fetch_service_collateral`); and
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

/// The arguments of `attesta token verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The token, or @FILE to read it from a file, or - for standard input
    /// (`attesta attest … --raw > token.jwt` writes one).
    pub token: String,
    /// The expected issuer: the base URL of the provider the token was
    /// requested from, e.g. https://127.0.0.1:8443 (default provider) or
    /// https://127.0.0.1:8443/providers/NAME.
    #[arg(long)]
    pub issuer: String,
    /// PEM CA certificate to trust for the issuer's TLS certificate
    /// (for a server's self-signed certificate: <its data dir>/tls/cert.pem).
    #[arg(long, env = "ATTESTA_CA")]
    pub ca: Option<PathBuf>,
    /// Allowed clock skew for exp/nbf, in seconds.
    #[arg(long, default_value_t = 60)]
    pub leeway: u64,
    /// Also require the service's own TEE evidence: the certificate of the
    /// key that signed the token must carry evidence bound to that key,
    /// verifying to Intel's root (or a --tee-trust-root).
    #[arg(long)]
    pub require_tee: bool,
    /// JSON policy over the service's claims, e.g.
    /// {"require":{"x-ms-sgx-mrenclave":"…"},"minimum":{"x-ms-sgx-svn":1}}
    /// (implies --require-tee).
    #[arg(long, value_name = "FILE")]
    pub tee_policy: Option<PathBuf>,
    /// Collateral directory for the full check of the service's
    /// evidence: a DCAP bundle for an SGX or TDX quote (CRLs, TCB
    /// status), or AMD files with the ARK's CRL for an SEV-SNP report
    /// (revocation); repeatable (implies --require-tee).
    #[arg(long, value_name = "DIR")]
    pub tee_collateral: Vec<PathBuf>,
    /// PEM root to trust for the service's evidence besides Intel's (test
    /// PKIs, e.g. <data dir>/tee-test/root.pem of a node with
    /// tee_evidence = "test"; repeatable; implies --require-tee).
    #[arg(long, value_name = "PEM")]
    pub tee_trust_root: Vec<PathBuf>,
    /// PEM AMD ARK to trust for the service's SEV-SNP evidence besides
    /// AMD's embedded ARKs (test PKIs; repeatable; implies --require-tee).
    #[arg(long, value_name = "PEM")]
    pub tee_trust_root_amd: Vec<PathBuf>,
    /// Fetch the collateral the service's evidence references (DCAP
    /// collateral from a PCS-compatible service; AMD's CRL, and the VCEK
    /// when the evidence has none, from a KDS-compatible service) and
    /// run the full check (implies --require-tee).
    #[arg(long)]
    pub tee_fetch: bool,
    /// Base URL of the PCS-compatible service --tee-fetch uses (Intel's
    /// PCS, a PCCS, a cache); https only.
    #[arg(long, value_name = "URL", default_value = attesta_collateral::INTEL_PCS_BASE_URL)]
    pub tee_pcs_url: String,
    /// Base URL of the KDS-compatible service --tee-fetch uses (AMD's
    /// KDS or a mirror); https only.
    #[arg(long, value_name = "URL", default_value = attesta_collateral::AMD_KDS_BASE_URL)]
    pub tee_kds_url: String,
    /// PEM CA certificate to trust for the TLS certificates of
    /// --tee-pcs-url and --tee-kds-url (a private PCCS or mirror).
    #[arg(long, value_name = "PEM")]
    pub tee_fetch_ca: Option<PathBuf>,
    /// A signed release statement (`attesta release statement`): the
    /// service must have its measurements, as a policy requiring them would
    /// say (implies --require-tee; needs --tee-statement-cert).
    #[arg(long, value_name = "FILE", requires = "tee_statement_cert")]
    pub tee_statement: Option<PathBuf>,
    /// PEM certificate of the release signer, or of a CA that issued it,
    /// that --tee-statement must verify with.
    #[arg(long, value_name = "PEM", requires = "tee_statement")]
    pub tee_statement_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Verify a token's signature (key from the issuer's /certs, by kid), issuer and lifetime.
    ///
    /// Exit 0 when valid, 1 when invalid, 3 when the issuer cannot be reached.
    Verify(Box<VerifyArgs>),
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

/// The relying party's requirement on the service's evidence, from files.
fn tee_requirement(
    policy: Option<&std::path::Path>,
    collateral: &[PathBuf],
    roots: &[PathBuf],
    amd_roots: &[PathBuf],
) -> anyhow::Result<attesta_token::service::TeeRequirement> {
    use attesta_evidence::roots::{RootKind, TrustRoots};
    let policy = match policy {
        Some(p) => attesta_token::service::TeePolicy::from_json(&read_file(p)?)
            .map_err(|e| fail(Exit::Usage, format!("{}: {e}", p.display())))?,
        None => Default::default(),
    };
    let mut trust = attesta_evidence::snp::with_amd_roots(
        attesta_evidence::sgx::intel_trust_roots(TrustRoots::empty()),
    );
    for (paths, kind) in [(roots, RootKind::IntelSgx), (amd_roots, RootKind::AmdArk)] {
        for p in paths {
            let ders = attesta_evidence::sgx::pki::pem_certificates(&read_file(p)?)
                .map_err(|e| fail(Exit::Usage, format!("{}: {e}", p.display())))?;
            for der in ders {
                trust = trust.with_configured(kind, der);
            }
        }
    }
    let collateral = crate::commands::signing_cert::service_collateral(collateral)
        .map_err(|e| fail(Exit::Usage, e))?;
    Ok(attesta_token::service::TeeRequirement {
        roots: trust,
        collateral,
        policy,
        release: None,
    })
}

/// The PCS and KDS clients of `--tee-fetch`.
struct CollateralClients {
    pcs: attesta_collateral::PcsClient,
    kds: attesta_collateral::KdsClient,
}

impl CollateralClients {
    fn new(pcs_url: &str, kds_url: &str, ca: Option<&std::path::Path>) -> anyhow::Result<Self> {
        for (flag, url) in [("--tee-pcs-url", pcs_url), ("--tee-kds-url", kds_url)] {
            if !url.starts_with("https://") {
                return Err(fail(
                    Exit::Usage,
                    format!(
                        "{flag} {url:?} is not an https:// URL; collateral is fetched over TLS"
                    ),
                ));
            }
        }
        let ca_pem = match ca {
            Some(p) => Some(
                String::from_utf8(read_file(p)?)
                    .map_err(|_| fail(Exit::Usage, format!("{} is not PEM text", p.display())))?,
            ),
            None => None,
        };
        let setup = |e: attesta_collateral::CollateralError| fail(Exit::Usage, e);
        let mut pcs = attesta_collateral::PcsClientOptions::new(pcs_url);
        pcs.extra_root_ca_pem = ca_pem.clone();
        let mut kds = attesta_collateral::KdsClientOptions::new(kds_url);
        kds.extra_root_ca_pem = ca_pem;
        Ok(Self {
            pcs: attesta_collateral::PcsClient::new(pcs).map_err(setup)?,
            kds: attesta_collateral::KdsClient::new(kds).map_err(setup)?,
        })
    }
}

/// The token against the issuer's keys, then the service's evidence in the
/// certificate of the key that signed it — with `fetch`, after fetching the
/// collateral the evidence references (added to what `req` already has).
async fn verify_tee(
    token: &str,
    issuer: &str,
    ca_pem: Option<&[u8]>,
    now: u64,
    leeway: u64,
    req: &attesta_token::service::TeeRequirement,
    fetch: Option<&CollateralClients>,
) -> Result<
    (
        attesta_token::jwt::VerifiedToken,
        attesta_token::service::ServiceVerified,
    ),
    RpError,
> {
    use attesta_evidence::signing_cert::SigningCert;
    use attesta_token::service;
    let Some(clients) = fetch else {
        return service::verify_with_issuer_tee(token, issuer, ca_pem, now, leeway, req).await;
    };
    let jwks = attesta_token::rp::fetch_jwks(issuer, ca_pem).await?;
    let verified = attesta_token::rp::verify_with_jwks(token, &jwks, issuer, now, leeway)?;
    let opts = attesta_token::jwt::VerifyOptions {
        issuer: Some(issuer.to_string()),
        now,
        leeway_secs: leeway,
    };
    let der = service::signing_certificate(token, &jwks, &verified, &opts)?;
    let evidence_error =
        |e: &dyn attesta_evidence::ErrorCode, m: String| RpError::ServiceEvidence {
            code: e.code(),
            message: m,
        };
    let cert = SigningCert::parse(&der)
        .map_err(|e| evidence_error(&e, format!("the token's signing certificate: {e}")))?;
    let ev = cert
        .primary_evidence()
        .map_err(|e| evidence_error(&e, e.to_string()))?;
    let fetched = attesta_collateral::fetch_service_collateral(ev, &clients.pcs, &clients.kds)
        .await
        .map_err(|e| {
            let message = format!("fetching the service's collateral: {e}");
            if attesta_server::error::upstream_retry_after(&e).is_some() {
                RpError::Http {
                    url: String::new(),
                    reason: message,
                }
            } else {
                RpError::ServiceEvidence {
                    code: e.code(),
                    message,
                }
            }
        })?;
    let mut req = req.clone();
    if fetched.dcap.is_some() {
        req.collateral.dcap = fetched.dcap;
    }
    req.collateral.amd_crls.extend(fetched.amd_crls);
    if fetched.snp_certificates.is_some() {
        req.collateral.snp_certificates = fetched.snp_certificates;
    }
    let service = service::check_service(&der, &req, UnixTime(now))?;
    Ok((verified, service))
}

pub async fn run(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Verify(args) => {
            let VerifyArgs {
                token,
                issuer,
                ca,
                leeway,
                require_tee,
                tee_policy,
                tee_collateral,
                tee_trust_root,
                tee_trust_root_amd,
                tee_fetch,
                tee_pcs_url,
                tee_kds_url,
                tee_fetch_ca,
                tee_statement,
                tee_statement_cert,
            } = *args;
            let token = token_text(&token)?;
            let ca_pem = match &ca {
                Some(p) => Some(read_file(p)?),
                None => None,
            };
            let tee = if require_tee
                || tee_policy.is_some()
                || !tee_collateral.is_empty()
                || !tee_trust_root.is_empty()
                || !tee_trust_root_amd.is_empty()
                || tee_fetch
                || tee_statement.is_some()
            {
                Some(tee_requirement(
                    tee_policy.as_deref(),
                    &tee_collateral,
                    &tee_trust_root,
                    &tee_trust_root_amd,
                )?)
            } else {
                None
            };
            let fetch = if tee_fetch {
                Some(CollateralClients::new(
                    &tee_pcs_url,
                    &tee_kds_url,
                    tee_fetch_ca.as_deref(),
                )?)
            } else {
                None
            };
            let now = UnixTime::now().0;
            // The release statement to pin, checked before anything is fetched.
            let mut tee = tee;
            let mut statement_error = None;
            if let (Some(file), Some(cert), Some(req)) =
                (&tee_statement, &tee_statement_cert, tee.as_mut())
            {
                match crate::commands::release::read_statement(file, cert, now)? {
                    Ok(s) => req.release = Some(s),
                    Err(e) => statement_error = Some(RpError::ReleaseStatement(e)),
                }
            }
            let result = match (&tee, statement_error) {
                (_, Some(e)) => Err(e),
                (tee, None) => match tee {
                    None => attesta_token::rp::verify_with_issuer(
                        &token,
                        &issuer,
                        ca_pem.as_deref(),
                        now,
                        leeway,
                    )
                    .await
                    .map(|v| (v, None)),
                    Some(req) => verify_tee(
                        &token,
                        &issuer,
                        ca_pem.as_deref(),
                        now,
                        leeway,
                        req,
                        fetch.as_ref(),
                    )
                    .await
                    .map(|(v, s)| (v, Some(s))),
                },
            };
            match result {
                Ok((v, service)) => {
                    let service = service.map(|s| {
                        json!({
                            "subject": s.subject,
                            "evidence_oid": s.evidence.source.oid(),
                            "evidence_kind": s.evidence.kind.as_str(),
                            "level": s.evidence.level.as_str(),
                            "test_root": s.evidence.test_root,
                            "claims": Value::Object(s.evidence.claims.into_map()),
                        })
                    });
                    if json_output() {
                        let mut doc = json!({"valid": true, "header": Value::Object(v.header), "claims": Value::Object(v.claims)});
                        if let Some(s) = &service {
                            doc["service"] = s.clone();
                        }
                        print_json(&doc);
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
                        if let Some(s) = &service {
                            out("service TEE evidence (verified, bound to the signing key):\n");
                            out(&crate::client::human(s)
                                .lines()
                                .map(|l| format!("  {l}\n"))
                                .collect::<String>());
                        }
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
                        let what = match e {
                            RpError::ServiceEvidence { .. }
                            | RpError::ServiceCertificateMissing(_)
                            | RpError::TeePolicy(_) => {
                                "token signature valid, but the service is not accepted"
                            }
                            RpError::ReleaseStatement(_) => {
                                "the release statement is not accepted (the token was not checked)"
                            }
                            _ => "invalid token",
                        };
                        out(&format!("{what} ({}): {message}\n", e.code()));
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
