//! The audit log over real HTTPS: every control-plane change is recorded
//! with its operation, caller, target and result (refusals after
//! authentication too, anonymous 401s not), pages of `/admin/audit`, signed
//! checkpoints (every N records and after each key rotation) that verify
//! against the service's own `/certs`, and a change that cannot be audited
//! is not reported as done.

mod common;

use attesta_server::audit::{TrustedKeys, verify};
use attesta_store::{AuditCheckpoint, AuditRecord};
use attesta_token::jws::{JwsSigningKey, sign_jws};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use serde_json::{Value, json};

const V: &str = "api-version=2022-08-01";

async fn send(
    t: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: String,
) -> (u16, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut req = t
        .client
        .request(method, t.url(&format!("{path}{sep}{V}")))
        .header("content-type", "text/plain")
        .body(body);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    json(req.send().await.unwrap()).await
}

async fn admin_json(
    t: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    json(
        t.client
            .request(method, t.url(path))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Every record and checkpoint, through pages of `page` items.
async fn audit_log(t: &TestServer, page: u32) -> (Vec<AuditRecord>, Vec<AuditCheckpoint>) {
    let mut out = (Vec::new(), Vec::new());
    for (route, member) in [
        ("/admin/audit", "records"),
        ("/admin/audit/checkpoints", "checkpoints"),
    ] {
        let mut after = 0;
        loop {
            let (s, v) = json(
                t.client
                    .get(t.url(&format!("{route}?after={after}&limit={page}")))
                    .bearer_auth(&t.admin)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(s, 200, "{v}");
            let items = v[member].as_array().unwrap().clone();
            assert!(items.len() <= page as usize);
            if member == "records" {
                out.0.extend(
                    items
                        .into_iter()
                        .map(|i| serde_json::from_value(i).unwrap()),
                );
            } else {
                out.1.extend(
                    items
                        .into_iter()
                        .map(|i| serde_json::from_value(i).unwrap()),
                );
            }
            match v["next"].as_i64() {
                Some(n) => after = n,
                None => break,
            }
        }
    }
    out
}

async fn trusted(t: &TestServer) -> TrustedKeys {
    let jwks: attesta_token::jwks::Jwks = t
        .client
        .get(t.url("/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    TrustedKeys::new(&jwks, &[])
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents
}

fn x5t_s256(pem: &str) -> String {
    format!(
        "cert:{}",
        URL_SAFE_NO_PAD.encode(attesta_evidence::crypto::sha256(&der(pem)))
    )
}

fn token_id(token: &str) -> String {
    format!(
        "token:{}",
        &hex::encode(attesta_evidence::crypto::sha256(token.as_bytes()))[..16]
    )
}

fn signed_policy(text: &str, key: &JwsSigningKey) -> String {
    let payload = json!({"AttestationPolicy": URL_SAFE_NO_PAD.encode(text)}).to_string();
    sign_jws(payload.as_bytes(), key).unwrap()
}

fn cert_change(pem: &str, key: &JwsSigningKey) -> String {
    let payload = json!({"policyCertificate": {"kty": "RSA", "x5c": [STANDARD.encode(der(pem))]}});
    sign_jws(payload.to_string().as_bytes(), key).unwrap()
}

/// `(operation, result, error_code, caller, provider, target)` of a record.
fn row(r: &AuditRecord) -> (&str, &str, &str, &str, &str, &str) {
    (
        r.operation.as_str(),
        r.result.as_str(),
        r.error_code.as_str(),
        r.caller.as_str(),
        r.provider.as_str(),
        r.target.as_str(),
    )
}

const POLICY: &str = "version=1.0; authorizationrules { => permit(); };";

#[tokio::test]
async fn control_plane_changes_are_recorded_checkpointed_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.audit.checkpoint_every = 4;
    let t = start(cfg).await;
    let (signer, signer_pem) = policy_signer(false, "audit signer");
    let (_, second_pem) = policy_signer(false, "second signer");
    let (_, keys) = admin_json(
        &t,
        reqwest::Method::GET,
        "/admin/keys?provider=default",
        json!(null),
    )
    .await;
    let kid_before = keys["providers"][0]["active"].as_str().unwrap().to_string();

    // 1 create (admin).
    let (s, b) = admin_json(
        &t,
        reqwest::Method::POST,
        "/admin/providers",
        json!({"name": "lab", "aad_tokens": ["lab-token"]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // 2 policy set with the provider's own token.
    let put = reqwest::Method::PUT;
    let (s, b) = send(
        &t,
        put.clone(),
        "/providers/lab/policies/SgxEnclave",
        Some("lab-token"),
        unsigned_policy(POLICY),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Not recorded: a wrong token (401) and no token at all.
    let (s, _) = send(
        &t,
        put.clone(),
        "/providers/lab/policies/SgxEnclave",
        Some("not-a-token"),
        unsigned_policy(POLICY),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = send(
        &t,
        put.clone(),
        "/providers/lab/policies/SgxEnclave",
        None,
        unsigned_policy(POLICY),
    )
    .await;
    assert_eq!(s, 401);
    // 3 refused after authentication: an unknown attestation type.
    let (s, b) = send(
        &t,
        put.clone(),
        "/providers/lab/policies/Bogus",
        Some("lab-token"),
        unsigned_policy(POLICY),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    // 4 reset.
    let (s, b) = send(
        &t,
        reqwest::Method::POST,
        "/providers/lab/policies/SgxEnclave:reset",
        Some("lab-token"),
        String::new(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // 5 an isolated provider; 6 its signed policy; 7 a signed certificate add.
    let (s, b) = admin_json(
        &t,
        reqwest::Method::POST,
        "/admin/providers",
        json!({"name": "iso", "trust_model": "isolated", "policy_certificates": [signer_pem]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = send(
        &t,
        put.clone(),
        "/providers/iso/policies/SgxEnclave",
        Some(&t.admin),
        signed_policy(POLICY, &signer),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = send(
        &t,
        reqwest::Method::POST,
        "/providers/iso/certificates:add",
        Some(&t.admin),
        cert_change(&second_pem, &signer),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // 8 update, 9 key rotation of lab, 10 delete, 11 a refused collateral import.
    let (s, b) = admin_json(
        &t,
        reqwest::Method::PATCH,
        "/admin/providers/lab",
        json!({"aad_tokens": ["t1", "t2"]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = admin_json(
        &t,
        reqwest::Method::POST,
        "/admin/keys:rotate?provider=lab",
        json!(null),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let lab_kid = b["providers"][0]["active"].as_str().unwrap().to_string();
    let (s, _) = admin_json(
        &t,
        reqwest::Method::DELETE,
        "/admin/providers/lab",
        json!(null),
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = admin_post(&t, "/admin/collateral", b"{\"not\": \"a bundle\"}".to_vec()).await;
    assert_error(s, &b, 400, "InvalidParameter");

    let (records, checkpoints) = audit_log(&t, 3).await;
    let lab_token = token_id("lab-token");
    let iso_signer = x5t_s256(&signer_pem);
    let second_thumb = hex::encode(attesta_evidence::crypto::sha1(&der(&second_pem)));
    let rows: Vec<_> = records.iter().map(row).collect();
    assert_eq!(
        rows,
        vec![
            ("CreateInstance", "succeeded", "", "admin", "lab", "lab"),
            (
                "SetCurrentPolicy",
                "succeeded",
                "",
                lab_token.as_str(),
                "lab",
                "SgxEnclave"
            ),
            (
                "SetCurrentPolicy",
                "failed",
                "InvalidParameter",
                lab_token.as_str(),
                "lab",
                "Bogus"
            ),
            (
                "ResetAttestationPolicy",
                "succeeded",
                "",
                lab_token.as_str(),
                "lab",
                "SgxEnclave"
            ),
            ("CreateInstance", "succeeded", "", "admin", "iso", "iso"),
            (
                "SetCurrentPolicy",
                "succeeded",
                "",
                iso_signer.as_str(),
                "iso",
                "SgxEnclave"
            ),
            (
                "AddPolicyCertificate",
                "succeeded",
                "",
                iso_signer.as_str(),
                "iso",
                second_thumb.as_str()
            ),
            ("UpdateInstance", "succeeded", "", "admin", "lab", "lab"),
            (
                "RotateSigningKey",
                "succeeded",
                "",
                "admin",
                "lab",
                lab_kid.as_str()
            ),
            ("DestroyInstance", "succeeded", "", "admin", "lab", "lab"),
            (
                "ImportCollateral",
                "failed",
                "InvalidParameter",
                "admin",
                "",
                ""
            ),
        ]
    );
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    assert_eq!(records[2].details["status"], 400);
    assert_eq!(
        records[5].details["bearer"], "admin",
        "the bearer stays as a detail"
    );
    assert_eq!(records[6].details["outcome"], "IsPresent");
    assert_eq!(records[7].details["changed"], json!(["aad_tokens"]));
    assert!(records.iter().all(|r| !r.node_id.is_empty()));
    // Checkpoints at every 4th record and right after the rotation (9).
    assert_eq!(
        checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(),
        vec![4, 8, 9]
    );

    let keys = trusted(&t).await;
    let report = verify(&records, &checkpoints, &keys).unwrap();
    assert_eq!(report.records, 11);
    assert_eq!(report.verified_checkpoints, 3);
    assert_eq!(
        report.latest_verified_checkpoint.as_ref().map(|c| c.0),
        Some(9)
    );
    assert_eq!(report.records_after_latest_checkpoint, 2);

    // Rotating the default provider's key: the checkpoint after it is the new
    // key's, and both keys are published during the overlap, so all verify.
    let (s, b) = admin_json(
        &t,
        reqwest::Method::POST,
        "/admin/keys:rotate?provider=default",
        json!(null),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let kid_after = b["providers"][0]["active"].as_str().unwrap().to_string();
    assert_ne!(kid_after, kid_before);
    let (records, checkpoints) = audit_log(&t, 1000).await;
    let last = checkpoints.last().unwrap();
    assert_eq!(last.seq, 12);
    let (header, claims) = attesta_token::jwt::decode_unverified(&last.jws).unwrap();
    assert_eq!(header["kid"], kid_after.as_str());
    assert_eq!(
        claims["x-attesta-audit-checkpoint"]["hash"],
        records[11].hash.as_str()
    );
    let report = verify(&records, &checkpoints, &trusted(&t).await).unwrap();
    assert_eq!(report.verified_checkpoints, 4);

    // Keys the service never published do not count.
    let report = verify(&records, &checkpoints, &TrustedKeys::default()).unwrap();
    assert_eq!(report.verified_checkpoints, 0);
    assert_eq!(report.unverified_checkpoints.len(), 4);

    // The admin routes themselves: admin only, bounded pages.
    let (s, b) = json(t.client.get(t.url("/admin/audit")).send().await.unwrap()).await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = json(
        t.client
            .get(t.url("/admin/audit"))
            .bearer_auth("lab-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    for bad in ["limit=0", "limit=1001", "after=-1", "after=x", "nope=1"] {
        let (s, b) = json(
            t.client
                .get(t.url(&format!("/admin/audit?{bad}")))
                .bearer_auth(&t.admin)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(s, &b, 400, "InvalidParameter");
    }
    t.stop().await;
}

#[tokio::test]
async fn a_change_that_cannot_be_audited_is_not_reported_as_done() {
    let dir = tempfile::tempdir().unwrap();
    let t = start(config(dir.path())).await;
    // The audit table made unwritable behind the server's back.
    let conn = rusqlite::Connection::open(dir.path().join("attesta.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is read-only'); END;",
    )
    .unwrap();
    let (s, b) = send(
        &t,
        reqwest::Method::PUT,
        "/policies/SgxEnclave",
        Some(&t.admin),
        unsigned_policy(POLICY),
    )
    .await;
    assert_error(s, &b, 500, "InternalError");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("applied but could not be written to the audit log"),
        "{b}"
    );
    // A refused request keeps its own error.
    let (s, b) = send(
        &t,
        reqwest::Method::PUT,
        "/policies/Bogus",
        Some(&t.admin),
        unsigned_policy(POLICY),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    conn.execute_batch("DROP TRIGGER no_audit;").unwrap();
    let (s, b) = send(
        &t,
        reqwest::Method::PUT,
        "/policies/SgxEnclave",
        Some(&t.admin),
        unsigned_policy(POLICY),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (records, _) = audit_log(&t, 100).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        row(&records[0]),
        (
            "SetCurrentPolicy",
            "succeeded",
            "",
            "admin",
            "default",
            "SgxEnclave"
        )
    );
    t.stop().await;
}
