//! Test harness: a real Attesta server on a loopback port over HTTPS, with
//! its own temporary data directory, and a client that trusts its
//! self-signed certificate.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use attesta_server::{Config, RunningServer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

pub struct TestServer {
    pub server: RunningServer,
    pub dir: PathBuf,
    pub client: reqwest::Client,
    pub admin: String,
}

pub fn config(dir: &Path) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    // Tests never reach a real collateral service.
    c.collateral.pcs_url = String::new();
    c.collateral.kds_url = String::new();
    c
}

pub async fn start(cfg: Config) -> TestServer {
    let dir = cfg.data_dir.clone();
    let server = attesta_server::start(cfg).await.expect("server starts");
    let pem = std::fs::read(&server.tls_cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .http1_only()
        .build()
        .unwrap();
    let admin = std::fs::read_to_string(dir.join("admin-token"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    TestServer {
        server,
        dir,
        client,
        admin,
    }
}

impl TestServer {
    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.addr.port())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub async fn stop(self) {
        self.server.shutdown();
        self.server.wait().await.unwrap();
    }
}

/// Status and JSON body of a response.
pub async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, v)
}

/// Assert an MAA error body with `code`.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "body: {body}");
    assert_eq!(body["error"]["code"], want_code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
}

/// Claims of a JWT, unverified.
pub fn claims(token: &str) -> Map<String, Value> {
    attesta_token::jwt::decode_unverified(token).unwrap().1
}

/// The policy text inside a get-policy result token.
pub fn policy_text_of(token: &str) -> String {
    let jws = claims(token)["x-ms-policy"].as_str().unwrap().to_string();
    let parsed = attesta_token::jws::parse_jws(&jws).unwrap();
    let stored: Value = serde_json::from_slice(&parsed.payload).unwrap();
    let b64 = stored["AttestationPolicy"].as_str().unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
}

/// The unsigned set-policy JWS for `text`, as the SDKs build it.
pub fn unsigned_policy(text: &str) -> String {
    let payload =
        serde_json::json!({"AttestationPolicy": URL_SAFE_NO_PAD.encode(text)}).to_string();
    attesta_token::jws::unsigned_jws(payload.as_bytes())
}

/// PEM text of a DER certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD;
    let b64 = STANDARD.encode(der);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// POST raw bytes to an admin route with the admin token.
