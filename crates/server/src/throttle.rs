//! Request throttling and load shedding.
//!
//! Token buckets, each refilled continuously at `rate` per second up to
//! `burst`:
//! - attest (data plane) per client address and per provider;
//! - control plane (policies, certificates) per client address and per
//!   provider, admin routes per client address;
//! - failed authentications (responses 401) per client address: when that
//!   bucket is empty, control-plane and admin requests from the address get
//!   429 before their credentials are even looked at, which turns an online
//!   token-guessing attack into a few guesses a second.
//!
//! A refused request gets 429 `TooManyRequests` with `Retry-After` (the
//! seconds until a token is back), MAA's behaviour (reference §6.1). When a
//! per-address bucket refused it, the answer is held back for
//! `throttled_reply_delay_ms` first (see [`slowed`]).
//!
//! Load shedding: at most `max_inflight_attests` attest requests are in
//! progress on the node; the next gets 503 `ServiceUnavailable` with
//! `Retry-After` at once, instead of queueing until every request is slow.
//!
//! Memory is bounded: each bucket map holds at most `max_tracked_clients`
//! keys. When full, buckets that have refilled completely are dropped first
//! (forgetting them loses nothing: a new bucket starts full); if none has,
//! the map is cleared, which favours availability over precision for one
//! refill period.
//!
//! Client addresses are the TCP peer's (IPv6 per /64, see
//! [`crate::conn::client_key`]), or, for a request from a configured
//! trusted proxy, the client its `X-Forwarded-For` names (see
//! [`crate::forwarded`]); the header of any other peer is ignored.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::config::LimitsConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// A set of token buckets keyed by client or provider.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    map: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.at = now;
    }
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: f64, burst: f64, max_keys: usize) -> Self {
        Self {
            rate,
            burst,
            max_keys: max_keys.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until one token is back when `tokens` are left (at least 1).
    fn retry_after(&self, tokens: f64) -> u64 {
        (((1.0 - tokens) / self.rate).ceil() as u64).max(1)
    }

    fn with_bucket<T>(&self, key: &K, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let now = Instant::now();
        let mut map = self.map.lock().expect("throttle lock");
        if !map.contains_key(key) && map.len() >= self.max_keys {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| {
                let mut b = *b;
                b.refill(now, rate, burst);
                b.tokens < burst
            });
            if map.len() >= self.max_keys {
                tracing::warn!(
                    keys = map.len(),
                    "throttle table full of active clients; clearing it"
                );
                map.clear();
            }
        }
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.refill(now, self.rate, self.burst);
        f(b)
    }

    /// Take one token, or say how many seconds until one is back.
    pub fn take(&self, key: &K) -> Result<(), u64> {
        let tokens = self.with_bucket(key, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                None
            } else {
                Some(b.tokens)
            }
        });
        match tokens {
            None => Ok(()),
            Some(t) => Err(self.retry_after(t)),
        }
    }

    /// Whether a token is available, without taking it.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let tokens = self.with_bucket(key, |b| b.tokens);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(self.retry_after(tokens))
        }
    }

    /// Take a token if there is one (recording an event already answered).
    pub fn charge(&self, key: &K) {
        self.with_bucket(key, |b| b.tokens = (b.tokens - 1.0).max(0.0));
    }

    /// Take `amount` tokens, going into debt down to `-burst`: for costs
    /// known only afterwards (policy CPU time), which must still be paid.
    pub fn debit(&self, key: &K, amount: f64) {
        let burst = self.burst;
        self.with_bucket(key, |b| b.tokens = (b.tokens - amount).max(-burst));
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.map.lock().expect("throttle lock").len()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every throttle of the node.
#[derive(Debug)]
pub struct Throttle {
    pub attest_ip: Buckets<IpAddr>,
    pub attest_provider: Buckets<String>,
    pub control_ip: Buckets<IpAddr>,
    pub control_provider: Buckets<String>,
    pub auth_failures_ip: Buckets<IpAddr>,
    /// Permits for attest requests in progress.
    pub inflight_attests: Arc<Semaphore>,
    limits: LimitsConfig,
}

impl Throttle {
    pub fn new(l: &LimitsConfig) -> Self {
        let n = l.max_tracked_clients;
        Self {
            attest_ip: Buckets::new(l.attest_per_ip_per_sec, l.attest_per_ip_burst, n),
            attest_provider: Buckets::new(
                l.attest_per_provider_per_sec,
                l.attest_per_provider_burst,
                n,
            ),
            control_ip: Buckets::new(l.control_per_ip_per_sec, l.control_per_ip_burst, n),
            control_provider: Buckets::new(
                l.control_per_provider_per_sec,
                l.control_per_provider_burst,
                n,
            ),
            auth_failures_ip: Buckets::new(
                l.auth_failures_per_ip_per_sec,
                l.auth_failures_per_ip_burst,
                n,
            ),
            inflight_attests: Arc::new(Semaphore::new(l.max_inflight_attests)),
            limits: l.clone(),
        }
    }
}

/// Which budget a request draws on.
#[derive(Debug, PartialEq, Eq)]
enum Plane {
    Attest(String),
    Control(String),
    Admin,
    /// Metadata, `/certs`, health, unknown routes: bounded only by the
    /// connection limits (they are cheap and cached).
    Other,
}

/// Classify by path; the provider is the `/providers/{name}` segment, else
/// the host (its first label; IP literals and `localhost` are one key).
/// Only a throttling key: the route's own extractor decides the provider.
fn plane(req: &Request) -> Plane {
    let path = req.uri().path();
    let (provider, rest) = match path.strip_prefix("/providers/") {
        Some(r) => {
            let (name, rest) = r.split_once('/').unwrap_or((r, ""));
            (format!("p:{}", name.to_ascii_lowercase()), rest)
        }
        None => (host_key(req), path.trim_start_matches('/')),
    };
    if rest.starts_with("attest/") {
        Plane::Attest(provider)
    } else if rest.starts_with("policies/") || rest.starts_with("certificates") {
        Plane::Control(provider)
    } else if path.starts_with("/admin") || path == "/metrics" {
        Plane::Admin
    } else {
        Plane::Other
    }
}

fn host_key(req: &Request) -> String {
    let host = req
        .uri()
        .authority()
        .map(|a| a.host().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(|h| {
                    let h = h.trim();
                    match h.strip_prefix('[') {
                        Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
                        None => h.rsplit_once(':').map_or(h, |(name, _)| name).to_string(),
                    }
                })
        })
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<IpAddr>().is_ok() || host == "localhost" {
        return "h:".into();
    }
    let label: String = host
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .take(63)
        .collect();
    format!("h:{label}")
}

