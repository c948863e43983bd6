//! The node's own TEE evidence: where it comes from, and how it gets into
//! every token-signing certificate the node makes.
//!
//! A node that runs in a TEE proves it to relying parties as MAA does: when
//! it creates a signing key (at first start, for a new provider, at every
//! rotation) it asks its [`EvidenceSource`] for evidence whose report data
//! is `SHA-256(SPKI PEM ‖ 0x00) ‖ 0³²` of the new key, and writes it into
//! the key's certificate under Attesta's OID
//! ([`attesta_evidence::signing_cert::OID_ATTESTA_EVIDENCE`]), plus MAA's
//! `1.2.840.113556.10.1.1` when the evidence is an SGX quote, and MAA's
//! `1.3.6.1.4.1.311.105.1000.1` (report and VCEK chain, no UVM endorsement)
//! for an SEV-SNP report with its chain. Attesta's extension (version 2)
//! also says where the evidence's collateral is (FMSPC and PCK CA, or SNP
//! product and signing key, with Intel's PCS and AMD's KDS URLs for them;
//! `attesta_collateral::collateral_refs`). No evidence,
//! no key: a source that fails stops the key's creation, so a node
//! configured for evidence never publishes an unproven key.
//!
//! ## Selection (`tee_evidence`, env `ATTESTA_TEE_EVIDENCE`)
//!
//! | value | meaning |
//! |---|---|
//! | `auto` (default) | configfs-tsm when `tee_tsm_path` exists and gives a report (probed at start), else none (with a warning when present but failing) |
//! | `none` | no evidence (certificates as before) |
//! | `required` | as `auto`, but a node without a TEE refuses to start |
//! | `configfs-tsm` | configfs-tsm, and refuse to start without it (or when its probe fails) |
//! | `test` | testkit SGX evidence under a test root made at start (tests, CI) |
//! | `test-snp` | testkit SEV-SNP evidence (with its VCEK chain) under a test ARK made at start (tests, CI) |
//!
//! ## Sources
//!
//! * [`ConfigfsTsm`] — Linux's configfs-tsm report interface
//!   (`/sys/kernel/config/tsm/report`, kernel 6.7+, `tee_tsm_path`): a TDX
//!   TD quote (`provider` = `tdx_guest`) or an SEV-SNP report (`sev_guest`,
//!   with the GHCB certificate table from `auxblob`). Per the kernel ABI:
//!   make a report directory, write `inblob` (64 bytes), read `generation`,
//!   `outblob`, `generation` again (a change means another writer raced
//!   this one: retried once), `provider` and `auxblob`, remove the
//!   directory. The report data in the returned report must equal what was
//!   written.
//! * [`TestSource`] — an SGX quote from the testkit re-signed for each key,
//!   chaining to a test root made at start. Its root (`root.pem`) and DCAP
//!   collateral (bundle layout) are written to `<data_dir>/tee-test/` for
//!   relying parties in tests. Never trusted unless a relying party passes
//!   that root explicitly.
//! * [`TestSnpSource`] — an SEV-SNP report from the testkit, one platform
//!   (one VCEK) whose report is re-signed for each key, with the VCEK and
//!   ASK as PEM in `certs` (as configfs-tsm gives them from the host's
//!   certificate table). Its ARK (`root.pem`), AMD files (`collateral/`:
//!   `vcek.der`, `ask_ark.pem` and the ARK-signed `crl.der`, current for 30
//!   days) and a CRL that revokes its VCEK (`revoked/crl.der`, for tests
//!   of revocation) are written to `<data_dir>/tee-test/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use attesta_evidence::signing_cert::{
    ATTESTA_OID_PLACEHOLDER_ARCS, AttestaEvidence, EvidenceKind, key_binding_report_data,
    maa_sgx_extension_value, maa_snp_extension_value,
};
use attesta_token::keys::{CertExtensions, Extension};

