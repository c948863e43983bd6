//! Synthetic TDX DCAP evidence (TD quotes v4 and v5) under the testkit's test
//! PKI, the one [`crate::sgx`] uses (root, PCK CA, TCB signer, CRLs).
//!
//! [`TdxSample::builder`] makes a TD quote with a fresh attestation key and
//! TD QE report, and TDX collateral (TCB info `id` `TDX` v3 with `tdxModule`,
//! a `TDX_01` module identity and TDX TCB components; QE identity `TD_QE`)
//! signed by the test TCB signing key. Switches produce each failure class
//! the verifier must catch. The root is only trusted via
//! `TrustRoots::with_configured`.
//!
//! The sample TD: TEE_TCB_SVN = `03 01 02 00…` (module SVN 3, major version
//! 1, one TDX component at 2), MRSIGNERSEAM zero (as Intel's), SEPT_VE_DISABLE
//! set. The TCB info lists a level above the platform, then the TD's level
//! (status chosen), and its module identity `TDX_01` has levels at ISVSVN 3
//! (status chosen) and 2 (`OutOfDate`).

use attesta_evidence::UnixTime;
use attesta_evidence::dcap::DcapCollateral;
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::sgx::TcbStatus;
use aws_lc_rs::digest;
use aws_lc_rs::signature::KeyPair as _;

use crate::sgx::{
    DAY, DEFAULT_AT, PLATFORM_COMPONENTS, PLATFORM_PCESVN, Pki, PkiOptions, QE_VENDOR_ID, key, pki,
    report_body, rfc3339, sign,
};

/// Intel's TD QE MRSIGNER, reused so samples look like Intel's TD QE.
pub const TD_QE_MRSIGNER: [u8; 32] = [
    0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
    0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5,
];
const TD_QE_ISVSVN: u16 = 4;
const TD_QE_PRODID: u16 = 2;
const QE_ATTRIBUTES: [u8; 16] = [0x11, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0, 0, 0, 0, 0, 0, 0];
/// The sample TD's TEE_TCB_SVN.
pub const TEE_TCB_SVN: [u8; 16] = [3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// TDATTRIBUTES bit 28 (SEPT_VE_DISABLE), as production TDs set it.
const SEPT_VE_DISABLE: u64 = 1 << 28;

/// One synthetic TD quote with everything needed to verify it.
#[derive(Debug, Clone)]
pub struct TdxSample {
    pub quote: Vec<u8>,
    pub collateral: DcapCollateral,
    /// DER of the test root CA.
    pub root_der: Vec<u8>,
    /// DER of the PCK leaf in the quote.
    pub pck_leaf_der: Vec<u8>,
    /// A time at which every piece is valid (unless a switch expired one).
    pub at: UnixTime,
    pub mr_td: [u8; 48],
    pub rtmr: [[u8; 48]; 4],
    pub mr_config_id: [u8; 48],
    pub report_data: [u8; 64],
    pub tee_tcb_svn: [u8; 16],
    pub fmspc: [u8; 6],
}

impl TdxSample {
    pub fn builder() -> TdxSampleBuilder {
        TdxSampleBuilder::default()
    }

    /// Trust roots with this sample's root configured (never embedded).
    pub fn trust_roots(&self) -> TrustRoots {
        TrustRoots::empty().with_configured(RootKind::IntelSgx, self.root_der.clone())
    }
}

/// Builder for [`TdxSample`]; defaults give a valid, up-to-date, non-debug
/// v4 quote (TD report 1.0).
#[derive(Debug, Clone)]
pub struct TdxSampleBuilder {
    version: u16,
    td15: bool,
    debug: bool,
    sept_ve_disable: bool,
    tcb_status: TcbStatus,
    module_tcb_status: TcbStatus,
    qe_tcb_status: TcbStatus,
    advisory_ids: Vec<String>,
    report_data: [u8; 64],
    mr_td: [u8; 48],
    rtmr: [[u8; 48]; 4],
    mr_config_id: [u8; 48],
    mr_service_td: [u8; 48],
    fmspc: [u8; 6],
    at: u64,
    padding: usize,
    wrong_module_identity: bool,
    no_module_identity: bool,
    outdated_tee_tcb: bool,
    relaunch_advised: bool,
    stale_current_tcb: bool,
    no_matching_level: bool,
    revoke_pck: bool,
    expire_pck_crl: bool,
    bad_quote_signature: bool,
    bad_qe_report_signature: bool,
    bad_qe_report_data: bool,
}

impl Default for TdxSampleBuilder {
    fn default() -> Self {
        Self {
            version: 4,
            td15: false,
            debug: false,
            sept_ve_disable: true,
            tcb_status: TcbStatus::UpToDate,
            module_tcb_status: TcbStatus::UpToDate,
            qe_tcb_status: TcbStatus::UpToDate,
            advisory_ids: Vec::new(),
            report_data: [0; 64],
            mr_td: [0x7d; 48],
            rtmr: [[0x01; 48], [0x02; 48], [0x03; 48], [0; 48]],
            mr_config_id: [0; 48],
            mr_service_td: [0; 48],
            fmspc: [0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00],
            at: DEFAULT_AT,
            padding: 0,
            wrong_module_identity: false,
            no_module_identity: false,
            outdated_tee_tcb: false,
            relaunch_advised: false,
            stale_current_tcb: false,
            no_matching_level: false,
            revoke_pck: false,
            expire_pck_crl: false,
            bad_quote_signature: false,
            bad_qe_report_signature: false,
            bad_qe_report_data: false,
        }
    }
}

macro_rules! switch {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        pub fn $name(mut self) -> Self {
            self.$name = true;
            self
        }
    };
}

