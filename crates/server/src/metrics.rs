//! Prometheus metrics and the one structured event per attestation.
//!
//! Counters and histograms live in one process-wide registry
//! ([`Metrics::global`]), updated where things happen: the attest observer
//! layer ([`observe_attest`]) counts every attest request by provider, type,
//! verdict and error code, times it, and emits the `attestation` event; the
//! attest flow records its stages (decode, collateral, verify, policy, sign)
//! into the request's [`AttestRecord`] through [`stage`]; the throttle and the
//! connection limiter count what they refuse ([`throttled`]). Values that
//! belong to one server's state — the collateral cache's counts, seconds
//! until the earliest collateral `nextUpdate`, signing-key ages — are read
//! from that state when `/metrics` is scraped ([`render`]), so they are
//! never stale.
//!
//! Label values are bounded: the type is a known attestation type (or
//! `unknown`), the provider a provider that exists (or `unknown`), the error
//! code one of the service's static codes. A client cannot grow the series
//! by sending made-up paths.
//!
//! `/metrics` answers on the main listener behind the admin token, or —
//! with `metrics.listen` configured — anonymously on a separate plain-HTTP
//! listener meant for an internal network (see the README).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCodes;
use crate::state::AppState;

/// Where `/metrics` is served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate plain-HTTP listener for `/metrics` (e.g.
    /// `10.0.0.5:9464`), anonymous: bind it to an internal address only.
    /// Unset: `/metrics` is on the main HTTPS listener behind the admin token.
    pub listen: Option<SocketAddr>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttestLabels {
    provider: String,
    r#type: String,
    verdict: &'static str,
    error_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreOpLabels {
    operation: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s: a warm SGX attest is a few ms, a cold one waits on
    // the vendor's PCS.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// The process's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    attest_requests: Family<AttestLabels, Counter>,
    attest_seconds: HistogramFamily<TypeLabels>,
    stage_seconds: HistogramFamily<StageLabels>,
    throttled: Family<LimitLabels, Counter>,
    collateral: Family<EventLabels, Gauge<i64>>,
    collateral_next_update: Gauge<i64>,
    key_age: Family<ProviderLabels, Gauge<i64>>,
    store_ops: Family<StoreOpLabels, Gauge<i64>>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("attesta");
        let attest_requests = Family::<AttestLabels, Counter>::default();
        registry.register(
            "attest_requests",
            "Attest requests by provider, attestation type, verdict (accepted, rejected, throttled, unavailable, error) and error code",
            attest_requests.clone(),
        );
        let attest_seconds: HistogramFamily<TypeLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "attest_duration_seconds",
            "Whole attest request time by attestation type",
            attest_seconds.clone(),
        );
        let stage_seconds: HistogramFamily<StageLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "attest_stage_duration_seconds",
            "Attest time per stage (decode, collateral, verify, policy, sign) by attestation type; verify excludes collateral",
            stage_seconds.clone(),
        );
        let throttled = Family::<LimitLabels, Counter>::default();
        registry.register(
            "throttled",
            "Requests and connections refused by a limit (429, 503, closed connections), by limit",
            throttled.clone(),
        );
        // Counts owned by the collateral service, copied at scrape time:
        // exposed as gauges of monotonic values (the service keeps them).
        let collateral = Family::<EventLabels, Gauge<i64>>::default();
        registry.register(
            "collateral_cache_events",
            "DCAP collateral lookups and upstream requests since start: hit, miss, upstream_fetch, upstream_failure (monotonic)",
            collateral.clone(),
        );
        let collateral_next_update = Gauge::<i64>::default();
        registry.register(
            "collateral_next_update_seconds",
            "Seconds until the earliest nextUpdate of the collateral this node holds (negative: expired; absent collateral: not reported)",
            collateral_next_update.clone(),
        );
        let key_age = Family::<ProviderLabels, Gauge<i64>>::default();
        registry.register(
            "signing_key_age_seconds",
            "Age of each provider's active token-signing key",
            key_age.clone(),
        );
        let store_ops = Family::<StoreOpLabels, Gauge<i64>>::default();
        registry.register(
            "store_operations",
            "Store (database) operations since start by operation and result (ok, error), monotonic; attestation itself makes none",
            store_ops.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            attest_requests,
            attest_seconds,
            stage_seconds,
            throttled,
            collateral,
            collateral_next_update,
            key_age,
            store_ops,
        }
    }

    /// The process-wide metrics.
    pub fn global() -> &'static Metrics {
        static M: OnceLock<Metrics> = OnceLock::new();
        M.get_or_init(Metrics::new)
    }
}

