//! The TD quote parser is total: arbitrary bytes, every truncation and
//! random mutations of real and synthetic quotes give a value or a typed
//! error, never a panic, and every range it returns lies inside the input.

mod common;

use attesta_evidence::tdx::{TdQuote, TdReport};
use attesta_testkit::TdxSample;
use proptest::prelude::*;

fn check(bytes: &[u8]) {
    if let Ok(q) = TdQuote::parse(bytes) {
        assert!(q.signed_range().end <= bytes.len());
        assert!(q.qe_report_range().end <= bytes.len());
        assert!(q.padding <= bytes.len());
        assert_eq!(q.unpadded().len() + q.padding, bytes.len());
    }
    let _ = TdReport::parse(bytes);
}

fn real_quotes() -> Vec<Vec<u8>> {
    vec![
        common::read("tdx/dcap-qvl-tdx-v4/quote.bin"),
        common::read("tdx/automata-tdx-v5/quote.bin"),
        TdxSample::builder().version(5).td15(false).build().quote,
    ]
}

#[test]
fn every_truncation_of_real_quotes_is_an_error() {
    for q in real_quotes() {
        let end = TdQuote::parse(&q).unwrap().unpadded().len();
        for n in 0..end {
            assert!(TdQuote::parse(&q[..n]).is_err(), "truncated to {n} parsed");
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        check(&bytes);
    }

    #[test]
    fn mutated_quotes_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut q = real_quotes().swap_remove(which);
        for (i, b) in edits {
            let n = q.len();
            q[i % n] = b;
        }
        check(&q);
    }
}
