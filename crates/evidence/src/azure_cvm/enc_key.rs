//! The ephemeral encryption key of MAA's `AzureGuest` request (reference
//! §5.3): `EncKeyPub` must be a key the vTPM holds, usable only while the
//! PCRs are in the attested state, before the service encrypts the token to
//! it. Pure: a function of the key's `TPM2B_PUBLIC`, its TPM2_Certify by
//! the AK, and the already verified quote.
//!
//! Checks, each its own [`AzureGuestError`]:
//! 1. `EncKeyPub` is a `TPMT_PUBLIC`/`TPM2B_PUBLIC` of an RSA key of at
//!    least 2048 bits (`EncKeyInvalid`);
//! 2. `EncKeyCertifyInfo` is a TPM-made certification (`TPM_GENERATED`,
//!    `TPM_ST_ATTEST_CERTIFY`) signed by the AK the hardware report bound
//!    (the quote's AK), naming exactly this public area
//!    (`EncKeyNotCertified`); its qualifyingData is empty (what Microsoft's
//!    client sends) or the quote's own extraData (`EncKeyNotCertified`);
//! 3. the object attributes make it a TPM-resident, TPM-generated
//!    decryption key that only a policy session can use: `fixedTPM`,
//!    `fixedParent`, `sensitiveDataOrigin`, `decrypt` set; `restricted`
//!    and `userWithAuth` clear (`EncKeyAttributesInvalid`);
//! 4. its nameAlg is SHA-256 and its authPolicy is the `TPM2_PolicyPCR`
//!    digest over the quoted SHA-256 PCR values (`EncKeyPolicyMismatch`):
//!    the TPM lets the key decrypt only while those PCRs hold the values
//!    the verified quote attested, which is what makes the sealed token
//!    readable only by the attested VM in the attested state.
//!
//! The policy digest is computed as TPM 2.0 Part 3 §23.7 defines
//! TPM2_PolicyPCR from an empty session: `H(0^32 ‖ TPM_CC_PolicyPCR ‖
//! TPML_PCR_SELECTION ‖ H(selected PCR values, ascending))`, with a
//! 3-byte selection bitmap as every TPM 2.0 client builds it.

use serde_json::{Value, json};

use super::error::AzureGuestError;
use super::verify::normalize_signature;
use crate::crypto;
use crate::tpm::structures::{Attest, Public, PublicKey, TPM_ALG_SHA256};
use crate::tpm::{CertifyParts, TpmVerified};

/// `TPMA_OBJECT` bits (TPM 2.0 Part 2 §8.3).
pub const FIXED_TPM: u32 = 1 << 1;
pub const FIXED_PARENT: u32 = 1 << 4;
pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
pub const USER_WITH_AUTH: u32 = 1 << 6;
pub const RESTRICTED: u32 = 1 << 16;
pub const DECRYPT: u32 = 1 << 17;
/// `TPM_CC_PolicyPCR`.
pub const TPM_CC_POLICY_PCR: u32 = 0x0000_017F;
/// The smallest RSA modulus accepted, in bytes (2048 bits).
pub const MIN_MODULUS_LEN: usize = 256;

/// The `kid` MAA gives the key in `x-ms-runtime.keys`.
pub const EPHEMERAL_KEY_KID: &str = "TpmEphemeralEncryptionKey";

/// A verified ephemeral encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncKey {
    /// The RSA modulus (big-endian, no leading zeros).
    pub modulus: Vec<u8>,
    pub exponent: u32,
    pub object_attributes: u32,
    /// The authPolicy, equal to the PCR policy of the quote.
    pub auth_policy: Vec<u8>,
}

impl EncKey {
    /// DER SubjectPublicKeyInfo, for the RSA encryption.
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        PublicKey::Rsa {
            modulus: self.modulus.clone(),
            exponent: self.exponent,
        }
        .spki_der()
    }

    /// The JWK MAA emits in `x-ms-runtime.keys`.
    pub fn jwk(&self) -> Value {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let e = self.exponent.to_be_bytes();
        let e: Vec<u8> = e.iter().copied().skip_while(|&b| b == 0).collect();
        json!({
            "kid": EPHEMERAL_KEY_KID,
            "key_ops": ["encrypt"],
            "kty": "RSA",
            "e": b64.encode(e),
            "n": b64.encode(&self.modulus),
        })
    }
}

/// The PolicyPCR digest (SHA-256 session) over `values` (index → value),
/// selected in the SHA-256 bank.
pub fn pcr_policy_digest<'a>(values: impl IntoIterator<Item = (u32, &'a [u8])>) -> Vec<u8> {
    let mut bitmap = [0u8; 3];
    let mut concatenated = Vec::new();
    let mut sorted: Vec<(u32, &[u8])> = values.into_iter().filter(|(i, _)| *i < 24).collect();
    sorted.sort_by_key(|(i, _)| *i);
    for (i, v) in &sorted {
        bitmap[(*i / 8) as usize] |= 1 << (*i % 8);
        concatenated.extend_from_slice(v);
    }
    let pcr_digest = crypto::sha256(&concatenated);
    let mut m = vec![0u8; 32];
    m.extend_from_slice(&TPM_CC_POLICY_PCR.to_be_bytes());
    m.extend_from_slice(&1u32.to_be_bytes()); // TPML_PCR_SELECTION.count
    m.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
    m.push(3);
    m.extend_from_slice(&bitmap);
    m.extend_from_slice(&pcr_digest);
    crypto::sha256(&m).to_vec()
}

