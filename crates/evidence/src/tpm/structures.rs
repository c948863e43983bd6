//! TPM 2.0 wire structures, big-endian, as TPM2_Quote and TPM2_Certify
//! return them (TCG TPM 2.0 Library, Part 2): `TPMS_ATTEST`,
//! `TPMT_SIGNATURE`, `TPMT_PUBLIC`, `TPML_PCR_SELECTION`.
//!
//! Written over [`Reader`] rather than taken from `tpm2-protocol`: the
//! verifier needs only these four structures, typed errors naming the field
//! that failed, and the exact signed bytes; the crate's zero-copy API (with
//! `unsafe` casts, a pinned MSRV and frequent breaking releases) buys nothing
//! here. Every parser is total and has a fuzz target.

use crate::crypto;
use crate::error::ParseError;
use crate::reader::Reader;

pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;

pub const TPM_ALG_RSA: u16 = 0x0001;
pub const TPM_ALG_SHA1: u16 = 0x0004;
pub const TPM_ALG_SHA256: u16 = 0x000b;
pub const TPM_ALG_SHA384: u16 = 0x000c;
pub const TPM_ALG_SHA512: u16 = 0x000d;
pub const TPM_ALG_NULL: u16 = 0x0010;
pub const TPM_ALG_RSASSA: u16 = 0x0014;
pub const TPM_ALG_RSAPSS: u16 = 0x0016;
pub const TPM_ALG_ECDSA: u16 = 0x0018;
pub const TPM_ALG_ECC: u16 = 0x0023;
pub const TPM_ECC_NIST_P256: u16 = 0x0003;
pub const TPM_ECC_NIST_P384: u16 = 0x0004;

/// Digest size of a TPM hash algorithm, or `None` for one we do not know.
pub fn digest_size(alg: u16) -> Option<usize> {
    match alg {
        TPM_ALG_SHA1 => Some(20),
        TPM_ALG_SHA256 => Some(32),
        TPM_ALG_SHA384 => Some(48),
        TPM_ALG_SHA512 => Some(64),
        _ => None,
    }
}

/// The name MAA and the TCG use for a hash algorithm (`SHA1`, `SHA256`, …).
pub fn hash_name(alg: u16) -> &'static str {
    match alg {
        TPM_ALG_SHA1 => "SHA1",
        TPM_ALG_SHA256 => "SHA256",
        TPM_ALG_SHA384 => "SHA384",
        TPM_ALG_SHA512 => "SHA512",
        _ => "unknown",
    }
}

/// Hash `data` with a TPM hash algorithm.
pub fn hash(alg: u16, data: &[u8]) -> Option<Vec<u8>> {
    use crate::crypto;
    Some(match alg {
        TPM_ALG_SHA1 => crypto::sha1(data).to_vec(),
        TPM_ALG_SHA256 => crypto::sha256(data).to_vec(),
        TPM_ALG_SHA384 => crypto::sha384(data).to_vec(),
        TPM_ALG_SHA512 => crypto::sha512(data).to_vec(),
        _ => return None,
    })
}

fn tpm2b<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], ParseError> {
    let n = r.u16_be()? as usize;
    r.take(n)
}

/// One bank of a `TPML_PCR_SELECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSelection {
    pub hash_alg: u16,
    /// Selected PCR indices, ascending.
    pub pcrs: Vec<u32>,
}

impl PcrSelection {
    /// The selection as a bitmask (bit n = PCR n).
    pub fn mask(&self) -> u64 {
        self.pcrs
            .iter()
            .filter(|&&p| p < 64)
            .fold(0, |m, &p| m | (1 << p))
    }
}

/// Parse a `TPML_PCR_SELECTION`.
pub fn parse_pcr_selection(r: &mut Reader<'_>) -> Result<Vec<PcrSelection>, ParseError> {
    let count = r.u32_be()?;
    if count > 16 {
        return Err(ParseError::Malformed {
            what: "TPML_PCR_SELECTION",
            reason: format!("{count} banks is more than any TPM has"),
        });
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let hash_alg = r.u16_be()?;
        let size = r.u8()? as usize;
        let bits = r.take(size)?;
        let mut pcrs = Vec::new();
        for (byte, b) in bits.iter().enumerate() {
            for bit in 0..8 {
                if b & (1 << bit) != 0 {
                    pcrs.push((byte * 8 + bit) as u32);
                }
            }
        }
        out.push(PcrSelection { hash_alg, pcrs });
    }
    Ok(out)
}

