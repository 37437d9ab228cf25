//! The slow path: what cnfwd does with packets that are not simply
//! forwarded (`docs/slow-path.md` is the behaviour, byte by byte).
//!
//! - [`wire`]: the ARP, ND and ICMP frames, parsed and built.
//! - [`stage`]: the per-worker part run inside the pipeline: answers ARP,
//!   NS and echo requests in place, builds ICMP errors in the offending
//!   packet's buffer and routes them, and collects what was learned.
//! - [`resolve`]: the per-worker hold of packets whose next hop has no MAC,
//!   with the requests, retries and failures of their resolution.
//! - [`ratelimit`]: ICMP error token buckets, per worker and per target.
//! - [`neighbor`]: the neighbour table itself (one per engine): states,
//!   aging, probing. Workers tell it what they learn over a bounded
//!   lock-free queue ([`SlowShared`]); it tells every worker what changed
//!   over per-worker queues, which workers apply between bursts. In replay
//!   the single worker drives it inline, so outputs depend on the input
//!   alone.
//!
//! Nothing here allocates per packet: queues and tables are sized at start.

pub mod neighbor;
pub mod ratelimit;
pub mod resolve;
pub mod stage;
pub mod wire;

use std::net::IpAddr;

use crossbeam_queue::ArrayQueue;

use cnfwd_config::NetworkId;

