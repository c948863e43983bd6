//! VBS enclave attestation reports (reference §4.3, §4.5): the package
//! `EnclaveGetAttestationReport` returns inside a VBS enclave, carried in
//! MAA's TPM protocol (`att_type: vbs`, `vsm_report`), decoded by a total
//! parser and verified as a pure function of the package, the VSM signing
//! key (IDK_S) and the expected `EnclaveData`.
//!
//! ## Layout
//!
//! There is no public real sample. The layout implemented is the one the
//! Windows SDK header `ntenclv.h` declares (`#pragma pack(1)`) and Microsoft
//! Learn documents for `EnclaveGetAttestationReport` under
//! "VBS_ENCLAVE_REPORT_PKG_HEADER", "VBS_ENCLAVE_REPORT",
//! "ENCLAVE_IDENTITY", "VBS_ENCLAVE_REPORT_VARDATA_HEADER" and
//! "VBS_ENCLAVE_REPORT_MODULE"; all integers little-endian, no padding:
//!
//! | part | bytes |
//! |---|---|
//! | `VBS_ENCLAVE_REPORT_PKG_HEADER` | `PackageSize`, `Version` (1), `SignatureScheme` (1 = `..._SHA256_RSA_PSS_SHA256`), `SignedStatementSize`, `SignatureSize`, `Reserved` — six u32 (24 bytes) |
//! | signed statement (`SignedStatementSize` bytes) | `VBS_ENCLAVE_REPORT`: `ReportSize` u32, `ReportVersion` u32 (1), `EnclaveData` [64], `ENCLAVE_IDENTITY` (`OwnerId` [32], `UniqueId` [32], `AuthorId` [32], `FamilyId` [16], `ImageId` [16], `EnclaveSvn`, `SecureKernelSvn`, `PlatformSvn`, `Flags`, `SigningLevel`, `Reserved` u32) = 224 bytes; then variable data blocks to the statement's end: `VBS_ENCLAVE_REPORT_VARDATA_HEADER` `{DataType u32, Size u32 (the whole block, header included)}`, type 1 = `VBS_ENCLAVE_REPORT_MODULE` (`UniqueId` [32], `AuthorId` [32], `FamilyId` [16], `ImageId` [16], `Svn` u32, `ModuleName` UTF-16LE to the block's end) |
//! | signature (`SignatureSize` bytes) | over the signed statement |
//!
//! `PackageSize` must equal 24 + `SignedStatementSize` + `SignatureSize`
//! and the input's length; `ReportSize` is, as documented, "the total size
//! of the signed statement … including the sizes of the VBS_ENCLAVE_REPORT
//! structure and of all the variable data blocks", so it must equal
//! `SignedStatementSize`. `Flags` bits are `ENCLAVE_FLAG_FULL_DEBUG_ENABLED`
//! (1), `ENCLAVE_FLAG_DYNAMIC_DEBUG_ENABLED` (2) and
//! `ENCLAVE_FLAG_DYNAMIC_DEBUG_ACTIVE` (4).
//!
//! ## Verification
//!
//! 1. the VSM IDK_S public key comes from the Windows boot log the TPM
//!    quote proved ([`idks_from_log`]): the `SIPAEVENT_VSM_IDKS_INFO` item
//!    ("the VSM/IUM identity signing public key", `wbcl.h`) of an
//!    `EV_EVENT_TAG` event in PCR 12, 13, 14, 19 or 20 whose digest
//!    replayed to a quoted value and hashes its data, before the WBCL
//!    separator; its payload is `SIPAEVENT_VSM_IDK_INFO_PAYLOAD`
//!    ([`idks_from_sipa`]). No such item, or two different keys, fail
//!    closed;
//! 2. the signature (RSA-PSS, SHA-256, salt = digest length) verifies with
//!    that key (a key under 2048 bits is refused);
//! 3. `EnclaveData` equals the expected binding: MAA's VBS protocol puts
//!    SHA-512 of the `report_signed` JSON text exactly as sent there
//!    (reference §4.3), which carries the challenge, the TPM evidence and
//!    the enclave's key, so the report is bound to this request and quote;
//! 4. nothing else is judged here: the identity (ids, SVNs, `Flags` with
//!    its debug bits) becomes claims, and the policy decides.
//!
//! The TPM protocol route (`att_type: vbs`) runs these after the TPM
//! checks, see the server's `routes::tpm`.

