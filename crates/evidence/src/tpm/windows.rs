//! Windows boot-log (WBCL) events: the SIPA items Windows boot managers,
//! the OS loader and the DRTM launcher record as `EV_EVENT_TAG` events
//! (PCRs 12, 13, 14, 19, 20), decoded to typed values, to the JSON that
//! MAA's `events` claim carries in `ProcessedData`, and to a typed
//! [`WindowsBootState`] summary.
//!
//! # Layout (facts from Microsoft's `wbcl.h`)
//! An `EV_EVENT_TAG` event's data is a sequence of `TCG_PCClientTaggedEventStruct`
//! items: `UINT32 EventID`, `UINT32 EventDataSize`, then that many bytes, all
//! little-endian. The top byte of the id holds flags (`0x80000000`
//! non-measured, `0x40000000` aggregation: the payload is itself a sequence
//! of items); the next byte the category (container, information, error,
//! pre-OS parameter, OS parameter, authority, loaded module, trust point,
//! ELAM, VBS, KSR, DRTM). Value encodings: booleans are one byte; counters,
//! policies and flags are little-endian `UINT32`/`UINT64` (we accept 1, 2, 4
//! or 8 bytes for integer kinds, since the header does not fix every width);
//! paths and names are UTF-16LE with a terminating NUL; structured payloads
//! (`SIPAEVENT_SI_POLICY_PAYLOAD`, `SIPAEVENT_REVOCATION_LIST_PAYLOAD`, key
//! blobs, hashes) stay bytes. [`parse_sipa`] is total, bounds nesting at
//! [`MAX_DEPTH`] levels and the item count at [`MAX_ITEMS`].
//!
//! # JSON shape of `ProcessedData` for `EV_EVENT_TAG`
//! Chosen so that the JmesPath filters of MAA's published TPM policies
//! (`policy-version-1-2`, `tpm-attestation-sample-policies`, the MDM health
//! attestation sample) run unchanged. `ProcessedData` is an object keyed by
//! [`sipa_name`] of each top-level item; a container becomes an object keyed
//! the same way.
//!
//! | Items | JSON | Source |
//! |---|---|---|
//! | `EVENT_TRUSTBOUNDARY` (and every other container) | object of its children | `…ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_APPLICATION_SVN` in the samples |
//! | `EVENT_LOADEDMODULE_AGGREGATION` | always an array of objects | `EVENT_LOADEDMODULE_AGGREGATION[]` in the ELAM / driver samples |
//! | `EVENT_SI_POLICY` | always an array of `{"RawData"}` | `EVENT_SI_POLICY[].RawData`; an MAA token shows five policies from one boot |
//! | `EVENT_ELAM_AGGREGATION`, `EVENT_KSR_*AGGREGATION`, `EVENT_SI_POLICY_SIGNER`, `EVENT_SI_POLICY_UPDATE_SIGNER`, `EVENT_AUTHORITYPUBKEY` | always arrays | **inferred**: several per boot by design (a real PCR 14 trust boundary holds three `AUTHORITYPUBKEY`s) |
//! | booleans (`EVENT_BOOTDEBUGGING`, `EVENT_CODEINTEGRITY`, `EVENT_VBS_*_REQUIRED`, `EVENT_IMAGEVALIDATED` …) | `true`/`false` | `ContainsOnlyValue(…, true)`, `EVENT_IMAGEVALIDATED == \`true\`` |
//! | `EVENT_VBS_MANDATORY_ENFORCEMENT` | boolean | joined with `EVENT_VBS_VSM_REQUIRED` under `ContainsOnlyValue(…, true)`; width **inferred** (one byte) |
//! | `EVENT_BITLOCKER_UNLOCK`, `EVENT_DATAEXECUTIONPREVENTION`, `EVENT_TRANSFER_CONTROL`, `EVENT_DRTM_SMM` | `{"Value": n, "String": "…"}` | `.Value` in the samples, token `bitlockerEnabledValue: 4`; the `String` text is **inferred** |
//! | `EVENT_DRIVER_LOAD_POLICY`, `EVENT_OSDEVICE` | `{"Value": n, "String": "…"}` | `EVENT_DRIVER_LOAD_POLICY.String` in a sample; its text is **inferred** (the number), `EVENT_OSDEVICE` names are `wbcl.h`'s `OSDEVICE_TYPE_*` |
//! | `EVENT_VBS_HVCI_POLICY` | `{"Value": n, "String": "HypervisorEnforcedCodeIntegrityEnable"}` when bit 0 is set, `…Disable` otherwise | the sample `@[?String == 'HypervisorEnforcedCodeIntegrityEnable'].Value` with `ContainsOnlyValue(…, 1)`; bit meaning **inferred** |
//! | other integers (`EVENT_APPLICATION_SVN`, `EVENT_MODULE_SVN`, `EVENT_BOOTCOUNTER`, `EVENT_IMAGESIZE` …) | number | token `bootMgrSvn: 1` (issued from `EVENT_APPLICATION_SVN \| @[0]` through `JsonToClaimValue`, so a plain number); the rest **inferred** |
//! | strings (`EVENT_FILEPATH`, `EVENT_SYSTEMROOT`, `EVENT_ELAM_KEYNAME`, `EVENT_AUTHORITYISSUER` …) | string, NUL stripped | `equals_ignore_case(EVENT_FILEPATH, …)` |
//! | byte payloads (`EVENT_BOOT_REVOCATION_LIST`, `EVENT_OS_REVOCATION_LIST`, hashes, keys, unknown kinds) | `{"RawData": base64url}` | token `bootRevListInfo`/`osRevListInfo`/`codeIntegrityPolicy` are base64url of the raw payload; hashes and keys **inferred** alike |
//! | `EVENT_DRTM_STATE_AUTH` | `{"RawData"}` only, no `SignatureValid` | fail closed: the payload's signature is not verified here, so `drtmMleValid` policies see `null` and issue `false` |
//!
//! A kind that is not listed as an array but occurs more than once in one
//! container becomes an array of its values (MAA's behaviour is unknown);
//! the samples' `JsonToClaimValue` then rejects the nested array, so the
//! ambiguity fails closed instead of silently picking one value.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::eventlog::{EV_SEPARATOR, Event};
use crate::error::ParseError;
use crate::reader::Reader;

/// `EV_EVENT_TAG`, the TCG event type Windows records SIPA items under.
pub const EV_EVENT_TAG: u32 = 0x6;

/// Deepest nesting of aggregations [`parse_sipa`] accepts (real logs use 2–3).
pub const MAX_DEPTH: usize = 8;
/// Most items one [`parse_sipa`] call decodes, nested ones included.
pub const MAX_ITEMS: usize = 100_000;

/// Flag: the item is not measured.
pub const SIPAEVENTTYPE_NONMEASURED: u32 = 0x8000_0000;
/// Flag: the item's payload is a sequence of items.
pub const SIPAEVENTTYPE_AGGREGATION: u32 = 0x4000_0000;
const CONTAINER: u32 = 0x0001_0000;
const INFORMATION: u32 = 0x0002_0000;
const ERROR: u32 = 0x0003_0000;
const PREOSPARAMETER: u32 = 0x0004_0000;
const OSPARAMETER: u32 = 0x0005_0000;
const AUTHORITY: u32 = 0x0006_0000;
const LOADEDMODULE: u32 = 0x0007_0000;
const TRUSTPOINT: u32 = 0x0008_0000;
const ELAM: u32 = 0x0009_0000;
const VBS: u32 = 0x000a_0000;
const KSR: u32 = 0x000b_0000;
const DRTM: u32 = 0x000c_0000;
const AGG: u32 = SIPAEVENTTYPE_AGGREGATION | CONTAINER;

pub const SIPAEVENT_TRUSTBOUNDARY: u32 = AGG | 0x1;
pub const SIPAEVENT_ELAM_AGGREGATION: u32 = AGG | 0x2;
pub const SIPAEVENT_LOADEDMODULE_AGGREGATION: u32 = AGG | 0x3;
pub const SIPAEVENT_TRUSTPOINT_AGGREGATION: u32 = SIPAEVENTTYPE_NONMEASURED | AGG | 0x4;
pub const SIPAEVENT_KSR_AGGREGATION: u32 = AGG | 0x5;
pub const SIPAEVENT_KSR_SIGNED_MEASUREMENT_AGGREGATION: u32 = AGG | 0x6;

pub const SIPAEVENT_INFORMATION: u32 = INFORMATION | 0x1;
pub const SIPAEVENT_BOOTCOUNTER: u32 = INFORMATION | 0x2;
pub const SIPAEVENT_TRANSFER_CONTROL: u32 = INFORMATION | 0x3;
pub const SIPAEVENT_APPLICATION_RETURN: u32 = INFORMATION | 0x4;
pub const SIPAEVENT_BITLOCKER_UNLOCK: u32 = INFORMATION | 0x5;
pub const SIPAEVENT_EVENTCOUNTER: u32 = INFORMATION | 0x6;
pub const SIPAEVENT_COUNTERID: u32 = INFORMATION | 0x7;
pub const SIPAEVENT_MORBIT_NOT_CANCELABLE: u32 = INFORMATION | 0x8;
pub const SIPAEVENT_APPLICATION_SVN: u32 = INFORMATION | 0x9;
pub const SIPAEVENT_SVN_CHAIN_STATUS: u32 = INFORMATION | 0xa;
pub const SIPAEVENT_MORBIT_API_STATUS: u32 = INFORMATION | 0xb;
pub const SIPAEVENT_IDK_GENERATION_STATUS: u32 = INFORMATION | 0xc;

