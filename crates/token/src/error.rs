//! Error enums of the token crate, one per concern: signing keys and their
//! store ([`KeyError`]), attestation tokens ([`TokenError`]), policy JWS
//! ([`JwsError`]) and relying-party fetches ([`RpError`]).
//!
//! Every variant names the check that failed; `code()` gives a stable,
//! machine-readable identity that tests assert and the HTTP edge maps to an
//! MAA error body.

use std::path::PathBuf;

/// A signing key could not be made, read, stored or matched to its certificate.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The RSA key or the self-signed certificate could not be generated.
    #[error("could not generate the token-signing key: {0}")]
    Generate(String),
    /// A PEM text did not hold what it should.
    #[error("the {what} PEM is not valid: {reason}")]
    Pem { what: &'static str, reason: String },
    /// The private key is not one this crate signs tokens with.
    #[error(
        "unsupported token-signing key: {0} (expected an RSA key of 2048 bits or more, PKCS#8 \"PRIVATE KEY\" PEM)"
    )]
    UnsupportedKey(String),
    /// The certificate does not parse or is unusable.
    #[error("the token-signing certificate is not valid: {0}")]
    Certificate(String),
    /// The certificate does not carry the private key's public key.
    #[error(
        "the certificate's public key does not match the private key; give the certificate issued for this key"
    )]
    KeyCertificateMismatch,
    /// A file-system operation on the key store failed.
    #[error("key store: could not {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The key store manifest is unreadable or inconsistent with the key files.
    #[error("key store manifest {path} is not valid: {reason}")]
    Manifest { path: PathBuf, reason: String },
    /// The node's TEE evidence for a new key could not be obtained.
    #[error("could not obtain TEE evidence for the new signing key: {0}")]
    Evidence(String),
    /// A private-key file can be read by other users.
    #[error(
        "key file {path} is readable by group or others (mode {mode:o}); restrict it with `chmod 600`"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
}

impl KeyError {
    /// Stable identity of the error.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Generate(_) => "KeyGenerationFailed",
            KeyError::Evidence(_) => "KeyEvidenceUnavailable",
            KeyError::Pem { .. } => "KeyPemInvalid",
            KeyError::UnsupportedKey(_) => "KeyUnsupported",
            KeyError::Certificate(_) => "KeyCertificateInvalid",
            KeyError::KeyCertificateMismatch => "KeyCertificateMismatch",
            KeyError::Io { .. } => "KeyStoreIo",
            KeyError::Manifest { .. } => "KeyManifestInvalid",
            KeyError::InsecurePermissions { .. } => "KeyFileInsecurePermissions",
        }
    }
}

/// An attestation token (JWT) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or a part is not the JSON it must be.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not RS256 (`none` included).
    #[error("token algorithm {0:?} is not accepted; only RS256 tokens are verified")]
    UnsupportedAlgorithm(String),
    /// The header's `kid` names no key in the issuer's key set.
    #[error(
        "token kid {0:?} matches no key in the issuer's key set; refresh the key set or check the issuer"
    )]
    UnknownKey(String),
    /// The selected key has no usable RSA certificate.
    #[error("the key set entry for this token is unusable: {0}")]
    KeyUnusable(String),
    /// The RS256 signature does not verify.
    #[error("token signature does not verify with the issuer's key")]
    BadSignature,
    /// The token has no numeric `exp`.
    #[error("token has no exp (expiry) claim; tokens without an expiry are not accepted")]
    MissingExpiry,
    /// `now` is past `exp` (+ leeway).
    #[error("token expired at {exp} (now {now}); request a new token")]
    Expired { exp: u64, now: u64 },
    /// `now` is before `nbf` (− leeway).
    #[error("token is not valid before {nbf} (now {now}); check the clocks")]
    NotYetValid { nbf: u64, now: u64 },
    /// `iss` is not the expected issuer.
    #[error(
        "the token was issued by {}, not by the expected issuer {expected}; if you trust that issuer, expect it (attesta token verify --issuer URL)",
        found.as_deref().unwrap_or("nobody (it has no iss claim)")
    )]
    WrongIssuer {
        expected: String,
        found: Option<String>,
    },
    /// The token verified but is not an attestation result.
    #[error("the token is not an attestation token: {0}")]
    NotAnAttestationToken(String),
}

impl TokenError {
    /// Stable identity of the error.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "TokenMalformed",
            TokenError::UnsupportedAlgorithm(_) => "TokenUnsupportedAlgorithm",
            TokenError::UnknownKey(_) => "TokenUnknownKey",
            TokenError::KeyUnusable(_) => "TokenKeyUnusable",
            TokenError::BadSignature => "TokenBadSignature",
            TokenError::MissingExpiry => "TokenMissingExpiry",
            TokenError::Expired { .. } => "TokenExpired",
            TokenError::NotYetValid { .. } => "TokenNotYetValid",
            TokenError::WrongIssuer { .. } => "TokenWrongIssuer",
            TokenError::NotAnAttestationToken(_) => "TokenNotAnAttestationToken",
        }
    }
}

