//! Differential test of the SEV-SNP report parser against the `sev` crate
//! (virtee, parsing only — its crypto features are never enabled): every
//! real report and a testkit corpus over Milan, Genoa and Turin, versions
//! 2, 3 and 5, decode to the same field values in both.

use attesta_evidence::snp::{Generation, SigningKey, SnpReport, TcbVersion, parse_report};
use attesta_testkit::snp::SnpSample;
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;

fn read(path: &str) -> Vec<u8> {
    let base = format!("{}/../../../shared/vectors", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(format!("{base}/{path}")).unwrap()
}

fn same_tcb(ours: TcbVersion, theirs: &sev::firmware::host::TcbVersion, what: &str) {
    assert_eq!(
        (
            ours.bootloader,
            ours.tee,
            ours.snp,
            ours.microcode,
            ours.fmc
        ),
        (
            theirs.bootloader,
            theirs.tee,
            theirs.snp,
            theirs.microcode,
            theirs.fmc
        ),
        "{what}"
    );
}

fn compare(bytes: &[u8], generation: Generation, what: &str) {
    let ours: SnpReport = parse_report(bytes).unwrap();
    let theirs = AttestationReport::from_bytes(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(ours.version, theirs.version, "{what}");
    assert_eq!(ours.guest_svn, theirs.guest_svn, "{what}");
    assert_eq!(ours.policy.0, u64::from(theirs.policy), "{what}");
    assert_eq!(ours.family_id, theirs.family_id, "{what}");
    assert_eq!(ours.image_id, theirs.image_id, "{what}");
    assert_eq!(ours.vmpl, theirs.vmpl, "{what}");
    assert_eq!(ours.signature_algo, theirs.sig_algo, "{what}");
    assert_eq!(ours.platform_info, u64::from(theirs.plat_info), "{what}");
    let key_info = u32::from(theirs.key_info);
    assert_eq!(ours.author_key_en, key_info & 1 != 0, "{what}");
    assert_eq!(ours.mask_chip_key, key_info & 2 != 0, "{what}");
    let kind = match (key_info >> 2) & 7 {
        0 => SigningKey::Vcek,
        1 => SigningKey::Vlek,
        _ => SigningKey::None,
    };
    assert_eq!(ours.signing_key, kind, "{what}");
    assert_eq!(ours.report_data, theirs.report_data, "{what}");
    assert_eq!(ours.measurement, theirs.measurement, "{what}");
    assert_eq!(ours.host_data, theirs.host_data, "{what}");
    assert_eq!(ours.id_key_digest, theirs.id_key_digest, "{what}");
    assert_eq!(ours.author_key_digest, theirs.author_key_digest, "{what}");
    assert_eq!(ours.report_id, theirs.report_id, "{what}");
    assert_eq!(ours.report_id_ma, theirs.report_id_ma, "{what}");
    assert_eq!(ours.chip_id, theirs.chip_id, "{what}");
    let g = generation;
    same_tcb(
        TcbVersion::decode(ours.current_tcb, g),
        &theirs.current_tcb,
        what,
    );
    same_tcb(
        TcbVersion::decode(ours.reported_tcb, g),
        &theirs.reported_tcb,
        what,
    );
    same_tcb(
        TcbVersion::decode(ours.committed_tcb, g),
        &theirs.committed_tcb,
        what,
    );
    same_tcb(
        TcbVersion::decode(ours.launch_tcb, g),
        &theirs.launch_tcb,
        what,
    );
    if ours.version >= 3 {
        assert_eq!(Some(ours.cpuid_fam_id), theirs.cpuid_fam_id, "{what}");
        assert_eq!(Some(ours.cpuid_mod_id), theirs.cpuid_mod_id, "{what}");
        assert_eq!(Some(ours.cpuid_step), theirs.cpuid_step, "{what}");
        assert_eq!(ours.cpuid_generation(), Some(g), "{what}");
    } else {
        assert_eq!(theirs.cpuid_fam_id, None, "{what}");
    }
    assert_eq!(
        ours.current_version,
        (
            theirs.current.build,
            theirs.current.minor,
            theirs.current.major
        ),
        "{what}"
    );
    assert_eq!(
        ours.committed_version,
        (
            theirs.committed.build,
            theirs.committed.minor,
            theirs.committed.major
        ),
        "{what}"
    );
    assert_eq!(
        ours.launch_mitigation_vector, theirs.launch_mit_vector,
        "{what}"
    );
    assert_eq!(
        ours.current_mitigation_vector, theirs.current_mit_vector,
        "{what}"
    );
    assert_eq!(&ours.signature_r, theirs.signature.r(), "{what}");
    assert_eq!(&ours.signature_s, theirs.signature.s(), "{what}");
}

#[test]
fn real_reports_decode_alike() {
    for (path, g) in [
        ("snp/virtee-sev-milan/report.bin", Generation::Milan),
        ("snp/trustee-milan-vcek/report.bin", Generation::Milan),
        ("snp/trustee-milan-vlek/report.bin", Generation::Milan),
        (
            "azure-cvm/trustee-az-snp-vtpm-v0/snp_report.bin",
            Generation::Milan,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v1/snp_report.bin",
            Generation::Milan,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-v2/snp_report.bin",
            Generation::Milan,
        ),
        (
            "azure-cvm/trustee-az-snp-vtpm-genoa/snp_report.bin",
            Generation::Genoa,
        ),
    ] {
        compare(&read(path), g, path);
    }
}

#[test]
fn testkit_corpus_decodes_alike() {
    for g in [Generation::Milan, Generation::Genoa, Generation::Turin] {
        for version in [2u32, 3, 5] {
            if g == Generation::Turin && version == 2 {
                continue; // Turin firmware produces v3+ only.
            }
            for debug in [false, true] {
                let s = SnpSample::builder()
                    .generation(g)
                    .version(version)
                    .debug(debug)
                    .runtime_data(b"differential")
                    .init_time_data(b"host")
                    .vmpl(2)
                    .build();
                compare(&s.report, g, &format!("{g:?} v{version} debug={debug}"));
            }
        }
    }
}
