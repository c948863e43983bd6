//! A client for Intel PCS v4-compatible collateral APIs: Intel's Provisioning
//! Certification Service itself, a local PCCS, or a cloud cache such as
//! Azure THIM — they share the paths and headers, so only the base URL
//! differs.
//!
//! Requests (facts from Intel's public PCS v4 API description):
//!
//! | part | request | issuer chain header |
//! |---|---|---|
//! | TCB info | `GET {base}/{sgx,tdx}/certification/v4/tcb?fmspc=..` | `TCB-Info-Issuer-Chain` |
//! | QE identity | `GET {base}/{sgx,tdx}/certification/v4/qe/identity` | `SGX-Enclave-Identity-Issuer-Chain` |
//! | PCK CRL | `GET {base}/sgx/certification/v4/pckcrl?ca=processor\|platform&encoding=der` | `SGX-PCK-CRL-Issuer-Chain` |
//! | root CA CRL | `GET {base}/sgx/certification/v4/rootcacrl` | — |
//!
//! TCB info and QE identity take an optional `update=early|standard`.
//! Issuer chains arrive URL-encoded in the headers. The root CA CRL comes as
//! DER from PCS and as hex text from PCCS; both are accepted. TDX uses the
//! SGX CRL endpoints: the PCK hierarchy is shared.

use std::time::Duration;

use attesta_evidence::dcap::{DcapCollateral, DcapTee};

use crate::error::CollateralError;
use crate::parts::{PckCa, check_pem_chain, crl_to_der, normalize_fmspc, tee_str};
use crate::source::CollateralSource;

/// Intel's production PCS.
pub const INTEL_PCS_BASE_URL: &str = "https://api.trustedservices.intel.com";

// Collateral documents are a few KiB (TCB info for a busy FMSPC tens of
// KiB); a cap keeps a misbehaving service from filling memory.
const MAX_BODY: usize = 4 << 20;

/// The PCS v4 URL of the TCB info for an FMSPC under `base` (no `update`
/// parameter).
pub fn tcb_info_url(base: &str, tee: DcapTee, fmspc: &str) -> Result<String, CollateralError> {
    let fmspc = normalize_fmspc(fmspc)?;
    Ok(format!(
        "{}/{}/certification/v4/tcb?fmspc={fmspc}",
        base.trim_end_matches('/'),
        tee_str(tee)
    ))
}

/// The PCS v4 URL of the QE identity (TDX: TD QE identity) under `base`.
pub fn qe_identity_url(base: &str, tee: DcapTee) -> String {
    format!(
        "{}/{}/certification/v4/qe/identity",
        base.trim_end_matches('/'),
        tee_str(tee)
    )
}

/// The PCS v4 URL of a PCK CA's CRL (DER) under `base`.
pub fn pck_crl_url(base: &str, ca: PckCa) -> String {
    format!(
        "{}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
        base.trim_end_matches('/'),
        ca.as_str()
    )
}

/// How to reach the collateral service.
#[derive(Debug, Clone)]
pub struct PcsClientOptions {
    /// `https://api.trustedservices.intel.com`, a PCCS such as
    /// `https://pccs.internal:8081`, or a THIM endpoint; no trailing path.
    pub base_url: String,
    /// Extra trusted root CA(s), PEM, e.g. the private CA of a PCCS.
    pub extra_root_ca_pem: Option<String>,
    /// Trust only `extra_root_ca_pem`, not the system roots.
    pub only_extra_roots: bool,
    /// Timeout of each request, connect included.
    pub timeout: Duration,
    /// Ask for the `early` or `standard` TCB update stream (PCS `update`
    /// query parameter of the TCB info and QE identity requests). `None`
    /// leaves it out: the service's default (standard).
    pub tcb_update: Option<TcbUpdate>,
    /// Where to get the Intel SGX Root CA CRL, when not from
    /// `{base}/sgx/certification/v4/rootcacrl` (e.g. Intel's certificate
    /// distribution point). Any URL serving the CRL as DER, PEM or hex.
    pub root_ca_crl_url: Option<String>,
}

