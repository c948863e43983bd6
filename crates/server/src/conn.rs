//! Connection hygiene below HTTP: how many connections the node holds, per
//! client address and in all, and how long one may sit idle.
//!
//! [`LimitAcceptor`] runs right after `accept(2)`, before the TLS handshake
//! (which `axum_server`'s rustls acceptor bounds with its own timeout). A
//! connection over either cap is closed at once, before it costs a
//! handshake. An admitted connection carries a [`ConnGuard`] for its whole
//! life, so the counts are exact however it ends.
//!
//! Idle connections: hyper's HTTP/1 `header_read_timeout` bounds a request
//! whose headers trickle in, but neither protocol closes a connection that
//! simply sends nothing (HTTP/2 keep-alive pings only detect dead peers, and
//! a live idle peer answers them). So the stream wrapper closes a connection
//! that has had no request in flight for `idle_timeout`; the service wrapper
//! tells it when requests start and finish. Bytes alone do not count as
//! activity: a client that only sends pings or header fragments is idle.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::config::LimitsConfig;

/// The key a client is counted and throttled under: its IPv4 address, or
/// the /64 of an IPv6 address (one subscriber usually holds a whole /64,
/// so counting single IPv6 addresses would let one client rotate freely).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Counts open connections in all and per client key.
#[derive(Debug)]
pub struct ConnLimiter {
    max_total: usize,
    max_per_ip: usize,
    trusted_proxies: Vec<ipnet::IpNet>,
    idle_timeout: Duration,
    counts: Mutex<Counts>,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    // Entries are removed when their count reaches zero, so the map never
    // holds more than `max_total` keys.
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnLimiter {
    pub fn new(limits: &LimitsConfig) -> Self {
        Self {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            trusted_proxies: limits.trusted_proxies.clone(),
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
            counts: Mutex::new(Counts::default()),
            epoch: Instant::now(),
        }
    }

    /// Admit one more connection from `ip`, or say which cap refuses it. A
    /// trusted proxy (`limits.trusted_proxies`) carries many clients, so
    /// only the node's cap applies to it.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, &'static str> {
        let key =
            (!crate::forwarded::is_trusted(&self.trusted_proxies, ip)).then(|| client_key(ip));
        let mut c = self.counts.lock().expect("connection counts lock");
        if c.total >= self.max_total {
            crate::metrics::throttled("connections_total");
            return Err("the node's connection limit is reached");
        }
        if let Some(key) = key {
            let n = c.per_ip.entry(key).or_insert(0);
            if *n >= self.max_per_ip {
                crate::metrics::throttled("connections_per_ip");
                return Err("this client's connection limit is reached");
            }
            *n += 1;
        }
        c.total += 1;
        Ok(ConnGuard {
            limiter: self.clone(),
            key,
        })
    }

    /// Open connections now (all clients).
    pub fn open(&self) -> usize {
        self.counts.lock().expect("connection counts lock").total
    }

    fn release(&self, key: Option<IpAddr>) {
        let mut c = self.counts.lock().expect("connection counts lock");
        c.total = c.total.saturating_sub(1);
        if let Some(key) = key
            && let Some(n) = c.per_ip.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&key);
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// One admitted connection; dropping it frees its slot.
#[derive(Debug)]
pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    /// None: a trusted proxy, counted in the node's total only.
    key: Option<IpAddr>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.limiter.release(self.key);
    }
}

/// Requests in flight on one connection and when it last became idle.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since the limiter's epoch.
    idle_since_ms: AtomicU64,
}

/// The `axum_server` acceptor that applies [`ConnLimiter`]; wrap it in the
/// rustls acceptor so refusals happen before the handshake.
#[derive(Debug, Clone)]
pub struct LimitAcceptor {
    limiter: Arc<ConnLimiter>,
}

