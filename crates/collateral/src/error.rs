//! The one error type of collateral fetching, caching and importing.
//!
//! Every variant has a stable [`CollateralError::code`] (the server maps it
//! to an MAA error body) and a message that says what went wrong and what to
//! do about it. The type is `Clone` so the single-flight cache can hand the
//! outcome of one failed upstream request to every request that waited on it.

use std::path::PathBuf;

/// Why collateral could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollateralError {
    /// The collateral service could not be reached at all (DNS, connect,
    /// TLS, timeout, or the response body could not be read).
    #[error(
        "collateral service unreachable at {url}: {reason}; check the configured PCS/PCCS base URL, \
         network access and TLS trust, or import an offline bundle with `attesta collateral import`"
    )]
    UpstreamUnavailable { url: String, reason: String },

    /// The collateral service answered with an unexpected HTTP status.
    #[error(
        "collateral service returned HTTP {status} for {url}{}; retry later, or check the \
         service's logs with this request id",
        detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    UpstreamStatus {
        url: String,
        status: u16,
        /// `Request-ID`, `Error-Code` and `Error-Message` headers, when sent.
        detail: Option<String>,
    },

    /// The service has no collateral for what was asked (HTTP 404), e.g. an
    /// FMSPC Intel does not know.
    #[error(
        "collateral service has no collateral at {url} (HTTP 404); check that the FMSPC comes \
         from a genuine Intel PCK certificate and that the base URL serves the PCS v4 API"
    )]
    NotFound { url: String },

    /// A response lacked the header that carries its issuer chain.
    #[error(
        "response from {url} lacks the `{header}` issuer-chain header; the service is not \
         PCS v4 compatible, point the base URL at an Intel PCS v4, PCCS or THIM endpoint"
    )]
    MissingIssuerChainHeader { url: String, header: String },

    /// A collateral part could not be read as what it must be.
    #[error(
        "malformed collateral ({part}): {reason}; the collateral service or bundle is serving \
         something other than Intel DCAP collateral"
    )]
    MalformedCollateral { part: String, reason: String },

    /// An offline bundle lacks one of its files.
    #[error(
        "offline collateral bundle is missing {}; a bundle needs tcb_info.json, \
         tcb_info_issuer_chain.pem, qe_identity.json, qe_identity_issuer_chain.pem, pck_crl.der, \
         pck_crl_issuer_chain.pem and root_ca_crl.der",
        path.display()
    )]
    MissingFile { path: PathBuf },

    /// An offline bundle file exists but could not be read.
    #[error("cannot read {}: {reason}; check the file's permissions", path.display())]
    Io { path: PathBuf, reason: String },

    /// The FMSPC is not 6 bytes of hex.
    #[error(
        "invalid FMSPC {fmspc:?}: expected 12 hexadecimal digits (6 bytes) from the PCK certificate"
    )]
    InvalidFmspc { fmspc: String },

    /// No offline bundle in the directory matches the request.
    #[error(
        "no offline collateral bundle in {} for {key}; add a bundle for this platform (FMSPC) \
         or configure an online collateral service",
        dir.display()
    )]
    NoOfflineBundle { dir: PathBuf, key: String },

    /// The only collateral available is past its `nextUpdate` (beyond any
    /// configured grace) and no fresh copy could be fetched.
    #[error(
        "collateral for {key} expired {expired_for} s ago (nextUpdate {next_update}) and could \
         not be refreshed{}; restore access to the collateral service, import a current offline \
         bundle, or configure a grace period",
        cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    Expired {
        key: String,
        /// Unix seconds.
        next_update: i64,
        expired_for: u64,
        /// The upstream failure, if an attempt was made and failed.
        cause: Option<Box<CollateralError>>,
    },

    /// A cached entry could not be decoded.
    #[error("cached collateral entry is unreadable: {reason}; it will be refetched")]
    CacheFormat { reason: String },

    /// The shared cache refused a write that was the whole point of the call
    /// (an import). Cache failures during attestation are only logged.
    #[error(
        "cannot write to the collateral cache: {reason}; check the store's health and configuration"
    )]
    CacheUnavailable { reason: String },

    /// Building the HTTP client failed (bad extra root CA, TLS setup).
    #[error(
        "cannot set up the collateral HTTP client: {reason}; check the base URL and the extra root CA PEM"
    )]
    ClientSetup { reason: String },

    /// AMD's Key Distribution Service (or the configured KDS mirror) could
    /// not be reached at all.
    #[error(
        "AMD KDS unreachable at {url}: {reason}; check the configured KDS base URL and network \
         access, or import the VCEK and ASK/ARK with `attesta collateral import`"
    )]
    KdsUnavailable { url: String, reason: String },

    /// The KDS answered with an unexpected HTTP status.
    #[error("AMD KDS returned HTTP {status} for {url}; retry later or check the KDS mirror's logs")]
    KdsStatus { url: String, status: u16 },

    /// The KDS is rate-limiting this client (HTTP 429) and the bounded
    /// back-off ran out, or another request is already backing off.
    #[error(
        "AMD KDS is rate-limiting requests ({url}); retry in {retry_after} s, or put a caching \
         KDS mirror in front of it / import endorsements offline"
    )]
    KdsRateLimited { url: String, retry_after: u64 },

    /// The KDS has nothing at this URL (HTTP 404): an unknown chip ID or TCB,
    /// or a product the service does not serve.
    #[error(
        "AMD KDS has no endorsement at {url} (HTTP 404); check that the chip ID and reported TCB \
         come from a genuine SEV-SNP report and that the product name is right"
    )]
    KdsNotFound { url: String },

    /// A certificate (VCEK, VLEK, ASK, ASVK, ARK) or CRL could not be read as
    /// what it must be.
    #[error(
        "malformed AMD certificate ({part}): {reason}; the KDS, mirror or imported file is not \
         serving genuine AMD SEV-SNP endorsements"
    )]
    MalformedCertificate { part: String, reason: String },

    /// A SEV-SNP endorsement request that cannot be answered as asked.
    #[error("invalid SEV-SNP endorsement request: {reason}")]
    InvalidSnpRequest { reason: String },

    /// No SEV-SNP endorsement is cached and no KDS is configured to fetch it.
    #[error(
        "no SEV-SNP endorsement cached for {key} and no AMD KDS configured; import the VCEK/VLEK \
         and ASK/ARK with `attesta collateral import`, or configure a KDS base URL"
    )]
    SnpEndorsementMissing { key: String },

    /// A directory to import holds no recognisable SEV-SNP certificate.
    #[error(
        "{} holds no AMD SEV-SNP certificate (VCEK, VLEK, ASK, ASVK or ARK as .der/.pem/.crt/.cer); \
         check the path",
        dir.display()
    )]
    NoSnpEndorsements { dir: PathBuf },

    /// A service's evidence (in a token-signing certificate) says too
    /// little to fetch its collateral.
    #[error(
        "the service's evidence names no {what} and none can be read from it, so its collateral \
         cannot be fetched; give the collateral with --tee-collateral DIR instead"
    )]
    CollateralReferenceMissing { what: String },
}

