//! `attesta audit list|verify` over the admin API: the audit log of
//! control-plane changes. `verify` fetches every record and checkpoint and
//! checks them here with the server crate's own verification
//! (`attesta_server::audit::verify`), against the keys the service publishes
//! at `/certs` and any certificate given with `--cert`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::provider::AdminArgs;
use crate::client::{Exit, fail, json_output, out, print_json, send};
use attesta_server::audit::{TrustedKeys, verify};
use attesta_store::audit::MAX_PAGE;
use attesta_store::{AuditCheckpoint, AuditRecord};

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// List audit records, oldest first (one page).
    List {
        /// Show records after this record number (0: from the start).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// How many records at most (1-1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Fetch the whole log and its signed checkpoints and verify them: the
    /// hash chain (an edited, deleted or reordered record is named) and each
    /// checkpoint's signature and hash (a removed tail or a rewritten chain
    /// is named). Exit 1 when the log does not verify.
    Verify {
        /// PEM or DER certificate to trust for checkpoint signatures besides
        /// the keys the service publishes at /certs (e.g. a retired key's
        /// certificate kept from before; repeatable).
        #[arg(long = "cert")]
        certs: Vec<PathBuf>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCmd::List {
            after,
            limit,
            admin,
        } => {
            if after < 0 {
                return Err(fail(Exit::Usage, "--after must be 0 or more"));
            }
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!(
                    "{}/admin/audit?after={after}&limit={limit}",
                    admin.server.root()
                ))
                .bearer_auth(token),
            )
            .await?;
            let records: Vec<AuditRecord> = parse(&v, "records")?;
            if json_output() {
                let listed: Vec<Value> = records.iter().map(listed).collect();
                print_json(&json!({ "records": listed, "next": v.get("next") }));
            } else {
                let mut text = String::new();
                for r in &records {
                    text.push_str(&line(r));
                }
                if records.is_empty() {
                    text.push_str("no records\n");
                }
                if let Some(next) = v.get("next").and_then(Value::as_i64) {
                    text.push_str(&format!("more: --after {next}\n"));
                }
                out(&text);
            }
        }
        AuditCmd::Verify { certs, admin } => {
            let mut extra = Vec::new();
            for p in &certs {
                extra.extend(super::certs(p)?);
            }
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let root = admin.server.root();
            let records: Vec<AuditRecord> =
                fetch_all(&c, &token, &format!("{root}/admin/audit"), "records").await?;
            let checkpoints: Vec<AuditCheckpoint> = fetch_all(
                &c,
                &token,
                &format!("{root}/admin/audit/checkpoints"),
                "checkpoints",
            )
            .await?;
            let jwks: attesta_token::jwks::Jwks = serde_json::from_value(
                send(c.get(format!("{root}/certs"))).await?,
            )
            .map_err(|e| {
                fail(
                    Exit::Server,
                    format!("the server's /certs is not a key set: {e}"),
                )
            })?;
            let keys = TrustedKeys::new(&jwks, &extra);
            match verify(&records, &checkpoints, &keys) {
                Ok(report) => {
                    for u in &report.unverified_checkpoints {
                        eprintln!(
                            "warning: checkpoint {} not checked: {}",
                            u.checkpoint, u.reason
                        );
                    }
                    if report.records > 0 && report.latest_verified_checkpoint.is_none() {
                        eprintln!(
                            "warning: no checkpoint signed by a trusted key covers the log yet: \
                             the hash chain alone does not show a removal of the newest records \
                             or a rewrite by someone who can recompute hashes"
                        );
                    }
                    let mut v = serde_json::Map::new();
                    v.insert("verified".into(), json!(true));
                    if let Ok(Value::Object(fields)) = serde_json::to_value(&report) {
                        v.extend(fields);
                    }
                    print_json(&Value::Object(v));
                }
                Err(fault) => {
                    print_json(&json!({
                        "verified": false,
                        "seq": fault.seq(),
                        "error": fault.to_string(),
                    }));
                    return Err(fail(
                        Exit::Rejected,
                        format!("the audit log does not verify: {fault}"),
                    ));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A member of a server answer as typed values (exit 3 when it is not).
fn parse<T: serde::de::DeserializeOwned>(v: &Value, member: &str) -> anyhow::Result<Vec<T>> {
    serde_json::from_value(v.get(member).cloned().unwrap_or(Value::Null)).map_err(|e| {
        fail(
            Exit::Server,
            format!("the server's answer has no valid '{member}' list: {e}"),
        )
    })
}

/// Every page of an audit list route.
async fn fetch_all<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    token: &str,
    url: &str,
    member: &str,
) -> anyhow::Result<Vec<T>> {
    let mut all = Vec::new();
    let mut after: i64 = 0;
    loop {
        let v = send(
            c.get(format!("{url}?after={after}&limit={MAX_PAGE}"))
                .bearer_auth(token),
        )
        .await?;
        all.extend(parse::<T>(&v, member)?);
        match v.get("next").and_then(Value::as_i64) {
            // Pages must move forward, or a broken server would loop us.
            Some(next) if next > after => after = next,
            Some(_) => {
                return Err(fail(
                    Exit::Server,
                    "the server's audit pages do not move forward",
                ));
            }
            None => return Ok(all),
        }
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A record as `list --json` shows it: as stored, plus its time in RFC 3339.
fn listed(r: &AuditRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    v["time_rfc3339"] = json!(rfc3339(r.time));
    v
}

/// One record per line for a terminal.
fn line(r: &AuditRecord) -> String {
    let result = if r.error_code.is_empty() {
        r.result.clone()
    } else {
        format!("{} ({})", r.result, r.error_code)
    };
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{:>6}  {}  {:<24} {:<32} {:<28} {:<16} {}\n",
        r.seq,
        rfc3339(r.time),
        r.operation,
        result,
        r.caller,
        or_dash(&r.provider),
        or_dash(&r.target),
    )
}
