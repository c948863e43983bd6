//! One path: for the same evidence, `attesta verify` and a real `attesta
//! serve` give the same claims or refuse it with the same error code. Every
//! real vector in ../shared/vectors is compared here, on what follows.
//!
//! Claims are compared exactly: the token holds every claim the CLI prints,
//! with the same value, and nothing else but the token's own (time, issuer,
//! id, version, policy hash) and, for a guest, what only its request states.
//! Each vector's `expected.json` pins a few of those claims as well.
//!
//! | vector | compared on |
//! |---|---|
//! | sgx/dcap-qvl-sgx-v3 | claims (its collateral, its pinned time) |
//! | sgx/mobilecoin-attestation-sgx-v3 | `CollateralExpired` (its PCK CRL expired before its TCB info was issued) |
//! | sgx/azure-samples-maa-intel-sdk-quotes (4 quotes) | `CollateralExpired` (mobilecoin's collateral, same FMSPC, with each enclave held data) |
//! | sgx/trustee-occlum-sgx-v3-quote-only | `NoOfflineBundle` (no collateral for its FMSPC) |
//! | tdx/dcap-qvl-tdx-v4, dcap-qvl-near-tdx-v4, automata-tdx-v4, automata-tdx-v5 | claims (their collateral) |
//! | tdx/dcap-qvl-tdx-v5-outdated | `TcbLevelNotFound` |
//! | tdx/dstack-teekit-cloud-quotes-only (GCP, Azure) | claims (automata-tdx-v4's collateral, same FMSPC) |
//! | tdx/trustee-tdx-quotes-only tdx_quote_5.dat | `TcbLevelNotFound` (automata-tdx-v5's collateral, same FMSPC) |
//! | tdx/trustee-tdx-quotes-only tdx_quote_4.dat | `NoOfflineBundle` |
//! | tdx/trustee-tdx-quote6-partial | `NoOfflineBundle` (its bundle has no CRLs: the CLI's verdict on it is `MissingFile`, and `attesta collateral import` refuses it before it reaches the server) |
//! | snp/virtee-sev-milan, trustee-milan-vcek, trustee-milan-vlek | claims (no AMD CRL kept: both verify without revocation and say so) |
//! | snp/virtee-sev-turin-vcek-only | nothing: a VCEK chain without a report |
//! | openenclave/azure-samples-maa-oe-sdk (5 OE reports) | `CollateralExpired` (mobilecoin's collateral, same FMSPC) |
//! | maa-sdk oe_report.bin, sgx_quote.bin | `CollateralExpired` (mobilecoin's collateral, same FMSPC) |
//! | tpm/go-tpm-tools-gce-cos85-nonce9009, -no-nonce | claims (`Tpm:quote`; see [`tpm`] for the challenge) |
//! | tpm/go-tpm-tools-eventlogs | nothing: event logs without a quote (`attesta inspect tpm-eventlog` replays them, tpm_cli.rs) |
//! | azure-cvm/trustee-az-snp-vtpm-v0, -v1, -v2, -genoa, trustee-az-tdx-vtpm | the server refuses only at the ephemeral key, and a wrong nonce, a changed PCR or changed variable data alike; claims against expected.json (see [`azure_guest`]) |
//! | maa-tokens, maa-policies, maa-sdk recorded/ and tpm_first_message.json | nothing: tokens, policies and protocol messages, not evidence |
//!
//! The failure classes the real data cannot reach (revoked, expired, wrong
//! root, binding mismatch) run on testkit evidence in [`failure_classes`],
//! and Azure guest claims are compared exactly on testkit evidence, whose
//! ephemeral key the server can certify.

#[path = "../common/mod.rs"]
mod common;

mod azure_guest;
mod dcap;
mod failure_classes;
mod snp;
mod tpm;
