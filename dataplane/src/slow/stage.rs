//! The slow path's pipeline stage, one per worker: ARP and ND for cnfwd's
//! addresses answered in place, echo replies, ICMP errors built in the
//! offending packet's buffer, and the routing of what it generates (VRF of
//! the ingress network, next hop's MAC from the static or learned
//! neighbours, else the packet is held while the worker resolves it).
//!
//! Uses: the frame and its [`Meta`], the snapshot's networks, FIBs and
//! adjacencies, the learned neighbours. Sets: the packet's [`Verdict`];
//! for a packet replaced by an ICMP error, the reason the received packet
//! was dropped ([`SlowStage::replaced`]); for a held packet, the address
//! to resolve ([`SlowStage::hold_ip`]). Learned facts are collected in
//! [`SlowStage::events`] and take effect after the burst.

use rustc_hash::FxHashMap;

use cnfwd_config::{NetworkId, PortId, SlowPathSettings};

use super::ratelimit::IcmpLimiter;
use super::wire::{self, Arp};
use super::{v4_key, Event, EventKind, SlowCounter, SlowCounters};
use crate::fib::NO_ROUTE;
use crate::packet::buf::PacketBuf;
use crate::packet::ethernet::src_mac;
use crate::packet::meta::{Family, Meta};
use crate::pipeline::{DropReason, Verdict, MAX_BURST};
use crate::tables::{AdjKind, NetworkEntry, PortEntry, Tables, NO_PORT};

/// Room for an Ethernet header and tag in front of a generated packet.
const L2_ROOM: usize = 18;
/// Largest generated IP packet (an echo reply to a jumbo request).
const SCRATCH: usize = L2_ROOM + 9216 + 64;

/// IP protocol numbers used here.
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
const PROTO_FRAGMENT: u8 = 44;

/// Which ICMP error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TTL / hop limit exhausted.
    TimeExceeded,
    /// No route.
    NetUnreachable,
    /// Next hop not resolved.
    HostUnreachable,
    /// Larger than the next hop's MTU (IPv4 with DF, or IPv6).
    TooBig(u32),
}

impl ErrorKind {
    fn codes(self, family: Family) -> (u8, u8, u32) {
        match (self, family) {
            (ErrorKind::TimeExceeded, Family::V6) => (3, 0, 0),
            (ErrorKind::TimeExceeded, _) => (11, 0, 0),
            (ErrorKind::NetUnreachable, Family::V6) => (1, 0, 0),
            (ErrorKind::NetUnreachable, _) => (3, 0, 0),
            (ErrorKind::HostUnreachable, Family::V6) => (1, 3, 0),
            (ErrorKind::HostUnreachable, _) => (3, 1, 0),
            (ErrorKind::TooBig(mtu), Family::V6) => (2, 0, mtu),
            (ErrorKind::TooBig(mtu), _) => (3, 4, mtu & 0xffff),
        }
    }
}

/// A worker's slow-path state (see the module doc).
#[derive(Debug)]
pub struct SlowStage {
    /// Counters of what this stage did.
    pub counters: SlowCounters,
    /// Learned neighbours: (network, [`super::ip_key`]) -> MAC; updated
    /// from the neighbour table between bursts.
    pub learned: FxHashMap<(NetworkId, u128), [u8; 6]>,
    /// Facts learned in this burst, for the neighbour table.
    pub events: Vec<Event>,
    /// Per packet: `Some(reason)` when the received packet was dropped for
    /// `reason` and its buffer now carries a generated packet.
    pub replaced: Vec<Option<DropReason>>,
    /// Per packet: the generated packet is cnfwd's own (no TTL to spend, no
    /// error about it).
    pub local: Vec<bool>,
    /// Per packet with a `Hold` verdict: the address to resolve.
    pub hold_ip: Vec<u128>,
    /// Per packet sent to this stage: why it came.
    pub reason: Vec<DropReason>,
    limiter: Option<IcmpLimiter>,
    scratch: Box<[u8]>,
    /// The clock for this burst (ns).
    pub now: u64,
    burst_clock: bool,
}

impl Default for SlowStage {
    fn default() -> Self {
        Self::new()
    }
}

