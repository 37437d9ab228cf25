//! The DPDK backend: ports are DPDK ethdevs (SR-IOV VFs bound to vfio-pci,
//! or virtual devices such as `net_pcap`, `net_ring`, `net_af_packet`),
//! driven by poll-mode bursts. Built only with the `dpdk` feature.
//!
//! - [`Eal`]: `rte_eal_init`, once per process (a second call is an error,
//!   never UB); dropping it (or [`Eal::cleanup`]) runs `rte_eal_cleanup`.
//!   Backends and mbufs borrow it, so they cannot outlive it.
//! - Devices: a port's `device` is looked up by its name (the part before the
//!   first `,`) among the ethdevs EAL already knows (PCI devices EAL probed
//!   at init, e.g. with `-a 0000:3b:02.0`, or `--vdev=` arguments). A device
//!   EAL does not know is probed with `rte_dev_probe(device)` (the full
//!   string, devargs included, so `net_pcap0,rx_pcap=a.pcap` works without
//!   `--vdev`) and removed again (`rte_eal_hotplug_remove`) when the backend
//!   is dropped. PCI addresses must be given in full form (`0000:3b:02.0`).
//! - Pools: one pktmbuf pool per NUMA socket of the ports
//!   (`rte_eth_dev_socket_id`; `SOCKET_ID_ANY` maps to the caller's
//!   socket), of `ports × queues × (RX ring + TX ring + burst)` mbufs plus
//!   the per-lcore caches plus [`POOL_SLACK`] for packets held by the
//!   pipeline. The data room fits the largest configured MTU plus two VLAN
//!   tags in one segment, so RX never needs scatter.
//! - Ports: `queues` RX and TX queues (RSS on IPv4/IPv6 and TCP/UDP when
//!   `queues > 1`, masked by what the device supports, with a symmetric
//!   Toeplitz key so both directions of a flow reach one worker), the configured MTU
//!   (a device that refuses it, e.g. some vdevs, is logged and kept at its
//!   default), promiscuous mode (logged when refused), started; link status
//!   logged. Stopped and closed when the backend is dropped.
//! - RX: one `rte_eth_rx_burst` per call; each mbuf is wrapped in an
//!   [`Mbuf`] without copying. With several queues an unsplit backend polls
//!   them in turn. Multi-segment mbufs (never produced with the sizing
//!   above, but a device could) are freed and reported through
//!   [`Backend::rx_rejected`], so the engine counts them as received and
//!   dropped (`rx_unconvertible`).
//! - Workers: [`DpdkBackend::split`] gives one part per queue pair (RX queue
//!   `i`, TX queue `i` of every port) for worker `i`; the ports are stopped
//!   and closed when the last part is dropped. A worker thread that is not
//!   an EAL lcore registers with EAL (`rte_thread_register`) so that the
//!   mempool caches work for it.
//! - TX: `rte_eth_tx_burst` on the part's TX queue in chunks of [`MAX_BURST`]; the
//!   packets the device did not take stay in `pkts` in order (the engine
//!   frees them and counts `tx_full`). Nothing leaks on any path.
//! - Ports are live: `rx_finished` is always false; `flush` does nothing.
#![allow(unsafe_code)]

mod eal;
mod mbuf;
mod telemetry;

use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};

use cnfwd_config::{PortBackend, PortId, Resolved};
use dpdk_sys as sys;
use sys::{rte_mbuf, rte_mempool};

use crate::io::{Backend, DeviceCounters, IoError, PortLink};
use crate::pipeline::MAX_BURST;

pub use eal::{eal_args, DpdkError, Eal};
pub use mbuf::Mbuf;
pub use telemetry::DpdkTelemetry;

/// RX descriptors per queue asked for (the device may adjust it).
pub const RX_RING: u16 = 1024;
/// TX descriptors per queue asked for (the device may adjust it).
pub const TX_RING: u16 = 1024;
/// Per-lcore mempool cache.
pub const POOL_CACHE: u32 = 256;
/// Extra mbufs per pool for packets held by the pipeline, TX queues and
/// flood copies.
pub const POOL_SLACK: u32 = 4096;

