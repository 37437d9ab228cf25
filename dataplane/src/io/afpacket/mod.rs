//! The AF_PACKET backend: each port is a Linux interface (a veth end, a NIC
//! without DPDK, a macvlan...) driven through `AF_PACKET` sockets.
//!
//! - RX: a TPACKET_V3 memory-mapped ring per socket ([`RingConfig`]). A
//!   `rx_burst` makes no system call: it walks the blocks the kernel has
//!   retired, copies each frame into a [`HeapBuf`] and gives a block back
//!   as soon as all its packets are copied. Outgoing packets (ours and the
//!   host's) are not received (`PACKET_IGNORE_OUTGOING`, plus a check of
//!   `sll_pkttype`).
//! - VLAN tags: the kernel strips the outer 802.1Q/802.1ad tag of received
//!   frames into `tp_vlan_tci` (`TP_STATUS_VLAN_VALID`) and `tp_vlan_tpid`
//!   (`TP_STATUS_VLAN_TPID_VALID`; 0x8100 when absent). The backend puts the
//!   4-byte tag back after the MAC addresses, so the pipeline sees the frame
//!   as it was on the wire.
//! - Frames the kernel truncated (larger than a ring block) are not
//!   delivered: they are reported through [`Backend::rx_rejected`] and the
//!   engine counts them as received and dropped.
//! - TX: one `sendmmsg(2)` per burst (chunks of [`TX_CHUNK`]), with
//!   `PACKET_QDISC_BYPASS`, never blocking. When the kernel pushes back
//!   (`EAGAIN`, `ENOBUFS`, interface down) the packets not taken stay in
//!   `pkts` for the engine to count as `tx_full` (`port_down` once the link
//!   check found the interface down or gone; a stale `ENETDOWN` left in
//!   the socket by an earlier down is retried once). A packet the kernel refuses
//!   on its own (e.g. `EMSGSIZE`: larger than the interface MTU) is also left
//!   in `pkts` (so counted as `tx_full`), the packets behind it are still
//!   sent, and [`AfPacketBackend::tx_errors`] counts it with the last error.
//! - The interface is put in promiscuous mode (a packet-socket membership:
//!   the kernel drops it when the socket closes).
//! - Kernel drops: packets the kernel dropped because the ring was full,
//!   before cnfwd ever saw them ([`AfPacketBackend::kernel_drops`], from
//!   `PACKET_STATISTICS`). They are not part of the engine's packet
//!   counters; each part reads its sockets' at every link check (once a
//!   second) and reports them as the port's
//!   [`crate::io::DeviceCounters::kernel_drops`] (`show ports`, the stats
//!   JSON, `/metrics`, and `imissed` in `/ethdev/stats`).
//! - Queues: with `queues > 1`, each port gets one socket per queue, joined
//!   in one `PACKET_FANOUT_HASH` group per port (flows stay on one socket).
//!   [`AfPacketBackend::split`] turns such a backend into one backend per
//!   queue, one per worker thread; unsplit, `rx_burst` polls the queues of a
//!   port in turn.
//!
//! - Links: an interface set down, deleted, re-created or set up again
//!   while cnfwd runs is noticed within a second, reported once on stderr
//!   (`port b (veth-b): interface gone` / `down (admin down)` / `back up` /
//!   `back: interface re-created (ifindex 7 -> 9), reopened with 2
//!   queue(s)`), counted ([`PortLink`], in the stats JSON as the port's
//!   `link`), and a re-created interface is opened again with the same
//!   queues; the other ports are not touched (`link.rs` says how and what
//!   it costs).
//!
//! - Offloads: senders on veth and macvlan leave work to "hardware" that
//!   never does it, and cnfwd does it on receive (next section).
//!
//! Needs `CAP_NET_RAW` and an interface that is up at start.
//!
//! # Checksum and segmentation offload
//!
//! A local stack sending over a veth (or macvlan) leaves its TCP/UDP
//! checksums partial (`CHECKSUM_PARTIAL`: only the pseudo-header sum is in
//! the field) and, with TSO/GSO on (the kernel's default on veth), hands
//! over TCP super-frames of up to 64 KiB. Forwarded as they are, the
//! checksums fail at the receiver and the super-frames exceed the MTU, so
//! UDP and TCP between hosts die while ping works. What arrives was
//! measured on Linux 6.18 (veth, `ethtool -k`: tx-checksumming,
//! tcp-segmentation-offload, generic-segmentation-offload and
//! tx-udp-segmentation on), with a TPACKET_V3 ring on the far end:
//!
//! - every TCP and UDP frame from the host: `TP_STATUS_CSUMNOTREADY`;
//! - bulk TCP: frames of up to 65,226 bytes (IPv4) / 64,346 (IPv6),
//!   `TP_STATUS_CSUMNOTREADY | TP_STATUS_GSO_TCP` — the status says "GSO",
//!   but not the segment size, nor where the checksum is;
//! - UDP sent with `UDP_SEGMENT`: one frame per send, with only
//!   `TP_STATUS_CSUMNOTREADY`: nothing in the status says it is several
//!   datagrams.
//!
//! With `PACKET_VNET_HDR` set before the ring (the kernel refuses it after,
//! `EBUSY`), TPACKET_V3 works unchanged and the kernel writes a
//! `virtio_net_hdr` in front of each frame: `flags` `NEEDS_CSUM` with
//! `csum_start`/`csum_offset` (34/16 for TCP over IPv4, 54/6 for UDP over
//! IPv6, ...), and `gso_type` TCPV4/TCPV6/UDP_L4 (+ECN) with `gso_size`
//! (1448, 1428, the `UDP_SEGMENT` size). That is the design: every socket
//! has `PACKET_VNET_HDR` on, because without it the segment size (TCP's
//! MSS, the UDP datagram boundaries) cannot be known, only guessed, and the
//! checksum position would have to be found by parsing. On receive
//! (`offload.rs`):
//!
//! - `NEEDS_CSUM` without GSO: the checksum is completed in the copy
//!   (CRC32c for SCTP), counted in [`OffloadCounters::rx_csum_completed`];
//! - GSO: cut into `gso_size` segments straight from the ring, headers
//!   patched as the kernel's software GSO does (IPv4 id +1 and total length,
//!   IPv6 payload length, TCP sequence, FIN/PSH only on the last segment,
//!   CWR only on the first when ECN-marked, UDP length) and every checksum
//!   completed; counted in [`OffloadCounters::rx_gso_segmented`] (frames)
//!   and `rx_gso_segments`, each segment also in `rx_csum_completed`.
//!   Segments that do not fit in the burst wait in a per-port queue and go
//!   first in the next `rx_burst`, so flows stay in order;
//! - a frame whose metadata cannot be honoured (tunnelled or unknown GSO,
//!   headers that do not parse, offsets outside the frame) is rejected
//!   (`rx_rejected`) and counted in `rx_offload_rejected`. Tunnelled GSO
//!   does arrive: UDP sent with `UDP_SEGMENT` through a VXLAN device on the
//!   host came as `gso_type` UDP_L4 with `csum_start` at the *inner* UDP
//!   header (measured); cnfwd does not segment tunnels, so a host must not
//!   rely on GSO through a tunnel over a cnfwd port. GSO types a
//!   `virtio_net_hdr` cannot describe (SCTP) make the kernel drop the frame
//!   before cnfwd sees it (`kernel_drops`; from the kernel source, SCTP was
//!   not available to measure). Partial checksums inside tunnels are fine:
//!   whatever `csum_start` points at is completed.
//!
//! A super-frame is received whole only if it fits in a ring block with its
//! headers (92 bytes, plus the block's 48): the default 128 KiB blocks hold
//! the kernel's default 64 KiB GSO frames (64 KiB blocks did not: a full
//! 65,536-byte super-frame, which a busy TCP sender makes, was truncated).
//! Senders with a larger `gso_max_size` (BIG TCP) need larger blocks, or
//! their super-frames are truncated and rejected (`rx_unconvertible`).
//!
//! The option applies to sending too: every frame sent is preceded by a
//! zero `virtio_net_hdr` (no GSO, checksum complete), a second `iovec` of
//! the same `sendmmsg`.
#![allow(unsafe_code)]

