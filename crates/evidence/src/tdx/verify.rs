//! TDX quote verification on top of the SGX DCAP machinery, split like SGX:
//!
//! * [`TdxVerifiedCollateral::verify`] — once per collateral version: every
//!   signature, chain and CRL through
//!   [`VerifiedCollateral`](crate::sgx::VerifiedCollateral) (TCB info `id`
//!   `TDX`, QE identity `id` `TD_QE`), plus the TDX members of the TCB info.
//! * [`verify_td_quote`] — per quote: the PCK leaf (memoised), QE report
//!   signature and data, quote signature over the received signed region, QE
//!   identity, TDX module identity and the TDX TCB levels.
//!
//! TCB evaluation follows Intel's QVL for TDX: the platform level is the
//! first whose SGX components, PCESVN and TDX components (components 0 and 1
//! left to the module identity when TEE_TCB_SVN\[1\] > 0) the platform meets;
//! the module level (identity `TDX_%02X` of TEE_TCB_SVN\[1\], level by
//! TEE_TCB_SVN\[0\]) converges into it, then the QE's status does
//! ([`TcbStatus::converge`]). A TD 1.5 report's TEE_TCB_SVN2 is evaluated the
//! same way; an out-of-date launch TCB whose current TCB is not out of date
//! becomes `TDRelaunchAdvised` (Intel's `checkForRelaunch`). `Revoked`
//! anywhere is an error.

use crate::claims::Claims;
use crate::dcap::{DcapCollateral, DcapTee};
use crate::roots::TrustRoots;
use crate::sgx::pki::PckExtension;
use crate::sgx::tcb::{self as sgx_tcb, parse_time};
use crate::sgx::verify::{
    SignatureParts, VerifiedPck, check_platform_ids, check_signature_parts, match_qe,
    verify_pck_chain,
};
use crate::sgx::{SgxError, TcbStatus, VerifiedCollateral};
use crate::types::UnixTime;

use super::error::TdxError;
use super::quote::{
    TD_ATTR_DEBUG, TD_ATTR_KL, TD_ATTR_PERFMON, TD_ATTR_PKS, TD_ATTR_SEPT_VE_DISABLE, TdQuote,
    TdReport,
};
use super::tcb::{TdxTcbInfo, parse_tdx_tcb_info};

/// TDX collateral whose every signature, chain and CRL verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxVerifiedCollateral {
    /// The DCAP part (chains, CRLs, platform TCB info part, TD QE identity).
    pub dcap: VerifiedCollateral,
    /// The TDX members of the same signed TCB info.
    pub tdx: TdxTcbInfo,
}

fn signed_member_id(json: &str, member: &str) -> Option<(String, Option<u64>)> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let m = v.get(member)?;
    Some((
        m.get("id")?.as_str()?.to_owned(),
        m.get("version").and_then(serde_json::Value::as_u64),
    ))
}

impl TdxVerifiedCollateral {
    /// Verify a TDX collateral set against `roots` at `at`.
    ///
    /// Collateral of the wrong kind (SGX TCB info, SGX QE identity) is named
    /// as such before anything else; it would fail the id check after the
    /// signature check anyway, so reading the id first only picks the error.
    pub fn verify(
        collateral: &DcapCollateral,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Self, TdxError> {
        if let Some((id, version)) = signed_member_id(&collateral.tcb_info_json, "tcbInfo")
            && (id != "TDX" || version != Some(3))
        {
            return Err(TdxError::TdxTcbInfoExpected(format!(
                "id '{id}', version {}",
                version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "none".into())
            )));
        }
        if let Some((id, _)) = signed_member_id(&collateral.qe_identity_json, "enclaveIdentity")
            && id != "TD_QE"
        {
            return Err(TdxError::TdQeIdentityExpected(format!("id '{id}'")));
        }
        let dcap = VerifiedCollateral::verify_for(collateral, roots, at, DcapTee::Tdx)?;
        // The signature over this text verified inside `verify_for`.
        let doc =
            sgx_tcb::split_tcb_info(&collateral.tcb_info_json).map_err(SgxError::TcbInfoInvalid)?;
        let tdx = parse_tdx_tcb_info(doc.body).map_err(TdxError::TdxTcbInfoInvalid)?;
        Ok(Self { dcap, tdx })
    }

    /// Re-check every validity window at `at` (see [`VerifiedCollateral::check_time`]).
    pub fn check_time(&self, at: UnixTime) -> Result<(), TdxError> {
        Ok(self.dcap.check_time(at)?)
    }

    /// The time range in which this collateral verifies.
    pub fn valid_window(&self) -> (i64, i64) {
        self.dcap.valid_window()
    }
}

