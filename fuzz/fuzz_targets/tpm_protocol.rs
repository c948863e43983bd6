#![no_main]
//! Fuzz target for the MAA TPM protocol messages as the server receives them
//! (`attesta-server`): the `{"data": …}` envelope, the init message, the
//! sealed `service_context` of a request, and the request JWS with its
//! strictly parsed payload. Any bytes give a value or a typed error; an
//! arbitrary `service_context` never opens.

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static attesta_server::tpm::ContextKey {
    static KEY: OnceLock<attesta_server::tpm::ContextKey> = OnceLock::new();
    KEY.get_or_init(|| attesta_server::tpm::ContextKey::from_bytes(&[7u8; 32]).expect("a key"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(message) = attesta_server::tpm::decode_envelope(data) else {
        return;
    };
    let _ = attesta_server::tpm::handle_init(key(), "fuzz", &message, 1_700_000_000);
    if let Some(request) = message
        .get("payload")
        .and_then(|p| p.get("request"))
        .and_then(|r| r.as_str())
        && let Ok(jws) = attesta_token::jws::parse_jws(request)
        && let Ok(Some(payload)) = jws.payload_object()
    {
        let body = serde_json::Value::Object(payload);
        assert!(
            attesta_server::tpm::open_context(key(), "fuzz", &body, 1_700_000_000).is_err(),
            "a service_context this key never sealed opened"
        );
    }
});