mod link;
mod offload;
mod ring;
mod sys;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use cnfwd_config::{PortBackend, PortId, Resolved};

use crate::io::{Backend, IoError, LinkState, PortLink};
use crate::packet::buf::{HeapBuf, HeapPool, PacketBuf};
use link::Watch;
use offload::{VnetHdr, VNET_HDR_LEN};
use ring::RxRing;

/// Packets handed to one `sendmmsg` call.
pub const TX_CHUNK: usize = 64;

/// Geometry of each socket's TPACKET_V3 RX ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block; a multiple of the page size. Also the largest frame
    /// received whole. Default 64 KiB.
    pub block_size: u32,
    /// Blocks in the ring. Default 64 (4 MiB per socket).
    pub block_count: u32,
    /// Nominal frame slot; TPACKET_V3 packs frames of any size into a block,
    /// this only has to divide the block (multiple of 16). Default 2048.
    pub frame_size: u32,
    /// A block holding at least one packet is handed over after this many
    /// milliseconds even when not full. Default 1 ms.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            block_size: 64 * 1024,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 1,
        }
    }
}

/// Why an AF_PACKET port could not be opened. Each names the interface.
#[derive(Debug, thiserror::Error)]
pub enum AfPacketError {
    /// A port of the configuration uses another backend.
    #[error("port {port:?} uses backend {backend}, but this run drives af_packet ports")]
    WrongBackend {
        /// Port name.
        port: String,
        /// Its backend.
        backend: &'static str,
    },
    /// `if_nametoindex` found no such interface.
    #[error("interface {interface:?} does not exist")]
    NoSuchInterface {
        /// Interface name.
        interface: String,
    },
    /// EPERM/EACCES on socket creation or setup.
    #[error("interface {interface:?}: {op} failed: {source}; AF_PACKET needs CAP_NET_RAW (run as root or grant the capability)")]
    Permission {
        /// Interface name.
        interface: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The interface is administratively down.
    #[error("interface {interface:?} is down (bring it up: ip link set {interface} up)")]
    Down {
        /// Interface name.
        interface: String,
    },
    /// The interface is not Ethernet (loopback, tun, ...).
    #[error("interface {interface:?} is not an Ethernet interface (hardware type {hatype})")]
    NotEthernet {
        /// Interface name.
        interface: String,
        /// Its `ARPHRD_*` type.
        hatype: u16,
    },
    /// A bad ring geometry or queue count.
    #[error("interface {interface:?}: {what}")]
    Config {
        /// Interface name.
        interface: String,
        /// What is wrong.
        what: String,
    },
    /// Any other system call failure, naming the call.
    #[error("interface {interface:?}: {op} failed: {source}")]
    Os {
        /// Interface name.
        interface: String,
        /// The system call (and option) that failed.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl AfPacketError {
    fn os(interface: &str, op: &'static str, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => AfPacketError::Permission {
                interface: interface.to_owned(),
                op,
                source,
            },
            _ => AfPacketError::Os {
                interface: interface.to_owned(),
                op,
                source,
            },
        }
    }
}

