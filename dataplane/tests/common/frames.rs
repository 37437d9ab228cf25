//! Ethernet frames carrying IPv4 / IPv6 datagrams (UDP, TCP SYN, ICMP
//! echo), built byte by byte with correct checksums, and a reader that
//! takes such frames (and ICMP errors quoting them) apart again.
//!
//! Written here from the RFCs (791, 768, 793, 792, 8200, 4443), not with
//! cnfwd's own parser, so that tests comparing cnfwd against another
//! forwarder use an independent view of the bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum;

/// EtherType of IPv4.
pub const ETH_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_IPV6: u16 = 0x86dd;
/// EtherType of ARP.
pub const ETH_ARP: u16 = 0x0806;

/// The transport part of a test datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// UDP from `sport` to `dport`, `len` payload bytes.
    Udp { sport: u16, dport: u16, len: usize },
    /// A TCP SYN from `sport` to `dport`.
    TcpSyn { sport: u16, dport: u16 },
    /// An ICMP / ICMPv6 echo request with identifier `id`.
    Echo { id: u16, seq: u16 },
}

/// IP protocol numbers used here.
pub const PROTO_ICMP: u8 = 1;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;
/// ICMPv6.
pub const PROTO_ICMP6: u8 = 58;

/// Sum of 16-bit words of `data` (odd byte padded), not folded.
fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

/// The transport checksum of `seg` (protocol `proto`) between `src` and
/// `dst`, pseudo-header included (RFC 768 / 793 / 8200 8.1; ICMPv4 has no
/// pseudo-header).
fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if proto != PROTO_ICMP {
                pseudo.extend_from_slice(&s.octets());
                pseudo.extend_from_slice(&d.octets());
                pseudo.extend_from_slice(&[0, proto]);
                pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
            }
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&(seg.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed address families {src} -> {dst}"),
    }
    let mut s = sum16(&pseudo) + sum16(seg);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    // UDP sends a computed zero as all ones (RFC 768).
    if c == 0 && proto == PROTO_UDP {
        0xffff
    } else {
        c
    }
}

/// The transport segment of `l4` from `src` to `dst` (checksum filled in)
/// and its protocol number; payload bytes are `0x5a`.
pub fn segment(src: IpAddr, dst: IpAddr, l4: L4) -> (u8, Vec<u8>) {
    let v6 = src.is_ipv6();
    let (proto, mut seg, at) = match l4 {
        L4::Udp { sport, dport, len } => {
            let mut s = Vec::with_capacity(8 + len);
            s.extend_from_slice(&sport.to_be_bytes());
            s.extend_from_slice(&dport.to_be_bytes());
            s.extend_from_slice(&((8 + len) as u16).to_be_bytes());
            s.extend_from_slice(&[0, 0]);
            s.resize(8 + len, 0x5a);
            (PROTO_UDP, s, 6)
        }
        L4::TcpSyn { sport, dport } => {
            let mut s = Vec::with_capacity(20);
            s.extend_from_slice(&sport.to_be_bytes());
            s.extend_from_slice(&dport.to_be_bytes());
            s.extend_from_slice(&0x1000_0000u32.to_be_bytes()); // sequence
            s.extend_from_slice(&0u32.to_be_bytes()); // ack
            s.extend_from_slice(&[0x50, 0x02]); // 20-byte header, SYN
            s.extend_from_slice(&64240u16.to_be_bytes()); // window
            s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
            (PROTO_TCP, s, 16)
        }
        L4::Echo { id, seq } => {
            let mut s = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
            s.extend_from_slice(&id.to_be_bytes());
            s.extend_from_slice(&seq.to_be_bytes());
            s.extend_from_slice(b"cnfwd kernel reference");
            (if v6 { PROTO_ICMP6 } else { PROTO_ICMP }, s, 2)
        }
    };
    let c = l4_checksum(src, dst, proto, &seg);
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    (proto, seg)
}

