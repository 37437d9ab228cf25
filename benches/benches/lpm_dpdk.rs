//! cnfwd's FIB against DPDK's own longest-prefix-match tables, on the real
//! BGP tables (`testdata/routes/ipv4-bgp.txt.xz`, `ipv6-bgp.txt.xz`).
//!
//! IPv4: cnfwd [`Fib4::new_large`] (24-8, what cnfwd uses for a VRF with a
//! full table), cnfwd [`Fib4::new`] (16-8-8, for reference), `rte_fib`
//! (DIR-24-8, 4-byte next hops, `rte_fib_lookup_bulk` with DPDK's default
//! lookup function) and `rte_lpm` (`rte_lpm_lookup_bulk`, and
//! `rte_lpm_lookupx4` over the burst as DPDK's l3fwd does). IPv6: cnfwd
//! [`Fib6`], `rte_fib6` (TRIE, 4-byte next hops) and `rte_lpm6`
//! (`rte_lpm6_lookup_bulk_func`).
//!
//! Every table gets the same routes in the same order (the file's), each
//! with its index in the file as next hop (unique, so that the check below
//! tells which route answered; it fits every table: `rte_lpm` takes 24 bits,
//! `rte_lpm6` 21). The keys are 1,048,576 random destinations, each a random
//! address inside a random prefix of the table, so lookups spread over the
//! whole table and nearly all miss the caches, as on a router. Before any
//! timing, every implementation looks up every key and must give the same
//! next hop as cnfwd's 24-8 (IPv6: cnfwd's `Fib6`); a mismatch stops the
//! bench with the keys that differ.
//!
//! Timing, first: every table in turns ([`interleaved`]: ~40 ms each, 15
//! rounds, the median), printed with each table's ratio to DPDK's; on a
//! shared machine this ratio is far steadier than two numbers measured
//! minutes apart. Then criterion, one burst of 32 (then 256) consecutive keys per
//! iteration, walking the key set; `Throughput::Elements(burst)` so criterion
//! prints lookups/s. Each implementation is called in its native form
//! (DPDK's IPv6 tables take 16 network-order bytes per address, cnfwd a
//! `u128`) and its raw output is not post-processed in the timed loop.
//!
//! Memory, printed once before timing: for cnfwd, [`Fib4::memory_bytes`]
//! (allocated capacity; lookup structure + control bookkeeping, whose
//! `BTreeMap` part is an estimate). For DPDK, the growth of the DPDK heap
//! (`rte_malloc_get_socket_stats`, `heap_allocsz_bytes`, malloc element
//! headers included) from before creating the table to after the last add:
//! everything the table holds (lookup tables, rules or RIB, bitmaps). Its
//! lookup part alone is printed next to it, from the documented layout
//! (tbl24 of 2^24 entries + the tbl8 groups configured).
//!
//! Pages: both sides get the same page size, printed at the start.
//! - **2 MiB** when at least 1 GiB of hugepages is free (reserve them with
//!   `dpdk-hugepages.py --setup 1G`, as for any DPDK application): EAL puts
//!   DPDK's tables on hugepages (`-m 1024 --huge-unlink`), and cnfwd's large
//!   arrays are transparent huge pages (`fib::slots`, `MADV_HUGEPAGE`), as in
//!   `cnfwd run`. This is how both run in production.
//! - **4 KiB** otherwise: EAL runs with `--no-huge -m 4096` (anonymous 4 KiB
//!   pages), and the bench turns THP off for itself (`PR_SET_THP_DISABLE`)
//!   so that cnfwd's tables get no larger pages than DPDK's.
//!
//! `LPM_BENCH_PAGES=4k` or `=2m` forces one (2m fails if the hugepages are
//! missing). `LPM_BENCH_SKIP_RTE_LPM=1` leaves `rte_lpm` out: adding the
//! 901,899 IPv4 routes to it takes about two minutes.
//!
//! Run: `cargo bench -p cnfwd-benches --features dpdk --bench lpm_dpdk`
//! (needs DPDK and libclang, see `ffi/`). Criterion's options come after
//! `--`, e.g. `-- --measurement-time 5 v4`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use cnfwd_benches::{load_routes, random_dst};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use dataplane::fib::{Fib4, Fib6, FibMemory, NO_ROUTE};
use dataplane::io::dpdk::Eal;
use dpdk_sys as sys;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Random destinations per family (a power of two, so bursts of 32 and 256
/// walk it without a partial burst).
const KEYS: usize = 1 << 20;
/// Burst sizes timed.
const BURSTS: [usize; 2] = [32, 256];
/// DPDK's value for "no route" in `rte_fib`/`rte_fib6` with 4-byte next
/// hops: the largest they accept (bit 31 marks a tbl8 pointer).
const DPDK_MISS: u64 = 0x7fff_ffff;
/// The next-hop mask of an `rte_lpm` entry.
const LPM_NH_MASK: u32 = 0x00ff_ffff;

const MIB: f64 = 1024.0 * 1024.0;

/// One longest-prefix-match table under test: a burst lookup in the
/// table's own key and result types, and the mapping of a result to the
/// next hop (or [`NO_ROUTE`]) for the cross-check.
trait Lpm {
    /// One address as the table takes it.
    type Key;
    /// One result as the table writes it.
    type Out: Copy + Default;
    /// Looks up `keys[i]` into `out[i]` for every `i` (same lengths).
    fn lookup(&self, keys: &[Self::Key], out: &mut [Self::Out]);
    /// The next hop a result stands for, [`NO_ROUTE`] for a miss.
    fn next_hop(out: Self::Out) -> u32;
}

impl Lpm for Fib4 {
    type Key = u32;
    type Out = u32;
    fn lookup(&self, keys: &[u32], out: &mut [u32]) {
        self.lookup_burst(keys, out);
    }
    fn next_hop(out: u32) -> u32 {
        out
    }
}

impl Lpm for Fib6 {
    type Key = u128;
    type Out = u32;
    fn lookup(&self, keys: &[u128], out: &mut [u32]) {
        self.lookup_burst(keys, out);
    }
    fn next_hop(out: u32) -> u32 {
        out
    }
}

/// Bytes allocated from the DPDK heap of `socket` (element headers
/// included).
fn dpdk_heap_bytes(socket: i32) -> usize {
    // SAFETY: all-zero is a valid `rte_malloc_socket_stats` (integers only).
    let mut stats: sys::rte_malloc_socket_stats = unsafe { std::mem::zeroed() };
    // SAFETY: EAL is initialised (main does it before any table exists);
    // `stats` is valid for a write.
    let ret = unsafe { sys::rte_malloc_get_socket_stats(socket, &mut stats) };
    assert_eq!(ret, 0, "rte_malloc_get_socket_stats({socket})");
    stats.heap_allocsz_bytes
}

/// `rte_errno` and its text, for failure messages.
fn dpdk_error() -> String {
    // SAFETY: reads a thread-local int; no preconditions.
    let e = unsafe { sys::cnfwd_errno() };
    // SAFETY: rte_strerror accepts any int and returns a NUL-terminated
    // static or thread-local string, copied at once.
    let msg = unsafe { std::ffi::CStr::from_ptr(sys::rte_strerror(e)) };
    format!("rte_errno {e} ({})", msg.to_string_lossy())
}

/// A DPDK table's memory: the heap growth while it was built, and its
/// lookup tables by layout.
struct DpdkMemory {
    heap: usize,
    lookup: usize,
}

/// An `rte_fib` of type DIR-24-8 with 4-byte next hops.
struct RteFib {
    fib: NonNull<sys::rte_fib>,
}

impl RteFib {
    /// Creates the table and adds `routes` (in order, next hop = index).
    fn build(socket: i32, routes: &[Ipv4Net], num_tbl8: u32) -> (Self, DpdkMemory) {
        let before = dpdk_heap_bytes(socket);
        // SAFETY: all-zero is a valid `rte_fib_conf` (integers, enums with a
        // zero variant, a union of integers); the fields used are set below.
        let mut conf: sys::rte_fib_conf = unsafe { std::mem::zeroed() };
        conf.type_ = sys::rte_fib_type_RTE_FIB_DIR24_8;
        conf.default_nh = DPDK_MISS;
        conf.max_routes = i32::try_from(routes.len()).expect("routes fit an int");
        conf.__bindgen_anon_1.dir24_8 = sys::rte_fib_conf__bindgen_ty_1__bindgen_ty_1 {
            nh_sz: sys::rte_fib_dir24_8_nh_sz_RTE_FIB_DIR24_8_4B,
            num_tbl8,
        };
        // SAFETY: EAL is initialised; the name is a C string; `conf` is
        // valid and outlives the call (DPDK copies what it keeps).
        let fib = unsafe { sys::rte_fib_create(c"cnfwd-bench-fib".as_ptr(), socket, &mut conf) };
        let fib = NonNull::new(fib)
            .unwrap_or_else(|| panic!("rte_fib_create (DIR24_8): {}", dpdk_error()));
        for (i, n) in routes.iter().enumerate() {
            let ip = u32::from(n.network());
            // SAFETY: `fib` is live and only this thread uses it.
            let ret = unsafe { sys::rte_fib_add(fib.as_ptr(), ip, n.prefix_len(), i as u64) };
            assert_eq!(ret, 0, "rte_fib_add {n}: {ret}");
        }
        let mem = DpdkMemory {
            heap: dpdk_heap_bytes(socket) - before,
            lookup: ((1 << 24) + num_tbl8 as usize * 256) * 4,
        };
        (RteFib { fib }, mem)
    }
}

impl Drop for RteFib {
    fn drop(&mut self) {
        // SAFETY: `fib` came from rte_fib_create and is freed only here.
        unsafe { sys::rte_fib_free(self.fib.as_ptr()) };
    }
}

impl Lpm for RteFib {
    type Key = u32;
    type Out = u64;
    fn lookup(&self, keys: &[u32], out: &mut [u64]) {
        let n = keys.len().min(out.len()) as i32;
        // SAFETY: `fib` is live and not modified during lookups; `keys` has
        // `n` addresses, which DPDK only reads (the C prototype lacks
        // `const`); `out` has room for `n` next hops.
        let ret = unsafe {
            sys::rte_fib_lookup_bulk(
                self.fib.as_ptr(),
                keys.as_ptr().cast_mut(),
                out.as_mut_ptr(),
                n,
            )
        };
        debug_assert_eq!(ret, 0);
    }
    fn next_hop(out: u64) -> u32 {
        fib_next_hop(out)
    }
}

/// The next hop an `rte_fib`/`rte_fib6` result (4-byte next hops) stands
/// for.
fn fib_next_hop(out: u64) -> u32 {
    if out == DPDK_MISS {
        NO_ROUTE
    } else {
        out as u32
    }
}

/// An `rte_lpm`, looked up with `rte_lpm_lookup_bulk`.
struct RteLpm {
    lpm: NonNull<sys::rte_lpm>,
}

impl RteLpm {
    /// Creates the table and adds `routes` (in order, next hop = index).
    fn build(socket: i32, routes: &[Ipv4Net], number_tbl8s: u32) -> (Self, DpdkMemory) {
        let before = dpdk_heap_bytes(socket);
        let conf = sys::rte_lpm_config {
            max_rules: routes.len() as u32,
            number_tbl8s,
            flags: 0,
        };
        // SAFETY: EAL is initialised; the name is a C string; `conf` is
        // valid for the call.
        let lpm = unsafe { sys::rte_lpm_create(c"cnfwd-bench-lpm".as_ptr(), socket, &conf) };
        let lpm = NonNull::new(lpm).unwrap_or_else(|| panic!("rte_lpm_create: {}", dpdk_error()));
        for (i, n) in routes.iter().enumerate() {
            let ip = u32::from(n.network());
            // SAFETY: `lpm` is live and only this thread uses it.
            let ret = unsafe { sys::rte_lpm_add(lpm.as_ptr(), ip, n.prefix_len(), i as u32) };
            assert_eq!(ret, 0, "rte_lpm_add {n}: {ret}");
        }
        let mem = DpdkMemory {
            heap: dpdk_heap_bytes(socket) - before,
            lookup: std::mem::size_of::<sys::rte_lpm>() + number_tbl8s as usize * 256 * 4,
        };
        (RteLpm { lpm }, mem)
    }
}

impl Drop for RteLpm {
    fn drop(&mut self) {
        // SAFETY: `lpm` came from rte_lpm_create and is freed only here.
        unsafe { sys::rte_lpm_free(self.lpm.as_ptr()) };
    }
}

impl Lpm for RteLpm {
    type Key = u32;
    type Out = u32;
    fn lookup(&self, keys: &[u32], out: &mut [u32]) {
        let n = keys.len().min(out.len()) as u32;
        // SAFETY: `lpm` is live and not modified during lookups; `keys` has
        // `n` addresses to read and `out` room for `n` entries.
        let ret = unsafe {
            sys::cnfwd_lpm_lookup_bulk(self.lpm.as_ptr(), keys.as_ptr(), out.as_mut_ptr(), n)
        };
        debug_assert_eq!(ret, 0);
    }
    fn next_hop(out: u32) -> u32 {
        if out & sys::RTE_LPM_LOOKUP_SUCCESS != 0 {
            out & LPM_NH_MASK
        } else {
            NO_ROUTE
        }
    }
}

/// The same `rte_lpm`, looked up four addresses at a time with the SSE
/// `rte_lpm_lookupx4` (as DPDK's l3fwd does).
struct RteLpmX4<'a>(&'a RteLpm);