/// `RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP` (bindgen cannot
/// evaluate `RTE_BIT64`, so it is rebuilt from the flow type numbers).
const RSS_HF: u64 = (1 << sys::RTE_ETH_FLOW_IPV4)
    | (1 << sys::RTE_ETH_FLOW_FRAG_IPV4)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV4_OTHER)
    | (1 << sys::RTE_ETH_FLOW_IPV6)
    | (1 << sys::RTE_ETH_FLOW_FRAG_IPV6)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV6_OTHER)
    | (1 << sys::RTE_ETH_FLOW_IPV6_EX)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV4_TCP)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV6_TCP)
    | (1 << sys::RTE_ETH_FLOW_IPV6_TCP_EX)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV4_UDP)
    | (1 << sys::RTE_ETH_FLOW_NONFRAG_IPV6_UDP)
    | (1 << sys::RTE_ETH_FLOW_IPV6_UDP_EX);

/// Makes pool names unique within the process (a dropped backend whose pool
/// still had mbufs out keeps that pool, and its name).
static POOL_SEQ: AtomicU32 = AtomicU32::new(0);

struct DpdkPort {
    name: String,
    port_id: u16,
    /// Device name to hot-unplug on drop, when this backend probed it.
    probed: Option<CString>,
    pool: *mut rte_mempool,
    /// The data room of the pool's mbufs (headroom included).
    room: u16,
    queues: u16,
    configured: bool,
    started: bool,
}

/// The ports and pools, shared by the parts of a split backend; stopped,
/// closed and freed when the last part is dropped.
struct PortSet {
    ports: Vec<DpdkPort>,
    pools: Vec<*mut rte_mempool>,
}

// SAFETY: the raw pointers are mempools, usable from any thread; a PortSet
// is only read after `open` (and torn down in Drop by its last owner).
unsafe impl Send for PortSet {}
// SAFETY: as above: shared read-only.
unsafe impl Sync for PortSet {}

/// One part's view of a port: which of its queues it polls and sends on.
struct PortQueues {
    port_id: u16,
    /// RX queues polled in turn: `first_rxq..first_rxq + rxqs`.
    first_rxq: u16,
    rxqs: u16,
    next_rxq: u16,
    /// The TX queue this part sends on.
    txq: u16,
    rejected: u64,
    /// The device's counters as of the last link check (only the part
    /// polling RX queue 0 reads them: they are port-wide).
    device: DeviceCounters,
}

/// Ports driven by DPDK poll-mode drivers (see the module doc).
pub struct DpdkBackend<'e> {
    set: std::sync::Arc<PortSet>,
    queues: Vec<PortQueues>,
    /// The driving thread registered itself with EAL (`worker_started`).
    registered_thread: bool,
    /// Mbufs the engine gave back (dropped packets), freed together with
    /// one `rte_pktmbuf_free_bulk` per burst instead of one call each.
    to_free: Vec<*mut rte_mbuf>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: the port set is Send + Sync; the queue views are plain data; the
// backend is driven by one thread at a time (the `Backend` contract,
// enforced by `&mut self`), and a DPDK queue is not tied to a thread, only
// to one user at a time: parts of a split backend never share a queue.
unsafe impl Send for DpdkBackend<'_> {}

fn port_err(p: &str, port_id: u16, op: &'static str, code: i32) -> DpdkError {
    DpdkError::Port {
        port: p.to_owned(),
        port_id,
        op,
        code,
        msg: eal::strerror(code),
    }
}

