//! Vocabulary shared by every crate: attestation types and verification time.

use std::fmt;
use std::str::FromStr;

/// The attestation types of MAA's data plane: the path segment of
/// `/attest/{type}` and the key of `/policies/{type}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttestationType {
    SgxEnclave,
    OpenEnclave,
    SevSnpVm,
    TdxVm,
    Tpm,
    AzureGuest,
}

impl AttestationType {
    /// Every type, in the order MAA's API lists them.
    pub const ALL: [AttestationType; 6] = [
        Self::SgxEnclave,
        Self::OpenEnclave,
        Self::SevSnpVm,
        Self::TdxVm,
        Self::Tpm,
        Self::AzureGuest,
    ];

    /// The canonical spelling used in paths and policy keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SgxEnclave => "SgxEnclave",
            Self::OpenEnclave => "OpenEnclave",
            Self::SevSnpVm => "SevSnpVm",
            Self::TdxVm => "TdxVm",
            Self::Tpm => "Tpm",
            Self::AzureGuest => "AzureGuest",
        }
    }

    /// The value of the `x-ms-attestation-type` claim for this type.
    pub fn claim_value(self) -> &'static str {
        match self {
            Self::SgxEnclave | Self::OpenEnclave => "sgx",
            Self::SevSnpVm => "sevsnpvm",
            Self::TdxVm => "tdxvm",
            Self::Tpm => "tpm",
            Self::AzureGuest => "azurevm",
        }
    }
}

impl fmt::Display for AttestationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of the attestation types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown attestation type '{0}'; expected one of SgxEnclave, OpenEnclave, SevSnpVm, TdxVm, Tpm, AzureGuest"
)]
pub struct UnknownAttestationType(pub String);

impl FromStr for AttestationType {
    type Err = UnknownAttestationType;

    /// Case-insensitive: Microsoft's own samples post to `/attest/sevsnpvm`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAttestationType(s.to_string()))
    }
}

/// A verification time in seconds since the Unix epoch. Verifiers take it as
/// an argument and never read the clock themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The current wall-clock time. Only the I/O shell (server, CLI) calls this.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_type_is_case_insensitive() {
        assert_eq!("sevsnpvm".parse(), Ok(AttestationType::SevSnpVm));
        assert_eq!("SGXENCLAVE".parse(), Ok(AttestationType::SgxEnclave));
        assert!("Pluton".parse::<AttestationType>().is_err());
    }

    #[test]
    fn claim_values_follow_maa() {
        assert_eq!(AttestationType::OpenEnclave.claim_value(), "sgx");
        assert_eq!(AttestationType::AzureGuest.claim_value(), "azurevm");
    }
}
