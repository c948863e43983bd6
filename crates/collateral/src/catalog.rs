//! What a cache entry is, for people: the admin API's collateral list and
//! detail views (`GET /admin/collateral[/{id}]`) and the ids that name
//! entries there.
//!
//! An entry's id is its cache key with `/` written as `~`, so every id is
//! URL-safe and maps back to exactly one key. DCAP keys
//! ([`crate::cache_key`]) already are. Nothing read here is trusted or
//! verified: it describes what is stored.

use attesta_evidence::types::rfc3339;
use serde_json::{Value, json};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::bundle::{Source, decode};
use crate::parts::{dcap_type, fmspc_of, next_update_of, pck_ca_of, root_of};
use crate::snp_certs::SnpKeyKind;
use attesta_evidence::dcap::{DcapCollateral, DcapTee};

/// Longest id accepted (keys are far shorter).
const MAX_ID: usize = 512;

/// The id of the entry under `key`.
pub fn entry_id(key: &str) -> String {
    key.replace('/', "~")
}

/// The cache key an id names, or `None` when the id cannot be one (empty,
/// too long, or a character outside `A-Z a-z 0-9 . _ - ~`).
pub fn key_of_id(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'));
    ok.then(|| id.replace('~', "/"))
}

fn date(secs: Option<i64>) -> Value {
    secs.map_or(Value::Null, |s| Value::String(rfc3339(s)))
}

fn crl_view(der: &[u8]) -> Value {
    match CertificateRevocationList::from_der(der) {
        Ok((_, crl)) => json!({
            "issuer": crl.issuer().to_string(),
            "thisUpdate": rfc3339(crl.last_update().timestamp()),
            "nextUpdate": date(crl.next_update().map(|t| t.timestamp())),
            "revoked": crl.iter_revoked_certificates().count(),
        }),
        Err(e) => json!({ "error": format!("not a DER X.509 CRL: {e}") }),
    }
}

fn json_doc(text: &str, outer: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get(outer).cloned())
        .unwrap_or(Value::Null)
}

