//! SEV-SNP verification: the AMD chain ARK → ASK → VCEK (or ARK → ASVK →
//! VLEK) checked once into a cacheable [`VerifiedChain`], then per report one
//! ECDSA P-384 verification over the received bytes `0x000..0x2A0` and the
//! comparison of the report's reported_tcb and chip_id with the VCEK's AMD
//! extensions.
//!
//! The chain's roles are fixed (VEK, ASK/ASVK, ARK), so it is checked step
//! by step with the primitives of [`crate::pki`] rather than its path
//! search: each certificate and the CRL must carry an RSASSA-PSS SHA-384
//! signature (parameters decoded and judged; webpki rejects AMD's encoding
//! of them), checked through [`crate::crypto`], and the VCEK extensions are
//! read from the certificate that verified. Any RSA modulus aws-lc-rs accepts for PSS (2048..8192 bits) is
//! accepted; AMD's are 4096-bit, the testkit's 2048-bit to keep tests fast —
//! trust comes from the pinned ARK, not the key size.

use x509_parser::certificate::X509Certificate;

use super::error::SnpError;
use super::report::{Generation, SIGNED_LEN, SigningKey, SnpReport, TcbVersion, parse_report};
use crate::claims::Claims;
use crate::crypto::{self, Scheme};
use crate::pki::{self, CertificateError, Named, Role, SignatureAlgorithm};
use crate::roots::{RootKind, TrustRoots};
use crate::types::UnixTime;

const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID: &str = "1.3.6.1.4.1.3704.1.4";

/// The certificates a report is verified with (DER). The ARK is not an
/// input: the chain must end at a root in [`TrustRoots`] of kind
/// [`RootKind::AmdArk`].
#[derive(Debug, Clone, Copy)]
pub struct SnpCollateral<'a> {
    /// The VCEK or VLEK certificate.
    pub vek_der: &'a [u8],
    /// The ASK (for a VCEK) or ASVK (for a VLEK).
    pub ask_der: &'a [u8],
    /// AMD's CRL for the product (issued by the ARK), when the caller has it.
    pub crl_der: Option<&'a [u8]>,
}

/// What the VCEK/VLEK certifies (its AMD extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VekFacts {
    pub kind: SigningKey,
    pub product_name: String,
    pub generation: Generation,
    pub tcb: TcbVersion,
    /// hwID: 64 bytes (Milan, Genoa) or 8 (Turin); VLEKs have none.
    pub hw_id: Option<Vec<u8>>,
}

/// An AMD chain that verified: cache it by [`VerifiedChain::vek_sha256`]
/// (and the CRL's digest when one was given) within one trust-root set —
/// a chain that ended at a configured test root must not be reused for a
/// tenant that does not trust that root — and reuse it for every report the
/// VCEK/VLEK signs; [`verify_report`] re-checks [`VerifiedChain::check_time`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    pub vek: VekFacts,
    /// Uncompressed SEC1 P-384 point of the VCEK/VLEK.
    pub vek_key: Vec<u8>,
    pub vek_sha256: [u8; 32],
    pub vek_validity: (i64, i64),
    pub ask_validity: (i64, i64),
    pub ark_validity: (i64, i64),
    /// (thisUpdate, nextUpdate) of the CRL when one was checked.
    pub crl_window: Option<(i64, i64)>,
    /// True when the ARK came from configuration rather than the embedded set.
    pub test_root: bool,
}

fn chain_err(e: impl Into<String>) -> SnpError {
    SnpError::VcekChainInvalid(e.into())
}

/// A certificate check of the AMD chain as an SNP error: the one place the
/// chain's [`CertificateError`]s become SNP codes. A revoked ASK/ASVK
/// (the intermediate) or VCEK/VLEK (the leaf) keeps its own code, anything
/// about the CRL is `AmdCrlInvalid`, anything else `VcekChainInvalid`.
fn chain_error(e: CertificateError) -> SnpError {
    match (&e, e.role()) {
        (CertificateError::Revoked { serial, .. }, Role::Intermediate) => {
            SnpError::AskRevoked(serial.clone())
        }
        (CertificateError::Revoked { serial, .. }, _) => SnpError::VcekRevoked(serial.clone()),
        (_, Role::Crl) => SnpError::CrlInvalid(e.to_string()),
        _ => SnpError::VcekChainInvalid(e.to_string()),
    }
}

