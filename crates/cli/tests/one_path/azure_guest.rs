//! Azure confidential VM guests: `attesta verify azure-guest` against
//! `POST /attest/AzureGuest`, which run one flow
//! (`attesta_server::azure_guest::verify_evidence`, claims from
//! `evidence_claims`); the token adds only what a request alone states.
//!
//! A real capture cannot give a token: the server seals the token to an
//! ephemeral key the guest's AK certifies, and the capture's AK stayed on
//! its VM. So for each capture the server is sent the capture's own
//! evidence (the hardware report and variable data cut from the HCL report
//! the CLI reads, the VCEK chain or TD quote, the vTPM quote and PCRs) with
//! a stand-in key, and must refuse it only there, with
//! `EncKeyNotCertified`, the step after every evidence check; a wrong
//! nonce, a changed PCR value and changed variable data are refused with
//! the same code by both; the CLI's claims hold what expected.json states.
//! The claims themselves are compared exactly on testkit guest evidence,
//! whose ephemeral key the server can certify and whose token the test
//! opens.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use attesta_evidence::azure_cvm::HclReport;
use attesta_testkit::azure_cvm::{AzureGuestSample, ENC_KEY_ATTRIBUTES, EphemeralKey};

use crate::common::*;

const SNP: [&str; 4] = [
    "trustee-az-snp-vtpm-v0",
    "trustee-az-snp-vtpm-v1",
    "trustee-az-snp-vtpm-v2",
    "trustee-az-snp-vtpm-genoa",
];
const TDX: &str = "trustee-az-tdx-vtpm";
/// automata-tdx-v4's time (the TDX capture's FMSPC collateral); the SNP
/// VCEKs are valid then too.
const AT: &str = "2025-06-05T03:45:00Z";
const PATH: &str = "attest/AzureGuest?api-version=2020-10-01";

/// The claims of a token that only its request states.
const REQUEST_ONLY: [&str; 8] = [
    "x-ms-azurevm-attestation-protocol-ver",
    "x-ms-azurevm-ostype",
    "x-ms-azurevm-osdistro",
    "x-ms-azurevm-osversion-major",
    "x-ms-azurevm-osversion-minor",
    "x-ms-azurevm-osbuild",
    "x-ms-azurevm-is-windows",
    "x-ms-runtime",
];

/// One capture's evidence, as both paths get it.
struct Capture<'a> {
    name: &'a str,
    dir: std::path::PathBuf,
    hcl: Vec<u8>,
    pcrs: Value,
}

impl Capture<'_> {
    /// `attesta verify azure-guest` of the capture, with `hcl` and `pcrs`
    /// for its own and `nonce` (hex).
    fn verify(&self, tmp: &Path, nonce: &str) -> (i32, String, String) {
        let hcl = tmp.join(format!("{}-hcl.bin", self.name));
        std::fs::write(&hcl, &self.hcl).unwrap();
        let pcrs = tmp.join(format!("{}-pcrs.json", self.name));
        std::fs::write(&pcrs, self.pcrs.to_string()).unwrap();
        let d = &self.dir;
        let mut cmd = bin();
        cmd.args(["verify", "azure-guest", "--hcl-report"])
            .arg(hcl)
            .arg("--quote")
            .arg(d.join("tpm_quote_attest.bin"))
            .arg("--signature")
            .arg(d.join("tpm_quote_sig.bin"))
            .arg("--pcrs")
            .arg(pcrs)
            .args(["--nonce", nonce, "--at", AT]);
        if self.name == TDX {
            cmd.arg("--td-quote")
                .arg(d.join("td_quote.bin"))
                .arg("--collateral")
                .arg(vectors().join("tdx/automata-tdx-v4"));
        } else {
            // The captures keep no AMD CRL: the CLI's opt-out is the
            // provider's grace on the server.
            cmd.arg("--vcek")
                .arg(d.join("vcek.pem"))
                .arg("--ca-chain")
                .arg(d.join("ask_ark.pem"))
                .arg("--no-revocation-check");
        }
        run(&mut cmd)
    }

    /// The `AzureGuest` request body with the same evidence, `key` as the
    /// stand-in ephemeral key, and `nonce` as the request's nonce.
    fn request(&self, key: &EphemeralKey, nonce: Option<&str>) -> Value {
        let hcl = HclReport::parse(&self.hcl).unwrap();
        let read = |f: &str| std::fs::read(self.dir.join(f)).unwrap();
        let proof = if self.name == TDX {
            read("td_quote.bin")
        } else {
            let mut chain = read("vcek.pem");
            chain.extend(read("ask_ark.pem"));
            json!({
                "SnpReport": URL_SAFE_NO_PAD.encode(hcl.hw_report),
                "VcekCertChain": URL_SAFE_NO_PAD.encode(&chain),
            })
            .to_string()
            .into_bytes()
        };
        let pcrs: Vec<Value> = self
            .pcrs
            .as_object()
            .unwrap()
            .iter()
            .map(|(i, v)| {
                json!({"Index": i.parse::<u32>().unwrap(),
                       "Digest": STANDARD.encode(hex::decode(v.as_str().unwrap()).unwrap())})
            })
            .collect();
        let doc = json!({
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
            "IsolationInfo": {
                "Type": if self.name == TDX { "Tdx" } else { "SevSnp" },
                "Evidence": {
                    "Proof": URL_SAFE_NO_PAD.encode(proof),
                    "RunTimeData": URL_SAFE_NO_PAD.encode(hcl.var_data),
                },
            },
        });
        let mut body = AzureGuestSample::request_body(&doc);
        if let Some(n) = nonce {
            body["nonce"] = json!(n);
        }
        body
    }
}