/// The MAA SGX evidence OID `1.2.840.113556.10.1.1` as arcs.
const MAA_SGX_QUOTE_ARCS: [u64; 7] = [1, 2, 840, 113_556, 10, 1, 1];
/// The MAA SEV-SNP evidence OID `1.3.6.1.4.1.311.105.1000.1` as arcs.
const MAA_SNP_EVIDENCE_ARCS: [u64; 10] = [1, 3, 6, 1, 4, 1, 311, 105, 1000, 1];

/// Default configfs-tsm report directory.
pub const DEFAULT_TSM_PATH: &str = "/sys/kernel/config/tsm/report";

/// MRENCLAVE of the test source's quotes: SHA-256("attesta test TEE").
pub fn test_mrenclave() -> [u8; 32] {
    attesta_evidence::crypto::sha256(b"attesta test TEE")
}

/// MEASUREMENT of the SEV-SNP test source's reports: SHA-384("attesta test TEE").
pub fn test_snp_measurement() -> [u8; 48] {
    attesta_evidence::crypto::sha384(b"attesta test TEE")
}

/// The `tee_evidence` values.
const MODES: &str = "auto, none, required, configfs-tsm, test, test-snp";

/// Evidence from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub bytes: Vec<u8>,
    /// Supporting certificates (SNP: the GHCB certificate table), if any.
    pub certs: Option<Vec<u8>>,
}

/// Where a node's TEE evidence comes from.
pub trait EvidenceSource: Send + Sync + std::fmt::Debug {
    /// The source's name as configured (`configfs-tsm`, `test`).
    fn name(&self) -> &'static str;
    /// Evidence whose report data is exactly `report_data`. Blocking.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, String>;
}

/// Pick the source `mode` names (see the module doc). `Ok(None)`: no evidence.
pub fn select(
    mode: &str,
    tsm_path: &Path,
    data_dir: &Path,
) -> Result<Option<Arc<dyn EvidenceSource>>, String> {
    let tsm = || ConfigfsTsm::detect(tsm_path);
    match mode {
        "none" => Ok(None),
        // Present but unusable (no permission, no provider): without a
        // requirement the node runs without evidence, and says so.
        "auto" => Ok(tsm().and_then(|s| match s.evidence(&[0; 64]) {
            Ok(_) => Some(Arc::new(s) as Arc<dyn EvidenceSource>),
            Err(e) => {
                tracing::warn!(path = %tsm_path.display(), error = %e, "configfs-tsm is present but gives no report; signing certificates carry no TEE evidence (tee_evidence = \"required\" makes this an error)");
                None
            }
        })),
        "required" | "configfs-tsm" => match tsm() {
            Some(s) => {
                s.evidence(&[0; 64]).map_err(|e| {
                    format!("tee_evidence = \"{mode}\": configfs-tsm at {} gives no report: {e}", tsm_path.display())
                })?;
                Ok(Some(Arc::new(s)))
            }
            None => Err(format!(
                "tee_evidence = \"{mode}\" but this node has no TEE evidence source: {} does not exist \
                 (configfs-tsm appears inside a TDX or SEV-SNP guest with Linux 6.7+). Run the node in a \
                 confidential VM, point tee_tsm_path at the report directory, or set tee_evidence = \"auto\" or \"none\"",
                tsm_path.display()
            )),
        },
        "test" => {
            let s = TestSource::new(attesta_evidence::UnixTime::now().0);
            s.write_trust_material(&data_dir.join("tee-test"))?;
            Ok(Some(Arc::new(s)))
        }
        "test-snp" => {
            let s = TestSnpSource::new(attesta_evidence::UnixTime::now().0);
            s.write_trust_material(&data_dir.join("tee-test"))?;
            Ok(Some(Arc::new(s)))
        }
        other => Err(format!(
            "tee_evidence = \"{other}\" is not one of {MODES}"
        )),
    }
}