impl SlowStage {
    /// Empty state; the learned map has room for a typical site.
    pub fn new() -> Self {
        Self {
            counters: SlowCounters::default(),
            learned: FxHashMap::with_capacity_and_hasher(4096, Default::default()),
            events: Vec::with_capacity(2 * MAX_BURST),
            replaced: vec![None; MAX_BURST],
            local: vec![false; MAX_BURST],
            hold_ip: vec![0; MAX_BURST],
            reason: vec![DropReason::NoRoute; MAX_BURST],
            limiter: None,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            now: 0,
            burst_clock: false,
        }
    }

    /// The time of `buf`: its capture timestamp in replay (so the rate
    /// limits see each packet's own time, not its burst's), else the
    /// burst's clock. [`SlowStage::use_burst_clock`] forces the latter.
    #[inline]
    fn packet_now<B: PacketBuf>(&self, buf: &B) -> u64 {
        match buf.timestamp_ns() {
            0 => self.now,
            _ if self.burst_clock => self.now,
            ts => ts,
        }
    }

    /// Makes the next errors use the burst's clock, not the packets' (a
    /// held packet failing long after it arrived).
    pub fn use_burst_clock(&mut self, on: bool) {
        self.burst_clock = on;
    }

    /// Clears the per-burst arrays for `n` packets.
    #[inline]
    pub fn begin_burst(&mut self, n: usize) {
        self.replaced[..n].fill(None);
        self.local[..n].fill(false);
    }

    /// Records what a frame taught about `ip` on `network`, unless the
    /// configuration has a static entry for it (never learned over).
    fn learn(
        &mut self,
        net: &NetworkEntry,
        kind: EventKind,
        network: NetworkId,
        ip: u128,
        mac: [u8; 6],
    ) {
        let is_static = if super::key_is_v4(ip) {
            net.neighbors4.contains_key(&(ip as u32))
        } else {
            net.neighbors6.contains_key(&ip)
        };
        if is_static {
            return;
        }
        if self.events.len() < self.events.capacity() {
            self.events.push(Event {
                kind,
                network,
                ip,
                mac,
            });
        } else {
            self.counters.add(SlowCounter::PuntQueueFull, 1);
        }
    }

    /// The MAC of `ip` ([`super::ip_key`]) on `network`: static first, then
    /// learned.
    #[inline]
    pub fn neighbor(&self, net: &NetworkEntry, network: NetworkId, ip: u128) -> Option<[u8; 6]> {
        let stat = if super::key_is_v4(ip) {
            net.neighbors4.get(&(ip as u32))
        } else {
            net.neighbors6.get(&ip)
        };
        stat.or_else(|| self.learned.get(&(network, ip))).copied()
    }

    /// An ARP frame on an L3 network.
    pub fn arp_input<B: PacketBuf>(
        &mut self,
        t: &Tables,
        port: &PortEntry,
        in_port: PortId,
        m: &Meta,
        buf: &mut B,
    ) -> Verdict {
        let frame = buf.data();
        let Some(arp) = frame
            .get(usize::from(m.eth.payload_offset)..)
            .and_then(Arp::parse)
        else {
            return Verdict::Drop(DropReason::ArpMalformed);
        };
        if src_mac(frame) != arp.sha {
            return Verdict::Drop(DropReason::ArpSenderMismatch);
        }
        let net = &t.networks[usize::from(m.network)];
        let Some((prefix, len, gw)) = net.ipv4 else {
            return Verdict::Drop(DropReason::ArpSenderOutside);
        };
        if arp.spa != 0 && !in_prefix4(arp.spa, prefix, len) {
            return Verdict::Drop(DropReason::ArpSenderOutside);
        }
        if arp.op == 2 || (arp.op == 1 && arp.spa == arp.tpa) {
            if arp.spa != 0 {
                self.learn(net, EventKind::Answer, m.network, v4_key(arp.spa), arp.sha);
            }
            return Verdict::Drop(DropReason::ArpConsumed);
        }
        if arp.op != 1 || arp.tpa != gw {
            return Verdict::Drop(DropReason::ArpNotForUs);
        }
        if arp.spa != 0 {
            self.learn(net, EventKind::Request, m.network, v4_key(arp.spa), arp.sha);
        }
        let vid = port.trunk.then_some(net.vlan);
        let s = &mut self.scratch;
        let l2 = wire::ethernet(s, arp.sha, port.mac, vid, wire::ETHERTYPE_ARP);
        let n = Arp {
            op: 2,
            sha: port.mac,
            spa: gw,
            tha: arp.sha,
            tpa: arp.spa,
        }
        .emit(&mut s[l2..]);
        if !buf.replace_frame(&s[..l2 + n]) {
            return Verdict::Drop(DropReason::NoBuffer);
        }
        self.counters.add(SlowCounter::ArpRepliesSent, 1);
        Verdict::Tx {
            port: in_port,
            network: m.network,
        }
    }

