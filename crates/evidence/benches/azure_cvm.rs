//! Criterion benchmark of one warm Azure guest (SEV-SNP) verification on the
//! real Milan v0 capture: the VCEK chain verified once (as a service caches
//! it), then per request the HCL report parse, the SNP report's ECDSA P-384
//! signature, the variable-data hash, the HCLAkPub JWK decode, the vTPM
//! quote's RSA-2048 signature, nonce and PCR digest, and the claims.

use std::collections::BTreeMap;
use std::path::PathBuf;

use attesta_evidence::UnixTime;
use attesta_evidence::azure_cvm::{
    self, AzureGuestEvidence, AzureGuestSettings, IsolationCollateral,
};
use attesta_evidence::sgx::pki;
use attesta_evidence::snp::{self, SnpCollateral, VerifiedChain};
use attesta_evidence::tpm::Pcrs;
use attesta_evidence::tpm::structures::TPM_ALG_SHA256;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/azure-cvm/trustee-az-snp-vtpm-v0");
    let read = |f: &str| std::fs::read(dir.join(f)).expect("vector file");
    let hcl = read("hcl_report.bin");
    let attest = read("tpm_quote_attest.bin");
    let sig = read("tpm_quote_sig.bin");
    let vek = pki::pem_certificates(&read("vcek.pem")).unwrap()[0].clone();
    let ask = pki::pem_certificates(&read("ask_ark.pem")).unwrap()[0].clone();
    let pcr_json: serde_json::Value =
        serde_json::from_slice(&read("tpm_pcrs_sha256.json")).unwrap();
    let bank: BTreeMap<u32, Vec<u8>> = pcr_json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.parse().unwrap(),
                hex::decode(v.as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let pcrs: Pcrs = BTreeMap::from([(TPM_ALG_SHA256, bank)]);
    let roots = snp::amd_trust_roots();
    // 2025-06-05: inside the VCEK's 2025-01-28..2032-01-28 validity.
    let at = UnixTime(1_749_095_100);
    let chain = VerifiedChain::verify(
        &SnpCollateral {
            vek_der: &vek,
            ask_der: &ask,
            crl_der: None,
        },
        &roots,
        at,
    )
    .expect("chain verifies");
    let collateral = IsolationCollateral::SnpChain(&chain);
    let settings = AzureGuestSettings::default();

    c.bench_function(
        "azure guest verify (warm SNP, cached VCEK chain, real Milan capture)",
        |b| {
            b.iter(|| {
                let ev = AzureGuestEvidence {
                    hcl_report: std::hint::black_box(&hcl),
                    quote: &attest,
                    signature: &sig,
                    pcrs: pcrs.clone(),
                    event_log: None,
                };
                let v = azure_cvm::verify(&ev, &collateral, b"challenge", &roots, &settings, at)
                    .unwrap();
                std::hint::black_box(v.claims());
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
