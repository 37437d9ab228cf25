//! Longest-prefix-match tables (FIBs): [`Fib4`] and [`Fib6`], one pair per VRF.
//!
//! # Structure
//!
//! Both families are built on one multibit trie (`mtrie.rs`): a 16-bit root
//! of 65,536 slots (or 24-bit, see below), then plies of 256 slots (8 bits each), leaf pushing, and
//! per slot the length of the prefix that set it, as in VPP's ip4 mtrie. A
//! slot is a `u32`: a value (`<=` [`MAX_VALUE`]), empty ([`NO_ROUTE`]), or a
//! ply pointer (bit 31); pointers are exactly the slots that are `< -1` as
//! `i32`, so the test is one compare. Updates are incremental: an insert
//! rewrites the slots of its range whose current prefix is not longer; a
//! remove writes the longest remaining cover into the slots the prefix had
//! set; a ply whose slots all come from one prefix no longer than its parent
//! level is folded into its parent and its storage reused (the trie stays
//! canonical: the property tests check that any update sequence leaves as
//! many plies as a fresh build). A `BTreeMap` of the installed prefixes
//! serves `get`, `iter`, `len` and finds the cover on remove; lookups never
//! read it.
//!
//! - **IPv4** ([`Fib4`]) is 16-8-8 ([`Fib4::new`]): at most three dependent
//!   reads, of the flat slot array itself. [`Fib4::new_large`] is 24-8 (a
//!   64 MiB root, like DPDK's DIR-24-8) for the VRF that carries a full
//!   Internet table: one read for everything up to /24. [`Fib4::lookup_burst`]
//!   runs the burst level by level (all root reads, then all second-level
//!   reads, ...), with no branch that depends on a loaded value, so the cache
//!   misses of the whole burst are in flight together.
//! - **IPv6** ([`Fib6`]) is 16-8-8-...-8 (up to 15 reads; 5 for a /48). The
//!   flat plies of the real table take 37.5 MiB and a random lookup then
//!   costs five DRAM + TLB misses, so the lookup reads a compressed image
//!   instead (poptrie-style, re-encoded per touched ply on every update):
//!   each ply is stored as its runs of equal slots, a 256-bit map of run
//!   starts + per-16-bit prefix popcounts + one entry per run, in
//!   64-byte-aligned lines; a ply with up to 4 runs is one cache line. The
//!   real table's image is 3.8 MiB (fits the L3 cache and far fewer pages).
//!   The flat plies stay as the control-plane copy the updates work on.
//!
//! # Memory
//!
//! Slot arrays of 2 MiB or more (the 24-8 root, the plies of a large
//! table) are anonymous mappings advised `MADV_HUGEPAGE` (`slots.rs`): with
//! transparent huge pages on (`madvise` or `always`, the Debian default is
//! `madvise`) the 64 MiB root of a 24-8 table is 32 TLB entries instead of
//! 16,384, so a random lookup no longer pays a page walk on top of its cache
//! miss. Where THP is off they are ordinary 4 KiB pages.
//!
//! An empty table allocates nothing (the root comes with the first prefix
//! and goes with the last), so VRFs without IPv6 routes cost no IPv6 table.
//! With prefixes, a [`Fib4::new`] holds 256 KiB of lookup slots + 64 KiB of
//! length bytes (not the 64 MiB of a DIR-24-8 root) + ~1.25 KiB per ply; a
//! [`Fib6`] 256 KiB of lookup root + 320 KiB of control (flat root and
//! lengths) + per ply ~1.25 KiB of control and 64 B-1 KiB of image; a
//! [`Fib4::new_large`] 64 MiB + 16 MiB. [`FibMemory`] reports the lookup
//! structure and the control bookkeeping separately (allocated capacity; the
//! `BTreeMap` part is an estimate).
//!
//! # Measurements
//!
//! On this machine (2 vCPU AMD EPYC at 2.6 GHz in a VM, 4 KiB pages, shared
//! with other builds while measuring: runs differ by up to +-40%, ranges
//! below are over several runs), release build, x86-64 baseline target:
//!
//! | table | prefixes | plies | lookup mem | control mem | build |
//! |---|---|---|---|---|---|
//! | IPv4 `ipv4-bgp`, 16-8-8 | 901,899 | 25,849 | 25.5 MiB | 28.4 MiB | 0.13-0.23 s |
//! | IPv4 `ipv4-bgp`, 24-8 | 901,899 | 451 | 64.4 MiB | 38.4 MiB | 0.20-0.24 s |
//! | IPv4 union of both v4 files, 16-8-8 | 1,095,152 | 31,414 | 30.9 MiB | 34.5 MiB | 0.33-0.71 s for 1.79 M inserts (dev profile, opt-level 1) |
//! | 1,024 VRFs x 1,000 (slices of `ipv4-bgp`) | 1,024,000 | 30,353 | 286 MiB | 98 MiB | 0.48-0.58 s (dev) |
//! | 1,024 VRFs x 1,000 (random draws, worst case) | 1,024,000 | ~956,000 | ~1.19 GiB | ~0.32 GiB | |
//! | IPv6 `ipv6-bgp` | 160,147 | 38,155 | 3.8 MiB (flat: 37.5) | 60.9 MiB | 0.16-0.24 s |
//!
//! Lookups, 65,536 random destinations spread over the table (criterion,
//! `benches/benches/fib.rs`), per lookup:
//!
//! | | `lookup_burst` (32) | `lookup` x 32 |
//! |---|---|---|
//! | IPv4 `ipv4-bgp`, 16-8-8 | 7.0-10.9 ns | 8.3-11.7 ns |
//! | IPv4 `ipv4-bgp`, 24-8 | 4.7-5.0 ns (7.1 before skipping empty passes) | 4.6-6.2 ns |
//! | IPv6 `ipv6-bgp` | 35-42 ns | 72-91 ns |
//!
//! With 1,048,576 destinations (a separate probe, not checked in) 16-8-8
//! took 18-23 ns per lookup and 24-8 about 7 ns: 64k destinations partly
//! fit the L3 cache. Single lookups in a tight loop overlap almost as well as
//! the burst because out-of-order execution finds them independent; in the
//! pipeline, with parsing and rewriting in between, the burst form is what
//! keeps the misses overlapped.
//!
//! IPv6 history, same bench: flat plies (37.5 MiB) with a branch on each
//! loaded slot, 77 ns; branch-free passes, 54-62 ns; compressed image with
//! 64-bit popcounts, 48-54 ns (35 ns with `-C target-cpu=x86-64-v2`, which
//! has `popcnt`; the baseline target computes it in software); compressed
//! image with 16-bit groups and a byte popcount table, 35-42 ns. IPv4 stays
//! on flat plies: a real /16 ply holds up to 256 /24 runs, so compression
//! saves little there and would add the rank computation to the hot path.
//!
//! The code is safe Rust; lookups never allocate and never panic, and no
//! input through the public API panics.