/// The client key of a request (see [`crate::conn::client_key`]); requests
/// without connection info (in-process use) share one key.
fn client(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| crate::conn::client_key(c.0.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn limited(what: &str, rate: f64, burst: f64, retry: u64) -> Response {
    ApiError::too_many_requests(
        format!("too many {what} (limit {rate}/s, burst {burst}); retry after {retry} s"),
        retry,
    )
    .into_response()
}

/// The throttling middleware (see the module docs).
pub async fn throttle(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let t = &state.throttle;
    let l = &t.limits;
    let ip = client(&req);
    match plane(&req) {
        Plane::Attest(provider) => {
            if let Err(s) = t.attest_ip.take(&ip) {
                crate::metrics::throttled("attest_ip");
                return slowed(
                    l,
                    limited(
                        "attestation requests from this client",
                        l.attest_per_ip_per_sec,
                        l.attest_per_ip_burst,
                        s,
                    ),
                )
                .await;
            }
            if let Err(s) = t.attest_provider.take(&provider) {
                crate::metrics::throttled("attest_provider");
                return limited(
                    "attestation requests for this provider",
                    l.attest_per_provider_per_sec,
                    l.attest_per_provider_burst,
                    s,
                );
            }
            let Ok(_permit) = t.inflight_attests.clone().try_acquire_owned() else {
                crate::metrics::throttled("attest_inflight");
                return ApiError::service_unavailable(
                    format!(
                        "the service is at its limit of {} attestations in progress; retry after 1 s",
                        l.max_inflight_attests
                    ),
                    1,
                )
                .into_response();
            };
            next.run(req).await
        }
        Plane::Control(provider) => {
            if let Some(r) = auth_gate(t, &ip) {
                return slowed(l, r).await;
            }
            if let Err(s) = t.control_ip.take(&ip) {
                crate::metrics::throttled("control_ip");
                return slowed(
                    l,
                    limited(
                        "control-plane requests from this client",
                        l.control_per_ip_per_sec,
                        l.control_per_ip_burst,
                        s,
                    ),
                )
                .await;
            }
            if let Err(s) = t.control_provider.take(&provider) {
                crate::metrics::throttled("control_provider");
                return limited(
                    "control-plane requests for this provider",
                    l.control_per_provider_per_sec,
                    l.control_per_provider_burst,
                    s,
                );
            }
            record_auth(t, &ip, next.run(req).await)
        }
        Plane::Admin => {
            if let Some(r) = auth_gate(t, &ip) {
                return slowed(l, r).await;
            }
            if let Err(s) = t.control_ip.take(&ip) {
                crate::metrics::throttled("control_ip");
                return slowed(
                    l,
                    limited(
                        "admin requests from this client",
                        l.control_per_ip_per_sec,
                        l.control_per_ip_burst,
                        s,
                    ),
                )
                .await;
            }
            record_auth(t, &ip, next.run(req).await)
        }
        Plane::Other => next.run(req).await,
    }
}

/// Hold a 429 earned by one client address for
/// `limits.throttled_reply_delay_ms` before sending it. A flood from one
/// address is almost always a closed loop (each request waits for its
/// answer), so this cuts its rate to connections / delay, and with it the
/// CPU the node spends refusing it; a well-behaved client, which honours
/// `Retry-After`, waits longer than that anyway. The wait holds no permit:
/// only the connection, which `max_connections_per_ip` bounds.
async fn slowed(l: &LimitsConfig, resp: Response) -> Response {
    if l.throttled_reply_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(l.throttled_reply_delay_ms)).await;
    }
    resp
}

