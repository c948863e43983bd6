#![no_main]
//! Fuzz target for the policy / certificate JWS parser and token decoding
//! (`attesta-token`): any text gives a value or a typed error, and a parsed
//! JWS's signer check never panics.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jws) = attesta_token::jws::parse_jws(text) {
        let _ = jws.verify_signer();
    }
    let _ = attesta_token::jwt::decode_unverified(text);
});
