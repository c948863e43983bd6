//! Windows boot-configuration claims (SIPA items in `EV_EVENT_TAG` events)
//! through the TPM verifier, on testkit logs laid out like a Windows boot
//! manager's: each claim from its item, only from events the quote proves,
//! only before the WBCL separator, none when a proven event is malformed —
//! and none from the real Linux logs, which hold no Windows items.

use std::path::Path;

use attesta_evidence::ErrorCode;
use attesta_evidence::tpm::windows::{
    SIPAEVENT_APPLICATION_SVN, SIPAEVENT_BITLOCKER_UNLOCK, SIPAEVENT_BOOTDEBUGGING,
    SIPAEVENT_CODEINTEGRITY, SIPAEVENT_DATAEXECUTIONPREVENTION, SIPAEVENT_ELAM_AGGREGATION,
    SIPAEVENT_ELAM_KEYNAME, SIPAEVENT_FILEPATH, SIPAEVENT_FLIGHTSIGNING, SIPAEVENT_IMAGEVALIDATED,
    SIPAEVENT_LOADEDMODULE_AGGREGATION, SIPAEVENT_OSKERNELDEBUG, SIPAEVENT_SAFEMODE,
    SIPAEVENT_TESTSIGNING, SIPAEVENT_TRUSTBOUNDARY, SIPAEVENT_WINPE,
};
use attesta_evidence::tpm::{TpmSettings, verify};
use attesta_testkit::tpm::{EV_EVENT_TAG, EV_SEPARATOR, sipa_container, sipa_item};
use attesta_testkit::{LogEvent, TpmSample};
use serde_json::{Map, Value, json};

const WINDOWS_CLAIMS: [&str; 13] = [
    "bootDebuggingDisabled",
    "osKernelDebuggingDisabled",
    "codeIntegrityEnabled",
    "testSigningDisabled",
    "flightSigningNotEnabled",
    "notSafeMode",
    "notWinPE",
    "vbsEnabled",
    "iommuEnabled",
    "hvciEnabled",
    "depPolicy",
    "bitlockerStatus",
    "elamDriverLoaded",
];

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// A boot manager's PCR 12 trust boundary and an OS loader's PCR 13 one.
fn boot_manager(debugging: bool) -> Vec<u8> {
    sipa_container(
        SIPAEVENT_TRUSTBOUNDARY,
        &[
            sipa_item(SIPAEVENT_BOOTDEBUGGING, &[debugging as u8]),
            sipa_item(SIPAEVENT_APPLICATION_SVN, &3u32.to_le_bytes()),
            sipa_item(SIPAEVENT_BITLOCKER_UNLOCK, &0u32.to_le_bytes()),
            sipa_item(SIPAEVENT_BITLOCKER_UNLOCK, &0x400u32.to_le_bytes()),
        ],
    )
}

fn os_loader(test_signing: bool, module: &str) -> Vec<u8> {
    sipa_container(
        SIPAEVENT_TRUSTBOUNDARY,
        &[
            sipa_item(SIPAEVENT_OSKERNELDEBUG, &[0]),
            sipa_item(SIPAEVENT_CODEINTEGRITY, &[1]),
            sipa_item(SIPAEVENT_TESTSIGNING, &[test_signing as u8]),
            sipa_item(SIPAEVENT_DATAEXECUTIONPREVENTION, &1u64.to_le_bytes()),
            sipa_item(SIPAEVENT_SAFEMODE, &[0]),
            sipa_item(SIPAEVENT_WINPE, &[0]),
            sipa_container(
                SIPAEVENT_LOADEDMODULE_AGGREGATION,
                &[
                    sipa_item(SIPAEVENT_FILEPATH, &utf16z(module)),
                    sipa_item(SIPAEVENT_IMAGEVALIDATED, &[1]),
                ],
            ),
        ],
    )
}

fn claims_of(events: Vec<LogEvent>) -> Map<String, Value> {
    let mut b = TpmSample::builder();
    for e in events {
        b = b.event(e);
    }
    let s = b.build();
    verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .expect("the sample verifies")
    .claims()
    .into_map()
}

const WDBOOT: &str = "\\Windows\\system32\\drivers\\wd\\WdBoot.sys";

