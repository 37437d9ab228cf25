//! The CSN stage of the packet path and the per-worker CSN state.
//!
//! # Where things live
//!
//! - [`CsnTables`] (the compiled [`Allowlist`], the CSN network, its VRF and
//!   the settings) is part of the forwarding snapshot
//!   ([`crate::tables::Tables::csn`]): config apply and `/allowlist/add|del`
//!   publish it like routes, and a worker reads it once per burst.
//! - [`CsnWorker`] is owned by one worker's pipeline: its [`FlowTable`]
//!   (capacity `flow_capacity`, allocated once), its copy of the
//!   [`LearnedTable`], per-rule hit counters, counters and the deny-log rate
//!   limiter. Nothing in it is shared, so the per-packet path takes no lock
//!   and does no read-modify-write on shared memory.
//! - [`LearnSync`] is shared by the workers of one engine: one bounded
//!   queue per worker carrying learn messages, and one acknowledgement word
//!   per (receiver, sender) pair, each on its own cache line, written only
//!   by its receiver (store-only).
//!
//! # Return traffic and several workers
//!
//! A flow's two directions must reach the same worker, whose table holds
//! the flow. Both backends spread packets with a symmetric hash: AF_PACKET
//! `PACKET_FANOUT_HASH` uses the kernel's `skb_get_hash`, whose flow
//! dissector sorts the two addresses and the two ports before hashing
//! (`__flow_hash_consistentify`), so it is symmetric for the 5-tuple; DPDK
//! RSS is symmetric with the well-known repeating `0x6d5a` Toeplitz key (or
//! `RTE_ETH_HASH_FUNCTION_SYMMETRIC_TOEPLITZ`). A worker never consults
//! another worker's flow table.
//!
//! # Learned addresses and the DNS hold
//!
//! A DNS response arriving from the CSN on a flow (UDP or TCP source port
//! 53, matched like any return packet) is parsed on the receiving worker,
//! right after its burst's flow lookups (an allocation-using slow branch
//! taken only for such packets). The worker installs the answers in its own
//! learned table at once, then sends one [`LearnMsg`] to every other
//! worker's queue and **holds the response packet** (in the engine's
//! per-worker hold queue) until every other worker has acknowledged that
//! message (each worker drains its queue before every poll and stores the
//! sender's sequence number it reached), or until `dns_hold_max_ms` passed
//! (then it is sent anyway and counted as `dns_hold_timeout`). So a
//! connection the workload opens after it got the answer finds the address
//! installed on whichever worker its SYN lands on. With one worker (replay,
//! tests) the install is immediate and nothing is held.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use cnfwd_config::egress::EgressRule;
use cnfwd_config::NetworkId;

use super::allowlist::{deny_log_line, AllowlistError, Verdict as AllowVerdict};
use super::dns::{self, DnsResponse, TcpSplit};
use super::flow::{key_from_icmp_error, Direction, FlowTable, Hit, Inserted};
use super::{
    Allowlist, CsnCounter, CsnCounters, CsnSettings, FlowKey, LearnedTable, LogLimiter, RuleHits,
    RuleId,
};
use crate::packet::meta::{Family, Meta};
use crate::pipeline::DropReason;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const DNS_PORT: u16 = 53;

/// Learn messages one worker's queue holds at most.
pub const LEARN_QUEUE_LEN: usize = 1024;

/// The CSN part of a forwarding snapshot.
#[derive(Debug)]
pub struct CsnTables {
    /// The CSN network.
    pub network: NetworkId,
    /// Its VRF: the flow-key zone for both directions.
    pub vrf: u16,
    /// The compiled allowlist.
    pub allowlist: Allowlist,
    /// The module's settings.
    pub settings: CsnSettings,
}

impl CsnTables {
    /// Compiles `rules` for the CSN `network` (in VRF `vrf`).
    pub fn new(
        network: NetworkId,
        vrf: u16,
        rules: &[EgressRule],
        settings: CsnSettings,
    ) -> Result<Self, AllowlistError> {
        Ok(CsnTables {
            network,
            vrf,
            allowlist: Allowlist::new(rules)?,
            settings,
        })
    }
}

