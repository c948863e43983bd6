//! UEFI device paths (UEFI specification, "Device Path Protocol") in the
//! events that carry them, rendered in the specification's text forms:
//!
//! - [`image_load_event`]: `UEFI_IMAGE_LOAD_EVENT`, the data of
//!   `EV_EFI_BOOT_SERVICES_APPLICATION`, `EV_EFI_BOOT_SERVICES_DRIVER` and
//!   `EV_EFI_RUNTIME_SERVICES_DRIVER` (`ImageLocationInMemory`,
//!   `ImageLengthInMemory`, `ImageLinkTimeAddress`, `LengthOfDevicePath`, all
//!   UINT64, then the device path);
//! - [`load_option`]: `EFI_LOAD_OPTION`, the value of a `Boot####` variable
//!   (`Attributes` UINT32, `FilePathListLength` UINT16, a NUL-terminated
//!   UTF-16 `Description`, the packed `FilePathList`, optional data);
//! - [`device_path_text`]: one device path to text.
//!
//! A device path is a sequence of nodes (`Type` u8, `SubType` u8, `Length`
//! u16 including this header) ended by End Entire (`0x7F`/`0xFF`); End
//! Instance (`0x7F`/`0x01`) separates the instances of a multi-instance path
//! and renders as `,`. Nodes render as the specification's text forms
//! (upper-case hex, `0x` prefixes, GUIDs in registry format), e.g.
//! `PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(1,GPT,…,0x800,0x100000)/\EFI\BOOT\BOOTX64.EFI`.
//! Nodes without a text form here render as `Path(type,subtype,hex)`, the
//! specification's generic form. Everything here is total: any bytes give a
//! value or a typed error (the `Option`-returning event decoders give `None`).
//! Written by hand: no maintained pure-Rust crate renders UEFI device paths.

use crate::error::ParseError;
use crate::reader::Reader;

use super::windows::utf16_text;

const HARDWARE: u8 = 0x01;
const ACPI: u8 = 0x02;
const MESSAGING: u8 = 0x03;
const MEDIA: u8 = 0x04;
const BBS: u8 = 0x05;
const END: u8 = 0x7f;
const END_ENTIRE: u8 = 0xff;
const END_INSTANCE: u8 = 0x01;

/// Text form of a GUID stored in its mixed-endian wire layout.
pub fn guid_text(g: &[u8; 16]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{}-{}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        hex::encode_upper(&g[8..10]),
        hex::encode_upper(&g[10..16]),
    )
}

fn ipv4(b: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn ipv6(b: [u8; 16]) -> String {
    b.chunks_exact(2)
        .map(|c| format!("{:04x}", u16::from_be_bytes([c[0], c[1]])))
        .collect::<Vec<_>>()
        .join(":")
}

fn protocol(p: u16) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        p => x(p.into()),
    }
}

/// `0x` + upper-case hex, the specification's number form.
fn x(v: u64) -> String {
    format!("0x{v:X}")
}

fn vendor(kind: &str, r: &mut Reader<'_>) -> Result<String, ParseError> {
    let g = r.array::<16>()?;
    let data = r.rest();
    Ok(if data.is_empty() {
        format!("Ven{kind}({})", guid_text(&g))
    } else {
        format!("Ven{kind}({},{})", guid_text(&g), hex::encode_upper(data))
    })
}

