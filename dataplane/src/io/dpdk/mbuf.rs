//! [`Mbuf`]: one owned single-segment `rte_mbuf` as a [`PacketBuf`].

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use dpdk_sys as sys;
use sys::rte_mbuf;

use super::Eal;
use crate::packet::buf::PacketBuf;

/// One owned, single-segment mbuf. The frame is the mbuf's data in place
/// (`buf_addr + data_off`, `data_len` bytes): no copies.
///
/// `prepend`/`adj` edit `data_off`, `data_len` and `pkt_len` in Rust, which
/// is exactly what `rte_pktmbuf_prepend`/`adj` do for a single segment, but
/// without an out-of-line FFI call per packet (the shim cannot be inlined
/// across the language boundary). Single-segment is an invariant: the
/// backend rejects multi-segment mbufs at RX.
///
/// Dropping it returns the mbuf to its pool. It borrows the [`Eal`] so that
/// it cannot outlive `rte_eal_cleanup`.
pub struct Mbuf<'e> {
    m: NonNull<rte_mbuf>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: an Mbuf is the only owner of its mbuf, and mbufs are not tied to a
// thread: the mempool get/put behind alloc/free is multi-producer /
// multi-consumer safe from any thread (lcore or not; non-lcore threads just
// bypass the per-lcore cache). Moving ownership to another thread is fine.
unsafe impl Send for Mbuf<'_> {}

impl<'e> Mbuf<'e> {
    /// Takes ownership of `m`.
    ///
    /// # Safety
    /// `m` is a valid single-segment mbuf (`nb_segs == 1`, `next` null) with
    /// reference count 1, owned by the caller and not used by it afterwards;
    /// its pool outlives the returned value.
    #[inline]
    pub unsafe fn from_raw(m: NonNull<rte_mbuf>) -> Self {
        Self {
            m,
            _eal: PhantomData,
        }
    }

    /// Gives up ownership: the caller must free or hand over the mbuf.
    #[inline]
    pub fn into_raw(self) -> *mut rte_mbuf {
        let m = self.m.as_ptr();
        std::mem::forget(self);
        m
    }

    /// The mbuf, still owned by `self`.
    #[inline]
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.m.as_ptr()
    }

    /// Bytes of headroom in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        // SAFETY: `self.m` is a valid mbuf we own.
        usize::from(unsafe { (*self.m.as_ptr()).data_off })
    }

    /// Bytes of room after the frame.
    #[inline]
    pub fn tailroom(&self) -> usize {
        // SAFETY: `self.m` is a valid mbuf we own.
        let (buf_len, off, len) = unsafe {
            let m = self.m.as_ptr();
            ((*m).buf_len, (*m).data_off, (*m).data_len)
        };
        usize::from(buf_len).saturating_sub(usize::from(off) + usize::from(len))
    }

    /// Sets the frame to a copy of `frame` (headroom unchanged); false when it
    /// does not fit the buffer.
    pub fn set_frame(&mut self, frame: &[u8]) -> bool {
        // SAFETY: `self.m` is a valid mbuf we own.
        let room = unsafe {
            let m = self.m.as_ptr();
            usize::from((*m).buf_len).saturating_sub(usize::from((*m).data_off))
        };
        if frame.len() > room {
            return false;
        }
        let len = frame.len() as u16; // <= buf_len, a u16
                                      // SAFETY: `self.m` is ours; the data area after data_off has `room`
                                      // >= frame.len() bytes; `frame` is not inside the mbuf (we hold
                                      // `&mut self`, so no borrow of its data exists).
        unsafe {
            let m = self.m.as_ptr();
            ptr::copy_nonoverlapping(frame.as_ptr(), sys::pktmbuf_mtod(m), frame.len());
            (*m).data_len = len;
            (*m).pkt_len = u32::from(len);
        }
        true
    }
}

impl std::fmt::Debug for Mbuf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mbuf({} bytes)", self.len())
    }
}

impl PacketBuf for Mbuf<'_> {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: `self.m` is a valid single-segment mbuf we own; its data is
        // `data_len` initialised bytes at mtod, inside its buffer. The slice
        // borrows `self`, so the mbuf is neither freed nor changed meanwhile.
        unsafe {
            let m = self.m.as_ptr();
            std::slice::from_raw_parts(sys::pktmbuf_mtod(m), usize::from((*m).data_len))
        }
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; `&mut self` makes the slice the only access.
        unsafe {
            let m = self.m.as_ptr();
            std::slice::from_raw_parts_mut(sys::pktmbuf_mtod(m), usize::from((*m).data_len))
        }
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        // SAFETY: `self.m` is a valid single-segment mbuf we own; the new
        // data_off stays >= 0, so the data stays inside the buffer.
        unsafe {
            let m = self.m.as_ptr();
            let off = usize::from((*m).data_off);
            let len = usize::from((*m).data_len);
            if n > off || len + n > usize::from(u16::MAX) {
                return false;
            }
            (*m).data_off = (off - n) as u16;
            (*m).data_len = (len + n) as u16;
            (*m).pkt_len += n as u32;
        }
        true
    }

    #[inline]
    fn cut_front(&mut self, n: usize) -> bool {
        // SAFETY: `self.m` is a valid single-segment mbuf we own; n <=
        // data_len keeps the data inside the buffer.
        unsafe {
            let m = self.m.as_ptr();
            let len = usize::from((*m).data_len);
            if n > len {
                return false;
            }
            (*m).data_off += n as u16;
            (*m).data_len = (len - n) as u16;
            (*m).pkt_len -= n as u32;
        }
        true
    }

    #[inline]
    fn trim(&mut self, n: usize) -> bool {
        // SAFETY: `self.m` is a valid single-segment mbuf we own; n <=
        // data_len keeps the data inside the buffer (rte_pktmbuf_trim).
        unsafe {
            let m = self.m.as_ptr();
            let len = usize::from((*m).data_len);
            if n > len {
                return false;
            }
            (*m).data_len = (len - n) as u16;
            (*m).pkt_len -= n as u32;
        }
        true
    }

    fn replace_frame(&mut self, frame: &[u8]) -> bool {
        self.set_frame(frame)
    }

    fn try_clone(&self) -> Option<Self> {
        // SAFETY: `self.m` is valid; `pool` is the live pool it came from.
        let c = unsafe { sys::cnfwd_pktmbuf_alloc((*self.m.as_ptr()).pool) };
        let c = NonNull::new(c)?;
        // SAFETY: `c` is a fresh, reset single-segment mbuf with refcnt 1,
        // owned by us, from the same (live) pool.
        let mut copy = unsafe { Mbuf::from_raw(c) };
        if !copy.set_frame(self.data()) {
            return None; // dropping `copy` frees it
        }
        Some(copy)
    }
}

impl Drop for Mbuf<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and never use it again.
        unsafe { sys::cnfwd_pktmbuf_free(self.m.as_ptr()) };
    }
}