impl Lpm for RteLpmX4<'_> {
    type Key = u32;
    type Out = u32;
    fn lookup(&self, keys: &[u32], out: &mut [u32]) {
        let n = keys.len().min(out.len()) as u32;
        // SAFETY: as for `rte_lpm_lookup_bulk`: the table is live and
        // unmodified, `keys` has `n` addresses and `out` room for `n` hops.
        unsafe {
            sys::cnfwd_lpm_lookupx4_bulk(
                self.0.lpm.as_ptr(),
                keys.as_ptr(),
                out.as_mut_ptr(),
                n,
                NO_ROUTE,
            )
        };
    }
    fn next_hop(out: u32) -> u32 {
        out
    }
}

/// An `rte_fib6` of type TRIE with 4-byte next hops.
struct RteFib6 {
    fib: NonNull<sys::rte_fib6>,
}

impl RteFib6 {
    /// Creates the table and adds `routes` (in order, next hop = index).
    fn build(socket: i32, routes: &[Ipv6Net], num_tbl8: u32) -> (Self, DpdkMemory) {
        let before = dpdk_heap_bytes(socket);
        // SAFETY: all-zero is a valid `rte_fib6_conf`; the fields used are
        // set below.
        let mut conf: sys::rte_fib6_conf = unsafe { std::mem::zeroed() };
        conf.type_ = sys::rte_fib6_type_RTE_FIB6_TRIE;
        conf.default_nh = DPDK_MISS;
        conf.max_routes = i32::try_from(routes.len()).expect("routes fit an int");
        conf.__bindgen_anon_1.trie = sys::rte_fib6_conf__bindgen_ty_1__bindgen_ty_1 {
            nh_sz: sys::rte_fib_trie_nh_sz_RTE_FIB6_TRIE_4B,
            num_tbl8,
        };
        // SAFETY: EAL is initialised; the name is a C string; `conf` is
        // valid and outlives the call.
        let fib = unsafe { sys::rte_fib6_create(c"cnfwd-bench-fib6".as_ptr(), socket, &mut conf) };
        let fib =
            NonNull::new(fib).unwrap_or_else(|| panic!("rte_fib6_create (TRIE): {}", dpdk_error()));
        for (i, n) in routes.iter().enumerate() {
            let ip = n.network().octets();
            // SAFETY: `fib` is live and only this thread uses it; `ip` holds
            // the 16 bytes DPDK reads.
            let ret =
                unsafe { sys::rte_fib6_add(fib.as_ptr(), ip.as_ptr(), n.prefix_len(), i as u64) };
            assert_eq!(ret, 0, "rte_fib6_add {n}: {ret}");
        }
        let mem = DpdkMemory {
            heap: dpdk_heap_bytes(socket) - before,
            lookup: ((1 << 24) + num_tbl8 as usize * 256) * 4,
        };
        (RteFib6 { fib }, mem)
    }
}