pub const SIPAEVENT_BOOTDEBUGGING: u32 = PREOSPARAMETER | 0x1;
pub const SIPAEVENT_BOOT_REVOCATION_LIST: u32 = PREOSPARAMETER | 0x2;

pub const SIPAEVENT_OSKERNELDEBUG: u32 = OSPARAMETER | 0x1;
pub const SIPAEVENT_CODEINTEGRITY: u32 = OSPARAMETER | 0x2;
pub const SIPAEVENT_TESTSIGNING: u32 = OSPARAMETER | 0x3;
pub const SIPAEVENT_DATAEXECUTIONPREVENTION: u32 = OSPARAMETER | 0x4;
pub const SIPAEVENT_SAFEMODE: u32 = OSPARAMETER | 0x5;
pub const SIPAEVENT_WINPE: u32 = OSPARAMETER | 0x6;
pub const SIPAEVENT_PHYSICALADDRESSEXTENSION: u32 = OSPARAMETER | 0x7;
pub const SIPAEVENT_OSDEVICE: u32 = OSPARAMETER | 0x8;
pub const SIPAEVENT_SYSTEMROOT: u32 = OSPARAMETER | 0x9;
pub const SIPAEVENT_HYPERVISOR_LAUNCH_TYPE: u32 = OSPARAMETER | 0xa;
pub const SIPAEVENT_HYPERVISOR_PATH: u32 = OSPARAMETER | 0xb;
pub const SIPAEVENT_HYPERVISOR_IOMMU_POLICY: u32 = OSPARAMETER | 0xc;
pub const SIPAEVENT_HYPERVISOR_DEBUG: u32 = OSPARAMETER | 0xd;
pub const SIPAEVENT_DRIVER_LOAD_POLICY: u32 = OSPARAMETER | 0xe;
pub const SIPAEVENT_SI_POLICY: u32 = OSPARAMETER | 0xf;
pub const SIPAEVENT_HYPERVISOR_MMIO_NX_POLICY: u32 = OSPARAMETER | 0x10;
pub const SIPAEVENT_HYPERVISOR_MSR_FILTER_POLICY: u32 = OSPARAMETER | 0x11;
pub const SIPAEVENT_VSM_LAUNCH_TYPE: u32 = OSPARAMETER | 0x12;
pub const SIPAEVENT_OS_REVOCATION_LIST: u32 = OSPARAMETER | 0x13;
pub const SIPAEVENT_SMT_STATUS: u32 = OSPARAMETER | 0x14;
pub const SIPAEVENT_VSM_IDK_INFO: u32 = OSPARAMETER | 0x20;
pub const SIPAEVENT_FLIGHTSIGNING: u32 = OSPARAMETER | 0x21;
pub const SIPAEVENT_PAGEFILE_ENCRYPTION_ENABLED: u32 = OSPARAMETER | 0x22;
pub const SIPAEVENT_VSM_IDKS_INFO: u32 = OSPARAMETER | 0x23;
pub const SIPAEVENT_HIBERNATION_DISABLED: u32 = OSPARAMETER | 0x24;
pub const SIPAEVENT_DUMPS_DISABLED: u32 = OSPARAMETER | 0x25;
pub const SIPAEVENT_DUMP_ENCRYPTION_ENABLED: u32 = OSPARAMETER | 0x26;
pub const SIPAEVENT_DUMP_ENCRYPTION_KEY_DIGEST: u32 = OSPARAMETER | 0x27;
pub const SIPAEVENT_LSAISO_CONFIG: u32 = OSPARAMETER | 0x28;
pub const SIPAEVENT_SBCP_INFO: u32 = OSPARAMETER | 0x29;
pub const SIPAEVENT_HYPERVISOR_BOOT_DMA_PROTECTION: u32 = OSPARAMETER | 0x30;
pub const SIPAEVENT_SI_POLICY_SIGNER: u32 = OSPARAMETER | 0x31;
pub const SIPAEVENT_SI_POLICY_UPDATE_SIGNER: u32 = OSPARAMETER | 0x32;

pub const SIPAEVENT_NOAUTHORITY: u32 = AUTHORITY | 0x1;
pub const SIPAEVENT_AUTHORITYPUBKEY: u32 = AUTHORITY | 0x2;

pub const SIPAEVENT_FILEPATH: u32 = LOADEDMODULE | 0x1;
pub const SIPAEVENT_IMAGESIZE: u32 = LOADEDMODULE | 0x2;
pub const SIPAEVENT_HASHALGORITHMID: u32 = LOADEDMODULE | 0x3;
pub const SIPAEVENT_AUTHENTICODEHASH: u32 = LOADEDMODULE | 0x4;
pub const SIPAEVENT_AUTHORITYISSUER: u32 = LOADEDMODULE | 0x5;
pub const SIPAEVENT_AUTHORITYSERIAL: u32 = LOADEDMODULE | 0x6;
pub const SIPAEVENT_IMAGEBASE: u32 = LOADEDMODULE | 0x7;
pub const SIPAEVENT_AUTHORITYPUBLISHER: u32 = LOADEDMODULE | 0x8;
pub const SIPAEVENT_AUTHORITYSHA1THUMBPRINT: u32 = LOADEDMODULE | 0x9;
pub const SIPAEVENT_IMAGEVALIDATED: u32 = LOADEDMODULE | 0xa;
pub const SIPAEVENT_MODULE_SVN: u32 = LOADEDMODULE | 0xb;
pub const SIPAEVENT_MODULE_PLUTON: u32 = LOADEDMODULE | 0xc;
pub const SIPAEVENT_MODULE_ORIGINAL_FILENAME: u32 = LOADEDMODULE | 0xd;
pub const SIPAEVENT_MODULE_VERSION: u32 = LOADEDMODULE | 0xe;
pub const SIPAEVENT_PUBLISHER_OEMNAME: u32 = LOADEDMODULE | 0xf;

pub const SIPAEVENT_QUOTE: u32 = SIPAEVENTTYPE_NONMEASURED | TRUSTPOINT | 0x1;
pub const SIPAEVENT_QUOTESIGNATURE: u32 = SIPAEVENTTYPE_NONMEASURED | TRUSTPOINT | 0x2;
pub const SIPAEVENT_AIKID: u32 = SIPAEVENTTYPE_NONMEASURED | TRUSTPOINT | 0x3;
pub const SIPAEVENT_AIKPUBDIGEST: u32 = SIPAEVENTTYPE_NONMEASURED | TRUSTPOINT | 0x4;

pub const SIPAEVENT_ELAM_KEYNAME: u32 = ELAM | 0x1;
pub const SIPAEVENT_ELAM_CONFIGURATION: u32 = ELAM | 0x2;
pub const SIPAEVENT_ELAM_POLICY: u32 = ELAM | 0x3;
pub const SIPAEVENT_ELAM_MEASURED: u32 = ELAM | 0x4;

pub const SIPAEVENT_VBS_VSM_REQUIRED: u32 = VBS | 0x1;
pub const SIPAEVENT_VBS_SECUREBOOT_REQUIRED: u32 = VBS | 0x2;
pub const SIPAEVENT_VBS_IOMMU_REQUIRED: u32 = VBS | 0x3;
pub const SIPAEVENT_VBS_MMIO_NX_REQUIRED: u32 = VBS | 0x4;
pub const SIPAEVENT_VBS_MSR_FILTERING_REQUIRED: u32 = VBS | 0x5;
pub const SIPAEVENT_VBS_MANDATORY_ENFORCEMENT: u32 = VBS | 0x6;
pub const SIPAEVENT_VBS_HVCI_POLICY: u32 = VBS | 0x7;
pub const SIPAEVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED: u32 = VBS | 0x8;
pub const SIPAEVENT_VBS_DUMP_USES_AMEROOT: u32 = VBS | 0x9;
pub const SIPAEVENT_VBS_VSM_NOSECRETS_ENFORCED: u32 = VBS | 0xa;

pub const SIPAEVENT_KSR_SIGNATURE: u32 = KSR | 0x1;

pub const SIPAEVENT_DRTM_STATE_AUTH: u32 = DRTM | 0x1;
pub const SIPAEVENT_DRTM_SMM_LEVEL: u32 = DRTM | 0x2;
pub const SIPAEVENT_DRTM_AMD_SMM_HASH: u32 = DRTM | 0x3;
pub const SIPAEVENT_DRTM_AMD_SMM_SIGNER_KEY: u32 = DRTM | 0x4;

pub const SIPAERROR_FIRMWAREFAILURE: u32 = ERROR | 0x1;
pub const SIPAERROR_TPMFAILURE: u32 = SIPAEVENTTYPE_NONMEASURED | ERROR | 0x2;
pub const SIPAERROR_INTERNALFAILURE: u32 = ERROR | 0x3;
pub const SIPAERROR_KSRFAILURE: u32 = SIPAEVENTTYPE_NONMEASURED | ERROR | 0x4;
pub const SIPAERROR_HYPERVISORFAILURE: u32 = ERROR | 0x5;

