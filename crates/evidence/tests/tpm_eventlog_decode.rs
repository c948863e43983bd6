//! Event-data decoding on real logs: every image-load event, boot variable
//! and tagged event of every shared TCG log decodes, and the device paths,
//! load options and boot orders come out as read by hand from the bytes.

use std::path::{Path, PathBuf};

use attesta_evidence::tpm::EventLog;
use attesta_evidence::tpm::devicepath::{image_load_event, load_option};
use attesta_evidence::tpm::eventlog::{Event, efi_variable, processed_data};
use attesta_evidence::tpm::windows::{EV_EVENT_TAG, parse_sipa, windows_boot_state};
use serde_json::{Value, json};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tpm")
}

fn all_logs() -> Vec<(String, EventLog)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(vectors().join("go-tpm-tools-eventlogs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    for d in [
        "go-tpm-tools-gce-cos85-no-nonce",
        "go-tpm-tools-gce-cos85-nonce9009",
    ] {
        paths.push(vectors().join(d).join("event_log.bin"));
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let log = EventLog::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), log)
        })
        .collect()
}

fn log(name: &str) -> EventLog {
    let p = vectors().join(name);
    EventLog::parse(&std::fs::read(&p).unwrap()).unwrap()
}

/// `ProcessedData` of the events of `types`, in log order.
fn decoded(log: &EventLog, types: &[u32]) -> Vec<Value> {
    log.events
        .iter()
        .filter(|e| types.contains(&e.event_type))
        .map(|e| processed_data(e).unwrap_or(Value::Null))
        .collect()
}

const IMAGE_APP: u32 = 0x8000_0003;
const IMAGE_DRIVERS: [u32; 2] = [0x8000_0004, 0x8000_0005];
const VARIABLE_BOOT: u32 = 0x8000_0002;

fn boot_variable(log: &EventLog, name: &str) -> Value {
    let e = log
        .events
        .iter()
        .find(|e| e.event_type == VARIABLE_BOOT && efi_variable(e).is_some_and(|v| v.name == name))
        .unwrap_or_else(|| panic!("no {name}"));
    processed_data(e).unwrap()
}

#[test]
fn every_event_of_every_shared_log_decodes() {
    let mut images = 0;
    let mut options = 0;
    let mut tagged = 0;
    for (name, log) in all_logs() {
        for (i, e) in log.events.iter().enumerate() {
            match e.event_type {
                IMAGE_APP | 0x8000_0004 | 0x8000_0005 => {
                    assert!(image_load_event(&e.data).is_some(), "{name} event {i}");
                    images += 1;
                }
                VARIABLE_BOOT | 0x8000_000c => {
                    let v = efi_variable(e).unwrap_or_else(|| panic!("{name} event {i}"));
                    if v.name.starts_with("Boot") && v.name != "BootOrder" {
                        assert!(load_option(&v.data).is_some(), "{name} {}", v.name);
                        options += 1;
                    }
                }
                EV_EVENT_TAG => {
                    parse_sipa(&e.data).unwrap_or_else(|err| panic!("{name} event {i}: {err}"));
                    tagged += 1;
                }
                _ => {}
            }
        }
        // The rendered claim keeps one entry per event.
        assert_eq!(
            log.events_json()["Events"].as_array().unwrap().len(),
            log.events.len(),
            "{name}"
        );
    }
    // Counted independently of this decoder: the 16 logs hold 79 image-load
    // events, 44 boot options and 3 tagged events (Linux EFI-stub load
    // options in PCR 9).
    assert_eq!((images, options, tagged), (79, 44, 3));
}

#[test]
fn gce_cos_shim_path_and_boot_options() {
    let log = log("go-tpm-tools-gce-cos85-nonce9009/event_log.bin");
    let apps = decoded(&log, &[IMAGE_APP]);
    assert_eq!(
        apps[0],
        json!({
            "ImageLocationInMemory": 3165515800u64,
            "ImageLengthInMemory": 1182456,
            "ImageLinkTimeAddress": 0,
            "DevicePath": r"PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)/HD(12,GPT,22849E7A-91C5-3049-85E7-78145A9107CD,0x3D000,0x10000)/\EFI\BOOT\BOOTX64.EFI",
        })
    );
    // The kernel images shim/GRUB measure from memory carry no device path.
    assert_eq!(apps[1]["DevicePath"], json!(""));
    assert_eq!(apps.len(), 3);

    let order = boot_variable(&log, "BootOrder");
    assert_eq!(order["BootOrder"], json!(["Boot0000", "Boot0001"]));
    assert_eq!(order["VariableData"], json!("AAABAA"));
    let ui = boot_variable(&log, "Boot0000");
    assert_eq!(ui["Description"], json!("UiApp"));
    assert_eq!(
        ui["DevicePath"],
        json!(
            "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)"
        )
    );
    let disk = boot_variable(&log, "Boot0001");
    assert_eq!(disk["Description"], json!("UEFI nvme_card-pd"));
    assert_eq!(
        disk["DevicePath"],
        json!("PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)")
    );
    // The existing members stay as MAA's samples read them.
    assert_eq!(
        disk["VariableGuid"],
        json!("8BE4DF61-93CA-11D2-AA0D-00E098032B8C")
    );
    assert_eq!(disk["UnicodeName"], json!("Boot0001"));
    assert!(disk["VariableData"].is_string());
}

