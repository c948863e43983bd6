//! The tamper-evident audit log of control-plane changes: what the route
//! handlers record, the checkpoints the service signs, and the verification
//! `attesta audit verify` runs (the same code, called from the CLI).
//!
//! # What is recorded
//!
//! Every control-plane change, when it succeeds and when it is refused or
//! fails *after the caller authenticated* (an anonymous or wrongly
//! authenticated request is not recorded, or anyone could fill the log):
//! provider create / update / delete, policy set / reset, policy-management
//! certificate add / remove, signing-key rotation, collateral import (and
//! delete, through [`record`]). Each record names the operation (MAA's
//! operation names where MAA has one), the result (`succeeded`, or `failed`
//! with the error code the client got), the caller (`admin`,
//! `token:<first 16 hex digits of the token's SHA-256>`, or
//! `cert:<x5t#S256>` of the policy-management certificate that signed the
//! request, with the bearer identity in `details.bearer`), the provider and
//! the target (attestation type, certificate thumbprint, key id,
//! collateral id). Records are hash-chained in the store
//! ([`attesta_store::audit`]).
//!
//! # When a change cannot be recorded
//!
//! The record is appended after the change, in the same request. If the
//! append fails, the request is not reported as done: the client gets 503
//! (database unreachable) or 500 saying the change was applied but not
//! audited, and the failure is logged at error level. The window in which
//! that can happen is the time between the change's commit and the append's
//! (the same database, milliseconds apart); a retried request records its
//! own outcome. Appending is never on the attest path.
//!
//! # Checkpoints
//!
//! Every `audit.checkpoint_every` records, every
//! `audit.checkpoint_interval_secs` when records were added since the last
//! one, and right after each key rotation (so the newest checkpoint is
//! signed by the newest key), a node signs `{seq, hash}` of the newest record
//! as a JWT with the default provider's active signing key (header `kid` and
//! `x5c`; claims `x-attesta-audit-checkpoint: {seq, hash}` and
//! `x-attesta-management: true`, never `x-ms-attestation-type`, so it can
//! pass neither as an attestation token nor the other way round). The
//! private key is not in the database, so whoever can only write the
//! database can neither forge a checkpoint nor make an old one match a
//! rewritten chain. Checkpoints are what detect a rewrite of the chain by
//! someone who recomputed every hash after an edit, and the removal of the
//! newest records: a checkpoint then names a record the log no longer has,
//! or a hash it no longer has.
//!
//! What the log does not detect on its own: the removal of the newest
//! records *together with* every checkpoint signed after them. Keep the
//! output of `attesta audit verify` (the newest verified checkpoint)
//! outside the database to catch that.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use attesta_evidence::UnixTime;
use attesta_evidence::crypto::sha256;
use attesta_store::audit::{self as chain, ChainError, GENESIS_HASH};
use attesta_store::{AuditCheckpoint, AuditDraft, AuditRecord, StoreError};
use attesta_token::jwks::Jwks;

/// The operation names records carry.
pub mod op {
    pub const CREATE_PROVIDER: &str = "CreateInstance";
    pub const UPDATE_PROVIDER: &str = "UpdateInstance";
    pub const DELETE_PROVIDER: &str = "DestroyInstance";
    pub const SET_POLICY: &str = "SetCurrentPolicy";
    pub const RESET_POLICY: &str = "ResetAttestationPolicy";
    pub const ADD_CERTIFICATE: &str = "AddPolicyCertificate";
    pub const REMOVE_CERTIFICATE: &str = "RemovePolicyCertificate";
    pub const ROTATE_KEY: &str = "RotateSigningKey";
    pub const IMPORT_COLLATERAL: &str = "ImportCollateral";
    pub const DELETE_COLLATERAL: &str = "DeleteCollateral";
}

/// The claim of a checkpoint JWT.
pub const CHECKPOINT_CLAIM: &str = "x-attesta-audit-checkpoint";

/// One control-plane request on its way to the audit log. Handlers fill in
/// what they learn (the signer, the target) while they work.
#[derive(Debug, Clone)]
pub struct Event {
    pub operation: &'static str,
    pub caller: String,
    pub provider: String,
    pub target: String,
    pub details: Map<String, Value>,
}

impl Event {
    /// An event of `operation` by `caller` (see [`crate::auth::caller`]) on
    /// `provider` (empty when none).
    pub fn new(operation: &'static str, caller: String, provider: &str) -> Self {
        Self {
            operation,
            caller,
            provider: cut(provider.to_string()),
            target: String::new(),
            details: Map::new(),
        }
    }