/// AMD signs its certificates and CRLs with RSASSA-PSS / SHA-384 only;
/// anything else under an ARK or ASK is refused before its signature is
/// looked at.
fn require_pss_sha384(
    what: Named,
    alg: &x509_parser::x509::AlgorithmIdentifier<'_>,
) -> Result<(), CertificateError> {
    if pki::signature_algorithm(alg) == Some(SignatureAlgorithm::RsaPssSha384) {
        Ok(())
    } else {
        Err(CertificateError::UnsupportedSignatureAlgorithm {
            cert: what,
            algorithm: format!(
                "{} (AMD signs with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48)",
                alg.algorithm
            ),
        })
    }
}

/// `cert` (in `role`) is issued by `issuer` with an RSASSA-PSS SHA-384
/// signature.
fn amd_signed(
    cert: &X509Certificate<'_>,
    role: Role,
    issuer: &X509Certificate<'_>,
) -> Result<(), CertificateError> {
    require_pss_sha384(Named::cert(cert, role), &cert.signature_algorithm)?;
    pki::issued_by(cert, issuer).map_err(|e| e.in_role(role))
}

fn ext_u8(cert: &X509Certificate<'_>, oid: &str) -> Result<Option<u8>, SnpError> {
    let Some(e) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
    else {
        return Ok(None);
    };
    // DER INTEGER 0..=255: 02 01 vv, or 02 02 00 vv for 128..=255.
    match e.value {
        [0x02, 0x01, v] if *v < 0x80 => Ok(Some(*v)),
        [0x02, 0x02, 0x00, v] if *v >= 0x80 => Ok(Some(*v)),
        _ => Err(SnpError::VekExtensionInvalid(format!(
            "extension {oid} is not an INTEGER 0..255"
        ))),
    }
}

fn required_u8(cert: &X509Certificate<'_>, oid: &str, name: &str) -> Result<u8, SnpError> {
    ext_u8(cert, oid)?
        .ok_or_else(|| SnpError::VekExtensionInvalid(format!("{name} ({oid}) is missing")))
}

/// Check that a DER certificate is self-issued and its RSA-PSS SHA-384
/// signature verifies with its own key (what an ARK must be).
pub fn check_self_signed(der: &[u8]) -> Result<(), CertificateError> {
    let cert = pki::parse_cert(der).map_err(|e| e.in_role(Role::Anchor))?;
    amd_signed(&cert, Role::Anchor, &cert)
}

/// Read the AMD extensions of a VCEK or VLEK.
pub fn vek_facts(cert: &X509Certificate<'_>) -> Result<VekFacts, SnpError> {
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or("");
    let kind = match cn {
        "SEV-VCEK" => SigningKey::Vcek,
        "SEV-VLEK" => SigningKey::Vlek,
        other => {
            return Err(chain_err(format!(
                "the endorsement key certificate's CN is '{other}', not SEV-VCEK or SEV-VLEK"
            )));
        }
    };
    let product_name = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_PRODUCT_NAME)
        .and_then(|e| match e.value {
            [0x16, len, rest @ ..] if *len as usize == rest.len() => {
                std::str::from_utf8(rest).ok().map(str::to_string)
            }
            _ => None,
        })
        .ok_or_else(|| {
            SnpError::VekExtensionInvalid("productName (1.3.6.1.4.1.3704.1.2) is missing".into())
        })?;
    let generation =
        Generation::from_product_name(&product_name).ok_or_else(|| SnpError::UnknownProcessor {
            family: 0,
            model: 0,
            product: product_name.clone(),
        })?;
    let fmc = ext_u8(cert, OID_FMC_SPL)?;
    if generation == Generation::Turin && fmc.is_none() {
        return Err(SnpError::VekExtensionInvalid(
            "a Turin certificate has no fmcSPL (1.3.6.1.4.1.3704.1.3.9)".into(),
        ));
    }
    let tcb = TcbVersion {
        bootloader: required_u8(cert, OID_BL_SPL, "blSPL")?,
        tee: required_u8(cert, OID_TEE_SPL, "teeSPL")?,
        snp: required_u8(cert, OID_SNP_SPL, "snpSPL")?,
        microcode: required_u8(cert, OID_UCODE_SPL, "ucodeSPL")?,
        fmc: if generation == Generation::Turin {
            fmc
        } else {
            None
        },
    };
    let hw_id = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_HW_ID)
        .map(|e| e.value.to_vec());
    match (kind, &hw_id) {
        (SigningKey::Vcek, None) => {
            return Err(SnpError::VekExtensionInvalid(
                "the VCEK has no hwID (1.3.6.1.4.1.3704.1.4)".into(),
            ));
        }
        (SigningKey::Vcek, Some(h)) => {
            let want = if generation == Generation::Turin {
                8
            } else {
                64
            };
            if h.len() != want {
                return Err(SnpError::VekExtensionInvalid(format!(
                    "the {} VCEK's hwID is {} bytes, expected {want}",
                    generation.as_str(),
                    h.len()
                )));
            }
        }
        _ => {}
    }
    Ok(VekFacts {
        kind,
        product_name,
        generation,
        tcb,
        hw_id,
    })
}

