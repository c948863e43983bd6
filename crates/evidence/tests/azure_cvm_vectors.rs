//! Azure confidential VM guest evidence against the real captures in
//! `../shared/vectors/azure-cvm` (SEV-SNP Milan v0–v2 and Genoa, TDX): each
//! verifies end to end at a pinned time with its quote's nonce and yields
//! the measurement, report data, PCR values and VM configuration its
//! expected.json states; each link of the chain, broken, is rejected with
//! its own code.

mod common;

use std::collections::BTreeMap;

use attesta_evidence::azure_cvm::{
    self, AzureGuestError, AzureGuestEvidence, AzureGuestSettings, HclReport, HclReportType,
    IsolationCollateral, RuntimeData,
};
use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{intel_trust_roots, pki};
use attesta_evidence::snp::{self, SnpCollateral};
use attesta_evidence::tpm::Pcrs;
use attesta_evidence::tpm::structures::TPM_ALG_SHA256;
use attesta_evidence::{ErrorCode, UnixTime};
use common::{collateral, json, read, time};
use serde_json::Value;

const SNP: [&str; 4] = [
    "azure-cvm/trustee-az-snp-vtpm-v0",
    "azure-cvm/trustee-az-snp-vtpm-v1",
    "azure-cvm/trustee-az-snp-vtpm-v2",
    "azure-cvm/trustee-az-snp-vtpm-genoa",
];
const TDX: &str = "azure-cvm/trustee-az-tdx-vtpm";
/// The TDX collateral with the Azure TD quote's FMSPC (its PROVENANCE).
const TDX_COLLATERAL: &str = "tdx/automata-tdx-v4";
/// Offset the TDX PROVENANCE names (inside the variable data of every capture).
const PROVENANCE_BYTE: usize = 0x0880;

/// 2025-06-05T03:45:00Z: the TDX capture's collateral time (PROVENANCE);
/// inside every SNP capture's VCEK validity (2025-01..2032-01).
fn at() -> UnixTime {
    time("2025-06-05T03:45:00Z")
}

fn roots() -> TrustRoots {
    intel_trust_roots(snp::amd_trust_roots())
}

struct Vector {
    dir: &'static str,
    expected: Value,
    hcl: Vec<u8>,
    attest: Vec<u8>,
    sig: Vec<u8>,
    pcrs: Pcrs,
    nonce: Vec<u8>,
    /// SNP: VCEK and ASK (DER).
    vek: Vec<u8>,
    ask: Vec<u8>,
    /// TDX: the TD quote and its collateral.
    td_quote: Vec<u8>,
    dcap: Option<DcapCollateral>,
}

fn pcrs_of(dir: &str) -> Pcrs {
    let v = json(&format!("{dir}/tpm_pcrs_sha256.json"));
    let mut bank = BTreeMap::new();
    for (k, hexv) in v.as_object().unwrap() {
        bank.insert(
            k.parse::<u32>().unwrap(),
            hex::decode(hexv.as_str().unwrap()).unwrap(),
        );
    }
    BTreeMap::from([(TPM_ALG_SHA256, bank)])
}

fn load(dir: &'static str) -> Vector {
    let expected = json(&format!("{dir}/expected.json"));
    let nonce = hex::decode(expected["tpm_quote"]["nonce_expected"].as_str().unwrap()).unwrap();
    let is_tdx = dir == TDX;
    let (vek, ask) = if is_tdx {
        (Vec::new(), Vec::new())
    } else {
        let vek = pki::pem_certificates(&read(&format!("{dir}/vcek.pem"))).unwrap();
        let chain = pki::pem_certificates(&read(&format!("{dir}/ask_ark.pem"))).unwrap();
        (vek[0].clone(), chain[0].clone())
    };
    Vector {
        dir,
        hcl: read(&format!("{dir}/hcl_report.bin")),
        attest: read(&format!("{dir}/tpm_quote_attest.bin")),
        sig: read(&format!("{dir}/tpm_quote_sig.bin")),
        pcrs: pcrs_of(dir),
        nonce,
        vek,
        ask,
        td_quote: if is_tdx {
            read(&format!("{dir}/td_quote.bin"))
        } else {
            Vec::new()
        },
        dcap: is_tdx.then(|| collateral(TDX_COLLATERAL)),
        expected,
    }
}

fn all() -> Vec<Vector> {
    SNP.iter().copied().chain([TDX]).map(load).collect()
}

