//! The TDX members of Intel's TDX TCB info (v3, `id` `TDX`): per-level
//! `tdxtcbcomponents`, `tdxModule` and `tdxModuleIdentities`, and the TDX
//! level matching Intel's QVL does with them.
//!
//! The platform part (FMSPC, PCE ID, dates, SGX components) is the SGX
//! [`TcbInfo`](crate::sgx::TcbInfo), decoded by the sgx module from the same
//! signed text; this module reads the rest of that text once the signature
//! has verified.

use serde_json::Value;

use crate::sgx::TcbStatus;
use crate::sgx::tcb::{advisories, hex_field, object, status_field, str_field, uint_field};

/// One platform TCB level of a TDX TCB info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxTcbLevel {
    pub sgx_components: [u8; 16],
    pub pce_svn: u16,
    pub tdx_components: [u8; 16],
    pub tcb_date: Option<String>,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

impl TdxTcbLevel {
    /// True when the platform meets this level. With a module major version
    /// (`tee_tcb_svn[1] > 0`) TDX components 0 and 1 are the module's SVNs,
    /// judged by its module identity instead (Intel QVL).
    pub fn met_by(&self, cpu_svn: &[u8; 16], pce_svn: u16, tee_tcb_svn: &[u8; 16]) -> bool {
        let skip = if tee_tcb_svn[1] > 0 { 2 } else { 0 };
        pce_svn >= self.pce_svn
            && cpu_svn
                .iter()
                .zip(&self.sgx_components)
                .all(|(p, l)| p >= l)
            && tee_tcb_svn
                .iter()
                .zip(&self.tdx_components)
                .skip(skip)
                .all(|(p, l)| p >= l)
    }
}

/// The base TDX module identity (`tdxModule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxModule {
    pub mrsigner: [u8; 48],
    pub attributes: [u8; 8],
    pub attributes_mask: [u8; 8],
}

/// One module TCB level of a module identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxModuleTcbLevel {
    pub isv_svn: u8,
    pub tcb_date: Option<String>,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// A TDX module identity (`tdxModuleIdentities[]`), e.g. `TDX_01`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxModuleIdentity {
    pub id: String,
    pub module: TdxModule,
    pub levels: Vec<TdxModuleTcbLevel>,
}

/// The TDX-only content of a verified TDX TCB info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxTcbInfo {
    pub levels: Vec<TdxTcbLevel>,
    pub tdx_module: TdxModule,
    pub module_identities: Vec<TdxModuleIdentity>,
}

impl TdxTcbInfo {
    /// The first level, in Intel QVL's order (see [`parse_tdx_tcb_info`]), the platform meets.
    pub fn match_level(
        &self,
        cpu_svn: &[u8; 16],
        pce_svn: u16,
        tee_tcb_svn: &[u8; 16],
    ) -> Option<&TdxTcbLevel> {
        self.levels
            .iter()
            .find(|l| l.met_by(cpu_svn, pce_svn, tee_tcb_svn))
    }

    /// The module identity named `TDX_%02X` of the major version
    /// `tee_tcb_svn[1]`; `Ok(None)` for major version 0 (base `tdxModule`).
    pub fn module_identity(
        &self,
        tee_tcb_svn: &[u8; 16],
    ) -> Result<Option<&TdxModuleIdentity>, String> {
        if tee_tcb_svn[1] == 0 {
            return Ok(None);
        }
        let want = format!("TDX_{:02X}", tee_tcb_svn[1]);
        self.module_identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&want))
            .map(Some)
            .ok_or(want)
    }
}

fn module(m: &serde_json::Map<String, Value>) -> Result<TdxModule, String> {
    Ok(TdxModule {
        mrsigner: hex_field(m, "mrsigner")?,
        attributes: hex_field(m, "attributes")?,
        attributes_mask: hex_field(m, "attributesMask")?,
    })
}

fn components(tcb: &serde_json::Map<String, Value>, key: &str) -> Result<[u8; 16], String> {
    let comps = tcb
        .get(key)
        .and_then(Value::as_array)
        .filter(|a| a.len() == 16)
        .ok_or_else(|| format!("'{key}' is not an array of 16"))?;
    let mut out = [0u8; 16];
    for (o, c) in out.iter_mut().zip(comps) {
        *o = uint_field(object(c, "a TCB component")?, "svn", 255)? as u8;
    }
    Ok(out)
}