/// Finds (or probes) the ethdev of `device`; returns its port id and, when
/// this call probed it, its device name for hot-unplug.
fn find_port(port: &str, device: &str) -> Result<(u16, Option<CString>), DpdkError> {
    let no_dev = |msg: String| DpdkError::NoDevice {
        port: port.to_owned(),
        device: device.to_owned(),
        msg,
    };
    let dev_name = device.split(',').next().unwrap_or(device).trim();
    let cname = CString::new(dev_name).map_err(|_| no_dev("NUL byte in name".into()))?;
    let mut id = 0u16;
    // SAFETY: EAL is initialised (an `Eal` exists); `cname` is a valid C
    // string and `id` a valid out-pointer.
    if unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } == 0 {
        return Ok((id, None));
    }
    let cdev = CString::new(device).map_err(|_| no_dev("NUL byte in device".into()))?;
    // SAFETY: EAL is initialised; `cdev` is a valid C string.
    let ret = unsafe { sys::rte_dev_probe(cdev.as_ptr()) };
    if ret < 0 {
        return Err(no_dev(format!("rte_dev_probe: {}", eal::strerror(ret))));
    }
    // SAFETY: as above.
    if unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } == 0 {
        return Ok((id, Some(cname)));
    }
    Err(no_dev(format!(
        "probed, but no ethdev is named {dev_name:?}"
    )))
}

/// The NUMA socket of DPDK port `id` (`SOCKET_ID_ANY` -> the caller's).
fn port_socket(id: u16) -> i32 {
    // SAFETY: EAL is initialised; any port id is accepted.
    let s = unsafe { sys::rte_eth_dev_socket_id(id) };
    if s < 0 {
        // SAFETY: EAL is initialised.
        unsafe { sys::rte_socket_id() as i32 }
    } else {
        s
    }
}