impl CollateralError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UpstreamUnavailable { .. } => "UpstreamUnavailable",
            Self::UpstreamStatus { .. } => "UpstreamStatus",
            Self::NotFound { .. } => "NotFound",
            Self::MissingIssuerChainHeader { .. } => "MissingIssuerChainHeader",
            Self::MalformedCollateral { .. } => "MalformedCollateral",
            Self::MissingFile { .. } => "MissingFile",
            Self::Io { .. } => "Io",
            Self::InvalidFmspc { .. } => "InvalidFmspc",
            Self::NoOfflineBundle { .. } => "NoOfflineBundle",
            Self::Expired { .. } => "CollateralExpired",
            Self::CacheFormat { .. } => "CacheFormat",
            Self::CacheUnavailable { .. } => "CacheUnavailable",
            Self::ClientSetup { .. } => "ClientSetup",
            Self::KdsUnavailable { .. } => "KdsUnavailable",
            Self::KdsStatus { .. } => "KdsStatus",
            Self::KdsRateLimited { .. } => "KdsRateLimited",
            Self::KdsNotFound { .. } => "NotFound",
            Self::MalformedCertificate { .. } => "MalformedCertificate",
            Self::InvalidSnpRequest { .. } => "InvalidSnpRequest",
            Self::SnpEndorsementMissing { .. } => "SnpEndorsementMissing",
            Self::NoSnpEndorsements { .. } => "NoSnpEndorsements",
            Self::CollateralReferenceMissing { .. } => "CollateralReferenceMissing",
        }
    }

    pub(crate) fn bad_cert(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::MalformedCertificate {
            part: part.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::MalformedCollateral {
            part: part.into(),
            reason: reason.into(),
        }
    }
}
