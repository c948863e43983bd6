//! Microsoft's Rust guest attestation client (`azure-guest-attestation-sdk`
//! 0.1.1) attests against a real Attesta server over HTTPS, with swtpm as
//! the guest's vTPM:
//!
//! 1. the SDK provisions its AK at Azure's persistent handle (0x81000003)
//!    in the swtpm;
//! 2. the test writes what Azure's HCL would: an HCL report (a testkit
//!    SEV-SNP report under a provider-scoped test ARK whose REPORT_DATA is
//!    SHA-256 of variable data naming that AK as `HCLAkPub`) into the HCL
//!    NV index 0x01400001;
//! 3. the SDK reads it back, quotes PCRs 0–7 with the AK, creates its
//!    PCR-sealed ephemeral key and certifies it, builds the
//!    `AttestationInfo` request and posts it through the SDK's
//!    `AttestationProvider` trait (an implementation here that trusts the
//!    server's test CA: the SDK's own `MaaProvider` trusts only the public
//!    web PKI roots compiled into it);
//! 4. the SDK decrypts the sealed response inside the swtpm and returns
//!    the JWT, which verifies with the provider's keys and carries the
//!    SDK's ephemeral key and client payload;
//! 5. once a quoted PCR changes, the SDK can no longer open a sealed token.
//!
//! Needs swtpm (installed by the test command's swtpm stage), so it is
//! `#[ignore]`d for plain `cargo test`.

use std::io;
use std::sync::Arc;

use azure_guest_attestation_sdk::client::{
    AttestOptions, AttestationClient, DeviceEvidenceOptions, DeviceType, Endorsement,
    EndorsementKind,
};
use azure_guest_attestation_sdk::guest_attest::{self, AttestationProvider};
use azure_guest_attestation_sdk::report::CvmReportType;
use azure_guest_attestation_sdk::tpm::attestation;
use azure_guest_attestation_sdk::tpm::types::{NvPublic, TpmaNvBits};
use azure_guest_attestation_sdk::tpm::{TpmCommandExt, device::Tpm};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use attesta_azure_guest_sdk_tests::{Swtpm, pcr_extend};
use attesta_evidence::UnixTime;
use attesta_evidence::tpm::structures::{Public, PublicKey};
use attesta_testkit::azure_cvm::{HASH_SHA256, REPORT_TYPE_SNP, hcl_report, report_data_for};
use attesta_testkit::snp::{SnpSample, pem};
use attesta_token::jwks::Jwks;
use attesta_token::jwt::{VerifyOptions, verify_jwt};

/// Azure's HCL report NV index (the SDK's `NV_INDEX_CVM_REPORT`).
const HCL_REPORT_NV_INDEX: u32 = 0x0140_0001;
/// Azure's AK certificate NV index (the SDK's `NV_INDEX_AK_CERT`).
const AK_CERT_NV_INDEX: u32 = 0x01C1_01D0;
const VM_ID: &str = "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0";

/// The SDK's `AttestationProvider`, posting `{"AttestationInfo": …}` to an
/// Attesta provider with a client that trusts the server's certificate.
struct AttestaProvider {
    url: String,
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
}

