//! Costs on the attestation path: a warm `CollateralService::get` (what
//! every DCAP verification pays once collateral is cached), the version
//! digest, the cache encoding (paid on refresh and restart only), and a
//! warm `SnpEndorsementService::vcek` + `cert_chain` (every SEV-SNP
//! verification).

use std::sync::Arc;

use attesta_collateral::{
    CollateralOptions, CollateralService, DcapTee, MemoryCache, OfflineSource, PckCa,
    SnpEndorsementService, SnpKeyKind, SnpOptions, SnpProduct, SnpTcb, deserialize, import_dir,
    import_snp_dir, next_update_of, serialize, version_of,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn bench(c: &mut Criterion) {
    let dir = vectors().join("sgx/dcap-qvl-sgx-v3");
    let bundle = import_dir(&dir).unwrap();
    // Inside the bundle's validity window.
    let now = 1_751_328_000; // 2025-07-01T00:00:00Z

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let svc = CollateralService::new(
        Box::new(OfflineSource::new(&dir)),
        Arc::new(MemoryCache::new()),
        CollateralOptions::default(),
    );
    rt.block_on(svc.get(DcapTee::Sgx, "00A067110000", PckCa::Processor, now))
        .unwrap();
    c.bench_function("service_get_warm", |b| {
        b.iter(|| {
            rt.block_on(svc.get(DcapTee::Sgx, "00A067110000", PckCa::Processor, now))
                .unwrap()
        })
    });
    c.bench_function("version_of", |b| b.iter(|| version_of(&bundle)));
    c.bench_function("next_update_of", |b| {
        b.iter(|| next_update_of(&bundle).unwrap())
    });
    let bytes = serialize(&bundle);
    c.bench_function("serialize", |b| b.iter(|| serialize(&bundle)));
    c.bench_function("deserialize", |b| b.iter(|| deserialize(&bytes).unwrap()));

    // SEV-SNP: VCEK and chain imported into the shared cache, then served
    // from memory.
    let cache = Arc::new(MemoryCache::new());
    rt.block_on(import_snp_dir(
        cache.as_ref(),
        &vectors().join("snp/virtee-sev-milan"),
        now,
    ))
    .unwrap();
    let snp = SnpEndorsementService::new(None, cache, SnpOptions::default());
    let report = std::fs::read(vectors().join("snp/virtee-sev-milan/report.bin")).unwrap();
    let chip: [u8; 64] = report[0x1A0..0x1E0].try_into().unwrap();
    let tcb =
        SnpTcb::from_tcb_version(SnpProduct::Milan, &report[0x180..0x188].try_into().unwrap());
    c.bench_function("snp_vcek_and_chain_warm", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v = snp.vcek(SnpProduct::Milan, &chip, tcb, now).await.unwrap();
                let ch = snp
                    .cert_chain(SnpProduct::Milan, SnpKeyKind::Vcek, now)
                    .await
                    .unwrap();
                (v, ch)
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
