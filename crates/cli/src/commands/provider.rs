//! `attesta provider create|list|show|update|delete` over the admin API.
//!
//! Providers are shown with their test roots and vTPM CAs summarised
//! (subject and SHA-256 of each certificate) and their TPM CRLs by issuer
//! and `nextUpdate`, not as the PEM text the server stores.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::{Exit, ServerArgs, fail, print_json, read_file, send};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TrustModel {
    /// Control-plane calls need a bearer token.
    Aad,
    /// Policy changes must be signed by a policy-management certificate.
    Isolated,
}

/// TPM settings of a provider. In `update`, a list given replaces the list
/// stored; what is not given stays.
#[derive(Debug, Args)]
pub struct TpmArgs {
    /// PEM CA of virtual-TPM AK certificates (Trusted Launch) to trust
    /// (repeatable).
    #[arg(long = "vtpm-root")]
    vtpm_roots: Vec<PathBuf>,
    /// CRL (PEM or DER) of a TPM AK certificate CA, checked on every chain
    /// through that CA (repeatable).
    #[arg(long = "tpm-crl")]
    tpm_crls: Vec<PathBuf>,
    /// aikPubHash (base64 SHA-256 of the AK public key) trusted without an
    /// AK certificate (repeatable).
    #[arg(long = "tpm-trusted-ak")]
    tpm_trusted_aks: Vec<String>,
    /// Accept SHA-1 PCR banks and quotes (recorded in the token).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    tpm_allow_sha1: Option<bool>,
}

impl TpmArgs {
    fn given(&self) -> bool {
        !self.vtpm_roots.is_empty()
            || !self.tpm_crls.is_empty()
            || !self.tpm_trusted_aks.is_empty()
            || self.tpm_allow_sha1.is_some()
    }

