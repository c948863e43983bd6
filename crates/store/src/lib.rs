//! placeholder — see the store helper's contract