/// One SIPA item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipaItem {
    /// The `SIPAEVENT_*` id, flags included.
    pub kind: u32,
    pub value: SipaValue,
}

/// A decoded SIPA payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipaValue {
    Bool(bool),
    U32(u32),
    U64(u64),
    /// UTF-16LE text with its terminating NUL(s) removed.
    Utf16(String),
    /// A payload kept as bytes (structured payloads and unknown kinds).
    Bytes(Vec<u8>),
    /// The children of an aggregation.
    Items(Vec<SipaItem>),
}

/// How a kind's payload is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Bool,
    Int,
    Utf16,
    Bytes,
}

fn encoding(kind: u32) -> Enc {
    match kind {
        SIPAEVENT_BOOTDEBUGGING
        | SIPAEVENT_OSKERNELDEBUG
        | SIPAEVENT_CODEINTEGRITY
        | SIPAEVENT_TESTSIGNING
        | SIPAEVENT_SAFEMODE
        | SIPAEVENT_WINPE
        | SIPAEVENT_HYPERVISOR_DEBUG
        | SIPAEVENT_FLIGHTSIGNING
        | SIPAEVENT_PAGEFILE_ENCRYPTION_ENABLED
        | SIPAEVENT_HIBERNATION_DISABLED
        | SIPAEVENT_DUMPS_DISABLED
        | SIPAEVENT_DUMP_ENCRYPTION_ENABLED
        | SIPAEVENT_HYPERVISOR_BOOT_DMA_PROTECTION
        | SIPAEVENT_IMAGEVALIDATED
        | SIPAEVENT_VBS_VSM_REQUIRED
        | SIPAEVENT_VBS_SECUREBOOT_REQUIRED
        | SIPAEVENT_VBS_IOMMU_REQUIRED
        | SIPAEVENT_VBS_MMIO_NX_REQUIRED
        | SIPAEVENT_VBS_MSR_FILTERING_REQUIRED
        | SIPAEVENT_VBS_MANDATORY_ENFORCEMENT
        | SIPAEVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED
        | SIPAEVENT_VBS_DUMP_USES_AMEROOT
        | SIPAEVENT_VBS_VSM_NOSECRETS_ENFORCED => Enc::Bool,
        SIPAEVENT_BOOTCOUNTER
        | SIPAEVENT_TRANSFER_CONTROL
        | SIPAEVENT_BITLOCKER_UNLOCK
        | SIPAEVENT_EVENTCOUNTER
        | SIPAEVENT_COUNTERID
        | SIPAEVENT_MORBIT_NOT_CANCELABLE
        | SIPAEVENT_APPLICATION_SVN
        | SIPAEVENT_SVN_CHAIN_STATUS
        | SIPAEVENT_MORBIT_API_STATUS
        | SIPAEVENT_IDK_GENERATION_STATUS
        | SIPAEVENT_DATAEXECUTIONPREVENTION
        | SIPAEVENT_PHYSICALADDRESSEXTENSION
        | SIPAEVENT_OSDEVICE
        | SIPAEVENT_HYPERVISOR_LAUNCH_TYPE
        | SIPAEVENT_HYPERVISOR_IOMMU_POLICY
        | SIPAEVENT_DRIVER_LOAD_POLICY
        | SIPAEVENT_HYPERVISOR_MMIO_NX_POLICY
        | SIPAEVENT_HYPERVISOR_MSR_FILTER_POLICY
        | SIPAEVENT_VSM_LAUNCH_TYPE
        | SIPAEVENT_SMT_STATUS
        | SIPAEVENT_LSAISO_CONFIG
        | SIPAEVENT_IMAGESIZE
        | SIPAEVENT_HASHALGORITHMID
        | SIPAEVENT_IMAGEBASE
        | SIPAEVENT_MODULE_SVN
        | SIPAEVENT_VBS_HVCI_POLICY
        | SIPAEVENT_DRTM_SMM_LEVEL => Enc::Int,
        SIPAEVENT_SYSTEMROOT
        | SIPAEVENT_HYPERVISOR_PATH
        | SIPAEVENT_FILEPATH
        | SIPAEVENT_AUTHORITYISSUER
        | SIPAEVENT_AUTHORITYPUBLISHER
        | SIPAEVENT_MODULE_ORIGINAL_FILENAME
        | SIPAEVENT_PUBLISHER_OEMNAME
        | SIPAEVENT_AIKID
        | SIPAEVENT_ELAM_KEYNAME => Enc::Utf16,
        _ => Enc::Bytes,
    }
}

