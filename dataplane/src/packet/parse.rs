//! IP and L4 parsing over smoltcp's checked header views.
//!
//! Every length field is checked against the buffer before it is used
//! (smoltcp's `new_checked`, plus the IHL >= 5 and version checks smoltcp
//! leaves to its `Repr` layer). Malformed IP is a [`DropReason`]; L4 headers
//! are best-effort metadata and never a reason to drop.

use smoltcp::wire::{Ipv4Packet, Ipv6Packet};

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

/// Parses the IPv4 packet at the start of `l3` into `meta`.
#[inline]
pub fn parse_ipv4(l3: &[u8], meta: &mut Meta) -> Result<(), DropReason> {
    let ip = Ipv4Packet::new_checked(l3).map_err(|_| DropReason::Ip4Malformed)?;
    if ip.version() != 4 || ip.header_len() < 20 {
        return Err(DropReason::Ip4Malformed);
    }
    if !ip.verify_checksum() {
        return Err(DropReason::Ip4BadChecksum);
    }
    meta.family = Family::V4;
    meta.dst = u32::from(ip.dst_addr()) as u128;
    meta.ttl = ip.hop_limit();
    meta.ip_len = ip.total_len();
    let proto = u8::from(ip.next_header());
    meta.proto = proto;
    if ip.frag_offset() == 0 {
        let hl = ip.header_len() as usize;
        let l4 = &l3[hl..ip.total_len() as usize];
        parse_l4(proto, l4, meta);
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

#[inline]
fn parse_l4(proto: u8, l4: &[u8], meta: &mut Meta) {
    match proto {
        IPPROTO_TCP | IPPROTO_UDP if l4.len() >= 4 => {
            meta.src_port = u16::from_be_bytes([l4[0], l4[1]]);
            meta.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
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
