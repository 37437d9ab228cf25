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

    fn rx_finished(&self, port: PortId) -> bool {
        self.ports
            .get(port as usize)
            .is_none_or(|p| p.rx.is_empty())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}
