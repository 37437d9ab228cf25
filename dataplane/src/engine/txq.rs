//! A worker's TX queues: the one way every outgoing frame is queued
//! (routed, released from a DNS or neighbour hold, flood copy, generated),
//! counted as a TX of its egress network when queued, as l3fwd's
//! `send_single_packet` is the one way out there. IPv4 datagrams the
//! pipeline marked for fragmentation are split here
//! ([`crate::packet::fragment`]): the frame itself becomes the first
//! fragment and every other one is a buffer from the backend
//! ([`Backend::alloc`]: an mbuf from the pool on DPDK, a recycled buffer on
//! the others), built in this worker's scratch area, so no heap allocation
//! happens per packet.

use cnfwd_config::{NetworkId, PortId};

use crate::io::Backend;
use crate::packet::buf::PacketBuf;
use crate::packet::ethernet::EthView;
use crate::packet::fragment::{FragError, Plan};
use crate::pipeline::DropReason;
use crate::stats::Stats;

/// Largest frame a fragment can be: an L2 header with two tags, an IPv4
/// header with options, and a fragment of the largest MTU (u16 range).
const SCRATCH: usize = 22 + 60 + 65_536;

/// Per port: the frames queued for the next flush and their bytes.
pub(super) struct TxQueues<T> {
    /// Frames per port, in queueing order.
    pub queues: Vec<Vec<T>>,
    /// Bytes queued per port, counted when queued.
    pub bytes: Vec<u64>,
    /// Where fragments are built before they are copied to a buffer.
    scratch: Box<[u8]>,
}

impl<T: PacketBuf> TxQueues<T> {
    /// Empty queues for `ports` ports, each with room for `capacity` frames.
    pub fn new(ports: usize, capacity: usize) -> Self {
        Self {
            queues: (0..ports).map(|_| Vec::with_capacity(capacity)).collect(),
            bytes: vec![0; ports],
            scratch: Box::default(),
        }
    }

    /// Queues `buf` on `port` and counts it as sent on `network`.
    #[inline]
    pub fn push(&mut self, stats: &mut Stats, port: PortId, network: NetworkId, buf: T) {
        let len = buf.len() as u64;
        if let Some(c) = stats.networks.get_mut(network as usize) {
            c.tx_packets += 1;
            c.tx_bytes += len;
        }
        if let (Some(q), Some(b)) = (
            self.queues.get_mut(port as usize),
            self.bytes.get_mut(port as usize),
        ) {
            *b += len;
            q.push(buf);
        }
    }

    /// Queues `buf` on `port`, split into IPv4 fragments for `mtu` when it
    /// exceeds it (`mtu` 0: as it is). Fragments made and packets
    /// fragmented are counted; on an error the frame and any fragment made
    /// are given back to the backend and the reason is returned (the caller
    /// counts the drop where the packet came in).
    pub fn push_split<B: Backend<Buf = T>>(
        &mut self,
        backend: &mut B,
        stats: &mut Stats,
        port: PortId,
        network: NetworkId,
        buf: T,
        mtu: u16,
    ) -> Result<(), DropReason> {
        if mtu == 0 {
            self.push(stats, port, network, buf);
            return Ok(());
        }
        let plan = EthView::parse(buf.data())
            .ok_or(FragError::Malformed)
            .and_then(|eth| Plan::new(buf.data(), usize::from(eth.payload_offset), mtu.into()));
        let plan = match plan {
            Ok(plan) => plan,
            Err(FragError::Fits) => {
                self.push(stats, port, network, buf);
                return Ok(());
            }
            Err(_) => {
                backend.recycle(buf);
                return Err(DropReason::MtuExceeded);
            }
        };
        if self.scratch.is_empty() {
            // Once per worker, the first time it fragments.
            self.scratch = vec![0; SCRATCH].into_boxed_slice();
        }
        let Some(q) = self.queues.get_mut(port as usize) else {
            backend.recycle(buf);
            return Err(DropReason::NoEgressPort);
        };
        let start = q.len();
        q.push(buf);
        for k in 1..plan.count() {
            let made = plan
                .write(q[start].data(), k, &mut self.scratch)
                .and_then(|n| backend.alloc(port, &self.scratch[..n]));
            let Some(frag) = made else {
                for b in q.drain(start..) {
                    backend.recycle(b);
                }
                return Err(DropReason::NoBuffer);
            };
            q.push(frag);
        }
        let first = &mut q[start];
        let len = plan.finish_first(first.data_mut());
        let extra = first.len().saturating_sub(len);
        if !first.trim(extra) {
            for b in q.drain(start..) {
                backend.recycle(b);
            }
            return Err(DropReason::NoBuffer);
        }
        let bytes: u64 = q[start..].iter().map(|b| b.len() as u64).sum();
        let count = (q.len() - start) as u64;
        self.bytes[port as usize] += bytes;
        if let Some(c) = stats.networks.get_mut(network as usize) {
            c.tx_packets += count;
            c.tx_bytes += bytes;
        }
        stats.fragmented += 1;
        stats.fragments += count;
        Ok(())
    }
}
