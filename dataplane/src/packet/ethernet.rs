//! Ethernet II header with up to one VLAN tag read as the port's tag.
//!
//! Field offsets are named in [`field`]; [`EthView::parse`] validates the
//! length once, after which no accessor can panic.

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// TPID of an IEEE 802.1Q (C-)tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an IEEE 802.1ad (S-)tag.
pub const TPID_8021AD: u16 = 0x88a8;

/// Byte offsets of the Ethernet header fields.
pub mod field {
    use std::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// EtherType, or TPID of the first tag.
    pub const ETHERTYPE: Range<usize> = 12..14;
    /// TCI of the first tag.
    pub const TCI: Range<usize> = 14..16;
    /// EtherType after the first tag.
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
    /// Length of an untagged header.
    pub const HEADER_LEN: usize = 14;
    /// Length of a header with one tag.
    pub const TAGGED_HEADER_LEN: usize = 18;
}

/// True for an 802.1Q or 802.1ad TPID.
#[inline]
pub fn is_tpid(ethertype: u16) -> bool {
    ethertype == TPID_8021Q || ethertype == TPID_8021AD
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The L2 facts the pipeline needs, read from a checked frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EthView {
    /// TCI of the outermost tag, if the frame has one (VID 0 included).
    pub tci: Option<u16>,
    /// EtherType after the outermost tag (may itself be a TPID: inner tag).
    pub ethertype: u16,
    /// Offset of the payload after the outermost tag (14 or 18).
    pub payload_offset: u8,
}

impl EthView {
    /// Reads the header; `None` if the frame is shorter than its header and
    /// outermost tag.
    #[inline]
    pub fn parse(frame: &[u8]) -> Option<Self> {
        if frame.len() < field::HEADER_LEN {
            return None;
        }
        let et = be16(frame, field::ETHERTYPE.start);
        if is_tpid(et) {
            if frame.len() < field::TAGGED_HEADER_LEN {
                return None;
            }
            Some(Self {
                tci: Some(be16(frame, field::TCI.start)),
                ethertype: be16(frame, field::INNER_ETHERTYPE.start),
                payload_offset: field::TAGGED_HEADER_LEN as u8,
            })
        } else {
            Some(Self {
                tci: None,
                ethertype: et,
                payload_offset: field::HEADER_LEN as u8,
            })
        }
    }

    /// VLAN id of the outermost tag; 0 when untagged or priority-tagged.
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci.map_or(0, |t| t & 0x0fff)
    }
}

/// Destination MAC of a frame of at least 14 bytes.
#[inline]
pub fn dst_mac(frame: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[field::DST]);
    m
}

/// Source MAC of a frame of at least 14 bytes.
#[inline]
pub fn src_mac(frame: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&frame[field::SRC]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    // dst 02:..:01, src 02:..:02, 802.1Q PCP 5 DEI 1 VID 100, IPv4
    const TAGGED: [u8; 18] = [
        0x02, 0, 0, 0, 0, 0x01, // dst
        0x02, 0, 0, 0, 0, 0x02, // src
        0x81, 0x00, // TPID
        0xb0, 0x64, // PCP 5, DEI 1, VID 100
        0x08, 0x00, // IPv4
    ];

    #[test]
    fn deconstruct_tagged() {
        let v = EthView::parse(&TAGGED).unwrap();
        assert_eq!(v.tci, Some(0xb064));
        assert_eq!(v.vid(), 100);
        assert_eq!(v.ethertype, ETHERTYPE_IPV4);
        assert_eq!(v.payload_offset, 18);
        assert_eq!(dst_mac(&TAGGED), [2, 0, 0, 0, 0, 1]);
        assert_eq!(src_mac(&TAGGED), [2, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn untagged_and_truncated() {
        let v = EthView::parse(&[[0u8; 12].as_slice(), &[0x86, 0xdd]].concat()).unwrap();
        assert_eq!(
            (v.tci, v.ethertype, v.payload_offset),
            (None, ETHERTYPE_IPV6, 14)
        );
        assert_eq!(EthView::parse(&TAGGED[..13]), None);
        assert_eq!(EthView::parse(&TAGGED[..17]), None); // cut inside the tag
    }
}