impl Drop for RteFib6 {
    fn drop(&mut self) {
        // SAFETY: `fib` came from rte_fib6_create and is freed only here.
        unsafe { sys::rte_fib6_free(self.fib.as_ptr()) };
    }
}

impl Lpm for RteFib6 {
    type Key = [u8; 16];
    type Out = u64;
    fn lookup(&self, keys: &[[u8; 16]], out: &mut [u64]) {
        let n = keys.len().min(out.len()) as i32;
        // SAFETY: `fib` is live and not modified during lookups; `keys` has
        // `n` addresses, which DPDK only reads (the prototype lacks
        // `const`); `out` has room for `n` next hops.
        let ret = unsafe {
            sys::rte_fib6_lookup_bulk(
                self.fib.as_ptr(),
                keys.as_ptr().cast_mut(),
                out.as_mut_ptr(),
                n,
            )
        };
        debug_assert_eq!(ret, 0);
    }
    fn next_hop(out: u64) -> u32 {
        fib_next_hop(out)
    }
}

/// An `rte_lpm6`.
struct RteLpm6 {
    lpm: NonNull<sys::rte_lpm6>,
}

impl RteLpm6 {
    /// Creates the table and adds `routes` (in order, next hop = index).
    fn build(socket: i32, routes: &[Ipv6Net], number_tbl8s: u32) -> (Self, DpdkMemory) {
        let before = dpdk_heap_bytes(socket);
        let conf = sys::rte_lpm6_config {
            max_rules: routes.len() as u32,
            number_tbl8s,
            flags: 0,
        };
        // SAFETY: EAL is initialised; the name is a C string; `conf` is
        // valid for the call.
        let lpm = unsafe { sys::rte_lpm6_create(c"cnfwd-bench-lpm6".as_ptr(), socket, &conf) };
        let lpm = NonNull::new(lpm).unwrap_or_else(|| panic!("rte_lpm6_create: {}", dpdk_error()));
        for (i, n) in routes.iter().enumerate() {
            let ip = n.network().octets();
            // SAFETY: `lpm` is live and only this thread uses it; `ip` holds
            // the 16 bytes DPDK reads.
            let ret =
                unsafe { sys::rte_lpm6_add(lpm.as_ptr(), ip.as_ptr(), n.prefix_len(), i as u32) };
            assert_eq!(ret, 0, "rte_lpm6_add {n}: {ret}");
        }
        let mem = DpdkMemory {
            heap: dpdk_heap_bytes(socket) - before,
            lookup: ((1 << 24) + number_tbl8s as usize * 256) * 4,
        };
        (RteLpm6 { lpm }, mem)
    }
}

