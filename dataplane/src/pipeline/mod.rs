//! The packet path, stage by stage over a burst (run to completion):
//!
//! 1. [`parse`](crate::packet::ethernet) the Ethernet header and outermost tag;
//! 2. [`classify`] (port, tag) -> network;
//! 3. L3 networks: validate (EtherType, MAC, IP headers via
//!    [`crate::packet::parse`], martian addresses), then look every
//!    destination (and, where the ingress network's `source_check` asks,
//!    every source) up in its VRF in one pass (independent lookups overlap
//!    their cache misses), then the reverse-path check, then apply the
//!    adjacency: local, TTL, IPv6 scope, MTU, neighbour, egress port,
//!    [`rewrite`] (link padding cut off);
//! 4. L2 networks: refuse invalid source MACs and reserved groups, learn,
//!    then forward or flood ([`crate::l2`]).
//!
//! Stage 3 (route checks, MTU, neighbour, rewrite, slow path, bridge) is
//! one pass over the burst in packet order when the snapshot has no CSN;
//! with one, the route checks run first, then the CSN's batched flow
//! lookups, then the rest. A routed packet whose next hop's MAC is known
//! is rewritten from its adjacency alone (egress source MAC and tag
//! precomputed there); the other adjacencies go out of line.
//!
//! The result is one [`Verdict`] per packet. Every drop is a
//! [`DropReason`] set once; nothing on this path allocates.

pub mod classify;
pub mod drop;
pub mod rewrite;

use cnfwd_config::{NetworkId, PortId, SourceCheck};

use std::sync::Arc;

use crate::csn::flow::{Direction, Hit};
use crate::csn::stage::{is_dns_response, Role};
use crate::csn::{CsnWorker, FlowKey, LearnSync};
use crate::fib::NO_ROUTE;
use crate::l2::Bridge;
use crate::packet::buf::PacketBuf;
use crate::packet::ethernet::{
    dst_mac, is_tpid, src_mac, EthView, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
};
use crate::packet::meta::{Family, Meta};
use crate::packet::parse::{parse_ipv4, parse_ipv6};
use crate::slow::stage::{can_resolve, ErrorKind, SlowStage};
use crate::slow::v4_key;
use crate::tables::{AdjKind, Adjacency, NetworkEntry, Tables, NO_PORT};

pub use drop::DropReason;

/// Largest burst the pipeline takes.
pub const MAX_BURST: usize = 256;

/// What happens to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send on `port`; the frame is already rewritten for it.
    Tx {
        /// Egress port.
        port: PortId,
        /// Egress network.
        network: NetworkId,
    },
    /// L2 flood: a copy to every other port of `network`; the frame is
    /// untagged and each copy gets the egress port's tag
    /// ([`prepare_flood_copy`]).
    Flood {
        /// The L2 network.
        network: NetworkId,
    },
    /// Dropped, for this reason.
    Drop(DropReason),
    /// Rewritten for `port` but for the destination MAC: held until the
    /// next hop ([`Pipeline::hold_ip`]) is resolved.
    Hold {
        /// Egress port.
        port: PortId,
        /// Egress network.
        network: NetworkId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Done,
    L2,
    L3,
    /// ARP on an L3 network.
    Arp,
    /// ICMPv6 to a multicast group of cnfwd's (ND).
    Nd,
    /// For the slow path after the route checks (reason in `SlowStage::reason`).
    Slow,
}

/// A worker's pipeline: its per-burst scratch arrays and its L2 table.
#[derive(Debug)]
pub struct Pipeline {
    bridge: Bridge,
    meta: Vec<Meta>,
    next: Vec<Next>,
    adj: Vec<u32>,
    /// Per packet: the reverse-path check its ingress network asks for.
    rpf: Vec<SourceCheck>,
    /// Per packet checked: the adjacency of the route back to its source.
    src_adj: Vec<u32>,
    /// Per packet: the egress MTU to fragment it for (0: sent whole).
    frag_mtu: Vec<u16>,
    lookups: Lookups,
    csn: CsnStage,
    slow: SlowStage,
}

/// The CSN stage's per-worker state and per-burst scratch arrays.
#[derive(Debug)]
struct CsnStage {
    /// Created when a snapshot first has a CSN.
    worker: Option<CsnWorker>,
    /// This worker's id and the engine's shared learn state.
    id: usize,
    sync: Arc<LearnSync>,
    /// The clock for this burst (ns).
    now: u64,
    /// Per packet: learn message to hold it for (0: none).
    hold: Vec<u64>,
    /// Some entry of `hold` is not 0 (cleared before the next burst).
    held: bool,
    pos: Vec<u16>,
    role: Vec<Role>,
    keys: Vec<FlowKey>,
    tcp: Vec<u8>,
    hits: Vec<Option<Hit>>,
}

