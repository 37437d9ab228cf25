//! Packet I/O backends and the contract every backend meets.
//!
//! A [`Backend`] owns a set of ports (ids `0..port_count()`, in configuration
//! order) and moves packets between them and the engine in bursts:
//!
//! - [`Backend::rx_burst`] appends at most `max` received packets to `out`
//!   and returns how many. It never blocks. Returning 0 means "nothing now";
//!   [`Backend::rx_finished`] says whether anything can ever come again
//!   (finite sources such as captures).
//! - [`Backend::tx_burst`] takes packets from the front of `pkts` (removing
//!   them) and returns how many it took. What it did not take stays in `pkts`
//!   in order; the caller frees and counts those (`tx_full`). Nothing leaks.
//! - Per-record receive failures that are not packets (a capture record that
//!   cannot be converted) are reported by [`Backend::rx_rejected`], so the
//!   engine can count them as received and dropped.
//! - A backend is driven by one thread at a time; buffers are `PacketBuf`s
//!   whose headroom lets the pipeline push a tag without copying.
//!
//! Backends: [`pcap`] (capture replay, deterministic), [`memory`] (tests and
//! benchmarks), [`afpacket`] (Linux interfaces, TPACKET_V3), and `dpdk`
//! (with the `dpdk` feature: SR-IOV VFs and vdevs through DPDK).

pub mod afpacket;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod memory;
pub mod pcap;

use cnfwd_config::PortId;

use crate::packet::buf::PacketBuf;

/// A fatal I/O failure, naming the port.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// Reading or writing a capture file failed.
    #[error("port {port:?}: {source}")]
    Capture {
        /// Port name.
        port: String,
        /// What failed.
        source: pcap::file::CaptureError,
    },
    /// A worker thread could not be set up for the backend.
    #[error("worker thread set-up: {0}")]
    Thread(String),
    /// Mixed backends were given to one backend type.
    #[error("port {port:?} uses backend {backend}, but this run drives {expected} ports")]
    WrongBackend {
        /// Port name.
        port: String,
        /// Its backend.
        backend: &'static str,
        /// The backend of the run.
        expected: &'static str,
    },
}

/// A set of ports driven by one I/O mechanism (see the module doc).
pub trait Backend {
    /// The backend's packet buffer.
    type Buf: PacketBuf;

    /// Number of ports.
    fn port_count(&self) -> usize;

    /// Receives at most `max` packets from `port` into `out`; returns how many.
    fn rx_burst(
        &mut self,
        port: PortId,
        out: &mut Vec<Self::Buf>,
        max: usize,
    ) -> Result<usize, IoError>;

    /// Sends packets from the front of `pkts`, removing those taken; returns
    /// how many were taken.
    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<Self::Buf>) -> Result<usize, IoError>;

    /// True when `port` will never receive again (end of a capture).
    fn rx_finished(&self, port: PortId) -> bool;

    /// Records received on `port` that were not packets, since the last call.
    fn rx_rejected(&mut self, _port: PortId) -> u64 {
        0
    }

    /// A new buffer holding a copy of `frame`, for a frame cnfwd originates
    /// (ARP requests, announcements, probes) on `port`; `None` when the
    /// backend has no buffer now (the frame is then not sent, and counted).
    fn alloc(&mut self, port: PortId, frame: &[u8]) -> Option<Self::Buf>;

    /// Takes back a buffer the engine is done with (dropped packets).
    fn recycle(&mut self, buf: Self::Buf) {
        drop(buf);
    }

    /// Pushes out anything buffered (files, rings).
    fn flush(&mut self) -> Result<(), IoError>;

    /// Called on the worker thread before its first poll (e.g. to register
    /// the thread with a framework that keeps per-thread caches).
    fn worker_started(&mut self) -> Result<(), IoError> {
        Ok(())
    }

    /// Called on the worker thread after its last poll and flush.
    fn worker_stopping(&mut self) {}
}