/// Check a `tee_evidence` value (configuration validation).
pub fn validate_mode(mode: &str) -> Result<(), String> {
    match mode {
        "auto" | "none" | "required" | "configfs-tsm" | "test" | "test-snp" => Ok(()),
        other => Err(format!("tee_evidence = \"{other}\" is not one of {MODES}")),
    }
}

/// [`CertExtensions`] for a key ring: the source's evidence for each new key.
#[derive(Debug)]
pub struct TeeExtensions(pub Arc<dyn EvidenceSource>);

impl CertExtensions for TeeExtensions {
    fn extensions(&self, spki_der: &[u8]) -> Result<Vec<Extension>, String> {
        let rd = key_binding_report_data(spki_der);
        let ev = self.0.evidence(&rd)?;
        let mut a = AttestaEvidence::new(ev.kind, &ev.bytes, Some(self.0.name()));
        a.certs = ev.certs.as_deref().map(attesta_token::encoding::b64url);
        // Where relying parties find the collateral: the vendors' public
        // services (this node's own collateral URLs may be internal).
        let refs = attesta_collateral::collateral_refs(
            ev.kind,
            &ev.bytes,
            ev.certs.as_deref(),
            attesta_collateral::INTEL_PCS_BASE_URL,
            attesta_collateral::AMD_KDS_BASE_URL,
        );
        a.collateral = (refs != Default::default()).then_some(refs);
        let mut out = vec![(
            ATTESTA_OID_PLACEHOLDER_ARCS.to_vec(),
            a.to_extension_value(),
        )];
        match (ev.kind, &ev.certs) {
            (EvidenceKind::SgxQuote, _) => out.push((
                MAA_SGX_QUOTE_ARCS.to_vec(),
                maa_sgx_extension_value(&ev.bytes),
            )),
            // MAA's SEV-SNP layout, without its UVM endorsement (Attesta
            // nodes are not Confidential ACI containers).
            (EvidenceKind::SnpReport, Some(chain)) => out.push((
                MAA_SNP_EVIDENCE_ARCS.to_vec(),
                maa_snp_extension_value(&ev.bytes, chain),
            )),
            _ => {}
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- configfs-tsm

/// Linux configfs-tsm (see the module doc).
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    dir: PathBuf,
}

/// Largest outblob / auxblob read (TD quotes are ~5 KiB, SNP cert tables ~10 KiB).
const MAX_TSM_BLOB: u64 = 1 << 20;

impl ConfigfsTsm {
    /// The source when `dir` exists and is a directory.
    pub fn detect(dir: &Path) -> Option<Self> {
        dir.is_dir().then(|| Self {
            dir: dir.to_path_buf(),
        })
    }

    fn once(&self, report_data: &[u8; 64]) -> Result<Result<Evidence, String>, String> {
        let mut name = [0u8; 8];
        aws_lc_rs::rand::fill(&mut name).map_err(|_| "no system randomness".to_string())?;
        let entry = self.dir.join(format!("attesta-{}", hex::encode(name)));
        std::fs::create_dir(&entry)
            .map_err(|e| format!("cannot create {}: {e}", entry.display()))?;
        let result = read_report(&entry, report_data);
        // configfs removes the attributes with the directory.
        let _ = std::fs::remove_dir(&entry);
        result
    }
}

fn read_attr(entry: &Path, name: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let p = entry.join(name);
    let f = std::fs::File::open(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let mut out = Vec::new();
    f.take(MAX_TSM_BLOB + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if out.len() as u64 > MAX_TSM_BLOB {
        return Err(format!(
            "{} is larger than {MAX_TSM_BLOB} bytes",
            p.display()
        ));
    }
    Ok(out)
}

fn text_attr(entry: &Path, name: &str) -> Result<String, String> {
    Ok(String::from_utf8_lossy(&read_attr(entry, name)?)
        .trim()
        .to_string())
}

/// One report from a fresh entry: `Ok(Err(_))` when a concurrent writer
/// raced this one (retry), `Err(_)` otherwise.
fn read_report(entry: &Path, report_data: &[u8; 64]) -> Result<Result<Evidence, String>, String> {
    let inblob = entry.join("inblob");
    std::fs::write(&inblob, report_data)
        .map_err(|e| format!("cannot write {}: {e}", inblob.display()))?;
    let before = text_attr(entry, "generation")?;
    let outblob = read_attr(entry, "outblob")?;
    let after = text_attr(entry, "generation")?;
    if before != after {
        return Ok(Err(format!(
            "{} changed while the report was read (generation {before} → {after})",
            entry.display()
        )));
    }
    let provider = text_attr(entry, "provider")?;
    let (kind, reported) = match provider.as_str() {
        "tdx_guest" => (
            EvidenceKind::TdxQuote,
            attesta_evidence::tdx::TdQuote::parse(&outblob)
                .map_err(|e| format!("the TDX quote from configfs-tsm does not parse: {e}"))?
                .report
                .report_data,
        ),
        "sev_guest" => (
            EvidenceKind::SnpReport,
            attesta_evidence::snp::parse_report(&outblob)
                .map_err(|e| format!("the SEV-SNP report from configfs-tsm does not parse: {e}"))?
                .report_data,
        ),
        other => {
            return Err(format!(
                "configfs-tsm provider \"{other}\" is not supported (tdx_guest and sev_guest are)"
            ));
        }
    };
    if reported != *report_data {
        return Err(
            "the report from configfs-tsm does not carry the report data written to inblob".into(),
        );
    }
    // SEV-SNP: the host's certificate table, turned into the PEM chain
    // (VCEK/VLEK, ASK/ASVK, ARK) relying parties verify the report with.
    // Hosts that supply no table (auxblob empty) leave relying parties to
    // fetch the VCEK themselves.
    let certs = match (kind, read_attr(entry, "auxblob")) {
        (EvidenceKind::SnpReport, Ok(b)) if !b.is_empty() => {
            cert_table_pem(&b).map(String::into_bytes)
        }
        _ => None,
    };
    Ok(Ok(Evidence {
        kind,
        bytes: outblob,
        certs,
    }))
}

/// The GHCB certificate table (SEV-ES GHCB specification, MSG_REPORT_REQ):
/// entries of GUID (16 bytes), offset (u32 LE, from the table's start) and
/// length (u32 LE), ended by an all-zero entry. Certificates are told apart
/// by their content, not their GUIDs: the self-signed one is the ARK, the
/// other CA the ASK/ASVK, the end-entity the VCEK/VLEK. `None` when the
/// table is malformed or has no VCEK/VLEK and ASK.
pub fn cert_table_pem(table: &[u8]) -> Option<String> {
    use attesta_evidence::sgx::pki;
    let (mut vek, mut ask, mut ark) = (None, None, None);
    for i in 0..64 {
        let e = table.get(i * 24..i * 24 + 24)?;
        if e.iter().all(|&b| b == 0) {
            break;
        }
        let off = u32::from_le_bytes(e[16..20].try_into().ok()?) as usize;
        let len = u32::from_le_bytes(e[20..24].try_into().ok()?) as usize;
        let der = table.get(off..off.checked_add(len)?)?;
        let Ok(cert) = pki::parse_cert(der) else {
            continue;
        };
        let self_signed = cert.issuer().as_raw() == cert.subject().as_raw();
        let slot = if self_signed {
            &mut ark
        } else if pki::require_ca(&cert).is_ok() {
            &mut ask
        } else {
            &mut vek
        };
        *slot = Some(der.to_vec());
    }
    let mut pem = String::new();
    for der in [vek?, ask?].into_iter().chain(ark) {
        pem.push_str(&attesta_token::encoding::pem_encode("CERTIFICATE", &der));
    }
    Some(pem)
}

impl EvidenceSource for ConfigfsTsm {
    fn name(&self) -> &'static str {
        "configfs-tsm"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, String> {
        match self.once(report_data)? {
            Ok(e) => Ok(e),
            Err(_) => self.once(report_data)?,
        }
    }
}

// ---------------------------------------------------------------- test

/// Testkit SGX evidence under a test root (see the module doc).
#[derive(Debug, Clone)]
pub struct TestSource {
    sample: attesta_testkit::SgxSample,
}

impl TestSource {
    /// A test platform whose collateral is current around `now` (20 days ahead).
    pub fn new(now: u64) -> Self {
        Self {
            sample: attesta_testkit::SgxSample::builder()
                .at(now)
                .mr_enclave(test_mrenclave())
                .build(),
        }
    }

    /// The test root, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.sample.root_der
    }

    /// The platform's DCAP collateral.
    pub fn collateral(&self) -> &attesta_evidence::dcap::DcapCollateral {
        &self.sample.collateral
    }

    /// Write `root.pem` and the collateral bundle (`collateral/`) into `dir`.
    pub fn write_trust_material(&self, dir: &Path) -> Result<(), String> {
        let err = |e: std::io::Error| format!("cannot write {}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(err)?;
        std::fs::write(
            dir.join("root.pem"),
            attesta_token::encoding::pem_encode("CERTIFICATE", self.root_der()),
        )
        .map_err(err)?;
        attesta_testkit::write_bundle(&dir.join("collateral"), self.collateral()).map_err(err)
    }
}

impl EvidenceSource for TestSource {
    fn name(&self) -> &'static str {
        "test"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, String> {
        Ok(Evidence {
            kind: EvidenceKind::SgxQuote,
            bytes: self.sample.requote(*report_data),
            certs: None,
        })
    }
}

/// Testkit SEV-SNP evidence under a test ARK (see the module doc).
#[derive(Debug, Clone)]
pub struct TestSnpSource {
    sample: attesta_testkit::SnpSample,
    /// The same hierarchy's CRL with the VCEK's serial on it.
    revoked_crl: Vec<u8>,
}

impl TestSnpSource {
    /// A test platform whose certificates are valid a year around `now`
    /// and whose CRL is current for 30 days.
    pub fn new(now: u64) -> Self {
        let sample = attesta_testkit::SnpSample::builder()
            .at(now)
            .measurement(test_snp_measurement())
            .crl(true)
            .build();
        // The testkit gives every VCEK of a hierarchy the same serial, so
        // this CRL revokes the VCEK above.
        let revoked_crl = attesta_testkit::SnpSample::builder()
            .at(now)
            .revoke_vek()
            .build()
            .crl_der
            .unwrap_or_default();
        Self {
            sample,
            revoked_crl,
        }
    }

    /// The test ARK, DER.
    pub fn ark_der(&self) -> &[u8] {
        &self.sample.ark_der
    }

    /// The VCEK and ASK as the evidence carries them (PEM).
    pub fn chain_pem(&self) -> String {
        format!(
            "{}{}",
            attesta_testkit::snp::pem(&self.sample.vek_der),
            attesta_testkit::snp::pem(&self.sample.ask_der)
        )
    }

    /// Write `root.pem` (the ARK), `collateral/` (`vcek.der`, `ask_ark.pem`,
    /// `crl.der`) and `revoked/crl.der` into `dir`.
    pub fn write_trust_material(&self, dir: &Path) -> Result<(), String> {
        let err = |e: std::io::Error| format!("cannot write {}: {e}", dir.display());
        let pem = attesta_testkit::snp::pem;
        let coll = dir.join("collateral");
        let revoked = dir.join("revoked");
        for d in [&coll, &revoked] {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        let s = &self.sample;
        let files: [(PathBuf, Vec<u8>); 5] = [
            (dir.join("root.pem"), pem(&s.ark_der).into_bytes()),
            (coll.join("vcek.der"), s.vek_der.clone()),
            (
                coll.join("ask_ark.pem"),
                format!("{}{}", pem(&s.ask_der), pem(&s.ark_der)).into_bytes(),
            ),
            (coll.join("crl.der"), s.crl_der.clone().unwrap_or_default()),
            (revoked.join("crl.der"), self.revoked_crl.clone()),
        ];
        for (path, bytes) in files {
            std::fs::write(&path, bytes).map_err(err)?;
        }
        Ok(())
    }
}

impl EvidenceSource for TestSnpSource {
    fn name(&self) -> &'static str {
        "test-snp"
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, String> {
        Ok(Evidence {
            kind: EvidenceKind::SnpReport,
            bytes: self.sample.resign(*report_data),
            certs: Some(self.chain_pem().into_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_checked() {
        for m in [
            "auto",
            "none",
            "required",
            "configfs-tsm",
            "test",
            "test-snp",
        ] {
            assert_eq!(validate_mode(m), Ok(()));
        }
        assert!(validate_mode("sgx").unwrap_err().contains("not one of"));
    }

    #[test]
    fn required_without_a_tee_names_the_path_and_the_way_out() {
        let missing = Path::new("/nonexistent/tsm/report");
        let dir = tempfile::tempdir().unwrap();
        let err = select("required", missing, dir.path()).unwrap_err();
        assert!(err.contains("/nonexistent/tsm/report"), "{err}");
        assert!(err.contains("tee_evidence = \"auto\""), "{err}");
        assert!(select("configfs-tsm", missing, dir.path()).is_err());
        assert!(select("auto", missing, dir.path()).unwrap().is_none());
        assert!(select("none", missing, dir.path()).unwrap().is_none());
    }

    /// A plain directory is not configfs: no kernel answers the entry, so
    /// the first attribute read fails and names the file.
    #[test]
    fn configfs_tsm_without_a_kernel_behind_it_fails_naming_the_attribute() {
        let dir = tempfile::tempdir().unwrap();
        let src = ConfigfsTsm::detect(dir.path()).unwrap();
        let err = src.evidence(&[7; 64]).unwrap_err();
        assert!(err.contains("generation"), "{err}");
        assert!(ConfigfsTsm::detect(&dir.path().join("missing")).is_none());
    }

    /// A directory that is not configfs (no kernel answers): `auto` runs
    /// without evidence, `required` refuses, naming the failing attribute.
    #[test]
    fn a_tsm_path_that_gives_no_report_is_probed_at_start() {
        let tsm = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        assert!(select("auto", tsm.path(), data.path()).unwrap().is_none());
        let err = select("required", tsm.path(), data.path()).unwrap_err();
        assert!(
            err.contains("gives no report") && err.contains("generation"),
            "{err}"
        );
        assert!(select("configfs-tsm", tsm.path(), data.path()).is_err());
    }

    #[test]
    fn snp_cert_table_becomes_a_pem_chain_in_order() {
        let s = attesta_testkit::SnpSample::builder().build();
        // ARK first, VCEK last, with GUIDs that do not matter.
        let certs = [&s.ark_der, &s.ask_der, &s.vek_der];
        let mut table = Vec::new();
        let mut off = 24 * (certs.len() + 1);
        for (i, c) in certs.iter().enumerate() {
            table.extend_from_slice(&[i as u8 + 1; 16]);
            table.extend_from_slice(&(off as u32).to_le_bytes());
            table.extend_from_slice(&(c.len() as u32).to_le_bytes());
            off += c.len();
        }
        table.extend_from_slice(&[0; 24]);
        for c in certs {
            table.extend_from_slice(c);
        }
        let pem = cert_table_pem(&table).unwrap();
        let ders = attesta_evidence::sgx::pki::pem_certificates(pem.as_bytes()).unwrap();
        assert_eq!(
            ders,
            [s.vek_der.clone(), s.ask_der.clone(), s.ark_der.clone()]
        );
        // Truncated or pointing outside: none.
        assert!(cert_table_pem(&table[..30]).is_none());
        let mut bad = table.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(cert_table_pem(&bad).is_none());
        assert!(cert_table_pem(&[0; 24]).is_none());
    }

    /// An SNP "TEE" for the test: a testkit sample per request.
    #[derive(Debug, Default)]
    struct FakeSnp(std::sync::Mutex<Option<attesta_testkit::SnpSample>>);

    impl EvidenceSource for FakeSnp {
        fn name(&self) -> &'static str {
            "configfs-tsm"
        }
        fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, String> {
            let s = attesta_testkit::SnpSample::builder()
                .report_data(*report_data)
                .at(attesta_evidence::UnixTime::now().0)
                .build();
            let chain = format!(
                "{}{}",
                attesta_testkit::snp::pem(&s.vek_der),
                attesta_testkit::snp::pem(&s.ask_der)
            );
            let ev = Evidence {
                kind: EvidenceKind::SnpReport,
                bytes: s.report.clone(),
                certs: Some(chain.into_bytes()),
            };
            *self.0.lock().unwrap() = Some(s);
            Ok(ev)
        }
    }

    #[test]
    fn an_snp_node_key_carries_attestas_and_maas_snp_extensions() {
        use attesta_evidence::signing_cert::{self, EvidenceSource as Src, SigningCert};
        let fake = Arc::new(FakeSnp::default());
        let ext = TeeExtensions(fake.clone());
        let now = attesta_evidence::UnixTime::now();
        let key =
            attesta_token::keys::SigningKey::generate_with("https://n", now.0, Some(&ext)).unwrap();
        let cert = SigningCert::parse(key.cert_der()).unwrap();
        let sources: Vec<Src> = cert.evidence.iter().map(|e| e.source).collect();
        assert_eq!(sources, [Src::Attesta, Src::MaaSnp]);
        let sample = fake.0.lock().unwrap().clone().unwrap();
        let v = signing_cert::verify(&cert, None, &sample.trust_roots(), now).unwrap();
        assert_eq!(v.level, signing_cert::VerifyLevel::Signatures);
        // MAA's copy alone carries the same report and chain.
        assert_eq!(cert.evidence[1].bytes, sample.report);
        assert_eq!(cert.evidence[1].certs, cert.evidence[0].certs);
    }

    #[test]
    fn test_source_binds_the_report_data_it_is_given() {
        let s = TestSource::new(attesta_evidence::UnixTime::now().0);
        let rd = [0x5a; 64];
        let ev = s.evidence(&rd).unwrap();
        let q = attesta_evidence::sgx::Quote::parse(&ev.bytes).unwrap();
        assert_eq!(q.report.report_data, rd);
        assert_eq!(q.report.mr_enclave, test_mrenclave());
        let roots = attesta_evidence::TrustRoots::empty().with_configured(
            attesta_evidence::roots::RootKind::IntelSgx,
            s.root_der().to_vec(),
        );
        let vc = attesta_evidence::sgx::VerifiedCollateral::verify(
            s.collateral(),
            &roots,
            attesta_evidence::UnixTime::now(),
        )
        .unwrap();
        attesta_evidence::sgx::verify_quote(&q, &vc, &roots, attesta_evidence::UnixTime::now())
            .unwrap();
    }

    /// The SEV-SNP test source: one VCEK for every report, each report
    /// carrying the report data asked for and the test measurement; its
    /// files give a full check, and the revoked CRL refuses the VCEK.
    #[test]
    fn test_snp_source_binds_and_writes_its_collateral() {
        use attesta_evidence::signing_cert::{
            self, AmdCrl, ServiceCollateral, SigningCert, VerifyLevel,
        };
        let now = attesta_evidence::UnixTime::now();
        let s = TestSnpSource::new(now.0);
        let dir = tempfile::tempdir().unwrap();
        s.write_trust_material(dir.path()).unwrap();
        let ext = TeeExtensions(Arc::new(s.clone()));
        let key =
            attesta_token::keys::SigningKey::generate_with("https://n", now.0, Some(&ext)).unwrap();
        let key2 =
            attesta_token::keys::SigningKey::generate_with("https://n", now.0, Some(&ext)).unwrap();
        let cert = SigningCert::parse(key.cert_der()).unwrap();
        let cert2 = SigningCert::parse(key2.cert_der()).unwrap();
        // One platform: both certificates carry the same VCEK chain.
        assert_eq!(cert.evidence[0].certs, cert2.evidence[0].certs);
        assert_ne!(cert.evidence[0].bytes, cert2.evidence[0].bytes);
        let report = attesta_evidence::snp::parse_report(&cert.evidence[0].bytes).unwrap();
        assert_eq!(report.measurement, test_snp_measurement());
        let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
        let ark = attesta_evidence::sgx::pki::pem_certificates(&read("root.pem")).unwrap();
        assert_eq!(ark, [s.ark_der().to_vec()]);
        let roots = attesta_evidence::TrustRoots::empty()
            .with_configured(attesta_evidence::roots::RootKind::AmdArk, ark[0].clone());
        let crl = |p: &str| ServiceCollateral {
            amd_crls: vec![AmdCrl {
                signing_key: attesta_evidence::snp::SigningKey::Vcek,
                der: read(p),
            }],
            ..Default::default()
        };
        let v = signing_cert::verify_with(&cert, &crl("collateral/crl.der"), &roots, now).unwrap();
        assert_eq!(v.level, VerifyLevel::Full);
        let err =
            signing_cert::verify_with(&cert2, &crl("revoked/crl.der"), &roots, now).unwrap_err();
        assert_eq!(attesta_evidence::ErrorCode::code(&err), "VcekRevoked");
        assert_eq!(read("collateral/vcek.der"), s.sample.vek_der);
        // Where the collateral is: AMD's KDS for this product and chip.
        let refs = cert.evidence[0].refs.clone().unwrap();
        assert_eq!(refs.product.as_deref(), Some("Milan"));
        assert_eq!(refs.signing_key.as_deref(), Some("vcek"));
        assert_eq!(
            refs.crl_url.as_deref(),
            Some("https://kdsintf.amd.com/vcek/v1/Milan/crl")
        );
        let vcek_url = refs.vcek_url.unwrap();
        assert!(
            vcek_url.starts_with(&format!(
                "https://kdsintf.amd.com/vcek/v1/Milan/{}?blSPL=4&teeSPL=0&snpSPL=22&ucodeSPL=213",
                hex::encode(report.chip_id)
            )),
            "{vcek_url}"
        );
        assert_eq!(refs.fmspc, None);
    }

    /// The SGX test source's certificates say where Intel's PCS has the
    /// collateral of their quote: the PCK certificate's FMSPC and CA.
    #[test]
    fn sgx_test_certificates_carry_collateral_references() {
        use attesta_evidence::signing_cert::SigningCert;
        let now = attesta_evidence::UnixTime::now();
        let s = TestSource::new(now.0);
        let ext = TeeExtensions(Arc::new(s.clone()));
        let key =
            attesta_token::keys::SigningKey::generate_with("https://n", now.0, Some(&ext)).unwrap();
        let cert = SigningCert::parse(key.cert_der()).unwrap();
        let refs = cert.evidence[0].refs.clone().unwrap();
        let (_, fmspc) = attesta_collateral::fmspc_of(s.collateral()).unwrap();
        let ca = attesta_collateral::pck_ca_of(s.collateral()).unwrap();
        assert_eq!(refs.tee.as_deref(), Some("sgx"));
        assert_eq!(refs.fmspc.as_deref(), Some(fmspc.as_str()));
        assert_eq!(refs.ca.as_deref(), Some(ca.as_str()));
        assert_eq!(
            refs.tcb_info_url,
            Some(format!(
                "https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc={fmspc}"
            ))
        );
        assert_eq!(
            refs.pck_crl_url,
            Some(format!(
                "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                ca.as_str()
            ))
        );
        assert_eq!(refs.product, None);
    }
}