/// MAA's name for a SIPA kind: the `wbcl.h` name without its `SIPA` prefix
/// (`SIPAEVENT_BOOTDEBUGGING` → `EVENT_BOOTDEBUGGING`); MAA's samples spell
/// `SIPAEVENT_DRTM_SMM_LEVEL` as `EVENT_DRTM_SMM`. Unknown kinds are
/// `EVENT_UNKNOWN_0x…`.
pub fn sipa_name(kind: u32) -> String {
    let name = match kind {
        SIPAEVENT_TRUSTBOUNDARY => "EVENT_TRUSTBOUNDARY",
        SIPAEVENT_ELAM_AGGREGATION => "EVENT_ELAM_AGGREGATION",
        SIPAEVENT_LOADEDMODULE_AGGREGATION => "EVENT_LOADEDMODULE_AGGREGATION",
        SIPAEVENT_TRUSTPOINT_AGGREGATION => "EVENT_TRUSTPOINT_AGGREGATION",
        SIPAEVENT_KSR_AGGREGATION => "EVENT_KSR_AGGREGATION",
        SIPAEVENT_KSR_SIGNED_MEASUREMENT_AGGREGATION => "EVENT_KSR_SIGNED_MEASUREMENT_AGGREGATION",
        SIPAEVENT_INFORMATION => "EVENT_INFORMATION",
        SIPAEVENT_BOOTCOUNTER => "EVENT_BOOTCOUNTER",
        SIPAEVENT_TRANSFER_CONTROL => "EVENT_TRANSFER_CONTROL",
        SIPAEVENT_APPLICATION_RETURN => "EVENT_APPLICATION_RETURN",
        SIPAEVENT_BITLOCKER_UNLOCK => "EVENT_BITLOCKER_UNLOCK",
        SIPAEVENT_EVENTCOUNTER => "EVENT_EVENTCOUNTER",
        SIPAEVENT_COUNTERID => "EVENT_COUNTERID",
        SIPAEVENT_MORBIT_NOT_CANCELABLE => "EVENT_MORBIT_NOT_CANCELABLE",
        SIPAEVENT_APPLICATION_SVN => "EVENT_APPLICATION_SVN",
        SIPAEVENT_SVN_CHAIN_STATUS => "EVENT_SVN_CHAIN_STATUS",
        SIPAEVENT_MORBIT_API_STATUS => "EVENT_MORBIT_API_STATUS",
        SIPAEVENT_IDK_GENERATION_STATUS => "EVENT_IDK_GENERATION_STATUS",
        SIPAEVENT_BOOTDEBUGGING => "EVENT_BOOTDEBUGGING",
        SIPAEVENT_BOOT_REVOCATION_LIST => "EVENT_BOOT_REVOCATION_LIST",
        SIPAEVENT_OSKERNELDEBUG => "EVENT_OSKERNELDEBUG",
        SIPAEVENT_CODEINTEGRITY => "EVENT_CODEINTEGRITY",
        SIPAEVENT_TESTSIGNING => "EVENT_TESTSIGNING",
        SIPAEVENT_DATAEXECUTIONPREVENTION => "EVENT_DATAEXECUTIONPREVENTION",
        SIPAEVENT_SAFEMODE => "EVENT_SAFEMODE",
        SIPAEVENT_WINPE => "EVENT_WINPE",
        SIPAEVENT_PHYSICALADDRESSEXTENSION => "EVENT_PHYSICALADDRESSEXTENSION",
        SIPAEVENT_OSDEVICE => "EVENT_OSDEVICE",
        SIPAEVENT_SYSTEMROOT => "EVENT_SYSTEMROOT",
        SIPAEVENT_HYPERVISOR_LAUNCH_TYPE => "EVENT_HYPERVISOR_LAUNCH_TYPE",
        SIPAEVENT_HYPERVISOR_PATH => "EVENT_HYPERVISOR_PATH",
        SIPAEVENT_HYPERVISOR_IOMMU_POLICY => "EVENT_HYPERVISOR_IOMMU_POLICY",
        SIPAEVENT_HYPERVISOR_DEBUG => "EVENT_HYPERVISOR_DEBUG",
        SIPAEVENT_DRIVER_LOAD_POLICY => "EVENT_DRIVER_LOAD_POLICY",
        SIPAEVENT_SI_POLICY => "EVENT_SI_POLICY",
        SIPAEVENT_HYPERVISOR_MMIO_NX_POLICY => "EVENT_HYPERVISOR_MMIO_NX_POLICY",
        SIPAEVENT_HYPERVISOR_MSR_FILTER_POLICY => "EVENT_HYPERVISOR_MSR_FILTER_POLICY",
        SIPAEVENT_VSM_LAUNCH_TYPE => "EVENT_VSM_LAUNCH_TYPE",
        SIPAEVENT_OS_REVOCATION_LIST => "EVENT_OS_REVOCATION_LIST",
        SIPAEVENT_SMT_STATUS => "EVENT_SMT_STATUS",
        SIPAEVENT_VSM_IDK_INFO => "EVENT_VSM_IDK_INFO",
        SIPAEVENT_FLIGHTSIGNING => "EVENT_FLIGHTSIGNING",
        SIPAEVENT_PAGEFILE_ENCRYPTION_ENABLED => "EVENT_PAGEFILE_ENCRYPTION_ENABLED",
        SIPAEVENT_VSM_IDKS_INFO => "EVENT_VSM_IDKS_INFO",
        SIPAEVENT_HIBERNATION_DISABLED => "EVENT_HIBERNATION_DISABLED",
        SIPAEVENT_DUMPS_DISABLED => "EVENT_DUMPS_DISABLED",
        SIPAEVENT_DUMP_ENCRYPTION_ENABLED => "EVENT_DUMP_ENCRYPTION_ENABLED",
        SIPAEVENT_DUMP_ENCRYPTION_KEY_DIGEST => "EVENT_DUMP_ENCRYPTION_KEY_DIGEST",
        SIPAEVENT_LSAISO_CONFIG => "EVENT_LSAISO_CONFIG",
        SIPAEVENT_SBCP_INFO => "EVENT_SBCP_INFO",
        SIPAEVENT_HYPERVISOR_BOOT_DMA_PROTECTION => "EVENT_HYPERVISOR_BOOT_DMA_PROTECTION",
        SIPAEVENT_SI_POLICY_SIGNER => "EVENT_SI_POLICY_SIGNER",
        SIPAEVENT_SI_POLICY_UPDATE_SIGNER => "EVENT_SI_POLICY_UPDATE_SIGNER",
        SIPAEVENT_NOAUTHORITY => "EVENT_NOAUTHORITY",
        SIPAEVENT_AUTHORITYPUBKEY => "EVENT_AUTHORITYPUBKEY",
        SIPAEVENT_FILEPATH => "EVENT_FILEPATH",
        SIPAEVENT_IMAGESIZE => "EVENT_IMAGESIZE",
        SIPAEVENT_HASHALGORITHMID => "EVENT_HASHALGORITHMID",
        SIPAEVENT_AUTHENTICODEHASH => "EVENT_AUTHENTICODEHASH",
        SIPAEVENT_AUTHORITYISSUER => "EVENT_AUTHORITYISSUER",
        SIPAEVENT_AUTHORITYSERIAL => "EVENT_AUTHORITYSERIAL",
        SIPAEVENT_IMAGEBASE => "EVENT_IMAGEBASE",
        SIPAEVENT_AUTHORITYPUBLISHER => "EVENT_AUTHORITYPUBLISHER",
        SIPAEVENT_AUTHORITYSHA1THUMBPRINT => "EVENT_AUTHORITYSHA1THUMBPRINT",
        SIPAEVENT_IMAGEVALIDATED => "EVENT_IMAGEVALIDATED",
        SIPAEVENT_MODULE_SVN => "EVENT_MODULE_SVN",
        SIPAEVENT_MODULE_PLUTON => "EVENT_MODULE_PLUTON",
        SIPAEVENT_MODULE_ORIGINAL_FILENAME => "EVENT_MODULE_ORIGINAL_FILENAME",
        SIPAEVENT_MODULE_VERSION => "EVENT_MODULE_VERSION",
        SIPAEVENT_PUBLISHER_OEMNAME => "EVENT_PUBLISHER_OEMNAME",
        SIPAEVENT_QUOTE => "EVENT_QUOTE",
        SIPAEVENT_QUOTESIGNATURE => "EVENT_QUOTESIGNATURE",
        SIPAEVENT_AIKID => "EVENT_AIKID",
        SIPAEVENT_AIKPUBDIGEST => "EVENT_AIKPUBDIGEST",
        SIPAEVENT_ELAM_KEYNAME => "EVENT_ELAM_KEYNAME",
        SIPAEVENT_ELAM_CONFIGURATION => "EVENT_ELAM_CONFIGURATION",
        SIPAEVENT_ELAM_POLICY => "EVENT_ELAM_POLICY",
        SIPAEVENT_ELAM_MEASURED => "EVENT_ELAM_MEASURED",
        SIPAEVENT_VBS_VSM_REQUIRED => "EVENT_VBS_VSM_REQUIRED",
        SIPAEVENT_VBS_SECUREBOOT_REQUIRED => "EVENT_VBS_SECUREBOOT_REQUIRED",
        SIPAEVENT_VBS_IOMMU_REQUIRED => "EVENT_VBS_IOMMU_REQUIRED",
        SIPAEVENT_VBS_MMIO_NX_REQUIRED => "EVENT_VBS_MMIO_NX_REQUIRED",
        SIPAEVENT_VBS_MSR_FILTERING_REQUIRED => "EVENT_VBS_MSR_FILTERING_REQUIRED",
        SIPAEVENT_VBS_MANDATORY_ENFORCEMENT => "EVENT_VBS_MANDATORY_ENFORCEMENT",
        SIPAEVENT_VBS_HVCI_POLICY => "EVENT_VBS_HVCI_POLICY",
        SIPAEVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED => "EVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED",
        SIPAEVENT_VBS_DUMP_USES_AMEROOT => "EVENT_VBS_DUMP_USES_AMEROOT",
        SIPAEVENT_VBS_VSM_NOSECRETS_ENFORCED => "EVENT_VBS_VSM_NOSECRETS_ENFORCED",
        SIPAEVENT_KSR_SIGNATURE => "EVENT_KSR_SIGNATURE",
        SIPAEVENT_DRTM_STATE_AUTH => "EVENT_DRTM_STATE_AUTH",
        SIPAEVENT_DRTM_SMM_LEVEL => "EVENT_DRTM_SMM",
        SIPAEVENT_DRTM_AMD_SMM_HASH => "EVENT_DRTM_AMD_SMM_HASH",
        SIPAEVENT_DRTM_AMD_SMM_SIGNER_KEY => "EVENT_DRTM_AMD_SMM_SIGNER_KEY",
        SIPAERROR_FIRMWAREFAILURE => "ERROR_FIRMWAREFAILURE",
        SIPAERROR_TPMFAILURE => "ERROR_TPMFAILURE",
        SIPAERROR_INTERNALFAILURE => "ERROR_INTERNALFAILURE",
        SIPAERROR_KSRFAILURE => "ERROR_KSRFAILURE",
        SIPAERROR_HYPERVISORFAILURE => "ERROR_HYPERVISORFAILURE",
        _ => return format!("EVENT_UNKNOWN_{kind:#010x}"),
    };
    name.to_string()
}

/// Whether `kind` is one `wbcl.h` defines.
fn is_known(kind: u32) -> bool {
    !sipa_name(kind).starts_with("EVENT_UNKNOWN_")
}

fn malformed(what: &'static str, reason: String) -> ParseError {
    ParseError::Malformed { what, reason }
}

/// Decode UTF-16LE text, dropping the terminating NUL(s). Odd lengths and
/// unpaired surrogates are errors: a path that decodes two ways could pass a
/// name comparison it should fail.
pub(crate) fn utf16_text(bytes: &[u8], what: &'static str) -> Result<String, ParseError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(malformed(
            what,
            format!("odd UTF-16 length {}", bytes.len()),
        ));
    }
    let mut units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    while units.last() == Some(&0) {
        units.pop();
    }
    String::from_utf16(&units).map_err(|_| malformed(what, "invalid UTF-16".into()))
}

fn decode_value(kind: u32, data: &[u8]) -> Result<SipaValue, ParseError> {
    Ok(match encoding(kind) {
        Enc::Bool => match data {
            [b] => SipaValue::Bool(*b != 0),
            _ => {
                return Err(malformed(
                    "SIPA item",
                    format!(
                        "{} holds {} bytes, a boolean is 1",
                        sipa_name(kind),
                        data.len()
                    ),
                ));
            }
        },
        Enc::Int => {
            let mut r = Reader::new(data, "SIPA integer");
            match data.len() {
                1 => SipaValue::U32(u32::from(r.u8()?)),
                2 => SipaValue::U32(u32::from(r.u16_le()?)),
                4 => SipaValue::U32(r.u32_le()?),
                8 => SipaValue::U64(r.u64_le()?),
                n => {
                    return Err(malformed(
                        "SIPA item",
                        format!("{} holds {n} bytes, not an integer width", sipa_name(kind)),
                    ));
                }
            }
        }
        Enc::Utf16 => SipaValue::Utf16(utf16_text(data, "SIPA string")?),
        Enc::Bytes => SipaValue::Bytes(data.to_vec()),
    })
}

