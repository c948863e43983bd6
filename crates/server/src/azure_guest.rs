//! `POST /attest/AzureGuest`: Azure confidential VM guest attestation
//! (reference §1.3, §2.6, §5.3), in order:
//!
//! request bytes → decode the `AttestationInfo` document
//! ([`attesta_evidence::azure_cvm::request`]) → the hardware collateral
//! (SEV-SNP: the VCEK chain from the request, else AMD KDS or the
//! endorsement cache, with AMD's CRL required exactly as for `SevSnpVm`;
//! TDX: the DCAP collateral as for `TdxVm`; Trusted Launch, with no
//! isolation evidence: the provider's vTPM CAs, `vtpm_roots`) → verify the
//! guest ([`attesta_evidence::azure_cvm::verify_guest`]: hardware report →
//! variable data → `HCLAkPub` → vTPM quote → PCRs → log; Trusted Launch:
//! [`attesta_evidence::azure_cvm::verify_trusted_launch`], the AK
//! certificate to a vTPM CA → vTPM quote → PCRs → log) → the ephemeral
//! encryption key, certified by that AK and sealed to the quoted PCRs
//! ([`attesta_evidence::azure_cvm::enc_key`]) → the claims of §2.6 → the
//! provider's `AzureGuest` policy (MAA's default permits) → the signed
//! token → sealed to the ephemeral key: a fresh AES-256 key wrapped with
//! RSAES-PKCS1-v1_5 to `EncKeyPub`, the JWT under AES-256-GCM with AAD
//! `Transport Key`, in the JSON envelope MAA answers with
//! (`EncryptedInnerKey`, `EncryptionParams.Iv`, `AuthenticationData`,
//! `Jwt`, standard base64), itself base64url in `{"token"}`.
//!
//! The quote's nonce: MAA issues no challenge for `AzureGuest`; the token
//! is fresh for the guest because only the attested vTPM, in the attested
//! PCR state, can open it. A request may still name its nonce with a
//! top-level `nonce` string (an Attesta extension, like the other routes'
//! echoed `nonce`): the quote's extraData must then be exactly its UTF-8
//! bytes, and the token echoes it. The quote's extraData is always in the
//! token as `x-attesta-azurevm-quote-nonce` (hex).
//!
//! One flow for the server and `attesta verify azure-guest`: the steps up
//! to the ephemeral key are [`verify_evidence`], over [`GuestEvidence`]
//! (however it arrived) and [`GuestSources`] (the server's collateral
//! services, or the CLI's offline ones, see
//! [`crate::engine::offline::verify_azure_guest`]); the claims the evidence
//! gives are assembled once, in [`evidence_claims`]. The route adds only
//! what a request alone has: the ephemeral key and the OS facts and client
//! payload the client states.
//!
//! Verified SNP chains and TDX collateral are cached here by content (the
//! same keys as the `SevSnpVm`/`TdxVm` verifiers use: certificates, CRL
//! and configured roots), so a warm request costs its own signature checks.

use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use attesta_evidence::azure_cvm::enc_key::{EncKey, verify_enc_key};
use attesta_evidence::azure_cvm::request::{GuestRequest, Isolation};
use attesta_evidence::azure_cvm::{
    AzureGuestError, AzureGuestSettings, AzureGuestVerified, GuestReport, HclReportType,
    IsolationCollateral, ReportDataHashType, VtpmQuote, verify_guest, verify_trusted_launch,
};
use attesta_evidence::roots::{RootKind, TrustRoots};
use attesta_evidence::snp::{self, VerifiedChain};
use attesta_evidence::tpm::structures::{Attest, Public};
use attesta_evidence::{AttestationType, ErrorCode, UnixTime, sgx, tdx};

use attesta_collateral::SnpEndorsementService;

use crate::cache::VersionCache;
use crate::dcap::{DcapKind, DcapVerifier, VerifiedCache};
use crate::engine::token::{TokenShape, issue_token, resolve_policy};
use crate::error::ApiError;
use crate::provider::ProviderCtx;
use crate::provider_config::ProviderConfig;
use crate::snp::SnpVerifier;
use crate::state::AppState;

