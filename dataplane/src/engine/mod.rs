//! The engine: a worker polls its ports a burst at a time, runs the pipeline
//! to completion over each burst, hands the results to the egress ports'
//! TX queues and counts everything.
//!
//! This is the single-worker engine of the foundation (pcap replay and
//! tests): ports are polled in configuration order, `burst_size` packets
//! each, and each port's TX queue is flushed after every burst, so the output
//! order is a function of the input alone. Pinned multi-worker operation and
//! live snapshots arrive with the engine issue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cnfwd_config::PortId;

use crate::io::{Backend, IoError};
use crate::packet::buf::PacketBuf;
use crate::pipeline::{prepare_flood_copy, DropReason, Pipeline, Verdict, MAX_BURST};
use crate::stats::Stats;
use crate::tables::Tables;

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
        }
    }

    /// Receives one burst from `port`, forwards it and flushes the TX
    /// queues. Returns the number of records received (packets plus
    /// rejected capture records).
    pub fn poll(&mut self, backend: &mut B, t: &Tables, port: PortId) -> Result<usize, IoError> {
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
        if n == 0 {
            return Ok(rejected as usize);
        }
        for (len, b) in self.rx_len.iter_mut().zip(&self.rx) {
            *len = b.len() as u32;
            self.stats.ports[pi].rx_packets += 1;
            self.stats.ports[pi].rx_bytes += u64::from(*len);
        }
        self.pipeline
            .process(t, port, &mut self.rx[..n], &mut self.verdicts[..n]);

        for (i, buf) in self.rx.drain(..).enumerate() {
            let net = self.pipeline.meta(i).network;
            if let Some(c) = self.stats.networks.get_mut(net as usize) {
                c.rx_packets += 1;
                c.rx_bytes += u64::from(self.rx_len[i]);
            }
            match self.verdicts[i] {
                Verdict::Tx { port: out, network } => {
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
        self.flush_tx(backend)?;
        Ok(n + rejected as usize)
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
        backend.flush()?;
        Ok(total)
    }

    /// Polls every port in order, busily, until `stop` is set (checked once
    /// per round, never per packet) or `deadline` passes. Every `interval`,
    /// `tick` is handed the counters so far. Queued TX is flushed after every
    /// burst, so nothing is left behind when it returns; the backend is
    /// flushed last.
    pub fn run_live(
        &mut self,
        backend: &mut B,
        t: &Tables,
        stop: &AtomicBool,
        deadline: Option<Instant>,
        interval: Duration,
        mut tick: impl FnMut(&Stats),
    ) -> Result<(), IoError> {
        let mut next_tick = Instant::now() + interval;
        loop {
            let mut received = 0;
            for p in 0..backend.port_count() {
                received += self.poll(backend, t, p as PortId)?;
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if received == 0 {
                std::hint::spin_loop();
            }
            // One clock read per round: cheap next to a syscall-backed poll.
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            if now >= next_tick {
                tick(&self.stats);
                next_tick = now + interval;
            }
        }
        backend.flush()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::memory::MemoryBackend;

    fn tables() -> Tables {
        let cfg = cnfwd_config::parse(
            "[[l2_networks]]\nname = \"l\"\nvlan = 7\n\
             [[ports]]\nname = \"a\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"l\"]\n\
             [[ports]]\nname = \"b\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:02\"\nmode = \"access\"\nnetworks = [\"l\"]\n",
            "<test>",
        )
        .unwrap();
        Tables::build(&cnfwd_config::resolve(&cfg).unwrap(), &[]).unwrap()
    }

    #[test]
    fn live_run_stops_on_flag_and_deadline_with_everything_sent() {
        let t = tables();
        let mut backend = MemoryBackend::new(2);
        for i in 0..100u8 {
            let mut f = vec![0xff; 6];
            f.extend_from_slice(&[2, 0, 0, 0, 1, i, 0x08, 0x00]);
            f.resize(60, 0);
            backend.inject(0, &f);
        }
        let mut w = Worker::new(&t, 32);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let mut ticks = 0;
        w.run_live(
            &mut backend,
            &t,
            &stop,
            Some(started + Duration::from_millis(50)),
            Duration::from_millis(10),
            |s| {
                ticks += 1;
                assert_eq!(s.ports[0].rx_packets, 100);
            },
        )
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(ticks >= 2, "{ticks} ticks");
        assert_eq!(
            backend.sent(1).len(),
            100,
            "broadcasts flooded to b, none left queued"
        );

        // A set flag ends the run after the round in hand.
        stop.store(true, Ordering::Relaxed);
        backend.inject(0, &[0u8; 60]);
        w.run_live(
            &mut backend,
            &t,
            &stop,
            None,
            Duration::from_secs(1),
            |_| {},
        )
        .unwrap();
        assert_eq!(w.stats.ports[0].rx_packets, 101);
    }
}