/// Destinations (and, for the reverse-path check, sources) of one burst
/// gathered per family for a batched FIB lookup; a position with
/// [`SRC_LOOKUP`] set is a source.
#[derive(Debug)]
struct Lookups {
    dst4: Vec<u32>,
    pos4: Vec<u16>,
    dst6: Vec<u128>,
    pos6: Vec<u16>,
    out: Vec<u32>,
}

/// Marks a gathered address as a packet's source (reverse-path check).
const SRC_LOOKUP: u16 = 0x8000;

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// A pipeline with an empty MAC table.
    pub fn new() -> Self {
        Self {
            bridge: Bridge::default(),
            meta: vec![Meta::default(); MAX_BURST],
            next: vec![Next::Done; MAX_BURST],
            adj: vec![NO_ROUTE; MAX_BURST],
            rpf: vec![SourceCheck::Off; MAX_BURST],
            src_adj: vec![NO_ROUTE; MAX_BURST],
            frag_mtu: vec![0; MAX_BURST],
            lookups: Lookups {
                dst4: vec![0; 2 * MAX_BURST],
                pos4: vec![0; 2 * MAX_BURST],
                dst6: vec![0; 2 * MAX_BURST],
                pos6: vec![0; 2 * MAX_BURST],
                out: vec![NO_ROUTE; 2 * MAX_BURST],
            },
            csn: CsnStage {
                worker: None,
                id: 0,
                sync: Arc::new(LearnSync::new(1)),
                now: 0,
                hold: vec![0; MAX_BURST],
                held: false,
                pos: vec![0; MAX_BURST],
                role: vec![Role::None; MAX_BURST],
                keys: vec![FlowKey::default(); MAX_BURST],
                tcp: vec![0; MAX_BURST],
                hits: vec![None; MAX_BURST],
            },
            slow: SlowStage::new(),
        }
    }

    /// Makes this pipeline worker `id` of an engine whose workers share
    /// `sync` (learned addresses, the DNS hold). Call before the first
    /// burst; a single pipeline (replay, tests) needs nothing.
    pub fn set_csn_sync(&mut self, id: usize, sync: Arc<LearnSync>) {
        self.csn.id = id;
        self.csn.sync = sync;
        self.csn.worker = None;
    }

    /// Creates the CSN state (the flow table: `flow_capacity` entries) now
    /// if `t` has a CSN, so the first burst does not pay for it.
    pub fn prepare_csn(&mut self, t: &Tables) {
        if let (Some(ct), None) = (&t.csn, &self.csn.worker) {
            self.csn.worker = Some(CsnWorker::new(
                Arc::clone(ct),
                self.csn.id,
                Arc::clone(&self.csn.sync),
            ));
        }
    }

    /// Sets the CSN clock for the next burst (nanoseconds of a monotonic
    /// clock; in replay the capture timestamps).
    #[inline]
    pub fn set_now(&mut self, now_ns: u64) {
        self.csn.now = now_ns;
    }

    /// The live CSN clock: nanoseconds since the engine's shared state was
    /// made (the same origin on every worker).
    #[inline]
    pub fn monotonic_ns(&self) -> u64 {
        self.csn.sync.now_ns()
    }

    /// The CSN state, once a snapshot with a CSN was seen.
    pub fn csn(&self) -> Option<&CsnWorker> {
        self.csn.worker.as_ref()
    }

    /// The CSN state, mutable (the engine's hold and learn service).
    pub fn csn_mut(&mut self) -> Option<&mut CsnWorker> {
        self.csn.worker.as_mut()
    }

    /// The learn message packet `i` of the last burst must be held for
    /// until every worker installed its addresses (0: send at once).
    #[inline]
    pub fn hold(&self, i: usize) -> u64 {
        self.csn.hold.get(i).copied().unwrap_or(0)
    }

    /// The metadata of packet `i` of the last burst (ingress network etc.).
    #[inline]
    pub fn meta(&self, i: usize) -> &Meta {
        &self.meta[i]
    }

    /// The L2 learning table.
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// The slow-path stage (counters, learned neighbours, per-packet facts
    /// of the last burst).
    pub fn slow(&self) -> &SlowStage {
        &self.slow
    }

    /// The slow-path stage, mutable (the engine applies neighbour updates
    /// and builds errors for failed resolutions).
    pub fn slow_mut(&mut self) -> &mut SlowStage {
        &mut self.slow
    }

    /// For packet `i` of the last burst with a `Tx` or `Hold` verdict: the
    /// egress MTU its IPv4 datagram (without DF, larger than that MTU) must
    /// be fragmented for before it is sent ([`crate::packet::fragment`]);
    /// 0 when it is sent whole.
    #[inline]
    pub fn fragment_mtu(&self, i: usize) -> u16 {
        self.frag_mtu.get(i).copied().unwrap_or(0)
    }

    /// For packet `i` of the last burst with a `Hold` verdict: the address
    /// to resolve ([`crate::slow::ip_key`]).
    #[inline]
    pub fn hold_ip(&self, i: usize) -> u128 {
        self.slow.hold_ip[i]
    }

    /// Processes a burst received on `in_port`, writing one verdict per
    /// packet into `verdicts`. At most [`MAX_BURST`] packets (extra packets
    /// and verdict slots are ignored).
    pub fn process<B: PacketBuf>(
        &mut self,
        t: &Tables,
        in_port: PortId,
        pkts: &mut [B],
        verdicts: &mut [Verdict],
    ) {
        let n = pkts.len().min(verdicts.len()).min(MAX_BURST);
        let Some(port) = t.ports.get(in_port as usize) else {
            return;
        };

        let (pkts, verdicts) = (&mut pkts[..n], &mut verdicts[..n]);
        let (meta, next, adj) = (&mut self.meta[..n], &mut self.next[..n], &mut self.adj[..n]);
        let (rpf, src_adj) = (&mut self.rpf[..n], &mut self.src_adj[..n]);
        let slow = &mut self.slow;
        slow.begin_burst(n);

        // Stage 1: parse, classify, L3 validation.
        let mut any_slow = false;
        for ((buf, m), (nx, v)) in pkts
            .iter()
            .zip(meta.iter_mut())
            .zip(next.iter_mut().zip(verdicts.iter_mut()))
        {
            *m = Meta::default();
            m.network = u16::MAX;
            *nx = match ingress(t, port, buf.data(), m) {
                Ok(nx) => nx,
                Err(Detour::Drop(reason)) => {
                    *v = Verdict::Drop(reason);
                    Next::Done
                }
                Err(Detour::Arp) => {
                    any_slow = true;
                    Next::Arp
                }
                Err(Detour::Nd) => {
                    any_slow = true;
                    Next::Nd
                }
            };
        }

        // Stage 1b: ARP and ND to cnfwd's groups, answered in place.
        if any_slow {
            for (i, ((buf, m), (nx, v))) in pkts
                .iter_mut()
                .zip(meta.iter())
                .zip(next.iter_mut().zip(verdicts.iter_mut()))
                .enumerate()
            {
                *v = match nx {
                    Next::Arp => slow.arp_input(t, port, in_port, m, buf),
                    Next::Nd => slow.icmp6_input(t, port, in_port, m, buf, i),
                    _ => continue,
                };
                *nx = Next::Done;
            }
        }

        // Stage 2: VRF lookups of the destinations and, where the ingress
        // network checks them, the sources. A burst nearly always comes from
        // one VRF: gather each family's addresses and look them up level by
        // level across the burst, so the cache misses overlap.
        let l = &mut self.lookups;
        let (mut n4, mut n6) = (0, 0);
        let mut burst_vrf = None;
        let mut one_vrf = true;
        for (i, ((m, _), check)) in meta
            .iter()
            .zip(next.iter())
            .zip(rpf.iter_mut())
            .enumerate()
            .filter(|(_, ((_, nx), _))| **nx == Next::L3)
        {
            let net = &t.networks[m.network as usize];
            one_vrf &= *burst_vrf.get_or_insert(net.vrf) == net.vrf;
            *check = source_check(t, net, m);
            let src_too = *check != SourceCheck::Off;
            if m.family == Family::V4 {
                l.dst4[n4] = m.dst as u32;
                l.pos4[n4] = i as u16;
                n4 += 1;
                if src_too {
                    l.dst4[n4] = m.src as u32;
                    l.pos4[n4] = i as u16 | SRC_LOOKUP;
                    n4 += 1;
                }
            } else {
                l.dst6[n6] = m.dst;
                l.pos6[n6] = i as u16;
                n6 += 1;
                if src_too {
                    l.dst6[n6] = m.src;
                    l.pos6[n6] = i as u16 | SRC_LOOKUP;
                    n6 += 1;
                }
            }
        }
        match burst_vrf.map(|v| &t.vrfs[v as usize]) {
            Some(vrf) if one_vrf => {
                vrf.fib4.lookup_burst(&l.dst4[..n4], &mut l.out[..n4]);
                scatter(&l.pos4[..n4], &l.out[..n4], adj, src_adj);
                vrf.fib6.lookup_burst(&l.dst6[..n6], &mut l.out[..n6]);
                scatter(&l.pos6[..n6], &l.out[..n6], adj, src_adj);
            }
            _ => {
                for ((m, _), (a, (check, sa))) in meta
                    .iter()
                    .zip(next.iter())
                    .zip(adj.iter_mut().zip(rpf.iter().zip(src_adj.iter_mut())))
                    .filter(|((_, nx), _)| **nx == Next::L3)
                {
                    let vrf = &t.vrfs[t.networks[m.network as usize].vrf as usize];
                    let lookup = |addr: u128| match m.family {
                        Family::V4 => vrf.fib4.lookup(addr as u32),
                        _ => vrf.fib6.lookup(addr),
                    };
                    *a = lookup(m.dst);
                    if *check != SourceCheck::Off {
                        *sa = lookup(m.src);
                    }
                }
            }
        }

        // Stage 3: route checks up to the egress network, then MTU,
        // neighbour, rewrite; the slow path's answers and errors; L2
        // decisions. Without a CSN, one pass in packet order.
        let frag_mtu = &mut self.frag_mtu[..n];
        let at = Arrival { t, port, in_port };
        let cs = &mut self.csn;
        if cs.held {
            cs.hold.fill(0);
            cs.held = false;
        }
        let Some(ct) = t.csn.as_ref() else {
            for (i, (((buf, m), (nx, &a)), (v, (&check, (&sa, fm))))) in pkts
                .iter_mut()
                .zip(meta.iter())
                .zip(next.iter_mut().zip(adj.iter()))
                .zip(
                    verdicts
                        .iter_mut()
                        .zip(rpf.iter().zip(src_adj.iter().zip(frag_mtu.iter_mut()))),
                )
                .enumerate()
            {
                *fm = 0;
                if *nx == Next::L3 {
                    match route_checks(t, port, m, check, sa, a, slow, i, v) {
                        Ok(adj) => {
                            *v = route_post(t, m, adj, buf, slow, i, fm);
                            continue;
                        }
                        Err(to) => *nx = to,
                    }
                }
                finish(at, &mut self.bridge, slow, m, *nx, a, buf, i, fm, v);
            }
            return;
        };

        // With a CSN: route checks first, CSN packets gathered for one
        // batched flow lookup.
        let w = cs
            .worker
            .get_or_insert_with(|| CsnWorker::new(Arc::clone(ct), cs.id, Arc::clone(&cs.sync)));
        w.begin_burst(ct, cs.now);
        let mut nc = 0;
        for (i, ((m, nx), (&a, v))) in meta
            .iter()
            .zip(next.iter_mut())
            .zip(adj.iter().zip(verdicts.iter_mut()))
            .enumerate()
        {
            if *nx != Next::L3 {
                continue;
            }
            let a = match route_checks(t, port, m, rpf[i], src_adj[i], a, slow, i, v) {
                Ok(a) => a,
                Err(to) => {
                    *nx = to;
                    continue;
                }
            };
            let role = if m.network == ct.network {
                Role::Ingress
            } else if a.network == ct.network {
                Role::Egress
            } else {
                continue;
            };
            cs.keys[nc] = w.key(m);
            cs.tcp[nc] = m.tcp_flags;
            cs.pos[nc] = i as u16;
            cs.role[nc] = role;
            nc += 1;
        }

        // The CSN: flow lookups for the burst, then per packet the
        // allowlist (egress misses), ICMP errors and DNS (ingress).
        if nc > 0 {
            let now = cs.now;
            w.track_burst(&cs.keys[..nc], &cs.tcp[..nc], now, &mut cs.hits[..nc]);
            for k in 0..nc {
                let i = cs.pos[k] as usize;
                let m = &meta[i];
                let res = match (cs.role[k], cs.hits[k]) {
                    (Role::Egress, Some(h)) if h.dir == Direction::Original => Ok(()),
                    (Role::Egress, _) => w.admit(&cs.keys[k], cs.tcp[k], now),
                    (Role::Ingress, Some(h)) if h.dir == Direction::Reply => {
                        if is_dns_response(m) {
                            cs.hold[i] = w.snoop_dns(m, l4_bytes(pkts[i].data(), m), now);
                            cs.held |= cs.hold[i] != 0;
                        }
                        Ok(())
                    }
                    _ => w.ingress_miss(m, l4_bytes(pkts[i].data(), m), now),
                };
                if let Err(r) = res {
                    verdicts[i] = Verdict::Drop(r);
                    next[i] = Next::Done;
                }
            }
        }

        // Then everything else, in packet order.
        frag_mtu.fill(0);
        for (i, (((buf, m), (nx, &a)), (v, fm))) in pkts
            .iter_mut()
            .zip(meta.iter())
            .zip(next.iter().zip(adj.iter()))
            .zip(verdicts.iter_mut().zip(frag_mtu.iter_mut()))
            .enumerate()
        {
            finish(at, &mut self.bridge, slow, m, *nx, a, buf, i, fm, v);
        }
    }
}

