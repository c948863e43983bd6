//! The HCL variable data: the runtime JSON the paravisor hashes into the
//! hardware report (reference §2.4, "HCL runtime JSON shape"):
//!
//! ```text
//! { "keys": [ {"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"…"},
//!             {"kid":"HCLEkPub","key_ops":["encrypt"],…} ],
//!   "vm-configuration": { "secure-boot": true, "tpm-enabled": true, "vmUniqueId": "…", … },
//!   "user-data": "<128 hex>" }
//! ```
//!
//! Bounded: the input is at most [`super::hcl::MAX_VAR_DATA_LEN`] bytes
//! (serde_json also stops at 128 nesting levels), at most [`MAX_KEYS`]
//! keys. The document must be a JSON object; `keys` must be an array of
//! JWK objects each with a string `kid`; `vm-configuration`, when present,
//! an object; `user-data`, when present, a string. Other members are kept
//! (they reach policy through `x-ms-runtime`) but not interpreted.

use serde_json::{Map, Value};

use super::hcl::MAX_VAR_DATA_LEN;
use crate::error::ParseError;
use crate::tpm::structures::PublicKey;

/// `kid` of the vTPM attestation key.
pub const HCL_AK_KID: &str = "HCLAkPub";
/// `kid` of the vTPM endorsement key.
pub const HCL_EK_KID: &str = "HCLEkPub";
/// More keys than any HCL writes (it writes two or three).
pub const MAX_KEYS: usize = 16;

/// The decoded variable data.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeData {
    /// The whole document, as MAA emits it in `x-ms-runtime`.
    pub json: Map<String, Value>,
    /// The JWKs of `keys`, in order.
    pub keys: Vec<Map<String, Value>>,
    /// `vm-configuration`, when present.
    pub vm_configuration: Option<Map<String, Value>>,
    /// `user-data`, when present.
    pub user_data: Option<String>,
}

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        what: "HCL variable data",
        reason: reason.into(),
    }
}

impl RuntimeData {
    /// Decode the variable data bytes. Total.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > MAX_VAR_DATA_LEN {
            return Err(malformed(format!(
                "{} bytes is more than the {MAX_VAR_DATA_LEN} allowed",
                bytes.len()
            )));
        }
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let Value::Object(json) = v else {
            return Err(malformed("not a JSON object"));
        };
        let keys = match json.get("keys") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                if a.len() > MAX_KEYS {
                    return Err(malformed(format!(
                        "{} keys is more than the {MAX_KEYS} allowed",
                        a.len()
                    )));
                }
                a.iter()
                    .enumerate()
                    .map(|(i, k)| match k {
                        Value::Object(m) if m.get("kid").is_some_and(Value::is_string) => {
                            Ok(m.clone())
                        }
                        _ => Err(malformed(format!(
                            "keys[{i}] is not a JWK object with a string kid"
                        ))),
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => return Err(malformed("keys is not an array")),
        };
        let vm_configuration = match json.get("vm-configuration") {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => return Err(malformed("vm-configuration is not an object")),
        };
        let user_data = match json.get("user-data") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(malformed("user-data is not a string")),
        };
        Ok(Self {
            json,
            keys,
            vm_configuration,
            user_data,
        })
    }

    /// The JWK with `kid`, if exactly one has it (`Err` when several do:
    /// which one the vTPM uses would be ambiguous).
    pub fn key(&self, kid: &str) -> Result<Option<&Map<String, Value>>, String> {
        let mut found = self
            .keys
            .iter()
            .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid));
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("more than one key has kid {kid}"));
        }
        Ok(first)
    }

    /// The vTPM attestation key `HCLAkPub` as a public key: `Ok(None)` when
    /// absent, `Err` when present but not a usable RSA or EC JWK.
    pub fn ak_pub(&self) -> Result<Option<PublicKey>, String> {
        match self.key(HCL_AK_KID)? {
            None => Ok(None),
            Some(jwk) => PublicKey::from_jwk(&Value::Object(jwk.clone())).map(Some),
        }
    }

    /// `vm-configuration.vmUniqueId`.
    pub fn vm_unique_id(&self) -> Option<&str> {
        self.vm_configuration
            .as_ref()?
            .get("vmUniqueId")
            .and_then(Value::as_str)
    }

    /// A boolean member of `vm-configuration` (`secure-boot`, `tpm-enabled`, …).
    pub fn vm_flag(&self, name: &str) -> Option<bool> {
        self.vm_configuration.as_ref()?.get(name)?.as_bool()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"pQ"},{"kid":"HCLEkPub","kty":"RSA","e":"AQAB","n":"AQ"}],"vm-configuration":{"secure-boot":true,"vmUniqueId":"ABC"},"user-data":"00"}"#;

    #[test]
    fn the_documented_shape_decodes() {
        let r = RuntimeData::parse(DOC.as_bytes()).unwrap();
        assert_eq!(r.keys.len(), 2);
        assert_eq!(r.vm_unique_id(), Some("ABC"));
        assert_eq!(r.vm_flag("secure-boot"), Some(true));
        assert_eq!(r.vm_flag("tpm-enabled"), None);
        assert_eq!(r.user_data.as_deref(), Some("00"));
        assert_eq!(
            r.ak_pub().unwrap(),
            Some(PublicKey::Rsa {
                modulus: vec![0xA5],
                exponent: 65537
            })
        );
    }

    #[test]
    fn wrong_shapes_are_typed_errors() {
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            br#"{"keys":{}}"#,
            br#"{"keys":[1]}"#,
            br#"{"keys":[{"kty":"RSA"}]}"#,
            br#"{"vm-configuration":[]}"#,
            br#"{"user-data":5}"#,
        ] {
            assert!(
                matches!(
                    RuntimeData::parse(bad),
                    Err(ParseError::Malformed {
                        what: "HCL variable data",
                        ..
                    })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let many = format!(
            "{{\"keys\":[{}]}}",
            vec![r#"{"kid":"x"}"#; MAX_KEYS + 1].join(",")
        );
        assert!(RuntimeData::parse(many.as_bytes()).is_err());
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(RuntimeData::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn a_missing_duplicated_or_unusable_ak_is_reported() {
        let r = RuntimeData::parse(br#"{"keys":[]}"#).unwrap();
        assert_eq!(r.ak_pub(), Ok(None));
        let r = RuntimeData::parse(br#"{"keys":[{"kid":"HCLAkPub"},{"kid":"HCLAkPub"}]}"#).unwrap();
        assert!(r.ak_pub().is_err());
        let r = RuntimeData::parse(br#"{"keys":[{"kid":"HCLAkPub","kty":"oct"}]}"#).unwrap();
        assert!(r.ak_pub().is_err());
    }
}