    /// Write what was given into `config`.
    fn apply(&self, config: &mut Value) -> anyhow::Result<()> {
        if !self.vtpm_roots.is_empty() {
            config["vtpm_roots"] = json!(read_all(&self.vtpm_roots)?);
        }
        if !self.tpm_crls.is_empty() {
            config["tpm_crls"] = json!(read_crls(&self.tpm_crls)?);
        }
        if !self.tpm_trusted_aks.is_empty() {
            config["tpm_trusted_aks"] = json!(self.tpm_trusted_aks);
        }
        if let Some(b) = self.tpm_allow_sha1 {
            config["tpm_allow_sha1"] = json!(b);
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Admin token [default: <data dir>/admin-token].
    #[arg(long, env = "ATTESTA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCmd {
    /// Create a provider.
    Create {
        /// Provider name (a DNS label: lowercase letters, digits, hyphens).
        name: String,
        /// Trust model.
        #[arg(long, value_enum, default_value_t = TrustModel::Aad)]
        trust_model: TrustModel,
        /// A bearer token accepted on the provider's control plane (repeatable).
        #[arg(long = "aad-token")]
        aad_tokens: Vec<String>,
        /// PEM file with an initial policy-management certificate (repeatable;
        /// required for isolated providers).
        #[arg(long = "policy-cert")]
        policy_certs: Vec<PathBuf>,
        /// PEM root to trust besides Intel's SGX Root CA, for SGX/OE/TDX
        /// evidence under a test PKI such as `attesta sample` writes (repeatable).
        /// Tokens whose chain ends there carry x-attesta-test-root.
        #[arg(long = "test-root-intel")]
        test_roots_intel: Vec<PathBuf>,
        /// PEM root to trust besides AMD's ARKs (repeatable).
        #[arg(long = "test-root-amd")]
        test_roots_amd: Vec<PathBuf>,
        /// PEM TPM attestation-key CA to trust (repeatable).
        #[arg(long = "test-root-tpm")]
        test_roots_tpm: Vec<PathBuf>,
        /// Seconds expired vendor collateral may still be used when it cannot be refreshed.
        #[arg(long)]
        collateral_grace_secs: Option<u64>,
        /// Pin the verification time (RFC 3339), for testing with recorded evidence.
        #[arg(long)]
        verification_time: Option<String>,
        #[command(flatten)]
        tpm: TpmArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List providers.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one provider.
    Show {
        /// Provider name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Change a provider's verification settings or control-plane tokens;
    /// what is not given stays as it is (a list given replaces that list).
    Update {
        /// Provider name.
        name: String,
        /// Replace the control-plane bearer tokens (repeatable).
        #[arg(long = "aad-token")]
        aad_tokens: Vec<String>,
        /// Replace the Intel test roots with these PEM files (repeatable).
        #[arg(long = "test-root-intel")]
        test_roots_intel: Vec<PathBuf>,
        /// Replace the AMD test roots with these PEM files (repeatable).
        #[arg(long = "test-root-amd")]
        test_roots_amd: Vec<PathBuf>,
        /// Replace the TPM attestation-key CAs with these PEM files (repeatable).
        #[arg(long = "test-root-tpm")]
        test_roots_tpm: Vec<PathBuf>,
        /// Remove every test root (Intel, AMD and TPM).
        #[arg(long, conflicts_with_all = ["test_roots_intel", "test_roots_amd", "test_roots_tpm"])]
        clear_test_roots: bool,
        /// Seconds expired vendor collateral may still be used when it cannot be refreshed.
        #[arg(long)]
        collateral_grace_secs: Option<u64>,
        /// Pin the verification time (RFC 3339), for testing with recorded evidence.
        #[arg(long)]
        verification_time: Option<String>,
        /// Verify at the current time again (remove a pinned verification time).
        #[arg(long, conflicts_with = "verification_time")]
        clear_verification_time: bool,
        #[command(flatten)]
        tpm: TpmArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete a provider with its policies and certificates.
    Delete {
        /// Provider name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: ProviderCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCmd::Create {
            name,
            trust_model,
            aad_tokens,
            policy_certs,
            test_roots_intel,
            test_roots_amd,
            test_roots_tpm,
            collateral_grace_secs,
            verification_time,
            tpm,
            admin,
        } => {
            let mut config = serde_json::json!({
                "test_roots": {
                    "intel": read_all(&test_roots_intel)?,
                    "amd": read_all(&test_roots_amd)?,
                    "tpm": read_all(&test_roots_tpm)?,
                }
            });
            if let Some(g) = collateral_grace_secs {
                config["collateral_grace_secs"] = json!(g);
            }
            if let Some(t) = verification_time {
                config["verification_time"] = json!(t);
            }
            tpm.apply(&mut config)?;
            let pems = read_all(&policy_certs)?;
            let body = json!({
                "name": name,
                "trust_model": match trust_model { TrustModel::Aad => "aad", TrustModel::Isolated => "isolated" },
                "aad_tokens": aad_tokens,
                "policy_certificates": pems,
                "config": config,
            });
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/providers", admin.server.root()))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await?;
            print_json(&summary(v));
        }
        ProviderCmd::List { admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!("{}/admin/providers", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            let mut v = v;
            if let Some(list) = v.get_mut("providers").and_then(Value::as_array_mut) {
                for p in list.iter_mut() {
                    *p = summary(p.take());
                }
            }
            print_json(&v);
        }
        ProviderCmd::Show { name, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!("{}/admin/providers/{name}", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            print_json(&summary(v));
        }
        ProviderCmd::Update {
            name,
            aad_tokens,
            test_roots_intel,
            test_roots_amd,
            test_roots_tpm,
            clear_test_roots,
            collateral_grace_secs,
            verification_time,
            clear_verification_time,
            tpm,
            admin,
        } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let url = format!("{}/admin/providers/{name}", admin.server.root());
            let mut body = serde_json::Map::new();
            let changes_config = clear_test_roots
                || !test_roots_intel.is_empty()
                || !test_roots_amd.is_empty()
                || !test_roots_tpm.is_empty()
                || collateral_grace_secs.is_some()
                || verification_time.is_some()
                || clear_verification_time
                || tpm.given();
            if changes_config {
                // The server replaces the whole configuration: start from the
                // current one so that what is not given stays.
                let current = send(c.get(&url).bearer_auth(&token)).await?;
                let mut config = current.get("config").cloned().unwrap_or_else(|| json!({}));
                if !config.is_object() {
                    config = json!({});
                }
                if clear_test_roots {
                    config["test_roots"] = json!({"intel": [], "amd": [], "tpm": []});
                }
                for (kind, paths) in [
                    ("intel", &test_roots_intel),
                    ("amd", &test_roots_amd),
                    ("tpm", &test_roots_tpm),
                ] {
                    if !paths.is_empty() {
                        if !config["test_roots"].is_object() {
                            config["test_roots"] = json!({});
                        }
                        config["test_roots"][kind] = json!(read_all(paths)?);
                    }
                }
                if let Some(g) = collateral_grace_secs {
                    config["collateral_grace_secs"] = json!(g);
                }
                if let Some(t) = verification_time {
                    config["verification_time"] = json!(t);
                }
                if clear_verification_time && let Some(o) = config.as_object_mut() {
                    o.remove("verification_time");
                }
                tpm.apply(&mut config)?;
                body.insert("config".into(), config);
            }
            if !aad_tokens.is_empty() {
                body.insert("aad_tokens".into(), json!(aad_tokens));
            }
            if body.is_empty() {
                return Err(fail(
                    Exit::Usage,
                    "nothing to update: give --aad-token, --test-root-*, --clear-test-roots, --collateral-grace-secs, --verification-time, --clear-verification-time, --vtpm-root, --tpm-crl, --tpm-trusted-ak or --tpm-allow-sha1",
                ));
            }
            let v = send(c.patch(&url).bearer_auth(&token).json(&Value::Object(body))).await?;
            print_json(&summary(v));
        }
        ProviderCmd::Delete { name, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            send(
                c.delete(format!("{}/admin/providers/{name}", admin.server.root()))
                    .bearer_auth(token),
            )
            .await?;
            eprintln!("deleted provider '{name}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each file's text (PEM), naming an unreadable file (exit 4).
fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    paths
        .iter()
        .map(|p| Ok(String::from_utf8_lossy(&read_file(p)?).into_owned()))
        .collect()
}

/// CRL files as PEM text: PEM as it is, DER wrapped.
fn read_crls(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    paths
        .iter()
        .map(|p| {
            let bytes = read_file(p)?;
            if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                Ok(attesta_evidence::pki::pem_block("X509 CRL", &bytes))
            }
        })
        .collect()
}

/// A provider as the server shows it, with each test-root and vTPM CA PEM
/// replaced by the subject and SHA-256 fingerprint of its certificates, and
/// each TPM CRL by its issuer, `nextUpdate` and SHA-256.
fn summary(mut v: Value) -> Value {
    let Some(config) = v.get_mut("config") else {
        return v;
    };
    for (key, describe) in [
        ("vtpm_roots", describe_pem as fn(&str) -> Vec<Value>),
        ("tpm_crls", describe_crls),
    ] {
        if let Some(list) = config.get_mut(key).and_then(Value::as_array_mut) {
            let described: Vec<Value> = list
                .iter()
                .filter_map(Value::as_str)
                .flat_map(describe)
                .collect();
            *list = described;
        }
    }
    if let Some(roots) = config.get_mut("test_roots").and_then(Value::as_object_mut) {
        for list in roots.values_mut() {
            if let Some(items) = list.as_array_mut() {
                let mut described = Vec::new();
                for pem in items.iter().filter_map(Value::as_str) {
                    described.extend(describe_pem(pem));
                }
                *list = Value::Array(described);
            }
        }
    }
    v
}

fn describe_crls(pem: &str) -> Vec<Value> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .flatten()
        .map(|item| {
            let (issuer, next_update) = x509_parser::parse_x509_crl(&item.contents)
                .map(|(_, c)| {
                    (
                        c.issuer().to_string(),
                        c.next_update()
                            .map(|t| attesta_evidence::types::rfc3339(t.timestamp())),
                    )
                })
                .unwrap_or_else(|_| ("(not an X.509 CRL)".into(), None));
            json!({
                "issuer": issuer,
                "next_update": next_update,
                "sha256": hex::encode(attesta_evidence::crypto::sha256(&item.contents)),
            })
        })
        .collect()
}

fn describe_pem(pem: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()).flatten() {
        let subject = x509_parser::parse_x509_certificate(&item.contents)
            .map(|(_, c)| c.subject().to_string())
            .unwrap_or_else(|_| "(not an X.509 certificate)".into());
        out.push(json!({
            "subject": subject,
            "sha256": hex::encode(attesta_evidence::crypto::sha256(&item.contents)),
        }));
    }
    out
}