pub use crate::io::OffloadCounters;

/// Segments waiting for room, per port, before the queue has to grow:
/// one 64 KiB super-frame at a 1,448-byte MSS is 46.
const PENDING_CAPACITY: usize = 256;

/// One socket with its RX ring.
struct Queue {
    // Field order: the ring is unmapped before the socket closes.
    ring: RxRing,
    fd: OwnedFd,
}

struct Port {
    /// The configured port name (the interface when opened without one).
    name: String,
    interface: String,
    device_mac: [u8; 6],
    mac: [u8; 6],
    queues: Vec<Queue>,
    /// Next queue `rx_burst` polls (unsplit multi-queue backends).
    rx_next: usize,
    /// Truncated frames and malformed ring entries not yet reported.
    rejected: u64,
    kernel_packets: u64,
    kernel_drops: u64,
    tx_errors: u64,
    last_tx_error: Option<io::Error>,
    /// Indices (in the burst) of packets refused one by one.
    tx_refused: Vec<usize>,
    /// Segments of a GSO frame that did not fit in the last `rx_burst`.
    pending: VecDeque<HeapBuf>,
    offload: OffloadCounters,
    /// The interface's link as this part sees it (`link.rs`).
    watch: Watch,
}

impl Port {
    /// A port over freshly opened sockets.
    fn new(name: &str, interface: &str, opened: Opened, ring: RingConfig) -> Port {
        let watch = Watch::new(opened.ifindex, opened.queues.len(), ring, opened.device_mac);
        Port {
            name: name.to_owned(),
            interface: interface.to_owned(),
            device_mac: opened.device_mac,
            mac: opened.device_mac,
            queues: opened.queues,
            rx_next: 0,
            rejected: 0,
            kernel_packets: 0,
            kernel_drops: 0,
            tx_errors: 0,
            last_tx_error: None,
            tx_refused: Vec::new(),
            pending: VecDeque::with_capacity(PENDING_CAPACITY),
            offload: OffloadCounters::default(),
            watch,
        }
    }