impl AttestationProvider for AttestaProvider {
    fn attest_guest(&self, encoded_request: &str) -> io::Result<Option<String>> {
        let body = json!({ "AttestationInfo": encoded_request });
        self.rt.block_on(async {
            let resp = self
                .client
                .post(&self.url)
                .json(&body)
                .send()
                .await
                .map_err(io::Error::other)?;
            let status = resp.status();
            let v: Value = resp.json().await.map_err(io::Error::other)?;
            if !status.is_success() {
                return Err(io::Error::other(format!("attesta answered {status}: {v}")));
            }
            Ok(v["token"].as_str().map(str::to_string))
        })
    }
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// What Azure's HCL puts in the NV index for `ak_pub` (a `TPM2B_PUBLIC`):
/// the variable data and the HCL report, and the SNP sample inside it.
fn hcl_for(ak_pub: &[u8]) -> (Vec<u8>, Vec<u8>, SnpSample) {
    let ak = Public::parse(ak_pub).expect("the SDK's AK public area");
    let PublicKey::Rsa { modulus, .. } = ak.key else {
        panic!("the SDK's AK is RSA")
    };
    let var_data = json!({
        "keys": [{"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA", "e": "AQAB",
                  "n": URL_SAFE_NO_PAD.encode(&modulus)}],
        "vm-configuration": {"console-enabled": false, "secure-boot": true,
                             "tpm-enabled": true, "vmUniqueId": VM_ID},
        "user-data": "00".repeat(64),
    })
    .to_string()
    .into_bytes();
    let snp = SnpSample::builder()
        .report_data(report_data_for(HASH_SHA256, &var_data))
        .crl(true)
        .build();
    let hcl = hcl_report(REPORT_TYPE_SNP, HASH_SHA256, &snp.report, &var_data, 0);
    (var_data, hcl, snp)
}

fn write_nv(tpm: &Tpm, index: u32, data: &[u8]) -> io::Result<()> {
    let attributes: u32 = TpmaNvBits::new()
        .with_nv_ownerwrite(true)
        .with_nv_authwrite(true)
        .with_nv_ownerread(true)
        .with_nv_authread(true)
        .into();
    tpm.nv_define_space(
        NvPublic {
            nv_index: index,
            name_alg: 0x000b,
            attributes,
            auth_policy: Vec::new(),
            data_size: data.len() as u16,
        },
        &[],
    )?;
    tpm.write_nv_index(index, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs swtpm: run by the test command's swtpm stage"]
async fn microsoft_rust_sdk_attests_and_opens_the_sealed_token() {
    let swtpm = Arc::new(Swtpm::start().expect("swtpm starts (install swtpm and swtpm-tools)"));

    // 1–2: the vTPM as Azure provisions it.
    let sw = swtpm.clone();
    let (client, var_data, snp) = tokio::task::spawn_blocking(move || {
        let client = AttestationClient::from_tpm(Tpm::from_raw_reference(Box::new(sw.transport())));
        attestation::ensure_persistent_ak(client.tpm()).expect("the SDK provisions its AK");
        let ak_pub = attestation::get_ak_pub(client.tpm()).expect("the AK at 0x81000003");
        let (var_data, hcl, snp) = hcl_for(&ak_pub);
        write_nv(client.tpm(), HCL_REPORT_NV_INDEX, &hcl)
            .expect("the HCL report fits the NV index");
        // The SDK reads Azure's AK certificate index unconditionally and
        // takes only "not found" for absent, which swtpm reports as
        // TPM_RC_HANDLE: provision it, with an empty DER SEQUENCE — Attesta
        // trusts the AK through the hardware report, not a certificate.
        write_nv(client.tpm(), AK_CERT_NV_INDEX, &[0x30, 0x00]).expect("the AK certificate index");
        (client, var_data, snp)
    })
    .await
    .unwrap();

    // The server, with a provider trusting the test ARK at the sample's
    // time, and AMD's (test) CRL imported.
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = attesta_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: tmp.path().to_path_buf(),
        ..attesta_server::Config::default()
    };
    cfg.collateral.pcs_url = String::new();
    cfg.collateral.kds_url = String::new();
    let server = attesta_server::start(cfg).await.expect("server starts");
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&server.tls_cert).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let admin = std::fs::read_to_string(tmp.path().join("admin-token")).unwrap();
    let admin = admin.trim();
    let r = http
        .post(format!("{base}/admin/providers"))
        .bearer_auth(admin)
        .json(&json!({"name": "cvm", "config": {
            "test_roots": {"amd": [pem(&snp.ark_der)]},
            "verification_time": rfc3339(snp.at.0),
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/admin/collateral/snp"))
        .bearer_auth(admin)
        .json(&json!({"files": {"crl.der": STANDARD.encode(snp.crl_der.as_ref().unwrap())}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // 3–4: the SDK's own flow, through its AttestationProvider trait.
    let provider = AttestaProvider {
        url: format!("{base}/providers/cvm/attest/AzureGuest?api-version=2020-10-01"),
        client: http.clone(),
        rt: tokio::runtime::Handle::current(),
    };
    let mut chain = pem(&snp.vek_der);
    chain.push_str(&pem(&snp.ask_der));
    chain.push_str(&pem(&snp.ark_der));
    let (client, request, jwt, token) = tokio::task::spawn_blocking(move || {
        let cvm = client
            .get_cvm_evidence(None)
            .expect("the SDK reads the HCL report");
        assert_eq!(cvm.report_type, CvmReportType::SnpVmReport);
        let pcrs: Vec<u32> = (0..8).collect();
        let device = client
            .get_device_evidence(Some(&DeviceEvidenceOptions {
                device_type: DeviceType::Tpm,
                pcr_selection: Some(pcrs.clone()),
            }))
            .expect("quote and ephemeral key");
        let options = AttestOptions {
            client_payload: Some(r#"{"nonce":"sdk-nonce","purpose":"test"}"#.into()),
            pcr_selection: Some(pcrs),
        };
        let endorsement = Endorsement {
            kind: EndorsementKind::Vcek,
            data: chain.into_bytes(),
            endorsement_response: None,
        };
        let report = client
            .create_attestation_report(&device, Some(&cvm), Some(&endorsement), Some(&options))
            .expect("the SDK builds the request");
        let encoded = guest_attest::base64_url_encode(report.json.as_bytes());
        let token = guest_attest::submit_to_provider(&encoded, &provider)
            .expect("attesta accepts the SDK's request")
            .expect("a token");
        let jwt = client
            .decrypt_token(&report.pcrs, &token)
            .expect("the swtpm decrypts the sealed token")
            .expect("the token is the sealed envelope");
        (client, report, jwt, token)
    })
    .await
    .unwrap();

    let jwks: Jwks = http
        .get(format!("{base}/providers/cvm/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = verify_jwt(
        &jwt,
        &jwks,
        &VerifyOptions {
            issuer: Some(format!("{base}/providers/cvm")),
            now: UnixTime::now().0,
            leeway_secs: 5,
        },
    )
    .expect("the decrypted JWT is the provider's");
    let c = v.claims;
    let sent: Value = serde_json::from_str(&request.json).unwrap();
    let enc_pub = STANDARD
        .decode(sent["TpmInfo"]["EncKeyPub"].as_str().unwrap())
        .unwrap();
    let Public {
        key: PublicKey::Rsa { modulus, .. },
        ..
    } = Public::parse(&enc_pub).unwrap()
    else {
        panic!("the SDK's ephemeral key is RSA")
    };
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    assert_eq!(c["x-ms-azurevm-vmid"], VM_ID);
    assert_eq!(c["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(c["x-ms-azurevm-attestation-protocol-ver"], "2.0");
    assert_eq!(
        c["x-ms-azurevm-attested-pcrs"],
        json!([0, 1, 2, 3, 4, 5, 6, 7])
    );
    assert_eq!(c["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(
        c["x-ms-isolation-tee"]["x-ms-sevsnpvm-reportdata"],
        hex::encode(report_data_for(HASH_SHA256, &var_data))
    );
    let key = &c["x-ms-runtime"]["keys"][0];
    assert_eq!(key["kid"], "TpmEphemeralEncryptionKey");
    let n = modulus
        .iter()
        .copied()
        .skip_while(|&b| b == 0)
        .collect::<Vec<u8>>();
    assert_eq!(
        key["n"],
        URL_SAFE_NO_PAD.encode(n),
        "the SDK's own ephemeral key"
    );
    assert_eq!(
        c["x-ms-runtime"]["client-payload"]["nonce"],
        STANDARD.encode("sdk-nonce")
    );

    // 5: the token is sealed to the attested PCR state.
    let sw = swtpm.clone();
    tokio::task::spawn_blocking(move || {
        pcr_extend(&sw.transport(), 7, &[0x5a; 32]).expect("PCR 7 extends");
        let pcrs: Vec<u32> = (0..8).collect();
        let opened = client.decrypt_token(&pcrs, &token);
        assert!(
            !matches!(opened, Ok(Some(_))),
            "a changed PCR 7 must keep the token sealed: {opened:?}"
        );
    })
    .await
    .unwrap();

    server.shutdown();
    server.wait().await.unwrap();
}
