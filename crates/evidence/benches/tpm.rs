//! TPM verification cost: one GCE vTPM quote (SHA-256 bank, RSA-2048 AK,
//! AK certificate to the GCE CA) with its 24 KiB event log replayed; one
//! testkit quote (RSA-2048 AK under a test intermediate, SHA-1 + SHA-256
//! banks, PCRs 0–23) with a 40 KiB log, with the AK chain verified afresh
//! and with a remembered chain (what the server does for a warm request);
//! and the parse + replay of the largest shared log (≈ 49 KiB, three banks'
//! worth of events) on its own.

use std::path::Path;

use attesta_evidence::UnixTime;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::tpm::structures::TPM_ALG_SHA256;
use attesta_evidence::tpm::{
    AkPublic, EventLog, Pcrs, QuoteParts, TpmEvidence, TpmSettings, verify, verify_with_chain,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn bench(c: &mut Criterion) {
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tpm");
    let g = v.join("go-tpm-tools-gce-cos85-nonce9009");
    let attest = read(&g.join("quote_sha256_attest.bin"));
    let sig = read(&g.join("quote_sha256_sig.tpmt_signature.bin"));
    let ak = read(&g.join("ak_pub.tpmt_public.bin"));
    let cert = read(&g.join("ak_cert.der"));
    let log = read(&g.join("event_log.bin"));
    let pcrs_json: serde_json::Value =
        serde_json::from_slice(&read(&g.join("quote_sha256_pcrs.json"))).unwrap();
    let mut pcrs: Pcrs = Default::default();
    for (i, h) in pcrs_json.as_object().unwrap() {
        pcrs.entry(TPM_ALG_SHA256).or_default().insert(
            i.parse().unwrap(),
            hex::decode(h.as_str().unwrap()).unwrap(),
        );
    }
    let roots =
        TrustRoots::empty().with_embedded(RootKind::Tpm, read(&g.join("gce_ek_root_1.der")));
    let ev = TpmEvidence {
        quotes: vec![QuoteParts {
            attest: &attest,
            signature: &sig,
        }],
        ak_public: AkPublic::Tpmt(&ak),
        ak_cert: Some(&cert),
        intermediates: vec![read(&g.join("gce_ek_intermediate_2.der"))],
        pcrs,
        event_log: Some(&log),
    };
    let at = UnixTime(1_790_000_000);
    let s = TpmSettings::default();
    verify(&ev, &[0x90, 0x09], &roots, &s, at).expect("the vector verifies");
    c.bench_function(
        "tpm verify (GCE quote, AK chain, 24 KiB log replay, claims)",
        |b| b.iter(|| verify(&ev, &[0x90, 0x09], &roots, &s, at).unwrap().claims()),
    );
    let sample = attesta_testkit::TpmSample::builder()
        .log_size_at_least(40 * 1024)
        .build();
    let (ev40, roots40, at40) = (sample.evidence(), sample.roots(), sample.verify_at());
    let first = verify(&ev40, &sample.nonce, &roots40, &s, at40).expect("the sample verifies");
    let chain = first.ak_chain.clone();
    c.bench_function(
        "tpm verify (testkit quote, 40 KiB log, AK chain verified, claims)",
        |b| {
            b.iter(|| {
                verify(&ev40, &sample.nonce, &roots40, &s, at40)
                    .unwrap()
                    .claims()
            })
        },
    );
    c.bench_function(
        "tpm verify (testkit quote, 40 KiB log, remembered AK chain, claims)",
        |b| {
            b.iter(|| {
                verify_with_chain(&ev40, &sample.nonce, &roots40, &s, at40, |_| chain.clone())
                    .unwrap()
                    .claims()
            })
        },
    );
    c.bench_function(
        "tpm verify (testkit quote, 40 KiB log, remembered AK chain, claims without events)",
        |b| {
            b.iter(|| {
                verify_with_chain(&ev40, &sample.nonce, &roots40, &s, at40, |_| chain.clone())
                    .unwrap()
                    .claims_where(|name| name != "events")
            })
        },
    );
    c.bench_function(
        "tpm verify (testkit quote, 40 KiB log, remembered AK chain, no claims)",
        |b| {
            b.iter(|| {
                verify_with_chain(&ev40, &sample.nonce, &roots40, &s, at40, |_| chain.clone())
                    .unwrap()
            })
        },
    );
    let big = read(&v.join("go-tpm-tools-eventlogs/gdc-host.bin"));
    c.bench_function("tpm event log parse + replay (49 KiB)", |b| {
        b.iter(|| EventLog::parse(&big).unwrap().replay())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