    /// Adds the sockets' `PACKET_STATISTICS` (read and reset by the
    /// kernel) to the port's totals.
    fn read_kernel_stats(&mut self) {
        for q in &self.queues {
            if let Ok(s) = sys::getsockopt::<libc::tpacket_stats_v3>(
                &q.fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
            ) {
                self.kernel_packets += u64::from(s.tp_packets);
                self.kernel_drops += u64::from(s.tp_drops);
            }
        }
    }
}

/// The sockets of one interface, as [`open_port`] made them.
struct Opened {
    /// The interface index they are bound to.
    ifindex: u32,
    /// The interface's MAC.
    device_mac: [u8; 6],
    queues: Vec<Queue>,
}

/// Ports on Linux interfaces through AF_PACKET (see the module doc).
pub struct AfPacketBackend {
    ports: Vec<Port>,
    pool: HeapPool,
}

impl AfPacketBackend {
    /// Opens every port of `r` with the default [`RingConfig`]; `queues`
    /// sockets per port (fanout when more than one).
    pub fn open(r: &Resolved, queues: usize) -> Result<Self, AfPacketError> {
        Self::open_with(r, queues, RingConfig::default())
    }

    /// Opens every port of `r` with ring geometry `cfg`.
    pub fn open_with(r: &Resolved, queues: usize, cfg: RingConfig) -> Result<Self, AfPacketError> {
        let mut ports = Vec::with_capacity(r.ports.len());
        for p in &r.ports {
            let PortBackend::AfPacket { interface } = &p.backend else {
                return Err(AfPacketError::WrongBackend {
                    port: p.name.clone(),
                    backend: p.backend.kind().as_str(),
                });
            };
            let mut port = Port::new(&p.name, interface, open_port(interface, queues, cfg)?, cfg);
            if let Some(m) = p.mac {
                port.mac = m.octets();
            }
            ports.push(port);
        }
        Ok(Self {
            ports,
            pool: HeapPool::new(),
        })
    }

    /// Each port's MAC for [`crate::tables::Tables::build`]: the configured
    /// one if given, otherwise the interface's (read with `SIOCGIFHWADDR`).
    /// Always `Some`.
    pub fn port_macs(&self) -> Vec<Option<[u8; 6]>> {
        self.ports.iter().map(|p| Some(p.mac)).collect()
    }

    /// Each port's interface MAC, whatever the configuration says.
    pub fn device_macs(&self) -> Vec<[u8; 6]> {
        self.ports.iter().map(|p| p.device_mac).collect()
    }

    /// Interface name of `port`.
    pub fn interface(&self, port: PortId) -> Option<&str> {
        self.ports.get(port as usize).map(|p| p.interface.as_str())
    }

    /// Sockets (queues) per port.
    pub fn queue_count(&self) -> usize {
        self.ports.first().map_or(0, |p| p.queues.len())
    }

    /// Packets the kernel dropped on `port` since it was opened because an
    /// RX ring was full: cnfwd never saw them, so they are in no engine
    /// counter. Summed over the port's queues. Reads (and resets) the
    /// sockets' `PACKET_STATISTICS`, accumulating here.
    pub fn kernel_drops(&mut self, port: PortId) -> u64 {
        self.read_kernel_stats(port);
        self.ports.get(port as usize).map_or(0, |p| p.kernel_drops)
    }

    /// Packets the kernel handed to `port`'s sockets since it was opened
    /// (including the ones it then dropped), from `PACKET_STATISTICS`.
    pub fn kernel_packets(&mut self, port: PortId) -> u64 {
        self.read_kernel_stats(port);
        self.ports
            .get(port as usize)
            .map_or(0, |p| p.kernel_packets)
    }

    fn read_kernel_stats(&mut self, port: PortId) {
        if let Some(p) = self.ports.get_mut(port as usize) {
            p.read_kernel_stats();
        }
    }

    /// What cnfwd completed or segmented on receive on `port` because the
    /// sender left it to offload (checksums, GSO), since it was opened;
    /// zero for an unknown port. Not reset by reading.
    pub fn offload_counters(&self, port: PortId) -> OffloadCounters {
        self.ports
            .get(port as usize)
            .map_or_else(OffloadCounters::default, |p| p.offload)
    }

    /// Packets on `port` the kernel refused one by one on TX (left in `pkts`
    /// and so counted as `tx_full` by the engine), and the last such error.
    pub fn tx_errors(&self, port: PortId) -> (u64, Option<&io::Error>) {
        self.ports
            .get(port as usize)
            .map_or((0, None), |p| (p.tx_errors, p.last_tx_error.as_ref()))
    }

