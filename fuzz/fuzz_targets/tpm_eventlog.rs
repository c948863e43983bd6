#![no_main]
//! Fuzz target for the TCG event log parser (`attesta_evidence::tpm::eventlog`):
//! any bytes give a log or a typed error; a parsed log replays and renders its
//! events (UEFI variable decoding included) without panicking.

use attesta_evidence::tpm::EventLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        let _ = log.replay();
        let _ = log.events_json();
        let _ = attesta_evidence::tpm::eventlog::secure_boot(&log);
    }
});