/// What a `TPMS_ATTEST` attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested {
    /// `TPMS_QUOTE_INFO`.
    Quote {
        selection: Vec<PcrSelection>,
        pcr_digest: Vec<u8>,
    },
    /// `TPMS_CERTIFY_INFO`.
    Certify {
        name: Vec<u8>,
        qualified_name: Vec<u8>,
    },
}

/// A `TPMS_ATTEST`, with the received bytes (what the signature covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest<'a> {
    pub raw: &'a [u8],
    pub magic: u32,
    pub attest_type: u16,
    pub qualified_signer: Vec<u8>,
    pub extra_data: Vec<u8>,
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: bool,
    pub firmware_version: u64,
    pub attested: Attested,
}

impl<'a> Attest<'a> {
    /// Parse a `TPMS_ATTEST` (quote or certify). Total.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TPMS_ATTEST");
        let magic = r.u32_be()?;
        let attest_type = r.u16_be()?;
        let qualified_signer = tpm2b(&mut r)?.to_vec();
        let extra_data = tpm2b(&mut r)?.to_vec();
        let clock = r.u64_be()?;
        let reset_count = r.u32_be()?;
        let restart_count = r.u32_be()?;
        let safe = r.u8()? != 0;
        let firmware_version = r.u64_be()?;
        let attested = match attest_type {
            TPM_ST_ATTEST_QUOTE => {
                let selection = parse_pcr_selection(&mut r)?;
                let pcr_digest = tpm2b(&mut r)?.to_vec();
                Attested::Quote {
                    selection,
                    pcr_digest,
                }
            }
            TPM_ST_ATTEST_CERTIFY => Attested::Certify {
                name: tpm2b(&mut r)?.to_vec(),
                qualified_name: tpm2b(&mut r)?.to_vec(),
            },
            other => {
                return Err(ParseError::Unsupported {
                    what: "TPMS_ATTEST type",
                    value: format!("{other:#06x}"),
                });
            }
        };
        r.finish()?;
        Ok(Self {
            raw: bytes,
            magic,
            attest_type,
            qualified_signer,
            extra_data,
            clock,
            reset_count,
            restart_count,
            safe,
            firmware_version,
            attested,
        })
    }
}

/// A `TPMT_SIGNATURE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// RSASSA-PKCS1-v1_5 or RSA-PSS.
    Rsa {
        pss: bool,
        hash_alg: u16,
        sig: Vec<u8>,
    },
    /// ECDSA, r and s as the TPM sends them (big-endian, minimal length).
    Ecdsa {
        hash_alg: u16,
        r: Vec<u8>,
        s: Vec<u8>,
    },
}

impl Signature {
    /// Parse a `TPMT_SIGNATURE`. Total; trailing bytes are an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TPMT_SIGNATURE");
        let alg = r.u16_be()?;
        let sig = match alg {
            TPM_ALG_RSASSA | TPM_ALG_RSAPSS => {
                let hash_alg = r.u16_be()?;
                Signature::Rsa {
                    pss: alg == TPM_ALG_RSAPSS,
                    hash_alg,
                    sig: tpm2b(&mut r)?.to_vec(),
                }
            }
            TPM_ALG_ECDSA => {
                let hash_alg = r.u16_be()?;
                let rr = tpm2b(&mut r)?.to_vec();
                let ss = tpm2b(&mut r)?.to_vec();
                Signature::Ecdsa {
                    hash_alg,
                    r: rr,
                    s: ss,
                }
            }
            other => {
                return Err(ParseError::Unsupported {
                    what: "TPMT_SIGNATURE algorithm",
                    value: format!("{other:#06x}"),
                });
            }
        };
        r.finish()?;
        Ok(sig)
    }

    pub fn hash_alg(&self) -> u16 {
        match self {
            Signature::Rsa { hash_alg, .. } | Signature::Ecdsa { hash_alg, .. } => *hash_alg,
        }
    }
}

/// The public part of a key, from a `TPMT_PUBLIC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa { modulus: Vec<u8>, exponent: u32 },
    Ecc { curve: u16, x: Vec<u8>, y: Vec<u8> },
}

