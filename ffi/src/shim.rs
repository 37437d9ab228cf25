//! Rust declarations of the C shim in `src/shim.c`, and `rte_pktmbuf_mtod`.
//!
//! The shim wraps DPDK's `static inline` functions and macros, which bindgen
//! cannot bind. Each wrapper is one out-of-line call to the inline function
//! of the same name without the `cnfwd_` prefix: use them once per burst,
//! never per packet.
//!
//! `rte_lpm`'s lookups are `static inline` too (`rte_lpm_lookup`,
//! `rte_lpm_lookup_bulk`, `rte_lpm_lookupx4`); those of `rte_fib`,
//! `rte_fib6` and `rte_lpm6` are exported functions, bound by bindgen.

use crate::bindings::{rte_lpm, rte_mbuf, rte_mempool};
use core::ffi::{c_char, c_int, c_uint};

extern "C" {
    /// `rte_eth_rx_burst`: receives up to `nb_pkts` packets from RX queue
    /// `queue_id` of port `port_id` into `rx_pkts`; returns how many.
    ///
    /// # Safety
    /// EAL is initialised, the port is started and the queue set up;
    /// `rx_pkts` is valid for `nb_pkts` writes. No other thread polls the
    /// same queue at the same time. The caller owns the returned mbufs.
    pub fn cnfwd_eth_rx_burst(
        port_id: u16,
        queue_id: u16,
        rx_pkts: *mut *mut rte_mbuf,
        nb_pkts: u16,
    ) -> u16;

    /// `rte_eth_tx_burst`: offers `nb_pkts` packets to TX queue `queue_id`
    /// of port `port_id`; returns how many it took (the first ones).
    ///
    /// # Safety
    /// EAL is initialised, the port is started and the queue set up;
    /// `tx_pkts` holds `nb_pkts` valid mbufs owned by the caller. No other
    /// thread uses the same queue at the same time. The driver owns the mbufs
    /// it took; the caller still owns (and must free or resend) the rest.
    pub fn cnfwd_eth_tx_burst(
        port_id: u16,
        queue_id: u16,
        tx_pkts: *mut *mut rte_mbuf,
        nb_pkts: u16,
    ) -> u16;

    /// `rte_pktmbuf_alloc`: one mbuf from `mp`, reset; null when the pool is
    /// empty.
    ///
    /// # Safety
    /// `mp` is a valid pktmbuf pool (e.g. from `rte_pktmbuf_pool_create`).
    pub fn cnfwd_pktmbuf_alloc(mp: *mut rte_mempool) -> *mut rte_mbuf;

    /// `rte_pktmbuf_alloc_bulk`: `count` reset mbufs from `mp` into `mbufs`;
    /// 0 on success, a negative errno (and nothing allocated) otherwise.
    ///
    /// # Safety
    /// `mp` is a valid pktmbuf pool; `mbufs` is valid for `count` writes.
    pub fn cnfwd_pktmbuf_alloc_bulk(
        mp: *mut rte_mempool,
        mbufs: *mut *mut rte_mbuf,
        count: c_uint,
    ) -> c_int;

    /// `rte_pktmbuf_free`: returns the mbuf (all its segments) to its pool.
    /// Null is allowed and ignored. For many mbufs use the exported
    /// `rte_pktmbuf_free_bulk`.
    ///
    /// # Safety
    /// `m` is null or a valid mbuf owned by the caller; it must not be used
    /// afterwards.
    pub fn cnfwd_pktmbuf_free(m: *mut rte_mbuf);

    /// `rte_pktmbuf_prepend`: moves the data start `len` bytes back into the
    /// headroom and returns the new start; null (nothing changed) when the
    /// headroom is smaller than `len`.
    ///
    /// # Safety
    /// `m` is a valid mbuf owned by the caller.
    pub fn cnfwd_pktmbuf_prepend(m: *mut rte_mbuf, len: u16) -> *mut c_char;

    /// `rte_pktmbuf_adj`: removes `len` bytes from the start of the data and
    /// returns the new start; null (nothing changed) when the first segment
    /// is shorter than `len`.
    ///
    /// # Safety
    /// `m` is a valid mbuf owned by the caller.
    pub fn cnfwd_pktmbuf_adj(m: *mut rte_mbuf, len: u16) -> *mut c_char;

    /// `rte_lcore_id`: the calling thread's lcore id, `u32::MAX`
    /// (`LCORE_ID_ANY`) on threads that are not EAL lcores.
    ///
    /// # Safety
    /// None beyond calling C; safe on any thread, before or after EAL init.
    pub fn cnfwd_lcore_id() -> c_uint;

    /// `rte_errno`: the calling thread's last DPDK error number (per-thread,
    /// set by functions documented to set it).
    ///
    /// # Safety
    /// None beyond calling C; safe on any thread.
    pub fn cnfwd_errno() -> c_int;

    /// `rte_lpm_lookup`: the next hop of the longest prefix of `lpm` that
    /// covers `ip` (host byte order) into `*next_hop`; 0 on a hit,
    /// `-ENOENT` (and `*next_hop` untouched) when no prefix covers it. One
    /// call per address: for tests, not for the data path.
    ///
    /// # Safety
    /// `lpm` is a live table from `rte_lpm_create` that no thread modifies
    /// during the call; `next_hop` is valid for a write.
    pub fn cnfwd_lpm_lookup(lpm: *const rte_lpm, ip: u32, next_hop: *mut u32) -> c_int;

    /// `rte_lpm_lookup_bulk`: for each of the `n` addresses `ips` (host
    /// byte order), writes its raw table entry to `next_hops`: on a hit
    /// `RTE_LPM_LOOKUP_SUCCESS` is set and the low 24 bits are the next hop;
    /// otherwise that bit is clear. Returns 0.
    ///
    /// # Safety
    /// `lpm` is a live table from `rte_lpm_create` that no thread modifies
    /// during the call; `ips` is valid for `n` reads and `next_hops` for `n`
    /// writes.
    pub fn cnfwd_lpm_lookup_bulk(
        lpm: *const rte_lpm,
        ips: *const u32,
        next_hops: *mut u32,
        n: c_uint,
    ) -> c_int;

    /// `rte_lpm_lookupx4` (the SSE four-address lookup of DPDK's l3fwd) over
    /// a burst: `hops[i]` is the 24-bit next hop of `ips[i]` (host byte
    /// order), or `defv` when no prefix covers it. The last `n % 4`
    /// addresses go through `rte_lpm_lookup`.
    ///
    /// # Safety
    /// `lpm` is a live table from `rte_lpm_create` that no thread modifies
    /// during the call; `ips` is valid for `n` reads and `hops` for `n`
    /// writes.
    pub fn cnfwd_lpm_lookupx4_bulk(
        lpm: *const rte_lpm,
        ips: *const u32,
        hops: *mut u32,
        n: c_uint,
        defv: u32,
    );
}

/// `rte_pktmbuf_mtod(m, uint8_t *)`: the start of the packet data of the
/// first segment (`buf_addr + data_off`). Computed in Rust, no FFI call.
///
/// # Safety
/// `m` points to a valid, initialised mbuf. The result is valid for
/// `data_len` bytes of reading (and writing while the caller owns the mbuf),
/// and only as long as the mbuf is not freed or its data moved.
#[inline]
pub unsafe fn pktmbuf_mtod(m: *const rte_mbuf) -> *mut u8 {
    // SAFETY: the caller guarantees `m` is a valid mbuf, so its fields can be
    // read; `data_off` stays within the buffer of `buf_len` bytes that starts
    // at `buf_addr`, so the offset pointer is in bounds of that allocation.
    unsafe { (*m).buf_addr.cast::<u8>().add(usize::from((*m).data_off)) }
}