/// An IPv4 header (no options, DF clear) with identification `id`, or an
/// IPv6 header, before `seg`; TTL / hop limit `ttl`.
pub fn datagram(src: IpAddr, dst: IpAddr, ttl: u8, id: u16, proto: u8, seg: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + seg.len()) as u16).to_be_bytes());
            h.extend_from_slice(&id.to_be_bytes());
            h.extend_from_slice(&[0, 0, ttl, proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(seg);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(seg.len() as u16).to_be_bytes());
            h.extend_from_slice(&[proto, ttl]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(seg);
            h
        }
        _ => panic!("mixed address families {src} -> {dst}"),
    }
}

/// An Ethernet frame from `src` to `dst` carrying `payload`, followed by
/// `pad` trailing bytes (`0xee`) that are not part of the datagram.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8], pad: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len() + pad);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len() + pad, 0xee);
    f
}

/// What [`read`] finds in a frame: the Ethernet header and, for IPv4 and
/// IPv6, the datagram (cut at its own length; the trailing bytes counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// EtherType (after no tag: the tests send untagged frames).
    pub ethertype: u16,
    /// The IP datagram, when the frame holds a well-formed one.
    pub ip: Option<Ip>,
}

/// One IP datagram as read from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// Protocol / next header.
    pub proto: u8,
    /// The whole datagram, header included, as long as its length field says.
    pub bytes: Vec<u8>,
    /// Where the transport header starts in `bytes`.
    pub l4_at: usize,
    /// Frame bytes after the datagram (link padding).
    pub trailing: usize,
    /// For IPv4: whether the header checksum verifies.
    pub header_ok: bool,
}

impl Ip {
    /// The transport bytes.
    pub fn l4(&self) -> &[u8] {
        &self.bytes[self.l4_at..]
    }

    /// Source and destination ports (UDP, TCP) or the echo identifier
    /// twice (ICMP / ICMPv6 echo request or reply), if present.
    pub fn ports(&self) -> Option<(u16, u16)> {
        let l4 = self.l4();
        let be = |i: usize| u16::from_be_bytes([l4[i], l4[i + 1]]);
        match self.proto {
            PROTO_UDP | PROTO_TCP if l4.len() >= 4 => Some((be(0), be(2))),
            PROTO_ICMP if l4.len() >= 8 && (l4[0] == 8 || l4[0] == 0) => Some((be(4), be(4))),
            PROTO_ICMP6 if l4.len() >= 8 && (l4[0] == 128 || l4[0] == 129) => Some((be(4), be(4))),
            _ => None,
        }
    }

    /// For an ICMP / ICMPv6 message: (type, code).
    pub fn icmp(&self) -> Option<(u8, u8)> {
        let l4 = self.l4();
        match self.proto {
            PROTO_ICMP | PROTO_ICMP6 if l4.len() >= 4 => Some((l4[0], l4[1])),
            _ => None,
        }
    }

    /// For an ICMP error (v4: unreachable, redirect, time exceeded,
    /// parameter problem; v6: types 1-4 and redirect 137): the datagram it
    /// quotes, as far as it is quoted.
    pub fn quoted(&self) -> Option<Ip> {
        let (t, _) = self.icmp()?;
        let err = match self.proto {
            PROTO_ICMP => matches!(t, 3 | 5 | 11 | 12),
            _ => matches!(t, 1..=4),
        };
        if err {
            return read_ip(self.l4().get(8..)?, true);
        }
        if self.proto == PROTO_ICMP6 && t == 137 {
            // Redirect: target, destination, then options; the
            // redirected-header option (type 4) holds the datagram.
            let mut o = &self.l4()[40.min(self.l4().len())..];
            while o.len() >= 8 && o[1] != 0 {
                let n = usize::from(o[1]) * 8;
                if o[0] == 4 {
                    return read_ip(&o[8.min(o.len())..n.min(o.len())], true);
                }
                o = &o[n.min(o.len())..];
            }
        }
        None
    }
}