/// Decode the TDX members of a signed `tcbInfo` text whose id is `TDX`.
pub fn parse_tdx_tcb_info(body: &str) -> Result<TdxTcbInfo, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let m = object(&v, "tcbInfo")?;
    let id = str_field(m, "id")?;
    if id != "TDX" {
        return Err(format!("id '{id}' is not 'TDX'"));
    }
    let tdx_module = module(object(
        m.get("tdxModule").ok_or("'tdxModule' is missing")?,
        "'tdxModule'",
    )?)?;
    let mut module_identities = Vec::new();
    if let Some(ids) = m.get("tdxModuleIdentities") {
        for idv in ids
            .as_array()
            .ok_or("'tdxModuleIdentities' is not an array")?
        {
            let im = object(idv, "a TDX module identity")?;
            let mut levels = Vec::new();
            for lv in im
                .get("tcbLevels")
                .and_then(Value::as_array)
                .ok_or("a module identity's 'tcbLevels' is missing")?
            {
                let l = object(lv, "a module TCB level")?;
                let tcb = object(
                    l.get("tcb").ok_or("a module TCB level has no 'tcb'")?,
                    "'tcb'",
                )?;
                levels.push(TdxModuleTcbLevel {
                    isv_svn: uint_field(tcb, "isvsvn", 255)? as u8,
                    tcb_date: l.get("tcbDate").and_then(Value::as_str).map(str::to_owned),
                    status: status_field(l)?,
                    advisory_ids: advisories(l)?,
                });
            }
            module_identities.push(TdxModuleIdentity {
                id: str_field(im, "id")?.to_owned(),
                module: module(im)?,
                levels,
            });
        }
    }
    let mut levels = Vec::new();
    for lv in m
        .get("tcbLevels")
        .and_then(Value::as_array)
        .ok_or("'tcbLevels' is missing or not an array")?
    {
        let l = object(lv, "a TCB level")?;
        let tcb = object(l.get("tcb").ok_or("a TCB level has no 'tcb'")?, "'tcb'")?;
        levels.push(TdxTcbLevel {
            sgx_components: components(tcb, "sgxtcbcomponents")?,
            pce_svn: uint_field(tcb, "pcesvn", 65535)? as u16,
            tdx_components: components(tcb, "tdxtcbcomponents")?,
            tcb_date: l.get("tcbDate").and_then(Value::as_str).map(str::to_owned),
            status: status_field(l)?,
            advisory_ids: advisories(l)?,
        });
    }
    // Intel's QVL does not trust the JSON order: it keeps the levels sorted
    // by SGX components, then PCESVN, then TDX components, highest first
    // (lexicographic), and matches the first the platform meets.
    levels.sort_by(|a, b| {
        b.sgx_components
            .cmp(&a.sgx_components)
            .then(b.pce_svn.cmp(&a.pce_svn))
            .then(b.tdx_components.cmp(&a.tdx_components))
    });
    Ok(TdxTcbInfo {
        levels,
        tdx_module,
        module_identities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_svns_are_left_to_the_module_identity() {
        let l = TdxTcbLevel {
            sgx_components: [2; 16],
            pce_svn: 10,
            tdx_components: [3, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            tcb_date: None,
            status: TcbStatus::UpToDate,
            advisory_ids: vec![],
        };
        let mut svn = [0u8; 16];
        svn[..3].copy_from_slice(&[2, 0, 4]);
        assert!(
            !l.met_by(&[2; 16], 10, &svn),
            "module minor 2 < 3 without a major version"
        );
        svn[1] = 1;
        assert!(
            l.met_by(&[2; 16], 10, &svn),
            "major version set: [0..2] skipped"
        );
        svn[2] = 3;
        assert!(!l.met_by(&[2; 16], 10, &svn));
        svn[2] = 4;
        assert!(!l.met_by(&[2; 16], 9, &svn), "PCESVN below");
    }
}