fn ascii_z(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    bytes[..end]
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// One node's text; `r` holds exactly the node's data (header excluded).
fn node_text(ty: u8, sub: u8, r: &mut Reader<'_>) -> Result<String, ParseError> {
    let raw = r.clone().rest();
    let text = match (ty, sub) {
        (HARDWARE, 0x01) => {
            let function = r.u8()?;
            let device = r.u8()?;
            format!("Pci({},{})", x(device.into()), x(function.into()))
        }
        (HARDWARE, 0x02) => format!("PcCard({})", x(r.u8()?.into())),
        (HARDWARE, 0x03) => {
            let mem = r.u32_le()?;
            let start = r.u64_le()?;
            let end = r.u64_le()?;
            format!("MemoryMapped({},{},{})", x(mem.into()), x(start), x(end))
        }
        (HARDWARE, 0x04) => vendor("Hw", r)?,
        (HARDWARE, 0x05) => format!("Ctrl({})", x(r.u32_le()?.into())),
        (HARDWARE, 0x06) => {
            let t = r.u8()?;
            let base = r.u64_le()?;
            format!("BMC({},{})", x(t.into()), x(base))
        }
        (ACPI, 0x01) => {
            let hid = r.u32_le()?;
            let uid = r.u32_le()?;
            if hid & 0xffff == 0x41d0 {
                let num = hid >> 16;
                match num {
                    0x0a03 => format!("PciRoot({})", x(uid.into())),
                    0x0a08 => format!("PcieRoot({})", x(uid.into())),
                    0x0604 => format!("Floppy({})", x(uid.into())),
                    0x0301 => format!("Keyboard({})", x(uid.into())),
                    0x0501 => format!("Serial({})", x(uid.into())),
                    0x0401 => format!("ParallelPort({})", x(uid.into())),
                    _ => format!("Acpi(PNP{num:04X},{})", x(uid.into())),
                }
            } else {
                format!("Acpi(0x{hid:08X},{})", x(uid.into()))
            }
        }
        (ACPI, 0x03) => {
            let mut adrs = vec![x(r.u32_le()?.into())];
            while !r.is_empty() {
                adrs.push(x(r.u32_le()?.into()));
            }
            format!("AcpiAdr({})", adrs.join(","))
        }
        (MESSAGING, 0x01) => {
            let primary = r.u8()?;
            let slave = r.u8()?;
            let lun = r.u16_le()?;
            format!(
                "Ata({},{},{})",
                if primary == 0 { "Primary" } else { "Secondary" },
                if slave == 0 { "Master" } else { "Slave" },
                x(lun.into())
            )
        }
        (MESSAGING, 0x02) => {
            let pun = r.u16_le()?;
            let lun = r.u16_le()?;
            format!("Scsi({},{})", x(pun.into()), x(lun.into()))
        }
        (MESSAGING, 0x03) => {
            let _reserved = r.u32_le()?;
            let wwn = r.u64_le()?;
            let lun = r.u64_le()?;
            format!("Fibre({},{})", x(wwn), x(lun))
        }
        (MESSAGING, 0x05) => {
            let port = r.u8()?;
            let interface = r.u8()?;
            format!("USB({},{})", x(port.into()), x(interface.into()))
        }
        (MESSAGING, 0x0a) => vendor("Msg", r)?,
        (MESSAGING, 0x0b) => {
            let mac = r.array::<32>()?;
            let if_type = r.u8()?;
            let len = if if_type <= 1 { 6 } else { 32 };
            format!(
                "MAC({},{})",
                hex::encode_upper(&mac[..len]),
                x(if_type.into())
            )
        }
        (MESSAGING, 0x0c) => {
            let local = r.array::<4>()?;
            let remote = r.array::<4>()?;
            let _local_port = r.u16_le()?;
            let _remote_port = r.u16_le()?;
            let proto = r.u16_le()?;
            let static_ip = r.u8()?;
            let mut s = format!(
                "IPv4({},{},{},{}",
                ipv4(remote),
                protocol(proto),
                if static_ip != 0 { "Static" } else { "DHCP" },
                ipv4(local)
            );
            if r.remaining() >= 8 {
                let gateway = r.array::<4>()?;
                let mask = r.array::<4>()?;
                s += &format!(",{},{}", ipv4(gateway), ipv4(mask));
            }
            s + ")"
        }
        (MESSAGING, 0x0d) => {
            let local = r.array::<16>()?;
            let remote = r.array::<16>()?;
            let _local_port = r.u16_le()?;
            let _remote_port = r.u16_le()?;
            let proto = r.u16_le()?;
            let origin = r.u8()?;
            let mut s = format!(
                "IPv6({},{},{},{}",
                ipv6(remote),
                protocol(proto),
                match origin {
                    0 => "Static",
                    1 => "StatelessAutoConfigure",
                    _ => "StatefulAutoConfigure",
                },
                ipv6(local)
            );
            if r.remaining() >= 17 {
                let prefix = r.u8()?;
                let gateway = r.array::<16>()?;
                s += &format!(",{},{}", ipv6(gateway), x(prefix.into()));
            }
            s + ")"
        }
        (MESSAGING, 0x0f) => {
            let vendor_id = r.u16_le()?;
            let product_id = r.u16_le()?;
            let class = r.u8()?;
            let subclass = r.u8()?;
            let proto = r.u8()?;
            format!(
                "UsbClass({},{},{},{},{})",
                x(vendor_id.into()),
                x(product_id.into()),
                x(class.into()),
                x(subclass.into()),
                x(proto.into())
            )
        }
        (MESSAGING, 0x11) => format!("Unit({})", x(r.u8()?.into())),
        (MESSAGING, 0x12) => {
            let hba = r.u16_le()?;
            let pmp = r.u16_le()?;
            let lun = r.u16_le()?;
            format!(
                "Sata({},{},{})",
                x(hba.into()),
                x(pmp.into()),
                x(lun.into())
            )
        }
        (MESSAGING, 0x17) => {
            let nsid = r.u32_le()?;
            let eui = r.array::<8>()?;
            let eui: Vec<String> = eui.iter().rev().map(|b| format!("{b:02X}")).collect();
            format!("NVMe({},{})", x(nsid.into()), eui.join("-"))
        }
        (MESSAGING, 0x18) => format!("Uri({})", ascii_z(r.rest())),
        (MESSAGING, 0x1a) => format!("SD({})", x(r.u8()?.into())),
        (MESSAGING, 0x1d) => format!("eMMC({})", x(r.u8()?.into())),
        (MEDIA, 0x01) => {
            let part = r.u32_le()?;
            let start = r.u64_le()?;
            let size = r.u64_le()?;
            let sig = r.array::<16>()?;
            let _mbr_type = r.u8()?;
            let sig_type = r.u8()?;
            let sig = match sig_type {
                1 => format!(
                    "MBR,0x{:08X}",
                    u32::from_le_bytes([sig[0], sig[1], sig[2], sig[3]])
                ),
                2 => format!("GPT,{}", guid_text(&sig)),
                t => format!("{t},0"),
            };
            format!("HD({part},{sig},{},{})", x(start), x(size))
        }
        (MEDIA, 0x02) => {
            let entry = r.u32_le()?;
            let start = r.u64_le()?;
            let size = r.u64_le()?;
            format!("CDROM({},{},{})", x(entry.into()), x(start), x(size))
        }
        (MEDIA, 0x03) => vendor("Media", r)?,
        (MEDIA, 0x04) => utf16_text(r.rest(), "device path file name")?,
        (MEDIA, 0x05) => format!("Media({})", guid_text(&r.array::<16>()?)),
        (MEDIA, 0x06) => format!("FvFile({})", guid_text(&r.array::<16>()?)),
        (MEDIA, 0x07) => format!("Fv({})", guid_text(&r.array::<16>()?)),
        (MEDIA, 0x08) => {
            let _reserved = r.u32_le()?;
            let start = r.u64_le()?;
            let end = r.u64_le()?;
            format!("Offset({},{})", x(start), x(end))
        }
        (BBS, 0x01) => {
            let device_type = r.u16_le()?;
            let status = r.u16_le()?;
            let desc = ascii_z(r.rest());
            let t = match device_type {
                0x01 => "Floppy".to_string(),
                0x02 => "HD".to_string(),
                0x03 => "CDROM".to_string(),
                0x04 => "PCMCIA".to_string(),
                0x05 => "USB".to_string(),
                0x06 => "Network".to_string(),
                t => x(t.into()),
            };
            format!("BBS({t},{desc},{})", x(status.into()))
        }
        _ => {
            r.rest();
            format!("Path({ty},{sub},{})", hex::encode_upper(raw))
        }
    };
    // Fixed-size nodes may carry trailing bytes in a longer node; they have
    // no text form, so they are dropped rather than misread.
    r.rest();
    Ok(text)
}

/// Decode one device path up to and including its End Entire node.
fn path_text(r: &mut Reader<'_>) -> Result<String, ParseError> {
    let mut out = String::new();
    let mut first = true;
    loop {
        let ty = r.u8()?;
        let sub = r.u8()?;
        let len = r.u16_le()? as usize;
        if len < 4 {
            return Err(ParseError::Malformed {
                what: "device path node",
                reason: format!("length {len}, the header alone is 4"),
            });
        }
        let mut body = r.sub(len - 4, "device path node")?;
        if ty == END {
            match sub {
                END_ENTIRE => return Ok(out),
                END_INSTANCE => {
                    out.push(',');
                    first = true;
                    continue;
                }
                s => {
                    return Err(ParseError::Unsupported {
                        what: "device path end node subtype",
                        value: format!("{s:#04x}"),
                    });
                }
            }
        }
        if !first {
            out.push('/');
        }
        first = false;
        out += &node_text(ty, sub, &mut body)?;
    }
}

/// One device path as text. Empty input gives an empty string; otherwise
/// the bytes must be exactly one path ending in End Entire.
pub fn device_path_text(bytes: &[u8]) -> Result<String, ParseError> {
    if bytes.is_empty() {
        return Ok(String::new());
    }
    let mut r = Reader::new(bytes, "device path");
    let text = path_text(&mut r)?;
    r.finish()?;
    Ok(text)
}

/// A packed array of device paths (a load option's `FilePathList`).
pub fn device_path_list(bytes: &[u8]) -> Result<Vec<String>, ParseError> {
    let mut r = Reader::new(bytes, "device path list");
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(path_text(&mut r)?);
    }
    Ok(out)
}

