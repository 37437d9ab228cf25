//! Per-packet metadata the stages pass along a burst (a parallel array, one
//! entry per packet; `Copy`, no heap).

use crate::packet::ethernet::EthView;

/// Address family of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// Not (yet) parsed as IP.
    #[default]
    None,
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// What the stages learned about one packet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    /// The Ethernet header and outermost tag.
    pub eth: EthView,
    /// Ingress network (valid once classified).
    pub network: u16,
    /// IP family; `None` for non-IP packets.
    pub family: Family,
    /// Destination address (IPv4 in the low 32 bits).
    pub dst: u128,
    /// Source address (IPv4 in the low 32 bits).
    pub src: u128,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IP packet length (IPv4 total length, IPv6 40 + payload length).
    pub ip_len: u16,
    /// L4 protocol (after IPv6 extension headers); 0 if unknown.
    pub proto: u8,
    /// L4 source port (ICMP: type << 8 | code); 0 if unknown.
    pub src_port: u16,
    /// L4 destination port (ICMP echo: identifier); 0 if unknown.
    pub dst_port: u16,
    /// Offset of the L4 header from the start of the IP header (0 if the L4
    /// header is unknown: non-first fragment, truncated chain).
    pub l4_offset: u16,
    /// TCP flags (13th byte of the TCP header); 0 for other protocols.
    pub tcp_flags: u8,
}
