//! Tenant and token integrity over real HTTPS, one test per attack that once
//! worked against this server:
//!
//! 1. a provider's policy issuing service claims (`iss`, `exp`,
//!    `x-ms-sgx-mrenclave`, …) to forge another provider's tokens, and one
//!    key shared by every provider;
//! 2. isolated providers' signed control-plane requests read anonymously,
//!    replayed, re-aimed at another type, provider or operation, and rolled
//!    back;
//! 3. attester-supplied TPM `custom_claims` posing as service claims;
//! 4. `cnf` for a request key the TPM never bound;
//! 5. `iss`/`jku`/metadata echoing an attacker's `Host`;
//! 6. a control-plane reply token passing as an attestation result;
//! 8. non-canonical JWS (a padded signature, duplicate header members).
//!
//! (7, the CLI sending the data directory's admin token to another server,
//! is a CLI test: `crates/cli/tests/serve.rs`.)

mod common;

use attesta_evidence::UnixTime;
use attesta_evidence::tpm::structures::hash_name;
use attesta_testkit::{SgxSample, TpmSample};
use attesta_token::jws::{JwsSigningKey, sign_jws};
use attesta_token::rp::verify_with_issuer;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use serde_json::{Map, Value, json};

const V: &str = "api-version=2022-08-01";

fn b64(d: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(d)
}

fn signed_policy(text: &str, key: &JwsSigningKey) -> String {
    let payload = json!({"AttestationPolicy": b64(text.as_bytes())}).to_string();
    sign_jws(payload.as_bytes(), key).unwrap()
}

fn cert_change(pem: &str, key: &JwsSigningKey) -> String {
    let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents;
    let payload = json!({"policyCertificate": {"kty": "RSA", "x5c": [STANDARD.encode(der)]}});
    serde_json::to_string(&sign_jws(payload.to_string().as_bytes(), key).unwrap()).unwrap()
}

async fn create(t: &TestServer, body: Value) {
    let (s, b) = admin_post(t, "/admin/providers", body.to_string().into_bytes()).await;
    assert_eq!(s, 201, "{b}");
}

async fn call(
    t: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut req = t
        .client
        .request(method, t.url(&format!("{path}?{V}")))
        .header("content-type", "text/plain")
        .body(body);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    json(req.send().await.unwrap()).await
}

async fn put(t: &TestServer, path: &str, token: &str, body: String) -> (u16, Value) {
    call(t, reqwest::Method::PUT, path, Some(token), body).await
}

async fn post(t: &TestServer, path: &str, token: &str, body: String) -> (u16, Value) {
    call(t, reqwest::Method::POST, path, Some(token), body).await
}

const PERMIT: &str = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";

