//! Finishing what the sender left to offload: partial checksums and GSO
//! super-frames, described by the `virtio_net_hdr` the kernel writes in
//! front of each received frame (`PACKET_VNET_HDR`).
//!
//! - A partial checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM`): the field at
//!   `csum_start + csum_offset` holds the pseudo-header sum; the checksum is
//!   the one's complement of the sum from `csum_start` to the end of the
//!   frame, stored there (`0` as `0xffff`, as `skb_checksum_help` does).
//!   SCTP (the transport protocol at `csum_start` is 132) gets its CRC32c.
//! - A GSO frame (TCPv4, TCPv6, UDP_L4) is cut into frames of `gso_size`
//!   payload bytes, each with a copy of the headers patched the way the
//!   kernel's software GSO patches them (`tcp_gso_segment`,
//!   `__udp_gso_segment`, `inet_gso_segment`, `ipv6_gso_segment`): IPv4
//!   total length, identification (+1 per segment) and header checksum;
//!   IPv6 payload length; TCP sequence number (+`gso_size` per segment),
//!   FIN and PSH only on the last segment, CWR only on the first when the
//!   sender marked it RFC 3168 (`VIRTIO_NET_HDR_GSO_ECN`; without that mark
//!   a CWR belongs to AccECN's ACE field and stays on every segment, as
//!   `SKB_GSO_TCP_ACCECN` makes the kernel keep it); UDP length. The L4
//!   checksum of each segment starts from the sender's pseudo-header sum,
//!   with the length term replaced (the kernel's `delta`), and is completed.
//!
//! Everything is checked before a byte is written: the headers must parse
//! (Ethernet with any in-frame tags, IPv4 without fragmentation or IPv6
//! with its extension headers) and end exactly at `csum_start`, with the
//! transport protocol the GSO type names. Tunnelled GSO (an outer UDP or
//! GRE header) fails that check and is refused, as is any other GSO type.
//! Nothing here allocates: segments go into buffers from the caller's pool
//! (which reuses the buffers the engine gives back).

use crate::packet::buf::{HeapBuf, HeapPool, PacketBuf};

/// Bytes of `struct virtio_net_hdr` (without `num_buffers`).
pub(super) const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_*` types.
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN`: the TCP sender set CWR the RFC 3168 way.
const GSO_ECN: u8 = 0x80;

/// Most segments one GSO frame may be cut into. A 64 KiB frame with TCP's
/// smallest MSS (48) makes about 1,400; more means a nonsense `gso_size`.
pub(super) const MAX_SEGMENTS: usize = 2048;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The `virtio_net_hdr` in front of a received frame (legacy layout: the
/// kernel writes it in host byte order, `vio_le()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct VnetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`, with `VIRTIO_NET_HDR_GSO_ECN`.
    pub gso_type: u8,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts, from the start of the frame.
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Reads the header bytes the kernel wrote.
    pub(super) fn from_bytes(b: &[u8; VNET_HDR_LEN]) -> Self {
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        // Bytes 2..4 are `hdr_len`: the kernel sets it to the skb's linear
        // length, which says nothing reliable about the headers; unused.
        Self {
            flags: b[0],
            gso_type: b[1],
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        }
    }

    /// True when the frame is a GSO super-frame.
    pub(super) fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }

    /// True when the frame's checksum was left for cnfwd to finish.
    pub(super) fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }
}

/// Why a frame's offload metadata could not be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OffloadError {
    /// `csum_start`/`csum_offset` point outside the frame.
    ChecksumOutOfFrame,
    /// A GSO type cnfwd does not segment (legacy UFO, unknown).
    UnsupportedGso(u8),
    /// The headers do not parse as the GSO type says (or are tunnelled).
    BadHeaders,
    /// `gso_size` is zero or cuts the frame into more than [`MAX_SEGMENTS`].
    BadGsoSize,
}

// ------------------------------------------------------------ checksums

/// One's complement sum of `data` (as big-endian 16-bit words, an odd last
/// byte padded) added to `sum`, unfolded.
fn sum_bytes(data: &[u8], mut sum: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let (s, carry) = sum.overflowing_add(v);
        sum = s + u64::from(carry);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        let (s, carry) = sum.overflowing_add(u64::from_be_bytes(last));
        sum = s + u64::from(carry);
    }
    sum
}

