//! `POST /attest/AzureGuest` through the real server over HTTPS: testkit
//! guest evidence (an HCL variable data document bound by a test SEV-SNP
//! report under a provider-scoped test ARK, the vTPM quote by its
//! `HCLAkPub`, an ephemeral key certified by that AK) is attested, the
//! sealed response opened with the ephemeral private key and the JWT
//! verified with the provider's keys; each broken link is refused with its
//! own code; each real SEV-SNP capture in `../shared/vectors/azure-cvm`,
//! and the TDX capture with Intel's collateral imported, verifies through
//! the route up to the ephemeral key, which a capture cannot have (its AK's
//! private half is on the captured VM); and a Trusted Launch VM's AK
//! certificate must chain to a configured vTPM CA.

mod common;

use common::*;
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_testkit::azure_cvm::{AzureGuestSample, ENC_KEY_ATTRIBUTES, EphemeralKey, pcr_policy};
use attesta_testkit::tpm::AkKind;
use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, verify_jwt};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const PATH: &str = "/providers/guest/attest/AzureGuest";
const V: &str = "2020-10-01";

async fn admin(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    json(
        t.client
            .post(t.url(path))
            .bearer_auth(&t.admin)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A server with provider `guest` trusting `sample`'s test ARK at the
/// sample's time; AMD's test CRL imported when `crl`.
async fn guest_server(tmp: &std::path::Path, sample: &AzureGuestSample, crl: bool) -> TestServer {
    let t = start(config(tmp)).await;
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "guest", "config": {
            "test_roots": {"amd": [pem(&sample.snp.ark_der)]},
            "verification_time": rfc3339(sample.snp.at.0),
        }}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    if crl {
        let (s, b) = admin(
            &t,
            "/admin/collateral/snp",
            json!({"files": {"crl.der": STANDARD.encode(sample.snp.crl_der.as_ref().unwrap())}}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    t
}

async fn post(t: &TestServer, path: &str, body: Value) -> (u16, Value) {
    attest_at(t, path, V, body).await
}

/// Post `doc` and expect a refusal with inner code `code`.
async fn refused(t: &TestServer, body: Value, code: &str) {
    let (s, b) = post(t, PATH, body).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], code, "{b}");
}

#[tokio::test]
async fn sealed_token_opens_with_the_ephemeral_key_and_verifies() {
    let sample = AzureGuestSample::for_request(b"");
    let key = EphemeralKey::for_quote(&sample.tpm);
    let doc = sample.attestation_info(&key);
    let tmp = tempfile::tempdir().unwrap();
    let t = guest_server(tmp.path(), &sample, false).await;

    // AMD's CRL is required, as for SevSnpVm.
    refused(&t, AzureGuestSample::request_body(&doc), "AmdCrlMissing").await;
    let (s, b) = admin(
        &t,
        "/admin/collateral/snp",
        json!({"files": {"crl.der": STANDARD.encode(sample.snp.crl_der.as_ref().unwrap())}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let (s, b) = post(&t, PATH, AzureGuestSample::request_body(&doc)).await;
    assert_eq!(s, 200, "{b}");
    let sealed = b["token"].as_str().unwrap();
    assert!(
        !sealed.contains('.'),
        "the response is the sealed envelope, not a JWT"
    );
    let jwt = key.open(sealed).expect("the ephemeral key opens the token");
    // Another key cannot.
    assert!(EphemeralKey::for_quote(&sample.tpm).open(sealed).is_err());

    let jwks: Jwks = serde_json::from_value(
        json(
            t.client
                .get(t.url("/providers/guest/certs"))
                .send()
                .await
                .unwrap(),
        )
        .await
        .1,
    )
    .unwrap();
    let v = verify_jwt(
        &jwt,
        &jwks,
        &VerifyOptions {
            issuer: Some(format!("{}/providers/guest", t.base())),
            now: UnixTime::now().0,
            leeway_secs: 5,
        },
    )
    .expect("the sealed JWT is signed by the provider");
    let c = v.claims;
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    assert_eq!(
        c["x-ms-azurevm-vmid"],
        "6A1B2C3D-0000-4000-8000-00000000A2E7"
    );
    assert_eq!(c["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(c["x-ms-azurevm-osdistro"], "Ubuntu");
    assert_eq!(c["x-ms-azurevm-osversion-major"], 24);
    assert_eq!(c["x-ms-azurevm-is-windows"], false);
    assert_eq!(c["x-ms-azurevm-attestation-protocol-ver"], "2.0");
    assert_eq!(c["secureboot"], true, "from the proven SecureBoot event");
    assert_eq!(
        c["x-ms-azurevm-attested-pcrs"],
        json!((0..24).collect::<Vec<u32>>())
    );
    let tee = &c["x-ms-isolation-tee"];
    assert_eq!(tee["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(
        tee["x-ms-sevsnpvm-reportdata"],
        hex::encode(attesta_testkit::azure_cvm::report_data_for(
            1,
            &sample.var_data
        ))
    );
    assert_eq!(
        tee["x-ms-runtime"]["vm-configuration"]["vmUniqueId"],
        "6A1B2C3D-0000-4000-8000-00000000A2E7"
    );
    let runtime = &c["x-ms-runtime"];
    assert_eq!(runtime["keys"][0]["kid"], "TpmEphemeralEncryptionKey");
    assert_eq!(runtime["keys"][0]["key_ops"], json!(["encrypt"]));
    assert_eq!(
        runtime["keys"][0]["n"],
        URL_SAFE_NO_PAD.encode(&key.modulus)
    );
    assert_eq!(runtime["keys"][0]["e"], "AQAB");
    assert_eq!(
        runtime["client-payload"]["nonce"],
        STANDARD.encode("client nonce")
    );
    assert_eq!(c["x-attesta-test-root"], true);
    assert_eq!(c["x-attesta-azurevm-quote-nonce"], "");
    assert_eq!(
        c["x-ms-policy-hash"],
        attesta_policy::policy_hash(attesta_policy::defaults::PERMIT_ALL_POLICY)
    );

    // The REST model's spelling is accepted too.
    let lower = json!({"attestationInfo": URL_SAFE_NO_PAD.encode(doc.to_string())});
    let (s, b) = post(&t, PATH, lower).await;
    assert_eq!(s, 200, "{b}");
    assert!(key.open(b["token"].as_str().unwrap()).is_ok());
    t.stop().await;
}

#[tokio::test]
async fn nonce_names_the_quotes_extra_data() {
    let sample = AzureGuestSample::for_request(b"challenge");
    let key = EphemeralKey::for_quote(&sample.tpm);
    let doc = sample.attestation_info(&key);
    let tmp = tempfile::tempdir().unwrap();
    let t = guest_server(tmp.path(), &sample, true).await;
    let mut body = AzureGuestSample::request_body(&doc);
    body["nonce"] = json!("challenge");
    let (s, b) = post(&t, PATH, body.clone()).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(&key.open(b["token"].as_str().unwrap()).unwrap());
    assert_eq!(c["nonce"], "challenge");
    assert_eq!(c["x-attesta-azurevm-quote-nonce"], hex::encode("challenge"));
    body["nonce"] = json!("another");
    refused(&t, body.clone(), "NonceMismatch").await;
    body["nonce"] = json!(7);
    let (s, b) = post(&t, PATH, body).await;
    assert_error(s, &b, 400, "InvalidParameter");
    t.stop().await;
}

#[tokio::test]
async fn broken_links_are_refused_with_their_codes() {
    let sample = AzureGuestSample::for_request(b"");
    let key = EphemeralKey::for_quote(&sample.tpm);
    let doc = sample.attestation_info(&key);
    let tmp = tempfile::tempdir().unwrap();
    let t = guest_server(tmp.path(), &sample, true).await;
    let b64 = |v: &[u8]| json!(STANDARD.encode(v));
    let with = |path: &str, value: Value| {
        let mut d = doc.clone();
        *d.pointer_mut(path).unwrap() = value;
        AzureGuestSample::request_body(&d)
    };

    // Another VM's variable data: the SNP report does not bind it.
    let other_vm = String::from_utf8(sample.var_data.clone()).unwrap().replace(
        "6A1B2C3D-0000-4000-8000-00000000A2E7",
        "6A1B2C3D-0000-4000-8000-0000000FFFFF",
    );
    refused(
        &t,
        with(
            "/IsolationInfo/Evidence/RunTimeData",
            json!(URL_SAFE_NO_PAD.encode(other_vm)),
        ),
        "VarDataHashMismatch",
    )
    .await;
    // A quote signature over other bytes: not this quote's.
    let (_, other_sig) = sample.tpm.quote_over(b"other");
    refused(
        &t,
        with("/TpmInfo/PcrSignature", b64(&other_sig)),
        "QuoteSignatureInvalid",
    )
    .await;
    // A changed PCR value: the quote's digest no longer matches.
    refused(
        &t,
        with("/TpmInfo/PCRs/3/Digest", b64(&[0x33; 32])),
        "PcrDigestMismatch",
    )
    .await;
    // The client names an AK that is not the bound one (another vTPM's).
    let other = AzureGuestSample::request_builder(b"")
        .tpm(|t| t.ak(AkKind::EccP256))
        .build();
    let mut other_ak = (other.tpm.ak_public.len() as u16).to_be_bytes().to_vec();
    other_ak.extend_from_slice(&other.tpm.ak_public);
    refused(
        &t,
        with("/TpmInfo/AikPub", b64(&other_ak)),
        "AikPubMismatch",
    )
    .await;

    // The ephemeral key: missing, uncertified, certified by another AK,
    // usable without the policy, or sealed to other PCRs.
    refused(&t, with("/TpmInfo/EncKeyPub", json!("")), "EncKeyMissing").await;
    let stranger = EphemeralKey::for_quote(&sample.tpm);
    refused(
        &t,
        with("/TpmInfo/EncKeyPub", b64(&stranger.public)),
        "EncKeyNotCertified",
    )
    .await;
    let (cert, sig) = other.tpm.certify(&key.public, &[]);
    let mut d = doc.clone();
    d["TpmInfo"]["EncKeyCertifyInfo"] = b64(&cert);
    d["TpmInfo"]["EncKeyCertifyInfoSignature"] = b64(&sig);
    refused(&t, AzureGuestSample::request_body(&d), "EncKeyNotCertified").await;
    let (cert, sig) = sample.tpm.certify(&key.public, b"not the quote's nonce");
    let mut d = doc.clone();
    d["TpmInfo"]["EncKeyCertifyInfo"] = b64(&cert);
    d["TpmInfo"]["EncKeyCertifyInfoSignature"] = b64(&sig);
    refused(&t, AzureGuestSample::request_body(&d), "EncKeyNotCertified").await;
    for (attrs, policy, code) in [
        (
            ENC_KEY_ATTRIBUTES | (1 << 6),
            pcr_policy(&sample.tpm),
            "EncKeyAttributesInvalid",
        ),
        (
            ENC_KEY_ATTRIBUTES & !(1 << 17),
            pcr_policy(&sample.tpm),
            "EncKeyAttributesInvalid",
        ),
        (
            ENC_KEY_ATTRIBUTES | (1 << 16),
            pcr_policy(&sample.tpm),
            "EncKeyAttributesInvalid",
        ),
        (ENC_KEY_ATTRIBUTES, vec![0x11; 32], "EncKeyPolicyMismatch"),
        (ENC_KEY_ATTRIBUTES, Vec::new(), "EncKeyPolicyMismatch"),
    ] {
        let k = EphemeralKey::new(attrs, &policy);
        refused(
            &t,
            AzureGuestSample::request_body(&sample.attestation_info(&k)),
            code,
        )
        .await;
    }

    // Malformed requests.
    refused(
        &t,
        json!({"AttestationInfo": URL_SAFE_NO_PAD.encode("{}")}),
        "AzureGuestRequestInvalid",
    )
    .await;
    // Trusted Launch (no isolation evidence) needs a vTPM CA, and this
    // provider has none (the accepted case is the Trusted Launch test's).
    refused(
        &t,
        with("/IsolationInfo", json!({"Type": "TrustedLaunch"})),
        "VtpmCaNotConfigured",
    )
    .await;
    let (s, b) = post(&t, PATH, json!({"quote": "AAAA"})).await;
    assert_error(s, &b, 400, "InvalidParameter");
    let (s, b) = post(&t, PATH, json!("not an object")).await;
    assert_error(s, &b, 400, "InvalidParameter");
    t.stop().await;
}

#[tokio::test]
async fn draft_policy_deny_and_provider_policy() {
    let sample = AzureGuestSample::for_request(b"");
    let key = EphemeralKey::for_quote(&sample.tpm);
    let doc = sample.attestation_info(&key);
    let tmp = tempfile::tempdir().unwrap();
    let t = guest_server(tmp.path(), &sample, true).await;
    // A draft policy that requires secure boot off is not satisfied.
    let mut body = AzureGuestSample::request_body(&doc);
    body["draftPolicyForAttestation"] = json!(
        "version=1.0; authorizationrules { c:[type==\"secureboot\", value==false] => permit(); }; issuancerules { };"
    );
    let (s, b) = post(&t, PATH, body).await;
    assert_error(s, &b, 400, "PolicyEvaluationError");
    // A draft policy that issues a claim from the isolation TEE's measurement.
    let mut body = AzureGuestSample::request_body(&doc);
    body["draftPolicyForAttestation"] = json!(
        "version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type==\"x-ms-azurevm-vmid\"] => issue(type=\"vm\", value=c.value); };"
    );
    let (s, b) = post(&t, PATH, body).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(&key.open(b["token"].as_str().unwrap()).unwrap());
    assert_eq!(c["vm"], "6A1B2C3D-0000-4000-8000-00000000A2E7");
    t.stop().await;
}

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/azure-cvm")
}

/// The `AttestationInfo` of a real SEV-SNP capture: its SNP report, VCEK
/// chain, variable data, quote and PCR values; the ephemeral key cannot
/// be certified by the capture's AK, so a test key with a self-made
/// certification stands in.
fn capture_doc(dir: &std::path::Path, key: &EphemeralKey) -> Value {
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let mut chain = read("vcek.pem");
    chain.extend(read("ask_ark.pem"));
    let proof = json!({
        "SnpReport": URL_SAFE_NO_PAD.encode(read("snp_report.bin")),
        "VcekCertChain": URL_SAFE_NO_PAD.encode(&chain),
    });
    capture_doc_with(
        dir,
        key,
        json!({"Type": "SevSnp", "Evidence": {
            "Proof": URL_SAFE_NO_PAD.encode(proof.to_string()),
            "RunTimeData": URL_SAFE_NO_PAD.encode(read("hcl_var_data.json")),
        }}),
    )
}

/// [`capture_doc`]'s document around any `IsolationInfo`.
fn capture_doc_with(dir: &std::path::Path, key: &EphemeralKey, isolation: Value) -> Value {
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let pcrs: Value = serde_json::from_slice(&read("tpm_pcrs_sha256.json")).unwrap();
    let pcrs: Vec<Value> = pcrs
        .as_object()
        .unwrap()
        .iter()
        .map(|(i, v)| {
            json!({"Index": i.parse::<u32>().unwrap(),
                   "Digest": STANDARD.encode(hex::decode(v.as_str().unwrap()).unwrap())})
        })
        .collect();
    json!({
        "AttestationProtocolVersion": "2.0",
        "OSType": STANDARD.encode("Linux"),
        "OSDistro": STANDARD.encode("Ubuntu"),
        "OSVersionMajor": "22",
        "OSVersionMinor": "04",
        "OSBuild": STANDARD.encode("NotApplication"),
        "TcgLogs": "",
        "ClientPayload": {},
        "TpmInfo": {
            "AikCert": "", "AikPub": "",
            "PcrQuote": STANDARD.encode(read("tpm_quote_attest.bin")),
            "PcrSignature": STANDARD.encode(read("tpm_quote_sig.bin")),
            "PcrSet": (0..24).collect::<Vec<u32>>(),
            "PCRs": pcrs,
            "EncKeyPub": STANDARD.encode(&key.public),
            "EncKeyCertifyInfo": STANDARD.encode([0u8; 8]),
            "EncKeyCertifyInfoSignature": STANDARD.encode([0u8; 256]),
        },
        "IsolationInfo": isolation,
    })
}

#[tokio::test]
async fn real_captures_verify_through_the_route_up_to_the_ephemeral_key() {
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    // The vectors keep no AMD CRL: only a provider with a collateral grace
    // gets past revocation (its tokens would say it was not checked).
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "guest", "config": {"collateral_grace_secs": 60, "verification_time": "2026-01-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let key = EphemeralKey::new(ENC_KEY_ATTRIBUTES, &[]);
    let mut seen = 0;
    for entry in std::fs::read_dir(vectors()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("snp_report.bin").exists() {
            continue;
        }
        seen += 1;
        let nonce = String::from_utf8(
            hex::decode(
                serde_json::from_slice::<Value>(&std::fs::read(dir.join("expected.json")).unwrap())
                    .unwrap()["tpm_quote"]["extra_data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap_or_default();
        let doc = capture_doc(&dir, &key);
        let name = dir.display();
        // Hardware report, VCEK chain, variable data, quote, nonce and PCRs
        // all verify: the refusal is the (uncertifiable) ephemeral key's.
        let mut body = AzureGuestSample::request_body(&doc);
        if !nonce.is_empty() {
            body["nonce"] = json!(nonce);
        }
        let (s, b) = post(&t, PATH, body.clone()).await;
        assert_error(s, &b, 400, "InvalidParameter");
        assert_eq!(
            b["error"]["innererror"]["code"], "EncKeyNotCertified",
            "{name}: {b}"
        );
        // A wrong nonce.
        let mut wrong = body.clone();
        wrong["nonce"] = json!("not the challenge");
        let (_, b) = post(&t, PATH, wrong).await;
        assert_eq!(
            b["error"]["innererror"]["code"], "NonceMismatch",
            "{name}: {b}"
        );
        // A changed PCR value.
        let mut d = doc.clone();
        d["TpmInfo"]["PCRs"][0]["Digest"] = json!(STANDARD.encode([0u8; 32]));
        let (_, b) = post(&t, PATH, AzureGuestSample::request_body(&d)).await;
        assert_eq!(
            b["error"]["innererror"]["code"], "PcrDigestMismatch",
            "{name}: {b}"
        );
        // The variable data with one byte changed.
        let mut var = std::fs::read(dir.join("hcl_var_data.json")).unwrap();
        let last = var.len() - 2;
        var[last] ^= 0x01;
        let mut d = doc.clone();
        d["IsolationInfo"]["Evidence"]["RunTimeData"] = json!(URL_SAFE_NO_PAD.encode(&var));
        let (_, b) = post(&t, PATH, AzureGuestSample::request_body(&d)).await;
        assert_eq!(
            b["error"]["innererror"]["code"], "VarDataHashMismatch",
            "{name}: {b}"
        );
    }
    assert!(seen >= 4, "the SEV-SNP captures were not found");
    t.stop().await;
}

/// Trusted Launch (no isolation evidence): the AK is trusted only through
/// its certificate, which must chain to one of the provider's vTPM CAs
/// (`vtpm_roots`, or `test_roots.tpm` marked as a test root). Accepted with
/// the right CA (the sealed token opens, no `x-ms-isolation-tee`); refused
/// with none configured, another CA, an expired AK certificate, or none.
#[tokio::test]
async fn trusted_launch_ak_certificate_chains_to_a_configured_vtpm_ca() {
    use attesta_evidence::tpm::structures::TPM_ALG_SHA256;
    use attesta_testkit::TpmSample;
    use attesta_testkit::azure_cvm::trusted_launch_info;

    let tpm = TpmSample::builder()
        .banks(&[TPM_ALG_SHA256])
        .intermediate(false)
        .build();
    let key = EphemeralKey::for_quote(&tpm);
    let doc = trusted_launch_info(&tpm, &key);
    let body = AzureGuestSample::request_body(&doc);
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let at = rfc3339(tpm.at.0);
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "guest", "config": {"verification_time": at}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let set_config = |config: Value| {
        let t = &t;
        async move {
            let (s, b) = json(
                t.client
                    .patch(t.url("/admin/providers/guest"))
                    .bearer_auth(&t.admin)
                    .json(&json!({ "config": config }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(s, 200, "{b}");
        }
    };

    // No vTPM CA configured.
    refused(&t, body.clone(), "VtpmCaNotConfigured").await;
    // A vTPM CA that is not a certificate is refused at configuration.
    let (s, b) = json(
        t.client
            .patch(t.url("/admin/providers/guest"))
            .bearer_auth(&t.admin)
            .json(&json!({"config": {"vtpm_roots": ["not a PEM"]}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400, "{b}");

    // Another CA: a root with the same names and another key.
    let other_ca = TpmSample::builder()
        .banks(&[TPM_ALG_SHA256])
        .intermediate(false)
        .wrong_root(true)
        .build()
        .root_pem;
    assert_ne!(other_ca, tpm.root_pem);
    set_config(json!({"verification_time": at, "vtpm_roots": [other_ca]})).await;
    refused(&t, body.clone(), "AkChainUntrusted").await;

    // The right CA, as an operator-configured vTPM CA.
    set_config(json!({"verification_time": at, "vtpm_roots": [other_ca, tpm.root_pem]})).await;
    let (s, b) = post(&t, PATH, body.clone()).await;
    assert_eq!(s, 200, "{b}");
    let jwt = key
        .open(b["token"].as_str().unwrap())
        .expect("the ephemeral key opens the token");
    let c = claims(&jwt);
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    assert!(c.get("x-ms-isolation-tee").is_none(), "no isolation TEE");
    assert_eq!(c["x-attesta-azurevm-hcl-report-type"], "TVM");
    assert_eq!(c["x-attesta-azurevm-ak-certified"], true);
    assert_eq!(c["secureboot"], true, "from the proven SecureBoot event");
    assert_eq!(
        c["x-ms-azurevm-attested-pcrs"],
        json!((0..24).collect::<Vec<u32>>())
    );
    assert_eq!(
        c["x-ms-runtime"]["keys"][0]["n"],
        URL_SAFE_NO_PAD.encode(&key.modulus)
    );
    assert_eq!(c["x-attesta-test-root"], false);

    // The same CA as a test root: accepted, and the token says so.
    set_config(json!({"verification_time": at, "test_roots": {"tpm": [tpm.root_pem]}})).await;
    let (s, b) = post(&t, PATH, body.clone()).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(&key.open(b["token"].as_str().unwrap()).unwrap());
    assert_eq!(c["x-attesta-test-root"], true);

    // An AK certificate that expired before the verification time.
    let expired = TpmSample::builder()
        .banks(&[TPM_ALG_SHA256])
        .intermediate(false)
        .ak_cert_validity(
            UnixTime(tpm.at.0 - 2 * 365 * 86_400),
            UnixTime(tpm.at.0 - 86_400),
        )
        .build();
    let expired_key = EphemeralKey::for_quote(&expired);
    refused(
        &t,
        AzureGuestSample::request_body(&trusted_launch_info(&expired, &expired_key)),
        "AkCertificateExpired",
    )
    .await;

    // No AK certificate at all.
    let mut no_cert = doc.clone();
    no_cert["TpmInfo"]["AikCert"] = json!("");
    refused(
        &t,
        AzureGuestSample::request_body(&no_cert),
        "AkCertificateRequired",
    )
    .await;
    // No AikPub to check the certificate against.
    let mut no_ak = doc.clone();
    no_ak["TpmInfo"]["AikPub"] = json!("");
    refused(&t, AzureGuestSample::request_body(&no_ak), "AikPubRequired").await;
    // An AK certificate for another key than AikPub (the testkit's RSA AK
    // is one key per process, so the other key is its P-256 AK).
    let mut other_cert = doc.clone();
    let other_ak = TpmSample::builder()
        .banks(&[TPM_ALG_SHA256])
        .intermediate(false)
        .ak(AkKind::EccP256)
        .build();
    other_cert["TpmInfo"]["AikCert"] = json!(STANDARD.encode(&other_ak.ak_cert));
    refused(
        &t,
        AzureGuestSample::request_body(&other_cert),
        "AkKeyMismatch",
    )
    .await;
    t.stop().await;
}

/// The real TDX capture through the route: its TD quote (with Intel's
/// collateral for its FMSPC from `../shared/vectors/tdx/automata-tdx-v4`,
/// imported, at the time its PROVENANCE names), variable data, quote,
/// nonce `challenge` and PCRs all verify, so the refusal is the
/// (uncertifiable) ephemeral key's; a wrong nonce, a changed PCR value,
/// changed variable data and a changed TD quote are refused with their own
/// codes.
#[tokio::test]
async fn real_tdx_capture_verifies_through_the_route_up_to_the_ephemeral_key() {
    let dir = vectors().join("trustee-az-tdx-vtpm");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = start(config(tmp.path())).await;
    let (s, b) = admin(
        &t,
        "/admin/providers",
        json!({"name": "guest", "config": {"verification_time": "2025-06-05T03:45:00Z"}}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let key = EphemeralKey::new(ENC_KEY_ATTRIBUTES, &[]);
    let doc_with = |td_quote: &[u8], var_data: &[u8]| {
        capture_doc_with(
            &dir,
            &key,
            json!({"Type": "Tdx", "Evidence": {
                "Proof": URL_SAFE_NO_PAD.encode(td_quote),
                "RunTimeData": URL_SAFE_NO_PAD.encode(var_data),
            }}),
        )
    };
    let td_quote = read("td_quote.bin");
    let var_data = read("hcl_var_data.json");
    let mut body = AzureGuestSample::request_body(&doc_with(&td_quote, &var_data));
    body["nonce"] = json!("challenge");

    // Without Intel's collateral for the quote's FMSPC nothing verifies.
    let (s, b) = post(&t, PATH, body.clone()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(b["error"]["innererror"]["code"], "NoOfflineBundle", "{b}");

    let bundle = attesta_collateral::import_dir(&vectors().join("../tdx/automata-tdx-v4")).unwrap();
    let (s, b) = admin_post(
        &t,
        "/admin/collateral",
        attesta_collateral::serialize(&bundle),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&t, PATH, body.clone()).await;
    assert_error(s, &b, 400, "InvalidParameter");
    assert_eq!(
        b["error"]["innererror"]["code"], "EncKeyNotCertified",
        "{b}"
    );

    let code = |b: &Value| b["error"]["innererror"]["code"].clone();
    let mut wrong = body.clone();
    wrong["nonce"] = json!("not the challenge");
    let (_, b) = post(&t, PATH, wrong).await;
    assert_eq!(code(&b), "NonceMismatch", "{b}");

    let mut d = doc_with(&td_quote, &var_data);
    d["TpmInfo"]["PCRs"][0]["Digest"] = json!(STANDARD.encode([0u8; 32]));
    let mut changed = AzureGuestSample::request_body(&d);
    changed["nonce"] = json!("challenge");
    let (_, b) = post(&t, PATH, changed).await;
    assert_eq!(code(&b), "PcrDigestMismatch", "{b}");

    let mut var = var_data.clone();
    let last = var.len() - 2;
    var[last] ^= 0x01;
    let mut changed = AzureGuestSample::request_body(&doc_with(&td_quote, &var));
    changed["nonce"] = json!("challenge");
    let (_, b) = post(&t, PATH, changed).await;
    assert_eq!(code(&b), "VarDataHashMismatch", "{b}");

    // One byte of the TD report body (MRTD, offset 48 + 136) changed: the
    // QE's signature no longer covers it.
    let mut quote = td_quote.clone();
    quote[48 + 136] ^= 0x01;
    let mut changed = AzureGuestSample::request_body(&doc_with(&quote, &var_data));
    changed["nonce"] = json!("challenge");
    let (_, b) = post(&t, PATH, changed).await;
    assert_eq!(code(&b), "QuoteSignatureInvalid", "{b}");
    t.stop().await;
}