/// Verified VCEK chains of guest requests (keyed like the `SevSnpVm`
/// verifier's: chain, CRL and configured roots, so one process serving
/// several providers never reuses a chain a provider does not trust).
static SNP_CHAINS: LazyLock<VersionCache<VerifiedChain>> =
    LazyLock::new(|| VersionCache::new(16_384));
/// Verified TDX collateral of guest requests, by content version.
static TDX_COLLATERAL: LazyLock<Arc<VerifiedCache>> =
    LazyLock::new(|| Arc::new(VerifiedCache::default()));

/// The MAA request body; `AttestationInfo` is what real clients send,
/// `attestationInfo` what the 2025-06-01 REST model names.
#[derive(Debug, Deserialize)]
struct Body {
    #[serde(rename = "AttestationInfo", alias = "attestationInfo")]
    attestation_info: Option<String>,
    #[serde(
        rename = "draftPolicyForAttestation",
        alias = "DraftPolicyForAttestation"
    )]
    draft_policy: Option<String>,
    nonce: Option<Value>,
}

fn guest_error(e: AzureGuestError) -> ApiError {
    ApiError::evidence(e.code(), &e)
}

/// Where a guest verification gets its hardware collateral: the server's
/// fetching, caching services ([`GuestSources::server`]), or the offline
/// ones `attesta verify azure-guest` builds over its files
/// ([`crate::engine::offline::verify_azure_guest`]).
pub struct GuestSources<'a> {
    /// AMD's endorsements: the VCEK chain when the request sends none, and
    /// AMD's CRL, required as for `SevSnpVm`.
    pub snp_endorsements: &'a SnpEndorsementService,
    /// Verified VCEK chains, keyed as the `SevSnpVm` verifier keys them.
    pub snp_chains: &'a VersionCache<VerifiedChain>,
    /// Intel's collateral for TD quotes, as for `TdxVm`.
    pub tdx: DcapVerifier,
}

impl<'a> GuestSources<'a> {
    /// The server's services, with this process's verified-chain and
    /// verified-collateral caches.
    pub fn server(state: &'a AppState) -> Self {
        Self {
            snp_endorsements: &state.snp_endorsements,
            snp_chains: &SNP_CHAINS,
            tdx: DcapVerifier {
                kind: DcapKind::Tdx,
                collateral: state.collateral.clone(),
                verified: TDX_COLLATERAL.clone(),
            },
        }
    }
}

/// Azure guest evidence however it arrived — MAA's `AttestationInfo`
/// ([`verify_request`]) or `attesta verify azure-guest`'s files — in the
/// parts [`verify_evidence`] takes.
pub struct GuestEvidence<'a> {
    pub isolation: GuestIsolation<'a>,
    /// The vTPM quote, its PCR values and the TCG log.
    pub vtpm: VtpmQuote<'a>,
    /// `AikPub`: the AK the client names (`TPM2B_PUBLIC`; empty when not
    /// sent). With SNP or TDX it must be the AK the hardware bound; for
    /// Trusted Launch it is the AK, vouched for by `aik_cert`.
    pub aik_pub: &'a [u8],
    /// `AikCert` (DER; empty for none): Trusted Launch's only trust in the AK.
    pub aik_cert: &'a [u8],
}

/// The isolation TEE's part of [`GuestEvidence`].
pub enum GuestIsolation<'a> {
    /// SEV-SNP: the HCL's part (the SNP report as `hw_report`) and the VCEK
    /// chain sent with it (DER, VCEK first; empty: from AMD KDS or the
    /// endorsement cache).
    Snp {
        report: GuestReport<'a>,
        cert_chain: &'a [Vec<u8>],
    },
    /// TDX: the HCL's part (with the TDREPORT when the caller has it; MAA's
    /// request does not) and the TD quote made from it.
    Tdx {
        report: GuestReport<'a>,
        td_quote: &'a [u8],
    },
    /// Trusted Launch: no hardware evidence.
    TrustedLaunch,
}

/// Verified guest evidence, before the ephemeral key and policy.
pub struct GuestVerified {
    pub guest: AzureGuestVerified,
    /// Claims about how the collateral was judged (grace, revocation,
    /// pinned time).
    pub collateral_claims: Map<String, Value>,
    /// The quote's extraData.
    pub quote_nonce: Vec<u8>,
}