/// Reads a frame; never panics, whatever the bytes.
pub fn read(frame: &[u8]) -> Option<Frame> {
    if frame.len() < 14 {
        return None;
    }
    let mac = |i: usize| <[u8; 6]>::try_from(&frame[i..i + 6]).expect("six bytes");
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = match ethertype {
        ETH_IPV4 | ETH_IPV6 => read_ip(&frame[14..], false),
        _ => None,
    };
    Some(Frame {
        dst_mac: mac(0),
        src_mac: mac(6),
        ethertype,
        ip,
    })
}

/// Reads an IP datagram at the start of `b`. `quoted`: `b` is the part of
/// a datagram an ICMP error quotes, which may stop before the datagram's
/// length says.
fn read_ip(b: &[u8], quoted: bool) -> Option<Ip> {
    match b.first()? >> 4 {
        4 if b.len() >= 20 => {
            let ihl = usize::from(b[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
            if ihl < 20 || total < ihl || b.len() < ihl || (!quoted && b.len() < total) {
                return None;
            }
            let end = total.min(b.len());
            let a = |i: usize| IpAddr::V4(Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]));
            Some(Ip {
                src: a(12),
                dst: a(16),
                ttl: b[8],
                proto: b[9],
                bytes: b[..end].to_vec(),
                l4_at: ihl,
                trailing: b.len() - end,
                header_ok: checksum(&b[..ihl]) == 0,
            })
        }
        6 if b.len() >= 40 => {
            let total = 40 + usize::from(u16::from_be_bytes([b[4], b[5]]));
            if !quoted && b.len() < total {
                return None;
            }
            let end = total.min(b.len());
            let a = |i: usize| {
                IpAddr::V6(Ipv6Addr::from(
                    <[u8; 16]>::try_from(&b[i..i + 16]).expect("16 bytes"),
                ))
            };
            Some(Ip {
                src: a(8),
                dst: a(24),
                ttl: b[7],
                proto: b[6],
                bytes: b[..end].to_vec(),
                l4_at: 40,
                trailing: b.len() - end,
                header_ok: true,
            })
        }
        _ => None,
    }
}

/// `datagram` as a router forwards it: TTL / hop limit one less and, for
/// IPv4, the header checksum recomputed.
pub fn forwarded(datagram: &[u8]) -> Vec<u8> {
    let mut d = datagram.to_vec();
    if d[0] >> 4 == 4 {
        d[8] = d[8].wrapping_sub(1);
        d[10..12].copy_from_slice(&[0, 0]);
        let ihl = usize::from(d[0] & 0xf) * 4;
        let c = checksum(&d[..ihl]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
    } else {
        d[7] = d[7].wrapping_sub(1);
    }
    d
}

/// The address a neighbour request in `frame` asks for: the target of an
/// ARP request (RFC 826) or of an IPv6 Neighbor Solicitation (RFC 4861
/// 4.3); `None` for any other frame.
pub fn resolution_target(frame: &[u8]) -> Option<IpAddr> {
    let f = read(frame)?;
    if f.ethertype == ETH_ARP {
        let arp = frame.get(14..42)?;
        // Ethernet/IPv4, request.
        if arp[0..2] == [0, 1] && arp[2..4] == [8, 0] && arp[6..8] == [0, 1] {
            return Some(IpAddr::V4(Ipv4Addr::new(
                arp[24], arp[25], arp[26], arp[27],
            )));
        }
        return None;
    }
    let ip = f.ip?;
    if ip.proto == PROTO_ICMP6 && ip.icmp() == Some((135, 0)) {
        let t = <[u8; 16]>::try_from(ip.l4().get(8..24)?).ok()?;
        return Some(IpAddr::V6(Ipv6Addr::from(t)));
    }
    None
}
