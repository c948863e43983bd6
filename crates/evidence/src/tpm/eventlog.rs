//! TCG event logs (TCG PC Client Platform Firmware Profile): the legacy
//! SHA-1 format (`TCG_PCClientPCREvent` only) and the crypto-agile format
//! (a first SHA-1-format `EV_NO_ACTION` event holding the "Spec ID Event03"
//! structure, then `TCG_PCR_EVENT2` events with one digest per bank).
//!
//! [`EventLog::parse`] is total; [`EventLog::replay`] recomputes the PCR
//! values each bank would hold. Nothing in a log is trusted by itself: its
//! events mean something only after the replay equals PCR values a verified
//! quote attests (see `verify`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::devicepath::{image_load_event, load_option};
use super::structures::{TPM_ALG_SHA1, digest_size, hash, hash_name};
use super::windows::{EV_EVENT_TAG, event_tag_json};
use crate::error::ParseError;
use crate::reader::Reader;

pub const EV_NO_ACTION: u32 = 0x3;
pub const EV_SEPARATOR: u32 = 0x4;
pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
pub const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00e0;
pub const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
pub const EV_EFI_BOOT_SERVICES_DRIVER: u32 = 0x8000_0004;
pub const EV_EFI_RUNTIME_SERVICES_DRIVER: u32 = 0x8000_0005;
pub const EV_EFI_VARIABLE_BOOT2: u32 = 0x8000_000c;
pub const EV_EFI_GPT_EVENT: u32 = 0x8000_0006;
pub const EV_EFI_ACTION: u32 = 0x8000_0007;

/// The EFI global variable GUID (SecureBoot, PK, KEK …), in its text form.
pub const EFI_GLOBAL_VARIABLE: &str = "8BE4DF61-93CA-11D2-AA0D-00E098032B8C";

/// The name of an event type, as TCG specs and MAA's `EventTypeString` spell it.
pub fn event_type_name(t: u32) -> String {
    let name = match t {
        0x0 => "EV_PREBOOT_CERT",
        0x1 => "EV_POST_CODE",
        0x2 => "EV_UNUSED",
        0x3 => "EV_NO_ACTION",
        0x4 => "EV_SEPARATOR",
        0x5 => "EV_ACTION",
        0x6 => "EV_EVENT_TAG",
        0x7 => "EV_S_CRTM_CONTENTS",
        0x8 => "EV_S_CRTM_VERSION",
        0x9 => "EV_CPU_MICROCODE",
        0xa => "EV_PLATFORM_CONFIG_FLAGS",
        0xb => "EV_TABLE_OF_DEVICES",
        0xc => "EV_COMPACT_HASH",
        0xd => "EV_IPL",
        0xe => "EV_IPL_PARTITION_DATA",
        0xf => "EV_NONHOST_CODE",
        0x10 => "EV_NONHOST_CONFIG",
        0x11 => "EV_NONHOST_INFO",
        0x12 => "EV_OMIT_BOOT_DEVICE_EVENTS",
        0x8000_0000 => "EV_EFI_EVENT_BASE",
        0x8000_0001 => "EV_EFI_VARIABLE_DRIVER_CONFIG",
        0x8000_0002 => "EV_EFI_VARIABLE_BOOT",
        0x8000_0003 => "EV_EFI_BOOT_SERVICES_APPLICATION",
        0x8000_0004 => "EV_EFI_BOOT_SERVICES_DRIVER",
        0x8000_0005 => "EV_EFI_RUNTIME_SERVICES_DRIVER",
        0x8000_0006 => "EV_EFI_GPT_EVENT",
        0x8000_0007 => "EV_EFI_ACTION",
        0x8000_0008 => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
        0x8000_0009 => "EV_EFI_HANDOFF_TABLES",
        0x8000_000a => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
        0x8000_000b => "EV_EFI_HANDOFF_TABLES2",
        0x8000_000c => "EV_EFI_VARIABLE_BOOT2",
        0x8000_0010 => "EV_EFI_HCRTM_EVENT",
        0x8000_00e0 => "EV_EFI_VARIABLE_AUTHORITY",
        0x8000_00e1 => "EV_EFI_SPDM_FIRMWARE_BLOB",
        0x8000_00e2 => "EV_EFI_SPDM_FIRMWARE_CONFIG",
        _ => return format!("EV_UNKNOWN_{t:#x}"),
    };
    name.to_string()
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub pcr_index: u32,
    pub event_type: u32,
    /// Digest per bank (hash algorithm id → digest).
    pub digests: BTreeMap<u16, Vec<u8>>,
    pub data: Vec<u8>,
}

