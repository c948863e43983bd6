//! The MAA TPM protocol envelope on `/attest/Tpm` (reference §4): the
//! `{"data": base64url(JSON)}` envelope with its `payload` member, the
//! `aikcert` init, and the challenge with its `service_context`.
//!
//! The protocol is stateless across round trips: the challenge and its
//! expiry travel inside `service_context`, encrypted and authenticated with
//! AES-256-GCM under a node key (`<data dir>/tpm-context.key`, 0600; nodes
//! that share the key can finish each other's exchanges). The context is
//! bound to the provider it was issued for.
//!
//! The request message (quote, AK certificate, event log, key binding) is
//! verified in `engine::tpm_protocol::maa_request`, which opens the context with
//! [`open_context`].
//!
//! A VBS request (`att_type: vbs`, reference §4.3) nests its fields in
//! `att_data.report_signed` beside the enclave's report package in
//! `att_data.vsm_report` (v1: base64url; v2: `{"enclave": {"report":
//! base64url}}`). [`VbsRequest::from_payload`] takes `report_signed` as the
//! exact text received, since the report's `EnclaveData` is SHA-512 of it;
//! [`VbsRequest::verify`] checks the report against the VSM signing key the
//! verified TPM boot log records (`attesta_evidence::vbs`, whose module doc
//! names the layout and its source) and gives the enclave claims.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde_json::{Value, json};

use attesta_evidence::UnixTime;
use attesta_evidence::roots::TrustRoots;
use attesta_evidence::tpm::{
    TpmError, TpmEvidence, TpmOptions, TpmSettings, TpmVerified, VerifiedAkChain,
};

use crate::codec::{b64_lenient, b64url};
use crate::error::ApiError;

/// Largest VBS report package accepted (a real one is a few kilobytes: a
/// 224-byte report, module blocks and an RSA signature).
pub const MAX_VBS_REPORT: usize = 64 * 1024;

/// The VBS part of a TPM protocol request: `report_signed` (as sent and
/// parsed) and the report package.
pub struct VbsRequest {
    /// `att_data.report_signed`, the exact JSON text of the request.
    pub report_signed_text: String,
    /// The same, parsed: where a VBS request's fields are read from.
    pub report_signed: Value,
    /// The decoded `vsm_report` package.
    pub package: Vec<u8>,
}

