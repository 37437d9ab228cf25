//! The frames the slow path reads and writes: ARP (RFC 826), Neighbour
//! Discovery (RFC 4861), ICMP echo and errors (RFC 792, RFC 1812 4.3.2,
//! RFC 4443), byte-exact as `docs/slow-path.md` specifies.
//!
//! Why not smoltcp's `Repr` emitters: an ICMP error must quote the offending
//! packet's bytes as received (options, odd flags and all), while
//! `Icmpv4Repr::DstUnreachable` re-emits a parsed `Ipv4Repr` header; and the
//! replies here are written into a buffer that already holds the request.
//! The builders below write into a caller's scratch array and never
//! allocate. The checksums are here because smoltcp's `ip::checksum` module
//! is private to it; the unit tests check them against fixed vectors.
//! Parsers return `None` on anything short or inconsistent (never panic).

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// ff02::1, all nodes.
pub const ALL_NODES: u128 = 0xff02_0000_0000_0000_0000_0000_0000_0001;

/// ICMPv6 type: echo request.
pub const ICMP6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 type: echo reply.
pub const ICMP6_ECHO_REPLY: u8 = 129;
/// ICMPv6 type: Neighbour Solicitation.
pub const ND_NS: u8 = 135;
/// ICMPv6 type: Neighbour Advertisement.
pub const ND_NA: u8 = 136;

/// The modified-EUI-64 link-local address of `mac` (RFC 4291 2.5.1).
pub fn link_local(mac: [u8; 6]) -> u128 {
    let iid = [
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ];
    (0xfe80u128 << 112) | u128::from(u64::from_be_bytes(iid))
}

/// The solicited-node multicast address of `ip` (RFC 4291 2.7.1).
pub fn solicited_node(ip: u128) -> u128 {
    0xff02_0000_0000_0000_0000_0001_ff00_0000 | (ip & 0xff_ffff)
}

/// The Ethernet multicast MAC of an IPv6 multicast address (RFC 2464 7).
pub fn multicast_mac(ip: u128) -> [u8; 6] {
    let b = (ip as u32).to_be_bytes();
    [0x33, 0x33, b[0], b[1], b[2], b[3]]
}

/// Writes an Ethernet header (with an 802.1Q tag when `vid` is given, PCP
/// 0) at the start of `out`; returns its length.
pub fn ethernet(out: &mut [u8], dst: [u8; 6], src: [u8; 6], vid: Option<u16>, et: u16) -> usize {
    out[0..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    match vid {
        Some(v) => {
            out[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
            out[14..16].copy_from_slice(&(v & 0x0fff).to_be_bytes());
            out[16..18].copy_from_slice(&et.to_be_bytes());
            18
        }
        None => {
            out[12..14].copy_from_slice(&et.to_be_bytes());
            14
        }
    }
}

/// An Ethernet/IPv4 ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: u32,
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: u32,
}

impl Arp {
    /// Parses the 28 bytes of an Ethernet/IPv4 ARP message.
    pub fn parse(b: &[u8]) -> Option<Arp> {
        let b = b.get(..28)?;
        if b[0..2] != [0, 1] || b[2..4] != [8, 0] || b[4] != 6 || b[5] != 4 {
            return None;
        }
        let mac = |r: &[u8]| [r[0], r[1], r[2], r[3], r[4], r[5]];
        let ip = |r: &[u8]| u32::from_be_bytes([r[0], r[1], r[2], r[3]]);
        Some(Arp {
            op: u16::from_be_bytes([b[6], b[7]]),
            sha: mac(&b[8..14]),
            spa: ip(&b[14..18]),
            tha: mac(&b[18..24]),
            tpa: ip(&b[24..28]),
        })
    }

    /// Writes the message (28 bytes) at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> usize {
        out[0..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 0]);
        out[6..8].copy_from_slice(&self.op.to_be_bytes());
        out[8..14].copy_from_slice(&self.sha);
        out[14..18].copy_from_slice(&self.spa.to_be_bytes());
        out[18..24].copy_from_slice(&self.tha);
        out[24..28].copy_from_slice(&self.tpa.to_be_bytes());
        28
    }
}

/// One's-complement sum of `data` as 16-bit big-endian words (an odd last
/// byte padded with zero), folded to 16 bits.
fn ones_sum(data: &[u8], mut sum: u64) -> u16 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        sum += u64::from(*b) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The Internet checksum of `data` (RFC 1071): 0 when `data` holds a right
/// checksum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !ones_sum(data, 0)
}