/// A decoded `UEFI_IMAGE_LOAD_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLoad {
    pub location_in_memory: u64,
    pub length_in_memory: u64,
    pub link_time_address: u64,
    /// The device path's text; empty when the event carries none (images
    /// loaded from memory by a boot loader).
    pub device_path: String,
}

/// Decode a `UEFI_IMAGE_LOAD_EVENT`; `None` when it is truncated or its
/// device path does not decode. Bytes after the declared device path are
/// ignored: some shims log a few (seen in real COS logs).
pub fn image_load_event(data: &[u8]) -> Option<ImageLoad> {
    let mut r = Reader::new(data, "UEFI_IMAGE_LOAD_EVENT");
    let location_in_memory = r.u64_le().ok()?;
    let length_in_memory = r.u64_le().ok()?;
    let link_time_address = r.u64_le().ok()?;
    let dp_len = usize::try_from(r.u64_le().ok()?).ok()?;
    let device_path = device_path_text(r.take(dp_len).ok()?).ok()?;
    Some(ImageLoad {
        location_in_memory,
        length_in_memory,
        link_time_address,
        device_path,
    })
}

/// A decoded `EFI_LOAD_OPTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOption {
    pub attributes: u32,
    pub description: String,
    /// Every path of the `FilePathList`; the first is the boot device.
    pub file_paths: Vec<String>,
    pub optional_data: Vec<u8>,
}