#[test]
fn every_real_azure_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("data"));
    for (provider, extra) in [
        ("guest-snp", &["--collateral-grace-secs", "60"][..]),
        ("guest-tdx", &[][..]),
    ] {
        let (code, _, err) = run_on(
            &s,
            client(
                &s,
                &["provider", "create", provider, "--verification-time", AT],
            )
            .args(extra),
        );
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = run_on(
        &s,
        client(&s, &["collateral", "import"]).arg(vectors().join("tdx/automata-tdx-v4")),
    );
    assert_eq!(code, 0, "{err}");
    let key = EphemeralKey::new(ENC_KEY_ATTRIBUTES, &[]);
    let wrong = "not the challenge";

    for name in SNP.iter().copied().chain([TDX]) {
        let dir = vectors().join("azure-cvm").join(name);
        let e = expected(&dir);
        let c = Capture {
            name,
            hcl: std::fs::read(dir.join("hcl_report.bin")).unwrap(),
            pcrs: serde_json::from_slice(&std::fs::read(dir.join("tpm_pcrs_sha256.json")).unwrap())
                .unwrap(),
            dir,
        };
        let path = format!(
            "/providers/{}/{PATH}",
            if name == TDX {
                "guest-tdx"
            } else {
                "guest-snp"
            }
        );
        let nonce_hex = e["tpm_quote"]["nonce_expected"].as_str().unwrap();
        // The request names its nonce when it is text (MAA's clients send
        // none; the server then takes the quote's).
        let nonce_text = String::from_utf8(hex::decode(nonce_hex).unwrap()).ok();
        let refused = |c: &Capture, cli_nonce: &str, server_nonce: Option<&str>| {
            let cli = cli_rejection(name, &c.verify(tmp.path(), cli_nonce));
            let (status, b) = post_json(&s, &path, &c.request(&key, server_nonce));
            assert_eq!(status, 400, "{name}: {b}");
            assert_eq!(
                inner_code(&b),
                cli,
                "{name}: the CLI says {cli}, the server {b}"
            );
            cli
        };

        // The capture as it is: every evidence check passes on both; the
        // server then refuses the stand-in key.
        let claims = cli_claims(name, &c.verify(tmp.path(), nonce_hex));
        let (status, b) = post_json(&s, &path, &c.request(&key, nonce_text.as_deref()));
        assert_eq!(status, 400, "{name}: {b}");
        assert_eq!(inner_code(&b), "EncKeyNotCertified", "{name}: {b}");

        // The same wrong nonce, PCR value, variable data for both.
        assert_eq!(
            refused(&c, &hex::encode(wrong), Some(wrong)),
            "NonceMismatch"
        );
        let mut pcr = Capture {
            name,
            dir: c.dir.clone(),
            hcl: c.hcl.clone(),
            pcrs: c.pcrs.clone(),
        };
        pcr.pcrs["4"] = Value::from("00".repeat(32));
        assert_eq!(
            refused(&pcr, nonce_hex, nonce_text.as_deref()),
            "PcrDigestMismatch"
        );
        // The byte change the TDX PROVENANCE names, inside every capture's
        // variable data.
        let mut var = Capture {
            name,
            dir: c.dir.clone(),
            hcl: c.hcl.clone(),
            pcrs: c.pcrs.clone(),
        };
        var.hcl[0x0880] = var.hcl[0x0880].wrapping_add(1);
        assert_eq!(
            refused(&var, nonce_hex, nonce_text.as_deref()),
            "VarDataHashMismatch"
        );

        // What expected.json states.
        let vm = &e["hcl"]["vm_configuration"];
        assert_eq!(claims["x-ms-azurevm-vmid"], vm["vmUniqueId"], "{name}");
        assert_eq!(
            claims["x-attesta-azurevm-quote-nonce"],
            e["tpm_quote"]["extra_data"]
        );
        let tee = &claims["x-ms-isolation-tee"];
        assert_eq!(tee["x-ms-runtime"]["vm-configuration"], *vm, "{name}");
        if name == TDX {
            assert_eq!(tee["x-ms-attestation-type"], "tdxvm");
            assert_eq!(tee["tdx_mrtd"], e["td_quote"]["report"]["mrtd"]);
            assert_eq!(
                tee["tdx_report_data"],
                e["td_quote"]["report"]["reportdata"]
            );
        } else {
            assert_eq!(tee["x-ms-attestation-type"], "sevsnpvm");
            assert_eq!(
                tee["x-ms-sevsnpvm-launchmeasurement"],
                e["snp"]["report"]["measurement"]
            );
            assert_eq!(
                tee["x-ms-sevsnpvm-reportdata"],
                e["snp"]["report"]["report_data"]
            );
            assert_eq!(claims["x-attesta-snp-revocation-checked"], false);
        }
    }
}