/// Stage 3 checks for a routed packet up to its egress network: the
/// reverse-path check, cnfwd's own link-local address, the adjacency, TTL
/// and scope. `Ok(adjacency)` to go on; else where it goes next: the slow
/// path (reason set) or nowhere (verdict set).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn route_checks<'t>(
    t: &'t Tables,
    port: &crate::tables::PortEntry,
    m: &Meta,
    check: SourceCheck,
    src_adj: u32,
    adj: u32,
    slow: &mut SlowStage,
    i: usize,
    v: &mut Verdict,
) -> Result<&'t Adjacency, Next> {
    // The port's link-local address is ours, whatever the VRF's routes
    // say (a default route covers fe80::/10 too).
    let pre = if let Err(r) = reverse_path(t, m, check, src_adj) {
        Err(r)
    } else if m.family == Family::V6 && m.dst == port.link_local {
        Err(DropReason::ToGateway)
    } else {
        route_pre(t, m, adj)
    };
    match pre {
        Ok(a) => Ok(a),
        Err(r @ (DropReason::ToGateway | DropReason::TtlExpired | DropReason::NoRoute)) => {
            slow.reason[i] = r;
            Err(Next::Slow)
        }
        Err(r) => {
            *v = Verdict::Drop(r);
            Err(Next::Done)
        }
    }
}

