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
//! - Links ([`Backend::check_links`], [`Backend::link`]): a live backend
//!   notices a port whose device went down or away, reports it, keeps the
//!   other ports going and brings the port back when the device returns.
//!   The engine calls `check_links` off the per-packet path (about once a
//!   second per worker, [`LINK_CHECK_INTERVAL`]); backends without links
//!   (captures, memory) keep the defaults: always up.
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
    /// A worker thread could not be set up for the backend (DPDK: the
    /// thread could not register with EAL).
    #[error("worker thread set-up: {call} failed: {reason} ({hint})")]
    ThreadSetup {
        /// The call that failed, e.g. `rte_thread_register`.
        call: &'static str,
        /// What the library said (its `strerror`).
        reason: String,
        /// What the user can do about it.
        hint: &'static str,
    },
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

/// Per-port counters of the offload work done on receive (the AF_PACKET
/// backend's module doc says what it does), cumulative since the port was
/// opened (or the backend split).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffloadCounters {
    /// Frames handed to the engine whose L4 checksum cnfwd completed
    /// (the sender left it partial); each segment of a GSO frame counts.
    pub rx_csum_completed: u64,
    /// GSO super-frames received and cut into MTU-sized segments.
    pub rx_gso_segmented: u64,
    /// Segments those super-frames were cut into (all counted by the
    /// engine as received packets).
    pub rx_gso_segments: u64,
    /// Frames whose offload metadata could not be honoured (unsupported or
    /// tunnelled GSO, unparsable headers, checksum offsets outside the
    /// frame): rejected, so also in [`Backend::rx_rejected`].
    pub rx_offload_rejected: u64,
}

impl OffloadCounters {
    /// The counters with their stats-JSON names.
    pub fn named(&self) -> [(&'static str, u64); 4] {
        [
            ("rx_csum_completed", self.rx_csum_completed),
            ("rx_gso_segmented", self.rx_gso_segmented),
            ("rx_gso_segments", self.rx_gso_segments),
            ("rx_offload_rejected", self.rx_offload_rejected),
        ]
    }

    /// Counter by counter sum.
    pub fn add(&mut self, o: &OffloadCounters) {
        self.rx_csum_completed += o.rx_csum_completed;
        self.rx_gso_segmented += o.rx_gso_segmented;
        self.rx_gso_segments += o.rx_gso_segments;
        self.rx_offload_rejected += o.rx_offload_rejected;
    }

    /// `self - base`, saturating.
    pub fn since(&self, b: &OffloadCounters) -> OffloadCounters {
        OffloadCounters {
            rx_csum_completed: self.rx_csum_completed.saturating_sub(b.rx_csum_completed),
            rx_gso_segmented: self.rx_gso_segmented.saturating_sub(b.rx_gso_segmented),
            rx_gso_segments: self.rx_gso_segments.saturating_sub(b.rx_gso_segments),
            rx_offload_rejected: self
                .rx_offload_rejected
                .saturating_sub(b.rx_offload_rejected),
        }
    }
}

/// How often a live worker asks its backend to check the ports' links
/// ([`Backend::check_links`]).
pub const LINK_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A port's link as cnfwd sees it, from the best state to the worst (the
/// order [`PortLink::merge`] uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkState {
    /// Up and usable (also every port of a backend without links).
    #[default]
    Up,
    /// The device is there but down (administratively, or no carrier):
    /// nothing is received, packets sent to it are dropped (`port_down`).
    Down,
    /// The device cnfwd opened no longer exists (deleted, or re-created
    /// and not reopened yet): as down, until it is reopened.
    Gone,
}

impl LinkState {
    /// `up`, `down` or `gone`, as in the stats JSON and the probes.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Gone => "gone",
        }
    }
}

/// What a port's device (the NIC, its driver, the kernel's socket) counted
/// that cnfwd never saw as packets: `None` where the backend has no such
/// counter, so a reader shows only what the device really reports.
/// Cumulative since the port was opened; each part of a split backend
/// counts only its own share (AF_PACKET: its sockets; DPDK: the part that
/// polls queue 0 reads the port-wide `rte_eth_stats`), so that the parts'
/// sum is the port's count. Read by the backend at
/// [`Backend::check_links`] (once a second), never per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// AF_PACKET: frames the kernel dropped because an RX ring was full
    /// (`PACKET_STATISTICS` `tp_drops`, summed over the port's sockets).
    pub kernel_drops: Option<u64>,
    /// DPDK `rte_eth_stats.imissed`: frames the NIC dropped because its RX
    /// queues were full.
    pub imissed: Option<u64>,
    /// DPDK `rte_eth_stats.rx_nombuf`: receives that failed for lack of an
    /// mbuf (the pool ran dry).
    pub rx_nombuf: Option<u64>,
    /// DPDK `rte_eth_stats.ierrors`: erroneous frames received.
    pub ierrors: Option<u64>,
    /// DPDK `rte_eth_stats.oerrors`: failed transmissions.
    pub oerrors: Option<u64>,
}

impl DeviceCounters {
    /// The counters the device has, with their stats-JSON names, in a
    /// fixed order.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("kernel_drops", self.kernel_drops),
            ("imissed", self.imissed),
            ("rx_nombuf", self.rx_nombuf),
            ("ierrors", self.ierrors),
            ("oerrors", self.oerrors),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// Frames the device lost on receive before cnfwd saw them
    /// (`kernel_drops` or `imissed`; 0 when it has neither).
    pub fn rx_missed(&self) -> u64 {
        self.kernel_drops.unwrap_or(0) + self.imissed.unwrap_or(0)
    }

