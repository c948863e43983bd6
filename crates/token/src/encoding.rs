//! The byte-level encodings JOSE needs: base64url / base64, compact JSON with
//! lexicographically sorted keys, and PEM armour.
//!
//! MAA writes its tokens as compact JSON with keys sorted at every depth
//! (reference 2.1). The workspace enables serde_json's `preserve_order`, so a
//! `Map` keeps insertion order; [`write_sorted_json`] sorts on output instead
//! of rebuilding the value, and cannot fail.

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use std::fmt::Write;

const INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);

/// base64url without padding (JOSE's encoding).
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Append base64url without padding to `out`.
pub fn b64url_into(data: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(data, out);
}

/// Standard base64 with padding (`x5c` entries).
pub fn b64std(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Strict JWT decoding: base64url alphabet; padding tolerated.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_LENIENT.decode(text).ok()
}

/// Decoding for what clients send: base64url or standard base64, padded or
/// not (the alphabets are not mixed within one string).
pub fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b == b'+' || b == b'/') {
        STD_LENIENT.decode(text).ok()
    } else {
        URL_LENIENT.decode(text).ok()
    }
}

/// Compact JSON of `value` with object keys sorted (bytewise) at every depth.
pub fn write_sorted_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_sorted_map(map, out),
    }
}

/// Compact JSON of an object with keys sorted at every depth.
pub fn write_sorted_map(map: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(k, out);
        out.push(':');
        write_sorted_json(v, out);
    }
    out.push('}');
}

/// [`write_sorted_map`] into a new string.
pub fn sorted_json(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(256);
    write_sorted_map(map, &mut out);
    out
}

/// A JSON string literal, escaped as serde_json escapes it.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// PEM armour: `-----BEGIN {label}-----`, standard base64 in 64-char lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    let _ = writeln!(out, "-----BEGIN {label}-----");
    // base64 output is ASCII, so byte chunks are valid UTF-8.
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_json_sorts_nested_and_escapes_like_serde() {
        let v = json!({"b": 1, "a": {"z": [ {"y": 2, "x": "q\"\n\u{1}é"} ], "c": null}, "A": true});
        let mut out = String::new();
        write_sorted_json(&v, &mut out);
        assert_eq!(
            out,
            r#"{"A":true,"a":{"c":null,"z":[{"x":"q\"\n\u0001é","y":2}]},"b":1}"#
        );
        // Same bytes serde_json gives for the strings (escaping parity).
        let s = "q\"\n\u{1}\u{1f}\t\\é";
        let mut mine = String::new();
        write_json_string(s, &mut mine);
        assert_eq!(mine, serde_json::to_string(s).unwrap());
    }

    #[test]
    fn lenient_base64_takes_both_alphabets_padded_or_not() {
        assert_eq!(b64_decode_lenient("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_decode_lenient("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_decode_lenient("+/8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_decode_lenient("-_8=").unwrap(), vec![0xfb, 0xff]);
        assert!(b64_decode_lenient("-/8").is_none(), "mixed alphabets");
        assert!(b64_decode_lenient("a.b").is_none());
    }

    #[test]
    fn pem_lines_are_64_chars() {
        let pem = pem_encode("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
    }
}
