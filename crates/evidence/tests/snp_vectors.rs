//! Real SEV-SNP vectors (Milan VCEK and VLEK, Azure CVM Milan and Genoa,
//! the Turin VCEK chain) verified at a pinned time inside every
//! certificate's validity: stated fields and claims, every signed byte
//! load-bearing, the wrong VCEK and the wrong root rejected by code.

use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::pki;
use attesta_evidence::snp::{
    self, Generation, SigningKey, SnpCertificates, SnpCollateral, SnpVerifier, VerifiedChain,
    parse_report, verify_report,
};
use attesta_evidence::{ErrorCode, UnixTime, Verifier};
use base64::Engine;
use serde_json::Value;

fn vectors() -> String {
    format!("{}/../../../shared/vectors", env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{path}", vectors())).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2025-06-01T00:00:00Z: inside the validity of every vector's VCEK/VLEK.
const AT: UnixTime = UnixTime(1_748_736_000);

struct Vector {
    dir: &'static str,
    report: Vec<u8>,
    vek: Vec<u8>,
    ask: Vec<u8>,
    /// The decoded report section of expected.json.
    expected: Value,
}

fn pem_chain(path: &str) -> Vec<Vec<u8>> {
    pki::pem_certificates(&read(path)).unwrap()
}

fn all_vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for (dir, vek, chain, ask_index) in [
        ("snp/virtee-sev-milan", "vcek.der", "ask_ark_milan.pem", 0),
        (
            "snp/trustee-milan-vcek",
            "vcek.der",
            "milan_ask_ark_asvk.pem",
            0,
        ),
        (
            "snp/trustee-milan-vlek",
            "vlek.der",
            "asvk_ark_milan.pem",
            0,
        ),
    ] {
        let expected: Value =
            serde_json::from_slice(&read(&format!("{dir}/expected.json"))).unwrap();
        out.push(Vector {
            dir,
            report: read(&format!("{dir}/report.bin")),
            vek: read(&format!("{dir}/{vek}")),
            ask: pem_chain(&format!("{dir}/{chain}"))[ask_index].clone(),
            expected: expected["report"].clone(),
        });
    }
    for dir in [
        "azure-cvm/trustee-az-snp-vtpm-v0",
        "azure-cvm/trustee-az-snp-vtpm-v1",
        "azure-cvm/trustee-az-snp-vtpm-v2",
        "azure-cvm/trustee-az-snp-vtpm-genoa",
    ] {
        let expected: Value =
            serde_json::from_slice(&read(&format!("{dir}/expected.json"))).unwrap();
        out.push(Vector {
            dir,
            report: read(&format!("{dir}/snp_report.bin")),
            vek: pem_chain(&format!("{dir}/vcek.pem"))[0].clone(),
            ask: pem_chain(&format!("{dir}/ask_ark.pem"))[0].clone(),
            expected: expected["snp"]["report"].clone(),
        });
    }
    out
}

fn amd() -> TrustRoots {
    snp::amd_trust_roots()
}

fn chain_of(v: &Vector) -> VerifiedChain {
    VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &v.vek,
            ask_der: &v.ask,
            crl_der: None,
        },
        &amd(),
        AT,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", v.dir))
}

fn tcb_json(t: &Value) -> Value {
    serde_json::json!({
        "bootloader": t["bootloader"], "tee": t["tee"], "snp": t["snp"], "microcode": t["microcode"]
    })
}