    fn zip(
        &self,
        o: &DeviceCounters,
        f: impl Fn(Option<u64>, Option<u64>) -> Option<u64>,
    ) -> DeviceCounters {
        DeviceCounters {
            kernel_drops: f(self.kernel_drops, o.kernel_drops),
            imissed: f(self.imissed, o.imissed),
            rx_nombuf: f(self.rx_nombuf, o.rx_nombuf),
            ierrors: f(self.ierrors, o.ierrors),
            oerrors: f(self.oerrors, o.oerrors),
        }
    }

    /// Counter by counter sum (a counter is present when either has it).
    pub fn add(&mut self, o: &DeviceCounters) {
        *self = self.zip(o, |a, b| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        });
    }

    /// `self - base`, saturating (presence as in `self`).
    pub fn since(&self, base: &DeviceCounters) -> DeviceCounters {
        self.zip(base, |a, b| a.map(|a| a.saturating_sub(b.unwrap_or(0))))
    }
}

/// One port's link: its state and how often it changed, as counted by the
/// backend (each change counted once, by the part of a split backend that
/// saw it first, so that the parts' sum is the number of changes), and
/// the device's own counters, refreshed with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortLink {
    /// The state at the last check.
    pub state: LinkState,
    /// Times the link went down (device still there).
    pub went_down: u64,
    /// Times the device was found gone.
    pub went_gone: u64,
    /// Times the link came back up (after down or gone).
    pub came_back: u64,
    /// Times the port was reopened on a re-created device.
    pub reopened: u64,
    /// The device's counters as of the last check (see [`DeviceCounters`]).
    pub device: DeviceCounters,
}

impl PortLink {
    /// Combines two views of one port (two workers): the worse state, the
    /// summed counters. A port is up only when every worker has it up.
    pub fn merge(&mut self, o: &PortLink) {
        self.state = self.state.max(o.state);
        self.went_down += o.went_down;
        self.went_gone += o.went_gone;
        self.came_back += o.came_back;
        self.reopened += o.reopened;
        self.device.add(&o.device);
    }

    /// True when nothing about the link itself is worth showing: up and
    /// never changed (the device counters aside).
    pub fn is_quiet(&self) -> bool {
        PortLink {
            device: DeviceCounters::default(),
            ..*self
        } == PortLink::default()
    }

    /// Counters `self - base` (saturating), state of `self`.
    pub fn since(&self, b: &PortLink) -> PortLink {
        PortLink {
            state: self.state,
            went_down: self.went_down.saturating_sub(b.went_down),
            went_gone: self.went_gone.saturating_sub(b.went_gone),
            came_back: self.came_back.saturating_sub(b.came_back),
            reopened: self.reopened.saturating_sub(b.reopened),
            device: self.device.since(&b.device),
        }
    }

    /// The counters with their stats-JSON names.
    pub fn named(&self) -> [(&'static str, u64); 4] {
        [
            ("went_down", self.went_down),
            ("went_gone", self.went_gone),
            ("came_back", self.came_back),
            ("reopened", self.reopened),
        ]
    }
}

/// What DPDK's ethdev telemetry reports about a backend's ports, read live
/// from the devices by the control thread while the workers forward (the
/// DPDK backend: `dpdk::DpdkTelemetry`). Replies are DPDK 22.11's objects,
/// field for field (`control::ethdev` serves them); `None` when the device
/// cannot say. `port` is cnfwd's port id. Backends without devices of
/// their own have none: `control::ethdev` answers from cnfwd's counters.
pub trait DeviceTelemetry: Sync {
    /// `/ethdev/stats`: `rte_eth_stats` (`ipackets` ... `q_errors`).
    fn stats(&self, port: PortId) -> Option<serde_json::Value>;
    /// `/ethdev/xstats`: every extended statistic, name to value.
    fn xstats(&self, port: PortId) -> Option<serde_json::Value>;
    /// `/ethdev/info`: name, queues, MTU, MAC, modes, offloads...
    fn info(&self, port: PortId) -> Option<serde_json::Value>;
    /// `/ethdev/link_status`: `{"status": "UP", "speed", "duplex"}` or
    /// `{"status": "DOWN"}`.
    fn link_status(&self, port: PortId) -> Option<serde_json::Value>;
    /// `/eal/params`: the arguments EAL was started with, program name
    /// first.
    fn eal_params(&self) -> Vec<String>;
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

    /// What the backend did to received frames' offloads on `port`
    /// (checksums completed, GSO frames cut), cumulative; zeros where the
    /// backend has no offloads to honour.
    fn offload_counters(&self, _port: PortId) -> OffloadCounters {
        OffloadCounters::default()
    }

    /// Checks every port's link and acts on changes (reports them, reopens
    /// a port whose device came back). Called by live workers every
    /// [`LINK_CHECK_INTERVAL`], never per packet; may make system calls.
    fn check_links(&mut self) {}

    /// `port`'s link as of the last [`Backend::check_links`] (no system
    /// call); always up for backends without links.
    fn link(&self, _port: PortId) -> PortLink {
        PortLink::default()
    }

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
