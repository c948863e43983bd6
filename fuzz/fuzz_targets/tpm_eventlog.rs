#![no_main]
//! Fuzz target for the TCG event log parser (`attesta_evidence::tpm::eventlog`)
//! and the event-data decoders: any bytes give a log or a typed error; a
//! parsed log replays and renders its events (UEFI variables, device paths,
//! load options, Windows SIPA items) without panicking. The raw input also
//! goes straight through the SIPA, device-path, image-load and load-option
//! decoders, so they are reached without a well-formed log around them, and
//! every parsed event through the event-type rules (`tpm::eventtypes`),
//! whose form checks decode the data again.

use attesta_evidence::tpm::EventLog;
use attesta_evidence::tpm::{devicepath, eventlog, eventtypes, windows};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        let _ = log.replay();
        let _ = log.events_json();
        let _ = eventlog::secure_boot(&log);
        for e in &log.events {
            let _ = eventlog::processed_data(e);
            let _ = windows::parse_sipa(&e.data);
            let _ = devicepath::image_load_event(&e.data);
            let _ = eventtypes::check_event(e);
        }
        let _ = eventtypes::check_separators(&log.events, |_| true);
        let all: Vec<&eventlog::Event> = log.events.iter().collect();
        let _ = windows::windows_boot_state(&all);
    }
    let _ = windows::parse_sipa(data);
    let _ = windows::event_tag_json(data);
    let _ = devicepath::device_path_text(data);
    let _ = devicepath::device_path_list(data);
    let _ = devicepath::image_load_event(data);
    let _ = devicepath::load_option(data);
});