    /// True when an IPv6 packet with a multicast destination MAC is one the
    /// slow path takes: ICMPv6 right after the IPv6 header, to a group or
    /// address of this network's.
    pub fn accepts_multicast6(t: &Tables, port: &PortEntry, m: &Meta) -> bool {
        if m.proto != PROTO_ICMPV6 || m.l4_offset != 40 {
            return false;
        }
        let net = &t.networks[usize::from(m.network)];
        let gw = net.ipv6.map(|(_, _, gw)| gw);
        let d = m.dst;
        d == wire::ALL_NODES
            || d == wire::solicited_node(port.link_local)
            || gw.is_some_and(|g| d == wire::solicited_node(g) || d == g)
            || d == port.link_local
    }

    /// ICMPv6 to one of cnfwd's addresses or groups: ND and echo.
    pub fn icmp6_input<B: PacketBuf>(
        &mut self,
        t: &Tables,
        port: &PortEntry,
        in_port: PortId,
        m: &Meta,
        buf: &mut B,
        i: usize,
    ) -> Verdict {
        let net = &t.networks[usize::from(m.network)];
        let gw6 = net.ipv6.map(|(_, _, gw)| gw);
        let ip_off = usize::from(m.eth.payload_offset);
        let frame = buf.data();
        let Some(ip) = frame.get(ip_off..ip_off + usize::from(m.ip_len)) else {
            return Verdict::Drop(DropReason::Ip6Malformed);
        };
        if m.proto != PROTO_ICMPV6 || m.l4_offset != 40 {
            return Verdict::Drop(DropReason::ToGateway);
        }
        let icmp = &ip[40..];
        match icmp.first().copied() {
            Some(wire::ND_NS | wire::ND_NA) => {}
            // To one of cnfwd's unicast addresses: `to_us` comes here for
            // the port's link-local address and for any gateway address of
            // the VRF (a local route), the ND path for the ingress network's
            // gateway or link-local address; never answered to a group.
            Some(wire::ICMP6_ECHO_REQUEST) if m.dst >> 120 != 0xff => {
                let vtcfl = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]);
                let Some(len) =
                    wire::echo_reply_v6(&mut self.scratch[L2_ROOM..], vtcfl, m.src, m.dst, icmp)
                else {
                    return Verdict::Drop(DropReason::ToGateway);
                };
                let direct = is_link_local(m.src).then(|| (in_port, src_mac(frame)));
                let sent = self.send_local(t, m.network, Family::V6, m.src, len, direct, buf, i);
                return self.echo_sent(sent);
            }
            Some(130..=134 | 137 | 143) => return Verdict::Drop(DropReason::Icmp6Unsupported),
            _ => return Verdict::Drop(DropReason::ToGateway),
        }
        let Some(nd) = wire::parse_nd(m.ttl, m.src, m.dst, icmp) else {
            return Verdict::Drop(DropReason::NdInvalid);
        };
        if nd.typ == wire::ND_NA {
            match nd.lladdr {
                Some(mac) => self.learn(net, EventKind::Answer, m.network, nd.target, mac),
                // Solicited, no link-layer address: the answer to a unicast
                // probe (Linux omits the option there).
                None if nd.flags & 0x40 != 0 => {
                    self.learn(net, EventKind::Confirm, m.network, nd.target, [0; 6])
                }
                None => {}
            }
            return Verdict::Drop(DropReason::NdConsumed);
        }
        if nd.target != port.link_local && Some(nd.target) != gw6 {
            return Verdict::Drop(DropReason::NdNotForUs);
        }
        let eth_src = src_mac(frame);
        let (dst, eth_dst, flags) = if m.src == 0 {
            (wire::ALL_NODES, wire::multicast_mac(wire::ALL_NODES), 0xa0)
        } else {
            (m.src, nd.lladdr.unwrap_or(eth_src), 0xe0)
        };
        if let (Some(mac), false) = (nd.lladdr, m.src == 0) {
            self.learn(net, EventKind::Request, m.network, m.src, mac);
        }
        let vid = port.trunk.then_some(net.vlan);
        let s = &mut self.scratch;
        let l2 = wire::ethernet(s, eth_dst, port.mac, vid, wire::ETHERTYPE_IPV6);
        let n = wire::na(&mut s[l2..], nd.target, dst, nd.target, flags, port.mac);
        if !buf.replace_frame(&s[..l2 + n]) {
            return Verdict::Drop(DropReason::NoBuffer);
        }
        self.counters.add(SlowCounter::NaSent, 1);
        Verdict::Tx {
            port: in_port,
            network: m.network,
        }
    }

    /// A packet addressed to a gateway address (or the port's link-local
    /// address): echo and ND answered, the rest dropped as `to_gateway`.
    pub fn to_us<B: PacketBuf>(
        &mut self,
        t: &Tables,
        port: &PortEntry,
        in_port: PortId,
        m: &Meta,
        buf: &mut B,
        i: usize,
    ) -> Verdict {
        match m.family {
            Family::V6 => self.icmp6_input(t, port, in_port, m, buf, i),
            Family::V4 if m.proto == PROTO_ICMP && m.src_port >> 8 == 8 => {
                let ip_off = usize::from(m.eth.payload_offset);
                let Some(ip) = buf.data().get(ip_off..ip_off + usize::from(m.ip_len)) else {
                    return Verdict::Drop(DropReason::ToGateway);
                };
                let Some(len) = wire::echo_reply_v4(&mut self.scratch[L2_ROOM..], ip) else {
                    return Verdict::Drop(DropReason::ToGateway);
                };
                let sent = self.send_local(t, m.network, Family::V4, m.src, len, None, buf, i);
                self.echo_sent(sent)
            }
            _ => Verdict::Drop(DropReason::ToGateway),
        }
    }

    /// The verdict of an echo request whose reply was routed (`sent`), or
    /// could not be (`to_gateway`), counted.
    fn echo_sent(&mut self, sent: Option<Verdict>) -> Verdict {
        match sent {
            Some(v) => {
                self.counters.add(SlowCounter::EchoRepliesSent, 1);
                v
            }
            None => Verdict::Drop(DropReason::ToGateway),
        }
    }

    /// Drops the packet for `reason` and, where RFC 1812 / RFC 4443 and the
    /// rate limits allow, replaces it with the ICMP error `kind`, routed
    /// back to its source. `m.network` is the ingress network.
    #[allow(clippy::too_many_arguments)]
    pub fn icmp_error<B: PacketBuf>(
        &mut self,
        t: &Tables,
        m: &Meta,
        buf: &mut B,
        i: usize,
        reason: DropReason,
        kind: ErrorKind,
        settings: &SlowPathSettings,
    ) -> Verdict {
        let drop = Verdict::Drop(reason);
        let Some(net) = t.networks.get(usize::from(m.network)) else {
            return drop;
        };
        let ip_off = usize::from(m.eth.payload_offset);
        let frame = buf.data();
        let Some(ip) = frame.get(ip_off..ip_off + usize::from(m.ip_len)) else {
            return drop;
        };
        let source = match m.family {
            Family::V4 => net.ipv4.map(|(_, _, gw)| u128::from(gw)),
            Family::V6 => net.ipv6.map(|(_, _, gw)| gw),
            Family::None => None,
        };
        let Some(source) = source.filter(|_| !must_not_answer(m, net, ip)) else {
            self.counters.add(SlowCounter::IcmpSuppressed, 1);
            return drop;
        };
        let now = self.packet_now(buf);
        let limiter = self
            .limiter
            .get_or_insert_with(|| IcmpLimiter::new(settings));
        let exempt = matches!(kind, ErrorKind::TooBig(_));
        if !limiter.allow(m.src, now, exempt) {
            self.counters.add(SlowCounter::IcmpRateLimited, 1);
            return drop;
        }
        let (typ, code, aux) = kind.codes(m.family);
        let out = &mut self.scratch[L2_ROOM..];
        let len = match m.family {
            Family::V4 => wire::icmp4_error(out, typ, code, aux, source as u32, m.src as u32, ip),
            _ => wire::icmp6_error(out, typ, code, aux, source, m.src, ip),
        };
        let direct = (m.family == Family::V6 && is_link_local(m.src))
            .then(|| {
                let p = net.ports.first().copied().unwrap_or(NO_PORT);
                (p, src_mac(frame))
            })
            .filter(|(p, _)| *p != NO_PORT);
        match self.send_local(t, m.network, m.family, m.src, len, direct, buf, i) {
            Some(v) => {
                self.counters.add(SlowCounter::IcmpErrorsSent, 1);
                self.replaced[i] = Some(reason);
                v
            }
            None => {
                self.counters.add(SlowCounter::IcmpSuppressed, 1);
                drop
            }
        }
    }

    /// Routes the generated IP packet of `len` bytes in `scratch[L2_ROOM..]`
    /// to `dst` in the VRF of `in_net` (or, with `direct`, straight out that
    /// port to that MAC: link-local destinations), writing the frame into
    /// `buf`. `None` when it has no way out.
    #[allow(clippy::too_many_arguments)]
    fn send_local<B: PacketBuf>(
        &mut self,
        t: &Tables,
        in_net: NetworkId,
        family: Family,
        dst: u128,
        len: usize,
        direct: Option<(PortId, [u8; 6])>,
        buf: &mut B,
        i: usize,
    ) -> Option<Verdict> {
        let et = if family == Family::V4 {
            wire::ETHERTYPE_IPV4
        } else {
            wire::ETHERTYPE_IPV6
        };
        let (port, network, mac, key) = match direct {
            Some((p, mac)) => (p, in_net, Some(mac), 0),
            None => {
                let vrf = t
                    .vrfs
                    .get(usize::from(t.networks.get(usize::from(in_net))?.vrf))?;
                let adj = match family {
                    Family::V4 => vrf.fib4.lookup(dst as u32),
                    _ => vrf.fib6.lookup(dst),
                };
                if adj == NO_ROUTE {
                    return None;
                }
                let a = t.adjacencies.get(adj as usize)?;
                let not_unicast = matches!(a.kind, AdjKind::Local | AdjKind::Broadcast);
                if a.port == NO_PORT || not_unicast || len as u32 > a.mtu {
                    return None;
                }
                let enet = t.networks.get(usize::from(a.network))?;
                let key = match (a.kind, family) {
                    (AdjKind::Attached, Family::V4) => v4_key(dst as u32),
                    (AdjKind::Attached, _) => dst,
                    _ => a.nh,
                };
                let mac = match a.kind {
                    AdjKind::ViaResolved => Some(a.mac),
                    _ => self.neighbor(enet, a.network, key),
                };
                if mac.is_none() && !can_resolve(enet, key) {
                    return None;
                }
                (a.port, a.network, mac, key)
            }
        };
        let out = t.ports.get(usize::from(port))?;
        let vid = out
            .trunk
            .then(|| t.networks.get(usize::from(network)).map(|n| n.vlan))
            .flatten();
        let hl = if vid.is_some() { 18 } else { 14 };
        let start = L2_ROOM - hl;
        wire::ethernet(
            &mut self.scratch[start..],
            mac.unwrap_or([0; 6]),
            out.mac,
            vid,
            et,
        );
        if !buf.replace_frame(&self.scratch[start..L2_ROOM + len]) {
            return None;
        }
        self.local[i] = true;
        Some(match mac {
            Some(_) => Verdict::Tx { port, network },
            None => {
                self.hold_ip[i] = key;
                Verdict::Hold { port, network }
            }
        })
    }
}