impl Vector {
    fn evidence(&self) -> AzureGuestEvidence<'_> {
        AzureGuestEvidence {
            hcl_report: &self.hcl,
            quote: &self.attest,
            signature: &self.sig,
            pcrs: self.pcrs.clone(),
            event_log: None,
        }
    }

    fn collateral(&self) -> IsolationCollateral<'_> {
        match &self.dcap {
            Some(c) => IsolationCollateral::Tdx {
                td_quote: &self.td_quote,
                collateral: c,
            },
            None => IsolationCollateral::Snp(SnpCollateral {
                vek_der: &self.vek,
                ask_der: &self.ask,
                crl_der: None,
            }),
        }
    }

    fn verify_with(
        &self,
        ev: &AzureGuestEvidence<'_>,
        nonce: &[u8],
    ) -> Result<azure_cvm::AzureGuestVerified, AzureGuestError> {
        azure_cvm::verify(
            ev,
            &self.collateral(),
            nonce,
            &roots(),
            &AzureGuestSettings::default(),
            at(),
        )
    }

    fn code_with(&self, ev: &AzureGuestEvidence<'_>) -> &'static str {
        match self.verify_with(ev, &self.nonce) {
            Ok(_) => "accepted",
            Err(e) => e.code(),
        }
    }
}

/// `hcl` with its variable data replaced by `var`, every size field fixed
/// up so that only the content differs.
fn with_var_data(hcl: &[u8], var: &[u8]) -> Vec<u8> {
    HclReport::parse(hcl).unwrap();
    let mut out = hcl[..azure_cvm::hcl::VAR_DATA_OFFSET].to_vec();
    let report_size = (azure_cvm::hcl::VAR_DATA_OFFSET + var.len()) as u32;
    out[8..12].copy_from_slice(&report_size.to_le_bytes());
    out[1216..1220].copy_from_slice(&((20 + var.len()) as u32).to_le_bytes());
    out[1232..1236].copy_from_slice(&(var.len() as u32).to_le_bytes());
    out.extend_from_slice(var);
    out.resize(hcl.len().max(out.len()), 0);
    out
}

#[test]
fn every_capture_decodes_to_its_stated_fields() {
    for v in all() {
        let h = &v.expected["hcl"];
        let r = HclReport::parse(&v.hcl).unwrap();
        assert_eq!(
            r.header.version as u64,
            h["header_version"].as_u64().unwrap()
        );
        assert_eq!(
            r.header.report_size as u64,
            h["report_size"].as_u64().unwrap()
        );
        assert_eq!(
            r.header.request_type as u64,
            h["request_type"].as_u64().unwrap()
        );
        assert_eq!(
            r.igvm.data_size as u64,
            h["igvm_data_size"].as_u64().unwrap()
        );
        assert_eq!(
            r.igvm.report_type.as_str(),
            h["report_type"].as_str().unwrap()
        );
        assert_eq!(
            r.igvm.variable_data_size as u64,
            h["var_data_size"].as_u64().unwrap()
        );
        assert_eq!(r.var_data, read(&format!("{}/hcl_var_data.json", v.dir)));
        let hw = if r.igvm.report_type == HclReportType::Tdx {
            read(&format!("{}/td_report.bin", v.dir))
        } else {
            read(&format!("{}/snp_report.bin", v.dir))
        };
        assert_eq!(&r.hw_report[..hw.len()], &hw[..], "{}", v.dir);
        let rt = RuntimeData::parse(r.var_data).unwrap();
        assert_eq!(
            Value::Object(rt.vm_configuration.clone().unwrap()),
            h["vm_configuration"],
            "{}",
            v.dir
        );
        assert_eq!(rt.user_data.as_deref(), h["user_data"].as_str());
        let kids: Vec<&str> = rt.keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(Value::from(kids), h["var_data_keys"]);
        // HCLAkPub is the key the capture's convenience PEM holds.
        let pem = read(&format!("{}/ak_pub_from_hcl.pem", v.dir));
        let spki = rt.ak_pub().unwrap().unwrap().spki_der().unwrap();
        let b64: String = String::from_utf8(pem)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        use base64::Engine;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            spki,
            "{}",
            v.dir
        );
    }
}