/// The one's-complement sum of the IPv6 pseudo-header (RFC 8200 8.1) for an
/// upper-layer message of `len` bytes with next header `next`.
fn pseudo_sum6(src: u128, dst: u128, next: u8, len: usize) -> u64 {
    let mut sum = 0u64;
    for a in [src, dst] {
        for w in a.to_be_bytes().chunks_exact(2) {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
    }
    sum + (len as u64 >> 16) + (len as u64 & 0xffff) + u64::from(next)
}

/// Writes a 20-byte IPv4 header (no options) at the start of `out`.
#[allow(clippy::too_many_arguments)]
pub fn ipv4_header(
    out: &mut [u8],
    tos: u8,
    id: u16,
    flags_frag: u16,
    ttl: u8,
    proto: u8,
    src: u32,
    dst: u32,
    payload_len: usize,
) -> usize {
    out[0] = 0x45;
    out[1] = tos;
    out[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    out[4..6].copy_from_slice(&id.to_be_bytes());
    out[6..8].copy_from_slice(&flags_frag.to_be_bytes());
    out[8] = ttl;
    out[9] = proto;
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(&src.to_be_bytes());
    out[16..20].copy_from_slice(&dst.to_be_bytes());
    let c = internet_checksum(&out[..20]);
    out[10..12].copy_from_slice(&c.to_be_bytes());
    20
}

/// Writes a 40-byte IPv6 header at the start of `out`; `vtcfl` is the first
/// 32-bit word (version, traffic class, flow label).
pub fn ipv6_header(
    out: &mut [u8],
    vtcfl: u32,
    next: u8,
    hop: u8,
    src: u128,
    dst: u128,
    payload_len: usize,
) -> usize {
    out[0..4].copy_from_slice(&((6u32 << 28) | (vtcfl & 0x0fff_ffff)).to_be_bytes());
    out[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    out[6] = next;
    out[7] = hop;
    out[8..24].copy_from_slice(&src.to_be_bytes());
    out[24..40].copy_from_slice(&dst.to_be_bytes());
    40
}

/// Fills the ICMPv6 checksum (bytes 2..4) of the message `icmp` sent from
/// `src` to `dst` (RFC 4443 2.3).
pub fn fill_icmp6_checksum(icmp: &mut [u8], src: u128, dst: u128) {
    icmp[2..4].copy_from_slice(&[0, 0]);
    let sum = ones_sum(icmp, pseudo_sum6(src, dst, 58, icmp.len()));
    icmp[2..4].copy_from_slice(&(!sum).to_be_bytes());
}

/// True when the ICMPv6 message `icmp` from `src` to `dst` has a right
/// checksum.
pub fn icmp6_checksum_ok(icmp: &[u8], src: u128, dst: u128) -> bool {
    ones_sum(icmp, pseudo_sum6(src, dst, 58, icmp.len())) == 0xffff
}

/// Writes an IPv6 Neighbour Solicitation (IPv6 header + 32 bytes) for
/// `target` from `src` (with a source link-layer option `mac`) to `dst`;
/// returns its length (72).
pub fn ns(out: &mut [u8], src: u128, dst: u128, target: u128, mac: [u8; 6]) -> usize {
    nd_message(out, ND_NS, 0, src, dst, target, 1, mac)
}

/// Writes an IPv6 Neighbour Advertisement (flags R, S, O as given in
/// `flags`' top 3 bits) with a target link-layer option; returns 72.
pub fn na(out: &mut [u8], src: u128, dst: u128, target: u128, flags: u8, mac: [u8; 6]) -> usize {
    nd_message(out, ND_NA, flags, src, dst, target, 2, mac)
}

#[allow(clippy::too_many_arguments)]
fn nd_message(
    out: &mut [u8],
    typ: u8,
    flags: u8,
    src: u128,
    dst: u128,
    target: u128,
    opt: u8,
    mac: [u8; 6],
) -> usize {
    ipv6_header(out, 0, 58, 255, src, dst, 32);
    let m = &mut out[40..72];
    m.fill(0);
    m[0] = typ;
    m[4] = flags;
    m[8..24].copy_from_slice(&target.to_be_bytes());
    m[24] = opt;
    m[25] = 1;
    m[26..32].copy_from_slice(&mac);
    fill_icmp6_checksum(m, src, dst);
    72
}

/// A parsed and validated Neighbour Solicitation or Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdMessage {
    /// [`ND_NS`] or [`ND_NA`].
    pub typ: u8,
    /// NA flags byte (R, S, O in the top bits).
    pub flags: u8,
    /// The target address.
    pub target: u128,
    /// The source (NS) or target (NA) link-layer address option.
    pub lladdr: Option<[u8; 6]>,
}

/// Validates an NS or NA (RFC 4861 7.1.1 / 7.1.2): hop limit 255, code 0,
/// at least 24 bytes, a right checksum, a unicast target, options of
/// non-zero length inside the message, no source link-layer option from ::.
/// `ip` is the whole IPv6 packet, `icmp` its ICMPv6 message.
pub fn parse_nd(hop_limit: u8, src: u128, dst: u128, icmp: &[u8]) -> Option<NdMessage> {
    if hop_limit != 255 || icmp.len() < 24 || icmp[1] != 0 {
        return None;
    }
    let typ = icmp[0];
    if typ != ND_NS && typ != ND_NA {
        return None;
    }
    if !icmp6_checksum_ok(icmp, src, dst) {
        return None;
    }
    let target = u128::from_be_bytes(icmp[8..24].try_into().ok()?);
    if target >> 120 == 0xff {
        return None;
    }
    let want = if typ == ND_NS { 1 } else { 2 };
    let mut lladdr = None;
    let mut opts = &icmp[24..];
    while !opts.is_empty() {
        let len = usize::from(*opts.get(1)?) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == want && len >= 8 {
            lladdr = Some([opts[2], opts[3], opts[4], opts[5], opts[6], opts[7]]);
        }
        opts = &opts[len..];
    }
    if typ == ND_NS
        && src == 0
        && (lladdr.is_some() || dst & !0xff_ffff != 0xff02_0000_0000_0000_0000_0001_ff00_0000)
    {
        return None;
    }
    if typ == ND_NA && dst >> 120 == 0xff && icmp[4] & 0x40 != 0 {
        // A solicited NA is never sent to a multicast address.
        return None;
    }
    let flags = icmp[4];
    Some(NdMessage {
        typ,
        flags,
        target,
        lladdr,
    })
}

/// Writes an ICMPv4 error (IPv4 header + 8-byte ICMP header + quote) from
/// `src` to `dst`; the quote is `offending` cut so the packet is at most
/// 576 bytes. Returns the IP packet's length.
pub fn icmp4_error(
    out: &mut [u8],
    typ: u8,
    code: u8,
    aux: u32,
    src: u32,
    dst: u32,
    offending: &[u8],
) -> usize {
    let quote = offending.len().min(576 - 28).min(out.len() - 28);
    let icmp_len = 8 + quote;
    ipv4_header(out, 0xc0, 0, 0, 64, 1, src, dst, icmp_len);
    let m = &mut out[20..20 + icmp_len];
    m[0] = typ;
    m[1] = code;
    m[2..4].copy_from_slice(&[0, 0]);
    m[4..8].copy_from_slice(&aux.to_be_bytes());
    m[8..].copy_from_slice(&offending[..quote]);
    let c = internet_checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    20 + icmp_len
}

/// Writes an ICMPv6 error (IPv6 header + 8-byte header + quote) from `src`
/// to `dst`; the quote is cut so the packet is at most 1280 bytes. Returns
/// the IP packet's length.
#[allow(clippy::too_many_arguments)]
pub fn icmp6_error(
    out: &mut [u8],
    typ: u8,
    code: u8,
    aux: u32,
    src: u128,
    dst: u128,
    offending: &[u8],
) -> usize {
    let quote = offending.len().min(1280 - 48).min(out.len() - 48);
    let icmp_len = 8 + quote;
    ipv6_header(out, 0, 58, 64, src, dst, icmp_len);
    let m = &mut out[40..40 + icmp_len];
    m[0] = typ;
    m[1] = code;
    m[4..8].copy_from_slice(&aux.to_be_bytes());
    m[8..].copy_from_slice(&offending[..quote]);
    fill_icmp6_checksum(m, src, dst);
    40 + icmp_len
}

/// Writes the echo reply to the IPv4 echo request `req` (the whole IP
/// packet, header checked by parsing): addresses swapped, TTL 64, options
/// removed, TOS/ID/flags kept, ICMP type 0. Returns its length, or `None`
/// when the request is not a well-formed echo request.
pub fn echo_reply_v4(out: &mut [u8], req: &[u8]) -> Option<usize> {
    let hl = usize::from(req.first()? & 0x0f) * 4;
    let icmp = req.get(hl..)?;
    if icmp.len() < 8 || icmp[0] != 8 || internet_checksum(icmp) != 0 {
        return None;
    }
    let len = 20 + icmp.len();
    let out = out.get_mut(..len)?;
    let word = |o: usize| u32::from_be_bytes([req[o], req[o + 1], req[o + 2], req[o + 3]]);
    let (src, dst) = (word(16), word(12));
    let id = u16::from_be_bytes([req[4], req[5]]);
    let flags = u16::from_be_bytes([req[6], req[7]]) & 0xe000;
    ipv4_header(out, req[1], id, flags, 64, 1, src, dst, icmp.len());
    let m = &mut out[20..];
    m.copy_from_slice(icmp);
    m[0] = 0;
    m[2..4].copy_from_slice(&[0, 0]);
    let c = internet_checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    Some(len)
}

/// Writes the echo reply to the ICMPv6 echo request `icmp` received from
/// `src` for `dst` (first IPv6 word `vtcfl` kept): hop limit 64, type 129.
pub fn echo_reply_v6(
    out: &mut [u8],
    vtcfl: u32,
    src: u128,
    dst: u128,
    icmp: &[u8],
) -> Option<usize> {
    if icmp.len() < 8 || icmp[0] != ICMP6_ECHO_REQUEST || !icmp6_checksum_ok(icmp, src, dst) {
        return None;
    }
    let len = 40 + icmp.len();
    let out = out.get_mut(..len)?;
    ipv6_header(out, vtcfl, 58, 64, dst, src, icmp.len());
    let m = &mut out[40..];
    m.copy_from_slice(icmp);
    m[0] = ICMP6_ECHO_REPLY;
    fill_icmp6_checksum(m, dst, src);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_solicited_node() {
        let ll = link_local([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(std::net::Ipv6Addr::from(ll).to_string(), "fe80::ff:fe00:1");
        let sn = solicited_node(u128::from(
            "2001:db8::1:2345:6789"
                .parse::<std::net::Ipv6Addr>()
                .unwrap(),
        ));
        assert_eq!(
            std::net::Ipv6Addr::from(sn).to_string(),
            "ff02::1:ff45:6789"
        );
        assert_eq!(multicast_mac(sn), [0x33, 0x33, 0xff, 0x45, 0x67, 0x89]);
    }

    #[test]
    fn ns_round_trips_through_the_validator() {
        let mut b = [0u8; 128];
        let src = u128::from("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap());
        let target = u128::from("2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap());
        let n = ns(
            &mut b,
            src,
            solicited_node(target),
            target,
            [2, 0, 0, 0, 0, 1],
        );
        let m = parse_nd(255, src, solicited_node(target), &b[40..n]).unwrap();
        assert_eq!(
            (m.typ, m.target, m.lladdr),
            (ND_NS, target, Some([2, 0, 0, 0, 0, 1]))
        );
        assert!(parse_nd(64, src, solicited_node(target), &b[40..n]).is_none());
        b[50] ^= 1;
        assert!(parse_nd(255, src, solicited_node(target), &b[40..n]).is_none());
    }

    #[test]
    fn checksums_match_known_vectors() {
        // RFC 1071's example words sum to 0xddf2; the checksum is its complement.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        // An ICMPv6 echo request (id 1, seq 1) from fe80::1 to fe80::2:
        // checksum 0x82b6, computed separately in Python from RFC 8200 8.1.
        let mut m = [128u8, 0, 0, 0, 0, 1, 0, 1];
        let (s, d) = (0xfe80u128 << 112 | 1, 0xfe80u128 << 112 | 2);
        fill_icmp6_checksum(&mut m, s, d);
        assert_eq!(u16::from_be_bytes([m[2], m[3]]), 0x82b6);
        assert!(icmp6_checksum_ok(&m, s, d));
    }

    #[test]
    fn icmp4_error_quotes_at_most_576_bytes() {
        let offending = vec![0x45u8; 1500];
        let mut out = [0u8; 2048];
        let n = icmp4_error(&mut out, 11, 0, 0, 1, 2, &offending);
        assert_eq!(n, 576);
        assert_eq!(internet_checksum(&out[..20]), 0);
        assert_eq!(internet_checksum(&out[20..n]), 0);
    }
}
