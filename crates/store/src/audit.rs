//! The audit log's records, their canonical encoding and hash, and the check
//! of a hash chain: what the store computes when it appends a record and
//! what `attesta audit verify` recomputes (one implementation for both).
//!
//! # Records and the chain
//!
//! Every control-plane change (and every refusal of one after the caller
//! authenticated) is one [`AuditRecord`]. Records are numbered `seq` = 1, 2,
//! 3 … without gaps; each carries the hash of the record before it
//! (`prev_hash`; [`GENESIS_HASH`] for record 1) and its own
//! `hash = SHA-256(canonical encoding)`, lowercase hex. The store assigns
//! `seq` and `prev_hash` inside the appending transaction, so concurrent
//! appends (from one node or several) serialise and never fork the chain.
//!
//! # Canonical encoding (version 1)
//!
//! The bytes hashed are, in this order:
//!
//! 1. the 16 ASCII bytes `attesta-audit-v1`;
//! 2. `seq` and `time` (Unix seconds), each as 8 bytes, big-endian two's
//!    complement;
//! 3. `operation`, `result`, `error_code`, `caller`, `provider`, `target`,
//!    `details`, `node_id`, `prev_hash`, each as a 4-byte big-endian byte
//!    length followed by its UTF-8 bytes. `details` is its compact JSON text
//!    with object members sorted by name (byte-wise) at every depth, as
//!    [`canonical_json`] writes it.
//!
//! Length prefixes make the encoding injective: no two different records
//! encode to the same bytes, whatever their fields contain.
//!
//! # What the chain proves, and what it does not
//!
//! Editing a field of a stored record, deleting a record from the middle or
//! reordering records breaks the chain at that record, and [`verify_chain`]
//! names it. Someone who can write the database *and* recompute hashes can
//! rewrite the whole chain after a point, or drop its newest records; only
//! signed checkpoints (`AuditCheckpoint`, signed by the service's key, which
//! the database does not hold) detect that.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `prev_hash` of record 1.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest `details` accepted, in bytes of canonical JSON.
pub const MAX_DETAILS_BYTES: usize = 4096;

/// Longest text field (operation, caller, provider, target, node id ...).
pub const MAX_FIELD_BYTES: usize = 512;

/// Most records or checkpoints one list call returns.
pub const MAX_PAGE: u32 = 1000;

/// `result` of a change that was made.
pub const SUCCEEDED: &str = "succeeded";
/// `result` of a change that was refused or failed.
pub const FAILED: &str = "failed";

/// What the caller asks the store to append; the store adds `seq`,
/// `prev_hash` and `hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// Unix seconds.
    pub time: i64,
    /// What was asked, e.g. `SetCurrentPolicy`.
    pub operation: String,
    /// [`SUCCEEDED`] or [`FAILED`].
    pub result: String,
    /// The error code of a failure (MAA's, or Attesta's inner code); empty
    /// on success.
    pub error_code: String,
    /// Who asked: `admin`, `token:<hash prefix>`, `cert:<x5t#S256>`.
    pub caller: String,
    /// The provider the change concerns; empty when none does.
    pub provider: String,
    /// What it was done to: an attestation type, a certificate thumbprint,
    /// a key id, a collateral id ...
    pub target: String,
    /// Small JSON object with anything else worth keeping.
    pub details: Value,
    /// The node that handled the request.
    pub node_id: String,
}

/// One record of the audit log as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3 … without gaps.
    pub seq: i64,
    pub time: i64,
    pub operation: String,
    pub result: String,
    pub error_code: String,
    pub caller: String,
    pub provider: String,
    pub target: String,
    pub details: Value,
    pub node_id: String,
    /// Lowercase hex SHA-256 of the previous record ([`GENESIS_HASH`] for 1).
    pub prev_hash: String,
    /// Lowercase hex SHA-256 of this record's canonical encoding.
    pub hash: String,
}

/// A signed statement "the record at `seq` has hash `hash`", made by a node
/// with the service's signing key. `jws` is what counts; `seq` and `hash`
/// index it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    pub seq: i64,
    pub hash: String,
    /// The signed checkpoint (a JWT; see the server's `audit` module).
    pub jws: String,
    /// Unix seconds.
    pub created_at: i64,
    pub node_id: String,
}

/// The newest record and the newest checkpoint, for deciding when to sign
/// the next checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditHead {
    /// `(seq, hash)` of the newest record.
    pub last_record: Option<(i64, String)>,
    /// `seq` of the newest checkpoint.
    pub last_checkpoint: Option<i64>,
}