impl<'e> DpdkBackend<'e> {
    /// Opens every port of `r` (all must be `backend = "dpdk"`) with
    /// `queues` RX/TX queue pairs each (at least 1).
    pub fn open(r: &Resolved, _eal: &'e Eal, queues: u16) -> Result<Self, DpdkError> {
        let queues = queues.max(1);
        // Dropped (ports stopped, closed, unplugged) on any error below.
        let mut b = PortSet {
            ports: Vec::with_capacity(r.ports.len()),
            pools: Vec::new(),
        };
        // Devices first: their sockets size the pools.
        let mut found = Vec::with_capacity(r.ports.len());
        for p in &r.ports {
            let PortBackend::Dpdk { device } = &p.backend else {
                return Err(DpdkError::WrongBackend {
                    port: p.name.clone(),
                    backend: p.backend.kind().as_str(),
                });
            };
            let (id, probed) = find_port(&p.name, device)?;
            // Registered at once so that Drop unplugs it on a later failure.
            b.ports.push(DpdkPort {
                name: p.name.clone(),
                port_id: id,
                probed,
                pool: ptr::null_mut(),
                room: 0,
                queues,
                configured: false,
                started: false,
            });
            found.push((port_socket(id), p.mtu));
        }

        // One pool per socket.
        let mut sockets: Vec<i32> = found.iter().map(|f| f.0).collect();
        sockets.sort_unstable();
        sockets.dedup();
        // SAFETY: EAL is initialised.
        let lcores = unsafe { sys::rte_lcore_count() };
        let mut socket_pool = Vec::with_capacity(sockets.len());
        for &s in &sockets {
            let on_socket: Vec<u32> = found.iter().filter(|f| f.0 == s).map(|f| f.1).collect();
            let per_queue = u32::from(RX_RING) + u32::from(TX_RING) + MAX_BURST as u32;
            let mbufs = r.dpdk_mbufs.unwrap_or(
                on_socket.len() as u32 * u32::from(queues) * per_queue
                    + POOL_CACHE * (lcores + 1)
                    + POOL_SLACK,
            );
            // DPDK wants the cache at most 2/3 of the pool; a small
            // configured pool gets a small cache (an eighth).
            let cache = POOL_CACHE.min(mbufs / 8);
            let max_mtu = on_socket.iter().copied().max().unwrap_or(1500);
            // Ethernet header, two VLAN tags, CRC; rounded to a cache line.
            let frame = (max_mtu as usize + 14 + 8 + 4).next_multiple_of(64);
            let room = frame.max(sys::RTE_MBUF_DEFAULT_DATAROOM as usize)
                + sys::RTE_PKTMBUF_HEADROOM as usize;
            let room = u16::try_from(room).unwrap_or(u16::MAX);
            let name = format!("cnfwd{}-s{}", POOL_SEQ.fetch_add(1, Ordering::Relaxed), s);
            let cname = CString::new(name.clone()).expect("no NUL");
            // SAFETY: EAL is initialised; `cname` is a valid C string.
            let mp =
                unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), mbufs, cache, 0, room, s) };
            if mp.is_null() {
                let e = eal::errno();
                return Err(DpdkError::Pool {
                    name,
                    mbufs,
                    socket: s,
                    msg: eal::strerror(e),
                });
            }
            b.pools.push(mp);
            socket_pool.push((s, mp, room));
        }

        for (i, (socket, mtu)) in found.into_iter().enumerate() {
            let (pool, room) = socket_pool
                .iter()
                .find(|sp| sp.0 == socket)
                .map(|sp| (sp.1, sp.2))
                .expect("a pool per socket");
            b.ports[i].pool = pool;
            b.ports[i].room = room;
            configure_port(&mut b.ports[i], socket, mtu)?;
        }
        let views = b
            .ports
            .iter()
            .map(|p| PortQueues {
                port_id: p.port_id,
                first_rxq: 0,
                rxqs: p.queues,
                next_rxq: 0,
                txq: 0,
                rejected: 0,
                device: DeviceCounters::default(),
            })
            .collect();
        Ok(DpdkBackend {
            set: std::sync::Arc::new(b),
            queues: views,
            registered_thread: false,
            to_free: Vec::with_capacity(MAX_BURST),
            _eal: PhantomData,
        })
    }

    /// Queue pairs per port.
    pub fn queue_count(&self) -> u16 {
        self.set.ports.first().map_or(1, |p| p.queues)
    }

    /// Splits the backend into one part per queue pair: part `i` polls RX
    /// queue `i` and sends on TX queue `i` of every port (same port ids),
    /// for worker `i`. The ports stop when the last part is dropped.
    pub fn split(self) -> Vec<DpdkBackend<'e>> {
        (0..self.queue_count())
            .map(|q| DpdkBackend {
                set: std::sync::Arc::clone(&self.set),
                queues: self
                    .set
                    .ports
                    .iter()
                    .map(|p| PortQueues {
                        port_id: p.port_id,
                        first_rxq: q,
                        rxqs: 1,
                        next_rxq: 0,
                        txq: q,
                        rejected: 0,
                        device: DeviceCounters::default(),
                    })
                    .collect(),
                registered_thread: false,
                to_free: Vec::with_capacity(MAX_BURST),
                _eal: PhantomData,
            })
            .collect()
    }

    /// Each port's MAC address as the device reports it, for
    /// `Tables::build` (`None` when the device cannot say).
    pub fn port_macs(&self) -> Vec<Option<[u8; 6]>> {
        self.set
            .ports
            .iter()
            .map(|p| {
                // SAFETY: all-zero is a valid `rte_ether_addr`.
                let mut a: sys::rte_ether_addr = unsafe { std::mem::zeroed() };
                // SAFETY: the port exists; `a` is a valid out-pointer.
                let ret = unsafe { sys::rte_eth_macaddr_get(p.port_id, &mut a) };
                (ret == 0).then_some(a.addr_bytes)
            })
            .collect()
    }

    /// The DPDK port id of `port`.
    pub fn dpdk_port_id(&self, port: PortId) -> Option<u16> {
        self.set.ports.get(port as usize).map(|p| p.port_id)
    }

    /// Mbufs currently allocated from `port`'s pool (shared by the ports of
    /// its NUMA socket), including those the device holds in its rings.
    pub fn pool_in_use(&self, port: PortId) -> Option<u32> {
        let p = self.set.ports.get(port as usize)?;
        // SAFETY: the pool lives as long as the backend.
        Some(unsafe { sys::rte_mempool_in_use_count(p.pool) })
    }

    /// Mbufs free in `port`'s pool (in its ring and the per-lcore caches):
    /// `rte_mempool_avail_count`; `avail + in_use` is the pool's size.
    pub fn pool_available(&self, port: PortId) -> Option<u32> {
        let p = self.set.ports.get(port as usize)?;
        // SAFETY: the pool lives as long as the backend.
        Some(unsafe { sys::rte_mempool_avail_count(p.pool) })
    }

    /// The device's own counters for `port` (`rte_eth_stats_get`), `None`
    /// when the driver cannot say. Not for the per-packet path: a driver
    /// may read registers.
    pub fn device_stats(&self, port: PortId) -> Option<DeviceStats> {
        let p = self.set.ports.get(port as usize)?;
        // SAFETY: all-zero is a valid `rte_eth_stats` to be filled.
        let mut st: sys::rte_eth_stats = unsafe { std::mem::zeroed() };
        // SAFETY: the port exists (started); `st` is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_stats_get(p.port_id, &mut st) };
        (ret == 0).then_some(DeviceStats {
            ipackets: st.ipackets,
            opackets: st.opackets,
            imissed: st.imissed,
            ierrors: st.ierrors,
            oerrors: st.oerrors,
            rx_nombuf: st.rx_nombuf,
        })
    }

    /// A new mbuf from `port`'s pool holding a copy of `frame` (tests,
    /// generated traffic); `None` when the pool is empty or the frame too
    /// large.
    pub fn alloc_frame(&self, port: PortId, frame: &[u8]) -> Option<Mbuf<'e>> {
        let p = self.set.ports.get(port as usize)?;
        // SAFETY: the pool is a live pktmbuf pool.
        let m = NonNull::new(unsafe { sys::cnfwd_pktmbuf_alloc(p.pool) })?;
        // SAFETY: a fresh, reset single-segment mbuf with refcnt 1, ours; its
        // pool lives until the backend drops, and is leaked rather than freed
        // while mbufs are out (see Drop).
        let mut b = unsafe { Mbuf::from_raw(m) };
        b.set_frame(frame).then_some(b)
    }
}