impl LimitAcceptor {
    pub fn new(limiter: Arc<ConnLimiter>) -> Self {
        Self { limiter }
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for LimitAcceptor {
    type Stream = LimitedStream;
    type Service = ConnService<S>;
    type Future = std::future::Ready<io::Result<(LimitedStream, ConnService<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            Err(e) => return std::future::ready(Err(e)),
        };
        let guard = match self.limiter.try_acquire(peer.ip()) {
            Ok(g) => g,
            Err(why) => {
                tracing::debug!(peer = %peer, why, "connection refused");
                // Dropping the stream closes it now.
                return std::future::ready(Err(io::Error::other(why)));
            }
        };
        // Responses are small; do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.limiter.now_ms()),
        });
        let limiter = self.limiter.clone();
        let deadline =
            limiter.epoch + Duration::from_millis(limiter.now_ms()) + limiter.idle_timeout;
        std::future::ready(Ok((
            LimitedStream {
                inner: stream,
                activity: activity.clone(),
                sleep: Box::pin(tokio::time::sleep_until(deadline)),
                limiter,
                _guard: guard,
                peer,
            },
            ConnService {
                inner: service,
                activity,
                limiter: self.limiter.clone(),
            },
        )))
    }
}

/// A TCP stream that holds its connection slot and closes itself after
/// `idle_timeout` without a request in flight.
#[derive(Debug)]
pub struct LimitedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
    sleep: Pin<Box<Sleep>>,
    limiter: Arc<ConnLimiter>,
    _guard: ConnGuard,
    peer: SocketAddr,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            return Poll::Ready(r);
        }
        if this.activity.in_flight.load(Ordering::Acquire) > 0 {
            return Poll::Pending;
        }
        let since = this.activity.idle_since_ms.load(Ordering::Acquire);
        let deadline =
            this.limiter.epoch + Duration::from_millis(since) + this.limiter.idle_timeout;
        if this.sleep.deadline() != deadline {
            this.sleep.as_mut().reset(deadline);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            tracing::debug!(peer = %this.peer, "closing an idle connection");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            )));
        }
        Poll::Pending
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The per-connection service: counts requests in flight for the idle timer.
#[derive(Debug, Clone)]
pub struct ConnService<S> {
    inner: S,
    activity: Arc<Activity>,
    limiter: Arc<ConnLimiter>,
}

/// Marks a request finished (however its future ends).
struct InFlight {
    activity: Arc<Activity>,
    limiter: Arc<ConnLimiter>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity
            .idle_since_ms
            .store(self.limiter.now_ms(), Ordering::Release);
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S, R> tower::Service<R> for ConnService<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let mark = InFlight {
            activity: self.activity.clone(),
            limiter: self.limiter.clone(),
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let _mark = mark;
            fut.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(total: usize, per_ip: usize) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter::new(&LimitsConfig {
            max_connections: total,
            max_connections_per_ip: per_ip,
            ..LimitsConfig::default()
        }))
    }

    #[tokio::test]
    async fn caps_per_ip_and_in_all_and_frees_on_drop() {
        let l = limiter(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let g1 = l.try_acquire(a).unwrap();
        let _g2 = l.try_acquire(a).unwrap();
        assert_eq!(
            l.try_acquire(a).unwrap_err(),
            "this client's connection limit is reached"
        );
        let _g3 = l.try_acquire(b).unwrap();
        assert_eq!(
            l.try_acquire(b).unwrap_err(),
            "the node's connection limit is reached"
        );
        drop(g1);
        assert_eq!(l.open(), 2);
        assert!(l.try_acquire(a).is_ok());
    }

    #[tokio::test]
    async fn a_trusted_proxy_is_held_only_to_the_nodes_cap() {
        let l = Arc::new(ConnLimiter::new(&LimitsConfig {
            max_connections: 4,
            max_connections_per_ip: 1,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..LimitsConfig::default()
        }));
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| l.try_acquire(proxy).unwrap()).collect();
        let _o = l.try_acquire(other).unwrap();
        assert_eq!(
            l.try_acquire(other).unwrap_err(),
            "the node's connection limit is reached"
        );
        assert_eq!(
            l.try_acquire(proxy).unwrap_err(),
            "the node's connection limit is reached"
        );
        drop(held);
        assert_eq!(l.open(), 1);
        assert_eq!(
            l.try_acquire(other).unwrap_err(),
            "this client's connection limit is reached"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