impl VbsRequest {
    /// The VBS part of a request payload (the JWS payload bytes).
    pub fn from_payload(payload: &[u8]) -> Result<Self, ApiError> {
        #[derive(serde::Deserialize)]
        struct Outer<'a> {
            #[serde(borrow)]
            att_data: Option<&'a serde_json::value::RawValue>,
        }
        #[derive(serde::Deserialize)]
        struct AttData<'a> {
            #[serde(borrow)]
            report_signed: Option<&'a serde_json::value::RawValue>,
            #[serde(default)]
            vsm_report: Option<Value>,
        }
        let outer: Outer<'_> = serde_json::from_slice(payload)
            .map_err(|e| tpm_error(format!("the VBS request payload: {e}")))?;
        let att_data = outer
            .att_data
            .ok_or_else(|| tpm_error("a VBS request (att_type vbs) has no att_data"))?;
        let att: AttData<'_> = serde_json::from_str(att_data.get())
            .map_err(|e| tpm_error(format!("the VBS request's att_data: {e}")))?;
        let signed = att.report_signed.ok_or_else(|| {
            tpm_error("a VBS request's att_data has no report_signed (the fields the enclave report binds)")
        })?;
        let report_signed: Value = serde_json::from_str(signed.get())
            .map_err(|e| tpm_error(format!("report_signed: {e}")))?;
        if !report_signed.is_object() {
            return Err(tpm_error("report_signed is not a JSON object"));
        }
        // v1: a string; v2: {"enclave": {"report": string}}.
        let report_b64 = match &att.vsm_report {
            Some(Value::String(s)) => s.as_str(),
            Some(v) => v
                .pointer("/enclave/report")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    tpm_error("vsm_report is neither base64url (v1) nor {\"enclave\": {\"report\": base64url}} (v2)")
                })?,
            None => {
                return Err(tpm_error(
                    "a VBS request's att_data has no vsm_report (the enclave's EnclaveGetAttestationReport package)",
                ));
            }
        };
        if report_b64.len() > MAX_VBS_REPORT * 4 / 3 + 4 {
            return Err(tpm_error(format!(
                "vsm_report is larger than {MAX_VBS_REPORT} bytes"
            )));
        }
        let package = b64_lenient(report_b64)
            .map_err(|e| tpm_error(format!("vsm_report is not base64url: {e}")))?;
        Ok(Self {
            report_signed_text: signed.get().to_string(),
            report_signed,
            package,
        })
    }

    /// The `EnclaveData` the report must carry: SHA-512 of `report_signed`
    /// exactly as sent (reference §4.3).
    pub fn expected_enclave_data(&self) -> Vec<u8> {
        attesta_evidence::tpm::structures::hash(
            attesta_evidence::tpm::structures::TPM_ALG_SHA512,
            self.report_signed_text.as_bytes(),
        )
        .unwrap_or_default()
    }

    /// Verify the report against the IDK_S of the verified boot log and its
    /// binding to `report_signed`; the enclave claims for the policy.
    pub fn verify(
        &self,
        verified: &TpmVerified,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        use attesta_evidence::ErrorCode;
        let v = attesta_evidence::vbs::verify_with_log(
            &self.package,
            verified,
            &self.expected_enclave_data(),
        )
        .map_err(|e| ApiError::evidence(e.code(), &e))?;
        Ok(v.claims().into_map())
    }
}

/// How long a challenge stays valid.
pub const CHALLENGE_SECS: u64 = 300;

/// The node key sealing `service_context`.
pub struct ContextKey {
    key: LessSafeKey,
    name: String,
}

impl ContextKey {
    /// The key from its 32 bytes (kept sealed in the store, see
    /// [`crate::cluster`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != 32 {
            return Err("the TPM context key must be 32 bytes".into());
        }
        let name = hex::encode(attesta_evidence::crypto::sha256(bytes));
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "bad AES key")?);
        Ok(Self { key, name })
    }

    /// Load the key from `path`, creating it on first start.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(_) => {
                let mut b = [0u8; 32];
                aws_lc_rs::rand::fill(&mut b).map_err(|_| "no system randomness".to_string())?;
                crate::fsutil::write_private(path, &b)?;
                b.to_vec()
            }
        };
        if bytes.len() != 32 {
            return Err(format!("{} must hold 32 bytes", path.display()));
        }
        let name = hex::encode(attesta_evidence::crypto::sha256(&bytes));
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "bad AES key")?);
        Ok(Self { key, name })
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| ApiError::internal("no system randomness"))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| ApiError::internal("sealing the TPM service context failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn tpm_error(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter(message).with_inner("TpmProtocolError")
}