/// A device's own counters (`rte_eth_stats`), as its driver keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Packets the device dropped because its RX queue was full.
    pub imissed: u64,
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receives that failed for lack of an mbuf (the pool ran dry).
    pub rx_nombuf: u64,
}

fn configure_port(p: &mut DpdkPort, socket: i32, mtu: u32) -> Result<(), DpdkError> {
    let id = p.port_id;
    let q = p.queues;
    // SAFETY: all-zero is a valid `rte_eth_dev_info` to be filled.
    let mut info: sys::rte_eth_dev_info = unsafe { std::mem::zeroed() };
    // SAFETY: the port exists; `info` is a valid out-pointer.
    let ret = unsafe { sys::rte_eth_dev_info_get(id, &mut info) };
    if ret != 0 {
        return Err(port_err(&p.name, id, "rte_eth_dev_info_get", ret));
    }
    // SAFETY: all-zero is the documented default `rte_eth_conf`.
    let mut conf: sys::rte_eth_conf = unsafe { std::mem::zeroed() };
    // A symmetric Toeplitz key (0x6d5a repeated): both directions of a flow
    // hash alike, so a flow's replies reach the worker that holds its CSN
    // flow entry. Sized as the device wants (40 bytes on most, 52 on i40e).
    let mut key = [0u8; 64];
    for (i, b) in key.iter_mut().enumerate() {
        *b = if i % 2 == 0 { 0x6d } else { 0x5a };
    }
    if q > 1 {
        conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = RSS_HF & info.flow_type_rss_offloads;
        let len = usize::from(info.hash_key_size);
        if (1..=key.len()).contains(&len) {
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
        }
    }
    // SAFETY: the port exists and is stopped; `conf` and the key it points
    // to outlive the call (the driver copies the key).
    let ret = unsafe { sys::rte_eth_dev_configure(id, q, q, &conf) };
    if ret != 0 {
        return Err(port_err(&p.name, id, "rte_eth_dev_configure", ret));
    }
    p.configured = true;
    let (mut nb_rx, mut nb_tx) = (RX_RING, TX_RING);
    // SAFETY: the port is configured; both are valid in/out pointers.
    let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rx, &mut nb_tx) };
    if ret != 0 {
        return Err(port_err(
            &p.name,
            id,
            "rte_eth_dev_adjust_nb_rx_tx_desc",
            ret,
        ));
    }
    let sock = u32::try_from(socket).unwrap_or(0);
    for qi in 0..q {
        // SAFETY: configured with `q` RX queues; null rxconf = defaults; the
        // pool is a live pktmbuf pool that outlives the port.
        let ret = unsafe { sys::rte_eth_rx_queue_setup(id, qi, nb_rx, sock, ptr::null(), p.pool) };
        if ret != 0 {
            return Err(port_err(&p.name, id, "rte_eth_rx_queue_setup", ret));
        }
        // SAFETY: configured with `q` TX queues; null txconf = defaults.
        let ret = unsafe { sys::rte_eth_tx_queue_setup(id, qi, nb_tx, sock, ptr::null()) };
        if ret != 0 {
            return Err(port_err(&p.name, id, "rte_eth_tx_queue_setup", ret));
        }
    }
    let mtu16 = u16::try_from(mtu).unwrap_or(u16::MAX);
    // SAFETY: the port is configured.
    let ret = unsafe { sys::rte_eth_dev_set_mtu(id, mtu16) };
    if ret != 0 {
        tracing::warn!(
            port = %p.name,
            dpdk_port = id,
            "port {:?} (DPDK port {id}): MTU {mtu} not set ({}); keeping the device's",
            p.name,
            eal::strerror(ret)
        );
    }
    // SAFETY: the port is configured.
    let ret = unsafe { sys::rte_eth_promiscuous_enable(id) };
    if ret != 0 {
        tracing::warn!(
            port = %p.name,
            dpdk_port = id,
            "port {:?} (DPDK port {id}): promiscuous mode refused ({})",
            p.name,
            eal::strerror(ret)
        );
    }
    // SAFETY: the port is configured and its queues set up.
    let ret = unsafe { sys::rte_eth_dev_start(id) };
    if ret != 0 {
        return Err(port_err(&p.name, id, "rte_eth_dev_start", ret));
    }
    p.started = true;
    // SAFETY: all-zero is a valid `rte_eth_link`.
    let mut link: sys::rte_eth_link = unsafe { std::mem::zeroed() };
    // SAFETY: the port is started; `link` is a valid out-pointer.
    if unsafe { sys::rte_eth_link_get_nowait(id, &mut link) } == 0 {
        tracing::info!(
            port = %p.name,
            dpdk_port = id,
            "port {:?} (DPDK port {id}) started: link {} {} Mb/s, {} queue pair(s)",
            p.name,
            if link.link_status() != 0 {
                "up"
            } else {
                "down"
            },
            link.link_speed,
            q
        );
    }
    Ok(())
}

