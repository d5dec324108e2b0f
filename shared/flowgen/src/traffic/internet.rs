//! Internet-facing traffic: the interfaces are public services and NAT
//! gateways, so their peers come from the whole public address space and most
//! connections are short. This is the shape that defeats dictionaries: nearly
//! every client address and ephemeral port is seen once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Conn, Sim, TCP, UDP, peer};
use crate::model::Eni;
use crate::rng::{Dice, splitmix};

/// Addresses that many interfaces talk to (CDNs, APIs, mirrors): the same
/// few hundred across every account, like the real internet's head.
const POPULAR: u64 = 400;
/// Share of peers drawn from [`POPULAR`]; the rest are anywhere.
const POPULAR_SHARE: f64 = 0.3;
/// Public DNS resolvers.
const RESOLVERS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(8, 8, 8, 8),
    Ipv4Addr::new(8, 8, 4, 4),
    Ipv4Addr::new(1, 1, 1, 1),
    Ipv4Addr::new(9, 9, 9, 9),
];

impl Sim<'_> {
    /// A connection of an internet-facing interface: inbound clients of a
    /// public service, outbound calls (through NAT where the interface is a
    /// NAT gateway), DNS, and some private traffic to databases.
    pub(super) fn internet_conn(&mut self, eni: &Eni, lifetime: u32, fresh: bool) -> Conn {
        let v6 = eni.ipv6.is_some() && self.dice.chance(0.3);
        let kind = self.dice.range(0, 99);
        let (peer, client, proto) = if kind < 50 {
            let port = self.dice.pick(&[443, 443, 443, 80, 22, 8443], 443);
            (peer(self.public(v6), 8, None), false, (TCP, port))
        } else if kind < 80 {
            let port = self.dice.pick(&[443, 443, 443, 80, 123], 443);
            let protocol = if port == 123 { UDP } else { TCP };
            (peer(self.public(v6), 8, None), true, (protocol, port))
        } else if kind < 92 {
            let resolver = self.dice.pick(&RESOLVERS, RESOLVERS[0]);
            (peer(IpAddr::V4(resolver), 8, None), true, (UDP, 53))
        } else {
            let port = self.dice.pick(&[5432, 3306, 6379], 5432);
            (peer(self.internal(v6, false), 1, None), true, (TCP, port))
        };
        self.conn(eni, peer, client, proto, lifetime, fresh)
    }

    /// A public address: one of the popular few, or anywhere.
    pub(super) fn public(&mut self, v6: bool) -> IpAddr {
        let d = &mut self.dice;
        if d.chance(POPULAR_SHARE) {
            // The same popular addresses for every flow log, whatever its seed.
            let mut popular = Dice::new(splitmix(d.range(0, POPULAR - 1)));
            return anywhere(&mut popular, v6);
        }
        anywhere(d, v6)
    }
}

/// A uniformly random global unicast address.
fn anywhere(d: &mut Dice, v6: bool) -> IpAddr {
    if v6 {
        let word = |d: &mut Dice| d.range(0, 0xffff) as u16;
        return IpAddr::V6(Ipv6Addr::new(
            0x2000 | d.range(0, 0x1fff) as u16,
            word(d),
            word(d),
            word(d),
            word(d),
            word(d),
            word(d),
            word(d),
        ));
    }
    loop {
        let addr = Ipv4Addr::from(d.u64() as u32);
        if is_public(addr) {
            return IpAddr::V4(addr);
        }
    }
}

/// Outside every private, shared, loopback, link-local, documentation,
/// multicast and reserved range.
fn is_public(addr: Ipv4Addr) -> bool {
    let [a, b, ..] = addr.octets();
    !(addr.is_private()
        || addr.is_loopback()
        || addr.is_link_local()
        || addr.is_documentation()
        || addr.is_multicast()
        || addr.is_broadcast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_public_and_mostly_distinct() {
        let mut d = Dice::new(5);
        let drawn: Vec<IpAddr> = (0..2000).map(|_| anywhere(&mut d, false)).collect();
        assert!(drawn.iter().all(|a| match a {
            IpAddr::V4(v4) => is_public(*v4),
            IpAddr::V6(_) => false,
        }));
        let distinct: std::collections::BTreeSet<_> = drawn.iter().collect();
        assert!(distinct.len() > 1990);
        assert!(!is_public(Ipv4Addr::new(100, 100, 1, 1)));
        assert!(!is_public(Ipv4Addr::new(172, 20, 1, 1)));
        assert!(is_public(Ipv4Addr::new(100, 128, 1, 1)));
    }
}
