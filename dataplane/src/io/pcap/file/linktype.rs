//! Link types (LINKTYPE_* numbers of the pcap and pcapng formats), their
//! names, and the conversion of a record of a supported link type into an
//! Ethernet frame, in place.
//!
//! The conversion works on a buffer that holds [`HEADROOM`] free bytes
//! followed by the record: a link-layer header of `h` bytes is replaced by a
//! 14-byte Ethernet header written at `h..h + 14`, so no byte of the payload
//! moves and nothing is allocated.

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in host byte order.
pub(crate) const NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub(crate) const ETHERNET: u32 = 1;
/// LINKTYPE_RAW: raw IPv4 or IPv6, no link-layer header.
pub(crate) const RAW: u32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback, 4-byte address family in network order.
pub(crate) const LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1 (16-byte header).
pub(crate) const LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4: raw IPv4.
pub(crate) const IPV4: u32 = 228;
/// LINKTYPE_IPV6: raw IPv6.
pub(crate) const IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2 (20-byte header).
pub(crate) const LINUX_SLL2: u32 = 276;

/// Bytes kept free in front of every record so that an Ethernet header can
/// be written in place of a shorter (or absent) link-layer header.
pub(crate) const HEADROOM: usize = 14;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const BROADCAST: [u8; 6] = [0xff; 6];
const ZERO_MAC: [u8; 6] = [0; 6];

/// Why one record of a supported link type could not be turned into an
/// Ethernet frame (carried by [`super::CaptureError::Unconvertible`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionFailure {
    /// The captured record is shorter than its link-layer header (or, for
    /// raw IP, empty).
    #[error("record has {len} bytes, the link-layer header needs {need}")]
    TooShort {
        /// Captured length of the record.
        len: u32,
        /// Bytes the header needs.
        need: u32,
    },
    /// A Linux cooked capture's protocol field is below 0x0600, so it is not
    /// an EtherType (e.g. 0x0004, 802.2 LLC).
    #[error("SLL protocol {protocol:#06x} is not an EtherType")]
    NotAnEtherType {
        /// The SLL protocol field.
        protocol: u16,
    },
    /// A raw IP record's version nibble is neither 4 nor 6.
    #[error("IP version {version} is neither 4 nor 6")]
    IpVersion {
        /// The version nibble.
        version: u8,
    },
    /// A NULL/LOOP record's address family is neither AF_INET nor AF_INET6.
    #[error("address family {family} is neither AF_INET (2) nor AF_INET6 (10, 24, 28, 30)")]
    AddressFamily {
        /// The family as read (network order for LOOP, file order for NULL).
        family: u32,
    },
}

/// The LINKTYPE_* name of `link_type` (without the prefix), e.g.
/// `"IEEE802_11_RADIOTAP"` for 127, or `"unknown"`. Never panics; every
/// number has a name.
pub fn link_type_name(link_type: u32) -> &'static str {
    match link_type {
        0 => "NULL",
        1 => "ETHERNET",
        3 => "AX25",
        6 => "IEEE802_5",
        7 => "ARCNET_BSD",
        8 => "SLIP",
        9 => "PPP",
        10 => "FDDI",
        50 => "PPP_HDLC",
        51 => "PPP_ETHER",
        100 => "ATM_RFC1483",
        101 => "RAW",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        114 => "LTALK",
        117 => "PFLOG",
        119 => "IEEE802_11_PRISM",
        122 => "IP_OVER_FC",
        123 => "SUNATM",
        127 => "IEEE802_11_RADIOTAP",
        129 => "ARCNET_LINUX",
        138 => "APPLE_IP_OVER_IEEE1394",
        139 => "MTP2_WITH_PHDR",
        140 => "MTP2",
        141 => "MTP3",
        142 => "SCCP",
        143 => "DOCSIS",
        144 => "LINUX_IRDA",
        147..=162 => "USER",
        163 => "IEEE802_11_AVS",
        166 => "PPP_PPPD",
        169 => "GPRS_LLC",
        177 => "LINUX_LAPD",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        192 => "PPI",
        195 => "IEEE802_15_4_WITHFCS",
        197 => "ERF",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        204 => "PPP_WITH_DIR",
        220 => "USB_LINUX_MMAPPED",
        226 => "IPNET",
        227 => "CAN_SOCKETCAN",
        228 => "IPV4",
        229 => "IPV6",
        230 => "IEEE802_15_4_NOFCS",
        231 => "DBUS",
        239 => "NFLOG",
        240 => "NETANALYZER",
        241 => "NETANALYZER_TRANSPARENT",
        242 => "IPOIB",
        243 => "MPEG_2_TS",
        247 => "INFINIBAND",
        248 => "SCTP",
        249 => "USBPCAP",
        251 => "BLUETOOTH_LE_LL",
        253 => "NETLINK",
        254 => "BLUETOOTH_LINUX_MONITOR",
        258 => "PKTAP",
        259 => "EPON",
        274 => "ETHERNET_MPACKET",
        276 => "LINUX_SLL2",
        280 => "VPP_DISPATCH",
        _ => "unknown",
    }
}

