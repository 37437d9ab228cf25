//! [`Fib4`]: IPv4 longest-prefix match, a 16-8-8 multibit trie.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::mtrie::{is_ply, ply_base, step, Mtrie, MAX_VALUE};
use super::{btree_bytes, FibError, FibMemory, NO_ROUTE};

/// One slot of `slots`, or `NO_ROUTE` if out of bounds (never, by the trie's
/// invariants; this keeps the lookup free of panics).
#[inline(always)]
fn slot(slots: &[u32], i: usize) -> u32 {
    match slots.get(i) {
        Some(&s) => s,
        None => NO_ROUTE,
    }
}

/// The root pass of a burst lookup: `out[i]` = root slot of `addrs[i]`, for
/// a root of `N = 2^(32 - shift)` slots. The root seen as a `[u32; N]` needs
/// no bounds check (`a >> shift < N`), which leaves about four instructions
/// per address. Returns false (and writes nothing) if there is no root.
#[inline(always)]
fn root_pass<const N: usize>(slots: &[u32], shift: u32, addrs: &[u32], out: &mut [u32]) -> bool {
    let Ok(root) = <&[u32; N]>::try_from(slots.get(..N).unwrap_or(&[])) else {
        return false;
    };
    for (o, &a) in out.iter_mut().zip(addrs) {
        *o = root[(a >> shift) as usize];
    }
    true
}

/// An IPv4 FIB (one per VRF): prefixes mapped to `u32` values (adjacency
/// indices `<=` [`MAX_VALUE`](super::MAX_VALUE)), longest-prefix-match
/// lookups in at most three dependent memory reads.
///
/// [`new`](Self::new) builds a 16-8-8 trie for VRFs of any size: an empty
/// table allocates nothing, one with prefixes holds 256 KiB of root slots +
/// 64 KiB of length bytes + about 1.25 KiB per ply.
/// [`new_large`](Self::new_large) builds a 24-8 trie (a 64 MiB root, as
/// DPDK's DIR-24-8) for a full Internet table: one memory read for every
/// prefix up to /24. Both give the same answers. Cloning gives an
/// independent copy (for publishing a snapshot).
#[derive(Clone, Debug)]
pub struct Fib4 {
    trie: Mtrie,
    /// `32 - root bits`: 16 or 8.
    root_shift: u32,
    /// Installed prefixes: (network address, length) -> value.
    routes: BTreeMap<(u32, u8), u32>,
}

impl Default for Fib4 {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn left(addr: u32) -> u128 {
    u128::from(addr) << 96
}

#[inline(always)]
fn mask(addr: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        addr & (u32::MAX << (32 - u32::from(len.min(32))))
    }
}

impl Fib4 {
    /// An empty 16-8-8 table: every lookup returns [`NO_ROUTE`]. Allocates
    /// nothing until the first insert (and frees its root when the last
    /// prefix is removed); suits every VRF.
    pub fn new() -> Self {
        Fib4 {
            trie: Mtrie::new(32, 16, false),
            root_shift: 16,
            routes: BTreeMap::new(),
        }
    }

    /// An empty 24-8 table: every lookup returns [`NO_ROUTE`]. Allocates 80
    /// MiB (64 MiB root + 16 MiB of length bytes) at the first insert; meant
    /// for the one or two
    /// VRFs that carry a full Internet table, where it saves one dependent
    /// cache miss per lookup.
    pub fn new_large() -> Self {
        Fib4 {
            trie: Mtrie::new(32, 24, false),
            root_shift: 8,
            routes: BTreeMap::new(),
        }
    }

    /// Installs `prefix -> value` (host bits of `prefix` are ignored) and
    /// returns the value it replaced, if the same prefix was installed.
    /// Refuses values above [`MAX_VALUE`](super::MAX_VALUE) and leaves the
    /// table unchanged on error.
    pub fn insert(&mut self, prefix: Ipv4Net, value: u32) -> Result<Option<u32>, FibError> {
        if value > MAX_VALUE {
            return Err(FibError::ValueOutOfRange {
                value,
                max: MAX_VALUE,
            });
        }
        self.trie.check_capacity()?;
        let net = prefix.trunc();
        let (addr, len) = (u32::from(net.network()), net.prefix_len());
        self.trie.insert(left(addr), len, value);
        Ok(self.routes.insert((addr, len), value))
    }