    /// Set the target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = cut(target.into());
        self
    }

    /// Add a detail (kept small: the store refuses details over 4 KiB).
    pub fn detail(&mut self, key: &str, value: impl Into<Value>) {
        self.details.insert(key.to_string(), value.into());
    }

    /// The request was authorised by a signature: the signer becomes the
    /// caller, the bearer identity moves to `details.bearer`.
    pub fn signed_by(&mut self, leaf_der: &[u8]) {
        let bearer = std::mem::replace(&mut self.caller, signer_identity(leaf_der));
        self.detail("bearer", bearer);
    }
}

/// Cut to the store's field limit: providers and targets may come from a
/// request (path or body) before they were validated.
fn cut(mut s: String) -> String {
    if s.len() > chain::MAX_FIELD_BYTES {
        let mut end = chain::MAX_FIELD_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// `cert:<x5t#S256>`: base64url SHA-256 of the certificate's DER.
pub fn signer_identity(leaf_der: &[u8]) -> String {
    format!("cert:{}", crate::codec::b64url(&sha256(leaf_der)))
}

/// Records `event` with the outcome of the request and returns the outcome;
/// when the record cannot be appended, a successful outcome becomes an
/// error (the change is not reported as done) and a failed one stays as it
/// was. Use it around a handler's work:
///
/// ```ignore
/// let result = do_the_change(&state, &mut event).await;
/// audit::finish(&state, event, result).await
/// ```
pub async fn finish<T>(
    state: &AppState,
    event: Event,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match record(state, event, result.as_ref().map(|_| ())).await {
        Ok(_) => result,
        Err(e) if result.is_ok() => Err(e),
        Err(_) => result,
    }
}

/// Appends one record: `outcome` is `Ok` for a change that was made, else
/// the error the client gets. Signs a checkpoint when one is due. For
/// routes that do their own flow (e.g. a collateral delete):
///
/// ```ignore
/// let caller = crate::auth::caller(&state, &headers);
/// let event = audit::Event::new(audit::op::DELETE_COLLATERAL, caller, "").target(id);
/// audit::record(&state, event, outcome.as_ref().map(|_| ())).await?;
/// ```
///
/// The error says the change was made but not audited (503 while the
/// database is unreachable, else 500).
pub async fn record(
    state: &AppState,
    event: Event,
    outcome: Result<(), &ApiError>,
) -> Result<AuditRecord, ApiError> {
    let (result, error_code) = match outcome {
        Ok(()) => (chain::SUCCEEDED, String::new()),
        Err(e) => (chain::FAILED, e.inner.unwrap_or(e.code).to_string()),
    };
    let mut details = event.details;
    if let Err(e) = outcome {
        details.insert("status".into(), json!(e.status.as_u16()));
    }
    let draft = AuditDraft {
        time: UnixTime::now().0 as i64,
        operation: event.operation.to_string(),
        result: result.to_string(),
        error_code,
        caller: event.caller,
        provider: event.provider,
        target: event.target,
        details: Value::Object(details),
        node_id: state.signing.node_id().to_string(),
    };
    match state.store.append_audit(&draft).await {
        Ok(r) => {
            let every = state.config.audit.checkpoint_every.max(1) as i64;
            if r.seq % every == 0 {
                checkpoint(state, &r).await;
            }
            Ok(r)
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                operation = %draft.operation,
                provider = %draft.provider,
                target = %draft.target,
                result = %draft.result,
                "a control-plane request could not be written to the audit log"
            );
            let message = if outcome.is_ok() {
                "the change was applied but could not be written to the audit log; \
                 check the database, then repeat the request so that it is recorded"
            } else {
                "the request failed and could not be written to the audit log"
            };
            Err(match e {
                StoreError::Unavailable(_) => {
                    ApiError::service_unavailable(message, crate::cluster::RETRY_AFTER_SECS)
                }
                _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message),
            })
        }
    }
}

/// Signs and stores a checkpoint of record `r`. A failure is logged, not
/// returned: the record is in the log, and the next checkpoint covers it.
pub async fn checkpoint(state: &AppState, r: &AuditRecord) {
    checkpoint_head(state, r.seq, &r.hash).await;
}

