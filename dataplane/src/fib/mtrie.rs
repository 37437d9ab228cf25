//! The multibit trie shared by [`Fib4`](super::Fib4) and [`Fib6`](super::Fib6).
//!
//! One flat `Vec<u32>` of slots holds the root (the first 2^16 slots, indexed
//! by the top 16 bits of the address; 2^24 and 24 bits for a large IPv4
//! table) followed by the plies, 256 slots each, indexed by the next 8 bits.
//! Ply `c` (a "chunk id", starting at 256 because the root occupies chunks
//! 0..256, or 65,536 with a 24-bit root) lives at `slots[c * 256..c * 256 +
//! 256]`.
//!
//! A slot is one `u32`:
//! - `0..=MAX_VALUE` (`0x7fff_ffff`): a leaf holding a route value;
//! - `NO_ROUTE` (`u32::MAX`): an empty leaf;
//! - anything else (`0x8000_0000..=0xffff_fffe`): a pointer to the ply whose
//!   chunk id is the low 31 bits. Viewed as `i32`, pointers are exactly the
//!   values `< -1`, so telling them apart is one compare.
//!
//! Leaves are pushed down (every slot holds the answer for its whole range),
//! so a lookup stops at the first leaf. A parallel `Vec<u8>` keeps, per slot,
//! the length of the prefix that set it (0 for an empty slot), as VPP's ip4
//! mtrie does: that is what makes insert and remove incremental and exact with
//! overlapping prefixes.
//!
//! Addresses are handled here as `u128` aligned to the left (an IPv4 address
//! is `u128::from(a) << 96`), so one implementation serves both families; the
//! per-family lookups read `slots` directly.

use super::slots::Slots;
use super::{FibError, NO_ROUTE};

/// Largest value a leaf can hold.
pub(crate) const MAX_VALUE: u32 = 0x7fff_ffff;
/// Bit set in a slot that points to a ply.
pub(crate) const PLY_BIT: u32 = 0x8000_0000;
/// Largest chunk id a pointer can encode (`0xffff_ffff` is `NO_ROUTE`).
const MAX_CHUNK: u32 = 0x7fff_fffe;

/// True if `slot` points to a ply (and is not an empty leaf).
#[inline(always)]
pub(crate) fn is_ply(slot: u32) -> bool {
    (slot as i32) < -1
}

/// Index of the first slot of the ply `slot` points to.
#[inline(always)]
pub(crate) fn ply_base(slot: u32) -> usize {
    ((slot & !PLY_BIT) as usize) << 8
}

/// One branch-free step of a burst lookup: if `s` points to a ply, the slot
/// of that ply at `byte`, else `s` itself. Leaves read slot 0 (hot in cache)
/// and discard it, so no branch depends on a cache miss and the loads of a
/// whole burst stay in flight together. Never panics.
#[inline(always)]
pub(crate) fn step(slots: &[u32], s: u32, byte: usize) -> u32 {
    let keep = (is_ply(s) as u32).wrapping_neg(); // all ones if s is a pointer
    let idx = (ply_base(s) | byte) & (keep as i32 as isize as usize);
    let next = match slots.get(idx) {
        Some(&n) => n,
        None => super::NO_ROUTE,
    };
    (next & keep) | (s & !keep)
}

/// The 8 bits of `addr` (left-aligned) that index a ply whose parent consumed
/// `depth` bits. `depth` is in `root_bits..=120`.
#[inline(always)]
fn byte_at(addr: u128, depth: u32) -> usize {
    ((addr >> (120 - depth)) & 0xff) as usize
}

/// The trie. `bits` is 32 or 128.
#[derive(Clone, Debug)]
pub(crate) struct Mtrie {
    /// Root then plies; see the module doc.
    pub(crate) slots: Slots,
    /// Per slot, the length of the prefix that set the leaf (meaningless for
    /// pointer slots).
    lens: Vec<u8>,
    /// Chunk ids of freed plies, reused first.
    free: Vec<u32>,
    /// Address width: 32 or 128.
    bits: u8,
    /// Plies in use.
    plies: usize,
    /// Stride of the root: 16 (or 24 for a large IPv4 table).
    pub(crate) root_bits: u32,
    /// Per chunk id: the slot index of the pointer to it (root chunks: 0).
    parent: Vec<u32>,
    /// Per chunk id: its level (1 = child of the root), 0 if free or root.
    depth: Vec<u8>,
    /// The compressed copy the lookup reads, if this trie keeps one.
    pub(crate) image: Option<Image>,
}

