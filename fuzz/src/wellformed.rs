//! An egress-frame checker independent of cnfwd's parser: Ethernet and
//! 802.1Q are read by hand here, IPv4/IPv6 headers by `etherparse`.
//!
//! What a frame cnfwd sends must satisfy (see [`check`]): the VLAN tagging of
//! its egress port; for routed or generated frames (L3 networks) a source MAC
//! equal to the port's, an IPv4 header with a valid version, IHL, checksum,
//! TTL > 0 and a total length inside the frame, an IPv6 header whose payload
//! length fits in the frame and whose hop limit is > 0, and ARP packets with
//! Ethernet/IPv4 types and lengths. Bridged frames (L2 networks) carry any
//! payload; only their tagging is checked. L4 checksums are not checked:
//! routed packets keep whatever the sender put there.

use crate::{PortKind, PORTS, TRUNK_L2_VLAN, TRUNK_L3_VLANS};

const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Checks one frame sent on `port` of [`crate::CONFIG`]; `Err` says what is
/// wrong.
pub fn check(port: usize, frame: &[u8]) -> Result<(), String> {
    let (kind, mac) = *PORTS
        .get(port)
        .ok_or_else(|| format!("frame sent on port {port}, which does not exist"))?;
    if frame.len() < 14 {
        return Err(format!(
            "{} bytes: shorter than an Ethernet header",
            frame.len()
        ));
    }
    let outer = be16(frame, 12).unwrap_or(0);
    let (l3_offset, ethertype) = match kind {
        PortKind::Trunk => {
            if outer != TPID_8021Q {
                return Err(format!(
                    "trunk egress with outer ethertype {outer:#06x}, not 802.1Q"
                ));
            }
            let tci = be16(frame, 14).ok_or("trunk frame cut inside its tag")?;
            let vid = tci & 0x0fff;
            if vid == TRUNK_L2_VLAN {
                return Ok(());
            }
            if !TRUNK_L3_VLANS.contains(&vid) {
                return Err(format!(
                    "trunk egress tagged with VLAN {vid}, not carried by the trunk"
                ));
            }
            (18, be16(frame, 16).ok_or("trunk frame cut after its tag")?)
        }
        PortKind::L2Access => return Ok(()),
        PortKind::L3Access => (14, outer),
    };
    if frame[6..12] != mac {
        return Err(format!(
            "routed/generated frame with source MAC {:02x?}, not the port's {mac:02x?}",
            &frame[6..12]
        ));
    }
    let l3 = &frame[l3_offset..];
    match ethertype {
        TPID_8021Q | TPID_8021AD => Err(format!(
            "routed/generated frame keeps a VLAN tag ({ethertype:#06x}) inside its egress tagging"
        )),
        ETH_IPV4 => check_ipv4(l3),
        ETH_IPV6 => check_ipv6(l3),
        ETH_ARP => check_arp(l3),
        other => Err(format!(
            "routed/generated frame with ethertype {other:#06x}"
        )),
    }
}

fn check_ipv4(l3: &[u8]) -> Result<(), String> {
    let h = etherparse::Ipv4HeaderSlice::from_slice(l3)
        .map_err(|e| format!("IPv4 header does not parse: {e}"))?;
    let hl = usize::from(h.ihl()) * 4;
    let total = usize::from(h.total_len());
    if total < hl || total > l3.len() {
        return Err(format!(
            "IPv4 total length {total} inconsistent with IHL {hl} and {} bytes of frame",
            l3.len()
        ));
    }
    // RFC 1071 over the header's own bytes: etherparse's
    // `calc_header_checksum` rebuilds the header from its fields and drops
    // the reserved flag bit, so it disagrees whenever that bit is set.
    if ones_complement_sum(h.slice()) != 0xffff {
        return Err(format!(
            "IPv4 header checksum {:#06x} wrong (one's complement sum of the header is not 0xffff)",
            h.header_checksum()
        ));
    }
    if h.ttl() == 0 {
        return Err("IPv4 TTL 0 on egress".into());
    }
    Ok(())
}