/// Decode the `{"data": …}` envelope into its JSON message.
pub fn decode_envelope(body: &[u8]) -> Result<Value, ApiError> {
    let outer: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_parameter(format!("the request body is not valid JSON: {e}"))
    })?;
    let data = outer
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_parameter("the TPM request has no 'data' member"))?;
    let bytes = b64_lenient(data)
        .map_err(|e| ApiError::invalid_parameter(format!("'data' is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| tpm_error(format!("'data' does not hold a JSON message: {e}")))
}

/// Encode a JSON message into the `{"data": …}` envelope.
pub fn encode_envelope(message: &Value) -> Value {
    json!({ "data": b64url(message.to_string().as_bytes()) })
}

/// Answer an init message (`{"payload": {"type": "aikcert"}}`) for
/// `provider` at `now` with a challenge and its sealed `service_context`.
/// Request messages (`{"payload": {"request": JWS}}`) are not answered here.
pub fn handle_init(
    key: &ContextKey,
    provider: &str,
    message: &Value,
    now: u64,
) -> Result<Value, ApiError> {
    let payload = message
        .get("payload")
        .ok_or_else(|| tpm_error("the TPM message has no 'payload' member"))?;
    let Some(ty) = payload.get("type") else {
        return Err(tpm_error(
            "the TPM message payload is neither an init ('type') nor a request ('request')",
        ));
    };
    if ty != "aikcert" {
        return Err(tpm_error(format!(
            "init type {ty} is not supported; the only init type is \"aikcert\""
        )));
    }
    let (challenge, context) = new_challenge(key, provider, now)?;
    Ok(json!({ "payload": { "challenge": challenge, "service_context": context } }))
}

/// A fresh 16-byte challenge (base64url) and the `service_context` sealing
/// it with its expiry, bound to `provider`.
pub fn new_challenge(
    key: &ContextKey,
    provider: &str,
    now: u64,
) -> Result<(String, String), ApiError> {
    let mut challenge = [0u8; 16];
    aws_lc_rs::rand::fill(&mut challenge)
        .map_err(|_| ApiError::internal("no system randomness"))?;
    let context = seal_challenge(key, provider, &challenge, now)?;
    Ok((b64url(&challenge), context))
}

/// The `service_context` sealing `challenge` for `provider` at `now`
/// (valid for the usual challenge lifetime): what [`new_challenge`] issues
/// around its random challenge, and what a node holding the same context
/// key may issue for a challenge of its own choosing (such as the nonce of
/// recorded evidence, in tests).
pub fn seal_challenge(
    key: &ContextKey,
    provider: &str,
    challenge: &[u8],
    now: u64,
) -> Result<String, ApiError> {
    let inner = json!({ "challenge": b64url(challenge), "exp": now + CHALLENGE_SECS });
    let sealed = key.seal(inner.to_string().as_bytes(), provider.as_bytes())?;
    let context = json!({ "ProtectionKeyName": key.name, "ProtectedContext": b64url(&sealed) });
    Ok(b64url(context.to_string().as_bytes()))
}

/// The challenge sealed in a request's `service_context`, if authentic,
/// issued for this provider, and unexpired.
pub fn open_context(
    key: &ContextKey,
    provider: &str,
    body: &Value,
    now: u64,
) -> Result<String, ApiError> {
    let ctx = body
        .get("service_context")
        .and_then(Value::as_str)
        .ok_or_else(|| tpm_error("the request has no service_context"))?;
    let outer: Value = b64_lenient(ctx)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| tpm_error("service_context is malformed"))?;
    let sealed = outer
        .get("ProtectedContext")
        .and_then(Value::as_str)
        .and_then(|s| b64_lenient(s).ok())
        .ok_or_else(|| tpm_error("service_context is malformed"))?;
    let plain = key.open(&sealed, provider.as_bytes()).ok_or_else(|| {
        tpm_error("service_context was not issued by this service for this provider")
    })?;
    let inner: Value =
        serde_json::from_slice(&plain).map_err(|_| tpm_error("service_context is malformed"))?;
    let exp = inner.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if now > exp {
        return Err(tpm_error(
            "the challenge has expired; start again with an aikcert init",
        ));
    }
    inner
        .get("challenge")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| tpm_error("service_context is malformed"))
}