/// Folds an unfolded sum to 16 bits (not complemented).
fn fold(mut sum: u64) -> u16 {
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

fn get16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn put16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The IPv4 header checksum of `d[l3..l3 + ihl]`, written in place.
fn ipv4_header_checksum(d: &mut [u8], l3: usize, ihl: usize) {
    put16(d, l3 + 10, 0);
    let c = !fold(sum_bytes(&d[l3..l3 + ihl], 0));
    put16(d, l3 + 10, c);
}

/// Castagnoli CRC table (reflected polynomial 0x82f63b78).
const CRC32C: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC32c of `data` (initial and final value all ones), as SCTP uses it.
fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC32C[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Completes the partial checksum of `frame`: the field at `start + offset`
/// (which holds the pseudo-header sum) becomes the checksum of
/// `frame[start..]`; SCTP's CRC32c when SCTP is the transport at `start`.
pub(super) fn complete_checksum(
    frame: &mut [u8],
    start: usize,
    offset: usize,
) -> Result<(), OffloadError> {
    let field = start
        .checked_add(offset)
        .filter(|&f| f + 2 <= frame.len())
        .ok_or(OffloadError::ChecksumOutOfFrame)?;
    if offset == 8
        && field + 4 <= frame.len()
        && transport_at(frame, start).is_some_and(|(p, _)| p == IPPROTO_SCTP)
    {
        frame[field..field + 4].fill(0);
        let c = crc32c(&frame[start..]);
        frame[field..field + 4].copy_from_slice(&c.to_le_bytes());
        return Ok(());
    }
    let c = !fold(sum_bytes(&frame[start..], 0));
    put16(frame, field, if c == 0 { 0xffff } else { c });
    Ok(())
}

// ------------------------------------------------------------ headers

/// Network layer of a frame: the EtherType and where its header starts,
/// after any VLAN tags still in the frame.
fn network(frame: &[u8]) -> Option<(u16, usize)> {
    let mut at = 12;
    loop {
        let t = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
        if matches!(t, 0x8100 | 0x88a8 | 0x9100) {
            at += 4;
        } else {
            return Some((t, at + 2));
        }
    }
}

/// The transport protocol whose header starts at `l4` (which must be
/// where the IP header chain ends), with the network layer's offset.
fn transport_at(frame: &[u8], l4: usize) -> Option<(u8, L3)> {
    let (ethertype, l3) = network(frame)?;
    match ethertype {
        ETH_P_IP => {
            let h = frame.get(l3..l3 + 20)?;
            let ihl = usize::from(h[0] & 0x0f) * 4;
            // Not a fragment: MF clear and offset zero.
            let frag = get16(h, 6) & 0x3fff;
            (h[0] >> 4 == 4 && ihl >= 20 && l3 + ihl == l4 && frag == 0)
                .then_some((h[9], L3::V4 { at: l3, ihl }))
        }
        ETH_P_IPV6 => {
            let h = frame.get(l3..l3 + 40)?;
            if h[0] >> 4 != 6 {
                return None;
            }
            let mut next = h[6];
            let mut at = l3 + 40;
            while at < l4 {
                let e = frame.get(at..at + 2)?;
                let len = match next {
                    0 | 43 | 60 => (usize::from(e[1]) + 1) * 8,
                    51 => (usize::from(e[1]) + 2) * 4,
                    // A fragment header: a fragment cannot be segmented or
                    // checksummed as a whole.
                    _ => return None,
                };
                next = e[0];
                at += len;
            }
            (at == l4).then_some((next, L3::V6 { at: l3 }))
        }
        _ => None,
    }
}

/// Where the network header is and which family it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L3 {
    V4 { at: usize, ihl: usize },
    V6 { at: usize },
}

// ------------------------------------------------------------ segmentation

/// A validated GSO frame: how to cut it and patch each segment.
#[derive(Debug, Clone, Copy)]
struct Plan {
    l3: L3,
    l4: usize,
    tcp: bool,
    /// Bytes of headers (Ethernet to the end of TCP/UDP) copied in front of
    /// every segment.
    hdr_len: usize,
    mss: usize,
    segments: usize,
    /// The sender's pseudo-header sum without its length term.
    pseudo: u64,
    /// Clear CWR after the first segment (RFC 3168 ECN).
    clear_cwr: bool,
}

impl Plan {
    fn new(frame: &[u8], vh: &VnetHdr) -> Result<Plan, OffloadError> {
        let kind = vh.gso_type & !GSO_ECN;
        let (tcp, family) = match kind {
            GSO_TCPV4 => (true, Some(ETH_P_IP)),
            GSO_TCPV6 => (true, Some(ETH_P_IPV6)),
            GSO_UDP_L4 => (false, None),
            other => return Err(OffloadError::UnsupportedGso(other)),
        };
        let l4 = usize::from(vh.csum_start);
        let (proto, l3) = transport_at(frame, l4).ok_or(OffloadError::BadHeaders)?;
        let family_ok = match (family, l3) {
            (Some(f), L3::V4 { .. }) => f == ETH_P_IP,
            (Some(f), L3::V6 { .. }) => f == ETH_P_IPV6,
            (None, _) => true,
        };
        let want = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        let csum_offset = if tcp { 16 } else { 6 };
        if !family_ok || proto != want || usize::from(vh.csum_offset) != csum_offset {
            return Err(OffloadError::BadHeaders);
        }
        let l4_hdr = if tcp {
            let doff = usize::from(*frame.get(l4 + 12).ok_or(OffloadError::BadHeaders)? >> 4) * 4;
            if doff < 20 {
                return Err(OffloadError::BadHeaders);
            }
            doff
        } else {
            8
        };
        let hdr_len = l4 + l4_hdr;
        if hdr_len > frame.len() {
            return Err(OffloadError::BadHeaders);
        }
        let mss = usize::from(vh.gso_size);
        let payload = frame.len() - hdr_len;
        if mss == 0 || payload.div_ceil(mss) > MAX_SEGMENTS {
            return Err(OffloadError::BadGsoSize);
        }
        // The field holds the pseudo-header sum for the whole L4 length
        // (the kernel's `~tcp_v4_check(skb->len, ...)`); take that length
        // out, each segment adds its own.
        let field = get16(frame, l4 + csum_offset);
        let whole = (frame.len() - l4) as u64;
        let pseudo = u64::from(field) + u64::from(!fold(whole));
        Ok(Plan {
            l3,
            l4,
            tcp,
            hdr_len,
            mss,
            segments: payload.div_ceil(mss).max(1),
            pseudo,
            clear_cwr: vh.gso_type & GSO_ECN != 0,
        })
    }

    /// Patches segment `i` (of `self.segments`), whose bytes are `d` (the
    /// headers already copied from the super-frame), and completes its
    /// checksums.
    fn patch(&self, d: &mut [u8], i: usize) {
        let last = i + 1 == self.segments;
        let l4_len = d.len() - self.l4;
        match self.l3 {
            L3::V4 { at, ihl } => {
                put16(d, at + 2, (d.len() - at) as u16);
                let id = get16(d, at + 4).wrapping_add(i as u16);
                put16(d, at + 4, id);
                ipv4_header_checksum(d, at, ihl);
            }
            L3::V6 { at } => put16(d, at + 4, (d.len() - at - 40) as u16),
        }
        let csum_offset = if self.tcp {
            let seq = u32::from_be_bytes(d[self.l4 + 4..self.l4 + 8].try_into().unwrap())
                .wrapping_add((i * self.mss) as u32);
            d[self.l4 + 4..self.l4 + 8].copy_from_slice(&seq.to_be_bytes());
            let flags = &mut d[self.l4 + 13];
            if !last {
                *flags &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 && self.clear_cwr {
                *flags &= !TCP_CWR;
            }
            16
        } else {
            put16(d, self.l4 + 4, l4_len as u16);
            6
        };
        put16(d, self.l4 + csum_offset, fold(self.pseudo + l4_len as u64));
        // In bounds: `Plan::new` checked the field is inside the headers.
        let _ = complete_checksum(d, self.l4, csum_offset);
    }
}

/// Cuts the GSO frame `frame` into segments, each a buffer from `pool`
/// handed to `emit` in order. Returns how many; on error nothing was emitted.
pub(super) fn segment(
    frame: &[u8],
    vh: &VnetHdr,
    pool: &mut HeapPool,
    mut emit: impl FnMut(HeapBuf),
) -> Result<usize, OffloadError> {
    let plan = Plan::new(frame, vh)?;
    let h = plan.hdr_len;
    for i in 0..plan.segments {
        // Segment i is the headers plus payload bytes
        // [h + i*mss, end): copy the `h` ring bytes in front of that
        // payload along with it, then put the headers over them.
        let end = (h + (i + 1) * plan.mss).min(frame.len());
        let mut b = pool.take(&frame[i * plan.mss..end]);
        let d = b.data_mut();
        if i > 0 {
            d[..h].copy_from_slice(&frame[..h]);
        }
        plan.patch(d, i);
        emit(b);
    }
    Ok(plan.segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 checksum, the slow obvious way.
    fn reference_sum(data: &[u8]) -> u32 {
        data.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum()
    }

    fn fold32(mut s: u32) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The pseudo-header sum of an L4 header at `l4` with `len` bytes.
    fn pseudo(frame: &[u8], l3: usize, v6: bool, proto: u8, len: usize) -> u32 {
        let addrs = if v6 {
            &frame[l3 + 8..l3 + 40]
        } else {
            &frame[l3 + 12..l3 + 20]
        };
        reference_sum(addrs) + u32::from(proto) + (len as u32 & 0xffff) + (len as u32 >> 16)
    }

    /// True when the L4 checksum of a (complete) frame verifies.
    fn l4_ok(frame: &[u8], l3: usize, l4: usize, v6: bool, proto: u8) -> bool {
        let len = frame.len() - l4;
        fold32(pseudo(frame, l3, v6, proto, len) + reference_sum(&frame[l4..])) == 0xffff
    }

    fn eth(ethertype: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f
    }

    fn ipv4(proto: u8, total: usize, id: u16) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 1, 0, 10, 10, 2, 0, 20,
        ];
        put16(&mut h, 2, total as u16);
        put16(&mut h, 4, id);
        ipv4_header_checksum(&mut h, 0, 20);
        h
    }

    fn ipv6(next: u8, payload: usize) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        put16(&mut h, 4, payload as u16);
        h.extend_from_slice(&[0xfd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
        h.extend_from_slice(&[0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]);
        h
    }

    fn tcp(seq: u32, flags: u8, options: usize) -> Vec<u8> {
        let mut t = vec![0x30, 0x39, 0x13, 0x89];
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 7]);
        t.push((((20 + options) / 4) as u8) << 4);
        t.push(flags);
        t.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        t.extend((0..options).map(|i| i as u8 | 1));
        t
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// Puts the partial checksum the sender's stack leaves (pseudo-header
    /// sum for the whole L4 length) into the frame.
    fn make_partial(f: &mut [u8], l3: usize, l4: usize, v6: bool, proto: u8, off: usize) {
        let len = f.len() - l4;
        let p = fold32(pseudo(f, l3, v6, proto, len));
        put16(f, l4 + off, p);
    }

    fn run(frame: &[u8], vh: &VnetHdr) -> Result<Vec<Vec<u8>>, OffloadError> {
        let mut pool = HeapPool::new();
        let mut out = Vec::new();
        let n = segment(frame, vh, &mut pool, |b| out.push(b.data().to_vec()))?;
        assert_eq!(n, out.len());
        Ok(out)
    }

    fn gso(kind: u8, mss: u16, start: usize, off: u16) -> VnetHdr {
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: kind,
            gso_size: mss,
            csum_start: start as u16,
            csum_offset: off,
        }
    }

    #[test]
    fn sums_match_the_reference() {
        for n in 0..40 {
            let d = payload(n);
            assert_eq!(
                fold(sum_bytes(&d, 0)),
                fold32(reference_sum(&d)),
                "{n} bytes"
            );
        }
        assert_eq!(fold(0x1_0000_fffe), 0xffff);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn vnet_header_reads_host_order() {
        let b = [1, 0x81, 66, 0, 0xa8, 0x05, 34, 0, 16, 0];
        let vh = VnetHdr::from_bytes(&b);
        assert_eq!(vh.flags, 1);
        assert!(vh.is_gso() && vh.needs_csum());
        if cfg!(target_endian = "little") {
            assert_eq!(vh.gso_size, 1448);
            assert_eq!((vh.csum_start, vh.csum_offset), (34, 16));
        }
        assert!(!VnetHdr::from_bytes(&[0, GSO_ECN, 0, 0, 0, 0, 0, 0, 0, 0]).is_gso());
    }

    #[test]
    fn partial_udp_and_tcp_checksums_are_completed() {
        let mut udp = eth(ETH_P_IP);
        udp.extend(ipv4(IPPROTO_UDP, 20 + 8 + 33, 1));
        udp.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 41, 0, 0]);
        udp.extend(payload(33));
        make_partial(&mut udp, 14, 34, false, IPPROTO_UDP, 6);
        assert!(!l4_ok(&udp, 14, 34, false, IPPROTO_UDP));
        complete_checksum(&mut udp, 34, 6).unwrap();
        assert!(l4_ok(&udp, 14, 34, false, IPPROTO_UDP));

        let mut t6 = eth(ETH_P_IPV6);
        t6.extend(ipv6(IPPROTO_TCP, 32 + 100));
        t6.extend(tcp(5, 0x18, 12));
        t6.extend(payload(100));
        make_partial(&mut t6, 14, 54, true, IPPROTO_TCP, 16);
        complete_checksum(&mut t6, 54, 16).unwrap();
        assert!(l4_ok(&t6, 14, 54, true, IPPROTO_TCP));

        assert_eq!(
            complete_checksum(&mut t6.clone(), 54, 200),
            Err(OffloadError::ChecksumOutOfFrame)
        );
        assert_eq!(
            complete_checksum(&mut t6.clone(), usize::MAX, 16),
            Err(OffloadError::ChecksumOutOfFrame)
        );
    }

    #[test]
    fn a_udp_checksum_of_zero_is_sent_as_all_ones() {
        // Find a payload whose checksum comes out 0, then check it is
        // written as 0xffff (0 means "no checksum" in UDP over IPv4).
        for x in 0..=u16::MAX {
            let mut f = eth(ETH_P_IP);
            f.extend(ipv4(IPPROTO_UDP, 20 + 10, 1));
            f.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 10, 0, 0]);
            f.extend_from_slice(&x.to_be_bytes());
            make_partial(&mut f, 14, 34, false, IPPROTO_UDP, 6);
            let mut g = f.clone();
            complete_checksum(&mut g, 34, 6).unwrap();
            if get16(&g, 40) == 0xffff {
                assert!(l4_ok(&g, 14, 34, false, IPPROTO_UDP));
                return;
            }
        }
        panic!("no payload sums to zero");
    }

    #[test]
    fn sctp_gets_crc32c() {
        let mut f = eth(ETH_P_IP);
        f.extend(ipv4(IPPROTO_SCTP, 20 + 12 + 16, 1));
        f.extend_from_slice(&[0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd]);
        f.extend(payload(16));
        complete_checksum(&mut f, 34, 8).unwrap();
        let mut z = f[34..].to_vec();
        z[8..12].fill(0);
        assert_eq!(f[42..46], crc32c(&z).to_le_bytes());
    }

    /// Checks segments against the super-frame: lengths, ids, sequence
    /// numbers, flags, checksums, and the payload reassembled.
    #[allow(clippy::too_many_arguments)]
    fn check_tcp_segments(
        frame: &[u8],
        segs: &[Vec<u8>],
        l3: usize,
        l4: usize,
        v6: bool,
        mss: usize,
        flags: u8,
        cwr_first_only: bool,
    ) {
        let h = l4 + usize::from(frame[l4 + 12] >> 4) * 4;
        let seq0 = u32::from_be_bytes(frame[l4 + 4..l4 + 8].try_into().unwrap());
        let mut data = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            assert!(s.len() <= h + mss);
            assert_eq!(s[..l3], frame[..l3], "Ethernet header");
            if v6 {
                assert_eq!(usize::from(get16(s, l3 + 4)), s.len() - l3 - 40);
                assert_eq!(s[l3 + 6..l3 + 40], frame[l3 + 6..l3 + 40]);
            } else {
                assert_eq!(usize::from(get16(s, l3 + 2)), s.len() - l3);
                assert_eq!(
                    get16(s, l3 + 4),
                    get16(frame, l3 + 4).wrapping_add(i as u16)
                );
                assert_eq!(
                    fold32(reference_sum(&s[l3..l3 + 20])),
                    0xffff,
                    "IPv4 checksum"
                );
            }
            let seq = u32::from_be_bytes(s[l4 + 4..l4 + 8].try_into().unwrap());
            assert_eq!(seq, seq0.wrapping_add((i * mss) as u32));
            let mut want = flags;
            if !last {
                want &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 && cwr_first_only {
                want &= !TCP_CWR;
            }
            assert_eq!(s[l4 + 13], want, "flags of segment {i}");
            assert_eq!(s[l4 + 14..l4 + 16], frame[l4 + 14..l4 + 16], "window");
            assert_eq!(s[l4 + 18..h], frame[l4 + 18..h], "urgent pointer, options");
            assert!(l4_ok(s, l3, l4, v6, IPPROTO_TCP), "TCP checksum of {i}");
            data.extend_from_slice(&s[h..]);
        }
        assert_eq!(data, frame[h..], "payload reassembled");
    }

    #[test]
    fn tcpv4_is_segmented_like_the_kernel() {
        let n = 10_000;
        let mut f = eth(ETH_P_IP);
        f.extend(ipv4(IPPROTO_TCP, 20 + 32 + n, 0xfffe));
        // FIN|PSH|ACK|CWR, sequence wrapping around.
        f.extend(tcp(u32::MAX - 3000, 0x80 | 0x10 | 0x08 | 0x01, 12));
        f.extend(payload(n));
        make_partial(&mut f, 14, 34, false, IPPROTO_TCP, 16);
        let segs = run(&f, &gso(GSO_TCPV4 | GSO_ECN, 1448, 34, 16)).unwrap();
        assert_eq!(segs.len(), n.div_ceil(1448));
        assert_eq!(segs[0].len(), 14 + 20 + 32 + 1448);
        check_tcp_segments(&f, &segs, 14, 34, false, 1448, 0x99, true);
        // Without the ECN mark (AccECN), CWR stays on every segment.
        let segs = run(&f, &gso(GSO_TCPV4, 1448, 34, 16)).unwrap();
        check_tcp_segments(&f, &segs, 14, 34, false, 1448, 0x99, false);
    }

    #[test]
    fn tcpv6_with_extension_header_and_inner_tag_is_segmented() {
        let n = 4000;
        // An 802.1Q tag left in the frame and a destination-options header.
        let mut f = vec![
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0, 0, 5, 0x86, 0xdd,
        ];
        f.extend(ipv6(60, 8 + 20 + n));
        f.extend_from_slice(&[IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0]);
        f.extend(tcp(1, 0x10, 0));
        f.extend(payload(n));
        let (l3, l4) = (18, 18 + 40 + 8);
        make_partial(&mut f, l3, l4, true, IPPROTO_TCP, 16);
        let segs = run(&f, &gso(GSO_TCPV6, 1000, l4, 16)).unwrap();
        assert_eq!(segs.len(), 4);
        check_tcp_segments(&f, &segs, l3, l4, true, 1000, 0x10, true);
    }

    #[test]
    fn udp_l4_is_cut_into_datagrams() {
        for v6 in [false, true] {
            let n = 3500;
            let mut f = eth(if v6 { ETH_P_IPV6 } else { ETH_P_IP });
            if v6 {
                f.extend(ipv6(IPPROTO_UDP, 8 + n));
            } else {
                f.extend(ipv4(IPPROTO_UDP, 20 + 8 + n, 7));
            }
            let l4 = f.len();
            f.extend_from_slice(&[0x30, 0x39, 0, 53]);
            f.extend_from_slice(&((8 + n) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
            f.extend(payload(n));
            make_partial(&mut f, 14, l4, v6, IPPROTO_UDP, 6);
            let segs = run(&f, &gso(GSO_UDP_L4, 1000, l4, 6)).unwrap();
            assert_eq!(segs.len(), 4);
            let mut data = Vec::new();
            for (i, s) in segs.iter().enumerate() {
                let len = if i == 3 { 500 } else { 1000 };
                assert_eq!(s.len(), l4 + 8 + len);
                assert_eq!(usize::from(get16(s, l4 + 4)), 8 + len, "UDP length");
                if !v6 {
                    assert_eq!(get16(s, 18), 7 + i as u16, "IPv4 id");
                    assert_eq!(fold32(reference_sum(&s[14..34])), 0xffff);
                }
                assert!(l4_ok(s, 14, l4, v6, IPPROTO_UDP), "UDP checksum of {i}");
                data.extend_from_slice(&s[l4 + 8..]);
            }
            assert_eq!(data, f[l4 + 8..]);
        }
    }

    #[test]
    fn a_frame_no_larger_than_one_segment_stays_whole() {
        let mut f = eth(ETH_P_IP);
        f.extend(ipv4(IPPROTO_TCP, 20 + 20 + 500, 3));
        f.extend(tcp(9, 0x18, 0));
        f.extend(payload(500));
        make_partial(&mut f, 14, 34, false, IPPROTO_TCP, 16);
        let segs = run(&f, &gso(GSO_TCPV4, 1448, 34, 16)).unwrap();
        assert_eq!(segs.len(), 1);
        check_tcp_segments(&f, &segs, 14, 34, false, 1448, 0x18, true);
    }

    #[test]
    fn what_cannot_be_segmented_is_refused() {
        let mut f = eth(ETH_P_IP);
        f.extend(ipv4(IPPROTO_TCP, 20 + 20 + 3000, 3));
        f.extend(tcp(9, 0x18, 0));
        f.extend(payload(3000));
        let ok = gso(GSO_TCPV4, 1448, 34, 16);
        assert!(run(&f, &ok).is_ok());
        let bad = |vh: VnetHdr| run(&f, &vh).unwrap_err();
        assert_eq!(bad(gso(3, 1448, 34, 16)), OffloadError::UnsupportedGso(3));
        assert_eq!(bad(gso(GSO_TCPV6, 1448, 34, 16)), OffloadError::BadHeaders);
        assert_eq!(bad(gso(GSO_UDP_L4, 1448, 34, 6)), OffloadError::BadHeaders);
        assert_eq!(bad(gso(GSO_TCPV4, 1448, 38, 16)), OffloadError::BadHeaders);
        assert_eq!(bad(gso(GSO_TCPV4, 0, 34, 16)), OffloadError::BadGsoSize);
        assert_eq!(bad(gso(GSO_TCPV4, 1, 34, 16)), OffloadError::BadGsoSize);
        // A fragment.
        let mut frag = f.clone();
        frag[20] |= 0x20;
        assert_eq!(run(&frag, &ok).unwrap_err(), OffloadError::BadHeaders);
        // A truncated TCP header.
        assert_eq!(run(&f[..50], &ok).unwrap_err(), OffloadError::BadHeaders);
        // Tunnelled: TCP inside UDP is not what TCPV4 at csum_start says.
        let mut tun = eth(ETH_P_IP);
        tun.extend(ipv4(IPPROTO_UDP, 20 + 8 + 40 + 100, 1));
        tun.extend_from_slice(&[0, 1, 0x12, 0xb5, 0, 148, 0, 0]);
        tun.extend(ipv4(IPPROTO_TCP, 140, 1));
        tun.extend(tcp(1, 0x10, 0));
        tun.extend(payload(100));
        assert_eq!(
            run(&tun, &gso(GSO_TCPV4, 50, 62, 16)).unwrap_err(),
            OffloadError::BadHeaders
        );
    }
}
