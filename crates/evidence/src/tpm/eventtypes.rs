//! What an event's type may say, judged from what the quote does prove.
//!
//! A TCG log's event type is not measured: the TPM extends a PCR with the
//! event's digest, never with its type, so a log can relabel an event —
//! turn the `EV_EFI_VARIABLE_DRIVER_CONFIG` event that records
//! `SecureBoot = 0` into an undefined type, or into
//! `EV_EFI_VARIABLE_AUTHORITY`, and a policy that selects events by
//! `EventTypeString` no longer sees it — while the log still replays.
//!
//! What the quote proves is the PCR an event extends and, for most events
//! the claims read, the event data (its digest is the hash of the data).
//! [`check_event`] accepts a type only when it is consistent with those:
//!
//! 1. the type is one the TCG PC Client Platform Firmware Profile defines
//!    (`EV_EFI_EVENT_BASE`, `EV_UNUSED` and the deprecated `EV_PREBOOT_CERT`
//!    are not event types; `EV_NO_ACTION` is never extended and is left to
//!    the replay);
//! 2. the type may extend the event's PCR (the profile's PCR usage: boot
//!    variables in PCR 1, secure-boot authorities in PCR 7, GPT in PCR 5,
//!    boot applications in PCR 2 or 4, drivers in PCR 0 or 2, the S-CRTM
//!    and POST events in PCR 0, …);
//! 3. the data has the form the type defines (`UEFI_VARIABLE_DATA` that
//!    fills the event exactly, `UEFI_IMAGE_LOAD_EVENT`, `UEFI_GPT_DATA`, a
//!    4-byte separator, ASCII actions, tagged-event sequences, …);
//! 4. for UEFI variables, the variable fits the type: `Boot####` and
//!    `BootOrder` only as `EV_EFI_VARIABLE_BOOT`/`…BOOT2` and nothing else
//!    as those; in PCR 7, `EV_EFI_VARIABLE_DRIVER_CONFIG` only for the
//!    secure-boot policy variables (`SecureBoot`, `PK`, `KEK`, `db`, `dbx`,
//!    `dbt`, `dbr`, `DeployedMode`, `AuditMode`; signature databases as
//!    `EFI_SIGNATURE_LIST`s that fill the data), and
//!    `EV_EFI_VARIABLE_AUTHORITY` for none of them except `db`, whose
//!    authority entry is one `EFI_SIGNATURE_DATA`, never a list.
//!
//! Forms are checked only as far as every real log in the test vectors
//! holds them: shim writes authority events whose declared data length is
//! short of the event, and image load events with bytes after the device
//! path, so those two forms accept trailing bytes.
//!
//! Beyond single events, each of the firmware's PCRs 0–7 that the log
//! extends holds exactly one `EV_SEPARATOR` ([`check_separators`]), so a
//! separator relabelled as a type of the same form still shows.
//!
//! What remains unprovable are relabels between types of the same PCR and
//! the same form: `EV_EFI_BOOT_SERVICES_DRIVER` and
//! `EV_EFI_RUNTIME_SERVICES_DRIVER`; in PCR 0, `EV_NONHOST_CODE` and
//! `EV_NONHOST_INFO`, whose data the profile leaves free, and the S-CRTM
//! version string or GUID taken for one of them; in PCRs 4, 5 and 10–13
//! (not where boot loaders write `EV_IPL`: 8, 9, 14), `EV_IPL` and
//! `EV_COMPACT_HASH`. A policy that must tell those apart has to read the
//! data (which the quote proves) rather than the type.

use super::eventlog::{
    EFI_GLOBAL_VARIABLE, EV_EFI_ACTION, EV_EFI_BOOT_SERVICES_APPLICATION,
    EV_EFI_BOOT_SERVICES_DRIVER, EV_EFI_GPT_EVENT, EV_EFI_RUNTIME_SERVICES_DRIVER,
    EV_EFI_VARIABLE_AUTHORITY, EV_EFI_VARIABLE_BOOT, EV_EFI_VARIABLE_BOOT2,
    EV_EFI_VARIABLE_DRIVER_CONFIG, EV_NO_ACTION, EV_SEPARATOR, Event,
};
use super::windows::EV_EVENT_TAG;
use crate::reader::Reader;