/// Where a burst came in: the snapshot it is forwarded with and its
/// ingress port (entry and id).
#[derive(Clone, Copy)]
struct Arrival<'a> {
    t: &'a Tables,
    port: &'a crate::tables::PortEntry,
    in_port: PortId,
}

/// The last step of stage 3 for a packet whose route checks are done: sets
/// the verdict of a routed packet (by adjacency index), of the slow path,
/// or of the bridge; leaves `v` alone when it is already set (`Done`, and
/// ARP/ND answered in stage 1b).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish<B: PacketBuf>(
    at: Arrival<'_>,
    table: &mut Bridge,
    slow: &mut SlowStage,
    m: &Meta,
    nx: Next,
    a: u32,
    buf: &mut B,
    i: usize,
    frag_mtu: &mut u16,
    v: &mut Verdict,
) {
    let Arrival { t, port, in_port } = at;
    *v = match nx {
        Next::Done | Next::Arp | Next::Nd => return,
        Next::L3 => match t.adjacencies.get(a as usize) {
            Some(adj) => route_post(t, m, adj, buf, slow, i, frag_mtu),
            None => Verdict::Drop(DropReason::NoRoute),
        },
        Next::Slow => match slow.reason[i] {
            DropReason::ToGateway => slow.to_us(t, port, in_port, m, buf, i),
            DropReason::TtlExpired => slow.icmp_error(
                t,
                m,
                buf,
                i,
                DropReason::TtlExpired,
                ErrorKind::TimeExceeded,
                &t.slow,
            ),
            r => slow.icmp_error(t, m, buf, i, r, ErrorKind::NetUnreachable, &t.slow),
        },
        Next::L2 => bridge(t, table, slow, in_port, m, buf),
    };
}

