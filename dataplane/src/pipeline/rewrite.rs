//! Header rewrites: MACs, the egress tag (push, pop or rewrite in place using
//! headroom, never copying the frame), and the TTL / hop-limit decrement with
//! the IPv4 checksum updated incrementally (RFC 1624, eqn. 3).

use crate::packet::buf::PacketBuf;
use crate::packet::ethernet::{field, EthView, TPID_8021Q};
use crate::packet::meta::Family;

/// Decrements the TTL of an IPv4 header and updates its checksum
/// incrementally (a fixed-size view: no bounds check per field).
#[inline]
pub fn decrement_ttl_v4(ip: &mut [u8; 20]) {
    use crate::packet::parse::ipv4_field::{CHECKSUM, PROTOCOL, TTL};
    // m is the 16-bit word holding TTL and protocol.
    let old = u16::from_be_bytes([ip[TTL], ip[PROTOCOL]]);
    ip[TTL] = ip[TTL].wrapping_sub(1);
    let new = u16::from_be_bytes([ip[TTL], ip[PROTOCOL]]);
    let hc = u16::from_be_bytes([ip[CHECKSUM.start], ip[CHECKSUM.start + 1]]);
    // HC' = ~(~HC + ~m + m')
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let c = (!(sum as u16)).to_be_bytes();
    ip[CHECKSUM.start] = c[0];
    ip[CHECKSUM.start + 1] = c[1];
}

/// Rewrites a routed frame for its egress: TTL/hop limit - 1, destination and
/// source MAC, and the tag (`out_vid` for a trunk egress, `None` for access;
/// PCP/DEI kept from the ingress tag). Tagged in and out (a trunk to a trunk)
/// or untagged in and out, the L2 header is rewritten in place through a
/// fixed-size view; a tag pushed or popped goes through [`set_tag`] first.
/// Returns false, with the frame unusable, if there is no headroom for a
/// tag or the frame is shorter than its parsed headers said (which parsing
/// rules out).
#[inline(always)]
pub fn rewrite_routed<B: PacketBuf>(
    buf: &mut B,
    eth: &EthView,
    family: Family,
    dst: [u8; 6],
    src: [u8; 6],
    out_vid: Option<u16>,
) -> bool {
    let off = usize::from(eth.payload_offset);
    let d = buf.data_mut();
    match family {
        Family::V4 => match d.get_mut(off..off + 20).map(<&mut [u8; 20]>::try_from) {
            Some(Ok(ip)) => decrement_ttl_v4(ip),
            _ => return false,
        },
        Family::V6 => match d.get_mut(off + 7) {
            Some(hop_limit) => *hop_limit = hop_limit.wrapping_sub(1),
            None => return false,
        },
        Family::None => {}
    }
    let tci = match (eth.tci, out_vid) {
        (Some(tci), Some(vid)) => Some((tci & 0xf000) | vid),
        (None, None) => None,
        _ => {
            if !set_tag(buf, eth.tci, out_vid) {
                return false;
            }
            None
        }
    };
    // Every routed frame holds at least an Ethernet header and an IP
    // header, so 16 bytes are there.
    let Some(Ok(l2)) = buf.data_mut().get_mut(..16).map(<&mut [u8; 16]>::try_from) else {
        return false;
    };
    l2[field::DST].copy_from_slice(&dst);
    l2[field::SRC].copy_from_slice(&src);
    if let Some(tci) = tci {
        l2[field::ETHERTYPE].copy_from_slice(&TPID_8021Q.to_be_bytes());
        l2[field::TCI].copy_from_slice(&tci.to_be_bytes());
    }
    true
}

/// Makes the frame's outermost tag match the egress: rewrite it, push one,
/// pop it or leave the frame untagged. The MAC bytes are moved along (so L2
/// frames keep theirs); the EtherType and payload never move.
#[inline]
pub fn set_tag<B: PacketBuf>(buf: &mut B, in_tci: Option<u16>, out_vid: Option<u16>) -> bool {
    match (in_tci, out_vid) {
        (Some(tci), Some(vid)) => {
            let d = buf.data_mut();
            d[field::ETHERTYPE].copy_from_slice(&TPID_8021Q.to_be_bytes());
            d[field::TCI].copy_from_slice(&((tci & 0xf000) | vid).to_be_bytes());
        }
        (None, Some(vid)) => {
            if !buf.prepend(4) {
                return false;
            }
            let d = buf.data_mut();
            d.copy_within(4..16, 0);
            d[field::ETHERTYPE].copy_from_slice(&TPID_8021Q.to_be_bytes());
            d[field::TCI].copy_from_slice(&vid.to_be_bytes());
        }
        (Some(_), None) => {
            buf.data_mut().copy_within(0..12, 4);
            return buf.cut_front(4);
        }
        (None, None) => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::HeapBuf;
    use proptest::prelude::*;

    fn full_checksum(h: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for (i, c) in h.chunks(2).enumerate() {
            if i != 5 {
                s += u32::from(u16::from_be_bytes([c[0], c[1]]));
            }
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    proptest! {
        /// The incremental update equals a full recomputation for any header.
        #[test]
        fn incremental_checksum_matches_full(mut h in proptest::collection::vec(any::<u8>(), 20), ttl in 1u8..=255) {
            h[0] = 0x45;
            h[8] = ttl;
            let c = full_checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            decrement_ttl_v4((&mut h[..]).try_into().unwrap());
            prop_assert_eq!(u16::from_be_bytes([h[10], h[11]]), full_checksum(&h));
            prop_assert_eq!(h[8], ttl - 1);
        }
    }

    const MACS: [u8; 12] = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];

    #[test]
    fn push_pop_rewrite_tags() {
        let untagged = [&MACS[..], &[0x08, 0x00, 0xaa]].concat();
        let tagged = [&MACS[..], &[0x88, 0xa8, 0xa0, 0x05, 0x08, 0x00, 0xaa]].concat();

        let mut b = HeapBuf::from_frame(&untagged);
        assert!(set_tag(&mut b, None, Some(300)));
        assert_eq!(
            b.data(),
            [&MACS[..], &[0x81, 0x00, 0x01, 0x2c, 0x08, 0x00, 0xaa]].concat()
        );

        let mut b = HeapBuf::from_frame(&tagged);
        assert!(set_tag(&mut b, Some(0xa005), Some(300)));
        assert_eq!(
            b.data(),
            [&MACS[..], &[0x81, 0x00, 0xa1, 0x2c, 0x08, 0x00, 0xaa]].concat()
        );

        let mut b = HeapBuf::from_frame(&tagged);
        assert!(set_tag(&mut b, Some(0xa005), None));
        assert_eq!(b.data(), untagged.as_slice());
    }
}
