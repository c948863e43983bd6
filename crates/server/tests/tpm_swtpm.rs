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
use serde_json::{Map, Value, json};

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
    let policy = "version=1.1;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"secureBootEnabled\"] => issue(type=\"secureBootOn\", value=c.value); c:[type==\"aikPubHash\"] => issue(type=\"ak\", value=c.value); };";
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
    assert_eq!(c["secureBootOn"], true);
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

/// A server with provider `win` and a TPM policy, for the MAA protocol tests.
struct Win {
    t: TestServer,
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
}

impl Win {
    async fn start(policy: &str) -> Win {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let t = start(config(&dir.join("data"))).await;
        provider_with_policy(&t, "win", "Tpm", policy).await;
        Win { t, _tmp: tmp, dir }
    }

    async fn post(&self, message: &Value) -> (u16, Value) {
        let body = json!({"data": URL_SAFE_NO_PAD.encode(message.to_string())});
        json(
            self.t
                .client
                .post(self.t.url(&format!("/providers/win/attest/Tpm?{V}")))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The `aikcert` init: (challenge, service_context).
    async fn init(&self) -> (String, String) {
        let (s, b) = self.post(&json!({"payload": {"type": "aikcert"}})).await;
        assert_eq!(s, 200, "{b}");
        let init = open(&b);
        (
            init["payload"]["challenge"].as_str().unwrap().into(),
            init["payload"]["service_context"].as_str().unwrap().into(),
        )
    }

    /// Run the swtpm harness with `options` into a fresh directory, quoting
    /// over `nonce_hex`, and trust its CA.
    async fn evidence(&self, name: &str, options: &[&str], nonce_hex: &str) -> std::path::PathBuf {
        let out = self.dir.join(name);
        let st = Command::new("bash")
            .arg(harness())
            .args(options)
            .arg(&out)
            .arg(nonce_hex)
            .status()
            .unwrap();
        assert!(st.success(), "the swtpm harness failed");
        let ca = std::fs::read_to_string(out.join("ca.pem")).unwrap();
        let (s, b) = json(
            self.t
                .client
                .patch(self.t.url("/admin/providers/win"))
                .bearer_auth(&self.t.admin)
                .json(&json!({"config": {"test_roots": {"tpm": [ca]}}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        out
    }

    /// Send a request message (JWS); the reply's report token claims, or the error.
    async fn request(&self, jws: String) -> Result<Map<String, Value>, (u16, Value)> {
        let (s, b) = self.post(&json!({"payload": {"request": jws}})).await;
        if s != 200 {
            return Err((s, b));
        }
        let report = open(&b)["payload"]["report"].as_str().unwrap().to_string();
        let (header, c) = attesta_token::jwt::decode_unverified(&report).unwrap();
        assert!(header.contains_key("alg"));
        Ok(c)
    }
}

fn open(b: &Value) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b["data"].as_str().unwrap()).unwrap()).unwrap()
}

/// The inner error code of a refused request.
fn refused(r: Result<Map<String, Value>, (u16, Value)>) -> String {
    let (s, b) = r.expect_err("the request should be refused");
    assert_error(s, &b, 400, "InvalidParameter");
    b["error"]["innererror"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The harness's RSA AK as a JWK.
fn ak_jwk(out: &Path) -> Value {
    use attesta_evidence::tpm::structures::{Public, PublicKey};
    let ak_tpmt = std::fs::read(out.join("ak.tpmt")).unwrap();
    let PublicKey::Rsa { modulus, .. } = Public::parse(&ak_tpmt).unwrap().key else {
        panic!("RSA AK expected")
    };
    json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&modulus), "e": "AQAB"})
}

/// A v2 attestation object (`current_attestation`) from the harness files.
fn v2_attestation(out: &Path) -> Value {
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
    json!({
        "logs": [{"type": "TCG", "log": b64(&out.join("eventlog.bin"))}],
        "aik_cert": b64(&out.join("ak_cert.der")),
        "aik_pub": ak_jwk(out),
        "pcrs": banks,
        "quote": b64(&out.join("quote.msg")),
        "signature": b64(&out.join("quote.sig")),
    })
}

/// The MAA TPM protocol (reference §4) with a real software TPM: `aikcert`
/// init, then a v2 request message signed PS256 by a request key bound to
/// the quote (qualifyingData = SHA-256(JWK ‖ 0x00 ‖ challenge)), with the
/// boot attestation of the same power cycle, answered with a report token
/// carrying `cnf`, `rp_data` and policy-issued claims.
#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_maa_protocol_v2_over_https() {
    use aws_lc_rs::signature::KeyPair;
    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); => issueproperty(type=\"omit_x5c\", value=true); };\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"secureBootEnabled\", value==true] => permit(); };\nissuancerules{ c:[type==\"role\", issuer==\"CustomClaim\"] => issue(type=\"role\", value=c.value); c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyType\", value=JsonToClaimValue(JmesPath(c.value, \"jwk.kty\"))); c:[type==\"bootEvents\"] => issue(type=\"bootEventCount\", value=JsonToClaimValue(JmesPath(c.value, \"length(Events)\"))); };";
    let w = Win::start(policy).await;
    let (ch, ctx) = w.init().await;
    let (key, jwk_text) = rsa_key_and_jwk();
    let mut bound = jwk_text.as_bytes().to_vec();
    bound.push(0);
    bound.extend(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let nonce = hex::encode(attesta_evidence::crypto::sha256(&bound));
    let out = w.evidence("ev", &[], &nonce).await;

    let current = v2_attestation(&out);
    // The boot attestation of this power cycle: the swtpm made one quote, so
    // the boot attestation is that quote again (same reset count and clock).
    let tpm_att = json!({"current_attestation": current, "boot_attestation": current});
    let payload = format!(
        r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{ctx}","rp_id":"https://rp.example","rp_data":"cnAtZGF0YQ","custom_claims":[{{"name":"role","value":"db","value_type":"String"}}],"request_key":{{"jwk":{jwk_text},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"tpm_att_data":{tpm_att}}}"#
    );
    let (s, b) = w
        .post(&json!({"payload": {"request": pss_jws(&key, "attReqV2", &payload)}}))
        .await;
    assert_eq!(s, 200, "{b}");
    let report = open(&b)["payload"]["report"].as_str().unwrap().to_string();
    let (header, c) = attesta_token::jwt::decode_unverified(&report).unwrap();
    assert!(!header.contains_key("x5c"), "omit_x5c was set");
    // MAA puts the certificate's SHA-1 thumbprint there instead.
    assert_eq!(header["x5t"], header["kid"], "x5t replaces x5c");
    assert_eq!(c["role"], "db");
    assert_eq!(c["requestKeyType"], "RSA");
    let logged: Value =
        serde_json::from_slice(&std::fs::read(out.join("events.json")).unwrap()).unwrap();
    assert_eq!(
        c["bootEventCount"],
        logged.as_array().unwrap().len(),
        "bootEvents holds the boot log's events"
    );
    assert_eq!(c["rp_data"], "cnAtZGF0YQ");
    assert_eq!(
        c["cnf"]["jwk"]["n"],
        URL_SAFE_NO_PAD.encode(key.public_key().modulus().big_endian_without_leading_zero())
    );

    // The same request with another request key: the binding breaks.
    let (other, other_jwk) = rsa_key_and_jwk();
    let swapped = payload.replace(&jwk_text, &other_jwk);
    assert_eq!(
        refused(w.request(pss_jws(&other, "attReqV2", &swapped)).await),
        "NonceMismatch"
    );
    // A request whose JWS signature is not the request key's.
    let mut tampered = pss_jws(&key, "attReqV2", &payload);
    let n = tampered.len() - 10;
    tampered.replace_range(n..n + 1, if &tampered[n..n + 1] == "A" { "B" } else { "A" });
    assert_eq!(
        refused(w.request(tampered).await),
        "RequestSignatureInvalid"
    );
    w.t.stop().await;
}

/// The MAA protocol with `tpm_certify` key binding: the request key is an
/// RSA key the swtpm loaded and certified with TPM2_Certify by the AK over
/// the challenge (the quote then carries the bare challenge); one unbound
/// key rides along in `other_keys`. The policy sees the certified object's
/// attributes; a certification of another key, or a tampered one, is
/// refused with its own code.
#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_maa_protocol_v2_tpm_certify_over_https() {
    use attesta_evidence::tpm::structures::Public;
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::signature::KeyPair;
    use base64::engine::general_purpose::STANDARD;

    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] => permit(); };\nissuancerules{ c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyAttributes\", value=JsonToClaimValue(JmesPath(c.value, \"info.tpm_certify.obj_attr\"))); c:[type==\"x-ms-tpm-request-key\"] => issue(type=\"requestKeyNameAlg\", value=JsonToClaimValue(JmesPath(c.value, \"info.tpm_certify.name_alg\"))); c:[type==\"x-ms-tpm-other-keys\"] => issue(type=\"otherKeyTypes\", value=JsonToClaimValue(JmesPath(c.value, \"[*].jwk.kty\"))); };";
    let w = Win::start(policy).await;
    let (ch, ctx) = w.init().await;

    // The request key: generated here, loaded into the swtpm and certified there.
    let (key, jwk_text) = rsa_key_and_jwk();
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
    let key_pem = w.dir.join("request-key.pem");
    std::fs::write(&key_pem, pem).unwrap();
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let out = w
        .evidence(
            "ev",
            &["--certify-key", key_pem.to_str().unwrap()],
            &challenge_hex,
        )
        .await;
    let certified_tpmt = std::fs::read(out.join("certify_key.tpmt")).unwrap();
    let certified = Public::parse(&certified_tpmt).unwrap();

    let tpm_att = json!({"current_attestation": v2_attestation(&out)});
    let certify = json!({"tpm_certify": {
        "public": b64(&out.join("certify_key.tpmt")),
        "certification": b64(&out.join("certify.attest")),
        "signature": b64(&out.join("certify.sig")),
    }});
    let (_, other_jwk) = rsa_key_and_jwk();
    let other_jwk: Value = serde_json::from_str(&other_jwk).unwrap();
    let payload_with = |certify: &Value, other_keys: &Value| {
        format!(
            r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{ctx}","request_key":{{"jwk":{jwk_text},"info":{certify}}},"other_keys":{other_keys},"tpm_att_data":{tpm_att}}}"#
        )
    };
    let request = |certify: &Value, other_keys: &Value| {
        w.request(pss_jws(
            &key,
            "attReqV2",
            &payload_with(certify, other_keys),
        ))
    };

    let c = request(&certify, &json!([{"jwk": other_jwk}]))
        .await
        .unwrap();
    assert_eq!(c["requestKeyAttributes"], certified.object_attributes);
    assert_eq!(c["requestKeyNameAlg"], 11);
    // A one-element JMESPath result is issued as a single claim value.
    assert_eq!(c["otherKeyTypes"], "RSA");
    assert_eq!(
        c["cnf"]["jwk"]["n"],
        URL_SAFE_NO_PAD.encode(key.public_key().modulus().big_endian_without_leading_zero())
    );

    // The certified public area swapped for the AK's: the name no longer matches.
    let mut swapped = certify.clone();
    swapped["tpm_certify"]["public"] = json!(b64(&out.join("ak.tpmt")));
    assert_eq!(
        refused(request(&swapped, &json!([])).await),
        "CertifiedNameMismatch"
    );
    // The quote in place of the certification.
    let mut not_cert = certify.clone();
    not_cert["tpm_certify"]["certification"] = json!(b64(&out.join("quote.msg")));
    not_cert["tpm_certify"]["signature"] = json!(b64(&out.join("quote.sig")));
    assert_eq!(
        refused(request(&not_cert, &json!([])).await),
        "NotACertification"
    );
    // A tampered certification: the AK's signature no longer covers it.
    let mut att = std::fs::read(out.join("certify.attest")).unwrap();
    let last = att.len() - 1;
    att[last] ^= 1;
    let mut tampered = certify.clone();
    tampered["tpm_certify"]["certification"] = json!(URL_SAFE_NO_PAD.encode(&att));
    assert_eq!(
        refused(request(&tampered, &json!([])).await),
        "CertificationSignatureInvalid"
    );
    // tpm_quote binding is not allowed in other_keys; at most two other keys.
    let r = request(
        &certify,
        &json!([{"jwk": other_jwk, "info": {"tpm_quote": {"hash_alg": "sha-256"}}}]),
    )
    .await;
    assert_eq!(refused(r), "TpmProtocolError");
    let r = request(
        &certify,
        &json!([{"jwk": other_jwk}, {"jwk": other_jwk}, {"jwk": other_jwk}]),
    )
    .await;
    let (_, b) = r.expect_err("three other keys are refused");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{b}"
    );
    w.t.stop().await;
}