/// The L4 header and payload of a parsed IP packet in `frame` (empty when
/// unknown).
#[inline]
fn l4_bytes<'a>(frame: &'a [u8], m: &Meta) -> &'a [u8] {
    if m.l4_offset == 0 {
        return &[];
    }
    let ip = usize::from(m.eth.payload_offset);
    frame
        .get(ip + usize::from(m.l4_offset)..ip + usize::from(m.ip_len))
        .unwrap_or(&[])
}

/// Where stage 1 sends a packet off the forwarding path: dropped, or ARP
/// and ND for the slow path to answer in place (an `Err` so the common
/// case carries nothing but its [`Next`]).
#[derive(Debug, Clone, Copy)]
enum Detour {
    Drop(DropReason),
    Arp,
    Nd,
}

impl From<DropReason> for Detour {
    #[inline]
    fn from(r: DropReason) -> Self {
        Self::Drop(r)
    }
}

/// Stage 1 for one packet.
#[inline]
fn ingress(
    t: &Tables,
    port: &crate::tables::PortEntry,
    frame: &[u8],
    m: &mut Meta,
) -> Result<Next, Detour> {
    let eth = EthView::parse(frame).ok_or(DropReason::EthTruncated)?;
    m.eth = eth;
    let net = classify::classify(port, &eth)?;
    m.network = net;
    if !t.networks[net as usize].l3 {
        return Ok(Next::L2);
    }
    match eth.ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {}
        ETHERTYPE_ARP => return Err(Detour::Arp),
        et if is_tpid(et) => return Err(DropReason::InnerVlanTag.into()),
        _ => return Err(DropReason::NotIp.into()),
    }
    let dst = dst_mac(frame);
    if dst[0] & 1 != 0 {
        // IPv6 to the all-nodes or a solicited-node group: maybe ND for us.
        let nd_group = dst == [0x33, 0x33, 0, 0, 0, 1] || dst[..3] == [0x33, 0x33, 0xff];
        if eth.ethertype == ETHERTYPE_IPV6 && nd_group {
            parse_ipv6(&frame[eth.payload_offset as usize..], m)?;
            if SlowStage::accepts_multicast6(t, port, m) {
                return Err(Detour::Nd);
            }
        }
        return Err(DropReason::L3Multicast.into());
    }
    if dst != port.mac {
        return Err(DropReason::L3MacMismatch.into());
    }
    let l3 = &frame[eth.payload_offset as usize..];
    if eth.ethertype == ETHERTYPE_IPV4 {
        parse_ipv4(l3, m)?;
        martian4(&t.networks[net as usize], m)?;
    } else {
        parse_ipv6(l3, m)?;
        martian6(m)?;
    }
    Ok(Next::L3)
}