fn parse_items(
    r: &mut Reader<'_>,
    depth: usize,
    count: &mut usize,
) -> Result<Vec<SipaItem>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(malformed(
            "SIPA aggregation",
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let mut out = Vec::new();
    while !r.is_empty() {
        *count += 1;
        if *count > MAX_ITEMS {
            return Err(malformed(
                "SIPA items",
                format!("more than {MAX_ITEMS} items"),
            ));
        }
        let kind = r.u32_le()?;
        let size = r.u32_le()? as usize;
        let mut body = r.sub(size, "SIPA item payload")?;
        let value = if kind & SIPAEVENTTYPE_AGGREGATION != 0 {
            SipaValue::Items(parse_items(&mut body, depth + 1, count)?)
        } else {
            decode_value(kind, body.rest())?
        };
        out.push(SipaItem { kind, value });
    }
    Ok(out)
}

/// Parse the data of an `EV_EVENT_TAG` event as a sequence of SIPA items.
/// Total: any input gives items or a typed error.
pub fn parse_sipa(data: &[u8]) -> Result<Vec<SipaItem>, ParseError> {
    let mut r = Reader::new(data, "SIPA items");
    let mut count = 0;
    parse_items(&mut r, 0, &mut count)
}

/// Kinds that always render as JSON arrays, however many occur.
fn is_list_kind(kind: u32) -> bool {
    matches!(
        kind,
        SIPAEVENT_LOADEDMODULE_AGGREGATION
            | SIPAEVENT_SI_POLICY
            | SIPAEVENT_ELAM_AGGREGATION
            | SIPAEVENT_KSR_AGGREGATION
            | SIPAEVENT_KSR_SIGNED_MEASUREMENT_AGGREGATION
            | SIPAEVENT_SI_POLICY_SIGNER
            | SIPAEVENT_SI_POLICY_UPDATE_SIGNER
            | SIPAEVENT_AUTHORITYPUBKEY
    )
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn osdevice_name(v: u64) -> Option<&'static str> {
    Some(match v {
        0x0000_0000 => "UNKNOWN",
        0x0001_0001 => "BLOCKIO_HARDDISK",
        0x0001_0002 => "BLOCKIO_REMOVABLEDISK",
        0x0001_0003 => "BLOCKIO_CDROM",
        0x0001_0004 => "BLOCKIO_PARTITION",
        0x0001_0005 => "BLOCKIO_FILE",
        0x0001_0006 => "BLOCKIO_RAMDISK",
        0x0001_0007 => "BLOCKIO_VIRTUALHARDDISK",
        0x0002_0000 => "SERIAL",
        0x0003_0000 => "UDP",
        0x0004_0000 => "VMBUS",
        0x0005_0000 => "COMPOSITE",
        0x0006_0000 => "CIMFS",
        _ => return None,
    })
}

/// `FVEB_UNLOCK_FLAG_*` names of a BitLocker unlock value, `|`-joined.
fn bitlocker_flags(v: u64) -> String {
    const FLAGS: [(u64, &str); 9] = [
        (0x1, "CACHED"),
        (0x2, "MEDIA"),
        (0x4, "TPM"),
        (0x10, "PIN"),
        (0x20, "EXTERNAL"),
        (0x40, "RECOVERY"),
        (0x80, "PASSPHRASE"),
        (0x100, "NBP"),
        (0x200, "AUK_OSFVEINFO"),
    ];
    if v == 0 {
        return "NONE".into();
    }
    let mut names: Vec<String> = FLAGS
        .iter()
        .filter(|(bit, _)| v & bit != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let known: u64 = FLAGS.iter().map(|(b, _)| b).sum();
    if v & !known != 0 {
        names.push(format!("{:#x}", v & !known));
    }
    names.join("|")
}

impl SipaValue {
    /// The integer this value holds, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            SipaValue::U32(v) => Some(u64::from(*v)),
            SipaValue::U64(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SipaValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SipaValue::Utf16(s) => Some(s),
            _ => None,
        }
    }

    pub fn items(&self) -> &[SipaItem] {
        match self {
            SipaValue::Items(v) => v,
            _ => &[],
        }
    }
}

/// The JSON of one item's value (see the module table).
fn value_json(kind: u32, value: &SipaValue) -> Value {
    match value {
        SipaValue::Items(items) => items_json(items),
        SipaValue::Bool(b) => json!(b),
        SipaValue::Utf16(s) => json!(s),
        SipaValue::Bytes(b) => json!({ "RawData": b64url(b) }),
        SipaValue::U32(_) | SipaValue::U64(_) => {
            let v = value.as_u64().unwrap_or_default();
            let string = match kind {
                SIPAEVENT_VBS_HVCI_POLICY => Some(if v & 1 == 1 {
                    "HypervisorEnforcedCodeIntegrityEnable".to_string()
                } else {
                    "HypervisorEnforcedCodeIntegrityDisable".to_string()
                }),
                SIPAEVENT_BITLOCKER_UNLOCK => Some(bitlocker_flags(v)),
                SIPAEVENT_OSDEVICE => {
                    Some(osdevice_name(v).map_or_else(|| format!("{v:#x}"), str::to_string))
                }
                SIPAEVENT_DATAEXECUTIONPREVENTION
                | SIPAEVENT_TRANSFER_CONTROL
                | SIPAEVENT_DRIVER_LOAD_POLICY
                | SIPAEVENT_DRTM_SMM_LEVEL => Some(v.to_string()),
                _ => None,
            };
            match string {
                Some(s) => json!({ "Value": v, "String": s }),
                None => json!(v),
            }
        }
    }
}

/// A sequence of items as one JSON object keyed by [`sipa_name`].
pub fn items_json(items: &[SipaItem]) -> Value {
    // Group by name in first-seen order so arrays keep log order.
    let mut groups: Vec<(u32, Vec<Value>)> = Vec::new();
    let mut index: BTreeMap<u32, usize> = BTreeMap::new();
    for item in items {
        let v = value_json(item.kind, &item.value);
        match index.get(&item.kind) {
            Some(&i) => groups[i].1.push(v),
            None => {
                index.insert(item.kind, groups.len());
                groups.push((item.kind, vec![v]));
            }
        }
    }
    let mut out = Map::new();
    for (kind, mut values) in groups {
        let v = if is_list_kind(kind) || values.len() > 1 {
            Value::Array(values)
        } else {
            values.pop().unwrap_or(Value::Null)
        };
        out.insert(sipa_name(kind), v);
    }
    Value::Object(out)
}

/// `ProcessedData` for an `EV_EVENT_TAG` event, `None` when its data is not
/// a well-formed SIPA sequence.
pub fn event_tag_json(data: &[u8]) -> Option<Value> {
    parse_sipa(data).ok().map(|items| items_json(&items))
}

/// The Windows boot configuration a proven log records, aggregated the way
/// MAA's TPM 1.2 rule catalogue aggregates it. "Boundary events" below are
/// `EV_EVENT_TAG` events in PCRs 12, 13, 19 and 20 (the catalogue's
/// `boolProperties` filter); "SRTM/DRTM events" those in PCRs 12 and 19
/// (its `srtmDrtmEventPcr` filter). Items are looked up inside each
/// event's top-level `EVENT_TRUSTBOUNDARY` containers, as the catalogue does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsBootState {
    /// `EVENT_BOOTDEBUGGING` in boundary events: `Some(false)` iff every
    /// value is false (`bootDebuggingDisabled`), `Some(true)` if any is true.
    pub boot_debugging: Option<bool>,
    /// `EVENT_OSKERNELDEBUG`, same rule (`osKernelDebuggingDisabled`).
    pub kernel_debugging: Option<bool>,
    /// `EVENT_CODEINTEGRITY` in boundary events: `Some(true)` iff every value
    /// is true (`codeIntegrityEnabled`).
    pub code_integrity: Option<bool>,
    /// `EVENT_TESTSIGNING`: any true → `Some(true)` (`testSigningDisabled` is its negation).
    pub test_signing: Option<bool>,
    /// `EVENT_FLIGHTSIGNING`: any true → `Some(true)` (`flightSigningNotEnabled`).
    pub flight_signing: Option<bool>,
    /// `EVENT_SAFEMODE`: any true → `Some(true)` (`notSafeMode`).
    pub safe_mode: Option<bool>,
    /// `EVENT_WINPE`: any true → `Some(true)` (`notWinPE`).
    pub winpe: Option<bool>,
    /// The last `EVENT_DATAEXECUTIONPREVENTION` value in boundary events (`depPolicy`).
    pub dep_policy: Option<u64>,
    /// The first non-zero `EVENT_BITLOCKER_UNLOCK` value in SRTM/DRTM events
    /// (`bitlockerEnabledValue`); `Some(0)` when all are zero.
    pub bitlocker_unlock: Option<u64>,
    /// `EVENT_VBS_VSM_REQUIRED` and `EVENT_VBS_MANDATORY_ENFORCEMENT` in
    /// SRTM/DRTM events: `Some(true)` iff every value is true (`vbsEnabled`).
    pub vsm_required: Option<bool>,
    /// `EVENT_VBS_IOMMU_REQUIRED` in boundary events: every value true (`iommuEnabled`).
    pub iommu_required: Option<bool>,
    /// `EVENT_VBS_HVCI_POLICY` in SRTM/DRTM events: `Some(true)` iff every
    /// value is exactly 1 (`hvciEnabled`; stricter than the sample, which
    /// skips values whose bit 0 is clear).
    pub hvci: Option<bool>,
    /// `EVENT_ELAM_KEYNAME` of every `EVENT_ELAM_AGGREGATION` in boundary
    /// events: the anti-malware vendors whose ELAM configuration was
    /// measured (real logs: `"Windows Defender"`). The ELAM driver itself is
    /// a loaded module, see [`Self::validated_modules`].
    pub elam_drivers: Vec<String>,
    /// `EVENT_FILEPATH` of every `EVENT_LOADEDMODULE_AGGREGATION` in boundary
    /// events whose `EVENT_IMAGEVALIDATED` is true, in log order.
    pub validated_modules: Vec<String>,
    /// Number of `EVENT_LOADEDMODULE_AGGREGATION` items in boundary events.
    pub loaded_modules: usize,
    /// The first `EVENT_APPLICATION_SVN` in a PCR 12 trust boundary (`bootMgrSvn`).
    pub boot_mgr_svn: Option<u64>,
    /// `EVENT_SI_POLICY` payloads in PCR 13 trust boundaries (`codeIntegrityPolicy`).
    pub si_policies: Vec<Vec<u8>>,
    /// The first `EVENT_BOOT_REVOCATION_LIST` payload in PCR 13 (`bootRevListInfo`).
    pub boot_revocation_list: Option<Vec<u8>>,
    /// `EV_EVENT_TAG` events that did not decode as SIPA items. The caller
    /// should refuse to derive claims when this is non-zero: a proven but
    /// undecodable event may hide any of the values above.
    pub malformed_events: usize,
}