/// 1. A policy cannot issue the service's claims, and every provider signs
/// with its own key: a token of one never verifies as another's.
#[tokio::test]
async fn no_provider_can_mint_another_providers_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let sample = SgxSample::builder().at(UnixTime::now().0).build();
    let roots = json!({"test_roots": {"intel": [pem(&sample.root_der)]}});
    create(
        &t,
        json!({"name": "attacker", "aad_tokens": ["attacker-secret"], "config": roots}),
    )
    .await;
    create(
        &t,
        json!({"name": "victim", "aad_tokens": ["victim-secret"], "config": roots}),
    )
    .await;
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&sample.collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let victim_issuer = format!("{}/providers/victim", t.base());

    // Every forged claim is refused when the policy is set, at its line:col.
    for claim in [
        "iss",
        "exp",
        "x-ms-sgx-mrenclave",
        "x-ms-policy-hash",
        "x-attesta-test-root",
        "cnf",
    ] {
        let policy = format!(
            "version=1.0;\nauthorizationrules{{=> permit();}};\nissuancerules{{\n  => issue(type=\"{claim}\", value=\"forged\");\n}};"
        );
        let (s, b) = put(
            &t,
            "/providers/attacker/policies/SgxEnclave",
            "attacker-secret",
            unsigned_policy(&policy),
        )
        .await;
        assert_error(s, &b, 400, "PolicyParsingError");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(claim) && msg.contains("4:"), "{claim}: {msg}");
    }
    // A Rego policy's outputs are known only when it runs: refused then.
    let rego = format!(
        "package attesta\ndefault allow := true\nclaims := {{\"iss\": \"{victim_issuer}\"}}\n"
    );
    let (s, b) = put(
        &t,
        "/providers/attacker/policies/SgxEnclave",
        "attacker-secret",
        unsigned_policy(&rego),
    )
    .await;
    if s == 200 {
        let (s, b) = attest_at(
            &t,
            "/providers/attacker/attest/SgxEnclave",
            "2020-10-01",
            json!({"quote": b64(&sample.quote)}),
        )
        .await;
        assert_error(s, &b, 400, "PolicyEvaluationError");
    } else {
        assert_error(s, &b, 400, "PolicyParsingError");
    }

    // Each provider publishes its own keys.
    let certs = |p: &'static str| {
        let t = &t;
        async move {
            json(
                t.client
                    .get(t.url(&format!("/providers/{p}/certs")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .1
        }
    };
    let (a, v) = (certs("attacker").await, certs("victim").await);
    assert_ne!(a["keys"][0]["kid"], v["keys"][0]["kid"]);
    // A subject per provider, as MAA's instance certificates.
    let leaf = STANDARD
        .decode(a["keys"][0]["x5c"][0].as_str().unwrap())
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    assert!(
        cert.subject().to_string().contains("/providers/attacker"),
        "{}",
        cert.subject()
    );

    // The attacker's genuine token does not verify as the victim's, and the
    // victim's verifies as its own.
    let (s, _) = put(
        &t,
        "/providers/attacker/policies/SgxEnclave",
        "attacker-secret",
        unsigned_policy(PERMIT),
    )
    .await;
    assert_eq!(s, 200);
    let token_of = |p: &'static str| {
        let (t, q) = (&t, b64(&sample.quote));
        async move {
            let (s, b) = attest_at(
                t,
                &format!("/providers/{p}/attest/SgxEnclave"),
                "2020-10-01",
                json!({ "quote": q }),
            )
            .await;
            assert_eq!(s, 200, "{b}");
            b["token"].as_str().unwrap().to_string()
        }
    };
    let ca = std::fs::read(&t.server.tls_cert).unwrap();
    let now = UnixTime::now().0;
    let attacker_token = token_of("attacker").await;
    let e = verify_with_issuer(&attacker_token, &victim_issuer, Some(&ca), now, 5)
        .await
        .unwrap_err();
    assert!(
        matches!(e.code(), "TokenWrongIssuer" | "TokenUnknownKey"),
        "{e}"
    );
    // Even with the issuer rewritten, the key is the attacker's.
    let mut forged = claims(&attacker_token);
    forged.insert("iss".into(), json!(victim_issuer));
    let parts: Vec<&str> = attacker_token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&forged).unwrap()),
        parts[2]
    );
    let e = verify_with_issuer(&forged, &victim_issuer, Some(&ca), now, 5)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenUnknownKey", "{e}");
    let victim_token = token_of("victim").await;
    verify_with_issuer(&victim_token, &victim_issuer, Some(&ca), now, 5)
        .await
        .expect("the victim's own token verifies");
    t.stop().await;
}

