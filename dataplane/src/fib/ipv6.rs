//! [`Fib6`]: IPv6 longest-prefix match, a 16-8-8-...-8 multibit trie whose
//! lookups read a compressed image of the plies (see the `fib` module doc).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use super::mtrie::{image_next, image_step, is_ply, Mtrie, MAX_VALUE};
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

/// An IPv6 FIB (one per VRF): prefixes mapped to `u32` values (adjacency
/// indices `<=` [`MAX_VALUE`](super::MAX_VALUE)), longest-prefix-match
/// lookups in one dependent memory read for the 16-bit root plus one per 8
/// bits of the matching prefix beyond /16 (5 for a /48, at most 15).
///
/// An empty table allocates nothing; one with prefixes holds a 256 KiB
/// lookup root and 320 KiB of control root (flat slots and lengths), plus
/// per ply about 1.25 KiB of control and 64 B to 1 KiB of lookup image.
/// Cloning gives an independent copy (for publishing a snapshot).
#[derive(Clone, Debug)]
pub struct Fib6 {
    trie: Mtrie,
    /// Installed prefixes: (network address, length) -> value.
    routes: BTreeMap<(u128, u8), u32>,
}

impl Default for Fib6 {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn mask(addr: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        addr & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

impl Fib6 {
    /// An empty table: every lookup returns [`NO_ROUTE`]. Allocates nothing
    /// until the first insert (and frees its roots when the last prefix is
    /// removed).
    pub fn new() -> Self {
        Fib6 {
            trie: Mtrie::new(128, 16, true),
            routes: BTreeMap::new(),
        }
    }

    /// Installs `prefix -> value` (host bits of `prefix` are ignored) and
    /// returns the value it replaced, if the same prefix was installed.
    /// Refuses values above [`MAX_VALUE`](super::MAX_VALUE) and leaves the
    /// table unchanged on error.
    pub fn insert(&mut self, prefix: Ipv6Net, value: u32) -> Result<Option<u32>, FibError> {
        if value > MAX_VALUE {
            return Err(FibError::ValueOutOfRange {
                value,
                max: MAX_VALUE,
            });
        }
        self.trie.check_capacity()?;
        let net = prefix.trunc();
        let (addr, len) = (u128::from(net.network()), net.prefix_len());
        self.trie.insert(addr, len, value);
        Ok(self.routes.insert((addr, len), value))
    }

    /// Removes `prefix` (host bits ignored) and returns its value, or `None`
    /// (and changes nothing) if it was not installed. Addresses it covered
    /// fall back to the longest remaining shorter prefix.
    pub fn remove(&mut self, prefix: Ipv6Net) -> Option<u32> {
        let net = prefix.trunc();
        let (addr, len) = (u128::from(net.network()), net.prefix_len());
        let old = self.routes.remove(&(addr, len))?;
        let (cover_value, cover_len) = (0..len)
            .rev()
            .find_map(|l| self.routes.get(&(mask(addr, l), l)).map(|&v| (v, l)))
            .unwrap_or((NO_ROUTE, 0));
        self.trie.remove(addr, len, cover_value, cover_len);
        if self.routes.is_empty() {
            self.trie.clear();
        }
        Some(old)
    }

    /// The value installed for exactly `prefix` (host bits ignored).
    pub fn get(&self, prefix: Ipv6Net) -> Option<u32> {
        let net = prefix.trunc();
        self.routes
            .get(&(u128::from(net.network()), net.prefix_len()))
            .copied()
    }

    /// The value of the longest installed prefix containing `addr`
    /// (`u128::from(Ipv6Addr)`), or [`NO_ROUTE`]. Never allocates or panics.
    #[inline]
    pub fn lookup(&self, addr: u128) -> u32 {
        // Always present: `new` builds the trie with an image.
        let Some(img) = &self.trie.image else {
            return NO_ROUTE;
        };
        let mut s = slot(&img.root, (addr >> 112) as usize);
        let mut depth = 16u32;
        while is_ply(s) && depth <= 120 {
            s = image_next(&img.lines, s, ((addr >> (120 - depth)) & 0xff) as usize);
            depth += 8;
        }
        s
    }

    /// [`lookup`](Self::lookup) for each of `addrs`, written to the same index
    /// of `out`; only the first `min(addrs.len(), out.len())` are done. Runs
    /// level by level over the whole burst, without branches that depend on
    /// the loaded data, so the cache misses of different addresses overlap.
    /// Never allocates or panics.
    pub fn lookup_burst(&self, addrs: &[u128], out: &mut [u32]) {
        let n = addrs.len().min(out.len());
        let (addrs, out) = (&addrs[..n], &mut out[..n]);
        let Some(img) = &self.trie.image else {
            out.fill(NO_ROUTE);
            return;
        };
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = slot(&img.root, (a >> 112) as usize);
        }
        let mut depth = 16u32;
        while depth <= 120 {
            let shift = 120 - depth;
            let mut any = false;
            for (o, &a) in out.iter_mut().zip(addrs) {
                *o = image_step(&img.lines, *o, ((a >> shift) & 0xff) as usize);
                any |= is_ply(*o);
            }
            if !any {
                break;
            }
            depth += 8;
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
                + btree_bytes(self.routes.len(), core::mem::size_of::<((u128, u8), u32)>()),
        }
    }

    /// Checks the lookup image against the trie (tests only).
    #[cfg(test)]
    pub(crate) fn check_image(&self) -> Result<(), String> {
        self.trie.check_image()
    }

    /// Returns spare capacity to the allocator (e.g. after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.trie.shrink_to_fit();
    }

    /// The installed prefixes and their values, sorted by prefix (network
    /// address, then length).
    pub fn iter(&self) -> impl Iterator<Item = (Ipv6Net, u32)> + '_ {
        self.routes
            .iter()
            .filter_map(|(&(a, l), &v)| Some((Ipv6Net::new(Ipv6Addr::from(a), l).ok()?, v)))
    }
}