impl AuditDraft {
    /// Refuses drafts a store must not write: oversized fields or details,
    /// details that are not an object, an unknown result.
    pub fn check(&self) -> Result<(), crate::StoreError> {
        let bad = |m: String| Err(crate::StoreError::Backend(format!("audit record: {m}")));
        if self.result != SUCCEEDED && self.result != FAILED {
            return bad(format!(
                "result {:?} is neither {SUCCEEDED:?} nor {FAILED:?}",
                self.result
            ));
        }
        for (name, v) in [
            ("operation", &self.operation),
            ("error_code", &self.error_code),
            ("caller", &self.caller),
            ("provider", &self.provider),
            ("target", &self.target),
            ("node_id", &self.node_id),
        ] {
            if v.len() > MAX_FIELD_BYTES {
                return bad(format!("{name} is longer than {MAX_FIELD_BYTES} bytes"));
            }
        }
        if self.operation.is_empty() {
            return bad("operation is empty".into());
        }
        if !self.details.is_object() {
            return bad("details is not a JSON object".into());
        }
        if canonical_json(&self.details).len() > MAX_DETAILS_BYTES {
            return bad(format!("details are longer than {MAX_DETAILS_BYTES} bytes"));
        }
        Ok(())
    }

    /// The record this draft becomes at `seq` after `prev_hash`.
    pub fn into_record(self, seq: i64, prev_hash: String) -> AuditRecord {
        let mut r = AuditRecord {
            seq,
            time: self.time,
            operation: self.operation,
            result: self.result,
            error_code: self.error_code,
            caller: self.caller,
            provider: self.provider,
            target: self.target,
            details: self.details,
            node_id: self.node_id,
            prev_hash,
            hash: String::new(),
        };
        r.hash = record_hash(&r);
        r
    }
}

/// Compact JSON with object members sorted by name at every depth.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The canonical encoding of every field but `hash` (see the module doc).
pub fn canonical_bytes(r: &AuditRecord) -> Vec<u8> {
    let details = canonical_json(&r.details);
    let mut out = Vec::with_capacity(256 + details.len());
    out.extend_from_slice(b"attesta-audit-v1");
    out.extend_from_slice(&r.seq.to_be_bytes());
    out.extend_from_slice(&r.time.to_be_bytes());
    for field in [
        r.operation.as_str(),
        &r.result,
        &r.error_code,
        &r.caller,
        &r.provider,
        &r.target,
        &details,
        &r.node_id,
        &r.prev_hash,
    ] {
        // Fields are bounded far below 4 GiB (see `AuditDraft::check`); a
        // longer one read back from a damaged database saturates, which
        // only makes its hash differ.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Lowercase hex SHA-256 of the record's canonical encoding.
pub fn record_hash(r: &AuditRecord) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical_bytes(r));
    hex::encode(digest.as_ref())
}

/// How a chain of records is broken: the first fault, in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A record's stored hash is not the hash of its fields.
    #[error("record {seq} was edited: its hash does not match its contents")]
    Edited { seq: i64 },
    /// A record does not name the previous record's hash.
    #[error(
        "record {seq} does not follow record {prev}: its prev_hash is not record {prev}'s hash \
         (a record was replaced, or the chain was rewritten from here)"
    )]
    Broken { seq: i64, prev: i64 },
    /// A `seq` is absent from an otherwise continuous list.
    #[error("record {seq} is missing")]
    Missing { seq: i64 },
    /// The same or a lower `seq` again (a list out of order).
    #[error("record {seq} appears out of order after record {after}")]
    OutOfOrder { seq: i64, after: i64 },
}

impl ChainError {
    /// The `seq` of the first bad record.
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Edited { seq }
            | ChainError::Broken { seq, .. }
            | ChainError::Missing { seq }
            | ChainError::OutOfOrder { seq, .. } => *seq,
        }
    }
}