/// 2. Isolated providers: reads need a bearer; every signed request is bound
/// to the provider, operation and type it was first applied to; rollback
/// and replays are refused; repeating what changes nothing still answers.
#[tokio::test]
async fn isolated_control_plane_refuses_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (rsa, rsa_pem) = policy_signer(false, "shared signer");
    let (other, other_pem) = policy_signer(false, "second signer");
    for name in ["iso", "iso2"] {
        create(
            &t,
            json!({"name": name, "trust_model": "isolated", "aad_tokens": [format!("{name}-secret")],
                   "policy_certificates": [rsa_pem, other_pem]}),
        )
        .await;
    }
    let tok = "iso-secret";
    let sgx = "/providers/iso/policies/SgxEnclave";

    // Anonymous reads are refused on isolated providers too.
    for path in [sgx, "/providers/iso/certificates"] {
        let (s, b) = call(&t, reqwest::Method::GET, path, None, String::new()).await;
        assert_error(s, &b, 401, "Unauthorized");
    }
    // And writes, however well signed.
    let old = signed_policy(PERMIT, &rsa);
    let (s, b) = call(&t, reqwest::Method::PUT, sgx, None, old.clone()).await;
    assert_error(s, &b, 401, "Unauthorized");

    let (s, b) = put(&t, sgx, tok, old.clone()).await;
    assert_eq!(s, 200, "{b}");
    // Sending it again changes nothing: same answer.
    let (s, b) = put(&t, sgx, tok, old.clone()).await;
    assert_eq!(s, 200, "{b}");

    // The policy JWS is not a reset.
    let (s, b) = post(&t, &format!("{sgx}:reset"), tok, old.clone()).await;
    assert_error(s, &b, 400, "InvalidOperation");
    // Nor another type's policy, nor another provider's.
    for path in [
        "/providers/iso/policies/OpenEnclave",
        "/providers/iso/policies/Tpm",
    ] {
        let (s, b) = put(&t, path, tok, old.clone()).await;
        assert_error(s, &b, 400, "ReplayedRequest");
    }
    let (s, b) = put(
        &t,
        "/providers/iso2/policies/SgxEnclave",
        "iso2-secret",
        old.clone(),
    )
    .await;
    assert_error(s, &b, 400, "ReplayedRequest");

    // A newer policy; the older one cannot come back (rollback).
    let newer = signed_policy(
        "version=1.0; authorizationrules{ => deny(); }; issuancerules{};",
        &rsa,
    );
    let (s, b) = put(&t, sgx, tok, newer.clone()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = put(&t, sgx, tok, old.clone()).await;
    assert_error(s, &b, 400, "ReplayedRequest");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("roll"),
        "{b}"
    );

    // A signed reset, once; replayed after a new policy it is refused.
    let reset = sign_jws(b"", &rsa).unwrap();
    let (s, b) = post(&t, &format!("{sgx}:reset"), tok, reset.clone()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&t, &format!("{sgx}:reset"), tok, reset.clone()).await;
    assert_eq!(s, 200, "nothing to undo: {b}");
    let fresh = signed_policy(
        "version=1.0; authorizationrules{ => permit(); }; issuancerules{ => issue(type=\"v\", value=3); };",
        &rsa,
    );
    let (s, b) = put(&t, sgx, tok, fresh).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&t, &format!("{sgx}:reset"), tok, reset.clone()).await;
    assert_error(s, &b, 400, "ReplayedRequest");
    // The same reset does not reset another type either.
    let (s, b) = post(&t, "/providers/iso/policies/OpenEnclave:reset", tok, reset).await;
    assert_error(s, &b, 400, "ReplayedRequest");

    // Certificates: an add is not a remove, and a removed certificate is
    // not re-added by replaying its addition.
    let (_, third_pem) = policy_signer(false, "third");
    let add = cert_change(&third_pem, &rsa);
    let certs = "/providers/iso/certificates";
    for _ in 0..2 {
        let (s, b) = post(&t, &format!("{certs}:add"), tok, add.clone()).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = post(&t, &format!("{certs}:remove"), tok, add.clone()).await;
    assert_error(s, &b, 400, "ReplayedRequest");
    let remove = cert_change(&third_pem, &other);
    for _ in 0..2 {
        let (s, b) = post(&t, &format!("{certs}:remove"), tok, remove.clone()).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            claims(b["token"].as_str().unwrap())["x-ms-policycertificates-result"],
            "IsAbsent"
        );
    }
    let (s, b) = post(&t, &format!("{certs}:add"), tok, add).await;
    assert_error(s, &b, 400, "ReplayedRequest");

    // Times, where the client sends them: an expired request is refused.
    let payload =
        json!({"AttestationPolicy": b64(PERMIT.as_bytes()), "exp": UnixTime::now().0 - 10});
    let expired = sign_jws(payload.to_string().as_bytes(), &rsa).unwrap();
    let (s, b) = put(&t, sgx, tok, expired).await;
    assert_error(s, &b, 400, "ReplayedRequest");
    t.stop().await;
}

/// 8. One spelling per signed request: a padded signature or a duplicate
/// header member is refused, so the stored, hashed and replay-checked text is
/// exactly what was signed.
#[tokio::test]
async fn non_canonical_jws_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (rsa, rsa_pem) = policy_signer(false, "signer");
    create(
        &t,
        json!({"name": "iso", "trust_model": "isolated", "aad_tokens": ["s"], "policy_certificates": [rsa_pem]}),
    )
    .await;
    let sgx = "/providers/iso/policies/SgxEnclave";
    let genuine = signed_policy(PERMIT, &rsa);
    let (s, b) = put(&t, sgx, "s", format!("{genuine}=")).await;
    assert_error(s, &b, 400, "InvalidOperation");
    let (s, b) = put(&t, sgx, "s", format!("{genuine}==")).await;
    assert_error(s, &b, 400, "InvalidOperation");
    // Duplicate members in the header.
    let cert = x509_parser::pem::parse_x509_pem(policy_signer(false, "x").1.as_bytes())
        .unwrap()
        .1
        .contents;
    let header = format!(
        r#"{{"alg":"none","alg":"none","x5c":["{}"]}}"#,
        STANDARD.encode(cert)
    );
    let dup = format!(
        "{}.{}.",
        b64(header.as_bytes()),
        b64(br#"{"AttestationPolicy":"dg"}"#)
    );
    let (s, b) = put(&t, sgx, "s", dup).await;
    assert_error(s, &b, 400, "InvalidOperation");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate"),
        "{b}"
    );
    let (s, b) = put(&t, sgx, "s", genuine).await;
    assert_eq!(s, 200, "{b}");
    t.stop().await;
}

