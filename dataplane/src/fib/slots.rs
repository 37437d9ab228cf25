//! [`Slots`]: the trie's flat slot array, in memory the kernel may back
//! with 2 MiB pages.
//!
//! A full-table FIB is a few tens of MiB read at random: on 4 KiB pages
//! nearly every lookup also misses the TLB (the 64 MiB root of a 24-8 table
//! spans 16,384 pages, far more than the TLB holds). DPDK's tables avoid
//! that by living in hugepage memory. Here an array of 2 MiB or more is an
//! anonymous mapping advised `MADV_HUGEPAGE` (transparent huge pages, which
//! need no reserved hugepages: `/sys/kernel/mm/transparent_hugepage/enabled`
//! at `madvise` or `always`); the 64 MiB root is then 32 pages. Smaller
//! arrays stay on the heap. Where the advice is refused (THP off), the
//! mapping works as ordinary memory.
//!
//! Only safe APIs are used: `memmap2` maps and advises, `bytemuck` views
//! the page-aligned bytes as `u32`s.

use memmap2::{Advice, MmapMut, MmapOptions};

/// Arrays of at least this many bytes are mapped and advised to use huge
/// pages (one huge page; below that the advice cannot take effect).
const MAP_MIN_BYTES: usize = 2 << 20;

/// A growable `u32` array (like the `Vec<u32>` it replaces): indexed as a
/// slice, resized at the end. Cloning copies it into new memory of the same
/// kind.
#[derive(Debug)]
pub(crate) struct Slots {
    store: Store,
}

#[derive(Debug)]
enum Store {
    Heap(Vec<u32>),
    /// The first `len` `u32`s of `map` are the array; the mapping's length
    /// is the capacity.
    Mapped {
        map: MmapMut,
        len: usize,
    },
}

/// A zero-filled anonymous mapping of `n` `u32`s advised to use huge pages,
/// or `None` if the mapping failed (the caller then uses the heap).
fn map_u32s(n: usize) -> Option<MmapMut> {
    let bytes = n.checked_mul(4)?;
    let mut map = MmapOptions::new().len(bytes).map_anon().ok()?;
    // Refused when THP is disabled: the mapping still works on 4 KiB pages.
    let _ = map.advise(Advice::HugePage);
    // Page-aligned, so the view as u32s always exists; checked once here so
    // that `as_u32s` never needs to fail.
    bytemuck::try_cast_slice_mut::<u8, u32>(&mut map[..]).ok()?;
    Some(map)
}

/// The mapping's bytes as `u32`s (empty only if a mapping were misaligned,
/// which `map_u32s` rules out).
fn as_u32s(map: &MmapMut) -> &[u32] {
    bytemuck::try_cast_slice(&map[..]).unwrap_or(&[])
}

fn as_u32s_mut(map: &mut MmapMut) -> &mut [u32] {
    bytemuck::try_cast_slice_mut(&mut map[..]).unwrap_or(&mut [])
}

impl Slots {
    /// An empty array; allocates nothing.
    pub(crate) fn new() -> Self {
        Slots {
            store: Store::Heap(Vec::new()),
        }
    }

    /// `n` copies of `value`.
    pub(crate) fn filled(value: u32, n: usize) -> Self {
        let mut s = Slots::new();
        s.resize(n, value);
        s
    }

    /// Allocated capacity in `u32`s.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.capacity(),
            Store::Mapped { map, .. } => map.len() / 4,
        }
    }

    /// Moves the array into memory for at least `cap` `u32`s: a mapping when
    /// that is 2 MiB or more (and mapping works), else the heap.
    fn relocate(&mut self, cap: usize) {
        let len = self.len();
        if cap.saturating_mul(4) >= MAP_MIN_BYTES {
            if let Some(mut map) = map_u32s(cap) {
                as_u32s_mut(&mut map)[..len].copy_from_slice(&self[..]);
                self.store = Store::Mapped { map, len };
                return;
            }
        }
        let mut v = Vec::with_capacity(cap);
        v.extend_from_slice(&self[..]);
        self.store = Store::Heap(v);
    }

    /// Grows or shrinks to `new_len`, filling new entries with `value`.
    /// Grows capacity geometrically, like `Vec`.
    pub(crate) fn resize(&mut self, new_len: usize, value: u32) {
        let len = self.len();
        if new_len > self.capacity() {
            let cap = new_len.max(self.capacity().saturating_mul(2));
            let cap = if cap.saturating_mul(4) >= MAP_MIN_BYTES {
                // Whole huge pages: the tail page would otherwise be wasted.
                cap.next_multiple_of(MAP_MIN_BYTES / 4)
            } else {
                cap
            };
            self.relocate(cap);
        }
        match &mut self.store {
            Store::Heap(v) => v.resize(new_len, value),
            Store::Mapped { map, len: l } => {
                if new_len > len {
                    as_u32s_mut(map)[len..new_len].fill(value);
                }
                *l = new_len;
            }
        }
    }

    /// Releases spare capacity (the array stays a mapping if it is still
    /// 2 MiB or more; only its last, partial huge page is then small pages).
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.len() < self.capacity() {
            self.relocate(self.len());
        }
    }
}

impl Clone for Slots {
    fn clone(&self) -> Self {
        let mut s = Slots::new();
        s.relocate(self.len());
        match &mut s.store {
            Store::Heap(v) => v.extend_from_slice(&self[..]),
            Store::Mapped { map, len } => {
                as_u32s_mut(map)[..self.len()].copy_from_slice(&self[..]);
                *len = self.len();
            }
        }
        s
    }
}

impl core::ops::Deref for Slots {
    type Target = [u32];
    #[inline]
    fn deref(&self) -> &[u32] {
        match &self.store {
            Store::Heap(v) => v,
            Store::Mapped { map, len } => as_u32s(map).get(..*len).unwrap_or(&[]),
        }
    }
}

impl core::ops::DerefMut for Slots {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u32] {
        match &mut self.store {
            Store::Heap(v) => v,
            Store::Mapped { map, len } => {
                let len = *len;
                as_u32s_mut(map).get_mut(..len).unwrap_or(&mut [])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_heap_into_a_mapping_keeping_contents() {
        let mut s = Slots::new();
        assert!(s.is_empty());
        s.resize(1000, 7);
        assert!(matches!(s.store, Store::Heap(_)));
        s[3] = 3;
        // Past 2 MiB: mapped.
        s.resize(1 << 20, 9);
        assert!(matches!(s.store, Store::Mapped { .. }));
        assert_eq!(s.len(), 1 << 20);
        assert_eq!(
            (s[0], s[3], s[999], s[1000], s[(1 << 20) - 1]),
            (7, 3, 7, 9, 9)
        );
        assert_eq!(s.capacity() % (MAP_MIN_BYTES / 4), 0);
        // Growing again within the mapping and past it.
        s.resize((1 << 20) + 256, 1);
        assert_eq!(s[1 << 20], 1);
        let c = s.clone();
        assert_eq!(&c[..], &s[..]);
        assert!(matches!(c.store, Store::Mapped { .. }));
    }

    #[test]
    fn shrinks_back_and_truncates() {
        let mut s = Slots::filled(5, 3 << 20);
        s.resize(100, 0);
        assert_eq!(s.len(), 100);
        s.shrink_to_fit();
        assert!(matches!(s.store, Store::Heap(_)));
        assert_eq!(s.capacity(), 100);
        assert!(s.iter().all(|&x| x == 5));
        // Regrowing fills with the new value, not what the mapping held.
        s.resize(200, 6);
        assert_eq!((s[99], s[100]), (5, 6));
    }
}
