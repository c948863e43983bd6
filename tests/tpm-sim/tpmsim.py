#!/usr/bin/env python3
"""Helper for make-evidence.sh: the parts of the swtpm evidence harness that are easier in Python.

It owns these jobs, one subcommand each (plus ``ports``, two free consecutive loopback ports for
swtpm, and ``manifest``, which writes manifest.json):

* ``eventlog`` - the scripted boot: a fixed list of measurements, written as a crypto-agile TCG event
  log (TCG PC Client Platform Firmware Profile: a SHA-1-format EV_NO_ACTION "Spec ID Event03" first
  event, then TCG_PCR_EVENT2 records) and, beside it, the exact per-bank digests for tpm2_pcrextend, so
  the log and the TPM can only agree.
* ``certs`` - a throwaway test CA (RSA-2048, self-signed) and AK certificates for the AK public keys.
* ``pcrs`` - turns tpm2_pcrread's YAML into pcrs.json.
* ``check`` - the self-check: re-reads every output file from disk with its own parsers (it shares
  no state with the writers above) and verifies quote signature, TPMS_ATTEST magic/type/extraData,
  qualified signer, PCR digest, AK certificate and event-log replay, then derives the secure-boot claim
  from the log. Any mismatch exits non-zero with the failed check named. It is the reference that the
  Rust verifier's behaviour on this evidence must match.

Only the Python ``cryptography`` package is used for crypto (no OpenSSL command-line tool).
"""

import argparse
import datetime
import hashlib
import json
import os
import socket
import struct
import sys
import uuid

# TPM 2.0 algorithm identifiers (TPM 2.0 Part 2, table "TPM_ALG_ID").
ALG_IDS = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D}
ALG_NAMES = {v: k for k, v in ALG_IDS.items()}
DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
TPM_ALG_RSA = 0x0001
TPM_ALG_NULL = 0x0010
TPM_ALG_RSASSA = 0x0014
TPM_ALG_RSAPSS = 0x0016
TPM_ALG_ECDSA = 0x0018
TPM_ALG_ECC = 0x0023
TPM_ECC_NIST_P256 = 0x0003
TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018

# TCG PC Client PFP event types used by the scripted boot.
EV_NO_ACTION = 0x00000003
EV_SEPARATOR = 0x00000004
EV_S_CRTM_VERSION = 0x00000008
EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001
EV_EFI_VARIABLE_BOOT = 0x80000002
EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003
EV_EFI_ACTION = 0x80000007
EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000008
EV_EFI_VARIABLE_AUTHORITY = 0x800000E0
EVENT_NAMES = {
    EV_NO_ACTION: "EV_NO_ACTION",
    EV_SEPARATOR: "EV_SEPARATOR",
    EV_S_CRTM_VERSION: "EV_S_CRTM_VERSION",
    EV_EFI_VARIABLE_DRIVER_CONFIG: "EV_EFI_VARIABLE_DRIVER_CONFIG",
    EV_EFI_VARIABLE_BOOT: "EV_EFI_VARIABLE_BOOT",
    EV_EFI_BOOT_SERVICES_APPLICATION: "EV_EFI_BOOT_SERVICES_APPLICATION",
    EV_EFI_ACTION: "EV_EFI_ACTION",
    EV_EFI_PLATFORM_FIRMWARE_BLOB: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
    EV_EFI_VARIABLE_AUTHORITY: "EV_EFI_VARIABLE_AUTHORITY",
}

EFI_GLOBAL_VARIABLE = uuid.UUID("8BE4DF61-93CA-11D2-AA0D-00E098032B8C")
EFI_IMAGE_SECURITY_DATABASE = uuid.UUID("D719B2CB-3D3A-4596-A3BC-DAD00E67656F")
EFI_CERT_SHA256 = uuid.UUID("C1C41626-504C-4092-ACA9-41F936934328")
# Owner GUID of the synthetic signature-list entries; any fixed value will do.
SIM_OWNER = uuid.UUID("6A7E57A0-0000-4000-8000-00005357544D")

QUOTE_PCRS = list(range(8))


class CheckFailed(Exception):
    """A self-check that did not hold; the message names it."""


def fail(msg):
    raise CheckFailed(msg)


# ----------------------------------------------------------------------------------------------
# The scripted boot and the event log writer.


def efi_guid(u):
    """EFI_GUID in memory: the first three fields little-endian, the last eight bytes as written."""
    return u.bytes_le


def ucs2(s):
    return s.encode("utf-16-le")


def uefi_variable_data(guid, name, data):
    """UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength (chars), VariableDataLength, name, data."""
    return efi_guid(guid) + struct.pack("<QQ", len(name), len(data)) + ucs2(name) + data


def sha256_signature_list(entries):
    """EFI_SIGNATURE_LIST of EFI_CERT_SHA256 entries, each an EFI_SIGNATURE_DATA (owner + hash)."""
    sig_size = 16 + 32
    body = b"".join(efi_guid(SIM_OWNER) + e for e in entries)
    return efi_guid(EFI_CERT_SHA256) + struct.pack("<III", 28 + len(body), 0, sig_size) + body