impl TdxSampleBuilder {
    /// Quote version 4 (default, TD report 1.0) or 5 (TD report 1.5 unless `td15(false)`).
    pub fn version(mut self, v: u16) -> Self {
        self.version = v;
        self.td15 = v == 5;
        self
    }
    /// With version 5: a TD report 1.5 body (type 3) or 1.0 (type 2).
    pub fn td15(mut self, on: bool) -> Self {
        self.td15 = on;
        self
    }
    /// Set the DEBUG TD attribute.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
    /// The SEPT_VE_DISABLE TD attribute (bit 28; set by default, as in the
    /// real quotes).
    pub fn sept_ve_disable(mut self, on: bool) -> Self {
        self.sept_ve_disable = on;
        self
    }
    /// The status of the TD's platform TCB level.
    pub fn tcb_status(mut self, s: TcbStatus) -> Self {
        self.tcb_status = s;
        self
    }
    /// The status of the module TCB level the TD's module SVN meets.
    pub fn module_tcb_status(mut self, s: TcbStatus) -> Self {
        self.module_tcb_status = s;
        self
    }
    /// The status of the TD QE identity level the QE's ISVSVN meets.
    pub fn qe_tcb_status(mut self, s: TcbStatus) -> Self {
        self.qe_tcb_status = s;
        self
    }
    /// Advisory IDs of the TD's platform level.
    pub fn advisory_ids(mut self, ids: &[&str]) -> Self {
        self.advisory_ids = ids.iter().map(|s| s.to_string()).collect();
        self
    }
    /// REPORTDATA = SHA-256(data) ‖ 32 zero bytes, MAA's binding.
    pub fn runtime_data(mut self, data: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, data);
        self.report_data = [0; 64];
        self.report_data[..32].copy_from_slice(d.as_ref());
        self
    }
    /// MRCONFIGID = SHA-256(data) ‖ 16 zero bytes (Attesta's init-time binding for TDX).
    pub fn init_time_data(mut self, data: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, data);
        self.mr_config_id = [0; 48];
        self.mr_config_id[..32].copy_from_slice(d.as_ref());
        self
    }
    pub fn report_data(mut self, rd: [u8; 64]) -> Self {
        self.report_data = rd;
        self
    }
    pub fn mr_td(mut self, m: [u8; 48]) -> Self {
        self.mr_td = m;
        self
    }
    /// RTMR `i` (0..=3).
    pub fn rtmr(mut self, i: usize, m: [u8; 48]) -> Self {
        self.rtmr[i % 4] = m;
        self
    }
    /// MRSERVICETD of a TD 1.5 body.
    pub fn mr_service_td(mut self, m: [u8; 48]) -> Self {
        self.mr_service_td = m;
        self
    }
    pub fn fmspc(mut self, f: [u8; 6]) -> Self {
        self.fmspc = f;
        self
    }
    /// Verification time the windows are laid around (default [`DEFAULT_AT`]).
    pub fn at(mut self, t: u64) -> Self {
        self.at = t;
        self
    }
    /// Zero bytes after the signature data, as fixed-size quote buffers have.
    pub fn padding(mut self, n: usize) -> Self {
        self.padding = n;
        self
    }
    switch!(
        /// The TD's MRSIGNERSEAM is not the module identity's: `TdxModuleIdentityMismatch`.
        wrong_module_identity
    );
    switch!(
        /// The TCB info has no `TDX_01` identity: `TdxModuleIdentityNotFound`.
        no_module_identity
    );
    switch!(
        /// The TD's TDX component 2 is below the current level: it meets only an `OutOfDate` one.
        outdated_tee_tcb
    );
    switch!(
        /// TD 1.5: the launch TCB (TEE_TCB_SVN) is out of date, the current one
        /// (TEE_TCB_SVN2) is not: `TDRelaunchAdvised`.
        relaunch_advised
    );
    switch!(
        /// TD 1.5: the current TCB (TEE_TCB_SVN2) is below every level while
        /// the launch TCB is fine: `TdxCurrentTcbInvalid`.
        stale_current_tcb
    );
    switch!(
        /// Every platform level is above the TD: `TcbLevelNotFound`.
        no_matching_level
    );
    switch!(
        /// The PCK CRL lists the PCK certificate.
        revoke_pck
    );
    switch!(
        /// The PCK CRL's nextUpdate lies before `at`.
        expire_pck_crl
    );
    switch!(
        /// One bit of the quote signature is flipped.
        bad_quote_signature
    );
    switch!(
        /// One bit of the QE report signature is flipped.
        bad_qe_report_signature
    );
    switch!(
        /// The QE report data does not hash the attestation key (re-signed).
        bad_qe_report_data
    );

    /// Make the sample.
    pub fn build(self) -> TdxSample {
        build(self)
    }
}