/// What the first octet of an IPv4 address says about it (RFC 1812 5.3.7):
/// one load per address instead of a chain of range compares.
const OCT_ZERO_OR_LOOPBACK: u8 = 1;
const OCT_MULTICAST: u8 = 2;
const OCT_255: u8 = 4;
static FIRST_OCTET: [u8; 256] = {
    let mut t = [0u8; 256];
    t[0] = OCT_ZERO_OR_LOOPBACK;
    t[127] = OCT_ZERO_OR_LOOPBACK;
    let mut o = 224;
    while o < 240 {
        t[o] = OCT_MULTICAST;
        o += 1;
    }
    t[255] = OCT_255;
    t
};

/// IPv4 addresses no router forwards (RFC 1812 4.2.2.11 and 5.3.7, what
/// Linux calls martians), refused before any lookup and never answered:
/// also the ingress network's directed broadcast and cnfwd's own address
/// on it as sources. A multicast destination in a unicast frame is
/// `l3_multicast`. Ordinary addresses take one table load each and two
/// compares; the rest is [`martian4_special`].
#[inline(always)]
fn martian4(net: &NetworkEntry, m: &Meta) -> Result<(), DropReason> {
    let (src, dst) = (m.src as u32, m.dst as u32);
    if FIRST_OCTET[(src >> 24) as usize] | FIRST_OCTET[(dst >> 24) as usize] != 0 {
        martian4_special(src, dst)?;
    }
    // `src` is not in 0/8 here, and 0 stands for "none" in `broadcast4`.
    if src == net.broadcast4 || net.ipv4.is_some_and(|(_, _, gw)| gw == src) {
        return Err(DropReason::MartianSource);
    }
    Ok(())
}

/// [`martian4`] for an address in 0/8, 127/8, 224/4 or 255/8.
#[cold]
fn martian4_special(src: u32, dst: u32) -> Result<(), DropReason> {
    let (s, d) = (
        FIRST_OCTET[(src >> 24) as usize],
        FIRST_OCTET[(dst >> 24) as usize],
    );
    if s & (OCT_ZERO_OR_LOOPBACK | OCT_MULTICAST) != 0 || src == u32::MAX {
        return Err(DropReason::MartianSource);
    }
    if d & OCT_ZERO_OR_LOOPBACK != 0 || dst == u32::MAX {
        return Err(DropReason::MartianDestination);
    }
    if d & OCT_MULTICAST != 0 {
        return Err(DropReason::L3Multicast);
    }
    Ok(())
}

/// IPv6 addresses no router forwards (RFC 4291 2.5.2-2.5.5, 2.7; Linux's
/// `ip6_rcv_core` and `ip6_forward`): the unspecified and loopback
/// addresses, a multicast source and IPv4-mapped addresses. A multicast
/// destination in a unicast frame is `l3_multicast`.
#[inline]
fn martian6(m: &Meta) -> Result<(), DropReason> {
    let special = |a: u128| a <= 1 || a >> 32 == 0xffff;
    if special(m.src) || m.src >> 120 == 0xff {
        return Err(DropReason::Ip6MartianSource);
    }
    if special(m.dst) {
        return Err(DropReason::Ip6MartianDestination);
    }
    if m.dst >> 120 == 0xff {
        return Err(DropReason::L3Multicast);
    }
    Ok(())
}

/// True for an IPv6 link-local unicast address (fe80::/10).
#[inline]
fn link_local6(a: u128) -> bool {
    a >> 118 == 0xfe80 >> 6
}

/// The reverse-path check packet `m` still needs from its ingress network
/// `net`: none for an IPv6 link-local source (on-link by definition; the
/// scope rule keeps it there), nor for a source inside the network's
/// connected prefix when no route shadows it there (its lookup could only
/// answer the network itself; [`crate::tables::OnLink`]).
#[inline]
fn source_check(t: &Tables, net: &NetworkEntry, m: &Meta) -> SourceCheck {
    if net.source_check == SourceCheck::Off {
        return SourceCheck::Off;
    }
    let onlink = &t.vrfs[net.vrf as usize].onlink;
    let passes = match m.family {
        Family::V4 => onlink.passes4(net, m.network, m.src as u32),
        _ => link_local6(m.src) || onlink.passes6(net, m.network, m.src),
    };
    if passes {
        SourceCheck::Off
    } else {
        net.source_check
    }
}

/// Writes the adjacencies a batched lookup found: destinations to `adj`,
/// sources (positions marked [`SRC_LOOKUP`]) to `src_adj`.
#[inline]
fn scatter(pos: &[u16], out: &[u32], adj: &mut [u32], src_adj: &mut [u32]) {
    for (&p, &a) in pos.iter().zip(out) {
        if p & SRC_LOOKUP == 0 {
            adj[usize::from(p)] = a;
        } else {
            src_adj[usize::from(p & !SRC_LOOKUP)] = a;
        }
    }
}