    /// Splits a multi-queue backend into one backend per queue: backend `i`
    /// holds queue `i` of every port (all ports, same ids). Each goes to one
    /// worker thread. Counters start at zero in each part.
    pub fn split(self) -> Vec<AfPacketBackend> {
        let n = self.queue_count();
        let mut parts: Vec<AfPacketBackend> = (0..n)
            .map(|_| AfPacketBackend {
                ports: Vec::with_capacity(self.ports.len()),
                pool: HeapPool::new(),
            })
            .collect();
        for p in self.ports {
            for (i, (part, q)) in parts.iter_mut().zip(p.queues).enumerate() {
                part.ports.push(Port {
                    name: p.name.clone(),
                    interface: p.interface.clone(),
                    device_mac: p.device_mac,
                    mac: p.mac,
                    queues: vec![q],
                    rx_next: 0,
                    rejected: 0,
                    kernel_packets: 0,
                    kernel_drops: 0,
                    tx_errors: 0,
                    last_tx_error: None,
                    tx_refused: Vec::new(),
                    pending: VecDeque::with_capacity(PENDING_CAPACITY),
                    offload: OffloadCounters::default(),
                    watch: p.watch.part(i),
                });
            }
        }
        parts
    }
}

/// Opens `queues` sockets on `interface`: checks, ring, options, bind, fanout.
fn open_port(interface: &str, queues: usize, cfg: RingConfig) -> Result<Opened, AfPacketError> {
    let cfg_err = |what: String| AfPacketError::Config {
        interface: interface.to_owned(),
        what,
    };
    if queues == 0 || queues > 64 {
        return Err(cfg_err(format!("{queues} queues requested (1..=64)")));
    }
    let page = 4096;
    if cfg.block_size == 0
        || !cfg.block_size.is_multiple_of(page)
        || cfg.frame_size < 64
        || !cfg.frame_size.is_multiple_of(16)
        || !cfg.block_size.is_multiple_of(cfg.frame_size)
        || cfg.block_count == 0
    {
        return Err(cfg_err(format!(
            "bad RX ring geometry {cfg:?}: block_size a multiple of {page}, frame_size a multiple of 16 dividing it, at least one block"
        )));
    }
    let os = |op, e| AfPacketError::os(interface, op, e);
    let ifindex = sys::if_index(interface)
        .map_err(|e| os("if_nametoindex", e))?
        .ok_or_else(|| AfPacketError::NoSuchInterface {
            interface: interface.to_owned(),
        })?;

    let mut sockets = Vec::with_capacity(queues);
    let mut fanout_id: Option<u16> = None;
    let mut device_mac = [0u8; 6];
    for qi in 0..queues {
        let fd = sys::packet_socket().map_err(|e| os("socket(AF_PACKET, SOCK_RAW)", e))?;
        if qi == 0 {
            let flags = sys::if_flags(&fd, interface).map_err(|e| os("ioctl(SIOCGIFFLAGS)", e))?;
            if flags & libc::IFF_UP as u32 == 0 {
                return Err(AfPacketError::Down {
                    interface: interface.to_owned(),
                });
            }
            let (hatype, mac) =
                sys::if_hwaddr(&fd, interface).map_err(|e| os("ioctl(SIOCGIFHWADDR)", e))?;
            if hatype != libc::ARPHRD_ETHER {
                return Err(AfPacketError::NotEthernet {
                    interface: interface.to_owned(),
                    hatype,
                });
            }
            device_mac = mac;
        }
        let ring = RxRing::setup(
            &fd,
            cfg.block_size,
            cfg.block_count,
            cfg.frame_size,
            cfg.block_timeout_ms,
        )
        .map_err(|e| os(e.op, e.source))?;
        let one: libc::c_int = 1;
        sys::setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one)
            .map_err(|e| os("setsockopt(PACKET_QDISC_BYPASS)", e))?;
        // Best effort (Linux >= 4.20): `rx_burst` also skips PACKET_OUTGOING.
        match sys::setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one) {
            Err(e) if e.raw_os_error() != Some(libc::ENOPROTOOPT) => {
                return Err(os("setsockopt(PACKET_IGNORE_OUTGOING)", e))
            }
            _ => {}
        }
        // A packet-socket membership: promiscuous while this socket lives.
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        sys::setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
            .map_err(|e| os("setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)", e))?;
        sys::bind(&fd, ifindex).map_err(|e| os("bind", e))?;
        if queues > 1 {
            // The first socket asks the kernel for an unused group id; the
            // others join that group (ids are per network namespace, so a
            // fixed id could collide with another process).
            let (id, flags) = match fanout_id {
                None => (0u32, libc::PACKET_FANOUT_FLAG_UNIQUEID),
                Some(id) => (u32::from(id), 0),
            };
            let arg: libc::c_int = (id | ((libc::PACKET_FANOUT_HASH | flags) << 16)) as libc::c_int;
            sys::setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)
                .map_err(|e| os("setsockopt(PACKET_FANOUT, PACKET_FANOUT_HASH)", e))?;
            if fanout_id.is_none() {
                let got: libc::c_int = sys::getsockopt(&fd, libc::SOL_PACKET, libc::PACKET_FANOUT)
                    .map_err(|e| os("getsockopt(PACKET_FANOUT)", e))?;
                fanout_id = Some((got & 0xffff) as u16);
            }
        }
        sockets.push(Queue { ring, fd });
    }
    Ok(Opened {
        ifindex,
        device_mac,
        queues: sockets,
    })
}