/// [`checkpoint`] of the record `(seq, hash)`.
async fn checkpoint_head(state: &AppState, seq: i64, hash: &str) {
    let signer = CheckpointSigner::of(state);
    put_checkpoint(state.store.as_ref(), &signer, seq, hash).await;
}

async fn put_checkpoint(
    store: &dyn attesta_store::Store,
    signer: &CheckpointSigner,
    seq: i64,
    hash: &str,
) {
    match signer.sign(seq, hash) {
        Ok(cp) => match store.put_audit_checkpoint(&cp).await {
            Ok(_) => tracing::debug!(seq, "audit checkpoint signed"),
            Err(e) => tracing::warn!(seq, error = %e, "storing an audit checkpoint failed"),
        },
        Err(e) => tracing::warn!(seq, error = %e, "signing an audit checkpoint failed"),
    }
}

/// What signing a checkpoint needs: the default provider's keys, its
/// canonical base URL (issuer) and this node's id.
pub struct CheckpointSigner {
    signing: std::sync::Arc<crate::signing::ProviderKeys>,
    provider: String,
    base: String,
    node_id: String,
}

impl CheckpointSigner {
    pub fn of(state: &AppState) -> Self {
        let provider = state.config.default_provider.name.clone();
        Self {
            signing: state.signing.clone(),
            base: state.canonical_base(&provider),
            provider,
            node_id: state.signing.node_id().to_string(),
        }
    }

    /// A checkpoint of `(seq, hash)` signed with the default provider's
    /// active key (see the module doc for its form).
    pub fn sign(&self, seq: i64, hash: &str) -> Result<AuditCheckpoint, String> {
        let key = self.signing.active(&self.provider, &self.base)?;
        let now = UnixTime::now().0;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.base));
        claims.insert("iat".into(), json!(now));
        claims.insert(CHECKPOINT_CLAIM.into(), json!({ "seq": seq, "hash": hash }));
        claims.insert(crate::tokens::MANAGEMENT_CLAIM.into(), json!(true));
        let jws = attesta_token::jwt::sign_jwt_with(
            &key,
            &format!("{}/certs", self.base),
            &claims,
            attesta_token::jwt::CertHeader::X5c,
        );
        Ok(AuditCheckpoint {
            seq,
            hash: hash.to_string(),
            jws,
            created_at: now as i64,
            node_id: self.node_id.clone(),
        })
    }
}

/// Signs a checkpoint of the newest record every
/// `audit.checkpoint_interval_secs` when records were added since the
/// newest checkpoint. Ends within a second of the server (it holds no
/// state clone, only the store and the keys).
pub fn spawn_checkpointer(state: &AppState) {
    let alive = std::sync::Arc::downgrade(&state.config);
    let interval = Duration::from_secs(state.config.audit.checkpoint_interval_secs.max(1));
    let store = state.store.clone();
    let signer = CheckpointSigner::of(state);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1).min(interval));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = tokio::time::Instant::now();
        loop {
            ticker.tick().await;
            if alive.strong_count() == 0 {
                return;
            }
            if last.elapsed() < interval {
                continue;
            }
            last = tokio::time::Instant::now();
            let head = match store.audit_head().await {
                Ok(h) => h,
                Err(e) => {
                    tracing::debug!(error = %e, "audit checkpointer: store unreachable");
                    continue;
                }
            };
            if let Some((seq, hash)) = head.last_record
                && head.last_checkpoint.is_none_or(|c| c < seq)
            {
                put_checkpoint(store.as_ref(), &signer, seq, &hash).await;
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// The certificates checkpoints may be signed with, by `kid`
/// (base64url SHA-1 of the DER, as the service names its keys).
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    by_kid: HashMap<String, Vec<u8>>,
}

impl TrustedKeys {
    /// Every `x5c` leaf of a key set (the service's `/certs`) and every
    /// certificate given (DER). The `kid` is computed from the certificate,
    /// never taken from the key set.
    pub fn new(jwks: &Jwks, certs: &[Vec<u8>]) -> Self {
        use base64::Engine;
        let mut by_kid = HashMap::new();
        let leaves = jwks.keys.iter().filter_map(|k| {
            k.x5c
                .first()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        });
        for der in leaves.chain(certs.iter().cloned()) {
            let kid = crate::codec::b64url(&attesta_evidence::crypto::sha1(&der));
            by_kid.insert(kid, der);
        }
        Self { by_kid }
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }
}

/// Why a log does not verify: the first fault found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditFault {
    /// The chain of records is broken (edited, missing, reordered record).
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// A checkpoint signed by a trusted key names a record the log no
    /// longer has.
    #[error(
        "records after record {last} were removed: checkpoint {checkpoint} was signed when the \
         log reached record {checkpoint}"
    )]
    Truncated { checkpoint: i64, last: i64 },
    /// A checkpoint signed by a trusted key names another hash than the
    /// record has: the chain up to it was rewritten.
    #[error(
        "records up to {checkpoint} were rewritten: checkpoint {checkpoint} signed hash {signed}, \
         the log's record {checkpoint} has {found}"
    )]
    Rewritten {
        checkpoint: i64,
        signed: String,
        found: String,
    },
    /// A checkpoint names a trusted key but its signature does not verify.
    #[error(
        "checkpoint {checkpoint} was forged or edited: its signature does not verify with key {kid}"
    )]
    BadSignature { checkpoint: i64, kid: String },
    /// A checkpoint's stored seq or hash differs from what it signed, or it
    /// is not a checkpoint at all.
    #[error("checkpoint {checkpoint} was edited: {why}")]
    CheckpointEdited { checkpoint: i64, why: String },
}