const EV_POST_CODE: u32 = 0x1;
const EV_ACTION: u32 = 0x5;
const EV_S_CRTM_CONTENTS: u32 = 0x7;
const EV_S_CRTM_VERSION: u32 = 0x8;
const EV_CPU_MICROCODE: u32 = 0x9;
const EV_PLATFORM_CONFIG_FLAGS: u32 = 0xa;
const EV_TABLE_OF_DEVICES: u32 = 0xb;
const EV_COMPACT_HASH: u32 = 0xc;
const EV_IPL: u32 = 0xd;
const EV_IPL_PARTITION_DATA: u32 = 0xe;
const EV_NONHOST_CODE: u32 = 0xf;
const EV_NONHOST_CONFIG: u32 = 0x10;
const EV_NONHOST_INFO: u32 = 0x11;
const EV_OMIT_BOOT_DEVICE_EVENTS: u32 = 0x12;
const EV_EFI_PLATFORM_FIRMWARE_BLOB: u32 = 0x8000_0008;
const EV_EFI_HANDOFF_TABLES: u32 = 0x8000_0009;
const EV_EFI_PLATFORM_FIRMWARE_BLOB2: u32 = 0x8000_000a;
const EV_EFI_HANDOFF_TABLES2: u32 = 0x8000_000b;
const EV_EFI_HCRTM_EVENT: u32 = 0x8000_0010;
const EV_EFI_SPDM_FIRMWARE_BLOB: u32 = 0x8000_00e1;
const EV_EFI_SPDM_FIRMWARE_CONFIG: u32 = 0x8000_00e2;

/// `EFI_IMAGE_SECURITY_DATABASE_GUID`, the vendor of `db`, `dbx`, `dbt`, `dbr`.
const IMAGE_SECURITY_DATABASE: &str = "D719B2CB-3D3A-4596-A3BC-DAD00E67656F";