impl VerifiedChain {
    /// Verify VCEK/VLEK → ASK/ASVK → trusted ARK, the VCEK's extensions and
    /// (when given) AMD's CRL, at time `at`.
    pub fn verify(
        collateral: &SnpCollateral<'_>,
        roots: &TrustRoots,
        at: UnixTime,
    ) -> Result<Self, SnpError> {
        let vek =
            pki::parse_cert(collateral.vek_der).map_err(|e| chain_error(e.in_role(Role::Leaf)))?;
        let ask = pki::parse_cert(collateral.ask_der)
            .map_err(|e| chain_error(e.in_role(Role::Intermediate)))?;
        pki::require_ca(&ask).map_err(|e| chain_error(e.in_role(Role::Intermediate)))?;

        // The ARK: a trusted root of kind AmdArk that signed the ASK.
        let mut found = None;
        for root in roots.of_kind(RootKind::AmdArk) {
            let Ok(ark) = pki::parse_cert(&root.der) else {
                continue;
            };
            if amd_signed(&ask, Role::Intermediate, &ark).is_ok() {
                found = Some((root, ark));
                break;
            }
        }
        let (root, ark) = found.ok_or(SnpError::UntrustedArk)?;
        // The ARK must be self-signed: a configured root that is not is a
        // configuration mistake, reported rather than trusted.
        amd_signed(&ark, Role::Anchor, &ark).map_err(chain_error)?;
        amd_signed(&vek, Role::Leaf, &ask).map_err(chain_error)?;

        let facts = vek_facts(&vek)?;
        let ask_cn = ask
            .subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or("");
        let ask_is_asvk = ask_cn.starts_with("SEV-VLEK");
        if ask_is_asvk != (facts.kind == SigningKey::Vlek) {
            return Err(chain_err(format!(
                "a {} is issued by '{ask_cn}'; a VCEK needs an ASK, a VLEK an ASVK",
                facts.kind.as_str()
            )));
        }
        let vek_key = pki::public_key(&vek);
        if vek_key.len() != 97 || vek_key[0] != 0x04 {
            return Err(chain_err(
                "the VCEK/VLEK key is not an uncompressed P-384 point",
            ));
        }

        let crl_window = match collateral.crl_der {
            None => None,
            Some(der) => {
                let crl = pki::parse_crl(der).map_err(chain_error)?;
                require_pss_sha384(
                    Named::new(Role::Crl, crl.issuer().to_string()),
                    &crl.signature_algorithm,
                )
                .map_err(chain_error)?;
                let checked = pki::check_parsed_crl(&crl, &ark).map_err(chain_error)?;
                checked
                    .check(&ask)
                    .map_err(|e| chain_error(e.in_role(Role::Intermediate)))?;
                checked
                    .check(&vek)
                    .map_err(|e| chain_error(e.in_role(Role::Leaf)))?;
                Some((checked.this_update, checked.next_update))
            }
        };

        let chain = VerifiedChain {
            vek: facts,
            vek_key,
            vek_sha256: crypto::sha256(collateral.vek_der),
            vek_validity: pki::validity(&vek),
            ask_validity: pki::validity(&ask),
            ark_validity: pki::validity(&ark),
            crl_window,
            test_root: root.configured,
        };
        chain.check_time(at)?;
        Ok(chain)
    }

