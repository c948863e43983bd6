//! The HTTPS client the CLI's client commands share: where the server is,
//! which CA to trust, which credentials to send, MAA error bodies and
//! transport failures turned into readable errors, the exit-code contract
//! ([`Exit`]), and output (JSON or human-readable, closed pipes tolerated).

use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::{Context, anyhow};
use clap::Args;
use serde_json::Value;

/// How a failed command ends; the numbers are the contract `attesta --help`
/// documents (0 is success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The evidence, token, policy or request was judged and refused (by the
    /// server or an offline check).
    Rejected = 1,
    /// Bad arguments or input that is not what an option expects.
    Usage = 2,
    /// The server cannot be reached or talked to (connection, TLS, timeout,
    /// throttling, a 5xx or an answer that is not MAA's).
    Server = 3,
    /// A local file cannot be read or written.
    Io = 4,
}

/// An error that knows its exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error with an explicit exit code.
pub fn fail(exit: Exit, message: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Failure {
        exit,
        message: message.to_string(),
    })
}

/// The exit code of a failed command: an explicit [`Failure`] anywhere in
/// the chain wins; otherwise an HTTP client error means the server could not
/// be talked to, an I/O error a local file problem, and anything else bad
/// input (2) — 1 is only ever given by code that judged something.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(f) = e.chain().find_map(|c| c.downcast_ref::<Failure>()) {
        return f.exit as u8;
    }
    if e.chain()
        .any(|c| c.downcast_ref::<reqwest::Error>().is_some())
    {
        return Exit::Server as u8;
    }
    if e.chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some())
    {
        return Exit::Io as u8;
    }
    Exit::Usage as u8
}

/// Read a local file; a failure is exit 4 and names the file.
pub fn read_file(p: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| fail(Exit::Io, format!("cannot read {}: {e}", p.display())))
}

/// Output format: 0 = not yet set (auto), 1 = human, 2 = JSON (automatic,
/// stdout not a terminal), 3 = JSON (asked for with --json).
static OUTPUT: AtomicU8 = AtomicU8::new(0);

/// Choose the output format once, from `--json` and whether stdout is a
/// terminal.
pub fn set_output(json_flag: bool) {
    let mode = if json_flag {
        3
    } else if std::io::stdout().is_terminal() {
        1
    } else {
        2
    };
    OUTPUT.store(mode, Ordering::Relaxed);
}

/// Whether structured output is JSON (`--json`, or stdout is not a terminal).
pub fn json_output() -> bool {
    OUTPUT.load(Ordering::Relaxed) != 1
}

/// Whether `--json` was given explicitly (commands whose natural output is
/// text, such as `policy get`, switch to JSON only then).
pub fn json_requested() -> bool {
    OUTPUT.load(Ordering::Relaxed) == 3
}

/// Write text to stdout. A reader that went away (`attesta inspect … | head`)
/// ends the command quietly with success, as Unix filters do; any other write
/// failure is exit 4.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(Exit::Io as i32);
    }
}

/// Print a value: JSON (pretty) when piped or with `--json`, else the
/// human-readable rendering of [`human`].
pub fn print_json(v: &Value) {
    if json_output() {
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        ));
    } else {
        out(&human(v));
    }
}

/// A JSON value as indented `key: value` lines, for people at a terminal.
pub fn human(v: &Value) -> String {
    let mut s = String::new();
    render(v, 0, &mut s);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("-".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(if s.is_empty() {
            "\"\"".into()
        } else {
            s.clone()
        }),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        Value::Array(a) if a.len() <= 8 && a.iter().all(|x| !x.is_array() && !x.is_object()) => {
            let items: Vec<String> = a.iter().filter_map(scalar).collect();
            let line = items.join(", ");
            (line.len() <= 80).then_some(line)
        }
        _ => None,
    }
}

fn render(v: &Value, indent: usize, s: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, item) in o {
                match scalar(item) {
                    Some(text) => s.push_str(&format!("{pad}{k}: {text}\n")),
                    None => {
                        s.push_str(&format!("{pad}{k}:\n"));
                        render(item, indent + 2, s);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                match scalar(item) {
                    Some(text) => s.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        s.push_str(&format!("{pad}-\n"));
                        render(item, indent + 2, s);
                    }
                }
            }
        }
        other => s.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

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
            Some(p) => Ok(Some(read_file(&p)?)),
            None => Ok(None),
        }
    }

    /// An HTTPS client trusting the configured CA (besides the system roots).
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut b = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
        if let (Some(path), Some(pem)) = (self.ca_path(), self.ca_pem()?) {
            for cert in ca_certificates(&path, &pem)? {
                b = b.add_root_certificate(cert);
            }
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
        let pem = std::fs::read(&own).map_err(|e| {
            let e = refuse(format!("cannot read {}: {e}", own.display()));
            fail(Exit::Io, format!("{e:#}"))
        })?;
        let certs = ca_certificates(&own, &pem)?;
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .tls_certs_only(certs)
            .build()
            .context("cannot build the HTTPS client")
    }
}