use serde_json::json;

use crate::claims::Claims;
use crate::crypto;
use crate::error::{ErrorCode, ParseError};
use crate::reader::Reader;
use crate::tpm::TpmVerified;
use crate::tpm::structures::PublicKey;
use crate::tpm::windows::{EV_EVENT_TAG, SIPAEVENT_VSM_IDKS_INFO, SipaItem, SipaValue, parse_sipa};

pub const PKG_HEADER_LEN: usize = 24;
pub const REPORT_LEN: usize = 224;
pub const PKG_VERSION: u32 = 1;
pub const REPORT_VERSION: u32 = 1;
/// `VBS_ENCLAVE_REPORT_SIGNATURE_SCHEME_SHA256_RSA_PSS_SHA256`.
pub const SIGNATURE_SCHEME_RSA_PSS_SHA256: u32 = 1;
/// `VBS_ENCLAVE_VARDATA_MODULE`.
pub const VARDATA_MODULE: u32 = 1;
/// `ENCLAVE_FLAG_FULL_DEBUG_ENABLED`.
pub const FLAG_FULL_DEBUG_ENABLED: u32 = 1;
/// `ENCLAVE_FLAG_DYNAMIC_DEBUG_ENABLED`.
pub const FLAG_DYNAMIC_DEBUG_ENABLED: u32 = 2;
/// `ENCLAVE_FLAG_DYNAMIC_DEBUG_ACTIVE`.
pub const FLAG_DYNAMIC_DEBUG_ACTIVE: u32 = 4;
/// PCRs whose Windows boot configuration events may carry the IDK_S:
/// the SRTM trust boundaries (12–14, before the WBCL separator) and the
/// DRTM ones (19, 20).
pub const IDKS_PCRS: [u32; 5] = [12, 13, 14, 19, 20];
/// Far more modules than an enclave loads.
pub const MAX_MODULES: usize = 64;
const MODULE_FIXED_LEN: usize = 8 + 32 + 32 + 16 + 16 + 4;

/// `ENCLAVE_IDENTITY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclaveIdentity {
    pub owner_id: [u8; 32],
    pub unique_id: [u8; 32],
    pub author_id: [u8; 32],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub enclave_svn: u32,
    pub secure_kernel_svn: u32,
    pub platform_svn: u32,
    pub flags: u32,
    pub signing_level: u32,
    /// `Reserved` in `ntenclv.h`.
    pub reserved: u32,
}

/// A `VBS_ENCLAVE_REPORT_MODULE` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VbsModule {
    pub unique_id: [u8; 32],
    pub author_id: [u8; 32],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub svn: u32,
    pub name: String,
}

/// A decoded report package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VbsReport<'a> {
    pub signature_scheme: u32,
    /// The signed statement (what the signature covers).
    pub signed_statement: &'a [u8],
    pub signature: &'a [u8],
    pub report_version: u32,
    pub enclave_data: [u8; 64],
    pub identity: EnclaveIdentity,
    pub modules: Vec<VbsModule>,
}

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        what: "VBS enclave report",
        reason: reason.into(),
    }
}

fn array<const N: usize>(r: &mut Reader<'_>) -> Result<[u8; N], ParseError> {
    r.array::<N>()
}

fn identity(r: &mut Reader<'_>) -> Result<EnclaveIdentity, ParseError> {
    Ok(EnclaveIdentity {
        owner_id: array(r)?,
        unique_id: array(r)?,
        author_id: array(r)?,
        family_id: array(r)?,
        image_id: array(r)?,
        enclave_svn: r.u32_le()?,
        secure_kernel_svn: r.u32_le()?,
        platform_svn: r.u32_le()?,
        flags: r.u32_le()?,
        signing_level: r.u32_le()?,
        reserved: r.u32_le()?,
    })
}

