//! The visitor's IP address, which per-address limits, IP bans and the audit
//! log use: the TCP peer, unless the peer is a trusted reverse proxy; then the
//! nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Entries are read right to left because only the right end is written by
//! proxies we trust; anything further left came from the client and could be
//! forged.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use warp::Filter;

#[derive(Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values it sent.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for.rev().flat_map(|value| value.rsplit(','));
        for hop in hops {
            // A malformed entry was not written by a proxy we trust: stop at
            // the last hop we could vouch for.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(canonical)
}

/// IPv4 peers of a dual-stack listener arrive as `::ffff:a.b.c.d`; bans and
/// limits should see one address either way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The TCP peer of a request, put in its extensions by our listener
/// ([`super::server`]).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// A warp filter extracting the visitor's address.
pub fn client_ip(
    trusted: Arc<TrustedProxies>,
) -> impl Filter<Extract = (IpAddr,), Error = Infallible> + Clone {
    warp::ext::optional::<Peer>()
        .and(warp::header::headers_cloned())
        .map(move |peer: Option<Peer>, headers: warp::http::HeaderMap| {
            let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
            let values = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok());
            trusted.client_ip(peer, values)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("10.0.0.1"), ["203.0.113.9"].into_iter()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1/32"]);
        // Client 203.0.113.9 -> proxy 10.0.0.2 -> proxy 10.0.0.1 -> us.
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["203.0.113.9, 10.0.0.2"].into_iter()),
            ip("203.0.113.9")
        );
        // Whatever the client claims further left is ignored.
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), ["1.1.1.1, 203.0.113.9"].into_iter()),
            ip("203.0.113.9")
        );
        // Several header lines read as one list.
        assert_eq!(
            p.client_ip(
                ip("127.0.0.1"),
                ["1.1.1.1", "198.51.100.7:4321"].into_iter()
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), ["[2001:db8::5]:443"].into_iter()),
            ip("2001:db8::5")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_an_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_ip(ip("198.51.100.1"), ["203.0.113.9"].into_iter()),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), ["<script>, 10.0.0.3"].into_iter()),
            ip("10.0.0.3")
        );
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), [""].into_iter()),
            ip("10.0.0.1")
        );
        assert_eq!(
            p.client_ip(ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv4_is_plain_ipv4() {
        let p = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            p.client_ip(ip("::ffff:127.0.0.1"), ["::ffff:203.0.113.9"].into_iter()),
            ip("203.0.113.9")
        );
    }
}