def file_path_device_path(path):
    """A media file-path node (type 4, subtype 4) holding a NUL-terminated UCS-2 path, then the end node."""
    p = ucs2(path + "\0")
    return struct.pack("<BBH", 4, 4, 4 + len(p)) + p + struct.pack("<BBH", 0x7F, 0xFF, 4)


def image_load_event(location, length, device_path):
    """UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device-path length, device path."""
    return struct.pack("<QQQQ", location, length, 0, len(device_path)) + device_path


def synthetic_bytes(label, size):
    """Deterministic filler standing for firmware or image contents that a real platform would hash."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(label.encode() + struct.pack("<I", counter)).digest()
        counter += 1
    return out[:size]


def scripted_boot(secure_boot):
    """The measurements of one simulated UEFI boot, in order: (pcr, type, event data, measured bytes).

    The digest of each event is the hash of "measured bytes" in every bank. Where the PC Client PFP
    says the digest covers the event data itself (CRTM version, separators, EFI actions, Secure Boot
    policy variables, authorities) measured == data; where it covers something else (a firmware volume,
    an image's Authenticode hash, a boot variable's data only) the measured bytes are synthetic.
    """
    sb = b"\x01" if secure_boot else b"\x00"
    db_hashes = [hashlib.sha256(b"attesta tpm-sim db entry %d" % i).digest() for i in range(2)]
    dbx_hashes = [hashlib.sha256(b"attesta tpm-sim revoked image").digest()]
    pk = sha256_signature_list([hashlib.sha256(b"attesta tpm-sim PK").digest()])
    kek = sha256_signature_list([hashlib.sha256(b"attesta tpm-sim KEK").digest()])
    db = sha256_signature_list(db_hashes)
    dbx = sha256_signature_list(dbx_hashes)
    firmware = synthetic_bytes("attesta tpm-sim firmware volume", 4096)
    bootloader = synthetic_bytes("attesta tpm-sim BOOTX64.EFI", 8192)
    kernel = synthetic_bytes("attesta tpm-sim vmlinuz", 8192)
    boot0000 = (
        struct.pack("<I", 1)  # LOAD_OPTION_ACTIVE
        + struct.pack("<H", len(file_path_device_path("\\EFI\\BOOT\\BOOTX64.EFI")))
        + ucs2("attesta tpm-sim\0")
        + file_path_device_path("\\EFI\\BOOT\\BOOTX64.EFI")
    )
    boot_order = struct.pack("<H", 0)

    ev = []

    def add(pcr, etype, data, measured=None):
        ev.append((pcr, etype, data, data if measured is None else measured))

    crtm = ucs2("attesta tpm-sim CRTM 1.0\0")
    add(0, EV_S_CRTM_VERSION, crtm)
    add(0, EV_EFI_PLATFORM_FIRMWARE_BLOB, struct.pack("<QQ", 0xFFC00000, len(firmware)), firmware)
    for name, guid, data in (
        ("SecureBoot", EFI_GLOBAL_VARIABLE, sb),
        ("PK", EFI_GLOBAL_VARIABLE, pk),
        ("KEK", EFI_GLOBAL_VARIABLE, kek),
        ("db", EFI_IMAGE_SECURITY_DATABASE, db),
        ("dbx", EFI_IMAGE_SECURITY_DATABASE, dbx),
    ):
        add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, uefi_variable_data(guid, name, data))
    # EV_EFI_VARIABLE_BOOT digests only the variable's data (EV_EFI_VARIABLE_BOOT2 would cover the
    # whole UEFI_VARIABLE_DATA).
    add(1, EV_EFI_VARIABLE_BOOT, uefi_variable_data(EFI_GLOBAL_VARIABLE, "BootOrder", boot_order), boot_order)
    add(1, EV_EFI_VARIABLE_BOOT, uefi_variable_data(EFI_GLOBAL_VARIABLE, "Boot0000", boot0000), boot0000)
    add(4, EV_EFI_ACTION, b"Calling EFI Application from Boot Option")
    for pcr in range(8):
        add(pcr, EV_SEPARATOR, b"\x00\x00\x00\x00")
    if secure_boot:
        # The db entry that authorised the boot loader, as firmware records it when enforcing.
        entry = efi_guid(SIM_OWNER) + db_hashes[0]
        add(7, EV_EFI_VARIABLE_AUTHORITY, uefi_variable_data(EFI_IMAGE_SECURITY_DATABASE, "db", entry))
    # An image's digest is its Authenticode hash; the synthetic bytes stand in for that.
    add(4, EV_EFI_BOOT_SERVICES_APPLICATION,
        image_load_event(0x7E000000, len(bootloader), file_path_device_path("\\EFI\\BOOT\\BOOTX64.EFI")),
        bootloader)
    add(4, EV_EFI_BOOT_SERVICES_APPLICATION,
        image_load_event(0x7D000000, len(kernel), file_path_device_path("\\vmlinuz")),
        kernel)
    add(5, EV_EFI_ACTION, b"Exit Boot Services Invocation")
    add(5, EV_EFI_ACTION, b"Exit Boot Services Returned with Success")
    return ev


def spec_id_event(banks):
    """TCG_EfiSpecIDEvent ("Spec ID Event03"): PC client, spec 2.0 errata 0, UINTN = 8 bytes."""
    body = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(banks))
    for b in banks:
        body += struct.pack("<HH", ALG_IDS[b], DIGEST_SIZES[b])
    body += b"\x00"  # vendorInfoSize
    # The first event keeps the TPM 1.2 TCG_PCClientPCREvent layout with a 20-byte zero digest.
    return struct.pack("<II", 0, EV_NO_ACTION) + b"\x00" * 20 + struct.pack("<I", len(body)) + body


def pcr_event2(pcr, etype, digests, data):
    out = struct.pack("<III", pcr, etype, len(digests))
    for alg, d in digests:
        out += struct.pack("<H", ALG_IDS[alg]) + d
    return out + struct.pack("<I", len(data)) + data


def cmd_eventlog(args):
    banks = args.banks.split(",")
    log = spec_id_event(banks)
    extends = []
    listing = []
    for pcr, etype, data, measured in scripted_boot(args.secure_boot == "on"):
        digests = [(b, hashlib.new(b, measured).digest()) for b in banks]
        log += pcr_event2(pcr, etype, digests, data)
        extends.append("%d:%s" % (pcr, ",".join("%s=%s" % (b, d.hex()) for b, d in digests)))
        listing.append({"pcr": pcr, "type": EVENT_NAMES[etype], "digests": {b: d.hex() for b, d in digests}})
    with open(args.out, "wb") as f:
        f.write(log)
    with open(args.extends, "w") as f:
        f.write("\n".join(extends) + "\n")
    with open(args.events, "w") as f:
        json.dump(listing, f, indent=1)


# ----------------------------------------------------------------------------------------------
# Test CA and AK certificates.

# A fixed validity window keeps a pinned verification time valid on any day the harness runs.
NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2050, 1, 1, tzinfo=datetime.timezone.utc)
TCG_KP_AIK_CERTIFICATE = "2.23.133.8.3"


def cmd_certs(args):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Attesta test"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Attesta tpm-sim test AK CA"),
    ])
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    with open(os.path.join(args.out_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(args.out_dir, "ca.der"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.DER))

    for label, pem_path in (("ak", args.ak_pem), ("ak_ecc", args.ak_ecc_pem)):
        if not pem_path:
            continue
        with open(pem_path, "rb") as f:
            ak_pub = serialization.load_pem_public_key(f.read())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Attesta test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Attesta tpm-sim %s" % label.replace("_", " ").upper()),
            ]))
            .issuer_name(ca_name)
            .public_key(ak_pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(TCG_KP_AIK_CERTIFICATE)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        with open(os.path.join(args.out_dir, label + "_cert.der"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.DER))
        with open(os.path.join(args.out_dir, label + "_cert.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))


# ----------------------------------------------------------------------------------------------
# tpm2_pcrread YAML -> pcrs.json


def cmd_pcrs(args):
    banks = args.banks.split(",")
    values = {}
    bank = None
    with open(args.yaml) as f:
        for line in f:
            s = line.strip()
            if not s:
                continue
            if s.endswith(":") and ":" not in s[:-1]:
                bank = s[:-1]
                values[bank] = {}
                continue
            idx, _, val = s.partition(":")
            val = val.strip()
            if bank is None or not val.startswith("0x"):
                fail("unexpected tpm2_pcrread line: %r" % line)
            values[bank][str(int(idx.strip()))] = val[2:].lower()
    if sorted(values) != sorted(banks):
        fail("tpm2_pcrread returned banks %s, expected %s" % (sorted(values), sorted(banks)))
    for b in banks:
        if sorted(values[b], key=int) != [str(i) for i in QUOTE_PCRS]:
            fail("tpm2_pcrread returned PCRs %s of %s" % (sorted(values[b], key=int), b))
    with open(args.out, "w") as f:
        json.dump({b: values[b] for b in banks}, f, indent=1)
        f.write("\n")


def cmd_ports(_args):
    """Two free consecutive loopback ports: the swtpm TCTI always finds the control port at port + 1."""
    for _ in range(50):
        a = socket.socket()
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        finally:
            a.close()
            b.close()
        print("%d %d" % (port, port + 1))
        return
    fail("found no two free consecutive ports on 127.0.0.1")


# ----------------------------------------------------------------------------------------------
# Self-check: independent big-endian TPM parsers and a little-endian event-log parser.


class Rd:
    """Bounds-checked reader; running off the end is a failed check, never a silent truncation."""

    def __init__(self, data, what, endian=">"):
        self.d, self.i, self.what, self.e = data, 0, what, endian

    def take(self, n):
        if n < 0 or self.i + n > len(self.d):
            fail("%s: truncated at offset %d (need %d more bytes)" % (self.what, self.i, n))
        out = self.d[self.i:self.i + n]
        self.i += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(self.e + "H", self.take(2))[0]

    def u32(self):
        return struct.unpack(self.e + "I", self.take(4))[0]

    def u64(self):
        return struct.unpack(self.e + "Q", self.take(8))[0]

    def tpm2b(self):
        return self.take(self.u16())

    def done(self):
        if self.i != len(self.d):
            fail("%s: %d trailing bytes" % (self.what, len(self.d) - self.i))


def parse_tpmt_public(data):
    r = Rd(data, "TPMT_PUBLIC")
    p = {"type": r.u16(), "nameAlg": r.u16(), "attributes": r.u32(), "authPolicy": r.tpm2b()}
    sym = r.u16()
    if sym != TPM_ALG_NULL:
        r.u16(), r.u16()
    p["scheme"] = r.u16()
    p["schemeHash"] = r.u16() if p["scheme"] != TPM_ALG_NULL else None
    if p["type"] == TPM_ALG_RSA:
        p["keyBits"] = r.u16()
        p["exponent"] = r.u32() or 65537
        p["modulus"] = r.tpm2b()
    elif p["type"] == TPM_ALG_ECC:
        p["curve"] = r.u16()
        kdf = r.u16()
        if kdf != TPM_ALG_NULL:
            r.u16()
        p["x"], p["y"] = r.tpm2b(), r.tpm2b()
    else:
        fail("TPMT_PUBLIC: unsupported key type 0x%04x" % p["type"])
    r.done()
    return p


def parse_pcr_selection(r):
    sel = []
    for _ in range(r.u32()):
        alg = r.u16()
        bitmap = r.take(r.u8())
        pcrs = [i for i in range(len(bitmap) * 8) if bitmap[i // 8] >> (i % 8) & 1]
        sel.append((alg, pcrs))
    return sel


def parse_attest(data):
    r = Rd(data, "TPMS_ATTEST")
    a = {"magic": r.u32(), "type": r.u16(), "qualifiedSigner": r.tpm2b(), "extraData": r.tpm2b()}
    a["clock"], a["resetCount"], a["restartCount"], a["safe"] = r.u64(), r.u32(), r.u32(), r.u8()
    a["firmwareVersion"] = r.u64()
    if a["type"] != TPM_ST_ATTEST_QUOTE:
        fail("TPMS_ATTEST type is 0x%04x, expected TPM_ST_ATTEST_QUOTE (0x8018)" % a["type"])
    a["pcrSelect"] = parse_pcr_selection(r)
    a["pcrDigest"] = r.tpm2b()
    r.done()
    return a


def read_signature(r):
    """A TPMT_SIGNATURE read from r (which may hold more after it)."""
    s = {"sigAlg": r.u16(), "hash": r.u16()}
    if s["sigAlg"] in (TPM_ALG_RSASSA, TPM_ALG_RSAPSS):
        s["sig"] = r.tpm2b()
    elif s["sigAlg"] == TPM_ALG_ECDSA:
        s["r"], s["s"] = r.tpm2b(), r.tpm2b()
    else:
        fail("TPMT_SIGNATURE: unsupported sigAlg 0x%04x" % s["sigAlg"])
    return s


def parse_signature(data):
    r = Rd(data, "TPMT_SIGNATURE")
    s = read_signature(r)
    r.done()
    return s


def parse_event_log(data):
    """Crypto-agile log -> (banks from the Spec ID event, [events]). Checks the header strictly."""
    r = Rd(data, "event log", "<")
    pcr, etype, digest = r.u32(), r.u32(), r.take(20)
    spec = Rd(r.take(r.u32()), "Spec ID event", "<")
    if (pcr, etype, digest) != (0, EV_NO_ACTION, b"\x00" * 20):
        fail("event log: first event is not a SHA-1-format EV_NO_ACTION in PCR 0")
    if spec.take(16) != b"Spec ID Event03\0":
        fail("event log: first event does not carry 'Spec ID Event03'")
    spec.u32(), spec.u8(), spec.u8(), spec.u8()
    if spec.u8() != 2:
        fail("event log: uintnSize is not 2 (UINT64)")
    sizes = {}
    for _ in range(spec.u32()):
        alg, size = spec.u16(), spec.u16()
        sizes[alg] = size
    spec.take(spec.u8())
    spec.done()
    banks = [ALG_NAMES[a] for a in sizes]
    events = []
    while r.i < len(data):
        pcr, etype, n = r.u32(), r.u32(), r.u32()
        digests = {}
        for _ in range(n):
            alg = r.u16()
            if alg not in sizes:
                fail("event log: digest of algorithm 0x%04x not listed in the Spec ID event" % alg)
            digests[ALG_NAMES[alg]] = r.take(sizes[alg])
        events.append({"pcr": pcr, "type": etype, "digests": digests, "data": r.take(r.u32())})
    return banks, events


def replay(banks, events):
    pcrs = {b: {} for b in banks}
    for e in events:
        if e["type"] == EV_NO_ACTION:
            continue
        for b in banks:
            if b not in e["digests"]:
                fail("event log: event in PCR %d has no %s digest" % (e["pcr"], b))
            old = pcrs[b].get(e["pcr"], b"\x00" * DIGEST_SIZES[b])
            pcrs[b][e["pcr"]] = hashlib.new(b, old + e["digests"][b]).digest()
    return pcrs


def secure_boot_from_log(events):
    """SecureBoot claim: the EV_EFI_VARIABLE_DRIVER_CONFIG of EFI_GLOBAL_VARIABLE:SecureBoot in PCR 7."""
    found = None
    for e in events:
        if e["pcr"] != 7 or e["type"] != EV_EFI_VARIABLE_DRIVER_CONFIG:
            continue
        r = Rd(e["data"], "UEFI_VARIABLE_DATA", "<")
        guid = uuid.UUID(bytes_le=r.take(16))
        nlen, dlen = r.u64(), r.u64()
        name = r.take(2 * nlen).decode("utf-16-le")
        value = r.take(dlen)
        r.done()
        if guid == EFI_GLOBAL_VARIABLE and name == "SecureBoot":
            for b, d in e["digests"].items():
                if hashlib.new(b, e["data"]).digest() != d:
                    fail("event log: SecureBoot event's %s digest is not the hash of its data" % b)
            if found is not None:
                fail("event log: SecureBoot measured twice")
            found = value == b"\x01"
    if found is None:
        fail("event log: no SecureBoot variable in PCR 7")
    return found


def load_public_key(path):
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def check_ak(tpmt_path, name_path, pem_path, cert_path, ca_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    raw = open(tpmt_path, "rb").read()
    pub = parse_tpmt_public(raw)
    attrs = pub["attributes"]
    for bit, what in ((1, "fixedTPM"), (4, "fixedParent"), (5, "sensitiveDataOrigin"),
                      (16, "restricted"), (18, "sign")):
        if not attrs >> bit & 1:
            fail("%s: AK attribute %s not set" % (tpmt_path, what))
    if attrs >> 17 & 1:
        fail("%s: AK has the decrypt attribute" % tpmt_path)
    name_alg = ALG_NAMES[pub["nameAlg"]]
    name = struct.pack(">H", pub["nameAlg"]) + hashlib.new(name_alg, raw).digest()
    if name != open(name_path, "rb").read():
        fail("%s: computed name does not match the name tpm2_createak reported" % tpmt_path)
    key = load_public_key(pem_path)
    if pub["type"] == TPM_ALG_RSA:
        nums = key.public_numbers()
        if (nums.n, nums.e) != (int.from_bytes(pub["modulus"], "big"), pub["exponent"]):
            fail("%s: RSA key differs from %s" % (tpmt_path, pem_path))
    else:
        nums = key.public_numbers()
        if pub["curve"] != TPM_ECC_NIST_P256 or (nums.x, nums.y) != (
                int.from_bytes(pub["x"], "big"), int.from_bytes(pub["y"], "big")):
            fail("%s: ECC key differs from %s" % (tpmt_path, pem_path))
    ca = x509.load_pem_x509_certificate(open(ca_path, "rb").read())
    cert = x509.load_der_x509_certificate(open(cert_path, "rb").read())
    ca_pub = ca.public_key()
    for c, what in ((ca, ca_path), (cert, cert_path)):
        try:
            if isinstance(ca_pub, rsa.RSAPublicKey):
                ca_pub.verify(c.signature, c.tbs_certificate_bytes, padding.PKCS1v15(), c.signature_hash_algorithm)
            else:
                ca_pub.verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))
        except Exception as exc:  # InvalidSignature carries no message
            fail("%s: signature does not verify with the key of %s (%s)" % (what, ca_path, type(exc).__name__))
    if cert.issuer != ca.subject:
        fail("%s: issuer is not the test CA" % cert_path)
    if cert.public_key().public_numbers() != key.public_numbers():
        fail("%s: certified key is not the AK" % cert_path)
    return pub, key, name


def check_quote(msg_path, sig_path, pcrs_bin_path, ak, nonce, pcr_json, banks, qname_path):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    pub, key, _name = ak
    msg = open(msg_path, "rb").read()
    sig = parse_signature(open(sig_path, "rb").read())
    if sig["sigAlg"] != pub["scheme"]:
        fail("%s: sigAlg 0x%04x is not the AK's scheme 0x%04x" % (sig_path, sig["sigAlg"], pub["scheme"]))
    if sig["hash"] != ALG_IDS["sha256"]:
        fail("%s: signature hash is 0x%04x, expected SHA-256" % (sig_path, sig["hash"]))
    try:
        if sig["sigAlg"] == TPM_ALG_RSASSA:
            key.verify(sig["sig"], msg, padding.PKCS1v15(), hashes.SHA256())
        elif sig["sigAlg"] == TPM_ALG_ECDSA:
            der = utils.encode_dss_signature(int.from_bytes(sig["r"], "big"), int.from_bytes(sig["s"], "big"))
            key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        else:
            fail("%s: unexpected sigAlg 0x%04x" % (sig_path, sig["sigAlg"]))
    except CheckFailed:
        raise
    except Exception as exc:  # cryptography's InvalidSignature carries no message
        fail("%s: signature does not verify over %s with the AK (%s)" % (sig_path, msg_path, type(exc).__name__))
    att = parse_attest(msg)
    if att["magic"] != TPM_GENERATED_VALUE:
        fail("%s: magic is 0x%08x, expected TPM_GENERATED_VALUE" % (msg_path, att["magic"]))
    if att["extraData"] != nonce:
        fail("%s: extraData %s is not the nonce %s" % (msg_path, att["extraData"].hex(), nonce.hex()))
    if att["qualifiedSigner"] != open(qname_path, "rb").read():
        fail("%s: qualifiedSigner is not the AK's qualified name" % msg_path)
    want_sel = [(ALG_IDS[b], QUOTE_PCRS) for b in banks]
    if att["pcrSelect"] != want_sel:
        fail("%s: PCR selection %s, expected %s" % (msg_path, att["pcrSelect"], want_sel))
    concat = b"".join(bytes.fromhex(pcr_json[ALG_NAMES[alg]][str(i)]) for alg, pcrs in att["pcrSelect"] for i in pcrs)
    if hashlib.sha256(concat).digest() != att["pcrDigest"]:
        fail("%s: pcrDigest does not equal SHA-256 of the pcrs.json values in selection order" % msg_path)
    if open(pcrs_bin_path, "rb").read() != concat:
        fail("%s: tpm2_quote's PCR values differ from pcrs.json" % pcrs_bin_path)
    return att


def cmd_check(args):
    out = args.out_dir
    p = lambda name: os.path.join(out, name)  # noqa: E731
    manifest = json.load(open(p("manifest.json")))
    banks = manifest["pcr_banks"]
    nonce = bytes.fromhex(manifest["nonce_hex"])
    pcr_json = json.load(open(p("pcrs.json")))
    if sorted(pcr_json) != sorted(banks):
        fail("pcrs.json banks %s differ from the manifest's %s" % (sorted(pcr_json), banks))

    checks = []
    ak = check_ak(p("ak.tpmt"), p("ak.name"), p("ak.pem"), p("ak_cert.der"), p("ca.pem"))
    checks.append("AK (RSA): attributes, name, PEM and certificate chain to ca.pem")
    att = check_quote(p("quote.msg"), p("quote.sig"), p("quote.pcrs"), ak, nonce, pcr_json, banks, p("ak.qname"))
    checks.append("quote (RSASSA): signature, magic, type, extraData == nonce, qualifiedSigner, pcrDigest")
    if os.path.exists(p("ak_ecc.tpmt")):
        ak_ecc = check_ak(p("ak_ecc.tpmt"), p("ak_ecc.name"), p("ak_ecc.pem"), p("ak_ecc_cert.der"), p("ca.pem"))
        checks.append("AK (ECC P-256): attributes, name, PEM and certificate chain to ca.pem")
        check_quote(p("quote_ecc.msg"), p("quote_ecc.sig"), p("quote_ecc.pcrs"), ak_ecc, nonce, pcr_json, banks,
                    p("ak_ecc.qname"))
        checks.append("quote (ECDSA): signature, magic, type, extraData == nonce, qualifiedSigner, pcrDigest")

    log_banks, events = parse_event_log(open(p("eventlog.bin"), "rb").read())
    if sorted(log_banks) != sorted(banks):
        fail("event log lists banks %s, the TPM quoted %s" % (log_banks, banks))
    replayed = replay(log_banks, events)
    for b in banks:
        for i in QUOTE_PCRS:
            want = pcr_json[b][str(i)]
            got = replayed[b].get(i, b"\x00" * DIGEST_SIZES[b]).hex()
            if got != want:
                fail("event log replay: %s PCR %d is %s, the TPM has %s" % (b, i, got, want))
    checks.append("event log replays to pcrs.json in every bank (%d events)" % len(events))
    sb = secure_boot_from_log(events)
    if sb != manifest["expected_claims"]["secure_boot_enabled"]:
        fail("secure boot from the log is %s, the manifest expects %s"
             % (sb, manifest["expected_claims"]["secure_boot_enabled"]))
    checks.append("secure boot derived from the log = %s, as expected" % sb)
    for c in checks:
        print("  ok  " + c)
    print("self-check passed: %d checks (resetCount=%d, clock=%d)" % (len(checks), att["resetCount"], att["clock"]))


def cmd_manifest(args):
    banks = args.banks.split(",")
    sel = "+".join("%s:%s" % (b, ",".join(map(str, QUOTE_PCRS))) for b in banks)
    files = {
        "manifest.json": "this file",
        "ca.pem": "test CA certificate (self-signed, RSA-2048, sha256WithRSAEncryption), PEM",
        "ca.der": "the same CA certificate, DER",
        "ek.pub": "EK public area as TPM2B_PUBLIC (tpm2_createek -f tss), RSA-2048 default (low) EK template",
        "ek.pem": "EK public key, SubjectPublicKeyInfo PEM",
        "ak.tpmt": "RSA AK public area as marshalled TPMT_PUBLIC, big-endian (tpm2_createak -f tpmt): "
                   "RSA-2048, restricted|sign|fixedTPM|fixedParent, scheme RSASSA/SHA-256, nameAlg SHA-256",
        "ak.pem": "RSA AK public key, SubjectPublicKeyInfo PEM",
        "ak.name": "RSA AK Name: nameAlg (2 bytes BE) || SHA-256(ak.tpmt)",
        "ak.qname": "RSA AK Qualified Name (what TPMS_ATTEST.qualifiedSigner holds)",
        "ak_cert.der": "RSA AK certificate issued by ca.pem, DER (EKU 2.23.133.8.3 tcg-kp-AIKCertificate)",
        "ak_cert.pem": "the same, PEM",
        "quote.msg": "TPMS_ATTEST (TPM_ST_ATTEST_QUOTE) exactly as the TPM returned it, marshalled big-endian "
                     "(tpm2_quote -m)",
        "quote.sig": "TPMT_SIGNATURE marshalled (tpm2_quote -f tss, the default): sigAlg RSASSA, hash SHA-256, "
                     "TPM2B signature; over quote.msg",
        "quote.pcrs": "the quoted PCR values as raw digests concatenated in selection order "
                      "(tpm2_quote -F values); SHA-256 of this is pcrDigest",
        "pcrs.json": "PCR values read with tpm2_pcrread: {bank: {\"0\".. \"7\": lowercase hex}}",
        "eventlog.bin": "crypto-agile TCG event log (PC Client PFP): SHA-1-format EV_NO_ACTION 'Spec ID Event03' "
                        "first, then TCG_PCR_EVENT2 records, little-endian, digests for every bank in pcr_banks",
        "events.json": "the scripted measurements in log order: [{pcr, type, digests: {bank: hex}}] (a listing "
                       "for humans and tests; the log is the evidence)",
        "extends.txt": "the tpm2_pcrextend arguments used, one event per line, in log order",
    }
    if args.ecc:
        files.update({
            "ak_ecc.tpmt": "ECC AK public area, TPMT_PUBLIC (tpm2_createak -G ecc -s ecdsa -f tpmt): NIST P-256, "
                           "restricted|sign, scheme ECDSA/SHA-256, nameAlg SHA-256",
            "ak_ecc.pem": "ECC AK public key, SubjectPublicKeyInfo PEM",
            "ak_ecc.name": "ECC AK Name",
            "ak_ecc.qname": "ECC AK Qualified Name",
            "ak_ecc_cert.der": "ECC AK certificate issued by ca.pem, DER",
            "ak_ecc_cert.pem": "the same, PEM",
            "quote_ecc.msg": "TPMS_ATTEST signed by the ECC AK, same PCR selection and nonce",
            "quote_ecc.sig": "TPMT_SIGNATURE (tss): sigAlg ECDSA, hash SHA-256, TPM2B r, TPM2B s",
            "quote_ecc.pcrs": "PCR values for quote_ecc (raw, selection order)",
        })
    missing = [f for f in files if f != "manifest.json" and not os.path.exists(os.path.join(args.out_dir, f))]
    if missing:
        fail("expected outputs missing: %s" % ", ".join(missing))
    manifest = {
        "generator": "tests/tpm-sim/make-evidence.sh",
        "tpm": args.tpm_info,
        "tools": args.tools,
        "nonce_hex": args.nonce,
        "pcr_banks": banks,
        "pcr_selection": sel,
        "quote_signature": {"ak.tpmt": "RSASSA-PKCS1-v1_5 SHA-256", "ak_ecc.tpmt": "ECDSA P-256 SHA-256"}
        if args.ecc else {"ak.tpmt": "RSASSA-PKCS1-v1_5 SHA-256"},
        "pcr_digest_algorithm": "sha256 (the signing scheme's hash, for every bank)",
        "certificate_validity": {"not_before": NOT_BEFORE.isoformat(), "not_after": NOT_AFTER.isoformat()},
        "event_log": {
            "format": "crypto-agile (TCG PC Client PFP), Spec ID Event03, uintnSize 2, specErrata 0",
            "banks": banks,
            "events": len(json.load(open(os.path.join(args.out_dir, "events.json")))) + 1,
            "initial_pcr_value": "all zeros (TPM started at locality 0; no StartupLocality event)",
        },
        "expected_claims": {
            "secure_boot_enabled": args.secure_boot == "on",
            "secure_boot_source": "PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG, EFI_GLOBAL_VARIABLE "
                                  "8BE4DF61-93CA-11D2-AA0D-00E098032B8C 'SecureBoot', data 01 (on) or 00 (off)",
            "pcrs": json.load(open(os.path.join(args.out_dir, "pcrs.json"))),
        },
        "files": files,
    }
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


TPM_ST_SESSIONS = 0x8002
TPM_CC_CERTIFY = 0x00000148
TPM_RS_PW = 0x40000009
TPM_ST_ATTEST_CERTIFY = 0x8017


def cmd_certify_cmd(args):
    """Write a raw TPM2_Certify command (empty-password sessions for both handles, the key's own
    signing scheme) for tpm2_send: tpm2_certify of the packaged tools cannot set qualifyingData."""
    nonce = bytes.fromhex(args.nonce)
    pw_session = struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)
    auth = pw_session + pw_session
    body = struct.pack(">II", int(args.object, 0), int(args.sign, 0))
    body += struct.pack(">I", len(auth)) + auth
    body += struct.pack(">H", len(nonce)) + nonce
    body += struct.pack(">H", TPM_ALG_NULL)
    cmd = struct.pack(">HII", TPM_ST_SESSIONS, 10 + len(body), TPM_CC_CERTIFY) + body
    with open(args.out, "wb") as f:
        f.write(cmd)


def cmd_certify_rsp(args):
    """Split a TPM2_Certify response into the TPMS_ATTEST and the TPMT_SIGNATURE, and check it."""
    with open(args.rsp, "rb") as f:
        data = f.read()
    r = Rd(data, "TPM2_Certify response")
    _tag, size, rc = r.u16(), r.u32(), r.u32()
    if rc != 0 or size != len(data):
        fail("TPM2_Certify failed: response code 0x%08x" % rc)
    r.u32()  # parameterSize
    attest = r.tpm2b()
    start = r.i
    read_signature(r)
    sig_bytes = data[start:r.i]
    a = Rd(attest, "TPMS_ATTEST")
    magic, typ = a.u32(), a.u16()
    if magic != TPM_GENERATED_VALUE or typ != TPM_ST_ATTEST_CERTIFY:
        fail("the certification is not a TPM2_Certify TPMS_ATTEST")
    a.tpm2b()
    if a.tpm2b() != bytes.fromhex(args.nonce):
        fail("the certification does not carry the nonce")
    with open(args.attest, "wb") as f:
        f.write(attest)
    with open(args.sig, "wb") as f:
        f.write(sig_bytes)
    # TPM2B_PUBLIC from tpm2_readpublic -> TPMT_PUBLIC, as MAA's tpm_certify.public carries it.
    with open(args.public_in, "rb") as f:
        pub = f.read()
    if struct.unpack(">H", pub[:2])[0] != len(pub) - 2:
        fail("%s is not a TPM2B_PUBLIC" % args.public_in)
    with open(args.public_out, "wb") as f:
        f.write(pub[2:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("eventlog")
    s.add_argument("--banks", required=True)
    s.add_argument("--secure-boot", choices=["on", "off"], required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--extends", required=True)
    s.add_argument("--events", required=True)
    s.set_defaults(fn=cmd_eventlog)
    s = sub.add_parser("certs")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--ak-pem", required=True)
    s.add_argument("--ak-ecc-pem")
    s.set_defaults(fn=cmd_certs)
    s = sub.add_parser("pcrs")
    s.add_argument("--banks", required=True)
    s.add_argument("--yaml", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_pcrs)
    s = sub.add_parser("ports")
    s.set_defaults(fn=cmd_ports)
    s = sub.add_parser("manifest")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--banks", required=True)
    s.add_argument("--nonce", required=True)
    s.add_argument("--secure-boot", choices=["on", "off"], required=True)
    s.add_argument("--ecc", action="store_true")
    s.add_argument("--tpm-info", required=True)
    s.add_argument("--tools", required=True)
    s.set_defaults(fn=cmd_manifest)
    s = sub.add_parser("certify-cmd")
    s.add_argument("--object", required=True)
    s.add_argument("--sign", required=True)
    s.add_argument("--nonce", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_certify_cmd)
    s = sub.add_parser("certify-rsp")
    s.add_argument("--rsp", required=True)
    s.add_argument("--nonce", required=True)
    s.add_argument("--attest", required=True)
    s.add_argument("--sig", required=True)
    s.add_argument("--public-in", required=True)
    s.add_argument("--public-out", required=True)
    s.set_defaults(fn=cmd_certify_rsp)
    s = sub.add_parser("check")
    s.add_argument("out_dir")
    s.set_defaults(fn=cmd_check)
    args = ap.parse_args()
    try:
        args.fn(args)
    except CheckFailed as exc:
        print("tpm-sim: CHECK FAILED: %s" % exc, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
