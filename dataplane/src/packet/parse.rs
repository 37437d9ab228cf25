//! IP and L4 parsing over smoltcp's checked header views.
//!
//! Every length field is checked against the buffer before it is used
//! (smoltcp's `new_checked`, plus the IHL >= 5 and version checks smoltcp
//! leaves to its `Repr` layer). Malformed IP is a [`DropReason`]; L4 headers
//! are best-effort metadata and never a reason to drop.
//!
//! IPv4 is read by cnfwd's own view (named offsets in [`ipv4_field`], one
//! length check, then plain reads), because the benchmark asked for it:
//! under callgrind (`benches/examples/path_profile.rs`) smoltcp's
//! `verify_checksum` alone cost ~87 instructions per packet and its checked
//! accessors another ~70, on a path whose whole budget is ~130 cycles.
//! A property test keeps the two in agreement. IPv6 stays on smoltcp.

use smoltcp::wire::Ipv6Packet;

use crate::packet::meta::{Family, Meta};
use crate::pipeline::drop::DropReason;

const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_DSTOPTS: u8 = 60;
const IPPROTO_MOBILITY: u8 = 135;
/// Extension headers walked before giving up on finding L4.
const MAX_EXT_HEADERS: usize = 8;

/// Byte offsets of the IPv4 header fields cnfwd reads.
pub mod ipv4_field {
    use std::ops::Range;
    /// Version (high nibble) and IHL (low nibble, 32-bit words).
    pub const VER_IHL: usize = 0;
    /// Total length.
    pub const LENGTH: Range<usize> = 2..4;
    /// Flags and fragment offset.
    pub const FLG_OFF: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC_ADDR: Range<usize> = 12..16;
    /// Destination address.
    pub const DST_ADDR: Range<usize> = 16..20;
    /// Length of a header without options.
    pub const MIN_HEADER_LEN: usize = 20;
}

/// Parses the IPv4 packet at the start of `l3` into `meta`: version 4,
/// IHL >= 5, total length >= header length and within `l3`, header checksum
/// right; then the fields the pipeline needs and, for a first fragment, the
/// L4 ports.
#[inline]
pub fn parse_ipv4(l3: &[u8], meta: &mut Meta) -> Result<(), DropReason> {
    use ipv4_field as f;
    let Some(h) = l3.get(..f::MIN_HEADER_LEN) else {
        return Err(DropReason::Ip4Malformed);
    };
    let hl = usize::from(h[f::VER_IHL] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([
        h[f::LENGTH.start],
        h[f::LENGTH.start + 1],
    ]));
    if h[f::VER_IHL] >> 4 != 4 || hl < f::MIN_HEADER_LEN || total < hl || total > l3.len() {
        return Err(DropReason::Ip4Malformed);
    }
    if !ipv4_header_checksum_ok(&l3[..hl]) {
        return Err(DropReason::Ip4BadChecksum);
    }
    let d = &h[f::DST_ADDR];
    meta.family = Family::V4;
    meta.dst = u128::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
    let sa = &h[f::SRC_ADDR];
    meta.src = u128::from(u32::from_be_bytes([sa[0], sa[1], sa[2], sa[3]]));
    meta.ttl = h[f::TTL];
    meta.ip_len = total as u16;
    let proto = h[f::PROTOCOL];
    meta.proto = proto;
    let frag = u16::from_be_bytes([h[f::FLG_OFF.start], h[f::FLG_OFF.start + 1]]) & 0x1fff;
    if frag == 0 {
        meta.l4_offset = hl as u16;
        parse_l4(proto, &l3[hl..total], meta);
    }
    Ok(())
}