/// The overall TCB status of a TD: a DCAP status, or one of the two TD 1.5
/// relaunch statuses Intel's QVL defines for TDX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TdxTcbStatus {
    Dcap(TcbStatus),
    /// The launch TCB is out of date, the current one (TEE_TCB_SVN2) is not.
    TdRelaunchAdvised,
    /// As `TdRelaunchAdvised`, with configuration needed on either TCB.
    TdRelaunchAdvisedConfigurationNeeded,
}

impl TdxTcbStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dcap(s) => s.as_str(),
            Self::TdRelaunchAdvised => "TDRelaunchAdvised",
            Self::TdRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
        }
    }

    /// Intel QVL's `checkForRelaunch` over converged launch and current statuses.
    pub fn relaunch(launch: TcbStatus, current: TcbStatus) -> TdxTcbStatus {
        use TcbStatus::*;
        let cfg = |s| {
            matches!(
                s,
                ConfigurationNeeded
                    | OutOfDateConfigurationNeeded
                    | ConfigurationAndSWHardeningNeeded
            )
        };
        match (launch, current) {
            (
                OutOfDate | OutOfDateConfigurationNeeded,
                UpToDate
                | SWHardeningNeeded
                | ConfigurationNeeded
                | ConfigurationAndSWHardeningNeeded,
            ) => {
                if cfg(launch) || cfg(current) {
                    Self::TdRelaunchAdvisedConfigurationNeeded
                } else {
                    Self::TdRelaunchAdvised
                }
            }
            _ => Self::Dcap(launch),
        }
    }
}

impl std::fmt::Display for TdxTcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TD quote that verified, with everything claims are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxVerified {
    pub quote_version: u16,
    /// v5 body type (2 or 3); `None` for v4.
    pub body_type: Option<u16>,
    pub report: TdReport,
    /// Platform, module and QE statuses combined (and TD 1.5 relaunch applied).
    pub tcb_status: TdxTcbStatus,
    /// The matched platform level's own status.
    pub platform_tcb_status: TcbStatus,
    /// The module TCB level's status (`None` for module major version 0).
    pub module_tcb_status: Option<TcbStatus>,
    /// The module identity used (`TDX_01`, ...), if any.
    pub module_identity_id: Option<String>,
    pub qe_tcb_status: TcbStatus,
    /// TD 1.5: the converged status of the current TCB (TEE_TCB_SVN2).
    pub current_tcb_status: Option<TcbStatus>,
    /// Platform, then module, then QE advisories, each once.
    pub advisory_ids: Vec<String>,
    /// The older of the platform and module levels' `tcbDate`.
    pub tcb_date: Option<String>,
    pub pck: PckExtension,
    pub test_root: bool,
}

struct Evaluation {
    status: TcbStatus,
    platform: TcbStatus,
    module: Option<(String, TcbStatus)>,
    advisory_ids: Vec<String>,
    tcb_date: Option<String>,
}

fn push_unique(into: &mut Vec<String>, from: &[String]) {
    for a in from {
        if !into.contains(a) {
            into.push(a.clone());
        }
    }
}

fn older(a: Option<String>, b: Option<&String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => match (parse_time(&a), parse_time(b)) {
            (Some(x), Some(y)) if y < x => Some(b.clone()),
            _ => Some(a),
        },
        (a, b) => a.or_else(|| b.cloned()),
    }
}

/// Platform level for `svn` converged with its module level.
fn evaluate(info: &TdxTcbInfo, pck: &PckExtension, svn: &[u8; 16]) -> Result<Evaluation, TdxError> {
    let level = info
        .match_level(&pck.cpu_svn_components, pck.pce_svn, svn)
        .ok_or(SgxError::TcbLevelNotFound)?;
    if level.status == TcbStatus::Revoked {
        return Err(SgxError::TcbRevoked.into());
    }
    let mut e = Evaluation {
        status: level.status,
        platform: level.status,
        module: None,
        advisory_ids: level.advisory_ids.clone(),
        tcb_date: level.tcb_date.clone(),
    };
    if let Some(identity) = info
        .module_identity(svn)
        .map_err(TdxError::TdxModuleIdentityNotFound)?
    {
        let ml = identity
            .levels
            .iter()
            .find(|l| svn[0] >= l.isv_svn)
            .ok_or_else(|| TdxError::TdxModuleTcbNotFound {
                id: identity.id.clone(),
                isv_svn: svn[0],
            })?;
        if ml.status == TcbStatus::Revoked {
            return Err(TdxError::TdxModuleTcbRevoked);
        }
        e.status = TcbStatus::converge(e.status, ml.status);
        push_unique(&mut e.advisory_ids, &ml.advisory_ids);
        e.tcb_date = older(e.tcb_date, ml.tcb_date.as_ref());
        e.module = Some((identity.id.clone(), ml.status));
    }
    Ok(e)
}