/// 5. The issuer comes from configuration: an unknown `Host` is refused, and
/// no token, `jku` or metadata carries it.
#[tokio::test]
async fn host_header_never_becomes_the_issuer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.hostnames = vec!["attest.example.com".into()];
    let t = start(cfg).await;
    let port = t.server.addr.port();
    let openid = |host: &'static str| {
        let t = &t;
        async move {
            json(
                t.client
                    .get(t.url("/.well-known/openid-configuration"))
                    .header("host", host)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    for host in ["attacker.example", "default.attacker.example", "10.9.8.7"] {
        let (s, b) = openid(host).await;
        assert_error(s, &b, 421, "MisdirectedRequest");
    }
    let (s, b) = openid("attest.example.com").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["issuer"], format!("https://attest.example.com:{port}"));
    assert_eq!(
        b["jwks_uri"],
        format!("https://attest.example.com:{port}/certs")
    );
    // A port the client made up does not reach the issuer either.
    let (s, b) = openid("localhost:1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["issuer"], format!("https://localhost:{port}"));

    // With a public URL, requests for its host get its issuer whatever port
    // they name; loopback still answers for probes on the node itself, with
    // its own loopback origin.
    t.stop().await;
    let mut cfg = config(tmp.path());
    cfg.public_url = Some("https://attest.example.com".into());
    let t = start(cfg).await;
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/policies/SgxEnclave?{V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["token"].as_str().unwrap())["iss"], t.base());
    let (s, b) = json(
        t.client
            .get(t.url("/.well-known/openid-configuration"))
            .header("host", "contoso.attest.example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // No provider named contoso: 404, never the default provider.
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = json(
        t.client
            .get(t.url("/.well-known/openid-configuration"))
            .header("host", "attest.example.com:8443")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["issuer"], "https://attest.example.com");
    t.stop().await;
}

/// 6. A control-plane reply carries the provider's exact issuer and is
/// signed by its key, but is refused as an attestation result.
#[tokio::test]
async fn management_replies_do_not_pass_as_attestation_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/policies/SgxEnclave?{V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let reply = b["token"].as_str().unwrap();
    assert_eq!(claims(reply)["iss"], t.base());
    let ca = std::fs::read(&t.server.tls_cert).unwrap();
    let e = verify_with_issuer(reply, &t.base(), Some(&ca), UnixTime::now().0, 5)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "TokenNotAnAttestationToken", "{e}");
    t.stop().await;
}

/// The MAA TPM protocol (v2) with a testkit TPM: init, then a request
/// signed by an ES256 request key.
struct TpmClient<'a> {
    t: &'a TestServer,
    provider: &'a str,
}

