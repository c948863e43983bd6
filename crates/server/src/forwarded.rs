//! Who the client is when the node sits behind load balancers.
//!
//! Behind a proxy every TCP peer is the proxy, so per-client throttling
//! would throttle all clients as one and the attestation event would name
//! the proxy. When `limits.trusted_proxies` is set, [`resolve_client`]
//! replaces the connection's peer address, for a request whose peer is a
//! trusted proxy, by the client its `X-Forwarded-For` names. Everything
//! after it (throttling, metrics, the attestation event) sees that address.
//!
//! Which entry: proxies append the address they received the request from,
//! so the list is read from the right, skipping trusted proxies; the first
//! address that is not one is the client. Entries to its left were written
//! by the client itself and are never believed. A request from a trusted
//! proxy without a usable header is the proxy's own (a health probe). The
//! header of a peer that is not a trusted proxy is ignored: any client can
//! write it. `Forwarded` (RFC 7239) is not read; the load balancers this
//! targets all write `X-Forwarded-For`.
//!
//! The resolved client (its throttling key, IPv6 per /64) is also the
//! request's task-local [`current_client`], for work charged per sender
//! deeper down (draft policies, see [`crate::policy_pool`]).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

tokio::task_local! {
    static CLIENT: IpAddr;
}

/// The client key of the request being served (unspecified outside one).
pub fn current_client() -> IpAddr {
    CLIENT
        .try_with(|c| *c)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Most `X-Forwarded-For` entries read (from the right); a longer chain of
/// trusted proxies is a misconfiguration and ends at the last one read.
const MAX_HOPS: usize = 16;

/// Whether `ip` is one of the trusted proxies (IPv4-mapped IPv6 addresses
/// count as their IPv4 address).
pub fn is_trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    proxies.iter().any(|n| n.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port
/// (`192.0.2.1:443`, `[2001:db8::1]:443`, `[2001:db8::1]`).
fn entry(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
}

/// The client of a request that arrived from `peer` carrying the given
/// `X-Forwarded-For` header values (in the order received).
pub fn client_of<'a>(
    proxies: &[IpNet],
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
) -> IpAddr {
    let mut client = peer;
    if !is_trusted(proxies, peer) {
        return client;
    }
    let entries = forwarded_for.rev().flat_map(|v| v.rsplit(','));
    for e in entries.take(MAX_HOPS) {
        match entry(e) {
            Some(ip) => {
                client = ip;
                if !is_trusted(proxies, ip) {
                    break;
                }
            }
            // A proxy wrote something that is no address: believe nothing
            // further left.
            None => break,
        }
    }
    client
}

/// The middleware (outermost but for request ids): rewrites the request's
/// `ConnectInfo` to the forwarded client when the peer is a trusted proxy,
/// and serves the request with that client as [`current_client`].
pub async fn resolve_client(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let proxies = &state.config.limits.trusted_proxies;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut client = peer.map(|p| p.ip());
    if !proxies.is_empty()
        && let Some(peer) = peer
    {
        let values = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        let forwarded = client_of(proxies, peer.ip(), values.into_iter());
        if forwarded != peer.ip() {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(forwarded, 0)));
        }
        client = Some(forwarded);
    }
    let key = client
        .map(crate::conn::client_key)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    CLIENT.scope(key, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let p = nets(&["10.0.0.0/8"]);
        // The client wrote 6.6.6.6 itself; the proxy 10.0.0.2 appended
        // 198.51.100.7 (its peer), and 10.0.0.1 appended 10.0.0.2.
        let h = ["6.6.6.6, 198.51.100.7", "10.0.0.2"];
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), h.into_iter()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let p = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_of(&p, ip("198.51.100.9"), ["203.0.113.1"].into_iter()),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_of(&[], ip("10.0.0.1"), ["203.0.113.1"].into_iter()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ports_brackets_mapped_addresses_and_garbage() {
        let p = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), ["198.51.100.7:4431"].into_iter()),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), ["[2001:db9::5]:80"].into_iter()),
            ip("2001:db9::5")
        );
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), ["[2001:db9::5]"].into_iter()),
            ip("2001:db9::5")
        );
        assert_eq!(
            client_of(&p, ip("::ffff:10.0.0.1"), ["198.51.100.7"].into_iter()),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last address believed.
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), ["198.51.100.7, nonsense"].into_iter()),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), ["nonsense, 10.0.0.3"].into_iter()),
            ip("10.0.0.3")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_read_at_most_max_hops_deep() {
        let p = nets(&["10.0.0.0/8"]);
        let mut v: Vec<String> = vec!["198.51.100.7".into()];
        v.extend((0..MAX_HOPS).map(|i| format!("10.0.1.{i}")));
        let h = v.join(",");
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), [h.as_str()].into_iter()),
            ip("10.0.1.0")
        );
        v.remove(1);
        let h = v.join(",");
        assert_eq!(
            client_of(&p, ip("10.0.0.1"), [h.as_str()].into_iter()),
            ip("198.51.100.7")
        );
    }
}
