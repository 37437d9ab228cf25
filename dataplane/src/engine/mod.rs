//! The engine: workers poll their ports a burst at a time, run the
//! pipeline to completion over each burst, hand the results to the egress
//! ports' TX queues and count everything.
//!
//! - [`Worker`]: one worker's state (pipeline, burst arrays, TX queues,
//!   counters). Replay drives one worker on the calling thread
//!   ([`Worker::run_to_completion`]): ports in configuration order,
//!   `burst_size` packets each, TX flushed after every burst, so the output
//!   order is a function of the input alone.
//! - [`workers`]: the live engine: one pinned thread per worker, each with
//!   its own backend (its RX queue of every port and its own TX queues), an
//!   idle policy, and counters published to the control thread.
//! - [`snapshot`]: how the control thread publishes new tables to running
//!   workers (picked up between bursts, freed on the control thread).
//! - [`cores`]: which cores the workers run on (configured, or chosen on
//!   the ports' NUMA node from sysfs).

pub mod capture;
pub mod cores;
pub mod snapshot;
pub mod trace;
mod txq;
pub mod workers;

use std::collections::VecDeque;
use std::sync::Arc;

use cnfwd_config::{NetworkId, PortId};

use crate::csn::{CsnCounter, LearnSync};
use crate::io::{Backend, IoError, LinkState};
use crate::packet::buf::PacketBuf;
use crate::packet::ethernet::{EthView, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::packet::meta::Meta;
use crate::packet::parse::{parse_ipv4, parse_ipv6};
use crate::pipeline::{prepare_flood_copy, DropReason, Pipeline, Verdict, MAX_BURST};
use crate::slow::neighbor::NeighborTable;
use crate::slow::resolve::{
    Held as ResolverHeld, HeldInput, HoldResult, Request, Resolver, MAX_PENDING,
};
use crate::slow::stage::{announcements, request, ErrorKind};
use crate::slow::{key_is_v4, Event, EventKind, SlowCounter, SlowShared, Update};
use crate::stats::Stats;
use crate::tables::Tables;
use crate::tables::NO_PORT;
use snapshot::SnapshotReader;
use txq::TxQueues;

/// One worker: its pipeline, burst arrays, TX queues and counters.
pub struct Worker<B: Backend> {
    pipeline: Pipeline,
    burst: usize,
    rx: Vec<B::Buf>,
    rx_len: Vec<u32>,
    verdicts: Vec<Verdict>,
    /// Frames queued per port until the next flush.
    tx: TxQueues<B::Buf>,
    /// This worker's counters.
    pub stats: Stats,
    /// Tracing, when the engine offers it: (this worker's id, shared state).
    trace: Option<(usize, std::sync::Arc<trace::TraceShared>)>,
    /// Live capture, when the engine offers it: (this worker's id, shared state).
    capture: Option<(usize, Arc<capture::CaptureShared>)>,
    /// CSN clock: capture timestamps (replay) instead of the monotonic clock.
    packet_clock: bool,
    /// The CSN clock of the last burst (ns).
    now: u64,
    /// DNS responses held until every worker installed what they taught
    /// (see `csn::stage`), oldest first.
    held: VecDeque<Held<B::Buf>>,
    /// The slow path's side of this worker (see [`SlowSide`]).
    slow: SlowSide<B::Buf>,
}

/// A worker's neighbour resolution and its link to the neighbour table.
struct SlowSide<T> {
    /// Packets held while their next hop is resolved.
    resolver: Resolver<T>,
    /// Live: this worker's id and the queues to and from the table.
    shared: Option<(usize, Arc<SlowShared>)>,
    /// Replay (one worker): the neighbour table itself, driven inline.
    table: Option<NeighborTable>,
    /// Whether this worker announces the gateway addresses at start, and
    /// whether it has.
    announce: bool,
    /// Frames built here (requests, announcements).
    scratch: Box<[u8]>,
    /// Retries and failures collected by a resolver tick.
    requests: Vec<Request>,
    failed: Vec<ResolverHeld<T>>,
}

/// A routed packet held back by the CSN's DNS hold.
struct Held<T> {
    buf: T,
    port: PortId,
    network: NetworkId,
    /// Where it came from (a failed fragmentation is counted there).
    in_port: PortId,
    in_network: NetworkId,
    /// The MTU to fragment it for (0: none).
    frag_mtu: u16,
    seq: u64,
    deadline: u64,
}

impl<B: Backend> Worker<B> {
    /// A worker for `tables`, taking `burst` packets per poll (clamped to
    /// 1..=[`MAX_BURST`]).
    pub fn new(tables: &Tables, burst: usize) -> Self {
        let burst = burst.clamp(1, MAX_BURST);
        Self {
            pipeline: Pipeline::new(),
            burst,
            rx: Vec::with_capacity(burst),
            rx_len: vec![0; burst],
            verdicts: vec![Verdict::Drop(DropReason::NoRoute); burst],
            tx: TxQueues::new(tables.ports.len(), 2 * burst),
            stats: Stats::new(tables.ports.len(), tables.networks.len()),
            trace: None,
            capture: None,
            packet_clock: false,
            now: 0,
            held: VecDeque::new(),
            slow: SlowSide {
                resolver: Resolver::new(&tables.slow),
                shared: None,
                table: Some(NeighborTable::new(&tables.slow)),
                announce: tables.slow.announce,
                scratch: vec![0; 256].into_boxed_slice(),
                requests: Vec::with_capacity(MAX_PENDING),
                failed: Vec::with_capacity(tables.slow.neighbor_hold_total as usize),
            },
        }
    }

    /// Makes this worker `id` of a live engine whose neighbour table runs
    /// on the control thread, reached through `shared`; only worker 0
    /// announces the gateway addresses and sends the table's probes.
    pub fn set_slow(&mut self, id: usize, shared: Arc<SlowShared>) {
        self.slow.shared = Some((id, shared));
        self.slow.table = None;
        self.slow.announce &= id == 0;
    }

    /// The neighbour table, when this worker drives it (replay).
    pub fn neighbor_table(&self) -> Option<&NeighborTable> {
        self.slow.table.as_ref()
    }

    /// Packets held while their next hop is resolved.
    pub fn held_for_resolution(&self) -> usize {
        self.slow.resolver.held()
    }

    /// Uses the packets' capture timestamps as the CSN clock (replay: the
    /// outcome depends on the input alone).
    pub fn use_packet_clock(&mut self) {
        self.packet_clock = true;
    }

    /// Makes this worker `id` of an engine sharing `sync` (learned
    /// addresses, the DNS hold) and creates its CSN state if `tables` has a
    /// CSN.
    pub fn set_csn(&mut self, id: usize, sync: Arc<LearnSync>, tables: &Tables) {
        self.pipeline.set_csn_sync(id, sync);
        self.pipeline.prepare_csn(tables);
    }

    /// Packets held by the DNS hold now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// CSN upkeep between bursts: applies other workers' learn messages,
    /// answers a dump request, sends held packets whose hold is over.
    fn csn_service(&mut self, backend: &mut B) -> Result<(), IoError> {
        if self.pipeline.csn().is_none() {
            return Ok(());
        }
        if !self.packet_clock {
            self.now = self.pipeline.monotonic_ns();
        }
        let now = self.now;
        if let Some(c) = self.pipeline.csn_mut() {
            c.service(now);
        }
        if !self.held.is_empty() {
            self.release_held(backend, false);
            self.flush_tx(backend)?;
        }
        Ok(())
    }

    /// Queues held packets for TX, oldest first, while their hold is over
    /// (every worker acknowledged, or the deadline passed: counted as
    /// `dns_hold_timeout`); `force` queues all of them (shutdown).
    fn release_held(&mut self, backend: &mut B, force: bool) {
        while let Some(h) = self.held.front() {
            let acked = self.pipeline.csn().is_none_or(|c| c.acked(h.seq));
            if !acked && !force && self.now < h.deadline {
                break;
            }
            if !acked && !force {
                if let Some(c) = self.pipeline.csn_mut() {
                    c.counters.add(CsnCounter::DnsHoldTimeout, 1);
                }
            }
            let Some(h) = self.held.pop_front() else {
                break;
            };
            let (stats, tx) = (&mut self.stats, &mut self.tx);
            if let Err(r) = tx.push_split(backend, stats, h.port, h.network, h.buf, h.frag_mtu) {
                self.count_drop(h.in_port, h.in_network, r);
            }
        }
        if let Some(c) = self.pipeline.csn() {
            self.stats.csn.clone_from(&c.counters);
        }
    }

    /// Sends every held packet and everything queued (the end of a run).
    pub fn finish(&mut self, backend: &mut B) -> Result<(), IoError> {
        self.release_held(backend, true);
        let mut failed = std::mem::take(&mut self.slow.failed);
        self.slow.resolver.drain(|h| failed.push(h));
        for h in failed.drain(..) {
            self.count_drop(h.in_port, h.in_network, DropReason::NeighborUnresolved);
            backend.recycle(h.buf);
        }
        self.slow.failed = failed;
        self.flush_tx(backend)
    }

    /// Lets the control thread trace this worker's packets.
    pub fn set_trace(&mut self, worker: usize, trace: std::sync::Arc<trace::TraceShared>) {
        self.trace = Some((worker, trace));
    }

    /// Lets the control thread capture this worker's packets.
    pub fn set_capture(&mut self, worker: usize, capture: Arc<capture::CaptureShared>) {
        self.capture = Some((worker, capture));
    }

    /// Receives one burst from `port`, forwards it with `t` and flushes the
    /// TX queues. Returns the number of records received (packets plus
    /// rejected capture records).
    pub fn poll(&mut self, backend: &mut B, t: &Tables, port: PortId) -> Result<usize, IoError> {
        self.csn_service(backend)?;
        if self.slow_busy() {
            if !self.packet_clock {
                self.now = self.pipeline.monotonic_ns();
            }
            self.slow_service(backend, t)?;
        }
        let (n, rejected) = self.receive(backend, port)?;
        if n > 0 {
            self.forward(backend, t, port, n)?;
        }
        Ok(n + rejected)
    }

    /// Like [`Worker::poll`], with the tables of the newest snapshot,
    /// loaded after the burst was received (so a packet received after a
    /// publish is forwarded by the new tables).
    pub fn poll_live(
        &mut self,
        backend: &mut B,
        snapshots: &mut SnapshotReader,
        port: PortId,
    ) -> Result<usize, IoError> {
        self.csn_service(backend)?;
        if self.slow_busy() {
            if !self.packet_clock {
                self.now = self.pipeline.monotonic_ns();
            }
            let t = snapshots.load();
            self.slow_service(backend, t)?;
        }
        let (n, rejected) = self.receive(backend, port)?;
        if n > 0 {
            let t = snapshots.load();
            self.forward(backend, t, port, n)?;
        }
        Ok(n + rejected)
    }

    /// Receives one burst into `self.rx` and counts it on the port. Returns
    /// (packets received, rejected records counted).
    fn receive(&mut self, backend: &mut B, port: PortId) -> Result<(usize, usize), IoError> {
        let rejected = backend.rx_rejected(port);
        let pi = port as usize;
        if rejected > 0 {
            let c = &mut self.stats.ports[pi];
            c.rx_packets += rejected;
            c.drops[DropReason::RxUnconvertible as usize] += rejected;
        }
        self.rx.clear();
        let n = backend.rx_burst(port, &mut self.rx, self.burst)?;
        if let Some(o) = self.stats.offload.get_mut(pi) {
            *o = backend.offload_counters(port);
        }
        let n = n.min(self.rx.len());
        let c = &mut self.stats.ports[pi];
        for (len, b) in self.rx_len.iter_mut().zip(&self.rx) {
            *len = b.len() as u32;
            c.rx_bytes += u64::from(*len);
        }
        c.rx_packets += n as u64;
        Ok((n, rejected as usize))
    }

    /// Runs the pipeline over the `n` packets in `self.rx`, queues or drops
    /// each and flushes the TX queues.
    fn forward(
        &mut self,
        backend: &mut B,
        t: &Tables,
        port: PortId,
        n: usize,
    ) -> Result<(), IoError> {
        let pi = port as usize;
        if self.stats.networks.len() != t.networks.len() {
            // A new configuration changed the network list (cold path).
            self.stats
                .networks
                .resize(t.networks.len(), Default::default());
        }
        self.now = if self.packet_clock {
            let ts = self.rx[..n].iter().map(|b| b.timestamp_ns()).max();
            ts.unwrap_or(self.now).max(self.now)
        } else {
            self.pipeline.monotonic_ns()
        };
        self.pipeline.set_now(self.now);
        self.pipeline.slow_mut().now = self.now;
        // Tracing only: the frames' MACs and times before the pipeline
        // rewrites them (no allocation when not tracing).
        let traced = match &self.trace {
            Some((_, tr)) if tr.wants(port) => trace::ingress(&self.rx[..n]),
            _ => Vec::new(),
        };
        // Capture: one relaxed load unless this port is captured.
        let tap = capture::tap(&self.capture, port);
        if let Some(tap) = &tap {
            tap.frames(capture::Directions::RX, &self.rx[..n]);
        }
        self.pipeline
            .process(t, port, &mut self.rx[..n], &mut self.verdicts[..n]);
        if let Some((id, tr)) = &self.trace {
            if !traced.is_empty() {
                tr.record(*id, t, port, &self.pipeline, &traced, &self.verdicts[..n]);
            }
        }

        // Taken out for the loop (no allocation), so `self` stays usable.
        let mut rx = std::mem::take(&mut self.rx);
        for (i, buf) in rx.drain(..).enumerate() {
            let net = self.pipeline.meta(i).network;
            if let Some(c) = self.stats.networks.get_mut(net as usize) {
                c.rx_packets += 1;
                c.rx_bytes += u64::from(self.rx_len[i]);
            }
            if let Some(reason) = self.pipeline.slow().replaced[i] {
                // Dropped; its buffer now carries cnfwd's ICMP error.
                self.stats.ports[pi].drops[reason as usize] += 1;
                if let Some(c) = self.stats.networks.get_mut(net as usize) {
                    c.drops[reason as usize] += 1;
                }
                self.stats.generated += 1;
            }
            match self.verdicts[i] {
                Verdict::Hold { port: out, network } => {
                    let input = HeldInput {
                        buf,
                        port: out,
                        network,
                        in_port: port,
                        in_network: net,
                        local: self.pipeline.slow().local[i],
                        frag_mtu: self.pipeline.fragment_mtu(i),
                    };
                    let ip = self.pipeline.hold_ip(i);
                    self.hold(backend, t, ip, input);
                }
                Verdict::Tx { port: out, network } => {
                    let seq = self.pipeline.hold(i);
                    let frag_mtu = self.pipeline.fragment_mtu(i);
                    if seq != 0 {
                        let settings = t.csn.as_ref().map(|c| &c.settings);
                        let cap = settings.map_or(0, |s| s.dns_hold_capacity as usize);
                        let hold_ns =
                            settings.map_or(0, |s| u64::from(s.dns_hold_max_ms) * 1_000_000);
                        if self.held.len() < cap {
                            self.held.push_back(Held {
                                buf,
                                port: out,
                                network,
                                in_port: port,
                                in_network: net,
                                frag_mtu,
                                seq,
                                deadline: self.now.saturating_add(hold_ns),
                            });
                            if let Some(c) = self.pipeline.csn_mut() {
                                c.counters.add(CsnCounter::DnsHeld, 1);
                            }
                            continue;
                        }
                        // Overflow: sent now like any packet.
                        if let Some(c) = self.pipeline.csn_mut() {
                            c.counters.add(CsnCounter::DnsHoldOverflow, 1);
                        }
                    }
                    let (stats, tx) = (&mut self.stats, &mut self.tx);
                    if let Err(r) = tx.push_split(backend, stats, out, network, buf, frag_mtu) {
                        self.count_drop(port, net, r);
                    }
                }
                Verdict::Flood { network } => {
                    let in_tci = self.pipeline.meta(i).eth.tci;
                    let ports = &t.networks[network as usize].ports;
                    let last = ports.iter().rposition(|&p| p != port);
                    let mut original = Some(buf);
                    for (k, &out) in ports.iter().enumerate() {
                        if out == port {
                            continue;
                        }
                        let copy = if Some(k) == last {
                            original.take()
                        } else {
                            // Each copy beyond the first is a new frame: it is sent or dropped.
                            self.stats.replicated += 1;
                            original.as_ref().and_then(|b| b.try_clone())
                        };
                        let Some(mut copy) = copy else {
                            self.stats.ports[out as usize].drops[DropReason::NoBuffer as usize] +=
                                1;
                            continue;
                        };
                        if !prepare_flood_copy(t, network, out, in_tci, &mut copy) {
                            self.stats.ports[out as usize].drops[DropReason::NoBuffer as usize] +=
                                1;
                            backend.recycle(copy);
                            continue;
                        }
                        self.tx.push(&mut self.stats, out, network, copy);
                    }
                }
                Verdict::Drop(reason) => {
                    if let Some(tap) = &tap {
                        tap.dropped(buf.data(), reason);
                    }
                    self.stats.ports[pi].drops[reason as usize] += 1;
                    if let Some(c) = self.stats.networks.get_mut(net as usize) {
                        c.drops[reason as usize] += 1;
                    }
                    backend.recycle(buf);
                }
            }
        }
        self.rx = rx;
        if let Some(c) = self.pipeline.csn() {
            self.stats.csn.clone_from(&c.counters);
        }
        self.deliver_events();
        self.stats.slow.clone_from(&self.pipeline.slow().counters);
        if let Some(table) = &self.slow.table {
            self.stats.slow.add_all(&table.counters);
        }
        self.flush_tx(backend)
    }

    /// Queues `frame` for TX on `port` as a frame cnfwd originated.
    fn send_generated(
        &mut self,
        backend: &mut B,
        port: PortId,
        network: NetworkId,
        frame_len: usize,
    ) -> bool {
        let frame = &self.slow.scratch[..frame_len];
        let Some(buf) = backend.alloc(port, frame) else {
            self.pipeline
                .slow_mut()
                .counters
                .add(SlowCounter::AllocFailed, 1);
            return false;
        };
        self.queue_generated(port, network, buf);
        true
    }

    /// Queues a generated frame already in a buffer.
    fn queue_generated(&mut self, port: PortId, network: NetworkId, buf: B::Buf) {
        self.stats.generated += 1;
        self.tx.push(&mut self.stats, port, network, buf);
    }

    /// Sends an ARP request / NS for `ip` on `network` out of `port`
    /// (unicast to `to` for a probe).
    fn send_request(
        &mut self,
        backend: &mut B,
        t: &Tables,
        network: NetworkId,
        port: PortId,
        ip: u128,
        to: Option<[u8; 6]>,
    ) {
        let (Some(net), Some(pe)) = (t.networks.get(network as usize), t.ports.get(port as usize))
        else {
            return;
        };
        let Some(len) = request(&mut self.slow.scratch, net, pe, ip, to) else {
            return;
        };
        if self.send_generated(backend, port, network, len) {
            let c = match (to.is_some(), key_is_v4(ip)) {
                (true, _) => SlowCounter::ProbesSent,
                (false, true) => SlowCounter::ArpRequestsSent,
                (false, false) => SlowCounter::NsSent,
            };
            self.pipeline.slow_mut().counters.add(c, 1);
        }
    }

    /// Holds a packet whose next hop `ip` has no MAC, starting its
    /// resolution when it is new.
    fn hold(&mut self, backend: &mut B, t: &Tables, ip: u128, h: HeldInput<B::Buf>) {
        let (port, network, in_port, in_network) = (h.port, h.network, h.in_port, h.in_network);
        // In replay a resolution starts at the capture time of its packet.
        let now = match h.buf.timestamp_ns() {
            ts if ts != 0 && self.packet_clock => ts,
            _ => self.now,
        };
        match self.slow.resolver.hold(ip, h, now) {
            Ok(r) => {
                self.pipeline
                    .slow_mut()
                    .counters
                    .add(SlowCounter::PacketsHeld, 1);
                if r == HoldResult::HeldSendRequest {
                    self.send_request(backend, t, network, port, ip, None);
                    self.pipeline.slow_mut().events.push(Event {
                        kind: EventKind::Resolving,
                        network,
                        ip,
                        mac: [0; 6],
                    });
                }
            }
            Err(buf) => {
                self.count_drop(in_port, in_network, DropReason::NeighborHoldFull);
                backend.recycle(buf);
            }
        }
    }

    /// Counts one drop on a port and a network.
    fn count_drop(&mut self, port: PortId, network: NetworkId, reason: DropReason) {
        self.stats.count_drop(port, network, reason);
    }

    /// Hands what the pipeline learned in this burst to the neighbour
    /// table (its queue live, the table itself in replay).
    fn deliver_events(&mut self) {
        let now = self.now;
        let slow = self.pipeline.slow_mut();
        if slow.events.is_empty() {
            return;
        }
        // What this worker learned takes effect here at once (from the next
        // burst on), whatever the table's round trip takes: a request to
        // cnfwd teaches its sender, an answer completes what this worker
        // resolves or refreshes what it knows. The table's own verdict
        // follows as updates (a refusal arrives as a removal).
        for ev in &slow.events {
            let key = (ev.network, ev.ip);
            let take = match ev.kind {
                EventKind::Request => true,
                EventKind::Answer => {
                    slow.learned.contains_key(&key)
                        || self.slow.resolver.is_pending(ev.network, ev.ip)
                }
                // Resolving teaches nothing; a confirmation keeps the MAC known.
                EventKind::Resolving | EventKind::Confirm => false,
            };
            if take {
                slow.learned.insert(key, ev.mac);
            }
        }
        let mut lost = 0;
        match (&self.slow.shared, &mut self.slow.table) {
            (Some((_, shared)), _) => {
                for ev in slow.events.drain(..) {
                    lost += u64::from(shared.events.push(ev).is_err());
                }
            }
            (None, Some(table)) => {
                for ev in slow.events.drain(..) {
                    table.event(ev, now);
                }
            }
            (None, None) => slow.events.clear(),
        }
        slow.counters.add(SlowCounter::PuntQueueFull, lost);
    }

    /// True when the slow path has work between bursts: announcements,
    /// held packets, table updates or probes, table timers (replay).
    #[inline]
    fn slow_busy(&self) -> bool {
        self.slow.announce
            || !self.slow.resolver.is_idle()
            || self.slow.table.as_ref().is_some_and(|t| !t.is_quiet())
            || self.slow.shared.as_ref().is_some_and(|(id, s)| {
                !s.updates[*id].is_empty() || (*id == 0 && !s.probes.is_empty())
            })
    }

    /// The slow path between bursts: announcements, the table's updates
    /// and probes, held packets released or failed, retries.
    fn slow_service(&mut self, backend: &mut B, t: &Tables) -> Result<(), IoError> {
        let now = self.now;
        if std::mem::take(&mut self.slow.announce) {
            self.announce(backend, t);
        }
        // The table's changes and probes.
        let mut probes = std::mem::take(&mut self.slow.requests);
        match (&self.slow.shared, &mut self.slow.table) {
            (Some((id, shared)), _) => {
                let learned = &mut self.pipeline.slow_mut().learned;
                while let Some(u) = shared.updates[*id].pop() {
                    apply_update(learned, u);
                }
                if *id == 0 {
                    while probes.len() < MAX_PENDING {
                        let Some(p) = shared.probes.pop() else {
                            break;
                        };
                        probes.push(Request {
                            network: p.network,
                            port: NO_PORT,
                            ip: p.ip,
                            to: Some(p.mac),
                        });
                    }
                }
            }
            (None, Some(table)) => {
                table.tick(now);
                let learned = &mut self.pipeline.slow_mut().learned;
                for u in table.updates.drain(..) {
                    apply_update(learned, u);
                }
                for p in table.probes.drain(..) {
                    probes.push(Request {
                        network: p.network,
                        port: NO_PORT,
                        ip: p.ip,
                        to: Some(p.mac),
                    });
                }
            }
            (None, None) => {}
        }
        // Held packets whose next hop is now known, in arrival order.
        let slow = self.pipeline.slow();
        let (tx, stats) = (&mut self.tx, &mut self.stats);
        let mut released = 0;
        self.slow.resolver.release(
            |network, ip| slow.neighbor(t.networks.get(network as usize)?, network, ip),
            |mut h, mac| {
                if let Some(d) = h.buf.data_mut().get_mut(..6) {
                    d.copy_from_slice(&mac);
                }
                let (port, network, mtu) = (h.port, h.network, h.frag_mtu);
                if let Err(r) = tx.push_split(backend, stats, port, network, h.buf, mtu) {
                    stats.count_drop(h.in_port, h.in_network, r);
                }
                released += 1;
            },
        );
        self.pipeline
            .slow_mut()
            .counters
            .add(SlowCounter::PacketsReleased, released);
        // Retries and failures.
        let mut failed = std::mem::take(&mut self.slow.failed);
        self.slow
            .resolver
            .tick(now, |r| probes.push(r), |h| failed.push(h));
        for r in probes.drain(..) {
            let port = match r.port {
                NO_PORT => t
                    .networks
                    .get(r.network as usize)
                    .and_then(|n| n.ports.first().copied())
                    .unwrap_or(NO_PORT),
                p => p,
            };
            if port != NO_PORT {
                self.send_request(backend, t, r.network, port, r.ip, r.to);
            }
        }
        self.slow.requests = probes;
        for h in failed.drain(..) {
            self.resolution_failed(backend, t, h);
        }
        self.slow.failed = failed;
        self.deliver_events();
        self.stats.slow.clone_from(&self.pipeline.slow().counters);
        if let Some(table) = &self.slow.table {
            self.stats.slow.add_all(&table.counters);
        }
        self.flush_tx(backend)
    }

    /// A held packet whose next hop never answered: dropped as
    /// `neighbor_unresolved` and, unless cnfwd made it, answered with host /
    /// address unreachable (which may itself wait for a resolution).
    fn resolution_failed(&mut self, backend: &mut B, t: &Tables, h: ResolverHeld<B::Buf>) {
        self.count_drop(h.in_port, h.in_network, DropReason::NeighborUnresolved);
        let mut buf = h.buf;
        if h.local {
            backend.recycle(buf);
            return;
        }
        let mut m = Meta::default();
        let parsed = EthView::parse(buf.data()).and_then(|eth| {
            m.eth = eth;
            let l3 = buf.data().get(usize::from(eth.payload_offset)..)?;
            match eth.ethertype {
                ETHERTYPE_IPV4 => parse_ipv4(l3, &mut m).ok(),
                ETHERTYPE_IPV6 => parse_ipv6(l3, &mut m).ok(),
                _ => None,
            }
        });
        if parsed.is_none() {
            backend.recycle(buf);
            return;
        }
        m.network = h.in_network;
        let settings = Arc::clone(&t.slow);
        let slow = self.pipeline.slow_mut();
        slow.now = self.now;
        slow.use_burst_clock(true);
        slow.begin_burst(1);
        let v = slow.icmp_error(
            t,
            &m,
            &mut buf,
            0,
            DropReason::NeighborUnresolved,
            ErrorKind::HostUnreachable,
            &settings,
        );
        slow.use_burst_clock(false);
        let local = slow.local[0];
        let ip = slow.hold_ip[0];
        slow.begin_burst(1);
        match v {
            Verdict::Tx { port, network } => {
                self.queue_generated(port, network, buf);
            }
            Verdict::Hold { port, network } => {
                self.stats.generated += 1;
                let input = HeldInput {
                    buf,
                    port,
                    network,
                    in_port: h.in_port,
                    in_network: h.in_network,
                    local,
                    frag_mtu: 0,
                };
                self.hold(backend, t, ip, input);
            }
            _ => backend.recycle(buf),
        }
    }

    /// Sends the gratuitous ARPs and unsolicited NAs of every gateway
    /// address, port by port, networks in id order.
    fn announce(&mut self, backend: &mut B, t: &Tables) {
        for (p, pe) in t.ports.iter().enumerate() {
            for (n, net) in t.networks.iter().enumerate() {
                if !net.l3 || !net.ports.contains(&(p as PortId)) {
                    continue;
                }
                let mut frames = [(0usize, [0u8; 128]); 2];
                let mut k = 0;
                announcements(net, pe, &mut self.slow.scratch, |f| {
                    frames[k].0 = f.len();
                    frames[k].1[..f.len()].copy_from_slice(f);
                    k += 1;
                });
                for (len, f) in &frames[..k] {
                    let Some(buf) = backend.alloc(p as PortId, &f[..*len]) else {
                        self.pipeline
                            .slow_mut()
                            .counters
                            .add(SlowCounter::AllocFailed, 1);
                        continue;
                    };
                    self.queue_generated(p as PortId, n as NetworkId, buf);
                    self.pipeline
                        .slow_mut()
                        .counters
                        .add(SlowCounter::AnnouncementsSent, 1);
                }
            }
        }
    }

    /// Replay: runs the clock on until every resolution has finished, so a
    /// replay ends with nothing held.
    fn drain_resolutions(&mut self, backend: &mut B, t: &Tables) -> Result<(), IoError> {
        while let Some(due) = self.slow.resolver.next_due() {
            self.now = self.now.max(due);
            self.slow_service(backend, t)?;
        }
        Ok(())
    }

    /// Copies the backend's view of every port's link into this worker's
    /// counters (after [`Backend::check_links`]; no system call).
    pub fn refresh_links(&mut self, backend: &B) {
        for (p, l) in self.stats.link.iter_mut().enumerate() {
            *l = backend.link(p as PortId);
        }
    }

    /// Sends every queued packet; what a port does not take is freed and
    /// counted as `tx_full` on that port (`port_down` when its link was
    /// down or gone at the last check).
    pub fn flush_tx(&mut self, backend: &mut B) -> Result<(), IoError> {
        let tx = &mut self.tx;
        for (p, (q, queued_bytes)) in tx.queues.iter_mut().zip(&mut tx.bytes).enumerate() {
            if q.is_empty() {
                continue;
            }
            if let Some(tap) = capture::tap(&self.capture, p as PortId) {
                tap.frames(capture::Directions::TX, q);
            }
            let queued = q.len();
            let bytes = std::mem::take(queued_bytes);
            let sent = backend.tx_burst(p as PortId, q)?.min(queued);
            // Only packets the backend did not take are looked at again.
            let unsent_bytes: u64 = q.iter().map(|b| b.len() as u64).sum();
            let c = &mut self.stats.ports[p];
            c.tx_packets += sent as u64;
            c.tx_bytes += bytes - unsent_bytes;
            let reason = match self.stats.link.get(p).map(|l| l.state) {
                Some(LinkState::Down | LinkState::Gone) => DropReason::PortDown,
                _ => DropReason::TxFull,
            };
            c.drops[reason as usize] += q.len() as u64;
            for b in q.drain(..) {
                backend.recycle(b);
            }
        }
        Ok(())
    }

    /// Polls every port in order until all of them are finished (finite
    /// sources: captures, memory). Returns the total records received.
    pub fn run_to_completion(&mut self, backend: &mut B, t: &Tables) -> Result<u64, IoError> {
        let mut total = 0u64;
        loop {
            let mut progressed = false;
            for p in 0..backend.port_count() {
                let p = p as PortId;
                if backend.rx_finished(p) {
                    // Count records rejected on the final read.
                    total += self.poll_rejected_only(backend, p);
                    continue;
                }
                let n = self.poll(backend, t, p)?;
                total += n as u64;
                progressed |= n > 0;
            }
            let done = (0..backend.port_count()).all(|p| backend.rx_finished(p as PortId));
            if done && !progressed {
                break;
            }
        }
        if self.slow_busy() {
            self.slow_service(backend, t)?;
        }
        self.drain_resolutions(backend, t)?;
        self.finish(backend)?;
        backend.flush()?;
        Ok(total)
    }

    fn poll_rejected_only(&mut self, backend: &mut B, port: PortId) -> u64 {
        let rejected = backend.rx_rejected(port);
        if rejected > 0 {
            let c = &mut self.stats.ports[port as usize];
            c.rx_packets += rejected;
            c.drops[DropReason::RxUnconvertible as usize] += rejected;
        }
        rejected
    }

    /// The worker's pipeline (its L2 table).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

/// Applies one neighbour table change to a worker's learned map.
fn apply_update(learned: &mut rustc_hash::FxHashMap<(NetworkId, u128), [u8; 6]>, u: Update) {
    match u.mac {
        Some(mac) => {
            learned.insert((u.network, u.ip), mac);
        }
        None => {
            learned.remove(&(u.network, u.ip));
        }
    }
}