/// A `TPMT_PUBLIC`, with the received bytes (hashed into its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public<'a> {
    pub raw: &'a [u8],
    pub key_type: u16,
    pub name_alg: u16,
    pub object_attributes: u32,
    pub auth_policy: Vec<u8>,
    /// The key's signing scheme and its hash (`TPM_ALG_NULL` when none).
    pub scheme: u16,
    pub scheme_hash: u16,
    pub key: PublicKey,
}

fn scheme(r: &mut Reader<'_>) -> Result<(u16, u16), ParseError> {
    let alg = r.u16_be()?;
    let hash = if alg == TPM_ALG_NULL {
        TPM_ALG_NULL
    } else {
        r.u16_be()?
    };
    Ok((alg, hash))
}

fn symmetric(r: &mut Reader<'_>) -> Result<(), ParseError> {
    let alg = r.u16_be()?;
    if alg != TPM_ALG_NULL {
        r.u16_be()?; // key bits
        r.u16_be()?; // mode
    }
    Ok(())
}

impl<'a> Public<'a> {
    /// Parse a `TPMT_PUBLIC` (RSA or ECC). Total; trailing bytes are an error.
    /// A `TPM2B_PUBLIC` (size-prefixed) is accepted too.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() >= 2 && u16::from_be_bytes([bytes[0], bytes[1]]) as usize == bytes.len() - 2
        {
            return Self::parse_inner(&bytes[2..]);
        }
        Self::parse_inner(bytes)
    }

    fn parse_inner(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TPMT_PUBLIC");
        let key_type = r.u16_be()?;
        let name_alg = r.u16_be()?;
        let object_attributes = r.u32_be()?;
        let auth_policy = tpm2b(&mut r)?.to_vec();
        let (scheme, scheme_hash, key) = match key_type {
            TPM_ALG_RSA => {
                symmetric(&mut r)?;
                let (s, h) = scheme(&mut r)?;
                let _bits = r.u16_be()?;
                let exponent = r.u32_be()?;
                let modulus = tpm2b(&mut r)?.to_vec();
                let exponent = if exponent == 0 { 65537 } else { exponent };
                (s, h, PublicKey::Rsa { modulus, exponent })
            }
            TPM_ALG_ECC => {
                symmetric(&mut r)?;
                let (s, h) = scheme(&mut r)?;
                let curve = r.u16_be()?;
                let _kdf = scheme(&mut r)?;
                let x = tpm2b(&mut r)?.to_vec();
                let y = tpm2b(&mut r)?.to_vec();
                (s, h, PublicKey::Ecc { curve, x, y })
            }
            other => {
                return Err(ParseError::Unsupported {
                    what: "TPMT_PUBLIC type",
                    value: format!("{other:#06x}"),
                });
            }
        };
        r.finish()?;
        Ok(Self {
            raw: bytes,
            key_type,
            name_alg,
            object_attributes,
            auth_policy,
            scheme,
            scheme_hash,
            key,
        })
    }

    /// The object's TPM name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
    pub fn name(&self) -> Option<Vec<u8>> {
        let mut out = self.name_alg.to_be_bytes().to_vec();
        out.extend(hash(self.name_alg, self.raw)?);
        Some(out)
    }
}

impl PublicKey {
    /// DER SubjectPublicKeyInfo of the key (for hashing and comparing with a
    /// certificate's key).
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        Some(match self {
            PublicKey::Rsa { modulus, exponent } => {
                let rsa_key = der_seq(&[der_uint(modulus), der_uint(&exponent.to_be_bytes())]);
                // rsaEncryption with NULL parameters.
                let alg = hex_bytes("300d06092a864886f70d0101010500");
                der_seq(&[alg, der_bit_string(&rsa_key)])
            }
            PublicKey::Ecc { curve, x, y } => {
                let (oid, size) = match *curve {
                    TPM_ECC_NIST_P256 => ("06082a8648ce3d030107", 32),
                    TPM_ECC_NIST_P384 => ("06052b81040022", 48),
                    _ => return None,
                };
                let point = ec_point(x, y, size)?;
                let alg = der_seq(&[hex_bytes("06072a8648ce3d0201"), hex_bytes(oid)]);
                der_seq(&[alg, der_bit_string(&point)])
            }
        })
    }

    /// The key as the crypto boundary wants it: DER RSAPublicKey for RSA,
    /// the uncompressed point for ECC.
    pub fn verification_key(&self) -> Option<Vec<u8>> {
        match self {
            PublicKey::Rsa { modulus, exponent } => Some(der_seq(&[
                der_uint(modulus),
                der_uint(&exponent.to_be_bytes()),
            ])),
            PublicKey::Ecc { curve, x, y } => {
                let size = match *curve {
                    TPM_ECC_NIST_P256 => 32,
                    TPM_ECC_NIST_P384 => 48,
                    _ => return None,
                };
                ec_point(x, y, size)
            }
        }
    }
}

