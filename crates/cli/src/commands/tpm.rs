//! `attesta verify tpm` and `attesta inspect tpm-eventlog`: TPM quotes and
//! TCG event logs offline, with the same output contract as `verify sgx`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::client::print_json;
use crate::commands::{certs, read, usage, verdict};
use attesta_evidence::ErrorCode;
use attesta_evidence::tpm::structures::{
    TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512,
};
use attesta_evidence::tpm::{EventLog, Pcrs, QuoteParts, TpmEvidence, TpmSettings};

#[derive(Debug, Args)]
pub struct VerifyTpmArgs {
    /// TPMS_ATTEST of a quote (repeatable, paired in order with --signature).
    #[arg(long, required = true)]
    pub attest: Vec<PathBuf>,
    /// TPMT_SIGNATURE over the matching --attest.
    #[arg(long, required = true)]
    pub signature: Vec<PathBuf>,
    /// The AK's TPMT_PUBLIC (or TPM2B_PUBLIC).
    #[arg(long)]
    pub ak_pub: PathBuf,
    /// The AK certificate (DER or PEM).
    #[arg(long)]
    pub ak_cert: Option<PathBuf>,
    /// A trusted TPM CA (DER or PEM; repeatable). Certificates that are not
    /// self-signed are used as intermediates.
    #[arg(long)]
    pub ca: Vec<PathBuf>,
    /// A CRL of a TPM CA (DER or PEM; repeatable), as a provider's
    /// `tpm_crls`: an AK chain through that CA is refused when the CRL
    /// lists a certificate the CA signed (AkCertificateRevoked), or when
    /// the CRL does not verify with the CA's key (AkCrlInvalid) or is not
    /// current at the verification time (AkCrlExpired).
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// PCR values sent with the quote: {"sha256": {"0": "hex", …}, …} or one
    /// bank {"0": "hex", …} (bank from the digest length). Repeatable.
    #[arg(long)]
    pub pcrs: Vec<PathBuf>,
    /// TCG event log (SHA-1 or crypto-agile format).
    #[arg(long)]
    pub event_log: Option<PathBuf>,
    /// Expected nonce (hex) in the quote's extraData [default: empty].
    #[arg(long, default_value = "")]
    pub nonce: String,
    /// Accept an AK without a valid certificate (policy require_valid_aik_cert=false).
    #[arg(long)]
    pub no_aik_cert_required: bool,
    /// PCRs that must be quoted, as a mask (hex 0x… or decimal) [default: 0xFFFFFF].
    #[arg(long)]
    pub required_pcr_mask: Option<String>,
    /// Verification time, RFC 3339 [default: now].
    #[arg(long)]
    pub at: Option<String>,
    /// Accept quotes signed with SHA-1 (RSASSA; Windows PCP and older vTPM
    /// AKs), as a provider's `tpm_allow_sha1` does. The claims then carry
    /// `x-attesta-tpm-sha1-accepted: true`. Default: refused
    /// (WeakSignatureHash).
    #[arg(long)]
    pub allow_sha1: bool,
    /// The TPMT_PUBLIC of one of the AK's parents (repeatable, from the
    /// primary key down to the AK's parent, e.g. the EK for an AK made under
    /// it): the quote's qualifiedSigner is then checked through them. Without
    /// it, only a primary AK's qualified name can be checked.
    #[arg(long)]
    pub ak_parent: Vec<PathBuf>,
}