/// Which format the log is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// SHA-1 only (TPM 1.2 style).
    Sha1,
    /// Crypto-agile, with the banks the Spec ID event lists.
    CryptoAgile,
}

/// A parsed event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    pub format: LogFormat,
    /// The banks the log carries (hash algorithm ids), in Spec ID order.
    pub banks: Vec<u16>,
    /// Events in order, the Spec ID header event excluded.
    pub events: Vec<Event>,
}

/// Replayed PCR values: bank → PCR index → value. PCRs no event touched are absent.
pub type Pcrs = BTreeMap<u16, BTreeMap<u32, Vec<u8>>>;

const SPEC_ID_SIGNATURE: &[u8] = b"Spec ID Event03\0";
const STARTUP_LOCALITY: &[u8] = b"StartupLocality\0";
/// Bound on events, so a hostile log cannot make us allocate without end.
const MAX_EVENTS: usize = 100_000;
/// Bound on one event's data.
const MAX_EVENT_DATA: usize = 16 * 1024 * 1024;

fn legacy_event(r: &mut Reader<'_>) -> Result<Event, ParseError> {
    let pcr_index = r.u32_le()?;
    let event_type = r.u32_le()?;
    let digest = r.take(20)?.to_vec();
    let size = r.u32_le()? as usize;
    if size > MAX_EVENT_DATA {
        return Err(ParseError::Malformed {
            what: "TCG event",
            reason: format!("event data of {size} bytes"),
        });
    }
    let data = r.take(size)?.to_vec();
    let mut digests = BTreeMap::new();
    digests.insert(TPM_ALG_SHA1, digest);
    Ok(Event {
        pcr_index,
        event_type,
        digests,
        data,
    })
}

/// Parse the Spec ID event data: the banks and their digest sizes.
fn spec_id(data: &[u8]) -> Result<Vec<(u16, usize)>, ParseError> {
    let mut r = Reader::new(data, "Spec ID Event03");
    r.take(SPEC_ID_SIGNATURE.len())?;
    let _platform_class = r.u32_le()?;
    let _minor = r.u8()?;
    let _major = r.u8()?;
    let _errata = r.u8()?;
    let _uintn = r.u8()?;
    let n = r.u32_le()?;
    if n == 0 || n > 16 {
        return Err(ParseError::Malformed {
            what: "Spec ID Event03",
            reason: format!("{n} algorithms"),
        });
    }
    let mut algs = Vec::new();
    for _ in 0..n {
        let alg = r.u16_le()?;
        let size = r.u16_le()? as usize;
        if let Some(known) = digest_size(alg)
            && known != size
        {
            return Err(ParseError::Malformed {
                what: "Spec ID Event03",
                reason: format!("algorithm {alg:#06x} with digest size {size}"),
            });
        }
        algs.push((alg, size));
    }
    Ok(algs)
}