fn parse_date(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The TCB info's levels, each as status, date and advisories.
fn tcb_levels(info: &Value) -> Value {
    let levels = info
        .get("tcbLevels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    json!({
                        "tcbStatus": l.get("tcbStatus").cloned().unwrap_or(Value::Null),
                        "tcbDate": l.get("tcbDate").cloned().unwrap_or(Value::Null),
                        "advisoryIDs": l.get("advisoryIDs").cloned().unwrap_or(json!([])),
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Value::Array(levels)
}

fn dcap_view(c: &DcapCollateral, source: Option<Source>, detailed: bool) -> Value {
    let mut v = serde_json::Map::new();
    let tee = fmspc_of(c).ok();
    if let Some((tee, fmspc)) = &tee {
        v.insert("type".into(), json!(dcap_type(*tee)));
        v.insert("fmspc".into(), json!(fmspc));
    }
    v.insert(
        "pckCa".into(),
        pck_ca_of(c).map_or(Value::Null, |ca| json!(ca.as_str())),
    );
    v.insert(
        "root".into(),
        root_of(c).map_or(
            Value::Null,
            |r| json!({"sha256": hex::encode(r.fingerprint), "subject": r.subject}),
        ),
    );
    let info = json_doc(&c.tcb_info_json, "tcbInfo");
    v.insert("issueDate".into(), date(parse_date(&info["issueDate"])));
    v.insert("nextUpdate".into(), date(next_update_of(c).ok()));
    v.insert(
        "tcbEvaluationDataNumber".into(),
        info.get("tcbEvaluationDataNumber")
            .cloned()
            .unwrap_or(Value::Null),
    );
    v.insert(
        "source".into(),
        json!(source.unwrap_or(Source::Fetched).as_str()),
    );
    if detailed {
        let qe = json_doc(&c.qe_identity_json, "enclaveIdentity");
        v.insert(
            "tcbInfo".into(),
            json!({
                "id": info.get("id").cloned().unwrap_or(match tee {
                    Some((DcapTee::Tdx, _)) => json!("TDX"),
                    _ => json!("SGX"),
                }),
                "version": info["version"],
                "issueDate": info["issueDate"],
                "nextUpdate": info["nextUpdate"],
                "tcbLevels": tcb_levels(&info),
            }),
        );
        v.insert(
            "qeIdentity".into(),
            json!({
                "id": qe["id"],
                "version": qe["version"],
                "issueDate": qe["issueDate"],
                "nextUpdate": qe["nextUpdate"],
                "tcbEvaluationDataNumber": qe["tcbEvaluationDataNumber"],
                "tcbLevels": qe["tcbLevels"],
            }),
        );
        v.insert("pckCrl".into(), crl_view(&c.pck_crl));
        v.insert("rootCaCrl".into(), crl_view(&c.root_ca_crl));
        v.insert(
            "raw".into(),
            json!({
                "tcbInfo": serde_json::from_str::<Value>(&c.tcb_info_json).unwrap_or(Value::Null),
                "qeIdentity": serde_json::from_str::<Value>(&c.qe_identity_json).unwrap_or(Value::Null),
            }),
        );
    }
    Value::Object(v)
}

/// A SEV-SNP entry (`snp/v1/{vcek|vlek|chain|crl}/…`): its type, product and
/// validity dates.
fn snp_view(parts: &[&str], value: &[u8]) -> Value {
    let kind = parts.get(2).copied().unwrap_or_default();
    let (ty, product) = match (kind, parts.get(3).copied()) {
        ("vcek", p) => ("snp-vcek", p),
        ("vlek", p) => ("snp-vlek", p),
        ("chain", Some(k)) if k == SnpKeyKind::Vlek.as_str() => {
            ("snp-asvk-ark", parts.get(4).copied())
        }
        ("chain", _) => ("snp-ask-ark", parts.get(4).copied()),
        ("crl", _) => ("snp-crl", parts.get(4).copied()),
        _ => ("unknown", None),
    };
    let mut v = json!({ "type": ty, "product": product });
    match ty {
        "snp-crl" => {
            let crl = crl_view(value);
            v["issueDate"] = crl["thisUpdate"].clone();
            v["nextUpdate"] = crl["nextUpdate"].clone();
        }
        "snp-vcek" | "snp-vlek" => {
            if ty == "snp-vcek" {
                v["chip"] = json!(parts.get(4));
            }
            v["tcb"] = json!(parts.last());
            if let Ok((_, cert)) = x509_parser::parse_x509_certificate(value) {
                v["issueDate"] = json!(rfc3339(cert.validity().not_before.timestamp()));
                v["nextUpdate"] = Value::Null;
            }
        }
        _ => {
            // ASK/ASVK + ARK PEM: the root is the ARK, the last certificate.
            if let Some(ark) = x509_parser::pem::Pem::iter_from_buffer(value)
                .filter_map(Result::ok)
                .last()
            {
                let r = crate::parts::ChainRoot::of_der(&ark.contents);
                v["root"] = json!({"sha256": hex::encode(r.fingerprint), "subject": r.subject});
            }
        }
    }
    v
}

/// The view of one stored entry: `id`, `type`, root (`sha256`, `subject`)
/// where known, FMSPC / PCK CA or SEV-SNP product / chip / TCB,
/// `issueDate` and `nextUpdate` (RFC 3339), `source` (`imported` or
/// `fetched`, DCAP only) and `fetchedAt`. `detailed` adds the TCB levels,
/// QE identity, CRL summaries and the raw JSON documents.
///
/// Entries in an older key format (`dcap/v1/…`) are no longer read by the
/// service; they show as type `legacy` so they can be deleted.
pub fn describe(key: &str, value: &[u8], fetched_at: i64, detailed: bool) -> Value {
    let parts: Vec<&str> = key.split('/').collect();
    let mut v = if key.starts_with("sgx-collateral.") || key.starts_with("tdx-collateral.") {
        match decode(value) {
            Ok((c, source)) => dcap_view(&c, source, detailed),
            Err(e) => json!({ "type": key.split('.').next(), "error": e.to_string() }),
        }
    } else if parts.first() == Some(&"snp") && parts.get(1) == Some(&"v1") {
        snp_view(&parts, value)
    } else {
        json!({
            "type": "legacy",
            "note": "an entry in an older key format; it is no longer read and can be deleted",
        })
    };
    v["id"] = json!(entry_id(key));
    v["fetchedAt"] = json!(rfc3339(fetched_at));
    v
}