impl Mtrie {
    /// An empty trie for `bits`-bit addresses (32 or 128).
    /// With `compressed`, the trie also maintains an [`Image`] for lookups.
    /// `root_bits` is 16 or 24 (the root has `2^root_bits` slots; chunk ids
    /// below `2^(root_bits - 8)` are the root).
    ///
    /// Nothing is allocated until the first insert: an empty trie has no
    /// root, and every lookup misses because every slot read is out of
    /// bounds (which the lookups map to `NO_ROUTE`).
    pub(crate) fn new(bits: u8, root_bits: u32, compressed: bool) -> Self {
        Mtrie {
            slots: Slots::new(),
            lens: Vec::new(),
            free: Vec::new(),
            bits,
            plies: 0,
            root_bits,
            parent: Vec::new(),
            depth: Vec::new(),
            image: compressed.then(|| Image::new(0)),
        }
    }

    /// Allocates the root if the trie has none.
    fn ensure_root(&mut self) {
        if self.slots.is_empty() {
            let root = self.root_slots();
            *self = Mtrie {
                slots: Slots::filled(NO_ROUTE, root),
                lens: vec![0; root],
                free: Vec::new(),
                bits: self.bits,
                plies: 0,
                root_bits: self.root_bits,
                parent: vec![0; root >> 8],
                depth: vec![0; root >> 8],
                image: self.image.is_some().then(|| Image::new(root)),
            };
        }
    }

    /// Frees everything (back to the state of [`new`](Self::new)); for a
    /// table whose last prefix was removed.
    pub(crate) fn clear(&mut self) {
        *self = Mtrie::new(self.bits, self.root_bits, self.image.is_some());
    }

    /// Number of root slots.
    #[inline(always)]
    fn root_slots(&self) -> usize {
        1 << self.root_bits
    }

    /// Records that slot `i` changed, for the image.
    #[inline]
    fn touch(&mut self, i: usize) {
        let root_slots = self.root_slots();
        if let Some(img) = &mut self.image {
            if i < root_slots {
                img.root_lo = img.root_lo.min(i);
                img.root_hi = img.root_hi.max(i + 1);
            } else {
                let c = i >> 8;
                if !img.dirty_flag[c] {
                    img.dirty_flag[c] = true;
                    img.dirty.push(c as u32);
                }
            }
        }
    }

    /// Brings the image up to date with the slots touched since the last
    /// commit: re-encodes dirty plies deepest first, then the root range.
    fn commit(&mut self) {
        let Some(mut img) = self.image.take() else {
            return;
        };
        let mut dirty = core::mem::take(&mut img.dirty);
        dirty.sort_unstable_by_key(|&c| core::cmp::Reverse(self.depth[c as usize]));
        for &c in &dirty {
            let c = c as usize;
            img.dirty_flag[c] = false;
            if self.depth[c] == 0 {
                continue; // freed by a collapse; its node is already released
            }
            let mut enc = [0u32; 256];
            for (e, &x) in enc.iter_mut().zip(&self.slots[c << 8..(c << 8) + 256]) {
                *e = if is_ply(x) {
                    PLY_BIT | img.node_of[(x & !PLY_BIT) as usize]
                } else {
                    x
                };
            }
            let old = img.node_of[c];
            let node = img.write(old, &enc);
            if node != old {
                img.node_of[c] = node;
                let p = self.parent[c] as usize;
                if p < self.root_slots() {
                    img.root[p] = PLY_BIT | node;
                } else if !img.dirty_flag[p >> 8] {
                    let w = img.entry_word(img.node_of[p >> 8], p & 0xff);
                    img.set_word(w, PLY_BIT | node);
                }
            }
        }
        dirty.clear();
        img.dirty = dirty;
        for i in img.root_lo..img.root_hi.min(self.root_slots()) {
            let x = self.slots[i];
            img.root[i] = if is_ply(x) {
                PLY_BIT | img.node_of[(x & !PLY_BIT) as usize]
            } else {
                x
            };
        }
        img.root_lo = usize::MAX;
        img.root_hi = 0;
        self.image = Some(img);
    }

    /// Plies in use.
    pub(crate) fn plies(&self) -> usize {
        self.plies
    }

    /// Bytes the lookup reads from (allocated, not just used).
    pub(crate) fn lookup_bytes(&self) -> usize {
        match &self.image {
            Some(img) => img.lookup_bytes(),
            None => self.slots.capacity() * 4,
        }
    }