impl WindowsBootState {
    /// MAA's `WindowsDefenderElamDriverLoaded`: a validated module at
    /// `\windows\system32\drivers\wdboot.sys` or `…\drivers\wd\wdboot.sys`
    /// (case-insensitive).
    pub fn windows_defender_elam_loaded(&self) -> bool {
        self.validated_modules.iter().any(|p| {
            p.eq_ignore_ascii_case(r"\windows\system32\drivers\wdboot.sys")
                || p.eq_ignore_ascii_case(r"\windows\system32\drivers\wd\wdboot.sys")
        })
    }
}

/// Fold booleans: `any` → true if any is true; otherwise true iff all are true.
fn fold_bool(values: &[bool], any: bool) -> Option<bool> {
    if values.is_empty() {
        return None;
    }
    Some(if any {
        values.iter().any(|b| *b)
    } else {
        values.iter().all(|b| *b)
    })
}

fn boundaries(items: &[SipaItem]) -> impl Iterator<Item = &SipaItem> {
    items
        .iter()
        .filter(|i| i.kind == SIPAEVENT_TRUSTBOUNDARY)
        .flat_map(|tb| tb.value.items())
}

/// Derive [`WindowsBootState`] from events the caller has proven (PCR
/// replayed to a quoted value, digest equal to the hash of the data), in
/// log order. `None` when no `EV_EVENT_TAG` event holds a known SIPA item
/// and none is malformed (a Linux log's EFI-stub tagged events, for
/// example, hold only unknown ids).
///
/// Order-dependent values (`dep_policy` last, `bitlocker_unlock` first
/// non-zero, `boot_mgr_svn` first) follow MAA's catalogue over every event
/// passed; an OS can extend PCRs 12–14 after the WBCL `EV_SEPARATOR`, so a
/// caller that wants boot-time values only should pass the events before
/// it. The all-true/any-true booleans only get stricter with more events.
pub fn windows_boot_state(events: &[&Event]) -> Option<WindowsBootState> {
    let tagged: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| e.event_type == EV_EVENT_TAG)
        .collect();
    if tagged.is_empty() {
        return None;
    }
    let mut st = WindowsBootState::default();
    let mut bools: BTreeMap<u32, Vec<bool>> = BTreeMap::new();
    let mut vsm = Vec::new();
    let mut hvci = Vec::new();
    let mut bitlocker = Vec::new();
    let mut saw_sipa = false;
    for e in tagged {
        let Ok(items) = parse_sipa(&e.data) else {
            st.malformed_events += 1;
            continue;
        };
        saw_sipa |= items.iter().any(|i| is_known(i.kind));
        let boundary_pcr = matches!(e.pcr_index, 12 | 13 | 19 | 20);
        let srtm_drtm_pcr = matches!(e.pcr_index, 12 | 19);
        for item in boundaries(&items) {
            let v = &item.value;
            if boundary_pcr {
                match item.kind {
                    SIPAEVENT_BOOTDEBUGGING
                    | SIPAEVENT_OSKERNELDEBUG
                    | SIPAEVENT_CODEINTEGRITY
                    | SIPAEVENT_TESTSIGNING
                    | SIPAEVENT_FLIGHTSIGNING
                    | SIPAEVENT_SAFEMODE
                    | SIPAEVENT_WINPE
                    | SIPAEVENT_VBS_IOMMU_REQUIRED => {
                        if let Some(b) = v.as_bool() {
                            bools.entry(item.kind).or_default().push(b);
                        }
                    }
                    SIPAEVENT_DATAEXECUTIONPREVENTION => {
                        if let Some(n) = v.as_u64() {
                            st.dep_policy = Some(n);
                        }
                    }
                    SIPAEVENT_ELAM_AGGREGATION => {
                        st.elam_drivers.extend(
                            v.items()
                                .iter()
                                .filter(|c| c.kind == SIPAEVENT_ELAM_KEYNAME)
                                .filter_map(|c| c.value.as_str().map(str::to_string)),
                        );
                    }
                    SIPAEVENT_LOADEDMODULE_AGGREGATION => {
                        st.loaded_modules += 1;
                        let children = v.items();
                        let validated = children.iter().any(|c| {
                            c.kind == SIPAEVENT_IMAGEVALIDATED && c.value.as_bool() == Some(true)
                        });
                        if validated {
                            st.validated_modules.extend(
                                children
                                    .iter()
                                    .filter(|c| c.kind == SIPAEVENT_FILEPATH)
                                    .filter_map(|c| c.value.as_str().map(str::to_string)),
                            );
                        }
                    }
                    _ => {}
                }
            }
            if srtm_drtm_pcr {
                match item.kind {
                    SIPAEVENT_VBS_VSM_REQUIRED | SIPAEVENT_VBS_MANDATORY_ENFORCEMENT => {
                        if let Some(b) = v.as_bool() {
                            vsm.push(b);
                        }
                    }
                    SIPAEVENT_VBS_HVCI_POLICY => {
                        if let Some(n) = v.as_u64() {
                            hvci.push(n == 1);
                        }
                    }
                    SIPAEVENT_BITLOCKER_UNLOCK => {
                        if let Some(n) = v.as_u64() {
                            bitlocker.push(n);
                        }
                    }
                    _ => {}
                }
            }
            if e.pcr_index == 12 && item.kind == SIPAEVENT_APPLICATION_SVN {
                st.boot_mgr_svn = st.boot_mgr_svn.or(v.as_u64());
            }
            if e.pcr_index == 13 {
                match (item.kind, v) {
                    (SIPAEVENT_SI_POLICY, SipaValue::Bytes(b)) => st.si_policies.push(b.clone()),
                    (SIPAEVENT_BOOT_REVOCATION_LIST, SipaValue::Bytes(b))
                        if st.boot_revocation_list.is_none() =>
                    {
                        st.boot_revocation_list = Some(b.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    if !saw_sipa && st.malformed_events == 0 {
        return None;
    }
    let get = |k: u32| bools.get(&k).map(Vec::as_slice).unwrap_or(&[]);
    st.boot_debugging = fold_bool(get(SIPAEVENT_BOOTDEBUGGING), true);
    st.kernel_debugging = fold_bool(get(SIPAEVENT_OSKERNELDEBUG), true);
    st.code_integrity = fold_bool(get(SIPAEVENT_CODEINTEGRITY), false);
    st.test_signing = fold_bool(get(SIPAEVENT_TESTSIGNING), true);
    st.flight_signing = fold_bool(get(SIPAEVENT_FLIGHTSIGNING), true);
    st.safe_mode = fold_bool(get(SIPAEVENT_SAFEMODE), true);
    st.winpe = fold_bool(get(SIPAEVENT_WINPE), true);
    st.iommu_required = fold_bool(get(SIPAEVENT_VBS_IOMMU_REQUIRED), false);
    st.vsm_required = fold_bool(&vsm, false);
    st.hvci = fold_bool(&hvci, false);
    if !bitlocker.is_empty() {
        st.bitlocker_unlock = Some(bitlocker.iter().copied().find(|v| *v != 0).unwrap_or(0));
    }
    Some(st)
}

/// Whether `e` is the WBCL separator Windows logs into PCRs 12–14.
pub fn is_wbcl_separator(e: &Event) -> bool {
    e.event_type == EV_SEPARATOR && matches!(e.pcr_index, 12..=14) && e.data == b"WBCL"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn agg(kind: u32, children: &[Vec<u8>]) -> Vec<u8> {
        item(kind, &children.concat())
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn module(path: &str, validated: bool) -> Vec<u8> {
        agg(
            SIPAEVENT_LOADEDMODULE_AGGREGATION,
            &[
                item(SIPAEVENT_FILEPATH, &utf16z(path)),
                item(SIPAEVENT_IMAGESIZE, &0x1e_1000u64.to_le_bytes()),
                item(SIPAEVENT_HASHALGORITHMID, &0x800cu32.to_le_bytes()),
                item(SIPAEVENT_AUTHENTICODEHASH, &[0xab; 32]),
                item(SIPAEVENT_IMAGEVALIDATED, &[u8::from(validated)]),
                item(SIPAEVENT_MODULE_SVN, &1u32.to_le_bytes()),
            ],
        )
    }

    /// A PCR 13 trust boundary shaped like the one a Windows Server VM logs:
    /// OS parameters, then an ELAM aggregation and loaded modules.
    fn os_boundary(debug: bool, testsigning: bool, safemode: bool, elam: bool) -> Vec<u8> {
        let mut children = vec![
            item(SIPAEVENT_APPLICATION_SVN, &1u32.to_le_bytes()),
            item(SIPAEVENT_OSKERNELDEBUG, &[0]),
            item(SIPAEVENT_OSDEVICE, &0x0001_0004u32.to_le_bytes()),
            item(SIPAEVENT_SYSTEMROOT, &utf16z(r"\Windows")),
            item(SIPAEVENT_DATAEXECUTIONPREVENTION, &1u64.to_le_bytes()),
            item(SIPAEVENT_SAFEMODE, &[u8::from(safemode)]),
            item(SIPAEVENT_WINPE, &[0]),
            item(SIPAEVENT_DRIVER_LOAD_POLICY, &1u32.to_le_bytes()),
            item(SIPAEVENT_BOOTDEBUGGING, &[u8::from(debug)]),
            item(SIPAEVENT_TESTSIGNING, &[u8::from(testsigning)]),
            item(SIPAEVENT_FLIGHTSIGNING, &[0]),
            item(SIPAEVENT_CODEINTEGRITY, &[1]),
            item(SIPAEVENT_BITLOCKER_UNLOCK, &0u32.to_le_bytes()),
            item(SIPAEVENT_SI_POLICY, &[1, 2, 3]),
            item(SIPAEVENT_SI_POLICY, &[4, 5]),
            module(r"\Windows\System32\drivers\tpm.sys", true),
        ];
        if elam {
            children.push(agg(
                SIPAEVENT_ELAM_AGGREGATION,
                &[
                    item(SIPAEVENT_ELAM_KEYNAME, &utf16z("Windows Defender")),
                    item(SIPAEVENT_ELAM_MEASURED, &[0x06; 20]),
                ],
            ));
            children.push(module(r"\Windows\system32\drivers\wd\WdBoot.sys", true));
        }
        agg(SIPAEVENT_TRUSTBOUNDARY, &children)
    }

    fn event(pcr: u32, data: Vec<u8>) -> Event {
        Event {
            pcr_index: pcr,
            event_type: EV_EVENT_TAG,
            digests: BTreeMap::new(),
            data,
        }
    }

    #[test]
    fn decodes_every_value_kind() {
        let data = os_boundary(false, false, false, true);
        let items = parse_sipa(&data).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].kind, SIPAEVENT_TRUSTBOUNDARY);
        let tb = items[0].value.items();
        let find = |k: u32| &tb.iter().find(|i| i.kind == k).unwrap().value;
        assert_eq!(find(SIPAEVENT_APPLICATION_SVN), &SipaValue::U32(1));
        assert_eq!(find(SIPAEVENT_DATAEXECUTIONPREVENTION), &SipaValue::U64(1));
        assert_eq!(find(SIPAEVENT_SAFEMODE), &SipaValue::Bool(false));
        assert_eq!(find(SIPAEVENT_CODEINTEGRITY), &SipaValue::Bool(true));
        assert_eq!(
            find(SIPAEVENT_SYSTEMROOT),
            &SipaValue::Utf16(r"\Windows".into())
        );
        assert_eq!(find(SIPAEVENT_SI_POLICY), &SipaValue::Bytes(vec![1, 2, 3]));
        let m = find(SIPAEVENT_LOADEDMODULE_AGGREGATION).items();
        assert_eq!(m.len(), 6);
        assert_eq!(
            m[0].value,
            SipaValue::Utf16(r"\Windows\System32\drivers\tpm.sys".into())
        );
        assert_eq!(m[1].value, SipaValue::U64(0x1e_1000));
        assert_eq!(m[4].value, SipaValue::Bool(true));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let data = os_boundary(true, true, true, true);
        assert_eq!(parse_sipa(&[]).unwrap(), vec![]);
        for n in 1..data.len() {
            assert!(parse_sipa(&data[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut data = item(SIPAEVENT_BOOTDEBUGGING, &[0]);
        for _ in 0..MAX_DEPTH {
            data = item(SIPAEVENT_TRUSTBOUNDARY, &data);
        }
        assert!(parse_sipa(&data).is_ok());
        let deeper = item(SIPAEVENT_TRUSTBOUNDARY, &data);
        match parse_sipa(&deeper).unwrap_err() {
            ParseError::Malformed { what, reason } => {
                assert_eq!(what, "SIPA aggregation");
                assert!(reason.contains("deeper than 8"), "{reason}");
            }
            e => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn wrong_widths_are_errors() {
        let bad_bool = item(SIPAEVENT_BOOTDEBUGGING, &[0, 0]);
        assert!(matches!(
            parse_sipa(&bad_bool),
            Err(ParseError::Malformed {
                what: "SIPA item",
                ..
            })
        ));
        let bad_int = item(SIPAEVENT_APPLICATION_SVN, &[1, 0, 0]);
        assert!(matches!(
            parse_sipa(&bad_int),
            Err(ParseError::Malformed {
                what: "SIPA item",
                ..
            })
        ));
        let odd_text = item(SIPAEVENT_FILEPATH, &[b'a', 0, b'b']);
        assert!(matches!(
            parse_sipa(&odd_text),
            Err(ParseError::Malformed {
                what: "SIPA string",
                ..
            })
        ));
        let lone_surrogate = item(SIPAEVENT_FILEPATH, &[0x00, 0xd8, 0, 0]);
        assert!(parse_sipa(&lone_surrogate).is_err());
        // An item whose size runs past its container.
        let mut lying = item(SIPAEVENT_TRUSTBOUNDARY, &item(SIPAEVENT_WINPE, &[0]));
        lying[4] = 200;
        assert!(matches!(
            parse_sipa(&lying),
            Err(ParseError::Truncated { .. })
        ));
        // Unknown kinds keep their bytes.
        assert_eq!(
            parse_sipa(&item(0x000c_0077, &[9, 9])).unwrap()[0].value,
            SipaValue::Bytes(vec![9, 9])
        );
    }

    #[test]
    fn names_follow_maa() {
        assert_eq!(sipa_name(SIPAEVENT_BOOTDEBUGGING), "EVENT_BOOTDEBUGGING");
        assert_eq!(sipa_name(0x4001_0003), "EVENT_LOADEDMODULE_AGGREGATION");
        assert_eq!(sipa_name(SIPAEVENT_DRTM_SMM_LEVEL), "EVENT_DRTM_SMM");
        assert_eq!(sipa_name(0x000a_0007), "EVENT_VBS_HVCI_POLICY");
        assert_eq!(sipa_name(SIPAERROR_TPMFAILURE), "ERROR_TPMFAILURE");
        assert_eq!(sipa_name(0x000c_0077), "EVENT_UNKNOWN_0x000c0077");
    }

    #[test]
    fn json_has_the_shape_maa_policies_query() {
        let data = os_boundary(false, false, false, true);
        let j = event_tag_json(&data).unwrap();
        let tb = &j["EVENT_TRUSTBOUNDARY"];
        assert_eq!(tb["EVENT_CODEINTEGRITY"], json!(true));
        assert_eq!(tb["EVENT_BOOTDEBUGGING"], json!(false));
        assert_eq!(tb["EVENT_APPLICATION_SVN"], json!(1));
        assert_eq!(tb["EVENT_DATAEXECUTIONPREVENTION"]["Value"], json!(1));
        assert_eq!(
            tb["EVENT_BITLOCKER_UNLOCK"],
            json!({"Value": 0, "String": "NONE"})
        );
        assert_eq!(
            tb["EVENT_OSDEVICE"],
            json!({"Value": 0x0001_0004, "String": "BLOCKIO_PARTITION"})
        );
        assert_eq!(tb["EVENT_DRIVER_LOAD_POLICY"]["String"], json!("1"));
        assert_eq!(
            tb["EVENT_SI_POLICY"],
            json!([{"RawData": "AQID"}, {"RawData": "BAU"}])
        );
        let modules = tb["EVENT_LOADEDMODULE_AGGREGATION"].as_array().unwrap();
        assert_eq!(modules.len(), 2);
        assert_eq!(
            modules[1]["EVENT_FILEPATH"],
            json!(r"\Windows\system32\drivers\wd\WdBoot.sys")
        );
        assert_eq!(modules[1]["EVENT_IMAGEVALIDATED"], json!(true));
        assert_eq!(modules[1]["EVENT_MODULE_SVN"], json!(1));
        assert_eq!(
            tb["EVENT_ELAM_AGGREGATION"][0]["EVENT_ELAM_KEYNAME"],
            json!("Windows Defender")
        );

        let vbs = agg(
            SIPAEVENT_TRUSTBOUNDARY,
            &[
                item(SIPAEVENT_VBS_HVCI_POLICY, &1u64.to_le_bytes()),
                item(SIPAEVENT_BITLOCKER_UNLOCK, &0x14u32.to_le_bytes()),
                item(SIPAEVENT_WINPE, &[0]),
                item(SIPAEVENT_WINPE, &[1]),
            ],
        );
        let j = event_tag_json(&vbs).unwrap();
        let tb = &j["EVENT_TRUSTBOUNDARY"];
        assert_eq!(
            tb["EVENT_VBS_HVCI_POLICY"],
            json!({"Value": 1, "String": "HypervisorEnforcedCodeIntegrityEnable"})
        );
        assert_eq!(tb["EVENT_BITLOCKER_UNLOCK"]["String"], json!("TPM|PIN"));
        // A repeated single-valued kind becomes an array (fails closed in
        // `JsonToClaimValue` instead of silently picking one).
        assert_eq!(tb["EVENT_WINPE"], json!([false, true]));
        assert!(event_tag_json(&vbs[..vbs.len() - 1]).is_none());
    }

    /// The shape of a real boot manager log (a Windows Server VM, SHA-1
    /// log): a PCR 12 trust boundary with counters, the boot manager's own
    /// module hash and the pre-OS flags, then a top-level authority key in
    /// PCR 14. Bytes are our own; the layout follows what that log holds.
    #[test]
    fn boot_manager_events_render_for_the_events_claim() {
        let pcr12 = agg(
            SIPAEVENT_TRUSTBOUNDARY,
            &[
                item(SIPAEVENT_BOOTCOUNTER, &4u64.to_le_bytes()),
                agg(
                    SIPAEVENT_LOADEDMODULE_AGGREGATION,
                    &[
                        item(SIPAEVENT_AUTHENTICODEHASH, &[0x44; 32]),
                        item(SIPAEVENT_IMAGEBASE, &0x14a_0000u64.to_le_bytes()),
                    ],
                ),
                item(SIPAEVENT_APPLICATION_SVN, &1u32.to_le_bytes()),
                item(SIPAEVENT_SVN_CHAIN_STATUS, &0u32.to_le_bytes()),
                item(SIPAEVENT_TRANSFER_CONTROL, &1u32.to_le_bytes()),
                item(SIPAEVENT_BOOTDEBUGGING, &[0]),
                item(SIPAEVENT_TESTSIGNING, &[0]),
                item(SIPAEVENT_FLIGHTSIGNING, &[0]),
                item(SIPAEVENT_CODEINTEGRITY, &[1]),
                item(SIPAEVENT_BITLOCKER_UNLOCK, &0u32.to_le_bytes()),
                item(SIPAEVENT_MORBIT_API_STATUS, &0xc000_0225u32.to_le_bytes()),
            ],
        );
        let e12 = event(12, pcr12);
        let j = super::super::eventlog::processed_data(&e12).unwrap();
        let tb = &j["EVENT_TRUSTBOUNDARY"];
        assert_eq!(tb["EVENT_BOOTCOUNTER"], json!(4));
        assert_eq!(tb["EVENT_TRANSFER_CONTROL"]["Value"], json!(1));
        assert_eq!(tb["EVENT_MORBIT_API_STATUS"], json!(0xc000_0225u32));
        assert_eq!(
            tb["EVENT_LOADEDMODULE_AGGREGATION"][0]["EVENT_IMAGEBASE"],
            json!(0x14a_0000)
        );
        // No file path or validation flag: the module is not counted as validated.
        let e14 = event(14, item(SIPAEVENT_AUTHORITYPUBKEY, &[0x30, 0x82]));
        assert_eq!(
            super::super::eventlog::processed_data(&e14).unwrap(),
            json!({"EVENT_AUTHORITYPUBKEY": [{"RawData": "MII"}]})
        );
        let st = windows_boot_state(&[&e12, &e14]).unwrap();
        assert_eq!(st.loaded_modules, 1);
        assert!(st.validated_modules.is_empty());
        assert_eq!(st.boot_mgr_svn, Some(1));
        assert_eq!(st.code_integrity, Some(true));
        assert_eq!(st.boot_debugging, Some(false));
        assert_eq!(st.bitlocker_unlock, Some(0));
    }

    #[test]
    fn boot_state_of_a_clean_boot() {
        let e12 = event(12, os_boundary(false, false, false, false));
        let e13 = event(13, os_boundary(false, false, false, true));
        let st = windows_boot_state(&[&e12, &e13]).unwrap();
        assert_eq!(st.boot_debugging, Some(false));
        assert_eq!(st.kernel_debugging, Some(false));
        assert_eq!(st.code_integrity, Some(true));
        assert_eq!(st.test_signing, Some(false));
        assert_eq!(st.flight_signing, Some(false));
        assert_eq!(st.safe_mode, Some(false));
        assert_eq!(st.winpe, Some(false));
        assert_eq!(st.dep_policy, Some(1));
        assert_eq!(st.bitlocker_unlock, Some(0));
        assert_eq!(st.vsm_required, None);
        assert_eq!(st.hvci, None);
        assert_eq!(st.elam_drivers, vec!["Windows Defender".to_string()]);
        assert_eq!(st.loaded_modules, 3);
        assert!(st.windows_defender_elam_loaded());
        assert_eq!(st.boot_mgr_svn, Some(1));
        assert_eq!(st.si_policies, vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(st.malformed_events, 0);
    }

    #[test]
    fn boot_state_flags_debugging_testsigning_safemode() {
        let clean = event(12, os_boundary(false, false, false, false));
        let debug = event(13, os_boundary(true, true, true, false));
        let st = windows_boot_state(&[&clean, &debug]).unwrap();
        assert_eq!(st.boot_debugging, Some(true));
        assert_eq!(st.test_signing, Some(true));
        assert_eq!(st.safe_mode, Some(true));
        // No ELAM driver validated: the only module is tpm.sys.
        assert!(!st.windows_defender_elam_loaded());
        assert!(st.elam_drivers.is_empty());
        // The same values in PCR 14 are outside the catalogue's filter.
        let pcr14 = event(14, os_boundary(true, true, true, false));
        let st = windows_boot_state(&[&clean, &pcr14]).unwrap();
        assert_eq!(st.boot_debugging, Some(false));
        assert_eq!(st.safe_mode, Some(false));
    }

    #[test]
    fn boot_state_unvalidated_elam_and_vbs() {
        let tb = agg(
            SIPAEVENT_TRUSTBOUNDARY,
            &[
                module(r"\Windows\system32\drivers\wdboot.sys", false),
                item(SIPAEVENT_VBS_VSM_REQUIRED, &[1]),
                item(SIPAEVENT_VBS_MANDATORY_ENFORCEMENT, &[0]),
                item(SIPAEVENT_VBS_IOMMU_REQUIRED, &[1]),
                item(SIPAEVENT_VBS_HVCI_POLICY, &1u32.to_le_bytes()),
                item(SIPAEVENT_BITLOCKER_UNLOCK, &0u32.to_le_bytes()),
                item(SIPAEVENT_BITLOCKER_UNLOCK, &4u32.to_le_bytes()),
                item(SIPAEVENT_BITLOCKER_UNLOCK, &2u32.to_le_bytes()),
            ],
        );
        let e = event(12, tb);
        let st = windows_boot_state(&[&e]).unwrap();
        assert!(!st.windows_defender_elam_loaded());
        assert!(st.validated_modules.is_empty());
        assert_eq!(st.loaded_modules, 1);
        assert_eq!(st.vsm_required, Some(false));
        assert_eq!(st.iommu_required, Some(true));
        assert_eq!(st.hvci, Some(true));
        assert_eq!(st.bitlocker_unlock, Some(4));
        assert_eq!(st.boot_debugging, None);
    }

    #[test]
    fn boot_state_counts_malformed_and_needs_tag_events() {
        let bad = event(12, vec![1, 2, 3]);
        let st = windows_boot_state(&[&bad]).unwrap();
        assert_eq!(st.malformed_events, 1);
        let sep = Event {
            pcr_index: 12,
            event_type: EV_SEPARATOR,
            digests: BTreeMap::new(),
            data: b"WBCL".to_vec(),
        };
        assert!(is_wbcl_separator(&sep));
        assert_eq!(windows_boot_state(&[&sep]), None);
        // A tagged event with only ids wbcl.h does not define (the Linux EFI
        // stub logs such events) is no Windows boot log.
        let linux = event(9, item(0x8f3b_22ed, b"initrd\0"));
        assert_eq!(windows_boot_state(&[&linux]), None);
        assert_eq!(
            windows_boot_state(&[&linux, &bad])
                .unwrap()
                .malformed_events,
            1
        );
    }
}