#[test]
fn a_clean_windows_boot_gives_its_claims() {
    let c = claims_of(vec![
        LogEvent::new(12, EV_EVENT_TAG, &boot_manager(false)),
        LogEvent::new(13, EV_EVENT_TAG, &os_loader(false, WDBOOT)),
    ]);
    assert_eq!(c["bootDebuggingDisabled"], true);
    assert_eq!(c["osKernelDebuggingDisabled"], true);
    assert_eq!(c["codeIntegrityEnabled"], true);
    assert_eq!(c["testSigningDisabled"], true);
    assert_eq!(c["notSafeMode"], true);
    assert_eq!(c["notWinPE"], true);
    assert_eq!(c["depPolicy"], 1);
    assert_eq!(c["bitlockerStatus"], 0x400, "the first non-zero value");
    assert_eq!(c["bootMgrSvn"], 3);
    assert_eq!(c["elamDriverLoaded"], true);
    // Items the log does not record give no claim (a policy needing one fails closed).
    for absent in [
        "vbsEnabled",
        "iommuEnabled",
        "hvciEnabled",
        "flightSigningNotEnabled",
    ] {
        assert!(c.get(absent).is_none(), "{absent}");
    }
    // The events claim carries the decoded items for JMESPath policies.
    let tagged: Vec<&Value> = c["events"]["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["EventTypeString"] == "EV_EVENT_TAG")
        .collect();
    assert_eq!(tagged.len(), 2);
    assert_eq!(
        tagged[1]["ProcessedData"]["EVENT_TRUSTBOUNDARY"]["EVENT_LOADEDMODULE_AGGREGATION"][0]["EVENT_FILEPATH"],
        json!(WDBOOT)
    );
}

#[test]
fn debugging_test_signing_and_other_drivers_show() {
    let c = claims_of(vec![
        LogEvent::new(12, EV_EVENT_TAG, &boot_manager(true)),
        LogEvent::new(
            13,
            EV_EVENT_TAG,
            &os_loader(true, "\\Windows\\system32\\drivers\\other.sys"),
        ),
    ]);
    assert_eq!(c["bootDebuggingDisabled"], false);
    assert_eq!(c["testSigningDisabled"], false);
    assert_eq!(c["elamDriverLoaded"], false);
}

#[test]
fn only_proven_boot_time_events_count() {
    // After PCR 12's WBCL separator the running OS extends more: a debugging
    // item there is not the boot configuration.
    let c = claims_of(vec![
        LogEvent::new(12, EV_EVENT_TAG, &boot_manager(false)),
        LogEvent::new(12, EV_SEPARATOR, b"WBCL"),
        LogEvent::new(12, EV_EVENT_TAG, &boot_manager(true)),
    ]);
    assert_eq!(c["bootDebuggingDisabled"], true);

    // An event whose data is not what was measured (the log replays, the
    // data lies): ignored, so the claims it would give are absent.
    let c = claims_of(vec![
        LogEvent::new(12, EV_EVENT_TAG, &boot_manager(false)).measuring(b"something else"),
    ]);
    for name in WINDOWS_CLAIMS {
        assert!(c.get(name).is_none(), "{name} from an unproven event");
    }

    // A proven event whose items do not fill it is not an EV_EVENT_TAG
    // event: the log is refused (event types are not measured, so a type
    // the data does not bear out is a lie about the event).
    let mut broken = boot_manager(false);
    broken.truncate(broken.len() - 2);
    let mut b = TpmSample::builder();
    for e in [
        LogEvent::new(13, EV_EVENT_TAG, &os_loader(false, WDBOOT)),
        LogEvent::new(12, EV_EVENT_TAG, &broken),
    ] {
        b = b.event(e);
    }
    let s = b.build();
    let err = verify(
        &s.evidence(),
        &s.nonce,
        &s.roots(),
        &TpmSettings::default(),
        s.verify_at(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "EventTypeInvalid", "{err}");
    assert!(err.to_string().contains("(EV_EVENT_TAG, PCR 12)"), "{err}");
}

/// Each negated claim follows its item both ways, and `elamDriverLoaded`
/// is given only when the log records loaded modules.
#[test]
fn each_os_flag_is_negated_into_its_claim_and_elam_needs_modules() {
    let loader = |flight: u8, safe: u8, winpe: u8| {
        sipa_container(
            SIPAEVENT_TRUSTBOUNDARY,
            &[
                sipa_item(SIPAEVENT_FLIGHTSIGNING, &[flight]),
                sipa_item(SIPAEVENT_SAFEMODE, &[safe]),
                sipa_item(SIPAEVENT_WINPE, &[winpe]),
            ],
        )
    };
    for (flight, safe, winpe) in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)] {
        let c = claims_of(vec![LogEvent::new(
            13,
            EV_EVENT_TAG,
            &loader(flight, safe, winpe),
        )]);
        assert_eq!(c["flightSigningNotEnabled"], flight == 0, "{c:?}");
        assert_eq!(c["notSafeMode"], safe == 0);
        assert_eq!(c["notWinPE"], winpe == 0);
        // No loaded-module aggregation: nothing to say about ELAM.
        assert!(c.get("elamDriverLoaded").is_none(), "{c:?}");
        assert!(c.get("x-attesta-tpm-elam-vendors").is_none(), "{c:?}");
    }
    // An ELAM aggregation names its vendors.
    let elam = sipa_container(
        SIPAEVENT_TRUSTBOUNDARY,
        &[sipa_container(
            SIPAEVENT_ELAM_AGGREGATION,
            &[sipa_item(SIPAEVENT_ELAM_KEYNAME, &utf16z("Contoso AV"))],
        )],
    );
    let c = claims_of(vec![LogEvent::new(13, EV_EVENT_TAG, &elam)]);
    assert_eq!(c["x-attesta-tpm-elam-vendors"], json!(["Contoso AV"]));
}

#[test]
fn the_real_linux_logs_give_no_windows_claims() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/tpm/go-tpm-tools-gce-cos85-nonce9009");
    let log = std::fs::read(dir.join("event_log.bin")).unwrap();
    let parsed = attesta_evidence::tpm::EventLog::parse(&log).unwrap();
    let all: Vec<&attesta_evidence::tpm::eventlog::Event> = parsed.events.iter().collect();
    assert!(attesta_evidence::tpm::windows::windows_boot_state(&all).is_none());
}