fn components_json(c: &[u8; 16]) -> String {
    let v: Vec<String> = c.iter().map(|s| format!("{{\"svn\":{s}}}")).collect();
    format!("[{}]", v.join(","))
}

fn advisories_json(a: &[String]) -> String {
    if a.is_empty() {
        return String::new();
    }
    let v: Vec<String> = a.iter().map(|s| format!("\"{s}\"")).collect();
    format!(",\"advisoryIDs\":[{}]", v.join(","))
}

fn level_json(
    sgx: &[u8; 16],
    pce: u16,
    tdx: &[u8; 16],
    status: TcbStatus,
    adv: &[String],
) -> String {
    format!(
        "{{\"tcb\":{{\"sgxtcbcomponents\":{},\"pcesvn\":{pce},\"tdxtcbcomponents\":{}}},\"tcbDate\":\"2029-01-01T00:00:00Z\",\"tcbStatus\":\"{}\"{}}}",
        components_json(sgx),
        components_json(tdx),
        status.as_str(),
        advisories_json(adv)
    )
}

fn td_report(b: &TdxSampleBuilder, svn: &[u8; 16], svn2: &[u8; 16]) -> Vec<u8> {
    let mut r = Vec::with_capacity(648);
    r.extend_from_slice(svn);
    r.extend_from_slice(&[0x5e; 48]); // MRSEAM
    r.extend_from_slice(&if b.wrong_module_identity {
        [0x77; 48]
    } else {
        [0; 48]
    });
    r.extend_from_slice(&[0; 8]); // SEAMATTRIBUTES
    let attrs = if b.sept_ve_disable {
        SEPT_VE_DISABLE
    } else {
        0
    } | u64::from(b.debug);
    r.extend_from_slice(&attrs.to_le_bytes());
    r.extend_from_slice(&0x0006_02e7u64.to_le_bytes()); // XFAM
    r.extend_from_slice(&b.mr_td);
    r.extend_from_slice(&b.mr_config_id);
    r.extend_from_slice(&[0; 48]); // MROWNER
    r.extend_from_slice(&[0; 48]); // MROWNERCONFIG
    for m in &b.rtmr {
        r.extend_from_slice(m);
    }
    r.extend_from_slice(&b.report_data);
    if b.td15 {
        r.extend_from_slice(svn2);
        r.extend_from_slice(&b.mr_service_td);
    }
    r
}