/// Copies `frame` into a pooled buffer, putting back the VLAN tag the
/// kernel stripped (`tag` = TPID, TCI).
#[cfg(test)]
fn fill(pool: &mut HeapPool, frame: &[u8], tag: Option<(u16, u16)>) -> HeapBuf {
    let mut buf = pool.take(frame);
    put_tag(&mut buf, tag);
    buf
}

/// Puts back the VLAN tag the kernel stripped (`tag` = TPID, TCI) after
/// the MAC addresses.
fn put_tag(buf: &mut HeapBuf, tag: Option<(u16, u16)>) {
    if let Some((tpid, tci)) = tag {
        if buf.len() >= 12 && buf.prepend(4) {
            let d = buf.data_mut();
            d.copy_within(4..16, 0);
            d[12..14].copy_from_slice(&tpid.to_be_bytes());
            d[14..16].copy_from_slice(&tci.to_be_bytes());
        }
    }
}

/// Where received packets go: `out` while the burst has room, then the
/// port's pending queue.
struct Sink<'a> {
    out: &'a mut Vec<HeapBuf>,
    pending: &'a mut VecDeque<HeapBuf>,
    room: usize,
}

impl Sink<'_> {
    fn push(&mut self, b: HeapBuf) {
        if self.room > 0 {
            self.out.push(b);
            self.room -= 1;
        } else {
            self.pending.push_back(b);
        }
    }
}

/// Turns one received frame into packets for the engine: copied, its
/// checksum completed or cut into segments as `vnet` says, tag put back.
/// Returns false when the frame was rejected (nothing pushed).
fn receive_frame(
    pool: &mut HeapPool,
    counters: &mut OffloadCounters,
    sink: &mut Sink<'_>,
    frame: &[u8],
    vnet: &VnetHdr,
    tag: Option<(u16, u16)>,
    timestamp_ns: u64,
) -> bool {
    if vnet.is_gso() {
        let r = offload::segment(frame, vnet, pool, |mut b| {
            put_tag(&mut b, tag);
            b.timestamp_ns = timestamp_ns;
            sink.push(b);
        });
        return match r {
            Ok(n) => {
                counters.rx_gso_segmented += 1;
                counters.rx_gso_segments += n as u64;
                counters.rx_csum_completed += n as u64;
                true
            }
            Err(_) => {
                counters.rx_offload_rejected += 1;
                false
            }
        };
    }
    let mut b = pool.take(frame);
    if vnet.needs_csum() {
        let start = usize::from(vnet.csum_start);
        let offset = usize::from(vnet.csum_offset);
        if offload::complete_checksum(b.data_mut(), start, offset).is_err() {
            counters.rx_offload_rejected += 1;
            pool.put(b);
            return false;
        }
        counters.rx_csum_completed += 1;
    }
    put_tag(&mut b, tag);
    b.timestamp_ns = timestamp_ns;
    sink.push(b);
    true
}

/// The `virtio_net_hdr` sent in front of every frame: no GSO, no checksum
/// left to do.
static VNET_NONE: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

/// What to do after a `sendmmsg` error on the first packet of a chunk.
enum TxFailure {
    /// The device or socket is out of room (or down): stop, keep the rest.
    Backpressure,
    /// Try the same call again.
    Retry,
    /// This packet alone is refused: set it aside, continue with the next.
    Refused,
}

