#![no_main]
//! Fuzz target: the engine's typed decoding of attest request bodies
//! (`attesta_server::engine::request::decode`) is total for every path
//! type: any bytes give a request or a typed error, never a panic, and a
//! decoded MAA body always carries the evidence it was decoded from.

use attesta_server::engine::request::{Request, decode};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 8] = [
    "SgxEnclave",
    "OpenEnclave",
    "SevSnpVm",
    "TdxVm",
    "Tpm",
    "Tpm:quote",
    "AzureGuest",
    "NoSuchType",
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let raw_type = TYPES[*selector as usize % TYPES.len()];
    match decode(raw_type, body) {
        Ok(Request::Maa { body: req, .. }) => {
            assert!(req.body.is_object(), "an MAA body is a JSON object");
        }
        Ok(Request::AzureGuest(doc)) => assert_eq!(doc, body),
        Ok(_) => {}
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
    }
});