#[test]
fn testkit_guest_claims_are_the_tokens() {
    let sample = AzureGuestSample::for_request(b"");
    let key = EphemeralKey::for_quote(&sample.tpm);
    let tmp = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let at = attesta_evidence::types::rfc3339(sample.snp.at.0 as i64);
    let ark = pem_file(tmp.path(), "ark.pem", &sample.snp.ark_der);
    let mut chain = attesta_evidence::sgx::pki::certificate_pem(&sample.snp.ask_der);
    chain.push_str(&attesta_evidence::sgx::pki::certificate_pem(
        &sample.snp.ark_der,
    ));
    let crl_dir = tmp.path().join("crl");
    std::fs::create_dir_all(&crl_dir).unwrap();
    let crl = sample.snp.crl_der.as_ref().unwrap();
    std::fs::write(crl_dir.join("crl.der"), crl).unwrap();
    let bank = &sample.tpm.pcrs[&attesta_evidence::tpm::structures::TPM_ALG_SHA256];
    let pcrs: serde_json::Map<String, Value> = bank
        .iter()
        .map(|(i, v)| (i.to_string(), Value::from(hex::encode(v))))
        .collect();

    // The server: the sample's test ARK, its time, AMD's test CRL.
    let s = serve(&tmp.path().join("data"));
    let (code, _, err) = run_on(
        &s,
        client(&s, &["provider", "create", "guest", "--test-root-amd"])
            .arg(&ark)
            .args(["--verification-time", &at]),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_on(&s, client(&s, &["collateral", "import"]).arg(&crl_dir));
    assert_eq!(code, 0, "{err}");
    let doc = sample.attestation_info(&key);
    let (status, b) = post_json(
        &s,
        &format!("/providers/guest/{PATH}"),
        &AzureGuestSample::request_body(&doc),
    );
    assert_eq!(status, 200, "{b}");
    let token = jwt_claims(&key.open(b["token"].as_str().unwrap()).unwrap());

    // The CLI over the same evidence, in the HCL report's form.
    let cli = cli_claims(
        "testkit guest",
        &run(bin()
            .args(["verify", "azure-guest", "--hcl-report"])
            .arg(w("hcl.bin", &sample.hcl_report))
            .arg("--quote")
            .arg(w("quote.bin", &sample.tpm.attest))
            .arg("--signature")
            .arg(w("sig.bin", &sample.tpm.signature))
            .arg("--pcrs")
            .arg(w("pcrs.json", Value::Object(pcrs).to_string().as_bytes()))
            .arg("--event-log")
            .arg(w("log.bin", &sample.tpm.event_log))
            .arg("--vcek")
            .arg(w("vcek.der", &sample.snp.vek_der))
            .arg("--ca-chain")
            .arg(w("ca_chain.pem", chain.as_bytes()))
            .arg("--crl")
            .arg(crl_dir.join("crl.der"))
            .arg("--trust-root")
            .arg(&ark)
            .args(["--at", &at])),
    );
    assert_same_claims("testkit guest", &cli, &token, &REQUEST_ONLY);
    for k in REQUEST_ONLY {
        assert!(token.contains_key(k), "the token has no {k}");
    }
    // Claims from each part of the evidence, so the comparison is not of
    // near-empty sets.
    assert_eq!(cli["x-ms-attestation-type"], "azurevm");
    assert_eq!(
        cli["x-ms-azurevm-vmid"],
        "6A1B2C3D-0000-4000-8000-00000000A2E7"
    );
    assert_eq!(cli["secureboot"], true, "from the proven SecureBoot event");
    assert_eq!(cli["x-attesta-test-root"], true);
    assert!(cli.get("x-attesta-snp-revocation-checked").is_none());
    assert_eq!(
        cli["x-ms-isolation-tee"]["x-ms-sevsnpvm-reportdata"],
        hex::encode(attesta_testkit::azure_cvm::report_data_for(
            1,
            &sample.var_data
        ))
    );
    assert_eq!(
        cli["x-ms-isolation-tee"]["x-ms-attestation-type"],
        "sevsnpvm"
    );
}
