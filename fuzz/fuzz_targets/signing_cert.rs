//! Fuzz target: the signing-certificate evidence decoder is total over
//! arbitrary bytes, and every piece of evidence it returns reports its
//! report data without panicking.
#![no_main]

use attesta_evidence::signing_cert::SigningCert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = SigningCert::parse(data) {
        let _ = cert.binding_digest();
        let _ = cert.primary_evidence();
        for e in &cert.evidence {
            let _ = e.report_data();
        }
    }
});