/// Where `EV_COMPACT_HASH` may extend (see [`rule`]).
const COMPACT_HASH_PCRS: &[u32] = &[
    4, 5, 6, 7, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

/// What `TCG_DEVICE_SECURITY_EVENT_DATA` (both versions) starts with.
const SPDM_SIGNATURE: &[u8] = b"SPDM Device Sec";

/// PCRs 0–23: a PC Client TPM's (the replay refuses events elsewhere).
const ANY_PCR: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

/// The form an event type's data must have.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// The profile leaves the data free (strings or blobs).
    Free,
    /// Four bytes.
    Separator,
    /// Printable ASCII.
    Ascii,
    /// A 16-byte blob (a firmware base and length, or a GUID) or printable
    /// ASCII.
    BlobOrAscii,
    /// A 16-byte blob or NUL-terminated printable ASCII.
    BlobOrAsciiZ,
    /// A 16-byte GUID or a NUL-terminated UCS-2 string.
    GuidOrUcs2,
    /// Data that starts with these bytes.
    Prefix(&'static [u8]),
    /// Exactly these bytes.
    Literal(&'static [u8]),
    /// `UEFI_VARIABLE_DATA` filling the event.
    Variable,
    /// `UEFI_VARIABLE_DATA` whose name fits the event (shim's data length
    /// may fall short of the event).
    AuthorityVariable,
    /// `UEFI_IMAGE_LOAD_EVENT` (bytes may follow the device path).
    ImageLoad,
    /// `UEFI_GPT_DATA` filling the event.
    Gpt,
    /// `UEFI_PLATFORM_FIRMWARE_BLOB`: base and length.
    Blob,
    /// `UEFI_PLATFORM_FIRMWARE_BLOB2`: a described base and length.
    Blob2,
    /// `UEFI_HANDOFF_TABLE_POINTERS` filling the event.
    Handoff,
    /// `UEFI_HANDOFF_TABLE_POINTERS2` filling the event.
    Handoff2,
    /// A sequence of (id, size, data) items filling the event
    /// (`TCG_PCClientTaggedEvent`, and Windows' SIPA items).
    Tagged,
}

/// The PCRs a defined, extended event type may extend, and its data form;
/// `None` for a type the profile does not define.
fn rule(event_type: u32) -> Option<(&'static [u32], Form)> {
    Some(match event_type {
        EV_POST_CODE => (&[0], Form::BlobOrAscii),
        EV_SEPARATOR => (ANY_PCR, Form::Separator),
        EV_ACTION => (ANY_PCR, Form::Ascii),
        EV_EVENT_TAG => (ANY_PCR, Form::Tagged),
        EV_S_CRTM_CONTENTS => (&[0], Form::BlobOrAsciiZ),
        EV_S_CRTM_VERSION => (&[0], Form::GuidOrUcs2),
        EV_CPU_MICROCODE | EV_PLATFORM_CONFIG_FLAGS | EV_TABLE_OF_DEVICES => (&[1], Form::Free),
        // A loader's or the OS's, never the platform firmware's PCRs 0-3,
        // nor the PCRs where boot loaders record EV_IPL (grub's 8 and 9,
        // shim's 14): there the two free-form types could stand for each
        // other. Windows records compact hashes elsewhere (BitLocker's 11).
        EV_COMPACT_HASH => (COMPACT_HASH_PCRS, Form::Free),
        EV_IPL => (&[4, 5, 8, 9, 10, 11, 12, 13, 14, 15], Form::Free),
        EV_IPL_PARTITION_DATA => (&[5], Form::Free),
        EV_NONHOST_CODE | EV_NONHOST_INFO => (&[0], Form::Free),
        EV_NONHOST_CONFIG => (&[1], Form::Free),
        EV_OMIT_BOOT_DEVICE_EVENTS => (&[4], Form::Literal(b"BOOT ATTEMPTS OMITTED")),
        EV_EFI_VARIABLE_DRIVER_CONFIG => (ANY_PCR, Form::Variable),
        EV_EFI_VARIABLE_BOOT | EV_EFI_VARIABLE_BOOT2 => (&[1], Form::Variable),
        EV_EFI_BOOT_SERVICES_APPLICATION => (&[2, 4], Form::ImageLoad),
        EV_EFI_BOOT_SERVICES_DRIVER | EV_EFI_RUNTIME_SERVICES_DRIVER => (&[0, 2], Form::ImageLoad),
        EV_EFI_GPT_EVENT => (&[5], Form::Gpt),
        EV_EFI_ACTION => (ANY_PCR, Form::Ascii),
        EV_EFI_PLATFORM_FIRMWARE_BLOB => (&[0, 2], Form::Blob),
        EV_EFI_PLATFORM_FIRMWARE_BLOB2 => (&[0, 2], Form::Blob2),
        EV_EFI_HANDOFF_TABLES => (&[1], Form::Handoff),
        EV_EFI_HANDOFF_TABLES2 => (&[1], Form::Handoff2),
        EV_EFI_HCRTM_EVENT => (&[0], Form::Literal(b"HCRTM")),
        EV_EFI_VARIABLE_AUTHORITY => (&[7], Form::AuthorityVariable),
        EV_EFI_SPDM_FIRMWARE_BLOB => (&[0, 2], Form::Prefix(SPDM_SIGNATURE)),
        EV_EFI_SPDM_FIRMWARE_CONFIG => (&[1, 3], Form::Prefix(SPDM_SIGNATURE)),
        _ => return None,
    })
}

/// Check that an extended event's type is consistent with its PCR and its
/// data (see the module docs). `Err` says what does not fit.
pub fn check_event(e: &Event) -> Result<(), String> {
    if e.event_type == EV_NO_ACTION {
        // Never extended; the profile puts every one in PCR 0. Elsewhere it
        // would take a measured event out of a PCR's replay.
        return match e.pcr_index {
            0 => Ok(()),
            pcr => Err(format!("EV_NO_ACTION events are in PCR 0, not PCR {pcr}")),
        };
    }
    let (pcrs, form) = rule(e.event_type).ok_or("the type is not one the TCG defines")?;
    if !pcrs.contains(&e.pcr_index) {
        return Err(format!(
            "the type extends PCR {}, not PCR {}",
            list(pcrs),
            e.pcr_index
        ));
    }
    check_form(form, &e.data)?;
    if matches!(form, Form::Variable | Form::AuthorityVariable) {
        check_variable(e)?;
    }
    Ok(())
}

fn list(pcrs: &[u32]) -> String {
    if pcrs == ANY_PCR {
        return "0-23".into();
    }
    pcrs.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

fn check_form(form: Form, data: &[u8]) -> Result<(), String> {
    let ok = match form {
        Form::Free => true,
        Form::Separator => data.len() == 4,
        Form::Ascii => ascii(data),
        Form::BlobOrAscii => data.len() == 16 || ascii(data),
        Form::BlobOrAsciiZ => data.len() == 16 || data.strip_suffix(&[0]).is_some_and(ascii),
        Form::GuidOrUcs2 => data.len() == 16 || ucs2z(data),
        Form::Prefix(p) => data.starts_with(p),
        Form::Literal(want) => data == want,
        Form::Variable => variable(data).is_some_and(|v| v.trailing.is_empty()),
        Form::AuthorityVariable => variable(data).is_some(),
        Form::ImageLoad => image_load(data).is_some(),
        Form::Gpt => gpt_fills(data).is_some(),
        Form::Blob => data.len() == 16,
        Form::Blob2 => described(data).is_some_and(|rest| rest.len() == 16),
        Form::Handoff => handoff_fills(data).is_some(),
        Form::Handoff2 => described(data).and_then(handoff_fills).is_some(),
        Form::Tagged => tagged_fills(data),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the data is not {}", form_name(form)))
    }
}

fn form_name(form: Form) -> &'static str {
    match form {
        Form::Free => "free",
        Form::Separator => "a 4-byte separator",
        Form::Ascii => "printable ASCII",
        Form::BlobOrAscii => "a 16-byte blob or printable ASCII",
        Form::BlobOrAsciiZ => "a 16-byte blob or NUL-terminated ASCII",
        Form::GuidOrUcs2 => "a GUID or a NUL-terminated UCS-2 string",
        Form::Prefix(_) => "the structure the type defines",
        Form::Literal(_) => "the string the type defines",
        Form::Variable => "a UEFI_VARIABLE_DATA that fills the event",
        Form::AuthorityVariable => "a UEFI_VARIABLE_DATA",
        Form::ImageLoad => "a UEFI_IMAGE_LOAD_EVENT",
        Form::Gpt => "a UEFI_GPT_DATA that fills the event",
        Form::Blob => "a 16-byte UEFI_PLATFORM_FIRMWARE_BLOB",
        Form::Blob2 => "a UEFI_PLATFORM_FIRMWARE_BLOB2",
        Form::Handoff | Form::Handoff2 => "UEFI handoff table pointers that fill the event",
        Form::Tagged => "tagged items that fill the event",
    }
}

fn ascii(data: &[u8]) -> bool {
    !data.is_empty() && data.iter().all(|b| (0x20..0x7f).contains(b))
}

/// Printable UCS-2 units ended by one NUL unit.
fn ucs2z(data: &[u8]) -> bool {
    let Some(text) = data.strip_suffix(&[0, 0]) else {
        return false;
    };
    text.len() % 2 == 0
        && !text.is_empty()
        && text
            .chunks_exact(2)
            .all(|c| (0x20..0x7f).contains(&u16::from_le_bytes([c[0], c[1]])))
}

/// PCRs 0–7 are the firmware's, and the profile ends each with exactly one
/// `EV_SEPARATOR` (at the hand-off to the OS loader). For the PCRs `quoted`
/// accepts that the log extends, `Err((pcr, separators))` names the first
/// with another count: a separator relabelled (or an event relabelled as
/// one) shows there, even where the data would fit both types.
pub fn check_separators(
    events: &[Event],
    quoted: impl Fn(u32) -> bool,
) -> Result<(), (u32, usize)> {
    for pcr in 0..8 {
        let extended = events
            .iter()
            .filter(|e| e.pcr_index == pcr && e.event_type != EV_NO_ACTION);
        let (mut any, mut separators) = (false, 0);
        for e in extended {
            any = true;
            separators += usize::from(e.event_type == EV_SEPARATOR);
        }
        if any && separators != 1 && quoted(pcr) {
            return Err((pcr, separators));
        }
    }
    Ok(())
}

/// A decoded `UEFI_VARIABLE_DATA`.
struct Variable<'a> {
    guid: [u8; 16],
    name: String,
    value: &'a [u8],
    /// Bytes after the declared value.
    trailing: &'a [u8],
}

/// `UEFI_VARIABLE_DATA`: (vendor GUID, UTF-16 name, the declared value,
/// the bytes after it); the declared value must fit in the event.
fn variable(data: &[u8]) -> Option<Variable<'_>> {
    let mut r = Reader::new(data, "UEFI_VARIABLE_DATA");
    let guid = r.array::<16>().ok()?;
    let name_len = usize::try_from(r.u64_le().ok()?).ok()?;
    let data_len = usize::try_from(r.u64_le().ok()?).ok()?;
    let name = r.take(name_len.checked_mul(2)?).ok()?;
    let units: Vec<u16> = name
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let name = String::from_utf16(&units).ok()?;
    let rest = r.take(r.remaining()).ok()?;
    // Shim's authority events declare fewer bytes than follow; more is a lie.
    let value = rest.get(..data_len)?;
    Some(Variable {
        guid,
        name,
        value,
        trailing: &rest[data_len..],
    })
}