/// Decode the request's isolation evidence and verify it with the guest's
/// quote ([`verify_evidence`], MAA's default settings).
async fn verify_request(
    sources: &GuestSources<'_>,
    pcfg: &ProviderConfig,
    req: &GuestRequest,
    expected_nonce: Option<&[u8]>,
    now: UnixTime,
) -> Result<GuestVerified, ApiError> {
    let doc;
    let isolation = match &req.isolation {
        Isolation::SevSnp {
            proof,
            runtime_data,
        } => {
            doc =
                snp::maa::parse_report_json(proof).map_err(|e| ApiError::evidence(e.code(), &e))?;
            GuestIsolation::Snp {
                report: GuestReport {
                    report_type: HclReportType::Snp,
                    hash_type: ReportDataHashType::Sha256,
                    hw_report: Some(&doc.report),
                    var_data: runtime_data,
                },
                cert_chain: &doc.cert_chain,
            }
        }
        Isolation::Tdx {
            td_quote,
            runtime_data,
        } => GuestIsolation::Tdx {
            report: GuestReport {
                report_type: HclReportType::Tdx,
                hash_type: ReportDataHashType::Sha256,
                hw_report: None,
                var_data: runtime_data,
            },
            td_quote,
        },
        Isolation::TrustedLaunch => GuestIsolation::TrustedLaunch,
    };
    let evidence = GuestEvidence {
        isolation,
        vtpm: VtpmQuote {
            quote: &req.tpm.pcr_quote,
            signature: &req.tpm.pcr_signature,
            pcrs: req.pcrs(),
            // Clients without a log send an empty `TcgLogs`.
            event_log: (!req.tcg_logs.is_empty()).then_some(req.tcg_logs.as_slice()),
        },
        aik_pub: &req.tpm.aik_pub,
        aik_cert: &req.tpm.aik_cert,
    };
    verify_evidence(
        sources,
        pcfg,
        &evidence,
        expected_nonce,
        &AzureGuestSettings::default(),
        now,
    )
    .await
}

/// Find the hardware collateral through `sources` and verify the guest
/// evidence under the provider's configuration `pcfg` (time, roots, grace)
/// at `now`: the hardware report, variable data, vTPM quote, PCRs and log
/// (see the module doc), then that the AK the client names is the one the
/// hardware bound. The quote's extraData must be `expected_nonce` when
/// given. Everything but the ephemeral key, which only a request has.
pub async fn verify_evidence(
    sources: &GuestSources<'_>,
    pcfg: &ProviderConfig,
    ev: &GuestEvidence<'_>,
    expected_nonce: Option<&[u8]>,
    settings: &AzureGuestSettings,
    now: UnixTime,
) -> Result<GuestVerified, ApiError> {
    let (at, pinned) = pcfg.time(now)?;
    let quote_nonce = Attest::parse(ev.vtpm.quote)
        .map(|a| a.extra_data)
        .unwrap_or_default();
    let nonce = expected_nonce.unwrap_or(&quote_nonce);
    let vtpm = &ev.vtpm;
    let mut collateral_claims = Map::new();
    let guest = match &ev.isolation {
        GuestIsolation::Snp { report, cert_chain } => {
            let hw = report.hw_report.ok_or_else(|| {
                guest_error(AzureGuestError::HclReport(
                    attesta_evidence::error::ParseError::Malformed {
                        what: "Azure guest evidence",
                        reason: "no SEV-SNP report".into(),
                    },
                ))
            })?;
            let parsed = snp::parse_report(hw).map_err(|e| ApiError::evidence(e.code(), &e))?;
            let chain = SnpVerifier::verified_chain(
                sources.snp_endorsements,
                sources.snp_chains,
                &parsed,
                cert_chain,
                pcfg,
                at,
            )
            .await?;
            let mut c = attesta_evidence::Claims::new();
            chain.annotate(&mut c);
            collateral_claims.extend(c.into_map());
            let roots = pcfg.roots(snp::with_amd_roots(TrustRoots::empty()), RootKind::AmdArk)?;
            verify_guest(
                report,
                vtpm,
                &IsolationCollateral::SnpChain(&chain.chain),
                nonce,
                &roots,
                settings,
                chain.verify_at,
            )
            .map_err(guest_error)?
        }
        GuestIsolation::Tdx { report, td_quote } => {
            let quote = tdx::parse_td_quote(td_quote).map_err(crate::dcap::tdx_error)?;
            let roots = pcfg.roots(
                sgx::intel_trust_roots(TrustRoots::empty()),
                RootKind::IntelSgx,
            )?;
            let (vc, verify_at, stale_for) =
                sources.tdx.tdx_collateral(&quote, pcfg, &roots, at).await?;
            if let Some(stale) = stale_for {
                collateral_claims.insert("x-attesta-collateral-expired-for".into(), json!(stale));
            }
            verify_guest(
                report,
                vtpm,
                &IsolationCollateral::TdxVerified {
                    td_quote,
                    collateral: &vc,
                },
                nonce,
                &roots,
                settings,
                verify_at,
            )
            .map_err(guest_error)?
        }
        // Trusted Launch VMs have no hardware report to bind the AK: their
        // AK certificate must chain to one of the provider's vTPM CAs.
        GuestIsolation::TrustedLaunch => verify_trusted_launch(
            vtpm,
            ev.aik_pub,
            ev.aik_cert,
            nonce,
            &pcfg.vtpm_roots()?,
            settings,
            at,
        )
        .map_err(guest_error)?,
    };
    if pinned {
        collateral_claims.insert("x-attesta-verification-time".into(), json!(at.0));
    }

    // The AK the client names must be the one the hardware bound.
    if !ev.aik_pub.is_empty() {
        let same = Public::parse(ev.aik_pub).is_ok_and(|p| p.key.same_key(&guest.tpm.ak));
        if !same {
            return Err(guest_error(AzureGuestError::AkPubMismatch));
        }
    }
    Ok(GuestVerified {
        guest,
        collateral_claims,
        quote_nonce,
    })
}

