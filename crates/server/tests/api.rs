//! The MAA surface over real HTTPS: metadata, `/certs`, default policies,
//! error bodies and statuses, api-version handling, and malformed evidence
//! requests refused with their own codes.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::AttestationType;
use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, verify_jwt};

const V: &str = "api-version=2022-08-01";

#[tokio::test]
async fn openid_metadata_and_certs_verify_the_servers_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;

    // Microsoft's SDKs send a bearer token even here: it is ignored.
    let (status, meta) = json(
        t.client
            .get(t.url("/.well-known/openid-configuration"))
            .bearer_auth("anything")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(meta["issuer"], t.base());
    assert_eq!(meta["jwks_uri"], format!("{}/certs", t.base()));
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(meta["response_types_supported"], json!(["token", "none"]));

    let (status, certs) = json(t.client.get(t.url("/certs")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let keys = certs["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0]["kid"].is_string());
    assert_eq!(keys[0]["x5c"].as_array().unwrap().len(), 1);
    let jwks: Jwks = serde_json::from_value(certs).unwrap();

    // A token the server signs (the get-policy result) verifies with /certs.
    let (status, body) = json(
        t.client
            .get(t.url(&format!("/policies/SgxEnclave?{V}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    let verified = verify_jwt(
        token,
        &jwks,
        &VerifyOptions {
            issuer: Some(t.base()),
            now: attesta_evidence::UnixTime::now().0,
            leeway_secs: 5,
        },
    )
    .expect("server token verifies against /certs");
    assert_eq!(verified.header["alg"], "RS256");
    assert_eq!(verified.header["jku"], format!("{}/certs", t.base()));
    assert_eq!(verified.header["typ"], "JWT");
    assert_eq!(verified.header["kid"], jwks.keys[0].kid.clone().unwrap());
    let c = &verified.claims;
    assert_eq!(c["iss"], t.base());
    assert_eq!(c["iat"], c["nbf"]);
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        3600
    );
    t.stop().await;
}

#[tokio::test]
async fn default_policy_per_attestation_type() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    for ty in AttestationType::ALL {
        // Lowercase type names work as in Microsoft's samples.
        let path = format!("/policies/{}?{V}", ty.as_str().to_lowercase());
        let (status, body) = json(
            t.client
                .get(t.url(&path))
                .bearer_auth(&t.admin)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{ty}: {body}");
        let token = body["token"].as_str().unwrap();
        match attesta_policy::defaults::default_policy(ty.as_str()) {
            Some(expected) => assert_eq!(policy_text_of(token), expected, "{ty}"),
            // No default (TPM): MAA's empty unsecured JWS.
            None => assert_eq!(
                claims(token)["x-ms-policy"],
                "eyJhbGciOiJub25lIn0..",
                "{ty}"
            ),
        }
    }
    // The SEV-SNP default has MAA's exact hash.
    assert_eq!(
        attesta_policy::policy_hash(attesta_policy::defaults::default_policy("SevSnpVm").unwrap()),
        "9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco"
    );
    t.stop().await;
}

#[tokio::test]
async fn error_bodies_and_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.max_body_bytes = 64 * 1024;
    let t = start(cfg).await;
    let c = &t.client;

    // 404: unknown route, unknown attestation type, unknown provider.
    let (s, b) = json(c.get(t.url("/no/such/route")).send().await.unwrap()).await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = json(
        c.post(t.url(&format!("/attest/Pluton?{V}")))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    let (s, b) = json(
        c.get(t.url("/providers/nobody/certs"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");

    // 400: api-version missing or unknown.
    let (s, b) = json(
        c.post(t.url("/attest/SgxEnclave"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "MissingApiVersionParameter");
    let (s, b) = json(
        c.post(t.url("/attest/SgxEnclave?api-version=2019-01-01"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidApiVersion");
    let (s, b) = json(
        c.get(t.url("/certs?api-version=1999-01-01"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidApiVersion");
    // Every listed version is accepted.
    for v in attesta_server::routes::API_VERSIONS {
        let (s, _) = json(
            c.get(t.url(&format!("/certs?api-version={v}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }

    // 400: malformed JSON, missing evidence, bad base64url.
    let (s, b) = json(
        c.post(t.url(&format!("/attest/SgxEnclave?{V}")))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let (s, b) = json(
        c.post(t.url(&format!("/attest/SgxEnclave?{V}")))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let (s, b) = json(
        c.post(t.url(&format!("/attest/OpenEnclave?{V}")))
            .body(r#"{"report":"***"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    let (s, b) = json(
        c.post(t.url(&format!("/attest/SgxEnclave?{V}")))
            .body(r#"{"quote":"AAAA","runtimeData":{"data":"AA","dataType":"Yaml"}}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");

    // 413: a body over the limit, with and without Content-Length.
    let big = vec![b'a'; 65 * 1024];
    let (s, b) = json(
        c.post(t.url(&format!("/attest/SgxEnclave?{V}")))
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 413, "RequestBodyTooLarge");
    let stream = futures_body(big);
    let (s, b) = json(
        c.post(t.url(&format!("/attest/SgxEnclave?{V}")))
            .body(stream)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 413, "RequestBodyTooLarge");

    // 405: a known route with the wrong method.
    let (s, b) = json(c.delete(t.url("/certs")).send().await.unwrap()).await;
    assert_error(s, &b, 405, "MethodNotAllowed");

    // A body that is not the type's request is refused with its own code,
    // never a token.
    let body = json!({"quote": "AAAA", "report": "AAAA", "data": "e30", "attestationInfo": "e30"});
    let (s, b) = json(
        c.post(t.url(&format!("/attest/{}?{V}", AttestationType::AzureGuest)))
            .bearer_auth("ignored")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AzureGuestRequestInvalid");
    assert!(b.get("token").is_none());
    // Error responses carry the code as a header too.
    let resp = c.get(t.url("/nope")).send().await.unwrap();
    assert_eq!(resp.headers()["x-ms-error-code"], "NotFound");
    t.stop().await;
}

/// A body without Content-Length (chunked), so the limit is enforced while
/// reading rather than from the header.
fn futures_body(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter(
    items: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    IterStream(items.into_iter())
}

struct IterStream<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for IterStream<I> {
    type Item = I::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[tokio::test]
async fn servicehealth_is_204() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let resp = t.client.get(t.url("/servicehealth")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let _: Value = Value::Null;
    t.stop().await;
}

#[tokio::test]
async fn tpm_init_returns_a_challenge_and_sealed_context() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let init = json!({"payload": {"type": "aikcert"}});
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/attest/Tpm?{V}")))
            .json(&json!({"data": b64(&init)}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let msg: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b["data"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let challenge = msg["payload"]["challenge"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(challenge)
            .unwrap()
            .len(),
        16
    );
    assert!(msg["payload"]["service_context"].as_str().unwrap().len() > 40);
    // A request carrying that context but no request key is a protocol
    // error (the full request message is tested with swtpm).
    let body =
        json!({"challenge": challenge, "service_context": msg["payload"]["service_context"]});
    let req = json!({"payload": {"request": attesta_token::jws::unsigned_jws(body.to_string().as_bytes())}});
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/attest/Tpm?{V}")))
            .json(&json!({"data": b64(&req)}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "TpmProtocolError");
    // The same context against another provider's route is refused.
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/attest/Tpm?{V}")))
            .header("host", "nobody.localhost")
            .json(&json!({"data": b64(&req)}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 404, "NotFound");
    // An unknown init type is a protocol error.
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/attest/Tpm?{V}")))
            .json(&json!({"data": b64(&json!({"payload": {"type": "ek"}}))}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "TpmProtocolError");
    t.stop().await;
}