/// Hints the CPU to load the cache line at `p` (no effect on other
/// architectures).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever `p` is.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl DpdkBackend<'_> {
    /// Frees the mbufs given back by [`Backend::recycle`] in one call.
    fn free_pending(&mut self) {
        if self.to_free.is_empty() {
            return;
        }
        // SAFETY: every pointer in `to_free` is an mbuf we own (taken from
        // an `Mbuf` with `into_raw`), each listed once; after the call none
        // is used again (the list is cleared).
        unsafe { sys::rte_pktmbuf_free_bulk(self.to_free.as_mut_ptr(), self.to_free.len() as u32) };
        self.to_free.clear();
    }
}

impl Drop for DpdkBackend<'_> {
    fn drop(&mut self) {
        // Before the port set (a field) can free the pools.
        self.free_pending();
    }
}

impl<'e> Backend for DpdkBackend<'e> {
    type Buf = Mbuf<'e>;

    fn port_count(&self) -> usize {
        self.queues.len()
    }

    fn rx_burst(
        &mut self,
        port: PortId,
        out: &mut Vec<Mbuf<'e>>,
        max: usize,
    ) -> Result<usize, IoError> {
        let want = max.min(MAX_BURST);
        if want == 0 {
            return Ok(0);
        }
        // The previous burst's drops, in one call (their mbufs are warm in
        // this lcore's mempool cache for the RX below).
        self.free_pending();
        let Some(p) = self.queues.get_mut(port as usize) else {
            return Ok(0);
        };
        let q = p.first_rxq + p.next_rxq;
        p.next_rxq = if p.next_rxq + 1 >= p.rxqs {
            0
        } else {
            p.next_rxq + 1
        };
        let mut raw = [ptr::null_mut::<rte_mbuf>(); MAX_BURST];
        // SAFETY: the port is started with queue `q` set up; `raw` has room
        // for `want` pointers; `&mut self` makes us the queue's only user.
        let n = usize::from(unsafe {
            sys::cnfwd_eth_rx_burst(p.port_id, q, raw.as_mut_ptr(), want as u16)
        });
        out.reserve(n);
        // Start loading every frame's first line now: the pipeline reads
        // the headers of the whole burst right after (as l3fwd does).
        for &m in &raw[..n] {
            if !m.is_null() {
                // SAFETY: `m` is a received mbuf: its buffer address plus
                // data offset is the frame's first byte, inside the buffer.
                let data = unsafe { (*m).buf_addr.cast::<u8>().add(usize::from((*m).data_off)) };
                prefetch(data);
            }
        }
        let mut got = 0;
        for &m in &raw[..n] {
            let Some(nm) = NonNull::new(m) else { continue };
            // SAFETY: the driver handed us `m`, a valid mbuf we now own.
            if unsafe { (*m).nb_segs } != 1 {
                // SAFETY: ours, freed with all its segments, never used again.
                unsafe { sys::cnfwd_pktmbuf_free(m) };
                p.rejected += 1;
                continue;
            }
            // SAFETY: a received single-segment mbuf, refcnt 1, ours; its pool
            // outlives the Mbuf (pools are never freed while mbufs are out).
            out.push(unsafe { Mbuf::from_raw(nm) });
            got += 1;
        }
        Ok(got)
    }