/// Decode an `EFI_LOAD_OPTION` (a `Boot####` variable's value); `None` when
/// malformed.
pub fn load_option(data: &[u8]) -> Option<LoadOption> {
    let mut r = Reader::new(data, "EFI_LOAD_OPTION");
    let attributes = r.u32_le().ok()?;
    let list_len = r.u16_le().ok()? as usize;
    let mut desc = Vec::new();
    loop {
        let unit = r.array::<2>().ok()?;
        if unit == [0, 0] {
            break;
        }
        desc.extend_from_slice(&unit);
    }
    let description = utf16_text(&desc, "load option description").ok()?;
    let file_paths = device_path_list(r.take(list_len).ok()?).ok()?;
    Some(LoadOption {
        attributes,
        description,
        file_paths,
        optional_data: r.rest().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ty: u8, sub: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![ty, sub];
        out.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn end() -> Vec<u8> {
        node(END, END_ENTIRE, &[])
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    const DISK_GUID: [u8; 16] = [
        0x13, 0x46, 0x50, 0x1a, 0xb5, 0x19, 0x44, 0x4b, 0xa8, 0x3d, 0xd9, 0x26, 0xd4, 0x0d, 0xaa,
        0x1c,
    ];

    fn hd() -> Vec<u8> {
        let mut d = 1u32.to_le_bytes().to_vec();
        d.extend_from_slice(&0x800u64.to_le_bytes());
        d.extend_from_slice(&0x10_0000u64.to_le_bytes());
        d.extend_from_slice(&DISK_GUID);
        d.extend_from_slice(&[2, 2]);
        node(MEDIA, 0x01, &d)
    }

    fn boot_path() -> Vec<u8> {
        [
            node(ACPI, 0x01, &[0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0]),
            node(HARDWARE, 0x01, &[0x00, 0x03]),
            node(MESSAGING, 0x02, &[1, 0, 0, 0]),
            hd(),
            node(MEDIA, 0x04, &utf16z(r"\EFI\BOOT\BOOTX64.EFI")),
            end(),
        ]
        .concat()
    }

    #[test]
    fn common_nodes_render_as_the_spec_says() {
        assert_eq!(
            device_path_text(&boot_path()).unwrap(),
            r"PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(1,GPT,1A504613-19B5-4B44-A83D-D926D40DAA1C,0x800,0x100000)/\EFI\BOOT\BOOTX64.EFI"
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                node(MESSAGING, 0x12, &[1, 0, 0xff, 0xff, 0, 0]),
                "Sata(0x1,0xFFFF,0x0)",
            ),
            (
                node(MESSAGING, 0x17, &[1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
                "NVMe(0x1,08-07-06-05-04-03-02-01)",
            ),
            (node(MESSAGING, 0x05, &[2, 1]), "USB(0x2,0x1)"),
            (
                node(
                    MESSAGING,
                    0x0b,
                    &[
                        [0xa4, 0xae, 0x11, 0x14, 0xf9, 0xe0].as_slice(),
                        &[0; 26],
                        &[1],
                    ]
                    .concat(),
                ),
                "MAC(A4AE1114F9E0,0x1)",
            ),
            (
                node(
                    MESSAGING,
                    0x0c,
                    &[
                        [10, 0, 0, 2].as_slice(),
                        &[10, 0, 0, 1],
                        &[0, 0, 0, 0],
                        &[6, 0],
                        &[1],
                        &[10, 0, 0, 254],
                        &[255, 255, 255, 0],
                    ]
                    .concat(),
                ),
                "IPv4(10.0.0.1,TCP,Static,10.0.0.2,10.0.0.254,255.255.255.0)",
            ),
            (
                node(MESSAGING, 0x18, b"http://boot/x.efi"),
                "Uri(http://boot/x.efi)",
            ),
            (
                node(ACPI, 0x01, &[0xd0, 0x41, 0x01, 0x05, 1, 0, 0, 0]),
                "Serial(0x1)",
            ),
            (
                node(ACPI, 0x01, &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]),
                "Acpi(0x78563412,0x0)",
            ),
            (
                node(
                    HARDWARE,
                    0x03,
                    &[
                        [11u8, 0, 0, 0].as_slice(),
                        &0x1000u64.to_le_bytes(),
                        &0x1fffu64.to_le_bytes(),
                    ]
                    .concat(),
                ),
                "MemoryMapped(0xB,0x1000,0x1FFF)",
            ),
            (
                node(HARDWARE, 0x04, &[DISK_GUID.as_slice(), &[0xab]].concat()),
                "VenHw(1A504613-19B5-4B44-A83D-D926D40DAA1C,AB)",
            ),
            (
                node(MEDIA, 0x07, &DISK_GUID),
                "Fv(1A504613-19B5-4B44-A83D-D926D40DAA1C)",
            ),
            (
                node(MEDIA, 0x06, &DISK_GUID),
                "FvFile(1A504613-19B5-4B44-A83D-D926D40DAA1C)",
            ),
            (
                node(
                    MEDIA,
                    0x08,
                    &[
                        [0u8; 4].as_slice(),
                        &0xf250u64.to_le_bytes(),
                        &0x201ffu64.to_le_bytes(),
                    ]
                    .concat(),
                ),
                "Offset(0xF250,0x201FF)",
            ),
            (
                node(
                    MEDIA,
                    0x02,
                    &[
                        [1u8, 0, 0, 0].as_slice(),
                        &0x40u64.to_le_bytes(),
                        &0x80u64.to_le_bytes(),
                    ]
                    .concat(),
                ),
                "CDROM(0x1,0x40,0x80)",
            ),
            (
                node(BBS, 0x01, b"\x02\x00\x00\x00Disk 0\x00"),
                "BBS(HD,Disk 0,0x0)",
            ),
            (node(0x03, 0x99, &[0xde, 0xad]), "Path(3,153,DEAD)"),
        ];
        for (bytes, want) in cases {
            let path = [bytes, end()].concat();
            assert_eq!(device_path_text(&path).unwrap(), want);
        }
        let mut mbr = hd();
        mbr[4 + 20..4 + 36]
            .copy_from_slice(&[0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        mbr[4 + 37] = 1;
        assert_eq!(
            device_path_text(&[mbr, end()].concat()).unwrap(),
            "HD(1,MBR,0x12345678,0x800,0x100000)"
        );
    }

    #[test]
    fn instances_and_empty_paths() {
        let two = [
            node(ACPI, 0x01, &[0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0]),
            node(END, END_INSTANCE, &[]),
            node(ACPI, 0x01, &[0xd0, 0x41, 0x03, 0x0a, 1, 0, 0, 0]),
            end(),
        ]
        .concat();
        assert_eq!(device_path_text(&two).unwrap(), "PciRoot(0x0),PciRoot(0x1)");
        assert_eq!(device_path_text(&[]).unwrap(), "");
        assert_eq!(device_path_text(&end()).unwrap(), "");
    }

    #[test]
    fn malformed_paths_are_errors() {
        let path = boot_path();
        for n in 1..path.len() {
            assert!(device_path_text(&path[..n]).is_err(), "prefix of {n} bytes");
        }
        // Trailing bytes after End Entire.
        assert!(matches!(
            device_path_text(&[path.clone(), vec![0]].concat()),
            Err(ParseError::TrailingBytes { .. })
        ));
        // A node shorter than its own header.
        assert!(matches!(
            device_path_text(&[1, 1, 2, 0]),
            Err(ParseError::Malformed {
                what: "device path node",
                ..
            })
        ));
        // A PCI node too short for its fields.
        assert!(matches!(
            device_path_text(&[node(HARDWARE, 0x01, &[0]), end()].concat()),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            device_path_text(&node(END, 0x02, &[])),
            Err(ParseError::Unsupported { .. })
        ));
    }

    #[test]
    fn image_load_events() {
        let dp = boot_path();
        let mut ev = 0x3f_d000u64.to_le_bytes().to_vec();
        ev.extend_from_slice(&0x1_0000u64.to_le_bytes());
        ev.extend_from_slice(&0u64.to_le_bytes());
        ev.extend_from_slice(&(dp.len() as u64).to_le_bytes());
        ev.extend_from_slice(&dp);
        let il = image_load_event(&ev).unwrap();
        assert_eq!(il.location_in_memory, 0x3f_d000);
        assert_eq!(il.length_in_memory, 0x1_0000);
        assert!(il.device_path.ends_with(r"/\EFI\BOOT\BOOTX64.EFI"));
        for n in 0..ev.len() {
            assert_eq!(image_load_event(&ev[..n]), None, "prefix of {n} bytes");
        }
        // No device path, as boot loaders log images loaded from memory.
        let bare = [0u8; 32];
        assert_eq!(image_load_event(&bare).unwrap().device_path, "");
    }

    #[test]
    fn load_options() {
        let dp = boot_path();
        let mut opt = 1u32.to_le_bytes().to_vec();
        opt.extend_from_slice(&(dp.len() as u16 + 4).to_le_bytes());
        opt.extend_from_slice(&utf16z("ubuntu"));
        opt.extend_from_slice(&dp);
        opt.extend_from_slice(&end());
        opt.extend_from_slice(b"opt");
        let lo = load_option(&opt).unwrap();
        assert_eq!(lo.attributes, 1);
        assert_eq!(lo.description, "ubuntu");
        assert_eq!(lo.file_paths.len(), 2);
        assert!(lo.file_paths[0].starts_with("PciRoot(0x0)/Pci(0x3,0x0)"));
        assert_eq!(lo.file_paths[1], "");
        assert_eq!(lo.optional_data, b"opt");
        for n in 0..opt.len() - 3 {
            assert_eq!(load_option(&opt[..n]), None, "prefix of {n} bytes");
        }
    }
}