fn names(bits: u32) -> String {
    const ALL: [(u32, &str); 6] = [
        (FIXED_TPM, "fixedTPM"),
        (FIXED_PARENT, "fixedParent"),
        (SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin"),
        (USER_WITH_AUTH, "userWithAuth"),
        (RESTRICTED, "restricted"),
        (DECRYPT, "decrypt"),
    ];
    ALL.iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Verify the ephemeral key against the verified quote (see the module doc).
pub fn verify_enc_key(
    tpm: &TpmVerified,
    quote: &[u8],
    public: &[u8],
    certify_info: &[u8],
    certify_signature: &[u8],
) -> Result<EncKey, AzureGuestError> {
    if public.is_empty() {
        return Err(AzureGuestError::EncKeyMissing);
    }
    let p = Public::parse(public).map_err(|e| AzureGuestError::EncKeyInvalid(e.to_string()))?;
    let PublicKey::Rsa { modulus, exponent } = &p.key else {
        return Err(AzureGuestError::EncKeyInvalid(
            "it is not an RSA key; the sealed response is RSAES-PKCS1-v1_5".into(),
        ));
    };
    let modulus: Vec<u8> = modulus.iter().copied().skip_while(|&b| b == 0).collect();
    if modulus.len() < MIN_MODULUS_LEN {
        return Err(AzureGuestError::EncKeyInvalid(format!(
            "its modulus has {} bits; at least 2048 are required",
            modulus.len() * 8
        )));
    }

    // 2. Certified by the AK, naming this object.
    if certify_info.is_empty() || certify_signature.is_empty() {
        return Err(AzureGuestError::EncKeyNotCertified(
            "EncKeyCertifyInfo or its signature is missing".into(),
        ));
    }
    let quote_nonce = Attest::parse(quote)
        .map(|a| a.extra_data)
        .unwrap_or_default();
    let certified_nonce = Attest::parse(certify_info)
        .map(|a| a.extra_data)
        .map_err(|e| AzureGuestError::EncKeyNotCertified(e.to_string()))?;
    if !certified_nonce.is_empty() && certified_nonce != quote_nonce {
        return Err(AzureGuestError::EncKeyNotCertified(format!(
            "the certification's qualifyingData {} is neither empty nor the quote's nonce {}",
            hex::encode(&certified_nonce),
            hex::encode(&quote_nonce)
        )));
    }
    let signature = normalize_signature(certify_signature, &tpm.ak);
    let certified = tpm
        .certify(
            &CertifyParts {
                public,
                certification: certify_info,
                signature: &signature,
            },
            &certified_nonce,
        )
        .map_err(|e| AzureGuestError::EncKeyNotCertified(e.to_string()))?;

    // 3. Attributes.
    let attrs = certified.object_attributes;
    let required = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN | DECRYPT;
    let forbidden = RESTRICTED | USER_WITH_AUTH;
    if attrs & required != required || attrs & forbidden != 0 {
        return Err(AzureGuestError::EncKeyAttributesInvalid {
            attributes: attrs,
            missing: names(required & !attrs),
            forbidden: names(attrs & forbidden),
        });
    }

    // 4. The PCR policy of the quoted state.
    let quoted = tpm.quoted.get(&TPM_ALG_SHA256);
    let expected = match quoted {
        Some(bank) if !bank.is_empty() => {
            pcr_policy_digest(bank.iter().map(|(i, v)| (*i, v.as_slice())))
        }
        _ => {
            return Err(AzureGuestError::EncKeyPolicyMismatch(
                "the quote covers no SHA-256 PCRs to bind the key to".into(),
            ));
        }
    };
    if p.name_alg != TPM_ALG_SHA256 {
        return Err(AzureGuestError::EncKeyPolicyMismatch(format!(
            "its nameAlg is {:#06x}; the PCR policy is a SHA-256 policy",
            p.name_alg
        )));
    }
    if !crypto::constant_time_eq(&certified.auth_policy, &expected) {
        return Err(AzureGuestError::EncKeyPolicyMismatch(format!(
            "its authPolicy is {}, but PolicyPCR over the quoted SHA-256 PCRs is {}",
            hex::encode(&certified.auth_policy),
            hex::encode(&expected)
        )));
    }
    Ok(EncKey {
        modulus,
        exponent: *exponent,
        object_attributes: attrs,
        auth_policy: certified.auth_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy of PCRs 0–7 all zero (a fresh TPM), as tpm2-tools'
    /// `tpm2_createpolicy --policy-pcr -l sha256:0,1,2,3,4,5,6,7` prints
    /// it; recomputed here from its definition rather than copied.
    #[test]
    fn pcr_policy_is_the_tpm_definition() {
        let zero = [0u8; 32];
        let got = pcr_policy_digest((0..8).map(|i| (i, &zero[..])));
        let mut concatenated = Vec::new();
        for _ in 0..8 {
            concatenated.extend_from_slice(&zero);
        }
        let mut m = vec![0u8; 32];
        m.extend_from_slice(&[0, 0, 1, 0x7f, 0, 0, 0, 1, 0, 0x0b, 3, 0xff, 0, 0]);
        m.extend_from_slice(&crypto::sha256(&concatenated));
        assert_eq!(got, crypto::sha256(&m));
        // Order of the input does not matter; the selection does.
        let rev = pcr_policy_digest((0..8).rev().map(|i| (i, &zero[..])));
        assert_eq!(got, rev);
        assert_ne!(got, pcr_policy_digest((0..7).map(|i| (i, &zero[..]))));
    }
}
