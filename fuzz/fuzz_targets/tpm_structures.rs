#![no_main]
//! Fuzz target for the TPM 2.0 structure parsers (`attesta_evidence::tpm::structures`):
//! any bytes give a value or a typed error for TPMS_ATTEST, TPMT_SIGNATURE and
//! TPMT_PUBLIC, and Windows' platform attestation blob; a parsed public area's
//! name and key encodings, and a blob's parts, never panic.

use attesta_evidence::tpm::pcp::PlatformAttestation;
use attesta_evidence::tpm::structures::{Attest, Public, Signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Attest::parse(data);
    let _ = Signature::parse(data);
    if let Ok(p) = Public::parse(data) {
        let _ = p.name();
        let _ = p.spki_der();
        let _ = p.verification_key();
    }
    if let Ok(b) = PlatformAttestation::parse(data) {
        let _ = b.pcrs();
        let _ = Signature::parse(&b.rsassa_signature());
        let _ = Attest::parse(b.quote);
    }
});