#[test]
fn every_capture_verifies_with_its_stated_claims() {
    for v in all() {
        let out = v
            .verify_with(&v.evidence(), &v.nonce)
            .unwrap_or_else(|e| panic!("{}: {} ({})", v.dir, e, e.code()));
        let c = out.claims();
        let h = &v.expected["hcl"];
        assert_eq!(c.get("x-ms-attestation-type").unwrap(), "azurevm");
        assert_eq!(
            c.get("x-ms-azurevm-vmid").unwrap(),
            &h["vm_configuration"]["vmUniqueId"]
        );
        assert_eq!(
            c.get("x-ms-azurevm-attested-pcrs").unwrap(),
            &v.expected["tpm_quote"]["pcr_select"][0]["pcrs"]
        );
        let tee = c.get("x-ms-isolation-tee").unwrap();
        assert_eq!(
            tee["x-ms-runtime"]["vm-configuration"],
            h["vm_configuration"]
        );
        assert_eq!(tee["x-ms-runtime"]["user-data"], h["user_data"]);
        assert_eq!(tee["x-ms-runtime"]["keys"][0]["kid"], "HCLAkPub");
        if v.dir == TDX {
            let q = &v.expected["td_quote"]["report"];
            assert_eq!(tee["x-ms-attestation-type"], "tdxvm");
            assert_eq!(tee["tdx_mrtd"], q["mrtd"]);
            assert_eq!(tee["tdx_mrseam"], q["mrseam"]);
            assert_eq!(tee["tdx_report_data"], q["reportdata"]);
            // PROVENANCE: platform and module OutOfDate under this collateral.
            assert_eq!(tee["attester_tcb_status"], "OutOfDate");
            assert_eq!(
                tee["x-attesta-tcb-advisory-ids"],
                serde_json::json!(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
            );
            assert_eq!(c.get("x-attesta-azurevm-hcl-report-type").unwrap(), "TDX");
        } else {
            let r = &v.expected["snp"]["report"];
            assert_eq!(tee["x-ms-attestation-type"], "sevsnpvm");
            assert_eq!(tee["x-ms-sevsnpvm-launchmeasurement"], r["measurement"]);
            assert_eq!(tee["x-ms-sevsnpvm-reportdata"], r["report_data"]);
            assert_eq!(tee["x-ms-sevsnpvm-guestsvn"], r["guest_svn"]);
            assert_eq!(
                tee["x-ms-sevsnpvm-microcode-svn"],
                r["reported_tcb"]["microcode"]
            );
            assert_eq!(c.get("x-attesta-azurevm-hcl-report-type").unwrap(), "SNP");
        }
        // The hardware report_data starts with SHA-256 of the variable data.
        assert_eq!(
            hex::encode(&out.report_data[..32]),
            h["var_data_sha256"].as_str().unwrap()
        );
        assert_eq!(
            c.get("x-attesta-azurevm-report-data-hash").unwrap(),
            "SHA256"
        );
        // Every PCR value sent, as quoted.
        let want = json(&format!("{}/tpm_pcrs_sha256.json", v.dir));
        let list = c.get("x-attesta-azurevm-pcrs").unwrap()["PCRs"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 24);
        for p in list {
            let i = p["Index"].as_u64().unwrap().to_string();
            assert_eq!(p["Digests"]["SHA256"], want[&i], "{} PCR {i}", v.dir);
        }
        // No log was sent: no log claims.
        assert!(c.get("secureboot").is_none());
        assert_eq!(
            c.get("x-attesta-azurevm-log-verified-pcrs").unwrap(),
            &serde_json::json!([])
        );
        assert_eq!(c.get("x-attesta-test-root").unwrap(), false);
    }
}

#[test]
fn the_milan_v0_and_tdx_quotes_carry_challenge() {
    for dir in [
        "azure-cvm/trustee-az-snp-vtpm-v0",
        "azure-cvm/trustee-az-snp-vtpm-v1",
        TDX,
    ] {
        let v = load(dir);
        assert_eq!(v.nonce, b"challenge");
        assert!(v.verify_with(&v.evidence(), b"challenge").is_ok(), "{dir}");
    }
}

#[test]
fn a_wrong_nonce_is_rejected() {
    for v in all() {
        let err = v.verify_with(&v.evidence(), b"challengf").unwrap_err();
        assert_eq!(err.code(), "NonceMismatch", "{}", v.dir);
        // trustee's test_verify_user_data: report data 123abc is rejected.
        let err = v
            .verify_with(&v.evidence(), &[0x12, 0x3a, 0xbc])
            .unwrap_err();
        assert_eq!(err.code(), "NonceMismatch", "{}", v.dir);
    }
}

#[test]
fn the_provenance_byte_change_is_a_var_data_hash_mismatch() {
    for v in all() {
        let r = HclReport::parse(&v.hcl).unwrap();
        let var_end = azure_cvm::hcl::VAR_DATA_OFFSET + r.var_data.len();
        assert!((azure_cvm::hcl::VAR_DATA_OFFSET..var_end).contains(&PROVENANCE_BYTE));
        for delta in [1u8, 0x20, 0x80] {
            let mut hcl = v.hcl.clone();
            hcl[PROVENANCE_BYTE] = hcl[PROVENANCE_BYTE].wrapping_add(delta);
            let ev = AzureGuestEvidence {
                hcl_report: &hcl,
                ..v.evidence()
            };
            assert_eq!(
                v.code_with(&ev),
                "VarDataHashMismatch",
                "{} +{delta}",
                v.dir
            );
        }
    }
}

#[test]
fn swapped_variable_data_is_rejected() {
    let vs = all();
    for (i, v) in vs.iter().enumerate() {
        let own = HclReport::parse(&v.hcl).unwrap().var_data.to_vec();
        // v0 and v1 are captures of one VM with identical variable data:
        // take the next capture whose variable data differs.
        let (other, theirs) = (1..vs.len())
            .map(|k| &vs[(i + k) % vs.len()])
            .map(|o| (o, HclReport::parse(&o.hcl).unwrap().var_data.to_vec()))
            .find(|(_, t)| *t != own)
            .unwrap();
        let hcl = with_var_data(&v.hcl, &theirs);
        // The splice itself is well formed.
        assert_eq!(HclReport::parse(&hcl).unwrap().var_data, &theirs[..]);
        let ev = AzureGuestEvidence {
            hcl_report: &hcl,
            ..v.evidence()
        };
        assert_eq!(
            v.code_with(&ev),
            "VarDataHashMismatch",
            "{} with {}",
            v.dir,
            other.dir
        );
        // And the splice is exact: its own var data back verifies.
        let back = with_var_data(&v.hcl, &own);
        let ev = AzureGuestEvidence {
            hcl_report: &back,
            ..v.evidence()
        };
        assert_eq!(v.code_with(&ev), "accepted", "{}", v.dir);
    }
}

#[test]
fn another_vms_vcek_is_rejected() {
    let v0 = load(SNP[0]);
    let v2 = load(SNP[2]);
    let genoa = load(SNP[3]);
    for (v, other) in [(&v0, &v2), (&v2, &v0), (&genoa, &v0)] {
        let c = IsolationCollateral::Snp(SnpCollateral {
            vek_der: &other.vek,
            ask_der: &other.ask,
            crl_der: None,
        });
        let err = azure_cvm::verify(
            &v.evidence(),
            &c,
            &v.nonce,
            &roots(),
            &AzureGuestSettings::default(),
            at(),
        )
        .unwrap_err();
        assert_eq!(
            err.code(),
            "ReportSignatureInvalid",
            "{} with {}",
            v.dir,
            other.dir
        );
    }
}

#[test]
fn a_changed_or_missing_pcr_value_is_rejected() {
    for v in all() {
        for pcr in [0u32, 7, 23] {
            let mut ev = v.evidence();
            ev.pcrs
                .get_mut(&TPM_ALG_SHA256)
                .unwrap()
                .get_mut(&pcr)
                .unwrap()[5] ^= 1;
            assert_eq!(v.code_with(&ev), "PcrDigestMismatch", "{} PCR {pcr}", v.dir);
        }
        let mut ev = v.evidence();
        ev.pcrs.get_mut(&TPM_ALG_SHA256).unwrap().remove(&11);
        assert_eq!(v.code_with(&ev), "PcrValueMissing", "{}", v.dir);
    }
}

#[test]
fn a_changed_quote_or_signature_is_rejected() {
    for v in all() {
        for i in [0usize, 10, v.attest.len() - 1] {
            let mut attest = v.attest.clone();
            attest[i] ^= 0x01;
            let ev = AzureGuestEvidence {
                quote: &attest,
                ..v.evidence()
            };
            assert_eq!(
                v.code_with(&ev),
                "QuoteSignatureInvalid",
                "{} attest[{i}]",
                v.dir
            );
        }
        let mut sig = v.sig.clone();
        sig[100] ^= 0x01;
        let ev = AzureGuestEvidence {
            signature: &sig,
            ..v.evidence()
        };
        assert_eq!(v.code_with(&ev), "QuoteSignatureInvalid", "{}", v.dir);
    }
}

#[test]
fn a_tpmt_signature_is_accepted_as_well_as_a_bare_one() {
    for v in all() {
        let mut tpmt = vec![0x00, 0x14, 0x00, 0x0b];
        tpmt.extend_from_slice(&(v.sig.len() as u16).to_be_bytes());
        tpmt.extend_from_slice(&v.sig);
        let ev = AzureGuestEvidence {
            signature: &tpmt,
            ..v.evidence()
        };
        assert_eq!(v.code_with(&ev), "accepted", "{}", v.dir);
        // SHA-1 is refused even when the bytes are right.
        tpmt[3] = 0x04;
        let ev = AzureGuestEvidence {
            signature: &tpmt,
            ..v.evidence()
        };
        assert_eq!(v.code_with(&ev), "WeakSignatureHash", "{}", v.dir);
    }
}

#[test]
fn another_machines_event_log_does_not_replay() {
    let log = read("tpm/go-tpm-tools-eventlogs/cos-101-amd-sev.bin");
    for v in all() {
        let ev = AzureGuestEvidence {
            event_log: Some(&log),
            ..v.evidence()
        };
        assert_eq!(v.code_with(&ev), "EventLogMismatch", "{}", v.dir);
    }
}

#[test]
fn a_changed_snp_report_in_the_hcl_report_is_rejected() {
    let v = load(SNP[0]);
    // Measurement byte (signed) and report_data byte 40 (signed, beyond the hash).
    for off in [0x90usize, 0x50 + 40] {
        let mut hcl = v.hcl.clone();
        hcl[32 + off] ^= 1;
        let ev = AzureGuestEvidence {
            hcl_report: &hcl,
            ..v.evidence()
        };
        assert_eq!(
            v.code_with(&ev),
            "ReportSignatureInvalid",
            "offset {off:#x}"
        );
    }
}

#[test]
fn tdx_needs_the_td_quote_of_its_own_tdreport() {
    let v = load(TDX);
    // Another TD's quote (same FMSPC, same collateral): verifies on its own,
    // but is not this HCL report's.
    let foreign = read("tdx/automata-tdx-v4/quote.bin");
    let c = IsolationCollateral::Tdx {
        td_quote: &foreign,
        collateral: v.dcap.as_ref().unwrap(),
    };
    let err = azure_cvm::verify(
        &v.evidence(),
        &c,
        &v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap_err();
    assert_eq!(err, AzureGuestError::TdReportMismatch("report_data"));
    assert_eq!(err.code(), "TdReportQuoteMismatch");

    // A changed MRTD in the (unsigned) TDREPORT.
    let mut hcl = v.hcl.clone();
    hcl[32 + 528] ^= 1;
    let ev = AzureGuestEvidence {
        hcl_report: &hcl,
        ..v.evidence()
    };
    assert_eq!(
        v.verify_with(&ev, &v.nonce).unwrap_err(),
        AzureGuestError::TdReportMismatch("mrtd")
    );

    // A changed TD quote byte in its signed body.
    let mut q = v.td_quote.clone();
    q[48 + 136] ^= 1;
    let c = IsolationCollateral::Tdx {
        td_quote: &q,
        collateral: v.dcap.as_ref().unwrap(),
    };
    let err = azure_cvm::verify(
        &v.evidence(),
        &c,
        &v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "QuoteSignatureInvalid");
}

#[test]
fn collateral_of_the_other_tee_is_refused() {
    let snp_v = load(SNP[0]);
    let tdx_v = load(TDX);
    let err = azure_cvm::verify(
        &tdx_v.evidence(),
        &snp_v.collateral(),
        &tdx_v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AzureGuestError::CollateralMismatch {
            report: "TDX",
            collateral: "SNP"
        }
    );
    assert_eq!(err.code(), "HclCollateralMismatch");
    let err = azure_cvm::verify(
        &snp_v.evidence(),
        &tdx_v.collateral(),
        &snp_v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        AzureGuestError::CollateralMismatch {
            report: "SNP",
            collateral: "TDX"
        }
    );
    assert_eq!(err.code(), "HclCollateralMismatch");
}

/// TDX collateral verified earlier (a cache's copy) serves like the raw
/// collateral: the same verified result; its time is re-checked.
#[test]
fn tdx_collateral_verified_earlier_gives_the_same_result() {
    let v = load(TDX);
    let verify = |c: &IsolationCollateral<'_>, t: UnixTime| {
        azure_cvm::verify(
            &v.evidence(),
            c,
            &v.nonce,
            &roots(),
            &AzureGuestSettings::default(),
            t,
        )
    };
    let fresh = verify(&v.collateral(), at()).unwrap();
    let dcap = v.dcap.as_ref().unwrap();
    let checked =
        attesta_evidence::tdx::TdxVerifiedCollateral::verify(dcap, &roots(), at()).unwrap();
    let cached = IsolationCollateral::TdxVerified {
        td_quote: &v.td_quote,
        collateral: &checked,
    };
    assert_eq!(verify(&cached, at()).unwrap(), fresh);
    let (_, until) = checked.valid_window();
    let err = verify(&cached, UnixTime(until as u64 + 1)).unwrap_err();
    assert!(matches!(err, AzureGuestError::Tdx(_)), "{err:?}");
}

#[test]
fn time_and_roots_are_inputs() {
    let v = load(SNP[3]);
    // After the VCEK's notAfter (2032-01-24).
    let err = azure_cvm::verify(
        &v.evidence(),
        &v.collateral(),
        &v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        time("2033-01-01T00:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "VcekExpired");
    // Without AMD's roots.
    let err = azure_cvm::verify(
        &v.evidence(),
        &v.collateral(),
        &v.nonce,
        &TrustRoots::empty(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "UntrustedArk");
    // A PCR mask the quote does not cover.
    let err = azure_cvm::verify(
        &v.evidence(),
        &v.collateral(),
        &v.nonce,
        &roots(),
        &AzureGuestSettings {
            required_pcr_mask: 1 << 30,
        },
        at(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "PcrSelectionInsufficient");
}

#[test]
fn a_verified_chain_can_be_reused() {
    let v = load(SNP[1]);
    let chain = snp::VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &v.vek,
            ask_der: &v.ask,
            crl_der: None,
        },
        &roots(),
        at(),
    )
    .unwrap();
    let out = azure_cvm::verify(
        &v.evidence(),
        &IsolationCollateral::SnpChain(&chain),
        &v.nonce,
        &roots(),
        &AzureGuestSettings::default(),
        at(),
    )
    .unwrap();
    assert_eq!(
        out.claims(),
        v.verify_with(&v.evidence(), &v.nonce).unwrap().claims()
    );
}

#[test]
fn the_parts_a_maa_request_carries_verify_like_the_hcl_report() {
    use attesta_evidence::azure_cvm::{GuestReport, ReportDataHashType, VtpmQuote};
    for v in all() {
        let is_tdx = v.dir == TDX;
        // MAA's IsolationInfo: the SNP report (or, for TDX, only the TD
        // quote, no TDREPORT) and the variable data as RunTimeData.
        let snp_report = if is_tdx {
            Vec::new()
        } else {
            read(&format!("{}/snp_report.bin", v.dir))
        };
        let var = read(&format!("{}/hcl_var_data.json", v.dir));
        let parts = GuestReport {
            report_type: if is_tdx {
                HclReportType::Tdx
            } else {
                HclReportType::Snp
            },
            hash_type: ReportDataHashType::Sha256,
            hw_report: (!is_tdx).then_some(&snp_report[..]),
            var_data: &var,
        };
        let vtpm = VtpmQuote {
            quote: &v.attest,
            signature: &v.sig,
            pcrs: v.pcrs.clone(),
            event_log: None,
        };
        let got = azure_cvm::verify_guest(
            &parts,
            &vtpm,
            &v.collateral(),
            &v.nonce,
            &roots(),
            &AzureGuestSettings::default(),
            at(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.dir));
        let want = v.verify_with(&v.evidence(), &v.nonce).unwrap();
        assert_eq!(got.claims(), want.claims(), "{}", v.dir);
        if !is_tdx {
            let err = azure_cvm::verify_guest(
                &GuestReport {
                    hw_report: None,
                    ..parts
                },
                &vtpm,
                &v.collateral(),
                &v.nonce,
                &roots(),
                &AzureGuestSettings::default(),
                at(),
            )
            .unwrap_err();
            assert_eq!(err.code(), "HclReportMalformed");
        }
    }
}
