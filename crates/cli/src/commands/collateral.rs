//! `attesta collateral import DIR`: hand an offline DCAP collateral bundle
//! (the file layout of Intel's PCS responses) to a running server, for
//! air-gapped installs. The server verifies every signature when it uses it.
//! `attesta collateral list|show|delete`: the server's cached collateral,
//! over `GET`/`DELETE /admin/collateral[/{id}]`, dates in RFC 3339.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::provider::AdminArgs;
use crate::client::{json_output, out, print_json, send};

#[derive(Debug, Subcommand)]
pub enum CollateralCmd {
    /// Import a bundle directory: Intel DCAP (tcb_info.json,
    /// tcb_info_issuer_chain.pem, qe_identity.json, qe_identity_issuer_chain.pem,
    /// pck_crl.der, pck_crl_issuer_chain.pem, root_ca_crl.der), or SEV-SNP
    /// endorsements (VCEK/VLEK and ASK/ARK certificates, DER or PEM).
    Import {
        /// The bundle directory (e.g. demo/collateral of `attesta sample openenclave`, or the
        /// directory of `attesta sample snp`).
        dir: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the server's cached collateral: id, type, root, FMSPC or chip,
    /// nextUpdate, source (table on a terminal; JSON with --json or piped).
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one cached entry with its details (TCB levels, CRLs, raw JSON).
    Show {
        /// The entry's id, as `attesta collateral list` prints it.
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete one cached entry; the server fetches it again when it is
    /// next needed (or, with no collateral service, fails until re-imported).
    Delete {
        /// The entry's id, as `attesta collateral list` prints it.
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// An id as one URL path segment (ids are URL-safe; anything else is
/// escaped and the server answers 404).
fn id_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every page of `GET /admin/collateral`.
async fn list_all(admin: &AdminArgs) -> anyhow::Result<Vec<serde_json::Value>> {
    let (c, token) = admin.server.admin_client(&admin.admin_token)?;
    let mut entries = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let after_q = after
            .as_deref()
            .map(|a| format!("&after={}", id_segment(a)))
            .unwrap_or_default();
        let page = send(
            c.get(format!(
                "{}/admin/collateral?limit=1000{after_q}",
                admin.server.root()
            ))
            .bearer_auth(&token),
        )
        .await?;
        if let Some(list) = page["entries"].as_array() {
            entries.extend(list.iter().cloned());
        }
        match page["next"].as_str() {
            Some(next) if after.as_deref() != Some(next) => after = Some(next.to_string()),
            _ => return Ok(entries),
        }
    }
}

/// The list as a table for people.
fn table(entries: &[serde_json::Value]) -> String {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            let what = e["fmspc"]
                .as_str()
                .map(|f| format!("{f} {}", s(&e["pckCa"])))
                .or_else(|| e["product"].as_str().map(str::to_string))
                .unwrap_or_else(|| "-".into());
            let root = match (e["root"]["subject"].as_str(), e["root"]["sha256"].as_str()) {
                (Some(subj), Some(fp)) => {
                    let cn = subj
                        .split(", ")
                        .find_map(|p| p.strip_prefix("CN="))
                        .unwrap_or(subj);
                    format!("{cn} ({})", &fp[..fp.len().min(12)])
                }
                _ => "-".into(),
            };
            [
                s(&e["id"]),
                s(&e["type"]),
                what,
                root,
                s(&e["nextUpdate"]),
                s(&e["source"]),
            ]
        })
        .collect();
    let head = ["ID", "TYPE", "PLATFORM", "ROOT", "NEXT UPDATE", "SOURCE"].map(String::from);
    let mut width = head.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut text = String::new();
    for r in std::iter::once(&head).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    if rows.is_empty() {
        text.push_str("(no cached collateral)\n");
    }
    text
}

pub async fn run(cmd: CollateralCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCmd::Import { dir, admin } if !dir.join("tcb_info.json").exists() => {
            // Not a DCAP bundle: SEV-SNP endorsements (VCEK/VLEK, ASK/ASVK, ARK files).
            use base64::Engine;
            let mut files = serde_json::Map::new();
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
            {
                let p = entry?.path();
                if p.is_file() {
                    let name = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    let bytes = std::fs::read(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    files.insert(
                        name,
                        base64::engine::general_purpose::STANDARD
                            .encode(bytes)
                            .into(),
                    );
                }
            }
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/collateral/snp", admin.server.root()))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "files": files })),
            )
            .await?;
            print_json(&v);
        }
        CollateralCmd::Import { dir, admin } => {
            let bundle = attesta_collateral::import_dir(&dir)?;
            let body = attesta_collateral::serialize(&bundle);
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.post(format!("{}/admin/collateral", admin.server.root()))
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await?;
            print_json(&v);
        }
        CollateralCmd::List { admin } => {
            let entries = list_all(&admin).await?;
            if json_output() {
                print_json(&serde_json::json!({ "entries": entries }));
            } else {
                out(&table(&entries));
            }
        }
        CollateralCmd::Show { id, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            let v = send(
                c.get(format!(
                    "{}/admin/collateral/{}",
                    admin.server.root(),
                    id_segment(&id)
                ))
                .bearer_auth(token),
            )
            .await?;
            print_json(&v);
        }
        CollateralCmd::Delete { id, admin } => {
            let (c, token) = admin.server.admin_client(&admin.admin_token)?;
            send(
                c.delete(format!(
                    "{}/admin/collateral/{}",
                    admin.server.root(),
                    id_segment(&id)
                ))
                .bearer_auth(token),
            )
            .await?;
            eprintln!("deleted {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_platform_root_and_dates_and_escapes_ids() {
        let entries = vec![serde_json::json!({
            "id": "sgx-collateral.44a0.00A067110000.processor",
            "type": "sgx-collateral",
            "fmspc": "00A067110000",
            "pckCa": "processor",
            "root": {"sha256": "44a0196b2b99f889b8e1", "subject": "CN=Intel SGX Root CA, O=Intel Corporation"},
            "nextUpdate": "2025-07-19T10:01:18Z",
            "source": "imported",
        })];
        let t = table(&entries);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(lines[0].starts_with("ID"), "{t}");
        for want in [
            "00A067110000 processor",
            "Intel SGX Root CA (44a0196b2b99)",
            "2025-07-19T10:01:18Z",
            "imported",
        ] {
            assert!(lines[1].contains(want), "{want}: {t}");
        }
        assert!(table(&[]).contains("no cached collateral"));
        assert_eq!(id_segment("a.b~c-d_e"), "a.b~c-d_e");
        assert_eq!(id_segment("a/b c"), "a%2Fb%20c");
    }
}