impl Drop for RteLpm6 {
    fn drop(&mut self) {
        // SAFETY: `lpm` came from rte_lpm6_create and is freed only here.
        unsafe { sys::rte_lpm6_free(self.lpm.as_ptr()) };
    }
}

impl Lpm for RteLpm6 {
    type Key = [u8; 16];
    type Out = i32;
    fn lookup(&self, keys: &[[u8; 16]], out: &mut [i32]) {
        let n = keys.len().min(out.len()) as u32;
        // SAFETY: `lpm` is live and not modified during lookups; `keys` has
        // `n` addresses, which DPDK only reads; `out` has room for `n`.
        let ret = unsafe {
            sys::rte_lpm6_lookup_bulk_func(
                self.lpm.as_ptr(),
                keys.as_ptr().cast_mut(),
                out.as_mut_ptr(),
                n,
            )
        };
        debug_assert_eq!(ret, 0);
    }
    fn next_hop(out: i32) -> u32 {
        u32::try_from(out).unwrap_or(NO_ROUTE)
    }
}

/// tbl8 groups a stride-8 table with a `root`-bit first level needs for
/// `routes` (addresses left-aligned in a `u128` of `bits` bits): one per
/// distinct (root + 8k)-bit prefix that a longer route lies under. This is
/// what DIR-24-8 (`rte_fib`, `rte_lpm`: root 24, one level) and `rte_lpm6`
/// (24-8-8-...) allocate for a table built by adds only.
fn tbl8_groups(routes: &[(u128, u8)], bits: u8, root: u8) -> u32 {
    let mut total = 0usize;
    let mut level = root;
    while level < bits {
        let mut parents: Vec<u128> = routes
            .iter()
            .filter(|&&(_, len)| len > level)
            .map(|&(a, _)| a >> (128 - u32::from(level)))
            .collect();
        parents.sort_unstable();
        parents.dedup();
        total += parents.len();
        level += 8;
    }
    u32::try_from(total).expect("tbl8 groups fit u32")
}