impl AuditFault {
    /// The record or checkpoint the fault names.
    pub fn seq(&self) -> i64 {
        match self {
            AuditFault::Chain(c) => c.seq(),
            AuditFault::Truncated { checkpoint, .. }
            | AuditFault::Rewritten { checkpoint, .. }
            | AuditFault::BadSignature { checkpoint, .. }
            | AuditFault::CheckpointEdited { checkpoint, .. } => *checkpoint,
        }
    }
}

/// A checkpoint that could not be checked (not a fault: it is not counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    pub checkpoint: i64,
    pub reason: String,
}

/// What a log that verifies amounts to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Records checked.
    pub records: usize,
    /// The newest record, `(seq, hash)`.
    pub last: Option<(i64, String)>,
    /// Checkpoints whose signature and hash were checked.
    pub verified_checkpoints: usize,
    /// The newest of those, `(seq, hash)`: keep it outside the database.
    pub latest_verified_checkpoint: Option<(i64, String)>,
    /// Records newer than that checkpoint, protected by the chain alone.
    pub records_after_latest_checkpoint: i64,
    /// Checkpoints signed by keys not trusted (e.g. retired and no longer
    /// published): not counted.
    pub unverified_checkpoints: Vec<Unverified>,
}

/// Verifies a whole log: the chain of `records` (all of them, from seq 1,
/// in order) and every checkpoint against `keys`. The first fault found
/// is returned; chain faults come first, in `seq` order.
pub fn verify(
    records: &[AuditRecord],
    checkpoints: &[AuditCheckpoint],
    keys: &TrustedKeys,
) -> Result<AuditReport, AuditFault> {
    let (last_seq, last_hash) = chain::verify_chain((0, GENESIS_HASH), records)?;
    let by_seq: HashMap<i64, &str> = records.iter().map(|r| (r.seq, r.hash.as_str())).collect();
    let mut report = AuditReport {
        records: records.len(),
        last: (last_seq > 0).then_some((last_seq, last_hash)),
        verified_checkpoints: 0,
        latest_verified_checkpoint: None,
        records_after_latest_checkpoint: last_seq,
        unverified_checkpoints: Vec::new(),
    };
    for cp in checkpoints {
        let (seq, hash) = match check_checkpoint(cp, keys)? {
            Checked::Signed { seq, hash } => (seq, hash),
            Checked::UnknownKey(reason) => {
                report.unverified_checkpoints.push(Unverified {
                    checkpoint: cp.seq,
                    reason,
                });
                continue;
            }
        };
        match by_seq.get(&seq) {
            None if seq > last_seq => {
                return Err(AuditFault::Truncated {
                    checkpoint: seq,
                    last: last_seq,
                });
            }
            None => {
                // Not reachable for a chain that verified from 1 to last_seq.
                return Err(AuditFault::Chain(ChainError::Missing { seq }));
            }
            Some(found) if *found != hash => {
                return Err(AuditFault::Rewritten {
                    checkpoint: seq,
                    signed: hash,
                    found: found.to_string(),
                });
            }
            Some(_) => {}
        }
        report.verified_checkpoints += 1;
        if report
            .latest_verified_checkpoint
            .as_ref()
            .is_none_or(|(s, _)| *s < seq)
        {
            report.records_after_latest_checkpoint = last_seq - seq;
            report.latest_verified_checkpoint = Some((seq, hash));
        }
    }
    Ok(report)
}