/// The certificates of a PEM CA file, each checked to be X.509, so that a
/// file of another kind is named as such rather than surfacing later as a
/// TLS failure.
fn ca_certificates(path: &Path, pem: &[u8]) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let not_pem = |why: &str| {
        fail(
            Exit::Usage,
            format!(
                "CA file {} {why}; pass the server's certificate in PEM (-----BEGIN CERTIFICATE-----), e.g. <data dir>/tls/cert.pem, with --ca",
                path.display()
            ),
        )
    };
    let mut certs = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let item = item.map_err(|_| not_pem("is not PEM"))?;
        if item.label == "CERTIFICATE" {
            x509_parser::parse_x509_certificate(&item.contents)
                .map_err(|_| not_pem("holds a CERTIFICATE block that is not X.509"))?;
            certs.push(
                reqwest::Certificate::from_der(&item.contents)
                    .map_err(|_| not_pem("holds a certificate the TLS client refuses"))?,
            );
        }
    }
    if certs.is_empty() {
        return Err(not_pem("is not a PEM certificate (no CERTIFICATE block)"));
    }
    Ok(certs)
}

/// Why a request never got an answer, said so that a wrong CA, a wrong host
/// name, a closed port and a plain-HTTP server each read differently.
pub fn transport_error(e: &reqwest::Error) -> anyhow::Error {
    let url = e
        .url()
        .map(|u| {
            let mut u = u.clone();
            u.set_query(None);
            u.to_string()
        })
        .unwrap_or_else(|| "the server".into());
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let mut tls: Option<&rustls::Error> = None;
    let mut io_kinds = Vec::new();
    let mut detail = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        detail.push(c.to_string());
        // io::Error::source skips the error it wraps (and hyper nests them):
        // look inside each io::Error directly.
        let mut inner = Some(c);
        while let Some(i) = inner {
            if let Some(r) = i.downcast_ref::<rustls::Error>() {
                tls.get_or_insert(r);
            }
            inner = i.downcast_ref::<std::io::Error>().and_then(|io| {
                io_kinds.push(io.kind());
                io.get_ref()
                    .map(|x| x as &(dyn std::error::Error + 'static))
            });
        }
        cur = c.source();
    }
    detail.dedup();
    let cause = detail.last().cloned().unwrap_or_default();
    use rustls::CertificateError as C;
    let message = match tls {
        Some(rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => format!(
            "TLS: {url} presented a certificate that the trusted CA did not issue (unknown issuer or bad signature); pass the server's CA with --ca FILE (for a server's self-signed certificate: <its data dir>/tls/cert.pem)"
        ),
        Some(rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        )) => format!(
            "TLS: the server's certificate does not name '{host}'; use a host the certificate lists in --url (the default self-signed certificate names localhost, 127.0.0.1, ::1 and the configured hostnames)"
        ),
        Some(rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        )) => format!(
            "TLS: the server's certificate is outside its validity period (check both clocks, or renew the certificate): {cause}"
        ),
        Some(rustls::Error::InvalidMessage(_)) => format!(
            "TLS: {url} does not speak TLS (a plain HTTP server?); check the scheme and port of --url"
        ),
        Some(other) => format!("TLS handshake with {url} failed: {other}"),
        None => match io_kinds
            .iter()
            .find(|k| **k == std::io::ErrorKind::ConnectionRefused)
        {
            Some(_) => format!(
                "nothing listens at {url} (connection refused); start the server (`attesta serve`) or fix --url"
            ),
            _ if e.is_timeout() => format!(
                "{url} did not answer within 60 s; check that the server is up and reachable"
            ),
            _ if cause.contains("dns error") || cause.contains("failed to lookup") => {
                format!("cannot resolve the host of {url}: {cause}; check --url")
            }
            _ => format!("cannot talk to {url}: {cause}; check --url and that the server is up"),
        },
    };
    fail(Exit::Server, message)
}

/// Send a request and return the JSON body (or `Value::Null` for an empty
/// success). No answer is exit 3 with its cause; a 4xx answer is a refusal
/// (exit 1) with MAA's code and message, except a throttled (429), timed
/// out (408) or misdirected (421) request and any 5xx, which are exit 3.
pub async fn send(req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| fail(Exit::Server, format!("reading the server's answer: {e}")))?;
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
        let exit = match status.as_u16() {
            408 | 421 | 429 => Exit::Server,
            400..=499 => Exit::Rejected,
            _ => Exit::Server,
        };
        let hint = match status.as_u16() {
            401 => " (pass the provider's --token, or the admin token with --admin-token)",
            421 => " (the server answers only for its configured host names: check --url)",
            429 | 503 => " (the server is busy: retry later)",
            _ => "",
        };
        return Err(fail(
            exit,
            format!("server answered {status}: {code}: {msg}{hint}"),
        ));
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        fail(
            Exit::Server,
            "the server's answer is not JSON; is --url an Attesta (or MAA) endpoint?",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_rendering_is_indented_key_value_lines() {
        let v = json!({
            "name": "lab",
            "default": false,
            "tokens": [],
            "roots": ["a", "b"],
            "config": {"grace": 60, "time": null},
            "certs": [{"subject": "CN=x", "sha256": "ab"}],
        });
        assert_eq!(
            human(&v),
            "name: lab\ndefault: false\ntokens: []\nroots: a, b\nconfig:\n  grace: 60\n  time: -\ncerts:\n  -\n    subject: CN=x\n    sha256: ab\n"
        );
    }

    #[test]
    fn exit_codes_follow_the_cause() {
        assert_eq!(exit_code(&fail(Exit::Rejected, "no")), 1);
        let io = anyhow::Error::new(std::io::Error::other("disk")).context("writing");
        assert_eq!(exit_code(&io), 4);
        assert_eq!(exit_code(&anyhow!("bad flag")), 2);
        assert_eq!(exit_code(&fail(Exit::Server, "down").context("attest")), 3);
    }
}
