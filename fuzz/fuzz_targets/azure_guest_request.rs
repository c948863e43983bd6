//! Fuzz target: the `AzureGuest` request decoder (the `AttestationInfo`
//! document and its base64url member form) and the ephemeral-key PCR
//! policy digest are total over arbitrary bytes, and what decodes stays
//! within the decoder's bounds.
#![no_main]

use attesta_evidence::azure_cvm::enc_key::pcr_policy_digest;
use attesta_evidence::azure_cvm::request::{GuestRequest, MAX_PCRS};
use libfuzzer_sys::fuzz_target;

fn check(r: &GuestRequest) {
    assert!(r.tpm.pcrs.len() <= MAX_PCRS);
    assert!(r.tpm.pcrs.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(r.tpm.pcrs.iter().all(|(i, d)| *i < 24 && d.len() == 32));
    let _ = r.isolation.runtime_data();
    let _ = r.isolation.report_type();
    let pcrs = r.pcrs();
    let _ = pcr_policy_digest(
        pcrs.values()
            .flat_map(|b| b.iter().map(|(i, v)| (*i, v.as_slice()))),
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = GuestRequest::parse(data) {
        check(&r);
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = GuestRequest::from_member(s)
    {
        check(&r);
    }
});