    fn tx_burst(&mut self, port: PortId, pkts: &mut Vec<Mbuf<'e>>) -> Result<usize, IoError> {
        let Some(p) = self.queues.get(port as usize) else {
            return Ok(0);
        };
        let mut taken = 0;
        let mut raw = [ptr::null_mut::<rte_mbuf>(); MAX_BURST];
        while taken < pkts.len() {
            let chunk = (pkts.len() - taken).min(MAX_BURST);
            for (r, b) in raw.iter_mut().zip(&pkts[taken..taken + chunk]) {
                *r = b.as_ptr();
            }
            // SAFETY: the port is started with TX queue `p.txq`; `raw`
            // holds `chunk` valid mbufs owned by `pkts`; `&mut self` and the
            // split (one TX queue per part) make us the queue's only user.
            // The driver owns the first `sent` afterwards: they are
            // forgotten below, before anything else can run.
            let sent = usize::from(unsafe {
                sys::cnfwd_eth_tx_burst(p.port_id, p.txq, raw.as_mut_ptr(), chunk as u16)
            });
            taken += sent.min(chunk);
            if sent < chunk {
                break;
            }
        }
        // Ownership of the first `taken` passed to the driver.
        for b in pkts.drain(..taken) {
            let _ = b.into_raw();
        }
        Ok(taken)
    }

    fn rx_finished(&self, _port: PortId) -> bool {
        false
    }

    /// Links are not watched (a DPDK port stays "up" for the engine);
    /// the part polling RX queue 0 of a port reads its `rte_eth_stats`
    /// for [`DeviceCounters`] (`imissed`, `rx_nombuf`, `ierrors`,
    /// `oerrors`), once per check.
    fn check_links(&mut self) {
        for q in &mut self.queues {
            if q.first_rxq != 0 {
                continue;
            }
            if let Some(st) = telemetry::eth_stats(q.port_id) {
                q.device = DeviceCounters {
                    kernel_drops: None,
                    imissed: Some(st.imissed),
                    rx_nombuf: Some(st.rx_nombuf),
                    ierrors: Some(st.ierrors),
                    oerrors: Some(st.oerrors),
                };
            }
        }
    }

    fn link(&self, port: PortId) -> PortLink {
        PortLink {
            device: self
                .queues
                .get(usize::from(port))
                .map_or_else(DeviceCounters::default, |q| q.device),
            ..PortLink::default()
        }
    }

    fn rx_rejected(&mut self, port: PortId) -> u64 {
        self.queues
            .get_mut(port as usize)
            .map_or(0, |p| std::mem::take(&mut p.rejected))
    }

