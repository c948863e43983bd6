//! TPM attestation end to end over HTTPS with a real software TPM: the
//! server issues a challenge, swtpm (through tests/tpm-sim/make-evidence.sh)
//! quotes over it with an AK certified by a test CA, and the one-shot
//! request yields a token judged by the provider's TPM policy.
//!
//! Needs swtpm and tpm2-tools (the harness installs them as root), so it is
//! `#[ignore]`d here and run by the test command's swtpm stage.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

const V: &str = "api-version=2022-08-01";

fn harness() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tpm-sim/make-evidence.sh")
}

fn b64(p: &Path) -> String {
    URL_SAFE_NO_PAD.encode(std::fs::read(p).unwrap())
}

async fn challenge(t: &TestServer, provider: &str) -> (String, String) {
    let (s, b) = json(
        t.client
            .get(t.url(&format!("/providers/{provider}/attest/Tpm:challenge?{V}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    (
        b["challenge"].as_str().unwrap().into(),
        b["service_context"].as_str().unwrap().into(),
    )
}

fn one_shot(dir: &Path, context: &str) -> Value {
    let pcrs: Value =
        serde_json::from_slice(&std::fs::read(dir.join("pcrs.json")).unwrap()).unwrap();
    json!({
        "service_context": context,
        "quotes": [{"attest": b64(&dir.join("quote.msg")), "signature": b64(&dir.join("quote.sig"))}],
        "ak_public": b64(&dir.join("ak.tpmt")),
        "ak_certificate": b64(&dir.join("ak_cert.der")),
        "pcrs": pcrs,
        "event_log": b64(&dir.join("eventlog.bin")),
        "nonce": "rp-nonce"
    })
}

#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_one_shot_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(&tmp.path().join("data"))).await;
    let admin = |m: reqwest::Method, path: &str, body: Value| {
        t.client
            .request(m, t.url(path))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
    };
    let (s, b) = json(
        admin(
            reqwest::Method::POST,
            "/admin/providers",
            json!({"name": "vm"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // TPM has no default policy: refused until one is set.
    let (ch, ctx) = challenge(&t, "vm").await;
    let policy = "version=1.1;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"secureBootEnabled\"] => issue(type=\"secureboot\", value=c.value); c:[type==\"aikPubHash\"] => issue(type=\"ak\", value=c.value); };";
    let nonce_hex = hex::encode(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let out = tmp.path().join("ev");
    let st = Command::new("bash")
        .arg(harness())
        .arg(&out)
        .arg(&nonce_hex)
        .status()
        .unwrap();
    assert!(st.success(), "the swtpm harness failed");
    let body = one_shot(&out, &ctx);
    let post = |body: Value, provider: &'static str| {
        t.client
            .post(t.url(&format!("/providers/{provider}/attest/Tpm:quote?{V}")))
            .json(&body)
            .send()
    };
    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidOperation");

    let (s, b) = json(
        t.client
            .put(t.url(&format!("/providers/vm/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(policy))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The AK CA is not trusted yet.
    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "AkChainUntrusted", "{b}");
    let ca = std::fs::read_to_string(out.join("ca.pem")).unwrap();
    let (s, b) = json(
        admin(
            reqwest::Method::PATCH,
            "/admin/providers/vm",
            json!({"config": {"test_roots": {"tpm": [ca]}}}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let (s, b) = json(post(body.clone(), "vm").await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap();
    let (header, c) = attesta_token::jwt::decode_unverified(token).unwrap();
    assert!(
        header.contains_key("x5c"),
        "TPM tokens carry x5c unless omit_x5c"
    );
    assert_eq!(c["secureboot"], true);
    assert!(c["ak"].is_string());
    assert_eq!(c["x-ms-attestation-type"], "tpm");
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(c["nonce"], "rp-nonce");
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        1440 * 60
    );
    assert!(c.get("pcrs").is_none(), "evidence claims are incoming only");

    // The same evidence against another provider's context, or a tampered
    // context, is refused.
    let (s, _) = json(
        admin(
            reqwest::Method::POST,
            "/admin/providers",
            json!({"name": "other"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let (s, b) = json(post(body.clone(), "other").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "TpmProtocolError", "{b}");
    // A fresh challenge that the quote was not made over.
    let (_, ctx2) = challenge(&t, "vm").await;
    let (s, b) = json(post(one_shot(&out, &ctx2), "vm").await.unwrap()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NonceMismatch", "{b}");
    t.stop().await;
}

/// The MAA TPM protocol (reference §4) with a real software TPM: `aikcert`
/// init, then a v2 request message signed PS256 by a request key bound to
/// the quote (qualifyingData = SHA-256(JWK ‖ 0x00 ‖ challenge)), answered
/// with a report token carrying `cnf`, `rp_data` and policy-issued claims.
#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_maa_protocol_v2_over_https() {
    use attesta_evidence::tpm::structures::{Public, PublicKey};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PSS_SHA256, RsaKeyPair};

    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(&tmp.path().join("data"))).await;
    let (s, b) = json(
        t.client
            .post(t.url("/admin/providers"))
            .bearer_auth(&t.admin)
            .json(&json!({"name": "win"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); => issueproperty(type=\"omit_x5c\", value=true); };\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"secureBootEnabled\", value==true] => permit(); };\nissuancerules{ c:[type==\"role\", issuer==\"CustomClaim\"] => issue(type=\"role\", value=c.value); c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyType\", value=JsonToClaimValue(JmesPath(c.value, \"jwk.kty\"))); c:[type==\"bootEvents\"] => issue(type=\"bootEventCount\", value=JsonToClaimValue(JmesPath(c.value, \"length(Events)\"))); };";
    let (s, b) = json(
        t.client
            .put(t.url(&format!("/providers/win/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(policy))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let envelope = |m: &Value| json!({"data": URL_SAFE_NO_PAD.encode(m.to_string())});
    let open = |b: &Value| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b["data"].as_str().unwrap()).unwrap())
            .unwrap()
    };
    let post = |body: Value| {
        t.client
            .post(t.url(&format!("/providers/win/attest/Tpm?{V}")))
            .json(&body)
            .send()
    };
    let (s, b) = json(
        post(envelope(&json!({"payload": {"type": "aikcert"}})))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let init = open(&b);
    let ch = init["payload"]["challenge"].as_str().unwrap().to_string();
    let ctx = init["payload"]["service_context"]
        .as_str()
        .unwrap()
        .to_string();

    // The request key and its JWK text, exactly as it will be sent.
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pk = key.public_key();
    let jwk_text = format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
        URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero())
    );
    let mut bound = jwk_text.as_bytes().to_vec();
    bound.push(0);
    bound.extend(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let nonce = attesta_evidence::crypto::sha256(&bound);
    let out = tmp.path().join("ev");
    let st = Command::new("bash")
        .arg(harness())
        .arg(&out)
        .arg(hex::encode(nonce))
        .status()
        .unwrap();
    assert!(st.success(), "the swtpm harness failed");
    let ca = std::fs::read_to_string(out.join("ca.pem")).unwrap();
    let (s, b) = json(
        t.client
            .patch(t.url("/admin/providers/win"))
            .bearer_auth(&t.admin)
            .json(&json!({"config": {"test_roots": {"tpm": [ca]}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let ak_tpmt = std::fs::read(out.join("ak.tpmt")).unwrap();
    let PublicKey::Rsa { modulus, exponent } = Public::parse(&ak_tpmt).unwrap().key else {
        panic!("RSA AK expected")
    };
    let ak_jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&modulus), "e": URL_SAFE_NO_PAD.encode(exponent.to_be_bytes().iter().skip_while(|&&b| b == 0).copied().collect::<Vec<u8>>())});
    let pcrs: Value =
        serde_json::from_slice(&std::fs::read(out.join("pcrs.json")).unwrap()).unwrap();
    let banks: Vec<Value> = pcrs
        .as_object()
        .unwrap()
        .iter()
        .map(|(bank, values)| {
            let alg = match bank.as_str() {
                "sha1" => 4,
                "sha256" => 11,
                "sha384" => 12,
                _ => 13,
            };
            let vals: Vec<Value> = values
                .as_object()
                .unwrap()
                .iter()
                .map(|(i, d)| json!({"index": i.parse::<u32>().unwrap(), "digest": d}))
                .collect();
            json!({"algorithm": alg, "values": vals})
        })
        .collect();
    let current = json!({
        "logs": [{"type": "TCG", "log": b64(&out.join("eventlog.bin"))}],
        "aik_cert": b64(&out.join("ak_cert.der")),
        "aik_pub": ak_jwk,
        "pcrs": banks,
        "quote": b64(&out.join("quote.msg")),
        "signature": b64(&out.join("quote.sig")),
    });
    // The boot attestation of this power cycle: the swtpm made one quote, so
    // the boot attestation is that quote again (same reset count and clock).
    let tpm_att = json!({"current_attestation": current, "boot_attestation": current});
    let payload = format!(
        r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{ctx}","rp_id":"https://rp.example","rp_data":"cnAtZGF0YQ","custom_claims":[{{"name":"role","value":"db","value_type":"String"}}],"request_key":{{"jwk":{jwk_text},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"tpm_att_data":{tpm_att}}}"#
    );
    let sign = |payload: &str| {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"PS256","typ":"attReqV2"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let (s, b) = json(
        post(envelope(&json!({"payload": {"request": sign(&payload)}})))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let report = open(&b)["payload"]["report"].as_str().unwrap().to_string();
    let (header, c) = attesta_token::jwt::decode_unverified(&report).unwrap();
    assert!(!header.contains_key("x5c"), "omit_x5c was set");
    assert_eq!(c["role"], "db");
    assert_eq!(c["requestKeyType"], "RSA");
    let logged: Value =
        serde_json::from_slice(&std::fs::read(out.join("events.json")).unwrap()).unwrap();
    let logged = logged
        .as_array()
        .or_else(|| logged["events"].as_array())
        .expect("events.json lists the events")
        .len();
    assert_eq!(
        c["bootEventCount"], logged,
        "bootEvents holds the boot log's events"
    );
    assert_eq!(c["rp_data"], "cnAtZGF0YQ");
    assert_eq!(
        c["cnf"]["jwk"]["n"],
        URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero())
    );

    // The same request with another request key: the binding breaks.
    let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let other_jwk = format!(
        r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#,
        URL_SAFE_NO_PAD.encode(
            other
                .public_key()
                .modulus()
                .big_endian_without_leading_zero()
        )
    );
    let swapped = payload.replace(&jwk_text, &other_jwk);
    let mut sig = vec![0u8; other.public_modulus_len()];
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"PS256","typ":"attReqV2"}"#),
        URL_SAFE_NO_PAD.encode(&swapped)
    );
    other
        .sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
    let (s, b) = json(
        post(envelope(&json!({"payload": {"request": forged}})))
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NonceMismatch", "{b}");
    // A request whose JWS signature is not the request key's.
    let mut tampered = sign(&payload);
    let n = tampered.len() - 10;
    tampered.replace_range(n..n + 1, if &tampered[n..n + 1] == "A" { "B" } else { "A" });
    let (s, b) = json(
        post(envelope(&json!({"payload": {"request": tampered}})))
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "RequestSignatureInvalid",
        "{b}"
    );
    t.stop().await;
}

/// The MAA protocol with `tpm_certify` key binding: the request key is an
/// RSA key the swtpm loaded and certified with TPM2_Certify by the AK over
/// the challenge (the quote then carries the bare challenge); one unbound
/// key rides along in `other_keys`. The policy sees the certified object's
/// attributes; a certification of another key, or over another nonce, is
/// refused with its own code.
#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_maa_protocol_v2_tpm_certify_over_https() {
    use attesta_evidence::tpm::structures::{Public, PublicKey};
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PSS_SHA256, RsaKeyPair};
    use base64::engine::general_purpose::STANDARD;

    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(&tmp.path().join("data"))).await;
    let (s, b) = json(
        t.client
            .post(t.url("/admin/providers"))
            .bearer_auth(&t.admin)
            .json(&json!({"name": "win"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyAttributes\", value=JsonToClaimValue(JmesPath(c.value, \"info.tpm_certify.obj_attr\"))); c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyNameAlg\", value=JsonToClaimValue(JmesPath(c.value, \"info.tpm_certify.name_alg\"))); c:[type==\"x-ms-tpm-other-keys\"] => issue(type=\"otherKeyTypes\", value=JsonToClaimValue(JmesPath(c.value, \"[*].jwk.kty\"))); };";
    let (s, b) = json(
        t.client
            .put(t.url(&format!("/providers/win/policies/Tpm?{V}")))
            .bearer_auth(&t.admin)
            .body(unsigned_policy(policy))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let envelope = |m: &Value| json!({"data": URL_SAFE_NO_PAD.encode(m.to_string())});
    let open = |b: &Value| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b["data"].as_str().unwrap()).unwrap())
            .unwrap()
    };
    let post = |body: Value| {
        t.client
            .post(t.url(&format!("/providers/win/attest/Tpm?{V}")))
            .json(&body)
            .send()
    };
    let (s, b) = json(
        post(envelope(&json!({"payload": {"type": "aikcert"}})))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let init = open(&b);
    let ch = init["payload"]["challenge"].as_str().unwrap().to_string();
    let ctx = init["payload"]["service_context"]
        .as_str()
        .unwrap()
        .to_string();

    // The request key: generated here, loaded into the swtpm and certified there.
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&key).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD
            .encode(pkcs8.as_ref())
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let key_pem = tmp.path().join("request-key.pem");
    std::fs::write(&key_pem, pem).unwrap();
    let pk = key.public_key();
    let jwk_text = format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
        URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero())
    );
    let out = tmp.path().join("ev");
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let st = Command::new("bash")
        .arg(harness())
        .arg("--certify-key")
        .arg(&key_pem)
        .arg(&out)
        .arg(&challenge_hex)
        .status()
        .unwrap();
    assert!(st.success(), "the swtpm harness failed");
    let ca = std::fs::read_to_string(out.join("ca.pem")).unwrap();
    let (s, b) = json(
        t.client
            .patch(t.url("/admin/providers/win"))
            .bearer_auth(&t.admin)
            .json(&json!({"config": {"test_roots": {"tpm": [ca]}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let certified_tpmt = std::fs::read(out.join("certify_key.tpmt")).unwrap();
    let certified = Public::parse(&certified_tpmt).unwrap();

    let ak_tpmt = std::fs::read(out.join("ak.tpmt")).unwrap();
    let PublicKey::Rsa { modulus, .. } = Public::parse(&ak_tpmt).unwrap().key else {
        panic!("RSA AK expected")
    };
    let ak_jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&modulus), "e": "AQAB"});
    let pcrs: Value =
        serde_json::from_slice(&std::fs::read(out.join("pcrs.json")).unwrap()).unwrap();
    let banks: Vec<Value> = pcrs
        .as_object()
        .unwrap()
        .iter()
        .map(|(bank, values)| {
            let alg = if bank == "sha1" { 4 } else { 11 };
            let vals: Vec<Value> = values
                .as_object()
                .unwrap()
                .iter()
                .map(|(i, d)| json!({"index": i.parse::<u32>().unwrap(), "digest": d}))
                .collect();
            json!({"algorithm": alg, "values": vals})
        })
        .collect();
    let tpm_att = json!({"current_attestation": {
        "logs": [{"type": "TCG", "log": b64(&out.join("eventlog.bin"))}],
        "aik_cert": b64(&out.join("ak_cert.der")),
        "aik_pub": ak_jwk,
        "pcrs": banks,
        "quote": b64(&out.join("quote.msg")),
        "signature": b64(&out.join("quote.sig")),
    }});
    let certify = json!({"tpm_certify": {
        "public": b64(&out.join("certify_key.tpmt")),
        "certification": b64(&out.join("certify.attest")),
        "signature": b64(&out.join("certify.sig")),
    }});
    let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let other_jwk = json!({"kty": "RSA", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode(other.public_key().modulus().big_endian_without_leading_zero())});
    let payload_with = |certify: &Value, other_keys: &Value| {
        format!(
            r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{ctx}","request_key":{{"jwk":{jwk_text},"info":{certify}}},"other_keys":{other_keys},"tpm_att_data":{tpm_att}}}"#
        )
    };
    let sign = |payload: &str| {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"PS256","typ":"attReqV2"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let request = |payload: String| {
        let body = envelope(&json!({"payload": {"request": sign(&payload)}}));
        async move { json(post(body).await.unwrap()).await }
    };

    let (s, b) = request(payload_with(&certify, &json!([{"jwk": other_jwk}]))).await;
    assert_eq!(s, 200, "{b}");
    let report = open(&b)["payload"]["report"].as_str().unwrap().to_string();
    let (_, c) = attesta_token::jwt::decode_unverified(&report).unwrap();
    assert_eq!(c["requestKeyAttributes"], certified.object_attributes);
    assert_eq!(c["requestKeyNameAlg"], 11);
    // A one-element JMESPath result is issued as a single claim value.
    assert_eq!(c["otherKeyTypes"], "RSA");
    assert_eq!(
        c["cnf"]["jwk"]["n"],
        URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero())
    );

    // The certification presented for another key (the other key's JWK
    // as request key is impossible: the JWS must verify with it); here the
    // certified public area is swapped for the AK's: the name no longer matches.
    let mut swapped = certify.clone();
    swapped["tpm_certify"]["public"] = json!(URL_SAFE_NO_PAD.encode(&ak_tpmt));
    let (s, b) = request(payload_with(&swapped, &json!([]))).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "CertifiedNameMismatch",
        "{b}"
    );
    // The quote in place of the certification.
    let mut not_cert = certify.clone();
    not_cert["tpm_certify"]["certification"] = json!(b64(&out.join("quote.msg")));
    not_cert["tpm_certify"]["signature"] = json!(b64(&out.join("quote.sig")));
    let (s, b) = request(payload_with(&not_cert, &json!([]))).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NotACertification", "{b}");
    // A tampered certification: the AK's signature no longer covers it.
    let mut att = std::fs::read(out.join("certify.attest")).unwrap();
    let last = att.len() - 1;
    att[last] ^= 1;
    let mut tampered = certify.clone();
    tampered["tpm_certify"]["certification"] = json!(URL_SAFE_NO_PAD.encode(&att));
    let (s, b) = request(payload_with(&tampered, &json!([]))).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "CertificationSignatureInvalid",
        "{b}"
    );
    // tpm_quote binding is not allowed in other_keys; at most two other keys.
    let (s, b) = request(payload_with(
        &certify,
        &json!([{"jwk": other_jwk, "info": {"tpm_quote": {"hash_alg": "sha-256"}}}]),
    ))
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only allowed for the request key"),
        "{b}"
    );
    let (s, b) = request(payload_with(
        &certify,
        &json!([{"jwk": other_jwk}, {"jwk": other_jwk}, {"jwk": other_jwk}]),
    ))
    .await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{b}"
    );
    t.stop().await;
}