pub async fn admin_post(t: &TestServer, path: &str, body: Vec<u8>) -> (u16, Value) {
    json(
        t.client
            .post(t.url(path))
            .bearer_auth(&t.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// GET an admin route with the admin token.
pub async fn admin_get(t: &TestServer, path: &str) -> (u16, Value) {
    json(
        t.client
            .get(t.url(path))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// POST an attest body to `path` with `api_version`.
pub async fn attest_at(t: &TestServer, path: &str, api_version: &str, body: Value) -> (u16, Value) {
    json(
        t.client
            .post(t.url(&format!("{path}?api-version={api_version}")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Create provider `name` and set its unsigned policy for `attestation_type`.
pub async fn provider_with_policy(
    t: &TestServer,
    name: &str,
    attestation_type: &str,
    policy: &str,
) {
    let (s, b) = admin_post(
        t,
        "/admin/providers",
        serde_json::json!({ "name": name }).to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = json(
        t.client
            .put(t.url(&format!(
                "/providers/{name}/policies/{attestation_type}?api-version=2022-08-01"
            )))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(policy))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

/// A self-signed RSA or P-256 certificate for signing policies.
pub fn policy_signer(ec: bool, cn: &str) -> (attesta_token::jws::JwsSigningKey, String) {
    let key = if ec {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    } else {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
    };
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    let k = if ec {
        attesta_token::jws::JwsSigningKey::Ec {
            key_pkcs8_der: key.serialize_der(),
            cert_der: der,
        }
    } else {
        attesta_token::jws::JwsSigningKey::Rsa {
            key_pkcs8_der: key.serialize_der(),
            cert_der: der,
        }
    };
    (k, cert.pem())
}

/// A fresh RSA-2048 key (a TPM protocol request key, a VBS enclave key) and
/// its JWK text, exactly as it will be sent.
pub fn rsa_key_and_jwk() -> (aws_lc_rs::signature::RsaKeyPair, String) {
    use aws_lc_rs::signature::KeyPair;
    let key = aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pk = key.public_key();
    let jwk = format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
        URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero())
    );
    (key, jwk)
}

/// A compact JWS of `payload` with header `{"alg":"PS256","typ":typ}`.
pub fn pss_jws(key: &aws_lc_rs::signature::RsaKeyPair, typ: &str, payload: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"PS256","typ":"{typ}"}}"#)),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A provider `name` trusting `root_der` (a testkit Intel root) with
/// `collateral` imported: what an SGX or TDX test attests against. Returns
/// the import's answer.
pub async fn intel_tenant(
    t: &TestServer,
    name: &str,
    root_der: &[u8],
    collateral: &attesta_evidence::dcap::DcapCollateral,
) -> Value {
    let body =
        serde_json::json!({"name": name, "config": {"test_roots": {"intel": [pem(root_der)]}}});
    let (s, b) = admin_post(t, "/admin/providers", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = admin_post(
        t,
        "/admin/collateral",
        attesta_collateral::serialize(collateral),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// `PATCH /admin/providers/{name}` with `{"config": config}`.
pub async fn configure_provider(t: &TestServer, name: &str, config: Value) -> (u16, Value) {
    json(
        t.client
            .patch(t.url(&format!("/admin/providers/{name}")))
            .bearer_auth(&t.admin)
            .json(&serde_json::json!({ "config": config }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The TPM one-shot flow for the testkit `sample` at provider `name`:
/// `Tpm:challenge`, then `Tpm:quote` with the sample quoted over the
/// challenge (PCRs and log included; the AK certificate and intermediates
/// when `with_cert`). The token, or the status and error body.
#[allow(dead_code)]
pub async fn tpm_one_shot_token(
    t: &TestServer,
    name: &str,
    sample: &attesta_testkit::TpmSample,
    with_cert: bool,
) -> Result<String, (u16, Value)> {
    const V: &str = "api-version=2022-08-01";
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/{name}/attest/Tpm:challenge?{V}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let challenge = URL_SAFE_NO_PAD
        .decode(b["challenge"].as_str().unwrap())
        .unwrap();
    let (attest, signature) = sample.quote_over(&challenge);
    let mut pcrs = Map::new();
    for (bank, values) in &sample.pcrs {
        let m: Map<String, Value> = values
            .iter()
            .map(|(i, v)| (i.to_string(), serde_json::json!(hex::encode(v))))
            .collect();
        pcrs.insert(
            attesta_evidence::tpm::structures::hash_name(*bank).to_ascii_lowercase(),
            Value::Object(m),
        );
    }
    let mut body = serde_json::json!({
        "service_context": b["service_context"],
        "quotes": [{"attest": URL_SAFE_NO_PAD.encode(attest), "signature": URL_SAFE_NO_PAD.encode(signature)}],
        "ak_public": URL_SAFE_NO_PAD.encode(&sample.ak_public),
        "pcrs": pcrs,
        "event_log": URL_SAFE_NO_PAD.encode(&sample.event_log),
    });
    if with_cert {
        body["ak_certificate"] = serde_json::json!(URL_SAFE_NO_PAD.encode(&sample.ak_cert));
        body["ak_intermediates"] = serde_json::json!(
            sample
                .intermediates
                .iter()
                .map(|c| URL_SAFE_NO_PAD.encode(c))
                .collect::<Vec<_>>()
        );
    }
    let (s, b) = json(
        t.client
            .post(t.url(&format!("/providers/{name}/attest/Tpm:quote?{V}")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    if s == 200 {
        Ok(b["token"].as_str().unwrap().to_string())
    } else {
        Err((s, b))
    }
}

/// [`tpm_one_shot_token`] with the AK certificate: the token's claims.
#[allow(dead_code)]
pub async fn tpm_one_shot(
    t: &TestServer,
    name: &str,
    sample: &attesta_testkit::TpmSample,
) -> Result<Map<String, Value>, (u16, Value)> {
    tpm_one_shot_token(t, name, sample, true)
        .await
        .map(|token| claims(&token))
}