    /// A fresh mbuf from the port's pool holding a copy of `frame`.
    fn alloc(&mut self, port: PortId, frame: &[u8]) -> Option<Mbuf<'e>> {
        let pool = self.set.ports.get(usize::from(port))?.pool;
        if pool.is_null() {
            return None;
        }
        // SAFETY: `pool` is the port's live pktmbuf pool (the port set, and
        // with it the pool, outlives this backend part).
        let m = NonNull::new(unsafe { sys::cnfwd_pktmbuf_alloc(pool) })?;
        // SAFETY: a fresh, reset single-segment mbuf with refcnt 1 from a
        // pool that outlives the returned value; we own it.
        let mut b = unsafe { Mbuf::from_raw(m) };
        b.set_frame(frame).then_some(b)
    }

    /// Takes back a dropped packet's mbuf; freed in bulk before the next
    /// receive (or on flush), never leaked.
    fn recycle(&mut self, buf: Mbuf<'e>) {
        if self.to_free.len() >= MAX_BURST {
            self.free_pending();
        }
        self.to_free.push(buf.into_raw());
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.free_pending();
        Ok(())
    }

    /// A worker thread that is not an EAL lcore registers with EAL, so it
    /// gets an lcore id and with it the mempools' per-lcore caches (without
    /// one, every mbuf alloc and free goes to the shared ring).
    fn worker_started(&mut self) -> Result<(), IoError> {
        // SAFETY: EAL is initialised (`self` borrows the `Eal`).
        if unsafe { sys::cnfwd_lcore_id() } != u32::MAX {
            return Ok(());
        }
        // SAFETY: as above; registers the calling thread only.
        if unsafe { sys::rte_thread_register() } != 0 {
            // SAFETY: reads this thread's rte_errno.
            let e = unsafe { sys::cnfwd_errno() };
            return Err(IoError::ThreadSetup {
                call: "rte_thread_register",
                reason: eal::strerror(-e),
                hint: "EAL has no free lcore id; start EAL with fewer -l cores",
            });
        }
        self.registered_thread = true;
        Ok(())
    }

    fn worker_stopping(&mut self) {
        self.free_pending();
        if std::mem::take(&mut self.registered_thread) {
            // SAFETY: this thread registered in `worker_started`.
            unsafe { sys::rte_thread_unregister() };
        }
    }
}

impl Drop for PortSet {
    fn drop(&mut self) {
        for p in &mut self.ports {
            if p.started {
                // SAFETY: the port is started; nothing else uses it.
                let ret = unsafe { sys::rte_eth_dev_stop(p.port_id) };
                if ret != 0 {
                    tracing::error!(port = %p.name, "port {:?}: stop: {}", p.name, eal::strerror(ret));
                }
            }
            if p.configured {
                // SAFETY: the port is stopped; closing frees its ring mbufs.
                let ret = unsafe { sys::rte_eth_dev_close(p.port_id) };
                if ret != 0 {
                    tracing::error!(port = %p.name, "port {:?}: close: {}", p.name, eal::strerror(ret));
                }
            }
            if let Some(dev) = &p.probed {
                // SAFETY: the ethdev is closed; `dev` names the vdev we
                // probed; the bus name is a valid C string.
                let ret = unsafe { sys::rte_eal_hotplug_remove(c"vdev".as_ptr(), dev.as_ptr()) };
                if ret != 0 {
                    // PCI devices probed by us stay probed (harmless).
                    let _ = ret;
                }
            }
        }
        for &mp in &self.pools {
            // SAFETY: the pool is live; the ports using it are closed.
            let in_use = unsafe { sys::rte_mempool_in_use_count(mp) };
            if in_use == 0 {
                // SAFETY: no mbuf of the pool is in use and no port uses it.
                unsafe { sys::rte_mempool_free(mp) };
            } else {
                // Mbufs outlive the backend (they may, up to the EAL): keep
                // the pool so freeing them stays valid.
                tracing::warn!("mbuf pool kept: {in_use} mbufs still in use");
            }
        }
    }
}