    /// Removes `prefix` (host bits ignored) and returns its value, or `None`
    /// (and changes nothing) if it was not installed. Addresses it covered
    /// fall back to the longest remaining shorter prefix.
    pub fn remove(&mut self, prefix: Ipv4Net) -> Option<u32> {
        let net = prefix.trunc();
        let (addr, len) = (u32::from(net.network()), net.prefix_len());
        let old = self.routes.remove(&(addr, len))?;
        let (cover_value, cover_len) = (0..len)
            .rev()
            .find_map(|l| self.routes.get(&(mask(addr, l), l)).map(|&v| (v, l)))
            .unwrap_or((NO_ROUTE, 0));
        self.trie.remove(left(addr), len, cover_value, cover_len);
        if self.routes.is_empty() {
            self.trie.clear();
        }
        Some(old)
    }

    /// The value installed for exactly `prefix` (host bits ignored).
    pub fn get(&self, prefix: Ipv4Net) -> Option<u32> {
        let net = prefix.trunc();
        self.routes
            .get(&(u32::from(net.network()), net.prefix_len()))
            .copied()
    }

    /// The value of the longest installed prefix containing `addr`
    /// (`u32::from(Ipv4Addr)`), or [`NO_ROUTE`]. Never allocates or panics.
    #[inline]
    pub fn lookup(&self, addr: u32) -> u32 {
        let slots = &self.trie.slots[..];
        let sh = self.root_shift & 31;
        let mut s = slot(slots, (addr >> sh) as usize);
        if is_ply(s) {
            s = slot(
                slots,
                ply_base(s) | ((addr >> (sh.wrapping_sub(8) & 31)) & 0xff) as usize,
            );
            if is_ply(s) {
                // Only with the 16-bit root (sh == 16).
                s = slot(
                    slots,
                    ply_base(s) | ((addr >> (sh.wrapping_sub(16) & 31)) & 0xff) as usize,
                );
            }
        }
        s
    }

    /// [`lookup`](Self::lookup) for each of `addrs`, written to the same index
    /// of `out`; only the first `min(addrs.len(), out.len())` are done. Reads
    /// the root for the whole burst first (four instructions per address, so
    /// the cache misses of many addresses are in flight together), then the
    /// plies of the addresses that need them. Never allocates or panics.
    pub fn lookup_burst(&self, addrs: &[u32], out: &mut [u32]) {
        let n = addrs.len().min(out.len());
        let (addrs, out) = (&addrs[..n], &mut out[..n]);
        let slots = &self.trie.slots[..];
        // The root pass is where nearly every lookup ends, and where the
        // cache misses are: as few instructions per address as possible, so
        // that the CPU's window holds many addresses and keeps many misses
        // in flight.
        let has_root = match self.root_shift {
            8 => root_pass::<{ 1 << 24 }>(slots, 8, addrs, out),
            16 => root_pass::<{ 1 << 16 }>(slots, 16, addrs, out),
            _ => false,
        };
        if !has_root {
            // No root yet (an empty table): every lookup misses.
            out.fill(NO_ROUTE);
            return;
        }
        let mut any = out.iter().fold(false, |any, &s| any | is_ply(s));
        if !any {
            return;
        }
        if self.root_shift == 8 {
            // 24-8: few addresses continue into a (single) ply level; a
            // branch per address, predicted "leaf", costs less than a pass.
            for (o, &a) in out.iter_mut().zip(addrs) {
                if is_ply(*o) {
                    *o = slot(slots, ply_base(*o) | (a & 0xff) as usize);
                }
            }
            return;
        }
        // 16-8-8: most addresses continue; branch-free passes level by
        // level keep their misses in flight together.
        let mut level = 16;
        while any && level >= 8 {
            level -= 8;
            any = false;
            for (o, &a) in out.iter_mut().zip(addrs) {
                *o = step(slots, *o, ((a >> level) & 0xff) as usize);
                any |= is_ply(*o);
            }
        }
    }

    /// Number of installed prefixes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True if no prefix is installed.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Number of 256-slot plies the trie uses (for diagnostics).
    pub fn plies(&self) -> usize {
        self.trie.plies()
    }

    /// Bytes held by the table; see [`FibMemory`].
    pub fn memory_bytes(&self) -> FibMemory {
        FibMemory {
            lookup: self.trie.lookup_bytes(),
            control: self.trie.control_bytes()
                + btree_bytes(self.routes.len(), core::mem::size_of::<((u32, u8), u32)>()),
        }
    }

    /// Returns spare capacity to the allocator (e.g. after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.trie.shrink_to_fit();
    }

    /// The installed prefixes and their values, sorted by prefix (network
    /// address, then length).
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Net, u32)> + '_ {
        self.routes
            .iter()
            .filter_map(|(&(a, l), &v)| Some((Ipv4Net::new(Ipv4Addr::from(a), l).ok()?, v)))
    }
}
