//! The web console and its admin routes through the real server over HTTPS:
//! the built-in page and its assets (content types, Content-Security-Policy,
//! nothing fetched from elsewhere), `POST /admin/policies:check` (the line
//! and column of a syntax error), `POST /admin/policies:dryrun` (permit with
//! the issued claims, deny with the reason, a policy that does not compile)
//! and `POST /admin/tokens:inspect` (a real attestation token verifies with
//! its provider's key, an expired one signed by that key verifies but is out
//! of time; a tampered one, one signed by a key this server does
//! not publish, and an unsecured one do not), each 401 without the admin
//! token.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_testkit::SgxSample;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A valid policy: permits non-debuggable enclaves and issues one claim.
const GOOD: &str = "version=1.0;\n\
authorizationrules\n\
{\n\
    c:[type==\"x-ms-sgx-is-debuggable\", value==false] => permit();\n\
};\n\
issuancerules\n\
{\n\
    => issue(type=\"console-check\", value=\"saved-in-console\");\n\
};\n";

/// `GOOD` with the `;` after `permit()` (line 4) missing: the parser meets
/// the `}` at line 5, column 1.
const MISSING_SEMICOLON: &str = "version=1.0;\n\
authorizationrules\n\
{\n\
    c:[type==\"x-ms-sgx-is-debuggable\", value==false] => permit()\n\
};\n\
issuancerules\n\
{\n\
    => issue(type=\"console-check\", value=\"saved-in-console\");\n\
};\n";