/// MRSIGNERSEAM and masked SEAMATTRIBUTES equal the module identity's
/// (`TDX_%02X` of TEE_TCB_SVN\[1\], or the base `tdxModule` for 0).
pub fn check_module_identity(info: &TdxTcbInfo, report: &TdReport) -> Result<(), TdxError> {
    let module = match info
        .module_identity(&report.tee_tcb_svn)
        .map_err(TdxError::TdxModuleIdentityNotFound)?
    {
        Some(identity) => &identity.module,
        None => &info.tdx_module,
    };
    if report.mr_signer_seam != module.mrsigner {
        return Err(TdxError::TdxModuleIdentityMismatch("MRSIGNERSEAM differs"));
    }
    let same = report
        .seam_attributes
        .iter()
        .zip(&module.attributes)
        .zip(&module.attributes_mask)
        .all(|((q, e), m)| q & m == e & m);
    if !same {
        return Err(TdxError::TdxModuleIdentityMismatch(
            "masked SEAMATTRIBUTES differ",
        ));
    }
    Ok(())
}

/// Verify one TD quote against verified TDX collateral at `at`.
///
/// Does not judge the DEBUG TD attribute: as in MAA it becomes the claim
/// `tdx_td_attributes_debug` for policy ([`super::TdxVerifier`] rejects debug
/// TDs unless `allow_debug`).
pub fn verify_td_quote(
    quote: &TdQuote<'_>,
    collateral: &TdxVerifiedCollateral,
    roots: &TrustRoots,
    at: UnixTime,
) -> Result<TdxVerified, TdxError> {
    let VerifiedPck {
        pck,
        public_key,
        test_root,
    } = verify_pck_chain(quote.pck_chain_pem, &collateral.dcap, roots, at)?;
    check_signature_parts(
        &SignatureParts {
            qe_report_bytes: quote.qe_report_bytes,
            qe_report_signature: &quote.qe_report_signature,
            qe_report_data: &quote.qe_report.report_data,
            attestation_key: &quote.attestation_key,
            qe_auth_data: quote.qe_auth_data,
            signed_bytes: quote.signed_bytes,
            signature: &quote.signature,
        },
        &public_key,
    )?;
    check_platform_ids(&pck, &collateral.dcap.tcb_info)?;
    let qe_level = match_qe(&quote.qe_report, &collateral.dcap.qe_identity)?;
    check_module_identity(&collateral.tdx, &quote.report)?;
    let launch = evaluate(&collateral.tdx, &pck, &quote.report.tee_tcb_svn)?;
    let current = match &quote.report.tee_tcb_svn2 {
        Some(svn2) => Some(
            evaluate(&collateral.tdx, &pck, svn2)
                .map_err(|e| TdxError::TdxCurrentTcbInvalid(Box::new(e)))?,
        ),
        None => None,
    };
    let launch_status = TcbStatus::converge(launch.status, qe_level.status);
    let current_status = current
        .as_ref()
        .map(|c| TcbStatus::converge(c.status, qe_level.status));
    let tcb_status = match current_status {
        Some(c) => TdxTcbStatus::relaunch(launch_status, c),
        None => TdxTcbStatus::Dcap(launch_status),
    };
    let mut advisory_ids = launch.advisory_ids;
    push_unique(&mut advisory_ids, &qe_level.advisory_ids);
    let (module_identity_id, module_tcb_status) = match launch.module {
        Some((id, s)) => (Some(id), Some(s)),
        None => (None, None),
    };
    Ok(TdxVerified {
        quote_version: quote.header.version,
        body_type: quote.body_type,
        report: quote.report.clone(),
        tcb_status,
        platform_tcb_status: launch.platform,
        module_tcb_status,
        module_identity_id,
        qe_tcb_status: qe_level.status,
        current_tcb_status: current_status,
        advisory_ids,
        tcb_date: launch.tcb_date,
        pck,
        test_root,
    })
}

/// `https://aka.ms/maa-eat-profile-tdxvm`, MAA's EAT profile for TDX.
pub const EAT_PROFILE_TDXVM: &str = "https://aka.ms/maa-eat-profile-tdxvm";