/// One DNS response's answers, for the other workers' learned tables.
#[derive(Debug)]
pub struct LearnMsg {
    sender: usize,
    seq: u64,
    resp: DnsResponse,
    now_ns: u64,
}

/// A word alone on its cache line(s).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// What the control thread sees of one worker's CSN state (bounded lists).
#[derive(Debug, Clone, Default)]
pub struct CsnDump {
    /// Flows stored (expired ones not yet removed included).
    pub flow_count: usize,
    /// Flow capacity of the worker's table.
    pub flow_capacity: usize,
    /// Bytes the flow table takes.
    pub flow_memory: usize,
    /// Up to the requested number of live flows: (key in the original
    /// direction, state name, rule).
    pub flows: Vec<(FlowKey, &'static str, RuleId)>,
    /// Learned grants (address, name) in the worker's table.
    pub learned_count: usize,
    /// Up to the requested number of grants: (address, name, ns left, rules).
    pub learned: Vec<(IpAddr, String, u64, Vec<RuleId>)>,
    /// Flows admitted per rule since the allowlist last changed.
    pub hits: Vec<u64>,
    /// Rules in the allowlist the hits refer to.
    pub rules: usize,
}

/// State shared by the workers of one engine (see the module doc).
#[derive(Debug)]
pub struct LearnSync {
    workers: usize,
    epoch: Instant,
    senders: Vec<Sender<Arc<LearnMsg>>>,
    receivers: Mutex<Vec<Option<Receiver<Arc<LearnMsg>>>>>,
    /// `[receiver * workers + sender]`: the sender's last sequence number
    /// the receiver has applied.
    acked: Box<[Padded]>,
    dump_request: Padded,
    dump_limit: Padded,
    dumps: Vec<Mutex<(u64, CsnDump)>>,
}

impl LearnSync {
    /// Shared state for `workers` workers (at least 1).
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        let (senders, receivers) = (0..workers)
            .map(|_| {
                let (tx, rx) = bounded(LEARN_QUEUE_LEN);
                (tx, Some(rx))
            })
            .unzip();
        LearnSync {
            workers,
            epoch: Instant::now(),
            senders,
            receivers: Mutex::new(receivers),
            acked: (0..workers * workers).map(|_| Padded::default()).collect(),
            dump_request: Padded::default(),
            dump_limit: Padded::default(),
            dumps: (0..workers).map(|_| Mutex::default()).collect(),
        }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Nanoseconds of the monotonic clock since this state was made (the
    /// live engine's CSN clock, the same for every worker).
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// True when every worker other than `sender` applied its message
    /// `seq`.
    pub fn acked_by_all(&self, sender: usize, seq: u64) -> bool {
        (0..self.workers).filter(|&r| r != sender).all(|r| {
            self.acked[r * self.workers + sender]
                .0
                .load(Ordering::Acquire)
                >= seq
        })
    }

    /// Asks every worker for a fresh [`CsnDump`] with at most `limit` flows
    /// and grants, waits up to `wait` for them, and returns what each worker
    /// last published (possibly older when a worker did not answer in
    /// time, e.g. an idle one without traffic).
    pub fn dumps(&self, limit: usize, wait: Duration) -> Vec<CsnDump> {
        self.dump_limit.0.store(limit as u64, Ordering::Relaxed);
        let req = self.dump_request.0.fetch_add(1, Ordering::AcqRel) + 1;
        let until = Instant::now() + wait;
        loop {
            let done = self
                .dumps
                .iter()
                .all(|d| d.lock().unwrap_or_else(|e| e.into_inner()).0 >= req);
            if done || Instant::now() >= until {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.dumps
            .iter()
            .map(|d| d.lock().unwrap_or_else(|e| e.into_inner()).1.clone())
            .collect()
    }
}

/// Role of a packet for the CSN stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not CSN traffic.
    None,
    /// Routed out through the CSN.
    Egress,
    /// Arrived from the CSN.
    Ingress,
}

/// One worker's CSN state (see the module doc).
#[derive(Debug)]
pub struct CsnWorker {
    id: usize,
    tables: Arc<CsnTables>,
    flows: FlowTable,
    learned: LearnedTable,
    hits: RuleHits,
    /// This worker's CSN counters.
    pub counters: CsnCounters,
    log: LogLimiter,
    sync: Arc<LearnSync>,
    rx: Option<Receiver<Arc<LearnMsg>>>,
    seq: u64,
    dump_served: u64,
}

impl CsnWorker {
    /// State for worker `id` of `sync`'s engine, sized by `tables`'
    /// settings (allocates the flow table now).
    pub fn new(tables: Arc<CsnTables>, id: usize, sync: Arc<LearnSync>) -> Self {
        let s = &tables.settings;
        let seed = 0x5eed_c5f0_0000_0000 ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let rx = sync
            .receivers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
            .and_then(Option::take);
        CsnWorker {
            id,
            flows: FlowTable::from_settings(s, seed),
            learned: LearnedTable::new(s),
            hits: RuleHits::new(tables.allowlist.len()),
            counters: CsnCounters::default(),
            log: LogLimiter::new(s.deny_log_per_s),
            tables,
            sync,
            rx,
            seq: 0,
            dump_served: 0,
        }
    }

    /// The snapshot part this state follows.
    pub fn tables(&self) -> &Arc<CsnTables> {
        &self.tables
    }

    /// The flow table.
    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }

    /// The learned table.
    pub fn learned(&self) -> &LearnedTable {
        &self.learned
    }

    /// Flows admitted per rule since the allowlist last changed.
    pub fn hits(&self) -> &RuleHits {
        &self.hits
    }

    /// The shared engine state.
    pub fn sync(&self) -> &Arc<LearnSync> {
        &self.sync
    }

    /// Start of a burst: follows a new allowlist (learned names re-resolved,
    /// hit counters restarted), and expires a bounded number of flows and
    /// grants.
    pub fn begin_burst(&mut self, t: &Arc<CsnTables>, now: u64) {
        if !Arc::ptr_eq(&self.tables, t) {
            self.learned.rebind(&t.allowlist);
            self.hits = RuleHits::new(t.allowlist.len());
            self.log = LogLimiter::new(t.settings.deny_log_per_s);
            self.tables = Arc::clone(t);
        }
        let removed = self
            .flows
            .expire(now, self.tables.settings.expiry_budget as usize);
        self.counters.add(CsnCounter::FlowExpired, removed as u64);
        let gone = self.learned.expire(now, 64);
        self.counters.add(CsnCounter::LearnedExpired, gone as u64);
    }

    /// Applies the learn messages other workers sent, acknowledges them, and
    /// publishes a dump if the control thread asked for one. Cheap when
    /// there is nothing (one queue poll, one relaxed load).
    pub fn service(&mut self, now: u64) {
        if let Some(rx) = &self.rx {
            while let Ok(msg) = rx.try_recv() {
                self.learned
                    .learn(&self.tables.allowlist, &msg.resp, msg.now_ns);
                self.sync.acked[self.id * self.sync.workers + msg.sender]
                    .0
                    .store(msg.seq, Ordering::Release);
            }
        }
        let req = self.sync.dump_request.0.load(Ordering::Acquire);
        if req > self.dump_served {
            self.dump_served = req;
            let limit = self.sync.dump_limit.0.load(Ordering::Relaxed) as usize;
            let d = self.dump(now, limit);
            if let Some(slot) = self.sync.dumps.get(self.id) {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = (req, d);
            }
        }
    }

    /// This worker's state for the management socket (slow path: walks the
    /// flow table until `limit` flows are found).
    pub fn dump(&self, now: u64, limit: usize) -> CsnDump {
        CsnDump {
            flow_count: self.flows.len(),
            flow_capacity: self.flows.capacity(),
            flow_memory: self.flows.memory_bytes(),
            flows: self
                .flows
                .iter(now)
                .take(limit)
                .map(|(k, s, r)| (k, state_name(s), r))
                .collect(),
            learned_count: self.learned.len(),
            learned: self
                .learned
                .list(now, limit)
                .into_iter()
                .map(|(a, n, left, r)| (a, n.to_string(), left, r.to_vec()))
                .collect(),
            hits: (0..self.tables.allowlist.len() as RuleId)
                .map(|r| self.hits.get(r))
                .collect(),
            rules: self.tables.allowlist.len(),
        }
    }

    /// True when held message `seq` of this worker was applied by every
    /// other worker.
    pub fn acked(&self, seq: u64) -> bool {
        self.sync.acked_by_all(self.id, seq)
    }

    /// The flow key of a packet (ICMP/ICMPv6 echo: the identifier as both
    /// ports; other ICMP: ports 0).
    #[inline]
    pub fn key(&self, m: &Meta) -> FlowKey {
        let v6 = m.family == Family::V6;
        let (sport, dport) = match m.proto {
            IPPROTO_ICMP | IPPROTO_ICMPV6 => {
                let ty = (m.src_port >> 8) as u8;
                if matches!(ty, 0 | 8 | 128 | 129) {
                    (m.dst_port, m.dst_port)
                } else {
                    (0, 0)
                }
            }
            _ => (m.src_port, m.dst_port),
        };
        FlowKey {
            vrf: self.tables.vrf,
            v6,
            proto: m.proto,
            src: m.src,
            dst: m.dst,
            sport,
            dport,
        }
    }

    /// Looks a burst of keys up (both directions), applying each packet.
    #[inline]
    pub fn track_burst(&mut self, keys: &[FlowKey], tcp: &[u8], now: u64, out: &mut [Option<Hit>]) {
        self.flows.track_burst(keys, tcp, now, out);
    }

    /// Egress packet whose flow lookup missed: allowlist (addresses, then
    /// learned names); allowed → new flow; denied → counted, rate-limited
    /// log line.
    pub fn admit(&mut self, key: &FlowKey, tcp: u8, now: u64) -> Result<(), DropReason> {
        let t = &self.tables;
        let (proto, port) = (key.proto, key.dport);
        let verdict = if key.v6 {
            t.allowlist.check_v6(key.dst, proto, port)
        } else {
            t.allowlist.check_v4(key.dst as u32, proto, port)
        };
        let rule = match verdict {
            AllowVerdict::Allowed(r) => Some(r),
            AllowVerdict::Denied => {
                self.learned
                    .check(&t.allowlist, key.dst_addr(), proto, port, now)
            }
        };
        let Some(rule) = rule else {
            self.counters.add(CsnCounter::CsnDenied, 1);
            if self.log.allow(now) {
                let dst = key.dst_addr();
                let learned = self.learned.rules_for(dst, now);
                let closest = t.allowlist.closest_rule(dst, &learned);
                // Rate-limited by `self.log` (`deny_log_per_s`).
                tracing::warn!(
                    "{}",
                    deny_log_line(&t.allowlist, key.src_addr(), dst, proto, port, closest)
                );
            } else {
                self.counters.add(CsnCounter::DenyLogSuppressed, 1);
            }
            return Err(DropReason::CsnDenied);
        };
        match self.flows.insert(key, tcp, rule, now) {
            Ok(Inserted::Created) => {
                self.hits.hit(rule);
                self.counters.add(CsnCounter::FlowCreated, 1);
                Ok(())
            }
            Ok(Inserted::Existing(_)) => Ok(()),
            Err(_) => {
                self.counters.add(CsnCounter::FlowTableFull, 1);
                Err(DropReason::CsnFlowTableFull)
            }
        }
    }

    /// Ingress packet from the CSN that matched no flow: an ICMP error
    /// quoting a packet of a flow passes; anything else is `csn_no_flow`.
    /// `l4` is the packet from its L4 header to the end of the IP packet.
    pub fn ingress_miss(&mut self, m: &Meta, l4: &[u8], now: u64) -> Result<(), DropReason> {
        let ty = (m.src_port >> 8) as u8;
        let error = match m.proto {
            IPPROTO_ICMP => matches!(ty, 3 | 11 | 12),
            IPPROTO_ICMPV6 => matches!(ty, 1..=4),
            _ => false,
        };
        if error {
            let v6 = m.family == Family::V6;
            if let Some(quoted) = l4.get(8..) {
                if let Ok(k) = key_from_icmp_error(self.tables.vrf, v6, quoted) {
                    if let Some(hit) = self.flows.lookup(&k, now) {
                        if hit.dir == Direction::Original {
                            self.counters.add(CsnCounter::IcmpRelated, 1);
                            return Ok(());
                        }
                    }
                }
            }
        }
        self.counters.add(CsnCounter::CsnNoFlow, 1);
        Err(DropReason::CsnNoFlow)
    }

    /// A packet from the CSN on a flow, from source port 53: parses the DNS
    /// messages it carries and learns from them. Returns the sequence number
    /// to hold the packet for (0: no hold). `l4` is the packet from its L4
    /// header to the end of the IP packet. Never fails: a malformed message
    /// is counted under its parse error and teaches nothing.
    pub fn snoop_dns(&mut self, m: &Meta, l4: &[u8], now: u64) -> u64 {
        let mut hold = 0;
        match m.proto {
            IPPROTO_UDP => {
                if let Some(msg) = l4.get(8..) {
                    hold = self.learn_message(msg, now);
                }
            }
            IPPROTO_TCP => {
                let doff = l4.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
                let Some(mut stream) = l4.get(doff.max(20)..) else {
                    return 0;
                };
                while !stream.is_empty() {
                    match dns::next_tcp_message(stream) {
                        TcpSplit::Message { msg, rest } => {
                            hold = hold.max(self.learn_message(msg, now));
                            stream = rest;
                        }
                        TcpSplit::NeedMore { .. } => {
                            self.counters.add(CsnCounter::DnsTcpPartial, 1);
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
        hold
    }

    fn learn_message(&mut self, msg: &[u8], now: u64) -> u64 {
        let resp = match dns::parse_response(msg) {
            Ok(r) => r,
            Err(e) => {
                self.counters.add(CsnCounter::from_dns_error(&e), 1);
                return 0;
            }
        };
        self.counters.add(CsnCounter::DnsResponses, 1);
        let outcome = self.learned.learn(&self.tables.allowlist, &resp, now);
        outcome.count_into(&mut self.counters);
        if outcome.installed + outcome.refreshed == 0
            || self.sync.workers <= 1
            || self.tables.settings.dns_hold_max_ms == 0
        {
            return 0;
        }
        self.seq += 1;
        let msg = Arc::new(LearnMsg {
            sender: self.id,
            seq: self.seq,
            resp,
            now_ns: now,
        });
        for (j, tx) in self.sync.senders.iter().enumerate() {
            if j == self.id {
                continue;
            }
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                tx.try_send(Arc::clone(&msg))
            {
                self.counters.add(CsnCounter::LearnQueueFull, 1);
            }
        }
        self.seq
    }

    /// Whether `dst` would be allowed for a new flow now (tests, `/csn`
    /// commands): an address rule or a live learned grant.
    pub fn would_allow(&self, dst: IpAddr, proto: u8, port: u16, now: u64) -> bool {
        let t = &self.tables;
        matches!(
            t.allowlist.check_addr(dst, proto, port),
            AllowVerdict::Allowed(_)
        ) || self
            .learned
            .check(&t.allowlist, dst, proto, port, now)
            .is_some()
    }
}

/// True when a packet from the CSN is a DNS response worth snooping (UDP or
/// TCP from port 53).
#[inline]
pub fn is_dns_response(m: &Meta) -> bool {
    m.src_port == DNS_PORT && (m.proto == IPPROTO_UDP || m.proto == IPPROTO_TCP)
}

/// The name of a flow state in `/csn/flows`.
pub fn state_name(s: super::TcpState) -> &'static str {
    use super::TcpState as S;
    match s {
        S::NotTcp => "active",
        S::SynSent => "syn_sent",
        S::SynRecv => "syn_recv",
        S::Established => "established",
        S::FinWait => "fin_wait",
        S::Closing => "closing",
        S::Closed => "closed",
    }
}