enum Checked {
    Signed { seq: i64, hash: String },
    UnknownKey(String),
}

/// Checks one checkpoint's signature and claims.
fn check_checkpoint(cp: &AuditCheckpoint, keys: &TrustedKeys) -> Result<Checked, AuditFault> {
    use attesta_token::crypto::{Scheme, certificate_public_key, verify as verify_sig};
    let edited = |why: String| AuditFault::CheckpointEdited {
        checkpoint: cp.seq,
        why,
    };
    let jws = attesta_token::jws::parse_jws(&cp.jws)
        .map_err(|e| edited(format!("it is not a JWS: {e}")))?;
    if jws.alg() != "RS256" {
        return Err(edited(format!(
            "it is signed with {:?}, not RS256",
            jws.alg()
        )));
    }
    let Some(kid) = jws.header.get("kid").and_then(Value::as_str) else {
        return Err(edited("its header names no kid".into()));
    };
    let Some(der) = keys.by_kid.get(kid) else {
        return Ok(Checked::UnknownKey(format!(
            "signed by key {kid}, which is neither published at the service's /certs nor given \
             with --cert (a key retired longer ago than key_overlap_secs?)"
        )));
    };
    let public = certificate_public_key(der).map_err(|e| edited(e.to_string()))?;
    if !verify_sig(
        Scheme::RsaPkcs1Sha256,
        &public,
        jws.signing_input().as_bytes(),
        &jws.signature,
    ) {
        return Err(AuditFault::BadSignature {
            checkpoint: cp.seq,
            kid: kid.to_string(),
        });
    }
    let claims = jws
        .payload_object()
        .map_err(|e| edited(e.to_string()))?
        .unwrap_or_default();
    if claims.contains_key("x-ms-attestation-type") {
        return Err(edited(
            "it is an attestation token, not a checkpoint".into(),
        ));
    }
    let signed = claims.get(CHECKPOINT_CLAIM);
    let seq = signed.and_then(|c| c.get("seq")).and_then(Value::as_i64);
    let hash = signed.and_then(|c| c.get("hash")).and_then(Value::as_str);
    let (Some(seq), Some(hash)) = (seq, hash) else {
        return Err(edited(format!(
            "it has no {CHECKPOINT_CLAIM} claim with seq and hash"
        )));
    };
    if seq != cp.seq || hash != cp.hash {
        return Err(edited(format!(
            "it is stored as record {} with hash {} but signs record {seq} with hash {hash}",
            cp.seq, cp.hash
        )));
    }
    Ok(Checked::Signed {
        seq,
        hash: hash.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attesta_token::keys::SigningKey;

    fn draft(n: i64) -> AuditDraft {
        AuditDraft {
            time: 1_700_000_000 + n,
            operation: op::SET_POLICY.into(),
            result: chain::SUCCEEDED.into(),
            error_code: String::new(),
            caller: "admin".into(),
            provider: "default".into(),
            target: "SgxEnclave".into(),
            details: json!({}),
            node_id: "n1".into(),
        }
    }

    fn log(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS_HASH.into(), |r| r.hash.clone());
            out.push(draft(seq).into_record(seq, prev));
        }
        out
    }

    fn cp(key: &SigningKey, seq: i64, hash: &str) -> AuditCheckpoint {
        let mut claims = Map::new();
        claims.insert("iat".into(), json!(1));
        claims.insert(CHECKPOINT_CLAIM.into(), json!({"seq": seq, "hash": hash}));
        AuditCheckpoint {
            seq,
            hash: hash.into(),
            jws: attesta_token::jwt::sign_jwt_with(
                key,
                "https://x/certs",
                &claims,
                attesta_token::jwt::CertHeader::X5c,
            ),
            created_at: 1,
            node_id: "n1".into(),
        }
    }

    fn keys(k: &SigningKey) -> TrustedKeys {
        TrustedKeys::new(
            &Jwks {
                keys: vec![k.jwk()],
            },
            &[],
        )
    }

    #[test]
    fn checkpoints_catch_what_the_chain_cannot() {
        let key = SigningKey::generate("https://audit.test").unwrap();
        let trusted = keys(&key);
        let records = log(8);
        let cps = vec![cp(&key, 4, &records[3].hash), cp(&key, 8, &records[7].hash)];
        let report = verify(&records, &cps, &trusted).unwrap();
        assert_eq!(report.records, 8);
        assert_eq!(report.verified_checkpoints, 2);
        assert_eq!(
            report.latest_verified_checkpoint,
            Some((8, records[7].hash.clone()))
        );
        assert_eq!(report.records_after_latest_checkpoint, 0);

        // The newest records removed: the chain alone is fine, checkpoint 8 is not.
        let err = verify(&records[..6], &cps, &trusted).unwrap_err();
        assert_eq!(
            err,
            AuditFault::Truncated {
                checkpoint: 8,
                last: 6
            }
        );
        assert!(
            err.to_string()
                .starts_with("records after record 6 were removed"),
            "{err}"
        );

        // Record 3 edited and every hash from there recomputed: a consistent
        // chain that checkpoint 4 contradicts.
        let mut rewritten = records[..2].to_vec();
        for r in &records[2..] {
            let mut r = r.clone();
            if r.seq == 3 {
                r.caller = "token:0000000000000000".into();
            }
            r.prev_hash = rewritten.last().unwrap().hash.clone();
            r.hash = chain::record_hash(&r);
            rewritten.push(r);
        }
        assert!(chain::verify_chain((0, GENESIS_HASH), &rewritten).is_ok());
        let err = verify(&rewritten, &cps, &trusted).unwrap_err();
        assert!(
            matches!(err, AuditFault::Rewritten { checkpoint: 4, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("records up to 4 were rewritten"),
            "{err}"
        );

        // The rewriter re-signs with a key of their own: not trusted, not counted,
        // and checkpoint 4 still catches the rewrite.
        let forger = SigningKey::generate("https://audit.test").unwrap();
        let forged = vec![
            cp(&forger, 8, &rewritten[7].hash),
            cp(&key, 4, &records[3].hash),
        ];
        assert!(matches!(
            verify(&rewritten, &forged, &trusted),
            Err(AuditFault::Rewritten { checkpoint: 4, .. })
        ));
        let only_forged = vec![cp(&forger, 8, &rewritten[7].hash)];
        let report = verify(&rewritten, &only_forged, &trusted).unwrap();
        assert_eq!(report.verified_checkpoints, 0);
        assert_eq!(report.unverified_checkpoints.len(), 1);
        assert_eq!(report.records_after_latest_checkpoint, 8);

        // A checkpoint row edited to another record, and a bad signature.
        let mut moved = cp(&key, 4, &records[3].hash);
        moved.seq = 5;
        moved.hash = records[4].hash.clone();
        assert!(matches!(
            verify(&records, &[moved], &trusted),
            Err(AuditFault::CheckpointEdited { checkpoint: 5, .. })
        ));
        let mut tampered = cp(&key, 4, &records[3].hash);
        let sig_at = tampered.jws.rfind('.').unwrap() + 1;
        let flipped = if &tampered.jws[sig_at..sig_at + 1] == "A" {
            "B"
        } else {
            "A"
        };
        tampered.jws.replace_range(sig_at..sig_at + 1, flipped);
        assert!(matches!(
            verify(&records, &[tampered], &trusted),
            Err(AuditFault::BadSignature { checkpoint: 4, .. })
        ));

        // Chain faults are named first, by record.
        let mut edited = records.clone();
        edited[5].target = "Tpm".into();
        assert_eq!(
            verify(&edited, &cps, &trusted).unwrap_err().to_string(),
            "record 6 was edited: its hash does not match its contents"
        );
    }

    #[test]
    fn an_attestation_token_of_the_same_key_is_no_checkpoint() {
        let key = SigningKey::generate("https://audit.test").unwrap();
        let records = log(2);
        let mut claims = Map::new();
        claims.insert("x-ms-attestation-type".into(), json!("sgx"));
        claims.insert(
            CHECKPOINT_CLAIM.into(),
            json!({"seq": 2, "hash": records[1].hash}),
        );
        let fake = AuditCheckpoint {
            seq: 2,
            hash: records[1].hash.clone(),
            jws: attesta_token::jwt::sign_jwt_with(
                &key,
                "https://x/certs",
                &claims,
                attesta_token::jwt::CertHeader::None,
            ),
            created_at: 1,
            node_id: "n1".into(),
        };
        assert!(matches!(
            verify(&records, &[fake], &keys(&key)),
            Err(AuditFault::CheckpointEdited { checkpoint: 2, .. })
        ));
    }
}