    /// Bytes kept only for updates (prefix lengths, free list, per-ply
    /// bookkeeping, and the uncompressed slots when the image is used).
    pub(crate) fn control_bytes(&self) -> usize {
        let own = self.lens.capacity()
            + self.free.capacity() * 4
            + self.parent.capacity() * 4
            + self.depth.capacity();
        match &self.image {
            Some(img) => own + self.slots.capacity() * 4 + img.control_bytes(),
            None => own,
        }
    }

    /// Releases spare capacity of the vectors.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
        self.lens.shrink_to_fit();
        self.free.shrink_to_fit();
        self.parent.shrink_to_fit();
        self.depth.shrink_to_fit();
        if let Some(img) = &mut self.image {
            img.shrink_to_fit();
        }
    }

    /// Fails if an insert could run out of chunk ids. An insert allocates at
    /// most one ply per level.
    pub(crate) fn check_capacity(&self) -> Result<(), FibError> {
        let levels = (usize::from(self.bits) - self.root_bits as usize) / 8;
        let used = (self.root_slots() >> 8) + self.plies;
        if used + levels > MAX_CHUNK as usize + 1 {
            return Err(FibError::CapacityExceeded { plies: self.plies });
        }
        if let Some(img) = &self.image {
            // Node lines are addressed by the 31 bits of a pointer too.
            if img.lines.len() + levels * MAX_LINES > MAX_CHUNK as usize {
                return Err(FibError::CapacityExceeded { plies: self.plies });
            }
        }
        Ok(())
    }

    /// Allocates a ply filled with the leaf `(leaf, len)`; returns the
    /// pointer slot value. The caller checked capacity.
    fn alloc_ply(&mut self, leaf: u32, len: u8, parent: usize, depth: u8) -> u32 {
        self.plies += 1;
        let chunk = match self.free.pop() {
            Some(c) => {
                let base = (c as usize) << 8;
                self.slots[base..base + 256].fill(leaf);
                self.lens[base..base + 256].fill(len);
                c
            }
            None => {
                let c = (self.slots.len() >> 8) as u32;
                self.slots.resize(self.slots.len() + 256, leaf);
                self.lens.resize(self.lens.len() + 256, len);
                self.parent.push(0);
                self.depth.push(0);
                if let Some(img) = &mut self.image {
                    img.node_of.push(NONE);
                    img.dirty_flag.push(false);
                }
                c
            }
        };
        self.parent[chunk as usize] = parent as u32;
        self.depth[chunk as usize] = depth;
        self.touch((chunk as usize) << 8);
        PLY_BIT | chunk
    }

    /// Makes slot `i` a pointer (splitting its leaf into a ply if needed) and
    /// returns the base index of that ply.
    fn ensure_ply(&mut self, i: usize, depth: u8) -> usize {
        let s = self.slots[i];
        if is_ply(s) {
            return ply_base(s);
        }
        let p = self.alloc_ply(s, self.lens[i], i, depth);
        self.slots[i] = p;
        self.touch(i);
        ply_base(p)
    }

    /// Calls `f` with the slot range `[start, end)` that the prefix `(addr,
    /// len)` maps to, creating plies on the way down; `f` gets the trie and
    /// the depth (bits consumed before the range's level). Afterwards tries to
    /// collapse every ply on the path, deepest first, if `collapse`.
    fn with_range(
        &mut self,
        addr: u128,
        len: u8,
        collapse: bool,
        f: &mut dyn FnMut(&mut Self, usize, usize),
    ) {
        let len = u32::from(len);
        let r = self.root_bits;
        if len <= r {
            let span = 1usize << (r - len);
            let start = ((addr >> (128 - r)) as usize) & !(span - 1);
            f(self, start, start + span);
            return;
        }
        // Descend: parent slot index and depth (bits consumed before the ply).
        let mut path: [usize; 16] = [0; 16];
        let mut n = 0;
        let mut parent = (addr >> (128 - r)) as usize;
        let mut depth = r;
        loop {
            let base = self.ensure_ply(parent, n as u8 + 1);
            path[n] = parent;
            n += 1;
            if len <= depth + 8 {
                let span = 1usize << (depth + 8 - len);
                let start = base + (byte_at(addr, depth) & !(span - 1));
                f(self, start, start + span);
                break;
            }
            parent = base + byte_at(addr, depth);
            depth += 8;
        }
        if collapse {
            for k in (0..n).rev() {
                let d = r + 8 * k as u32;
                if !self.try_collapse(path[k], d) {
                    break;
                }
            }
        }
    }

    /// Sets the leaf `(leaf, len)` in every slot of `[start, end)` (and below)
    /// whose current prefix length is `<= len`.
    fn overwrite(&mut self, start: usize, end: usize, leaf: u32, len: u8) {
        for i in start..end {
            let s = self.slots[i];
            if is_ply(s) {
                let b = ply_base(s);
                self.overwrite(b, b + 256, leaf, len);
            } else if self.lens[i] <= len {
                if s != leaf {
                    self.touch(i);
                    self.slots[i] = leaf;
                }
                self.lens[i] = len;
            }
        }
    }

    /// Replaces, in `[start, end)` and below, every leaf set by a prefix of
    /// length `len` with the cover `(leaf, cover_len)`; collapses plies that
    /// become uniform. `level_end` is the bits consumed once this range's
    /// level is indexed (16 for the root).
    fn restore(
        &mut self,
        start: usize,
        end: usize,
        level_end: u32,
        len: u8,
        leaf: u32,
        cover_len: u8,
    ) {
        for i in start..end {
            let s = self.slots[i];
            if is_ply(s) {
                let b = ply_base(s);
                self.restore(b, b + 256, level_end + 8, len, leaf, cover_len);
                self.try_collapse(i, level_end);
            } else if self.lens[i] == len {
                if s != leaf {
                    self.touch(i);
                    self.slots[i] = leaf;
                }
                self.lens[i] = cover_len;
            }
        }
    }

    /// If slot `i` points to a ply (whose parent consumed `depth` bits) whose
    /// slots are all leaves set by prefixes no longer than `depth`, replaces
    /// the pointer with that leaf and frees the ply. Returns whether it did.
    fn try_collapse(&mut self, i: usize, depth: u32) -> bool {
        let s = self.slots[i];
        if !is_ply(s) {
            return false;
        }
        let b = ply_base(s);
        let first = self.slots[b];
        let first_len = self.lens[b];
        if is_ply(first) || u32::from(first_len) > depth {
            return false;
        }
        let uniform = self.slots[b..b + 256].iter().all(|&x| x == first)
            && self.lens[b..b + 256].iter().all(|&l| l == first_len);
        if !uniform {
            return false;
        }
        self.slots[i] = first;
        self.lens[i] = first_len;
        self.touch(i);
        let chunk = s & !PLY_BIT;
        self.depth[chunk as usize] = 0;
        if let Some(img) = &mut self.image {
            let node = core::mem::replace(&mut img.node_of[chunk as usize], NONE);
            img.release(node);
        }
        self.free.push(chunk);
        self.plies -= 1;
        true
    }

    /// Installs `(addr, len) -> value`. `addr` is left-aligned with host bits
    /// clear, `len <= bits`, `value <= MAX_VALUE`; the caller checked capacity.
    pub(crate) fn insert(&mut self, addr: u128, len: u8, value: u32) {
        self.ensure_root();
        self.with_range(addr, len, false, &mut |t, s, e| {
            t.overwrite(s, e, value, len)
        });
        self.commit();
    }

    /// Removes the prefix `(addr, len)`, whose longest installed cover is
    /// `(cover_value, cover_len)` (`NO_ROUTE`, 0 if none).
    pub(crate) fn remove(&mut self, addr: u128, len: u8, cover_value: u32, cover_len: u8) {
        let r = self.root_bits;
        let level_end = if u32::from(len) <= r {
            r
        } else {
            r + 8 + 8 * ((u32::from(len) - r - 1) / 8)
        };
        self.with_range(addr, len, true, &mut |t, s, e| {
            t.restore(s, e, level_end, len, cover_value, cover_len)
        });
        self.commit();
    }
}

