//! Trust roots: the vendor root certificates verification chains end at,
//! and the CRLs that come with the trust configuration.
//!
//! Production roots (Intel SGX Root CA, AMD ARK per product, TPM CAs) are
//! embedded by the verifier modules. Extra roots, such as the testkit's test
//! CA, are only ever added by explicit configuration, and a chain that ends at
//! such a root is reported as such so tokens can say so.
//!
//! CRLs here are for hierarchies whose revocation lists are configuration
//! rather than collateral: TPM and vTPM CAs ([`RootKind::Tpm`]). Intel's
//! and AMD's CRLs travel with their collateral and are not read from here.

/// Which vendor a root anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// Intel SGX Root CA (SGX, TDX, Open Enclave).
    IntelSgx,
    /// AMD ARK (SEV-SNP).
    AmdArk,
    /// A TPM or vTPM attestation-key CA.
    Tpm,
}

/// One trusted root certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    pub kind: RootKind,
    /// DER-encoded certificate.
    pub der: Vec<u8>,
    /// True for roots that came from configuration rather than the embedded
    /// vendor set (test roots). Tokens from such chains carry a claim.
    pub configured: bool,
}

/// The set of roots a verification may end at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustRoots {
    roots: Vec<TrustRoot>,
    /// DER CRLs by the kind of hierarchy they revoke in.
    crls: Vec<(RootKind, Vec<u8>)>,
}

impl TrustRoots {
    /// An empty set: nothing verifies against it.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Add a vendor root compiled into the binary.
    pub fn with_embedded(mut self, kind: RootKind, der: Vec<u8>) -> Self {
        self.roots.push(TrustRoot {
            kind,
            der,
            configured: false,
        });
        self
    }

    /// Add a root from explicit configuration (for example a test CA).
    pub fn with_configured(mut self, kind: RootKind, der: Vec<u8>) -> Self {
        self.roots.push(TrustRoot {
            kind,
            der,
            configured: true,
        });
        self
    }

    /// Roots of one kind.
    pub fn of_kind(&self, kind: RootKind) -> impl Iterator<Item = &TrustRoot> {
        self.roots.iter().filter(move |r| r.kind == kind)
    }

    /// Add a CRL (DER) from configuration for a hierarchy of `kind`: a
    /// chain through the CRL's issuer is then refused when the CRL lists a
    /// certificate the issuer signed, or when the CRL does not verify with
    /// the issuer's key or is not current.
    pub fn with_crl(mut self, kind: RootKind, der: Vec<u8>) -> Self {
        self.crls.push((kind, der));
        self
    }

    /// CRLs of one kind (DER).
    pub fn crls_of(&self, kind: RootKind) -> impl Iterator<Item = &[u8]> {
        self.crls
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, der)| der.as_slice())
    }

    /// Find the root whose DER is exactly `der`.
    pub fn find(&self, kind: RootKind, der: &[u8]) -> Option<&TrustRoot> {
        self.of_kind(kind).find(|r| r.der == der)
    }
}