fn modules(bytes: &[u8]) -> Result<Vec<VbsModule>, ParseError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut r = Reader::new(rest, "VBS enclave report variable data");
        let data_type = r.u32_le()?;
        let size = r.u32_le()? as usize;
        if size < 8 || size > rest.len() {
            return Err(malformed(format!(
                "a variable data record states {size} bytes with {} left",
                rest.len()
            )));
        }
        let (record, tail) = rest.split_at(size);
        rest = tail;
        if data_type != VARDATA_MODULE {
            // Unknown record types are skipped by their size, as the
            // header's Size field is there for.
            continue;
        }
        if record.len() < MODULE_FIXED_LEN {
            return Err(malformed(format!(
                "a module record is {} bytes, less than its {MODULE_FIXED_LEN}-byte fixed part",
                record.len()
            )));
        }
        if out.len() == MAX_MODULES {
            return Err(malformed(format!("more than {MAX_MODULES} modules")));
        }
        let mut r = Reader::new(&record[8..], "VBS_ENCLAVE_REPORT_MODULE");
        let unique_id = array(&mut r)?;
        let author_id = array(&mut r)?;
        let family_id = array(&mut r)?;
        let image_id = array(&mut r)?;
        let svn = r.u32_le()?;
        let name_bytes = &record[MODULE_FIXED_LEN..];
        let units: Vec<u16> = name_bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        out.push(VbsModule {
            unique_id,
            author_id,
            family_id,
            image_id,
            svn,
            name: String::from_utf16_lossy(&units),
        });
    }
    Ok(out)
}

impl<'a> VbsReport<'a> {
    /// Parse a report package. Total.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "VBS_ENCLAVE_REPORT_PKG_HEADER");
        let package_size = r.u32_le()? as usize;
        let version = r.u32_le()?;
        let signature_scheme = r.u32_le()?;
        let statement_size = r.u32_le()? as usize;
        let signature_size = r.u32_le()? as usize;
        let _reserved = r.u32_le()?;
        if version != PKG_VERSION {
            return Err(ParseError::Unsupported {
                what: "VBS report package version",
                value: version.to_string(),
            });
        }
        let total = PKG_HEADER_LEN
            .checked_add(statement_size)
            .and_then(|n| n.checked_add(signature_size));
        if total != Some(package_size) || package_size != bytes.len() {
            return Err(malformed(format!(
                "PackageSize {package_size} is not 24 + SignedStatementSize {statement_size} + SignatureSize {signature_size} and the {} bytes received",
                bytes.len()
            )));
        }
        let signed_statement = r.take(statement_size)?;
        let signature = r.take(signature_size)?;
        r.finish()?;

        let mut s = Reader::new(signed_statement, "VBS_ENCLAVE_REPORT");
        let report_size = s.u32_le()? as usize;
        let report_version = s.u32_le()?;
        if report_version != REPORT_VERSION {
            return Err(ParseError::Unsupported {
                what: "VBS enclave report version",
                value: report_version.to_string(),
            });
        }
        if report_size != signed_statement.len() {
            return Err(malformed(format!(
                "ReportSize {report_size} is not the signed statement's {} bytes (it counts the report and every variable data block)",
                signed_statement.len()
            )));
        }
        let enclave_data = array(&mut s)?;
        let identity = identity(&mut s)?;
        let modules = modules(s.rest())?;
        Ok(Self {
            signature_scheme,
            signed_statement,
            signature,
            report_version,
            enclave_data,
            identity,
            modules,
        })
    }
}