#[test]
fn scsi_disk_shim_on_debian_gce() {
    let log = log("go-tpm-tools-eventlogs/debian-10.bin");
    assert_eq!(
        decoded(&log, &[IMAGE_APP])[0]["DevicePath"],
        json!(
            r"PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(15,GPT,70F5FB2B-5C34-6C42-90B1-F8F78823537D,0x2000,0x3E000)/\EFI\BOOT\BOOTX64.EFI"
        )
    );
    let disk = boot_variable(&log, "Boot0001");
    assert_eq!(disk["Description"], json!("UEFI Google PersistentDisk "));
    assert_eq!(
        disk["DevicePath"],
        json!("PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)")
    );
}

#[test]
fn sata_disk_and_option_rom_on_a_workstation() {
    let log = log("go-tpm-tools-eventlogs/arch-linux-workstation.bin");
    let apps = decoded(&log, &[IMAGE_APP]);
    assert_eq!(
        apps[0]["DevicePath"],
        json!(
            r"PciRoot(0x0)/Pci(0x17,0x0)/Sata(0x1,0xFFFF,0x0)/HD(1,GPT,1A504613-19B5-4B44-A83D-D926D40DAA1C,0x800,0x80000)/\EFI\SYSTEMD\SYSTEMD-BOOTX64.EFI"
        )
    );
    assert_eq!(
        apps[1]["DevicePath"],
        json!(
            r"PciRoot(0x0)/Pci(0x17,0x0)/Sata(0x1,0xFFFF,0x0)/HD(1,GPT,1A504613-19B5-4B44-A83D-D926D40DAA1C,0x800,0x80000)/\vmlinuz-linux-lts"
        )
    );
    assert_eq!(
        decoded(&log, &IMAGE_DRIVERS)[0]["DevicePath"],
        json!("PciRoot(0x0)/Pci(0x1,0x0)/Pci(0x0,0x0)/Offset(0xF250,0x201FF)")
    );
    let order = boot_variable(&log, "BootOrder");
    assert_eq!(
        order["BootOrder"],
        json!(["Boot0000", "Boot0003", "Boot0002"])
    );
    let sd = boot_variable(&log, "Boot0000");
    assert_eq!(sd["Description"], json!("Linux Boot Manager"));
    assert_eq!(
        sd["DevicePath"],
        json!(
            r"HD(1,GPT,1A504613-19B5-4B44-A83D-D926D40DAA1C,0x800,0x80000)/\EFI\SYSTEMD\SYSTEMD-BOOTX64.EFI"
        )
    );
    // Boot0002 packs two paths (another disk than Boot0000's); the first is
    // the boot device.
    let bytes = efi_variable(
        log.events
            .iter()
            .find(|e| efi_variable(e).is_some_and(|v| v.name == "Boot0002"))
            .unwrap(),
    )
    .unwrap()
    .data;
    let lo = load_option(&bytes).unwrap();
    assert_eq!(
        lo.file_paths,
        vec![
            "VenHw(99E275E7-75A0-4B37-A2E6-C5385E6C00CB)".to_string(),
            r"HD(1,GPT,C06C8547-12B6-43DB-AF4C-413316E02936,0x800,0x113000)/\EFI\SYSTEMD\SYSTEMD-BOOTX64.EFI".to_string(),
        ]
    );
}

#[test]
fn network_nvme_and_bbs_nodes() {
    let log = log("go-tpm-tools-eventlogs/glinux-alex.bin");
    assert_eq!(
        boot_variable(&log, "Boot0002")["DevicePath"],
        json!(
            "PciRoot(0x0)/Pci(0x1F,0x6)/MAC(A4AE1114F9E0,0x0)/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)"
        )
    );
    assert_eq!(
        boot_variable(&log, "Boot0003")["Description"],
        json!("UEFI: PXE IPv6 Intel(R) Ethernet Connection (2) I219-LM")
    );
    assert_eq!(
        decoded(&log, &[IMAGE_APP])[0]["DevicePath"],
        json!(
            r"PciRoot(0x1)/Pci(0x2,0x0)/Pci(0x0,0x0)/NVMe(0x1,FE-6E-B9-91-8C-38-25-00)/HD(2,GPT,406697B0-CE81-4B4F-B0C6-2BCE7884B767,0x1000,0x3D0800)/\EFI\DEBIAN\GRUBX64.EFI"
        )
    );
    let log = self::log("go-tpm-tools-eventlogs/ubuntu-2104-no-dbx.bin");
    let bbs = boot_variable(&log, "Boot0002");
    assert_eq!(bbs["Description"], json!("VirtScsi(0,3,0) Disk"));
    assert_eq!(bbs["DevicePath"], json!("BBS(HD,VirtScsi(0,3,0) Disk,0x0)"));
}

#[test]
fn linux_tagged_events_are_not_windows_boot_state() {
    // The Linux EFI stub logs its load options as a TCG tagged event in
    // PCR 9; it decodes as one unknown item and yields no Windows flags.
    let log = log("go-tpm-tools-eventlogs/ubuntu-2404-amd-sevsnp.bin");
    let tagged: Vec<&Event> = log
        .events
        .iter()
        .filter(|e| e.event_type == EV_EVENT_TAG)
        .collect();
    assert_eq!(tagged.len(), 1);
    assert_eq!(
        processed_data(tagged[0]).unwrap(),
        json!({"EVENT_UNKNOWN_0x8f3b22ed": {"RawData": "TE9BREVEX0lNQUdFOjpMb2FkT3B0aW9ucwA"}})
    );
    assert_eq!(windows_boot_state(&tagged), None);
}