/// "No node" in [`Image::node_of`].
const NONE: u32 = u32::MAX;
/// Words of a compressed node before its entries: 8 words of bitmap, 4 words
/// of per-16-bit-group prefix popcounts (one byte per group).
const HEADER: usize = 12;
/// Largest node, in lines: `ceil((9 + 256) / 16)`.
const MAX_LINES: usize = (HEADER + 256).div_ceil(16);

/// One cache line of the image (64-byte aligned, so a node of up to 4
/// entries is one cache miss).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct Line(pub(crate) [u32; 16]);

/// A compressed copy of the plies, for lookups (poptrie-style, at 8-bit
/// stride). A ply of 256 slots is stored as the runs of equal slots: a
/// 256-bit map with a bit set where a run starts, the popcount of the map
/// before each 16-bit group, and one entry per run; the rank of a byte is
/// then one stored count plus two lookups in a 256-byte popcount table. Entry `k` of a node holds
/// a leaf or `PLY_BIT | line` of a child node. The root stays a flat array
/// of 65,536 entries. Kept in sync with the slots by [`Mtrie::commit`].
#[derive(Clone, Debug)]
pub(crate) struct Image {
    /// Root entries (leaves or pointers to nodes).
    pub(crate) root: Vec<u32>,
    /// Node storage; line 0 is a never-used all-zero node, so a branch-free
    /// step can read it for leaves.
    pub(crate) lines: Vec<Line>,
    /// Free nodes by size in lines.
    free: Vec<Vec<u32>>,
    /// Per chunk id: the first line of its node, or `NONE`.
    node_of: Vec<u32>,
    /// Per chunk id: already in `dirty`.
    dirty_flag: Vec<bool>,
    /// Chunks whose slots changed since the last commit.
    dirty: Vec<u32>,
    /// Root slots `[root_lo, root_hi)` changed since the last commit.
    root_lo: usize,
    root_hi: usize,
}