/// The claims of verified guest evidence, whoever sent it (reference
/// §2.6): the guest's, the isolation TEE's type inside
/// `x-ms-isolation-tee`, the quote's nonce, and how the collateral was
/// judged. The server's token and `attesta verify azure-guest` both carry
/// exactly these; the token adds [`request_claims`].
pub fn evidence_claims(v: &GuestVerified) -> Map<String, Value> {
    let mut c = v.guest.claims().into_map();
    if let Some(Value::Object(tee)) = c.get_mut("x-ms-isolation-tee") {
        let ty = match v.guest.report_type {
            HclReportType::Tdx => "tdxvm",
            _ => "sevsnpvm",
        };
        tee.entry("x-ms-attestation-type").or_insert(json!(ty));
    }
    c.insert(
        "x-attesta-azurevm-quote-nonce".into(),
        json!(hex::encode(&v.quote_nonce)),
    );
    c.extend(v.collateral_claims.clone());
    c
}

/// The claims only a request gives (reference §2.6): the protocol
/// version, the OS facts the client states, the verified ephemeral key and
/// the client payload.
fn request_claims(req: &GuestRequest, enc_key: &EncKey) -> Map<String, Value> {
    let number_or_text = |s: &str| {
        s.parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(s))
    };
    let mut c = Map::new();
    c.insert(
        "x-ms-azurevm-attestation-protocol-ver".into(),
        json!(req.protocol_version),
    );
    c.insert("x-ms-azurevm-ostype".into(), json!(req.os_type));
    c.insert("x-ms-azurevm-osdistro".into(), json!(req.os_distro));
    c.insert(
        "x-ms-azurevm-osversion-major".into(),
        number_or_text(&req.os_version_major),
    );
    c.insert(
        "x-ms-azurevm-osversion-minor".into(),
        number_or_text(&req.os_version_minor),
    );
    c.insert("x-ms-azurevm-osbuild".into(), json!(req.os_build));
    c.insert(
        "x-ms-azurevm-is-windows".into(),
        json!(req.os_type.eq_ignore_ascii_case("Windows")),
    );
    c.insert(
        "x-ms-runtime".into(),
        json!({
            "keys": [enc_key.jwk()],
            "client-payload": Value::Object(req.client_payload.clone()),
        }),
    );
    c
}