/// Verify TPM evidence, reusing an AK certificate chain this node verified
/// before for the same certificates and roots while the verification time
/// stays inside the chain's validity (the quote, PCRs and log are checked on
/// every request). A newly verified chain is remembered. `options` are the
/// provider's (`ProviderConfig::tpm_options`: SHA-1 acceptance).
pub fn verify_cached(
    chains: &crate::cache::VersionCache<VerifiedAkChain>,
    evidence: &TpmEvidence<'_>,
    nonce: &[u8],
    roots: &TrustRoots,
    settings: &TpmSettings,
    options: &TpmOptions,
    at: UnixTime,
) -> Result<TpmVerified, TpmError> {
    let mut remembered = false;
    let verified = attesta_evidence::tpm::verify_with_options(
        evidence,
        nonce,
        roots,
        settings,
        options,
        at,
        |fp| {
            let hit = chains.get(fp, |c| c.valid_at(at)).map(|c| (*c).clone());
            remembered = hit.is_some();
            hit
        },
    )?;
    if !remembered && let Some(chain) = &verified.ak_chain {
        chains.insert(chain.fingerprint, chain.clone());
    }
    Ok(verified)
}

/// The provider's configured AK trust (`tpm_trusted_aks`) applied to a
/// verified quote whose AK has no valid certificate (the policy allowed it
/// with `require_valid_aik_cert=false`): with a list configured, the AK must
/// be on it. Returns whether the AK was trusted by configuration.
pub fn check_trusted_ak(
    config: &crate::provider_config::ProviderConfig,
    verified: &TpmVerified,
) -> Result<bool, ApiError> {
    if verified.aik_validated || config.tpm_trusted_aks.is_empty() {
        return Ok(false);
    }
    if config
        .tpm_trusted_aks
        .iter()
        .any(|h| h == &verified.aik_pub_hash)
    {
        return Ok(true);
    }
    Err(ApiError::evidence(
        "AkNotTrusted",
        format!(
            "the AK (aikPubHash {}) has no valid certificate and is not one of the provider's tpm_trusted_aks",
            verified.aik_pub_hash
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (tempfile::TempDir, ContextKey) {
        let d = tempfile::tempdir().unwrap();
        let k = ContextKey::load_or_create(&d.path().join("k")).unwrap();
        (d, k)
    }

    fn open(k: &ContextKey, provider: &str, ctx: &str, now: u64) -> Result<String, ApiError> {
        open_context(k, provider, &json!({ "service_context": ctx }), now)
    }

    #[test]
    fn init_then_context_round_trip() {
        let (_d, k) = key();
        let reply = handle_init(&k, "p", &json!({"payload": {"type": "aikcert"}}), 1000).unwrap();
        let challenge = reply["payload"]["challenge"].as_str().unwrap();
        assert_eq!(b64_lenient(challenge).unwrap().len(), 16);
        let ctx = reply["payload"]["service_context"].as_str().unwrap();
        // The genuine context gives its challenge back.
        assert_eq!(open(&k, "p", ctx, 1001).unwrap(), challenge);
        // Another provider, expired, or another node's key.
        let e = open(&k, "q", ctx, 1001).unwrap_err();
        assert!(e.message.contains("not issued"), "{}", e.message);
        let e = open(&k, "p", ctx, 1000 + CHALLENGE_SECS + 1).unwrap_err();
        assert!(e.message.contains("expired"), "{}", e.message);
        let (_d2, other) = key();
        let e = open(&other, "p", ctx, 1001).unwrap_err();
        assert!(e.message.contains("not issued"));
        assert_eq!(e.inner, Some("TpmProtocolError"));
    }

    #[test]
    fn bad_messages_are_protocol_errors() {
        let (_d, k) = key();
        for m in [
            json!({}),
            json!({"payload": {"type": "other"}}),
            json!({"payload": {"x": 1}}),
        ] {
            assert_eq!(
                handle_init(&k, "p", &m, 0).unwrap_err().inner,
                Some("TpmProtocolError")
            );
        }
        assert!(decode_envelope(b"{\"data\":\"!!\"}").is_err());
        let env = encode_envelope(&json!({"payload": {"type": "aikcert"}}));
        let back = decode_envelope(env.to_string().as_bytes()).unwrap();
        assert_eq!(back["payload"]["type"], "aikcert");
    }
}