/// The reverse-path check (RFC 3704; VPP's uRPF, Linux's `rp_filter`):
/// `loose` needs a route back to the source in the VRF, `strict` one that
/// leaves through the ingress network. A source that is one of cnfwd's own
/// addresses is a martian (as Linux's `fib_validate_source` says).
#[inline]
fn reverse_path(t: &Tables, m: &Meta, check: SourceCheck, src_adj: u32) -> Result<(), DropReason> {
    if check == SourceCheck::Off {
        return Ok(());
    }
    match t.adjacencies.get(src_adj as usize) {
        None => Err(DropReason::RpfFailed),
        Some(a) if matches!(a.kind, AdjKind::Local | AdjKind::Broadcast) => Err(match m.family {
            Family::V4 => DropReason::MartianSource,
            _ => DropReason::Ip6MartianSource,
        }),
        Some(a) if check == SourceCheck::Strict && a.network != m.network => {
            Err(DropReason::RpfFailed)
        }
        Some(_) => Ok(()),
    }
}

/// Stage 3a for a routed packet: the adjacency, to-us and TTL checks.
#[inline]
fn route_pre<'t>(t: &'t Tables, m: &Meta, adj: u32) -> Result<&'t Adjacency, DropReason> {
    if adj == NO_ROUTE {
        return Err(DropReason::NoRoute);
    }
    let Some(a) = t.adjacencies.get(adj as usize) else {
        return Err(DropReason::NoRoute);
    };
    match a.kind {
        AdjKind::Local => return Err(DropReason::ToGateway),
        AdjKind::Broadcast => return Err(DropReason::DirectedBroadcast),
        _ => {}
    }
    if m.ttl <= 1 {
        return Err(DropReason::TtlExpired);
    }
    // RFC 4007: a link-local address never leaves its link.
    if m.family == Family::V6
        && a.network != m.network
        && (link_local6(m.src) || link_local6(m.dst))
    {
        return Err(DropReason::Ip6ScopeViolation);
    }
    Ok(a)
}

/// Stage 3 for a routed packet past its checks: MTU (fragmentation needed
/// / Packet Too Big; an IPv4 packet without DF gets `frag_mtu`, the engine
/// fragments it), then the rewrite. A next hop with a known MAC (the common
/// case) is rewritten here; anything else goes through [`via_neighbor`].
#[inline(always)]
fn route_post<B: PacketBuf>(
    t: &Tables,
    m: &Meta,
    a: &Adjacency,
    buf: &mut B,
    slow: &mut SlowStage,
    i: usize,
    frag_mtu: &mut u16,
) -> Verdict {
    if u32::from(m.ip_len) > a.mtu {
        if !fragmentable(m, buf) {
            return too_big(t, m, a, buf, slow, i);
        }
        *frag_mtu = a.mtu.min(u32::from(u16::MAX)) as u16;
    }
    if a.kind != AdjKind::ViaResolved || a.port == NO_PORT {
        return via_neighbor(t, m, a, buf, slow, i);
    }
    if !rewrite(m, a, a.mac, buf) {
        return Verdict::Drop(DropReason::NoBuffer);
    }
    Verdict::Tx {
        port: a.port,
        network: a.network,
    }
}

/// [`route_post`] for an adjacency without a resolved next-hop MAC: the
/// neighbour learned (or held and resolved when unknown), or the refusal.
#[inline(never)]
fn via_neighbor<B: PacketBuf>(
    t: &Tables,
    m: &Meta,
    a: &Adjacency,
    buf: &mut B,
    slow: &mut SlowStage,
    i: usize,
) -> Verdict {
    let (mac, resolve) = match a.kind {
        AdjKind::ViaResolved => (a.mac, None),
        AdjKind::Attached => {
            let key = match m.family {
                Family::V4 => v4_key(m.dst as u32),
                _ => m.dst,
            };
            neighbor(t, slow, a, key)
        }
        AdjKind::ViaUnresolved => neighbor(t, slow, a, a.nh),
        AdjKind::Local => return Verdict::Drop(DropReason::NeighborMiss),
        AdjKind::Broadcast => return Verdict::Drop(DropReason::DirectedBroadcast),
    };
    if a.port == NO_PORT {
        return Verdict::Drop(DropReason::NoEgressPort);
    }
    if resolve.is_some_and(|k| !can_resolve(&t.networks[a.network as usize], k)) {
        return Verdict::Drop(DropReason::NeighborMiss);
    }
    if !rewrite(m, a, mac, buf) {
        return Verdict::Drop(DropReason::NoBuffer);
    }
    match resolve {
        None => Verdict::Tx {
            port: a.port,
            network: a.network,
        },
        Some(key) => {
            slow.hold_ip[i] = key;
            Verdict::Hold {
                port: a.port,
                network: a.network,
            }
        }
    }
}

