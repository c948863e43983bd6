//! The HTTPS client the CLI's client commands share: where the server is,
//! which CA to trust, which credentials to send, and MAA error bodies turned
//! into readable errors.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::Value;

/// Where the server is and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "ATTESTA_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// PEM CA certificate to trust for the server's TLS certificate
    /// [default: <data dir>/tls/cert.pem when it exists].
    #[arg(long, env = "ATTESTA_CA")]
    pub ca: Option<PathBuf>,
    /// The server's data directory (for the default --ca and admin token).
    #[arg(long, env = "ATTESTA_DATA_DIR", default_value = "./attesta-data")]
    pub data_dir: PathBuf,
    /// Address a provider by path prefix (/providers/NAME) instead of the URL's host.
    #[arg(long)]
    pub provider: Option<String>,
}

impl ServerArgs {
    /// The provider base URL (the token issuer).
    pub fn base(&self) -> String {
        let url = self.url.trim_end_matches('/');
        match &self.provider {
            Some(p) => format!("{url}/providers/{p}"),
            None => url.to_string(),
        }
    }

    /// The server URL without provider prefix (admin routes).
    pub fn root(&self) -> String {
        self.url.trim_end_matches('/').to_string()
    }

    fn ca_path(&self) -> Option<PathBuf> {
        self.ca.clone().or_else(|| {
            let p = self.data_dir.join("tls").join("cert.pem");
            p.exists().then_some(p)
        })
    }

    /// The CA certificate PEM, if any.
    pub fn ca_pem(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match self.ca_path() {
            Some(p) => {
                Ok(Some(std::fs::read(&p).with_context(|| {
                    format!("cannot read CA file {}", p.display())
                })?))
            }
            None => Ok(None),
        }
    }

    /// An HTTPS client trusting the configured CA (besides the system roots).
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut b = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
        if let Some(pem) = self.ca_pem()? {
            let cert = reqwest::Certificate::from_pem(&pem)
                .context("the CA file is not a PEM certificate")?;
            b = b.add_root_certificate(cert);
        }
        b.build().context("cannot build the HTTPS client")
    }

    /// The admin token and a client to send it with.
    ///
    /// A token given explicitly (`--admin-token`, `ATTESTA_ADMIN_TOKEN`) goes
    /// to `--url` with the usual trust. The data directory's own token is
    /// sent only to that data directory's own server: the client then trusts
    /// nothing but `<data dir>/tls/cert.pem`, so the token cannot reach any
    /// other server, whatever `--url` says.
    pub fn admin_client(&self, flag: &Option<String>) -> anyhow::Result<(reqwest::Client, String)> {
        if let Some(t) = flag {
            return Ok((self.client()?, t.clone()));
        }
        Ok((self.own_server_client()?, self.data_dir_admin_token()?))
    }

    /// The data directory's admin token, if readable (no client: see
    /// [`Self::own_server_client`] for where it may be sent).
    pub fn data_dir_admin_token(&self) -> anyhow::Result<String> {
        let p = self.data_dir.join("admin-token");
        let t = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "no admin token: pass --admin-token, set ATTESTA_ADMIN_TOKEN, or point --data-dir at the server's data directory ({} not readable)",
                p.display()
            )
        })?;
        Ok(t.trim().to_string())
    }

    /// A client that trusts only the data directory's own TLS certificate,
    /// for sending the data directory's credentials.
    pub fn own_server_client(&self) -> anyhow::Result<reqwest::Client> {
        let own = self.data_dir.join("tls").join("cert.pem");
        let refuse = |why: String| {
            anyhow!(
                "{why}; the admin token of {} is sent only to that data directory's own server — for another server pass --admin-token (or ATTESTA_ADMIN_TOKEN) explicitly",
                self.data_dir.display()
            )
        };
        if let Some(ca) = &self.ca {
            let same = std::fs::canonicalize(ca).ok() == std::fs::canonicalize(&own).ok();
            if !same {
                return Err(refuse(format!(
                    "--ca {} is not the data directory's certificate",
                    ca.display()
                )));
            }
        }
        let pem = std::fs::read(&own)
            .map_err(|e| refuse(format!("cannot read {}: {e}", own.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .context("the data directory's TLS certificate is not PEM")?;
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .tls_certs_only(certs)
            .build()
            .context("cannot build the HTTPS client")
    }
}

/// Send a request and return the JSON body (or `Value::Null` for an empty
/// success); a non-success status becomes an error with MAA's code and message.
pub async fn send(req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let resp = req.send().await.map_err(|e| {
        anyhow!("request failed: {e}; is the server running and is --url/--ca right?")
    })?;
    let status = resp.status();
    let bytes = resp.bytes().await.context("reading the response")?;
    if !status.is_success() {
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let (code, msg) = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .map(|e| {
                (
                    e.get("code")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .unwrap_or_else(|| (String::new(), String::from_utf8_lossy(&bytes).to_string()));
        bail!("server answered {status}: {code}: {msg}");
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).context("the server's answer is not JSON")
}

/// Print JSON prettily on stdout.
pub fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}