impl TdxVerified {
    /// The incoming claims, named as MAA names them for `tdxvm` (see the
    /// module doc of [`crate::tdx`]).
    pub fn claims(&self) -> Claims {
        let r = &self.report;
        let attrs = r.td_attributes_u64();
        let mut c = Claims::new();
        c.insert(crate::claims::names::ATTESTATION_TYPE, "tdxvm");
        c.insert("eat_profile", EAT_PROFILE_TDXVM);
        c.insert(
            "dbgstat",
            if attrs & TD_ATTR_DEBUG != 0 {
                "enabled"
            } else {
                "disabled"
            },
        );
        c.insert("intuse", "generic");
        c.insert("attester_tcb_status", self.tcb_status.as_str());
        c.insert_hex("tdx_mrsignerseam", &r.mr_signer_seam);
        c.insert_hex("tdx_mrseam", &r.mr_seam);
        c.insert_hex("tdx_mrtd", &r.mr_td);
        for (i, m) in r.rtmr.iter().enumerate() {
            c.insert_hex(format!("tdx_rtmr{i}"), m);
        }
        c.insert_hex("tdx_mrconfigid", &r.mr_config_id);
        c.insert_hex("tdx_mrowner", &r.mr_owner);
        c.insert_hex("tdx_mrownerconfig", &r.mr_owner_config);
        c.insert_hex("tdx_report_data", &r.report_data);
        c.insert_hex("tdx_seam_attributes", &r.seam_attributes);
        c.insert_hex("tdx_tee_tcb_svn", &r.tee_tcb_svn);
        c.insert_hex("tdx_xfam", &r.xfam);
        c.insert(
            "tdx_seamsvn",
            u16::from_le_bytes([r.tee_tcb_svn[0], r.tee_tcb_svn[1]]),
        );
        c.insert_hex("tdx_td_attributes", &r.td_attributes);
        c.insert("tdx_td_attributes_debug", attrs & TD_ATTR_DEBUG != 0);
        c.insert("tdx_td_attributes_key_locker", attrs & TD_ATTR_KL != 0);
        c.insert("tdx_td_attributes_perfmon", attrs & TD_ATTR_PERFMON != 0);
        c.insert(
            "tdx_td_attributes_protection_keys",
            attrs & TD_ATTR_PKS != 0,
        );
        c.insert(
            "tdx_td_attributes_septve_disable",
            attrs & TD_ATTR_SEPT_VE_DISABLE != 0,
        );
        c.insert("x-attesta-tcb-status", self.tcb_status.as_str());
        c.insert(
            "x-attesta-tcb-advisory-ids",
            serde_json::Value::Array(self.advisory_ids.iter().cloned().map(Into::into).collect()),
        );
        c.insert("x-attesta-qe-tcb-status", self.qe_tcb_status.as_str());
        if let Some(m) = self.module_tcb_status {
            c.insert("x-attesta-tdx-module-tcb-status", m.as_str());
        }
        if let Some(s) = self.current_tcb_status {
            c.insert("x-attesta-tdx-current-tcb-status", s.as_str());
        }
        if let Some(svn2) = &r.tee_tcb_svn2 {
            c.insert_hex("x-attesta-tdx-tee-tcb-svn2", svn2);
        }
        if let Some(m) = &r.mr_service_td {
            c.insert_hex("x-attesta-tdx-mrservicetd", m);
        }
        if let Some(d) = &self.tcb_date {
            c.insert("x-attesta-tcb-date", d.as_str());
        }
        c.insert("x-attesta-test-root", self.test_root);
        c
    }

    /// The generic verified form: claims, REPORTDATA and MRCONFIGID.
    pub fn to_verified(&self) -> crate::Verified {
        crate::Verified {
            claims: self.claims(),
            report_data: self.report.report_data.to_vec(),
            init_data: Some(self.report.mr_config_id.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::older;

    fn o(a: Option<&str>, b: Option<&str>) -> Option<String> {
        older(a.map(str::to_owned), b.map(str::to_owned).as_ref())
    }

    /// The older of two tcbDates; on a tie (the same instant spelt two
    /// ways) the platform's (the first) stays; either alone is taken.
    #[test]
    fn older_takes_the_earlier_tcb_date() {
        let (early, late) = ("2023-02-15T00:00:00Z", "2024-03-13T00:00:00Z");
        assert_eq!(o(Some(late), Some(early)).as_deref(), Some(early));
        assert_eq!(o(Some(early), Some(late)).as_deref(), Some(early));
        let same = "2023-02-15T00:00:00.000Z";
        assert_eq!(o(Some(early), Some(same)).as_deref(), Some(early));
        assert_eq!(o(Some(same), Some(early)).as_deref(), Some(same));
        assert_eq!(o(None, Some(late)).as_deref(), Some(late));
        assert_eq!(o(Some(late), None).as_deref(), Some(late));
        assert_eq!(o(None, None), None);
        // An unreadable date does not displace a readable one.
        assert_eq!(o(Some(late), Some("yesterday")).as_deref(), Some(late));
    }
}