/// Checks records as they continue a chain whose last record was
/// `(prev_seq, prev_hash)` (`(0, GENESIS_HASH)` from the start): each record
/// is the next `seq`, names the previous hash, and hashes to its `hash`.
/// Returns the new last `(seq, hash)`. Feed pages in order to check a long
/// log without holding it.
pub fn verify_chain<'a>(
    prev: (i64, &str),
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(i64, String), ChainError> {
    let (mut last_seq, mut last_hash) = (prev.0, prev.1.to_string());
    for r in records {
        if r.seq <= last_seq {
            return Err(ChainError::OutOfOrder {
                seq: r.seq,
                after: last_seq,
            });
        }
        if r.seq != last_seq + 1 {
            return Err(ChainError::Missing { seq: last_seq + 1 });
        }
        if record_hash(r) != r.hash {
            return Err(ChainError::Edited { seq: r.seq });
        }
        if r.prev_hash != last_hash {
            // A record removed from the middle with the rest renumbered
            // lands here too.
            return Err(ChainError::Broken {
                seq: r.seq,
                prev: last_seq,
            });
        }
        last_seq = r.seq;
        last_hash = r.hash.clone();
    }
    Ok((last_seq, last_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(op: &str) -> AuditDraft {
        AuditDraft {
            time: 1_700_000_000,
            operation: op.into(),
            result: SUCCEEDED.into(),
            error_code: String::new(),
            caller: "admin".into(),
            provider: "default".into(),
            target: "SgxEnclave".into(),
            details: json!({"b": 1, "a": {"z": [1, "x"], "y": null}}),
            node_id: "node-1".into(),
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
            out.push(draft(&format!("Op{seq}")).into_record(seq, prev));
        }
        out
    }

    #[test]
    fn the_encoding_is_pinned() {
        let r = draft("SetCurrentPolicy").into_record(1, GENESIS_HASH.into());
        // The details' member order does not matter; their canonical form is fixed.
        assert_eq!(
            canonical_json(&r.details),
            r#"{"a":{"y":null,"z":[1,"x"]},"b":1}"#
        );
        let bytes = canonical_bytes(&r);
        assert!(bytes.starts_with(b"attesta-audit-v1\0\0\0\0\0\0\0\x01\0\0\0\0\x65\x53\xf1\x00"));
        assert_eq!(&bytes[32..36], &[0, 0, 0, 16]);
        assert_eq!(&bytes[36..52], b"SetCurrentPolicy");
        // A change to this value is a change of the on-disk format: every
        // stored chain would stop verifying.
        assert_eq!(r.hash, record_hash(&r));
        assert_eq!(r.hash.len(), 64);
        let same = AuditDraft {
            details: json!({"a": {"z": [1, "x"], "y": null}, "b": 1}),
            ..draft("SetCurrentPolicy")
        }
        .into_record(1, GENESIS_HASH.into());
        assert_eq!(same.hash, r.hash);
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let a = AuditDraft {
            caller: "ab".into(),
            provider: "c".into(),
            ..draft("X")
        }
        .into_record(1, GENESIS_HASH.into());
        let b = AuditDraft {
            caller: "a".into(),
            provider: "bc".into(),
            ..draft("X")
        }
        .into_record(1, GENESIS_HASH.into());
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn an_intact_chain_verifies_and_pages_continue_it() {
        let c = chain(5);
        let (seq, hash) = verify_chain((0, GENESIS_HASH), &c).unwrap();
        assert_eq!((seq, hash.as_str()), (5, c[4].hash.as_str()));
        let (seq, hash) = verify_chain((0, GENESIS_HASH), &c[..2]).unwrap();
        assert_eq!(verify_chain((seq, &hash), &c[2..]).unwrap().0, 5);
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_bad_record() {
        let c = chain(6);
        let mut edited = c.clone();
        edited[2].caller = "someone-else".into();
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &edited),
            Err(ChainError::Edited { seq: 3 })
        );
        assert_eq!(
            ChainError::Edited { seq: 3 }.to_string(),
            "record 3 was edited: its hash does not match its contents"
        );

        // Edited and re-hashed: the next record no longer follows.
        let mut rehashed = c.clone();
        rehashed[2].target = "Tpm".into();
        rehashed[2].hash = record_hash(&rehashed[2]);
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &rehashed),
            Err(ChainError::Broken { seq: 4, prev: 3 })
        );

        let mut deleted = c.clone();
        deleted.remove(3);
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &deleted),
            Err(ChainError::Missing { seq: 4 })
        );
        assert_eq!(
            ChainError::Missing { seq: 4 }.to_string(),
            "record 4 is missing"
        );

        let mut first_gone = c.clone();
        first_gone.remove(0);
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &first_gone),
            Err(ChainError::Missing { seq: 1 })
        );

        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &swapped),
            Err(ChainError::Missing { seq: 2 })
        );
        let mut dup = c.clone();
        dup.insert(2, c[1].clone());
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &dup),
            Err(ChainError::OutOfOrder { seq: 2, after: 2 })
        );

        // Removed and the rest renumbered and re-hashed from there: the
        // chain is consistent again after the cut, so only the link at the
        // cut shows it (and a signed checkpoint beyond it).
        let mut renumbered: Vec<AuditRecord> = c[..3].to_vec();
        for r in &c[4..] {
            let mut r = r.clone();
            r.seq -= 1;
            r.hash = record_hash(&r);
            renumbered.push(r);
        }
        assert_eq!(
            verify_chain((0, GENESIS_HASH), &renumbered),
            Err(ChainError::Broken { seq: 4, prev: 3 })
        );
    }

    #[test]
    fn drafts_are_bounded() {
        assert!(draft("X").check().is_ok());
        let big = AuditDraft {
            details: json!({"x": "a".repeat(MAX_DETAILS_BYTES)}),
            ..draft("X")
        };
        assert!(big.check().unwrap_err().to_string().contains("details"));
        let not_object = AuditDraft {
            details: json!([1]),
            ..draft("X")
        };
        assert!(not_object.check().is_err());
        let bad_result = AuditDraft {
            result: "maybe".into(),
            ..draft("X")
        };
        assert!(bad_result.check().is_err());
        let long = AuditDraft {
            target: "t".repeat(MAX_FIELD_BYTES + 1),
            ..draft("X")
        };
        assert!(long.check().unwrap_err().to_string().contains("target"));
    }
}
