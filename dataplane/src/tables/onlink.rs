//! Which sources the reverse-path check may pass without a FIB lookup.
//!
//! A source inside an L3 network's connected prefix resolves, in the
//! network's VRF, to the network's own attached route, so both `strict` and
//! `loose` pass it, unless something shadows that route: a route more
//! specific than the connected prefix lying inside it (cnfwd's own gateway
//! and the prefix's broadcast host routes excepted: either as a source is a
//! martian, refused before any lookup), or the connected prefix's own route leading somewhere else
//! (replaced or removed through the socket). [`OnLink`] counts those shadows
//! per VRF and network as routes come and go; while a network's count is
//! zero the pipeline skips the source lookup for its on-link hosts, which
//! are nearly all the sources a single-homed tenant network sees. Sources
//! off the prefix (traffic from behind a router) are looked up as before.
//!
//! The count is kept exact on every route change (O(networks of the VRF)
//! per change) rather than recomputed from the FIB, whose prefixes cannot
//! be enumerated by range cheaply.

use cnfwd_config::NetworkId;
use ipnet::IpNet;

use super::{AdjKey, NetworkEntry};

/// Per network of one VRF: how many routes shadow its connected IPv4 and
/// IPv6 prefixes (index: [`NetworkId`]; networks of other VRFs and networks
/// without a connected prefix stay at 0 and are never asked about).
#[derive(Debug, Default, Clone)]
pub struct OnLink {
    /// L3 networks of this VRF that have a connected prefix.
    members: Vec<NetworkId>,
    shadows4: Vec<u32>,
    shadows6: Vec<u32>,
}

impl OnLink {
    /// The counts of VRF `vrf` before any route is installed: each member's
    /// connected prefix counts one shadow until its attached route arrives.
    pub fn new(networks: &[NetworkEntry], vrf: u16) -> Self {
        let mut s = Self {
            members: Vec::new(),
            shadows4: vec![0; networks.len()],
            shadows6: vec![0; networks.len()],
        };
        for (i, n) in networks.iter().enumerate() {
            if n.l3 && n.vrf == vrf && (n.ipv4.is_some() || n.ipv6.is_some()) {
                s.members.push(i as NetworkId);
                s.shadows4[i] = u32::from(n.ipv4.is_some());
                s.shadows6[i] = u32::from(n.ipv6.is_some());
            }
        }
        s
    }

    /// Accounts for the route `prefix -> key` being installed.
    pub fn add(&mut self, networks: &[NetworkEntry], prefix: IpNet, key: AdjKey) {
        self.change(networks, prefix, key, true);
    }

    /// Accounts for the route `prefix -> key` being removed (or replaced).
    pub fn remove(&mut self, networks: &[NetworkEntry], prefix: IpNet, key: AdjKey) {
        self.change(networks, prefix, key, false);
    }

    fn change(&mut self, networks: &[NetworkEntry], prefix: IpNet, key: AdjKey, add: bool) {
        for &n in &self.members {
            let Some(net) = networks.get(usize::from(n)) else {
                continue;
            };
            let count = match prefix {
                IpNet::V4(_) => &mut self.shadows4[usize::from(n)],
                IpNet::V6(_) => &mut self.shadows6[usize::from(n)],
            };
            // The connected route lifts the shadow each member starts with.
            let step: i64 = if is_connected_route(net, n, prefix, key) {
                -1
            } else {
                i64::from(shadow(net, n, prefix, key))
            };
            let signed = if add { step } else { -step };
            *count = (i64::from(*count) + signed).clamp(0, i64::from(u32::MAX)) as u32;
        }
    }

    /// True when IPv4 source `src` is inside network `n`'s connected prefix
    /// and nothing shadows it: the reverse-path check would pass it.
    #[inline]
    pub fn passes4(&self, net: &NetworkEntry, n: NetworkId, src: u32) -> bool {
        match net.ipv4 {
            Some((c, len, _)) => {
                inside4(src, c, len) && self.shadows4.get(usize::from(n)) == Some(&0)
            }
            None => false,
        }
    }

    /// True when IPv6 source `src` is inside network `n`'s connected prefix,
    /// is not cnfwd's own address there, and nothing shadows the prefix.
    #[inline]
    pub fn passes6(&self, net: &NetworkEntry, n: NetworkId, src: u128) -> bool {
        match net.ipv6 {
            Some((c, len, gw)) => {
                src != gw && inside6(src, c, len) && self.shadows6.get(usize::from(n)) == Some(&0)
            }
            None => false,
        }
    }
}

/// True when `a` is inside `net/len` (IPv4, host order).
#[inline]
fn inside4(a: u32, net: u32, len: u8) -> bool {
    (a ^ net).checked_shr(32 - u32::from(len)).unwrap_or(0) == 0
}

/// True when `a` is inside `net/len` (IPv6).
#[inline]
fn inside6(a: u128, net: u128, len: u8) -> bool {
    (a ^ net).checked_shr(128 - u32::from(len)).unwrap_or(0) == 0
}

/// True for the route that makes network `n`'s on-link sources resolve to
/// it: its connected prefix, attached to it.
fn is_connected_route(net: &NetworkEntry, n: NetworkId, prefix: IpNet, key: AdjKey) -> bool {
    key == AdjKey::Attached(n)
        && match prefix {
            IpNet::V4(p) => net
                .ipv4
                .is_some_and(|(c, len, _)| u32::from(p.network()) == c && p.prefix_len() == len),
            IpNet::V6(p) => net
                .ipv6
                .is_some_and(|(c, len, _)| u128::from(p.network()) == c && p.prefix_len() == len),
        }
}

/// True when the route `prefix -> key` could change where a source inside
/// network `n`'s connected prefix resolves: it lies inside the prefix and is
/// either the prefix itself or more specific, except the gateway's own host
/// route (`Local(n)`) and the prefix's directed broadcast (`Broadcast(n)`):
/// either as a source is refused as a martian before any lookup.
fn shadow(net: &NetworkEntry, n: NetworkId, prefix: IpNet, key: AdjKey) -> bool {
    match prefix {
        IpNet::V4(p) => net.ipv4.is_some_and(|(c, len, gw)| {
            let (a, plen) = (u32::from(p.network()), p.prefix_len());
            let own = plen == 32
                && ((a == gw && key == AdjKey::Local(n))
                    || (a == net.broadcast4 && key == AdjKey::Broadcast(n)));
            plen >= len && inside4(a, c, len) && !own
        }),
        IpNet::V6(p) => net.ipv6.is_some_and(|(c, len, gw)| {
            let (a, plen) = (u128::from(p.network()), p.prefix_len());
            plen >= len
                && inside6(a, c, len)
                && !(plen == 128 && a == gw && key == AdjKey::Local(n))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_containment_at_every_length() {
        assert!(inside4(0x0a00_00ff, 0x0a00_0000, 24));
        assert!(!inside4(0x0a00_0100, 0x0a00_0000, 24));
        assert!(inside4(0xffff_ffff, 0, 0));
        assert!(inside4(0x0a00_0001, 0x0a00_0001, 32));
        assert!(!inside4(0x0a00_0002, 0x0a00_0001, 32));
        assert!(inside6(u128::MAX, 0, 0));
        assert!(inside6(0xfd00 << 112 | 7, 0xfd00 << 112, 64));
        assert!(!inside6(0xfd01 << 112, 0xfd00 << 112, 64));
        assert!(!inside6(2, 1, 128));
    }
}