/// True when a packet must never be answered with an ICMP error (RFC 1812
/// 4.3.2.7, RFC 4443 2.4 (e)): an error itself, a non-first fragment, to a
/// broadcast or multicast address, or from an address that is not a
/// unicast host.
fn must_not_answer(m: &Meta, net: &NetworkEntry, ip: &[u8]) -> bool {
    match m.family {
        Family::V4 => {
            let (src, dst) = (m.src as u32, m.dst as u32);
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0;
            let directed = net
                .ipv4
                .is_some_and(|(p, len, _)| len < 31 && dst == p | (u32::MAX >> len));
            let is_error = m.proto == PROTO_ICMP
                && (m.l4_offset == 0
                    || usize::from(m.l4_offset) + 8 > ip.len()
                    || matches!(m.src_port >> 8, 3 | 4 | 5 | 11 | 12));
            frag || is_error
                || dst == u32::MAX
                || dst >> 28 == 0xe
                || directed
                || src >> 24 == 0
                || src >> 24 == 127
                || src >= 0xe000_0000
        }
        Family::V6 => {
            let is_error = m.proto == PROTO_ICMPV6
                && (m.l4_offset == 0
                    || usize::from(m.l4_offset) + 4 > ip.len()
                    || m.src_port >> 8 < 128);
            m.proto == PROTO_FRAGMENT
                || is_error
                || m.dst >> 120 == 0xff
                || m.src == 0
                || m.src == 1
                || m.src >> 120 == 0xff
        }
        Family::None => true,
    }
}