impl TpmClient<'_> {
    async fn send(&self, message: Value) -> (u16, Value) {
        let (s, b) = json(
            self.t
                .client
                .post(
                    self.t
                        .url(&format!("/providers/{}/attest/Tpm?{V}", self.provider)),
                )
                .json(&json!({"data": b64(message.to_string().as_bytes())}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if s != 200 {
            return (s, b);
        }
        let data = URL_SAFE_NO_PAD.decode(b["data"].as_str().unwrap()).unwrap();
        (s, serde_json::from_slice(&data).unwrap())
    }

    /// Attest `sample` with `custom_claims` and the request key bound by
    /// `info` (`None`: unbound). The token's claims or the error.
    async fn attest(
        &self,
        sample: &TpmSample,
        custom_claims: Value,
        bind_by_quote: bool,
    ) -> Result<Map<String, Value>, (u16, Value)> {
        let (s, init) = self.send(json!({"payload": {"type": "aikcert"}})).await;
        assert_eq!(s, 200, "{init}");
        let ch = init["payload"]["challenge"].as_str().unwrap().to_string();
        let challenge = URL_SAFE_NO_PAD.decode(&ch).unwrap();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .unwrap();
        use aws_lc_rs::signature::KeyPair;
        let point = key.public_key().as_ref();
        let jwk_text =
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
                .to_string();
        let nonce = if bind_by_quote {
            let mut input = jwk_text.as_bytes().to_vec();
            input.push(0);
            input.extend_from_slice(&challenge);
            attesta_evidence::crypto::sha256(&input).to_vec()
        } else {
            challenge.clone()
        };
        let (quote, signature) = sample.quote_over(&nonce);
        let pcrs: Vec<Value> = sample
            .pcrs
            .iter()
            .map(|(bank, values)| {
                let _ = hash_name(*bank);
                json!({"algorithm": bank, "values": values.iter().map(|(i, d)| json!({"index": i, "digest": hex::encode(d)})).collect::<Vec<_>>()})
            })
            .collect();
        let info = if bind_by_quote {
            r#"{"tpm_quote":{"hash_alg":"sha-256"}}"#
        } else {
            "{}"
        };
        let att = json!({"current_attestation": {
            "logs": [{"type": "TCG", "log": b64(&sample.event_log)}],
            "aik_cert": b64(&sample.ak_cert),
            "aik_pub": sample.ak_jwk(),
            "pcrs": pcrs,
            "quote": b64(&quote),
            "signature": b64(&signature),
        }});
        let payload = format!(
            r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{}","request_key":{{"jwk":{jwk_text},"info":{info}}},"custom_claims":{custom_claims},"tpm_att_data":{att}}}"#,
            init["payload"]["service_context"].as_str().unwrap()
        );
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"ES256","typ":"attReqV2"}"#),
            b64(payload.as_bytes())
        );
        let sig = key.sign(&rng, input.as_bytes()).unwrap();
        let jws = format!("{input}.{}", b64(sig.as_ref()));
        let (s, b) = self.send(json!({"payload": {"request": jws}})).await;
        if s != 200 {
            return Err((s, b));
        }
        Ok(claims(b["payload"]["report"].as_str().unwrap()))
    }
}

/// 3 and 4. Attester-supplied claims never pose as the service's, and `cnf`
/// confirms only a key the TPM is proven to hold.
#[tokio::test]
async fn tpm_custom_claims_and_unbound_keys_earn_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    // Microsoft's sample style: conditions without issuer==, and AKs
    // without a certificate left to the policy.
    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"require_valid_aik_cert\", value=false); };\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"secureBootEnabled\", value==true] => permit(); };\nissuancerules{};";
    provider_with_policy(&t, "lab", "Tpm", policy).await;
    let sample = TpmSample::builder()
        .at(UnixTime::now())
        .intermediate(false)
        .build();
    let c = TpmClient {
        t: &t,
        provider: "lab",
    };

    // Without the forgery the uncertified AK is refused by the policy.
    let (s, b) = c.attest(&sample, json!([]), true).await.unwrap_err();
    assert_error(s, &b, 400, "PolicyEvaluationError");
    // Custom claims with the service's names are refused, not believed.
    let forged = json!([
        {"name": "aikValidated", "value": true, "value_type": "Boolean"},
        {"name": "secureBootEnabled", "value": true, "value_type": "Boolean"}
    ]);
    let (s, b) = c.attest(&sample, forged, true).await.unwrap_err();
    assert_error(s, &b, 400, "ReservedClaimName");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("aikValidated"),
        "{b}"
    );

    // A certified AK passes; a custom claim of its own name is fine.
    let (s, b) = admin_post(
        &t,
        "/admin/providers",
        json!({"name": "lab2", "config": {"test_roots": {"tpm": [sample.root_pem]}}})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = json(
        t.client
            .put(t.url(&format!("/providers/lab2/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(
                "version=1.2; authorizationrules{ [type==\"aikValidated\", value==true] => permit(); }; issuancerules{ c:[type==\"role\", issuer==\"CustomClaim\"] => issue(type=\"role\", value=c.value); };",
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c2 = TpmClient {
        t: &t,
        provider: "lab2",
    };
    let role = json!([{"name": "role", "value": "db", "value_type": "String"}]);
    let token = c2.attest(&sample, role.clone(), true).await.unwrap();
    assert_eq!(token["role"], "db");
    assert_eq!(token["cnf"]["jwk"]["kty"], "EC");
    // 4. An unbound request key is refused rather than confirmed.
    let (s, b) = c2.attest(&sample, role, false).await.unwrap_err();
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "RequestKeyNotBound",
        "{b}"
    );
    t.stop().await;
}
