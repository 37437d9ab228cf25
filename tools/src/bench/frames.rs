//! The generator's traffic: prebuilt Ethernet/IPv4/UDP frames, one per
//! flow, with correct IPv4 header and UDP checksums (so no receiver depends
//! on checksum offload).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::BenchError;

/// Smallest frame: Ethernet (14) + IPv4 (20) + UDP (8).
pub const MIN_FRAME: usize = 42;
/// Largest frame: a 9000-byte IP packet plus the Ethernet header.
pub const MAX_FRAME: usize = 9014;
/// UDP destination port of every flow (discard).
pub const DST_PORT: u16 = 9;
/// UDP source port of the first flows (see [`build_frames`]).
pub const FIRST_SRC_PORT: u16 = 10_000;

/// What the frames carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    /// Source MAC (the generator's interface).
    pub src_mac: [u8; 6],
    /// Destination MAC (the forwarder's port).
    pub dst_mac: [u8; 6],
    /// Source IPv4 address of every flow.
    pub src_ip: Ipv4Addr,
    /// Destinations are the host addresses of this prefix, in order.
    pub dst_net: Ipv4Net,
    /// Number of flows (distinct destination address / source port pairs).
    pub flows: usize,
    /// Frame length in bytes as handed to the kernel (no FCS).
    pub size: usize,
    /// IPv4 TTL.
    pub ttl: u8,
}

/// Builds one frame per flow. Flow `i` goes to host `i mod H` of `dst_net`
/// (H = its host addresses: network and broadcast address excluded for
/// prefixes shorter than /31) from source port
/// `FIRST_SRC_PORT + (i / H) mod 50,000`, so any `flows` up to `H * 50,000`
/// gives distinct 5-tuples. Every frame is exactly `size` bytes and checksummed.
pub fn build_frames(spec: &FlowSpec) -> Result<Vec<Vec<u8>>, BenchError> {
    if !(MIN_FRAME..=MAX_FRAME).contains(&spec.size) {
        return Err(BenchError::BadSize {
            size: spec.size,
            min: MIN_FRAME,
            max: MAX_FRAME,
        });
    }
    let (first, hosts) = host_range(spec.dst_net);
    let max_flows = hosts.saturating_mul(50_000);
    if spec.flows == 0 || spec.flows as u64 > max_flows {
        return Err(BenchError::BadFlows {
            flows: spec.flows,
            max: max_flows,
        });
    }
    Ok((0..spec.flows)
        .map(|i| {
            let dst = Ipv4Addr::from(first + (i as u64 % hosts) as u32);
            let sport = FIRST_SRC_PORT + ((i / hosts as usize) % 50_000) as u16;
            udp_frame(spec, dst, sport)
        })
        .collect())
}

/// First host address (as a number) and how many hosts `net` has.
fn host_range(net: Ipv4Net) -> (u32, u64) {
    let base = u32::from(net.network());
    match net.prefix_len() {
        32 => (base, 1),
        31 => (base, 2),
        len => (base + 1, (1u64 << (32 - len)) - 2),
    }
}

fn udp_frame(spec: &FlowSpec, dst: Ipv4Addr, sport: u16) -> Vec<u8> {
    let ip_len = spec.size - 14;
    let udp_len = ip_len - 20;
    let mut f = Vec::with_capacity(spec.size);
    f.extend_from_slice(&spec.dst_mac);
    f.extend_from_slice(&spec.src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = spec.ttl;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&spec.src_ip.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = !fold(sum(&ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut udp = vec![0u8; udp_len];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&DST_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    for (k, b) in udp[8..].iter_mut().enumerate() {
        *b = k as u8;
    }
    // Pseudo-header: addresses, protocol, UDP length.
    let pseudo = sum(&ip[12..20]) + 17 + udp_len as u32;
    let c = match !fold(pseudo + sum(&udp)) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

/// One's complement sum of 16-bit big-endian words (odd byte padded).
fn sum(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(flows: usize, size: usize) -> FlowSpec {
        FlowSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(10, 1, 0, 2),
            dst_net: "10.3.0.0/16".parse().unwrap(),
            flows,
            size,
            ttl: 64,
        }
    }

    #[test]
    fn frames_have_the_size_and_valid_checksums() {
        let frames = build_frames(&spec(3, 64)).unwrap();
        assert_eq!(frames.len(), 3);
        for f in &frames {
            assert_eq!(f.len(), 64);
            assert_eq!(fold(sum(&f[14..34])), 0xffff, "IPv4 header checksum");
            let udp = &f[34..];
            let pseudo = sum(&f[26..34]) + 17 + udp.len() as u32;
            assert_eq!(fold(pseudo + sum(udp)), 0xffff, "UDP checksum");
        }
        // Flow i goes to host i of the prefix.
        assert_eq!(&frames[0][30..34], &[10, 3, 0, 1]);
        assert_eq!(&frames[2][30..34], &[10, 3, 0, 3]);
    }

    #[test]
    fn flows_beyond_the_hosts_change_the_source_port() {
        let mut s = spec(3, 60);
        s.dst_net = "10.3.0.0/31".parse().unwrap();
        let frames = build_frames(&s).unwrap();
        assert_eq!(&frames[2][30..34], &[10, 3, 0, 0]);
        assert_eq!(&frames[2][34..36], &(FIRST_SRC_PORT + 1).to_be_bytes());
    }

    #[test]
    fn bad_sizes_and_flow_counts_are_refused() {
        assert!(matches!(
            build_frames(&spec(1, 41)),
            Err(BenchError::BadSize { size: 41, .. })
        ));
        assert!(matches!(
            build_frames(&spec(0, 64)),
            Err(BenchError::BadFlows { flows: 0, .. })
        ));
    }
}