impl EventLog {
    /// Parse a log in either format. Total.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TCG event log");
        let first = legacy_event(&mut r)?;
        let is_agile = first.event_type == EV_NO_ACTION
            && first.pcr_index == 0
            && first.data.starts_with(SPEC_ID_SIGNATURE);
        if !is_agile {
            let mut events = vec![first];
            while !r.is_empty() {
                if events.len() >= MAX_EVENTS {
                    return Err(ParseError::Malformed {
                        what: "TCG event log",
                        reason: "too many events".into(),
                    });
                }
                events.push(legacy_event(&mut r)?);
            }
            return Ok(Self {
                format: LogFormat::Sha1,
                banks: vec![TPM_ALG_SHA1],
                events,
            });
        }
        let algs = spec_id(&first.data)?;
        let mut events = Vec::new();
        while !r.is_empty() {
            if events.len() >= MAX_EVENTS {
                return Err(ParseError::Malformed {
                    what: "TCG event log",
                    reason: "too many events".into(),
                });
            }
            let pcr_index = r.u32_le()?;
            let event_type = r.u32_le()?;
            let count = r.u32_le()?;
            if count as usize > algs.len() {
                return Err(ParseError::Malformed {
                    what: "TCG_PCR_EVENT2",
                    reason: format!("{count} digests, the log declares {} banks", algs.len()),
                });
            }
            let mut digests = BTreeMap::new();
            for _ in 0..count {
                let alg = r.u16_le()?;
                let size = algs
                    .iter()
                    .find(|(a, _)| *a == alg)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| ParseError::Malformed {
                        what: "TCG_PCR_EVENT2",
                        reason: format!("digest for undeclared algorithm {alg:#06x}"),
                    })?;
                digests.insert(alg, r.take(size)?.to_vec());
            }
            let size = r.u32_le()? as usize;
            if size > MAX_EVENT_DATA {
                return Err(ParseError::Malformed {
                    what: "TCG_PCR_EVENT2",
                    reason: format!("event data of {size} bytes"),
                });
            }
            let data = r.take(size)?.to_vec();
            events.push(Event {
                pcr_index,
                event_type,
                digests,
                data,
            });
        }
        Ok(Self {
            format: LogFormat::CryptoAgile,
            banks: algs.into_iter().map(|(a, _)| a).collect(),
            events,
        })
    }

    /// Replay every bank: PCR = H(PCR ‖ digest) for each measured event.
    /// `EV_NO_ACTION` events are not measured; a StartupLocality event sets
    /// PCR 0's starting value to its locality (H-CRTM / locality 3 starts).
    pub fn replay(&self) -> Pcrs {
        let mut out: Pcrs = BTreeMap::new();
        for &bank in &self.banks {
            let Some(size) = digest_size(bank) else {
                continue;
            };
            let mut pcrs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
            for e in &self.events {
                if e.event_type == EV_NO_ACTION {
                    if e.pcr_index == 0
                        && e.data.starts_with(STARTUP_LOCALITY)
                        && let Some(&loc) = e.data.get(STARTUP_LOCALITY.len())
                    {
                        let mut v = vec![0u8; size];
                        v[size - 1] = loc;
                        pcrs.insert(0, v);
                    }
                    continue;
                }
                let Some(d) = e.digests.get(&bank) else {
                    continue;
                };
                let cur = pcrs.entry(e.pcr_index).or_insert_with(|| vec![0u8; size]);
                let mut buf = cur.clone();
                buf.extend_from_slice(d);
                if let Some(h) = hash(bank, &buf) {
                    *cur = h;
                }
            }
            out.insert(bank, pcrs);
        }
        out
    }

    /// Replayed values as JSON: `{"sha256": {"0": "hex", …}, …}`.
    pub fn replay_json(&self) -> Value {
        let mut banks = serde_json::Map::new();
        for (bank, pcrs) in self.replay() {
            let m: serde_json::Map<String, Value> = pcrs
                .into_iter()
                .map(|(i, v)| (i.to_string(), json!(hex::encode(v))))
                .collect();
            banks.insert(hash_name(bank).to_ascii_lowercase(), Value::Object(m));
        }
        Value::Object(banks)
    }

    /// Every event as MAA's `events` claim presents them:
    /// `{"Events":[{"EventSeq","PcrIndex","EventTypeString","Digests",
    /// "ProcessedData"?}]}`, with the event data decoded by [`processed_data`].
    ///
    /// This is a decoding of an unverified log (for `attesta inspect`); a
    /// claim must come from [`EventLog::proven_events_json`].
    pub fn events_json(&self) -> Value {
        self.render(|e| {
            Some(Rendered {
                banks: e.digests.keys().copied().collect(),
                data: true,
            })
        })
    }

    /// The `events` claim: only what a verified quote proves of the log.
    ///
    /// `quoted` holds the PCR values verified quotes attest, after the log
    /// replayed to every one of them it touches (check 6 of `verify`), so an
    /// event's digest in bank B is proven exactly when B quoted its PCR.
    /// Then, per event:
    /// - an event with no proven digest is left out entirely: an
    ///   `EV_NO_ACTION` event (never extended), an event in a PCR no quote
    ///   covered (PCR 65545 included), or one whose digests are all in
    ///   unquoted banks;
    /// - `Digests` lists only the proven banks;
    /// - `ProcessedData` is given only when the event data hashes to a
    ///   proven digest, i.e. when the data is the measured content. For
    ///   events whose digest is of something else (an image load event
    ///   measures the PE image, not its device path; an
    ///   `EV_EFI_VARIABLE_BOOT` event from firmware that measures only
    ///   VariableData) the decoded data is not proven and is dropped.
    ///
    /// `EventSeq` is the event's position in the log and `EventTypeString`
    /// the log's word for it: TCG logs do not measure event types, so no
    /// quote proves them.
    pub fn proven_events_json(&self, quoted: &Pcrs) -> Value {
        self.render(|e| {
            if e.event_type == EV_NO_ACTION {
                return None;
            }
            let banks: Vec<u16> = e
                .digests
                .keys()
                .copied()
                .filter(|b| digest_size(*b).is_some() && quotes_pcr(quoted, *b, e.pcr_index))
                .collect();
            if banks.is_empty() {
                return None;
            }
            let data = banks
                .iter()
                .any(|b| hash(*b, &e.data).as_deref() == e.digests.get(b).map(Vec::as_slice));
            Some(Rendered { banks, data })
        })
    }

    fn render(&self, what: impl Fn(&Event) -> Option<Rendered>) -> Value {
        // Values are built in place: `json!` would serialize each nested
        // map and list again (a deep copy per level), which tripled the cost
        // of this claim on a 40 KiB log.
        let events: Vec<Value> = self
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let r = what(e)?;
                let digests: serde_json::Map<String, Value> = r
                    .banks
                    .iter()
                    .filter_map(|a| {
                        let d = e.digests.get(a)?;
                        Some((hash_name(*a).to_string(), Value::String(hex::encode(d))))
                    })
                    .collect();
                let mut v = serde_json::Map::with_capacity(5);
                v.insert("EventSeq".into(), Value::from(i));
                v.insert("PcrIndex".into(), Value::from(e.pcr_index));
                v.insert(
                    "EventTypeString".into(),
                    Value::String(event_type_name(e.event_type)),
                );
                v.insert("Digests".into(), Value::Object(digests));
                if r.data
                    && let Some(pd) = processed_data(e)
                {
                    v.insert("ProcessedData".into(), pd);
                }
                Some(Value::Object(v))
            })
            .collect();
        let mut out = serde_json::Map::with_capacity(1);
        out.insert("Events".into(), Value::Array(events));
        Value::Object(out)
    }
}