/// Count one refusal by a limit (`attest_ip`, `attest_provider`,
/// `attest_inflight`, `control_ip`, `control_provider`, `auth_failures`,
/// `connections_total`, `connections_per_ip`).
pub fn throttled(limit: &'static str) {
    Metrics::global()
        .throttled
        .get_or_create(&LimitLabels { limit })
        .inc();
}

/// What the attest flow learns about one request, reported once by
/// [`observe_attest`].
#[derive(Debug, Default)]
pub struct AttestRecord {
    provider: Option<String>,
    tcb_status: Option<String>,
    stages: Vec<(&'static str, f64)>,
}

tokio::task_local! {
    static RECORD: Arc<Mutex<AttestRecord>>;
}

fn with_record(f: impl FnOnce(&mut AttestRecord)) {
    let _ = RECORD.try_with(|r| f(&mut r.lock().unwrap_or_else(|p| p.into_inner())));
}

/// The provider the request was resolved to (it exists).
pub fn note_provider(name: &str) {
    with_record(|r| r.provider = Some(name.to_string()));
}

/// The TCB status the evidence was verified with.
pub fn note_tcb_status(status: &str) {
    with_record(|r| r.tcb_status = Some(status.to_string()));
}

/// Record that stage `name` ran from `since` until now. `verify` is
/// recorded net of any `collateral` time recorded inside it.
pub fn stage(name: &'static str, since: Instant) {
    let secs = since.elapsed().as_secs_f64();
    with_record(|r| {
        let secs = if name == "verify" {
            let collateral: f64 = r
                .stages
                .iter()
                .filter(|(n, _)| *n == "collateral")
                .map(|(_, s)| s)
                .sum();
            (secs - collateral).max(0.0)
        } else {
            secs
        };
        r.stages.push((name, secs));
    });
}

/// The attestation type named by an attest path, normalised to a known
/// type (`Tpm:quote` and `Tpm:challenge` are `Tpm`), else `unknown`.
fn attest_type(path: &str) -> String {
    let Some((_, rest)) = path.split_once("attest/") else {
        return "unknown".into();
    };
    let raw = rest.split([':', '/']).next().unwrap_or("");
    raw.parse::<attesta_evidence::AttestationType>()
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn verdict(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "accepted",
        429 => "throttled",
        503 => "unavailable",
        400..=499 => "rejected",
        _ => "error",
    }
}

/// The attest observer layer: times the request, counts it, and emits one
/// `attestation` event with provider, type, verdict, error code, TCB status,
/// duration, request id and client address.
pub async fn observe_attest(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.contains("/attest/") && !path.starts_with("attest/") {
        return next.run(req).await;
    }
    let ty = attest_type(path);
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let record = Arc::new(Mutex::new(AttestRecord::default()));
    let started = Instant::now();
    let resp = RECORD.scope(record.clone(), next.run(req)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = resp.status();
    let verdict = verdict(status);
    let codes = resp.extensions().get::<ErrorCodes>().copied();
    let error_code = codes
        .map(|c| c.inner.unwrap_or(c.code))
        .unwrap_or(match verdict {
            "accepted" => "",
            _ => crate::error::code_for_status(status),
        });
    let r = std::mem::take(&mut *record.lock().unwrap_or_else(|p| p.into_inner()));
    let provider = r.provider.unwrap_or_else(|| "unknown".into());
    let m = Metrics::global();
    m.attest_requests
        .get_or_create(&AttestLabels {
            provider: provider.clone(),
            r#type: ty.clone(),
            verdict,
            error_code: error_code.to_string(),
        })
        .inc();
    m.attest_seconds
        .get_or_create(&TypeLabels { r#type: ty.clone() })
        .observe(elapsed);
    for (stage, secs) in &r.stages {
        m.stage_seconds
            .get_or_create(&StageLabels {
                stage,
                r#type: ty.clone(),
            })
            .observe(*secs);
    }
    tracing::info!(
        target: "attesta::attestation",
        provider = %provider,
        attestation_type = %ty,
        verdict,
        status = status.as_u16(),
        error_code,
        tcb_status = r.tcb_status.as_deref().unwrap_or(""),
        duration_ms = elapsed * 1000.0,
        request_id = %request_id,
        client = %client,
        "attestation"
    );
    resp
}

/// The request id of a request (`x-ms-request-id`, as sent or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The header MAA's clients send and read.
pub const REQUEST_ID_HEADER: &str = "x-ms-request-id";

/// A client's request id is kept when it is 1–128 visible ASCII characters
/// (UUIDs and the like); anything else is replaced, so logs never carry
/// control characters or unbounded text from a client.
fn acceptable_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_string())
}

/// A random UUID (version 4) text.
fn new_request_id() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The request-id layer (outermost): takes the client's `x-ms-request-id`
/// or makes one, makes it visible to handlers and logs (a span around the
/// request), and echoes it on every response, errors included.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// The metrics text (OpenMetrics) with this server's state read now.
pub async fn render(state: &AppState) -> String {
    let m = Metrics::global();
    let counts = state.collateral.counts();
    for (event, v) in [
        ("hit", counts.hits),
        ("miss", counts.misses),
        ("upstream_fetch", counts.upstream_fetches),
        ("upstream_failure", counts.upstream_failures),
    ] {
        m.collateral
            .get_or_create(&EventLabels { event })
            .set(i64::try_from(v).unwrap_or(i64::MAX));
    }
    let now = attesta_evidence::UnixTime::now().0 as i64;
    if let Some(next) = state.collateral.earliest_next_update() {
        m.collateral_next_update.set(next - now);
    }
    if let Ok(providers) = state.store.list_providers().await {
        m.key_age.clear();
        for p in providers {
            let subject = state.canonical_base(&p.name);
            if let Ok(ring) = state.signing.ring(&p.name, &subject) {
                let created = ring.read().expect("key ring lock").active_created_at();
                m.key_age
                    .get_or_create(&ProviderLabels { provider: p.name })
                    .set(now - created as i64);
            }
        }
    }
    // After the provider list above, so that this scrape's own read counts.
    for (operation, ok, err) in state.store_ops.snapshot() {
        for (result, v) in [("ok", ok), ("error", err)] {
            m.store_ops
                .get_or_create(&StoreOpLabels { operation, result })
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        }
    }
    let mut out = String::new();
    let registry = m.registry.lock().unwrap_or_else(|p| p.into_inner());
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `/metrics` response.
pub async fn response(state: &AppState) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(state).await).into_response()
}

/// Serve `/metrics` alone, anonymously, over plain HTTP on `addr` (the
/// `metrics.listen` listener). Returns the bound address and the task.
pub async fn serve_listener(
    addr: SocketAddr,
    state: AppState,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |axum::extract::State(s): axum::extract::State<AppState>| async move {
                    response(&s).await
                },
            ),
        )
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "metrics are served on http://{bound}/metrics");
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attest_paths_name_known_types_only() {
        assert_eq!(attest_type("/attest/SgxEnclave"), "SgxEnclave");
        assert_eq!(attest_type("/providers/x/attest/sgxenclave"), "SgxEnclave");
        assert_eq!(attest_type("/attest/Tpm:quote"), "Tpm");
        assert_eq!(attest_type("/attest/NoSuchType"), "unknown");
        assert_eq!(attest_type("/attest/%00evil"), "unknown");
    }

    #[test]
    fn client_request_ids_are_kept_only_when_printable_and_short() {
        let ok = HeaderValue::from_static("3f2c-AB_12");
        assert_eq!(acceptable_id(&ok).as_deref(), Some("3f2c-AB_12"));
        assert_eq!(acceptable_id(&HeaderValue::from_static("a b")), None);
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(acceptable_id(&long), None);
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4: {id}");
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn verdicts_follow_the_status() {
        assert_eq!(verdict(StatusCode::OK), "accepted");
        assert_eq!(verdict(StatusCode::BAD_REQUEST), "rejected");
        assert_eq!(verdict(StatusCode::TOO_MANY_REQUESTS), "throttled");
        assert_eq!(verdict(StatusCode::SERVICE_UNAVAILABLE), "unavailable");
        assert_eq!(verdict(StatusCode::INTERNAL_SERVER_ERROR), "error");
    }
}