#![forbid(unsafe_code)]

mod ipv4;
mod ipv6;
mod mtrie;
pub mod prefix_list;
mod slots;

#[cfg(test)]
mod tests;

pub use ipv4::Fib4;
pub use ipv6::Fib6;
pub use prefix_list::{parse_prefix_list, PrefixListError, PrefixListErrorKind};

/// What a lookup returns when no prefix covers the address.
pub const NO_ROUTE: u32 = u32::MAX;

/// Largest value (adjacency index) a FIB accepts: `2^31 - 1`.
pub const MAX_VALUE: u32 = mtrie::MAX_VALUE;

/// Errors of FIB updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FibError {
    /// The value does not fit the leaf encoding (it must be `<= max`).
    #[error("route value {value} is out of range (max {max})")]
    ValueOutOfRange {
        /// The value that was refused.
        value: u32,
        /// The largest value accepted ([`MAX_VALUE`]).
        max: u32,
    },
    /// The trie has used every ply index it can encode (2^31 plies; memory
    /// runs out long before in practice).
    #[error("FIB is full ({plies} plies in use)")]
    CapacityExceeded {
        /// Plies in use when the insert was refused.
        plies: usize,
    },
}

/// Memory held by one FIB, in bytes (allocated capacity, not just what is
/// used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FibMemory {
    /// The structure the lookup reads (root and plies).
    pub lookup: usize,
    /// Bookkeeping only updates read: the per-slot prefix lengths, the free
    /// list, and an estimate of the prefix map (`BTreeMap` nodes are not
    /// observable, so this part is computed from the entry count and size).
    pub control: usize,
}

impl FibMemory {
    /// `lookup + control`.
    pub fn total(&self) -> usize {
        self.lookup + self.control
    }
}

impl core::ops::Add for FibMemory {
    type Output = FibMemory;
    fn add(self, o: FibMemory) -> FibMemory {
        FibMemory {
            lookup: self.lookup + o.lookup,
            control: self.control + o.control,
        }
    }
}

impl core::iter::Sum for FibMemory {
    fn sum<I: Iterator<Item = FibMemory>>(iter: I) -> FibMemory {
        iter.fold(FibMemory::default(), |a, b| a + b)
    }
}

impl core::fmt::Display for FibMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const MIB: f64 = 1024.0 * 1024.0;
        write!(
            f,
            "{:.1} MiB (lookup {:.1} MiB + control {:.1} MiB)",
            self.total() as f64 / MIB,
            self.lookup as f64 / MIB,
            self.control as f64 / MIB
        )
    }
}

/// Estimated heap bytes of a `BTreeMap` with `len` entries of `entry` bytes
/// (key + value): std's nodes hold up to 11 entries and are about 2/3 full
/// on average; internal nodes add roughly one node per 8 leaves.
pub(crate) fn btree_bytes(len: usize, entry: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let node = 16 + 11 * entry;
    let leaves = len.div_ceil(7);
    leaves * node + (leaves / 8 + 1) * (node + 12 * 8)
}