/// Seal `jwt` to the verified ephemeral key (reference §5.3).
pub fn seal(jwt: &str, key: &EncKey) -> Result<String, ApiError> {
    use aws_lc_rs::{aead, rand, rsa};
    let bad_key = |what: &str| {
        guest_error(AzureGuestError::EncKeyInvalid(format!(
            "it cannot be used for RSAES-PKCS1-v1_5 ({what})"
        )))
    };
    let spki = key.spki_der().ok_or_else(|| bad_key("no RSA public key"))?;
    let public = rsa::PublicEncryptingKey::from_der(&spki).map_err(|e| bad_key(&format!("{e}")))?;
    let wrapper = rsa::Pkcs1PublicEncryptingKey::new(public).map_err(|_| bad_key("key size"))?;
    let mut aes_key = [0u8; 32];
    let mut iv = [0u8; 12];
    rand::fill(&mut aes_key).map_err(|_| ApiError::internal("no randomness for the token key"))?;
    rand::fill(&mut iv).map_err(|_| ApiError::internal("no randomness for the token IV"))?;
    let mut wrapped = vec![0u8; wrapper.ciphertext_size()];
    let wrapped = wrapper
        .encrypt(&aes_key, &mut wrapped)
        .map_err(|_| bad_key("encryption failed"))?
        .to_vec();
    let sealing = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_256_GCM, &aes_key)
            .map_err(|_| ApiError::internal("AES-256-GCM key"))?,
    );
    let mut ciphertext = jwt.as_bytes().to_vec();
    let tag = sealing
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(iv),
            aead::Aad::from(b"Transport Key"),
            &mut ciphertext,
        )
        .map_err(|_| ApiError::internal("AES-256-GCM sealing failed"))?;
    let envelope = json!({
        "EncryptedInnerKey": STANDARD.encode(wrapped),
        "EncryptionParams": {"Iv": STANDARD.encode(iv)},
        "AuthenticationData": STANDARD.encode(tag.as_ref()),
        "Jwt": STANDARD.encode(ciphertext),
    });
    Ok(URL_SAFE_NO_PAD.encode(envelope.to_string()))
}

/// `POST /attest/AzureGuest`.
pub async fn attest(
    state: AppState,
    ctx: ProviderCtx,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Body = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "the request body is not the AzureGuest request {{\"AttestationInfo\": base64url}}: {e}"
        ))
    })?;
    let info = body.attestation_info.as_deref().ok_or_else(|| {
        ApiError::invalid_parameter("the request has no 'AttestationInfo' member")
    })?;
    let nonce = match &body.nonce {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "'nonce' must be a string (the quote's extraData, as UTF-8)",
            ));
        }
    };
    let req =
        GuestRequest::from_member(info).map_err(|e| guest_error(AzureGuestError::Request(e)))?;

    let pcfg = ProviderConfig::of(&ctx.record)?;
    let sources = GuestSources::server(&state);
    let verified = verify_request(&sources, &pcfg, &req, nonce.as_deref(), UnixTime::now()).await?;
    let enc_key = verify_enc_key(
        &verified.guest.tpm,
        &req.tpm.pcr_quote,
        &req.tpm.enc_key_pub,
        &req.tpm.enc_key_certify_info,
        &req.tpm.enc_key_certify_info_signature,
    )
    .map_err(guest_error)?;
    let mut service = evidence_claims(&verified);
    service.extend(request_claims(&req, &enc_key));

    let policy = resolve_policy(
        &state,
        &ctx,
        AttestationType::AzureGuest,
        body.draft_policy.as_deref(),
    )
    .await?;
    let incoming = attesta_policy::incoming_claims(&service, &Map::new());
    let evaluation = state
        .evaluate_policy(&policy.lane, &policy.compiled, incoming)
        .await?;
    let token = issue_token(
        &state,
        &ctx,
        &policy,
        service,
        evaluation.outgoing,
        nonce.map(|n| Value::String(String::from_utf8_lossy(&n).into_owned())),
        TokenShape::plain(state.config.token_lifetime_secs),
    )?;
    Ok(Json(json!({ "token": seal(&token, &enc_key)? })))
}
