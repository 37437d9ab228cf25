//! The buffer contract every backend's packet type meets, and the heap
//! buffer the pcap and memory backends use.

/// A packet buffer owned by the pipeline while it processes it.
///
/// The frame is the contiguous bytes `data()`; a backend keeps headroom in
/// front of it so a VLAN tag can be pushed without copying the frame.
/// Implementations guarantee `data().len() == len()`, that `prepend`/`adj`
/// move only the start of the frame and `trim` only its end.
pub trait PacketBuf: Sized {
    /// The frame bytes.
    fn data(&self) -> &[u8];
    /// The frame bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the frame by `n` bytes at the front (taken from headroom).
    /// Returns false, changing nothing, if the headroom is smaller than `n`.
    fn prepend(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front (DPDK's `rte_pktmbuf_adj`; named
    /// apart from the adjacencies `adj` means in the pipeline). Returns
    /// false, changing nothing, if the frame is shorter than `n`.
    fn cut_front(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the end (link-layer padding after a
    /// datagram). Returns false, changing nothing, if the frame is shorter
    /// than `n`.
    fn trim(&mut self, n: usize) -> bool;
    /// A copy of this packet in a new buffer of the same kind (for flooding),
    /// or `None` when no buffer is available.
    fn try_clone(&self) -> Option<Self>;
    /// Replaces the frame with a copy of `frame` (a generated packet built
    /// in this buffer's place). Returns false, changing nothing, when it
    /// does not fit.
    fn replace_frame(&mut self, frame: &[u8]) -> bool;

    /// Receive time in nanoseconds when the backend records one (the pcap
    /// backend: the capture timestamp); 0 otherwise.
    fn timestamp_ns(&self) -> u64 {
        0
    }
    /// Frame length in bytes.
    #[inline]
    fn len(&self) -> usize {
        self.data().len()
    }
    /// True for a zero-length frame.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Headroom kept in front of every [`HeapBuf`] frame (room for tags).
pub const HEADROOM: usize = 64;

/// A packet in a heap allocation with [`HEADROOM`] bytes in front.
///
/// Used by the pcap and memory backends, where packets come from files or
/// tests rather than NIC rings.
#[derive(Clone, PartialEq, Eq)]
pub struct HeapBuf {
    storage: Box<[u8]>,
    start: usize,
    end: usize,
    /// Receive time in nanoseconds (capture timestamp for the pcap backend);
    /// carried unchanged to TX, copied by `try_clone`.
    pub timestamp_ns: u64,
}

impl HeapBuf {
    /// A buffer holding a copy of `frame`.
    pub fn from_frame(frame: &[u8]) -> Self {
        let mut storage = vec![0u8; HEADROOM + frame.len()].into_boxed_slice();
        storage[HEADROOM..].copy_from_slice(frame);
        let end = storage.len();
        Self {
            storage,
            start: HEADROOM,
            end,
            timestamp_ns: 0,
        }
    }

    /// Replaces the frame with a copy of `frame`, reusing the allocation when
    /// it is large enough.
    pub fn set_frame(&mut self, frame: &[u8]) {
        if self.storage.len() < HEADROOM + frame.len() {
            let ts = self.timestamp_ns;
            *self = Self::from_frame(frame);
            self.timestamp_ns = ts;
            return;
        }
        let end = self.storage.len();
        self.start = end - frame.len();
        self.end = end;
        self.storage[self.start..].copy_from_slice(frame);
    }
}

impl std::fmt::Debug for HeapBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeapBuf({} bytes)", self.len())
    }
}

impl PacketBuf for HeapBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }

    #[inline]
    fn len(&self) -> usize {
        self.end - self.start
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.end]
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }

    #[inline]
    fn cut_front(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }

    #[inline]
    fn trim(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }

    fn timestamp_ns(&self) -> u64 {
        self.timestamp_ns
    }

    fn replace_frame(&mut self, frame: &[u8]) -> bool {
        self.set_frame(frame);
        true
    }

    fn try_clone(&self) -> Option<Self> {
        let mut c = Self::from_frame(self.data());
        c.timestamp_ns = self.timestamp_ns;
        Some(c)
    }
}

/// A bounded free list of [`HeapBuf`]s, so backends that copy frames in
/// (pcap, AF_PACKET) reuse allocations instead of making one per packet.
#[derive(Debug, Default)]
pub struct HeapPool {
    free: Vec<HeapBuf>,
}

impl HeapPool {
    /// Buffers kept for reuse at most; beyond that, returned ones are freed.
    pub const MAX: usize = 4096;

    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer holding a copy of `frame`: a reused one when available.
    pub fn take(&mut self, frame: &[u8]) -> HeapBuf {
        match self.free.pop() {
            Some(mut b) => {
                b.set_frame(frame);
                b
            }
            None => HeapBuf::from_frame(frame),
        }
    }

    /// Gives a buffer back for reuse (freed if the pool is full).
    pub fn put(&mut self, buf: HeapBuf) {
        if self.free.len() < Self::MAX {
            self.free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_and_adj_move_the_start_only() {
        let mut b = HeapBuf::from_frame(&[1, 2, 3, 4]);
        assert!(b.prepend(4));
        b.data_mut()[..4].copy_from_slice(&[9, 9, 9, 9]);
        assert_eq!(b.data(), &[9, 9, 9, 9, 1, 2, 3, 4]);
        assert!(b.cut_front(6));
        assert_eq!(b.data(), &[3, 4]);
        assert!(!b.cut_front(3));
        assert_eq!(b.data(), &[3, 4]);
        assert!(!b.prepend(HEADROOM + 10));
        assert!(b.trim(1));
        assert_eq!(b.data(), &[3]);
        assert!(!b.trim(2));
        assert_eq!(b.data(), &[3]);
        b.set_frame(&[7]);
        assert_eq!(b.data(), &[7]);
    }

    #[test]
    fn pool_reuses_and_bounds() {
        let mut pool = HeapPool::new();
        let b = pool.take(&[1, 2, 3]);
        assert_eq!(b.data(), &[1, 2, 3]);
        pool.put(b);
        let b = pool.take(&[9]);
        assert_eq!(b.data(), &[9], "a reused buffer holds only the new frame");
        for _ in 0..HeapPool::MAX + 10 {
            pool.put(HeapBuf::from_frame(&[0]));
        }
        assert_eq!(pool.free.len(), HeapPool::MAX);
    }
}
