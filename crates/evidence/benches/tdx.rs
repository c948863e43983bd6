//! Criterion benchmarks of TDX verification on the real dcap-qvl TDX v4
//! vector: the warm path (`verify_td_quote` with `TdxVerifiedCollateral`
//! pre-built, what a service pays per request, claims included) and the cold
//! path (`TdxVerifiedCollateral::verify`, paid once per collateral set).

use std::path::PathBuf;

use attesta_evidence::UnixTime;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::sgx;
use attesta_evidence::tdx::{TdxVerifiedCollateral, parse_td_quote, verify_td_quote};
use criterion::{Criterion, criterion_group, criterion_main};

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tdx/dcap-qvl-tdx-v4")
}

fn bench(c: &mut Criterion) {
    let dir = vector_dir();
    let quote = std::fs::read(dir.join("quote.bin")).expect("vector quote");
    let collateral = attesta_testkit::read_bundle(&dir).expect("vector collateral");
    // The vector's pinned time (expected.json): last second of its window.
    let at = UnixTime(sgx::tcb::parse_time("2025-07-19T10:00:34Z").unwrap() as u64);
    let roots = sgx::intel_trust_roots(TrustRoots::empty());
    let vc = TdxVerifiedCollateral::verify(&collateral, &roots, at).expect("collateral verifies");

    c.bench_function("tdx verify_td_quote (warm, real v4 quote)", |b| {
        b.iter(|| {
            let q = parse_td_quote(std::hint::black_box(&quote)).unwrap();
            let v = verify_td_quote(&q, &vc, &roots, at).unwrap();
            std::hint::black_box(v.claims());
        })
    });
    c.bench_function("tdx TdxVerifiedCollateral::verify (cold)", |b| {
        b.iter(|| {
            TdxVerifiedCollateral::verify(std::hint::black_box(&collateral), &roots, at).unwrap()
        })
    });
    c.bench_function("tdx parse_td_quote", |b| {
        b.iter(|| parse_td_quote(std::hint::black_box(&quote)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