async fn post_json(t: &TestServer, path: &str, body: &Value, admin: bool) -> (u16, Value) {
    let mut req = t.client.post(t.url(path)).json(body);
    if admin {
        req = req.bearer_auth(&t.admin);
    }
    json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn the_console_page_and_assets_are_built_in_and_locked_to_this_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    for (path, ctype, marker) in [
        ("/console", "text/html; charset=utf-8", "Attesta console"),
        (
            "/console/app.js",
            "text/javascript; charset=utf-8",
            "/admin/tokens:inspect",
        ),
        ("/console/app.css", "text/css; charset=utf-8", ".editor"),
        ("/console/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        // Anonymous: the page holds no data.
        let resp = t.client.get(t.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], ctype, "{path}");
        assert_eq!(
            h["content-security-policy"],
            attesta_server::routes::console::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        // The SVG namespace is a name, never fetched.
        let text = resp
            .text()
            .await
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(text.contains(marker), "{path} lacks {marker:?}");
        // Nothing is loaded from another origin.
        assert!(!text.contains("http://"), "{path} names an http URL");
        assert!(!text.contains("https://"), "{path} names an https URL");
    }
    let csp = attesta_server::routes::console::CONTENT_SECURITY_POLICY;
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // The page has no inline script or handler (the CSP would block it).
    let page = t
        .client
        .get(t.url("/console"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script src="/console/app.js" defer></script>"#));
    assert_eq!(page.matches("<script").count(), 1);
    assert!(!page.contains(" onclick=") && !page.contains(" style="));
    t.stop().await;
}

#[tokio::test]
async fn policy_check_gives_the_line_and_column_of_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let path = "/admin/policies:check";

    let (s, b) = post_json(&t, path, &json!({"policy": GOOD}), false).await;
    assert_error(s, &b, 401, "Unauthorized");

    let (s, b) = post_json(&t, path, &json!({"policy": GOOD}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"valid": true, "language": "maa", "version": "1.0"})
    );

    let (s, b) = post_json(&t, path, &json!({"policy": MISSING_SEMICOLON}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["valid"], false, "{b}");
    assert_eq!(b["error"]["code"], "PolicyParsingError", "{b}");
    assert_eq!(b["error"]["line"], 5, "{b}");
    assert_eq!(b["error"]["column"], 1, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("'}'"),
        "{b}"
    );

    // An error on the first line, at its column.
    let (s, b) = post_json(&t, path, &json!({"policy": "version=9.9;"}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["valid"], false, "{b}");
    assert_eq!(b["error"]["line"], 1, "{b}");

    // A malformed request says what is expected.
    let (s, b) = post_json(&t, path, &json!({"text": GOOD}), true).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r#"{"policy": "<policy text>"}"#),
        "{b}"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_dry_run_evaluates_over_the_given_claims_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let path = "/admin/policies:dryrun";

    let body = json!({"policy": GOOD, "claims": {"x-ms-sgx-is-debuggable": false}});
    let (s, b) = post_json(&t, path, &body, false).await;
    assert_error(s, &b, 401, "Unauthorized");

    let (s, b) = post_json(&t, path, &body, true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["permit"], true, "{b}");
    assert_eq!(b["claims"]["console-check"], "saved-in-console", "{b}");

    // The array form, with a debuggable enclave: no permit.
    let body = json!({"policy": GOOD, "claims": [
        {"type": "x-ms-sgx-is-debuggable", "value": true, "issuer": "AttestationService"}
    ]});
    let (s, b) = post_json(&t, path, &body, true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["permit"], false, "{b}");
    assert_eq!(b["claims"], json!({}), "{b}");
    assert!(
        b["reason"]
            .as_str()
            .unwrap()
            .contains("authorization failed")
    );

    // A policy that does not compile: the parse error, at line:column.
    let body = json!({"policy": MISSING_SEMICOLON, "claims": {}});
    let (s, b) = post_json(&t, path, &body, true).await;
    assert_error(s, &b, 400, "PolicyParsingError");
    assert!(
        b["error"]["message"].as_str().unwrap().starts_with("5:1: "),
        "{b}"
    );

    // Claims that are neither an object nor an array.
    let body = json!({"policy": GOOD, "claims": "x"});
    let (s, b) = post_json(&t, path, &body, true).await;
    assert_error(s, &b, 400, "PolicyEvaluationError");

    // Nothing was stored: the default provider still has its default policy.
    let (s, b) = json(
        t.client
            .get(t.url("/policies/SgxEnclave?api-version=2022-08-01"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(!policy_text_of(b["token"].as_str().unwrap()).contains("console-check"));
    t.stop().await;
}

#[tokio::test]
async fn the_inspector_verifies_a_token_only_with_this_servers_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let t = start(config(tmp.path())).await;
    intel_tenant(&t, "lab", &sample.root_der, &sample.collateral).await;
    let (s, b) = json(
        t.client
            .put(t.url("/providers/lab/policies/SgxEnclave?api-version=2022-08-01"))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(GOOD))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = attest_at(
        &t,
        "/providers/lab/attest/SgxEnclave",
        "2022-08-01",
        json!({"quote": URL_SAFE_NO_PAD.encode(&sample.quote)}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let path = "/admin/tokens:inspect";

    let (s, b) = post_json(&t, path, &json!({"token": token}), false).await;
    assert_error(s, &b, 401, "Unauthorized");

    let (s, b) = post_json(&t, path, &json!({"token": token}), true).await;
    assert_eq!(s, 200, "{b}");
    let kid = b["header"]["kid"].as_str().unwrap().to_string();
    assert_eq!(b["claims"]["console-check"], "saved-in-console", "{b}");
    assert_eq!(b["claims"]["x-ms-attestation-type"], "sgx", "{b}");
    let sig = &b["signature"];
    assert_eq!(sig["valid"], true, "{b}");
    assert_eq!(sig["time_valid"], true, "{b}");
    assert_eq!(sig["provider"], "lab", "{b}");
    assert_eq!(sig["kid"], kid.as_str(), "{b}");
    assert_eq!(sig["code"], Value::Null, "{b}");

    // One payload byte changed: the signature fails.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["console-check"] = json!("forged");
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    let (s, b) = post_json(&t, path, &json!({"token": tampered}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["signature"]["valid"], false, "{b}");
    assert_eq!(b["signature"]["code"], "TokenBadSignature", "{b}");
    assert_eq!(b["claims"]["console-check"], "forged", "{b}");

    // Signed by a key this server does not publish, with its own kid, jku
    // and x5c: refused, whatever the header points at.
    let other = attesta_token::keys::SigningKey::generate("elsewhere").unwrap();
    let foreign = attesta_token::jwt::sign_jwt(
        &other,
        "https://attacker.invalid/certs",
        claims.as_object().unwrap(),
        true,
    );
    let (s, b) = post_json(&t, path, &json!({"token": foreign}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["signature"]["valid"], false, "{b}");
    assert_eq!(b["signature"]["code"], "TokenUnknownKey", "{b}");
    assert_eq!(b["signature"]["provider"], Value::Null, "{b}");
    // The same foreign signature under a header naming lab's real kid.
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": kid}).to_string());
    let foreign_sig = foreign.rsplit('.').next().unwrap();
    let impostor = format!("{header}.{forged_payload}.{foreign_sig}");
    let (s, b) = post_json(&t, path, &json!({"token": impostor}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["signature"]["valid"], false, "{b}");
    assert_eq!(b["signature"]["code"], "TokenBadSignature", "{b}");

    // Signed by lab's own key but expired: the signature verifies, the
    // times do not.
    let keys = t.dir.join("keys").join("providers").join("lab");
    let lab_key = attesta_token::keys::SigningKey::from_pem(
        &std::fs::read_to_string(keys.join(format!("{kid}.key.pem"))).unwrap(),
        &std::fs::read_to_string(keys.join(format!("{kid}.cert.pem"))).unwrap(),
    )
    .unwrap();
    let now = UnixTime::now().0;
    let mut old = claims.as_object().unwrap().clone();
    old.insert("iat".into(), json!(now - 7200));
    old.insert("nbf".into(), json!(now - 7200));
    old.insert("exp".into(), json!(now - 3600));
    let expired = attesta_token::jwt::sign_jwt(&lab_key, "", &old, false);
    let (s, b) = post_json(&t, path, &json!({"token": expired}), true).await;
    assert_eq!(s, 200, "{b}");
    let sig = &b["signature"];
    assert_eq!(sig["valid"], true, "{b}");
    assert_eq!(sig["time_valid"], false, "{b}");
    assert_eq!(sig["provider"], "lab", "{b}");
    assert_eq!(sig["code"], "TokenExpired", "{b}");

    // An unsecured token (alg none) never verifies.
    let unsecured = attesta_token::jwt::unsecured_jwt(claims.as_object().unwrap());
    let (s, b) = post_json(&t, path, &json!({"token": unsecured}), true).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["signature"]["valid"], false, "{b}");
    assert_eq!(b["signature"]["code"], "TokenUnsupportedAlgorithm", "{b}");

    // Not a JWT at all.
    let (s, b) = post_json(&t, path, &json!({"token": "not-a-token"}), true).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("three dot-separated"),
        "{b}"
    );
    t.stop().await;
}