/// Whether verified quotes attest PCR `pcr` in bank `bank`.
pub fn quotes_pcr(quoted: &Pcrs, bank: u16, pcr: u32) -> bool {
    quoted.get(&bank).is_some_and(|q| q.contains_key(&pcr))
}

/// What of one event a rendering shows: the banks of its digests, and
/// whether its decoded data (`ProcessedData`) is shown.
struct Rendered {
    banks: Vec<u16>,
    data: bool,
}

/// `ProcessedData` of one event in MAA's `events` claim, `None` for event
/// types with nothing to decode or data that does not decode:
///
/// - UEFI variable events: `VariableGuid`, `UnicodeName`, `VariableData`
///   (base64url), as MAA's samples read them; for the global `Boot####`
///   variables of `EV_EFI_VARIABLE_BOOT`/`EV_EFI_VARIABLE_BOOT2` also the
///   load option's `Description` and `DevicePath` (its first file path, as
///   text), and for `BootOrder` the `BootOrder` list (`"Boot0001"`, …);
/// - image load events (`EV_EFI_BOOT_SERVICES_APPLICATION`, `…_DRIVER`,
///   `EV_EFI_RUNTIME_SERVICES_DRIVER`): `ImageLocationInMemory`,
///   `ImageLengthInMemory`, `ImageLinkTimeAddress`, `DevicePath`;
/// - `EV_EVENT_TAG`: the Windows SIPA items (see [`super::windows`]).
pub fn processed_data(e: &Event) -> Option<Value> {
    use base64::Engine;
    if let Some(var) = efi_variable(e) {
        let mut pd = json!({
            "VariableGuid": var.guid,
            "UnicodeName": var.name,
            "VariableData": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&var.data),
        });
        if matches!(e.event_type, EV_EFI_VARIABLE_BOOT | EV_EFI_VARIABLE_BOOT2)
            && var.guid == EFI_GLOBAL_VARIABLE
        {
            if is_boot_option_name(&var.name) {
                if let Some(lo) = load_option(&var.data) {
                    pd["Description"] = json!(lo.description);
                    pd["DevicePath"] = json!(lo.file_paths.first().cloned().unwrap_or_default());
                }
            } else if var.name == "BootOrder" && var.data.len() % 2 == 0 {
                let order: Vec<String> = var
                    .data
                    .chunks_exact(2)
                    .map(|c| format!("Boot{:04X}", u16::from_le_bytes([c[0], c[1]])))
                    .collect();
                pd["BootOrder"] = json!(order);
            }
        }
        return Some(pd);
    }
    match e.event_type {
        EV_EFI_BOOT_SERVICES_APPLICATION
        | EV_EFI_BOOT_SERVICES_DRIVER
        | EV_EFI_RUNTIME_SERVICES_DRIVER => {
            let il = image_load_event(&e.data)?;
            Some(json!({
                "ImageLocationInMemory": il.location_in_memory,
                "ImageLengthInMemory": il.length_in_memory,
                "ImageLinkTimeAddress": il.link_time_address,
                "DevicePath": il.device_path,
            }))
        }
        EV_EVENT_TAG => event_tag_json(&e.data),
        _ => None,
    }
}

