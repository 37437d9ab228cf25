//! The TPACKET_V3 receive ring: a shared mapping of `block_count` blocks the
//! kernel fills with packets and hands over one block at a time.
//!
//! Ownership of a block is its `block_status` word: `TP_STATUS_KERNEL` (0)
//! while the kernel may write it, `TP_STATUS_USER` once the kernel has
//! retired it (full, or `block_timeout` after its first packet). The reader
//! walks the retired blocks in ring order and gives each back by storing
//! `TP_STATUS_KERNEL` (release) once every packet in it was copied. Reading
//! the status uses acquire ordering, so the packet bytes written before the
//! kernel's status store are visible.
//!
//! The socket has `PACKET_VNET_HDR` on (set before the ring: the kernel
//! refuses it afterwards with `EBUSY`), so the kernel writes a
//! `virtio_net_hdr` in the [`VNET_HDR_LEN`] bytes just before each frame
//! (`tp_mac - 10`): what the sender left to offload (see `offload.rs`).
//!
//! Offsets and lengths inside a block come from the kernel; they are still
//! checked against the block size before any byte is read, so a
//! misbehaving kernel (or a misunderstanding here) is a counted reject, never
//! an out-of-bounds read.

use std::io;
use std::mem::size_of;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};

use super::offload::{VnetHdr, VNET_HDR_LEN};
use super::sys::{self, SyscallError};

/// Offset of `tpacket_block_desc.hdr.bh1` fields within a block.
const BD_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_FIRST_PKT: usize = 16;
/// Bytes of `tpacket_block_desc` (version, offset to private data, `bh1`)
/// that are read; a ring's blocks are at least this long (`setup` checks).
const BLOCK_DESC_LEN: usize = 48;

/// Where the `sockaddr_ll` follows each packet header, and its `sll_pkttype`.
const SLL_OFFSET: usize = (size_of::<libc::tpacket3_hdr>() + 15) & !15;
const SLL_PKTTYPE: usize = 10;
/// The smallest `tp_mac` that leaves room for the packet header, the
/// `sockaddr_ll` and the `virtio_net_hdr` in front of the frame.
const MIN_MAC_OFFSET: usize = SLL_OFFSET + size_of::<libc::sockaddr_ll>() + VNET_HDR_LEN;

/// One received packet, borrowed from a block the reader owns.
pub(super) struct RxPacket<'a> {
    /// The frame as captured (without the VLAN tag the kernel stripped).
    pub data: &'a [u8],
    /// Original length on the wire (`tp_len`), > `data.len()` when truncated.
    pub wire_len: u32,
    /// `tp_status` of the packet (`TP_STATUS_VLAN_VALID`, ...).
    pub status: u32,
    /// Stripped tag's TCI, valid with `TP_STATUS_VLAN_VALID`.
    pub vlan_tci: u16,
    /// Stripped tag's TPID, valid with `TP_STATUS_VLAN_TPID_VALID`.
    pub vlan_tpid: u16,
    /// Receive time, nanoseconds since the epoch.
    pub timestamp_ns: u64,
    /// `sll_pkttype` (`PACKET_HOST`, `PACKET_OUTGOING`, ...).
    pub pkttype: u8,
    /// The `virtio_net_hdr` the kernel wrote in front of the frame.
    pub vnet: VnetHdr,
}

/// A mapped TPACKET_V3 RX ring.
pub(super) struct RxRing {
    base: *mut u8,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    /// Block the reader is at. Invariant: `block < block_count` (0 at
    /// set-up, advanced modulo `block_count` in `release_if_done`, written
    /// nowhere else), which is what makes [`RxRing::block_start`] sound.
    block: usize,
    /// True while `block` is owned by the reader and partly read.
    open: bool,
    /// Packets left in the open block.
    remaining: u32,
    /// Offset of the next packet in the open block.
    next: usize,
    /// Packets whose header failed the bounds checks (block given back).
    pub malformed: u64,
}

