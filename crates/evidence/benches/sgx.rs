//! Criterion benchmarks of SGX verification on the real dcap-qvl vector:
//! the warm path (`verify_quote` with `VerifiedCollateral` pre-built, what a
//! service pays per request) and the cold path (`VerifiedCollateral::verify`,
//! paid once per collateral set).

use std::path::PathBuf;

use attesta_evidence::UnixTime;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx::{self, VerifiedCollateral, parse_quote, verify_quote};
use criterion::{Criterion, criterion_group, criterion_main};

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/sgx/dcap-qvl-sgx-v3")
}

fn bench(c: &mut Criterion) {
    let dir = vector_dir();
    let quote = std::fs::read(dir.join("quote.bin")).expect("vector quote");
    let collateral = attesta_testkit::read_bundle(&dir).expect("vector collateral");
    // The vector's pinned time (expected.json): last second of its window.
    let at = UnixTime(sgx::tcb::parse_time("2025-07-19T10:01:17Z").unwrap() as u64);
    let roots = sgx::intel_trust_roots(TrustRoots::empty());
    let vc = VerifiedCollateral::verify(&collateral, &roots, at).expect("collateral verifies");

    c.bench_function("sgx verify_quote (warm, real v3 quote)", |b| {
        b.iter(|| {
            let q = parse_quote(std::hint::black_box(&quote)).unwrap();
            let v = verify_quote(&q, &vc, &roots, at).unwrap();
            std::hint::black_box(v.claims());
        })
    });
    c.bench_function("sgx VerifiedCollateral::verify (cold)", |b| {
        b.iter(|| {
            VerifiedCollateral::verify(std::hint::black_box(&collateral), &roots, at).unwrap()
        })
    });
    // Baseline: one P-256 verification (the quote signature), the unit the
    // warm path is made of (two per quote once the PCK leaf is known).
    let q = parse_quote(&quote).unwrap();
    let mut ak = vec![4u8];
    ak.extend_from_slice(&q.attestation_key);
    c.bench_function("baseline one P-256 verify", |b| {
        b.iter(|| {
            attesta_evidence::crypto::verify(
                attesta_evidence::crypto::Scheme::EcdsaP256Sha256Fixed,
                &ak,
                std::hint::black_box(q.signed_bytes),
                &q.signature,
            )
            .unwrap()
        })
    });
    c.bench_function("sgx pck chain PEM decode", |b| {
        b.iter(|| sgx::pki::pem_certificates(std::hint::black_box(q.pck_chain_pem)).unwrap())
    });
    let v = verify_quote(&q, &vc, &roots, at).unwrap();
    c.bench_function("sgx claims", |b| {
        b.iter(|| std::hint::black_box(&v).claims())
    });
    c.bench_function("sgx parse_quote", |b| {
        b.iter(|| parse_quote(std::hint::black_box(&quote)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