    /// Check every certificate (and the CRL) is current at `at`.
    pub fn check_time(&self, at: UnixTime) -> Result<(), SnpError> {
        let (a, b) = self.ark_validity;
        if !pki::within(at.0, a, b) {
            return Err(SnpError::ArkExpired);
        }
        let (a, b) = self.ask_validity;
        if !pki::within(at.0, a, b) {
            return Err(SnpError::AskExpired);
        }
        let (not_before, not_after) = self.vek_validity;
        if !pki::within(at.0, not_before, not_after) {
            return Err(match self.vek.kind {
                SigningKey::Vlek => SnpError::VlekExpired {
                    not_before,
                    not_after,
                    at: at.0,
                },
                _ => SnpError::VcekExpired {
                    not_before,
                    not_after,
                    at: at.0,
                },
            });
        }
        if let Some((this_update, next_update)) = self.crl_window
            && !pki::within(at.0, this_update, next_update)
        {
            return Err(SnpError::CrlExpired {
                this_update,
                next_update,
                at: at.0,
            });
        }
        Ok(())
    }
}

/// A report that verified, with what the chain said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpVerified {
    pub report: SnpReport,
    pub generation: Generation,
    pub signing_key: SigningKey,
    pub product_name: String,
    pub test_root: bool,
}

/// Map the parser's refusals that have their own codes.
fn parse_checked(bytes: &[u8]) -> Result<SnpReport, SnpError> {
    if bytes.len() == super::report::REPORT_SIZE {
        let word =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let version = word(0);
        if !super::report::SUPPORTED_VERSIONS.contains(&version) {
            return Err(SnpError::UnsupportedReportVersion(version));
        }
        let algo = word(0x34);
        if algo != super::report::SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(SnpError::UnsupportedSignatureAlgorithm(algo));
        }
    }
    Ok(parse_report(bytes)?)
}

/// Verify one report (the received bytes) against a verified chain at `at`:
/// the signature over bytes `0..0x2A0`, the signing-key kind, the processor
/// generation, reported_tcb against the certified SPLs and chip_id against
/// hwID (VCEK only).
pub fn verify_report(
    bytes: &[u8],
    chain: &VerifiedChain,
    at: UnixTime,
) -> Result<SnpVerified, SnpError> {
    let report = parse_checked(bytes)?;
    chain.check_time(at)?;
    if report.signing_key == SigningKey::None || report.mask_chip_key {
        return Err(SnpError::ReportNotSigned((bytes[0x48] >> 2) & 7));
    }
    if report.signing_key != chain.vek.kind {
        return Err(SnpError::SigningKeyMismatch {
            report: report.signing_key.as_str(),
            chain: chain.vek.kind.as_str(),
        });
    }
    let sig = report
        .signature_fixed()
        .ok_or(SnpError::ReportSignatureInvalid)?;
    crypto::verify(
        Scheme::EcdsaP384Sha384Fixed,
        &chain.vek_key,
        &bytes[..SIGNED_LEN],
        &sig,
    )
    .map_err(|_| SnpError::ReportSignatureInvalid)?;

    let generation = chain.vek.generation;
    if report.version >= 3 {
        match report.cpuid_generation() {
            Some(g) if g == generation => {}
            Some(g) => {
                return Err(SnpError::ProcessorMismatch {
                    report: g.as_str().into(),
                    cert: chain.vek.product_name.clone(),
                });
            }
            None => {
                return Err(SnpError::UnknownProcessor {
                    family: report.cpuid_fam_id,
                    model: report.cpuid_mod_id,
                    product: chain.vek.product_name.clone(),
                });
            }
        }
    }
    let reported = TcbVersion::decode(report.reported_tcb, generation);
    let cert = &chain.vek.tcb;
    for (field, r, c) in [
        ("bootloader", reported.bootloader, cert.bootloader),
        ("tee", reported.tee, cert.tee),
        ("snp", reported.snp, cert.snp),
        ("microcode", reported.microcode, cert.microcode),
        ("fmc", reported.fmc.unwrap_or(0), cert.fmc.unwrap_or(0)),
    ] {
        if r != c {
            return Err(SnpError::TcbMismatch {
                field,
                report: r,
                cert: c,
            });
        }
    }
    if let Some(hw_id) = &chain.vek.hw_id {
        let n = hw_id.len().min(64);
        if !crypto::constant_time_eq(&report.chip_id[..n], &hw_id[..n]) {
            return Err(SnpError::ChipIdMismatch);
        }
    }
    Ok(SnpVerified {
        report,
        generation,
        signing_key: chain.vek.kind,
        product_name: chain.vek.product_name.clone(),
        test_root: chain.test_root,
    })
}