// SAFETY: the mapping is owned by this value alone (no other Rust value
// points into it) and is only touched through `&mut self`; moving it to
// another thread moves that exclusive access with it. The kernel side is
// synchronised through the status words, independent of the thread.
unsafe impl Send for RxRing {}

impl RxRing {
    /// Configures `fd` with a TPACKET_V3 RX ring of the given geometry
    /// (frames preceded by a `virtio_net_hdr`) and maps it. Errors name the
    /// step that failed.
    pub(super) fn setup(
        fd: &OwnedFd,
        block_size: u32,
        block_count: u32,
        frame_size: u32,
        block_timeout_ms: u32,
    ) -> Result<Self, SyscallError> {
        if (block_size as usize) < BLOCK_DESC_LEN || block_count == 0 {
            // The kernel refuses such a geometry too; checked here so that
            // the block descriptor reads below are in bounds by construction.
            return Err(SyscallError::new(
                "setsockopt(PACKET_RX_RING)",
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let one: libc::c_int = 1;
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &one)
            .map_err(|e| SyscallError::new("setsockopt(PACKET_VNET_HDR)", e))?;
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(|e| SyscallError::new("setsockopt(PACKET_VERSION, TPACKET_V3)", e))?;
        let req = libc::tpacket_req3 {
            tp_block_size: block_size,
            tp_block_nr: block_count,
            tp_frame_size: frame_size,
            tp_frame_nr: (block_size / frame_size) * block_count,
            tp_retire_blk_tov: block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
            .map_err(|e| SyscallError::new("setsockopt(PACKET_RX_RING)", e))?;
        let map_len = block_size as usize * block_count as usize;
        let base =
            sys::mmap_ring(fd, map_len).map_err(|e| SyscallError::new("mmap of the RX ring", e))?;
        Ok(Self {
            base,
            map_len,
            block_size: block_size as usize,
            block_count: block_count as usize,
            block: 0,
            open: false,
            remaining: 0,
            next: 0,
            malformed: 0,
        })
    }

    /// Start of the block the reader is at (`self.block`). Safe because of
    /// the invariant on `block` (always `< block_count`): there is no index
    /// argument a caller could get wrong.
    fn block_start(&self) -> *mut u8 {
        // SAFETY: `self.block < self.block_count` (field invariant), so
        // `block * block_size < map_len`: the offset stays inside the single
        // mapping `base .. base + map_len` made in `setup`.
        unsafe { self.base.add(self.block * self.block_size) }
    }

    /// The status word of the block the reader is at, shared with the kernel.
    fn status(&self) -> &AtomicU32 {
        // SAFETY: the word is at offset BD_STATUS < BLOCK_DESC_LEN <=
        // block_size (checked in `setup`) of the current block, so inside the
        // mapping; 4-aligned (blocks are page-aligned); it lives as long as
        // `self`, and the kernel accesses it atomically (it is the hand-over
        // word of the TPACKET_V3 protocol).
        unsafe { AtomicU32::from_ptr(self.block_start().add(BD_STATUS).cast()) }
    }

    /// Reads the `u32` field of the current block's descriptor at `OFF`
    /// (a `BD_*` offset). The offset is a constant checked at compile time
    /// against [`BLOCK_DESC_LEN`], which `setup` guarantees is `<= block_size`.
    fn desc_u32<const OFF: usize>(&self) -> u32 {
        const { assert!(OFF + 4 <= BLOCK_DESC_LEN) };
        // SAFETY: `OFF + 4 <= BLOCK_DESC_LEN <= block_size` (const assert
        // above, `setup`), so in bounds of the current block; the reader
        // only calls this once the block's status is USER, so the kernel
        // does not write it concurrently; read_unaligned needs no alignment.
        unsafe { self.block_start().add(OFF).cast::<u32>().read_unaligned() }
    }

    /// Gives the open block back to the kernel if all its packets were read.
    pub(super) fn release_if_done(&mut self) {
        if self.open && self.remaining == 0 {
            self.status()
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.open = false;
            self.block = (self.block + 1) % self.block_count;
        }
    }

    /// The next received packet, or `None` when the ring holds no retired
    /// block. Never blocks. The packet borrows the ring until the next call.
    pub(super) fn next_packet(&mut self) -> Option<RxPacket<'_>> {
        loop {
            self.release_if_done();
            if !self.open {
                let st = self.status().load(Ordering::Acquire);
                if st & libc::TP_STATUS_USER == 0 {
                    return None;
                }
                self.open = true;
                self.remaining = self.desc_u32::<BD_NUM_PKTS>();
                self.next = self.desc_u32::<BD_FIRST_PKT>() as usize;
                continue;
            }
            // `remaining > 0` here (release_if_done closed exhausted blocks).
            let off = self.next;
            let hdr_end = off.checked_add(SLL_OFFSET + SLL_PKTTYPE + 1);
            if hdr_end.is_none_or(|e| e > self.block_size) || !off.is_multiple_of(4) {
                self.abandon_block();
                continue;
            }
            // SAFETY: `off .. off + size_of::<tpacket3_hdr>()` is inside the
            // block (checked above, SLL_OFFSET >= the header size); the block
            // is ours (status USER); read_unaligned needs no alignment.
            let h: libc::tpacket3_hdr = unsafe {
                self.block_start()
                    .add(off)
                    .cast::<libc::tpacket3_hdr>()
                    .read_unaligned()
            };
            let start = off + h.tp_mac as usize;
            let end = start + h.tp_snaplen as usize;
            if end > self.block_size || (h.tp_mac as usize) < MIN_MAC_OFFSET {
                self.abandon_block();
                continue;
            }
            // SAFETY: in bounds (checked above); plain byte read of an owned block.
            let pkttype = unsafe { *self.block_start().add(off + SLL_OFFSET + SLL_PKTTYPE) };
            let mut vnet = [0u8; VNET_HDR_LEN];
            // SAFETY: `start - VNET_HDR_LEN .. start` is inside the block
            // (tp_mac >= MIN_MAC_OFFSET and `end` is in bounds, both checked
            // above) and after this packet's own header; plain byte copy
            // from an owned block into a local array.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.block_start().add(start - VNET_HDR_LEN),
                    vnet.as_mut_ptr(),
                    VNET_HDR_LEN,
                );
            }
            self.remaining -= 1;
            self.next = off + h.tp_next_offset as usize;
            // SAFETY: `start..end` is inside the block (checked above); the
            // block stays owned by the reader (it is given back only by a
            // later `&mut self` call), so no write happens while the slice,
            // which borrows `self`, is alive.
            let data =
                unsafe { std::slice::from_raw_parts(self.block_start().add(start), end - start) };
            return Some(RxPacket {
                data,
                wire_len: h.tp_len,
                status: h.tp_status,
                vlan_tci: h.hv1.tp_vlan_tci as u16,
                vlan_tpid: h.hv1.tp_vlan_tpid,
                timestamp_ns: u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec),
                pkttype,
                vnet: VnetHdr::from_bytes(&vnet),
            });
        }
    }

    /// Gives the open block back after a header failed its checks; its
    /// remaining packets are counted as malformed.
    fn abandon_block(&mut self) {
        self.malformed += u64::from(self.remaining.max(1));
        self.remaining = 0;
        self.release_if_done();
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are exactly the mapping made in `setup`,
        // unmapped once, here; no borrow of it can outlive `self`.
        unsafe {
            libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A geometry whose blocks cannot hold their descriptor is refused
    /// before any system call, so the descriptor reads are always in bounds.
    #[test]
    fn blocks_smaller_than_their_descriptor_are_refused() {
        let fd: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        for (block_size, block_count) in [(BLOCK_DESC_LEN as u32 - 4, 4), (4096, 0)] {
            match RxRing::setup(&fd, block_size, block_count, 16, 10) {
                Ok(_) => panic!("geometry {block_size} x {block_count} accepted"),
                Err(e) => {
                    assert_eq!(e.op, "setsockopt(PACKET_RX_RING)");
                    assert_eq!(e.source.raw_os_error(), Some(libc::EINVAL));
                }
            }
        }
    }
}