#[test]
fn every_vector_verifies_with_its_stated_fields() {
    let vectors = all_vectors();
    assert_eq!(vectors.len(), 7);
    for v in &vectors {
        let chain = chain_of(v);
        let ok = verify_report(&v.report, &chain, AT).unwrap_or_else(|e| panic!("{}: {e}", v.dir));
        let e = &v.expected;
        let c = ok.claims();
        let d = v.dir;
        assert_eq!(c.get("x-ms-attestation-type").unwrap(), "sevsnpvm", "{d}");
        assert_eq!(
            c.get("x-ms-sevsnpvm-launchmeasurement").unwrap(),
            &e["measurement"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-reportdata").unwrap(),
            &e["report_data"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-hostdata").unwrap(),
            &e["host_data"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-familyId").unwrap(),
            &e["family_id"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-imageId").unwrap(),
            &e["image_id"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-idkeydigest").unwrap(),
            &e["id_key_digest"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-authorkeydigest").unwrap(),
            &e["author_key_digest"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-reportid").unwrap(),
            &e["report_id"],
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-guestsvn").unwrap(),
            &e["guest_svn"],
            "{d}"
        );
        assert_eq!(c.get("x-ms-sevsnpvm-vmpl").unwrap(), &e["vmpl"], "{d}");
        assert_eq!(c.get("x-attesta-snp-policy").unwrap(), &e["policy"], "{d}");
        let policy =
            u64::from_str_radix(e["policy"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
        assert_eq!(
            c.get("x-ms-sevsnpvm-is-debuggable").unwrap(),
            &Value::Bool(policy & (1 << 19) != 0),
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-smt-allowed").unwrap(),
            &Value::Bool(policy & (1 << 16) != 0),
            "{d}"
        );
        assert_eq!(
            c.get("x-attesta-snp-report-version").unwrap(),
            &e["version"],
            "{d}"
        );
        let rt = &e["reported_tcb"];
        assert_eq!(
            c.get("x-attesta-snp-reported-tcb").unwrap(),
            &tcb_json(rt),
            "{d}"
        );
        assert_eq!(
            c.get("x-attesta-snp-committed-tcb").unwrap(),
            &tcb_json(&e["committed_tcb"]),
            "{d}"
        );
        assert_eq!(
            c.get("x-attesta-snp-launch-tcb").unwrap(),
            &tcb_json(&e["launch_tcb"]),
            "{d}"
        );
        assert_eq!(
            c.get("x-attesta-snp-current-tcb").unwrap(),
            &tcb_json(&e["current_tcb"]),
            "{d}"
        );
        assert_eq!(
            c.get("x-ms-sevsnpvm-bootloader-svn").unwrap(),
            &rt["bootloader"],
            "{d}"
        );
        assert_eq!(c.get("x-ms-sevsnpvm-tee-svn").unwrap(), &rt["tee"], "{d}");
        assert_eq!(c.get("x-ms-sevsnpvm-snpfw-svn").unwrap(), &rt["snp"], "{d}");
        assert_eq!(
            c.get("x-ms-sevsnpvm-microcode-svn").unwrap(),
            &rt["microcode"],
            "{d}"
        );
        let kind = e["signing_key"].as_str().unwrap().to_lowercase();
        assert_eq!(
            c.get("x-attesta-snp-signing-key").unwrap(),
            kind.as_str(),
            "{d}"
        );
        let generation = if d.ends_with("genoa") {
            "Genoa"
        } else {
            "Milan"
        };
        assert_eq!(c.get("x-attesta-snp-processor").unwrap(), generation, "{d}");
        assert_eq!(c.get("x-attesta-test-root").unwrap(), false, "{d}");
        let verified = ok.to_verified();
        assert_eq!(
            hex::encode(&verified.report_data),
            e["report_data"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(verified.init_data.unwrap()),
            e["host_data"].as_str().unwrap()
        );
    }
}

#[test]
fn vlek_vector_is_a_v3_vlek_report_without_hwid() {
    let v = all_vectors()
        .into_iter()
        .find(|v| v.dir.ends_with("vlek"))
        .unwrap();
    let chain = chain_of(&v);
    assert_eq!(chain.vek.kind, SigningKey::Vlek);
    assert_eq!(chain.vek.hw_id, None);
    let r = parse_report(&v.report).unwrap();
    assert_eq!((r.version, r.cpuid_fam_id, r.cpuid_mod_id), (3, 25, 1));
    assert_eq!(r.signing_key, SigningKey::Vlek);
    // After the VLEK's notAfter (2025-12-10T22:14:21Z) it is expired.
    let late = UnixTime(1_765_405_000);
    let err = VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &v.vek,
            ask_der: &v.ask,
            crl_der: None,
        },
        &amd(),
        late,
    )
    .unwrap_err();
    assert_eq!(err.code(), "VlekExpired");
    assert_eq!(
        verify_report(&v.report, &chain, late).unwrap_err().code(),
        "VlekExpired"
    );
}

#[test]
fn vcek_expiry_and_untrusted_root_have_their_codes() {
    let v = &all_vectors()[0];
    let col = SnpCollateral {
        vek_der: &v.vek,
        ask_der: &v.ask,
        crl_der: None,
    };
    // virtee Milan VCEK: valid 2023-04-03 .. 2030-04-03.
    let err = VerifiedChain::verify(&col, &amd(), UnixTime(1_950_000_000)).unwrap_err();
    assert_eq!(err.code(), "VcekExpired");
    let err = VerifiedChain::verify(&col, &TrustRoots::empty(), AT).unwrap_err();
    assert_eq!(err.code(), "UntrustedArk");
    // Only the Genoa and Turin ARKs: the Milan ASK is not theirs.
    let others = TrustRoots::empty()
        .with_embedded(
            attesta_evidence::roots::RootKind::AmdArk,
            snp::ark_der(Generation::Genoa),
        )
        .with_embedded(
            attesta_evidence::roots::RootKind::AmdArk,
            snp::ark_der(Generation::Turin),
        );
    assert_eq!(
        VerifiedChain::verify(&col, &others, AT).unwrap_err().code(),
        "UntrustedArk"
    );
}

#[test]
fn turin_vcek_chain_verifies() {
    let dir = "snp/virtee-sev-turin-vcek-only";
    let vek = read(&format!("{dir}/vcek.der"));
    let ask = pem_chain(&format!("{dir}/ask_ark_turin.pem"))[0].clone();
    let chain = VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &vek,
            ask_der: &ask,
            crl_der: None,
        },
        &amd(),
        AT,
    )
    .unwrap();
    assert_eq!(chain.vek.generation, Generation::Turin);
    assert_eq!(chain.vek.product_name, "Turin");
    assert_eq!(
        (
            chain.vek.tcb.fmc,
            chain.vek.tcb.bootloader,
            chain.vek.tcb.tee,
            chain.vek.tcb.snp,
            chain.vek.tcb.microcode
        ),
        (Some(0), 0, 0, 0, 9)
    );
    assert_eq!(
        chain.vek.hw_id.as_deref().map(hex::encode).as_deref(),
        Some("1e550a8ee5cf9f4d")
    );
    // A Milan report against the Turin VCEK: the signature fails first.
    let milan = read("snp/virtee-sev-milan/report.bin");
    assert_eq!(
        verify_report(&milan, &chain, AT).unwrap_err().code(),
        "ReportSignatureInvalid"
    );
}

#[test]
fn every_signed_byte_of_every_report_is_load_bearing() {
    for v in all_vectors() {
        let chain = chain_of(&v);
        for i in 0..0x2A0 + 144 {
            let mut m = v.report.clone();
            m[i] ^= 0x01;
            let err = verify_report(&m, &chain, AT).unwrap_err();
            let code = err.code();
            let allowed: &[&str] = match i {
                // A flipped bit may turn v2 into v3 (valid, so the
                // signature fails) or into an unknown version.
                0..=3 => &["UnsupportedReportVersion", "ReportSignatureInvalid"],
                0x34..=0x37 => &["UnsupportedSignatureAlgorithm"],
                _ => &["ReportSignatureInvalid"],
            };
            assert!(allowed.contains(&code), "{} byte {i:#x}: {code}", v.dir);
        }
        // The reserved tail after the signature is not signed.
        let mut m = v.report.clone();
        m[0x4A0 - 1] ^= 0xFF;
        assert!(verify_report(&m, &chain, AT).is_ok());
    }
}

#[test]
fn a_real_report_with_another_vcek_is_rejected() {
    let vs = all_vectors();
    let a = &vs[0];
    let b = &vs[1];
    let chain_b = chain_of(b);
    assert_eq!(
        verify_report(&a.report, &chain_b, AT).unwrap_err().code(),
        "ReportSignatureInvalid"
    );
    // The VLEK vector's report against a VCEK chain: the kinds differ.
    let vlek = vs.iter().find(|v| v.dir.ends_with("vlek")).unwrap();
    assert_eq!(
        verify_report(&vlek.report, &chain_b, AT)
            .unwrap_err()
            .code(),
        "SigningKeyMismatch"
    );
    // A VCEK with a chain whose ASK did not sign it.
    let genoa = vs.iter().find(|v| v.dir.ends_with("genoa")).unwrap();
    let err = VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &a.vek,
            ask_der: &genoa.ask,
            crl_der: None,
        },
        &amd(),
        AT,
    )
    .unwrap_err();
    assert_eq!(err.code(), "VcekChainInvalid");
}

#[test]
fn maa_report_member_round_trips_and_verifies_through_the_trait() {
    let v = &all_vectors()[0];
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pem = |der: &[u8]| {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
            lines.join("\r\n")
        )
    };
    let chain_pem = format!(
        "{}{}{}",
        pem(&v.vek),
        pem(&v.ask),
        pem(&snp::ark_der(Generation::Milan))
    );
    let json = format!(
        "{{\n  \"SnpReport\": \"{}\",\n  \"VcekCertChain\": \"{}\",\n  \"Endorsements\": \"{}\"\n}}",
        b64.encode(&v.report),
        b64.encode(chain_pem),
        b64.encode(br#"{"Uvm":["abc"]}"#)
    );
    let m = snp::parse_report_member(&b64.encode(json)).unwrap();
    assert_eq!(m.report, v.report);
    assert_eq!(m.cert_chain.len(), 3);
    assert_eq!(m.endorsements.unwrap()["Uvm"][0], "abc");
    let certs = SnpCertificates::from_chain(&m.cert_chain).unwrap();
    let ev = SnpVerifier.parse(&m.report).unwrap();
    let out = SnpVerifier.verify(&ev, &certs, &amd(), AT).unwrap();
    assert_eq!(out.report_data.len(), 64);
    assert_eq!(out.init_data.unwrap().len(), 32);
    assert_eq!(
        out.claims.get("x-ms-sevsnpvm-launchmeasurement").unwrap(),
        &v.expected["measurement"]
    );
}

#[test]
fn claim_names_and_types_match_a_real_maa_sevsnpvm_token() {
    let jwt = String::from_utf8(read("maa-tokens/azure-samples/sevsnpvm-token.jwt.txt")).unwrap();
    let payload = jwt.trim().split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    let token: serde_json::Map<String, Value> = serde_json::from_slice(&payload).unwrap();
    let mut maa: Vec<(&String, &Value)> = token
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-sevsnpvm-") || *k == "x-ms-attestation-type")
        .collect();
    let v = &all_vectors()[0];
    let claims = verify_report(&v.report, &chain_of(v), AT).unwrap().claims();
    let mut ours: Vec<(&String, &Value)> = claims
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-"))
        .collect();
    assert_eq!(maa.len(), 18);
    maa.sort_by_key(|(k, _)| k.as_str());
    ours.sort_by_key(|(k, _)| k.as_str());
    assert_eq!(ours.len(), maa.len());
    for ((mk, mv), (ok, ov)) in maa.iter().zip(ours.iter()) {
        assert_eq!(mk, ok);
        let kind = |v: &Value| match v {
            Value::String(s) => format!("string/{}", s.len()),
            Value::Bool(_) => "bool".into(),
            Value::Number(_) => "number".into(),
            _ => "other".into(),
        };
        assert_eq!(kind(mv), kind(ov), "{mk}");
    }
}