/// The PCS TCB update stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcbUpdate {
    Early,
    Standard,
}

impl TcbUpdate {
    fn as_str(self) -> &'static str {
        match self {
            TcbUpdate::Early => "early",
            TcbUpdate::Standard => "standard",
        }
    }
}

impl PcsClientOptions {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            extra_root_ca_pem: None,
            only_extra_roots: false,
            timeout: Duration::from_secs(30),
            tcb_update: None,
            root_ca_crl_url: None,
        }
    }
}

/// Fetches DCAP collateral over HTTP(S).
#[derive(Debug, Clone)]
pub struct PcsClient {
    base: String,
    http: reqwest::Client,
    update: Option<TcbUpdate>,
    root_ca_crl_url: Option<String>,
}

impl PcsClient {
    pub fn new(opts: PcsClientOptions) -> Result<Self, CollateralError> {
        let setup = |reason: String| CollateralError::ClientSetup { reason };
        let base = opts.base_url.trim_end_matches('/').to_owned();
        for url in std::iter::once(&base).chain(opts.root_ca_crl_url.as_ref()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(setup(format!(
                    "URL {url:?} must start with https:// (or http:// for a loopback test service)"
                )));
            }
        }
        let mut builder = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("attesta-collateral/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &opts.extra_root_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| setup(format!("extra root CA: {e}")))?;
            if certs.is_empty() {
                return Err(setup("extra root CA PEM holds no certificate".into()));
            }
            builder = if opts.only_extra_roots {
                builder.tls_certs_only(certs)
            } else {
                builder.tls_certs_merge(certs)
            };
        } else if opts.only_extra_roots {
            return Err(setup(
                "only_extra_roots is set but no extra root CA was given".into(),
            ));
        }
        let http = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            base,
            http,
            update: opts.tcb_update,
            root_ca_crl_url: opts.root_ca_crl_url,
        })
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn update_param(&self, sep: char) -> String {
        self.update
            .map(|u| format!("{sep}update={}", u.as_str()))
            .unwrap_or_default()
    }

    /// `GET` with a size cap; 404 and other non-200 statuses become typed
    /// errors.
    async fn get(
        &self,
        url: &str,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), CollateralError> {
        let unavailable = |e: reqwest::Error| CollateralError::UpstreamUnavailable {
            url: url.to_owned(),
            reason: error_chain(&e),
        };
        let mut resp = self.http.get(url).send().await.map_err(unavailable)?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(CollateralError::NotFound {
                url: url.to_owned(),
            });
        }
        if status != 200 {
            let detail = ["Request-ID", "Error-Code", "Error-Message"]
                .iter()
                .filter_map(|h| {
                    resp.headers()
                        .get(*h)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| format!("{h}: {}", v.chars().take(200).collect::<String>()))
                })
                .collect::<Vec<_>>();
            return Err(CollateralError::UpstreamStatus {
                url: url.to_owned(),
                status,
                detail: (!detail.is_empty()).then(|| detail.join(", ")),
            });
        }
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CollateralError::malformed(
                    url,
                    format!("response larger than {MAX_BODY} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((headers, body))
    }

    /// Fetches a JSON document and its issuer chain from the first of
    /// `headers` present (newer name first, older PCCS spelling after).
    async fn get_signed_json(
        &self,
        url: &str,
        part: &str,
        headers: &[&str],
    ) -> Result<(String, String), CollateralError> {
        let (hdrs, body) = self.get(url).await?;
        let chain = issuer_chain(&hdrs, url, part, headers)?;
        let text = String::from_utf8(body)
            .map_err(|_| CollateralError::malformed(part, "body is not UTF-8"))?;
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map_err(|e| CollateralError::malformed(part, format!("body is not JSON: {e}")))?;
        Ok((text, chain))
    }

    /// TCB info body and issuer chain for one FMSPC.
    pub async fn fetch_tcb_info(
        &self,
        tee: DcapTee,
        fmspc: &str,
    ) -> Result<(String, String), CollateralError> {
        let url = format!(
            "{}{}",
            tcb_info_url(&self.base, tee, fmspc)?,
            self.update_param('&')
        );
        self.get_signed_json(
            &url,
            "TCB info",
            &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
        )
        .await
    }

    /// QE identity (SGX) or TD_QE identity (TDX) body and issuer chain.
    pub async fn fetch_qe_identity(
        &self,
        tee: DcapTee,
    ) -> Result<(String, String), CollateralError> {
        let url = format!(
            "{}{}",
            qe_identity_url(&self.base, tee),
            self.update_param('?')
        );
        self.get_signed_json(
            &url,
            "QE identity",
            &[
                "SGX-Enclave-Identity-Issuer-Chain",
                "Enclave-Identity-Issuer-Chain",
            ],
        )
        .await
    }

    /// PCK CRL (DER) of one PCK CA and its issuer chain.
    pub async fn fetch_pck_crl(&self, ca: PckCa) -> Result<(Vec<u8>, String), CollateralError> {
        let url = pck_crl_url(&self.base, ca);
        let (hdrs, body) = self.get(&url).await?;
        let chain = issuer_chain(&hdrs, &url, "PCK CRL", &["SGX-PCK-CRL-Issuer-Chain"])?;
        Ok((crl_to_der("PCK CRL", &body)?, chain))
    }

    /// Intel SGX Root CA CRL (DER).
    pub async fn fetch_root_ca_crl(&self) -> Result<Vec<u8>, CollateralError> {
        let url = match &self.root_ca_crl_url {
            Some(u) => u.clone(),
            None => format!("{}/sgx/certification/v4/rootcacrl", self.base),
        };
        let (_, body) = self.get(&url).await?;
        crl_to_der("root CA CRL", &body)
    }
}