/// A v1 request message: `attest_key` signs the JWS, and `tpm_att_data`
/// carries the Windows platform attestation blob (`current_claim`, magic
/// PAD2 with the SHA-256 bank) built from the swtpm's quote, its raw
/// RSASSA signature, the 24 PCR values and the TCG log. The blob is
/// verified in full; the unbound attest_key then refuses the token.
#[tokio::test]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn swtpm_maa_protocol_v1_platform_claim_over_https() {
    let policy = "version=1.2;\nconfigurationrules{ => issueproperty(type=\"required_pcr_mask\", value=255); };\nauthorizationrules{ [type==\"aikValidated\", value==true] && [type==\"secureBootEnabled\", value==true] => permit(); };\nissuancerules{ c:[type==\"events\"] => issue(type=\"eventCount\", value=JsonToClaimValue(JmesPath(c.value, \"length(Events)\"))); };";
    let w = Win::start(policy).await;
    let (ch, ctx) = w.init().await;
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&ch).unwrap());
    let out = w
        .evidence("ev", &["--banks", "sha256", "--no-ecc"], &challenge_hex)
        .await;

    // PCP_PLATFORM_ATTESTATION_BLOB2: PCRs 8-23 are not quoted, so their
    // values do not enter the quote's digest.
    let pcrs: Value =
        serde_json::from_slice(&std::fs::read(out.join("pcrs.json")).unwrap()).unwrap();
    let mut pcr_values = Vec::new();
    for i in 0..24 {
        match pcrs["sha256"][i.to_string()].as_str() {
            Some(h) => pcr_values.extend(hex::decode(h).unwrap()),
            None => pcr_values.extend([0u8; 32]),
        }
    }
    let quote = std::fs::read(out.join("quote.msg")).unwrap();
    let tpmt_sig = std::fs::read(out.join("quote.sig")).unwrap();
    let raw_sig = &tpmt_sig[6..]; // sigAlg, hash, size
    let log = std::fs::read(out.join("eventlog.bin")).unwrap();
    let blob = |quote: &[u8]| {
        let mut b = Vec::new();
        for v in [
            attesta_evidence::tpm::pcp::MAGIC_V2,
            2,
            32,
            pcr_values.len() as u32,
            quote.len() as u32,
            raw_sig.len() as u32,
            log.len() as u32,
            11,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&pcr_values);
        b.extend_from_slice(quote);
        b.extend_from_slice(raw_sig);
        b.extend_from_slice(&log);
        URL_SAFE_NO_PAD.encode(b)
    };
    let (key, jwk_text) = rsa_key_and_jwk();
    let payload_with = |claim: &str| {
        format!(
            r#"{{"att_type":"basic","challenge":"{ch}","service_context":"{ctx}","attest_key":{jwk_text},"tpm_att_data":{{"aik_cert":"{}","aik_pub":{},"current_claim":"{claim}"}}}}"#,
            b64(&out.join("ak_cert.der")),
            ak_jwk(&out)
        )
    };
    // The blob verifies (quote, AK, PCRs, log: a bad one fails earlier, as
    // below), but v1's attest_key is a software key the TPM never bound, so
    // no token may confirm it (cnf): the request is refused with that cause.
    assert_eq!(
        refused(
            w.request(pss_jws(&key, "attReq", &payload_with(&blob(&quote))))
                .await
        ),
        "RequestKeyNotBound"
    );

    // One flipped byte in the blob's quote: the signature no longer covers it.
    let mut bad = quote.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        refused(
            w.request(pss_jws(&key, "attReq", &payload_with(&blob(&bad))))
                .await
        ),
        "QuoteSignatureInvalid"
    );
    // A blob that is not one.
    assert_eq!(
        refused(
            w.request(pss_jws(&key, "attReq", &payload_with("AAAA")))
                .await
        ),
        "EvidenceTruncated"
    );
    w.t.stop().await;
}