/// 429 when the client has used up its failed authentications.
fn auth_gate(t: &Throttle, ip: &IpAddr) -> Option<Response> {
    t.auth_failures_ip.check(ip).err().map(|s| {
        crate::metrics::throttled("auth_failures");
        limited(
            "failed authentications from this client",
            t.limits.auth_failures_per_ip_per_sec,
            t.limits.auth_failures_per_ip_burst,
            s,
        )
    })
}

fn record_auth(t: &Throttle, ip: &IpAddr, resp: Response) -> Response {
    if resp.status() == StatusCode::UNAUTHORIZED {
        t.auth_failures_ip.charge(ip);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_retry_time() {
        let b: Buckets<u8> = Buckets::new(0.5, 3.0, 10);
        for _ in 0..3 {
            assert_eq!(b.take(&1), Ok(()));
        }
        // Empty: one token takes 2 s at 0.5/s.
        assert_eq!(b.take(&1), Err(2));
        // Another key has its own bucket.
        assert_eq!(b.take(&2), Ok(()));
    }

    #[test]
    fn check_does_not_take_and_charge_floors_at_zero() {
        let b: Buckets<u8> = Buckets::new(1.0, 2.0, 10);
        assert_eq!(b.check(&1), Ok(()));
        assert_eq!(b.check(&1), Ok(()));
        b.charge(&1);
        b.charge(&1);
        b.charge(&1);
        assert_eq!(b.check(&1), Err(1));
    }

    #[test]
    fn the_table_is_bounded() {
        let b: Buckets<u32> = Buckets::new(1.0, 5.0, 100);
        for k in 0..1000 {
            let _ = b.take(&k);
            assert!(b.len() <= 100);
        }
        // Full buckets are evicted first: an untouched key refilled to the
        // burst is forgotten, a drained one is kept.
        let b: Buckets<u32> = Buckets::new(0.001, 2.0, 2);
        b.charge(&1);
        b.charge(&1);
        b.check(&2).unwrap();
        b.check(&3).unwrap();
        assert_eq!(b.check(&1), Err(1000));
    }

    fn req(uri: &str, host: &str) -> Request {
        Request::builder()
            .uri(uri)
            .header(header::HOST, host)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn requests_are_classified_by_path_and_provider() {
        assert_eq!(
            plane(&req("/attest/SgxEnclave?api-version=1", "127.0.0.1:8443")),
            Plane::Attest("h:".into())
        );
        assert_eq!(
            plane(&req("/providers/Contoso/attest/TdxVm", "127.0.0.1")),
            Plane::Attest("p:contoso".into())
        );
        assert_eq!(
            plane(&req("/policies/SgxEnclave", "contoso.eus.example.com:443")),
            Plane::Control("h:contoso".into())
        );
        assert_eq!(
            plane(&req("/certificates:add", "[::1]:8443")),
            Plane::Control("h:".into())
        );
        assert_eq!(plane(&req("/admin/providers", "x")), Plane::Admin);
        assert_eq!(plane(&req("/certs", "x")), Plane::Other);
    }
}