/// Parses the IPv6 packet at the start of `l3` into `meta`, walking
/// extension headers to find the L4 header.
#[inline]
pub fn parse_ipv6(l3: &[u8], meta: &mut Meta) -> Result<(), DropReason> {
    let ip = Ipv6Packet::new_checked(l3).map_err(|_| DropReason::Ip6Malformed)?;
    if ip.version() != 6 {
        return Err(DropReason::Ip6Malformed);
    }
    meta.family = Family::V6;
    meta.dst = u128::from(ip.dst_addr());
    meta.src = u128::from(ip.src_addr());
    meta.ttl = ip.hop_limit();
    let total = ip.total_len();
    meta.ip_len = total as u16;
    let mut next = u8::from(ip.next_header());
    let mut off = 40usize;
    let payload = &l3[..total];
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_MOBILITY => {
                payload.get(off + 1).map(|&l| (l as usize + 1) * 8)
            }
            IPPROTO_FRAGMENT => {
                // A non-first fragment carries no L4 header.
                match payload.get(off + 2..off + 4) {
                    Some(b) if u16::from_be_bytes([b[0], b[1]]) & 0xfff8 != 0 => {
                        meta.proto = IPPROTO_FRAGMENT;
                        return Ok(());
                    }
                    Some(_) => Some(8),
                    None => None,
                }
            }
            IPPROTO_AH => payload.get(off + 1).map(|&l| (l as usize + 2) * 4),
            _ => {
                meta.proto = next;
                if off <= payload.len() {
                    meta.l4_offset = off as u16;
                }
                parse_l4(next, payload.get(off..).unwrap_or(&[]), meta);
                return Ok(());
            }
        };
        match (len, payload.get(off)) {
            (Some(len), Some(&nh)) if off + len <= payload.len() => {
                next = nh;
                off += len;
            }
            // Chain runs past the packet: L4 unknown, still routable.
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// True when the one's-complement sum of an IPv4 header (checksum field
/// included) is 0xffff, i.e. its checksum is right. `header` is IHL*4 bytes,
/// so a whole number of 32-bit words.
#[inline]
pub fn ipv4_header_checksum_ok(header: &[u8]) -> bool {
    let mut sum: u64 = 0;
    for w in header.chunks_exact(4) {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    // Fold 64 -> 32 -> 16 bits with end-around carry.
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    let mut s = (sum & 0xffff) + (sum >> 16);
    s = (s & 0xffff) + (s >> 16);
    s == 0xffff
}

#[inline]
fn parse_l4(proto: u8, l4: &[u8], meta: &mut Meta) {
    match proto {
        IPPROTO_TCP | IPPROTO_UDP if l4.len() >= 4 => {
            meta.src_port = u16::from_be_bytes([l4[0], l4[1]]);
            meta.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
            if proto == IPPROTO_TCP {
                meta.tcp_flags = l4.get(13).copied().unwrap_or(0);
            }
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 if l4.len() >= 6 => {
            meta.src_port = u16::from_be_bytes([l4[0], l4[1]]);
            meta.dst_port = u16::from_be_bytes([l4[4], l4[5]]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::Ipv4Packet;

    /// IPv4/UDP 10.0.0.1:1234 -> 10.0.1.2:53, TTL 64, 4-byte payload.
    const IPV4_UDP: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
        0x00, 0x01, 0x00, 0x00, // id 1, no fragmentation
        0x40, 0x11, 0x65, 0xca, // TTL 64, UDP, checksum
        10, 0, 0, 1, // src
        10, 0, 1, 2, // dst
        0x04, 0xd2, 0x00, 0x35, // ports 1234 -> 53
        0x00, 0x0c, 0x00, 0x00, // UDP length 12, checksum 0
        1, 2, 3, 4, // payload
    ];

    fn fixed_checksum(mut p: [u8; 32]) -> [u8; 32] {
        p[10] = 0;
        p[11] = 0;
        let mut s: u32 = 0;
        for c in p[..20].chunks(2) {
            s += u16::from_be_bytes([c[0], c[1]]) as u32;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        let c = !(s as u16);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    proptest::proptest! {
        /// cnfwd's IPv4 view accepts exactly what smoltcp's checked view
        /// (plus version and IHL checks) accepts, and reads the same fields.
        #[test]
        fn ipv4_view_agrees_with_smoltcp(mut b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80), fix in proptest::prelude::any::<bool>()) {
            if fix && b.len() >= 20 {
                b[0] = 0x45;
                let len = b.len() as u16;
                b[2..4].copy_from_slice(&len.to_be_bytes());
                Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
            }
            let mut m = Meta::default();
            let ours = parse_ipv4(&b, &mut m);
            let smol = Ipv4Packet::new_checked(&b[..]).ok().filter(|p| p.version() == 4 && p.header_len() >= 20);
            match smol {
                None => proptest::prop_assert_eq!(ours, Err(DropReason::Ip4Malformed)),
                Some(p) if !p.verify_checksum() => proptest::prop_assert_eq!(ours, Err(DropReason::Ip4BadChecksum)),
                Some(p) => {
                    proptest::prop_assert_eq!(ours, Ok(()));
                    proptest::prop_assert_eq!(m.dst, u128::from(u32::from(p.dst_addr())));
                    proptest::prop_assert_eq!((m.ttl, m.ip_len, m.proto), (p.hop_limit(), p.total_len(), u8::from(p.next_header())));
                }
            }
        }

        /// The word-wise check agrees with smoltcp's on any header.
        #[test]
        fn checksum_agrees_with_smoltcp(words in proptest::collection::vec(proptest::prelude::any::<u8>(), 5..=15)) {
            let ihl = words.len();
            let mut h: Vec<u8> = (0..ihl * 4).map(|k| words[k % ihl].wrapping_mul(k as u8 + 1)).collect();
            h[0] = 0x40 | ihl as u8;
            h[2..4].copy_from_slice(&((ihl * 4) as u16).to_be_bytes());
            let smol = Ipv4Packet::new_unchecked(&h[..]).verify_checksum();
            proptest::prop_assert_eq!(ipv4_header_checksum_ok(&h), smol);
            // And with the checksum filled in, both accept it.
            let mut p = Ipv4Packet::new_unchecked(&mut h[..]);
            p.fill_checksum();
            proptest::prop_assert!(ipv4_header_checksum_ok(&h));
        }
    }

    #[test]
    fn ipv4_udp() {
        let pkt = fixed_checksum(IPV4_UDP);
        assert_eq!(
            &pkt[10..12],
            &IPV4_UDP[10..12],
            "annotated checksum is right"
        );
        let mut m = Meta::default();
        parse_ipv4(&pkt, &mut m).unwrap();
        assert_eq!(m.family, Family::V4);
        assert_eq!(m.dst, 0x0a00_0102);
        assert_eq!(
            (m.ttl, m.ip_len, m.proto, m.src_port, m.dst_port),
            (64, 32, 17, 1234, 53)
        );
    }

    #[test]
    fn ipv4_malformed() {
        let mut m = Meta::default();
        let mut bad = IPV4_UDP;
        bad[0] = 0x44; // IHL 4
        assert_eq!(
            parse_ipv4(&fixed_checksum(bad), &mut m),
            Err(DropReason::Ip4Malformed)
        );
        let mut bad = IPV4_UDP;
        bad[0] = 0x65; // version 6
        assert_eq!(
            parse_ipv4(&fixed_checksum(bad), &mut m),
            Err(DropReason::Ip4Malformed)
        );
        assert_eq!(
            parse_ipv4(&IPV4_UDP[..31], &mut m),
            Err(DropReason::Ip4Malformed)
        );
        let mut bad = IPV4_UDP;
        bad[11] ^= 1;
        assert_eq!(parse_ipv4(&bad, &mut m), Err(DropReason::Ip4BadChecksum));
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 0x40]; // hop-by-hop next, hop limit 64
        p[4..6].copy_from_slice(&(8u16 + 8 + 8).to_be_bytes()); // payload 24
        p[6] = IPPROTO_HOPOPTS;
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(4)); // src
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(4)); // dst
        p.extend_from_slice(&[IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]); // HBH, 8 bytes
        p.extend_from_slice(&[IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0]); // dest opts, 8 bytes
        p.extend_from_slice(&[0x01, 0xbb, 0x00, 0x50, 0, 0, 0, 0]); // TCP 443 -> 80 (cut)
        let mut m = Meta::default();
        parse_ipv6(&p, &mut m).unwrap();
        assert_eq!(
            (m.family, m.ttl, m.ip_len, m.proto),
            (Family::V6, 64, 64, IPPROTO_TCP)
        );
        assert_eq!((m.src_port, m.dst_port), (443, 80));
        // Payload length beyond the frame.
        assert_eq!(parse_ipv6(&p[..63], &mut m), Err(DropReason::Ip6Malformed));
        // An extension header running past the packet: routable, L4 unknown.
        p[40 + 1] = 9;
        let mut m = Meta::default();
        parse_ipv6(&p, &mut m).unwrap();
        assert_eq!((m.proto, m.src_port), (0, 0));
    }
}