impl Image {
    fn new(root: usize) -> Self {
        Image {
            root: vec![NO_ROUTE; root],
            lines: vec![Line([0; 16])],
            free: vec![Vec::new(); MAX_LINES + 1],
            node_of: vec![NONE; root >> 8],
            dirty_flag: vec![false; root >> 8],
            dirty: Vec::new(),
            root_lo: usize::MAX,
            root_hi: 0,
        }
    }

    fn lookup_bytes(&self) -> usize {
        self.root.capacity() * 4 + self.lines.capacity() * 64
    }

    fn control_bytes(&self) -> usize {
        self.node_of.capacity() * 4
            + self.dirty_flag.capacity()
            + self.dirty.capacity() * 4
            + self.free.iter().map(|f| f.capacity() * 4).sum::<usize>()
    }

    fn shrink_to_fit(&mut self) {
        self.lines.shrink_to_fit();
        self.node_of.shrink_to_fit();
        self.dirty_flag.shrink_to_fit();
    }

    fn word(&self, w: usize) -> u32 {
        self.lines[w >> 4].0[w & 15]
    }

    fn set_word(&mut self, w: usize, v: u32) {
        self.lines[w >> 4].0[w & 15] = v;
    }

    /// Entries in the node at `line`.
    fn entries(&self, line: u32) -> usize {
        let base = (line as usize) << 4;
        (0..8)
            .map(|k| self.word(base + k).count_ones() as usize)
            .sum()
    }

    fn lines_for(entries: usize) -> usize {
        (HEADER + entries).div_ceil(16)
    }

    /// Frees the node at `line` (nothing if `NONE`).
    fn release(&mut self, line: u32) {
        if line != NONE {
            let n = Self::lines_for(self.entries(line));
            self.free[n].push(line);
        }
    }

    /// Word index of the entry for `byte` in the node at `line`.
    fn entry_word(&self, line: u32, byte: usize) -> usize {
        let base = (line as usize) << 4;
        let g = byte >> 4;
        base + HEADER - 1
            + rank(
                self.word(base + (g >> 1)),
                self.word(base + 8 + (g >> 2)),
                byte,
            )
    }

    /// Encodes `slots` (already translated to image pointers) into the node
    /// at `old` if it has the same size, else into a new node (freeing
    /// `old`). Returns the node's line.
    fn write(&mut self, old: u32, slots: &[u32; 256]) -> u32 {
        let mut map = [0u64; 4];
        let mut entries = [0u32; 256];
        let mut k = 0;
        for (i, &x) in slots.iter().enumerate() {
            if i == 0 || x != slots[i - 1] {
                map[i >> 6] |= 1 << (i & 63);
                entries[k] = x;
                k += 1;
            }
        }
        let n = Self::lines_for(k);
        let line = if old != NONE && Self::lines_for(self.entries(old)) == n {
            old
        } else {
            self.release(old);
            match self.free[n].pop() {
                Some(l) => l,
                None => {
                    let l = self.lines.len() as u32;
                    self.lines.resize(self.lines.len() + n, Line([0; 16]));
                    l
                }
            }
        };
        let base = (line as usize) << 4;
        let mut count = 0u32;
        for (c, &m) in map.iter().enumerate() {
            self.set_word(base + 2 * c, m as u32);
            self.set_word(base + 2 * c + 1, (m >> 32) as u32);
        }
        // Words 8..12: per 16-bit group g, the number of bits set before it.
        for q in 0..4 {
            let mut cum = 0u32;
            for k in 0..4 {
                let g = 4 * q + k;
                cum |= count << (8 * k);
                count += ((map[g >> 2] >> (16 * (g & 3))) & 0xffff).count_ones();
            }
            self.set_word(base + 8 + q, cum);
        }
        for (j, &e) in entries[..k].iter().enumerate() {
            self.set_word(base + HEADER + j, e);
        }
        line
    }
}