/// True when records of `link_type` can be converted to Ethernet.
pub(crate) fn is_supported(link_type: u32) -> bool {
    matches!(
        link_type,
        NULL | ETHERNET | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

/// The result of a conversion: where the Ethernet frame lies in the buffer,
/// and how many bytes longer it is than the record (negative when a longer
/// header was replaced), to adjust the original length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Converted {
    /// First byte of the Ethernet frame in the buffer.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Link-layer header length that was replaced by 14 bytes.
    pub header_len: u32,
}

/// Converts the record in `buf[HEADROOM..]` (the whole slice after the
/// headroom is the record) of link type `link_type` into an Ethernet frame,
/// in place. `file_big_endian` is the byte order of the file (for NULL).
///
/// Never panics: a `buf` shorter than [`HEADROOM`] is treated as an empty
/// record. An unsupported link type is reported as a zero-length header
/// (callers check [`is_supported`] first).
pub(crate) fn to_ethernet(
    link_type: u32,
    buf: &mut [u8],
    file_big_endian: bool,
    local_mac: [u8; 6],
) -> Result<Converted, ConversionFailure> {
    let total = buf.len();
    let rec_len = total.saturating_sub(HEADROOM);
    let rec = buf.get(HEADROOM..).unwrap_or(&[]);
    let too_short = |need: usize| ConversionFailure::TooShort {
        len: u32::try_from(rec_len).unwrap_or(u32::MAX),
        need: need as u32,
    };
    // (header length, destination, source, EtherType)
    let (h, dst, src, ethertype): (usize, [u8; 6], [u8; 6], u16) = match link_type {
        LINUX_SLL => {
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            let hdr = rec.get(..16).ok_or_else(|| too_short(16))?;
            let pkt_type = be16(hdr, 0);
            let addr_len = be16(hdr, 4);
            let protocol = be16(hdr, 14);
            let src = mac_from(hdr.get(6..12), addr_len == 6);
            (
                16,
                sll_dst(pkt_type, local_mac),
                src,
                sll_ethertype(protocol)?,
            )
        }
        LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
            // addr len(1) addr(8)
            let hdr = rec.get(..20).ok_or_else(|| too_short(20))?;
            let protocol = be16(hdr, 0);
            let pkt_type = u16::from(hdr.get(10).copied().unwrap_or(0));
            let addr_len = hdr.get(11).copied().unwrap_or(0);
            let src = mac_from(hdr.get(12..18), addr_len == 6);
            (
                20,
                sll_dst(pkt_type, local_mac),
                src,
                sll_ethertype(protocol)?,
            )
        }
        RAW | IPV4 | IPV6 => {
            let first = *rec.first().ok_or_else(|| too_short(1))?;
            let ethertype = match first >> 4 {
                4 => ETHERTYPE_IPV4,
                6 => ETHERTYPE_IPV6,
                version => return Err(ConversionFailure::IpVersion { version }),
            };
            (0, local_mac, ZERO_MAC, ethertype)
        }
        NULL | LOOP => {
            let hdr = rec.get(..4).ok_or_else(|| too_short(4))?;
            let bytes = [hdr[0], hdr[1], hdr[2], hdr[3]];
            let family = if link_type == LOOP || file_big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            };
            let ethertype = match af_ethertype(family) {
                Some(t) => t,
                // NULL: the capturing host may differ from the writing host.
                None if link_type == NULL => af_ethertype(family.swap_bytes())
                    .ok_or(ConversionFailure::AddressFamily { family })?,
                None => return Err(ConversionFailure::AddressFamily { family }),
            };
            (4, local_mac, ZERO_MAC, ethertype)
        }
        // ETHERNET, and (defensively) anything else: as is.
        _ => {
            return Ok(Converted {
                start: HEADROOM.min(total),
                end: total,
                header_len: 14,
            })
        }
    };
    // The Ethernet header goes at h..h+14, which ends where the payload
    // starts (HEADROOM + h); h <= rec_len was checked above.
    let eth = buf.get_mut(h..h + 14).ok_or_else(|| too_short(h))?;
    eth[..6].copy_from_slice(&dst);
    eth[6..12].copy_from_slice(&src);
    eth[12..14].copy_from_slice(&ethertype.to_be_bytes());
    Ok(Converted {
        start: h,
        end: total,
        header_len: h as u32,
    })
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn mac_from(addr: Option<&[u8]>, is_mac: bool) -> [u8; 6] {
    match addr {
        Some(a) if is_mac && a.len() == 6 => [a[0], a[1], a[2], a[3], a[4], a[5]],
        _ => ZERO_MAC,
    }
}

/// SLL packet type 1 (broadcast) or 2 (multicast): to everyone; else to us.
fn sll_dst(pkt_type: u16, local_mac: [u8; 6]) -> [u8; 6] {
    match pkt_type {
        1 | 2 => BROADCAST,
        _ => local_mac,
    }
}

fn sll_ethertype(protocol: u16) -> Result<u16, ConversionFailure> {
    if protocol >= 0x0600 {
        Ok(protocol)
    } else {
        Err(ConversionFailure::NotAnEtherType { protocol })
    }
}

fn af_ethertype(family: u32) -> Option<u16> {
    match family {
        2 => Some(ETHERTYPE_IPV4),
        10 | 24 | 28 | 30 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}