/// True when `ip` (an [`super::ip_key`]) is an IPv6 link-local address.
#[inline]
fn is_link_local(ip: u128) -> bool {
    ip >> 118 == 0xfe80 >> 6
}

/// True when `net` has a source address to ask for `key` from.
#[inline]
pub fn can_resolve(net: &NetworkEntry, key: u128) -> bool {
    if super::key_is_v4(key) {
        net.ipv4.is_some()
    } else {
        net.ipv6.is_some()
    }
}

/// True when `a` is inside `prefix/len`.
#[inline]
fn in_prefix4(a: u32, prefix: u32, len: u8) -> bool {
    len == 0 || (a ^ prefix) >> (32 - u32::from(len)) == 0
}

/// Writes the ARP request or NS for `ip` (an [`super::ip_key`]) asked on
/// `net` out of `port` (broadcast / solicited-node, or unicast to `to`)
/// into `out`; returns its length, or `None` when the network has no
/// address of that family to ask from.
pub fn request(
    out: &mut [u8],
    net: &NetworkEntry,
    port: &PortEntry,
    ip: u128,
    to: Option<[u8; 6]>,
) -> Option<usize> {
    let vid = port.trunk.then_some(net.vlan);
    if super::key_is_v4(ip) {
        let (_, _, gw) = net.ipv4?;
        let l2 = wire::ethernet(
            out,
            to.unwrap_or(wire::BROADCAST),
            port.mac,
            vid,
            wire::ETHERTYPE_ARP,
        );
        let n = Arp {
            op: 1,
            sha: port.mac,
            spa: gw,
            tha: [0; 6],
            tpa: ip as u32,
        }
        .emit(&mut out[l2..]);
        Some(l2 + n)
    } else {
        let (_, _, gw) = net.ipv6?;
        let (dst, mac) = match to {
            Some(mac) => (ip, mac),
            None => {
                let sn = wire::solicited_node(ip);
                (sn, wire::multicast_mac(sn))
            }
        };
        let l2 = wire::ethernet(out, mac, port.mac, vid, wire::ETHERTYPE_IPV6);
        let n = wire::ns(&mut out[l2..], gw, dst, ip, port.mac);
        Some(l2 + n)
    }
}

/// Writes the announcements of `net`'s gateway addresses on `port` (a
/// gratuitous ARP, an unsolicited NA) into `out`, calling `emit` with each
/// frame.
pub fn announcements(
    net: &NetworkEntry,
    port: &PortEntry,
    out: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) {
    let vid = port.trunk.then_some(net.vlan);
    if let Some((_, _, gw)) = net.ipv4 {
        let l2 = wire::ethernet(out, wire::BROADCAST, port.mac, vid, wire::ETHERTYPE_ARP);
        let n = Arp {
            op: 1,
            sha: port.mac,
            spa: gw,
            tha: [0; 6],
            tpa: gw,
        }
        .emit(&mut out[l2..]);
        emit(&out[..l2 + n]);
    }
    if let Some((_, _, gw)) = net.ipv6 {
        let mac = wire::multicast_mac(wire::ALL_NODES);
        let l2 = wire::ethernet(out, mac, port.mac, vid, wire::ETHERTYPE_IPV6);
        let n = wire::na(&mut out[l2..], gw, wire::ALL_NODES, gw, 0xa0, port.mac);
        emit(&out[..l2 + n]);
    }
}