/// Why a VBS report did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VbsError {
    #[error("the VBS enclave report could not be decoded: {0}")]
    Parse(ParseError),
    #[error(
        "the VBS report's signature scheme {0} is not RSA-PSS with SHA-256 (1), the only scheme VBS defines"
    )]
    UnsupportedSignatureScheme(u32),
    #[error("the VSM signing key (IDK_S) is not a usable RSA key: {0}")]
    SigningKeyInvalid(String),
    #[error(
        "the VBS report's signature does not verify with the VSM signing key (IDK_S) from the boot log"
    )]
    SignatureInvalid,
    #[error(
        "the VBS report's EnclaveData is {actual}, not the expected binding {expected} (SHA-512 of report_signed as sent)"
    )]
    EnclaveDataMismatch { expected: String, actual: String },
    #[error("the boot log's VSM IDK_S event is not an RSA key blob: {0}")]
    IdksEventInvalid(String),
    #[error(
        "the TPM-proven boot log records no VSM signing key (SIPAEVENT_VSM_IDKS_INFO in PCR 12-14 before the WBCL separator, or 19/20), so the VBS report cannot be checked: send the Windows TCG log with the quote"
    )]
    IdksNotInLog,
    #[error(
        "the TPM-proven boot log records {0} different VSM signing keys; the VBS report's signer is ambiguous"
    )]
    IdksAmbiguous(usize),
    #[error(
        "the boot log's Windows configuration event in PCR {0} does not decode, so it could hide the VSM signing key"
    )]
    BootLogMalformed(u32),
}

impl ErrorCode for VbsError {
    fn code(&self) -> &'static str {
        match self {
            Self::Parse(ParseError::Truncated { .. }) => "VbsReportTruncated",
            Self::Parse(_) => "VbsReportMalformed",
            Self::UnsupportedSignatureScheme(_) => "VbsSignatureSchemeUnsupported",
            Self::SigningKeyInvalid(_) => "VbsSigningKeyInvalid",
            Self::SignatureInvalid => "VbsReportSignatureInvalid",
            Self::EnclaveDataMismatch { .. } => "VbsEnclaveDataMismatch",
            Self::IdksEventInvalid(_) => "VbsIdksEventInvalid",
            Self::IdksNotInLog => "VbsIdksNotInLog",
            Self::IdksAmbiguous(_) => "VbsIdksAmbiguous",
            Self::BootLogMalformed(_) => "VbsBootLogMalformed",
        }
    }
}

/// A verified VBS enclave report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VbsVerified {
    pub identity: EnclaveIdentity,
    pub enclave_data: [u8; 64],
    pub modules: Vec<VbsModule>,
}

/// The IDK_S public key from a `SIPAEVENT_VSM_IDKS_INFO` (or `_IDK_INFO`)
/// payload: `KeyAlgID` u32, then the RSA info `KeyBitLength`,
/// `PublicExpLengthBytes`, `ModulusSizeBytes` (u32, little-endian) and the
/// exponent then the modulus, big-endian (the layout of `wbcl.h`'s
/// `SIPAEVENT_VSM_IDK_INFO_PAYLOAD`).
pub fn idks_from_sipa(payload: &[u8]) -> Result<PublicKey, VbsError> {
    let bad = |m: String| VbsError::IdksEventInvalid(m);
    let mut r = Reader::new(payload, "SIPAEVENT_VSM_IDK_INFO_PAYLOAD");
    let e = |x: ParseError| bad(x.to_string());
    let _alg = r.u32_le().map_err(e)?;
    let _bits = r.u32_le().map_err(e)?;
    let exp_len = r.u32_le().map_err(e)? as usize;
    let mod_len = r.u32_le().map_err(e)? as usize;
    if exp_len == 0 || exp_len > 4 {
        return Err(bad(format!("a {exp_len}-byte public exponent")));
    }
    let exp = r.take(exp_len).map_err(e)?;
    let modulus = r.take(mod_len).map_err(e)?.to_vec();
    r.finish().map_err(e)?;
    let exponent = exp.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b));
    Ok(PublicKey::Rsa { modulus, exponent })
}

