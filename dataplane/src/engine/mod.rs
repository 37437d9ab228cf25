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

pub mod cores;
pub mod snapshot;
pub mod trace;
pub mod workers;

use std::collections::VecDeque;
use std::sync::Arc;

use cnfwd_config::{NetworkId, PortId};

use crate::csn::{CsnCounter, LearnSync};
use crate::io::{Backend, IoError};
use crate::packet::buf::PacketBuf;
use crate::pipeline::{prepare_flood_copy, DropReason, Pipeline, Verdict, MAX_BURST};
use crate::stats::Stats;
use crate::tables::Tables;
use snapshot::SnapshotReader;

/// One worker: its pipeline, burst arrays, TX queues and counters.
pub struct Worker<B: Backend> {
    pipeline: Pipeline,
    burst: usize,
    rx: Vec<B::Buf>,
    rx_len: Vec<u32>,
    verdicts: Vec<Verdict>,
    txq: Vec<Vec<B::Buf>>,
    /// Bytes queued in each `txq`, counted when queued.
    txq_bytes: Vec<u64>,
    /// This worker's counters.
    pub stats: Stats,
    /// Tracing, when the engine offers it: (this worker's id, shared state).
    trace: Option<(usize, std::sync::Arc<trace::TraceShared>)>,
    /// CSN clock: capture timestamps (replay) instead of the monotonic clock.
    packet_clock: bool,
    /// The CSN clock of the last burst (ns).
    now: u64,
    /// DNS responses held until every worker installed what they taught
    /// (see `csn::stage`), oldest first.
    held: VecDeque<Held<B::Buf>>,
}

/// A routed packet held back by the CSN's DNS hold.
struct Held<T> {
    buf: T,
    port: PortId,
    network: NetworkId,
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
            txq: (0..tables.ports.len())
                .map(|_| Vec::with_capacity(2 * burst))
                .collect(),
            txq_bytes: vec![0; tables.ports.len()],
            stats: Stats::new(tables.ports.len(), tables.networks.len()),
            trace: None,
            packet_clock: false,
            now: 0,
            held: VecDeque::new(),
        }
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
            self.release_held(false);
            self.flush_tx(backend)?;
        }
        Ok(())
    }

    /// Queues held packets for TX, oldest first, while their hold is over
    /// (every worker acknowledged, or the deadline passed: counted as
    /// `dns_hold_timeout`); `force` queues all of them (shutdown).
    fn release_held(&mut self, force: bool) {
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
            let len = h.buf.len() as u64;
            if let Some(c) = self.stats.networks.get_mut(h.network as usize) {
                c.tx_packets += 1;
                c.tx_bytes += len;
            }
            self.txq_bytes[h.port as usize] += len;
            self.txq[h.port as usize].push(h.buf);
        }
        if let Some(c) = self.pipeline.csn() {
            self.stats.csn.clone_from(&c.counters);
        }
    }

    /// Sends every held packet and everything queued (the end of a run).
    pub fn finish(&mut self, backend: &mut B) -> Result<(), IoError> {
        self.release_held(true);
        self.flush_tx(backend)
    }

    /// Lets the control thread trace this worker's packets.
    pub fn set_trace(&mut self, worker: usize, trace: std::sync::Arc<trace::TraceShared>) {
        self.trace = Some((worker, trace));
    }

    /// Receives one burst from `port`, forwards it with `t` and flushes the
    /// TX queues. Returns the number of records received (packets plus
    /// rejected capture records).
    pub fn poll(&mut self, backend: &mut B, t: &Tables, port: PortId) -> Result<usize, IoError> {
        self.csn_service(backend)?;
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
        if t.csn.is_some() {
            self.now = if self.packet_clock {
                let ts = self.rx[..n].iter().map(|b| b.timestamp_ns()).max();
                ts.unwrap_or(self.now).max(self.now)
            } else {
                self.pipeline.monotonic_ns()
            };
            self.pipeline.set_now(self.now);
        }
        self.pipeline
            .process(t, port, &mut self.rx[..n], &mut self.verdicts[..n]);
        if let Some((id, tr)) = &self.trace {
            if tr.wants(port) {
                tr.record(
                    *id,
                    t,
                    port,
                    &self.pipeline,
                    &self.rx_len[..n],
                    &self.verdicts[..n],
                );
            }
        }

        for (i, buf) in self.rx.drain(..).enumerate() {
            let net = self.pipeline.meta(i).network;
            if let Some(c) = self.stats.networks.get_mut(net as usize) {
                c.rx_packets += 1;
                c.rx_bytes += u64::from(self.rx_len[i]);
            }
            match self.verdicts[i] {
                Verdict::Tx { port: out, network } => {
                    let seq = self.pipeline.hold(i);
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
                                seq,
                                deadline: self.now.saturating_add(hold_ns),
                            });
                            if let Some(c) = self.pipeline.csn_mut() {
                                c.counters.add(CsnCounter::DnsHeld, 1);
                            }
                            continue;
                        }
                        if let Some(c) = self.pipeline.csn_mut() {
                            c.counters.add(CsnCounter::DnsHoldOverflow, 1);
                        }
                        // Overflow: sent now like any packet.
                        let c = &mut self.stats.networks[network as usize];
                        c.tx_packets += 1;
                        c.tx_bytes += buf.len() as u64;
                        self.txq_bytes[out as usize] += buf.len() as u64;
                        self.txq[out as usize].push(buf);
                        continue;
                    }
                    let c = &mut self.stats.networks[network as usize];
                    c.tx_packets += 1;
                    c.tx_bytes += buf.len() as u64;
                    self.txq_bytes[out as usize] += buf.len() as u64;
                    self.txq[out as usize].push(buf);
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
                        let c = &mut self.stats.networks[network as usize];
                        c.tx_packets += 1;
                        c.tx_bytes += copy.len() as u64;
                        self.txq_bytes[out as usize] += copy.len() as u64;
                        self.txq[out as usize].push(copy);
                    }
                }
                Verdict::Drop(reason) => {
                    self.stats.ports[pi].drops[reason as usize] += 1;
                    if let Some(c) = self.stats.networks.get_mut(net as usize) {
                        c.drops[reason as usize] += 1;
                    }
                    backend.recycle(buf);
                }
            }
        }
        if let Some(c) = self.pipeline.csn() {
            self.stats.csn.clone_from(&c.counters);
        }
        self.flush_tx(backend)
    }

    /// Sends every queued packet; what a port does not take is freed and
    /// counted as `tx_full` on that port.
    pub fn flush_tx(&mut self, backend: &mut B) -> Result<(), IoError> {
        for (p, (q, queued_bytes)) in self.txq.iter_mut().zip(&mut self.txq_bytes).enumerate() {
            if q.is_empty() {
                continue;
            }
            let queued = q.len();
            let bytes = std::mem::take(queued_bytes);
            let sent = backend.tx_burst(p as PortId, q)?.min(queued);
            // Only packets the backend did not take are looked at again.
            let unsent_bytes: u64 = q.iter().map(|b| b.len() as u64).sum();
            let c = &mut self.stats.ports[p];
            c.tx_packets += sent as u64;
            c.tx_bytes += bytes - unsent_bytes;
            c.drops[DropReason::TxFull as usize] += q.len() as u64;
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
