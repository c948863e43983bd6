//! Lenient decoding of the byte fields MAA clients send.
//!
//! Microsoft's tools send fields typed base64url both as unpadded base64url
//! and as standard base64 with padding (reference §1.1), so every byte field
//! accepts both alphabets, padded or not. Mixed alphabets in one string are
//! rejected.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Decode base64url or base64, with or without padding.
pub fn b64_lenient(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let trimmed = s.trim().trim_end_matches('=');
    if trimmed.contains(['+', '/']) {
        STANDARD_NO_PAD.decode(trimmed)
    } else {
        URL_SAFE_NO_PAD.decode(trimmed)
    }
}

/// Encode as unpadded base64url.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_padded_or_not() {
        let bytes = [0xfbu8, 0xff, 0xfe, 0x01];
        assert_eq!(b64_lenient("-__-AQ").unwrap(), bytes);
        assert_eq!(b64_lenient("+//+AQ==").unwrap(), bytes);
        assert_eq!(b64_lenient("+//+AQ").unwrap(), bytes);
        assert!(b64_lenient("-/").is_err());
        assert!(b64_lenient("a!").is_err());
    }
}
