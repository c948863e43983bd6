//! Attesta's token layer: the keys a node signs attestation tokens with, the
//! tokens themselves, the documents that publish the keys, and the policy JWS
//! that MAA's control plane receives.
//!
//! * [`keys`] — RSA-2048 signing keys with self-signed certificates, and the
//!   on-disk [`keys::KeyRing`] with rotation and an overlap window.
//! * [`jwks`] — `/certs` (JWKS) and `/.well-known/openid-configuration`.
//! * [`jwt`] — issue (RS256, or unsecured `alg: none` for draft policies) and
//!   verify attestation tokens.
//! * [`jws`] — parse, verify and sign the policy / policy-certificate JWS in
//!   every header variant Microsoft's clients send.
//! * [`rp`] — a relying party's check of a token against an issuer's
//!   published metadata and keys (the only module that does I/O).
//! * [`service`] — the relying party's check of the service itself: the TEE
//!   evidence in the signing certificate, bound to its key, against a policy.
//! * [`release`] — the signed per-release statement of the service's
//!   measurements that a relying party pins.
//!
//! Why JWS is assembled by hand rather than with a JOSE crate: MAA tokens are
//! RS256 with MAA's exact header and sorted compact JSON, and the cost that
//! matters is the RSA signature itself. `jsonwebtoken` re-parses the private
//! key on every call (about 150 µs on top of a ~240 µs signature) and selects
//! its crypto backend by a process-wide feature switch that panics when
//! feature unification enables both; `josekit` needs OpenSSL. A JWS is three
//! base64url strings and one signature, so we keep the parsed key pair and
//! write those few lines ourselves.
//!
//! Everything here except [`rp`] is sans-I/O apart from [`keys::KeyRing`],
//! whose job is persistence; verification functions take `now` explicitly.

pub mod crypto;
pub mod encoding;
pub mod error;
pub mod jwks;
pub mod jws;
pub mod jwt;
pub mod keys;
pub mod release;
pub mod rp;
pub mod service;

pub use error::{JwsError, KeyError, RpError, TokenError};