#[async_trait::async_trait]
impl CollateralSource for PcsClient {
    async fn fetch(
        &self,
        tee: DcapTee,
        fmspc: &str,
        ca: PckCa,
    ) -> Result<DcapCollateral, CollateralError> {
        let ((tcb, tcb_chain), (qe, qe_chain), (pck_crl, pck_chain), root_crl) = tokio::try_join!(
            self.fetch_tcb_info(tee, fmspc),
            self.fetch_qe_identity(tee),
            self.fetch_pck_crl(ca),
            self.fetch_root_ca_crl(),
        )?;
        Ok(DcapCollateral {
            tcb_info_json: tcb,
            tcb_info_issuer_chain: tcb_chain,
            qe_identity_json: qe,
            qe_identity_issuer_chain: qe_chain,
            pck_crl,
            pck_crl_issuer_chain: pck_chain,
            root_ca_crl: root_crl,
        })
    }

    fn describe(&self) -> String {
        format!("PCS-compatible service at {}", self.base)
    }
}

/// Reads and URL-decodes an issuer chain header.
fn issuer_chain(
    hdrs: &reqwest::header::HeaderMap,
    url: &str,
    part: &str,
    names: &[&str],
) -> Result<String, CollateralError> {
    let raw = names.iter().find_map(|n| hdrs.get(*n)).ok_or_else(|| {
        CollateralError::MissingIssuerChainHeader {
            url: url.to_owned(),
            header: names[0].to_owned(),
        }
    })?;
    let raw = raw
        .to_str()
        .map_err(|_| CollateralError::malformed(part, "issuer chain header is not ASCII"))?;
    let pem = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| {
            CollateralError::malformed(part, "issuer chain header is not URL-encoded UTF-8")
        })?
        .into_owned();
    check_pem_chain(&format!("{part} issuer chain"), &pem)?;
    Ok(pem)
}

/// reqwest's top-level message ("error sending request") hides the cause an
/// operator needs (connection refused, certificate unknown); walk the chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
