//! What per-address limits count by, and the address ranges bans cover.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The part of an IP address one visitor controls: an IPv4 address, or the
/// /64 network of an IPv6 address. A home or a server is given a whole /64
/// and may use any address in it, so limits keyed by full IPv6 addresses
/// would limit nobody. (Bans and logs keep the full address.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    pub fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(_) => AddressKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !(u128::from(u64::MAX));
                    AddressKey(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> AddressKey {
        AddressKey::of(ip)
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The widest range a ban may cover: wider would lock out a large part of
/// the internet by mistake.
pub fn min_ban_prefix(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(_) => 8,
        IpNet::V6(_) => 16,
    }
}

/// An IPv4 range written in IPv6 form, mapped (`::ffff:a.b.c.d/n`) or the old
/// compatible form (`::a.b.c.d/n`), as the IPv4 range it is; `None` for any
/// other range. Visitors' addresses are compared in IPv4 form, so a ban
/// stored in IPv6 form would never match them.
pub fn ipv4_range(net: &Ipv6Net) -> Option<Ipv4Net> {
    let bits = u128::from(net.network());
    let high = bits >> 32;
    // `::` and `::1` are IPv6's own (unspecified, loopback), not IPv4.
    let own = net.prefix_len() == 128 && bits <= 1;
    let in_ipv4_block = (high == 0xffff || high == 0) && !own;
    if !in_ipv4_block || net.prefix_len() < 96 {
        return None;
    }
    Ipv4Net::new(Ipv4Addr::from(bits as u32), net.prefix_len() - 96).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> AddressKey {
        AddressKey::of(ip.parse().unwrap())
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_network() {
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:eeee:dddd:cccc")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::9").to_string(), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn ipv4_ranges_in_ipv6_form_are_found() {
        let v4 = |net: &str| ipv4_range(&net.parse().unwrap()).map(|n| n.to_string());
        assert_eq!(v4("::ffff:1.2.3.4/128").as_deref(), Some("1.2.3.4/32"));
        assert_eq!(v4("::ffff:1.2.3.0/120").as_deref(), Some("1.2.3.0/24"));
        assert_eq!(v4("::102:304/128").as_deref(), Some("1.2.3.4/32"));
        assert_eq!(v4("::ffff:0:0/96").as_deref(), Some("0.0.0.0/0"));
        for other in [
            "::1/128",
            "::/128",
            "2001:db8::/32",
            "::ffff:0:0/95",
            "64:ff9b::1/128",
        ] {
            assert_eq!(v4(other), None, "{other}");
        }
    }
}
