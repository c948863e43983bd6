//! Providers over real HTTPS: the admin API, isolation between providers,
//! host-name and path-prefix addressing, aad control-plane auth, isolated
//! providers' signed policies, key rotation, token round trips, and state
//! surviving a restart.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_token::jwks::Jwks;
use attesta_token::jws::{JwsSigningKey, sign_jws};
use attesta_token::jwt::{VerifyOptions, sign_jwt, verify_jwt};
use attesta_token::keys::{KeyRing, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const V: &str = "api-version=2022-08-01";
const CUSTOM: &str = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";

async fn create_provider(t: &TestServer, body: Value) -> (u16, Value) {
    json(
        t.client
            .post(t.url("/admin/providers"))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn put_policy(t: &TestServer, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = t
        .client
        .put(t.url(&format!("{path}?{V}")))
        .header("content-type", "text/plain")
        .body(body.to_string());
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    json(req.send().await.unwrap()).await
}

async fn get_policy(
    t: &TestServer,
    path: &str,
    token: Option<&str>,
    host: Option<&str>,
) -> (u16, Value) {
    let mut req = t.client.get(t.url(&format!("{path}?{V}")));
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    if let Some(h) = host {
        req = req.header("host", h);
    }
    json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn admin_api_needs_the_admin_token() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = json(
        t.client
            .get(t.url("/admin/providers"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = json(
        t.client
            .get(t.url("/admin/providers"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = json(
        t.client
            .get(t.url("/admin/providers"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["providers"][0]["name"], "default");
    assert_eq!(b["providers"][0]["trust_model"], "aad");
    t.stop().await;
}

#[tokio::test]
async fn provider_lifecycle_and_isolation() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;

    let (s, b) =
        create_provider(&t, json!({"name": "alpha", "aad_tokens": ["alpha-secret"]})).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["control_plane_tokens"], 1);
    let (s, _) = create_provider(&t, json!({"name": "beta", "aad_tokens": ["beta-secret"]})).await;
    assert_eq!(s, 201);
    let (s, b) = create_provider(&t, json!({"name": "alpha"})).await;
    assert_error(s, &b, 409, "Conflict");
    let (s, b) = create_provider(&t, json!({"name": "Bad.Name"})).await;
    assert_error(s, &b, 400, "InvalidParameter");
    let (s, b) = create_provider(&t, json!({"name": "iso", "trust_model": "isolated"})).await;
    assert_error(s, &b, 400, "InvalidParameter");

    // aad control plane: no token → 401, another provider's token → 401.
    let (s, b) = get_policy(&t, "/providers/alpha/policies/SgxEnclave", None, None).await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = put_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        None,
        &unsigned_policy(CUSTOM),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = get_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("beta-secret"),
        None,
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");

    // A policy written to alpha is not visible in beta.
    let jws = unsigned_policy(CUSTOM);
    let (s, b) = put_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("alpha-secret"),
        &jws,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let set = claims(b["token"].as_str().unwrap());
    assert_eq!(set["x-ms-policy-result"], "Updated");
    assert_eq!(
        set["x-ms-policy-token-hash"],
        URL_SAFE_NO_PAD.encode(attesta_evidence::crypto::sha256(jws.as_bytes()))
    );
    assert_eq!(set["iss"], format!("{}/providers/alpha", t.base()));
    let (_, b) = get_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("alpha-secret"),
        None,
    )
    .await;
    assert_eq!(policy_text_of(b["token"].as_str().unwrap()), CUSTOM);
    // The stored JWS comes back exactly as sent.
    assert_eq!(claims(b["token"].as_str().unwrap())["x-ms-policy"], jws);
    let (_, b) = get_policy(
        &t,
        "/providers/beta/policies/SgxEnclave",
        Some("beta-secret"),
        None,
    )
    .await;
    assert_eq!(
        policy_text_of(b["token"].as_str().unwrap()),
        attesta_policy::defaults::default_policy("SgxEnclave").unwrap()
    );
    let (_, b) = get_policy(&t, "/policies/SgxEnclave", Some(&t.admin), None).await;
    assert_ne!(policy_text_of(b["token"].as_str().unwrap()), CUSTOM);

    // The same provider addressed by host name.
    let (s, b) = get_policy(
        &t,
        "/policies/SgxEnclave",
        Some("alpha-secret"),
        Some("alpha.localhost"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap();
    assert_eq!(policy_text_of(token), CUSTOM);
    assert_eq!(
        claims(token)["iss"],
        format!("https://alpha.localhost:{}", t.server.addr.port())
    );
    // An unknown host label is not silently the default provider.
    let (s, b) = get_policy(
        &t,
        "/policies/SgxEnclave",
        Some(&t.admin),
        Some("gamma.localhost"),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");

    // A malformed policy is refused with the parser's error.
    let (s, b) = put_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("alpha-secret"),
        &unsigned_policy("version=1.0; authorizationrules{ => permit() };"),
    )
    .await;
    assert_error(s, &b, 400, "PolicyParsingError");
    // A body that is not a JWS is refused.
    let (s, b) = put_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("alpha-secret"),
        "not-a-jws",
    )
    .await;
    assert_error(s, &b, 400, "InvalidOperation");

    // Reset goes back to the default, with no token hash in the answer.
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/providers/alpha/policies/SgxEnclave:reset?{V}")))
            .bearer_auth("alpha-secret")
            .header("content-type", "text/plain")
            .body("eyJhbGciOiJub25lIn0..")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let reset = claims(b["token"].as_str().unwrap());
    assert_eq!(reset["x-ms-policy-result"], "Removed");
    assert!(reset.get("x-ms-policy-token-hash").is_none());
    let (_, b) = get_policy(
        &t,
        "/providers/alpha/policies/SgxEnclave",
        Some("alpha-secret"),
        None,
    )
    .await;
    assert_ne!(policy_text_of(b["token"].as_str().unwrap()), CUSTOM);

    // Delete: the provider is gone from both addressing forms.
    let resp = t
        .client
        .delete(t.url("/admin/providers/beta"))
        .bearer_auth(&t.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (s, b) = json(
        t.client
            .get(t.url("/providers/beta/certs"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = get_policy(
        &t,
        "/policies/SgxEnclave",
        Some(&t.admin),
        Some("beta.localhost"),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = json(
        t.client
            .delete(t.url("/admin/providers/default"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidOperation");
    t.stop().await;
}

fn signed_policy(text: &str, key: &JwsSigningKey) -> String {
    let payload = json!({"AttestationPolicy": URL_SAFE_NO_PAD.encode(text)}).to_string();
    sign_jws(payload.as_bytes(), key).unwrap()
}

#[tokio::test]
async fn isolated_provider_requires_signed_policies_from_its_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (rsa, rsa_pem) = policy_signer(false, "iso-signer-rsa");
    let (ec, ec_pem) = policy_signer(true, "iso-signer-ec");
    let (stranger, _) = policy_signer(false, "stranger");
    let (s, b) = create_provider(
        &t,
        json!({"name": "iso", "trust_model": "isolated", "policy_certificates": [rsa_pem, ec_pem]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["policy_certificates"].as_array().unwrap().len(), 2);
    let path = "/providers/iso/policies/SgxEnclave";

    let (s, b) = put_policy(&t, path, Some(&t.admin), &unsigned_policy(CUSTOM)).await;
    assert_error(s, &b, 400, "InvalidOperation");
    let (s, b) = put_policy(&t, path, Some(&t.admin), CUSTOM).await;
    assert_error(s, &b, 400, "InvalidOperation");
    let (s, b) = put_policy(&t, path, Some(&t.admin), &signed_policy(CUSTOM, &stranger)).await;
    assert_error(s, &b, 400, "InvalidOperation");
    // A signature that does not verify.
    // Change one character in the middle of the signature (the last one may
    // only carry unused padding bits).
    let genuine = signed_policy(CUSTOM, &rsa);
    let at = genuine.rfind('.').unwrap() + 20;
    let mut forged = genuine.clone().into_bytes();
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (s, b) = put_policy(&t, path, Some(&t.admin), &forged).await;
    assert_error(s, &b, 400, "InvalidOperation");

    for key in [&rsa, &ec] {
        let jws = signed_policy(CUSTOM, key);
        let (s, b) = put_policy(&t, path, Some(&t.admin), &jws).await;
        assert_eq!(s, 200, "{b}");
        let c = claims(b["token"].as_str().unwrap());
        assert_eq!(c["x-ms-policy-result"], "Updated");
        assert_eq!(
            c["x-ms-policy-token-hash"],
            URL_SAFE_NO_PAD.encode(attesta_evidence::crypto::sha256(jws.as_bytes()))
        );
        assert_eq!(c["x-ms-policy-signer"]["x5c"].as_array().unwrap().len(), 1);
    }
    // Reads are authenticated on every trust model: anonymous is 401, the
    // admin token (the isolated provider has no tokens of its own) lists
    // the certificates.
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/iso/certificates?{V}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 401, "Unauthorized");
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/iso/certificates?{V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(
        c["x-ms-policy-certificates"]["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Reset must be signed too.
    let reset = |body: String| {
        t.client
            .post(t.url(&format!("/providers/iso/policies/SgxEnclave:reset?{V}")))
            .bearer_auth(&t.admin)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    let (s, b) = json(reset("eyJhbGciOiJub25lIn0..".into()).await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidOperation");
    let (s, b) = json(reset(sign_jws(b"", &rsa).unwrap()).await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

#[tokio::test]
async fn policy_certificates_add_and_remove_are_signed_and_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (first, first_pem) = policy_signer(false, "first");
    let (_second, second_pem) = policy_signer(false, "second");
    let (stranger, _) = policy_signer(false, "stranger");
    let (s, _) = create_provider(&t, json!({"name": "iso", "trust_model": "isolated", "policy_certificates": [first_pem.clone()]})).await;
    assert_eq!(s, 201);
    let der = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    };
    let body_for = |pem: &str, key: &JwsSigningKey| {
        let payload = json!({"policyCertificate": {"kty": "RSA", "x5c": [base64::engine::general_purpose::STANDARD.encode(der(pem))]}});
        serde_json::to_string(&sign_jws(payload.to_string().as_bytes(), key).unwrap()).unwrap()
    };
    let call = |op: &str, body: String| {
        t.client
            .post(t.url(&format!("/providers/iso/certificates:{op}?{V}")))
            .bearer_auth(&t.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for _ in 0..2 {
        let (s, b) = json(call("add", body_for(&second_pem, &first)).await.unwrap()).await;
        assert_eq!(s, 200, "{b}");
        let c = claims(b["token"].as_str().unwrap());
        assert_eq!(c["x-ms-policycertificates-result"], "IsPresent");
        assert_eq!(
            c["x-ms-certificate-thumbprint"],
            hex::encode(attesta_evidence::crypto::sha1(&der(&second_pem)))
        );
    }
    let (s, b) = json(call("add", body_for(&second_pem, &stranger)).await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidOperation");
    // With RSA PKCS#1 v1.5 the removal signed by `first` would be the very
    // bytes of the addition, which is refused as a replay
    // (`isolated_control_plane_refuses_replays`); an `iat` makes it a request
    // of its own, and repeating that same removal answers IsAbsent again.
    let removal = {
        let payload = json!({"policyCertificate": {"kty": "RSA", "x5c": [base64::engine::general_purpose::STANDARD.encode(der(&second_pem))]}, "iat": UnixTime::now().0});
        serde_json::to_string(&sign_jws(payload.to_string().as_bytes(), &first).unwrap()).unwrap()
    };
    let (s, b) = json(call("remove", body_for(&second_pem, &first)).await.unwrap()).await;
    assert_error(s, &b, 400, "ReplayedRequest");
    for _ in 0..2 {
        let (s, b) = json(call("remove", removal.clone()).await.unwrap()).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            claims(b["token"].as_str().unwrap())["x-ms-policycertificates-result"],
            "IsAbsent"
        );
    }
    // The last certificate stays.
    let (s, b) = json(call("remove", body_for(&first_pem, &first)).await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidOperation");
    t.stop().await;
}

#[tokio::test]
async fn token_round_trip_rejects_tampered_expired_and_foreign_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (_, certs) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    let jwks: Jwks = serde_json::from_value(certs).unwrap();
    let now = UnixTime::now().0;
    let opts = VerifyOptions {
        issuer: Some(t.base()),
        now,
        leeway_secs: 5,
    };

    let (_, b) = get_policy(&t, "/policies/SgxEnclave", Some(&t.admin), None).await;
    let token = b["token"].as_str().unwrap().to_string();
    verify_jwt(&token, &jwks, &opts).expect("genuine token verifies");

    // Tampered payload.
    let parts: Vec<&str> = token.split('.').collect();
    let mut body = claims(&token);
    body.insert("iss".into(), json!("https://evil.example"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify_jwt(&forged, &jwks, &opts).unwrap_err().code(),
        "TokenBadSignature"
    );

    // Expired, signed with the server's own key (read from its data dir).
    let ring = KeyRing::load_or_create(&t.dir.join("keys"), "x", 3600, now).unwrap();
    let mut expired = serde_json::Map::new();
    expired.insert("iss".into(), json!(t.base()));
    expired.insert("iat".into(), json!(now - 7200));
    expired.insert("nbf".into(), json!(now - 7200));
    expired.insert("exp".into(), json!(now - 3600));
    let old = sign_jwt(
        &ring.active(),
        &format!("{}/certs", t.base()),
        &expired,
        false,
    );
    assert_eq!(
        verify_jwt(&old, &jwks, &opts).unwrap_err().code(),
        "TokenExpired"
    );

    // Signed by a key the server never published.
    let other = SigningKey::generate("someone else").unwrap();
    let mut fresh = expired.clone();
    fresh.insert("exp".into(), json!(now + 3600));
    fresh.insert("iat".into(), json!(now));
    fresh.insert("nbf".into(), json!(now));
    let foreign = sign_jwt(&other, &format!("{}/certs", t.base()), &fresh, false);
    assert_eq!(
        verify_jwt(&foreign, &jwks, &opts).unwrap_err().code(),
        "TokenUnknownKey"
    );
    // And a genuine-key token for another issuer is rejected by issuer check.
    let mut wrong_iss = fresh.clone();
    wrong_iss.insert("iss".into(), json!("https://other.example"));
    let wrong = sign_jwt(
        &ring.active(),
        "https://other.example/certs",
        &wrong_iss,
        false,
    );
    assert_eq!(
        verify_jwt(&wrong, &jwks, &opts).unwrap_err().code(),
        "TokenWrongIssuer"
    );
    t.stop().await;
}

#[tokio::test]
async fn key_rotation_keeps_the_old_key_published() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (_, before) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    let old_kid = before["keys"][0]["kid"].as_str().unwrap().to_string();
    let (s, b) = json(
        t.client
            .post(t.url("/admin/keys:rotate"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Every provider rotates; this server has only the default one.
    assert_eq!(b["providers"][0]["provider"], "default");
    let new_kid = b["providers"][0]["active"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    let (_, after) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
    let (_, b) = get_policy(&t, "/policies/SgxEnclave", Some(&t.admin), None).await;
    let (header, _) = attesta_token::jwt::decode_unverified(b["token"].as_str().unwrap()).unwrap();
    assert_eq!(header["kid"], new_kid);
    t.stop().await;
}

#[tokio::test]
async fn restart_keeps_providers_policies_and_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, _) = create_provider(&t, json!({"name": "keep", "aad_tokens": ["keep-secret"]})).await;
    assert_eq!(s, 201);
    let (s, _) = put_policy(
        &t,
        "/providers/keep/policies/OpenEnclave",
        Some("keep-secret"),
        &unsigned_policy(CUSTOM),
    )
    .await;
    assert_eq!(s, 200);
    let (_, certs_before) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    let admin = t.admin.clone();
    t.stop().await;

    let t = start(config(tmp.path())).await;
    assert_eq!(t.admin, admin);
    let (_, certs_after) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    assert_eq!(certs_before, certs_after);
    let (s, b) = get_policy(
        &t,
        "/providers/keep/policies/OpenEnclave",
        Some("keep-secret"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(policy_text_of(b["token"].as_str().unwrap()), CUSTOM);
    // Key files are private.
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(t.dir.join("keys")).unwrap() {
        let p = entry.unwrap().path();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        if p.extension().is_some_and(|e| e == "pem") && p.to_string_lossy().contains("key") {
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    let mode = std::fs::metadata(t.dir.join("admin-token"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    t.stop().await;
}

/// The signed set-policy request Microsoft's Python SDK sent to the real
/// service (recorded), replayed byte for byte: accepted on an aad provider,
/// and the reply's token hash is the one the real service returned.
#[tokio::test]
async fn recorded_sdk_signed_set_policy_yields_the_recorded_token_hash() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/maa-sdk/recorded");
    let request =
        std::fs::read_to_string(dir.join("maa_set_policy_sgx_secured_request.jws")).unwrap();
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("maa_set_policy_sgx_secured_response.decoded.json"))
            .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = put_policy(
        &t,
        "/policies/SgxEnclave",
        Some(&t.admin),
        request.trim_end(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["token"].as_str().unwrap());
    assert_eq!(c["x-ms-policy-result"], "Updated");
    assert_eq!(
        c["x-ms-policy-token-hash"],
        recorded["body"]["x-ms-policy-token-hash"]
    );
    assert_eq!(
        c["x-ms-policy-signer"],
        recorded["body"]["x-ms-policy-signer"]
    );
    // The stored JWS is returned exactly as sent.
    let (_, b) = get_policy(&t, "/policies/SgxEnclave", Some(&t.admin), None).await;
    assert_eq!(
        claims(b["token"].as_str().unwrap())["x-ms-policy"],
        request.trim_end()
    );
    t.stop().await;
}

/// A provider's collateral grace above the node's `collateral.max_grace_secs`
/// is refused when created or updated, naming the bound, instead of being
/// stored as given and silently capped.
#[tokio::test]
async fn a_collateral_grace_above_the_nodes_bound_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(tmp.path());
    c.collateral.max_grace_secs = 3600;
    let t = start(c).await;

    let (s, b) = create_provider(
        &t,
        json!({"name": "lax", "config": {"collateral_grace_secs": 3601}}),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("collateral.max_grace_secs (3600)"), "{msg}");
    let (s, _) = admin_get(&t, "/admin/providers/lax").await;
    assert_eq!(s, 404, "a refused provider was created");

    let (s, b) = create_provider(
        &t,
        json!({"name": "lax", "config": {"collateral_grace_secs": 3600}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = configure_provider(&t, "lax", json!({"collateral_grace_secs": 7200})).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("collateral.max_grace_secs (3600)"),
        "{b}"
    );
    let (s, b) = admin_get(&t, "/admin/providers/lax").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["config"]["collateral_grace_secs"], 3600, "{b}");
    t.stop().await;
}
