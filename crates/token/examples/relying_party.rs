//! A relying party that checks Attesta attestation tokens with this crate,
//! keeping the issuer's keys between tokens.
//!
//! ```sh
//! cargo run -p attesta-token --example relying_party -- \
//!     --issuer https://127.0.0.1:8443/providers/lab --ca attesta-data/tls/cert.pem token.jwt
//! ```
//!
//! The issuer is configured here, never taken from the token; its OpenID
//! metadata must name exactly that issuer and a `jwks_uri` under it
//! ([`rp::check_metadata`]). Keys come from that `jwks_uri` (`/certs`) by
//! `kid` and are cached for an hour; a token whose `kid` is not in the
//! cached set refetches it at most once per 10 s (rotation). `jku`, `x5u`,
//! `jwk` and `x5c` in the token header are never used: [`rp::verify_with_jwks`]
//! looks keys up in the given set only, checks RS256, `exp`/`nbf`, `iss`, and
//! refuses control-plane replies (`x-ms-attestation-type` is required).
//! Exit 0 with the claims as JSON when valid, 1 when not, 2 on bad arguments.
//!
//! With `--tee-policy FILE` (and `--tee-root PEM` for a node whose evidence
//! chains to a test root, e.g. `<data dir>/tee-test/root.pem` of a node with
//! `tee_evidence = "test"` or `"test-snp"`), it also checks the service
//! itself ([`attesta_token::service`]): the certificate of the key that
//! signed the token must carry TEE evidence bound to that key, verifying to
//! Intel's root or AMD's ARKs (or the given one), and the service's claims
//! must satisfy the policy, e.g. `{"require":{"x-ms-sgx-mrenclave":"…"}}`.

use std::time::{Duration, Instant};

use attesta_token::jwks::{Jwks, OpenIdMetadata};
use attesta_token::service::{self, TeePolicy, TeeRequirement};
use attesta_token::{RpError, TokenError, rp};

/// How long a fetched key set is used without asking again.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// The least time between two fetches caused by an unknown `kid`.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);

/// The signing keys of one configured issuer.
struct IssuerKeys {
    issuer: String,
    client: reqwest::Client,
    cached: Option<(Jwks, Instant)>,
}

impl IssuerKeys {
    fn new(issuer: &str, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let issuer = issuer.trim_end_matches('/').to_string();
        rp::check_issuer_url(&issuer).map_err(|e| e.to_string())?;
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15));
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())? {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            issuer,
            client: builder.build().map_err(|e| e.to_string())?,
            cached: None,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        resp.json().await.map_err(|e| format!("{url}: {e}"))
    }

    async fn fetch(&mut self) -> Result<(), String> {
        let meta: OpenIdMetadata = self
            .get(&format!("{}/.well-known/openid-configuration", self.issuer))
            .await?;
        let jwks_uri = rp::check_metadata(&meta, &self.issuer).map_err(|e| e.to_string())?;
        let jwks: Jwks = self.get(&jwks_uri).await?;
        self.cached = Some((jwks, Instant::now()));
        Ok(())
    }

    /// The claims of `token` when it is a valid attestation result of this
    /// issuer (and, with `tee`, of a service whose TEE evidence satisfies it).
    async fn verify(
        &mut self,
        token: &str,
        tee: Option<&TeeRequirement>,
    ) -> Result<serde_json::Value, String> {
        let stale = match &self.cached {
            None => true,
            Some((_, at)) => at.elapsed() > CACHE_FOR,
        };
        if stale {
            self.fetch().await?;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let issuer = self.issuer.clone();
        let check = |keys: &Jwks| rp::verify_with_jwks(token, keys, &issuer, now, 60);
        let (jwks, at) = self.cached.as_ref().ok_or("no key set")?;
        let result = match check(jwks) {
            // Maybe a key rotated in since the set was fetched: ask again,
            // but not for every token with a made-up kid.
            Err(RpError::Token(TokenError::UnknownKey(_))) if at.elapsed() > REFETCH_COOLDOWN => {
                self.fetch().await?;
                let (jwks, _) = self.cached.as_ref().ok_or("no key set")?;
                check(jwks)
            }
            other => other,
        };
        let verified = result.map_err(|e| format!("{}: {e}", e.code()))?;
        if let Some(req) = tee {
            let (jwks, _) = self.cached.as_ref().ok_or("no key set")?;
            service::verify_service_of(token, jwks, &verified, &issuer, now, 60, req)
                .map_err(|e| format!("{}: {e}", e.code()))?;
        }
        Ok(serde_json::Value::Object(verified.claims))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(issuer), Some(file)) = (
        value("--issuer"),
        args.iter()
            .enumerate()
            .find(|(i, a)| {
                !a.starts_with("--")
                    && (*i == 0
                        || !matches!(
                            args[i - 1].as_str(),
                            "--issuer" | "--ca" | "--tee-policy" | "--tee-root"
                        ))
            })
            .map(|(_, a)| a.clone()),
    ) else {
        eprintln!(
            "usage: relying_party --issuer URL [--ca FILE] [--tee-policy FILE [--tee-root PEM]] TOKEN_FILE"
        );
        return std::process::ExitCode::from(2);
    };
    let ca = match value("--ca").map(std::fs::read).transpose() {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("cannot read the CA file: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let token = match std::fs::read_to_string(&file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            eprintln!("cannot read {file}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let tee = match value("--tee-policy") {
        None => None,
        Some(path) => match tee_requirement(&path, value("--tee-root").as_deref()) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("{e}");
                return std::process::ExitCode::from(2);
            }
        },
    };
    let mut keys = match IssuerKeys::new(&issuer, ca.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    match keys.verify(&token, tee.as_ref()).await {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&claims).unwrap_or_default()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid token: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// The policy file and the roots the service's evidence may chain to:
/// Intel's SGX root and AMD's ARKs, plus `test_root` (PEM) when given.
fn tee_requirement(policy: &str, test_root: Option<&str>) -> Result<TeeRequirement, String> {
    use attesta_evidence::roots::{RootKind, TrustRoots};
    let text = std::fs::read(policy).map_err(|e| format!("cannot read {policy}: {e}"))?;
    let mut roots = attesta_evidence::snp::with_amd_roots(
        attesta_evidence::sgx::intel_trust_roots(TrustRoots::empty()),
    );
    if let Some(p) = test_root {
        let pem = std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"))?;
        for der in attesta_evidence::sgx::pki::pem_certificates(&pem).map_err(|e| e.to_string())? {
            // An AMD ARK (`CN=ARK-…`, e.g. of a node with tee_evidence =
            // "test-snp") anchors SEV-SNP evidence; anything else SGX/TDX.
            let cert = attesta_evidence::sgx::pki::parse_cert(&der).map_err(|e| e.to_string())?;
            let ark = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok())
                .is_some_and(|cn| cn.starts_with("ARK-"));
            let kind = if ark {
                RootKind::AmdArk
            } else {
                RootKind::IntelSgx
            };
            roots = roots.with_configured(kind, der);
        }
    }
    Ok(TeeRequirement {
        roots,
        collateral: Default::default(),
        policy: TeePolicy::from_json(&text)?,
        release: None,
    })
}