fn classify_tx_error(e: &io::Error) -> TxFailure {
    match e.raw_os_error() {
        Some(libc::EINTR) => TxFailure::Retry,
        Some(libc::EAGAIN) | Some(libc::ENOBUFS) | Some(libc::ENETDOWN) | Some(libc::ENXIO)
        | Some(libc::ENOMEM) => TxFailure::Backpressure,
        _ => TxFailure::Refused,
    }
}

/// Sends the first [`TX_CHUNK`] (at most) of `pkts` with one `sendmmsg`;
/// returns how many the kernel took.
fn send_chunk(fd: &OwnedFd, pkts: &[HeapBuf]) -> io::Result<usize> {
    let n = pkts.len().min(TX_CHUNK);
    // SAFETY: `iovec` and `mmsghdr` are plain data; all-zero is valid (null
    // pointers, zero lengths) and every field used is set below.
    let mut iov: [[libc::iovec; 2]; TX_CHUNK] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; TX_CHUNK] = unsafe { std::mem::zeroed() };
    for (i, b) in pkts[..n].iter().enumerate() {
        let d = b.data();
        // The socket has PACKET_VNET_HDR: each frame is preceded by one.
        iov[i][0].iov_base = VNET_NONE.as_ptr() as *mut libc::c_void;
        iov[i][0].iov_len = VNET_HDR_LEN;
        iov[i][1].iov_base = d.as_ptr() as *mut libc::c_void;
        iov[i][1].iov_len = d.len();
        msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
        msgs[i].msg_hdr.msg_iovlen = 2;
    }
    // SAFETY: `msgs[..n]` are valid headers whose iovecs point into `pkts`,
    // which is borrowed (and so neither freed nor moved) for the whole call,
    // and to the immutable static `VNET_NONE`; the kernel only reads those
    // bytes (the `*mut` is the C type, never written through) and writes
    // `msg_len`. No destination address: the socket is bound to its
    // interface.
    let sent = sys::cvt(unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    })?;
    Ok(sent as usize)
}