impl SnpVerified {
    /// The incoming claims: MAA's `x-ms-sevsnpvm-*` and Attesta's own (see
    /// the module doc of [`crate::snp`]).
    pub fn claims(&self) -> Claims {
        let r = &self.report;
        let g = self.generation;
        let reported = TcbVersion::decode(r.reported_tcb, g);
        let mut c = Claims::new();
        c.insert(crate::claims::names::ATTESTATION_TYPE, "sevsnpvm");
        c.insert_hex("x-ms-sevsnpvm-authorkeydigest", &r.author_key_digest);
        c.insert("x-ms-sevsnpvm-bootloader-svn", reported.bootloader);
        c.insert_hex("x-ms-sevsnpvm-familyId", &r.family_id);
        c.insert("x-ms-sevsnpvm-guestsvn", r.guest_svn);
        c.insert_hex("x-ms-sevsnpvm-hostdata", &r.host_data);
        c.insert_hex("x-ms-sevsnpvm-idkeydigest", &r.id_key_digest);
        c.insert_hex("x-ms-sevsnpvm-imageId", &r.image_id);
        c.insert("x-ms-sevsnpvm-is-debuggable", r.policy.debug_allowed());
        c.insert_hex("x-ms-sevsnpvm-launchmeasurement", &r.measurement);
        c.insert("x-ms-sevsnpvm-microcode-svn", reported.microcode);
        c.insert(
            "x-ms-sevsnpvm-migration-allowed",
            r.policy.migrate_ma_allowed(),
        );
        c.insert_hex("x-ms-sevsnpvm-reportdata", &r.report_data);
        c.insert_hex("x-ms-sevsnpvm-reportid", &r.report_id);
        c.insert("x-ms-sevsnpvm-smt-allowed", r.policy.smt_allowed());
        c.insert("x-ms-sevsnpvm-snpfw-svn", reported.snp);
        c.insert("x-ms-sevsnpvm-tee-svn", reported.tee);
        c.insert("x-ms-sevsnpvm-vmpl", r.vmpl);

        c.insert("x-attesta-snp-report-version", r.version);
        c.insert("x-attesta-snp-processor", g.as_str());
        c.insert("x-attesta-snp-signing-key", self.signing_key.as_str());
        c.insert("x-attesta-snp-reported-tcb", reported.to_json());
        c.insert(
            "x-attesta-snp-committed-tcb",
            TcbVersion::decode(r.committed_tcb, g).to_json(),
        );
        c.insert(
            "x-attesta-snp-launch-tcb",
            TcbVersion::decode(r.launch_tcb, g).to_json(),
        );
        c.insert(
            "x-attesta-snp-current-tcb",
            TcbVersion::decode(r.current_tcb, g).to_json(),
        );
        c.insert("x-attesta-snp-policy", format!("{:#x}", r.policy.0));
        c.insert(
            "x-attesta-snp-policy-debug-allowed",
            r.policy.debug_allowed(),
        );
        c.insert(
            "x-attesta-snp-policy-migration-agent-allowed",
            r.policy.migrate_ma_allowed(),
        );
        c.insert("x-attesta-snp-policy-smt-allowed", r.policy.smt_allowed());
        c.insert(
            "x-attesta-snp-policy-single-socket",
            r.policy.single_socket(),
        );
        c.insert("x-attesta-snp-policy-abi-major", r.policy.abi_major());
        c.insert("x-attesta-snp-policy-abi-minor", r.policy.abi_minor());
        c.insert("x-attesta-snp-platform-info", r.platform_info);
        c.insert("x-attesta-test-root", self.test_root);
        c
    }

    /// The generic verified form: claims, REPORT_DATA and HOST_DATA.
    pub fn to_verified(&self) -> crate::Verified {
        crate::Verified {
            claims: self.claims(),
            report_data: self.report.report_data.to_vec(),
            init_data: Some(self.report.host_data.to_vec()),
        }
    }
}