fn bank_of(name: &str, len: usize) -> Option<u16> {
    match name.to_ascii_lowercase().as_str() {
        "sha1" => Some(TPM_ALG_SHA1),
        "sha256" => Some(TPM_ALG_SHA256),
        "sha384" => Some(TPM_ALG_SHA384),
        "sha512" => Some(TPM_ALG_SHA512),
        "" => match len {
            20 => Some(TPM_ALG_SHA1),
            32 => Some(TPM_ALG_SHA256),
            48 => Some(TPM_ALG_SHA384),
            64 => Some(TPM_ALG_SHA512),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn load_pcrs(files: &[PathBuf]) -> anyhow::Result<Pcrs> {
    let mut out: Pcrs = BTreeMap::new();
    for f in files {
        let v: Value = serde_json::from_slice(&read(f)?)
            .with_context(|| format!("{} is not JSON", f.display()))?;
        let obj = v
            .as_object()
            .with_context(|| format!("{} is not a JSON object", f.display()))?;
        let multi = obj.values().all(Value::is_object);
        let banks: Vec<(String, &serde_json::Map<String, Value>)> = if multi {
            obj.iter()
                .map(|(k, v)| (k.clone(), v.as_object().unwrap_or(obj)))
                .collect()
        } else {
            vec![(String::new(), obj)]
        };
        for (name, values) in banks {
            for (idx, hexv) in values {
                let bytes = hex::decode(hexv.as_str().unwrap_or_default())
                    .with_context(|| format!("{}: PCR {idx} is not hex", f.display()))?;
                let bank = bank_of(&name, bytes.len()).with_context(|| {
                    format!("{}: cannot tell the bank of PCR {idx}", f.display())
                })?;
                let i: u32 = idx
                    .parse()
                    .with_context(|| format!("{}: '{idx}' is not a PCR index", f.display()))?;
                out.entry(bank).or_default().insert(i, bytes);
            }
        }
    }
    Ok(out)
}

pub fn run_verify(a: VerifyTpmArgs) -> anyhow::Result<ExitCode> {
    if a.attest.len() != a.signature.len() {
        return Ok(usage("give one --signature for each --attest"));
    }
    let inputs = (|| -> anyhow::Result<_> {
        let attests: Vec<Vec<u8>> = a.attest.iter().map(|p| read(p)).collect::<Result<_, _>>()?;
        let sigs: Vec<Vec<u8>> = a
            .signature
            .iter()
            .map(|p| read(p))
            .collect::<Result<_, _>>()?;
        let ak = read(&a.ak_pub)?;
        let ak_cert = match &a.ak_cert {
            Some(p) => certs(p)?.into_iter().next(),
            None => None,
        };
        // The verification context, as a provider's configuration gives
        // it to the server: self-signed CAs are TPM roots, the others
        // intermediates of the AK chain.
        let mut config = attesta_server::provider_config::ProviderConfig {
            tpm_allow_sha1: a.allow_sha1,
            ..Default::default()
        };
        let mut intermediates = Vec::new();
        for p in &a.ca {
            for der in certs(p)? {
                let self_signed = x509_parser::parse_x509_certificate(&der)
                    .map(|(_, c)| c.subject() == c.issuer())
                    .unwrap_or(false);
                if self_signed {
                    config
                        .test_roots
                        .tpm
                        .push(attesta_evidence::sgx::pki::certificate_pem(&der));
                } else {
                    intermediates.push(der);
                }
            }
        }
        for p in &a.crl {
            let der = crate::commands::snp::crl_der(p)?;
            attesta_evidence::pki::parse_crl(&der)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            config
                .tpm_crls
                .push(attesta_evidence::pki::pem_block("X509 CRL", &der));
        }
        let pcrs = load_pcrs(&a.pcrs)?;
        let log = match &a.event_log {
            Some(p) => Some(read(p)?),
            None => None,
        };
        let nonce = hex::decode(&a.nonce).context("--nonce is not hex")?;
        let mask = match &a.required_pcr_mask {
            None => TpmSettings::default().required_pcr_mask,
            Some(m) => match m.strip_prefix("0x").or_else(|| m.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).context("--required-pcr-mask")?,
                None => m.parse().context("--required-pcr-mask")?,
            },
        };
        if let Some(s) = &a.at {
            attesta_server::provider_config::parse_time(s).map_err(anyhow::Error::msg)?;
            config.verification_time = Some(s.clone());
        }
        Ok((
            attests,
            sigs,
            ak,
            ak_cert,
            config,
            intermediates,
            pcrs,
            log,
            nonce,
            mask,
        ))
    })();
    let (attests, sigs, ak, ak_cert, config, intermediates, pcrs, log, nonce, mask) = match inputs {
        Ok(v) => v,
        Err(e) => return Ok(usage(format!("{e:#}"))),
    };
    let mut parents = Vec::new();
    for p in &a.ak_parent {
        match read(p) {
            Ok(b) => parents.push(b),
            Err(e) => return Ok(usage(format!("{e:#}"))),
        }
    }
    let ak_public = if a.ak_parent.is_empty() {
        attesta_evidence::tpm::AkPublic::Tpmt(&ak)
    } else {
        attesta_evidence::tpm::AkPublic::TpmtUnder {
            ak: &ak,
            parents: parents.iter().map(Vec::as_slice).collect(),
        }
    };
    let ev = TpmEvidence {
        quotes: attests
            .iter()
            .zip(&sigs)
            .map(|(attest, signature)| QuoteParts { attest, signature })
            .collect(),
        ak_public,
        ak_cert: ak_cert.as_deref(),
        intermediates,
        pcrs,
        event_log: log.as_deref(),
    };
    let settings = TpmSettings {
        require_valid_aik_cert: !a.no_aik_cert_required,
        required_pcr_mask: mask,
    };
    // The server's TPM checks and claims.
    let result = attesta_server::engine::offline::verify_tpm(&ev, &nonce, &config, &settings)
        .map(Value::Object)
        .map_err(|e| (e.inner.unwrap_or(e.code), e.message));
    Ok(verdict(result))
}

/// `attesta inspect tpm-eventlog FILE`: the events and the replayed PCRs.
pub fn run_inspect_eventlog(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = match read(file) {
        Ok(b) => b,
        Err(e) => return Ok(usage(e)),
    };
    match EventLog::parse(&bytes) {
        Ok(log) => {
            print_json(&json!({
                "format": match log.format {
                    attesta_evidence::tpm::LogFormat::Sha1 => "sha1",
                    attesta_evidence::tpm::LogFormat::CryptoAgile => "crypto-agile",
                },
                "secure_boot": attesta_evidence::tpm::eventlog::secure_boot(&log),
                "pcrs": log.replay_json(),
                "events": log.events_json()["Events"],
            }));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: {} is not a TCG event log: {e} ({})",
                file.display(),
                e.code()
            );
            Ok(ExitCode::from(1))
        }
    }
}