/// The 16-bit one's complement sum of `b` (an even number of bytes).
fn ones_complement_sum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn check_ipv6(l3: &[u8]) -> Result<(), String> {
    let h = etherparse::Ipv6HeaderSlice::from_slice(l3)
        .map_err(|e| format!("IPv6 header does not parse: {e}"))?;
    let payload = usize::from(h.payload_length());
    if 40 + payload > l3.len() {
        return Err(format!(
            "IPv6 payload length {payload} exceeds the {} bytes after the header",
            l3.len() - 40
        ));
    }
    if h.hop_limit() == 0 {
        return Err("IPv6 hop limit 0 on egress".into());
    }
    Ok(())
}

fn check_arp(l3: &[u8]) -> Result<(), String> {
    if l3.len() < 28 {
        return Err(format!("ARP packet of {} bytes (< 28)", l3.len()));
    }
    let (htype, ptype, hlen, plen, op) = (
        be16(l3, 0).unwrap_or(0),
        be16(l3, 2).unwrap_or(0),
        l3[4],
        l3[5],
        be16(l3, 6).unwrap_or(0),
    );
    if (htype, ptype, hlen, plen) != (1, ETH_IPV4, 6, 4) || !(op == 1 || op == 2) {
        return Err(format!(
            "ARP with htype {htype} ptype {ptype:#06x} hlen {hlen} plen {plen} op {op}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    /// An untagged IPv4/UDP frame from the red-core port (id 1), with a
    /// correct header checksum.
    fn good() -> Vec<u8> {
        let mut f = vec![2, 0xbb, 0, 0, 0x10, 0xfe, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 63, 17, 0, 0, 10, 1, 0, 10, 10, 50, 0, 1,
        ];
        let h = etherparse::Ipv4HeaderSlice::from_slice(&ip)
            .unwrap()
            .to_header();
        let c = h.calc_header_checksum().to_be_bytes();
        ip[10..12].copy_from_slice(&c);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        f
    }

    #[test]
    fn accepts_a_routed_frame() {
        assert_eq!(check(1, &good()), Ok(()));
    }

    /// Found by the `pipeline` target: a header with the reserved flag bit
    /// (and DF, MF, offset all ones) whose checksum is right. Rebuilding the
    /// header from etherparse's fields dropped that bit and called it wrong.
    #[test]
    fn accepts_a_right_checksum_with_the_reserved_flag_bit() {
        let mut f = good();
        f[20] = 0xff;
        f[21] = 0xff;
        f[24] = 0;
        f[25] = 0;
        let c = !super::ones_complement_sum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(check(1, &f), Ok(()));
        f[25] ^= 0x80;
        assert!(check(1, &f).unwrap_err().contains("checksum"));
    }

    #[test]
    fn rejects_what_cnfwd_must_never_send() {
        let mut bad_sum = good();
        bad_sum[24] ^= 1;
        assert!(check(1, &bad_sum).unwrap_err().contains("checksum"));
        let mut ttl0 = good();
        ttl0[22] = 0;
        ttl0[24] = 0;
        ttl0[25] = 0;
        let h = etherparse::Ipv4HeaderSlice::from_slice(&ttl0[14..])
            .unwrap()
            .to_header();
        ttl0[24..26].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
        assert!(check(1, &ttl0).unwrap_err().contains("TTL"));
        let mut long = good();
        long[17] = 200;
        assert!(check(1, &long).is_err());
        let mut foreign_src = good();
        foreign_src[11] = 9;
        assert!(check(1, &foreign_src).unwrap_err().contains("source MAC"));
        // Untagged on the trunk, or tagged with a VLAN it does not carry.
        let mut on_trunk = good();
        on_trunk[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        assert!(check(0, &on_trunk).unwrap_err().contains("802.1Q"));
        let mut tagged = on_trunk[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x01, 0xf4]);
        tagged.extend_from_slice(&on_trunk[12..]);
        assert!(check(0, &tagged).unwrap_err().contains("VLAN 500"));
        tagged[14] = 0;
        tagged[15] = 100;
        assert_eq!(check(0, &tagged), Ok(()));
        assert!(check(1, &good()[..13]).is_err());
    }
}
