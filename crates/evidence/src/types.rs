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

/// Unix seconds as an RFC 3339 UTC time (`2026-12-03T10:00:00Z`), for
/// error messages a person reads: validity windows and `nextUpdate`s.
///
/// Written here (Howard Hinnant's civil-from-days) rather than pulling a
/// date crate into the sans-I/O core for one formatter. Years outside
/// 0..=9999 (never in real collateral) print as `@<seconds>`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return format!("@{secs}");
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
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
    fn rfc3339_formats_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_385_599), "2026-12-04T11:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(i64::MAX), format!("@{}", i64::MAX));
    }

    #[test]
    fn claim_values_follow_maa() {
        assert_eq!(AttestationType::OpenEnclave.claim_value(), "sgx");
        assert_eq!(AttestationType::AzureGuest.claim_value(), "azurevm");
    }
}