/// Number of set bits of a node's map up to and including `byte`, given the
/// map's 64-bit chunk holding `byte` and the node's prefix-popcount word.
/// At least 1 for a real node (bit 0 is always set).
#[inline(always)]
fn rank(map_word: u32, cum_word: u32, byte: usize) -> usize {
    let g = byte >> 4;
    let before = (cum_word >> (8 * (g & 3))) & 0xff;
    let group = (map_word >> (16 * (g & 1))) & (u32::MAX >> (31 - (byte & 15) as u32));
    before as usize
        + usize::from(POP8[(group & 0xff) as usize])
        + usize::from(POP8[((group >> 8) & 0xff) as usize])
}

/// Bits set in each byte value (a table, because the x86-64 baseline has no
/// `popcnt` instruction and the software fallback costs more).
const POP8: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u32).count_ones() as u8;
        i += 1;
    }
    t
};

/// The image entry for `byte` in the node `s` points to (`s` must be a
/// pointer; a leaf reads the dummy node). Never panics.
#[inline(always)]
pub(crate) fn image_next(lines: &[Line], s: u32, byte: usize) -> u32 {
    let byte = byte & 0xff;
    let node = (s & !PLY_BIT) as usize;
    let Some(head) = lines.get(node) else {
        return NO_ROUTE;
    };
    let g = byte >> 4;
    let w = HEADER - 1 + rank(head.0[g >> 1], head.0[8 + (g >> 2)], byte);
    match lines.get(node + (w >> 4)) {
        Some(l) => l.0[w & 15],
        None => NO_ROUTE,
    }
}

/// Branch-free burst step over the image: the next entry if `s` points to a
/// node, else `s`. Leaves read the dummy node 0.
#[inline(always)]
pub(crate) fn image_step(lines: &[Line], s: u32, byte: usize) -> u32 {
    let keep = (is_ply(s) as u32).wrapping_neg();
    let next = image_next(lines, s & keep, byte);
    (next & keep) | (s & !keep)
}

#[cfg(test)]
impl Mtrie {
    /// Checks that the image decodes to exactly the slots (pointers
    /// translated), and that every node line is either reachable or free.
    pub(crate) fn check_image(&self) -> Result<(), String> {
        let Some(img) = &self.image else {
            return Ok(());
        };
        if self.slots.is_empty() {
            return Ok(());
        }
        let tr = |x: u32| {
            if is_ply(x) {
                PLY_BIT | img.node_of[(x & !PLY_BIT) as usize]
            } else {
                x
            }
        };
        for i in 0..self.root_slots() {
            if img.root[i] != tr(self.slots[i]) {
                return Err(format!(
                    "root slot {i}: image {:#x}, slots {:#x}",
                    img.root[i], self.slots[i]
                ));
            }
        }
        let mut used = 1; // the dummy line
        for c in self.root_slots() >> 8..self.depth.len() {
            if self.depth[c] == 0 {
                continue;
            }
            let node = img.node_of[c];
            if node == NONE {
                return Err(format!("live chunk {c} has no node"));
            }
            used += Image::lines_for(img.entries(node));
            for b in 0..256 {
                let got = image_next(&img.lines, PLY_BIT | node, b);
                let want = tr(self.slots[(c << 8) + b]);
                if got != want {
                    return Err(format!(
                        "chunk {c} byte {b}: image {got:#x}, slots {want:#x}"
                    ));
                }
            }
        }
        let free: usize = img.free.iter().enumerate().map(|(n, f)| n * f.len()).sum();
        if used + free != img.lines.len() {
            return Err(format!(
                "{used} lines used + {free} free != {}",
                img.lines.len()
            ));
        }
        Ok(())
    }
}
