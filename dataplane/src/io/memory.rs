//! An in-memory backend: each port has an RX queue a test fills and a TX
//! list a test reads. Deterministic and allocation-light; used by unit
//! tests, the engine's tests and the benchmarks.

use std::collections::VecDeque;

use cnfwd_config::PortId;

use crate::io::{Backend, IoError};
use crate::packet::buf::HeapBuf;

/// One in-memory port.
#[derive(Debug, Default)]
pub struct MemoryPort {
    /// Packets waiting to be received, in order.
    pub rx: VecDeque<HeapBuf>,
    /// Packets transmitted, in order.
    pub tx: Vec<HeapBuf>,
    /// Take at most this many packets per `tx_burst` (None: all), to test
    /// the `tx_full` path.
    pub tx_limit: Option<usize>,
}

/// Ports whose traffic lives in memory.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    /// The ports, by id.
    pub ports: Vec<MemoryPort>,
}

impl MemoryBackend {
    /// `n` empty ports.
    pub fn new(n: usize) -> Self {
        Self {
            ports: (0..n).map(|_| MemoryPort::default()).collect(),
        }
    }

    /// Queues `frame` for reception on `port`.
    pub fn inject(&mut self, port: PortId, frame: &[u8]) {
        self.ports[port as usize]
            .rx
            .push_back(HeapBuf::from_frame(frame));
    }

    /// The frames transmitted on `port` so far, as byte vectors.
    pub fn sent(&self, port: PortId) -> Vec<Vec<u8>> {
        use crate::packet::PacketBuf;
        self.ports[port as usize]
            .tx
            .iter()
            .map(|b| b.data().to_vec())
            .collect()
    }
}

impl Backend for MemoryBackend {
    type Buf = HeapBuf;

    fn port_count(&self) -> usize {
        self.ports.len()
    }

    fn rx_burst(
        &mut self,
        port: PortId,
        out: &mut Vec<HeapBuf>,
        max: usize,
    ) -> Result<usize, IoError> {
        let Some(p) = self.ports.get_mut(port as usize) else {
            return Ok(0);
        };
        let n = max.min(p.rx.len());
        out.extend(p.rx.drain(..n));
        Ok(n)
    }

    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<HeapBuf>) -> Result<usize, IoError> {
        let Some(p) = self.ports.get_mut(port as usize) else {
            return Ok(0);
        };
        let n = p.tx_limit.map_or(pkts.len(), |l| l.min(pkts.len()));
        p.tx.extend(pkts.drain(..n));
        Ok(n)
    }

    fn alloc(&mut self, _port: PortId, frame: &[u8]) -> Option<HeapBuf> {
        Some(HeapBuf::from_frame(frame))
    }

    fn rx_finished(&self, port: PortId) -> bool {
        self.ports
            .get(port as usize)
            .is_none_or(|p| p.rx.is_empty())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

/// A port pair of a [`ChannelBackend`], as the test (or generator) sees it.
#[derive(Debug)]
pub struct ChannelPort {
    /// Frames sent here are received by the backend's port, in order. The
    /// channel is bounded: a full port makes the sender wait (backpressure,
    /// not loss).
    pub to_port: crossbeam_channel::Sender<Vec<u8>>,
    /// Frames the backend transmitted on the port, in order.
    pub from_port: crossbeam_channel::Receiver<Vec<u8>>,
}

/// An in-memory backend whose ports are channels, so that another thread
/// feeds and drains them while a worker thread forwards: the live engine's
/// tests (route changes under traffic) use it. TX never refuses a packet.
#[derive(Debug)]
pub struct ChannelBackend {
    rx: Vec<crossbeam_channel::Receiver<Vec<u8>>>,
    tx: Vec<crossbeam_channel::Sender<Vec<u8>>>,
    pool: crate::packet::buf::HeapPool,
}

impl ChannelBackend {
    /// A backend with `ports` ports, each RX channel holding up to `depth`
    /// frames, and the test's ends of them.
    pub fn new(ports: usize, depth: usize) -> (Self, Vec<ChannelPort>) {
        let mut rx = Vec::with_capacity(ports);
        let mut tx = Vec::with_capacity(ports);
        let mut ends = Vec::with_capacity(ports);
        for _ in 0..ports {
            let (to_port, port_rx) = crossbeam_channel::bounded(depth);
            let (port_tx, from_port) = crossbeam_channel::unbounded();
            rx.push(port_rx);
            tx.push(port_tx);
            ends.push(ChannelPort { to_port, from_port });
        }
        let backend = Self {
            rx,
            tx,
            pool: crate::packet::buf::HeapPool::new(),
        };
        (backend, ends)
    }
}

impl Backend for ChannelBackend {
    type Buf = HeapBuf;

    fn port_count(&self) -> usize {
        self.rx.len()
    }

    fn rx_burst(
        &mut self,
        port: PortId,
        out: &mut Vec<HeapBuf>,
        max: usize,
    ) -> Result<usize, IoError> {
        let Some(rx) = self.rx.get(port as usize) else {
            return Ok(0);
        };
        let mut n = 0;
        while n < max {
            let Ok(frame) = rx.try_recv() else { break };
            out.push(self.pool.take(&frame));
            n += 1;
        }
        Ok(n)
    }

    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<HeapBuf>) -> Result<usize, IoError> {
        use crate::packet::PacketBuf;
        let Some(tx) = self.tx.get(port as usize) else {
            return Ok(0);
        };
        let n = pkts.len();
        for b in pkts.drain(..) {
            // A receiver that hung up no longer wants frames: they are gone
            // as on a wire nobody listens to.
            let _ = tx.send(b.data().to_vec());
            self.pool.put(b);
        }
        Ok(n)
    }

    fn alloc(&mut self, _port: PortId, frame: &[u8]) -> Option<HeapBuf> {
        Some(self.pool.take(frame))
    }

    fn rx_finished(&self, _port: PortId) -> bool {
        false
    }

    fn recycle(&mut self, buf: HeapBuf) {
        self.pool.put(buf);
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}