fn collect_idks<'a>(items: &'a [SipaItem], out: &mut Vec<&'a [u8]>) {
    for item in items {
        match &item.value {
            SipaValue::Items(children) => collect_idks(children, out),
            SipaValue::Bytes(b) if item.kind == SIPAEVENT_VSM_IDKS_INFO => out.push(b),
            _ => {}
        }
    }
}

/// The VSM IDK_S public key the TPM-verified boot log records (see the
/// module doc, step 1): every `SIPAEVENT_VSM_IDKS_INFO` item, at any
/// nesting, of the proven `EV_EVENT_TAG` events in [`IDKS_PCRS`]
/// ([`TpmVerified::boot_config_events`]). A tagged event there that does
/// not decode, no key, or two different keys are errors.
pub fn idks_from_log(verified: &TpmVerified) -> Result<PublicKey, VbsError> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for e in verified.boot_config_events() {
        if e.event_type != EV_EVENT_TAG || !IDKS_PCRS.contains(&e.pcr_index) {
            continue;
        }
        let items = parse_sipa(&e.data).map_err(|_| VbsError::BootLogMalformed(e.pcr_index))?;
        let mut payloads = Vec::new();
        collect_idks(&items, &mut payloads);
        for p in payloads {
            let key = idks_from_sipa(p)?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    match keys.len() {
        0 => Err(VbsError::IdksNotInLog),
        1 => Ok(keys.remove(0)),
        n => Err(VbsError::IdksAmbiguous(n)),
    }
}

/// Verify a report package against the IDK_S of a TPM-verified boot log
/// ([`idks_from_log`], then [`verify`]).
pub fn verify_with_log(
    package: &[u8],
    verified: &TpmVerified,
    expected_enclave_data: &[u8],
) -> Result<VbsVerified, VbsError> {
    // A package that does not decode is reported as such before the log
    // is searched.
    VbsReport::parse(package).map_err(VbsError::Parse)?;
    let idks = idks_from_log(verified)?;
    verify(package, &idks, expected_enclave_data)
}

/// Verify a report package (see the module doc).
pub fn verify(
    package: &[u8],
    idks: &PublicKey,
    expected_enclave_data: &[u8],
) -> Result<VbsVerified, VbsError> {
    let report = VbsReport::parse(package).map_err(VbsError::Parse)?;
    if report.signature_scheme != SIGNATURE_SCHEME_RSA_PSS_SHA256 {
        return Err(VbsError::UnsupportedSignatureScheme(
            report.signature_scheme,
        ));
    }
    let PublicKey::Rsa { modulus, .. } = idks else {
        return Err(VbsError::SigningKeyInvalid("not an RSA key".into()));
    };
    if modulus.iter().skip_while(|&&b| b == 0).count() < 256 {
        return Err(VbsError::SigningKeyInvalid("less than 2048 bits".into()));
    }
    let key = idks
        .verification_key()
        .ok_or_else(|| VbsError::SigningKeyInvalid("no RSA public key".into()))?;
    crypto::verify(
        crypto::Scheme::RsaPssSha256,
        &key,
        report.signed_statement,
        report.signature,
    )
    .map_err(|_| VbsError::SignatureInvalid)?;
    if !crypto::constant_time_eq(&report.enclave_data, expected_enclave_data) {
        return Err(VbsError::EnclaveDataMismatch {
            expected: hex::encode(expected_enclave_data),
            actual: hex::encode(report.enclave_data),
        });
    }
    Ok(VbsVerified {
        identity: report.identity,
        enclave_data: report.enclave_data,
        modules: report.modules,
    })
}

impl VbsVerified {
    /// The claims of reference §3.3/§4.5 (ids base64url, as MAA emits
    /// them): `enclaveAuthorId`, `enclaveImageId`, `enclaveOwnerId`,
    /// `enclaveFamilyId`, `enclaveSvn`, `enclavePlatformSvn`,
    /// `enclaveFlags`, `vbsReportPresent` and its policy-1.2 spelling
    /// `vsmReportPresent`; and, from the same signed identity, Attesta's
    /// `enclaveUniqueId`, `enclaveSecureKernelSvn`, `enclaveIsDebuggable`
    /// (a debug-enabled flag set) and `enclaveModules`.
    pub fn claims(&self) -> Claims {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let id = &self.identity;
        let mut c = Claims::new();
        c.insert("enclaveAuthorId", b64.encode(id.author_id));
        c.insert("enclaveImageId", b64.encode(id.image_id));
        c.insert("enclaveOwnerId", b64.encode(id.owner_id));
        c.insert("enclaveFamilyId", b64.encode(id.family_id));
        c.insert("enclaveUniqueId", b64.encode(id.unique_id));
        c.insert("enclaveSvn", id.enclave_svn);
        c.insert("enclavePlatformSvn", id.platform_svn);
        c.insert("enclaveSecureKernelSvn", id.secure_kernel_svn);
        c.insert("enclaveFlags", id.flags);
        c.insert(
            "enclaveIsDebuggable",
            id.flags & (FLAG_FULL_DEBUG_ENABLED | FLAG_DYNAMIC_DEBUG_ENABLED) != 0,
        );
        c.insert("vbsReportPresent", true);
        c.insert("vsmReportPresent", true);
        c.insert(
            "enclaveModules",
            self.modules
                .iter()
                .map(|m| {
                    json!({"name": m.name, "svn": m.svn,
                           "uniqueId": b64.encode(m.unique_id),
                           "authorId": b64.encode(m.author_id),
                           "familyId": b64.encode(m.family_id),
                           "imageId": b64.encode(m.image_id)})
                })
                .collect::<Vec<_>>(),
        );
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PSS_SHA256};

    fn module(name: &str, svn: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend([0x33; 32]);
        m.extend([0x44; 32]);
        m.extend([0x55; 16]);
        m.extend([0x66; 16]);
        m.extend(svn.to_le_bytes());
        for u in name.encode_utf16().chain([0]) {
            m.extend(u.to_le_bytes());
        }
        let mut rec = VARDATA_MODULE.to_le_bytes().to_vec();
        rec.extend(((m.len() + 8) as u32).to_le_bytes());
        rec.extend(m);
        rec
    }

    /// A package as `EnclaveGetAttestationReport` lays it out, signed
    /// with `key` (RSA-PSS SHA-256).
    fn package(key: &KeyPair, enclave_data: [u8; 64], flags: u32, scheme: u32) -> Vec<u8> {
        let mut st = Vec::new();
        st.extend((REPORT_LEN as u32).to_le_bytes());
        st.extend(REPORT_VERSION.to_le_bytes());
        st.extend(enclave_data);
        st.extend([0x01; 32]); // OwnerId
        st.extend([0x02; 32]); // UniqueId
        st.extend([0x03; 32]); // AuthorId
        st.extend([0x04; 16]); // FamilyId
        st.extend([0x05; 16]); // ImageId
        for v in [7u32, 9, 11, flags, 12, 0x10] {
            st.extend(v.to_le_bytes());
        }
        st.extend(module("enclave.dll", 3));
        // ReportSize counts the whole signed statement.
        let total = st.len() as u32;
        st[..4].copy_from_slice(&total.to_le_bytes());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(&RSA_PSS_SHA256, &rng, &st, &mut sig).unwrap();
        let mut p = Vec::new();
        for v in [
            (PKG_HEADER_LEN + st.len() + sig.len()) as u32,
            PKG_VERSION,
            scheme,
            st.len() as u32,
            sig.len() as u32,
            0,
        ] {
            p.extend(v.to_le_bytes());
        }
        p.extend(st);
        p.extend(sig);
        p
    }

    fn idks(key: &KeyPair) -> PublicKey {
        PublicKey::Rsa {
            modulus: key
                .public_key()
                .modulus()
                .big_endian_without_leading_zero()
                .to_vec(),
            exponent: 65537,
        }
    }

    #[test]
    fn a_signed_report_verifies_with_its_claims() {
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let binding = crate::tpm::structures::hash(
            crate::tpm::structures::TPM_ALG_SHA512,
            br#"{"att_type":"vbs"}"#,
        )
        .unwrap();
        let mut ed = [0u8; 64];
        ed.copy_from_slice(&binding);
        let pkg = package(
            &key,
            ed,
            FLAG_FULL_DEBUG_ENABLED,
            SIGNATURE_SCHEME_RSA_PSS_SHA256,
        );
        let v = verify(&pkg, &idks(&key), &binding).unwrap();
        let c = v.claims();
        assert_eq!(c.get("enclaveSvn"), Some(&json!(7)));
        assert_eq!(c.get("enclavePlatformSvn"), Some(&json!(11)));
        assert_eq!(c.get("enclaveSecureKernelSvn"), Some(&json!(9)));
        assert_eq!(c.get("enclaveFlags"), Some(&json!(1)));
        assert_eq!(c.get("enclaveIsDebuggable"), Some(&json!(true)));
        assert_eq!(
            c.get("enclaveAuthorId"),
            Some(&json!("AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"))
        );
        assert_eq!(
            c.get("enclaveFamilyId"),
            Some(&json!("BAQEBAQEBAQEBAQEBAQEBA"))
        );
        assert_eq!(
            c.get("enclaveImageId"),
            Some(&json!("BQUFBQUFBQUFBQUFBQUFBQ"))
        );
        assert_eq!(c.get("vbsReportPresent"), Some(&json!(true)));
        assert_eq!(v.modules.len(), 1);
        assert_eq!(v.modules[0].name, "enclave.dll");
        assert_eq!(v.modules[0].svn, 3);

        // Each check has its own error.
        let other = KeyPair::generate(KeySize::Rsa2048).unwrap();
        assert_eq!(
            verify(&pkg, &idks(&other), &binding).unwrap_err().code(),
            "VbsReportSignatureInvalid"
        );
        assert_eq!(
            verify(&pkg, &idks(&key), &[0u8; 64]).unwrap_err().code(),
            "VbsEnclaveDataMismatch"
        );
        let mut flipped = pkg.clone();
        flipped[PKG_HEADER_LEN + 20] ^= 1; // inside EnclaveData, signed
        assert_eq!(
            verify(&flipped, &idks(&key), &binding).unwrap_err().code(),
            "VbsReportSignatureInvalid"
        );
        let pss2 = package(&key, ed, 0, 2);
        assert_eq!(
            verify(&pss2, &idks(&key), &binding).unwrap_err().code(),
            "VbsSignatureSchemeUnsupported"
        );
        assert_eq!(
            verify(&pkg[..pkg.len() - 1], &idks(&key), &binding)
                .unwrap_err()
                .code(),
            "VbsReportMalformed"
        );
        assert_eq!(
            verify(&pkg[..10], &idks(&key), &binding)
                .unwrap_err()
                .code(),
            "VbsReportTruncated"
        );
    }

    #[test]
    fn idks_event_payload_decodes() {
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let n = key
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        let mut p = Vec::new();
        for v in [0x0000_2400u32, 2048, 3, n.len() as u32] {
            p.extend(v.to_le_bytes());
        }
        p.extend([1, 0, 1]);
        p.extend(&n);
        assert_eq!(idks_from_sipa(&p).unwrap(), idks(&key));
        assert!(idks_from_sipa(&p[..p.len() - 1]).is_err());
        let mut long = p.clone();
        long.push(0);
        assert!(idks_from_sipa(&long).is_err());
    }

    #[test]
    fn parser_is_total_on_prefixes_and_flips() {
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkg = package(&key, [9; 64], 0, 1);
        for n in 0..pkg.len() {
            let _ = VbsReport::parse(&pkg[..n]);
        }
        for i in 0..PKG_HEADER_LEN + REPORT_LEN + 16 {
            let mut m = pkg.clone();
            m[i] ^= 0xff;
            let _ = VbsReport::parse(&m);
        }
    }
}