/// The key of an address in neighbour maps: IPv6 as is, IPv4 as its
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), so both share one map.
#[inline]
pub fn ip_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => v4_key(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// [`ip_key`] of an IPv4 address in host order.
#[inline]
pub fn v4_key(a: u32) -> u128 {
    0xffff_0000_0000 | u128::from(a)
}

/// The address an [`ip_key`] stands for.
pub fn key_ip(k: u128) -> IpAddr {
    if k >> 32 == 0xffff {
        IpAddr::V4((k as u32).into())
    } else {
        IpAddr::V6(k.into())
    }
}

/// True when `k` is an IPv4 key.
#[inline]
pub fn key_is_v4(k: u128) -> bool {
    k >> 32 == 0xffff
}

crate::counters::named_counters! {
    /// Every counter of the slow path.
    pub enum SlowCounter {
        /// ARP replies sent for a gateway address.
        ArpRepliesSent = "arp_replies_sent", "ARP replies sent for cnfwd's gateway addresses";
        /// Neighbour Advertisements sent.
        NaSent = "na_sent", "Neighbour Advertisements sent for cnfwd's addresses";
        /// Echo replies sent.
        EchoRepliesSent = "echo_replies_sent", "ICMP / ICMPv6 echo replies sent";
        /// ARP requests sent to resolve a next hop.
        ArpRequestsSent = "arp_requests_sent", "ARP requests sent to resolve a next hop";
        /// Neighbour Solicitations sent to resolve a next hop.
        NsSent = "ns_sent", "Neighbour Solicitations sent to resolve a next hop";
        /// Gratuitous ARPs and unsolicited NAs sent at start.
        AnnouncementsSent = "announcements_sent", "gratuitous ARPs and unsolicited NAs sent at start";
        /// Unicast probes of aging neighbours.
        ProbesSent = "probes_sent", "unicast ARP / NS probes of aging neighbour entries";
        /// ICMP errors sent.
        IcmpErrorsSent = "icmp_errors_sent", "ICMP / ICMPv6 errors built and routed (one held for its next hop that never answers is then counted as neighbor_unresolved)";
        /// ICMP errors refused by a rate limit.
        IcmpRateLimited = "icmp_rate_limited", "ICMP errors not sent: per-worker or per-destination rate limit";
        /// ICMP errors never sent by rule (RFC 1812 4.3.2.7) or without a route.
        IcmpSuppressed = "icmp_suppressed", "ICMP errors not sent: about an error, a fragment, a broadcast or multicast, an invalid source, or no way back";
        /// Neighbour entries learned or completed.
        NeighborsLearned = "neighbors_learned", "neighbour entries learned (requests to cnfwd, answers to its requests)";
        /// Neighbour entries refused: the network's table is full.
        NeighborTableFull = "neighbor_table_full", "neighbour entries refused: the network's table is full";
        /// Neighbour entries removed after unanswered probes.
        NeighborsAgedOut = "neighbors_aged_out", "neighbour entries removed after unanswered probes";
        /// Packets held for a resolution.
        PacketsHeld = "packets_held", "packets held while their next hop is resolved";
        /// Held packets sent once the next hop was resolved.
        PacketsReleased = "packets_released", "held packets sent once their next hop was resolved";
        /// L2: a MAC seen on another port than the one it was learned on.
        MacMoves = "mac_moves", "L2: MAC addresses that moved to another port";
        /// L2: MAC entries aged out.
        MacsAgedOut = "macs_aged_out", "L2: learned MAC addresses aged out";
        /// L2: MAC addresses not learned, table full.
        MacTableFull = "mac_table_full", "L2: MAC addresses not learned because the table is full";
        /// Learned facts not passed on: the queue to the neighbour table was full.
        PuntQueueFull = "punt_queue_full", "neighbour events lost: the queue to the neighbour table was full";
        /// Frames cnfwd originates not sent: the backend had no buffer.
        AllocFailed = "alloc_failed", "frames cnfwd originates (ARP requests, NS, announcements, probes) not sent: no packet buffer (DPDK: mbuf pool empty)";
    }
}

/// One value per [`SlowCounter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowCounters(pub [u64; SlowCounter::COUNT]);

impl Default for SlowCounters {
    fn default() -> Self {
        Self([0; SlowCounter::COUNT])
    }
}

impl SlowCounters {
    /// Adds `n` to counter `c`.
    #[inline]
    pub fn add(&mut self, c: SlowCounter, n: u64) {
        self.0[c as usize] += n;
    }

    /// The value of `c`.
    pub fn get(&self, c: SlowCounter) -> u64 {
        self.0[c as usize]
    }

    /// Adds every counter of `other`.
    pub fn add_all(&mut self, other: &SlowCounters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// What a worker learned, for the neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The worker started resolving this address (it sent a request).
    Resolving,
    /// A request addressed to cnfwd carried the sender's MAC.
    Request,
    /// An ARP reply, gratuitous ARP or NA: confirms or refreshes.
    Answer,
    /// A solicited NA without a target link-layer address option (what
    /// Linux answers to a unicast NS, such as cnfwd's probes; RFC 4861
    /// 7.2.4): confirms an entry that has a MAC and keeps that MAC;
    /// teaches nothing else (RFC 4861 7.2.5). `mac` is unused.
    Confirm,
}

/// One fact for the neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The L3 network.
    pub network: NetworkId,
    /// The address ([`ip_key`]).
    pub ip: u128,
    /// Its MAC (unused for `Resolving`).
    pub mac: [u8; 6],
}

/// A change of the neighbour table every worker applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// The L3 network.
    pub network: NetworkId,
    /// The address ([`ip_key`]).
    pub ip: u128,
    /// Its MAC, or `None`: removed.
    pub mac: Option<[u8; 6]>,
}

/// A unicast probe of an aging entry, for one worker to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The L3 network.
    pub network: NetworkId,
    /// The address ([`ip_key`]).
    pub ip: u128,
    /// The MAC it was known at.
    pub mac: [u8; 6],
}

/// Events a worker can queue before the neighbour table takes them.
pub const EVENT_QUEUE: usize = 4096;
/// Updates a worker can have waiting.
pub const UPDATE_QUEUE: usize = 16_384;

/// The queues between the workers and the neighbour table.
#[derive(Debug)]
pub struct SlowShared {
    /// Workers -> table.
    pub events: ArrayQueue<Event>,
    /// Table -> each worker: changes.
    pub updates: Vec<ArrayQueue<Update>>,
    /// Table -> worker 0: probes to send.
    pub probes: ArrayQueue<Probe>,
}

impl SlowShared {
    /// Queues for `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            events: ArrayQueue::new(EVENT_QUEUE),
            updates: (0..workers.max(1))
                .map(|_| ArrayQueue::new(UPDATE_QUEUE))
                .collect(),
            probes: ArrayQueue::new(EVENT_QUEUE),
        }
    }
}