/// The routed frame cut to its datagram (what follows is link padding: only
/// the datagram is forwarded) and rewritten for adjacency `a` with next-hop
/// MAC `mac`. False if the buffer cannot take it.
#[inline(always)]
fn rewrite<B: PacketBuf>(m: &Meta, a: &Adjacency, mac: [u8; 6], buf: &mut B) -> bool {
    let end = usize::from(m.eth.payload_offset) + usize::from(m.ip_len);
    if buf.len() > end && !buf.trim(buf.len() - end) {
        return false;
    }
    rewrite::rewrite_routed(buf, &m.eth, m.family, mac, a.src_mac, a.out_vid)
}

/// The learned (or static) MAC of `key` on the adjacency's network, else
/// the key to resolve.
#[inline]
fn neighbor(t: &Tables, slow: &SlowStage, a: &Adjacency, key: u128) -> ([u8; 6], Option<u128>) {
    match slow.neighbor(&t.networks[a.network as usize], a.network, key) {
        Some(mac) => (mac, None),
        None => ([0; 6], Some(key)),
    }
}

/// True for a packet the engine fragments when it exceeds the egress MTU:
/// IPv4 without DF (RFC 1812 5.2.6). IPv6 is never fragmented by a router.
#[inline]
fn fragmentable<B: PacketBuf>(m: &Meta, buf: &B) -> bool {
    let ip = usize::from(m.eth.payload_offset);
    m.family == Family::V4 && buf.data().get(ip + 6).is_some_and(|f| f & 0x40 == 0)
}

/// A routed packet larger than the egress MTU that must not be fragmented
/// (IPv4 with DF, IPv6): fragmentation needed / Packet Too Big.
#[cold]
fn too_big<B: PacketBuf>(
    t: &Tables,
    m: &Meta,
    a: &Adjacency,
    buf: &mut B,
    slow: &mut SlowStage,
    i: usize,
) -> Verdict {
    slow.icmp_error(
        t,
        m,
        buf,
        i,
        DropReason::MtuExceeded,
        ErrorKind::TooBig(a.mtu),
        &t.slow,
    )
}

/// Stage 3 for a bridged frame.
#[inline]
fn bridge<B: PacketBuf>(
    t: &Tables,
    table: &mut Bridge,
    slow: &mut SlowStage,
    in_port: PortId,
    m: &Meta,
    buf: &mut B,
) -> Verdict {
    let net = &t.networks[m.network as usize];
    let frame = buf.data();
    let (dst, src) = (dst_mac(frame), src_mac(frame));
    // What every 802.1Q bridge refuses, before learning anything from it.
    if src[0] & 1 != 0 || src == [0; 6] {
        return Verdict::Drop(DropReason::L2InvalidSource);
    }
    if dst[..5] == [0x01, 0x80, 0xc2, 0, 0] && dst[5] & 0xf0 == 0 {
        return Verdict::Drop(DropReason::L2ReservedGroup);
    }
    let (now, age_ns) = (slow.now, u64::from(net.mac_age_s) * 1_000_000_000);
    if !net.static_macs.contains_key(&src) {
        table.learn(m.network, src, in_port, now, age_ns, &mut slow.counters);
    }
    let tag_len = if m.eth.tci.is_some() { 4 } else { 0 };
    if frame.len() > 14 + tag_len + net.mtu as usize {
        return Verdict::Drop(DropReason::MtuExceeded);
    }
    let known = if dst[0] & 1 == 0 {
        match net.static_macs.get(&dst) {
            Some(&p) => Some(p),
            None => table.lookup(m.network, dst, now, age_ns, &mut slow.counters),
        }
    } else {
        None
    };
    match known {
        Some(p) if p == in_port => Verdict::Drop(DropReason::L2SamePort),
        Some(p) => {
            let vid = t.ports[p as usize].trunk.then_some(net.vlan);
            let pcp = m.eth.tci.map_or(0, |t| t & 0xf000);
            if !rewrite::set_tag(buf, m.eth.tci, vid.map(|v| v | pcp)) {
                return Verdict::Drop(DropReason::NoBuffer);
            }
            Verdict::Tx {
                port: p,
                network: m.network,
            }
        }
        None => {
            if !net.ports.iter().any(|&p| p != in_port) {
                return Verdict::Drop(DropReason::L2NoEgress);
            }
            if !rewrite::set_tag(buf, m.eth.tci, None) {
                return Verdict::Drop(DropReason::NoBuffer);
            }
            Verdict::Flood { network: m.network }
        }
    }
}

/// Turns an untagged flood frame into the copy for `out_port`: pushes the
/// network's tag (with the ingress PCP/DEI from `in_tci`) on a trunk port.
/// Returns false if there is no headroom.
#[inline]
pub fn prepare_flood_copy<B: PacketBuf>(
    t: &Tables,
    network: NetworkId,
    out_port: PortId,
    in_tci: Option<u16>,
    buf: &mut B,
) -> bool {
    if !t.ports[out_port as usize].trunk {
        return true;
    }
    let pcp = in_tci.map_or(0, |t| t & 0xf000);
    rewrite::set_tag(buf, None, Some(t.networks[network as usize].vlan | pcp))
}
