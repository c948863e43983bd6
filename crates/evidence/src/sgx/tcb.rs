//! Intel's TCB Info and QE Identity documents: decoding the signed JSON,
//! TCB level matching and the status vocabulary.
//!
//! The signature of a PCS response covers the exact text of its `tcbInfo` /
//! `enclaveIdentity` member, so the member is taken as the raw substring of
//! the received body (serde_json's `RawValue`), never re-serialised.

use serde::Deserialize;

use crate::dcap::DcapTee;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A TCB status as Intel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcbStatus {
    UpToDate,
    SWHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
}

impl TcbStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::UpToDate,
            Self::SWHardeningNeeded,
            Self::ConfigurationNeeded,
            Self::ConfigurationAndSWHardeningNeeded,
            Self::OutOfDate,
            Self::OutOfDateConfigurationNeeded,
            Self::Revoked,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// Combine the platform status with the QE's, as Intel's QVL does
    /// (`convergeTcbStatusWithQeTcbStatus`): an out-of-date QE makes an
    /// otherwise current platform `OutOfDate` (or `OutOfDateConfigurationNeeded`
    /// when the platform needs configuration); a revoked QE revokes the whole;
    /// an up-to-date QE leaves the platform status as it is.
    pub fn converge(platform: TcbStatus, qe: TcbStatus) -> TcbStatus {
        use TcbStatus::*;
        match qe {
            Revoked => Revoked,
            OutOfDate | OutOfDateConfigurationNeeded => match platform {
                UpToDate | SWHardeningNeeded => OutOfDate,
                ConfigurationNeeded | ConfigurationAndSWHardeningNeeded => {
                    OutOfDateConfigurationNeeded
                }
                other => other,
            },
            _ => platform,
        }
    }
}

impl std::fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One platform TCB level of a TCB info document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbLevel {
    pub components: [u8; 16],
    pub pce_svn: u16,
    pub tcb_date: Option<String>,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// A decoded SGX TCB info (v2 or v3); its signature is checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbInfo {
    pub version: u32,
    pub issue_date: i64,
    pub next_update: i64,
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    pub tcb_evaluation_data_number: Option<u64>,
    pub levels: Vec<TcbLevel>,
}

impl TcbInfo {
    /// The first level (Intel orders them newest first) whose every CPUSVN
    /// component and PCESVN the platform meets or exceeds.
    pub fn match_level(&self, components: &[u8; 16], pce_svn: u16) -> Option<&TcbLevel> {
        self.levels.iter().find(|l| {
            pce_svn >= l.pce_svn
                && components
                    .iter()
                    .zip(l.components.iter())
                    .all(|(p, l)| p >= l)
        })
    }
}

/// One QE identity TCB level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeTcbLevel {
    pub isv_svn: u16,
    pub tcb_date: Option<String>,
    pub status: TcbStatus,
    pub advisory_ids: Vec<String>,
}

/// A decoded QE identity (v2); its signature is checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeIdentity {
    pub version: u32,
    pub issue_date: i64,
    pub next_update: i64,
    pub miscselect: u32,
    pub miscselect_mask: u32,
    pub attributes: [u8; 16],
    pub attributes_mask: [u8; 16],
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub levels: Vec<QeTcbLevel>,
}

impl QeIdentity {
    /// The first level whose ISVSVN the QE meets or exceeds.
    pub fn match_level(&self, isv_svn: u16) -> Option<&QeTcbLevel> {
        self.levels.iter().find(|l| isv_svn >= l.isv_svn)
    }
}

/// A PCS response split into the signed member's exact text and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument<'a> {
    /// The member's text exactly as received: the signed bytes.
    pub body: &'a str,
    /// ECDSA P-256 signature, raw r ‖ s.
    pub signature: [u8; 64],
}

#[derive(Deserialize)]
struct TcbInfoEnvelope<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityEnvelope<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