impl Backend for AfPacketBackend {
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
        let first = out.len();
        // Segments left over from the last burst go first (flow order).
        while out.len() - first < max {
            let Some(b) = p.pending.pop_front() else {
                break;
            };
            out.push(b);
        }
        let mut sink = Sink {
            room: max - (out.len() - first),
            out,
            pending: &mut p.pending,
        };
        let nq = p.queues.len();
        for _ in 0..nq {
            if sink.room == 0 {
                break;
            }
            let q = &mut p.queues[p.rx_next];
            p.rx_next = (p.rx_next + 1) % nq;
            while sink.room > 0 {
                let Some(pkt) = q.ring.next_packet() else {
                    break;
                };
                if pkt.pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                if pkt.data.len() < pkt.wire_len as usize {
                    p.rejected += 1;
                    continue;
                }
                let tag = (pkt.status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
                    let tpid = if pkt.status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        pkt.vlan_tpid
                    } else {
                        0x8100
                    };
                    (tpid, pkt.vlan_tci)
                });
                if !receive_frame(
                    &mut self.pool,
                    &mut p.offload,
                    &mut sink,
                    pkt.data,
                    &pkt.vnet,
                    tag,
                    pkt.timestamp_ns,
                ) {
                    p.rejected += 1;
                }
            }
            q.ring.release_if_done();
            p.rejected += std::mem::take(&mut q.ring.malformed);
        }
        Ok(max - sink.room)
    }

    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<HeapBuf>) -> Result<usize, IoError> {
        let Some(p) = self.ports.get_mut(port as usize) else {
            return Ok(0);
        };
        let Some(q) = p.queues.first() else {
            return Ok(0);
        };
        if p.watch.view.state == LinkState::Gone {
            // Unbound socket (ENXIO): not worth a system call per burst.
            return Ok(0);
        }
        p.tx_refused.clear();
        let mut i = 0;
        // An interface set down leaves ENETDOWN in the socket's `sk_err`,
        // and the first send after it is up again fails with it (and
        // clears it): one retry, so that send is not lost.
        let mut stale_enetdown = true;
        while i < pkts.len() {
            match send_chunk(&q.fd, &pkts[i..]) {
                Ok(n) => i += n,
                Err(e) => match classify_tx_error(&e) {
                    TxFailure::Retry => continue,
                    TxFailure::Backpressure
                        if stale_enetdown && e.raw_os_error() == Some(libc::ENETDOWN) =>
                    {
                        stale_enetdown = false;
                        continue;
                    }
                    TxFailure::Backpressure => {
                        if e.raw_os_error() != Some(libc::EAGAIN)
                            && e.raw_os_error() != Some(libc::ENOBUFS)
                        {
                            p.last_tx_error = Some(e);
                        }
                        break;
                    }
                    TxFailure::Refused => {
                        p.tx_refused.push(i);
                        p.tx_errors += 1;
                        p.last_tx_error = Some(e);
                        i += 1;
                    }
                },
            }
        }
        let taken = i - p.tx_refused.len();
        if p.tx_refused.is_empty() {
            for b in pkts.drain(..i) {
                self.pool.put(b);
            }
        } else {
            // Rare: keep the refused packets, in order, ahead of the unsent rest.
            let rest = pkts.split_off(i);
            let mut refused = p.tx_refused.iter().peekable();
            for (k, b) in std::mem::take(pkts).into_iter().enumerate() {
                if refused.peek() == Some(&&k) {
                    refused.next();
                    pkts.push(b);
                } else {
                    self.pool.put(b);
                }
            }
            pkts.extend(rest);
        }
        Ok(taken)
    }

    fn offload_counters(&self, port: PortId) -> OffloadCounters {
        AfPacketBackend::offload_counters(self, port)
    }

    /// Checks every port's interface (`link.rs`: two `ioctl`s per port).
    /// Also reads the sockets' `PACKET_STATISTICS` (before a reopen can
    /// replace them), for [`crate::io::DeviceCounters::kernel_drops`].
    fn check_links(&mut self) {
        for p in &mut self.ports {
            p.read_kernel_stats();
            p.check_link();
        }
    }

    fn link(&self, port: PortId) -> PortLink {
        self.ports
            .get(port as usize)
            .map_or_else(PortLink::default, |p| {
                let mut l = p.watch.view;
                l.device.kernel_drops = Some(p.kernel_drops);
                l
            })
    }

    fn alloc(&mut self, _port: PortId, frame: &[u8]) -> Option<HeapBuf> {
        Some(self.pool.take(frame))
    }

    fn rx_finished(&self, _port: PortId) -> bool {
        false
    }

    fn rx_rejected(&mut self, port: PortId) -> u64 {
        self.ports
            .get_mut(port as usize)
            .map_or(0, |p| std::mem::take(&mut p.rejected))
    }

    fn recycle(&mut self, buf: HeapBuf) {
        self.pool.put(buf);
    }

    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_rebuilt_after_the_macs() {
        let frame: Vec<u8> = (0u8..20).collect();
        let mut pool = HeapPool::new();
        let b = fill(&mut pool, &frame, Some((0x8100, 0xa064)));
        let mut want = frame[..12].to_vec();
        want.extend_from_slice(&[0x81, 0x00, 0xa0, 0x64]);
        want.extend_from_slice(&frame[12..]);
        assert_eq!(b.data(), &want[..]);
        // A reused buffer gives the same bytes.
        pool.put(b);
        let b = fill(&mut pool, &frame, Some((0x88a8, 0x0001)));
        assert_eq!(&b.data()[12..16], &[0x88, 0xa8, 0x00, 0x01]);
        assert_eq!(&b.data()[16..], &frame[12..]);
        let b = fill(&mut pool, &frame, None);
        assert_eq!(b.data(), &frame[..]);
    }

    #[test]
    fn missing_interface_is_named() {
        let e = open_port("cnfwd-nope0", 1, RingConfig::default())
            .err()
            .expect("no such interface");
        assert_eq!(e.to_string(), "interface \"cnfwd-nope0\" does not exist");
    }

    #[test]
    fn permission_error_names_the_capability() {
        // Only meaningful without CAP_NET_RAW (as root this opens `lo`,
        // which is then refused as not Ethernet).
        match open_port("lo", 1, RingConfig::default()) {
            Err(e @ AfPacketError::Permission { .. }) => {
                assert!(e.to_string().contains("needs CAP_NET_RAW"), "{e}")
            }
            Err(AfPacketError::NotEthernet { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("lo is not Ethernet"),
        }
    }

    #[test]
    fn bad_geometry_is_refused() {
        let cfg = RingConfig {
            block_size: 1000,
            ..RingConfig::default()
        };
        assert!(matches!(
            open_port("lo", 1, cfg),
            Err(AfPacketError::Config { .. })
        ));
    }
}