fn build(b: TdxSampleBuilder) -> TdxSample {
    let at = b.at as i64;
    let (issue, next) = (at - 10 * DAY, at + 20 * DAY);
    let Pki {
        root,
        pck_ca,
        signer_key,
        signer_cert,
        leaf,
        leaf_key,
        root_crl,
        pck_crl,
    } = pki(&PkiOptions {
        at: b.at,
        fmspc: b.fmspc,
        expire_pck: false,
        revoke_pck: b.revoke_pck,
        revoke_pck_ca: false,
        expire_pck_crl: b.expire_pck_crl,
    });

    // The TD's launch and current TCB SVNs.
    let mut svn = TEE_TCB_SVN;
    let mut svn2 = TEE_TCB_SVN;
    if b.stale_current_tcb {
        svn2[2] = 1;
    }
    if b.relaunch_advised {
        svn[2] = 1;
    }
    let tcb_svn_level = if b.outdated_tee_tcb { 3 } else { 2 };

    // Quote.
    let mut header = Vec::with_capacity(48);
    header.extend_from_slice(&b.version.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&0x81u32.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    header.extend_from_slice(&QE_VENDOR_ID);
    header.extend_from_slice(&[0; 20]);
    let body = td_report(&b, &svn, &svn2);
    let mut signed = header;
    if b.version >= 5 {
        signed.extend_from_slice(&(if b.td15 { 3u16 } else { 2 }).to_le_bytes());
        signed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    }
    signed.extend_from_slice(&body);
    let att_key = key();
    let ak_pub = att_key.ring.public_key().as_ref()[1..].to_vec();
    let auth: Vec<u8> = (0u8..32).collect();
    let mut bound = ak_pub.clone();
    bound.extend_from_slice(&auth);
    let mut qe_rd = [0u8; 64];
    qe_rd[..32].copy_from_slice(digest::digest(&digest::SHA256, &bound).as_ref());
    if b.bad_qe_report_data {
        qe_rd[0] ^= 1;
    }
    let qe_report = report_body(
        QE_ATTRIBUTES,
        &[0x66; 32],
        &TD_QE_MRSIGNER,
        TD_QE_PRODID,
        TD_QE_ISVSVN,
        &qe_rd,
        false,
        None,
    );
    let mut qe_sig = sign(&leaf_key.ring, &qe_report);
    if b.bad_qe_report_signature {
        qe_sig[10] ^= 1;
    }
    let mut quote_sig = sign(&att_key.ring, &signed);
    if b.bad_quote_signature {
        quote_sig[10] ^= 1;
    }
    let pck_chain = format!("{}{}{}", leaf.pem(), pck_ca.pem(), root.pem());
    let mut quote = signed;
    crate::sgx::append_signature_data(
        &mut quote,
        &crate::sgx::SignatureParts {
            quote_signature: &quote_sig,
            attestation_key: &ak_pub,
            qe_report: &qe_report,
            qe_report_signature: &qe_sig,
            qe_auth_data: &auth,
            pck_chain_pem: &pck_chain,
            wrapped: true,
        },
    );
    quote.resize(quote.len() + b.padding, 0);

    // TCB info: a level above the platform, then (unless none may match)
    // the TD's level with the chosen status; for `outdated_tee_tcb` and
    // `relaunch_advised` an OutOfDate level one TDX SVN lower follows.
    let above: [u8; 16] = std::array::from_fn(|i| PLATFORM_COMPONENTS[i].saturating_add(1));
    let mut tdx_level = [0u8; 16];
    tdx_level[2] = tcb_svn_level;
    let mut levels = vec![level_json(
        &above,
        PLATFORM_PCESVN + 1,
        &tdx_level,
        TcbStatus::UpToDate,
        &[],
    )];
    if !b.no_matching_level {
        levels.push(level_json(
            &PLATFORM_COMPONENTS,
            PLATFORM_PCESVN,
            &tdx_level,
            b.tcb_status,
            &b.advisory_ids,
        ));
        if b.outdated_tee_tcb || b.relaunch_advised {
            let mut lower = tdx_level;
            lower[2] = svn[2];
            levels.push(level_json(
                &PLATFORM_COMPONENTS,
                PLATFORM_PCESVN,
                &lower,
                TcbStatus::OutOfDate,
                &["INTEL-SA-00837".to_string()],
            ));
        }
    }
    let zero_signer = hex::encode_upper([0u8; 48]);
    let module = format!(
        "\"mrsigner\":\"{zero_signer}\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\""
    );
    let identities = if b.no_module_identity {
        String::new()
    } else {
        format!(
            ",\"tdxModuleIdentities\":[{{\"id\":\"TDX_01\",{module},\"tcbLevels\":[{{\"tcb\":{{\"isvsvn\":3}},\"tcbDate\":\"2029-01-01T00:00:00Z\",\"tcbStatus\":\"{}\"}},{{\"tcb\":{{\"isvsvn\":2}},\"tcbDate\":\"2028-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\"}}]}}]",
            b.module_tcb_status.as_str()
        )
    };
    let tcb_info = format!(
        "{{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"{}\",\"nextUpdate\":\"{}\",\"fmspc\":\"{}\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tdxModule\":{{{module}}}{identities},\"tcbLevels\":[{}]}}",
        rfc3339(issue),
        rfc3339(next),
        hex::encode_upper(b.fmspc),
        levels.join(",")
    );
    let ti_sig = sign(&signer_key.ring, tcb_info.as_bytes());
    let qe_advisories = if b.qe_tcb_status == TcbStatus::UpToDate {
        String::new()
    } else {
        ",\"advisoryIDs\":[\"INTEL-SA-00615\"]".to_string()
    };
    let qe_identity = format!(
        "{{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"{}\",\"nextUpdate\":\"{}\",\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"{}\",\"isvprodid\":{TD_QE_PRODID},\"tcbLevels\":[{{\"tcb\":{{\"isvsvn\":{}}},\"tcbDate\":\"2029-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}},{{\"tcb\":{{\"isvsvn\":{TD_QE_ISVSVN}}},\"tcbDate\":\"2028-01-01T00:00:00Z\",\"tcbStatus\":\"{}\"{qe_advisories}}}]}}",
        rfc3339(issue),
        rfc3339(next),
        hex::encode_upper(TD_QE_MRSIGNER),
        if b.qe_tcb_status == TcbStatus::UpToDate {
            TD_QE_ISVSVN
        } else {
            TD_QE_ISVSVN + 1
        },
        b.qe_tcb_status.as_str(),
    );
    let qi_sig = sign(&signer_key.ring, qe_identity.as_bytes());
    let collateral = crate::sgx::dcap_collateral(
        &tcb_info,
        &ti_sig,
        &qe_identity,
        &qi_sig,
        &signer_cert.pem(),
        &pck_ca.pem(),
        &root.pem(),
        pck_crl.der(),
        root_crl.der(),
    );
    TdxSample {
        quote,
        collateral,
        root_der: root.der().to_vec(),
        pck_leaf_der: leaf.der().to_vec(),
        at: UnixTime(b.at),
        mr_td: b.mr_td,
        rtmr: b.rtmr,
        mr_config_id: b.mr_config_id,
        report_data: b.report_data,
        tee_tcb_svn: svn,
        fmspc: b.fmspc,
    }
}