fn signature_hex(s: &str) -> Result<[u8; 64], String> {
    let bytes = hex::decode(s).map_err(|e| format!("signature is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("signature is {} bytes, expected 64", b.len()))
}

/// Split a TCB info response into its signed `tcbInfo` text and signature.
pub fn split_tcb_info(json: &str) -> Result<SignedDocument<'_>, String> {
    let env: TcbInfoEnvelope<'_> =
        serde_json::from_str(json).map_err(|e| format!("not a TCB info response: {e}"))?;
    Ok(SignedDocument {
        body: env.tcb_info.get(),
        signature: signature_hex(&env.signature)?,
    })
}

/// Split a QE identity response into its signed `enclaveIdentity` text and signature.
pub fn split_qe_identity(json: &str) -> Result<SignedDocument<'_>, String> {
    let env: QeIdentityEnvelope<'_> =
        serde_json::from_str(json).map_err(|e| format!("not a QE identity response: {e}"))?;
    Ok(SignedDocument {
        body: env.enclave_identity.get(),
        signature: signature_hex(&env.signature)?,
    })
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fff]Z` to Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &b[19..b.len() - 1];
    if !(frac.is_empty()
        || (frac[0] == b'.' && frac.len() > 1 && frac[1..].iter().all(u8::is_ascii_digit)))
    {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

pub(crate) fn str_field<'v>(m: &'v Map<String, Value>, k: &str) -> Result<&'v str, String> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("'{k}' is missing or not a string"))
}

pub(crate) fn uint_field(m: &Map<String, Value>, k: &str, max: u64) -> Result<u64, String> {
    m.get(k)
        .and_then(Value::as_u64)
        .filter(|v| *v <= max)
        .ok_or_else(|| format!("'{k}' is missing or not an integer up to {max}"))
}

pub(crate) fn time_field(m: &Map<String, Value>, k: &str) -> Result<i64, String> {
    let s = str_field(m, k)?;
    parse_time(s).ok_or_else(|| format!("'{k}' is not an RFC 3339 UTC time: {s}"))
}

pub(crate) fn hex_field<const N: usize>(
    m: &Map<String, Value>,
    k: &str,
) -> Result<[u8; N], String> {
    let v = hex::decode(str_field(m, k)?).map_err(|e| format!("'{k}' is not hex: {e}"))?;
    v.try_into()
        .map_err(|v: Vec<u8>| format!("'{k}' is {} bytes, expected {N}", v.len()))
}

pub(crate) fn status_field(m: &Map<String, Value>) -> Result<TcbStatus, String> {
    let s = str_field(m, "tcbStatus")?;
    TcbStatus::parse(s).ok_or_else(|| format!("unknown tcbStatus '{s}'"))
}

pub(crate) fn advisories(m: &Map<String, Value>) -> Result<Vec<String>, String> {
    match m.get("advisoryIDs") {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "advisoryIDs holds a non-string".to_string())
            })
            .collect(),
        Some(_) => Err("advisoryIDs is not an array".into()),
    }
}

pub(crate) fn object<'v>(v: &'v Value, what: &str) -> Result<&'v Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not an object"))
}

/// Decode the signed `tcbInfo` text of an SGX TCB info v2 or v3.
pub fn parse_tcb_info(body: &str) -> Result<TcbInfo, String> {
    parse_tcb_info_for(body, DcapTee::Sgx)
}

/// Decode a TCB info's platform part for `tee`: SGX accepts v2 and v3
/// (`id` `SGX`), TDX only v3 with `id` `TDX` (its TDX-only members are read
/// by the tdx module).
pub(crate) fn parse_tcb_info_for(body: &str, tee: DcapTee) -> Result<TcbInfo, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let m = object(&v, "tcbInfo")?;
    let version = uint_field(m, "version", u32::MAX as u64)? as u32;
    if tee == DcapTee::Tdx && version != 3 {
        return Err(format!(
            "TDX TCB info version {version} is not supported (3 is)"
        ));
    }
    if version != 2 && version != 3 {
        return Err(format!("version {version} is not supported (2 and 3 are)"));
    }
    if version == 3 {
        let want = if tee == DcapTee::Tdx { "TDX" } else { "SGX" };
        let id = str_field(m, "id")?;
        if id != want {
            return Err(format!("id '{id}' is not '{want}'"));
        }
    }
    let levels_v = m
        .get("tcbLevels")
        .and_then(Value::as_array)
        .ok_or("'tcbLevels' is missing or not an array")?;
    let mut levels = Vec::with_capacity(levels_v.len());
    for lv in levels_v {
        let l = object(lv, "a TCB level")?;
        let tcb = object(l.get("tcb").ok_or("a TCB level has no 'tcb'")?, "'tcb'")?;
        let mut components = [0u8; 16];
        if version == 3 {
            let comps = tcb
                .get("sgxtcbcomponents")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 16)
                .ok_or("'sgxtcbcomponents' is not an array of 16")?;
            for (i, c) in comps.iter().enumerate() {
                components[i] = uint_field(object(c, "a TCB component")?, "svn", 255)? as u8;
            }
        } else {
            for (i, c) in components.iter_mut().enumerate() {
                *c = uint_field(tcb, &format!("sgxtcbcomp{:02}svn", i + 1), 255)? as u8;
            }
        }
        levels.push(TcbLevel {
            components,
            pce_svn: uint_field(tcb, "pcesvn", 65535)? as u16,
            tcb_date: l.get("tcbDate").and_then(Value::as_str).map(str::to_owned),
            status: status_field(l)?,
            advisory_ids: advisories(l)?,
        });
    }
    Ok(TcbInfo {
        version,
        issue_date: time_field(m, "issueDate")?,
        next_update: time_field(m, "nextUpdate")?,
        fmspc: hex_field(m, "fmspc")?,
        pce_id: hex_field(m, "pceId")?,
        tcb_evaluation_data_number: m.get("tcbEvaluationDataNumber").and_then(Value::as_u64),
        levels,
    })
}

/// Decode the signed `enclaveIdentity` text of a QE identity v2.
pub fn parse_qe_identity(body: &str) -> Result<QeIdentity, String> {
    parse_qe_identity_for(body, DcapTee::Sgx)
}

/// Decode a QE identity v2 for `tee`: `id` `QE` for SGX, `TD_QE` for TDX.
pub(crate) fn parse_qe_identity_for(body: &str, tee: DcapTee) -> Result<QeIdentity, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let m = object(&v, "enclaveIdentity")?;
    let want = if tee == DcapTee::Tdx { "TD_QE" } else { "QE" };
    let id = str_field(m, "id")?;
    if id != want {
        return Err(format!("id '{id}' is not '{want}'"));
    }
    let version = uint_field(m, "version", u32::MAX as u64)? as u32;
    if version != 2 {
        return Err(format!("version {version} is not supported (2 is)"));
    }
    let levels_v = m
        .get("tcbLevels")
        .and_then(Value::as_array)
        .ok_or("'tcbLevels' is missing or not an array")?;
    let mut levels = Vec::with_capacity(levels_v.len());
    for lv in levels_v {
        let l = object(lv, "a TCB level")?;
        let tcb = object(l.get("tcb").ok_or("a TCB level has no 'tcb'")?, "'tcb'")?;
        levels.push(QeTcbLevel {
            isv_svn: uint_field(tcb, "isvsvn", 65535)? as u16,
            tcb_date: l.get("tcbDate").and_then(Value::as_str).map(str::to_owned),
            status: status_field(l)?,
            advisory_ids: advisories(l)?,
        });
    }
    Ok(QeIdentity {
        version,
        issue_date: time_field(m, "issueDate")?,
        next_update: time_field(m, "nextUpdate")?,
        // The hex is the field's bytes as they sit in the report (little-
        // endian), as Intel's QVL and dcap-qvl compare them.
        miscselect: u32::from_le_bytes(hex_field(m, "miscselect")?),
        miscselect_mask: u32::from_le_bytes(hex_field(m, "miscselectMask")?),
        attributes: hex_field(m, "attributes")?,
        attributes_mask: hex_field(m, "attributesMask")?,
        mrsigner: hex_field(m, "mrsigner")?,
        isv_prod_id: uint_field(m, "isvprodid", 65535)? as u16,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2023-07-12T20:48:25Z"), Some(1_689_194_905));
        assert_eq!(parse_time("2023-07-12T20:48:25.000Z"), Some(1_689_194_905));
        assert_eq!(parse_time("2023-07-12 20:48:25Z"), None);
        assert_eq!(parse_time("2023-13-12T20:48:25Z"), None);
    }

    #[test]
    fn converge_follows_qvl() {
        use TcbStatus::*;
        assert_eq!(
            TcbStatus::converge(SWHardeningNeeded, UpToDate),
            SWHardeningNeeded
        );
        assert_eq!(TcbStatus::converge(UpToDate, OutOfDate), OutOfDate);
        assert_eq!(
            TcbStatus::converge(ConfigurationAndSWHardeningNeeded, OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(TcbStatus::converge(UpToDate, Revoked), Revoked);
    }

    #[test]
    fn tcb_info_v2_levels_match_like_v3() {
        let comps: String = (1..=16)
            .map(|i| format!("\"sgxtcbcomp{i:02}svn\":{}", if i <= 2 { 5 } else { 0 }))
            .collect::<Vec<_>>()
            .join(",");
        let body = format!(
            r#"{{"version":2,"issueDate":"2020-01-01T00:00:00Z","nextUpdate":"2020-02-01T00:00:00Z","fmspc":"00906ED50000","pceId":"0000","tcbLevels":[{{"tcb":{{{comps},"pcesvn":9}},"tcbDate":"2019-11-13T00:00:00Z","tcbStatus":"OutOfDate"}}]}}"#
        );
        let info = parse_tcb_info(&body).unwrap();
        assert_eq!(info.version, 2);
        assert_eq!(info.levels[0].components[..3], [5, 5, 0]);
        let mut platform = [0u8; 16];
        platform[0] = 5;
        platform[1] = 5;
        assert_eq!(
            info.match_level(&platform, 9).unwrap().status,
            TcbStatus::OutOfDate
        );
        assert!(
            info.match_level(&platform, 8).is_none(),
            "PCESVN below the level"
        );
        platform[1] = 4;
        assert!(
            info.match_level(&platform, 9).is_none(),
            "a component below the level"
        );
        assert!(parse_tcb_info(&body.replace("OutOfDate", "Bogus")).is_err());
        assert!(parse_tcb_info(&body.replace("\"version\":2", "\"version\":4")).is_err());
    }

    #[test]
    fn the_signed_member_is_the_received_text() {
        let doc = split_tcb_info(r#"{"tcbInfo":{"b": 1,  "a":2},"signature":"00"}"#);
        assert!(doc.is_err(), "short signature rejected");
        let sig = "ab".repeat(64);
        let json = format!(r#"{{"tcbInfo":{{"b": 1,  "a":2}},"signature":"{sig}"}}"#);
        assert_eq!(split_tcb_info(&json).unwrap().body, r#"{"b": 1,  "a":2}"#);
    }
}
