//! Binding of caller-supplied data to the hardware report.
//!
//! MAA's rule for every TEE with a 64-byte report-data field: SHA-256 of the
//! decoded `runtimeData` bytes equals the first 32 bytes of `report_data`;
//! for init-time data, SHA-256 equals the first 32 bytes of the init field
//! (SGX CONFIGID, SNP HOST_DATA).

use crate::crypto;
use crate::error::ErrorCode;

/// Which caller data failed to bind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error(
        "report_data does not match SHA-256(runtimeData): report_data[0..32] is {expected}, SHA-256(runtimeData) is {actual}"
    )]
    RuntimeDataMismatch { expected: String, actual: String },
    #[error("the evidence has no init-time field to bind initTimeData to")]
    NoInitTimeField,
    #[error(
        "init-time field does not match SHA-256(initTimeData): field[0..32] is {expected}, SHA-256(initTimeData) is {actual}"
    )]
    InitTimeDataMismatch { expected: String, actual: String },
    #[error("the evidence's report data field is {0} bytes, shorter than a SHA-256 digest")]
    ReportDataTooShort(usize),
}

impl ErrorCode for BindingError {
    fn code(&self) -> &'static str {
        match self {
            Self::RuntimeDataMismatch { .. } => "RuntimeDataMismatch",
            Self::NoInitTimeField => "InitTimeDataUnsupported",
            Self::InitTimeDataMismatch { .. } => "InitTimeDataMismatch",
            Self::ReportDataTooShort(_) => "ReportDataTooShort",
        }
    }
}

/// Check SHA-256(`runtime_data`) == `report_data[0..32]`.
pub fn check_runtime_data(report_data: &[u8], runtime_data: &[u8]) -> Result<(), BindingError> {
    let field = report_data
        .get(..32)
        .ok_or(BindingError::ReportDataTooShort(report_data.len()))?;
    let digest = crypto::sha256(runtime_data);
    if !crypto::constant_time_eq(field, &digest) {
        return Err(BindingError::RuntimeDataMismatch {
            expected: hex::encode(field),
            actual: hex::encode(digest),
        });
    }
    Ok(())
}

/// Check SHA-256(`init_data`) == `init_field[0..32]`.
pub fn check_init_time_data(
    init_field: Option<&[u8]>,
    init_data: &[u8],
) -> Result<(), BindingError> {
    let field = init_field.ok_or(BindingError::NoInitTimeField)?;
    let field = field
        .get(..32)
        .ok_or(BindingError::ReportDataTooShort(field.len()))?;
    let digest = crypto::sha256(init_data);
    if !crypto::constant_time_eq(field, &digest) {
        return Err(BindingError::InitTimeDataMismatch {
            expected: hex::encode(field),
            actual: hex::encode(digest),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_data_binds_to_first_half() {
        let data = b"hello";
        let mut rd = crypto::sha256(data).to_vec();
        rd.extend_from_slice(&[0xAA; 32]);
        assert_eq!(check_runtime_data(&rd, data), Ok(()));
        let err = check_runtime_data(&rd, b"hellO").unwrap_err();
        assert_eq!(err.code(), "RuntimeDataMismatch");
        assert_eq!(
            check_runtime_data(&[0; 8], data).unwrap_err().code(),
            "ReportDataTooShort"
        );
    }

    #[test]
    fn init_data_needs_a_field() {
        assert_eq!(
            check_init_time_data(None, b"x").unwrap_err().code(),
            "InitTimeDataUnsupported"
        );
        let f = crypto::sha256(b"x");
        assert_eq!(check_init_time_data(Some(&f), b"x"), Ok(()));
        assert_eq!(
            check_init_time_data(Some(&f), b"y").unwrap_err().code(),
            "InitTimeDataMismatch"
        );
    }
}