/// A policy or policy-certificate JWS was rejected, or could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a compact JWS, or a part does not decode.
    #[error("malformed JWS: {0}")]
    Malformed(String),
    /// The header's `alg` is not one MAA accepts for policies.
    #[error("JWS algorithm {0:?} is not supported; use RS256, PS256 or ES256")]
    UnsupportedAlgorithm(String),
    /// A signed JWS carries no signer certificate in `x5c` or `jwk.x5c`.
    #[error(
        "signed JWS carries no signing certificate; put the signer's certificate chain in the header's x5c"
    )]
    MissingCertificate,
    /// A certificate in the header does not decode or parse.
    #[error("JWS signing certificate is not valid: {0}")]
    BadCertificate(String),
    /// The certificate's key type does not fit the header's `alg`.
    #[error("JWS alg {alg} needs a {expected} key but the signing certificate holds {found}")]
    KeyAlgorithmMismatch {
        alg: String,
        expected: &'static str,
        found: String,
    },
    /// The signature does not verify with the leaf certificate's key.
    #[error("JWS signature does not verify with the signing certificate's key")]
    BadSignature,
    /// The signer is not (and does not chain to) a trusted certificate.
    #[error(
        "JWS signer is not trusted: {0}; sign with a key whose certificate is in the policy signer set"
    )]
    UntrustedSigner(String),
    /// The key given to sign with is unusable.
    #[error("cannot sign the JWS with this key: {0}")]
    BadSigningKey(String),
}

impl JwsError {
    /// Stable identity of the error.
    pub fn code(&self) -> &'static str {
        match self {
            JwsError::Malformed(_) => "JwsMalformed",
            JwsError::UnsupportedAlgorithm(_) => "JwsUnsupportedAlgorithm",
            JwsError::MissingCertificate => "JwsMissingCertificate",
            JwsError::BadCertificate(_) => "JwsBadCertificate",
            JwsError::KeyAlgorithmMismatch { .. } => "JwsKeyAlgorithmMismatch",
            JwsError::BadSignature => "JwsBadSignature",
            JwsError::UntrustedSigner(_) => "JwsUntrustedSigner",
            JwsError::BadSigningKey(_) => "JwsBadSigningKey",
        }
    }
}

/// A relying party could not verify a token against its issuer.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// The issuer URL is not an `https://` URL.
    #[error(
        "issuer {0:?} is not an https:// URL; tokens are only checked against issuers reached over TLS"
    )]
    InsecureIssuer(String),
    /// The extra CA PEM does not hold a usable certificate.
    #[error("the extra CA certificate is not valid PEM: {0}")]
    ExtraCa(String),
    /// The HTTP request failed (connection, TLS, body).
    #[error("could not fetch {url}: {reason}")]
    Http { url: String, reason: String },
    /// The server answered with a status other than 200.
    #[error("{url} answered HTTP {status}; expected 200")]
    HttpStatus { url: String, status: u16 },
    /// A fetched document is not the JSON it must be.
    #[error("{url} did not return a valid {what}: {reason}")]
    BadDocument {
        url: String,
        what: &'static str,
        reason: String,
    },
    /// The metadata names another issuer.
    #[error(
        "the OpenID metadata at {expected} names issuer {found}, not {expected}; the issuer URL must be the provider's base URL exactly as the server publishes it"
    )]
    IssuerMismatch { expected: String, found: String },
    /// The metadata's `jwks_uri` is outside the issuer.
    #[error(
        "jwks_uri {jwks_uri:?} is not under the issuer {issuer:?}; refusing to take keys from elsewhere"
    )]
    JwksUriOutsideIssuer { jwks_uri: String, issuer: String },
    /// The token itself failed verification.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The issuer publishes no certificate for the key that signed the token.
    #[error(
        "the issuer publishes no certificate (x5c) for kid {0:?}, so the service's TEE evidence cannot be checked"
    )]
    ServiceCertificateMissing(String),
    /// The service's TEE evidence is missing or does not verify.
    #[error("{message}")]
    ServiceEvidence { code: &'static str, message: String },
    /// The service's claims do not satisfy the relying party's TEE policy.
    #[error("the service does not satisfy the TEE policy: {0}")]
    TeePolicy(String),
    /// The release statement to pin is not acceptable (signature, signer,
    /// content).
    #[error(transparent)]
    ReleaseStatement(#[from] crate::release::ReleaseError),
}

impl RpError {
    /// Stable identity of the error; a token failure keeps its own code.
    pub fn code(&self) -> &'static str {
        match self {
            RpError::InsecureIssuer(_) => "RpInsecureIssuer",
            RpError::ExtraCa(_) => "RpExtraCaInvalid",
            RpError::Http { .. } => "RpHttpFailed",
            RpError::HttpStatus { .. } => "RpHttpStatus",
            RpError::BadDocument { .. } => "RpBadDocument",
            RpError::IssuerMismatch { .. } => "RpIssuerMismatch",
            RpError::JwksUriOutsideIssuer { .. } => "RpJwksUriOutsideIssuer",
            RpError::Token(e) => e.code(),
            RpError::ServiceCertificateMissing(_) => "ServiceCertificateMissing",
            RpError::ServiceEvidence { code, .. } => code,
            RpError::TeePolicy(_) => "TeePolicyNotSatisfied",
            RpError::ReleaseStatement(e) => e.code(),
        }
    }
}