/// `Boot####` with four upper-case hex digits, as UEFI names load options.
fn is_boot_option_name(name: &str) -> bool {
    name.len() == 8
        && name.starts_with("Boot")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// A decoded `UEFI_VARIABLE_DATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiVariable {
    /// Upper-case text GUID.
    pub guid: String,
    pub name: String,
    pub data: Vec<u8>,
}

/// Decode the `UEFI_VARIABLE_DATA` of a variable event, if it is one.
pub fn efi_variable(e: &Event) -> Option<EfiVariable> {
    if !matches!(
        e.event_type,
        EV_EFI_VARIABLE_DRIVER_CONFIG
            | EV_EFI_VARIABLE_BOOT
            | EV_EFI_VARIABLE_AUTHORITY
            | EV_EFI_VARIABLE_BOOT2
    ) {
        return None;
    }
    let mut r = Reader::new(&e.data, "UEFI_VARIABLE_DATA");
    let g = r.array::<16>().ok()?;
    let name_len = usize::try_from(r.u64_le().ok()?).ok()?;
    let data_len = usize::try_from(r.u64_le().ok()?).ok()?;
    let name_bytes = r.take(name_len.checked_mul(2)?).ok()?;
    let data = r.take(data_len).ok()?.to_vec();
    let units: Vec<u16> = name_bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let name = String::from_utf16_lossy(&units);
    let guid = super::devicepath::guid_text(&g);
    Some(EfiVariable { guid, name, data })
}

/// Secure boot state from the log: the last `EV_EFI_VARIABLE_DRIVER_CONFIG`
/// event in PCR 7 for the global variable `SecureBoot` holds 1 (enabled) or
/// 0. `None` when the log records no such event.
pub fn secure_boot(log: &EventLog) -> Option<bool> {
    secure_boot_where(log, |_| true)
}

/// [`secure_boot`] over the events `keep` accepts (a verifier keeps only
/// the events it has proven).
pub fn secure_boot_where(log: &EventLog, keep: impl Fn(&Event) -> bool) -> Option<bool> {
    log.events
        .iter()
        .rev()
        .filter(|e| e.pcr_index == 7 && e.event_type == EV_EFI_VARIABLE_DRIVER_CONFIG)
        .filter(|e| keep(e))
        .filter_map(efi_variable)
        .find(|v| v.guid == EFI_GLOBAL_VARIABLE && v.name == "SecureBoot")
        .map(|v| v.data.first() == Some(&1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_logs_are_errors() {
        assert!(EventLog::parse(&[]).is_err());
        assert!(EventLog::parse(&[0u8; 31]).is_err());
        // A legacy event with a lying size.
        let mut e = vec![0u8; 28];
        e.extend_from_slice(&100u32.to_le_bytes());
        assert!(EventLog::parse(&e).is_err());
    }

    #[test]
    fn legacy_replay() {
        let mut log = Vec::new();
        log.extend_from_slice(&4u32.to_le_bytes());
        log.extend_from_slice(&EV_SEPARATOR.to_le_bytes());
        log.extend_from_slice(&[0xAB; 20]);
        log.extend_from_slice(&4u32.to_le_bytes());
        log.extend_from_slice(&[0, 0, 0, 0]);
        let parsed = EventLog::parse(&log).unwrap();
        assert_eq!(parsed.format, LogFormat::Sha1);
        let mut buf = vec![0u8; 20];
        buf.extend_from_slice(&[0xAB; 20]);
        assert_eq!(
            parsed.replay()[&TPM_ALG_SHA1][&4],
            hash(TPM_ALG_SHA1, &buf).unwrap()
        );
    }
}