/// `addr` with all but the first `len` bits cleared.
fn mask6(addr: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        addr & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

/// tbl8 groups `rte_fib6`'s TRIE must be configured with to take `routes`
/// added in this order. It does not count the groups a table uses but
/// reserves, per added route longer than /24 with no longer route yet inside
/// its 8-bit-aligned block, one group per 8-bit level between its covering
/// route (at least /24) and itself, and refuses an add (`-ENOSPC`) that
/// would take the reservations to the configured number (DPDK 22.11
/// `trie_modify`: `rsvd_tbl8s >= number_tbl8s - depth_diff`). This replays
/// that bookkeeping (for routes added in file order, sorted by address),
/// so the table gets the number it needs, not a guessed margin.
fn fib6_trie_reserved_tbl8s(routes: &[Ipv6Net]) -> u32 {
    use std::collections::HashSet;
    // Installed routes, and every (8-bit-aligned block, its length) that
    // holds an installed route longer than the block (DPDK's
    // `rte_rib6_get_nxt` returns strictly more specific routes).
    let mut installed: HashSet<(u128, u8)> = HashSet::with_capacity(routes.len());
    let mut blocks: HashSet<(u128, u8)> = HashSet::with_capacity(routes.len() * 8);
    let mut reserved = 0u32;
    for n in routes {
        let (addr, depth) = (u128::from(n.network()), n.prefix_len());
        if depth > 24 {
            let floor = depth / 8 * 8;
            if !blocks.contains(&(mask6(addr, floor), floor)) {
                let parent = (0..depth)
                    .rev()
                    .find(|&l| installed.contains(&(mask6(addr, l), l)))
                    .map_or(24, |l| l.max(24));
                let ceil8 = |d: u8| u32::from(d).div_ceil(8) * 8;
                reserved += (ceil8(depth) - ceil8(parent)) >> 3;
            }
        }
        installed.insert((addr, depth));
        for f in (0..depth).step_by(8) {
            blocks.insert((mask6(addr, f), f));
        }
    }
    // One more than the reservations: the check refuses reaching the limit.
    reserved + 1
}

/// Looks up every key through `t` and checks it against `want` (the
/// reference's next hops); panics with the first differing keys.
fn verify<T: Lpm>(
    name: &str,
    t: &T,
    keys: &[T::Key],
    want: &[u32],
    show: impl Fn(usize) -> String,
) {
    let mut out = vec![T::Out::default(); keys.len()];
    for (k, o) in keys.chunks(256).zip(out.chunks_mut(256)) {
        t.lookup(k, o);
    }
    let bad: Vec<usize> = out
        .iter()
        .zip(want)
        .enumerate()
        .filter(|&(_, (&o, &w))| T::next_hop(o) != w)
        .map(|(i, _)| i)
        .collect();
    assert!(
        bad.is_empty(),
        "{name} disagrees with cnfwd on {} of {} keys, e.g. {}",
        bad.len(),
        keys.len(),
        bad.iter()
            .take(5)
            .map(|&i| format!("{} -> {} (want {})", show(i), T::next_hop(out[i]), want[i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Times `t` over `keys`, one burst of `burst` keys per iteration.
fn bench_one<T: Lpm>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    t: &T,
    keys: &[T::Key],
    burst: usize,
) {
    let mut run = runner(t, keys, burst);
    g.bench_function(name, |b| b.iter(|| run(1)));
}

/// One table's burst lookups over the key set, for [`interleaved`]: runs
/// `bursts` bursts from where the last call stopped.
fn runner<'a, T: Lpm>(t: &'a T, keys: &'a [T::Key], burst: usize) -> impl FnMut(usize) + 'a {
    let mut out = vec![T::Out::default(); burst];
    let mut i = 0;
    move |bursts| {
        for _ in 0..bursts {
            i = (i + burst) % keys.len();
            t.lookup(black_box(&keys[i..i + burst]), &mut out);
            black_box(&out);
        }
    }
}

/// A named table's burst runner, for [`interleaved`].
type Contender<'a> = (&'a str, Box<dyn FnMut(usize) + 'a>);

/// Rounds of [`interleaved`].
const ROUNDS: usize = 15;

/// Lookups/s of each table measured in turns (each about 40 ms per round,
/// [`ROUNDS`] rounds, the median kept), so that a change in the machine's
/// load hits all of them alike: on these shared machines a table measured
/// a minute after another can differ by a third from load alone. Prints
/// each median and its ratio to the first table's.
fn interleaved(title: &str, burst: usize, tables: &mut [Contender<'_>]) {
    // Calibrate: bursts per ~40 ms slice, from a short run of each.
    let slices: Vec<usize> = tables
        .iter_mut()
        .map(|(_, run)| {
            let t = Instant::now();
            run(1000);
            let per = t.elapsed().as_secs_f64() / 1000.0;
            ((0.04 / per) as usize).max(1)
        })
        .collect();
    let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); tables.len()];
    for _ in 0..ROUNDS {
        for ((_, run), (&n, r)) in tables.iter_mut().zip(slices.iter().zip(&mut rates)) {
            let t = Instant::now();
            run(n);
            r.push((n * burst) as f64 / t.elapsed().as_secs_f64());
        }
    }
    println!("{title}, burst {burst}: interleaved, median of {ROUNDS} turns of ~40 ms each");
    let mut first = None;
    for ((name, _), r) in tables.iter().zip(&mut rates) {
        r.sort_by(f64::total_cmp);
        let med = r[r.len() / 2];
        let base = *first.get_or_insert(med);
        println!(
            "  {name:<24} {:>7.1} M lookups/s  ({:.2}x the first; turns {:.1}..{:.1} M)",
            med / 1e6,
            med / base,
            r[0] / 1e6,
            r[r.len() - 1] / 1e6
        );
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn cnfwd_mem(m: FibMemory) -> String {
    format!(
        "{:>10}  (lookup {} + control {}; memory_bytes())",
        mib(m.total()),
        mib(m.lookup),
        mib(m.control)
    )
}

fn dpdk_mem(m: &DpdkMemory) -> String {
    format!(
        "{:>10}  (DPDK heap growth; of which lookup tables by layout {})",
        mib(m.heap),
        mib(m.lookup)
    )
}

/// Builds `f`, returning it and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn ipv4(c: &mut Criterion, socket: i32) {
    let table = load_routes("ipv4-bgp.txt.xz");
    let routes: Vec<Ipv4Net> = table
        .iter()
        .filter_map(|&n| if let IpNet::V4(n) = n { Some(n) } else { None })
        .collect();
    let mut rng = SmallRng::seed_from_u64(0x1b4);
    let keys: Vec<u32> = (0..KEYS)
        .map(|_| match random_dst(&table, &mut rng) {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(_) => unreachable!("IPv4 table"),
        })
        .collect();
    let left: Vec<(u128, u8)> = routes
        .iter()
        .map(|n| (u128::from(u32::from(n.network())) << 96, n.prefix_len()))
        .collect();
    let tbl8 = tbl8_groups(&left, 32, 24);

    let build = |mut f: Fib4| {
        for (i, &n) in routes.iter().enumerate() {
            f.insert(n, i as u32).expect("cnfwd insert");
        }
        f.shrink_to_fit();
        f
    };
    let (large, t_large) = timed(|| build(Fib4::new_large()));
    let (small, t_small) = timed(|| build(Fib4::new()));
    let ((fib, m_fib), t_fib) = timed(|| RteFib::build(socket, &routes, tbl8));
    let with_lpm = std::env::var_os("LPM_BENCH_SKIP_RTE_LPM").is_none();
    let ((lpm, m_lpm), t_lpm) = timed(|| {
        // Left out: an rte_lpm with one route, never looked up.
        let routes = if with_lpm { &routes[..] } else { &routes[..1] };
        RteLpm::build(socket, routes, tbl8)
    });
    let lpm_x4 = RteLpmX4(&lpm);

    let mut want = vec![0u32; KEYS];
    large.lookup_burst(&keys, &mut want);
    let show = |i: usize| std::net::Ipv4Addr::from(keys[i]).to_string();
    verify("cnfwd Fib4::new (16-8-8)", &small, &keys, &want, show);
    verify("rte_fib DIR24_8", &fib, &keys, &want, show);
    if with_lpm {
        verify("rte_lpm (lookup_bulk)", &lpm, &keys, &want, show);
        verify("rte_lpm (lookupx4)", &lpm_x4, &keys, &want, show);
    }

    println!(
        "IPv4 ipv4-bgp.txt.xz: {} prefixes, {tbl8} tbl8 groups (/24s with longer prefixes), \
         {KEYS} random keys: all implementations agree on every key",
        routes.len()
    );
    println!("  {:<28} {:>8}  memory", "table", "build");
    let row = |name: &str, t: Duration, mem: String| {
        println!("  {name:<28} {:>6.2} s  {mem}", t.as_secs_f64())
    };
    row(
        "cnfwd Fib4::new_large (24-8)",
        t_large,
        cnfwd_mem(large.memory_bytes()),
    );
    row(
        "cnfwd Fib4::new (16-8-8)",
        t_small,
        cnfwd_mem(small.memory_bytes()),
    );
    row("rte_fib DIR24_8 (4 B nh)", t_fib, dpdk_mem(&m_fib));
    if with_lpm {
        row("rte_lpm", t_lpm, dpdk_mem(&m_lpm));
    }

    for burst in BURSTS {
        let mut tables: Vec<Contender> = vec![
            ("rte_fib DIR24_8", Box::new(runner(&fib, &keys, burst))),
            ("cnfwd 24-8", Box::new(runner(&large, &keys, burst))),
            ("cnfwd 16-8-8", Box::new(runner(&small, &keys, burst))),
        ];
        if with_lpm {
            tables.push(("rte_lpm bulk", Box::new(runner(&lpm, &keys, burst))));
        }
        interleaved("IPv4", burst, &mut tables);
    }
    for burst in BURSTS {
        let mut g = c.benchmark_group(format!("lpm_v4_burst{burst}"));
        g.throughput(Throughput::Elements(burst as u64));
        bench_one(&mut g, "cnfwd_24_8", &large, &keys, burst);
        bench_one(&mut g, "cnfwd_16_8_8", &small, &keys, burst);
        bench_one(&mut g, "rte_fib_dir24_8", &fib, &keys, burst);
        if with_lpm {
            bench_one(&mut g, "rte_lpm_bulk", &lpm, &keys, burst);
            bench_one(&mut g, "rte_lpm_x4", &lpm_x4, &keys, burst);
        }
        g.finish();
    }
}

fn ipv6(c: &mut Criterion, socket: i32) {
    let table = load_routes("ipv6-bgp.txt.xz");
    let routes: Vec<Ipv6Net> = table
        .iter()
        .filter_map(|&n| if let IpNet::V6(n) = n { Some(n) } else { None })
        .collect();
    let mut rng = SmallRng::seed_from_u64(0x1b6);
    let keys: Vec<u128> = (0..KEYS)
        .map(|_| match random_dst(&table, &mut rng) {
            IpAddr::V6(a) => u128::from(a),
            IpAddr::V4(_) => unreachable!("IPv6 table"),
        })
        .collect();
    let keys_bytes: Vec<[u8; 16]> = keys.iter().map(|k| k.to_be_bytes()).collect();
    let left: Vec<(u128, u8)> = routes
        .iter()
        .map(|n| (u128::from(n.network()), n.prefix_len()))
        .collect();
    let tbl8 = tbl8_groups(&left, 128, 24);
    let tbl8_fib6 = fib6_trie_reserved_tbl8s(&routes);

    let (fib6, t_fib6) = timed(|| {
        let mut f = Fib6::new();
        for (i, &n) in routes.iter().enumerate() {
            f.insert(n, i as u32).expect("cnfwd insert");
        }
        f.shrink_to_fit();
        f
    });
    let ((rfib6, m_rfib6), t_rfib6) = timed(|| RteFib6::build(socket, &routes, tbl8_fib6));
    let ((lpm6, m_lpm6), t_lpm6) = timed(|| RteLpm6::build(socket, &routes, tbl8));

    let mut want = vec![0u32; KEYS];
    fib6.lookup_burst(&keys, &mut want);
    let show = |i: usize| std::net::Ipv6Addr::from(keys[i]).to_string();
    verify("rte_fib6 TRIE", &rfib6, &keys_bytes, &want, show);
    verify("rte_lpm6", &lpm6, &keys_bytes, &want, show);

    println!(
        "IPv6 ipv6-bgp.txt.xz: {} prefixes, {tbl8} tbl8 groups (rte_lpm6; rte_fib6 TRIE \
         reserves per route and needs {tbl8_fib6}), {KEYS} random keys: all implementations \
         agree on every key",
        routes.len()
    );
    println!("  {:<28} {:>8}  memory", "table", "build");
    let row = |name: &str, t: Duration, mem: String| {
        println!("  {name:<28} {:>6.2} s  {mem}", t.as_secs_f64())
    };
    row("cnfwd Fib6", t_fib6, cnfwd_mem(fib6.memory_bytes()));
    row("rte_fib6 TRIE (4 B nh)", t_rfib6, dpdk_mem(&m_rfib6));
    row("rte_lpm6", t_lpm6, dpdk_mem(&m_lpm6));

    for burst in BURSTS {
        interleaved(
            "IPv6",
            burst,
            &mut [
                (
                    "rte_fib6 TRIE",
                    Box::new(runner(&rfib6, &keys_bytes, burst)),
                ),
                ("cnfwd Fib6", Box::new(runner(&fib6, &keys, burst))),
                ("rte_lpm6", Box::new(runner(&lpm6, &keys_bytes, burst))),
            ],
        );
    }
    for burst in BURSTS {
        let mut g = c.benchmark_group(format!("lpm_v6_burst{burst}"));
        g.throughput(Throughput::Elements(burst as u64));
        bench_one(&mut g, "cnfwd_fib6", &fib6, &keys, burst);
        bench_one(&mut g, "rte_fib6_trie", &rfib6, &keys_bytes, burst);
        bench_one(&mut g, "rte_lpm6", &lpm6, &keys_bytes, burst);
        g.finish();
    }
}

/// Free hugepage memory in bytes, from `/proc/meminfo` (0 if unknown).
fn hugepages_free_bytes() -> u64 {
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    field("HugePages_Free:") * field("Hugepagesize:") * 1024
}

/// Chooses the page size both sides use (see the module doc) and returns
/// EAL's memory arguments for it.
fn choose_pages() -> [&'static str; 3] {
    let free = hugepages_free_bytes();
    let huge = match std::env::var("LPM_BENCH_PAGES").as_deref() {
        Ok("2m") => true,
        Ok("4k") => false,
        Ok(other) => panic!("LPM_BENCH_PAGES={other}: use 4k or 2m"),
        Err(_) => free >= 1 << 30,
    };
    if huge {
        println!(
            "pages: 2 MiB for both (DPDK: hugepages, {} MiB free; cnfwd: transparent huge pages)",
            free >> 20
        );
        ["--huge-unlink", "-m", "1024"]
    } else {
        // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this
        // process; the other arguments must be 0.
        let ret = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        assert_eq!(ret, 0, "prctl(PR_SET_THP_DISABLE)");
        println!(
            "pages: 4 KiB for both (DPDK: --no-huge; cnfwd: THP disabled for this process). \
             For hugepages: dpdk-hugepages.py --setup 1G"
        );
        ["--no-huge", "-m", "4096"]
    }
}

fn main() {
    let args: Vec<String> = choose_pages()
        .into_iter()
        .chain([
            "--no-shconf",
            "--no-pci",
            "-l",
            "0",
            "--log-level",
            "lib.eal:notice",
        ])
        .map(|s| s.to_string())
        .chain([
            "--file-prefix".to_owned(),
            format!("cnfwd-lpm-{}", std::process::id()),
        ])
        .collect();
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("EAL: {e}"));
    let run_dir = eal.runtime_dir().to_owned();
    // SAFETY: EAL is initialised; returns the calling lcore's socket.
    let socket = i32::try_from(unsafe { sys::rte_socket_id() }).unwrap_or(0);

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    ipv4(&mut c, socket);
    ipv6(&mut c, socket);
    c.final_summary();

    // Every table was dropped at the end of ipv4/ipv6.
    eal.cleanup().unwrap_or_else(|e| panic!("EAL cleanup: {e}"));
    let _ = std::fs::remove_dir_all(&run_dir);
}