impl PublicKey {
    /// Whether two keys are the same key (their DER SubjectPublicKeyInfo
    /// agree, so leading zeros and encodings do not matter).
    pub fn same_key(&self, other: &PublicKey) -> bool {
        match (self.spki_der(), other.spki_der()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// A key from a JWK (RSA `n`/`e`, or EC P-256/P-384 `x`/`y`), base64url.
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<PublicKey, String> {
        use base64::Engine;
        let field = |name: &str| -> Result<Vec<u8>, String> {
            let s = jwk
                .get(name)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| format!("the JWK has no '{name}'"))?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|e| format!("JWK '{name}' is not base64url: {e}"))
        };
        match jwk.get("kty").and_then(serde_json::Value::as_str) {
            Some("RSA") => {
                let e = field("e")?;
                if e.is_empty() || e.len() > 4 {
                    return Err("the JWK exponent is not a 32-bit value".into());
                }
                let exponent = e.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b));
                Ok(PublicKey::Rsa {
                    modulus: field("n")?,
                    exponent,
                })
            }
            Some("EC") => {
                let curve = match jwk.get("crv").and_then(serde_json::Value::as_str) {
                    Some("P-256") => TPM_ECC_NIST_P256,
                    Some("P-384") => TPM_ECC_NIST_P384,
                    other => return Err(format!("unsupported JWK curve {other:?}")),
                };
                Ok(PublicKey::Ecc {
                    curve,
                    x: field("x")?,
                    y: field("y")?,
                })
            }
            other => Err(format!("unsupported JWK key type {other:?}")),
        }
    }
}

impl Public<'_> {
    /// DER SubjectPublicKeyInfo of the key.
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        self.key.spki_der()
    }

    /// The key as the crypto boundary wants it.
    pub fn verification_key(&self) -> Option<Vec<u8>> {
        self.key.verification_key()
    }
}

fn ec_point(x: &[u8], y: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut out = vec![4u8];
    out.extend(left_pad(x, size)?);
    out.extend(left_pad(y, size)?);
    Some(out)
}

/// Left-pad a big-endian integer to `size` bytes (`None` if it is longer).
pub fn left_pad(v: &[u8], size: usize) -> Option<Vec<u8>> {
    let v = strip_zeros(v);
    if v.len() > size {
        return None;
    }
    let mut out = vec![0u8; size - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[first..]
}

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

fn der_seq(items: &[Vec<u8>]) -> Vec<u8> {
    der_tlv(0x30, &items.concat())
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let v = strip_zeros(v);
    let mut body = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(v);
    der_tlv(0x02, &body)
}

fn der_bit_string(v: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend_from_slice(v);
    der_tlv(0x03, &body)
}

/// SHA-256 of a byte string, base64 (standard): MAA's `aikPubHash` form.
pub fn aik_pub_hash(spki_der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crypto::sha256(spki_der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        assert_eq!(der_uint(&[0, 0, 0x7f]), vec![2, 1, 0x7f]);
        assert_eq!(der_uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(der_uint(&[]), vec![2, 1, 0]);
        assert_eq!(der_len(300), vec![0x82, 1, 44]);
    }

    #[test]
    fn selection_bits() {
        let bytes = [0, 0, 0, 1, 0, 0x0b, 3, 0xff, 0x00, 0x01];
        let mut r = Reader::new(&bytes, "t");
        let s = parse_pcr_selection(&mut r).unwrap();
        assert_eq!(s[0].hash_alg, TPM_ALG_SHA256);
        assert_eq!(s[0].pcrs, vec![0, 1, 2, 3, 4, 5, 6, 7, 16]);
        assert_eq!(s[0].mask(), 0x100ff);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for n in 0..64 {
            let b = vec![0xffu8; n];
            assert!(Attest::parse(&b).is_err());
            assert!(Signature::parse(&b).is_err());
            assert!(Public::parse(&b).is_err());
        }
    }
}
