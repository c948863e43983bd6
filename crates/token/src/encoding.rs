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
/// RFC 7515's base64url: no padding, and (the base64 crate's default) the
/// unused trailing bits of the last symbol must be zero, so every byte string
/// has exactly one encoding.
const URL_CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

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

/// Canonical base64url, the only form accepted in the three parts of a JWS or
/// JWT: URL-safe alphabet, no padding, zero trailing bits. A second spelling
/// of the same bytes (a trailing `=`, a different last symbol) would let the
/// text that is stored, hashed (`x-ms-policy-token-hash`) and replay-checked
/// differ from what was signed.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_CANONICAL.decode(text).ok()
}

/// Decoding for base64 values clients send inside JSON members (`x5c`
/// entries, `AttestationPolicy`): base64url or standard base64, padded or not
/// (the alphabets are not mixed within one string). Never used for the parts
/// of a JWS, which must be canonical ([`b64url_decode`]).
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

/// A JSON string literal, escaped as serde_json escapes it, and every
/// non-ASCII character as `\uXXXX` (UTF-16 units, surrogate pairs above the
/// BMP): Microsoft's JS client decodes token bodies as 7-bit ASCII, so a raw
/// UTF-8 claim value would break its getters and silently skip its
/// exp/nbf/iss checks. The escaped text is the same JSON value.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\0'..='\u{1f}' => None,
            c if c.is_ascii() => continue,
            _ => None,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Parse a JSON object the way every JOSE header, JWS payload and JWT claim
/// set is parsed here: a duplicate member name at any depth is an error
/// (RFC 7515 §4 lets a parser reject them; taking the last one, as
/// `serde_json` does, lets a signed text mean two things to two parsers), and
/// nesting is bounded by `serde_json`'s recursion limit (128).
pub fn parse_json_object_strict(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(m))) => Ok(m),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// A `serde_json::Value` whose deserialisation refuses duplicate object keys.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(v) = map.next_value()?;
            if out.insert(key.clone(), v).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "duplicate member {key:?}"
                )));
            }
        }
        Ok(Value::Object(out))
    }
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
            r#"{"A":true,"a":{"c":null,"z":[{"x":"q\"\n\u0001\u00e9","y":2}]},"b":1}"#
        );
        // Same bytes serde_json gives for ASCII strings (escaping parity).
        let s = "q\"\n\u{1}\u{1f}\t\\/";
        let mut mine = String::new();
        write_json_string(s, &mut mine);
        assert_eq!(mine, serde_json::to_string(s).unwrap());
        // Non-ASCII becomes \uXXXX (a surrogate pair above the BMP), ASCII
        // only on the wire, the same value when parsed.
        let s = "é€😀x";
        let mut mine = String::new();
        write_json_string(s, &mut mine);
        assert_eq!(mine, r#""\u00e9\u20ac\ud83d\ude00x""#);
        assert!(mine.is_ascii());
        assert_eq!(serde_json::from_str::<String>(&mine).unwrap(), s);
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
    fn jose_base64url_is_canonical() {
        assert_eq!(b64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(b64url_decode("-_8=").is_none(), "padding");
        assert!(b64url_decode("-_9").is_none(), "non-zero trailing bits");
        assert!(b64url_decode("+/8").is_none(), "standard alphabet");
        assert_eq!(b64url_decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn strict_json_refuses_duplicate_members_at_any_depth() {
        assert!(parse_json_object_strict(br#"{"a":1,"b":{"c":[{"d":2}]}}"#).is_ok());
        let e = parse_json_object_strict(br#"{"alg":"none","alg":"RS256"}"#).unwrap_err();
        assert!(e.contains("duplicate member \"alg\""), "{e}");
        assert!(parse_json_object_strict(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(parse_json_object_strict(br#"{"a":[{"x":1,"x":2}]}"#).is_err());
        assert!(parse_json_object_strict(b"[1]").is_err());
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_json_object_strict(deep.as_bytes()).is_err());
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