fn image_load(data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data, "UEFI_IMAGE_LOAD_EVENT");
    r.take(24).ok()?;
    let dp_len = usize::try_from(r.u64_le().ok()?).ok()?;
    r.take(dp_len).ok()?;
    Some(())
}

/// `UEFI_GPT_DATA`: the partition table header ("EFI PART", its entry
/// size at offset 84), the number of partitions, the partitions.
fn gpt_fills(data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data, "UEFI_GPT_DATA");
    let header = r.take(92).ok()?;
    if !header.starts_with(b"EFI PART") {
        return None;
    }
    let entry = u32::from_le_bytes(header[84..88].try_into().ok()?) as usize;
    let count = usize::try_from(r.u64_le().ok()?).ok()?;
    r.take(count.checked_mul(entry)?).ok()?;
    r.is_empty().then_some(())
}

/// A one-byte-length description, then what follows it.
fn described(data: &[u8]) -> Option<&[u8]> {
    let (&n, rest) = data.split_first()?;
    rest.get(usize::from(n)..)
}

fn handoff_fills(data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data, "UEFI_HANDOFF_TABLE_POINTERS");
    let count = usize::try_from(r.u64_le().ok()?).ok()?;
    r.take(count.checked_mul(24)?).ok()?;
    r.is_empty().then_some(())
}

fn tagged_fills(data: &[u8]) -> bool {
    let mut r = Reader::new(data, "TCG_PCClientTaggedEvent");
    if r.is_empty() {
        return false;
    }
    while !r.is_empty() {
        let item = r
            .u32_le()
            .and_then(|_| r.u32_le())
            .and_then(|n| r.take(n as usize));
        if item.is_err() {
            return false;
        }
    }
    true
}

