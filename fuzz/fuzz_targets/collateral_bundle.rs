#![no_main]
//! Fuzz target for the collateral cache format and readers (`attesta-collateral`):
//! cached bytes deserialize to a bundle or a typed error, and the readers that
//! file a bundle (FMSPC, PCK CA, nextUpdate) never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = attesta_collateral::deserialize(data) {
        let _ = attesta_collateral::fmspc_of(&c);
        let _ = attesta_collateral::pck_ca_of(&c);
        let _ = attesta_collateral::next_update_of(&c);
    }
    let _ = attesta_collateral::endorsement_facts(data);
});
