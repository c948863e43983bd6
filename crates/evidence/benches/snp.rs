//! Criterion benchmarks of SEV-SNP verification on the real virtee Milan
//! vector: the warm path (`verify_report` with a cached `VerifiedChain`,
//! claims included — what a service pays per request) and the cold path
//! (`VerifiedChain::verify`: ARK self-signature, ASK and VCEK RSA-PSS
//! checks and extension decoding, paid once per VCEK).

use std::path::PathBuf;

use attesta_evidence::UnixTime;
use attesta_evidence::sgx::pki;
use attesta_evidence::snp::{self, SnpCollateral, VerifiedChain, parse_report, verify_report};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/snp/virtee-sev-milan");
    let report = std::fs::read(dir.join("report.bin")).expect("vector report");
    let vek = std::fs::read(dir.join("vcek.der")).expect("vector VCEK");
    let ask = pki::pem_certificates(&std::fs::read(dir.join("ask_ark_milan.pem")).unwrap())
        .unwrap()[0]
        .clone();
    let col = SnpCollateral {
        vek_der: &vek,
        ask_der: &ask,
        crl_der: None,
    };
    let roots = snp::amd_trust_roots();
    // 2025-06-01: inside the VCEK's 2023-04-03..2030-04-03 validity.
    let at = UnixTime(1_748_736_000);
    let chain = VerifiedChain::verify(&col, &roots, at).expect("chain verifies");

    c.bench_function(
        "snp verify_report (warm, cached VCEK chain, real Milan report)",
        |b| {
            b.iter(|| {
                let v = verify_report(std::hint::black_box(&report), &chain, at).unwrap();
                std::hint::black_box(v.claims());
            })
        },
    );
    c.bench_function("snp VerifiedChain::verify (cold, ARK->ASK->VCEK)", |b| {
        b.iter(|| VerifiedChain::verify(std::hint::black_box(&col), &roots, at).unwrap())
    });
    c.bench_function("snp parse_report", |b| {
        b.iter(|| parse_report(std::hint::black_box(&report)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