/// `Boot####` (four upper-case hex digits) or `BootOrder`.
fn is_boot_variable(guid: &str, name: &str) -> bool {
    guid == EFI_GLOBAL_VARIABLE
        && (name == "BootOrder"
            || (name.len() == 8
                && name.starts_with("Boot")
                && name[4..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))))
}

/// The secure-boot policy variables PCR 7 records as driver configuration,
/// and whether each is a signature database.
fn secure_boot_policy(guid: &str, name: &str) -> Option<bool> {
    match (guid, name) {
        (EFI_GLOBAL_VARIABLE, "SecureBoot" | "DeployedMode" | "AuditMode") => Some(false),
        (EFI_GLOBAL_VARIABLE, "PK" | "KEK") => Some(true),
        (IMAGE_SECURITY_DATABASE, "db" | "dbx" | "dbt" | "dbr") => Some(true),
        _ => None,
    }
}

fn check_variable(e: &Event) -> Result<(), String> {
    let Variable {
        guid, name, value, ..
    } = variable(&e.data).ok_or("the data is not a UEFI_VARIABLE_DATA")?;
    let guid = super::devicepath::guid_text(&guid);
    let boot = is_boot_variable(&guid, &name);
    let is_boot_type = matches!(e.event_type, EV_EFI_VARIABLE_BOOT | EV_EFI_VARIABLE_BOOT2);
    if boot != is_boot_type {
        return Err(if boot {
            format!("the boot variable {name} is recorded only as EV_EFI_VARIABLE_BOOT")
        } else {
            format!("{name} is not a boot variable (Boot#### or BootOrder)")
        });
    }
    let policy = secure_boot_policy(&guid, &name);
    match e.event_type {
        EV_EFI_VARIABLE_DRIVER_CONFIG if e.pcr_index == 7 => match policy {
            None => Err(format!(
                "{name} is not a secure-boot policy variable, which is all PCR 7 records as driver configuration"
            )),
            Some(true) if !signature_lists_fill(value) => Err(format!(
                "{name} does not hold EFI_SIGNATURE_LISTs that fill its data"
            )),
            Some(_) => Ok(()),
        },
        EV_EFI_VARIABLE_AUTHORITY => match policy {
            Some(_) if name != "db" => Err(format!(
                "{name} is a secure-boot policy variable, recorded as driver configuration, not as an authority"
            )),
            Some(_) if signature_lists_fill(value) => Err(
                "a db authority is one EFI_SIGNATURE_DATA, not the database's signature lists"
                    .into(),
            ),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Whether `data` is a sequence of `EFI_SIGNATURE_LIST`s (type GUID, list
/// size, header size, signature size, …) that fills it exactly. An empty
/// database is no lists.
fn signature_lists_fill(data: &[u8]) -> bool {
    let mut rest = data;
    while !rest.is_empty() {
        let Some(size) = rest
            .get(16..20)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            return false;
        };
        if size < 28 || size > rest.len() {
            return false;
        }
        rest = &rest[size..];
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A GUID's bytes from its text (the first three fields little-endian).
    fn guid_bytes(text: &str) -> [u8; 16] {
        let h = hex::decode(text.replace('-', "")).unwrap();
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&[h[3], h[2], h[1], h[0]]);
        g[4..6].copy_from_slice(&[h[5], h[4]]);
        g[6..8].copy_from_slice(&[h[7], h[6]]);
        g[8..].copy_from_slice(&h[8..]);
        assert_eq!(super::super::devicepath::guid_text(&g), text);
        g
    }

    fn var(guid: &str, name: &str, value: &[u8]) -> Vec<u8> {
        let g = guid_bytes(guid);
        let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut d = g.to_vec();
        d.extend((name.encode_utf16().count() as u64).to_le_bytes());
        d.extend((value.len() as u64).to_le_bytes());
        d.extend(units);
        d.extend(value);
        d
    }

    fn ev(pcr: u32, event_type: u32, data: Vec<u8>) -> Event {
        Event {
            pcr_index: pcr,
            event_type,
            digests: BTreeMap::new(),
            data,
        }
    }

    fn siglist(n: usize) -> Vec<u8> {
        let mut l = vec![0xaa; 16];
        l.extend(((28 + n) as u32).to_le_bytes());
        l.extend(0u32.to_le_bytes());
        l.extend((n as u32).to_le_bytes());
        l.extend(vec![0x55; n]);
        l
    }

    #[test]
    fn undefined_types_and_wrong_pcrs_are_refused() {
        let sep = ev(4, EV_SEPARATOR, vec![0; 4]);
        assert_eq!(check_event(&sep), Ok(()));
        for t in [
            0x0,
            0x2,
            0x13,
            0x8000_0000,
            0x8000_0001 | 0x100,
            0x8000_00e3,
        ] {
            let e = ev(4, t, vec![0; 4]);
            assert_eq!(
                check_event(&e),
                Err("the type is not one the TCG defines".to_string()),
                "{t:#x}"
            );
        }
        let gpt_in_4 = ev(4, EV_EFI_GPT_EVENT, vec![]);
        assert_eq!(
            check_event(&gpt_in_4),
            Err("the type extends PCR 5, not PCR 4".to_string())
        );
        // EV_NO_ACTION is never extended, and always in PCR 0.
        assert_eq!(check_event(&ev(0, EV_NO_ACTION, vec![1])), Ok(()));
        assert_eq!(
            check_event(&ev(9, EV_NO_ACTION, vec![1])),
            Err("EV_NO_ACTION events are in PCR 0, not PCR 9".to_string())
        );
    }

    /// Each defined type is accepted with data of its form in a PCR the
    /// profile gives it, and refused in one it does not.
    #[test]
    fn every_defined_type_has_its_pcrs() {
        let mut img = vec![0; 24];
        img.extend(0u64.to_le_bytes());
        let var = var(EFI_GLOBAL_VARIABLE, "Timeout", &[1]);
        let boot = self::var(EFI_GLOBAL_VARIABLE, "Boot0001", &[1]);
        let auth = self::var(IMAGE_SECURITY_DATABASE, "db", &[0x11; 20]);
        let mut handoff = 0u64.to_le_bytes().to_vec();
        let text = b"text".to_vec();
        let table: Vec<(u32, u32, u32, Vec<u8>)> = vec![
            (EV_POST_CODE, 0, 1, text.clone()),
            (EV_SEPARATOR, 12, 24, vec![0; 4]),
            (EV_ACTION, 23, 24, text.clone()),
            (EV_EVENT_TAG, 14, 24, vec![1, 0, 0, 0, 0, 0, 0, 0]),
            (EV_S_CRTM_CONTENTS, 0, 1, b"x\0".to_vec()),
            (EV_S_CRTM_VERSION, 0, 1, vec![0; 16]),
            (EV_CPU_MICROCODE, 1, 0, text.clone()),
            (EV_PLATFORM_CONFIG_FLAGS, 1, 2, text.clone()),
            (EV_TABLE_OF_DEVICES, 1, 3, text.clone()),
            (EV_COMPACT_HASH, 4, 3, text.clone()),
            (EV_COMPACT_HASH, 11, 8, text.clone()),
            (EV_IPL, 8, 7, text.clone()),
            (EV_IPL, 15, 16, text.clone()),
            (EV_IPL_PARTITION_DATA, 5, 4, text.clone()),
            (EV_NONHOST_CODE, 0, 1, text.clone()),
            (EV_NONHOST_INFO, 0, 1, text.clone()),
            (EV_NONHOST_CONFIG, 1, 0, text.clone()),
            (
                EV_OMIT_BOOT_DEVICE_EVENTS,
                4,
                5,
                b"BOOT ATTEMPTS OMITTED".to_vec(),
            ),
            (EV_EFI_VARIABLE_DRIVER_CONFIG, 1, 24, var.clone()),
            (EV_EFI_VARIABLE_BOOT, 1, 7, boot.clone()),
            (EV_EFI_VARIABLE_BOOT2, 1, 2, boot),
            (EV_EFI_BOOT_SERVICES_APPLICATION, 2, 0, img.clone()),
            (EV_EFI_BOOT_SERVICES_DRIVER, 0, 4, img.clone()),
            (EV_EFI_RUNTIME_SERVICES_DRIVER, 2, 4, img),
            (EV_EFI_ACTION, 7, 24, text),
            (EV_EFI_PLATFORM_FIRMWARE_BLOB, 2, 1, vec![0; 16]),
            (
                EV_EFI_PLATFORM_FIRMWARE_BLOB2,
                0,
                1,
                [&[0u8][..], &[0; 16]].concat(),
            ),
            (EV_EFI_HANDOFF_TABLES, 1, 0, handoff.clone()),
            (EV_EFI_HCRTM_EVENT, 0, 1, b"HCRTM".to_vec()),
            (EV_EFI_VARIABLE_AUTHORITY, 7, 1, auth),
            (EV_EFI_SPDM_FIRMWARE_BLOB, 2, 1, SPDM_SIGNATURE.to_vec()),
            (EV_EFI_SPDM_FIRMWARE_CONFIG, 3, 2, SPDM_SIGNATURE.to_vec()),
        ];
        handoff.insert(0, 0);
        let table = [table, vec![(EV_EFI_HANDOFF_TABLES2, 1, 0, handoff)]].concat();
        for (t, good, bad, data) in table {
            assert_eq!(
                check_event(&ev(good, t, data.clone())),
                Ok(()),
                "{t:#x} in PCR {good}"
            );
            let e = check_event(&ev(bad, t, data)).unwrap_err();
            assert!(
                e.contains(&format!("not PCR {bad}")),
                "{t:#x} in PCR {bad}: {e}"
            );
        }
    }

    #[test]
    fn each_form_is_checked() {
        let bad = |pcr, t, data: &[u8]| check_event(&ev(pcr, t, data.to_vec())).unwrap_err();
        assert!(bad(4, EV_SEPARATOR, &[0; 5]).contains("4-byte"));
        assert!(bad(4, EV_EFI_ACTION, b"Calling\0").contains("ASCII"));
        assert!(bad(4, EV_EFI_ACTION, b"").contains("ASCII"));
        assert_eq!(
            check_event(&ev(0, EV_POST_CODE, b"ACPI DATA".to_vec())),
            Ok(())
        );
        assert_eq!(check_event(&ev(0, EV_POST_CODE, vec![0; 16])), Ok(()));
        assert!(bad(0, EV_POST_CODE, &[0; 4]).contains("blob or printable"));
        assert_eq!(
            check_event(&ev(0, EV_S_CRTM_CONTENTS, b"FIT S-CRTM\0".to_vec())),
            Ok(())
        );
        assert!(bad(0, EV_S_CRTM_CONTENTS, b"FIT S-CRTM").contains("NUL-terminated"));
        assert_eq!(
            check_event(&ev(0, EV_S_CRTM_VERSION, b"2\0.\x005\0\0\0".to_vec())),
            Ok(())
        );
        assert!(bad(0, EV_S_CRTM_VERSION, &[0; 4]).contains("UCS-2"));
        assert!(bad(0, EV_S_CRTM_VERSION, b"2\0.\0").contains("UCS-2"));
        assert!(bad(2, EV_EFI_SPDM_FIRMWARE_BLOB, b"SPDM Device").contains("structure"));
        assert!(bad(0, EV_EFI_HCRTM_EVENT, b"HCRTN").contains("string"));
        assert!(bad(0, EV_EFI_PLATFORM_FIRMWARE_BLOB, &[0; 15]).contains("16-byte"));
        assert!(bad(0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, &[3, 1, 2, 3]).contains("BLOB2"));
        assert!(bad(1, EV_EFI_HANDOFF_TABLES, &[1, 0, 0, 0, 0, 0, 0, 0]).contains("handoff"));
        assert!(bad(9, EV_EVENT_TAG, &[1, 0, 0, 0, 5, 0, 0, 0, 1]).contains("tagged"));
        assert!(bad(9, EV_EVENT_TAG, &[]).contains("tagged"));
        assert!(bad(5, EV_EFI_GPT_EVENT, &[0; 100]).contains("GPT"));
        assert!(bad(4, EV_EFI_BOOT_SERVICES_APPLICATION, &[0; 31]).contains("IMAGE_LOAD"));
        let mut img = vec![0; 24];
        img.extend(9u64.to_le_bytes());
        img.extend([0; 8]);
        assert!(bad(4, EV_EFI_BOOT_SERVICES_APPLICATION, &img).contains("IMAGE_LOAD"));
        img.push(0);
        img.push(7); // trailing bytes, as shim writes them
        assert_eq!(
            check_event(&ev(4, EV_EFI_BOOT_SERVICES_APPLICATION, img)),
            Ok(())
        );
        let mut handoff2 = vec![2, b'a', b'b'];
        handoff2.extend(1u64.to_le_bytes());
        handoff2.extend([0; 24]);
        assert_eq!(
            check_event(&ev(1, EV_EFI_HANDOFF_TABLES2, handoff2)),
            Ok(())
        );
        let mut gpt = b"EFI PART".to_vec();
        gpt.resize(92, 0);
        gpt[84] = 128;
        gpt.extend(2u64.to_le_bytes());
        gpt.extend([0; 256]);
        assert_eq!(check_event(&ev(5, EV_EFI_GPT_EVENT, gpt.clone())), Ok(()));
        gpt.push(0);
        assert!(bad(5, EV_EFI_GPT_EVENT, &gpt).contains("GPT"));
    }

    #[test]
    fn each_firmware_pcr_holds_one_separator() {
        let sep = |pcr| ev(pcr, EV_SEPARATOR, vec![0; 4]);
        let post = ev(0, EV_POST_CODE, b"ACPI DATA".to_vec());
        let spec = ev(0, EV_NO_ACTION, vec![0; 4]);
        let all = |e: Vec<Event>| check_separators(&e, |_| true);
        assert_eq!(
            all(vec![spec.clone(), post.clone(), sep(0), sep(1), sep(8)]),
            Ok(())
        );
        assert_eq!(all(vec![spec.clone(), post.clone()]), Err((0, 0)));
        assert_eq!(all(vec![sep(0), sep(4), sep(4)]), Err((4, 2)));
        // A PCR no quote covers, or one only EV_NO_ACTION touches, is not judged.
        assert_eq!(
            check_separators(std::slice::from_ref(&post), |pcr| pcr != 0),
            Ok(())
        );
        assert_eq!(all(vec![spec]), Ok(()));
        // PCR 8 on is the OS's: no separator rule.
        assert_eq!(all(vec![ev(9, EV_IPL, b"grub".to_vec())]), Ok(()));
    }

    #[test]
    fn variables_must_fit_their_type() {
        let global = EFI_GLOBAL_VARIABLE;
        let ok = |pcr, t, d: Vec<u8>| check_event(&ev(pcr, t, d));
        assert_eq!(
            ok(1, EV_EFI_VARIABLE_BOOT, var(global, "Boot0001", &[1, 2])),
            Ok(())
        );
        assert_eq!(
            ok(1, EV_EFI_VARIABLE_BOOT2, var(global, "BootOrder", &[1, 0])),
            Ok(())
        );
        // A boot variable relabelled, and a non-boot variable as boot.
        assert!(
            ok(
                1,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(global, "Boot0001", &[1])
            )
            .unwrap_err()
            .contains("only as EV_EFI_VARIABLE_BOOT")
        );
        assert!(
            ok(1, EV_EFI_VARIABLE_BOOT, var(global, "Timeout", &[1]))
                .unwrap_err()
                .contains("not a boot variable")
        );
        // Boot variables are the global GUID's: a vendor's Boot0001 is not one.
        let vendor = "605DAB50-E046-4300-ABB6-3DD810DD8B23";
        assert_eq!(
            ok(
                1,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(vendor, "Boot0001", &[1])
            ),
            Ok(())
        );
        assert!(ok(1, EV_EFI_VARIABLE_BOOT, var(vendor, "Boot0001", &[1])).is_err());
        // Eight characters do not make a boot variable, nor "Boot" with a
        // non-hex tail.
        for name in ["PlatLang", "BootNext", "Bootable"] {
            assert_eq!(
                ok(1, EV_EFI_VARIABLE_DRIVER_CONFIG, var(global, name, &[1])),
                Ok(()),
                "{name}"
            );
        }
        // Driver configuration in PCR 1 may be any other variable.
        assert_eq!(
            ok(
                1,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(global, "Timeout", &[1])
            ),
            Ok(())
        );
        // PCR 7: the secure-boot policy, signature databases as lists.
        assert_eq!(
            ok(
                7,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(global, "SecureBoot", &[1])
            ),
            Ok(())
        );
        let db_lists = var(
            IMAGE_SECURITY_DATABASE,
            "db",
            &[siglist(40), siglist(8)].concat(),
        );
        assert_eq!(
            ok(7, EV_EFI_VARIABLE_DRIVER_CONFIG, db_lists.clone()),
            Ok(())
        );
        assert_eq!(
            ok(
                7,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(IMAGE_SECURITY_DATABASE, "dbx", &[])
            ),
            Ok(())
        );
        // A list of its 28-byte header alone is a list (of no signatures);
        // anything shorter is not.
        assert!(signature_lists_fill(&siglist(0)));
        assert!(!signature_lists_fill(&siglist(0)[..27]));
        let mut short = siglist(0);
        short[16] = 27;
        assert!(!signature_lists_fill(&short));
        assert!(
            ok(
                7,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                var(global, "PK", &[0; 40])
            )
            .unwrap_err()
            .contains("EFI_SIGNATURE_LIST")
        );
        assert!(
            ok(7, EV_EFI_VARIABLE_DRIVER_CONFIG, var(global, "Shim", &[1]))
                .unwrap_err()
                .contains("not a secure-boot policy variable")
        );
        // Authorities: never SecureBoot & co.; db as one signature, not lists.
        assert!(
            ok(
                7,
                EV_EFI_VARIABLE_AUTHORITY,
                var(global, "SecureBoot", &[1])
            )
            .unwrap_err()
            .contains("not as an authority")
        );
        assert!(
            ok(7, EV_EFI_VARIABLE_AUTHORITY, db_lists)
                .unwrap_err()
                .contains("one EFI_SIGNATURE_DATA")
        );
        let mut one = vec![0x11; 16];
        one.extend([0x30, 0x82, 0x01, 0x00]);
        assert_eq!(
            ok(
                7,
                EV_EFI_VARIABLE_AUTHORITY,
                var(IMAGE_SECURITY_DATABASE, "db", &one)
            ),
            Ok(())
        );
        // A variable that does not fill its event, or overruns it.
        let mut long = var(global, "Timeout", &[1]);
        long.push(0);
        assert!(
            ok(1, EV_EFI_VARIABLE_DRIVER_CONFIG, long.clone())
                .unwrap_err()
                .contains("fills the event")
        );
        let mut short = var(global, "Timeout", &[1, 2]);
        short.pop();
        assert!(ok(1, EV_EFI_VARIABLE_DRIVER_CONFIG, short).is_err());
        // Shim's short declared length is accepted for authorities only.
        let mut shim = var("605DAB50-E046-4300-ABB6-3DD810DD8B23", "Shim", &[0x30; 10]);
        shim.extend([0; 6]);
        assert_eq!(ok(7, EV_EFI_VARIABLE_AUTHORITY, shim), Ok(()));
    }
}
